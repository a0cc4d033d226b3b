#include "crawler/steering.h"

#include "crawler/config.h"
#include "parser/ascii.h"

namespace webcrawl::crawler {
namespace {

Result<parser::PatternList> compile(const std::vector<std::string>& patterns, const std::string& who) {
  auto list = parser::PatternList::compile(patterns);
  if (!list) return Error{Code::kInvalidArgument, who + " " + list.error().message};
  return list;
}

}  // namespace

Result<Steering> Steering::from(const CrawlOptions& o) {
  Steering s;
  auto includes = compile(o.include, "--include");
  if (!includes) return includes.error();
  auto excludes = compile(o.exclude, "--exclude");
  if (!excludes) return excludes.error();
  s.any_patterns_ = !o.include.empty() || !o.exclude.empty();
  s.patterns_ = parser::UrlPatterns(*includes, *excludes);
  for (const HostOverride& h : o.host_overrides) {
    if (h.include.empty() && h.exclude.empty()) continue;
    const std::string where = " (match " + h.match + ")";
    auto host_includes = h.include.empty() ? includes : compile(h.include, "hosts.include" + where);
    if (!host_includes) return host_includes.error();
    std::vector<std::string> all_excludes = o.exclude;
    all_excludes.insert(all_excludes.end(), h.exclude.begin(), h.exclude.end());
    auto host_excludes = compile(all_excludes, "hosts.exclude" + where);
    if (!host_excludes) return host_excludes.error();
    s.hosts_.push_back(HostPatterns{h.match, parser::UrlPatterns(*host_includes, *host_excludes)});
  }
  parser::StripRules rules;
  rules.query_params.clear();
  rules.jsessionid_path = false;
  for (const std::string& name : o.strip_params) {
    if (name.empty()) continue;
    if (parser::iequals(name, "jsessionid")) rules.jsessionid_path = true;
    rules.query_params.push_back(name);
  }
  if (rules.jsessionid_path || !rules.query_params.empty()) s.strip_ = std::move(rules);
  return s;
}

bool Steering::strip(parser::Url& url) const { return strip_ && parser::strip_session_params(url, *strip_); }

const char* Steering::refuse(const parser::Url& url) const {
  if (empty()) return nullptr;
  const parser::UrlPatterns* patterns = &patterns_;
  if (!hosts_.empty()) {
    // The longest match wins, as for the other [[hosts]] settings.
    std::string hostname = url.hostname();
    std::size_t best = 0;
    for (const HostPatterns& h : hosts_) {
      if (h.match.size() >= best && host_matches(hostname, h.match)) {
        best = h.match.size();
        patterns = &h.patterns;
      }
    }
  }
  switch (patterns->check(url.href())) {
    case parser::PatternDecision::kAllowed: return nullptr;
    case parser::PatternDecision::kNotIncluded: return "not included";
    case parser::PatternDecision::kExcluded: return "excluded";
  }
  return nullptr;
}

}  // namespace webcrawl::crawler
