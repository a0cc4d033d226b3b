#include "parser/url_normalize.h"

#include <catch2/catch.hpp>
#include <string>

using webcrawl::parser::parse_url;
using webcrawl::parser::strip_session_params;
using webcrawl::parser::StripRules;
using webcrawl::parser::Url;

namespace {

std::string stripped(std::string_view input, const StripRules& rules = {}) {
  auto url = parse_url(input);
  REQUIRE(url);
  strip_session_params(*url, rules);
  return url->href();
}

StripRules only_params(std::vector<std::string> names) {
  StripRules rules;
  rules.query_params = std::move(names);
  return rules;
}

}  // namespace

TEST_CASE("jsessionid path parameters are removed from any segment", "[url]") {
  CHECK(stripped("http://a.test/a;jsessionid=ABC?x=1") == "http://a.test/a?x=1");
  CHECK(stripped("http://a.test/a;JSESSIONID=abc/b") == "http://a.test/a/b");
  CHECK(stripped("http://a.test/a;jsessionid=1;v=2") == "http://a.test/a;v=2");
  CHECK(stripped("http://a.test/x;v=1;jsessionid=2/y;jSessionId=3") == "http://a.test/x;v=1/y");
  CHECK(stripped("http://a.test/;jsessionid=1") == "http://a.test/");
}

TEST_CASE("other path parameters stay", "[url]") {
  CHECK(stripped("http://a.test/a;v=1") == "http://a.test/a;v=1");
  CHECK(stripped("http://a.test/a;jsessionidx=1") == "http://a.test/a;jsessionidx=1");
  CHECK(stripped("http://a.test/jsessionid=1") == "http://a.test/jsessionid=1");
}

TEST_CASE("a segment that becomes a dot segment is resolved", "[url]") {
  CHECK(stripped("http://a.test/a/..;jsessionid=1/b") == "http://a.test/b");
}

TEST_CASE("jsessionid path removal can be turned off", "[url]") {
  StripRules rules;
  rules.jsessionid_path = false;
  CHECK(stripped("http://a.test/a;jsessionid=1?sid=2", rules) == "http://a.test/a;jsessionid=1");
}

TEST_CASE("default session and tracking query parameters are removed", "[url]") {
  CHECK(stripped("http://a.test/?a=1&PHPSESSID=x&b=%20+2") == "http://a.test/?a=1&b=%20+2");
  CHECK(stripped("http://a.test/?jsessionid=1&x") == "http://a.test/?x");
  CHECK(stripped("http://a.test/p?utm_source=x&q=1&utm_medium=y&utm_campaign=z") == "http://a.test/p?q=1");
}

TEST_CASE("default names match case-insensitively, utm_ as a prefix", "[url]") {
  CHECK(stripped("http://a.test/?SID=1&phpsessid=2&Utm_Campaign=3&k") == "http://a.test/?k");
  CHECK(stripped("http://a.test/?utm=1&sidebar=2&xsid=3") == "http://a.test/?utm=1&sidebar=2&xsid=3");
}

TEST_CASE("a query left empty drops the '?'; one empty already stays", "[url]") {
  CHECK(stripped("http://a.test/a?sid=1") == "http://a.test/a");
  CHECK(stripped("http://a.test/a?sid") == "http://a.test/a");
  CHECK(stripped("http://a.test/a?&sid=1") == "http://a.test/a");
  CHECK(stripped("http://a.test/a?") == "http://a.test/a?");
}

TEST_CASE("the other parameters keep their order and encoding", "[url]") {
  CHECK(stripped("http://a.test/?z=1&sid=2&a=%7e&&m=x=y") == "http://a.test/?z=1&a=%7e&&m=x=y");
}

TEST_CASE("the names are configurable", "[url]") {
  CHECK(stripped("http://a.test/?ref=1&fbclid=2&fb=3&sid=4", only_params({"ref", "fbclid"})) ==
        "http://a.test/?fb=3&sid=4");
  CHECK(stripped("http://a.test/?fbclid=2&fb=3&gclid=4", only_params({"fb*", "", "gclid"})) == "http://a.test/");
  CHECK(stripped("http://a.test/?a=1&b=2", only_params({"*"})) == "http://a.test/");
  CHECK(stripped("http://a.test/?sid=1", only_params({})) == "http://a.test/?sid=1");
}

TEST_CASE("strip_session_params says whether it removed anything", "[url]") {
  Url url = *parse_url("http://a.test/a?x=1");
  CHECK_FALSE(strip_session_params(url));
  CHECK(url.href() == "http://a.test/a?x=1");
  url = *parse_url("http://a.test/a;jsessionid=1");
  CHECK(strip_session_params(url));
  url = *parse_url("http://a.test/a?utm_id=1");
  CHECK(strip_session_params(url));
  CHECK_FALSE(url.has_query);
}
