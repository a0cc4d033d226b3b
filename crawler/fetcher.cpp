// The fetcher's pool and public API; one request's steps are in
// transaction.cpp.
#include "crawler/fetcher.h"

#include <algorithm>
#include <vector>

#include "crawler/fetcher_impl.h"
#include "crawler/uv_util.h"

namespace webcrawl::crawler {

Fetcher::Impl::~Impl() {
  for (Transaction* t : std::vector<Transaction*>(transactions.begin(), transactions.end())) {
    t->abandon();
  }
  for (Connection* c : std::vector<Connection*>(connections.begin(), connections.end())) close_connection(c);
  close_and_delete(sweep);
}

Result<const TlsContext*> Fetcher::Impl::tls_context() {
  if (!tls) {
    auto made = TlsContext::create(config.ca_file, config.insecure);
    if (!made) return made.error();
    tls = std::move(*made);
  }
  return tls.get();
}

const parser::Url* Fetcher::Impl::proxy_for(const parser::Url& url) const {
  const ProxyConfig* proxy = nullptr;
  if (url.https() && config.https_proxy) {
    proxy = &*config.https_proxy;
  } else if (config.proxy && (url.https() ? config.proxy->for_https : config.proxy->for_http)) {
    proxy = &*config.proxy;
  }
  if (!proxy) return nullptr;
  const std::string host = url.hostname();
  for (const std::string& entry : proxy->no_proxy) {
    if (entry.empty()) continue;
    if (entry == "*" || host == entry) return nullptr;
    // ".example.org" and "example.org" both cover the subdomains.
    std::string_view suffix = entry.front() == '.' ? std::string_view(entry).substr(1) : std::string_view(entry);
    if (host.size() > suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        host[host.size() - suffix.size() - 1] == '.') {
      return nullptr;
    }
  }
  return &proxy->url;
}

Result<Connection*> Fetcher::Impl::open_connection(const std::string& origin) {
  make_room();
  auto c = Connection::open(loop, origin);
  if (!c) return c.error();
  (*c)->on_unattached_end = [this](Connection* ended) { close_connection(ended); };
  connections.insert(*c);
  connections_opened++;
  return *c;
}

void Fetcher::Impl::close_connection(Connection* c) {
  if (!c || c->closing()) return;
  connections.erase(c);
  if (c->idle) forget_idle(c);
  c->close();
}

// Keeps open sockets under the global cap by closing the longest-idle ones.
void Fetcher::Impl::make_room() {
  while (connections.size() >= config.max_connections && !idle_lru.empty()) close_connection(idle_lru.front());
}

Connection* Fetcher::Impl::take_idle(const std::string& origin) {
  auto it = idle.find(origin);
  if (it == idle.end()) return nullptr;
  Connection* c = it->second.back();  // the most recently used is the most likely alive
  forget_idle(c);
  return c;
}

void Fetcher::Impl::forget_idle(Connection* c) {
  if (auto it = idle.find(c->origin()); it != idle.end()) {
    auto& q = it->second;
    q.erase(std::remove(q.begin(), q.end(), c), q.end());
    if (q.empty()) idle.erase(it);
  }
  idle_lru.erase(c->lru);
  c->idle = false;
}

void Fetcher::Impl::release(Connection* c, bool reusable) {
  if (!reusable || c->closing()) return close_connection(c);
  auto& q = idle[c->origin()];
  if (q.size() >= config.max_idle_per_origin) close_connection(q.front());  // removes itself from q
  c->idle = true;
  c->idle_since = monotonic_seconds();
  idle[c->origin()].push_back(c);
  c->lru = idle_lru.insert(idle_lru.end(), c);
}

void Fetcher::Impl::sweep_idle() {
  double cutoff = monotonic_seconds() - config.idle_timeout;
  while (!idle_lru.empty() && idle_lru.front()->idle_since < cutoff) close_connection(idle_lru.front());
}

Result<std::unique_ptr<Fetcher>> Fetcher::create(uv_loop_t* loop, FetcherConfig config) {
  // The TLS context first: failing before any handle is made leaves the
  // loop free to close at once.
  std::unique_ptr<TlsContext> tls;
  if (!config.ca_file.empty()) {
    auto context = TlsContext::create(config.ca_file, config.insecure);
    if (!context) return context.error();
    tls = std::move(*context);
  }
  auto impl = std::make_unique<Impl>(loop, std::move(config));
  impl->tls = std::move(tls);
  impl->sweep = new uv_timer_t;
  if (int rc = uv_timer_init(loop, impl->sweep); rc < 0) {
    delete std::exchange(impl->sweep, nullptr);
    return from_uv(rc, "timer");
  }
  impl->sweep->data = impl.get();
  uv_check(uv_timer_start(impl->sweep, [](uv_timer_t* h) {
    if (h->data) static_cast<Impl*>(h->data)->sweep_idle();
  }, 1000, 1000), "uv_timer_start");
  uv_unref(reinterpret_cast<uv_handle_t*>(impl->sweep));
  return std::unique_ptr<Fetcher>(new Fetcher(std::move(impl)));
}

Fetcher::Fetcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Fetcher::~Fetcher() = default;

void Fetcher::fetch(FetchRequest request, Callback done) {
  auto* t = new Transaction(impl_.get(), std::move(request), std::move(done));
  t->start();
}

void Fetcher::cancel_unsent() {
  std::vector<Transaction*> unsent;
  for (Transaction* t : impl_->transactions) {
    if (t->unsent()) unsent.push_back(t);
  }
  for (Transaction* t : unsent) t->cancel(Error{Code::kCancelled, "cancelled: the crawl is stopping"});
}

void Fetcher::close_idle() {
  while (!impl_->idle_lru.empty()) impl_->close_connection(impl_->idle_lru.front());
}

void Fetcher::set_send_gate(SendGate gate) { impl_->gate = std::move(gate); }
void Fetcher::set_send_hook(SendHook hook) { impl_->send_hook = std::move(hook); }
std::size_t Fetcher::active() const { return impl_->transactions.size(); }
std::size_t Fetcher::open_connections() const { return impl_->connections.size(); }
uint64_t Fetcher::requests_sent() const { return impl_->requests_sent; }
uint64_t Fetcher::connections_opened() const { return impl_->connections_opened; }
std::size_t Fetcher::lookups_running() const { return impl_->dns.lookups_running(); }

}  // namespace webcrawl::crawler
