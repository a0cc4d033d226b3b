// The frontier and its scheduler: one FIFO queue per host (breadth-first
// within a host) and a min-heap of hosts keyed by the time each may next start
// a request, so choosing the next request costs O(log hosts).
//
// A request to a host may start only when (1) the host's last request went out
// at least its delay ago, (2) the host has fewer than `per_host` requests in
// flight, and (3) fewer than `concurrency` requests are in flight in all.
// Times are monotonic seconds. Loop thread only; no I/O.
//
// Memory stays bounded whatever the crawl's size: with a window W, a host
// keeps at most W queued URLs in memory (its lowest ids, so the queue stays
// breadth-first); the others are only counted, and come back from the
// database in id order through take_refills() and refilled().
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/store.h"

namespace webcrawl::crawler {

// Asks the store for the next window of one host's queue.
struct RefillRequest {
  std::string origin;
  int64_t after_id = 0;   // ids up to this one are in memory or done
  std::size_t limit = 0;
};

struct Job {
  storage::QueuedUrl url;
  int attempt = 0;  // 0 for the first try; retries count up
  // Set by pop(): how long the job waited once it was next in line (at the
  // head of its host's queue, with a free connection slot), and what held it:
  // "host delay", "crawl-delay", "back-off", "retry-after", "connections";
  // empty when it did not wait.
  double waited = 0;
  std::string wait_reason;
  std::string robots_rule;  // set by the crawler: what let it through
  // A sitemap, not a page: url.id is 0 (it has no row in `urls`), and the
  // level says how deep in sitemap indexes it was listed.
  bool sitemap = false;
  int sitemap_level = 0;
};

class Frontier {
 public:
  struct Policy {
    double delay = 1.0;
    int per_host = 1;
    int concurrency = 64;
    std::size_t window = 0;  // queued URLs kept in memory per host; 0: all
    double per_ip_delay = 0; // between request starts to one resolved address; 0: off
    // Per-host exceptions to `delay` and `per_host` (config [[hosts]]), asked
    // once per host; unset: the same for every host.
    std::function<std::pair<double, int>(const std::string& origin)> host_policy;
  };
  using Clock = std::function<double()>;  // monotonic seconds
  Frontier(Policy policy, Clock clock)
      : policy_(std::move(policy)), clock_(std::move(clock)) {}

  // What a host sees as the gap between two requests is our gap plus the
  // difference of two network and scheduling latencies; the margin keeps that
  // from dipping under the delay (measured: up to 2 ms on a loaded machine).
  static constexpr double kMarginBase = 0.005;
  static constexpr double kMarginShare = 0.02;
  // The gap the scheduler keeps between request starts for a given delay.
  static double gap_for(double delay) {
    return delay > 0 ? delay + kMarginBase + kMarginShare * delay : 0;
  }

  // Appends a URL to the back of its host's queue (or counts it as on disk
  // when the host's window is full).
  void push(storage::QueuedUrl url);
  // A host with `count` URLs queued in the database and none in memory (resume).
  void add_on_disk(const std::string& origin, int64_t count);
  // The refills hosts need now: each host asks once until refilled() answers.
  std::vector<RefillRequest> take_refills();
  // The answer to a refill: `urls` in id order; `exhausted` when the store had
  // no more than these.
  void refilled(const std::string& origin, std::vector<storage::QueuedUrl> urls, bool exhausted);
  // Puts a job back at the front of its host's queue, not to start before
  // `not_before` (back-off, Retry-After). Used for retries.
  // `reason` names the wait in the audit trail ("back-off", "retry-after").
  void push_retry(Job job, double not_before, const char* reason = "back-off");

  // The next job allowed to start at `now`, if any. The job counts as in flight
  // until finished() is called for it.
  std::optional<Job> pop(double now);
  void finished(const std::string& origin);
  // Gives back a slot that pop() handed out but that sent nothing (a URL that
  // robots.txt disallows): the host's delay does not count it.
  void cancel(const std::string& origin);
  // A blocked host starts nothing (while its robots.txt is being fetched).
  void set_blocked(const std::string& origin, bool blocked);
  // Raises one host's delay to at least `delay` (robots.txt Crawl-delay);
  // never below the host's own policy.
  void set_delay(const std::string& origin, double delay);
  // --adaptive: the host's delay follows its response time, `factor` times
  // it, never below its policy or Crawl-delay, never above `max_delay`.
  void adapt(const std::string& origin, double response_seconds, double factor, double max_delay);
  // Starts nothing for `origin` before `until` (a host that keeps failing).
  void hold(const std::string& origin, double until, const char* reason);

  // The earliest time pop() could return something, if anything is queued and
  // a connection slot is free.
  std::optional<double> next_ready_time();

  // The politeness gate at the wire: seconds the request to `origin` at
  // `address` must still wait before its bytes go out (host delay and per-IP
  // delay), and the record that they went out at `at`. The frontier learns
  // each host's address from sent(), and from then on keys the host's ready
  // time by both constraints.
  double send_wait(const std::string& origin, const std::string& address, double now) const;
  void sent(const std::string& origin, const std::string& address, double at);

  // Hosts with queued work that may not start yet, by what holds them: the
  // wait reasons of the audit trail ("host delay", "crawl-delay", "adaptive",
  // "per-ip", "back-off", "retry-after", "parked"), "robots.txt" for a host
  // whose robots.txt is being fetched. O(hosts): for the progress line.
  std::map<std::string, std::size_t> waiting(double now) const;

  // The delay a host is kept to: its own (flags, config) or its robots.txt
  // Crawl-delay, whichever is longer; --adaptive may add to it.
  double policy_delay(const std::string& origin);

  std::size_t queued() const { return queued_ + static_cast<std::size_t>(on_disk_); }
  std::size_t in_memory() const { return queued_; }
  std::size_t in_flight() const { return in_flight_; }
  std::size_t hosts() const { return hosts_.size(); }

 private:
  struct Host {
    std::string origin;
    std::string address;      // the last address a request went to (per-IP delay)
    std::deque<Job> queue;
    int active = 0;
    bool blocked = false;
    int per_host = 1;         // connection cap
    double delay = 0;         // the host's own delay (flags, config)
    double crawl_delay_s = 0; // robots.txt Crawl-delay, 0 when none
    double adaptive_s = 0;    // --adaptive, 0 when off
    double gap = 0;           // the largest of the three plus margin, see gap_for()
    double next_allowed = 0;  // no start before this (delay since last start, back-off)
    double not_before = 0;    // back-off and Retry-After alone
    double last_sent = -1e18;
    uint64_t version = 0;     // heap entries with another version are stale
    int64_t on_disk = 0;      // queued in the database, not in `queue`
    int64_t last_loaded = 0;  // the highest id that entered `queue`
    bool refilling = false;   // a refill was asked for and not yet answered
    bool ready = false;       // eligible when last looked at
    double ready_since = 0;   // when its head job became next in line
    const char* next_reason = "host delay";  // what set next_allowed last
    const char* gap_reason = "host delay";  // which of the three sets the gap
  };
  struct Entry {
    double at;
    uint64_t version;
    Host* host;
    bool operator>(const Entry& o) const { return at > o.at; }
  };

  Host& host_of(const std::string& origin);
  bool eligible(const Host& h) const {
    return !h.blocked && !h.queue.empty() && h.active < h.per_host;
  }
  void schedule(Host& h);  // (re)inserts h into the heap when eligible
  void want_refill(Host& h);
  double ip_ready_time(const Host& h) const;  // 0 when there is no per-IP constraint
  void refresh_gap(Host& h);                  // after one of the three delays changed

  Policy policy_;
  Clock clock_;
  std::unordered_map<std::string, std::unique_ptr<Host>> hosts_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> ready_;
  std::size_t queued_ = 0;   // in memory
  int64_t on_disk_ = 0;      // counted only
  std::size_t in_flight_ = 0;
  std::vector<Host*> refills_;
  std::unordered_map<std::string, double> ip_last_sent_;  // per-IP delay only
};

}  // namespace webcrawl::crawler
