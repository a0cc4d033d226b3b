// Indexing directives a page gives about itself: the X-Robots-Tag response
// header and the content of <meta name="robots">. Only the two that steer a
// crawl are kept, noindex and nofollow; "none" means both. Every other
// directive (noarchive, nosnippet, max-snippet: 20, unavailable_after: date)
// is ignored. Tokens are ASCII case-insensitive. When several sources give
// directives, the most restrictive wins: nothing here turns one off.
//
// Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace webcrawl::parser {

struct RobotsDirectives {
  bool noindex = false;   // do not store the page's text
  bool nofollow = false;  // do not follow the page's links

  RobotsDirectives& operator|=(const RobotsDirectives& other) {
    noindex = noindex || other.noindex;
    nofollow = nofollow || other.nofollow;
    return *this;
  }
};

// A directive list with no user-agent prefixes, as in a meta robots content
// attribute: tokens separated by commas or white space ("noindex, nofollow",
// "noindex nofollow").
RobotsDirectives parse_robots_directives(std::string_view list);

// One X-Robots-Tag header value. "noindex, nofollow" applies to every
// crawler; "<ua>: noindex, nofollow" applies only when <ua> names the crawler
// whose product token is `product_token` (see product_token() in robots.h;
// "Googlebot" matches "googlebot"), and a later "<other>: ..." in the same
// value starts another crawler's part. Valued directives are recognized by
// name, so the commas and colons of "unavailable_after: Fri, 01 Jan 2038
// 00:00:00 GMT" start no user-agent part.
RobotsDirectives parse_x_robots_tag(std::string_view value, std::string_view product_token);

// Folds several X-Robots-Tag headers, one element per header line as
// received: a user-agent prefix in one line does not reach into the next,
// which is why the lines must not be joined with commas first.
RobotsDirectives parse_x_robots_tag(const std::vector<std::string>& values,
                                    std::string_view product_token);

}  // namespace webcrawl::parser
