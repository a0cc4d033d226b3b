// One request's state machine (see fetcher_impl.h): resolve, connect,
// [tunnel], [handshake], gate, send, head, body, finish.
#include <algorithm>
#include <cstdio>

#include "crawler/fetcher_impl.h"
#include "crawler/uv_util.h"
#include "parser/http_request.h"

namespace webcrawl::crawler {
namespace {

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%gs", s);
  return buf;
}

}  // namespace

Transaction::Transaction(Fetcher::Impl* owner, FetchRequest request, Fetcher::Callback done)
    : owner_(owner), request_(std::move(request)), done_(std::move(done)) {
  timer_.data = this;
}

void Transaction::start() {
  started_ = monotonic_seconds();
  deadline_ = started_ + request_.timeout;
  uv_check(uv_timer_init(owner_->loop, &timer_), "uv_timer_init");
  owner_->transactions.insert(this);
  proxy_ = owner_->proxy_for(request_.url);
  proxied_ = proxy_ != nullptr;
  if (Connection* c = owner_->take_idle(request_.url.origin())) {
    conn_ = c;
    c->attach(this);
    response_.reused_connection = true;
    response_.remote_address = c->remote();
    // Sent from the next tick, so that done() never runs inside fetch().
    phase_ = Phase::kGate;
    return arm(0);
  }
  resolve();
}

std::string Transaction::host_to_resolve() const {
  return proxied_ ? proxy_->hostname() : request_.url.hostname();
}

// ---- resolve -------------------------------------------------------------

void Transaction::resolve() {
  phase_ = Phase::kResolve;
  limit_phase(request_.connect_timeout, "connect");  // DNS and TCP together
  const std::string host = host_to_resolve();
  if (const DnsAnswer* answer = owner_->dns.cached(host, monotonic_seconds())) {
    // Go on from the next tick, so that done() never runs inside fetch().
    dns_ready_ = *answer;
    return arm(0);
  }
  arm(request_.timeout);
  dns_ticket_ = owner_->dns.resolve(host, [this](const DnsAnswer& answer) {
    dns_ticket_.reset();
    on_resolved(answer);
  });
}

void Transaction::on_resolved(const DnsAnswer& answer) {
  if (answer.error) return finish(*answer.error);
  addresses_ = answer.addresses;
  addr_index_ = 0;
  connect();
}

// ---- connect -------------------------------------------------------------

void Transaction::connect() {
  if (phase_ != Phase::kResolve) limit_phase(request_.connect_timeout, "connect");
  phase_ = Phase::kConnect;
  arm(request_.timeout);  // clamped to the deadlines
  if (addresses_.empty()) return finish(Error{Code::kDns, "dns " + host_to_resolve() + ": no address"});
  auto c = owner_->open_connection(request_.url.origin());
  if (!c) return finish(c.error());
  conn_ = *c;
  conn_->attach(this);
  sockaddr_storage addr = addresses_[addr_index_ % addresses_.size()];
  uint16_t port = htons(proxied_ ? proxy_->port : request_.url.port);
  if (addr.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&addr)->sin_port = port;
  } else {
    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = port;
  }
  conn_->connect(addr);
}

void Transaction::on_connected(int status) {
  if (status < 0) {
    if (status != UV_ECANCELED && addr_index_ + 1 < addresses_.size()) {
      // Try the host's next address before giving up.
      addr_index_++;
      owner_->close_connection(std::exchange(conn_, nullptr));
      return connect();
    }
    std::string what = proxied_ ? "proxy: connect" : "connect";
    return finish(from_uv(status, what));
  }
  response_.remote_address = conn_->remote();
  if (proxied_ && request_.url.https()) return open_tunnel();
  if (request_.url.https()) return handshake();
  pass_gate();
}

// ---- tunnel (https through an HTTP proxy) ---------------------------------

void Transaction::open_tunnel() {
  phase_ = Phase::kTunnel;
  limit_phase(request_.read_timeout, "proxy: no response to CONNECT:");
  arm(request_.timeout);
  parser::ResponseLimits limits;
  limits.max_body = 64 * 1024;
  limits.connect = true;
  tunnel_.emplace(limits);
  conn_->write(parser::serialize_request(parser::connect_request(request_.url, owner_->config.user_agent)));
}

void Transaction::on_tunnel_bytes(std::string_view bytes) {
  auto progress = tunnel_->feed(bytes);
  if (!progress) return finish(Error{progress.error().code, "proxy: " + progress.error().message});
  if (*progress == parser::HttpResponseParser::Progress::kNeedMore) return;
  int status = tunnel_->response().status;
  if (status < 200 || status > 299) {
    return finish(Error{Code::kNetwork, "proxy: CONNECT answered " + std::to_string(status)});
  }
  tunnel_.reset();
  handshake();
}

// ---- handshake -----------------------------------------------------------

void Transaction::handshake() {
  phase_ = Phase::kHandshake;
  limit_phase(request_.connect_timeout, "TLS handshake");
  arm(request_.timeout);
  auto context = owner_->tls_context();
  if (!context) return finish(context.error());
  auto session = TlsSession::create(**context, request_.url.hostname(), request_.url.host_is_ip());
  if (!session) return finish(session.error());
  conn_->start_tls(std::move(*session));
}

void Transaction::on_secure() { pass_gate(); }

// ---- gate and send -------------------------------------------------------

void Transaction::pass_gate() {
  if (cancelled_) return finish(*cancelled_);
  if (owner_->gate) {
    // Through a proxy the server's address is unknown: its name stands in.
    const std::string& address = proxied_ ? request_.url.hostname() : conn_->remote();
    double wait = owner_->gate(request_.url.origin(), address);
    if (wait > 0) {
      // Waiting for our own politeness is not the server's time.
      phase_ = Phase::kGate;
      deadline_ += wait;
      return arm(wait);
    }
  }
  send();
}

void Transaction::send() {
  phase_ = Phase::kHead;
  got_bytes_ = false;
  limit_phase(request_.read_timeout, "no response:");
  arm(deadline_ - monotonic_seconds());
  parser::ResponseLimits limits;
  limits.max_body = request_.max_body;
  limits.keep_raw = request_.keep_raw;
  parser_.emplace(limits);
  parser::RequestOptions options;
  options.user_agent = owner_->config.user_agent;
  options.extra = request_.headers;
  options.via_proxy = proxied_ && !request_.url.https();
  std::string bytes = parser::serialize_request(parser::get_request(request_.url, options));
  response_.sent_at = monotonic_seconds();
  owner_->requests_sent++;
  const std::string& address = proxied_ ? request_.url.hostname() : conn_->remote();
  if (owner_->send_hook) owner_->send_hook(request_.url.origin(), address, response_.sent_at);
  if (request_.keep_raw) response_.raw_request = bytes;
  conn_->write(bytes);
}

// ---- head and body -------------------------------------------------------

void Transaction::on_data(std::string_view bytes) {
  if (phase_ == Phase::kGate && retry_stale_connection()) return;  // e.g. a 408 on a pooled connection
  got_bytes_ = true;
  last_byte_ = monotonic_seconds();
  if (phase_ == Phase::kTunnel) return on_tunnel_bytes(bytes);
  if (phase_ != Phase::kHead && phase_ != Phase::kBody) {
    // Bytes before the request went out: a confused server.
    return finish(Error{Code::kHttp, "malformed response: bytes before the request was sent"});
  }
  response_.answered = true;
  auto progress = parser_->feed(bytes);
  if (!progress) return finish(progress.error());
  if (parser_->head_complete()) phase_ = Phase::kBody;
  if (*progress == parser::HttpResponseParser::Progress::kDone) finish(std::nullopt);
}

void Transaction::on_end(std::optional<Error> error) {
  if (!error && parser_ && (phase_ == Phase::kHead || phase_ == Phase::kBody)) {
    // A close-delimited body ends here; the parser decides if it was complete.
    auto progress = parser_->finish_at_eof();
    if (progress) return finish(std::nullopt);
    if (retry_stale_connection()) return;
    return finish(progress.error());
  }
  if (retry_stale_connection()) return;
  if (!error) {
    error = Error{Code::kNetwork, got_bytes_ ? "connection closed before the response ended"
                                             : "connection closed without a response"};
  }
  if (phase_ == Phase::kTunnel) error->message = "proxy: " + error->message;
  finish(std::move(error));
}

// The server closed a pooled connection as we reused it: the request never
// reached it, so it goes again on a fresh connection (RFC 9112 9.3.1).
bool Transaction::retry_stale_connection() {
  bool stale = response_.reused_connection && !got_bytes_ && !retried_stale_ &&
               (phase_ == Phase::kHead || phase_ == Phase::kGate);
  if (!stale) return false;
  retried_stale_ = true;
  response_.reused_connection = false;
  parser_.reset();
  owner_->close_connection(std::exchange(conn_, nullptr));
  resolve();
  return true;
}

// ---- deadlines -----------------------------------------------------------

void Transaction::arm(double seconds_from_now) {
  double until = std::min(deadline_, phase_limit());
  double wait = std::max(0.0, std::min(seconds_from_now, until - monotonic_seconds()));
  if (cancelled_) wait = 0;
  uv_check(uv_timer_start(&timer_, [](uv_timer_t* h) {
    if (h->data) static_cast<Transaction*>(h->data)->on_timer();
  }, static_cast<uint64_t>(wait * 1000.0 + 0.999), 0), "uv_timer_start");
}

void Transaction::limit_phase(double seconds, const char* what) {
  phase_deadline_ = monotonic_seconds() + seconds;
  phase_what_ = what;
}

// Once response bytes flow, the limit is the time since the last of them, so
// a trickling server is cut by the total deadline, a stalled one by this.
double Transaction::phase_limit() const {
  if ((phase_ == Phase::kHead || phase_ == Phase::kBody) && got_bytes_) return last_byte_ + request_.read_timeout;
  return phase_deadline_ > 0 ? phase_deadline_ : deadline_;
}

void Transaction::on_timer() {
  if (phase_ == Phase::kDone) return;
  if (cancelled_) return finish(*cancelled_);
  double now = monotonic_seconds();
  if (now + 0.0005 >= deadline_) {
    return finish(Error{Code::kTimeout, "timeout after " + seconds_text(request_.timeout) + " in all"});
  }
  if (phase_ == Phase::kGate) return pass_gate();
  if (phase_ == Phase::kResolve && dns_ready_) {
    DnsAnswer answer = std::move(*dns_ready_);
    dns_ready_.reset();
    return on_resolved(answer);
  }
  if (now + 0.0005 >= phase_limit()) {
    if ((phase_ == Phase::kHead || phase_ == Phase::kBody) && got_bytes_) {
      return finish(Error{Code::kTimeout, "read idle for " + seconds_text(request_.read_timeout)});
    }
    bool reading = phase_ == Phase::kHead || phase_ == Phase::kTunnel;
    return finish(Error{Code::kTimeout, std::string(phase_what_) + " timeout after " +
                                            seconds_text(reading ? request_.read_timeout : request_.connect_timeout)});
  }
  arm(deadline_ - now);
}

// ---- finish --------------------------------------------------------------

void Transaction::abandon() {
  done_ = nullptr;
  finish(Error{Code::kCancelled, "cancelled"});
}

void Transaction::cancel(Error error) {
  if (phase_ == Phase::kDone || cancelled_) return;
  cancelled_ = std::move(error);
  arm(0);
}

void Transaction::finish(std::optional<Error> error) {
  if (phase_ == Phase::kDone) return;
  phase_ = Phase::kDone;
  uv_timer_stop(&timer_);
  if (dns_ticket_) owner_->dns.cancel(*std::exchange(dns_ticket_, std::nullopt));
  response_.elapsed = monotonic_seconds() - started_;
  bool reusable = false;
  if (parser_ && parser_->head_complete()) {
    parser::HttpResponse r = parser_->take();
    reusable = parser_->done() && r.keep_alive && !r.truncated;
    response_.status = r.status;
    response_.headers = std::move(r.headers);
    response_.body = std::move(r.body);
    response_.wire_bytes = r.body_bytes;
    response_.truncated = r.truncated;
    if (request_.keep_raw) {
      response_.raw_response = std::move(r.raw);
      response_.head_size = r.head_size;
      response_.payload_sha1 = std::move(r.payload_sha1);
    }
  }
  if (error) response_.error = std::move(error);
  if (conn_) {
    Connection* c = std::exchange(conn_, nullptr);
    c->detach();
    owner_->release(c, reusable && !response_.error);
  }
  owner_->transactions.erase(this);
  Fetcher::Callback cb = std::move(done_);
  FetchResponse resp = std::move(response_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) { delete static_cast<Transaction*>(h->data); });
  if (cb) cb(std::move(resp));
}

}  // namespace webcrawl::crawler
