#include "parser/robots.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

using webcrawl::parser::kMaxRobotsBytes;
using webcrawl::parser::product_token;
using webcrawl::parser::RobotsTxt;

namespace {

RobotsTxt robots(std::string_view body) { return RobotsTxt::parse(body, "webcrawl"); }

bool allowed(const RobotsTxt& r, std::string_view target) { return r.check(target).allowed; }

}  // namespace

TEST_CASE("an empty file allows everything", "[robots]") {
  auto decision = robots("").check("/any");
  CHECK(decision.allowed);
  CHECK_FALSE(decision.rule);
}

TEST_CASE("the group naming the product token applies", "[robots]") {
  auto r = robots("User-agent: otherbot\nDisallow: /\n\nUser-agent: webcrawl\nDisallow: /private\n");
  CHECK(allowed(r, "/public"));
  CHECK_FALSE(allowed(r, "/private/x"));
}

TEST_CASE("user-agent values and keys match case-insensitively", "[robots]") {
  auto r = robots("USER-AGENT: WebCrawl\nDISALLOW: /x\n");
  CHECK_FALSE(allowed(r, "/x"));
  CHECK_FALSE(allowed(RobotsTxt::parse("User-agent: webcrawl\nDisallow: /x\n", "WEBCRAWL"), "/x"));
}

TEST_CASE("a user-agent value matches by its leading token", "[robots]") {
  CHECK_FALSE(allowed(robots("User-agent: webcrawl/2.0 extra\nDisallow: /\n"), "/x"));
  CHECK(allowed(robots("User-agent: webcrawler\nDisallow: /\n"), "/x"));
}

TEST_CASE("star groups apply when no group names the token", "[robots]") {
  auto r = robots("User-agent: otherbot\nDisallow: /a\n\nUser-agent: *\nDisallow: /b\n");
  CHECK(allowed(r, "/a"));
  CHECK_FALSE(allowed(r, "/b"));
}

TEST_CASE("without a matching or star group everything is allowed", "[robots]") {
  CHECK(allowed(robots("User-agent: otherbot\nDisallow: /\n"), "/x"));
}

TEST_CASE("only the most specific group applies", "[robots]") {
  auto r = robots("User-agent: *\nDisallow: /star\n\nUser-agent: webcrawl\nDisallow: /mine\n");
  CHECK(allowed(r, "/star"));
  CHECK_FALSE(allowed(r, "/mine"));
}

TEST_CASE("a matched group without rules allows everything", "[robots]") {
  auto r = robots("User-agent: *\nDisallow: /\n\nUser-agent: webcrawl\n");
  CHECK(allowed(r, "/x"));
}

TEST_CASE("blank lines do not split a user-agent run", "[robots]") {
  auto r = robots("User-agent: webcrawl\n\nUser-agent: other\n\nDisallow: /x\n");
  CHECK_FALSE(allowed(r, "/x"));
}

TEST_CASE("groups naming the same agent are merged", "[robots]") {
  auto r = robots(
      "User-agent: webcrawl\nDisallow: /a\n\nUser-agent: other\nDisallow: /b\n\n"
      "User-agent: WEBCRAWL\nDisallow: /c\n");
  CHECK_FALSE(allowed(r, "/a"));
  CHECK(allowed(r, "/b"));
  CHECK_FALSE(allowed(r, "/c"));
}

TEST_CASE("star groups are merged too", "[robots]") {
  auto r = robots("User-agent: *\nDisallow: /a\n\nUser-agent: *\nDisallow: /b\n");
  CHECK_FALSE(allowed(r, "/a"));
  CHECK_FALSE(allowed(r, "/b"));
}

TEST_CASE("consecutive user-agent lines share one group", "[robots]") {
  auto r = robots("User-agent: otherbot\nUser-agent: webcrawl\nDisallow: /x\n");
  CHECK_FALSE(allowed(r, "/x"));
}

TEST_CASE("a user-agent line after rules starts a new group", "[robots]") {
  auto r = robots("User-agent: webcrawl\nDisallow: /x\nUser-agent: otherbot\nDisallow: /y\n");
  CHECK_FALSE(allowed(r, "/x"));
  CHECK(allowed(r, "/y"));
}

TEST_CASE("an empty disallow still closes the user-agent run", "[robots]") {
  auto r = robots("User-agent: webcrawl\nDisallow:\nUser-agent: otherbot\nDisallow: /y\n");
  CHECK(allowed(r, "/y"));
}

TEST_CASE("other records do not split a group", "[robots]") {
  auto r = robots(
      "User-agent: otherbot\nCrawl-delay: 3\nHost: x.test\nUser-agent: webcrawl\n"
      "Sitemap: http://x.test/s.xml\nDisallow: /x\n");
  CHECK_FALSE(allowed(r, "/x"));
}

TEST_CASE("rules before any user-agent line are ignored", "[robots]") {
  CHECK(allowed(robots("Disallow: /\nUser-agent: *\nDisallow: /other\n"), "/x"));
}

TEST_CASE("the longest matching pattern wins", "[robots]") {
  auto r = robots("User-agent: *\nDisallow: /a\nAllow: /a/b\nDisallow: /a/b/c\n");
  CHECK_FALSE(allowed(r, "/a/x"));
  CHECK(allowed(r, "/a/b/x"));
  CHECK_FALSE(allowed(r, "/a/b/c/x"));
}

TEST_CASE("allow wins a tie in pattern length", "[robots]") {
  auto r = robots("User-agent: *\nDisallow: /page\nAllow: /page\n");
  CHECK(allowed(r, "/page"));
  CHECK(allowed(robots("User-agent: *\nDisallow: /a*\nAllow: /a$\n"), "/a"));
}

TEST_CASE("the deciding rule is reported with its line", "[robots]") {
  auto decision = robots("# header\nUser-agent: *\nAllow: /a\nDisallow: /a/b\n").check("/a/b/c");
  CHECK_FALSE(decision.allowed);
  REQUIRE(decision.rule);
  CHECK_FALSE(decision.rule->allow);
  CHECK(decision.rule->pattern == "/a/b");
  CHECK(decision.rule->line == 4);
}

TEST_CASE("a star matches any sequence", "[robots]") {
  auto r = robots("User-agent: *\nDisallow: /*.pdf\nDisallow: /x*y/z\n");
  CHECK_FALSE(allowed(r, "/docs/a.pdf"));
  CHECK_FALSE(allowed(r, "/a.pdf?download=1"));
  CHECK_FALSE(allowed(r, "/x123y/z"));
  CHECK(allowed(r, "/docs/a.html"));
}

TEST_CASE("a dollar anchors the end of the target", "[robots]") {
  auto r = robots("User-agent: *\nDisallow: /*.php$\nDisallow: /exact$\n");
  CHECK_FALSE(allowed(r, "/index.php"));
  CHECK(allowed(r, "/index.php?x=1"));
  CHECK(allowed(r, "/index.php5"));
  CHECK_FALSE(allowed(r, "/exact"));
  CHECK(allowed(r, "/exactly"));
}

TEST_CASE("a dollar inside a pattern is literal", "[robots]") {
  auto r = robots("User-agent: *\nDisallow: /a$b\n");
  CHECK_FALSE(allowed(r, "/a$b"));
  CHECK(allowed(r, "/a"));
}

TEST_CASE("patterns match the query too", "[robots]") {
  auto r = robots("User-agent: *\nDisallow: /search?q=\n");
  CHECK_FALSE(allowed(r, "/search?q=cats"));
  CHECK(allowed(r, "/search"));
}

TEST_CASE("an empty disallow disallows nothing", "[robots]") {
  auto decision = robots("User-agent: *\nDisallow:\n").check("/x");
  CHECK(decision.allowed);
  CHECK_FALSE(decision.rule);
}

TEST_CASE("percent-encoded unreserved characters equal their plain form", "[robots]") {
  CHECK_FALSE(allowed(robots("User-agent: *\nDisallow: /%7Ea\n"), "/~a"));
  CHECK_FALSE(allowed(robots("User-agent: *\nDisallow: /~a\n"), "/%7ea"));
  CHECK_FALSE(allowed(robots("User-agent: *\nDisallow: /foo/%62%61%7A\n"), "/foo/baz"));
}

TEST_CASE("percent-encoded reserved characters stay distinct", "[robots]") {
  CHECK(allowed(robots("User-agent: *\nDisallow: /a%2fb\n"), "/a/b"));
  CHECK(allowed(robots("User-agent: *\nDisallow: /a/b\n"), "/a%2Fb"));
  CHECK_FALSE(allowed(robots("User-agent: *\nDisallow: /a%2fb\n"), "/a%2Fb"));
}

TEST_CASE("non-ASCII patterns match their UTF-8 percent-encoding", "[robots]") {
  CHECK_FALSE(allowed(robots("User-agent: *\nDisallow: /foo/jalape\xC3\xB1o\n"),
                      "/foo/jalape%C3%B1o"));
  CHECK_FALSE(allowed(robots("User-agent: *\nDisallow: /foo/jalape%c3%b1o\n"),
                      "/foo/jalape%C3%B1o"));
}

TEST_CASE("an encoded star in a pattern matches a literal star", "[robots]") {
  auto r = robots("User-agent: *\nDisallow: /file-with-a-%2A.html\n");
  CHECK_FALSE(allowed(r, "/file-with-a-*.html"));
  CHECK(allowed(r, "/file-with-a-x.html"));
}

TEST_CASE("/robots.txt is always allowed", "[robots]") {
  CHECK(allowed(robots("User-agent: *\nDisallow: /\n"), "/robots.txt"));
  CHECK(allowed(RobotsTxt::disallow_all(), "/robots.txt"));
}

TEST_CASE("disallow_all blocks everything else with a synthetic rule", "[robots]") {
  auto decision = RobotsTxt::disallow_all().check("/x");
  CHECK_FALSE(decision.allowed);
  REQUIRE(decision.rule);
  CHECK(decision.rule->line == 0);
}

TEST_CASE("allow_all allows everything", "[robots]") {
  CHECK(allowed(RobotsTxt::allow_all(), "/x"));
  CHECK_FALSE(RobotsTxt::allow_all().crawl_delay());
}

TEST_CASE("bytes past 500 KiB are ignored", "[robots]") {
  std::string body = "User-agent: *\nDisallow: /early\n#";
  body.resize(kMaxRobotsBytes - 11, '#');
  body += "\nDisallow: /cut-in-half\nDisallow: /late\n";  // straddles the limit
  auto r = robots(body);
  CHECK_FALSE(allowed(r, "/early"));
  CHECK(allowed(r, "/cut-in-half"));
  CHECK(allowed(r, "/late"));
}

TEST_CASE("a line ending exactly at 500 KiB is kept", "[robots]") {
  std::string body = "User-agent: *\n";
  std::string rule = "Disallow: /last\n";
  body.resize(kMaxRobotsBytes - rule.size() - 1, '#');
  body += "\n" + rule;
  body += "Disallow: /late\n";
  auto r = robots(body);
  CHECK_FALSE(allowed(r, "/last"));
  CHECK(allowed(r, "/late"));
}

TEST_CASE("crawl-delay comes from the applying group", "[robots]") {
  auto r = robots(
      "User-agent: *\nDisallow: /a\nCrawl-delay: 9\n\n"
      "User-agent: webcrawl\nDisallow: /b\nCrawl-delay: 2.5\n");
  REQUIRE(r.crawl_delay());
  CHECK(*r.crawl_delay() == 2.5);
  CHECK_FALSE(robots("User-agent: other\nCrawl-delay: 5\n").crawl_delay());
}

TEST_CASE("crawl-delay ignores bad values and caps large ones", "[robots]") {
  CHECK_FALSE(robots("User-agent: *\nCrawl-delay: -1\n").crawl_delay());
  CHECK_FALSE(robots("User-agent: *\nCrawl-delay: soon\n").crawl_delay());
  CHECK_FALSE(robots("User-agent: *\nCrawl-delay: 1e3\n").crawl_delay());
  CHECK(robots("User-agent: *\nCrawl-delay: 99999999\n").crawl_delay() == 86400.0);
  CHECK(robots("User-agent: *\nCrawl-delay: " + std::string(400, '9') + "\n").crawl_delay() ==
        86400.0);
}

TEST_CASE("sitemaps are collected from any position", "[robots]") {
  auto r = robots(
      "Sitemap: http://x.test/a.xml\nUser-agent: other\nSitemap: http://x.test/b.xml\n"
      "Disallow: /\nsitemap:http://x.test/c.xml\n");
  CHECK(r.sitemaps() ==
        std::vector<std::string>{"http://x.test/a.xml", "http://x.test/b.xml", "http://x.test/c.xml"});
}

TEST_CASE("comments and surrounding whitespace are ignored", "[robots]") {
  auto r = robots(
      "# leading comment\n  User-agent :  webcrawl   # us\n\tDisallow:\t/x  # not /x#y\n"
      "Allow: /x/y#z\n");
  CHECK_FALSE(allowed(r, "/x"));
  CHECK(allowed(r, "/x/y"));
}

TEST_CASE("lines without a colon are ignored", "[robots]") {
  auto r = robots("User-agent: *\nDisallow /a\n<html>\nDisallow: /b\n");
  CHECK(allowed(r, "/a"));
  CHECK_FALSE(allowed(r, "/b"));
}

TEST_CASE("a BOM and CR or CRLF line endings are accepted", "[robots]") {
  CHECK_FALSE(allowed(robots("\xEF\xBB\xBFUser-agent: *\r\nDisallow: /a\r\n"), "/a"));
  CHECK_FALSE(allowed(robots("User-agent: *\rDisallow: /a\r"), "/a"));
  auto decision = robots("User-agent: *\r\n\r\nDisallow: /a\r\n").check("/a");
  REQUIRE(decision.rule);
  CHECK(decision.rule->line == 3);
}

TEST_CASE("a pathological pattern is matched quickly", "[robots]") {
  std::string pattern = "/";
  for (int i = 0; i < 200; ++i) pattern += "*a";
  auto r = robots("User-agent: *\nDisallow: " + pattern + "*b\nDisallow: /*aaaaaaaaaaaaaaaaaaaab$\n");
  std::string target = "/" + std::string(20000, 'a');
  auto start = std::chrono::steady_clock::now();
  CHECK(allowed(r, target));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

TEST_CASE("product_token takes the name before the version", "[robots]") {
  CHECK(product_token("webcrawl/0.1 (+https://x.test/bot)") == "webcrawl");
  CHECK(product_token("  Web_Crawl-Bot/2") == "Web_Crawl-Bot");
  CHECK(product_token("/1.0").empty());
}

TEST_CASE("a full user agent can be given as the token", "[robots]") {
  auto r = RobotsTxt::parse("User-agent: webcrawl\nDisallow: /x\n", "webcrawl/0.1 (x)");
  CHECK_FALSE(allowed(r, "/x"));
}
