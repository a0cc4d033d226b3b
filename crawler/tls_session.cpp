#include "crawler/tls_session.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace webcrawl::crawler {
namespace {

Error openssl_error(std::string_view what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return {Code::kTls, std::string(what)};
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return {Code::kTls, std::string(what) + ": " + buf};
}

}  // namespace

Result<std::unique_ptr<TlsContext>> TlsContext::create(const std::string& ca_file, bool insecure) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return openssl_error("SSL_CTX_new");
  std::unique_ptr<TlsContext> context(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_default_verify_paths(ctx) != 1) return openssl_error("loading the system trust store");
  if (!ca_file.empty() && SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return openssl_error("cannot load CA file " + ca_file);
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<TlsSession>> TlsSession::create(const TlsContext& context, const std::string& hostname,
                                                       bool host_is_ip) {
  SSL* ssl = SSL_new(context.get());
  if (!ssl) return openssl_error("SSL_new");
  std::unique_ptr<TlsSession> session(new TlsSession(ssl));
  BIO* rbio = BIO_new(BIO_s_mem());  // network -> OpenSSL
  BIO* wbio = BIO_new(BIO_s_mem());  // OpenSSL -> network
  if (!rbio || !wbio) {
    BIO_free(rbio);
    BIO_free(wbio);
    return openssl_error("BIO_new");
  }
  SSL_set_bio(ssl, rbio, wbio);  // the session owns both from here
  SSL_set_connect_state(ssl);
  if (host_is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), hostname.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, hostname.c_str());
    SSL_set1_host(ssl, hostname.c_str());
  }
  return session;
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

void TlsSession::feed(std::string_view ciphertext) {
  if (!ciphertext.empty()) BIO_write(SSL_get_rbio(ssl_), ciphertext.data(), static_cast<int>(ciphertext.size()));
}

Result<bool> TlsSession::handshake() {
  if (established_) return true;
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    established_ = true;
    return true;
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return false;
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    ERR_clear_error();
    return Error{Code::kTls, std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify)};
  }
  return openssl_error("tls handshake");
}

Result<bool> TlsSession::read(std::string& plaintext) {
  char buf[16 * 1024];
  for (;;) {
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      plaintext.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ) return true;
    if (err == SSL_ERROR_ZERO_RETURN) return false;
    return openssl_error("tls read");
  }
}

Result<void> TlsSession::write(std::string_view plaintext) {
  while (!plaintext.empty()) {
    int n = SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size()));
    if (n <= 0) return openssl_error("tls write");
    plaintext.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::string TlsSession::take_output() {
  BIO* wbio = SSL_get_wbio(ssl_);
  std::size_t pending = BIO_ctrl_pending(wbio);
  std::string out(pending, '\0');
  int n = pending > 0 ? BIO_read(wbio, out.data(), static_cast<int>(pending)) : 0;
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

}  // namespace webcrawl::crawler
