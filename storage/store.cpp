// The crawl database's write side. See store.h for the contract; the
// procedures that apply a batch are in store_apply.cpp.
//
// Writes go through statements prepared once per Store (Store::Statements)
// and run inside one BEGIN IMMEDIATE transaction per batch.
#include "storage/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <unordered_set>

#include "storage/checkpointer.h"
#include "storage/store_statements.h"

namespace webcrawl::storage {

Store::Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

Store::~Store() {
  checkpointer_.reset();  // before the connection it hooks closes
  stmts_.reset();  // statements must be finalized before the connection closes
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, Checkpoints checkpoints) {
  auto db = open_database(path, Access::kReadWrite);
  if (!db) return db.error();
  std::unique_ptr<Store> store(new Store(*db, path));  // closes the connection on every path
  // Requests in flight when the last run ended (a kill, a stop) go again.
  if (auto r = exec(*db, "UPDATE urls SET state = 'queued' WHERE state = 'in_flight'"); !r) return r.error();
  store->stmts_ = std::make_unique<Statements>(*db);
  if (auto r = store->stmts_->prepare_all(); !r) return r.error();
  if (auto r = store->stmts_->count_pending(); !r) return r.error();
  // Without the thread (or when its connection did not open), the writer
  // checkpoints as SQLite does by default: no less safe.
  if (checkpoints == Checkpoints::kThread) {
    if (auto c = Checkpointer::start(path, *db)) store->checkpointer_ = std::move(*c);
  }
  return store;
}

Result<std::vector<QueuedUrl>> Store::add_seeds(const std::vector<DiscoveredUrl>& seeds) {
  std::vector<QueuedUrl> queued;
  if (seeds.empty()) return queued;
  const double now = unix_now();
  auto r = stmts_->in_transaction([&]() -> Result<void> {
    for (const DiscoveredUrl& s : seeds) {
      if (auto one = stmts_->seed(s, now, queued); !one) return one;
    }
    return {};
  });
  if (!r) return r.error();
  // A seed listed twice must reach the crawler once.
  std::unordered_set<int64_t> seen;
  std::erase_if(queued, [&](const QueuedUrl& q) { return !seen.insert(q.id).second; });
  return queued;
}

Result<std::vector<QueuedUrl>> Store::commit(const std::vector<PageResult>& results) {
  Batch batch;
  batch.pages = results;
  return commit(batch);
}

Result<std::vector<QueuedUrl>> Store::commit(const Batch& batch) {
  std::vector<QueuedUrl> queued;
  if (batch.pages.empty() && batch.fetches.empty() && batch.robots.empty() && batch.started.empty() &&
      batch.host_delays.empty() && batch.sitemaps.empty() && batch.cookies.empty()) {
    return queued;
  }
  const double now = unix_now();
  auto r = stmts_->in_transaction([&]() -> Result<void> {
    for (int64_t id : batch.started) {
      Call mark(stmts_->url_started.get());
      mark.bind_int(1, id);
      if (auto one = run(db_, mark, "mark in flight"); !one) return one;
    }
    // FTS5 flushes its pending terms as a new index segment whenever a rowid
    // is lower than the one before it in a transaction, and later merges redo
    // every segment. Pages finish in any order (a crawl turns from host to
    // host), so they are applied in url id order. 20,000-page crawl, runs in
    // turns: FTS CPU 35-38 -> 27-28 s, 314-339 -> 393-401 pages/s.
    std::vector<const PageResult*> pages;
    pages.reserve(batch.pages.size());
    for (const PageResult& page : batch.pages) pages.push_back(&page);
    std::stable_sort(pages.begin(), pages.end(),
                     [](const PageResult* a, const PageResult* b) { return a->url_id < b->url_id; });
    for (const PageResult* page : pages) {
      if (auto one = stmts_->apply(*page, now, queued); !one) return one;
    }
    for (const FetchRecord& f : batch.fetches) {
      if (auto one = stmts_->record_fetch(f); !one) return one;
    }
    for (const RobotsRecord& rr : batch.robots) {
      if (auto one = stmts_->record_robots(rr); !one) return one;
    }
    for (const SitemapRecord& sm : batch.sitemaps) {
      if (auto one = stmts_->record_sitemap(sm, now, queued); !one) return one;
    }
    for (const auto& [origin, delay] : batch.host_delays) {
      if (auto one = stmts_->host_id(origin); !one) return one.error();  // the row exists from here
      Call put(stmts_->host_delay.get());
      put.bind_text(1, origin).bind_real(2, delay);
      if (auto one = run(db_, put, "record a host's delay"); !one) return one;
    }
    for (const CookieRecord& c : batch.cookies) {
      if (auto one = stmts_->record_cookie(c); !one) return one;
    }
    // Without deferral pages are indexed as they are applied; pages an
    // earlier deferring run left pending go with this commit.
    if (!stmts_->defer_index) {
      if (auto indexed = stmts_->index_pending(); !indexed) return indexed.error();
    }
    return {};
  });
  if (!r) return r.error();
  return queued;
}

void Store::defer_index(bool on) { stmts_->defer_index = on; }

int64_t Store::pending_index() const { return stmts_->pending; }

Result<int64_t> Store::index_pending(int64_t step, const std::function<void()>& between) {
  if (stmts_->pending == 0) return int64_t{0};
  int64_t indexed = 0;
  auto r = stmts_->in_transaction([&]() -> Result<void> {
    auto n = stmts_->index_pending(step, between);
    if (!n) return n.error();
    indexed = *n;
    return {};
  });
  if (!r) return r.error();
  return indexed;
}

Result<std::vector<QueuedUrl>> Store::queued_urls() {
  std::vector<QueuedUrl> out;
  auto r = each_row(db_,
                    "SELECT u.id, u.url, h.origin, u.depth, u.redirects FROM urls u "
                    "JOIN hosts h ON h.id = u.host_id WHERE u.state = 'queued' ORDER BY u.id",
                    {}, [&](const Call& row) {
                      out.push_back(QueuedUrl{row.integer(0), row.text(1), row.text(2),
                                              static_cast<int>(row.integer(3)),
                                              static_cast<int>(row.integer(4))});
                    });
  if (!r) return r.error();
  return out;
}

Result<std::vector<std::pair<std::string, int64_t>>> Store::queued_by_host() {
  std::vector<std::pair<std::string, int64_t>> out;
  auto r = each_row(db_,
                    "SELECT h.origin, q.n FROM (SELECT host_id, count(*) AS n FROM urls "
                    "WHERE state = 'queued' GROUP BY host_id) q JOIN hosts h ON h.id = q.host_id "
                    "ORDER BY q.host_id",
                    {}, [&](const Call& row) { out.emplace_back(row.text(0), row.integer(1)); });
  if (!r) return r.error();
  return out;
}

Result<std::vector<QueuedUrl>> Store::queued_for_host(const std::string& origin, int64_t after_id,
                                                      std::size_t limit) {
  std::vector<QueuedUrl> out;
  auto stmt = prepare(db_,
                      "SELECT u.id, u.url, u.depth, u.redirects FROM urls u "
                      "WHERE u.host_id = (SELECT id FROM hosts WHERE origin = ?1) "
                      "AND u.state = 'queued' AND u.id > ?2 ORDER BY u.id LIMIT ?3");
  if (!stmt) return stmt.error();
  Call call(stmt->get());
  call.bind_text(1, origin).bind_int(2, after_id).bind_int(3, static_cast<int64_t>(limit));
  int rc;
  while ((rc = call.step()) == SQLITE_ROW) {
    out.push_back(QueuedUrl{call.integer(0), call.text(1), origin, static_cast<int>(call.integer(2)),
                            static_cast<int>(call.integer(3))});
  }
  if (rc != SQLITE_DONE) return from_sqlite(db_, "queued urls of " + origin);
  return out;
}

Result<std::vector<std::pair<std::string, int64_t>>> Store::documents_by_host() {
  std::vector<std::pair<std::string, int64_t>> out;
  auto r = each_row(db_,
                    "SELECT h.origin, count(*) FROM documents d JOIN urls u ON u.id = d.url_id "
                    "JOIN hosts h ON h.id = u.host_id WHERE u.state <> 'skipped' GROUP BY u.host_id",
                    {}, [&](const Call& row) { out.emplace_back(row.text(0), row.integer(1)); });
  if (!r) return r.error();
  return out;
}

Result<std::vector<std::string>> Store::seed_origins() {
  std::vector<std::string> out;
  auto r = each_row(db_,
                    "SELECT h.origin FROM hosts h WHERE EXISTS "
                    "(SELECT 1 FROM urls u WHERE u.host_id = h.id AND u.depth = 0) ORDER BY h.id",
                    {}, [&](const Call& row) { out.push_back(row.text(0)); });
  if (!r) return r.error();
  return out;
}

Result<int64_t> Store::document_count() {
  int64_t count = 0;
  auto r = each_row(db_, "SELECT count(*) FROM documents", {},
                    [&](const Call& row) { count = row.integer(0); });
  if (!r) return r.error();
  return count;
}

Result<std::vector<RobotsRecord>> Store::recent_robots(double since) {
  std::vector<RobotsRecord> out;
  auto stmt = prepare(db_,
                      "SELECT r.host, r.url, r.fetched_at, r.status, r.body, r.sitemaps FROM robots_log r "
                      "WHERE r.id IN (SELECT max(id) FROM robots_log WHERE fetched_at > ?1 GROUP BY host) "
                      "AND r.host IN (SELECT h.origin FROM hosts h WHERE EXISTS "
                      "(SELECT 1 FROM urls u WHERE u.host_id = h.id AND u.state = 'queued'))");
  if (!stmt) return stmt.error();
  Call call(stmt->get());
  call.bind_real(1, since);
  int rc;
  while ((rc = call.step()) == SQLITE_ROW) {
    RobotsRecord r;
    r.host = call.text(0);
    r.url = call.text(1);
    r.fetched_at = call.real(2);
    if (!call.is_null(3)) r.status = static_cast<int>(call.integer(3));
    r.body = call.text(4);
    std::string_view lines = call.is_null(5) ? std::string_view() : call.text(5);
    while (!lines.empty()) {
      std::size_t nl = lines.find('\n');
      if (nl != 0) r.sitemaps.emplace_back(lines.substr(0, nl));
      lines = nl == std::string_view::npos ? std::string_view() : lines.substr(nl + 1);
    }
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return from_sqlite(db_, "read robots.txt answers");
  return out;
}

Result<std::vector<std::string>> Store::settled_sitemaps() {
  std::vector<std::string> out;
  auto r = each_row(db_,
                    "SELECT DISTINCT url FROM sitemap_log WHERE "
                    "(status IS NOT NULL AND status < 500 AND status <> 429) OR "
                    "(status IS NULL AND error IN ('out of scope', 'robots: disallowed'))",
                    {}, [&](const Call& row) { out.push_back(row.text(0)); });
  if (!r) return r.error();
  return out;
}

Result<std::vector<std::pair<std::string, std::pair<std::string, uint64_t>>>> Store::archived_payloads() {
  std::vector<std::pair<std::string, std::pair<std::string, uint64_t>>> out;
  auto r = each_row(db_,
                    "SELECT payload_digest, warc_file, warc_offset FROM documents "
                    "WHERE warc_file IS NOT NULL AND warc_revisit = 0 AND payload_digest IS NOT NULL",
                    {}, [&](const Call& row) {
                      out.push_back({row.text(0), {row.text(1), static_cast<uint64_t>(row.integer(2))}});
                    });
  if (!r) return r.error();
  return out;
}

Result<std::vector<CookieRecord>> Store::cookies() {
  std::vector<CookieRecord> out;
  auto r = each_row(db_,
                    "SELECT domain, path, name, value, expires, secure, http_only, host_only, created "
                    "FROM cookies ORDER BY created",
                    {}, [&](const Call& row) {
                      CookieRecord c;
                      c.domain = row.text(0);
                      c.path = row.text(1);
                      c.name = row.text(2);
                      c.value = row.text(3);
                      if (!row.is_null(4)) c.expires = row.real(4);
                      c.secure = row.integer(5) != 0;
                      c.http_only = row.integer(6) != 0;
                      c.host_only = row.integer(7) != 0;
                      c.created = row.real(8);
                      out.push_back(std::move(c));
                    });
  if (!r) return r.error();
  return out;
}

Result<int64_t> Store::run_count() {
  int64_t count = 0;
  auto r = each_row(db_, "SELECT count(*) FROM run_log", {}, [&](const Call& row) { count = row.integer(0); });
  if (!r) return r.error();
  return count;
}

Result<int64_t> Store::retry_failed() {
  auto r = exec(db_,
                "UPDATE urls SET state = 'queued', reason = NULL "
                "WHERE state = 'failed' OR (state = 'skipped' AND reason = 'robots unavailable')");
  if (!r) return r.error();
  return static_cast<int64_t>(sqlite3_changes(db_));
}

Result<void> Store::set_meta(std::string_view key, std::string_view value) {
  Call put(stmts_->meta_set.get());
  put.bind_text(1, key).bind_text(2, value);
  return run(db_, put, "set meta");
}

Result<std::optional<std::string>> Store::get_meta(std::string_view key) {
  auto stmt = prepare(db_, "SELECT value FROM meta WHERE key = ?1");
  if (!stmt) return stmt.error();
  Call get(stmt->get());
  get.bind_text(1, key);
  int rc = get.step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return from_sqlite(db_, "get meta");
  return std::optional<std::string>(get.text(0));
}

Result<int64_t> Store::begin_run(const RunRecord& run) {
  Call put(stmts_->run_insert.get());
  put.bind_real(1, run.started_at).bind_text(2, run.version).bind_text(3, run.options);
  put.bind_text_or_null(4, run.seeds_sha256);
  if (auto r = storage::run(db_, put, "record the run"); !r) return r.error();
  stmts_->run_id = sqlite3_last_insert_rowid(db_);
  return stmts_->run_id;
}

Result<void> Store::end_run(int64_t id, double ended_at, int64_t pages, std::string_view outcome) {
  Call put(stmts_->run_end.get());
  put.bind_int(1, id).bind_real(2, ended_at).bind_int(3, pages).bind_text(4, outcome);
  return storage::run(db_, put, "record the end of the run");
}

}  // namespace webcrawl::storage
