// Ctrl-C answers in every waiting state: a loopback server puts the crawler
// into the state, the test signals it, and checks what the crawler decided:
// its exit status, that nothing reached the server after the signal, that
// the URLs are still queued, and that the next run fetches them.
//
// The exit time is bounded generously (the README promises 3 s, 3.5 s with
// requests in flight; the bound here adds room for a loaded machine under
// ASan): what matters is that no back-off, delay or parking is waited out,
// each of which would take 30 s or more here.
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <thread>

#include "tests/crawler/crawl_support.h"
#include "tests/support/test_server.h"

using namespace webcrawl::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kExitBound = 6.0;  // seconds; every wait below is 30 s or more

// A site whose answers turn good once `healthy` is set.
struct Site {
  TestServer server;
  std::atomic<bool> healthy{false};
};

struct StopResult {
  int status = -1;
  double seconds = 0;                // from the signal to the exit
  std::size_t requests_after = 0;    // that started more than 0.25 s after the signal
};

// Runs `args` in the background until `ready` holds (polled), signals it,
// and times the exit.
template <class Ready>
StopResult stop_when(const std::vector<std::string>& args, const std::string& log, const TestServer& server,
                     Ready ready, int signum = SIGINT) {
  Background crawl(args, log);
  auto deadline = Clock::now() + 30s;
  while (!ready() && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  REQUIRE(ready());
  auto signalled = Clock::now();
  crawl.signal(signum);
  StopResult r;
  r.status = crawl.wait(30);
  r.seconds = std::chrono::duration<double>(Clock::now() - signalled).count();
  for (const auto& req : server.requests()) {
    if (req.start > signalled + 250ms) r.requests_after++;
  }
  return r;
}

// True once the server has sent its full answer to `path`.
bool answered(const TestServer& server, const std::string& path) {
  for (const auto& r : server.requests()) {
    if (r.path == path && r.end.time_since_epoch().count() != 0) return true;
  }
  return false;
}

std::vector<std::string> args_for(const std::string& db, const std::string& seed, std::vector<std::string> extra) {
  std::vector<std::string> a = {"crawl", "--db", db, "--quiet", seed};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

void check_stopped(const StopResult& r, int status = 130) {
  CHECK(r.status == status);
  CHECK(r.seconds < kExitBound);
  CHECK(r.requests_after == 0);
}

// The next run, with the site healthy, fetches what the stopped one left.
void check_resumes(Site& site, const std::string& db, std::vector<std::string> args) {
  site.healthy = true;
  CHECK(scalar(db, "SELECT count(*) FROM frontier WHERE state IN ('queued', 'in_flight')") != "0");
  auto r = run_webcrawl(args, 60);
  CHECK(r.status == 0);
  CHECK(scalar(db, "SELECT count(*) FROM frontier WHERE state IN ('queued', 'in_flight')") == "0");
  CHECK(scalar(db, "SELECT count(*) FROM pages WHERE status = 200 AND url LIKE '%/'") == "1");
}

void serve_home(Site& site, const std::string& links = "") {
  site.server.on("/", [&site, links](const Request&, Response& r) {
    if (!site.healthy && links.empty()) {
      r.status = 503;
      r.text("busy");
      return;
    }
    r.html("<title>home</title>" + links);
  });
}

}  // namespace

TEST_CASE("SIGINT during a robots.txt back-off exits at once", "[stop]") {
  Site site;
  serve_home(site);
  site.server.on("/robots.txt", [&](const Request&, Response& r) {
    if (site.healthy) return r.text("User-agent: *\nAllow: /\n"), void();
    r.status = 503;
    r.text("later");
  });
  TempDir dir;
  std::string db = dir.file("c.db");
  auto r = stop_when(args_for(db, site.server.url("/"), {"--delay", "30"}), dir.file("log"), site.server,
                     [&] { return answered(site.server, "/robots.txt"); });
  check_stopped(r);
  CHECK(site.server.request_count("/") == 0);
  check_resumes(site, db, args_for(db, site.server.url("/"), {"--delay", "0.1"}));
}

TEST_CASE("SIGINT during a retry back-off exits at once", "[stop]") {
  Site site;
  serve_home(site);
  TempDir dir;
  std::string db = dir.file("c.db");
  auto r = stop_when(args_for(db, site.server.url("/"), {"--delay", "30", "--no-robots"}), dir.file("log"),
                     site.server, [&] { return answered(site.server, "/"); });
  check_stopped(r);
  check_resumes(site, db, args_for(db, site.server.url("/"), {"--delay", "0.1", "--no-robots"}));
}

TEST_CASE("SIGINT while a Retry-After is waited for exits at once", "[stop]") {
  Site site;
  site.server.on("/", [&](const Request&, Response& r) {
    if (site.healthy) return r.html("<title>home</title>"), void();
    r.status = 429;
    r.set_header("Retry-After", "120");
    r.text("slow down");
  });
  TempDir dir;
  std::string db = dir.file("c.db");
  auto r = stop_when(args_for(db, site.server.url("/"), {"--delay", "0", "--no-robots"}), dir.file("log"),
                     site.server, [&] { return answered(site.server, "/"); });
  check_stopped(r);
  check_resumes(site, db, args_for(db, site.server.url("/"), {"--delay", "0", "--no-robots"}));
}

TEST_CASE("SIGINT while a host is parked exits at once", "[stop]") {
  Site site;
  serve_home(site, "<a href='/a'>a</a><a href='/b'>b</a>");
  for (const char* p : {"/a", "/b"}) {
    site.server.on(p, [&](const Request&, Response& r) {
      if (site.healthy) return r.html("<p>ok</p>"), void();
      r.status = 503;
      r.text("down");
    });
  }
  TempDir dir;
  std::string db = dir.file("c.db");
  std::vector<std::string> extra = {"--delay", "0", "--no-robots", "--retries", "0", "--park-after", "1",
                                    "--park-seconds", "600"};
  auto r = stop_when(args_for(db, site.server.url("/"), extra), dir.file("log"), site.server,
                     [&] { return answered(site.server, "/a"); });
  check_stopped(r);
  CHECK(site.server.request_count("/b") == 0);
  // /a failed for good (no retries); /b is still queued.
  site.healthy = true;
  CHECK(run_webcrawl(args_for(db, site.server.url("/"), extra), 60).status == 0);
  CHECK(site.server.request_count("/b") == 1);
}

TEST_CASE("SIGINT during a long --delay exits at once", "[stop]") {
  Site site;
  site.healthy = true;
  serve_home(site, "<a href='/next'>next</a>");
  site.server.on("/next", [](const Request&, Response& r) { r.html("<p>next</p>"); });
  TempDir dir;
  std::string db = dir.file("c.db");
  auto r = stop_when(args_for(db, site.server.url("/"), {"--delay", "60", "--no-robots"}), dir.file("log"),
                     site.server, [&] { return answered(site.server, "/"); });
  check_stopped(r);
  CHECK(site.server.request_count("/next") == 0);
  CHECK(rows(db, "SELECT outcome, pages FROM runs") == std::vector<std::vector<std::string>>{{"sigint", "1"}});
}

TEST_CASE("SIGTERM during a robots.txt Crawl-delay exits at once with status 0", "[stop]") {
  Site site;
  site.healthy = true;
  serve_home(site, "<a href='/next'>next</a>");
  site.server.on("/robots.txt", [](const Request&, Response& r) { r.text("User-agent: *\nCrawl-delay: 60\n"); });
  site.server.on("/next", [](const Request&, Response& r) { r.html("<p>next</p>"); });
  TempDir dir;
  std::string db = dir.file("c.db");
  // robots.txt counts against the host's delay, so / waits 60 s after it.
  auto r = stop_when(args_for(db, site.server.url("/"), {"--delay", "0"}), dir.file("log"), site.server,
                     [&] { return answered(site.server, "/robots.txt"); }, SIGTERM);
  check_stopped(r, 0);
  CHECK(site.server.request_count("/") == 0);
  CHECK(scalar(db, "SELECT outcome FROM runs") == "sigterm");
}

TEST_CASE("SIGINT with a request in flight waits its grace, then exits", "[stop]") {
  Site site;
  site.server.on_raw("/", [&](int, const Request&) { site.server.wait_unless_stopped(30s); });
  TempDir dir;
  std::string db = dir.file("c.db");
  auto r = stop_when(args_for(db, site.server.url("/"), {"--delay", "0", "--no-robots"}), dir.file("log"),
                     site.server, [&] { return site.server.request_count("/") == 1; });
  CHECK(r.status == 130);
  CHECK(r.seconds >= 2.9);  // the grace is given
  CHECK(r.seconds < kExitBound + 0.5);
  CHECK(r.requests_after == 0);
  CHECK(scalar(db, "SELECT count(*) FROM frontier WHERE state IN ('queued', 'in_flight')") == "1");
}

TEST_CASE("a few silent and malformed URLs do not park their host", "[stop][parking]") {
  TestServer server;
  std::string links;
  for (int i = 0; i < 40; i++) {
    std::string path = "/good" + std::to_string(i);
    server.on(path, [](const Request&, Response& r) { r.html("<p>good</p>"); });
    links += "<a href='" + path + "'>g</a>";
    if (i % 13 == 6) links += "<a href='/silent" + std::to_string(i) + "'>s</a>";
    if (i % 13 == 9) links += "<a href='/broken" + std::to_string(i) + "'>b</a>";
  }
  server.on("/", [links](const Request&, Response& r) { r.html(links); });
  for (int i = 0; i < 40; i++) {
    server.on_raw("/silent" + std::to_string(i), [&](int, const Request&) { server.wait_unless_stopped(30s); });
    server.on_raw("/broken" + std::to_string(i), [](int fd, const Request&) {
      send_all(fd, "HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok");
    });
  }
  TempDir dir;
  std::string db = dir.file("c.db");
  auto r = run_webcrawl({"crawl", "--db", db, "--quiet", "--no-robots", "--delay", "0", "--retries", "1",
                         "--timeout", "1", "--read-timeout", "0.5", server.url("/")},
                        120);
  REQUIRE(r.status == 0);
  // Every URL has its outcome; nothing waited for parking.
  CHECK(scalar(db, "SELECT count(*) FROM pages") == "47");
  CHECK(scalar(db, "SELECT count(*) FROM pages WHERE error LIKE '%timeout%' OR error LIKE '%idle%'") == "3");
  CHECK(scalar(db, "SELECT count(*) FROM pages WHERE error LIKE 'malformed response%'") == "3");
  CHECK(scalar(db, "SELECT count(*) FROM fetches WHERE wait_reason = 'parked'") == "0");
  // A silent URL is tried twice (one retry); a malformed answer is final.
  CHECK(server.request_count("/silent6") == 2);
  CHECK(server.request_count("/broken9") == 1);
}

TEST_CASE("failing URLs in a row park their host, and the wait is recorded as parked", "[stop][parking]") {
  TestServer server;
  std::string links;
  for (int i = 0; i < 3; i++) links += "<a href='/down" + std::to_string(i) + "'>d</a>";
  links += "<a href='/up'>u</a>";
  server.on("/", [links](const Request&, Response& r) { r.html(links); });
  for (int i = 0; i < 3; i++) {
    server.on("/down" + std::to_string(i), [](const Request&, Response& r) {
      r.status = 503;
      r.text("down");
    });
  }
  server.on("/up", [](const Request&, Response& r) { r.html("<p>up</p>"); });
  TempDir dir;
  std::string db = dir.file("c.db");
  auto r = run_webcrawl({"crawl", "--db", db, "--quiet", "--no-robots", "--delay", "0", "--retries", "0",
                         "--park-after", "2", "--park-seconds", "0.3", server.url("/")});
  REQUIRE(r.status == 0);
  // /down0 and /down1 fail: parked 0.3 s; /down2 fails: parked 0.6 s; then /up.
  auto parked = rows(db, "SELECT url, waited FROM fetches WHERE wait_reason = 'parked' ORDER BY id");
  REQUIRE(parked.size() == 2);
  CHECK(parked[0][0] == server.url("/down2"));
  CHECK(std::stod(parked[0][1]) >= 0.29);
  CHECK(parked[1][0] == server.url("/up"));
  CHECK(std::stod(parked[1][1]) >= 0.59);
}
