// `webcrawl crawl --metrics HOST:PORT`: the crawl's counters in the
// Prometheus text exposition format (0.0.4) on GET /metrics, served on the
// crawl's own loop by a small HTTP/1.x responder: one request per
// connection (Connection: close), the request head bounded, every client
// given a deadline, so a slow or silent client costs a socket and never
// holds the loop.
//
// The pure parts (the address, the request line, the exposition text) are
// free functions for the tests. MetricsServer is loop-thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

typedef struct uv_loop_s uv_loop_t;

namespace webcrawl::crawler {

// What a scrape shows, taken from the crawl's counters on the loop thread.
struct MetricsSnapshot {
  int64_t pages_stored = 0;      // documents committed by this run
  int64_t requests = 0;          // requests written by this run, robots.txt and retries included
  int64_t response_bytes = 0;    // body bytes received, as on the wire
  std::map<std::string, int64_t> errors;  // failed requests by error kind (fetches.error_kind)
  int64_t in_flight = 0;
  int64_t queued = 0;            // URLs queued, in memory and on disk
  std::map<std::string, int64_t> waiting;  // hosts held, by Frontier::waiting's reasons
  int64_t parse_queue = 0;       // pages waiting for a parse thread
  int64_t writer_queue = 0;      // items waiting for the writer
  int64_t resident_bytes = 0;    // resident set size
};

// The exposition text: # HELP and # TYPE for every metric, hosts waiting
// under short label values (delay, crawl-delay, adaptive, per-ip, backoff,
// retry-after, parked, robots-txt; each shown, 0 when none), label values
// escaped. Pure.
std::string format_metrics(const MetricsSnapshot& s);

// The resident set size from /proc/self/statm; 0 when it cannot be read.
int64_t resident_memory_bytes();

// A --metrics value: "127.0.0.1:9100", "[::1]:9100", "localhost:9100", or
// ":9100" for every IPv4 interface. Anything else is kInvalidArgument with a
// message that starts "--metrics:". No name lookup.
struct ListenAddress {
  std::string ip;  // numeric: "127.0.0.1", "::1", "0.0.0.0"
  int port = 0;
};
Result<ListenAddress> parse_listen_address(std::string_view text);

// What a request head asks for: the status of the answer (200 for GET or
// HEAD of /metrics, 404 for another path, 405 for another method, 400 for a
// request line that is not one). Pure.
int metrics_status(std::string_view head);

class MetricsServer {
 public:
  using SnapshotFn = std::function<MetricsSnapshot()>;
  static constexpr std::size_t kMaxRequest = 8192;  // bytes of request head; more is answered 431
  static constexpr std::size_t kMaxClients = 32;    // connections served at once; more are closed
  static constexpr double kClientDeadline = 5.0;    // seconds from accept to the answer written

  // Binds and listens with a plain socket, before any loop runs, so a port in
  // use is an error (kIo, "--metrics 127.0.0.1:9100: address already in
  // use") before the crawl touches the database or the network.
  static Result<std::unique_ptr<MetricsServer>> bind(const ListenAddress& address);
  // Starts answering on `loop`; `snapshot` is called once per scrape.
  Result<void> serve(uv_loop_t* loop, SnapshotFn snapshot);
  // Closes the listener and every client (their handles free themselves as
  // the loop runs), or only the socket when serve() never ran.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // "127.0.0.1:9100" as bound.
  const std::string& address() const { return shown_; }

  struct Impl;

 private:
  MetricsServer() = default;
  int fd_ = -1;  // until serve() hands it to libuv
  std::string shown_;
  std::unique_ptr<Impl> impl_;  // the handles; each frees itself once closed
};

}  // namespace webcrawl::crawler
