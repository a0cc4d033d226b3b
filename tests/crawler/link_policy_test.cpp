// Which links a crawl follows: scope, depth, nofollow.
#include <catch2/catch.hpp>

#include "crawler/link_policy.h"

using namespace webcrawl;
using crawler::LinkPolicy;
using crawler::Scope;

namespace {

parser::Url url(const char* s) { return *parser::parse_url(s); }

}  // namespace

TEST_CASE("host scope follows the seeds' host names on any scheme or port", "[scope]") {
  LinkPolicy p(Scope::kHost, std::nullopt);
  p.add_seed_host("www.example.co.uk");
  CHECK(p.in_scope(url("http://www.example.co.uk/a")));
  CHECK(p.in_scope(url("https://www.example.co.uk:8443/a")));
  CHECK_FALSE(p.in_scope(url("http://shop.example.co.uk/")));
  CHECK_FALSE(p.in_scope(url("http://example.co.uk/")));
}

TEST_CASE("domain scope follows the seeds' registrable domains per the Public Suffix List", "[scope]") {
  LinkPolicy p(Scope::kDomain, std::nullopt);
  p.add_seed_host("www.example.co.uk");
  CHECK(p.registrable_domain("www.example.co.uk") == "example.co.uk");
  CHECK(p.in_scope(url("http://shop.example.co.uk/")));
  CHECK(p.in_scope(url("http://example.co.uk/")));
  CHECK_FALSE(p.in_scope(url("http://other.co.uk/")));  // co.uk is a public suffix, not a site
  CHECK_FALSE(p.in_scope(url("http://example.com/")));
}

TEST_CASE("any scope follows everything", "[scope]") {
  LinkPolicy p(Scope::kAny, std::nullopt);
  CHECK(p.in_scope(url("http://anything.test/")));
}

TEST_CASE("a link's record says why it is not followed", "[scope]") {
  LinkPolicy p(Scope::kHost, 2);
  p.add_seed_host("a.test");
  auto in = p.decide(url("http://a.test/x"), 1, false);
  CHECK(in.follow);
  CHECK(in.depth == 2);
  CHECK(in.origin == "http://a.test");
  CHECK(p.decide(url("http://a.test/x"), 2, false).skip_reason == "max depth");
  CHECK(p.decide(url("http://b.test/x"), 0, false).skip_reason == "out of scope");
  CHECK(p.decide(url("http://a.test/x"), 0, true).skip_reason == "nofollow");
}

TEST_CASE("crawler traps are not followed: overlong URLs and repeating paths", "[scope][traps]") {
  LinkPolicy p(Scope::kAny, std::nullopt, 100);
  CHECK(p.decide(url("http://a.test/cal/2024/01/"), 0, false).follow);
  CHECK(p.decide(url(("http://a.test/" + std::string(100, 'x')).c_str()), 0, false).skip_reason == "url too long");
  CHECK(p.decide(url("http://a.test/a/b/a/b/a/b"), 0, false).skip_reason == "repeating path");
  CHECK(p.decide(url("http://a.test/x/x/x"), 0, false).skip_reason == "repeating path");
  CHECK(p.decide(url("http://a.test/a/b/a/b"), 0, false).follow);  // twice is common enough
  CHECK(LinkPolicy::repeats_segments(std::string(200, '/') + "a"));
  std::string deep;
  for (int i = 0; i < 70; i++) deep += "/s" + std::to_string(i);
  CHECK(LinkPolicy::repeats_segments(deep));
}
