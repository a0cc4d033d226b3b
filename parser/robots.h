// robots.txt per RFC 9309: parsing, group choice for one product token, and
// the allow/disallow decision for a request target.
//
// Pure. A RobotsTxt is immutable after construction, so one instance may be
// shared by any number of threads. Nothing here fails: malformed lines are
// skipped, as the RFC asks, and a body with no usable group allows everything.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace webcrawl::parser {

// RFC 9309 section 2.5: crawlers must parse at least the first 500 KiB. Bytes
// past this are ignored, cut back to the last complete line.
inline constexpr std::size_t kMaxRobotsBytes = 500 * 1024;
// Crawl-delay values above this (seconds) are clamped to it.
inline constexpr double kMaxCrawlDelay = 86400;

// One allow or disallow line, as written, for the audit log.
struct RobotsRule {
  bool allow = false;
  std::string pattern;  // the value as written in the file, trimmed
  int line = 0;         // 1-based line number; 0 for the rule of disallow_all()
};

struct RobotsDecision {
  bool allowed = true;
  std::optional<RobotsRule> rule;  // the rule that decided; empty: allowed by default
};

class RobotsTxt {
 public:
  // Parses `body` for the crawler whose product token is `product_token` (see
  // product_token() below). Groups naming the token (case-insensitively) apply,
  // all of them merged; failing that, all "*" groups merged; failing that,
  // nothing is disallowed.
  static RobotsTxt parse(std::string_view body, std::string_view product_token);
  // For a robots.txt answered with 4xx, or when robots handling is off.
  static RobotsTxt allow_all();
  // For a robots.txt answered with 5xx, or unreachable (RFC 9309 section 2.3.1.4).
  static RobotsTxt disallow_all();

  // Decides for a request target such as "/a/b?x=1" (path and query, no
  // fragment). The longest matching pattern wins and allow wins ties;
  // "/robots.txt" itself is always allowed.
  RobotsDecision check(std::string_view path_and_query) const;
  // The Crawl-delay of the applying group(s) in seconds, clamped to
  // [0, kMaxCrawlDelay]; the largest one when merged groups give several.
  std::optional<double> crawl_delay() const { return crawl_delay_; }
  // Every Sitemap: value in the file, in order, whatever group it sits in.
  const std::vector<std::string>& sitemaps() const { return sitemaps_; }

 private:
  struct Rule {
    RobotsRule source;
    std::string match;  // pattern with percent-encoding normalized
  };

  std::vector<Rule> rules_;  // only the rules of the applying group(s)
  std::optional<double> crawl_delay_;
  std::vector<std::string> sitemaps_;
};

// The product token of a User-Agent header value: its leading run of
// [A-Za-z_-] characters. "webcrawl/0.1 (+https://x.test/bot)" -> "webcrawl".
std::string product_token(std::string_view user_agent);

}  // namespace webcrawl::parser
