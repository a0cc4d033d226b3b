// Non-blocking HTTP/1.1 client on one libuv loop. A request goes through
// resolve (DnsCache), connect, an optional CONNECT tunnel through an HTTP
// proxy, the TLS handshake (TlsSession over memory BIOs), the politeness gate,
// send, head and body (HttpResponseParser, sans-I/O); keep-alive connections
// are pooled per origin and reused.
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
#include <vector>

#include "common/result.h"
#include "parser/http_response.h"
#include "parser/url.h"

typedef struct uv_loop_s uv_loop_t;

namespace webcrawl::crawler {

struct ProxyConfig {
  parser::Url url;                    // http://host:port of the proxy
  std::vector<std::string> no_proxy;  // host names (and their subdomains) reached directly; "*": all
  bool for_http = true;               // which requests it carries: plain http ones,
  bool for_https = true;              // and https ones (through CONNECT)
};

struct FetcherConfig {
  std::string user_agent;
  std::string ca_file;            // extra trusted CAs (PEM); empty: system store only
  bool insecure = false;          // no certificate verification at all
  std::size_t max_connections = 64;  // open sockets, active and idle together
  std::size_t max_idle_per_origin = 1;
  double idle_timeout = 30.0;     // seconds an idle keep-alive connection is kept
  std::optional<ProxyConfig> proxy;
  std::optional<ProxyConfig> https_proxy;  // for https requests instead of `proxy`, when set
};

struct FetchRequest {
  parser::Url url;
  double timeout = 30.0;          // seconds, from the call to the last byte (total)
  std::size_t max_body = 10u << 20;
  double connect_timeout = 10.0;  // DNS and TCP connect; the TLS handshake, again
  double read_timeout = 15.0;     // to the first response byte, then between reads
  parser::Headers headers;        // added to the defaults (a same-named one replaces it)
  bool keep_raw = false;          // keep the bytes exchanged, for WARC records
};

struct FetchResponse {
  std::optional<int> status;      // no value when no complete response head came
  parser::Headers headers;        // the final response's fields, as sent
  std::string body;               // decoded; at most max_body bytes
  int64_t wire_bytes = 0;         // body bytes as received (before content decoding)
  bool truncated = false;         // cut at max_body
  std::optional<Error> error;     // set when the exchange failed
  // The server sent HTTP bytes back (a status line, even a malformed one): a
  // failure after that is the server's answer, not an unreachable server.
  bool answered = false;
  bool reused_connection = false;
  std::string remote_address;     // "127.0.0.1" or "::1" (the proxy's, through one)
  double sent_at = 0;             // monotonic seconds when the request was written; 0: never
  double elapsed = 0;             // seconds from fetch() to the end
  // With FetchRequest::keep_raw: the request as sent, and the response as
  // received (see parser::HttpResponse).
  std::string raw_request;
  std::string raw_response;
  std::size_t head_size = 0;
  std::string payload_sha1;

  std::string_view header(std::string_view name) const { return parser::header_value(headers, name); }
};

class Fetcher {
 public:
  // The TLS context is built for the first https request (OpenSSL takes
  // ~25 ms to read the trust store), or here when a CA file is given, so that
  // a bad one fails now with kTls.
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
  // The request waits and asks again. Default: never wait. `address` is the
  // server's IP, or its host name when a proxy stands between.
  using SendGate = std::function<double(const std::string& origin, const std::string& address)>;
  void set_send_gate(SendGate gate);
  // Told when a request was written, with the address and the monotonic time.
  using SendHook = std::function<void(const std::string& origin, const std::string& address, double at)>;
  void set_send_hook(SendHook hook);

  // Ends every request that has not written its bytes yet (resolving,
  // connecting, waiting at the gate) with kCancelled, so that nothing new
  // reaches a server after a stop. Their callbacks run from the next tick.
  void cancel_unsent();
  // Closes every idle connection (for a quick shutdown).
  void close_idle();

  std::size_t active() const;            // requests in flight
  std::size_t open_connections() const;  // sockets open, active or idle
  uint64_t requests_sent() const;
  uint64_t connections_opened() const;
  // getaddrinfo calls still running in libuv's thread pool (see DnsCache).
  std::size_t lookups_running() const;

  struct Impl;  // opaque; public only so the implementation's parts can name it

 private:
  explicit Fetcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace webcrawl::crawler
