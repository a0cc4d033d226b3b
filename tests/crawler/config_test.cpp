// Crawl configuration files: every option, per-host overrides, flags first.
#include <catch2/catch.hpp>

#include <algorithm>

#include "crawler/config.h"
#include "tests/crawler/crawl_support.h"
#include "tests/support/test_server.h"

using namespace webcrawl;
using namespace webcrawl::crawler;
using namespace webcrawl::testing;

TEST_CASE("a config file sets options; seeds and host overrides add to what is there", "[config]") {
  TempDir dir;
  std::string path = dir.write("c.toml",
                               "delay = 2.5\nper_host = 3\nscope = \"domain\"\nmax_depth = 4\nrobots = false\n"
                               "user_agent = \"bot/1\"\nseeds = [\"http://a.test/\"]\n"
                               "[[hosts]]\nmatch = \"Example.org\"\ndelay = 7\n");
  CrawlOptions o;
  o.seeds = {"http://b.test/"};
  REQUIRE(apply_config_file(path, o));
  CHECK(o.delay == 2.5);
  CHECK(o.per_host == 3);
  CHECK(o.scope == Scope::kDomain);
  CHECK(o.max_depth == 4);
  CHECK_FALSE(o.robots);
  CHECK(o.user_agent == "bot/1");
  CHECK(o.seeds == std::vector<std::string>{"http://b.test/", "http://a.test/"});
  REQUIRE(o.host_overrides.size() == 1);
  CHECK(o.host_overrides[0].match == "example.org");
  CHECK(*o.host_overrides[0].delay == 7.0);
}

TEST_CASE("config mistakes name the file, the line and the key", "[config]") {
  TempDir dir;
  CrawlOptions o;
  auto typo = apply_config_file(dir.write("a.toml", "delay = 1\ndealy = 2\n"), o);
  REQUIRE_FALSE(typo);
  CHECK(typo.error().message.find("a.toml:2: dealy: unknown key (did you mean delay?)") != std::string::npos);
  auto type = apply_config_file(dir.write("b.toml", "per_host = \"two\"\n"), o);
  REQUIRE_FALSE(type);
  CHECK(type.error().message.find("per_host: expected a whole number") != std::string::npos);
  auto range = apply_config_file(dir.write("c.toml", "concurrency = 0\n"), o);
  REQUIRE_FALSE(range);
  auto syntax = apply_config_file(dir.write("d.toml", "delay = = 1\n"), o);
  REQUIRE_FALSE(syntax);
  CHECK(syntax.error().message.rfind(dir.file("d.toml").string() + ":1:", 0) == 0);
  auto nomatch = apply_config_file(dir.write("e.toml", "[[hosts]]\ndelay = 1\n"), o);
  REQUIRE_FALSE(nomatch);
}

TEST_CASE("a host override covers the host and its subdomains, the longest match winning", "[config]") {
  CrawlOptions o;
  o.host_overrides = {{"example.org", 5.0, std::nullopt}, {"docs.example.org", 1.0, 2}};
  CHECK(find_override(o, "example.org")->delay == 5.0);
  CHECK(find_override(o, "www.example.org")->delay == 5.0);
  CHECK(find_override(o, "a.docs.example.org")->per_host == 2);
  CHECK(find_override(o, "badexample.org") == nullptr);
  CHECK(find_override(o, "example.com") == nullptr);
}

TEST_CASE("the example config in seeds/ is valid", "[config]") {
  CrawlOptions o;
  auto r = apply_config_file(std::string(WEBCRAWL_SOURCE_DIR) + "/seeds/example-config.toml", o);
  INFO((r ? "" : r.error().message));
  CHECK(r);
  CHECK(o.host_overrides.size() == 2);
}

TEST_CASE("a per-host delay from the config slows that host only", "[config][politeness]") {
  TestServer::Options slow_opts;
  slow_opts.bind_address = "127.0.0.2";
  TestServer slow(slow_opts);
  TestServer fast;
  for (TestServer* s : {&slow, &fast}) {
    s->on("/", [](const Request&, Response& r) { r.html("<a href='/1'>1</a><a href='/2'>2</a><a href='/3'>3</a>"); });
    for (const char* p : {"/1", "/2", "/3"}) s->on(p, [](const Request&, Response& r) { r.html("<p>x</p>"); });
  }
  TempDir dir;
  std::string config = dir.write("c.toml", "[[hosts]]\nmatch = \"127.0.0.2\"\ndelay = 0.25\n");
  std::string db = dir.file("crawl.db");
  auto r = run_webcrawl({"crawl", "--quiet", "--no-robots", "--delay", "0", "--config", config, "--db", db,
                         slow.url("/"), fast.url("/")});
  REQUIRE(r.status == 0);
  auto gaps = [](const TestServer& s) {
    auto all = start_gaps(s);
    return *std::min_element(all.begin(), all.end());
  };
  CHECK(slow.requests().size() == 4);
  CHECK(fast.requests().size() == 4);
  CHECK(gaps(slow) >= 0.25);
  CHECK(gaps(fast) < 0.25);
}
