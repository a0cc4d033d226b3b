#include "storage/reader.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <climits>

#include "storage/schema.h"
#include "storage/sqlite_util.h"

namespace webcrawl::storage {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// "foo-bar baz" -> "\"foo-bar\" \"baz\"": every word as an FTS5 string, so
// plain words with punctuation search instead of failing to parse.
std::string quote_words(std::string_view q) {
  std::string out;
  std::size_t i = 0;
  while (i < q.size()) {
    while (i < q.size() && is_space(q[i])) ++i;
    std::size_t start = i;
    while (i < q.size() && !is_space(q[i])) ++i;
    if (i == start) break;
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : q.substr(start, i - start)) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path) {
  auto db = open_database(path, Access::kReadOnly);
  if (!db) return db.error();
  return std::unique_ptr<Reader>(new Reader(*db));
}

Reader::~Reader() { sqlite3_close_v2(db_); }

namespace {

// The figures that have a run's scope. `?1` is the run id, or NULL for the
// whole database.
constexpr const char* kFetchedFailed =
    "SELECT coalesce(sum(u.state = 'done' AND d.status IS NOT NULL), 0), coalesce(sum(u.state = 'failed'), 0), "
    "coalesce(total(d.bytes), 0), min(d.fetched_at), max(d.fetched_at) "
    "FROM documents d JOIN urls u ON u.id = d.url_id WHERE (?1 IS NULL OR d.run_id = ?1)";
// A URL skipped by a decision about it has a document; one skipped as a
// link target only has its urls row, from the run that found it.
constexpr const char* kSkipped =
    "SELECT coalesce(u.reason, '-'), count(*) FROM urls u LEFT JOIN documents d ON d.url_id = u.id "
    "WHERE u.state = 'skipped' AND (?1 IS NULL OR coalesce(d.run_id, u.run_id) = ?1) GROUP BY 1";
constexpr const char* kErrors =
    "SELECT error_kind, count(*) FROM documents WHERE error_kind IS NOT NULL AND (?1 IS NULL OR run_id = ?1) "
    "GROUP BY error_kind";
constexpr const char* kFailingHosts =
    "SELECT h.origin, count(*) AS n FROM urls u JOIN documents d ON d.url_id = u.id JOIN hosts h ON h.id = u.host_id "
    "WHERE u.state = 'failed' AND (?1 IS NULL OR d.run_id = ?1) GROUP BY h.id ORDER BY n DESC, h.origin LIMIT 5";
constexpr const char* kByStatus =
    "SELECT status, count(*) FROM documents WHERE status IS NOT NULL AND (?1 IS NULL OR run_id = ?1) GROUP BY status";
constexpr const char* kByType =
    "SELECT content_type, count(*) FROM documents WHERE content_type IS NOT NULL AND (?1 IS NULL OR run_id = ?1) "
    "GROUP BY content_type";
constexpr const char* kTopHosts =
    "SELECT h.origin, count(*) AS n FROM documents d JOIN urls u ON u.id = d.url_id JOIN hosts h ON h.id = u.host_id "
    "WHERE u.state <> 'skipped' AND (?1 IS NULL OR d.run_id = ?1) GROUP BY h.id ORDER BY n DESC, h.origin LIMIT ?2";
constexpr const char* kRequests =
    "SELECT count(*), coalesce(sum(reused = 0 AND started_at IS NOT NULL), 0) FROM fetch_log "
    "WHERE ?1 IS NULL OR run_id = ?1";
// The politeness check: per host, the smallest gap between consecutive
// request starts actually written to it.
constexpr const char* kMinGaps =
    "SELECT host, min(gap) AS g FROM (SELECT host, started_at - lag(started_at) "
    "OVER (PARTITION BY host ORDER BY started_at) AS gap FROM fetch_log "
    "WHERE started_at IS NOT NULL AND (?1 IS NULL OR run_id = ?1)) WHERE gap IS NOT NULL GROUP BY host "
    "ORDER BY g, host LIMIT ?2";

// "robots: robots.txt unreachable: dns a.test: DNS name not found" -> "DNS
// name not found": what failed first, without the layers that wrapped it.
std::string innermost_reason(std::string why) {
  for (;;) {
    if (why.rfind("robots: ", 0) == 0) {
      why.erase(0, 8);
    } else if (why.rfind("robots.txt unreachable: ", 0) == 0) {
      why.erase(0, 24);
    } else if (why.rfind("dns ", 0) == 0 && why.find(": ") != std::string::npos) {
      why.erase(0, why.find(": ") + 2);
    } else {
      return why;
    }
  }
}

// Runs `sql` with the run (or NULL) as ?1 and `limit` as ?2, calling row().
template <class RowFn>
Result<void> scoped(sqlite3* db, const char* sql, std::optional<int64_t> run, int64_t limit, RowFn&& row) {
  auto stmt = prepare(db, sql);
  if (!stmt) return stmt.error();
  Call call(stmt->get());
  if (run) call.bind_int(1, *run);
  if (sqlite3_bind_parameter_count(stmt->get()) >= 2) call.bind_int(2, limit);
  int rc;
  while ((rc = call.step()) == SQLITE_ROW) row(call);
  if (rc != SQLITE_DONE) return from_sqlite(db, "stats");
  return {};
}

}  // namespace

Result<CrawlStats> Reader::stats(std::size_t top_hosts, std::optional<int64_t> run) {
  CrawlStats s;
  ReadSnapshot snapshot(db_);
  const auto limit = static_cast<int64_t>(std::min<std::size_t>(top_hosts, INT64_MAX));
  auto r = each_row(db_, "SELECT count(*), coalesce(sum(state = 'queued'), 0) FROM urls", {}, [&](const Call& row) {
    s.urls_known = row.integer(0);
    s.queued = row.integer(1);
  });
  if (r) {
    r = scoped(db_, kFetchedFailed, run, limit, [&](const Call& row) {
      s.fetched = row.integer(0);
      s.failed = row.integer(1);
      s.bytes = static_cast<int64_t>(row.real(2));
      s.first_fetch = row.real(3);
      s.last_fetch = row.real(4);
    });
  }
  if (r) {
    r = scoped(db_, kSkipped, run, limit, [&](const Call& row) {
      s.skipped[row.text(0)] = row.integer(1);
      s.skipped_total += row.integer(1);
    });
  }
  if (r) r = scoped(db_, kErrors, run, limit, [&](const Call& row) { s.errors[row.text(0)] = row.integer(1); });
  if (r) {
    r = scoped(db_, kFailingHosts, run, limit,
               [&](const Call& row) { s.failing_hosts.emplace_back(row.text(0), row.integer(1)); });
  }
  if (r) r = scoped(db_, kByStatus, run, limit, [&](const Call& row) { s.by_status[row.text(0)] = row.integer(1); });
  if (r) {
    r = scoped(db_, kByType, run, limit, [&](const Call& row) { s.by_content_type[row.text(0)] = row.integer(1); });
  }
  if (r) {
    r = scoped(db_, kTopHosts, run, limit,
               [&](const Call& row) { s.top_hosts.emplace_back(row.text(0), row.integer(1)); });
  }
  if (r) {
    r = scoped(db_, kRequests, run, limit, [&](const Call& row) {
      s.requests = row.integer(0);
      s.connections = row.integer(1);
    });
  }
  if (r) {
    r = scoped(db_, kMinGaps, run, limit, [&](const Call& row) { s.min_gaps.emplace_back(row.text(0), row.real(1)); });
  }
  if (r) {
    r = scoped(db_,
               "SELECT count(*) FROM edges e WHERE ?1 IS NULL OR "
               "EXISTS (SELECT 1 FROM documents d WHERE d.url_id = e.src_id AND d.run_id = ?1)",
               run, limit, [&](const Call& row) { s.links = row.integer(0); });
  }
  if (r) {
    r = each_row(db_, "SELECT id, started_at, coalesce(ended_at, 0), version, pages, coalesce(outcome, '') "
                      "FROM run_log ORDER BY id", {}, [&](const Call& row) {
      s.runs.push_back(RunSummary{row.integer(0), row.real(1), row.real(2), row.text(3), row.integer(4), row.text(5)});
    });
  }
  if (!r) return r.error();
  return s;
}

Result<std::vector<std::string>> Reader::seed_failures(int64_t run) {
  std::vector<std::string> out;
  auto r = each_row(db_,
                    "SELECT h.origin, min(coalesce(d.error, 'HTTP ' || d.status)) FROM documents d "
                    "JOIN urls u ON u.id = d.url_id JOIN hosts h ON h.id = u.host_id "
                    "WHERE d.run_id = ?1 AND u.depth = 0 AND (u.state = 'failed' OR "
                    "(u.state = 'skipped' AND d.error IS NOT NULL)) GROUP BY h.id ORDER BY h.id LIMIT 5",
                    {run}, [&](const Call& row) {
                      std::string origin = row.text(0);
                      out.push_back(origin.substr(origin.find("//") + 2) + ": " + innermost_reason(row.text(1)));
                    });
  if (!r) return r.error();
  return out;
}

namespace {

// Runs the search once; an FTS5 syntax error comes back as kInvalidArgument.
Result<std::vector<SearchHit>> run_search(sqlite3* db, std::string_view match, int64_t limit) {
  auto stmt = prepare(db,
                      "SELECT u.url, d.title, snippet(pages_fts, 1, '[', ']', '\u2026', 12), "
                      "bm25(pages_fts, 10.0, 1.0) AS r FROM pages_fts "
                      "JOIN documents d ON d.url_id = pages_fts.rowid "
                      "JOIN urls u ON u.id = d.url_id "
                      "WHERE pages_fts MATCH ?1 ORDER BY r LIMIT ?2");
  if (!stmt) return stmt.error();
  Call call(stmt->get());
  call.bind_text(1, match).bind_int(2, limit);
  std::vector<SearchHit> hits;
  int rc;
  while ((rc = call.step()) == SQLITE_ROW) {
    hits.push_back(
        SearchHit{call.text(0), call.text(1), call.text(2), sqlite3_column_double(call.get(), 3)});
  }
  if (rc == SQLITE_DONE) return hits;
  if ((rc & 0xff) == SQLITE_ERROR) {
    return Error{Code::kInvalidArgument, std::string("bad search query: ") + sqlite3_errmsg(db)};
  }
  return from_sqlite(db, "search");
}

}  // namespace

Result<std::vector<SearchHit>> Reader::search(std::string_view fts_query, std::size_t limit) {
  std::string words = quote_words(fts_query);
  if (words.empty()) return Error{Code::kInvalidArgument, "empty search query"};
  const auto max = static_cast<int64_t>(std::min<std::size_t>(limit, INT64_MAX));
  auto hits = run_search(db_, fts_query, max);
  if (hits || hits.error().code != Code::kInvalidArgument || words == fts_query) return hits;
  // Plain words that happen not to be FTS5 syntax ("c++ foo-bar") still search.
  auto retry = run_search(db_, words, max);
  if (retry) return retry;
  return hits;
}

namespace {

// Prepares exactly one statement: what follows it may only be whitespace and
// comments, which SQLite prepares into no statement at all.
Result<Stmt> prepare_one(sqlite3* db, std::string_view sql) {
  if (sql.size() > INT_MAX) return Error{Code::kInvalidArgument, "the SQL text is too long"};
  const char* tail = nullptr;
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return Error{Code::kInvalidArgument, sqlite3_errmsg(db)};
  if (!stmt) return Error{Code::kInvalidArgument, "no SQL statement given"};
  std::string_view rest = sql.substr(static_cast<std::size_t>(tail - sql.data()));
  sqlite3_stmt* extra = nullptr;
  rc = sqlite3_prepare_v2(db, rest.data(), static_cast<int>(rest.size()), &extra, nullptr);
  Stmt extra_stmt(extra);
  // A NUL would hide the text after it from SQLite.
  if (rc != SQLITE_OK || extra_stmt || rest.find('\0') != std::string_view::npos) {
    return Error{Code::kInvalidArgument, "only one SQL statement is allowed"};
  }
  return stmt;
}

void read_value(sqlite3_stmt* stmt, int col, Value& v) {
  v.text.clear();
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
      v.type = Value::Type::kInteger;
      v.integer = sqlite3_column_int64(stmt, col);
      return;
    case SQLITE_FLOAT:
      v.type = Value::Type::kReal;
      v.real = sqlite3_column_double(stmt, col);
      return;
    case SQLITE_TEXT: {
      v.type = Value::Type::kText;
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      if (p != nullptr) v.text.assign(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)));
      return;
    }
    case SQLITE_BLOB: {
      v.type = Value::Type::kBlob;
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, col));
      if (p != nullptr) v.text.assign(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)));
      return;
    }
    default:
      v.type = Value::Type::kNull;
      return;
  }
}

}  // namespace

Result<void> Reader::query(std::string_view sql,
                          const std::function<void(const std::vector<std::string>&)>& on_columns,
                          const std::function<void(const std::vector<Value>&)>& on_row) {
  auto stmt = prepare_one(db_, sql);
  if (!stmt) return stmt.error();
  sqlite3_stmt* raw = stmt->get();
  if (sqlite3_db_readonly(db_, "main") == 1 && sqlite3_stmt_readonly(raw) == 0) {
    return Error{Code::kInvalidArgument, "only read-only statements are allowed"};
  }

  const int columns = sqlite3_column_count(raw);
  std::vector<std::string> names;
  names.reserve(static_cast<std::size_t>(columns));
  for (int i = 0; i < columns; ++i) {
    const char* name = sqlite3_column_name(raw, i);
    names.emplace_back(name != nullptr ? name : "");
  }
  if (on_columns) on_columns(names);

  std::vector<Value> row(static_cast<std::size_t>(columns));
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    for (int i = 0; i < columns; ++i) read_value(raw, i, row[static_cast<std::size_t>(i)]);
    if (on_row) on_row(row);
  }
  if (rc != SQLITE_DONE) return from_sqlite(db_, "query");
  return {};
}

std::string Value::to_string() const {
  switch (type) {
    case Type::kNull:
      return {};
    case Type::kInteger:
      return std::to_string(integer);
    case Type::kReal: {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, real);
      if (ec != std::errc()) return {};
      std::string out(buf, end);
      // Like SQLite, keep a real looking real: 1.0, not 1.
      if (out.find_first_of(".eEn") == std::string::npos) out += ".0";
      return out;
    }
    case Type::kText:
      return text;
    case Type::kBlob: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out = "x'";
      out.reserve(text.size() * 2 + 3);
      for (unsigned char c : text) {
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
      }
      out += '\'';
      return out;
    }
  }
  return {};
}

}  // namespace webcrawl::storage