#include "crawler/frontier.h"

#include <algorithm>
#include <tuple>

namespace webcrawl::crawler {

Frontier::Host& Frontier::host_of(const std::string& origin) {
  auto& slot = hosts_[origin];
  if (!slot) {
    slot = std::make_unique<Host>();
    slot->origin = origin;
    slot->delay = policy_.delay;
    slot->per_host = policy_.per_host;
    if (policy_.host_policy) std::tie(slot->delay, slot->per_host) = policy_.host_policy(origin);
    slot->gap = gap_for(slot->delay);
  }
  return *slot;
}

void Frontier::schedule(Host& h) {
  h.version++;  // whatever entry h had is stale now
  if (!eligible(h)) {
    h.ready = false;
    return;
  }
  if (!h.ready) {
    h.ready = true;
    h.ready_since = clock_();
  }
  ready_.push(Entry{h.next_allowed, h.version, &h});
}

void Frontier::want_refill(Host& h) {
  if (policy_.window == 0 || h.on_disk == 0 || h.refilling) return;
  if (h.queue.size() > policy_.window / 2) return;
  h.refilling = true;
  refills_.push_back(&h);
}

std::vector<RefillRequest> Frontier::take_refills() {
  std::vector<RefillRequest> out;
  for (Host* h : refills_) {
    out.push_back({h->origin, h->last_loaded, policy_.window - std::min(policy_.window, h->queue.size())});
  }
  refills_.clear();
  return out;
}

void Frontier::add_on_disk(const std::string& origin, int64_t count) {
  Host& h = host_of(origin);
  h.on_disk += count;
  on_disk_ += count;
  want_refill(h);
}

void Frontier::refilled(const std::string& origin, std::vector<storage::QueuedUrl> urls, bool exhausted) {
  Host& h = host_of(origin);
  h.refilling = false;
  bool was_eligible = eligible(h);
  int64_t moved = 0;
  for (auto& url : urls) {
    if (url.id <= h.last_loaded) continue;  // already here (it arrived while we asked)
    h.last_loaded = url.id;
    h.queue.push_back(Job{std::move(url), 0, 0.0, {}, {}, false, 0});
    queued_++;
    moved++;
  }
  int64_t gone = exhausted ? h.on_disk : std::min(h.on_disk, moved);
  h.on_disk -= gone;
  on_disk_ -= gone;
  if (!was_eligible) schedule(h);
  want_refill(h);
}

void Frontier::push(storage::QueuedUrl url) {
  Host& h = host_of(url.origin);
  // Keep it in memory while the window has room and nothing older waits on
  // disk; ids at or below last_loaded (a re-queued old URL) are kept too, as
  // a refill, which reads forward from last_loaded, would never find them.
  bool keep = policy_.window == 0 || url.id <= h.last_loaded ||
              (h.on_disk == 0 && h.queue.size() < policy_.window);
  if (!keep) {
    h.on_disk++;
    on_disk_++;
    return want_refill(h);
  }
  h.last_loaded = std::max(h.last_loaded, url.id);
  bool was_eligible = eligible(h);
  h.queue.push_back(Job{std::move(url), 0, 0.0, {}, {}, false, 0});
  queued_++;
  if (!was_eligible) schedule(h);
}

void Frontier::push_retry(Job job, double not_before, const char* reason) {
  Host& h = host_of(job.url.origin);
  h.queue.push_front(std::move(job));
  queued_++;
  h.not_before = std::max(h.not_before, not_before);
  if (not_before > h.next_allowed) {
    h.next_allowed = not_before;
    h.next_reason = reason;
  }
  h.ready = false;  // the retried job is next in line from now
  schedule(h);
}

std::optional<Job> Frontier::pop(double now) {
  while (!ready_.empty() && in_flight_ < static_cast<std::size_t>(policy_.concurrency)) {
    Entry top = ready_.top();
    if (top.version != top.host->version) {
      ready_.pop();
      continue;
    }
    if (top.at > now) return std::nullopt;
    ready_.pop();
    Host& h = *top.host;
    if (double ip_ready = ip_ready_time(h); ip_ready > now) {
      // Another host on the same address went first: wait for the address.
      h.next_allowed = ip_ready;
      h.next_reason = "per-ip";
      h.version++;
      ready_.push(Entry{ip_ready, h.version, &h});
      continue;
    }
    Job job = std::move(h.queue.front());
    h.queue.pop_front();
    queued_--;
    h.active++;
    in_flight_++;
    job.waited = std::max(0.0, now - h.ready_since);
    job.wait_reason.clear();
    if (job.waited >= 0.001) {
      // Whichever held it longer: the host's own schedule (or its address's),
      // or the global caps after the host was ready.
      double own = std::max(0.0, std::min(now, h.next_allowed) - h.ready_since);
      double caps = job.waited - own;
      job.wait_reason = caps > own ? "connections" : h.next_reason;
    }
    if (now + h.gap > h.next_allowed) {
      h.next_allowed = now + h.gap;
      h.next_reason = h.gap_reason;
    }
    h.ready = false;  // the next job in line starts waiting now
    schedule(h);
    want_refill(h);
    return job;
  }
  return std::nullopt;
}

void Frontier::finished(const std::string& origin) {
  Host& h = host_of(origin);
  bool was_eligible = eligible(h);
  h.active--;
  in_flight_--;
  if (!was_eligible) schedule(h);
}

void Frontier::cancel(const std::string& origin) {
  Host& h = host_of(origin);
  h.active--;
  in_flight_--;
  // pop() reserved the host's next gap for this start; nothing went out.
  h.next_allowed = std::max(h.last_sent + h.gap, h.not_before);
  schedule(h);
}

void Frontier::set_blocked(const std::string& origin, bool blocked) {
  Host& h = host_of(origin);
  h.blocked = blocked;
  schedule(h);
}

void Frontier::refresh_gap(Host& h) {
  double d = h.delay;
  h.gap_reason = "host delay";
  if (h.crawl_delay_s > d) {
    d = h.crawl_delay_s;
    h.gap_reason = "crawl-delay";
  }
  if (h.adaptive_s > d) {
    d = h.adaptive_s;
    h.gap_reason = "adaptive";
  }
  h.gap = gap_for(d);
  if (h.last_sent + h.gap > h.next_allowed) {
    h.next_allowed = h.last_sent + h.gap;
    h.next_reason = h.gap_reason;
  }
  schedule(h);
}

void Frontier::set_delay(const std::string& origin, double delay) {
  Host& h = host_of(origin);
  h.crawl_delay_s = delay;
  refresh_gap(h);
}

void Frontier::adapt(const std::string& origin, double response_seconds, double factor, double max_delay) {
  Host& h = host_of(origin);
  h.adaptive_s = std::min(max_delay, factor * response_seconds);
  refresh_gap(h);
}

void Frontier::hold(const std::string& origin, double until, const char* reason) {
  Host& h = host_of(origin);
  h.not_before = std::max(h.not_before, until);
  if (until > h.next_allowed) {
    h.next_allowed = until;
    h.next_reason = reason;
  }
  schedule(h);
}

std::optional<double> Frontier::next_ready_time() {
  if (in_flight_ >= static_cast<std::size_t>(policy_.concurrency)) return std::nullopt;
  while (!ready_.empty() && ready_.top().version != ready_.top().host->version) ready_.pop();
  if (ready_.empty()) return std::nullopt;
  return ready_.top().at;
}

double Frontier::policy_delay(const std::string& origin) {
  Host& h = host_of(origin);
  return std::max(h.delay, h.crawl_delay_s);
}

std::map<std::string, std::size_t> Frontier::waiting(double now) const {
  std::map<std::string, std::size_t> out;
  for (const auto& [origin, h] : hosts_) {
    if (h->queue.empty() && h->on_disk == 0) continue;
    if (h->blocked) {
      out["robots.txt"]++;
    } else if (h->next_allowed > now) {
      out[h->next_reason]++;
    }
  }
  return out;
}

double Frontier::ip_ready_time(const Host& h) const {
  if (policy_.per_ip_delay <= 0 || h.address.empty()) return 0;
  auto it = ip_last_sent_.find(h.address);
  return it == ip_last_sent_.end() ? 0 : it->second + gap_for(policy_.per_ip_delay);
}

double Frontier::send_wait(const std::string& origin, const std::string& address, double now) const {
  double wait = 0;
  if (auto it = hosts_.find(origin); it != hosts_.end()) {
    wait = it->second->last_sent + it->second->gap - now;
  }
  if (policy_.per_ip_delay > 0) {
    if (auto ip = ip_last_sent_.find(address); ip != ip_last_sent_.end()) {
      wait = std::max(wait, ip->second + gap_for(policy_.per_ip_delay) - now);
    }
  }
  return std::max(0.0, wait);
}

void Frontier::sent(const std::string& origin, const std::string& address, double at) {
  if (policy_.per_ip_delay > 0 && !address.empty()) {
    double& last = ip_last_sent_[address];
    last = std::max(last, at);
  }
  Host& h = host_of(origin);
  h.address = address;
  h.last_sent = std::max(h.last_sent, at);
  double allowed = h.last_sent + h.gap;
  if (allowed > h.next_allowed) {
    h.next_allowed = allowed;
    h.next_reason = h.gap_reason;
    if (eligible(h)) schedule(h);
  }
}

}  // namespace webcrawl::crawler
