// A throwaway certificate authority for TLS tests, generated in memory with
// the OpenSSL 3 API (EC P-256 keys, SHA-256 signatures). Nothing is cached or
// written to disk unless a test asks for it with write_pem().
//
// Test fixtures report setup failures by throwing std::runtime_error, so that
// Catch turns them into a failed test with the OpenSSL reason. Nothing here
// runs inside a C callback.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace webcrawl::testing {

// What a TLS server presents: PEM text, ready for TestServer::Options::tls.
struct TlsIdentity {
  std::string cert_pem;  // the leaf certificate first, then any intermediates
  std::string key_pem;   // the leaf's private key, unencrypted PKCS#8
};

// The names a leaf certificate is valid for and the window it is valid in,
// relative to the moment it is issued. The defaults give a currently valid
// certificate; a negative not_after gives an expired one.
struct LeafOptions {
  std::vector<std::string> dns_names;     // e.g. {"localhost"}
  std::vector<std::string> ip_addresses;  // e.g. {"127.0.0.1", "::1"}
  std::chrono::seconds not_before = std::chrono::hours(-1);
  std::chrono::seconds not_after = std::chrono::hours(24);
};

// A self-signed CA (basicConstraints CA:TRUE, keyUsage keyCertSign) that
// issues serverAuth leaf certificates. Immutable after construction, so a
// const TestCa may be shared between threads. Move-only.
class TestCa {
 public:
  // Generates the CA key and certificate. Throws std::runtime_error if
  // OpenSSL fails.
  explicit TestCa(const std::string& common_name = "webcrawl test CA");
  ~TestCa();
  TestCa(TestCa&&) noexcept;
  TestCa& operator=(TestCa&&) noexcept;
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // The CA certificate as PEM: what a client trusts (the crawler's --ca-file).
  const std::string& cert_pem() const;

  // Writes cert_pem() to path, replacing the file. Fails with kIo.
  Result<void> write_pem(const std::string& path) const;

  // A fresh key and a leaf certificate signed by this CA, with a
  // subjectAltName for every name and address given. Throws
  // std::runtime_error if OpenSSL fails or an IP address does not parse.
  TlsIdentity issue(const std::vector<std::string>& dns_names,
                    const std::vector<std::string>& ip_addresses = {}) const;
  TlsIdentity issue(const LeafOptions& options) const;

  // A leaf certificate signed by its own key, which no client trusts: for
  // tests that expect certificate verification to fail. Throws like issue().
  static TlsIdentity self_signed_identity(const std::vector<std::string>& dns_names,
                                          const std::vector<std::string>& ip_addresses = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace webcrawl::testing
