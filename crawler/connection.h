// One client connection of the fetcher: a TCP socket and, for https, a
// TlsSession over it. It moves bytes and reports what happened to whoever is
// attached (the request using it); it knows nothing of HTTP.
//
// Loop thread only. A Connection is created with new and frees itself in its
// socket's close callback, after close(); until then it stays valid, so a
// callback that closes it may still read its fields.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "crawler/tls_session.h"

namespace webcrawl::crawler {

// What a connection tells the request attached to it. At most one of
// on_connected, on_secure, on_data or on_end runs per socket event, and none
// after the request detaches.
class ConnectionEvents {
 public:
  virtual ~ConnectionEvents() = default;
  virtual void on_connected(int status) = 0;             // libuv's connect status
  virtual void on_secure() = 0;                          // the TLS handshake completed
  virtual void on_data(std::string_view plaintext) = 0;  // response bytes
  // The peer closed (no error) or the socket, a write or TLS failed.
  virtual void on_end(std::optional<Error> error) = 0;
};

class Connection {
 public:
  // A socket on `loop` for `origin` (the pool's key). Fails like uv_tcp_init.
  static Result<Connection*> open(uv_loop_t* loop, std::string origin);

  // Connects to `address`; on_connected follows.
  void connect(const sockaddr_storage& address);
  // Starts TLS over the open socket; on_secure (or on_end with the error)
  // follows.
  void start_tls(std::unique_ptr<TlsSession> session);
  // Sends `plaintext` (encrypted once TLS is on).
  void write(std::string_view plaintext);
  // Closes the socket; the object is freed later. Idempotent.
  void close();

  void attach(ConnectionEvents* events) { events_ = events; }
  void detach() { events_ = nullptr; }
  bool closing() const { return closing_; }
  const std::string& origin() const { return origin_; }
  const std::string& remote() const { return remote_; }  // "127.0.0.1", "::1"

  // Pool bookkeeping, kept here so that finding and unlinking are O(1).
  bool idle = false;
  double idle_since = 0;
  std::list<Connection*>::iterator lru;
  // Called when the peer closes, fails or sends bytes while no request is
  // attached (an idle connection): the pool unlinks and closes it. Unset,
  // the connection just closes.
  std::function<void(Connection*)> on_unattached_end;

 private:
  Connection(std::string origin) : origin_(std::move(origin)) {}
  ~Connection() = default;
  void write_raw(std::string data);
  void on_read(ssize_t nread, const char* data);
  void on_tls_bytes(const char* data, std::size_t len);
  void end(std::optional<Error> error);
  void end_unattached();
  void flush_tls();

  std::string origin_;
  std::string remote_;
  uv_tcp_t tcp_{};
  std::unique_ptr<TlsSession> tls_;
  ConnectionEvents* events_ = nullptr;
  bool closing_ = false;
  // Writes and connects in flight hold a weak reference: after close() their
  // callbacks find nobody.
  std::shared_ptr<Connection*> self_;
};

}  // namespace webcrawl::crawler
