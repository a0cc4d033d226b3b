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
#include <string>
#include <vector>

#include "crawler/fetcher.h"
#include "crawler/uv_util.h"
#include "tests/support/codings.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_ca.h"
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

// ---- the pool ----------------------------------------------------------------

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
