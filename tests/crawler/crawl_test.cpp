// End-to-end crawls of sites served on loopback by tests/support/test_server.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "common/version.h"
#include "tests/crawler/crawl_support.h"
#include "tests/support/test_server.h"

using namespace webcrawl;
using namespace webcrawl::testing;
using namespace std::chrono_literals;

namespace {

// A small site: links, a redirect, a 404, a non-HTML file, gzip and chunked
// pages, an external link that is out of scope, and a mailto link.
void serve_small_site(TestServer& s) {
  s.on("/", [](const Request&, Response& r) {
    r.html(R"(<html><head><title>Home  page</title><style>p{}</style></head><body>
      <h1>Welcome</h1><p>Hello <b>crawler</b> world.</p><script>var x = 1;</script>
      <a href="/a">Page A</a> <a href="b#frag">Page B</a> <a href="/old">Old</a>
      <a href="/missing">Missing</a> <a href="/file.txt">File</a> <a href="/gz">Gz</a>
      <a href="/chunked" rel="nofollow">Chunked</a> <a href="http://example.invalid/x">Out</a>
      <a href="mailto:someone@example.invalid">Mail</a></body></html>)");
  });
  s.on("/a", [](const Request&, Response& r) {
    r.html("<title>A</title><p>alpha text</p><a href='/'>home</a><a href='/b'>b</a>");
  });
  s.on("/b", [](const Request&, Response& r) { r.html("<title>B</title><p>bravo text</p>"); });
  s.on("/old", [](const Request&, Response& r) { r.redirect(301, "/new"); });
  s.on("/new", [](const Request&, Response& r) { r.html("<title>New</title><p>moved here</p>"); });
  s.on("/file.txt", [](const Request&, Response& r) { r.text("just text"); });
  s.on("/gz", [](const Request&, Response& r) {
    r.html("<title>Gzipped</title><p>compressed zebra text</p>").gzip();
  });
  s.on("/chunked", [](const Request&, Response& r) {
    r.html("<title>Chunked</title><p>chunked yak text</p>").chunked(4);
  });
}

std::string page_field(const std::string& db, const std::string& url, const std::string& column) {
  return scalar(db, "SELECT " + column + " FROM pages WHERE url = '" + url + "'");
}

// The small site over HTTPS, with a certificate from a test CA for the given
// names, and crawl options that trust that CA.
struct TlsSite {
  TestCa ca;
  TempDir dir;
  std::string ca_file = dir.file("ca.pem");
  std::string db = dir.file("crawl.db");
  std::unique_ptr<TestServer> server;

  TlsSite(const std::vector<std::string>& names, const std::vector<std::string>& ips) {
    TestServer::Options opts;
    opts.tls = ca.issue(names, ips);
    server = std::make_unique<TestServer>(opts);
    serve_small_site(*server);
    if (!ca.write_pem(ca_file)) throw std::runtime_error("cannot write " + ca_file);
  }
  crawler::CrawlOptions options(const std::string& seed) const {
    auto o = test_options(db, {seed});
    o.ca_file = ca_file;
    return o;
  }
};

}  // namespace

TEST_CASE("a crawl fetches every reachable page once and stores pages, text and links", "[crawl]") {
  TestServer server;
  serve_small_site(server);
  TempDir dir;
  std::string db = dir.file("crawl.db");

  auto summary = crawl_ok(test_options(db, {server.url("/")}));

  for (const char* path : {"/", "/a", "/b", "/old", "/new", "/missing", "/file.txt", "/gz"}) {
    INFO(path);
    CHECK(server.request_count(path) == 1);
  }
  CHECK(server.request_count("/chunked") == 0);  // rel=nofollow is recorded, not followed
  CHECK(summary.pages == 8);
  CHECK(scalar(db, "SELECT COUNT(*) FROM pages") == "8");

  const std::string home = server.url("/");
  CHECK(page_field(db, home, "title") == "Home page");
  CHECK(page_field(db, home, "status") == "200");
  CHECK(page_field(db, home, "content_type") == "text/html");
  CHECK(page_field(db, home, "depth") == "0");
  std::string text = page_field(db, home, "text");
  CHECK(text.find("Hello crawler world.") != std::string::npos);
  CHECK(text.find("var x") == std::string::npos);
  CHECK(page_field(db, server.url("/a"), "depth") == "1");
  CHECK(page_field(db, server.url("/missing"), "status") == "404");
  CHECK(page_field(db, server.url("/file.txt"), "content_type") == "text/plain");
  CHECK(page_field(db, server.url("/file.txt"), "text") == "");
  CHECK(page_field(db, server.url("/gz"), "text") == "compressed zebra text");

  // The redirect is a row of its own, pointing at where it ended.
  CHECK(page_field(db, server.url("/old"), "status") == "301");
  CHECK(page_field(db, server.url("/old"), "final_url") == server.url("/new"));
  CHECK(page_field(db, server.url("/new"), "title") == "New");

  // Links: absolute, no fragment, one row per distinct pair, out of scope kept.
  auto links = rows(db, "SELECT dst_url, anchor_text, nofollow FROM links WHERE src_url = '" + home +
                            "' ORDER BY dst_url");
  std::map<std::string, std::pair<std::string, std::string>> by_dst;
  for (auto& l : links) by_dst[l[0]] = {l[1], l[2]};
  CHECK(by_dst.size() == 8);
  CHECK(by_dst.count(server.url("/b")) == 1);
  CHECK(by_dst[server.url("/a")].first == "Page A");
  CHECK(by_dst[server.url("/chunked")].second == "1");
  CHECK(by_dst.count("http://example.invalid/x") == 1);
  CHECK(scalar(db, "SELECT COUNT(*) FROM links WHERE dst_url LIKE 'mailto:%'") == "0");

  // The run's manifest, and the delay each host was kept to.
  CHECK(rows(db, "SELECT outcome, pages, version FROM runs") ==
        std::vector<std::vector<std::string>>{{"finished", "8", std::string("webcrawl ") + webcrawl::kVersion}});
  CHECK(scalar(db, "SELECT json_extract(options, '$.delay') FROM runs") == "0.0");
  CHECK(scalar(db, "SELECT length(seeds_sha256) FROM runs") == "64");
  CHECK(scalar(db, "SELECT delay FROM hosts WHERE origin = '" + server.origin() + "'") == "0.0");
  CHECK(scalar(db, "SELECT source FROM frontier WHERE url = '" + home + "'") == "seed");
}

TEST_CASE("full-text search finds crawled pages", "[crawl]") {
  TestServer server;
  serve_small_site(server);
  TempDir dir;
  std::string db = dir.file("crawl.db");
  crawl_ok(test_options(db, {server.url("/")}));

  auto hits = rows(db, "SELECT p.url FROM pages_fts JOIN pages p ON p.url_id = pages_fts.rowid "
                       "WHERE pages_fts MATCH 'zebra'");
  REQUIRE(hits.size() == 1);
  CHECK(hits[0][0] == server.url("/gz"));
}

TEST_CASE("chunked and close-delimited bodies are read whole", "[crawl]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) {
    r.html("<title>root</title><a href='/c'>c</a><a href='/d'>d</a>");
  });
  server.on("/c", [](const Request&, Response& r) { r.html("<p>" + std::string(100000, 'c') + "</p>").chunked(7); });
  server.on("/d", [](const Request&, Response& r) { r.html("<p>" + std::string(50000, 'd') + "</p>").close_delimited(); });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  crawl_ok(test_options(db, {server.url("/")}));
  CHECK(page_field(db, server.url("/c"), "length(text)") == "100000");
  CHECK(page_field(db, server.url("/d"), "length(text)") == "50000");
}

TEST_CASE("HTTPS pages are fetched with a verified certificate over one kept-alive connection", "[crawl][tls]") {
  TlsSite site({"localhost"}, {"127.0.0.1"});
  TestServer& server = *site.server;
  crawl_ok(site.options(server.url("/")));

  CHECK(page_field(site.db, server.url("/a"), "title") == "A");
  CHECK(page_field(site.db, server.url("/gz"), "text") == "compressed zebra text");
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 8);
  // --per-host 1: every request went over the same connection.
  CHECK(std::all_of(reqs.begin(), reqs.end(), [&](auto& r) { return r.connection == reqs[0].connection; }));
  CHECK(server.connection_count() == 1);
}

TEST_CASE("an untrusted certificate is a recorded error, not a crash", "[crawl][tls]") {
  TestServer::Options opts;
  opts.tls = TestCa::self_signed_identity({"localhost"}, {"127.0.0.1"});
  TestServer server(opts);
  serve_small_site(server);
  TempDir dir;
  std::string db = dir.file("crawl.db");

  auto summary = crawl_ok(test_options(db, {server.url("/")}));
  CHECK(summary.errors == 1);
  CHECK(page_field(db, server.url("/"), "status") == "");
  CHECK(page_field(db, server.url("/"), "error").find("certificate") != std::string::npos);
}

TEST_CASE("a host name that does not match the certificate is rejected", "[crawl][tls]") {
  TlsSite site({"other.test"}, {});
  crawl_ok(site.options(site.server->url("/")));
  CHECK(page_field(site.db, site.server->url("/"), "error").find("certificate") != std::string::npos);
}

TEST_CASE("the per-host delay separates request starts at the server", "[crawl][politeness]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) {
    std::string body = "<title>root</title>";
    for (int i = 0; i < 5; i++) body += "<a href='/p" + std::to_string(i) + "'>p</a>";
    r.html(body);
  });
  for (int i = 0; i < 5; i++) {
    server.on("/p" + std::to_string(i), [](const Request&, Response& r) { r.html("<p>x</p>"); });
  }
  TempDir dir;
  auto o = test_options(dir.file("crawl.db"), {server.url("/")});
  o.delay = 0.2;
  crawl_ok(o);

  auto gaps = start_gaps(server);
  REQUIRE(gaps.size() == 5);
  for (double gap : gaps) CHECK(gap >= 0.2);
}

TEST_CASE("per-host and global connection caps hold", "[crawl][politeness]") {
  // Three hosts on 127.0.0.1-3, each page slow, so requests overlap if allowed.
  std::vector<std::unique_ptr<TestServer>> servers;
  std::mutex mutex;
  std::map<std::string, int> active_by_host;
  int active = 0, max_active = 0;
  std::map<std::string, int> max_by_host;
  std::vector<std::string> seeds;
  for (int h = 1; h <= 3; h++) {
    TestServer::Options opts;
    opts.bind_address = "127.0.0." + std::to_string(h);
    auto s = std::make_unique<TestServer>(opts);
    std::string host = opts.bind_address;
    auto handler = [&, host](const Request& req, Response& r) {
      {
        std::lock_guard lock(mutex);
        active++;
        active_by_host[host]++;
        max_active = std::max(max_active, active);
        max_by_host[host] = std::max(max_by_host[host], active_by_host[host]);
      }
      std::this_thread::sleep_for(80ms);
      std::string body = "<title>t</title>";
      if (req.path == "/") {
        for (int i = 0; i < 6; i++) body += "<a href='/p" + std::to_string(i) + "'>p</a>";
      }
      r.html(body);
      std::lock_guard lock(mutex);
      active--;
      active_by_host[host]--;
    };
    s->on("/", handler);
    for (int i = 0; i < 6; i++) s->on("/p" + std::to_string(i), handler);
    seeds.push_back(s->url("/"));
    servers.push_back(std::move(s));
  }
  TempDir dir;
  auto o = test_options(dir.file("crawl.db"), seeds);
  o.per_host = 2;
  o.concurrency = 3;
  crawl_ok(o);

  std::size_t total = 0;
  for (auto& s : servers) total += s->requests().size();
  CHECK(total == 21);
  CHECK(max_active <= 3);
  CHECK(max_active >= 2);  // the crawl did run requests in parallel
  for (auto& [host, m] : max_by_host) {
    INFO(host);
    CHECK(m <= 2);
  }
}

TEST_CASE("with more hosts than --concurrency, each host's connection is kept alive and reused", "[crawl]") {
  // Six hosts on 127.0.0.11-16 and two request slots: the crawl turns from
  // host to host, so a pool holding only as many sockets as slots would close
  // a host's connection before its turn came again.
  std::vector<std::unique_ptr<TestServer>> servers;
  std::vector<std::string> seeds;
  for (int h = 11; h <= 16; h++) {
    TestServer::Options opts;
    opts.bind_address = "127.0.0." + std::to_string(h);
    auto s = std::make_unique<TestServer>(opts);
    std::string index = "<title>i</title>";
    for (int i = 0; i < 5; i++) {
      index += "<a href='/p" + std::to_string(i) + "'>p</a>";
      s->on("/p" + std::to_string(i), [](const Request&, Response& r) { r.html("<title>p</title>"); });
    }
    s->on("/", [index](const Request&, Response& r) { r.html(index); });
    seeds.push_back(s->url("/"));
    servers.push_back(std::move(s));
  }
  TempDir dir;
  auto o = test_options(dir.file("crawl.db"), seeds);
  o.per_host = 1;
  o.concurrency = 2;
  crawl_ok(o);

  for (auto& s : servers) {
    INFO(s->url("/"));
    CHECK(s->requests().size() == 6);
    CHECK(s->connection_count() == 1);
  }
  CHECK(scalar(o.db_path, "SELECT count(*) FROM fetches WHERE reused = 1") == "30");
}

TEST_CASE("max depth and max pages limits stop the crawl", "[crawl]") {
  TestServer server;
  // A chain: /0 -> /1 -> /2 -> ... -> /9
  for (int i = 0; i < 10; i++) {
    server.on("/" + std::to_string(i), [i](const Request&, Response& r) {
      r.html("<a href='/" + std::to_string(i + 1) + "'>next</a>");
    });
  }
  TempDir dir;
  SECTION("depth") {
    auto o = test_options(dir.file("d.db"), {server.url("/0")});
    o.max_depth = 3;
    crawl_ok(o);
    CHECK(server.requests().size() == 4);
    CHECK(scalar(o.db_path, "SELECT state || ':' || reason FROM urls WHERE url = '" + server.url("/4") + "'") ==
          "skipped:max depth");
  }
  SECTION("pages") {
    auto o = test_options(dir.file("p.db"), {server.url("/0")});
    o.max_pages = 5;
    auto s = crawl_ok(o);
    CHECK(server.requests().size() == 5);
    CHECK(s.pages == 5);
    CHECK(s.outcome == "limit");
    CHECK(scalar(o.db_path, "SELECT outcome FROM runs") == "limit");
  }
}

TEST_CASE("a redirect loop is recorded and each URL is fetched once", "[crawl]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) { r.redirect(302, "/loop2"); });
  server.on("/loop2", [](const Request&, Response& r) { r.redirect(302, "/"); });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  crawl_ok(test_options(db, {server.url("/")}));
  CHECK(server.request_count("/") == 1);
  CHECK(server.request_count("/loop2") == 1);
  CHECK(page_field(db, server.url("/loop2"), "error") == "redirect loop");
}

TEST_CASE("a seed that redirects to another host brings that host into scope", "[crawl]") {
  TestServer::Options on_other_host;
  on_other_host.bind_address = "127.0.0.2";
  TestServer target(on_other_host);
  target.on("/", [](const Request&, Response& r) { r.html("<title>T</title><a href='/more'>more</a>"); });
  target.on("/more", [](const Request&, Response& r) { r.html("<title>More</title>"); });
  TestServer seed;
  std::string where = target.url("/");
  seed.on("/", [where](const Request&, Response& r) { r.redirect(301, where); });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  crawl_ok(test_options(db, {seed.url("/")}));
  CHECK(target.request_count("/") == 1);
  CHECK(target.request_count("/more") == 1);
}

TEST_CASE("a crawl resumes where it stopped without fetching a page twice", "[crawl][resume]") {
  TestServer server;
  for (int i = 0; i < 10; i++) {
    server.on("/" + std::to_string(i), [i](const Request&, Response& r) {
      std::string body = "<title>" + std::to_string(i) + "</title>";
      for (int j = 0; j < 10; j++) body += "<a href='/" + std::to_string(j) + "'>x</a>";
      r.html(body);
    });
  }
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto first = test_options(db, {server.url("/0")});
  first.max_pages = 4;
  crawl_ok(first);
  CHECK(server.requests().size() == 4);

  auto again = test_options(db, {});  // no seeds: continue the crawl in the database
  crawl_ok(again);
  CHECK(server.requests().size() == 10);
  for (int i = 0; i < 10; i++) CHECK(server.request_count("/" + std::to_string(i)) == 1);
  CHECK(scalar(db, "SELECT COUNT(*) FROM pages") == "10");
  CHECK(scalar(db, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("transient failures are retried, then recorded", "[crawl]") {
  TestServer server;
  std::atomic<int> calls{0};
  server.on("/", [&](const Request&, Response& r) {
    if (calls++ == 0) {
      r.status = 503;
      r.set_header("Retry-After", "0");
      r.html("busy");
      return;
    }
    r.html("<title>ok now</title>");
  });
  server.on("/down", [](const Request&, Response& r) { r.status = 500; r.html("broken"); });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/"), server.url("/down")});
  o.retries = 1;
  o.delay = 0.01;
  crawl_ok(o);
  CHECK(page_field(db, server.url("/"), "title") == "ok now");
  CHECK(server.request_count("/down") == 2);
  CHECK(page_field(db, server.url("/down"), "status") == "500");
  // Still failing after its last retry: the URL failed, and says how.
  CHECK(page_field(db, server.url("/down"), "state") == "failed");
  CHECK(page_field(db, server.url("/down"), "error_kind") == "http 5xx");
  CHECK(page_field(db, server.url("/"), "state") == "done");
}

TEST_CASE("a connection refused is a recorded error", "[crawl]") {
  uint16_t port;
  {
    TestServer gone;
    port = gone.port();
  }
  TempDir dir;
  std::string db = dir.file("crawl.db");
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto s = crawl_ok(test_options(db, {url}));
  CHECK(s.errors == 1);
  CHECK(page_field(db, url, "error").find("connect") != std::string::npos);
}

TEST_CASE("a redirect chain longer than 10 hops is cut and recorded", "[crawl]") {
  TestServer server;
  for (int i = 0; i < 15; i++) {
    server.on("/r" + std::to_string(i), [i](const Request&, Response& r) {
      r.redirect(302, "/r" + std::to_string(i + 1));
    });
  }
  TempDir dir;
  std::string db = dir.file("crawl.db");
  crawl_ok(test_options(db, {server.url("/r0")}));
  // r0 is the seed; r1..r10 are the ten hops allowed; r10's redirect is the eleventh.
  CHECK(server.request_count("/r10") == 1);
  CHECK(server.request_count("/r11") == 0);
  CHECK(page_field(db, server.url("/r10"), "error") == "too many redirects");
  CHECK(scalar(db, "SELECT reason FROM urls WHERE url = '" + server.url("/r11") + "'") == "too many redirects");
  CHECK(page_field(db, server.url("/r0"), "final_url") == server.url("/r10"));
}

TEST_CASE("a host with far more URLs than its in-memory window is crawled completely, breadth-first", "[crawl][resume]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) {
    std::string body;
    for (int i = 0; i < 150; i++) body += "<a href='/p" + std::to_string(i) + "'>p</a>";
    r.html(body);
  });
  for (int i = 0; i < 150; i++) {
    server.on("/p" + std::to_string(i), [](const Request&, Response& r) { r.html("<title>p</title>"); });
  }
  TempDir dir;
  std::string db = dir.file("crawl.db");
  SECTION("in one run") {
    crawl_ok(test_options(db, {server.url("/")}));
  }
  SECTION("resumed from a queue on disk") {
    auto first = test_options(db, {server.url("/")});
    first.max_pages = 40;
    crawl_ok(first);
    CHECK(server.requests().size() == 40);
    crawl_ok(test_options(db, {}));
  }
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 151);
  for (int i = 0; i < 150; i++) {
    INFO(i);
    CHECK(reqs[static_cast<std::size_t>(i) + 1].path == "/p" + std::to_string(i));  // id order = discovery order
  }
  CHECK(scalar(db, "SELECT COUNT(*) FROM frontier WHERE state = 'queued'") == "0");
}

TEST_CASE("HTTPS by host name sends SNI and checks the name against the certificate", "[crawl][tls]") {
  TlsSite site({"localhost"}, {});  // no IP in the certificate: only the name can match
  std::string origin = "https://localhost:" + std::to_string(site.server->port());
  crawl_ok(site.options(origin + "/"));
  CHECK(page_field(site.db, origin + "/", "title") == "Home page");
  CHECK(page_field(site.db, origin + "/a", "status") == "200");
}

TEST_CASE("traps and per-host limits are recorded as skipped with a reason", "[crawl][traps]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) {
    r.html("<a href='/a/b/a/b/a/b'>loop</a><a href='/" + std::string(3000, 'x') + "'>long</a>"
           "<a href='/p1'>1</a><a href='/p2'>2</a><a href='/p3'>3</a><a href='/p4'>4</a>");
  });
  for (const char* p : {"/p1", "/p2", "/p3", "/p4"}) {
    server.on(p, [](const Request&, Response& r) { r.html("<title>p</title>"); });
  }
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/")});
  o.max_pages_per_host = 3;
  crawl_ok(o);
  CHECK(server.requests().size() == 3);
  CHECK(scalar(db, "SELECT reason FROM frontier WHERE url LIKE '%/a/b/a/b/a/b'") == "repeating path");
  CHECK(scalar(db, "SELECT reason FROM frontier WHERE length(url) > 3000") == "url too long");
  CHECK(scalar(db, "SELECT COUNT(*) FROM pages WHERE error = 'max pages per host'") == "2");
}

TEST_CASE("a page's link list is capped, and the cap is recorded", "[crawl][traps]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) {
    std::string body;
    for (int i = 0; i < 10050; i++) body += "<a href='/x" + std::to_string(i) + "'>x</a>";
    r.html(body);
  });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/")});
  o.max_depth = 0;
  crawl_ok(o);
  CHECK(page_field(db, server.url("/"), "error") == "links truncated at 10000");
  CHECK(page_field(db, server.url("/"), "status") == "200");
  CHECK(scalar(db, "SELECT COUNT(*) FROM links") == "10000");
}

TEST_CASE("the per-IP delay spaces requests to different hosts on one address", "[crawl][politeness]") {
  TestServer one, two;  // two hosts (ports) on 127.0.0.1
  for (TestServer* s : {&one, &two}) {
    s->on("/", [](const Request&, Response& r) { r.html("<a href='/1'>1</a><a href='/2'>2</a>"); });
    for (const char* p : {"/1", "/2"}) s->on(p, [](const Request&, Response& r) { r.html("<p>x</p>"); });
  }
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {one.url("/"), two.url("/")});
  o.per_ip_delay = 0.15;
  o.concurrency = 4;
  crawl_ok(o);
  std::vector<std::chrono::steady_clock::time_point> starts;
  for (TestServer* s : {&one, &two}) {
    for (auto& r : s->requests()) starts.push_back(r.start);
  }
  std::sort(starts.begin(), starts.end());
  REQUIRE(starts.size() == 6);
  for (std::size_t i = 1; i < starts.size(); i++) {
    double gap = std::chrono::duration<double>(starts[i] - starts[i - 1]).count();
    INFO("gap " << i << ": " << gap);
    CHECK(gap >= 0.15);
  }
  CHECK(scalar(db, "SELECT COUNT(*) FROM fetches WHERE wait_reason = 'per-ip'") != "0");
}

TEST_CASE("adaptive politeness slows down for a slow host", "[crawl][politeness]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) {
    r.html("<a href='/1'>1</a><a href='/2'>2</a><a href='/3'>3</a>").delay(60ms);
  });
  for (const char* p : {"/1", "/2", "/3"}) {
    server.on(p, [](const Request&, Response& r) { r.html("<p>x</p>").delay(60ms); });
  }
  TempDir dir;
  auto o = test_options(dir.file("crawl.db"), {server.url("/")});
  o.adaptive = true;  // 5 x ~60 ms: about 0.3 s between requests
  crawl_ok(o);
  auto gaps = start_gaps(server);
  REQUIRE(gaps.size() == 3);
  for (double g : gaps) CHECK(g >= 0.3);
  CHECK(scalar(o.db_path, "SELECT COUNT(*) FROM fetches WHERE wait_reason = 'adaptive'") != "0");
}

TEST_CASE("a host that keeps failing is parked, not hammered", "[crawl][politeness]") {
  TestServer server;
  for (int i = 0; i < 4; i++) {
    server.on("/f" + std::to_string(i), [](const Request&, Response& r) {
      r.status = 503;
      r.html("down");
    });
  }
  TempDir dir;
  std::vector<std::string> seeds;
  for (int i = 0; i < 4; i++) seeds.push_back(server.url("/f" + std::to_string(i)));
  auto o = test_options(dir.file("crawl.db"), seeds);
  o.park_after = 2;
  o.park_seconds = 0.4;
  crawl_ok(o);
  auto gaps = start_gaps(server);
  REQUIRE(gaps.size() == 3);
  CHECK(gaps[0] < 0.4);   // one failure parks nothing; two in a row ...
  CHECK(gaps[1] >= 0.4);  // ... park the host for 0.4 s
  CHECK(gaps[2] >= 0.8);  // and each further failure doubles it
  CHECK(scalar(o.db_path, "SELECT COUNT(*) FROM fetches WHERE wait_reason = 'parked'") == "2");
}

TEST_CASE("pages in other encodings are stored as UTF-8", "[crawl][charset]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) {
    r.html("<a href='/cp1252'>a</a><a href='/sjis'>b</a><a href='/latin1'>c</a>");
  });
  server.on("/cp1252", [](const Request&, Response& r) {
    r.text("<title>Caf\xE9</title><p>price \x80 5</p>", "text/html; charset=windows-1252");
  });
  server.on("/sjis", [](const Request&, Response& r) {
    r.text("<meta charset=\"Shift_JIS\"><title>\x82\xa0</title>", "text/html");
  });
  server.on("/latin1", [](const Request&, Response& r) {  // declares nothing and is not UTF-8
    r.text("<title>na\xEFve</title>", "text/html");
  });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  crawl_ok(test_options(db, {server.url("/")}));
  CHECK(page_field(db, server.url("/cp1252"), "title") == "Caf\xC3\xA9");
  CHECK(page_field(db, server.url("/cp1252"), "text") == "price \xE2\x82\xAC 5");
  CHECK(page_field(db, server.url("/cp1252"), "charset") == "windows-1252");
  CHECK(page_field(db, server.url("/sjis"), "title") == "\xE3\x81\x82");
  CHECK(page_field(db, server.url("/sjis"), "charset") == "Shift_JIS");
  CHECK(page_field(db, server.url("/latin1"), "title") == "na\xC3\xAFve");
  CHECK(page_field(db, server.url("/"), "charset") == "UTF-8");
}

TEST_CASE("Retry-After holds the host until it has passed, then the page is retried", "[crawl][politeness]") {
  TestServer server;
  std::atomic<int> calls{0};
  server.on("/", [&](const Request&, Response& r) {
    if (calls++ == 0) {
      r.status = 429;
      r.set_header("Retry-After", "2");  // longer than the first back-off (1 s +- 25 %)
      r.html("slow down");
      return;
    }
    r.html("<title>welcome back</title>");
  });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/")});
  o.retries = 1;
  crawl_ok(o);
  auto gaps = start_gaps(server);
  REQUIRE(gaps.size() == 1);
  CHECK(gaps[0] >= 2.0);
  CHECK(page_field(db, server.url("/"), "title") == "welcome back");
  CHECK(scalar(db, "SELECT wait_reason FROM fetches WHERE attempt = 1") == "retry-after");
}
