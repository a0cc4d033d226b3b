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

struct CrawlStats {
  int64_t urls_known = 0;
  int64_t queued = 0;
  int64_t fetched = 0;    // documents with an HTTP status
  int64_t failed = 0;     // documents with an error and no status
  int64_t skipped = 0;
  int64_t bytes = 0;
  double first_fetch = 0, last_fetch = 0;
  int64_t links = 0;
  std::map<std::string, int64_t> by_status;        // "200", "404", ...
  std::map<std::string, int64_t> by_content_type;
  std::map<std::string, int64_t> errors;           // error text -> count
  std::vector<std::pair<std::string, int64_t>> top_hosts;  // most pages first
  int64_t requests = 0;     // rows in fetches
  int64_t connections = 0;  // requests written on a fresh connection (not reused)
  // The smallest gap observed between two request starts to one host, per
  // host, smallest first (at most top_hosts of them): the politeness check.
  std::vector<std::pair<std::string, double>> min_gaps;
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

  Result<CrawlStats> stats(std::size_t top_hosts = 10);
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
