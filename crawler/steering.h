// What a crawl may reach beyond scope and depth (issue 14): the --include and
// --exclude patterns, per host in the config file's [[hosts]] too, and the
// session and tracking parameters removed from every discovered URL.
//
// Immutable once made: the parse workers read it while the loop thread does.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "crawler/options.h"
#include "parser/url.h"
#include "parser/url_normalize.h"
#include "parser/url_patterns.h"

namespace webcrawl::crawler {

class Steering {
 public:
  Steering() = default;  // allows every URL, strips nothing

  // Compiles the options' patterns. A pattern RE2 rejects fails with
  // kInvalidArgument naming where it came from: "--include '(': missing ): (",
  // "hosts.exclude (match a.test) '[': missing ]: [".
  static Result<Steering> from(const CrawlOptions& options);

  // Removes the session and tracking parameters from `url`; true when some were.
  bool strip(parser::Url& url) const;

  // Why `url` (already stripped) is not to be queued: "not included",
  // "excluded"; null when the patterns allow it. A URL on a host with a
  // [[hosts]] override that gives include patterns is judged by those
  // instead of --include; its excludes apply on top of --exclude.
  const char* refuse(const parser::Url& url) const;

  bool empty() const { return hosts_.empty() && !any_patterns_; }

 private:
  struct HostPatterns {
    std::string match;  // as HostOverride::match: the host and its subdomains
    parser::UrlPatterns patterns;
  };
  parser::UrlPatterns patterns_;
  bool any_patterns_ = false;
  std::vector<HostPatterns> hosts_;  // only overrides that give patterns
  std::optional<parser::StripRules> strip_;
};

}  // namespace webcrawl::crawler
