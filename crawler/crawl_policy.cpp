#include "crawler/crawl_policy.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "parser/ascii.h"

namespace webcrawl::crawler {

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

namespace {

bool transient_status(int s) { return s == 429 || s == 500 || s == 502 || s == 503 || s == 504; }

}  // namespace

bool is_transient(const FetchResponse& r) {
  if (r.error) return r.error->code == Code::kNetwork || r.error->code == Code::kTimeout;
  return transient_status(r.status.value_or(0));
}

bool host_failing(const FetchResponse& r) {
  if (!r.error) return transient_status(r.status.value_or(0));
  return is_transient(r) && !r.answered;
}

std::string error_kind(const FetchResponse& r) {
  if (r.error) {
    switch (r.error->code) {
      case Code::kDns: return "dns";
      case Code::kTls: return "tls";
      case Code::kTimeout: return "timeout";
      case Code::kHttp:
      case Code::kParse: return "protocol";
      case Code::kCancelled: return "";
      case Code::kNetwork:
        if (r.error->message.rfind("dns ", 0) == 0) return "dns";  // a temporary DNS failure
        return r.answered ? "protocol" : "connect";
      default: return "other";
    }
  }
  int s = r.status.value_or(0);
  if (s >= 500) return "http 5xx";
  if (s >= 400) return "http 4xx";
  return "";
}

std::optional<double> parse_retry_after(std::string_view value, double now_unix) {
  value = parser::trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), parser::is_ascii_digit)) {
    return value.size() > 9 ? kMaxRetryWait * 2 : std::stod(std::string(value));
  }
  // IMF-fixdate, the form RFC 9110 says senders use.
  std::tm tm{};
  std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return std::max(0.0, static_cast<double>(timegm(&tm)) - now_unix);
}

RetryWait retry_wait(int attempt, double host_delay, std::string_view retry_after, double now_unix,
                     double jitter) {
  double base = std::min(kMaxRetryWait, std::max(1.0, host_delay) * std::pow(2.0, attempt));
  RetryWait w{base * (0.75 + 0.5 * jitter), "back-off"};
  if (auto ra = parse_retry_after(retry_after, now_unix); ra && *ra > w.seconds) {
    w.seconds = *ra;
    w.reason = "retry-after";
  }
  w.seconds = std::min(w.seconds, kMaxRetryWait);
  return w;
}

std::optional<double> HostHealth::url_finished(const std::string& origin, bool failing) {
  if (!failing) {
    failures_.erase(origin);
    return std::nullopt;
  }
  int n = ++failures_[origin];
  if (park_after_ <= 0 || n < park_after_) return std::nullopt;
  return std::min(kMaxRetryWait, park_seconds_ * std::pow(2.0, n - park_after_));
}

int HostHealth::failing_in_a_row(const std::string& origin) const {
  auto it = failures_.find(origin);
  return it == failures_.end() ? 0 : it->second;
}

RobotsOutcome robots_outcome(const FetchResponse& r, int hops, int attempts_left) {
  using Kind = RobotsOutcome::Kind;
  int status = r.status.value_or(0);
  if (!r.error && status >= 200 && status < 300) return {Kind::kRules};
  if (!r.error && is_redirect(status) && !r.header("location").empty()) {
    // RFC 9309 2.3.1.2: past the redirect limit, robots.txt counts as unavailable (4xx).
    if (hops + 1 > kMaxRobotsRedirects) return {Kind::kAllowAll};
    return {Kind::kRedirect, std::string(r.header("location"))};
  }
  if (is_transient(r) && attempts_left > 0) return {Kind::kRetry};
  // RFC 9309 2.3.1.4: unreachable or a server error means everything is disallowed.
  if (r.error) return {Kind::kDisallowAll, {}, "robots.txt unreachable: " + r.error->message};
  // A 429 asks us to slow down: allowing everything would do the opposite.
  if (status >= 500 || status == 429) {
    return {Kind::kDisallowAll, {}, "robots.txt unavailable: HTTP " + std::to_string(status)};
  }
  // 2.3.1.3: 4xx allows everything; so does anything else (1xx, 3xx without Location).
  return {Kind::kAllowAll};
}

}  // namespace webcrawl::crawler
