#include "crawler/link_policy.h"

#include <libpsl.h>

#include <mutex>

namespace webcrawl::crawler {

LinkPolicy::LinkPolicy(Scope scope, std::optional<int> max_depth, std::size_t max_url_length)
    : scope_(scope), max_depth_(max_depth), max_url_length_(max_url_length) {
  // Debian ships a current list under /usr/share/publicsuffix; psl_latest picks
  // the newer of it and the built-in copy.
  psl_ = psl_latest(nullptr);
}

LinkPolicy::~LinkPolicy() {
  if (psl_) psl_free(psl_);
}

std::string LinkPolicy::registrable_domain(const std::string& hostname) const {
  const psl_ctx_t* ctx = psl_ ? psl_ : psl_builtin();
  if (!ctx) return hostname;
  const char* d = psl_registrable_domain(ctx, hostname.c_str());
  return d ? std::string(d) : hostname;
}

bool LinkPolicy::is_public_suffix(std::string_view domain) const {
  const psl_ctx_t* ctx = psl_ ? psl_ : psl_builtin();
  if (!ctx) return false;
  // PSL_TYPE_ANY: the private section counts (a github.io page may not set
  // a cookie for every github.io site); the "*" rule stays on.
  return psl_is_public_suffix2(ctx, std::string(domain).c_str(), PSL_TYPE_ANY) != 0;
}

void LinkPolicy::add_seed_host(const std::string& hostname) {
  std::string domain = registrable_domain(hostname);
  std::unique_lock lock(mutex_);
  hosts_.insert(hostname);
  domains_.insert(domain);
}

std::vector<std::string> LinkPolicy::seed_hosts() const {
  std::shared_lock lock(mutex_);
  return {hosts_.begin(), hosts_.end()};
}

bool LinkPolicy::in_scope(const parser::Url& url) const {
  if (scope_ == Scope::kAny) return true;
  std::string host = url.hostname();
  if (scope_ == Scope::kHost) {
    std::shared_lock lock(mutex_);
    return hosts_.count(host) > 0;
  }
  std::string domain = registrable_domain(host);
  std::shared_lock lock(mutex_);
  return domains_.count(domain) > 0;
}

bool LinkPolicy::repeats_segments(std::string_view path) {
  // Paths are short; a quadratic count over at most a few dozen segments is
  // cheaper than a hash map.
  std::vector<std::string_view> segments;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    segments.push_back(path.substr(start, end - start));  // empty ones too: "//////" loops
    if (segments.size() > kMaxSegments) return true;
    start = end + 1;
  }
  for (std::size_t i = 0; i < segments.size(); i++) {
    int count = 1;
    for (std::size_t j = i + 1; j < segments.size(); j++) {
      if (segments[j] == segments[i] && ++count >= kRepeatLimit) return true;
    }
  }
  return false;
}

const char* LinkPolicy::out_of_reach(const parser::Url& url, bool patterns) const {
  if (!in_scope(url)) return "out of scope";
  return patterns ? steering_.refuse(url) : nullptr;
}

storage::DiscoveredUrl LinkPolicy::decide(parser::Url target, int from_depth, bool nofollow,
                                          const char* source) const {
  steering_.strip(target);
  storage::DiscoveredUrl d;
  d.url = target.href();
  d.origin = target.origin();
  d.depth = from_depth + 1;
  d.source = source;
  if (nofollow) {
    d.skip_reason = "nofollow";
  } else if (d.url.size() > max_url_length_) {
    d.skip_reason = "url too long";
  } else if (repeats_segments(target.path)) {
    d.skip_reason = "repeating path";
  } else if (const char* why = out_of_reach(target, true)) {
    d.skip_reason = why;
  } else if (max_depth_ && d.depth > *max_depth_) {
    d.skip_reason = "max depth";
  } else {
    d.follow = true;
  }
  return d;
}

}  // namespace webcrawl::crawler
