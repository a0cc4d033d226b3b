// The crawl's decisions about outcomes, as pure functions: what is worth
// another try, how long to wait before it, when a host counts as failing and
// is parked, and what a robots.txt response means (RFC 9309 2.3.1). No I/O,
// no clock (callers pass the time): each decision is tested on its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "crawler/fetcher.h"
#include "parser/robots.h"

namespace webcrawl::crawler {

inline constexpr double kMaxRetryWait = 3600.0;  // a longer Retry-After is not waited for

bool is_redirect(int status);

// Worth another try later: a connection failure or reset, a timeout, a
// temporary DNS failure, or 429/500/502/503/504. A name that does not exist,
// a TLS failure or a malformed response is final.
bool is_transient(const FetchResponse& response);

// The final outcome of a URL (after its retries) that says its host is
// failing: a transient failure from a server that did not answer (refused,
// reset before any response, timed out waiting), or a 429/5xx status. A
// server that answered anything else, even a malformed response or a reset
// after the headers, is up.
bool host_failing(const FetchResponse& response);

// The kind of an outcome for "errors by kind": "dns", "connect" (refused,
// reset or closed before any answer), "tls", "timeout", "protocol" (a
// malformed or cut-short answer), "http 4xx", "http 5xx"; "" for a success
// (2xx, 3xx) or a cancelled request.
std::string error_kind(const FetchResponse& response);

// Retry-After is delta-seconds or an HTTP-date (RFC 9110 10.2.3); the
// seconds to wait from `now_unix`, nothing when it is absent or unreadable.
std::optional<double> parse_retry_after(std::string_view value, double now_unix);

struct RetryWait {
  double seconds = 0;
  const char* reason = "back-off";  // or "retry-after": the audit trail's wait_reason
};

// The wait before retry number `attempt + 1` of a request that failed:
// exponential back-off from the host's delay (at least 1 s), times a jitter
// factor in [0.75, 1.25) (`jitter` is uniform in [0, 1)), never shorter than
// a Retry-After asks, never longer than kMaxRetryWait.
RetryWait retry_wait(int attempt, double host_delay, std::string_view retry_after, double now_unix,
                     double jitter);

// Parking: a host is parked only after `park_after` consecutive URLs whose
// final outcome was host_failing(), counted once per URL whatever the number
// of its attempts; any other outcome resets the count. The first parking
// lasts `park_seconds`, each further failing URL doubles it, at most an hour.
class HostHealth {
 public:
  HostHealth(int park_after, double park_seconds) : park_after_(park_after), park_seconds_(park_seconds) {}
  // A URL of `origin` reached its final outcome; how long to park the host
  // from now, when it must be.
  std::optional<double> url_finished(const std::string& origin, bool failing);
  int failing_in_a_row(const std::string& origin) const;

 private:
  int park_after_;
  double park_seconds_;
  std::unordered_map<std::string, int> failures_;  // only hosts with a failing streak
};

// What a robots.txt response means for the host (RFC 9309 2.3.1).
struct RobotsOutcome {
  enum class Kind {
    kRules,        // 2xx: the rules are in the body
    kRedirect,     // follow `location` (within the hop limit)
    kRetry,        // transient: try again after a back-off
    kAllowAll,     // 4xx, too many redirects, anything else
    kDisallowAll,  // 5xx or unreachable, with no attempt left
  };
  Kind kind = Kind::kAllowAll;
  std::string location = {};     // kRedirect
  std::string unavailable = {};  // kDisallowAll: why ("robots.txt unavailable: HTTP 503")
};

// `hops` redirects were followed already; `attempts_left` retries remain.
RobotsOutcome robots_outcome(const FetchResponse& response, int hops, int attempts_left);
inline constexpr int kMaxRobotsRedirects = 5;  // RFC 9309 2.3.1.2: at least five

}  // namespace webcrawl::crawler
