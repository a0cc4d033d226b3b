// The write path's prepared statements and the procedures that use them,
// shared by store.cpp and store_apply.cpp. Internal to storage/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace webcrawl::storage {

struct KnownUrl {
  int64_t id = 0;
  std::string state;
  int64_t depth = 0;
  int64_t redirects = 0;
};

struct RedirectOutcome {
  bool loop = false;
  std::string final_url;  // the target's final URL when it was already fetched
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

inline const char* state_for_new(const DiscoveredUrl& t) {
  if (t.follow) return "queued";
  return t.skip_reason.empty() ? "discovered" : "skipped";
}

inline const char* state_for_result(const PageResult& page, std::string_view error) {
  if (page.skipped) return "skipped";
  if ((!error.empty() && !page.status) || page.failed) return "failed";
  return "done";
}

// The write statements of a crawl Store, prepared once, and the procedures
// that use them. Everything here runs inside a transaction opened by commit()
// or add_seeds(); any error rolls the whole batch back.
struct Store::Statements {
  explicit Statements(sqlite3* connection) : db(connection) {}

  Result<void> prepare_all();
  template <class Body>
  Result<void> in_transaction(Body&& body);

  Result<int64_t> host_id(std::string_view origin);
  Result<std::optional<KnownUrl>> find_url(std::string_view url);
  Result<int64_t> insert_url(const DiscoveredUrl& t, std::optional<int64_t> via, const char* state,
                             double now);
  Result<std::optional<int64_t>> via_of(int64_t id);
  Result<bool> in_via_chain(int64_t from, int64_t target);
  Result<void> promote(const KnownUrl& known, const DiscoveredUrl& t, int64_t redirects,
                       std::vector<QueuedUrl>& queued);
  Result<int64_t> link_target(const DiscoveredUrl& t, double now, std::vector<QueuedUrl>& queued);
  Result<RedirectOutcome> redirect_target(int64_t from, const DiscoveredUrl& t, double now,
                                          std::vector<QueuedUrl>& queued);
  Result<void> finish_url(int64_t id, const char* state, std::string_view reason);
  Result<void> put_document(const PageResult& page, std::string_view final_url,
                            std::string_view error);
  // Writes the search entries of every document in fts_pending; returns how many.
  Result<int64_t> index_pending(int64_t step = INT64_MAX, const std::function<void()>& between = {});
  // Reads `pending` from the table (after opening, or a rolled-back batch).
  Result<void> count_pending();
  Result<void> propagate_final_url(int64_t id, std::string_view final_url);
  Result<void> apply(const PageResult& page, double now, std::vector<QueuedUrl>& queued);
  Result<void> record_fetch(const FetchRecord& f);
  Result<void> record_robots(const RobotsRecord& r);
  Result<void> record_sitemap(const SitemapRecord& r, double now, std::vector<QueuedUrl>& queued);
  Result<void> record_cookie(const CookieRecord& c);
  Result<void> seed(const DiscoveredUrl& s, double now, std::vector<QueuedUrl>& queued);

  sqlite3* db;
  Stmt begin, commit, rollback;
  Stmt host_find, host_insert;
  Stmt url_find, url_insert, url_finish, url_promote, url_seed, url_redirected, url_via;
  Stmt doc_old, doc_final, doc_put, doc_set_final;
  Stmt fts_insert, fts_delete;
  Stmt pending_add, pending_remove, pending_index, pending_last, pending_clear, pending_count;
  Stmt edge_insert;
  Stmt meta_set;
  Stmt fetch_insert, robots_insert, sitemap_insert, url_started;
  Stmt run_insert, run_end, host_delay;
  Stmt cookie_put, cookie_delete;
  int64_t pending = 0;  // rows in fts_pending
  bool defer_index = false;
  int64_t run_id = 0;  // the run the writes belong to (begin_run); 0 before it: NULL
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> hosts;
};

template <class Body>
Result<void> Store::Statements::in_transaction(Body&& body) {
  {
    Call call(begin.get());
    if (auto r = run(db, call, "begin transaction"); !r) return r;
  }
  Result<void> result = body();
  if (result) {
    Call call(commit.get());
    result = run(db, call, "commit");
  }
  if (result) return result;
  // Some errors (SQLITE_FULL, SQLITE_IOERR) end the transaction themselves.
  if (sqlite3_get_autocommit(db) == 0) {
    Call call(rollback.get());
    call.step();
  }
  // Host ids inserted by the rolled-back transaction no longer exist, and
  // pages it listed for indexing are not listed.
  hosts.clear();
  if (!count_pending()) pending = 0;
  return result;
}

}  // namespace webcrawl::storage
