// DnsCache on a real loop. Every name here is answered on this machine:
// "localhost" and IP literals from /etc/hosts, and the failing names are
// rejected by libuv or glibc before any resolver is asked (see below).
#include "crawler/dns_cache.h"

#include <arpa/inet.h>
#include <uv.h>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "crawler/uv_util.h"

using webcrawl::Code;
using webcrawl::crawler::DnsAnswer;
using webcrawl::crawler::DnsCache;
using webcrawl::crawler::monotonic_seconds;

namespace {

// Names that fail without a packet leaving the machine. Verified by running
// each candidate, and then this file's tests, under
//   strace -f -e trace=socket,connect,sendto,sendmsg,sendmmsg
//          -e inject=connect,sendto,sendmsg,sendmmsg:error=ENETUNREACH
// (the injection keeps a mistaken candidate from reaching the network):
// "a..b" opens only the AF_UNIX socket to nscd, then glibc's resolver
// rejects the empty label before it opens any AF_INET socket and answers
// EAI_NONAME from the thread pool; "" never reaches getaddrinfo, since
// libuv's IDNA conversion refuses it inside uv_getaddrinfo (UV_EINVAL), and
// so do names that are not UTF-8. A name like "a_b.invalid-" did try the
// DNS server, so it is not used.
const std::string kRejectedByResolver = "a..b";
const std::string kRejectedByLibuv = "";

// One resolve's outcome: how often its callback ran and the last answer.
struct Outcome {
  int calls = 0;
  DnsAnswer answer;
};

struct DnsLoop {
  uv_loop_t loop{};
  std::unique_ptr<DnsCache> cache;

  DnsLoop() {
    REQUIRE(uv_loop_init(&loop) == 0);
    cache = std::make_unique<DnsCache>(&loop);
  }
  ~DnsLoop() {
    if (cache) close();
  }

  // Starts resolving `host`; the outcome fills in when the callback runs.
  std::shared_ptr<Outcome> resolve(const std::string& host, DnsCache::Ticket* ticket = nullptr) {
    auto outcome = std::make_shared<Outcome>();
    DnsCache::Ticket t = cache->resolve(host, [outcome](const DnsAnswer& answer) {
      outcome->calls++;
      outcome->answer = answer;
    });
    if (ticket) *ticket = t;
    return outcome;
  }
  void run() { uv_run(&loop, UV_RUN_DEFAULT); }
  // Destroys the cache, lets the loop finish what is left, and closes it:
  // true when nothing was leaked on the loop.
  bool close() {
    cache.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0;
  }
};

std::vector<std::string> ipv4_addresses(const DnsAnswer& answer) {
  std::vector<std::string> out;
  for (const sockaddr_storage& ss : answer.addresses) {
    if (ss.ss_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, text, sizeof text);
    out.emplace_back(text);
  }
  return out;
}

}  // namespace

TEST_CASE("an IP literal and localhost resolve to 127.0.0.1", "[dns]") {
  DnsLoop dns;
  auto literal = dns.resolve("127.0.0.1");
  auto localhost = dns.resolve("localhost");
  dns.run();
  REQUIRE(literal->calls == 1);
  REQUIRE(localhost->calls == 1);
  CHECK_FALSE(literal->answer.error);
  CHECK(ipv4_addresses(literal->answer) == std::vector<std::string>{"127.0.0.1"});
  CHECK_FALSE(localhost->answer.error);
  CHECK_THAT(ipv4_addresses(localhost->answer), Catch::VectorContains(std::string("127.0.0.1")));
  CHECK(dns.close());
}

TEST_CASE("two resolves of one name share one lookup, and each callback runs once, later", "[dns]") {
  DnsLoop dns;
  auto first = dns.resolve("localhost");
  auto second = dns.resolve("localhost");
  CHECK(dns.cache->lookups_running() == 1);
  CHECK(first->calls == 0);  // never inside resolve()
  CHECK(second->calls == 0);
  dns.run();
  CHECK(first->calls == 1);
  CHECK(second->calls == 1);
  CHECK(dns.cache->lookups_running() == 0);
  CHECK(dns.close());
}

TEST_CASE("cached() answers a fresh entry only: not while pending, not once expired", "[dns]") {
  DnsLoop dns;
  CHECK(dns.cache->cached("localhost", monotonic_seconds()) == nullptr);
  auto outcome = dns.resolve("localhost");
  CHECK(dns.cache->cached("localhost", monotonic_seconds()) == nullptr);
  dns.run();
  const DnsAnswer* fresh = dns.cache->cached("localhost", monotonic_seconds());
  REQUIRE(fresh != nullptr);
  CHECK(ipv4_addresses(*fresh) == ipv4_addresses(outcome->answer));
  // Answers are kept five minutes (dns_cache.h).
  CHECK(dns.cache->cached("localhost", monotonic_seconds() + 301) == nullptr);
  CHECK(dns.close());
}

TEST_CASE("a cancelled ticket's callback never runs; the name's other waiters are still answered", "[dns]") {
  DnsLoop dns;
  DnsCache::Ticket ticket = 0;
  auto cancelled = dns.resolve("localhost", &ticket);
  auto kept = dns.resolve("localhost");
  dns.cache->cancel(ticket);
  dns.run();
  CHECK(cancelled->calls == 0);
  CHECK(kept->calls == 1);
  CHECK(dns.close());
}

TEST_CASE("a callback may resolve again", "[dns]") {
  DnsLoop dns;
  std::shared_ptr<Outcome> again;
  dns.cache->resolve("localhost", [&](const DnsAnswer&) { again = dns.resolve("127.0.0.1"); });
  dns.run();
  REQUIRE(again);
  CHECK(again->calls == 1);
  CHECK_FALSE(again->answer.error);
  CHECK(dns.close());
}

TEST_CASE("destroying the cache with a lookup running calls nothing, and the loop still closes", "[dns]") {
  DnsLoop dns;
  auto outcome = dns.resolve("localhost");
  auto failing = dns.resolve(kRejectedByLibuv);  // waits for the next tick
  REQUIRE(dns.cache->lookups_running() == 1);
  CHECK(dns.close());
  CHECK(outcome->calls == 0);
  CHECK(failing->calls == 0);
}

TEST_CASE("a name the resolver rejects is a kDns answer from the thread pool, cached as a failure", "[dns]") {
  DnsLoop dns;
  auto outcome = dns.resolve(kRejectedByResolver);
  CHECK(dns.cache->lookups_running() == 1);
  CHECK(outcome->calls == 0);
  dns.run();
  REQUIRE(outcome->calls == 1);
  REQUIRE(outcome->answer.error);
  CHECK(outcome->answer.error->code == Code::kDns);
  CHECK(outcome->answer.error->message == "dns a..b: DNS name not found");
  CHECK(outcome->answer.addresses.empty());
  const DnsAnswer* cached = dns.cache->cached(kRejectedByResolver, monotonic_seconds());
  REQUIRE(cached != nullptr);
  CHECK(cached->error);
  CHECK(dns.close());
}

TEST_CASE("a lookup libuv refuses to start fails from the next tick, not inside resolve()", "[dns]") {
  DnsLoop dns;
  auto outcome = dns.resolve(kRejectedByLibuv);
  CHECK(dns.cache->lookups_running() == 0);
  CHECK(outcome->calls == 0);
  uv_run(&dns.loop, UV_RUN_NOWAIT);  // one tick
  REQUIRE(outcome->calls == 1);
  REQUIRE(outcome->answer.error);
  CHECK_THAT(outcome->answer.error->message, Catch::StartsWith("dns "));
  CHECK(dns.close());
}

TEST_CASE("a full cache makes room without dropping answers still to be delivered", "[dns]") {
  // More names than the cache holds (1 << 16), all failing at once: each
  // answer waits for the next tick in an entry that must survive the
  // eviction the next name causes.
  constexpr int kNames = (1 << 16) + 1;
  DnsLoop dns;
  int calls = 0;
  for (int i = 0; i < kNames; ++i) {
    dns.cache->resolve("\xff" + std::to_string(i), [&](const DnsAnswer&) { calls++; });
  }
  dns.run();
  CHECK(calls == kNames);
  CHECK(dns.close());
}
