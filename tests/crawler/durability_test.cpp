// Killing the crawler at any moment loses nothing but what was in flight.
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "tests/crawler/crawl_support.h"
#include "tests/support/test_server.h"

using namespace webcrawl::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kPages = 120;

// A site of kPages pages, each linking to ten others, each answering a little
// slowly, so that a crawl is still running when the test signals it.
void serve_site(TestServer& s) {
  for (int i = 0; i < kPages; i++) {
    s.on("/p" + std::to_string(i), [i](const Request&, Response& r) {
      std::string body = "<title>page " + std::to_string(i) + "</title>";
      for (int j = 1; j <= 10; j++) body += "<a href='/p" + std::to_string((i * 7 + j * 13) % kPages) + "'>x</a>";
      r.html(body).delay(15ms);
    });
  }
}

std::vector<std::string> crawl_args(const std::string& db, const std::string& seed) {
  return {"crawl", "--db", db, "--delay", "0", "--per-host", "4", "--no-robots", "--quiet", seed};
}

void wait_for_requests(const TestServer& s, std::size_t n) {
  auto deadline = Clock::now() + 30s;
  while (s.requests().size() < n && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  REQUIRE(s.requests().size() >= n);
}

// The paths of the stored pages (the reference crawl ran on another port).
std::set<std::string> stored_paths(const std::string& db) {
  std::set<std::string> out;
  for (auto& r : rows(db, "SELECT url FROM pages")) out.insert(r[0].substr(r[0].find('/', 8)));
  return out;
}

}  // namespace

TEST_CASE("after SIGKILL the same command resumes and the result equals an uninterrupted crawl", "[durability]") {
  TempDir dir;
  // The reference: one uninterrupted crawl of the same site.
  std::set<std::string> reference;
  {
    TestServer server;
    serve_site(server);
    std::string db = dir.file("reference.db");
    auto r = run_webcrawl(crawl_args(db, server.url("/p0")));
    REQUIRE(r.status == 0);
    reference = stored_paths(db);
    REQUIRE(reference.size() == static_cast<std::size_t>(kPages));
  }

  TestServer server;
  serve_site(server);
  std::string db = dir.file("killed.db");
  auto args = crawl_args(db, server.url("/p0"));
  args.push_back("--bulk-index");
  Clock::time_point killed_at;
  {
    Background crawl(args, dir.file("log.txt"));
    wait_for_requests(server, 40);
    crawl.signal(SIGKILL);
    killed_at = Clock::now();
    REQUIRE(crawl.wait(10) == 128 + SIGKILL);
  }
  CHECK(scalar(db, "PRAGMA integrity_check") == "ok");
  // The writer indexes in bulk (every 500 pages or 10 s): what the killed
  // run stored is still listed for indexing, and nothing listed was lost.
  CHECK(scalar(db, "SELECT count(*) FROM fts_pending") ==
        scalar(db, "SELECT count(*) FROM documents WHERE indexed = 1"));
  std::size_t before_restart = server.requests().size();
  CHECK(before_restart < static_cast<std::size_t>(kPages));
  std::set<std::string> stored_before_restart = stored_paths(db);

  auto again = run_webcrawl(args);
  REQUIRE(again.status == 0);
  CHECK(stored_paths(db) == reference);
  // The killed run never said how it ended; the second did.
  CHECK(rows(db, "SELECT ifnull(outcome, 'NULL') FROM runs ORDER BY id") ==
        std::vector<std::vector<std::string>>{{"NULL"}, {"finished"}});
  CHECK(scalar(db, "SELECT COUNT(*) FROM frontier WHERE state = 'queued'") == "0");
  CHECK(scalar(db, "PRAGMA integrity_check") == "ok");
  // Every page is searchable, those the killed run stored included.
  CHECK(scalar(db, "SELECT count(*) FROM fts_pending") == "0");
  CHECK(scalar(db, "SELECT count(*) FROM pages_fts WHERE pages_fts MATCH 'page'") == std::to_string(kPages));

  // A page asked for twice must have been in flight when the crawler died:
  // its first request started shortly before the kill.
  std::map<std::string, std::vector<Clock::time_point>> starts;
  for (auto& req : server.requests()) starts[req.path].push_back(req.start);
  int repeated = 0;
  for (auto& [path, times] : starts) {
    INFO(path);
    CHECK(times.size() <= 2);
    if (times.size() == 2) {
      repeated++;
      CHECK(killed_at - times[0] < 2s);
    }
  }
  CHECK(repeated <= 8);  // at most what can be in flight: --per-host 4, plus the pipeline
  // Exactly: nothing the database held at the kill was asked for again.
  for (const auto& path : stored_before_restart) {
    INFO(path);
    CHECK(starts[path].size() == 1);
  }
}

TEST_CASE("with --bulk-index a page stored during a crawl is found by search within the bound", "[durability]") {
  // One host at 0.2 s a page: 150 pages take 30 s, far longer than the bound.
  TestServer server;
  for (int i = 0; i < 150; i++) {
    server.on("/q" + std::to_string(i), [i](const Request&, Response& r) {
      r.html("<title>entry" + std::to_string(i) + "</title><a href='/q" + std::to_string(i + 1) + "'>next</a>");
    });
  }
  TempDir dir;
  std::string db = dir.file("live.db");
  Background crawl({"crawl", "--db", db, "--delay", "0.2", "--no-robots", "--quiet", "--bulk-index", server.url("/q0")},
                   dir.file("log.txt"));
  // The file exists before its schema does: until then reading it fails.
  auto stored = [&] {
    try {
      return std::filesystem::exists(db) && scalar(db, "SELECT count(*) FROM pages WHERE url LIKE '%/q0'") != "0";
    } catch (const std::exception&) {
      return false;
    }
  };
  auto deadline = Clock::now() + 30s;
  while (Clock::now() < deadline && !stored()) std::this_thread::sleep_for(20ms);
  REQUIRE(stored());
  auto stored_at = Clock::now();
  bool found = false;
  while (!found && Clock::now() - stored_at < 25s) {
    auto r = run_webcrawl({"search", "--db", db, "entry0"});
    found = r.status == 0 && r.out.find("/q0") != std::string::npos;
    if (!found) std::this_thread::sleep_for(200ms);
  }
  double waited = std::chrono::duration<double>(Clock::now() - stored_at).count();
  INFO("found after " << waited << " s");
  CHECK(found);
  CHECK(waited < 15);  // StoreWriter::kIndexLag (10 s) and a pass, with slack for a loaded machine
  CHECK(crawl.wait(0) == -1);  // found while the crawl still ran
  crawl.signal(SIGINT);
  CHECK(crawl.wait(10) == 130);
}

TEST_CASE("SIGINT stops the crawl quickly and cleanly with status 130, and it resumes", "[durability]") {
  TestServer server;
  serve_site(server);
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto args = crawl_args(db, server.url("/p0"));
  {
    Background crawl(args, dir.file("log.txt"));
    wait_for_requests(server, 30);
    auto sent = Clock::now();
    crawl.signal(SIGINT);
    int status = crawl.wait(10);
    CHECK(status == 130);
    CHECK(Clock::now() - sent < 5s);
  }
  CHECK(scalar(db, "PRAGMA integrity_check") == "ok");
  std::size_t stored = std::stoul(scalar(db, "SELECT COUNT(*) FROM pages"));
  CHECK(stored >= 20);
  CHECK(stored < static_cast<std::size_t>(kPages));

  auto again = run_webcrawl(args);
  REQUIRE(again.status == 0);
  CHECK(scalar(db, "SELECT COUNT(*) FROM pages") == std::to_string(kPages));
  std::map<std::string, int> count;
  for (auto& req : server.requests()) count[req.path]++;
  for (auto& [path, n] : count) {
    INFO(path);
    CHECK(n == 1);  // a clean stop finishes or abandons in-flight work without losing or repeating it
  }
}

TEST_CASE("SIGTERM stops the crawl with status 0", "[durability]") {
  TestServer server;
  serve_site(server);
  TempDir dir;
  std::string db = dir.file("crawl.db");
  Background crawl(crawl_args(db, server.url("/p0")), dir.file("log.txt"));
  wait_for_requests(server, 10);
  crawl.signal(SIGTERM);
  CHECK(crawl.wait(10) == 0);
  CHECK(scalar(db, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("the database can be queried while a crawl is writing it", "[durability]") {
  TestServer server;
  serve_site(server);
  TempDir dir;
  std::string db = dir.file("crawl.db");
  Background crawl(crawl_args(db, server.url("/p0")), dir.file("log.txt"));
  wait_for_requests(server, 20);
  auto q = run_webcrawl({"query", "--db", db, "--format", "csv", "SELECT count(*) FROM pages"});
  CHECK(q.status == 0);
  auto stats = run_webcrawl({"stats", "--db", db});
  CHECK(stats.status == 0);
  CHECK(crawl.wait(60) == 0);
  CHECK(scalar(db, "SELECT COUNT(*) FROM pages") == std::to_string(kPages));
}

TEST_CASE("seeds given to a resumed crawl are added to it", "[durability]") {
  TestServer server;
  server.on("/a", [](const Request&, Response& r) { r.html("<title>a</title>"); });
  server.on("/b", [](const Request&, Response& r) { r.html("<title>b</title><a href='/c'>c</a>"); });
  server.on("/c", [](const Request&, Response& r) { r.html("<title>c</title>"); });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  REQUIRE(run_webcrawl(crawl_args(db, server.url("/a"))).status == 0);
  REQUIRE(run_webcrawl(crawl_args(db, server.url("/b"))).status == 0);
  REQUIRE(run_webcrawl(crawl_args(db, server.url("/a"))).status == 0);  // already done: nothing to fetch
  CHECK(server.request_count("/a") == 1);
  CHECK(server.request_count("/b") == 1);
  CHECK(server.request_count("/c") == 1);
  CHECK(scalar(db, "SELECT COUNT(*) FROM pages") == "3");
}

TEST_CASE("requests in flight are marked in the frontier and queued again after a kill", "[durability]") {
  TestServer server;
  std::atomic<bool> release{false};
  server.on("/", [](const Request&, Response& r) { r.html("<a href='/slow'>slow</a>"); });
  server.on("/slow", [&](const Request&, Response& r) {
    while (!release && server.wait_unless_stopped(10ms)) {
    }
    r.html("<title>slow</title>");
  });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto args = crawl_args(db, server.url("/"));
  {
    Background crawl(args, dir.file("log.txt"));
    wait_for_requests(server, 2);
    // The crawl is stuck on /slow: the database says so while it waits.
    auto deadline = Clock::now() + 10s;
    std::string state;
    while (Clock::now() < deadline) {
      state = scalar(db, "SELECT state FROM frontier WHERE url = '" + server.url("/slow") + "'");
      if (state == "in_flight") break;
      std::this_thread::sleep_for(10ms);
    }
    CHECK(state == "in_flight");
    crawl.signal(SIGKILL);
    crawl.wait(10);
  }
  release = true;
  REQUIRE(run_webcrawl(args).status == 0);
  CHECK(scalar(db, "SELECT status FROM pages WHERE url = '" + server.url("/slow") + "'") == "200");
  CHECK(server.request_count("/slow") == 2);
}

TEST_CASE("a second SIGINT exits at once and leaves a sound database", "[durability]") {
  TestServer server;
  server.on("/", [&](const Request&, Response& r) {
    server.wait_unless_stopped(20s);  // never answers in time: the first SIGINT must wait for it
    r.html("late");
  });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  Background crawl(crawl_args(db, server.url("/")), dir.file("log.txt"));
  wait_for_requests(server, 1);
  crawl.signal(SIGINT);
  std::this_thread::sleep_for(200ms);
  auto second = Clock::now();
  crawl.signal(SIGINT);
  CHECK(crawl.wait(5) == 130);
  CHECK(Clock::now() - second < 1s);
  CHECK(scalar(db, "PRAGMA integrity_check") == "ok");
}
