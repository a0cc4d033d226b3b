// Applying a batch: URL states, documents and their search entries, link
// edges, redirect chains. Runs inside the transaction commit() opens; any
// error rolls the whole batch back.
#include <sqlite3.h>

#include <cstring>

#include "storage/store_statements.h"

namespace webcrawl::storage {
namespace {

// Redirect chains are walked through urls.via; a bound keeps a corrupt or
// cyclic chain from looping forever.
constexpr int kMaxViaSteps = 20;
// Origins cached by the writer; cleared when full so a broad crawl stays bounded.
constexpr std::size_t kHostCacheLimit = 1 << 16;

}  // namespace

Result<void> Store::Statements::prepare_all() {
  const std::pair<Stmt*, const char*> all[] = {
      {&begin, "BEGIN IMMEDIATE"},
      {&commit, "COMMIT"},
      {&rollback, "ROLLBACK"},
      {&host_find, "SELECT id FROM hosts WHERE origin = ?1"},
      {&host_insert, "INSERT INTO hosts(origin) VALUES(?1)"},
      {&url_find, "SELECT id, state, depth, redirects FROM urls WHERE url = ?1"},
      {&url_insert,
       "INSERT INTO urls(url, host_id, depth, redirects, via, state, reason, discovered_at, source, lastmod, run_id) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, nullif(?11, 0))"},
      {&url_finish, "UPDATE urls SET state = ?2, reason = ?3 WHERE id = ?1"},
      // A URL skipped as a link target (scope, depth) may be queued when a
      // later link follows it; one skipped after a decision about the URL
      // itself (robots) has a document and stays skipped.
      {&url_promote,
       "UPDATE urls SET state = 'queued', reason = NULL, depth = min(depth, ?2) WHERE id = ?1 AND "
       "(state = 'discovered' OR (state = 'skipped' AND "
       "NOT EXISTS (SELECT 1 FROM documents WHERE url_id = ?1)))"},
      {&url_seed, "UPDATE urls SET state = 'queued', reason = NULL, depth = 0 WHERE id = ?1"},
      {&url_redirected,
       "UPDATE urls SET via = ?2, redirects = ?3, depth = min(depth, ?4) WHERE id = ?1"},
      {&url_via, "SELECT via FROM urls WHERE id = ?1"},
      {&doc_old, "SELECT title, text, indexed FROM documents WHERE url_id = ?1"},
      {&doc_final, "SELECT final_url FROM documents WHERE url_id = ?1"},
      {&doc_put,
       "INSERT OR REPLACE INTO documents(url_id, final_url, status, content_type, title, text, "
       "fetched_at, error, bytes, truncated, redirect_to, indexed, charset, error_kind, run_id, "
       "warc_file, warc_offset, warc_length, warc_revisit, payload_digest, canonical) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, nullif(?15, 0), "
       "?16, ?17, ?18, ?19, ?20, ?21)"},
      {&doc_set_final, "UPDATE documents SET final_url = ?2 WHERE url_id = ?1"},
      {&fts_insert, "INSERT INTO pages_fts(rowid, title, text) VALUES(?1, ?2, ?3)"},
      {&pending_add, "INSERT OR IGNORE INTO fts_pending(url_id) VALUES(?1)"},
      {&pending_remove, "DELETE FROM fts_pending WHERE url_id = ?1"},
      // In url id order, so FTS5 never flushes early for a rowid lower than
      // the one before (see Store::commit).
      {&pending_index,
       "INSERT INTO pages_fts(rowid, title, text) SELECT d.url_id, d.title, d.text "
       "FROM fts_pending p JOIN documents d ON d.url_id = p.url_id WHERE p.url_id > ?1 "
       "ORDER BY p.url_id LIMIT ?2"},
      {&pending_last,
       "SELECT max(url_id) FROM (SELECT url_id FROM fts_pending WHERE url_id > ?1 ORDER BY url_id LIMIT ?2)"},
      {&pending_clear, "DELETE FROM fts_pending"},
      {&pending_count, "SELECT count(*) FROM fts_pending"},
      {&fts_delete,
       "INSERT INTO pages_fts(pages_fts, rowid, title, text) VALUES('delete', ?1, ?2, ?3)"},
      {&edge_insert,
       "INSERT OR IGNORE INTO edges(src_id, dst_id, anchor_text, nofollow) VALUES(?1, ?2, ?3, ?4)"},
      {&meta_set, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)"},
      {&fetch_insert,
       "INSERT INTO fetch_log(url, host, address, kind, attempt, started_at, waited, wait_reason, "
       "robots_rule, status, error, bytes, elapsed, reused, error_kind, run_id) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, nullif(?16, 0))"},
      {&url_started, "UPDATE urls SET state = 'in_flight' WHERE id = ?1 AND state = 'queued'"},
      {&robots_insert,
       "INSERT INTO robots_log(host, url, fetched_at, status, error, body, crawl_delay, sitemaps, run_id) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, nullif(?9, 0))"},
      {&sitemap_insert,
       "INSERT INTO sitemap_log(url, host, fetched_at, status, error, kind, urls, run_id) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, nullif(?8, 0))"},
      {&run_insert,
       "INSERT INTO run_log(started_at, version, options, seeds_sha256) VALUES(?1, ?2, ?3, ?4)"},
      {&run_end, "UPDATE run_log SET ended_at = ?2, pages = ?3, outcome = ?4 WHERE id = ?1"},
      {&host_delay, "UPDATE hosts SET delay = ?2 WHERE origin = ?1"},
      {&cookie_put,
       "INSERT OR REPLACE INTO cookies(domain, path, name, value, expires, secure, http_only, host_only, created) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
      {&cookie_delete, "DELETE FROM cookies WHERE domain = ?1 AND path = ?2 AND name = ?3"},
  };
  for (const auto& [stmt, sql] : all) {
    auto prepared = prepare(db, sql, SQLITE_PREPARE_PERSISTENT);
    if (!prepared) return prepared.error();
    *stmt = std::move(*prepared);
  }
  return {};
}

Result<int64_t> Store::Statements::host_id(std::string_view origin) {
  if (auto it = hosts.find(origin); it != hosts.end()) return it->second;
  int64_t id = 0;
  {
    Call find(host_find.get());
    find.bind_text(1, origin);
    int rc = find.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return from_sqlite(db, "find host");
    if (rc == SQLITE_ROW) id = find.integer(0);
  }
  if (id == 0) {
    Call insert(host_insert.get());
    insert.bind_text(1, origin);
    if (auto r = run(db, insert, "insert host"); !r) return r.error();
    id = sqlite3_last_insert_rowid(db);
  }
  if (hosts.size() >= kHostCacheLimit) hosts.clear();
  hosts.emplace(std::string(origin), id);
  return id;
}

Result<std::optional<KnownUrl>> Store::Statements::find_url(std::string_view url) {
  Call find(url_find.get());
  find.bind_text(1, url);
  int rc = find.step();
  if (rc == SQLITE_DONE) return std::optional<KnownUrl>();
  if (rc != SQLITE_ROW) return from_sqlite(db, "find url");
  return std::optional<KnownUrl>(
      KnownUrl{find.integer(0), find.text(1), find.integer(2), find.integer(3)});
}

Result<int64_t> Store::Statements::insert_url(const DiscoveredUrl& t, std::optional<int64_t> via,
                                              const char* state, double now) {
  auto host = host_id(t.origin);
  if (!host) return host.error();
  Call insert(url_insert.get());
  insert.bind_text(1, t.url).bind_int(2, *host).bind_int(3, t.depth).bind_int(4, t.redirects);
  if (via) insert.bind_int(5, *via);
  insert.bind_text(6, state);
  if (std::strcmp(state, "skipped") == 0) insert.bind_text(7, t.skip_reason);
  insert.bind_real(8, now).bind_text_or_null(9, t.source).bind_text_or_null(10, t.lastmod).bind_int(11, run_id);
  if (auto r = run(db, insert, "insert url"); !r) return r.error();
  return sqlite3_last_insert_rowid(db);
}

Result<std::optional<int64_t>> Store::Statements::via_of(int64_t id) {
  Call find(url_via.get());
  find.bind_int(1, id);
  int rc = find.step();
  if (rc == SQLITE_ROW && !find.is_null(0)) return std::optional<int64_t>(find.integer(0));
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return from_sqlite(db, "read redirect chain");
  return std::optional<int64_t>();
}

Result<bool> Store::Statements::in_via_chain(int64_t from, int64_t target) {
  auto step = via_of(from);
  for (int i = 0; i < kMaxViaSteps && step && step->has_value(); ++i) {
    if (**step == target) return true;
    step = via_of(**step);
  }
  if (!step) return step.error();
  return false;
}

Result<void> Store::Statements::promote(const KnownUrl& known, const DiscoveredUrl& t,
                                        int64_t redirects, std::vector<QueuedUrl>& queued) {
  if (known.state != "discovered" && known.state != "skipped") return {};
  Call update(url_promote.get());
  update.bind_int(1, known.id).bind_int(2, t.depth);
  if (auto r = run(db, update, "queue url"); !r) return r;
  if (sqlite3_changes(db) == 0) return {};
  queued.push_back(QueuedUrl{known.id, t.url, t.origin,
                             static_cast<int>(std::min<int64_t>(known.depth, t.depth)),
                             static_cast<int>(redirects)});
  return {};
}

Result<int64_t> Store::Statements::link_target(const DiscoveredUrl& t, double now,
                                               std::vector<QueuedUrl>& queued) {
  auto known = find_url(t.url);
  if (!known) return known.error();
  if (known->has_value()) {
    if (t.follow) {
      if (auto r = promote(**known, t, (*known)->redirects, queued); !r) return r.error();
    }
    return (*known)->id;
  }
  const char* state = state_for_new(t);
  auto id = insert_url(t, std::nullopt, state, now);
  if (id && t.follow) queued.push_back(QueuedUrl{*id, t.url, t.origin, t.depth, t.redirects});
  return id;
}

Result<RedirectOutcome> Store::Statements::redirect_target(int64_t from, const DiscoveredUrl& t,
                                                           double now,
                                                           std::vector<QueuedUrl>& queued) {
  auto known = find_url(t.url);
  if (!known) return known.error();
  if (!known->has_value()) {
    auto id = insert_url(t, from, state_for_new(t), now);
    if (!id) return id.error();
    if (t.follow) queued.push_back(QueuedUrl{*id, t.url, t.origin, t.depth, t.redirects});
    return RedirectOutcome{};
  }
  const KnownUrl& target = **known;
  if (target.id == from) return RedirectOutcome{true, {}};
  auto loop = in_via_chain(from, target.id);
  if (!loop) return loop.error();
  if (*loop) return RedirectOutcome{true, {}};
  if (target.state == "done" || target.state == "failed") {
    // Already fetched: this chain ends where the target's chain ended.
    Call find(doc_final.get());
    find.bind_int(1, target.id);
    int rc = find.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return from_sqlite(db, "read final url");
    return RedirectOutcome{false, rc == SQLITE_ROW ? find.text(0) : std::string()};
  }
  {
    Call update(url_redirected.get());
    update.bind_int(1, target.id).bind_int(2, from).bind_int(3, t.redirects).bind_int(4, t.depth);
    if (auto r = run(db, update, "record redirect"); !r) return r.error();
  }
  if (t.follow) {
    if (auto r = promote(target, t, t.redirects, queued); !r) return r.error();
  }
  return RedirectOutcome{};
}

Result<void> Store::Statements::finish_url(int64_t id, const char* state, std::string_view reason) {
  Call update(url_finish.get());
  update.bind_int(1, id).bind_text(2, state);
  if (std::strcmp(state, "done") != 0) update.bind_text(3, reason);
  if (auto r = run(db, update, "update url state"); !r) return r;
  if (sqlite3_changes(db) == 0) {
    return Error{Code::kInvalidArgument, "commit: unknown url id " + std::to_string(id)};
  }
  return {};
}

Result<void> Store::Statements::put_document(const PageResult& page, std::string_view final_url,
                                             std::string_view error) {
  {
    // External-content FTS5 deletes by the indexed values, so the old entry
    // must go before the row that holds those values is replaced.
    Call old(doc_old.get());
    old.bind_int(1, page.url_id);
    int rc = old.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return from_sqlite(db, "read document");
    if (rc == SQLITE_ROW && old.integer(2) != 0) {
      // Either still pending (no entry yet) or indexed.
      bool unlisted = false;
      if (pending > 0) {
        Call unlist(pending_remove.get());
        unlist.bind_int(1, page.url_id);
        if (auto r = run(db, unlist, "unlist pending search entry"); !r) return r;
        unlisted = sqlite3_changes(db) > 0;
      }
      if (unlisted) {
        pending--;
      } else {
        Call del(fts_delete.get());
        del.bind_int(1, page.url_id).bind_column(2, old.get(), 0).bind_column(3, old.get(), 1);
        if (auto r = run(db, del, "delete search entry"); !r) return r;
      }
    }
  }
  Call put(doc_put.get());
  put.bind_int(1, page.url_id).bind_text_or_null(2, final_url);
  if (page.status) put.bind_int(3, *page.status);
  put.bind_text_or_null(4, page.content_type)
      .bind_text_or_null(5, page.title)
      .bind_text_or_null(6, page.text);
  if (page.fetched_at > 0) put.bind_real(7, page.fetched_at);
  put.bind_text_or_null(8, error).bind_int(9, page.bytes).bind_int(10, page.truncated ? 1 : 0);
  if (page.redirect) put.bind_text(11, page.redirect->url);
  put.bind_int(12, page.index ? 1 : 0).bind_text_or_null(13, page.charset).bind_text_or_null(14, page.error_kind);
  put.bind_int(15, run_id);
  if (page.warc) {
    put.bind_text(16, page.warc->file)
        .bind_int(17, static_cast<int64_t>(page.warc->offset))
        .bind_int(18, static_cast<int64_t>(page.warc->length))
        .bind_int(19, page.warc->revisit ? 1 : 0)
        .bind_text_or_null(20, page.warc->payload_digest);
  }
  put.bind_text_or_null(21, page.canonical);
  if (auto r = run(db, put, "store document"); !r) return r;
  if (!page.index) return {};
  if (!defer_index) {
    Call fts(fts_insert.get());
    fts.bind_int(1, page.url_id).bind_text_or_null(2, page.title).bind_text_or_null(3, page.text);
    return run(db, fts, "index document");
  }
  Call list(pending_add.get());
  list.bind_int(1, page.url_id);
  if (auto r = run(db, list, "list document for indexing"); !r) return r;
  pending += sqlite3_changes(db);
  return {};
}

Result<int64_t> Store::Statements::index_pending(int64_t step, const std::function<void()>& between) {
  if (pending == 0) return int64_t{0};
  // One transaction, so FTS5 gathers every step's terms into one segment
  // (the url ids ascend from step to step).
  int64_t indexed = 0;
  for (int64_t after = 0;;) {
    int64_t last = 0;
    {
      Call find(pending_last.get());
      find.bind_int(1, after).bind_int(2, step);
      if (find.step() != SQLITE_ROW) return from_sqlite(db, "find pending search entries");
      if (find.is_null(0)) break;
      last = find.integer(0);
    }
    Call index(pending_index.get());
    index.bind_int(1, after).bind_int(2, step);
    if (auto r = run(db, index, "index documents"); !r) return r.error();
    indexed += sqlite3_changes(db);
    after = last;
    if (between) between();
  }
  Call clear(pending_clear.get());
  if (auto r = run(db, clear, "clear pending search entries"); !r) return r.error();
  pending = 0;
  return indexed;
}

Result<void> Store::Statements::count_pending() {
  Call count(pending_count.get());
  if (count.step() != SQLITE_ROW) return from_sqlite(db, "count pending search entries");
  pending = count.integer(0);
  return {};
}

Result<void> Store::Statements::propagate_final_url(int64_t id, std::string_view final_url) {
  auto step = via_of(id);
  for (int i = 0; i < kMaxViaSteps && step && step->has_value() && **step != id; ++i) {
    Call update(doc_set_final.get());
    update.bind_int(1, **step).bind_text(2, final_url);
    if (auto r = run(db, update, "update redirect chain"); !r) return r;
    step = via_of(**step);
  }
  if (!step) return step.error();
  return {};
}

Result<void> Store::Statements::record_fetch(const FetchRecord& f) {
  Call put(fetch_insert.get());
  put.bind_text(1, f.url).bind_text(2, f.host).bind_text_or_null(3, f.address).bind_text(4, f.kind);
  put.bind_int(5, f.attempt);
  if (f.started_at) {
    put.bind_real(6, *f.started_at);
  } else {
    put.bind_null(6);
  }
  put.bind_real(7, f.waited).bind_text_or_null(8, f.wait_reason).bind_text_or_null(9, f.robots_rule);
  if (f.status) {
    put.bind_int(10, *f.status);
  } else {
    put.bind_null(10);
  }
  put.bind_text_or_null(11, f.error).bind_int(12, f.bytes).bind_real(13, f.elapsed);
  put.bind_int(14, f.reused ? 1 : 0).bind_text_or_null(15, f.error_kind).bind_int(16, run_id);
  return run(db, put, "record fetch");
}

Result<void> Store::Statements::record_robots(const RobotsRecord& r) {
  Call put(robots_insert.get());
  put.bind_text(1, r.host).bind_text(2, r.url).bind_real(3, r.fetched_at);
  if (r.status) {
    put.bind_int(4, *r.status);
  } else {
    put.bind_null(4);
  }
  put.bind_text_or_null(5, r.error).bind_text(6, r.body);
  if (r.crawl_delay) {
    put.bind_real(7, *r.crawl_delay);
  } else {
    put.bind_null(7);
  }
  std::string sitemaps;
  for (const auto& m : r.sitemaps) sitemaps += (sitemaps.empty() ? "" : "\n") + m;
  put.bind_text_or_null(8, sitemaps);
  put.bind_int(9, run_id);
  return run(db, put, "record robots.txt");
}

Result<void> Store::Statements::record_sitemap(const SitemapRecord& r, double now,
                                               std::vector<QueuedUrl>& queued) {
  {
    Call put(sitemap_insert.get());
    put.bind_text(1, r.url).bind_text(2, r.host).bind_real(3, r.fetched_at);
    if (r.status) {
      put.bind_int(4, *r.status);
    } else {
      put.bind_null(4);
    }
    put.bind_text_or_null(5, r.error).bind_text_or_null(6, r.kind).bind_int(7, r.urls).bind_int(8, run_id);
    if (auto one = run(db, put, "record sitemap"); !one) return one;
  }
  for (const DiscoveredUrl& entry : r.entries) {
    if (auto id = link_target(entry, now, queued); !id) return id.error();
  }
  return {};
}

Result<void> Store::Statements::record_cookie(const CookieRecord& c) {
  if (c.removed) {
    Call del(cookie_delete.get());
    del.bind_text(1, c.domain).bind_text(2, c.path).bind_text(3, c.name);
    return run(db, del, "delete a cookie");
  }
  Call put(cookie_put.get());
  put.bind_text(1, c.domain).bind_text(2, c.path).bind_text(3, c.name).bind_text(4, c.value);
  if (c.expires) {
    put.bind_real(5, *c.expires);
  } else {
    put.bind_null(5);
  }
  put.bind_int(6, c.secure).bind_int(7, c.http_only).bind_int(8, c.host_only).bind_real(9, c.created);
  return run(db, put, "keep a cookie");
}

Result<void> Store::Statements::apply(const PageResult& page, double now,
                                      std::vector<QueuedUrl>& queued) {
  std::string_view error = page.error;
  std::string_view final_url = page.final_url;
  RedirectOutcome redirect;
  if (page.redirect) {
    auto outcome = redirect_target(page.url_id, *page.redirect, now, queued);
    if (!outcome) return outcome.error();
    redirect = std::move(*outcome);
    if (redirect.loop) error = "redirect loop";
    if (!redirect.final_url.empty()) final_url = redirect.final_url;
  }
  std::string_view reason = page.skipped && !page.skip_reason.empty() ? std::string_view(page.skip_reason) : error;
  if (auto r = finish_url(page.url_id, state_for_result(page, error), reason); !r) return r;
  if (auto r = put_document(page, final_url, error); !r) return r;
  // Only a response names a final URL; a failed fetch leaves its chain as is.
  if (!final_url.empty() && !redirect.loop) {
    if (auto r = propagate_final_url(page.url_id, final_url); !r) return r;
  }
  if (page.canonical_target) {
    if (auto r = link_target(*page.canonical_target, now, queued); !r) return r.error();
  }
  for (const OutLink& link : page.links) {
    auto dst = link_target(link.target, now, queued);
    if (!dst) return dst.error();
    Call edge(edge_insert.get());
    edge.bind_int(1, page.url_id)
        .bind_int(2, *dst)
        .bind_text_or_null(3, link.anchor_text)
        .bind_int(4, link.nofollow ? 1 : 0);
    if (auto r = run(db, edge, "insert link"); !r) return r;
  }
  return {};
}

Result<void> Store::Statements::seed(const DiscoveredUrl& s, double now,
                                     std::vector<QueuedUrl>& queued) {
  auto known = find_url(s.url);
  if (!known) return known.error();
  if (!known->has_value()) {
    DiscoveredUrl fresh = s;
    fresh.depth = 0;
    fresh.redirects = 0;
    fresh.source = "seed";
    auto id = insert_url(fresh, std::nullopt, "queued", now);
    if (!id) return id.error();
    queued.push_back(QueuedUrl{*id, s.url, s.origin, 0, 0});
    return {};
  }
  const KnownUrl& url = **known;
  if (url.state == "done" || url.state == "failed") return {};
  Call update(url_seed.get());
  update.bind_int(1, url.id);
  if (auto r = run(db, update, "queue seed"); !r) return r;
  queued.push_back(QueuedUrl{url.id, s.url, s.origin, 0, static_cast<int>(url.redirects)});
  return {};
}

// ---- Store ----

}  // namespace webcrawl::storage
