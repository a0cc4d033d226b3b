// Which discovered URLs a crawl follows: scope (host, registrable domain, or
// any), depth, and nofollow. Decisions come back as storage::DiscoveredUrl so
// the store can record why a URL was not followed.
//
// Thread-safe: the parse workers ask while the loop thread adds seed hosts.
#pragma once

#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/options.h"
#include "crawler/steering.h"
#include "parser/url.h"
#include "storage/store.h"

typedef struct psl_ctx_st psl_ctx_t;

namespace webcrawl::crawler {

class LinkPolicy {
 public:
  LinkPolicy(Scope scope, std::optional<int> max_depth, std::size_t max_url_length = 2048);
  ~LinkPolicy();
  LinkPolicy(const LinkPolicy&) = delete;
  LinkPolicy& operator=(const LinkPolicy&) = delete;

  // Seeds (and the targets of seeds' redirects) define the scope. Host scope
  // compares host names, so http and https, or another port, of a seed host are
  // in scope too.
  void add_seed_host(const std::string& hostname);
  std::vector<std::string> seed_hosts() const;

  bool in_scope(const parser::Url& url) const;

  // The include/exclude patterns and the parameters to strip; set before
  // the crawl starts, never while workers read.
  void set_steering(Steering steering) { steering_ = std::move(steering); }
  const Steering& steering() const { return steering_; }

  // Why `url` (its parameters already stripped) may not be queued whatever
  // its depth: "out of scope", or, when `patterns`, what the include and
  // exclude patterns say; null when it may.
  const char* out_of_reach(const parser::Url& url, bool patterns) const;

  // The record for a URL found at `from_depth` (a link, a sitemap entry, a
  // canonical URL), its session parameters stripped: followed when in scope,
  // allowed by the patterns, within max depth, not nofollow and not a crawler
  // trap (longer than the maximum URL length, or a path that repeats a
  // segment: /a/b/a/b/a/b); otherwise with the reason why not.
  storage::DiscoveredUrl decide(parser::Url target, int from_depth, bool nofollow,
                                const char* source = "link") const;

  // The registrable domain (eTLD+1) of a host name per the Public Suffix List;
  // the host itself for IP literals and names with no registrable part.
  std::string registrable_domain(const std::string& hostname) const;
  // Whether `domain` is a public suffix ("com", "co.uk", "github.io"), for the
  // cookie jar. A name whose top label the list does not know ("localhost",
  // "test") is one too, as in browsers: "a.test" may not set a cookie for
  // every "*.test".
  bool is_public_suffix(std::string_view domain) const;

  // A path that names one segment kRepeatLimit times or more is a trap
  // (calendars, relative links that nest forever).
  static constexpr int kRepeatLimit = 3;
  static constexpr std::size_t kMaxSegments = 64;  // deeper paths count as traps too
  static bool repeats_segments(std::string_view path);

 private:
  Scope scope_;
  std::optional<int> max_depth_;
  std::size_t max_url_length_;
  Steering steering_;
  psl_ctx_t* psl_ = nullptr;
  mutable std::shared_mutex mutex_;
  std::set<std::string> hosts_;    // seed host names
  std::set<std::string> domains_;  // their registrable domains
};

}  // namespace webcrawl::crawler
