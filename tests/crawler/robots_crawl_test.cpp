// robots.txt as the crawler obeys it (the parser's rules are in tests/parser).
#include <catch2/catch.hpp>

#include "tests/crawler/crawl_support.h"
#include "tests/support/test_server.h"

using namespace webcrawl;
using namespace webcrawl::testing;

namespace {

void serve_site(TestServer& s, std::string robots_body, int robots_status = 200) {
  s.on("/robots.txt", [robots_body, robots_status](const Request&, Response& r) {
    r.status = robots_status;
    r.text(robots_body);
  });
  s.on("/", [](const Request&, Response& r) {
    r.html("<a href='/open'>open</a><a href='/private/x'>private</a><a href='/private/ok'>ok</a>");
  });
  for (const char* p : {"/open", "/private/x", "/private/ok"}) {
    s.on(p, [](const Request&, Response& r) { r.html("<title>page</title>"); });
  }
}

crawler::CrawlOptions polite(const std::string& db, const std::string& seed) {
  auto o = test_options(db, {seed});
  o.robots = true;
  o.user_agent = "webcrawl-test/1.0";
  return o;
}

}  // namespace

TEST_CASE("robots.txt is fetched once, first, and disallowed URLs are recorded, never requested", "[robots]") {
  TestServer server;
  serve_site(server, "User-agent: *\nDisallow: /private/\nAllow: /private/ok\n");
  TempDir dir;
  std::string db = dir.file("crawl.db");
  crawl_ok(polite(db, server.url("/")));

  auto reqs = server.requests();
  REQUIRE(!reqs.empty());
  CHECK(reqs[0].path == "/robots.txt");
  CHECK(server.request_count("/robots.txt") == 1);
  CHECK(server.request_count("/private/x") == 0);
  CHECK(server.request_count("/private/ok") == 1);
  CHECK(server.request_count("/open") == 1);
  CHECK(scalar(db, "SELECT error FROM pages WHERE url = '" + server.url("/private/x") + "'") == "robots");
  CHECK(scalar(db, "SELECT state FROM urls WHERE url = '" + server.url("/private/x") + "'") == "skipped");
}

TEST_CASE("the group for our product token wins over *", "[robots]") {
  TestServer server;
  serve_site(server, "User-agent: *\nDisallow: /\n\nUser-agent: WEBCRAWL-TEST\nDisallow: /open\n");
  TempDir dir;
  crawl_ok(polite(dir.file("crawl.db"), server.url("/")));
  CHECK(server.request_count("/") == 1);
  CHECK(server.request_count("/open") == 0);
  CHECK(server.request_count("/private/x") == 1);
}

TEST_CASE("a robots.txt 404 allows everything", "[robots]") {
  TestServer server;
  serve_site(server, "Disallow: /", 404);
  TempDir dir;
  crawl_ok(polite(dir.file("crawl.db"), server.url("/")));
  CHECK(server.request_count("/private/x") == 1);
}

TEST_CASE("a robots.txt 5xx disallows the whole host", "[robots]") {
  TestServer server;
  serve_site(server, "", 503);
  TempDir dir;
  std::string db = dir.file("crawl.db");
  crawl_ok(polite(db, server.url("/")));
  CHECK(server.request_count("/") == 0);
  CHECK(scalar(db, "SELECT error FROM pages WHERE url = '" + server.url("/") + "'") ==
        "robots: robots.txt unavailable: HTTP 503");
}

TEST_CASE("Crawl-delay lengthens the host's delay", "[robots][politeness]") {
  TestServer server;
  serve_site(server, "User-agent: *\nCrawl-delay: 0.3\n");
  TempDir dir;
  crawl_ok(polite(dir.file("crawl.db"), server.url("/")));
  auto gaps = start_gaps(server);
  REQUIRE(gaps.size() == 4);  // robots.txt and four pages
  // The first gap follows robots.txt, before its Crawl-delay is known.
  for (std::size_t i = 1; i < gaps.size(); i++) CHECK(gaps[i] >= 0.3);
}

TEST_CASE("robots.txt redirects are followed", "[robots]") {
  TestServer server;
  serve_site(server, "");
  server.on("/robots.txt", [](const Request&, Response& r) { r.redirect(301, "/real-robots.txt"); });
  server.on("/real-robots.txt", [](const Request&, Response& r) { r.text("User-agent: *\nDisallow: /open\n"); });
  TempDir dir;
  crawl_ok(polite(dir.file("crawl.db"), server.url("/")));
  CHECK(server.request_count("/real-robots.txt") == 1);
  CHECK(server.request_count("/open") == 0);
}

TEST_CASE("with robots off, robots.txt is neither fetched nor obeyed", "[robots]") {
  TestServer server;
  serve_site(server, "User-agent: *\nDisallow: /\n");
  TempDir dir;
  auto o = polite(dir.file("crawl.db"), server.url("/"));
  o.robots = false;
  crawl_ok(o);
  CHECK(server.request_count("/robots.txt") == 0);
  CHECK(server.request_count("/private/x") == 1);
}

TEST_CASE("every request attempt is in fetches, every robots.txt body in robots", "[robots][audit]") {
  TestServer server;
  const std::string robots = "User-agent: *\nDisallow: /private/\nAllow: /private/ok\nSitemap: /map.xml\n";
  serve_site(server, robots);
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = polite(db, server.url("/"));
  o.delay = 0.05;
  crawl_ok(o);

  CHECK(scalar(db, "SELECT COUNT(*) FROM fetches") == std::to_string(server.requests().size()));
  CHECK(scalar(db, "SELECT COUNT(*) FROM fetches WHERE kind = 'robots'") == "1");
  CHECK(scalar(db, "SELECT robots_rule FROM fetches WHERE url = '" + server.url("/private/ok") + "'") ==
        "allow /private/ok (line 3)");
  CHECK(scalar(db, "SELECT robots_rule FROM fetches WHERE url = '" + server.url("/open") + "'") ==
        "no matching rule");
  CHECK(scalar(db, "SELECT COUNT(*) FROM fetches WHERE address = '127.0.0.1' AND status = 200") == "4");
  // The Sitemap: line is read too (a 404 here), through the same connection.
  CHECK(scalar(db, "SELECT COUNT(*) FROM fetches WHERE kind = 'sitemap' AND status = 404") == "1");
  CHECK(scalar(db, "SELECT SUM(reused) FROM fetches") == "4");  // one connection for all five requests
  CHECK(scalar(db, "SELECT COUNT(*) FROM fetches WHERE wait_reason = 'host delay' AND waited > 0") != "0");
  // The politeness check, from the recorded starts.
  CHECK(std::stod(scalar(db, "SELECT MIN(gap) FROM (SELECT started_unix - LAG(started_unix) OVER "
                             "(ORDER BY started_unix) AS gap FROM fetches)")) >= 0.05);

  CHECK(scalar(db, "SELECT body FROM robots") == robots);
  CHECK(scalar(db, "SELECT status FROM robots") == "200");
  CHECK(scalar(db, "SELECT sitemaps FROM robots") == "/map.xml");

  auto stats = run_webcrawl({"stats", "--db", db});
  CHECK(stats.status == 0);
  CHECK(stats.out.find("smallest gap between request starts") != std::string::npos);
}
