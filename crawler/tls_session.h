// TLS for the fetcher, over OpenSSL memory BIOs: the session never touches a
// socket. The connection feeds it ciphertext that arrived and sends what
// take_output() returns, so the same code runs over TCP, over a proxy
// tunnel, or between two sessions in a test.
//
// Loop thread only (one session per connection); no libuv in here.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace webcrawl::crawler {

// The client configuration every session shares: TLS 1.2 or later, peer
// verification against the system trust store plus `ca_file` (unless
// `insecure`). Building it costs about 25 ms (OpenSSL reads the store), so
// the fetcher makes it for the first https URL only.
class TlsContext {
 public:
  // Fails with kTls when the trust store or `ca_file` cannot be loaded.
  static Result<std::unique_ptr<TlsContext>> create(const std::string& ca_file, bool insecure);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

class TlsSession {
 public:
  // A client session for `hostname` (SNI and certificate name check; an IP
  // literal is checked against the certificate's IP addresses, without SNI).
  static Result<std::unique_ptr<TlsSession>> create(const TlsContext& context, const std::string& hostname,
                                                    bool host_is_ip);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext from the peer.
  void feed(std::string_view ciphertext);
  // Drives the handshake with what was fed: true once it is complete, false
  // while it needs more from the peer. Fails with kTls, naming a certificate
  // verification failure when that is the cause.
  Result<bool> handshake();
  bool handshaking() const { return !established_; }
  // Appends the plaintext that the fed ciphertext holds. Returns false once
  // the peer closed the session (close_notify). Fails with kTls.
  Result<bool> read(std::string& plaintext);
  // Encrypts `plaintext`; the ciphertext is in take_output().
  Result<void> write(std::string_view plaintext);
  // Ciphertext to send to the peer, emptied by the call.
  std::string take_output();

 private:
  explicit TlsSession(SSL* ssl) : ssl_(ssl) {}
  SSL* ssl_;
  bool established_ = false;
};

}  // namespace webcrawl::crawler
