#include "tests/support/test_ca.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <stdexcept>

namespace webcrawl::testing {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, NamesFree>;

// Throws with the oldest queued OpenSSL reason and clears the queue, so a
// later failure in the same thread does not report a stale reason.
[[noreturn]] void fail(const std::string& what) {
  std::string message = "test CA: " + what;
  unsigned long code = ERR_get_error();
  if (code != 0) {
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    message += ": ";
    message += reason;
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

PkeyPtr generate_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  check(key != nullptr, "EC P-256 key generation");
  return key;
}

// RFC 5280 4.1.2.2: a positive serial of at most 20 octets. Random serials
// keep certificates from different TestCa instances distinct.
void set_random_serial(X509* cert) {
  BnPtr serial(BN_new());
  check(serial != nullptr, "BN_new");
  check(BN_rand(serial.get(), 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1, "BN_rand");
  check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert)) != nullptr, "serial");
}

void set_common_name(X509* cert, const std::string& common_name) {
  X509_NAME* name = X509_get_subject_name(cert);
  const auto* bytes = reinterpret_cast<const unsigned char*>(common_name.c_str());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, bytes, -1, -1, 0) == 1,
        "subject name");
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, value);
  int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  check(added == 1, "X509_add_ext");
}

void push_name(GENERAL_NAMES* names, int type, ASN1_STRING* value) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  if (name == nullptr) {
    ASN1_STRING_free(value);
    fail("GENERAL_NAME_new");
  }
  GENERAL_NAME_set0_value(name, type, value);
  if (sk_GENERAL_NAME_push(names, name) == 0) {
    GENERAL_NAME_free(name);
    fail("subjectAltName push");
  }
}

// Built from GENERAL_NAME values rather than a config string, so a name
// containing a comma cannot turn into a second entry.
void add_subject_alt_names(X509* cert, const LeafOptions& options) {
  if (options.dns_names.empty() && options.ip_addresses.empty()) return;
  NamesPtr names(sk_GENERAL_NAME_new_null());
  check(names != nullptr, "subjectAltName");
  for (const std::string& dns : options.dns_names) {
    ASN1_IA5STRING* value = ASN1_IA5STRING_new();
    check(value != nullptr, "ASN1_IA5STRING_new");
    if (ASN1_STRING_set(value, dns.data(), static_cast<int>(dns.size())) != 1) {
      ASN1_IA5STRING_free(value);
      fail("DNS name");
    }
    push_name(names.get(), GEN_DNS, value);
  }
  for (const std::string& ip : options.ip_addresses) {
    ASN1_OCTET_STRING* value = a2i_IPADDRESS(ip.c_str());
    check(value != nullptr, ("not an IP address: " + ip).c_str());
    push_name(names.get(), GEN_IPADD, value);
  }
  check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1,
        "subjectAltName");
}

// A v3 certificate for key with its validity window set; issuer and
// extensions are the caller's.
X509Ptr new_certificate(EVP_PKEY* key, const std::string& common_name,
                        std::chrono::seconds not_before, std::chrono::seconds not_after) {
  X509Ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "version");
  set_random_serial(cert.get());
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before.count()) != nullptr,
        "notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after.count()) != nullptr,
        "notAfter");
  check(X509_set_pubkey(cert.get(), key) == 1, "public key");
  set_common_name(cert.get(), common_name);
  return cert;
}

void sign(X509* cert, EVP_PKEY* issuer_key) {
  check(X509_sign(cert, issuer_key, EVP_sha256()) > 0, "X509_sign");
}

std::string bio_text(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  if (mem == nullptr) return {};
  return std::string(mem->data, mem->length);
}

std::string cert_to_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(bio != nullptr && PEM_write_bio_X509(bio.get(), cert) == 1, "certificate PEM");
  return bio_text(bio.get());
}

std::string key_to_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(bio != nullptr &&
            PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "key PEM");
  return bio_text(bio.get());
}

std::string leaf_common_name(const LeafOptions& options) {
  if (!options.dns_names.empty()) return options.dns_names.front();
  if (!options.ip_addresses.empty()) return options.ip_addresses.front();
  return "webcrawl test server";
}

void add_leaf_extensions(X509* cert, X509* issuer, const LeafOptions& options) {
  add_extension(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert, issuer, NID_key_usage, "critical,digitalSignature");
  add_extension(cert, issuer, NID_ext_key_usage, "serverAuth");
  add_extension(cert, issuer, NID_subject_key_identifier, "hash");
  add_subject_alt_names(cert, options);
}

}  // namespace

struct TestCa::Impl {
  PkeyPtr key;
  X509Ptr cert;
  std::string cert_pem;
};

TestCa::TestCa(const std::string& common_name) : impl_(std::make_unique<Impl>()) {
  impl_->key = generate_key();
  impl_->cert = new_certificate(impl_->key.get(), common_name, std::chrono::hours(-1),
                                std::chrono::hours(24 * 30));
  X509* cert = impl_->cert.get();
  check(X509_set_issuer_name(cert, X509_get_subject_name(cert)) == 1, "issuer name");
  add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert, cert, NID_subject_key_identifier, "hash");
  sign(cert, impl_->key.get());
  impl_->cert_pem = cert_to_pem(cert);
}

TestCa::~TestCa() = default;
TestCa::TestCa(TestCa&&) noexcept = default;
TestCa& TestCa::operator=(TestCa&&) noexcept = default;

const std::string& TestCa::cert_pem() const { return impl_->cert_pem; }

Result<void> TestCa::write_pem(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << impl_->cert_pem;
  out.close();
  if (!out) return make_error(Code::kIo, "cannot write CA certificate to " + path);
  return {};
}

TlsIdentity TestCa::issue(const std::vector<std::string>& dns_names,
                          const std::vector<std::string>& ip_addresses) const {
  LeafOptions options;
  options.dns_names = dns_names;
  options.ip_addresses = ip_addresses;
  return issue(options);
}

TlsIdentity TestCa::issue(const LeafOptions& options) const {
  PkeyPtr key = generate_key();
  X509Ptr cert =
      new_certificate(key.get(), leaf_common_name(options), options.not_before, options.not_after);
  X509* ca = impl_->cert.get();
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(ca)) == 1, "issuer name");
  add_leaf_extensions(cert.get(), ca, options);
  add_extension(cert.get(), ca, NID_authority_key_identifier, "keyid:always");
  sign(cert.get(), impl_->key.get());
  return TlsIdentity{cert_to_pem(cert.get()), key_to_pem(key.get())};
}

TlsIdentity TestCa::self_signed_identity(const std::vector<std::string>& dns_names,
                                         const std::vector<std::string>& ip_addresses) {
  LeafOptions options;
  options.dns_names = dns_names;
  options.ip_addresses = ip_addresses;
  PkeyPtr key = generate_key();
  X509Ptr cert =
      new_certificate(key.get(), leaf_common_name(options), options.not_before, options.not_after);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) == 1, "issuer name");
  add_leaf_extensions(cert.get(), cert.get(), options);
  sign(cert.get(), key.get());
  return TlsIdentity{cert_to_pem(cert.get()), key_to_pem(key.get())};
}

}  // namespace webcrawl::testing
