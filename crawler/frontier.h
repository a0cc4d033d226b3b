// The frontier and its scheduler: one FIFO queue per host (breadth-first
// within a host) and a min-heap of hosts keyed by the time each may next start
// a request, so choosing the next request costs O(log hosts).
//
// A request to a host may start only when (1) the host's last request went out
// at least its delay ago, (2) the host has fewer than `per_host` requests in
// flight, and (3) fewer than `concurrency` requests are in flight in all.
// Times are monotonic seconds. Loop thread only; no I/O.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/store.h"

namespace webcrawl::crawler {

struct Job {
  storage::QueuedUrl url;
  int attempt = 0;  // 0 for the first try; retries count up
};

class Frontier {
 public:
  struct Policy {
    double delay = 1.0;
    int per_host = 1;
    int concurrency = 64;
  };
  explicit Frontier(Policy policy)
      : policy_(policy), gap_(gap_for(policy.delay)) {}

  // What a host sees as the gap between two requests is our gap plus the
  // difference of two network and scheduling latencies; the margin keeps that
  // from dipping under the delay (measured: up to 2 ms on a loaded machine).
  static constexpr double kMarginBase = 0.005;
  static constexpr double kMarginShare = 0.02;
  // The gap the scheduler keeps between request starts for a given delay.
  static double gap_for(double delay) {
    return delay > 0 ? delay + kMarginBase + kMarginShare * delay : 0;
  }

  // Appends a URL to the back of its host's queue.
  void push(storage::QueuedUrl url);
  // Puts a job back at the front of its host's queue, not to start before
  // `not_before` (back-off, Retry-After). Used for retries.
  void push_retry(Job job, double not_before);

  // The next job allowed to start at `now`, if any. The job counts as in flight
  // until finished() is called for it.
  std::optional<Job> pop(double now);
  void finished(const std::string& origin);
  // Gives back a slot that pop() handed out but that sent nothing (a URL that
  // robots.txt disallows): the host's delay does not count it.
  void cancel(const std::string& origin);
  // A blocked host starts nothing (while its robots.txt is being fetched).
  void set_blocked(const std::string& origin, bool blocked);
  // Sets one host's delay, e.g. max(--delay, Crawl-delay).
  void set_delay(const std::string& origin, double delay);

  // The earliest time pop() could return something, if anything is queued and
  // a connection slot is free.
  std::optional<double> next_ready_time();

  // The politeness gate at the wire: seconds the request to `origin` must still
  // wait before its bytes go out, and the record that they went out at `at`.
  double send_wait(const std::string& origin, double now) const;
  void sent(const std::string& origin, double at);

  std::size_t queued() const { return queued_; }
  std::size_t in_flight() const { return in_flight_; }
  std::size_t hosts() const { return hosts_.size(); }

 private:
  struct Host {
    std::string origin;
    std::deque<Job> queue;
    int active = 0;
    bool blocked = false;
    double gap = 0;           // delay plus margin, see gap_for()
    double next_allowed = 0;  // no start before this (delay since last start, back-off)
    double not_before = 0;    // back-off and Retry-After alone
    double last_sent = -1e18;
    uint64_t version = 0;     // heap entries with another version are stale
  };
  struct Entry {
    double at;
    uint64_t version;
    Host* host;
    bool operator>(const Entry& o) const { return at > o.at; }
  };

  Host& host_of(const std::string& origin);
  bool eligible(const Host& h) const {
    return !h.blocked && !h.queue.empty() && h.active < policy_.per_host;
  }
  void schedule(Host& h);  // (re)inserts h into the heap when eligible

  Policy policy_;
  double gap_;
  std::unordered_map<std::string, std::unique_ptr<Host>> hosts_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> ready_;
  std::size_t queued_ = 0;
  std::size_t in_flight_ = 0;
};

}  // namespace webcrawl::crawler
