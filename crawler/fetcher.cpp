#include "crawler/fetcher.h"

#include <llhttp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <deque>
#include <list>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crawler/uv_util.h"
#include "parser/content_decoder.h"

namespace webcrawl::crawler {
namespace {

constexpr double kDnsTtl = 300.0;          // getaddrinfo gives no TTL; five minutes is common
constexpr double kDnsFailureTtl = 30.0;    // a failing name is not asked again at once
constexpr std::size_t kReadBufferSize = 64 * 1024;
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

std::string openssl_error(std::string_view what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return std::string(what);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return std::string(what) + ": " + buf;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string address_name(const sockaddr* sa) {
  char name[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(sa), name, sizeof name);
  } else if (sa->sa_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(sa), name, sizeof name);
  }
  return name;
}

}  // namespace

struct Connection;
struct Transaction;

// ---------------------------------------------------------------------------
// Impl: owns the TLS context, the DNS cache, the connections and the requests.

struct Fetcher::Impl {
  uv_loop_t* loop = nullptr;
  FetcherConfig config;
  SSL_CTX* ssl_ctx = nullptr;
  llhttp_settings_t http_settings{};
  SendGate gate;
  SendHook send_hook;

  struct DnsEntry {
    std::vector<sockaddr_storage> addresses;
    std::optional<Error> error;
    double expires = 0;
    bool pending = false;
    std::vector<Transaction*> waiting;
  };
  std::unordered_map<std::string, DnsEntry> dns;
  struct Lookup { Impl* impl; std::string host; };  // a lookup's data; its callback frees it
  std::unordered_set<uv_getaddrinfo_t*> lookups;

  std::unordered_set<Connection*> connections;  // every open connection
  std::unordered_map<std::string, std::deque<Connection*>> idle;  // by origin, oldest first
  std::list<Connection*> idle_lru;  // every idle connection, longest idle first
  std::unordered_set<Transaction*> transactions;
  uv_timer_t* sweep = nullptr;  // closes idle connections past idle_timeout
  char read_buffer[kReadBufferSize];
  uint64_t requests_sent = 0;
  uint64_t connections_opened = 0;

  ~Impl();
  void start(Transaction* t);
  void resolve(Transaction* t);
  void after_dns(Transaction* t);
  void on_resolved(const std::string& host, int status, addrinfo* res);
  void connect(Transaction* t);
  void make_room();
  Connection* take_idle(const std::string& origin);
  void forget_idle(Connection* c);
  void release(Connection* c, bool reusable);
  void sweep_idle();
};

// ---------------------------------------------------------------------------
// Connection: one socket, optionally TLS, parsed with llhttp. Deleted in the
// close callback of its embedded uv_tcp_t, so it stays valid until then.

struct Connection {
  Fetcher::Impl* owner;
  std::string origin;
  uv_tcp_t tcp{};
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;  // network -> OpenSSL
  BIO* wbio = nullptr;  // OpenSSL -> network
  bool handshaking = false;
  bool closing = false;
  bool idle = false;
  double idle_since = 0;
  std::list<Connection*>::iterator lru;  // its place in owner->idle_lru while idle
  llhttp_t parser{};
  Transaction* txn = nullptr;
  std::string remote;
  std::shared_ptr<Connection*> self;  // writes in flight hold a weak reference

  Connection(Fetcher::Impl* o, std::string org) : owner(o), origin(std::move(org)) {
    tcp.data = this;
    self = std::make_shared<Connection*>(this);
  }
  ~Connection() {
    if (ssl) SSL_free(ssl);  // frees both BIOs too
  }

  void close();
  void write_raw(std::string data);
  void write(std::string_view plain);
  void flush_tls();
  void start_tls(const parser::Url& url);
  void continue_handshake();
  void on_read(ssize_t nread, const char* data);
  void on_plaintext(const char* data, std::size_t len);
  void on_eof(std::optional<Error> error);
};

// ---------------------------------------------------------------------------
// Transaction: one request's life. Its timer enforces the deadline and, when
// the send gate says so, holds the request back before it is written.

enum class Phase { kResolve, kConnect, kHandshake, kGate, kHead, kBody, kDone };

struct Transaction {
  Fetcher::Impl* owner;
  FetchRequest request;
  Fetcher::Callback done;
  FetchResponse response;
  Connection* conn = nullptr;
  Phase phase = Phase::kResolve;
  uv_timer_t timer{};
  double started = 0;
  double deadline = 0;
  bool retried_stale = false;  // a reused connection closed under us once already
  bool got_bytes = false;      // any response byte arrived
  bool keep_alive = false;
  bool complete = false;
  bool dns_ready = false;      // the name is resolved (or failed); go on at the next tick
  double last_byte = 0;        // when response bytes last arrived
  double phase_deadline = 0;   // the current phase's own limit (0: none)
  const char* phase_what = ""; // and how its timeout reads
  std::size_t addr_index = 0;
  std::size_t header_bytes = 0;
  std::string field, value;    // header being assembled
  bool in_value = false;
  std::string content_encoding;
  std::unique_ptr<parser::ContentDecoder> decoder;

  explicit Transaction(Fetcher::Impl* o) : owner(o) { timer.data = this; }

  void arm(double seconds_from_now);
  void limit_phase(double seconds, const char* what);
  double phase_limit() const;
  void on_timer();
  void fail(Error error);
  void finish(std::optional<Error> error);
  void on_connected();
  void send();
  void header_done();
  int on_headers_complete(llhttp_t* p);
  int on_body(const char* at, std::size_t len);
  int on_message_complete(llhttp_t* p);
};

// ---------------------------------------------------------------------------
// llhttp trampolines: parser->data is the Connection; its txn gets the event.

namespace {

Transaction* txn_of(llhttp_t* p) {
  auto* c = static_cast<Connection*>(p->data);
  return c ? c->txn : nullptr;
}

int on_header_field(llhttp_t* p, const char* at, std::size_t len) {
  Transaction* t = txn_of(p);
  if (!t) return HPE_USER;
  if (t->in_value) t->header_done();
  t->header_bytes += len;
  if (t->header_bytes > kMaxHeaderBytes) return HPE_USER;
  t->field.append(at, len);
  return 0;
}

int on_header_value(llhttp_t* p, const char* at, std::size_t len) {
  Transaction* t = txn_of(p);
  if (!t) return HPE_USER;
  t->in_value = true;
  t->header_bytes += len;
  if (t->header_bytes > kMaxHeaderBytes) return HPE_USER;
  t->value.append(at, len);
  return 0;
}

int on_headers_complete(llhttp_t* p) {
  Transaction* t = txn_of(p);
  return t ? t->on_headers_complete(p) : HPE_USER;
}

int on_body(llhttp_t* p, const char* at, std::size_t len) {
  Transaction* t = txn_of(p);
  return t ? t->on_body(at, len) : HPE_USER;
}

int on_message_complete(llhttp_t* p) {
  Transaction* t = txn_of(p);
  return t ? t->on_message_complete(p) : HPE_USER;
}

}  // namespace

// ---------------------------------------------------------------------------
// Transaction

void Transaction::arm(double seconds_from_now) {
  double until = std::min(deadline, phase_limit());
  double wait = std::max(0.0, std::min(seconds_from_now, until - monotonic_seconds()));
  uv_timer_start(&timer, [](uv_timer_t* h) {
    if (h->data) static_cast<Transaction*>(h->data)->on_timer();
  }, static_cast<uint64_t>(wait * 1000.0 + 0.999), 0);
}

void Transaction::limit_phase(double seconds, const char* what) {
  phase_deadline = monotonic_seconds() + seconds;
  phase_what = what;
}

// Once response bytes flow, the limit is the time since the last of them, so
// a trickling server is cut by the total deadline, a stalled one by this.
double Transaction::phase_limit() const {
  if ((phase == Phase::kHead || phase == Phase::kBody) && got_bytes) return last_byte + request.read_timeout;
  return phase_deadline > 0 ? phase_deadline : deadline;
}

namespace {
std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", s);
  return buf;
}
}  // namespace

void Transaction::on_timer() {
  if (phase == Phase::kDone) return;
  double now = monotonic_seconds();
  if (now + 0.0005 >= deadline) return fail({Code::kTimeout, "timeout after " + seconds_text(request.timeout) + " in all"});
  if (phase == Phase::kGate) return send();
  if (phase == Phase::kResolve && dns_ready) return owner->after_dns(this);
  if (now + 0.0005 >= phase_limit()) {
    if ((phase == Phase::kHead || phase == Phase::kBody) && got_bytes) {
      return fail({Code::kTimeout, "read idle for " + seconds_text(request.read_timeout)});
    }
    return fail({Code::kTimeout, std::string(phase_what) + " timeout after " +
                                     seconds_text(phase == Phase::kHead ? request.read_timeout
                                                                        : request.connect_timeout)});
  }
  arm(deadline - now);
}

void Transaction::fail(Error error) { finish(std::move(error)); }

void Transaction::finish(std::optional<Error> error) {
  if (phase == Phase::kDone) return;
  if (phase == Phase::kResolve) {
    auto& waiting = owner->dns[request.url.hostname()].waiting;
    waiting.erase(std::remove(waiting.begin(), waiting.end(), this), waiting.end());
  }
  phase = Phase::kDone;
  uv_timer_stop(&timer);
  response.elapsed = monotonic_seconds() - started;
  if (error) response.error = std::move(error);
  if (conn) {
    Connection* c = conn;
    conn = nullptr;
    c->txn = nullptr;
    bool reusable = !response.error && complete && keep_alive && !response.truncated;
    owner->release(c, reusable);
  }
  owner->transactions.erase(this);
  Fetcher::Callback cb = std::move(done);
  FetchResponse resp = std::move(response);
  timer.data = this;  // the trampoline ignores a closing timer; the close callback frees us
  uv_close(reinterpret_cast<uv_handle_t*>(&timer),
           [](uv_handle_t* h) { delete static_cast<Transaction*>(h->data); });
  if (cb) cb(std::move(resp));
}

void Transaction::on_connected() {
  response.remote_address = conn->remote;
  send();
}

void Transaction::send() {
  if (owner->gate) {
    double wait = owner->gate(request.url.origin(), conn->remote);
    if (wait > 0) {
      // Waiting for our own politeness is not the server's time.
      phase = Phase::kGate;
      deadline += wait;
      return arm(wait);
    }
  }
  phase = Phase::kHead;
  got_bytes = false;
  limit_phase(request.read_timeout, "no response:");
  arm(deadline - monotonic_seconds());
  llhttp_init(&conn->parser, HTTP_RESPONSE, &owner->http_settings);
  conn->parser.data = conn;
  std::string req;
  req.reserve(256);
  req += "GET ";
  req += request.url.request_target();
  req += " HTTP/1.1\r\nHost: ";
  req += request.url.host_header();
  req += "\r\nUser-Agent: ";
  req += owner->config.user_agent;
  req += "\r\nAccept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
         "Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n\r\n";
  response.sent_at = monotonic_seconds();
  owner->requests_sent++;
  if (owner->send_hook) owner->send_hook(request.url.origin(), conn->remote, response.sent_at);
  conn->write(req);
}

void Transaction::header_done() {
  if (iequals(field, "content-type")) {
    response.content_type = value;
  } else if (iequals(field, "content-encoding")) {
    content_encoding = value;
  } else if (iequals(field, "location")) {
    response.location = value;
  } else if (iequals(field, "retry-after")) {
    response.retry_after = value;
  }
  field.clear();
  value.clear();
  in_value = false;
}

int Transaction::on_headers_complete(llhttp_t* p) {
  if (in_value) header_done();
  int status = llhttp_get_status_code(p);
  if (status >= 100 && status < 200) {
    // An interim response (100 Continue, 103 Early Hints): the real one follows.
    content_encoding.clear();
    response.content_type.clear();
    response.location.clear();
    response.retry_after.clear();
    return 0;
  }
  response.status = status;
  phase = Phase::kBody;
  auto d = parser::ContentDecoder::create(content_encoding, request.max_body);
  if (!d) {
    response.error = d.error();
    return HPE_USER;
  }
  decoder = std::move(*d);
  return 0;
}

int Transaction::on_body(const char* at, std::size_t len) {
  if (!decoder) return 0;  // body of an interim response
  response.wire_bytes += static_cast<int64_t>(len);
  auto r = decoder->feed(std::string_view(at, len), response.body);
  if (!r) {
    response.error = r.error();
    return HPE_USER;
  }
  if (decoder->truncated() || static_cast<std::size_t>(response.wire_bytes) >= request.max_body) {
    response.truncated = true;
    return HPE_PAUSED;  // stop reading; the connection is not reused
  }
  return 0;
}

int Transaction::on_message_complete(llhttp_t* p) {
  if (!decoder) return 0;  // end of an interim response
  auto r = decoder->finish(response.body);
  if (!r) {
    response.error = r.error();
    return HPE_USER;
  }
  response.truncated = response.truncated || decoder->truncated();
  keep_alive = llhttp_should_keep_alive(p);
  complete = true;
  return HPE_PAUSED;
}

// ---------------------------------------------------------------------------
// Connection

void Connection::close() {
  if (closing) return;
  closing = true;
  owner->connections.erase(this);
  if (idle) owner->forget_idle(this);
  self.reset();  // writes still in flight find no owner
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&tcp))) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
  // libuv calls no read callback after uv_close, so data can carry us to the close callback.
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp),
           [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
}

namespace {
struct WriteRequest {
  uv_write_t req;
  std::string data;
  std::weak_ptr<Connection*> conn;
};
}  // namespace

void Connection::write_raw(std::string data) {
  if (closing || data.empty()) return;
  auto* w = new WriteRequest{{}, std::move(data), self};
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp), &buf, 1, [](uv_write_t* req, int status) {
    auto* done = reinterpret_cast<WriteRequest*>(req);
    auto alive = done->conn.lock();
    delete done;
    if (status < 0 && alive && *alive) (*alive)->on_eof(from_uv(status, "write"));
  });
  if (rc < 0) {
    delete w;
    on_eof(from_uv(rc, "write"));
  }
}

void Connection::write(std::string_view plain) {
  if (!ssl) return write_raw(std::string(plain));
  while (!plain.empty()) {
    int n = SSL_write(ssl, plain.data(), static_cast<int>(plain.size()));
    if (n <= 0) return on_eof(Error{Code::kTls, openssl_error("tls write")});
    plain.remove_prefix(static_cast<std::size_t>(n));
  }
  flush_tls();
}

void Connection::flush_tls() {
  std::size_t pending = BIO_ctrl_pending(wbio);
  if (pending == 0) return;
  std::string out(pending, '\0');
  int n = BIO_read(wbio, out.data(), static_cast<int>(pending));
  if (n > 0) {
    out.resize(static_cast<std::size_t>(n));
    write_raw(std::move(out));
  }
}

void Connection::start_tls(const parser::Url& url) {
  ssl = SSL_new(owner->ssl_ctx);
  if (!ssl) return on_eof(Error{Code::kTls, openssl_error("SSL_new")});
  rbio = BIO_new(BIO_s_mem());
  wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  SSL_set_connect_state(ssl);
  std::string host = url.hostname();
  if (url.host_is_ip()) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, host.c_str());
    SSL_set1_host(ssl, host.c_str());
  }
  handshaking = true;
  continue_handshake();
}

void Connection::continue_handshake() {
  int rc = SSL_do_handshake(ssl);
  flush_tls();
  if (closing) return;
  if (rc == 1) {
    handshaking = false;
    if (txn) txn->on_connected();
    return;
  }
  int err = SSL_get_error(ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    ERR_clear_error();
    return on_eof(Error{Code::kTls, std::string("certificate verify failed: ") +
                                        X509_verify_cert_error_string(verify)});
  }
  on_eof(Error{Code::kTls, openssl_error("tls handshake")});
}

void Connection::on_read(ssize_t nread, const char* data) {
  if (nread == UV_EOF) return on_eof(std::nullopt);
  if (nread < 0) return on_eof(from_uv(static_cast<int>(nread), "read"));
  if (nread == 0) return;
  if (!txn) {
    // Bytes on an idle connection: the server is confused; never reuse it.
    return close();
  }
  txn->got_bytes = true;
  txn->last_byte = monotonic_seconds();
  if (!ssl) return on_plaintext(data, static_cast<std::size_t>(nread));
  BIO_write(rbio, data, static_cast<int>(nread));
  if (handshaking) return continue_handshake();
  char plain[16 * 1024];
  while (!closing && txn) {
    int n = SSL_read(ssl, plain, sizeof plain);
    if (n > 0) {
      on_plaintext(plain, static_cast<std::size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl, n);
    if (err == SSL_ERROR_WANT_READ) break;
    if (err == SSL_ERROR_ZERO_RETURN) return on_eof(std::nullopt);
    return on_eof(Error{Code::kTls, openssl_error("tls read")});
  }
  if (!closing) flush_tls();
}

void Connection::on_plaintext(const char* data, std::size_t len) {
  Transaction* t = txn;
  if (!t || t->phase == Phase::kDone) return;
  if (t->phase != Phase::kHead && t->phase != Phase::kBody) return close();
  llhttp_errno_t rc = llhttp_execute(&parser, data, len);
  if (rc == HPE_OK) return;
  if (rc == HPE_PAUSED) {
    if (t->complete) {
      // Bytes after the response mean a confused server: do not reuse.
      const char* stop = llhttp_get_error_pos(&parser);
      if (stop && stop < data + len) t->keep_alive = false;
      return t->finish(std::nullopt);
    }
    return t->finish(std::nullopt);  // truncated at max_body
  }
  if (t->response.error) return t->finish(std::nullopt);
  std::string reason = llhttp_get_error_reason(&parser) ? llhttp_get_error_reason(&parser) : "";
  if (rc == HPE_USER && t->header_bytes > kMaxHeaderBytes) reason = "response headers too large";
  t->fail({Code::kHttp, "malformed response: " + reason});
}

void Connection::on_eof(std::optional<Error> error) {
  if (closing) return;
  Transaction* t = txn;
  if (!t) return close();
  if (!error && (t->phase == Phase::kHead || t->phase == Phase::kBody)) {
    // A close-delimited body ends here; llhttp decides if that was complete.
    llhttp_errno_t rc = llhttp_finish(&parser);
    if (rc == HPE_OK && t->complete) {
      t->keep_alive = false;
      return t->finish(std::nullopt);
    }
    if (rc == HPE_PAUSED && t->complete) {
      t->keep_alive = false;
      return t->finish(std::nullopt);
    }
  }
  bool stale = t->response.reused_connection && !t->got_bytes && !t->retried_stale &&
               (t->phase == Phase::kHead || t->phase == Phase::kGate);
  if (stale) {
    // The server closed a pooled connection as we reused it: the request never
    // reached it, so it goes again on a fresh connection (RFC 9112 9.3.1).
    t->conn = nullptr;
    txn = nullptr;
    close();
    t->retried_stale = true;
    t->response.reused_connection = false;
    t->phase = Phase::kConnect;
    return owner->connect(t);
  }
  if (!error) {
    error = Error{Code::kNetwork, t->got_bytes ? "connection closed before the response ended"
                                               : "connection closed without a response"};
  }
  t->fail(std::move(*error));
}

// ---------------------------------------------------------------------------
// Impl

Fetcher::Impl::~Impl() {
  for (Transaction* t : std::vector<Transaction*>(transactions.begin(), transactions.end())) {
    t->done = nullptr;
    t->finish(Error{Code::kCancelled, "cancelled"});
  }
  for (Connection* c : std::vector<Connection*>(connections.begin(), connections.end())) c->close();
  for (uv_getaddrinfo_t* req : lookups) {
    // Detach rather than null data: the callback still runs and frees the Lookup.
    static_cast<Lookup*>(req->data)->impl = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(req));
  }
  close_and_delete(sweep);
  if (ssl_ctx) SSL_CTX_free(ssl_ctx);
}

void Fetcher::Impl::start(Transaction* t) {
  t->started = monotonic_seconds();
  t->deadline = t->started + t->request.timeout;
  uv_timer_init(loop, &t->timer);
  transactions.insert(t);
  const std::string origin = t->request.url.origin();
  if (Connection* c = take_idle(origin)) {
    t->conn = c;
    c->txn = t;
    t->response.reused_connection = true;
    t->response.remote_address = c->remote;
    // Send from the next tick, so that done() never runs inside fetch().
    t->phase = Phase::kGate;
    return t->arm(0);
  }
  resolve(t);
}

void Fetcher::Impl::resolve(Transaction* t) {
  t->phase = Phase::kResolve;
  t->limit_phase(t->request.connect_timeout, "connect");  // DNS and TCP together
  std::string host = t->request.url.hostname();
  DnsEntry& e = dns[host];
  if (!e.pending && e.expires > monotonic_seconds()) {
    // Cached: go on at the next tick, so that done() never runs inside fetch().
    t->dns_ready = true;
    return t->arm(0);
  }
  e.waiting.push_back(t);
  t->arm(t->request.timeout);
  if (e.pending) return;
  e.pending = true;
  auto* req = new uv_getaddrinfo_t;
  req->data = new Lookup{this, host};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  lookups.insert(req);
  int rc = uv_getaddrinfo(loop, req, [](uv_getaddrinfo_t* r, int status, addrinfo* res) {
    auto* lookup = static_cast<Lookup*>(r->data);
    if (lookup && lookup->impl) {
      lookup->impl->lookups.erase(r);
      lookup->impl->on_resolved(lookup->host, status, res);
    }
    delete lookup;
    uv_freeaddrinfo(res);
    delete r;
  }, host.c_str(), nullptr, &hints);
  if (rc < 0) {
    lookups.erase(req);
    delete static_cast<Lookup*>(req->data);
    delete req;
    on_resolved(host, rc, nullptr);
  }
}

void Fetcher::Impl::after_dns(Transaction* t) {
  DnsEntry& e = dns[t->request.url.hostname()];
  if (e.error) return t->fail(*e.error);
  connect(t);
}

void Fetcher::Impl::on_resolved(const std::string& host, int status, addrinfo* res) {
  DnsEntry& e = dns[host];
  e.pending = false;
  e.addresses.clear();
  e.error.reset();
  double now = monotonic_seconds();
  if (status < 0) {
    e.error = from_uv(status, "dns " + host);
    e.expires = now + kDnsFailureTtl;
  } else {
    for (addrinfo* a = res; a; a = a->ai_next) {
      if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
      sockaddr_storage ss{};
      std::memcpy(&ss, a->ai_addr, a->ai_addrlen);
      e.addresses.push_back(ss);
    }
    if (e.addresses.empty()) e.error = Error{Code::kNetwork, "dns " + host + ": no address"};
    e.expires = now + (e.error ? kDnsFailureTtl : kDnsTtl);
  }
  std::vector<Transaction*> waiting = std::move(e.waiting);
  e.waiting.clear();
  for (Transaction* t : waiting) {
    t->dns_ready = true;
    t->arm(0);
  }
}

void Fetcher::Impl::make_room() {
  // Keeps open sockets under the global cap by closing the longest-idle ones.
  while (connections.size() >= config.max_connections && !idle_lru.empty()) {
    idle_lru.front()->close();
  }
}

void Fetcher::Impl::connect(Transaction* t) {
  if (t->phase != Phase::kResolve) t->limit_phase(t->request.connect_timeout, "connect");
  t->phase = Phase::kConnect;
  t->arm(t->request.timeout);  // clamped to the deadline
  const std::string host = t->request.url.hostname();
  auto it = dns.find(host);
  if (it == dns.end() || it->second.addresses.empty()) return t->fail({Code::kNetwork, "dns " + host + ": no address"});
  const auto& addrs = it->second.addresses;
  sockaddr_storage addr = addrs[t->addr_index % addrs.size()];
  uint16_t port = htons(t->request.url.port);
  if (addr.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&addr)->sin_port = port;
  } else {
    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = port;
  }
  make_room();
  auto* c = new Connection(this, t->request.url.origin());
  int rc = uv_tcp_init(loop, &c->tcp);
  if (rc < 0) {
    delete c;
    return t->fail(from_uv(rc, "socket"));
  }
  connections.insert(c);
  connections_opened++;
  c->remote = address_name(reinterpret_cast<sockaddr*>(&addr));
  c->txn = t;
  t->conn = c;
  uv_tcp_nodelay(&c->tcp, 1);
  struct ConnectRequest {
    uv_connect_t req;
    std::weak_ptr<Connection*> conn;
  };
  auto* cr = new ConnectRequest{{}, c->self};
  rc = uv_tcp_connect(&cr->req, &c->tcp, reinterpret_cast<sockaddr*>(&addr), [](uv_connect_t* req, int status) {
    auto* r = reinterpret_cast<ConnectRequest*>(req);
    auto alive = r->conn.lock();
    delete r;
    if (!alive || !*alive) return;
    Connection* conn = *alive;
    Transaction* txn = conn->txn;
    if (!txn) return conn->close();
    if (status < 0) {
      std::size_t n = conn->owner->dns[txn->request.url.hostname()].addresses.size();
      if (status != UV_ECANCELED && txn->addr_index + 1 < n) {
        // Try the host's next address before giving up.
        txn->addr_index++;
        txn->conn = nullptr;
        conn->txn = nullptr;
        conn->close();
        return conn->owner->connect(txn);
      }
      return conn->on_eof(from_uv(status, "connect"));
    }
    uv_read_start(reinterpret_cast<uv_stream_t*>(&conn->tcp),
                  [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
                    auto* cc = static_cast<Connection*>(h->data);
                    if (!cc) { *buf = uv_buf_init(nullptr, 0); return; }
                    *buf = uv_buf_init(cc->owner->read_buffer, kReadBufferSize);
                  },
                  [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
                    auto* cc = static_cast<Connection*>(s->data);
                    if (cc) cc->on_read(nread, buf->base);
                  });
    if (txn->request.url.https()) {
      txn->phase = Phase::kHandshake;
      txn->limit_phase(txn->request.connect_timeout, "TLS handshake");
      txn->arm(txn->request.timeout);
      return conn->start_tls(txn->request.url);
    }
    txn->on_connected();
  });
  if (rc < 0) {
    delete cr;
    c->on_eof(from_uv(rc, "connect"));
  }
}

Connection* Fetcher::Impl::take_idle(const std::string& origin) {
  auto it = idle.find(origin);
  if (it == idle.end()) return nullptr;
  Connection* c = it->second.back();  // the most recently used is the most likely alive
  forget_idle(c);
  return c;
}

void Fetcher::Impl::forget_idle(Connection* c) {
  if (auto it = idle.find(c->origin); it != idle.end()) {
    auto& q = it->second;
    q.erase(std::remove(q.begin(), q.end(), c), q.end());
    if (q.empty()) idle.erase(it);
  }
  idle_lru.erase(c->lru);
  c->idle = false;
}

void Fetcher::Impl::release(Connection* c, bool reusable) {
  if (!reusable || c->closing) return c->close();
  auto& q = idle[c->origin];
  if (q.size() >= config.max_idle_per_origin) {
    Connection* oldest = q.front();
    oldest->close();  // removes itself from q
  }
  c->idle = true;
  c->idle_since = monotonic_seconds();
  idle[c->origin].push_back(c);
  c->lru = idle_lru.insert(idle_lru.end(), c);
}

void Fetcher::Impl::sweep_idle() {
  double cutoff = monotonic_seconds() - config.idle_timeout;
  while (!idle_lru.empty() && idle_lru.front()->idle_since < cutoff) idle_lru.front()->close();
}

// ---------------------------------------------------------------------------
// Fetcher

Result<std::unique_ptr<Fetcher>> Fetcher::create(uv_loop_t* loop, FetcherConfig config) {
  auto impl = std::make_unique<Impl>();
  impl->loop = loop;
  impl->config = std::move(config);
  impl->ssl_ctx = SSL_CTX_new(TLS_client_method());
  if (!impl->ssl_ctx) return Error{Code::kTls, openssl_error("SSL_CTX_new")};
  SSL_CTX_set_min_proto_version(impl->ssl_ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(impl->ssl_ctx, impl->config.insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(impl->ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_default_verify_paths(impl->ssl_ctx) != 1) {
    return Error{Code::kTls, openssl_error("loading the system trust store")};
  }
  if (!impl->config.ca_file.empty() &&
      SSL_CTX_load_verify_locations(impl->ssl_ctx, impl->config.ca_file.c_str(), nullptr) != 1) {
    return Error{Code::kTls, openssl_error("cannot load CA file " + impl->config.ca_file)};
  }
  llhttp_settings_init(&impl->http_settings);
  impl->http_settings.on_header_field = on_header_field;
  impl->http_settings.on_header_value = on_header_value;
  impl->http_settings.on_headers_complete = on_headers_complete;
  impl->http_settings.on_body = on_body;
  impl->http_settings.on_message_complete = on_message_complete;
  impl->sweep = new uv_timer_t;
  uv_timer_init(loop, impl->sweep);
  impl->sweep->data = impl.get();
  uv_timer_start(impl->sweep, [](uv_timer_t* h) {
    if (h->data) static_cast<Impl*>(h->data)->sweep_idle();
  }, 1000, 1000);
  uv_unref(reinterpret_cast<uv_handle_t*>(impl->sweep));
  return std::unique_ptr<Fetcher>(new Fetcher(std::move(impl)));
}

Fetcher::Fetcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Fetcher::~Fetcher() = default;

void Fetcher::fetch(FetchRequest request, Callback done) {
  auto* t = new Transaction(impl_.get());
  t->request = std::move(request);
  t->done = std::move(done);
  impl_->start(t);
}

void Fetcher::set_send_gate(SendGate gate) { impl_->gate = std::move(gate); }
void Fetcher::set_send_hook(SendHook hook) { impl_->send_hook = std::move(hook); }
std::size_t Fetcher::active() const { return impl_->transactions.size(); }
std::size_t Fetcher::open_connections() const { return impl_->connections.size(); }
uint64_t Fetcher::requests_sent() const { return impl_->requests_sent; }
uint64_t Fetcher::connections_opened() const { return impl_->connections_opened; }

void Fetcher::close_idle() {
  std::vector<Connection*> all;
  for (auto& [origin, q] : impl_->idle) all.insert(all.end(), q.begin(), q.end());
  for (Connection* c : all) c->close();
}

}  // namespace webcrawl::crawler
