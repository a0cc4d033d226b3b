// The subcommands that read a crawl database: stats, search, query, export,
// show, report.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "crawler/cli_common.h"
#include "crawler/row_printer.h"
#include "crawler/summary.h"
#include "parser/http_response.h"
#include "storage/archive.h"
#include "storage/reader.h"
#include "storage/report.h"

namespace webcrawl::crawler {
namespace {

// The views export writes, and the order that keeps a re-export identical.
struct View {
  const char* name;
  const char* order;
};
constexpr View kViews[] = {
    {"pages", "url_id"}, {"links", "src_id, dst_id"}, {"frontier", "id"}, {"fetches", "id"},
    {"robots", "fetched_unix"}, {"sitemaps", "fetched_unix"}, {"runs", "id"},
};

Result<std::unique_ptr<storage::Reader>> open_db(const std::string& path) { return storage::Reader::open(path); }

struct ReadArgs {
  std::string db = "crawl.db";
  std::string text;  // the query or the SQL
  std::string format;
  int limit = 20;
  int width = -1;  // -1: 60 on a terminal, none otherwise
  std::string table = "pages", where, output;
  std::string warc;  // show: the archive's directory
  std::string report = "report.html";  // report: the page to write
  bool raw = false;
};

int stats(const ReadArgs& a) {
  auto reader = open_db(a.db);
  if (!reader) return fail(reader.error());
  auto s = (*reader)->stats();
  if (!s) return fail(s.error());
  std::cout << (a.format == "json" ? stats_json(a.db, *s) : format_stats(a.db, *s));
  return kExitOk;
}

int search(const ReadArgs& a) {
  auto reader = open_db(a.db);
  if (!reader) return fail(reader.error());
  auto hits = (*reader)->search(a.text, static_cast<std::size_t>(a.limit));
  if (!hits) return fail(hits.error());
  if (hits->empty()) {
    std::cout << "no matches\n";
    return kExitOk;
  }
  int n = 1;
  for (const auto& h : *hits) {
    std::cout << n++ << ". " << (h.title.empty() ? "(no title)" : h.title) << "\n   " << h.url << "\n   "
              << h.snippet << "\n";
  }
  return kExitOk;
}

RowPrinter::Format format_of(const std::string& name) {
  if (name == "csv") return RowPrinter::Format::kCsv;
  if (name == "jsonl") return RowPrinter::Format::kJsonl;
  return RowPrinter::Format::kText;
}

int print_rows(const std::string& db, const std::string& sql, RowPrinter::Format format, std::size_t width,
               std::ostream& out) {
  auto reader = open_db(db);
  if (!reader) return fail(reader.error());
  RowPrinter printer(format, out, width);
  auto r = (*reader)->query(
      sql, [&](const std::vector<std::string>& names) { printer.columns(names); },
      [&](const std::vector<storage::Value>& row) { printer.row(row); });
  if (!r) return fail(r.error());
  printer.end();
  out.flush();
  if (!out) return fail(Error{Code::kIo, "cannot write the output"});
  return kExitOk;
}

int query(const ReadArgs& a) {
  // Cut cells only for a person at a terminal; a file or a pipe gets them whole.
  std::size_t width = a.width >= 0 ? static_cast<std::size_t>(a.width) : (isatty(STDOUT_FILENO) ? 60 : 0);
  return print_rows(a.db, a.text, format_of(a.format.empty() ? "text" : a.format), width, std::cout);
}

// The format an output file's name asks for, when --format is not given.
Result<std::string> export_format(const ReadArgs& a) {
  if (!a.format.empty()) return a.format;
  if (a.output.empty() || a.output == "-") return std::string("jsonl");
  auto ends = [&](std::string_view tail) {
    return a.output.size() >= tail.size() && a.output.compare(a.output.size() - tail.size(), tail.size(), tail) == 0;
  };
  if (ends(".csv")) return std::string("csv");
  if (ends(".jsonl") || ends(".ndjson") || ends(".json")) return std::string("jsonl");
  if (ends(".cdxj")) return std::string("cdxj");
  return Error{Code::kInvalidArgument,
               "--output " + a.output + ": cannot tell the format from the name; give --format jsonl, csv or cdxj"};
}

// Streams a whole view row by row, so exporting millions of pages needs no
// more memory than one row.
// The CDXJ index of the archive, sorted, to a file or standard output.
int export_cdxj(const ReadArgs& a) {
  auto reader = open_db(a.db);
  if (!reader) return fail(reader.error());
  if (a.output.empty() || a.output == "-") {
    if (auto r = storage::write_cdxj(**reader, std::cout); !r) return fail(r.error());
    return kExitOk;
  }
  std::ofstream file(a.output, std::ios::binary | std::ios::trunc);
  if (!file) return fail(Error{Code::kIo, "cannot write " + a.output + ": " + std::strerror(errno)});
  if (auto r = storage::write_cdxj(**reader, file); !r) return fail(r.error());
  return kExitOk;
}

int export_view(const ReadArgs& a) {
  const View* view = nullptr;
  for (const View& v : kViews) {
    if (a.table == v.name) view = &v;
  }
  if (!view) return fail(Error{Code::kInvalidArgument, "--table: no view " + a.table});
  auto format = export_format(a);
  if (!format) return fail(format.error());
  if (*format == "cdxj") return export_cdxj(a);
  std::string sql = std::string("SELECT * FROM ") + view->name;
  // The reader refuses anything but one read-only statement, so a filter
  // can only select.
  if (!a.where.empty()) sql += " WHERE (" + a.where + ")";
  sql += std::string(" ORDER BY ") + view->order;
  if (a.output.empty() || a.output == "-") return print_rows(a.db, sql, format_of(*format), 0, std::cout);
  // Checked before the output file is created, so a bad database leaves none.
  if (auto r = open_db(a.db); !r) return fail(r.error());
  std::ofstream file(a.output, std::ios::binary | std::ios::trunc);
  if (!file) return fail(Error{Code::kIo, "cannot write " + a.output + ": " + std::strerror(errno)});
  return print_rows(a.db, sql, format_of(*format), 0, file);
}

// The archived response of one page: its head as received, then the body
// decoded (transfer and content coding removed), or with --raw as received.
int show(const ReadArgs& a) {
  auto reader = open_db(a.db);
  if (!reader) return fail(reader.error());
  auto archived = storage::archived_response(**reader, a.text, a.warc);
  if (!archived) return fail(archived.error());
  std::cout << archived->head;
  std::size_t head_end = archived->message.find("\r\n\r\n");
  if (a.raw) {
    if (head_end != std::string::npos) std::cout << archived->message.substr(head_end + 4);
  } else {
    parser::ResponseLimits limits;
    limits.max_body = archived->message.size() * 64 + (1u << 20);  // decoded, for any ratio a crawl kept
    parser::HttpResponseParser http(limits);
    auto fed = http.feed(archived->message);
    if (fed && !http.done()) fed = http.finish_at_eof();
    if (!http.head_complete()) return fail(Error{Code::kParse, "the archived response cannot be read"});
    std::cout << http.response().body;
  }
  std::cout.flush();
  return kExitOk;
}

// The report page: the database first (a missing one says so as every
// command does), then Chart.js, then the figures; the page replaces the
// output file only once it is whole.
int report(const ReadArgs& a) {
  auto reader = open_db(a.db);
  if (!reader) return fail(reader.error());
  auto chart_js = storage::load_chart_js();
  if (!chart_js) return fail(chart_js.error());
  auto data = storage::collect_report(**reader, std::filesystem::path(a.db).filename().string());
  if (!data) return fail(data.error());
  std::string page = storage::render_report(*data, *chart_js);
  if (a.report == "-") {
    std::cout << page;
    std::cout.flush();
    return std::cout ? kExitOk : fail(Error{Code::kIo, "cannot write the output"});
  }
  std::string partial = a.report + ".partial";
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    if (!file) return fail(Error{Code::kIo, "cannot write " + partial + ": " + std::strerror(errno)});
    file << page;
    file.close();
    if (!file) {
      std::remove(partial.c_str());
      return fail(Error{Code::kIo, "cannot write " + partial});
    }
  }
  if (std::rename(partial.c_str(), a.report.c_str()) != 0) {
    int e = errno;
    std::remove(partial.c_str());
    return fail(Error{Code::kIo, "cannot write " + a.report + ": " + std::strerror(e)});
  }
  std::cout << "wrote " << a.report << " (" << storage::report_chart_ids().size() << " charts, "
            << human_bytes(static_cast<int64_t>(page.size())) << ")\n";
  return kExitOk;
}

}  // namespace

void add_read_commands(CLI::App& app, std::vector<Command>& commands) {
  auto a = std::make_shared<ReadArgs>();
  auto* st = app.add_subcommand("stats", "what a crawl did: pages, failures, skips, errors by kind, politeness, runs");
  st->add_option("--db", a->db, "database")->capture_default_str();
  st->add_option("--format", a->format, "text or json")->check(CLI::IsMember({"text", "json"}));
  commands.push_back({st, [a] { return stats(*a); }});

  auto* se = app.add_subcommand("search", "full-text search, best matches first");
  se->add_option("--db", a->db, "database")->capture_default_str();
  se->add_option("--limit", a->limit, "number of results")->check(CLI::Range(1, 100000))->capture_default_str();
  se->add_option("query", a->text, "FTS5 query: words, \"phrases\", AND/OR/NOT, prefix*")->required();
  commands.push_back({se, [a] { return search(*a); }});

  auto* q = app.add_subcommand("query", "run one read-only SQL statement and print its rows");
  q->add_option("--db", a->db, "database")->capture_default_str();
  q->add_option("--format", a->format, "text, csv or jsonl (default text)")
      ->check(CLI::IsMember({"text", "csv", "jsonl"}));
  q->add_option("--width", a->width, "on a terminal, cut text cells at N characters (default 60; 0: never)")
      ->check(CLI::Range(0, 1000000));
  q->add_option("sql", a->text, "SQL")->required();
  commands.push_back({q, [a] { return query(*a); }});

  auto* ex = app.add_subcommand("export", "stream a whole view as JSON Lines or CSV");
  ex->add_option("--db", a->db, "database")->capture_default_str();
  std::string views;
  for (const View& v : kViews) views += (views.empty() ? "" : ", ") + std::string(v.name);
  ex->add_option("--table", a->table, "the view: " + views)->capture_default_str();
  ex->add_option("--format", a->format,
                 "jsonl, csv, or cdxj (the WARC archive's index; default: from --output's extension, else jsonl)")
      ->check(CLI::IsMember({"jsonl", "csv", "cdxj"}));
  ex->add_option("--where", a->where, "an SQL condition on the view's columns, e.g. \"status >= 400\"");
  ex->add_option("--output", a->output, "file to write (default: standard output)");
  commands.push_back({ex, [a] { return export_view(*a); }});

  auto* sh = app.add_subcommand("show", "print the archived response of a page from its WARC record");
  sh->add_option("--db", a->db, "database")->capture_default_str();
  sh->add_option("--warc", a->warc, "the WARC directory (default: where the crawl wrote it)")->type_name("DIR");
  sh->add_flag("--raw", a->raw, "the body as received (transfer and content coding kept)");
  sh->add_option("url", a->text, "the page's URL, as in pages.url")->required();
  commands.push_back({sh, [a] { return show(*a); }});

  auto* re = app.add_subcommand("report", "write one self-contained HTML page with charts of a crawl");
  re->add_option("--db", a->db, "database")->capture_default_str();
  re->add_option("--output", a->report, "the HTML file to write (default report.html in the current directory; "
                                        "-: standard output)")
      ->type_name("FILE");
  commands.push_back({re, [a] { return report(*a); }});
}

}  // namespace webcrawl::crawler
