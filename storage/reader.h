// The read side of a crawl database, for its users: the summary (`webcrawl
// stats`), full-text search, and one read-only SQL statement at a time
// (`query`, `export`). A Reader has its own read-only connection, so it works
// while a crawl writes (WAL) and can never write.
//
// One Reader per thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

struct sqlite3;

namespace webcrawl::storage {

// One value of a query row, keeping SQLite's type for JSON and CSV output.
struct Value {
  enum class Type { kNull, kInteger, kReal, kText, kBlob };
  Type type = Type::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string text;  // text or blob bytes
  std::string to_string() const;  // "" for NULL; blobs as x'hex'
};

// One row of `runs`.
struct RunSummary {
  int64_t id = 0;
  double started_at = 0, ended_at = 0;  // unix seconds; ended_at 0 while running or killed
  std::string version;
  int64_t pages = 0;
  std::string outcome;  // "" while running, or for a run killed by SIGKILL
};

// What a crawl did, by the definitions README gives and the end-of-crawl
// summary uses too, for one run or for the whole database.
struct CrawlStats {
  int64_t urls_known = 0;  // every URL the database knows
  int64_t queued = 0;      // still to fetch (always the whole database's)
  int64_t fetched = 0;     // URLs that got an HTTP answer and are done, any status
  int64_t failed = 0;      // no answer, or a 429/5xx still there after the last retry
  int64_t skipped_total = 0;
  std::map<std::string, int64_t> skipped;  // by reason: robots, robots unavailable, out of scope...
  std::map<std::string, int64_t> errors;   // by kind: dns, connect, tls, timeout, protocol, http 4xx...
  std::vector<std::pair<std::string, int64_t>> failing_hosts;  // most failed URLs first
  int64_t bytes = 0;       // body bytes received
  double first_fetch = 0, last_fetch = 0;
  int64_t links = 0;
  std::map<std::string, int64_t> by_status;        // "200", "404", ...
  std::map<std::string, int64_t> by_content_type;
  std::vector<std::pair<std::string, int64_t>> top_hosts;  // most pages first
  int64_t requests = 0;     // request attempts, robots.txt included
  int64_t connections = 0;  // requests written on a fresh connection (not reused)
  // The smallest gap observed between two request starts to one host, per
  // host, smallest first (at most top_hosts of them): the politeness check.
  std::vector<std::pair<std::string, double>> min_gaps;
  std::vector<RunSummary> runs;  // every run, oldest first
};

struct SearchHit {
  std::string url;
  std::string title;
  std::string snippet;  // with [ ] around matched terms
  double rank = 0;      // bm25, lower is better
};

class Reader {
 public:
  // Fails with kNotOurs for a file that is not a webcrawl database, kStorage
  // when it does not exist or cannot be read. A database of an older schema
  // is upgraded first (see open_database).
  static Result<std::unique_ptr<Reader>> open(const std::string& path);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The whole database's figures, or with `run` only what that run did
  // (its pages, requests and skips; `queued` stays the database's).
  Result<CrawlStats> stats(std::size_t top_hosts = 10, std::optional<int64_t> run = std::nullopt);
  // Why the depth-0 URLs (the seeds) of `run` that failed did: "host: reason",
  // one per host, for a crawl in which nothing could be fetched.
  Result<std::vector<std::string>> seed_failures(int64_t run);
  // Best matches first. Plain words that are not FTS5 syntax ("c++
  // foo-bar") search as words. An empty query is kInvalidArgument.
  Result<std::vector<SearchHit>> search(std::string_view fts_query, std::size_t limit = 20);
  // Runs one read-only SQL statement (more than one, or a write, is
  // kInvalidArgument). `on_columns` is called once before the rows; `on_row`
  // per row, streaming.
  Result<void> query(std::string_view sql, const std::function<void(const std::vector<std::string>&)>& on_columns,
                     const std::function<void(const std::vector<Value>&)>& on_row);
  // The raw connection, for read-side units of storage/ (report, export).
  sqlite3* connection() const { return db_; }

 private:
  explicit Reader(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace webcrawl::storage
