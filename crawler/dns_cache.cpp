#include "crawler/dns_cache.h"

#include <netdb.h>
#include <uv.h>

#include <cstring>

#include "crawler/uv_util.h"

namespace webcrawl::crawler {
namespace {

constexpr double kTtl = 300.0;          // getaddrinfo gives no TTL; five minutes is common
constexpr double kFailureTtl = 30.0;    // a name that does not exist is not asked again at once
constexpr double kRetryTtl = 2.0;       // a temporary failure is remembered only briefly, for retries
constexpr std::size_t kMaxEntries = 1 << 16;  // a broad crawl's cache stays bounded

Error lookup_error(const std::string& host, int status) {
  // No such name (or no address for it) is the answer, not a failure to
  // get one: asking again will not help.
  if (status == UV_EAI_NONAME || status == UV_EAI_NODATA) {
    return {Code::kDns, "dns " + host + ": DNS name not found"};
  }
  return {Code::kNetwork, "dns " + host + ": " + uv_strerror(status)};
}

}  // namespace

struct DnsCache::Lookup {
  uv_getaddrinfo_t req{};
  DnsCache* cache;  // null once the cache is gone
  std::string host;
};

DnsCache::DnsCache(uv_loop_t* loop) : loop_(loop), deliver_(new uv_timer_t) {
  uv_check(uv_timer_init(loop_, deliver_), "uv_timer_init");
  deliver_->data = this;
}

DnsCache::~DnsCache() {
  close_and_delete(deliver_);
  for (uv_getaddrinfo_t* req : running_) {
    // The request still calls back (UV_ECANCELED, or later if it runs); the
    // callback frees the Lookup and finds no cache.
    static_cast<Lookup*>(req->data)->cache = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(req));
  }
}

const DnsAnswer* DnsCache::cached(const std::string& host, double now) {
  auto it = entries_.find(host);
  if (it == entries_.end() || it->second.pending || it->second.expires <= now) return nullptr;
  return &it->second.answer;
}

DnsCache::Ticket DnsCache::resolve(const std::string& host, Callback done) {
  Ticket ticket = next_ticket_++;
  if (entries_.size() >= kMaxEntries && !entries_.count(host)) {
    // An entry with waiters is still to be delivered: a lookup in flight,
    // or a failure to start one that goes out from the next tick.
    for (auto it = entries_.begin(); it != entries_.end();) {
      bool in_use = it->second.pending || !it->second.waiting.empty();
      it = in_use ? std::next(it) : entries_.erase(it);
    }
  }
  Entry& e = entries_[host];
  e.waiting.emplace_back(ticket, std::move(done));
  tickets_.emplace(ticket, host);
  if (e.pending) return ticket;
  e.pending = true;
  auto* lookup = new Lookup{{}, this, host};
  lookup->req.data = lookup;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop_, &lookup->req, [](uv_getaddrinfo_t* r, int status, addrinfo* res) {
    auto* l = static_cast<Lookup*>(r->data);
    if (l->cache) {
      l->cache->running_.erase(r);
      l->cache->on_resolved(l->host, status, res);
    }
    uv_freeaddrinfo(res);
    delete l;
  }, host.c_str(), nullptr, &hints);
  if (rc == 0) {
    running_.insert(&lookup->req);
    return ticket;
  }
  delete lookup;
  // Failed to start: the answer goes out from the next tick like any other,
  // so `done` never runs inside resolve().
  e.pending = false;
  e.answer = DnsAnswer{{}, lookup_error(host, rc)};
  e.expires = monotonic_seconds() + kFailureTtl;
  deferred_.push_back(host);
  uv_check(uv_timer_start(deliver_, [](uv_timer_t* t) {
    if (t->data) static_cast<DnsCache*>(t->data)->deliver_deferred();
  }, 0, 0), "uv_timer_start");
  return ticket;
}

void DnsCache::deliver_deferred() {
  std::vector<std::string> hosts = std::move(deferred_);
  deferred_.clear();
  for (const std::string& host : hosts) {
    auto it = entries_.find(host);
    if (it != entries_.end()) deliver(it->second);
  }
}

void DnsCache::cancel(Ticket ticket) {
  auto it = tickets_.find(ticket);
  if (it == tickets_.end()) return;
  auto entry = entries_.find(it->second);
  tickets_.erase(it);
  if (entry == entries_.end()) return;
  auto& waiting = entry->second.waiting;
  for (auto w = waiting.begin(); w != waiting.end(); ++w) {
    if (w->first == ticket) {
      waiting.erase(w);
      return;
    }
  }
}

void DnsCache::on_resolved(const std::string& host, int status, const addrinfo* res) {
  Entry& e = entries_[host];
  e.pending = false;
  e.answer = DnsAnswer{};
  if (status < 0) {
    e.answer.error = lookup_error(host, status);
  } else {
    for (const addrinfo* a = res; a; a = a->ai_next) {
      if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
      sockaddr_storage ss{};
      std::memcpy(&ss, a->ai_addr, a->ai_addrlen);
      e.answer.addresses.push_back(ss);
    }
    if (e.answer.addresses.empty()) e.answer.error = Error{Code::kDns, "dns " + host + ": no address"};
  }
  double ttl = !e.answer.error ? kTtl : e.answer.error->code == Code::kDns ? kFailureTtl : kRetryTtl;
  e.expires = monotonic_seconds() + ttl;
  deliver(e);
}

void DnsCache::deliver(Entry& e) {
  auto waiting = std::move(e.waiting);
  e.waiting.clear();
  DnsAnswer answer = e.answer;  // a callback may start another lookup and move the map
  for (auto& [ticket, done] : waiting) {
    tickets_.erase(ticket);
    done(answer);
  }
}

}  // namespace webcrawl::crawler
