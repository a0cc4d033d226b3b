// --cookies: a server that sets a cookie on / and requires it on /members,
// the jar kept in the database so that a resumed crawl keeps its session,
// and the cookies the jar refuses (public suffixes, Secure over http).
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <thread>

#include "crawler/link_policy.h"
#include "parser/cookies.h"
#include "tests/crawler/crawl_support.h"
#include "tests/support/test_server.h"

using namespace webcrawl;
using namespace webcrawl::testing;
using namespace std::chrono_literals;

namespace {

// "/" sets the session and links to /members, which answers 200 only to a
// request that carries it (403 otherwise); /members2 likewise, for a second run.
void serve_members(TestServer& s) {
  s.on("/", [](const Request&, Response& r) {
    r.add_header("Set-Cookie", "session=abc; Path=/");
    r.html("<title>home</title><a href='/members'>members</a>");
  });
  for (const char* path : {"/members", "/members2"}) {
    s.on(path, [](const Request& q, Response& r) {
      if (q.header("cookie") != "session=abc") {
        r.status = 403;
        return r.html("<title>log in first</title>"), void();
      }
      r.html("<title>members</title>");
    });
  }
}

crawler::CrawlOptions with_cookies(const std::string& db, std::vector<std::string> seeds) {
  crawler::CrawlOptions o = test_options(db, std::move(seeds));
  o.cookies = true;
  return o;
}

std::string status_of(const std::string& db, const std::string& url) {
  return scalar(db, "SELECT ifnull(status, '-') FROM pages WHERE url = '" + url + "'");
}

// The Cookie header of every request for `path`, in order.
std::vector<std::string> cookies_sent(const TestServer& s, const std::string& path) {
  std::vector<std::string> out;
  for (const auto& req : s.requests()) {
    if (req.path == path) out.push_back(req.header("cookie"));
  }
  return out;
}

bool is_public_suffix(std::string_view domain) {
  static const crawler::LinkPolicy policy(crawler::Scope::kHost, std::nullopt);
  return policy.is_public_suffix(domain);
}

}  // namespace

TEST_CASE("with --cookies the session set on / opens /members", "[cookies]") {
  TestServer server;
  serve_members(server);
  TempDir dir;
  std::string db = dir.file("c.db");
  crawl_ok(with_cookies(db, {server.url("/")}));
  CHECK(status_of(db, server.url("/members")) == "200");
  CHECK(cookies_sent(server, "/") == std::vector<std::string>{""});
  CHECK(cookies_sent(server, "/members") == std::vector<std::string>{"session=abc"});
  // A session cookie is kept too (no expiry): a resumed crawl keeps its session.
  CHECK(rows(db, "SELECT domain, path, name, value, ifnull(expires, '-'), secure, http_only, host_only FROM cookies") ==
        std::vector<std::vector<std::string>>{{"127.0.0.1", "/", "session", "abc", "-", "0", "0", "1"}});
}

TEST_CASE("without --cookies no Cookie header is sent and /members stays closed", "[cookies]") {
  TestServer server;
  serve_members(server);
  TempDir dir;
  std::string db = dir.file("c.db");
  crawl_ok(test_options(db, {server.url("/")}));
  CHECK(status_of(db, server.url("/members")) == "403");
  for (const auto& req : server.requests()) CHECK(req.header("cookie").empty());
  CHECK(scalar(db, "SELECT count(*) FROM cookies") == "0");
}

TEST_CASE("a second run on the same database sends the session without visiting / again", "[cookies]") {
  TestServer server;
  serve_members(server);
  TempDir dir;
  std::string db = dir.file("c.db");
  crawl_ok(with_cookies(db, {server.url("/")}));
  crawl_ok(with_cookies(db, {server.url("/members2")}));
  CHECK(server.request_count("/") == 1);
  CHECK(cookies_sent(server, "/members2") == std::vector<std::string>{"session=abc"});
  CHECK(status_of(db, server.url("/members2")) == "200");
}

TEST_CASE("after SIGKILL the resumed crawl still has the session", "[cookies][durability]") {
  TestServer server;
  serve_members(server);
  // /slow is found on / and stalls the first time, so the crawl is killed
  // while it runs, after / (and its cookie) committed.
  server.on("/", [](const Request&, Response& r) {
    r.add_header("Set-Cookie", "session=abc; Path=/");
    r.html("<a href='/slow'>slow</a>");
  });
  std::atomic<int> slow_calls{0};
  server.on_raw("/slow", [&](int, const Request&) {
    if (slow_calls++ == 0) server.wait_unless_stopped(30s);
  });
  TempDir dir;
  std::string db = dir.file("c.db");
  {
    Background crawl({"crawl", "--db", db, "--delay", "0", "--no-robots", "--quiet", "--cookies", server.url("/")},
                     dir.file("log.txt"));
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (server.request_count("/slow") == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    REQUIRE(server.request_count("/slow") == 1);
    crawl.signal(SIGKILL);
    CHECK(crawl.wait(30) == 128 + SIGKILL);
  }
  server.on("/slow", [](const Request&, Response& r) { r.html("<p>now</p>"); });
  auto r = run_webcrawl({"crawl", "--db", db, "--delay", "0", "--no-robots", "--quiet", "--cookies",
                         server.url("/members2")});
  REQUIRE(r.status == 0);
  CHECK(server.request_count("/") == 1);
  CHECK(cookies_sent(server, "/members2") == std::vector<std::string>{"session=abc"});
  CHECK(cookies_sent(server, "/slow").back() == "session=abc");
}

TEST_CASE("a cookie set by a redirect reaches the redirect's target", "[cookies]") {
  TestServer server;
  serve_members(server);
  server.on("/login", [](const Request&, Response& r) {
    r.add_header("Set-Cookie", "session=abc; Path=/");
    r.redirect(302, "/members");
  });
  TempDir dir;
  std::string db = dir.file("c.db");
  crawl_ok(with_cookies(db, {server.url("/login")}));
  CHECK(cookies_sent(server, "/members") == std::vector<std::string>{"session=abc"});
  CHECK(status_of(db, server.url("/members")) == "200");
}

TEST_CASE("robots.txt gets the jar's cookies and may set some", "[cookies]") {
  TestServer server;
  serve_members(server);
  server.on("/robots.txt", [](const Request&, Response& r) {
    r.add_header("Set-Cookie", "session=abc; Path=/");
    r.text("User-agent: *\nAllow: /\n");
  });
  TempDir dir;
  std::string db = dir.file("c.db");
  crawler::CrawlOptions o = with_cookies(db, {server.url("/members")});
  o.robots = true;
  crawl_ok(o);
  CHECK(cookies_sent(server, "/members") == std::vector<std::string>{"session=abc"});
  CHECK(status_of(db, server.url("/members")) == "200");
}

TEST_CASE("a Secure cookie set over http is refused, the others kept", "[cookies]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) {
    r.add_header("Set-Cookie", "secret=1; Secure; Path=/");
    r.add_header("Set-Cookie", "plain=2; Path=/; Max-Age=3600");
    r.html("<a href='/next'>next</a>");
  });
  server.on("/next", [](const Request&, Response& r) { r.html("<p>next</p>"); });
  TempDir dir;
  std::string db = dir.file("c.db");
  crawl_ok(with_cookies(db, {server.url("/")}));
  CHECK(cookies_sent(server, "/next") == std::vector<std::string>{"plain=2"});
  CHECK(rows(db, "SELECT name, expires > strftime('%s', 'now') FROM cookies") ==
        std::vector<std::vector<std::string>>{{"plain", "1"}});
}

TEST_CASE("a cookie that expired between runs is not sent and its row goes", "[cookies]") {
  TestServer server;
  serve_members(server);
  TempDir dir;
  std::string db = dir.file("c.db");
  {
    auto store = storage::Store::open(db);
    REQUIRE(store);
    storage::Batch batch;
    batch.cookies.push_back({"127.0.0.1", "/", "session", "abc", 1000.0, false, false, true, 999.0});
    REQUIRE((*store)->commit(batch));
  }
  crawl_ok(with_cookies(db, {server.url("/members")}));
  CHECK(cookies_sent(server, "/members") == std::vector<std::string>{""});
  CHECK(scalar(db, "SELECT count(*) FROM cookies") == "0");
}

TEST_CASE("a --header Cookie and the jar's cookies go out as one Cookie header", "[cookies]") {
  TestServer server;
  serve_members(server);
  TempDir dir;
  std::string db = dir.file("c.db");
  crawler::CrawlOptions o = with_cookies(db, {server.url("/")});
  o.headers = {"Cookie: lang=de"};
  crawl_ok(o);
  auto members = server.requests().back();
  REQUIRE(members.path == "/members");
  CHECK(members.head.find("Cookie: lang=de; session=abc\r\n") != std::string::npos);
  CHECK(members.head.find("ookie:", members.head.find("ookie:") + 1) == std::string::npos);
}

TEST_CASE("Domain=localhost from localhost, a public suffix by the \"*\" rule, is a host-only cookie", "[cookies]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) {
    r.add_header("Set-Cookie", "a=1; Domain=localhost; Path=/");
    r.html("<p>x</p>");
  });
  TempDir dir;
  std::string db = dir.file("c.db");
  std::string seed = "http://localhost:" + std::to_string(server.port()) + "/";
  crawl_ok(with_cookies(db, {seed}));
  CHECK(rows(db, "SELECT domain, host_only FROM cookies") ==
        std::vector<std::vector<std::string>>{{"localhost", "1"}});
}

TEST_CASE("the crawler's public-suffix test follows the Public Suffix List", "[cookies]") {
  CHECK(is_public_suffix("com"));
  CHECK(is_public_suffix("co.uk"));
  CHECK(is_public_suffix("github.io"));  // the list's private section counts
  CHECK(is_public_suffix("localhost"));  // no known top label: the "*" rule
  CHECK_FALSE(is_public_suffix("example.co.uk"));
  CHECK_FALSE(is_public_suffix("a.test"));
  CHECK_FALSE(is_public_suffix("127.0.0.1"));
}

TEST_CASE("a jar with the crawler's test refuses a cookie for a public suffix", "[cookies]") {
  parser::CookieJar jar(is_public_suffix);
  auto www = parser::parse_url("http://www.example.co.uk/");
  auto other = parser::parse_url("http://other.co.uk/");
  REQUIRE(www);
  REQUIRE(other);
  jar.receive(*www, {{"Set-Cookie", "wide=1; Domain=co.uk"}, {"Set-Cookie", "site=2; Domain=example.co.uk"}}, 1000);
  CHECK(jar.header_for(*www, 1000) == "site=2");
  CHECK(jar.header_for(*other, 1000).empty());
}

TEST_CASE("crawl --help names --cookies", "[cookies][cli]") {
  auto r = run_webcrawl({"crawl", "--help"});
  CHECK(r.status == 0);
  CHECK(r.out.find("--cookies") != std::string::npos);
}
