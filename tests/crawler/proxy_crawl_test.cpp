// --proxy as a user runs it: a whole crawl through a loopback proxy the test
// starts, http in absolute form and https through CONNECT, and the
// http_proxy / no_proxy environment when no flag is given.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>

#include "tests/crawler/crawl_support.h"
#include "tests/support/test_ca.h"
#include "tests/support/test_proxy.h"
#include "tests/support/test_server.h"

using namespace webcrawl::testing;

namespace {

void serve_two_pages(TestServer& s) {
  s.on("/", [](const Request&, Response& r) { r.html("<title>home</title><a href='/b'>b</a>"); });
  s.on("/b", [](const Request&, Response& r) { r.html("<title>b</title>"); });
}

std::vector<std::string> crawl_args(const std::string& db, std::vector<std::string> extra) {
  std::vector<std::string> args{"crawl", "--quiet", "--db", db, "--delay", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Sets an environment variable for the life of the object (the crawler
// reads it in the child run_webcrawl starts), then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("a crawl given --proxy goes through it in absolute form for http", "[cli][proxy]") {
  TestServer server;
  serve_two_pages(server);
  server.on("/robots.txt", [](const Request&, Response& r) { r.text("User-agent: *\nAllow: /\n"); });
  TestProxy proxy;
  TempDir dir;
  std::string db = dir.file("c.db");
  auto r = run_webcrawl(crawl_args(db, {"--proxy", proxy.url(), server.url("/")}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(scalar(db, "SELECT count(*) FROM pages WHERE status = 200") == "2");
  CHECK(server.request_count("/robots.txt") == 1);
  CHECK(server.request_count("/b") == 1);
  // The proxy reads the first request of each connection; later ones on it
  // are relayed as they are.
  auto lines = proxy.request_lines();
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.front() == "GET " + server.url("/robots.txt") + " HTTP/1.1");
  for (const std::string& line : lines) CHECK(starts_with(line, "GET " + server.origin() + "/"));
}

TEST_CASE("a crawl given --proxy reaches https through a CONNECT tunnel, verified end to end", "[cli][proxy][tls]") {
  TestCa ca;
  TempDir dir;
  std::string ca_file = dir.file("ca.pem");
  REQUIRE(ca.write_pem(ca_file));
  TestServer::Options options;
  options.tls = ca.issue({"localhost"}, {"127.0.0.1"});
  TestServer server(options);
  serve_two_pages(server);
  TestProxy proxy;
  std::string db = dir.file("c.db");
  auto r = run_webcrawl(crawl_args(db, {"--no-robots", "--ca-file", ca_file, "--proxy", proxy.url(), server.url("/")}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(scalar(db, "SELECT count(*) FROM pages WHERE status = 200") == "2");
  auto lines = proxy.request_lines();
  REQUIRE_FALSE(lines.empty());
  for (const std::string& line : lines) {
    CHECK(line == "CONNECT 127.0.0.1:" + std::to_string(server.port()) + " HTTP/1.1");
  }
}

TEST_CASE("a proxy that refuses the CONNECT fails the crawl's pages with its answer", "[cli][proxy][tls]") {
  TestServer::Options options;
  options.tls = TestCa::self_signed_identity({"localhost"}, {"127.0.0.1"});
  TestServer server(options);
  TestProxy::Options refusing;
  refusing.refuse_connect_with = 407;
  TestProxy proxy(refusing);
  TempDir dir;
  std::string db = dir.file("c.db");
  auto r = run_webcrawl(crawl_args(db, {"--no-robots", "--retries", "0", "--proxy", proxy.url(), server.url("/")}));
  CHECK(r.status == 3);
  CHECK(r.err.find("CONNECT answered 407") != std::string::npos);
  CHECK(server.request_count("/") == 0);
}

TEST_CASE("without --proxy, http_proxy carries the crawl and no_proxy exempts a host", "[cli][proxy]") {
  TestServer server;
  serve_two_pages(server);
  TestProxy proxy;
  TempDir dir;
  ScopedEnv http_proxy("http_proxy", proxy.url());
  {
    auto r = run_webcrawl(crawl_args(dir.file("a.db"), {"--no-robots", server.url("/")}));
    INFO(r.err);
    REQUIRE(r.status == 0);
    REQUIRE_FALSE(proxy.request_lines().empty());
    CHECK(proxy.request_lines().front() == "GET " + server.url("/") + " HTTP/1.1");
  }
  std::size_t seen = proxy.request_lines().size();
  ScopedEnv no_proxy("no_proxy", "localhost,127.0.0.1");
  auto r = run_webcrawl(crawl_args(dir.file("b.db"), {"--no-robots", server.url("/")}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(server.request_count("/") == 2);
  CHECK(proxy.request_lines().size() == seen);
}
