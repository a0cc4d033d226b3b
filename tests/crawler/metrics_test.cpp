// --metrics: the exposition text, the address and request checks, and the
// endpoint scraped over plain sockets during loopback crawls: counters only
// grow, the last pages figure is the database's, promtool finds nothing
// wrong, a silent client holds nothing, and bad values or a port in use stop
// the crawl before it sends anything.
#include "crawler/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "tests/crawler/crawl_support.h"
#include "tests/support/process.h"
#include "tests/support/test_server.h"

using namespace webcrawl;
using namespace webcrawl::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A loopback port nothing listens on: bound, then released.
uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
  close(fd);
  return ntohs(sa.sin_port);
}

// A blocking client socket to 127.0.0.1:port; -1 when nothing listens.
int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Everything until the peer closes (or 10 s of silence).
std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

struct Answer {
  int status = 0;  // 0: nothing listened or nothing came back
  std::string head, body;
};

Answer ask(uint16_t port, const std::string& request) {
  Answer a;
  int fd = connect_to(port);
  if (fd < 0) return a;
  send_all(fd, request);
  std::string all = read_all(fd);
  close(fd);
  std::size_t end = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return a;
  a.status = std::stoi(all.substr(9, 3));
  a.head = all.substr(0, end + 4);
  a.body = all.substr(end + 4);
  return a;
}

Answer scrape(uint16_t port, const std::string& path = "/metrics", const std::string& method = "GET") {
  return ask(port, method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}

// "name{labels}" -> value, for every sample line.
std::map<std::string, double> samples(const std::string& body) {
  std::map<std::string, double> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

// ---- the pure parts ----

TEST_CASE("metrics: every metric has HELP and TYPE, and hosts waiting show each reason", "[metrics]") {
  crawler::MetricsSnapshot s;
  s.pages_stored = 5;
  s.requests = 7;
  s.errors = {{"http 4xx", 1}, {"time\"out\\\n", 2}};
  s.waiting = {{"host delay", 3}, {"back-off", 1}, {"robots.txt", 2}, {"something new", 4}};
  std::string text = crawler::format_metrics(s);
  for (const char* name : {"webcrawl_pages_stored_total", "webcrawl_requests_total", "webcrawl_response_bytes_total",
                           "webcrawl_errors_total", "webcrawl_requests_in_flight", "webcrawl_urls_queued",
                           "webcrawl_hosts_waiting", "webcrawl_parse_queue_depth", "webcrawl_writer_queue_depth",
                           "webcrawl_resident_memory_bytes"}) {
    CHECK(text.find(std::string("# HELP ") + name + " ") != std::string::npos);
    CHECK(text.find(std::string("# TYPE ") + name + " ") != std::string::npos);
  }
  auto values = samples(text);
  CHECK(values["webcrawl_pages_stored_total"] == 5);
  CHECK(values["webcrawl_errors_total{kind=\"http 4xx\"}"] == 1);
  CHECK(values["webcrawl_errors_total{kind=\"time\\\"out\\\\\\n\"}"] == 2);
  CHECK(values["webcrawl_hosts_waiting{reason=\"delay\"}"] == 3);
  CHECK(values["webcrawl_hosts_waiting{reason=\"backoff\"}"] == 1);
  CHECK(values["webcrawl_hosts_waiting{reason=\"robots-txt\"}"] == 2);
  CHECK(values["webcrawl_hosts_waiting{reason=\"something-new\"}"] == 4);
  CHECK(values.count("webcrawl_hosts_waiting{reason=\"parked\"}") == 1);
  CHECK(values["webcrawl_hosts_waiting{reason=\"parked\"}"] == 0);
  CHECK(crawler::resident_memory_bytes() > 1000000);
}

TEST_CASE("metrics: listen addresses and request lines", "[metrics]") {
  auto v4 = crawler::parse_listen_address("127.0.0.1:9100");
  REQUIRE(v4);
  CHECK(v4->ip == "127.0.0.1");
  CHECK(v4->port == 9100);
  auto v6 = crawler::parse_listen_address("[::1]:9100");
  REQUIRE(v6);
  CHECK(v6->ip == "::1");
  CHECK(crawler::parse_listen_address("localhost:1")->ip == "127.0.0.1");
  CHECK(crawler::parse_listen_address(":9100")->ip == "0.0.0.0");
  for (const char* bad : {"", "9100", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:9x",
                          "example.org:9100", "[::1:9100", "::1:9100", "1.2.3:80"}) {
    INFO(bad);
    auto r = crawler::parse_listen_address(bad);
    REQUIRE(!r);
    CHECK(r.error().code == Code::kInvalidArgument);
    CHECK(r.error().message.rfind("--metrics: ", 0) == 0);
  }
  CHECK(crawler::metrics_status("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n") == 200);
  CHECK(crawler::metrics_status("HEAD /metrics?x=1 HTTP/1.0\r\n\r\n") == 200);
  CHECK(crawler::metrics_status("GET / HTTP/1.1\r\n\r\n") == 404);
  CHECK(crawler::metrics_status("GET /metricsx HTTP/1.1\r\n\r\n") == 404);
  CHECK(crawler::metrics_status("POST /metrics HTTP/1.1\r\n\r\n") == 405);
  CHECK(crawler::metrics_status("GET /metrics\r\n\r\n") == 400);
  CHECK(crawler::metrics_status("hello\n\n") == 400);
}

// ---- scraped during crawls ----

TEST_CASE("metrics: scraped during a crawl, counters never go down and pages match the database", "[metrics]") {
  TestServer site;
  constexpr int kPages = 20;
  std::string hub = "<title>hub</title>";
  for (int i = 0; i < kPages; i++) {
    hub += "<a href='/p" + std::to_string(i) + "'>p</a>";
    site.on("/p" + std::to_string(i), [](const Request&, Response& r) { r.html("<title>p</title>").delay(30ms); });
  }
  hub += "<a href='/missing'>m</a><a href='/stall'>s</a>";  // one host, one at a time: the stall comes last
  site.on("/", [hub](const Request&, Response& r) { r.html(hub); });
  site.on("/missing", [](const Request&, Response& r) { r.status = 404; });
  // Keeps the crawl from ending, so that a scrape sees everything else committed.
  site.on("/stall", [&site](const Request&, Response& r) {
    site.wait_unless_stopped(120s);
    r.html("late");
  });
  TempDir dir;
  std::string db = dir.file("c.db").string();
  uint16_t port = free_port();
  Background crawl({"crawl", "--db", db, "--quiet", "--no-robots", "--delay", "0", "--retries", "0", "--timeout",
                    "300", "--read-timeout", "300", "--metrics", "127.0.0.1:" + std::to_string(port), site.url("/")},
                   dir.file("log").string());

  std::map<std::string, double> last;
  std::string body;
  int scrapes = 0;
  const int stored_all = kPages + 2;  // the hub, the pages, the 404
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    Answer a = scrape(port);
    if (a.status != 200) {
      std::this_thread::sleep_for(10ms);
      continue;
    }
    scrapes++;
    CHECK(a.head.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != std::string::npos);
    CHECK(a.head.find("Connection: close\r\n") != std::string::npos);
    auto now = samples(a.body);
    for (const auto& [name, value] : last) {
      if (name.find("_total") == std::string::npos) continue;
      INFO(name);
      CHECK(now[name] >= value);
    }
    last = now;
    body = a.body;
    if (now["webcrawl_pages_stored_total"] == stored_all && now["webcrawl_requests_in_flight"] == 1 &&
        now["webcrawl_writer_queue_depth"] == 0 && now["webcrawl_parse_queue_depth"] == 0) {
      break;
    }
    std::this_thread::sleep_for(15ms);
  }
  CHECK(scrapes >= 3);
  REQUIRE(last["webcrawl_pages_stored_total"] == stored_all);
  CHECK(std::stoi(scalar(db, "SELECT count(*) FROM pages")) == stored_all);
  CHECK(last["webcrawl_requests_total"] == stored_all + 1);  // the stall's request is written too
  CHECK(last["webcrawl_errors_total{kind=\"http 4xx\"}"] == 1);
  CHECK(last["webcrawl_response_bytes_total"] > 0);
  CHECK(last["webcrawl_urls_queued"] == 0);
  CHECK(last["webcrawl_resident_memory_bytes"] > 1000000);

  std::string promtool = find_program("promtool");
  if (promtool.empty()) {
    WARN("promtool is not installed (Debian package prometheus): the exposition was not checked with it");
  } else {
    fs::path scraped = dir.write("scraped.txt", body);
    auto check = run_program({promtool, "check", "metrics"}, 30, scraped.string());
    INFO(body);
    CHECK(check.status == 0);
    CHECK(check.out + check.err == "");
  }

  CHECK(scrape(port, "/").status == 404);
  CHECK(scrape(port, "/metrics", "POST").status == 405);
  Answer head = scrape(port, "/metrics", "HEAD");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  Answer huge = ask(port, "GET /metrics HTTP/1.1\r\nX-Pad: " + std::string(10000, 'a'));
  CHECK(huge.status == 431);

  // Ctrl-C still ends the crawl after the grace period for what is in flight.
  crawl.signal(SIGINT);
  CHECK(crawl.wait(30) == 130);
  CHECK(scrape(port).status == 0);  // closed with the crawl
}

TEST_CASE("metrics: a client that never finishes its request holds neither the loop nor the crawl", "[metrics]") {
  TestServer site;
  site.on("/", [](const Request&, Response& r) { r.html("<a href='/a'>a</a><a href='/b'>b</a>").delay(200ms); });
  site.on("/a", [](const Request&, Response& r) { r.html("a").delay(200ms); });
  site.on("/b", [](const Request&, Response& r) { r.html("b").delay(200ms); });
  TempDir dir;
  uint16_t port = free_port();
  auto o = test_options(dir.file("c.db").string(), {site.url("/")});
  o.metrics = "127.0.0.1:" + std::to_string(port);

  std::atomic<int> silent_fd{-1};
  Answer during;
  std::thread client([&] {
    // The port is bound before the crawl's loop runs; keep trying until then.
    int fd = -1;
    for (int i = 0; i < 500 && fd < 0; i++) {
      fd = connect_to(port);
      if (fd < 0) std::this_thread::sleep_for(5ms);
    }
    if (fd < 0) return;
    send_all(fd, "GET /metr");  // and nothing more
    silent_fd = fd;
    during = scrape(port);
  });
  auto summary = crawl_ok(o);  // fails when a handle is left open
  client.join();
  CHECK(summary.pages == 3);
  CHECK(during.status == 200);
  REQUIRE(silent_fd >= 0);
  // The crawl closed the silent connection when it ended.
  char byte;
  CHECK(recv(silent_fd, &byte, 1, 0) <= 0);
  close(silent_fd);
}

TEST_CASE("metrics: a bad --metrics value is one line and exit 2, before anything is created", "[metrics][cli]") {
  TestServer site;
  TempDir dir;
  std::string db = dir.file("c.db").string();
  for (const char* bad : {"nonsense", "127.0.0.1:0", "127.0.0.1:70000", "example.org:9100", ":"}) {
    INFO(bad);
    auto r = run_webcrawl({"crawl", "--quiet", "--db", db, "--metrics", bad, site.url("/")});
    CHECK(r.status == 2);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.rfind("webcrawl: --metrics: '", 0) == 0);
  }
  CHECK(!fs::exists(db));
  CHECK(site.requests().empty());
}

TEST_CASE("metrics: a port in use is one line and exit 1, before any request or file", "[metrics][cli]") {
  TestServer site;
  TestServer busy;
  TempDir dir;
  std::string db = dir.file("c.db").string();
  std::string address = "127.0.0.1:" + std::to_string(busy.port());
  auto r = run_webcrawl({"crawl", "--quiet", "--db", db, "--metrics", address, site.url("/")});
  CHECK(r.status == 1);
  CHECK(r.err == "webcrawl: --metrics " + address + ": Address already in use\n");
  CHECK(site.requests().empty());
  CHECK(busy.requests().empty());
  CHECK(!fs::exists(db));
}
