// A loopback HTTP/1.1 (and HTTPS) server for tests: blocking POSIX sockets,
// an accept thread plus one thread per connection, keep-alive, routes,
// static files, and a record of every request it saw.
//
// Only for tests and local tools: it binds wherever it is told, trusts its
// handlers, and never reads request bodies beyond discarding them. Setup
// failures (bind, listen, bad TLS identity, missing directory) throw
// std::runtime_error, so Catch reports them as a failed test.
//
// Threads: handlers run on the connection threads, possibly concurrently, so
// they must be thread-safe and must return promptly (a handler that wants to
// stall calls wait_unless_stopped()). Every other member is thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/test_ca.h"

namespace webcrawl::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

// One parsed request as a handler sees it.
struct Request {
  std::string method;       // "GET"
  std::string target;       // as sent in origin form: path plus "?query"
  std::string path;         // target up to '?'
  std::string query;        // after '?', without it; empty if none
  std::string version;      // "HTTP/1.1"
  Headers headers;          // in arrival order, names as sent
  std::uint64_t connection = 0;  // the connection's sequence number, from 1
  std::string local_address;     // the address it arrived on, e.g. "127.0.0.2"
  std::string head;              // the request line and fields as received, blank line included

  // The first value of the header called name (ASCII case-insensitive), or
  // "" if there is none.
  std::string header(std::string_view name) const;
};

// How the response body is delimited on the wire.
enum class Framing {
  kContentLength,  // Content-Length header (the default)
  kChunked,        // Transfer-Encoding: chunked, body split into chunk_count chunks
  kCloseDelimited, // no length at all; the server closes after the body
};

// What a handler fills in. The helpers return *this so they chain:
//   res.html("<p>hi</p>").gzip().chunked();
// Body transforms (gzip) and framing are applied when the response is sent,
// so the helpers may be called in any order.
struct Response {
  int status = 200;
  std::string reason;  // empty: the standard phrase for status
  Headers headers;
  std::string body;
  Framing framing = Framing::kContentLength;
  std::size_t chunk_count = 3;
  bool gzip_body = false;
  std::chrono::milliseconds delay_before{0};

  // Replaces every header called name (case-insensitive) with one value.
  Response& set_header(std::string name, std::string value);
  // Appends a header even if one with that name exists (e.g. Set-Cookie).
  Response& add_header(std::string name, std::string value);
  // The first value of header name, or "" if absent.
  std::string header(std::string_view name) const;

  // Sets the body and Content-Type: text/html; charset=utf-8.
  Response& html(std::string html_body);
  // Sets the body and the given Content-Type.
  Response& text(std::string text_body, std::string content_type = "text/plain; charset=utf-8");
  // Sets status and Location; the body stays as it is (empty by default).
  Response& redirect(int code, std::string location);
  // Sends the body gzip-compressed with Content-Encoding: gzip.
  Response& gzip();
  // Sends the body with Transfer-Encoding: chunked, one send() per chunk.
  Response& chunked(std::size_t chunks = 3);
  // Sends no Content-Length and closes the connection after the body.
  Response& close_delimited();
  // Waits this long before sending anything; cut short by stop().
  Response& delay(std::chrono::milliseconds wait);
};

using Handler = std::function<void(const Request&, Response&)>;

// Gets the connection's socket to write arbitrary bytes with send_all();
// the server close()s the socket as is when the handler returns, so a
// handler that sets SO_LINGER to {1, 0} makes that close a reset. On a TLS
// server the socket is handed over after the handshake, so what the handler
// writes goes out unencrypted.
using RawHandler = std::function<void(int fd, const Request&)>;

// What the server remembers about each request, in arrival order.
struct RecordedRequest {
  std::string host;        // the Host header as sent
  std::string target;      // path plus "?query"
  std::string path;        // target up to '?'
  std::string method;
  std::string user_agent;  // the User-Agent header as sent
  Headers headers;         // every header as sent

  // The first value of the header called name (ASCII case-insensitive), or
  // "" if there is none.
  std::string header(std::string_view name) const;
  std::uint64_t connection = 0;  // equal numbers mean one reused connection
  // When the first byte of the request line arrived.
  std::chrono::steady_clock::time_point start;
  // Taken just before the last byte of the response was handed to the
  // kernel, so a client cannot have seen the whole response earlier. For raw
  // handlers, when the handler returned. Zero while the request is in flight.
  std::chrono::steady_clock::time_point end;
  std::string local_address;  // e.g. "127.0.0.3"
  int status = 0;             // the status sent; 0 for raw handlers
  std::string head;           // the request line and fields as received, blank line included
};

struct TestServerOptions {
  std::string bind_address = "127.0.0.1";  // any of 127.0.0.0/8 on Linux, or "::1"
  std::uint16_t port = 0;                  // 0: an ephemeral port, see port()
  std::optional<TlsIdentity> tls;          // set: HTTPS with this certificate chain
  int backlog = 1024;
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{15000};
  // After this many requests a connection is closed (Connection: close on
  // the last response); 0 means no limit.
  std::size_t max_requests_per_connection = 0;
};

class TestServer {
 public:
  using Options = TestServerOptions;

  // Binds, listens and starts accepting before returning.
  TestServer();
  explicit TestServer(Options options);
  // Same as stop().
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const;
  const std::string& bind_address() const;
  bool tls() const;
  // "http://127.0.0.1:PORT" (https with TLS; IPv6 in brackets), no slash.
  std::string origin() const;
  // origin() + path; path should start with '/'.
  std::string url(std::string_view path = "/") const;

  // Routes match the request's path exactly (the query is ignored). A later
  // registration for the same path replaces the earlier one. Exact routes
  // win over raw routes, which win over the served directory.
  void on(std::string path, Handler handler);
  void on_raw(std::string path, RawHandler handler);
  // Replaces the default 404 page for paths nothing else answers.
  void on_not_found(Handler handler);
  // Serves files under root for paths without a route: index.html for a
  // directory, a 301 to add the trailing slash, 403 for anything that would
  // leave root. Throws std::runtime_error if root is not a directory.
  void serve_directory(const std::filesystem::path& root);

  // A copy of every request recorded so far, in arrival order.
  std::vector<RecordedRequest> requests() const;
  // How many requests had this path; an argument with '?' is compared with
  // the whole target instead.
  std::size_t request_count(std::string_view path) const;
  // Connections accepted so far.
  std::size_t connection_count() const;
  // Connections whose TLS handshake failed (e.g. the client rejected the
  // certificate).
  std::size_t tls_handshake_failures() const;

  // Sleeps for up to wait; returns false early if the server is stopping.
  // For raw handlers that want to stall without holding up stop().
  bool wait_unless_stopped(std::chrono::milliseconds wait) const;

  // Stops accepting, shuts down open connections and joins every thread.
  // Idempotent. Handlers still running are waited for, so a handler must not
  // call it (it would join its own thread).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes all of bytes to a socket without raising SIGPIPE. False if the
// peer went away or the socket failed. For raw handlers.
bool send_all(int fd, std::string_view bytes);

// A gzip member (RFC 1952) holding data, as Response::gzip() sends it.
// Throws std::runtime_error if zlib fails.
std::string gzip_compress(std::string_view data);

}  // namespace webcrawl::testing
