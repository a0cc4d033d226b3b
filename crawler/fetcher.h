// Non-blocking HTTP/1.1 client on one libuv loop: async DNS with a cache,
// uv_tcp, TLS through OpenSSL memory BIOs (SNI, certificate and host-name
// verification against the system trust store), responses parsed by llhttp,
// bodies decoded on the fly with a size cap, keep-alive connections pooled per
// origin and reused.
//
// Loop thread only. The Fetcher must outlive every callback it was given; its
// destructor abandons in-flight requests without calling their callbacks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "parser/url.h"

typedef struct uv_loop_s uv_loop_t;

namespace webcrawl::crawler {

struct FetcherConfig {
  std::string user_agent;
  std::string ca_file;            // extra trusted CAs (PEM); empty: system store only
  bool insecure = false;          // no certificate verification at all
  std::size_t max_connections = 64;  // open sockets, active and idle together
  std::size_t max_idle_per_origin = 1;
  double idle_timeout = 30.0;     // seconds an idle keep-alive connection is kept
};

struct FetchRequest {
  parser::Url url;
  double timeout = 30.0;          // seconds, from the call to the last byte (total)
  std::size_t max_body = 10u << 20;
  double connect_timeout = 10.0;  // DNS and TCP connect; the TLS handshake, again
  double read_timeout = 15.0;     // to the first response byte, then between reads
};

struct FetchResponse {
  std::optional<int> status;      // no value when no complete response head came
  std::string content_type;       // header value as sent
  std::string location;           // Location header, unresolved
  std::string retry_after;        // Retry-After header
  std::string body;               // decoded; at most max_body bytes
  int64_t wire_bytes = 0;         // body bytes as received (before decoding)
  bool truncated = false;         // cut at max_body
  std::optional<Error> error;     // set when the exchange failed
  bool reused_connection = false;
  std::string remote_address;     // "127.0.0.1" or "::1"
  double sent_at = 0;             // monotonic seconds when the request was written
  double elapsed = 0;             // seconds from fetch() to the end
};

class Fetcher {
 public:
  // Fails with kTls when the CA file cannot be loaded.
  static Result<std::unique_ptr<Fetcher>> create(uv_loop_t* loop, FetcherConfig config);
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  using Callback = std::function<void(FetchResponse)>;
  // Starts one GET. `done` is called exactly once, later, from the loop, unless
  // the Fetcher is destroyed first.
  void fetch(FetchRequest request, Callback done);

  // Asked right before a request's bytes are written: the number of seconds to
  // hold them back (a politeness gate measured at the wire, not at the queue).
  // The request waits and asks again. Default: never wait.
  using SendGate = std::function<double(const std::string& origin, const std::string& address)>;
  void set_send_gate(SendGate gate);
  // Told when a request was written, with the address and the monotonic time.
  using SendHook = std::function<void(const std::string& origin, const std::string& address, double at)>;
  void set_send_hook(SendHook hook);

  std::size_t active() const;            // requests in flight
  std::size_t open_connections() const;  // sockets open, active or idle
  uint64_t requests_sent() const;
  uint64_t connections_opened() const;

  // Closes every idle connection (for a quick shutdown).
  void close_idle();

  struct Impl;  // opaque; public only so the implementation's helpers can name it

 private:
  explicit Fetcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace webcrawl::crawler
