// Asynchronous name resolution for the fetcher: getaddrinfo on libuv's
// thread pool, one lookup per name however many requests wait for it, and a
// cache (getaddrinfo gives no TTL: answers are kept five minutes, failures
// thirty seconds, so a dead name is not asked again at once).
//
// Loop thread only. Callbacks fire exactly once, from the loop, never inside
// resolve(); a cancelled or destroyed lookup calls nothing.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/result.h"

typedef struct uv_loop_s uv_loop_t;
typedef struct uv_getaddrinfo_s uv_getaddrinfo_t;
typedef struct uv_timer_s uv_timer_t;

namespace webcrawl::crawler {

struct DnsAnswer {
  std::vector<sockaddr_storage> addresses;  // IPv4 and IPv6, in the resolver's order
  // Set when the name has no address: kDns when it does not exist (a final
  // answer), kNetwork for a failure worth trying again later.
  std::optional<Error> error;
};

class DnsCache {
 public:
  explicit DnsCache(uv_loop_t* loop);
  // Abandons lookups still in the thread pool: their callbacks never run.
  ~DnsCache();
  DnsCache(const DnsCache&) = delete;
  DnsCache& operator=(const DnsCache&) = delete;

  // The answer for `host` if one is cached and fresh, else null. The pointer
  // is valid until the next call on the cache.
  const DnsAnswer* cached(const std::string& host, double now);

  using Ticket = uint64_t;
  using Callback = std::function<void(const DnsAnswer&)>;
  // Looks `host` up (or joins the lookup under way) and calls `done` with the
  // answer, which is then cached.
  Ticket resolve(const std::string& host, Callback done);
  // `done` of this ticket will not be called.
  void cancel(Ticket ticket);

  // Lookups still running in the thread pool, cancelled ones included: the
  // loop cannot close while one runs (a stuck resolver can hold it for the
  // resolver's own timeout).
  std::size_t lookups_running() const { return running_.size(); }

  struct Lookup;  // one getaddrinfo request; public for its C callback

 private:
  struct Entry {
    DnsAnswer answer;
    double expires = 0;
    bool pending = false;
    std::vector<std::pair<Ticket, Callback>> waiting;
  };
  void on_resolved(const std::string& host, int status, const addrinfo* res);
  void deliver(Entry& e);  // calls everything waiting for e's answer
  void deliver_deferred();

  uv_loop_t* loop_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<Ticket, std::string> tickets_;  // waiting tickets and their names
  std::unordered_set<uv_getaddrinfo_t*> running_;
  uv_timer_t* deliver_;                 // answers known at once go out from the next tick
  std::vector<std::string> deferred_;   // the names whose answers it delivers
  Ticket next_ticket_ = 1;
};

}  // namespace webcrawl::crawler
