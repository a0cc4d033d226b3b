#include "crawler/robots_gate.h"

#include <uv.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "common/clock.h"
#include "crawler/crawl_policy.h"
#include "crawler/uv_util.h"

namespace webcrawl::crawler {
struct RobotsGate::Retry {
  RobotsGate* gate;
  std::string origin;
  parser::Url url;
  int attempt;
};

RobotsGate::RobotsGate(uv_loop_t* loop, Config config, Hooks hooks)
    : loop_(loop), config_(std::move(config)), hooks_(std::move(hooks)) {}

RobotsGate::~RobotsGate() {
  hooks_.settled = nullptr;
  close();
}

RobotsGate::Verdict RobotsGate::check(const std::string& origin, std::string_view target,
                                      std::optional<parser::RobotsDecision>* decision) {
  Entry& e = entries_[origin];
  if (e.state == Entry::State::kFetching) return Verdict::kFetching;
  if (e.state == Entry::State::kUnknown || monotonic_seconds() - e.fetched_at > config_.ttl) return Verdict::kUnknown;
  *decision = e.rules.check(target);
  return (*decision)->allowed ? Verdict::kAllowed : Verdict::kDisallowed;
}

void RobotsGate::fetch(const std::string& origin, double waited, std::string wait_reason) {
  Entry& e = entries_[origin];
  e.state = Entry::State::kFetching;
  e.waited = waited;
  e.wait_reason = std::move(wait_reason);
  auto url = parser::parse_url(origin + "/robots.txt");
  if (!url) return known(origin, parser::RobotsTxt::allow_all(), "");  // an origin always parses; guard only
  attempt(origin, std::move(*url), 0, 0);
}

void RobotsGate::attempt(const std::string& origin, parser::Url url, int hops, int attempt) {
  hooks_.fetch(url, [this, origin, url, hops, attempt](FetchResponse response) {
    on_response(origin, url, hops, attempt, std::move(response));
  });
}

void RobotsGate::on_response(const std::string& origin, const parser::Url& url, int hops, int attempt_no,
                             FetchResponse response) {
  Entry& e = entries_[origin];
  if (response.error && response.error->code == Code::kCancelled) {
    // Stopped before it was sent: nothing was learnt, and the host's URLs
    // stay queued for the next run.
    e.state = Entry::State::kUnknown;
    if (hooks_.settled) hooks_.settled(origin, false);
    return;
  }
  bool first = hops == 0 && attempt_no == 0;
  hooks_.audit(origin, url, response, attempt_no, first ? e.waited : 0,
               first ? e.wait_reason : (attempt_no > 0 ? "back-off" : ""));
  int attempts_left = closed_ ? 0 : config_.retries - attempt_no;
  RobotsOutcome outcome = robots_outcome(response, hops, attempts_left);
  using Kind = RobotsOutcome::Kind;
  if (outcome.kind == Kind::kRules) {
    parser::RobotsTxt rules = parser::RobotsTxt::parse(response.body, config_.product_token);
    keep(origin, url, response, &rules);
    return known(origin, std::move(rules), "");
  }
  keep(origin, url, response, nullptr);
  if (outcome.kind == Kind::kRedirect) {
    auto next = parser::resolve_url(url, outcome.location);
    if (next) return attempt(origin, std::move(*next), hops + 1, attempt_no);
    return known(origin, parser::RobotsTxt::allow_all(), "");
  }
  if (outcome.kind == Kind::kRetry) {
    // Retried in place after a back-off; the host stays blocked meanwhile.
    double wait = std::min(kMaxRetryWait, std::max(1.0, config_.backoff) * std::pow(2.0, attempt_no));
    auto* timer = new uv_timer_t;
    uv_check(uv_timer_init(loop_, timer), "uv_timer_init");
    timer->data = new Retry{this, origin, url, attempt_no + 1};
    e.retry = timer;
    uv_check(uv_timer_start(timer, [](uv_timer_t* h) {
      auto* retry = static_cast<Retry*>(h->data);
      if (!retry) return;
      RobotsGate* gate = retry->gate;
      Entry& entry = gate->entries_[retry->origin];
      Retry next = std::move(*retry);
      gate->cancel_retry(entry);
      gate->attempt(next.origin, std::move(next.url), 0, next.attempt);
    }, static_cast<uint64_t>(wait * 1000), 0), "uv_timer_start");
    return;
  }
  if (outcome.kind == Kind::kDisallowAll) return known(origin, parser::RobotsTxt::disallow_all(), outcome.unavailable);
  known(origin, parser::RobotsTxt::allow_all(), "");
}

void RobotsGate::cancel_retry(Entry& e) {
  if (!e.retry) return;
  uv_timer_t* t = std::exchange(e.retry, nullptr);
  delete static_cast<Retry*>(t->data);
  close_and_delete(t);
}

void RobotsGate::known(const std::string& origin, parser::RobotsTxt rules, std::string unavailable) {
  Entry& e = entries_[origin];
  e.state = Entry::State::kKnown;
  e.fetched_at = monotonic_seconds();
  e.rules = std::move(rules);
  e.unavailable = std::move(unavailable);
  if (hooks_.settled) hooks_.settled(origin, true);
}

void RobotsGate::keep(const std::string& origin, const parser::Url& url, const FetchResponse& response,
                      const parser::RobotsTxt* rules) {
  // Every robots.txt response is kept whole, for anyone who must later show
  // what the rules said when the crawl ran.
  storage::RobotsRecord rec;
  rec.host = origin;
  rec.url = url.href();
  rec.fetched_at = unix_now();
  rec.status = response.status;
  if (response.error) rec.error = response.error->message;
  rec.body = response.body.substr(0, parser::kMaxRobotsBytes);
  if (rules) {
    rec.crawl_delay = rules->crawl_delay();
    rec.sitemaps = rules->sitemaps();
  }
  hooks_.keep(std::move(rec));
}

const std::string& RobotsGate::unavailable(const std::string& origin) const {
  static const std::string kNone;
  auto it = entries_.find(origin);
  return it == entries_.end() ? kNone : it->second.unavailable;
}

const std::vector<std::string>& RobotsGate::sitemaps(const std::string& origin) const {
  static const std::vector<std::string> kNone;
  auto it = entries_.find(origin);
  return it == entries_.end() ? kNone : it->second.rules.sitemaps();
}

std::optional<double> RobotsGate::crawl_delay(const std::string& origin) const {
  auto it = entries_.find(origin);
  if (it == entries_.end() || it->second.state != Entry::State::kKnown) return std::nullopt;
  return it->second.rules.crawl_delay();
}

void RobotsGate::preload(const std::string& origin, int status, std::string_view body, double age) {
  if (age < 0 || age > config_.ttl) return;
  Entry& e = entries_[origin];
  if (e.state != Entry::State::kUnknown) return;
  if (status >= 200 && status < 300) {
    e.rules = parser::RobotsTxt::parse(body, config_.product_token);
  } else if (status >= 400 && status < 500 && status != 429) {
    e.rules = parser::RobotsTxt::allow_all();
  } else {
    return;
  }
  e.state = Entry::State::kKnown;
  e.fetched_at = monotonic_seconds() - age;
}

void RobotsGate::close() {
  closed_ = true;
  std::vector<std::string> waiting;
  for (auto& [origin, e] : entries_) {
    if (!e.retry) continue;
    cancel_retry(e);
    e.state = Entry::State::kUnknown;
    waiting.push_back(origin);
  }
  // Settled after the walk: the hook may look hosts up again.
  for (const std::string& origin : waiting) {
    if (hooks_.settled) hooks_.settled(origin, false);
  }
}

}  // namespace webcrawl::crawler
