// The fetcher's parts, shared by fetcher.cpp (the pool and the public API)
// and transaction.cpp (one request's state machine). Not for other users.
#pragma once

#include <uv.h>

#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "crawler/connection.h"
#include "crawler/dns_cache.h"
#include "crawler/fetcher.h"
#include "crawler/tls_session.h"
#include "parser/http_response.h"

namespace webcrawl::crawler {

struct Transaction;

// Owns the connections (active and idle), the DNS cache, the TLS context and
// the requests in flight.
struct Fetcher::Impl {
  uv_loop_t* loop = nullptr;
  FetcherConfig config;
  std::unique_ptr<TlsContext> tls;  // made on first use
  DnsCache dns;
  SendGate gate;
  SendHook send_hook;
  std::unordered_set<Connection*> connections;  // every open connection
  std::unordered_map<std::string, std::deque<Connection*>> idle;  // by origin, oldest first
  std::list<Connection*> idle_lru;  // every idle connection, longest idle first
  std::unordered_set<Transaction*> transactions;
  uv_timer_t* sweep = nullptr;  // closes idle connections past idle_timeout
  uint64_t requests_sent = 0;
  uint64_t connections_opened = 0;

  Impl(uv_loop_t* l, FetcherConfig c) : loop(l), config(std::move(c)), dns(l) {}
  ~Impl();

  Result<const TlsContext*> tls_context();
  // The proxy requests to `url` go through, or null when they go direct.
  const parser::Url* proxy_for(const parser::Url& url) const;
  // A new socket for `origin`, counted, with room made under the global cap.
  Result<Connection*> open_connection(const std::string& origin);
  void close_connection(Connection* c);
  Connection* take_idle(const std::string& origin);
  void release(Connection* c, bool reusable);
  void sweep_idle();

 private:
  void make_room();
  void forget_idle(Connection* c);
};

// One request's life: a state enum with one handler per step and a single
// finish(). Its timer enforces the deadlines and, when the send gate says
// so, holds the request back before it is written. Deleted in its timer's
// close callback, after finish().
struct Transaction final : ConnectionEvents {
  enum class Phase { kResolve, kConnect, kTunnel, kHandshake, kGate, kHead, kBody, kDone };

  Transaction(Fetcher::Impl* owner, FetchRequest request, Fetcher::Callback done);
  void start();
  // Ends the request now without calling its callback (the fetcher is going).
  void abandon();
  // Ends the request from the next tick with `error`; it sends nothing more.
  void cancel(Error error);
  bool unsent() const { return phase_ < Phase::kHead; }

 private:
  // The steps, in order.
  void resolve();
  void on_resolved(const DnsAnswer& answer);
  void connect();
  void on_connected(int status) override;
  void open_tunnel();
  void on_tunnel_bytes(std::string_view bytes);
  void handshake();
  void on_secure() override;
  void pass_gate();
  void send();
  void on_data(std::string_view bytes) override;
  void on_end(std::optional<Error> error) override;
  void finish(std::optional<Error> error);

  // Deadlines: the total one, and the current step's own (connect, TLS,
  // first byte, between reads).
  void arm(double seconds_from_now);
  void limit_phase(double seconds, const char* what);
  double phase_limit() const;
  void on_timer();
  bool retry_stale_connection();
  std::string host_to_resolve() const;

  Fetcher::Impl* owner_;
  FetchRequest request_;
  Fetcher::Callback done_;
  FetchResponse response_;
  Phase phase_ = Phase::kResolve;
  Connection* conn_ = nullptr;
  uv_timer_t timer_{};
  double started_ = 0;
  double deadline_ = 0;
  double phase_deadline_ = 0;   // the current phase's own limit (0: none)
  const char* phase_what_ = ""; // and how its timeout reads
  double last_byte_ = 0;        // when response bytes last arrived
  bool got_bytes_ = false;      // any response byte arrived on this attempt
  bool retried_stale_ = false;  // a reused connection closed under us once already
  bool proxied_ = false;
  const parser::Url* proxy_ = nullptr;  // the fetcher's, which outlives the request
  std::optional<DnsAnswer> dns_ready_;  // a cached answer, taken up at the next tick
  std::optional<DnsCache::Ticket> dns_ticket_;
  std::vector<sockaddr_storage> addresses_;
  std::size_t addr_index_ = 0;
  std::optional<parser::HttpResponseParser> parser_;
  std::optional<parser::HttpResponseParser> tunnel_;
  std::optional<Error> cancelled_;  // cancel() was called: finish with this
};

}  // namespace webcrawl::crawler
