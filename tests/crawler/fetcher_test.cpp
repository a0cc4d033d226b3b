// The Fetcher against loopback servers on a real libuv loop: the pool, each
// step of a request and each way it ends. Leaks show up in the sanitized
// build (make asan), where LeakSanitizer fails the test; handles left open
// fail uv_loop_close in every build.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "crawler/fetcher.h"
#include "crawler/uv_util.h"
#include "tests/support/codings.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_ca.h"
#include "tests/support/test_proxy.h"
#include "tests/support/test_server.h"

using namespace webcrawl;
using namespace std::chrono_literals;
using crawler::FetchRequest;
using crawler::FetchResponse;
using crawler::monotonic_seconds;
using testing::Request;
using testing::Response;
using testing::TestServer;

TEST_CASE("a fetcher destroyed during a DNS lookup calls nothing back and leaves nothing behind", "[fetcher]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  auto fetcher = crawler::Fetcher::create(&loop, {});
  REQUIRE(fetcher);
  auto url = parser::parse_url("http://127.0.0.1:9/");
  REQUIRE(url);
  int calls = 0;
  // The lookup is on the thread pool until the loop runs, so it is pending here.
  (*fetcher)->fetch({*url, 5.0, 1024, 10.0, 15.0, {}, false}, [&](crawler::FetchResponse) { calls++; });
  fetcher->reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(calls == 0);
  CHECK(uv_loop_close(&loop) == 0);
}

namespace {

constexpr double kPatience = 30;  // seconds before a test gives up on an event that never comes

FetchRequest request(const std::string& url) {
  auto parsed = parser::parse_url(url);
  REQUIRE(parsed);
  FetchRequest r;
  r.url = *parsed;
  r.timeout = 20;
  return r;
}

std::string error_text(const FetchResponse& r) { return r.error ? r.error->message : ""; }

// What became of one fetch(): how often its callback ran, and with what.
struct Outcome {
  int calls = 0;
  FetchResponse response;
  bool done() const { return calls > 0; }
  bool ok() const { return done() && !response.error; }
  std::string error() const { return error_text(response); }
};

// A loop with a fetcher on it, and the verbs the tests are written in.
struct FetchLoop {
  uv_loop_t loop{};
  std::unique_ptr<crawler::Fetcher> fetcher;
  std::vector<std::shared_ptr<Outcome>> outcomes;
  bool closed = false;

  explicit FetchLoop(crawler::FetcherConfig config = {}) {
    REQUIRE(uv_loop_init(&loop) == 0);
    if (config.user_agent.empty()) config.user_agent = "webcrawl-test/1";
    auto made = crawler::Fetcher::create(&loop, std::move(config));
    REQUIRE(made);
    fetcher = std::move(*made);
  }
  ~FetchLoop() {
    if (!closed) close();
  }

  // Starts a GET; `then` runs inside its callback. The callback never runs
  // inside fetch().
  std::shared_ptr<Outcome> start(FetchRequest r, std::function<void()> then = {}) {
    auto outcome = std::make_shared<Outcome>();
    outcomes.push_back(outcome);
    fetcher->fetch(std::move(r), [outcome, then = std::move(then)](FetchResponse response) {
      outcome->calls++;
      outcome->response = std::move(response);
      if (then) then();
    });
    CHECK(outcome->calls == 0);
    return outcome;
  }
  std::shared_ptr<Outcome> start(const std::string& url, std::function<void()> then = {}) {
    return start(request(url), std::move(then));
  }

  // Runs the loop until `done` holds; fails the test if it never does.
  void run_until(const std::function<bool()>& done) {
    // The watchdog wakes uv_run so that the patience is checked.
    auto* watchdog = new uv_timer_t;
    uv_timer_init(&loop, watchdog);
    uv_timer_start(watchdog, [](uv_timer_t*) {}, 100, 100);
    double give_up = monotonic_seconds() + kPatience;
    while (!done() && monotonic_seconds() < give_up) uv_run(&loop, UV_RUN_ONCE);
    crawler::close_and_delete(watchdog);
    REQUIRE(done());
  }
  void wait_for(const std::shared_ptr<Outcome>& outcome) {
    run_until([&] { return outcome->done(); });
  }

  // One GET, run to its end.
  FetchResponse get(FetchRequest r) {
    auto outcome = start(std::move(r));
    wait_for(outcome);
    return outcome->response;
  }
  FetchResponse get(const std::string& url) { return get(request(url)); }

  // Destroys the fetcher, lets the loop finish closing, and closes it: true
  // when no handle was left behind. Every callback ran at most once.
  bool close() {
    closed = true;
    fetcher.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    for (const auto& outcome : outcomes) CHECK(outcome->calls <= 1);
    return uv_loop_close(&loop) == 0;
  }
};

// A loopback port where a connect stays pending: its listen queue (backlog
// 0 holds one) is kept full by a connection nobody accepts, so the kernel
// drops further SYNs instead of answering them.
class Unanswering {
 public:
  Unanswering() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(0);
    REQUIRE(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(listener_, 0) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    filler_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(connect(filler_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Unanswering() {
    close(filler_);
    close(listener_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

 private:
  int listener_ = -1;
  int filler_ = -1;
  uint16_t port_ = 0;
};

// A loopback port that refuses connections: bound, so nobody else takes it,
// but not listening, so a SYN gets a reset.
class Refusing {
 public:
  Refusing() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Unanswering::loopback(0);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~Refusing() { close(fd_); }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

void hello(const Request&, Response& res) { res.html("<p>hello</p>"); }

// A raw handler that writes `bytes` and lets the server close the connection.
testing::RawHandler writes(std::string bytes) {
  return [bytes = std::move(bytes)](int fd, const Request&) { testing::send_all(fd, bytes); };
}

// A raw handler that writes `bytes`, then holds the connection open until
// the server stops; `wrote` (if given) is set once the bytes are out.
testing::RawHandler writes_then_stalls(const TestServer& server, std::string bytes,
                                       std::atomic<bool>* wrote = nullptr) {
  return [&server, bytes = std::move(bytes), wrote](int fd, const Request&) {
    if (!bytes.empty()) testing::send_all(fd, bytes);
    if (wrote) *wrote = true;
    server.wait_unless_stopped(60s);
  };
}

double seconds_since(std::chrono::steady_clock::time_point t0, std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

// The server's clock and uv_hrtime are both CLOCK_MONOTONIC, but the
// server's arrival time is derived from the kernel's receive timestamp
// through the realtime clock, which costs it a little precision.
constexpr double kClockSlack = 0.005;
// The fetcher takes a deadline within half a millisecond as reached
// (transaction.cpp, on_timer), so an elapsed time may fall that much short.
constexpr double kTimerSlack = 0.001;

}  // namespace

// ---- plain exchanges and the pool ------------------------------------------

TEST_CASE("a GET returns the server's status, headers and body", "[fetcher]") {
  TestServer server;
  server.on("/hello", [](const Request&, Response& res) { res.html("<p>hello</p>").set_header("X-Test", "yes"); });
  FetchLoop f;
  FetchResponse r = f.get(server.url("/hello?q=1"));
  CHECK_FALSE(r.error);
  CHECK(r.status == 200);
  CHECK(r.body == "<p>hello</p>");
  CHECK(r.header("x-test") == "yes");
  CHECK(r.answered);
  CHECK_FALSE(r.reused_connection);
  CHECK(r.remote_address == "127.0.0.1");
  CHECK(r.sent_at > 0);
  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].target == "/hello?q=1");
  CHECK(seen[0].user_agent == "webcrawl-test/1");
  CHECK(f.fetcher->requests_sent() == 1);
  CHECK(f.close());
}

TEST_CASE("a keep-alive connection is reused for the next request to the same origin", "[fetcher]") {
  TestServer server;
  server.on("/a", hello);
  FetchLoop f;
  FetchResponse first = f.get(server.url("/a"));
  FetchResponse second = f.get(server.url("/a"));
  CHECK(first.status == 200);
  CHECK(second.status == 200);
  CHECK_FALSE(first.reused_connection);
  CHECK(second.reused_connection);
  CHECK(server.connection_count() == 1);
  CHECK(f.fetcher->connections_opened() == 1);
  CHECK(f.fetcher->open_connections() == 1);  // idle in the pool
  CHECK(f.close());
}

TEST_CASE("a connection the server ends with Connection: close is not reused", "[fetcher]") {
  TestServer server;
  server.on("/a", [](const Request&, Response& res) { res.html("bye").set_header("Connection", "close"); });
  FetchLoop f;
  CHECK(f.get(server.url("/a")).status == 200);
  FetchResponse second = f.get(server.url("/a"));
  CHECK(second.status == 200);
  CHECK_FALSE(second.reused_connection);
  CHECK(server.connection_count() == 2);
  CHECK(f.close());
}

TEST_CASE("an idle connection the server closes leaves the pool", "[fetcher]") {
  TestServer::Options options;
  options.idle_timeout = 200ms;
  TestServer server(options);
  server.on("/a", hello);
  FetchLoop f;
  CHECK(f.get(server.url("/a")).status == 200);
  f.run_until([&] { return f.fetcher->open_connections() == 0; });
  FetchResponse second = f.get(server.url("/a"));
  CHECK(second.status == 200);
  CHECK_FALSE(second.reused_connection);
  CHECK(server.connection_count() == 2);
  CHECK(f.close());
}

TEST_CASE("a request on a pooled connection the server already closed goes again on a fresh one", "[fetcher]") {
  TestServer server;
  // Keep-alive by its headers, but closed right after: the fetcher pools it.
  server.on_raw("/a", writes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  FetchLoop f;
  std::shared_ptr<Outcome> second;
  // Started from the first one's callback, before the loop reads the close:
  // the pooled connection is taken, found closed, and left for a new one.
  auto first = f.start(server.url("/a"), [&] { second = f.start(server.url("/a")); });
  f.run_until([&] { return second && second->done(); });
  CHECK(first->ok());
  CHECK(second->ok());
  CHECK(second->response.body == "ok");
  CHECK_FALSE(second->response.reused_connection);  // it was, until the retry
  CHECK(server.connection_count() == 2);
  CHECK(server.request_count("/a") == 2);
  CHECK(f.close());
}

TEST_CASE("a request retried after a stale connection is not retried again", "[fetcher]") {
  TestServer server;
  std::atomic<int> served{0};
  server.on_raw("/a", [&](int fd, const Request&) {
    // The first request gets an answer; every later one only a close.
    if (served++ == 0) testing::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  FetchLoop f;
  std::shared_ptr<Outcome> second;
  auto first = f.start(server.url("/a"), [&] { second = f.start(server.url("/a")); });
  f.run_until([&] { return second && second->done(); });
  CHECK(first->ok());
  CHECK(second->response.error);
  CHECK(second->error() == "connection closed without a response");
  CHECK(server.request_count("/a") == 2);
  CHECK(f.close());
}

TEST_CASE("a refused connection ends with \"connect: connection refused\"", "[fetcher]") {
  // "localhost" has one address here (/etc/hosts: 127.0.0.1 only), so the
  // fallback to a host's next address cannot be shown on this machine; this
  // is the error the last address gives.
  Refusing port;
  FetchLoop f;
  FetchResponse r = f.get(port.url());
  REQUIRE(r.error);
  CHECK(r.error->code == Code::kNetwork);
  CHECK(r.error->message == "connect: connection refused");
  CHECK_FALSE(r.answered);
  CHECK_FALSE(r.status);
  CHECK(r.sent_at == 0);
  CHECK(f.close());
}

TEST_CASE("interim 1xx responses are skipped and the final response is returned", "[fetcher]") {
  TestServer server;
  server.on_raw("/a", writes("HTTP/1.1 100 Continue\r\n\r\n"
                             "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                             "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"));
  FetchLoop f;
  FetchResponse r = f.get(server.url("/a"));
  CHECK_FALSE(r.error);
  CHECK(r.status == 200);
  CHECK(r.body == "final");
  CHECK(r.header("Link").empty());
  CHECK(f.close());
}

// ---- timeouts ----------------------------------------------------------------

TEST_CASE("a connect nobody answers ends with \"connect timeout\"", "[fetcher]") {
  Unanswering port;
  FetchLoop f;
  FetchRequest r = request(port.url());
  r.connect_timeout = 0.5;
  FetchResponse response = f.get(r);
  REQUIRE(response.error);
  CHECK(response.error->code == Code::kTimeout);
  CHECK(response.error->message == "connect timeout after 0.5s");
  CHECK(response.elapsed >= 0.5 - kTimerSlack);
  CHECK(f.close());
}

TEST_CASE("a server that never answers ends with \"no response: timeout\"", "[fetcher]") {
  TestServer server;
  server.on_raw("/silent", writes_then_stalls(server, ""));
  FetchLoop f;
  FetchRequest r = request(server.url("/silent"));
  r.read_timeout = 0.5;
  FetchResponse response = f.get(r);
  REQUIRE(response.error);
  CHECK(response.error->code == Code::kTimeout);
  CHECK(response.error->message == "no response: timeout after 0.5s");
  CHECK(response.sent_at > 0);
  CHECK(response.elapsed >= 0.5 - kTimerSlack);
  CHECK_FALSE(response.answered);
  CHECK(f.close());
}

TEST_CASE("a server that stops mid-body ends with \"read idle\", keeping the head", "[fetcher]") {
  TestServer server;
  server.on_raw("/half", writes_then_stalls(server, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf"));
  FetchLoop f;
  FetchRequest r = request(server.url("/half"));
  r.read_timeout = 0.5;
  FetchResponse response = f.get(r);
  REQUIRE(response.error);
  CHECK(response.error->code == Code::kTimeout);
  CHECK(response.error->message == "read idle for 0.5s");
  CHECK(response.status == 200);
  CHECK(response.answered);
  CHECK(response.elapsed >= 0.5 - kTimerSlack);
  CHECK(f.close());
}

TEST_CASE("a server that trickles bytes is cut by the total timeout", "[fetcher]") {
  TestServer server;
  server.on_raw("/trickle", [&](int fd, const Request&) {
    testing::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
    while (server.wait_unless_stopped(50ms) && testing::send_all(fd, "x")) {
    }
  });
  FetchLoop f;
  FetchRequest r = request(server.url("/trickle"));
  r.timeout = 1.0;
  r.read_timeout = 5.0;  // never idle that long
  FetchResponse response = f.get(r);
  REQUIRE(response.error);
  CHECK(response.error->code == Code::kTimeout);
  CHECK(response.error->message == "timeout after 1s in all");
  CHECK(response.elapsed >= 1.0 - kTimerSlack);
  CHECK(response.status == 200);
  CHECK(f.close());
}

// ---- the send gate -------------------------------------------------------------

TEST_CASE("the send gate holds a request back until it lets it go", "[fetcher]") {
  TestServer server;
  server.on("/a", hello);
  FetchLoop f;
  double release = 0;
  std::vector<std::pair<std::string, std::string>> asked;
  f.fetcher->set_send_gate([&](const std::string& origin, const std::string& address) {
    asked.emplace_back(origin, address);
    return release - monotonic_seconds();  // a gate answers with the time left
  });
  double sent = 0;
  f.fetcher->set_send_hook([&](const std::string&, const std::string&, double at) { sent = at; });
  auto t0 = std::chrono::steady_clock::now();
  double start = monotonic_seconds();
  release = start + 0.3;
  FetchResponse r = f.get(server.url("/a"));
  CHECK(r.status == 200);
  CHECK(sent >= release);
  CHECK(r.sent_at == sent);
  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seconds_since(t0, seen[0].start) >= 0.3 - kClockSlack);
  REQUIRE(asked.size() >= 2);  // asked, held, asked again
  CHECK(asked[0] == std::pair<std::string, std::string>(server.origin(), "127.0.0.1"));
  CHECK(f.close());
}

TEST_CASE("time held at the send gate does not count against the total timeout", "[fetcher]") {
  TestServer server;
  server.on("/slow", [](const Request&, Response& res) { res.html("late").delay(600ms); });
  FetchLoop f;
  double release = monotonic_seconds() + 1.5;
  f.fetcher->set_send_gate([&](const std::string&, const std::string&) { return release - monotonic_seconds(); });
  FetchRequest r = request(server.url("/slow"));
  r.timeout = 2.0;  // over before the answer (1.5 s + 0.6 s), but for the 1.5 s at the gate
  FetchResponse response = f.get(r);
  INFO(error_text(response));
  CHECK_FALSE(response.error);
  CHECK(response.body == "late");
  CHECK(response.elapsed >= 2.1);
  CHECK(f.close());
}

// ---- cancel_unsent and destruction ---------------------------------------------

TEST_CASE("cancel_unsent ends resolving, connecting and gated requests with kCancelled, from the next tick",
          "[fetcher]") {
  TestServer server;
  server.on("/gated", hello);
  Unanswering silent;
  FetchLoop f;
  int gate_calls = 0;
  f.fetcher->set_send_gate([&](const std::string&, const std::string&) {
    gate_calls++;
    return 60.0;
  });
  auto connecting = f.start(silent.url());
  // The lookup's callback starts the connect, which then hangs.
  f.run_until([&] { return f.fetcher->lookups_running() == 0; });
  auto gated = f.start(server.url("/gated"));
  f.run_until([&] { return gate_calls == 1; });
  auto resolving = f.start("http://localhost:" + std::to_string(server.port()) + "/resolving");
  REQUIRE(f.fetcher->lookups_running() == 1);
  f.fetcher->cancel_unsent();
  CHECK_FALSE(connecting->done());
  CHECK_FALSE(gated->done());
  CHECK_FALSE(resolving->done());
  uv_run(&f.loop, UV_RUN_NOWAIT);  // one tick
  for (const auto& outcome : {connecting, gated, resolving}) {
    REQUIRE(outcome->done());
    REQUIRE(outcome->response.error);
    CHECK(outcome->response.error->code == Code::kCancelled);
  }
  CHECK(f.fetcher->requests_sent() == 0);
  CHECK(f.close());
  CHECK(server.requests().empty());
}

TEST_CASE("cancel_unsent leaves a request that was already sent alone", "[fetcher]") {
  TestServer server;
  server.on("/slow", [](const Request&, Response& res) { res.html("done").delay(300ms); });
  FetchLoop f;
  bool sent = false;
  f.fetcher->set_send_hook([&](const std::string&, const std::string&, double) { sent = true; });
  auto outcome = f.start(server.url("/slow"));
  f.run_until([&] { return sent; });
  f.fetcher->cancel_unsent();
  f.wait_for(outcome);
  CHECK(outcome->ok());
  CHECK(outcome->response.body == "done");
  CHECK(f.close());
}

TEST_CASE("a fetcher destroyed with requests in every phase calls nothing back, and the loop closes",
          "[fetcher]") {
  TestServer server;
  TestServer gate_server;  // the gate holds this origin's requests only
  TestServer idle_server;  // leaves a connection idle in the pool
  std::atomic<bool> head_awaited{false};
  std::atomic<bool> body_started{false};
  server.on_raw("/head", writes_then_stalls(server, "", &head_awaited));
  server.on_raw("/body", writes_then_stalls(server, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart",
                                            &body_started));
  gate_server.on("/gated", hello);
  idle_server.on("/idle", hello);
  Unanswering silent;
  FetchLoop f;
  int gate_calls = 0;
  f.fetcher->set_send_gate([&](const std::string& origin, const std::string&) {
    if (origin != gate_server.origin()) return 0.0;
    gate_calls++;
    return 60.0;
  });
  auto waiting_for_head = f.start(server.url("/head"));
  auto mid_body = f.start(server.url("/body"));
  auto gated = f.start(gate_server.url("/gated"));
  auto connecting = f.start(silent.url());
  f.run_until([&] { return head_awaited && body_started && gate_calls == 1 && f.fetcher->lookups_running() == 0; });
  // The body's first bytes were on loopback before the flag was set, so
  // the next poll reads them.
  uv_run(&f.loop, UV_RUN_NOWAIT);
  CHECK(f.get(idle_server.url("/idle")).status == 200);
  auto resolving = f.start("http://localhost:" + std::to_string(server.port()) + "/resolving");
  CHECK(f.fetcher->active() == 5);
  CHECK(f.fetcher->open_connections() == 5);  // four in use, one idle
  CHECK(f.close());
  for (const auto& outcome : {waiting_for_head, mid_body, gated, connecting, resolving}) CHECK(outcome->calls == 0);
}

// ---- raw bytes for WARC ----------------------------------------------------------

TEST_CASE("keep_raw keeps the request as the server received it and the response as sent", "[fetcher]") {
  const std::string gzipped = testing::gzip("<p>compressed page</p>");
  std::ostringstream wire;
  wire << "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
       << std::hex << 10 << "\r\n" << gzipped.substr(0, 10) << "\r\n"
       << std::hex << gzipped.size() - 10 << "\r\n" << gzipped.substr(10) << "\r\n0\r\n\r\n";
  const std::string response = wire.str();
  TestServer server;
  server.on_raw("/page", writes(response));
  FetchLoop f;
  FetchRequest r = request(server.url("/page"));
  r.keep_raw = true;
  r.headers = {{"X-Trace", "42"}};
  FetchResponse got = f.get(r);
  INFO(error_text(got));
  REQUIRE_FALSE(got.error);
  CHECK(got.body == "<p>compressed page</p>");
  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(got.raw_request == seen[0].head);
  CHECK_THAT(got.raw_request, Catch::Contains("\r\nX-Trace: 42\r\n"));
  CHECK(got.raw_response == response);
  CHECK(got.head_size == response.find("\r\n\r\n") + 4);
  CHECK(got.payload_sha1 == testing::sha1(gzipped));
  CHECK(got.wire_bytes == static_cast<int64_t>(gzipped.size()));
  CHECK(f.close());
}

TEST_CASE("without keep_raw nothing raw is kept", "[fetcher]") {
  TestServer server;
  server.on("/a", hello);
  FetchLoop f;
  FetchResponse got = f.get(server.url("/a"));
  CHECK(got.raw_request.empty());
  CHECK(got.raw_response.empty());
  CHECK(got.payload_sha1.empty());
  CHECK(f.close());
}

// ---- HTTPS ------------------------------------------------------------------------

namespace {

// A TLS test server whose certificate a CA file vouches for, and that file.
struct TlsSite {
  testing::TestCa ca;
  testing::TempDir dir;
  std::string ca_file = dir.file("ca.pem").string();
  TestServer server{tls_options(ca)};

  TlsSite() {
    REQUIRE(ca.write_pem(ca_file));
    server.on("/secret", [](const Request&, Response& res) { res.html("over TLS"); });
  }
  static TestServer::Options tls_options(const testing::TestCa& ca) {
    TestServer::Options options;
    options.tls = ca.issue({"localhost"}, {"127.0.0.1"});
    return options;
  }
  crawler::FetcherConfig trusting() const {
    crawler::FetcherConfig config;
    config.ca_file = ca_file;
    return config;
  }
};

}  // namespace

TEST_CASE("an https URL is fetched from a server the CA file vouches for", "[fetcher]") {
  TlsSite site;
  FetchLoop f(site.trusting());
  FetchResponse got = f.get(site.server.url("/secret"));
  INFO(error_text(got));
  CHECK(got.status == 200);
  CHECK(got.body == "over TLS");
  FetchResponse again = f.get(site.server.url("/secret"));
  CHECK(again.reused_connection);
  CHECK(site.server.connection_count() == 1);
  CHECK(f.close());
}

TEST_CASE("an https server whose certificate nobody vouches for fails with kTls", "[fetcher]") {
  TlsSite site;
  TlsSite other;  // trusted, but not the CA that signed site's certificate
  FetchLoop f(other.trusting());
  FetchResponse got = f.get(site.server.url("/secret"));
  REQUIRE(got.error);
  CHECK(got.error->code == Code::kTls);
  CHECK_THAT(got.error->message, Catch::Contains("certificate verify failed"));
  CHECK(got.sent_at == 0);
  CHECK(f.close());
  CHECK(site.server.requests().empty());
}

// The crawler closes its loop at once when create() fails, so a failed
// create() must leave nothing on it, not even a handle still closing.
TEST_CASE("a CA file that cannot be loaded fails Fetcher::create with kTls, leaving the loop as it was",
          "[fetcher]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  crawler::FetcherConfig config;
  config.ca_file = "/nonexistent/ca.pem";
  auto made = crawler::Fetcher::create(&loop, config);
  REQUIRE_FALSE(made);
  CHECK(made.error().code == Code::kTls);
  CHECK_THAT(made.error().message, Catch::Contains("/nonexistent/ca.pem"));
  CHECK(uv_loop_close(&loop) == 0);
}

// ---- through an HTTP proxy ----------------------------------------------------------

namespace {

crawler::FetcherConfig via(const testing::TestProxy& proxy, crawler::FetcherConfig config = {}) {
  auto url = parser::parse_url(proxy.url());
  REQUIRE(url);
  config.proxy = crawler::ProxyConfig{*url, {}};
  return config;
}

}  // namespace

TEST_CASE("an http URL goes through the proxy in absolute form", "[fetcher]") {
  TestServer server;
  server.on("/a", hello);
  testing::TestProxy proxy;
  FetchLoop f(via(proxy));
  FetchResponse got = f.get(server.url("/a?x=1"));
  INFO(error_text(got));
  CHECK(got.status == 200);
  CHECK(got.body == "<p>hello</p>");
  CHECK(proxy.request_lines() == std::vector<std::string>{"GET " + server.url("/a?x=1") + " HTTP/1.1"});
  CHECK(server.request_count("/a") == 1);
  CHECK(f.close());
}

TEST_CASE("an https URL goes through a CONNECT tunnel, verified end to end", "[fetcher]") {
  TlsSite site;
  testing::TestProxy proxy;
  FetchLoop f(via(proxy, site.trusting()));
  FetchResponse got = f.get(site.server.url("/secret"));
  INFO(error_text(got));
  CHECK(got.status == 200);
  CHECK(got.body == "over TLS");
  CHECK(proxy.request_lines() ==
        std::vector<std::string>{"CONNECT 127.0.0.1:" + std::to_string(site.server.port()) + " HTTP/1.1"});
  CHECK(f.close());
}

TEST_CASE("a tunnel to a server nobody vouches for fails with kTls", "[fetcher]") {
  TlsSite site;
  TlsSite other;
  testing::TestProxy proxy;
  FetchLoop f(via(proxy, other.trusting()));
  FetchResponse got = f.get(site.server.url("/secret"));
  REQUIRE(got.error);
  CHECK(got.error->code == Code::kTls);
  CHECK(f.close());
}

TEST_CASE("a proxy that answers the CONNECT with 407 ends the request with that status", "[fetcher]") {
  TlsSite site;
  testing::TestProxy::Options options;
  options.refuse_connect_with = 407;
  testing::TestProxy proxy(options);
  FetchLoop f(via(proxy, site.trusting()));
  FetchResponse got = f.get(site.server.url("/secret"));
  REQUIRE(got.error);
  CHECK(got.error->message == "proxy: CONNECT answered 407");
  CHECK(site.server.connection_count() == 0);
  CHECK(f.close());
}

TEST_CASE("an unreachable proxy ends the request with \"proxy: connect\"", "[fetcher]") {
  TestServer server;
  server.on("/a", hello);
  Refusing port;
  crawler::FetcherConfig config;
  auto proxy_url = parser::parse_url("http://127.0.0.1:" + std::to_string(port.port()));
  REQUIRE(proxy_url);
  config.proxy = crawler::ProxyConfig{*proxy_url, {}};
  FetchLoop f(config);
  FetchResponse got = f.get(server.url("/a"));
  REQUIRE(got.error);
  CHECK_THAT(got.error->message, Catch::StartsWith("proxy: connect"));
  CHECK(server.requests().empty());
  CHECK(f.close());
}

TEST_CASE("a no_proxy host is fetched directly", "[fetcher]") {
  TestServer server;
  server.on("/a", hello);
  testing::TestProxy proxy;
  crawler::FetcherConfig config = via(proxy);
  config.proxy->no_proxy = {"127.0.0.1"};
  FetchLoop f(config);
  FetchResponse got = f.get(server.url("/a"));
  CHECK(got.status == 200);
  CHECK(proxy.request_lines().empty());
  CHECK(server.request_count("/a") == 1);
  CHECK(f.close());
}
