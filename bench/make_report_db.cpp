// Writes a crawl database of N finished pages for the report benchmark
// (bench/report.sh): the rows a crawl of N pages over H hosts leaves, made
// with SQL instead of a crawl, so that a 1,000,000-page database takes
// minutes to make instead of hours.
//
//   bench_make_report_db DB PAGES HOSTS LINKS_PER_PAGE
//
// Page i belongs to host i % H and was fetched at t0 + i / 250 s (a crawl at
// 250 pages/s); every page has one request (robots.txt and a retry for some),
// a status (2 % 404, 1 % 500, 0.5 % a timeout), a content type (most
// text/html), a depth from 0 to 9 and LINKS_PER_PAGE links to pseudo-random
// pages. The text is left out: the report never reads it.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "storage/store.h"

using namespace webcrawl;

namespace {

bool exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK) return true;
  std::fprintf(stderr, "bench_make_report_db: %s\n", error ? error : "?");
  sqlite3_free(error);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DB PAGES HOSTS LINKS_PER_PAGE\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const long pages = std::atol(argv[2]);
  const long hosts = std::atol(argv[3]);
  const long links = std::atol(argv[4]);
  if (pages <= 0 || hosts <= 0 || hosts > pages || links < 0 || links > 1000) {
    std::fprintf(stderr, "bench_make_report_db: PAGES > 0, 0 < HOSTS <= PAGES, 0 <= LINKS_PER_PAGE <= 1000\n");
    return 2;
  }
  {
    auto store = storage::Store::open(path);  // the schema, as a crawl makes it
    if (!store) {
      std::fprintf(stderr, "bench_make_report_db: %s\n", store.error().message.c_str());
      return 1;
    }
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 1;
  auto began = std::chrono::steady_clock::now();
  const std::string n = std::to_string(pages), h = std::to_string(hosts), l = std::to_string(links);
  const std::string t0 = "1700000000.0";
  std::string sql =
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; BEGIN;"
      "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < " + h + ") "
      "INSERT INTO hosts(id, origin, delay) SELECT i + 1, 'http://host' || i || '.test', "
      "CASE WHEN i % 10 = 0 THEN 2.0 ELSE 1.0 END FROM k;"
      "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < " + n + ") "
      "INSERT INTO urls(id, url, host_id, depth, state, discovered_at, run_id) SELECT i, "
      "'http://host' || (i % " + h + ") || '.test/section-' || (i % 97) || '/page-' || i || '.html', "
      "i % " + h + " + 1, i % 10, CASE WHEN i % 200 = 0 THEN 'failed' ELSE 'done' END, " + t0 + " + i / 250.0, 1 FROM k;"
      "INSERT INTO documents(url_id, final_url, status, content_type, title, fetched_at, error, bytes, error_kind, "
      "run_id) SELECT id, url, "
      "CASE WHEN id % 200 = 0 THEN NULL WHEN id % 100 = 1 THEN 500 WHEN id % 50 = 3 THEN 404 ELSE 200 END, "
      "CASE WHEN id % 200 = 0 THEN NULL WHEN id % 40 = 7 THEN 'application/pdf' WHEN id % 25 = 5 THEN 'image/png' "
      "WHEN id % 60 = 11 THEN 'text/plain' ELSE 'text/html' END, 'Page ' || id, " + t0 + " + id / 250.0, "
      "CASE WHEN id % 200 = 0 THEN 'timeout: read idle for 15s' END, 1000 + id % 90000, "
      "CASE WHEN id % 200 = 0 THEN 'timeout' WHEN id % 100 = 1 THEN 'http 5xx' WHEN id % 50 = 3 THEN 'http 4xx' END, "
      "1 FROM urls;"
      // One request per page, its start 10 ms before the page was stored;
      // robots.txt first on every host; a retry for the 5xx pages.
      "INSERT INTO fetch_log(url, host, kind, attempt, started_at, waited, status, error, bytes, elapsed, reused, "
      "error_kind, run_id) SELECT u.url, h.origin, 'page', 0, d.fetched_at - 0.01, 0, d.status, d.error, d.bytes, "
      "0.002 + (u.id % 1000) / 400.0, u.id % 3 <> 0, d.error_kind, 1 FROM documents d JOIN urls u ON u.id = d.url_id "
      "JOIN hosts h ON h.id = u.host_id;"
      "INSERT INTO fetch_log(url, host, kind, attempt, started_at, waited, status, bytes, elapsed, reused, run_id) "
      "SELECT origin || '/robots.txt', origin, 'robots', 0, " + t0 + " - 5 + id / 1000.0, 0, 200, 120, 0.003, 0, 1 "
      "FROM hosts;"
      "INSERT INTO fetch_log(url, host, kind, attempt, started_at, waited, status, bytes, elapsed, reused, "
      "error_kind, run_id) SELECT u.url, h.origin, 'page', 1, d.fetched_at - 3.0, 2.5, 503, 0, 0.01, 1, 'http 5xx', 1 "
      "FROM documents d JOIN urls u ON u.id = d.url_id JOIN hosts h ON h.id = u.host_id WHERE d.status = 500;"
      "WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j + 1 < " + l + ") "
      "INSERT OR IGNORE INTO edges(src_id, dst_id, anchor_text, nofollow) SELECT u.id, "
      "CASE WHEN k.j < 3 THEN k.j + 1 ELSE (u.id * 7919 + k.j * 104729) % " + n + " + 1 END, 'link', 0 "
      "FROM urls u, k;"
      "INSERT INTO run_log(id, started_at, ended_at, version, options, seeds_sha256, pages, outcome) "
      "VALUES (1, " + t0 + " - 6, " + t0 + " + " + n + " / 250.0 + 1, 'webcrawl bench', "
      "'{\"db\":\"report.db\",\"delay\":1.0}', NULL, " + n + ", 'finished');"
      "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);";
  bool ok = exec(db, sql);
  sqlite3_close(db);
  if (!ok) return 1;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf("wrote %ld pages over %ld hosts with %ld links each into %s in %.1fs\n", pages, hosts, links,
              path.c_str(), seconds);
  return 0;
}
