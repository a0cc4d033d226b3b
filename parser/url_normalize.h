// Normalization beyond the URL Standard: removing session and tracking
// parameters, so that one page reached with different session ids or
// campaign tags is crawled and stored once.
//
// Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "parser/url.h"

namespace webcrawl::parser {

// The query parameters removed by default. A trailing '*' makes a name a
// prefix: "utm_*" matches utm_source, utm_medium, utm_campaign and the rest.
inline constexpr std::string_view kDefaultStrippedParams[] = {"PHPSESSID", "sid", "jsessionid",
                                                              "utm_*"};

struct StripRules {
  // Removes ";jsessionid=..." path parameters (Java servlet session ids) from
  // every path segment.
  bool jsessionid_path = true;
  // Query parameter names to remove, matched ASCII case-insensitively against
  // the name as written (before '=', not percent-decoded); a trailing '*'
  // makes a prefix, and empty names are ignored.
  std::vector<std::string> query_params{std::begin(kDefaultStrippedParams),
                                        std::end(kDefaultStrippedParams)};
};

// Removes what `rules` names from `url`, which must come from parse_url() or
// resolve_url(). The other parameters keep their order and exact encoding; a
// query left with no parameter loses its '?' ("/a?sid=1" becomes "/a"), while
// a query that was empty to begin with stays ("/a?"). Returns true when
// something was removed. The result is normalized as the URL parser's output
// is ("/a/..;jsessionid=1/b" becomes "/b").
bool strip_session_params(Url& url, const StripRules& rules = {});

}  // namespace webcrawl::parser
