// Servers that stall, lie and explode: each case ends as a recorded outcome,
// on time, never as a crash or a hang.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "tests/crawler/crawl_support.h"
#include "tests/support/test_server.h"

using namespace webcrawl;
using namespace webcrawl::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Peak RSS of this test process, which runs the crawl in-process (ctest runs
// each case in a process of its own).
double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// Crawls `path` alone with short timeouts; returns the page's error and status,
// and checks that the crawl's memory stayed bounded.
struct Outcome {
  std::string error;
  std::string status;
  std::string truncated;
  double seconds = 0;
};

Outcome crawl_one(TestServer& server, const std::string& path, double total = 3.0) {
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url(path)});
  o.timeout = total;
  o.connect_timeout = 0.3;
  o.read_timeout = 0.3;
  auto began = Clock::now();
  crawl_ok(o);
  Outcome out;
  out.seconds = std::chrono::duration<double>(Clock::now() - began).count();
  auto row = rows(db, "SELECT error, status, truncated FROM pages");
  REQUIRE(row.size() == 1);
  out.error = row[0][0];
  out.status = row[0][1];
  out.truncated = row[0][2];
  CHECK(peak_rss_mb() < 300);
  return out;
}

}  // namespace

TEST_CASE("a server that never answers is cut at the read timeout", "[hostile]") {
  TestServer server;
  server.on_raw("/silent", [&](int, const Request&) { server.wait_unless_stopped(10s); });
  auto out = crawl_one(server, "/silent");
  CHECK(out.error == "no response: timeout after 0.3s");
  CHECK(out.status == "");
  CHECK(out.seconds < 2.0);
}

TEST_CASE("a body that stalls is cut when the connection goes idle", "[hostile]") {
  TestServer server;
  server.on_raw("/stall", [&](int fd, const Request&) {
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n<p>only part");
    server.wait_unless_stopped(10s);
  });
  auto out = crawl_one(server, "/stall");
  CHECK(out.error == "read idle for 0.3s");
  CHECK(out.seconds < 2.0);
}

TEST_CASE("a server trickling a byte at a time is cut at the total timeout", "[hostile]") {
  TestServer server;
  server.on_raw("/trickle", [&](int fd, const Request&) {
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n");
    while (server.wait_unless_stopped(100ms)) {
      if (!send_all(fd, "x")) return;
    }
  });
  auto out = crawl_one(server, "/trickle", 1.0);
  CHECK(out.error == "timeout after 1s in all");
  CHECK(out.seconds < 3.0);
}

TEST_CASE("a TLS handshake that never completes times out", "[hostile][tls]") {
  TestServer plain;  // speaks HTTP, so our ClientHello gets no answer
  TempDir dir;
  std::string db = dir.file("crawl.db");
  std::string url = "https://127.0.0.1:" + std::to_string(plain.port()) + "/";
  auto o = test_options(db, {url});
  o.connect_timeout = 0.3;
  crawl_ok(o);
  CHECK(scalar(db, "SELECT error FROM pages") == "TLS handshake timeout after 0.3s");
}

TEST_CASE("malformed responses are recorded errors", "[hostile]") {
  TestServer server;
  server.on_raw("/garbage", [](int fd, const Request&) { send_all(fd, "SPDY/9 what is this\r\n\r\n"); });
  server.on_raw("/badchunk", [](int fd, const Request&) {
    send_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
  });
  server.on_raw("/reset", [](int fd, const Request&) {
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial");
    linger reset{1, 0};  // close with RST
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  });
  server.on_raw("/short", [](int fd, const Request&) {
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial");
  });
  server.on_raw("/badgzip", [](int fd, const Request&) {
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot gzip!!");
  });
  CHECK(crawl_one(server, "/garbage").error.rfind("malformed response", 0) == 0);
  CHECK(crawl_one(server, "/badchunk").error.rfind("malformed response", 0) == 0);
  auto reset = crawl_one(server, "/reset");  // a reset, or a FIN when the kernel sent one first
  INFO(reset.error);
  CHECK((reset.error.find("reset") != std::string::npos ||
         reset.error == "connection closed before the response ended"));
  CHECK(crawl_one(server, "/short").error == "connection closed before the response ended");
  CHECK_FALSE(crawl_one(server, "/badgzip").error.empty());
}

TEST_CASE("a body over --max-body is cut, kept and marked truncated", "[hostile]") {
  TestServer server;
  server.on_raw("/huge", [](int fd, const Request&) {
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 50000000\r\n\r\n<p>");
    std::string chunk(64 * 1024, 'a');
    for (int i = 0; i < 800; i++) {
      if (!send_all(fd, chunk)) return;  // the crawler hung up: good
    }
  });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/huge")});
  o.max_body = 100000;
  crawl_ok(o);
  CHECK(scalar(db, "SELECT truncated FROM pages") == "1");
  CHECK(scalar(db, "SELECT status FROM pages") == "200");
  auto length = std::stoul(scalar(db, "SELECT length(text) FROM pages"));
  CHECK(length > 90000);
  CHECK(length <= 100000);
  CHECK(peak_rss_mb() < 300);
}

TEST_CASE("a connect that never completes is cut at the connect timeout", "[hostile]") {
  // A listener whose accept queue is full drops new SYNs: connect() hangs.
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(listener, 0) == 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; i++) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(c);
  }
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {"http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/"});
  o.connect_timeout = 0.3;
  auto began = Clock::now();
  crawl_ok(o);
  CHECK(std::chrono::duration<double>(Clock::now() - began).count() < 2.0);
  CHECK(scalar(db, "SELECT error FROM pages") == "connect timeout after 0.3s");
  for (int c : fillers) close(c);
  close(listener);
}

TEST_CASE("a decompression bomb stops at --max-body", "[hostile]") {
  static const std::string bomb = gzip_compress(std::string(64u << 20, '\0'));  // 64 MiB of zeros, ~64 KB
  TestServer server;
  server.on_raw("/bomb", [](int fd, const Request&) {
    send_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: " +
                     std::to_string(bomb.size()) + "\r\n\r\n" + bomb);
  });
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/bomb")});
  o.max_body = 1u << 20;
  crawl_ok(o);
  CHECK(scalar(db, "SELECT truncated FROM pages") == "1");
  CHECK(std::stoul(scalar(db, "SELECT bytes FROM pages")) <= bomb.size());  // wire bytes, all of them
  CHECK(std::stoul(scalar(db, "SELECT COALESCE(length(CAST(text AS BLOB)), 0) FROM pages")) <= (1u << 20) * 3);  // decoded: capped
  CHECK(peak_rss_mb() < 300);
}

TEST_CASE("binary bytes served as text/html are parsed without harm", "[hostile]") {
  TestServer server;
  server.on("/bin", [](const Request&, Response& r) {
    std::string junk;
    uint32_t x = 12345;
    for (int i = 0; i < 300000; i++) {
      x = x * 1664525u + 1013904223u;
      junk.push_back(static_cast<char>(x >> 24));
    }
    r.text(junk, "text/html");
  });
  auto out = crawl_one(server, "/bin");
  CHECK(out.status == "200");
  CHECK(peak_rss_mb() < 300);
}
