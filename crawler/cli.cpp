#include "crawler/cli.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <csignal>
#include <iomanip>
#include <set>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "common/version.h"
#include "crawler/config.h"
#include "crawler/crawler.h"
#include "crawler/seeds.h"
#include "storage/reader.h"

namespace webcrawl::crawler {
namespace {

// An option's value as --help shows it: "1", "host", "" for none.
std::string default_text(const OptionValue& v) {
  if (auto d = std::get_if<double>(&v)) {
    std::ostringstream s;
    s << *d;
    return s.str();
  }
  if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto t = std::get_if<std::string>(&v)) return *t;
  return "";
}

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int fail(const Error& e) {
  std::cerr << "webcrawl: " << e.message << "\n";
  return e.code == Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

Result<std::unique_ptr<storage::Reader>> open_read_only(const std::string& path) {
  return storage::Reader::open(path);
}

// ---- output of query rows ----

std::string csv_field(const storage::Value& v) {
  std::string s = v.to_string();
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

nlohmann::json json_value(const storage::Value& v) {
  using T = storage::Value::Type;
  switch (v.type) {
    case T::kNull: return nullptr;
    case T::kInteger: return v.integer;
    case T::kReal: return v.real;
    case T::kText: return nlohmann::json(v.text);
    case T::kBlob: return v.to_string();
  }
  return nullptr;
}

// Text output is for people: columns aligned over the rows, values cut at 60
// characters. CSV and JSON Lines stream row by row, for any number of rows.
class RowPrinter {
 public:
  RowPrinter(std::string format, std::ostream& out) : format_(std::move(format)), out_(out) {}

  void columns(const std::vector<std::string>& names) {
    names_ = names;
    if (format_ == "csv") {
      for (std::size_t i = 0; i < names.size(); i++) out_ << (i ? "," : "") << csv_field(text(names[i]));
      out_ << "\n";
    }
  }

  void row(const std::vector<storage::Value>& values) {
    if (format_ == "csv") {
      for (std::size_t i = 0; i < values.size(); i++) out_ << (i ? "," : "") << csv_field(values[i]);
      out_ << "\n";
    } else if (format_ == "jsonl") {
      nlohmann::json obj = nlohmann::json::object();
      for (std::size_t i = 0; i < values.size() && i < names_.size(); i++) obj[names_[i]] = json_value(values[i]);
      out_ << obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      std::vector<std::string> cells;
      for (const auto& v : values) cells.push_back(shorten(v.type == storage::Value::Type::kNull ? "NULL" : v.to_string()));
      rows_.push_back(std::move(cells));
    }
  }

  void end() {
    if (format_ != "text") return;
    std::vector<std::size_t> width(names_.size(), 0);
    for (std::size_t i = 0; i < names_.size(); i++) width[i] = display_width(names_[i]);
    for (const auto& r : rows_) {
      for (std::size_t i = 0; i < r.size() && i < width.size(); i++) width[i] = std::max(width[i], display_width(r[i]));
    }
    print_line(names_, width);
    std::vector<std::string> rule;
    for (std::size_t w : width) rule.push_back(std::string(w, '-'));
    print_line(rule, width);
    for (const auto& r : rows_) print_line(r, width);
    out_ << "(" << rows_.size() << (rows_.size() == 1 ? " row)\n" : " rows)\n");
  }

 private:
  static storage::Value text(const std::string& s) {
    storage::Value v;
    v.type = storage::Value::Type::kText;
    v.text = s;
    return v;
  }
  static std::size_t display_width(const std::string& s) {
    // Counts UTF-8 code points, not bytes, so accented text lines up.
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
      return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
  }
  static std::string shorten(std::string s) {
    for (char& c : s) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    if (display_width(s) <= 60) return s;
    std::size_t i = 0, n = 0;
    while (i < s.size() && n < 59) {
      i++;
      while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) i++;
      n++;
    }
    return s.substr(0, i) + "…";
  }
  void print_line(const std::vector<std::string>& cells, const std::vector<std::size_t>& width) {
    for (std::size_t i = 0; i < cells.size(); i++) {
      out_ << (i ? "  " : "") << cells[i];
      if (i + 1 < cells.size()) out_ << std::string(width[i] - std::min(width[i], display_width(cells[i])), ' ');
    }
    out_ << "\n";
  }

  std::string format_;
  std::ostream& out_;
  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> rows_;
};

// ---- subcommands ----

int run_stats(const std::string& db) {
  auto store = open_read_only(db);
  if (!store) return fail(store.error());
  auto s = (*store)->stats();
  if (!s) return fail(s.error());
  auto& out = std::cout;
  out << "database      " << db << "\n"
      << "urls known    " << s->urls_known << "\n"
      << "queued        " << s->queued << "\n"
      << "fetched       " << s->fetched << "\n"
      << "failed        " << s->failed << "\n"
      << "skipped       " << s->skipped << "\n"
      << "links         " << s->links << "\n"
      << "bytes         " << s->bytes << "\n";
  if (s->connections > 0) {
    out << "requests      " << s->requests << " over " << s->connections << " connections ("
        << std::fixed << std::setprecision(1)
        << static_cast<double>(s->requests) / static_cast<double>(s->connections) << " per connection)\n";
    out.unsetf(std::ios::fixed);
  }
  if (s->fetched > 0 && s->last_fetch > s->first_fetch) {
    double span = s->last_fetch - s->first_fetch;
    out << "pages/s       " << std::fixed << std::setprecision(1)
        << static_cast<double>(s->fetched + s->failed) / span << " over " << span << "s\n";
    out.unsetf(std::ios::fixed);
  }
  auto section = [&](const char* title, const auto& items) {
    if (items.empty()) return;
    out << "\n" << title << "\n";
    for (const auto& [k, v] : items) out << "  " << std::setw(8) << v << "  " << k << "\n";
  };
  section("by status", s->by_status);
  section("by content type", s->by_content_type);
  section("errors", s->errors);
  section("top hosts", s->top_hosts);
  if (!s->min_gaps.empty()) {
    // What an ethics board asks: did any host see requests closer than the policy?
    out << "\nsmallest gap between request starts, per host (" << s->requests << " requests)\n";
    for (const auto& [host, gap] : s->min_gaps) {
      out << "  " << std::fixed << std::setprecision(3) << std::setw(8) << gap << "s  " << host << "\n";
    }
    out.unsetf(std::ios::fixed);
  }
  return kExitOk;
}

int run_search(const std::string& db, const std::string& query, int limit) {
  auto store = open_read_only(db);
  if (!store) return fail(store.error());
  auto hits = (*store)->search(query, static_cast<std::size_t>(limit));
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

int run_query(const std::string& db, const std::string& sql, const std::string& format,
              std::ostream& out = std::cout) {
  auto store = open_read_only(db);
  if (!store) return fail(store.error());
  RowPrinter printer(format, out);
  auto r = (*store)->query(
      sql, [&](const std::vector<std::string>& names) { printer.columns(names); },
      [&](const std::vector<storage::Value>& row) { printer.row(row); });
  if (!r) return fail(r.error());
  printer.end();
  out.flush();
  if (!out) return fail(Error{Code::kIo, "cannot write the output"});
  return kExitOk;
}

// Streams a whole view row by row, so exporting millions of pages needs no
// more memory than one row.
int run_export(const std::string& db, const std::string& table, const std::string& format,
               const std::string& output) {
  const std::string sql = "SELECT * FROM " + table + (table == "pages" ? " ORDER BY url_id" : "");
  if (output.empty() || output == "-") return run_query(db, sql, format);
  std::ofstream file(output, std::ios::binary | std::ios::trunc);
  if (!file) return fail(Error{Code::kIo, "cannot write " + output + ": " + std::strerror(errno)});
  return run_query(db, sql, format, file);
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"webcrawl: a polite, concurrent web crawler that stores pages, text and links in SQLite"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("webcrawl ") + kVersion);

  // The crawl's options come from the one table (options.h): each flag's text
  // is kept as given and read by the table's own parser after CLI11 is done,
  // so messages and ranges are the same as in a config file.
  std::vector<std::string> seed_urls;
  std::string seeds_file, config_file;
  auto* crawl = app.add_subcommand("crawl", "crawl from seed URLs into a database (resumes an existing one)");
  crawl->add_option("urls", seed_urls, "seed URLs");
  crawl->add_option("--seeds", seeds_file, "seed list: one URL per line; blank lines and # comments ignored")
      ->type_name("FILE");
  crawl->add_option("--config", config_file, "TOML file with crawl options and per-host overrides; flags win")
      ->type_name("FILE");
  const CrawlOptions defaults;
  std::vector<std::vector<std::string>> texts(crawl_options().size());
  std::vector<bool> flags(crawl_options().size(), false);
  for (std::size_t i = 0; i < crawl_options().size(); ++i) {
    const OptionSpec& spec = crawl_options()[i];
    if (spec.kind == OptionSpec::Kind::kFlag) {
      crawl->add_flag_function(spec.flag_name(), [&flags, i](std::int64_t) { flags[i] = true; }, spec.help);
      continue;
    }
    std::string help = spec.help;
    std::string shown = default_text(spec.get(defaults));
    if (!shown.empty() && spec.kind != OptionSpec::Kind::kList) help += " (default " + shown + ")";
    crawl->add_option(spec.flag_name(), texts[i], help)
        ->type_name(spec.value_name)
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }

  std::string db = "crawl.db";
  std::string query_text, format = "text";
  int limit = 20;
  auto* stats = app.add_subcommand("stats", "summary of a crawl");
  stats->add_option("--db", db, "database")->capture_default_str();
  auto* search = app.add_subcommand("search", "full-text search, best matches first");
  search->add_option("--db", db, "database")->capture_default_str();
  search->add_option("--limit", limit, "number of results")->check(CLI::Range(1, 100000))->capture_default_str();
  search->add_option("query", query_text, "FTS5 query: words, \"phrases\", AND/OR/NOT, prefix*")->required();
  auto* query = app.add_subcommand("query", "run one read-only SQL statement and print its rows");
  query->add_option("--db", db, "database")->capture_default_str();
  query->add_option("--format", format, "text, csv or jsonl")
      ->check(CLI::IsMember({"text", "csv", "jsonl"}))->capture_default_str();
  query->add_option("sql", query_text, "SQL")->required();
  std::string table = "pages", output;
  auto* exporter = app.add_subcommand("export", "stream a whole table as JSON Lines or CSV");
  exporter->add_option("--db", db, "database")->capture_default_str();
  exporter->add_option("--table", table, "pages or links")
      ->check(CLI::IsMember({"pages", "links"}))->capture_default_str();
  exporter->add_option("--format", format, "jsonl or csv")->check(CLI::IsMember({"jsonl", "csv"}));
  exporter->add_option("--output", output, "file to write (default: standard output)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    std::cerr << "webcrawl: " << what << " (see webcrawl --help)\n";
    return kExitUsage;
  }

  if (*stats) return run_stats(db);
  if (*search) return run_search(db, query_text, limit);
  if (*query) return run_query(db, query_text, format);
  if (*exporter) return run_export(db, table, format == "text" ? "jsonl" : format, output);

  CrawlOptions o;
  if (!config_file.empty()) {
    if (auto r = apply_config_file(config_file, o); !r) return fail(r.error());
  }
  for (std::size_t i = 0; i < crawl_options().size(); ++i) {
    const OptionSpec& spec = crawl_options()[i];
    if (flags[i]) spec.set(o, OptionValue(std::string_view(spec.flag_name()).substr(0, 5) != "--no-"));
    for (const std::string& text : texts[i]) {
      auto value = parse_option_text(spec, text);
      if (!value) return fail(value.error());
      spec.set(o, *value);
    }
  }
  if (!o.ca_file.empty() && access(o.ca_file.c_str(), R_OK) != 0) {
    return fail(Error{Code::kInvalidArgument, "--ca-file: cannot read " + o.ca_file + ": " + std::strerror(errno)});
  }
  o.seeds.insert(o.seeds.end(), seed_urls.begin(), seed_urls.end());
  if (!seeds_file.empty()) {
    auto list = read_seed_file(seeds_file);
    if (!list) return fail(list.error());
    for (const auto& w : list->warnings) std::cerr << "webcrawl: warning: " << w << "\n";
    o.seeds.insert(o.seeds.end(), list->urls.begin(), list->urls.end());
  }
  auto summary = run_crawl(o, std::cerr);
  if (!summary) return fail(summary.error());
  int status = summary->signal == SIGINT ? 130 : kExitOk;
  if (summary->lookups_left) {
    // Everything is committed; only name lookups that cannot be interrupted
    // remain, and the normal exit would wait for them.
    std::cout.flush();
    std::cerr.flush();
    _exit(status);
  }
  return status;
}

}  // namespace webcrawl::crawler
