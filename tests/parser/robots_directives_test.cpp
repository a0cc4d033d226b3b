#include "parser/robots_directives.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using webcrawl::parser::parse_robots_directives;
using webcrawl::parser::parse_x_robots_tag;
using webcrawl::parser::RobotsDirectives;

namespace {

// "noindex", "nofollow", "both" or "neither", so a failed check prints the decision.
std::string decided(const RobotsDirectives& d) {
  if (d.noindex && d.nofollow) return "both";
  if (d.noindex) return "noindex";
  if (d.nofollow) return "nofollow";
  return "neither";
}

std::string header(std::string_view value) { return decided(parse_x_robots_tag(value, "webcrawl")); }

std::string headers(const std::vector<std::string>& values) {
  return decided(parse_x_robots_tag(values, "webcrawl"));
}

std::string meta(std::string_view content) { return decided(parse_robots_directives(content)); }

}  // namespace

TEST_CASE("noindex, nofollow and none, in any case", "[robots_directives]") {
  CHECK(header("noindex") == "noindex");
  CHECK(header("nofollow") == "nofollow");
  CHECK(header("none") == "both");
  CHECK(header("NoIndex") == "noindex");
  CHECK(header("NONE") == "both");
  CHECK(header("all") == "neither");
  CHECK(header("") == "neither");
}

TEST_CASE("comma lists, with or without spaces, and stray commas", "[robots_directives]") {
  CHECK(header("noindex, nofollow") == "both");
  CHECK(header("noindex,nofollow") == "both");
  CHECK(header(" , noindex ,, ") == "noindex");
  CHECK(header("noindex nofollow") == "both");
}

TEST_CASE("several headers combine, the most restrictive winning", "[robots_directives]") {
  CHECK(headers({"noindex", "nofollow"}) == "both");
  CHECK(headers({"noindex", "all", "index, follow"}) == "noindex");
  CHECK(headers({}) == "neither");
}

TEST_CASE("a user-agent part applies only to the crawler it names", "[robots_directives]") {
  CHECK(header("webcrawl: noindex") == "noindex");
  CHECK(header("WebCrawl: nofollow") == "nofollow");
  CHECK(header("otherbot: noindex") == "neither");
  CHECK(header("otherbot: noindex, nofollow") == "neither");
  CHECK(header("otherbot: noindex, webcrawl: nofollow") == "nofollow");
  CHECK(header("nofollow, otherbot: noindex") == "nofollow");
  CHECK(header("webcrawl/2.0: none") == "both");
  CHECK(header("webcrawler: none") == "neither");
  CHECK(decided(parse_x_robots_tag("Googlebot: noindex", "googlebot")) == "noindex");
}

TEST_CASE("a user-agent part ends with its header line", "[robots_directives]") {
  CHECK(headers({"otherbot: noindex", "nofollow"}) == "nofollow");
  CHECK(headers({"webcrawl: noindex", "otherbot: nofollow"}) == "noindex");
}

TEST_CASE("unknown and valued directives are ignored", "[robots_directives]") {
  CHECK(header("noarchive, nosnippet, notranslate, noimageindex, indexifembedded") == "neither");
  CHECK(header("max-snippet: -1, max-video-preview: 0") == "neither");
  CHECK(header("max-image-preview: none") == "neither");
  CHECK(header("webcrawl: max-image-preview: none") == "neither");
  CHECK(header("max-image-preview:large, noindex") == "noindex");
}

TEST_CASE("unavailable_after's commas and colons start no user-agent part", "[robots_directives]") {
  CHECK(header("unavailable_after: Fri, 01 Jan 2038 00:00:00 GMT") == "neither");
  CHECK(header("unavailable_after: Fri, 01 Jan 2038 00:00:00 GMT, noindex") == "noindex");
  CHECK(header("unavailable_after: 25 Jun 2010 15:00:00 PST, nofollow") == "nofollow");
  CHECK(header("webcrawl: unavailable_after: Fri, 01 Jan 2038 00:00:00 GMT, noindex") == "noindex");
  // The date's "01 Jan 2038 00:00:00 GMT" does not end otherbot's part.
  CHECK(header("otherbot: unavailable_after: Fri, 01 Jan 2038 00:00:00 GMT, noindex") == "neither");
  CHECK(header("unavailable_after: Friday, 01-Jan-38 00:00:00 GMT, none") == "both");
}

TEST_CASE("meta robots content: tokens split on commas and white space", "[robots_directives]") {
  CHECK(meta("noindex") == "noindex");
  CHECK(meta("NOFOLLOW") == "nofollow");
  CHECK(meta("none") == "both");
  CHECK(meta("noindex,\tnofollow") == "both");
  CHECK(meta("noindex\nnofollow") == "both");
  CHECK(meta("index, follow, noarchive") == "neither");
  CHECK(meta("max-image-preview: none") == "neither");
  CHECK(meta("nonoindex, noindexx") == "neither");
}

TEST_CASE("meta robots content has no user-agent parts", "[robots_directives]") {
  // <meta name="otherbot"> is how a page addresses one crawler; in the content
  // a "name:" is no prefix, and the directive after it still counts.
  CHECK(meta("otherbot: noindex") == "noindex");
}
