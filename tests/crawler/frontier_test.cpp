// The scheduler as pure bookkeeping: no loop, no sockets, times given by hand.
#include <catch2/catch.hpp>

#include "crawler/frontier.h"

using webcrawl::crawler::Frontier;
using webcrawl::storage::QueuedUrl;

namespace {

// The time the frontier sees when it notes that a host became ready.
double test_now = 0;
const Frontier::Clock test_clock = [] { return test_now; };

QueuedUrl url(int64_t id, const std::string& origin) {
  return QueuedUrl{id, origin + "/" + std::to_string(id), origin, 1, 0};
}

Frontier::Policy policy(double delay, int per_host, int concurrency, std::size_t window = 0) {
  Frontier::Policy p;
  p.delay = delay;
  p.per_host = per_host;
  p.concurrency = concurrency;
  p.window = window;
  return p;
}

}  // namespace

TEST_CASE("a host's next request waits for its delay while other hosts go ahead", "[frontier]") {
  Frontier f(policy(1.0, 1, 10), test_clock);
  f.push(url(1, "http://a"));
  f.push(url(2, "http://a"));
  f.push(url(3, "http://b"));

  auto first = f.pop(100.0);
  REQUIRE(first);
  CHECK(first->url.id == 1);
  f.sent("http://a", "10.0.0.1", 100.0);
  f.finished("http://a");
  auto second = f.pop(100.0);
  REQUIRE(second);
  CHECK(second->url.id == 3);  // a must wait; b is ready
  f.finished("http://b");
  CHECK_FALSE(f.pop(100.5));
  CHECK(*f.next_ready_time() >= 101.0);
  CHECK_FALSE(f.pop(101.0));  // the margin keeps the host's gap above the delay
  auto third = f.pop(101.1);
  REQUIRE(third);
  CHECK(third->url.id == 2);
}

TEST_CASE("per-host and global caps bound what is in flight", "[frontier]") {
  Frontier f(policy(0, 2, 3), test_clock);
  for (int i = 0; i < 5; i++) f.push(url(i + 1, "http://a"));
  for (int i = 0; i < 5; i++) f.push(url(i + 10, "http://b"));
  int a = 0, b = 0;
  while (auto job = f.pop(0)) (job->url.origin == "http://a" ? a : b)++;
  CHECK(a + b == 3);
  CHECK(a <= 2);
  CHECK(b <= 2);
  CHECK(f.in_flight() == 3);
  f.finished("http://a");
  CHECK(f.pop(0));
  CHECK_FALSE(f.pop(0));
}

TEST_CASE("the send gate holds a request until the host's gap has passed", "[frontier]") {
  Frontier f(policy(2.0, 2, 10), test_clock);
  f.push(url(1, "http://a"));
  f.sent("http://a", "10.0.0.1", 50.0);
  CHECK(f.send_wait("http://a", "10.0.0.1", 51.0) == Approx(1.0 + Frontier::kMarginBase + 2.0 * Frontier::kMarginShare));
  CHECK(f.send_wait("http://a", "10.0.0.1", 53.0) == 0.0);
  CHECK(f.send_wait("http://unknown", "10.0.0.1", 0) == 0.0);
}

TEST_CASE("a cancelled start does not cost the host its delay", "[frontier]") {
  Frontier f(policy(5.0, 1, 10), test_clock);
  f.push(url(1, "http://a"));
  f.push(url(2, "http://a"));
  auto job = f.pop(10.0);
  REQUIRE(job);
  f.cancel("http://a");  // e.g. robots.txt disallowed it: nothing was sent
  auto next = f.pop(10.0);
  REQUIRE(next);
  CHECK(next->url.id == 2);
}

TEST_CASE("a blocked host starts nothing until unblocked", "[frontier]") {
  Frontier f(policy(0, 1, 10), test_clock);
  f.push(url(1, "http://a"));
  f.set_blocked("http://a", true);
  CHECK_FALSE(f.pop(0));
  f.set_blocked("http://a", false);
  CHECK(f.pop(0));
}

TEST_CASE("retries go first, after their back-off", "[frontier]") {
  Frontier f(policy(0, 1, 10), test_clock);
  f.push(url(1, "http://a"));
  f.push(url(2, "http://a"));
  auto job = f.pop(0);
  f.finished("http://a");
  job->attempt++;
  f.push_retry(std::move(*job), 30.0);
  CHECK_FALSE(f.pop(29.0));
  auto again = f.pop(30.0);
  REQUIRE(again);
  CHECK(again->url.id == 1);
  CHECK(again->attempt == 1);
}

TEST_CASE("with a window, a host holds few URLs in memory and refills in id order", "[frontier]") {
  Frontier f(policy(0, 1, 10, 4), test_clock);
  for (int i = 1; i <= 10; i++) f.push(url(i, "http://a"));
  CHECK(f.queued() == 10);
  CHECK(f.in_memory() == 4);
  CHECK(f.take_refills().empty());  // the window is full

  std::vector<int64_t> order;
  auto drain = [&] {
    while (auto job = f.pop(0)) {
      order.push_back(job->url.id);
      f.finished("http://a");
    }
  };
  drain();
  auto refills = f.take_refills();
  REQUIRE(refills.size() == 1);
  CHECK(refills[0].after_id == 4);
  CHECK(refills[0].limit == 4);
  CHECK(f.take_refills().empty());  // asked once until answered
  f.refilled("http://a", {url(5, "http://a"), url(6, "http://a"), url(7, "http://a"), url(8, "http://a")}, false);
  drain();
  refills = f.take_refills();
  REQUIRE(refills.size() == 1);
  f.refilled("http://a", {url(9, "http://a"), url(10, "http://a")}, true);
  drain();
  CHECK(order == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK(f.queued() == 0);
}

TEST_CASE("a resumed host starts with its queue on disk", "[frontier]") {
  Frontier f(policy(0, 1, 10, 8), test_clock);
  f.add_on_disk("http://a", 1000);
  CHECK(f.queued() == 1000);
  CHECK_FALSE(f.pop(0));
  auto refills = f.take_refills();
  REQUIRE(refills.size() == 1);
  CHECK(refills[0].after_id == 0);
  CHECK(refills[0].limit == 8);
}

TEST_CASE("each job says how long it waited once next in line, and why", "[frontier]") {
  test_now = 100.0;
  Frontier f(policy(1.0, 1, 10), test_clock);
  f.push(url(1, "http://a"));
  f.push(url(2, "http://a"));
  auto first = f.pop(100.0);
  REQUIRE(first);
  CHECK(first->waited == 0.0);
  CHECK(first->wait_reason.empty());
  f.sent("http://a", "10.0.0.1", 100.0);
  test_now = 100.2;  // the response is back; url 2 is next in line from now
  f.finished("http://a");
  auto second = f.pop(101.5);
  REQUIRE(second);
  CHECK(second->waited == Approx(1.3));
  CHECK(second->wait_reason == "host delay");

  f.push(url(3, "http://a"));
  f.finished("http://a");
  test_now = 101.6;
  auto third = f.pop(103.0);
  REQUIRE(third);
  third->attempt++;
  f.finished("http://a");
  f.push_retry(std::move(*third), 200.0, "retry-after");
  auto retried = f.pop(200.0);
  REQUIRE(retried);
  CHECK(retried->wait_reason == "retry-after");
  test_now = 0;
}

TEST_CASE("hosts on one address are spaced by the per-IP delay", "[frontier]") {
  test_now = 0;
  auto p = policy(0, 1, 10);
  p.per_ip_delay = 1.0;
  Frontier f(p, test_clock);
  for (const char* origin : {"http://a", "http://b"}) {
    f.push(url(origin[7] == 'a' ? 1 : 2, origin));
    f.push(url(origin[7] == 'a' ? 3 : 4, origin));
  }
  // The first request to each host teaches the frontier their shared address.
  auto a = f.pop(10.0);
  REQUIRE(a);
  f.sent(a->url.origin, "127.0.0.9", 10.0);
  f.finished(a->url.origin);
  CHECK(f.send_wait("http://b", "127.0.0.9", 10.2) > 0.7);  // the wire gate knows the address at once
  auto b = f.pop(10.0);
  REQUIRE(b);  // b's address is unknown yet: only the gate can hold it
  f.sent(b->url.origin, "127.0.0.9", 11.05);
  f.finished(b->url.origin);
  // Both addresses are known now: neither host may start before 12.07.
  CHECK_FALSE(f.pop(11.5));
  CHECK_FALSE(f.pop(12.0));
  auto next = f.pop(12.1);
  REQUIRE(next);
  CHECK(next->wait_reason == "per-ip");
}

TEST_CASE("a wait for a free connection is named as such, not as the host's delay", "[frontier]") {
  test_now = 0;
  Frontier f(policy(0.5, 1, 1), test_clock);
  f.push(url(1, "http://a"));
  f.push(url(2, "http://b"));
  auto a = f.pop(0.0);
  REQUIRE(a);
  CHECK_FALSE(f.pop(2.0));  // b is ready, but the one connection is busy
  f.finished("http://a");
  auto b = f.pop(3.0);
  REQUIRE(b);
  CHECK(b->waited == Approx(3.0));
  CHECK(b->wait_reason == "connections");
}
