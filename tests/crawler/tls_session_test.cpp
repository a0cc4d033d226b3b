// TlsSession driven against an OpenSSL server over memory BIOs: no sockets,
// no loop, so every handshake step is the test's to move.
#include "crawler/tls_session.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "tests/support/temp_dir.h"
#include "tests/support/test_ca.h"

using webcrawl::Code;
using webcrawl::crawler::TlsContext;
using webcrawl::crawler::TlsSession;
using webcrawl::testing::TempDir;
using webcrawl::testing::TestCa;
using webcrawl::testing::TlsIdentity;

namespace {

// Loads the leaf certificate and key of `identity` into a server context.
void use_identity(SSL_CTX* ctx, const TlsIdentity& identity) {
  using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
  BioPtr cert_bio(BIO_new_mem_buf(identity.cert_pem.data(), static_cast<int>(identity.cert_pem.size())), BIO_free);
  X509* cert = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr);
  REQUIRE(cert);
  int used = SSL_CTX_use_certificate(ctx, cert);
  X509_free(cert);
  REQUIRE(used == 1);
  BioPtr key_bio(BIO_new_mem_buf(identity.key_pem.data(), static_cast<int>(identity.key_pem.size())), BIO_free);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  REQUIRE(key);
  used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  REQUIRE(used == 1);
}

// The peer: an OpenSSL server SSL presenting `identity`, fed and drained by
// hand like the client.
class MemoryServer {
 public:
  explicit MemoryServer(const TlsIdentity& identity) : ctx_(SSL_CTX_new(TLS_server_method())) {
    REQUIRE(ctx_);
    use_identity(ctx_, identity);
    ssl_ = SSL_new(ctx_);
    REQUIRE(ssl_);
    SSL_set_bio(ssl_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_accept_state(ssl_);
  }
  ~MemoryServer() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ERR_clear_error();  // the server's side of a failed handshake leaves reasons queued
  }
  MemoryServer(const MemoryServer&) = delete;
  MemoryServer& operator=(const MemoryServer&) = delete;

  void feed(const std::string& bytes) {
    if (!bytes.empty()) BIO_write(SSL_get_rbio(ssl_), bytes.data(), static_cast<int>(bytes.size()));
  }
  std::string take_output() {
    std::string out(BIO_ctrl_pending(SSL_get_wbio(ssl_)), '\0');
    if (!out.empty()) out.resize(static_cast<std::size_t>(BIO_read(SSL_get_wbio(ssl_), out.data(), static_cast<int>(out.size()))));
    return out;
  }
  // True once the handshake is complete; false while it needs more or failed.
  bool handshake() { return SSL_do_handshake(ssl_) == 1; }
  std::string read() {
    std::string plain;
    char buf[4096];
    for (int n; (n = SSL_read(ssl_, buf, sizeof buf)) > 0;) plain.append(buf, static_cast<std::size_t>(n));
    return plain;
  }
  void write(const std::string& plain) { REQUIRE(SSL_write(ssl_, plain.data(), static_cast<int>(plain.size())) > 0); }
  void close_notify() { SSL_shutdown(ssl_); }
  // The name the client asked for (SNI), or "" when it sent none.
  std::string server_name() const {
    const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    return name ? name : "";
  }

 private:
  SSL_CTX* ctx_;
  SSL* ssl_ = nullptr;
};

// A client TlsSession for `host` facing a MemoryServer that presents
// `identity`, with the bytes between them moved by pump().
struct Handshake {
  TempDir dir;
  std::unique_ptr<TlsContext> context;
  std::unique_ptr<MemoryServer> server;
  std::unique_ptr<TlsSession> client;

  // The client trusts `trusted` (through a CA file) and the system store.
  Handshake(const TlsIdentity& identity, const std::string& host, bool host_is_ip, const TestCa* trusted) {
    std::string ca_file;
    if (trusted) {
      ca_file = dir.file("ca.pem").string();
      REQUIRE(trusted->write_pem(ca_file));
    }
    auto made = TlsContext::create(ca_file, false);
    REQUIRE(made);
    context = std::move(*made);
    server = std::make_unique<MemoryServer>(identity);
    auto session = TlsSession::create(*context, host, host_is_ip);
    REQUIRE(session);
    client = std::move(*session);
  }

  // Moves bytes both ways until both handshakes are complete, the client's
  // fails, or nothing moves any more. TLS 1.3 takes two round trips here.
  webcrawl::Result<bool> pump() {
    for (int round = 0; round < 10; ++round) {
      auto done = client->handshake();
      std::string to_server = client->take_output();
      if (!done) return done;
      server->feed(to_server);
      bool server_done = server->handshake();
      std::string to_client = server->take_output();
      client->feed(to_client);
      if (*done && server_done) return true;
      if (to_server.empty() && to_client.empty()) break;
    }
    return false;
  }

  // The handshake's error text; REQUIREs that it failed.
  std::string failure() {
    auto done = pump();
    REQUIRE_FALSE(done);
    CHECK(done.error().code == Code::kTls);
    return done.error().message;
  }

  // Decrypts what the server sent so far; false once it closed the session.
  bool client_reads(std::string& plain) {
    client->feed(server->take_output());
    auto open = client->read(plain);
    REQUIRE(open);
    return *open;
  }
};

void require_handshake(Handshake& h) {
  auto done = h.pump();
  INFO((done ? "" : done.error().message));
  REQUIRE(done);
  REQUIRE(*done);
}

}  // namespace

TEST_CASE("a client session completes its handshake with a server its CA file vouches for", "[tls]") {
  TestCa ca;
  Handshake h(ca.issue({"localhost"}), "localhost", false, &ca);
  CHECK(h.client->handshaking());
  require_handshake(h);
  CHECK_FALSE(h.client->handshaking());
  CHECK(h.server->server_name() == "localhost");  // SNI
}

TEST_CASE("data flows both ways once the session is up", "[tls]") {
  TestCa ca;
  Handshake h(ca.issue({"localhost"}), "localhost", false, &ca);
  require_handshake(h);
  REQUIRE(h.client->write("GET / HTTP/1.1\r\n\r\n"));
  h.server->feed(h.client->take_output());
  CHECK(h.server->read() == "GET / HTTP/1.1\r\n\r\n");
  const std::string big(100 * 1024, 'b');  // several TLS records
  h.server->write(big);
  std::string plain;
  CHECK(h.client_reads(plain));
  CHECK(plain == big);
}

TEST_CASE("a close_notify from the server makes read() return false", "[tls]") {
  TestCa ca;
  Handshake h(ca.issue({"localhost"}), "localhost", false, &ca);
  require_handshake(h);
  h.server->write("last words");
  h.server->close_notify();
  std::string plain;
  CHECK_FALSE(h.client_reads(plain));
  CHECK(plain == "last words");
}

TEST_CASE("a certificate from a CA the client does not trust fails with \"certificate verify failed\"",
          "[tls]") {
  TestCa stranger("a CA nobody trusts");
  Handshake h(stranger.issue({"localhost"}), "localhost", false, nullptr);
  CHECK_THAT(h.failure(), Catch::Contains("certificate verify failed"));
  TestCa ca;
  Handshake self_signed(TestCa::self_signed_identity({"localhost"}), "localhost", false, &ca);
  CHECK_THAT(self_signed.failure(), Catch::Contains("certificate verify failed"));
}

TEST_CASE("a certificate for another host name fails verification", "[tls]") {
  TestCa ca;
  Handshake h(ca.issue({"other.test"}), "localhost", false, &ca);
  CHECK_THAT(h.failure(), Catch::Contains("certificate verify failed"));
}

TEST_CASE("an IP-literal host is checked against the certificate's IP addresses, without SNI", "[tls]") {
  TestCa ca;
  Handshake by_ip(ca.issue({}, {"127.0.0.1"}), "127.0.0.1", true, &ca);
  require_handshake(by_ip);
  CHECK(by_ip.server->server_name().empty());
  Handshake by_v6(ca.issue({}, {"::1"}), "::1", true, &ca);
  require_handshake(by_v6);
  Handshake wrong_ip(ca.issue({"localhost"}, {"127.0.0.2"}), "127.0.0.1", true, &ca);
  CHECK_THAT(wrong_ip.failure(), Catch::Contains("certificate verify failed"));
}

TEST_CASE("an insecure context accepts any certificate", "[tls]") {
  auto context = TlsContext::create("", true);
  REQUIRE(context);
  Handshake h(TestCa::self_signed_identity({"elsewhere.test"}), "localhost", false, nullptr);
  auto session = TlsSession::create(**context, "localhost", false);
  REQUIRE(session);
  h.client = std::move(*session);
  require_handshake(h);
}

TEST_CASE("a CA file that is missing or not PEM fails TlsContext::create with kTls naming it", "[tls]") {
  TempDir dir;
  const std::string missing = dir.file("missing.pem").string();
  const std::string garbage = dir.write("garbage.pem", "this is not a certificate\n").string();
  for (const std::string& file : {missing, garbage}) {
    INFO(file);
    auto context = TlsContext::create(file, false);
    REQUIRE_FALSE(context);
    CHECK(context.error().code == Code::kTls);
    CHECK_THAT(context.error().message, Catch::Contains(file));
  }
}
