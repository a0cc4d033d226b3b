// A loopback HTTP proxy for tests: an absolute-form request ("GET
// http://127.0.0.1:8080/x HTTP/1.1") is passed on to its origin as received,
// and "CONNECT host:port" opens a tunnel to it; after that the proxy relays
// bytes both ways until either side closes. Blocking sockets, an accept
// thread plus one thread per connection, like TestServer.
//
// It only ever connects to loopback: an IPv4 literal in 127.0.0.0/8, "::1"
// or "localhost" (as 127.0.0.1); any other target is answered 403, so a test
// cannot reach the network through it. Setup failures throw
// std::runtime_error. Every member is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace webcrawl::testing {

struct TestProxyOptions {
  std::string bind_address = "127.0.0.1";
  // Nonzero: every CONNECT is answered with this status and a short body
  // (407 comes with Proxy-Authenticate), and no tunnel is opened.
  int refuse_connect_with = 0;
};

class TestProxy {
 public:
  using Options = TestProxyOptions;

  // Binds an ephemeral port and starts accepting before returning.
  explicit TestProxy(Options options = {});
  // Same as stop().
  ~TestProxy();
  TestProxy(const TestProxy&) = delete;
  TestProxy& operator=(const TestProxy&) = delete;

  std::uint16_t port() const;
  // "http://127.0.0.1:PORT": what a client is configured with.
  std::string url() const;
  // The request line of every request the proxy read, in arrival order
  // ("CONNECT 127.0.0.1:443 HTTP/1.1"); requests inside a tunnel or after
  // the first on a relayed connection are not seen.
  std::vector<std::string> request_lines() const;

  // Stops accepting, shuts every connection down and joins every thread.
  // Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webcrawl::testing
