// The crawl's decisions about outcomes, without a loop or a server.
#include "crawler/crawl_policy.h"

#include <catch2/catch.hpp>

using namespace webcrawl;
using namespace webcrawl::crawler;

namespace {

FetchResponse with_status(int status) {
  FetchResponse r;
  r.status = status;
  r.answered = true;
  return r;
}

FetchResponse with_error(Code code, bool answered = false) {
  FetchResponse r;
  r.error = Error{code, "x"};
  r.answered = answered;
  return r;
}

}  // namespace

TEST_CASE("transient outcomes are network failures, timeouts, 429 and 500/502/503/504", "[policy]") {
  CHECK(is_transient(with_error(Code::kNetwork)));
  CHECK(is_transient(with_error(Code::kTimeout)));
  for (int s : {429, 500, 502, 503, 504}) CHECK(is_transient(with_status(s)));
  for (int s : {200, 301, 404, 501, 505}) CHECK_FALSE(is_transient(with_status(s)));
  CHECK_FALSE(is_transient(with_error(Code::kDns)));  // the name does not exist
  CHECK_FALSE(is_transient(with_error(Code::kTls)));
  CHECK_FALSE(is_transient(with_error(Code::kHttp, true)));
}

TEST_CASE("a host is failing only when it did not answer, or answered 429 or 5xx", "[policy]") {
  CHECK(host_failing(with_error(Code::kNetwork)));  // refused, reset before any byte
  CHECK(host_failing(with_error(Code::kTimeout)));  // silent
  CHECK(host_failing(with_status(503)));
  CHECK(host_failing(with_status(429)));
  CHECK_FALSE(host_failing(with_error(Code::kNetwork, true)));  // reset after the headers
  CHECK_FALSE(host_failing(with_error(Code::kTimeout, true)));  // a trickle that stalled
  CHECK_FALSE(host_failing(with_error(Code::kHttp, true)));     // malformed, bad framing
  CHECK_FALSE(host_failing(with_status(404)));
  CHECK_FALSE(host_failing(with_status(200)));
}

TEST_CASE("Retry-After is read as seconds or as an HTTP-date", "[policy]") {
  CHECK(parse_retry_after("120", 0) == 120.0);
  CHECK(parse_retry_after(" 7 ", 0) == 7.0);
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 seconds after the epoch.
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0 - 30) == Approx(30.0));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0 + 30) == 0.0);  // past
  CHECK_FALSE(parse_retry_after("", 0));
  CHECK_FALSE(parse_retry_after("soon", 0));
  CHECK_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT trailing", 0));
  CHECK(*parse_retry_after("99999999999", 0) > kMaxRetryWait);
}

TEST_CASE("the retry wait backs off exponentially with jitter and honours Retry-After", "[policy]") {
  CHECK(retry_wait(0, 0, "", 0, 0.0).seconds == Approx(0.75));  // at least 1 s of base
  CHECK(retry_wait(0, 2, "", 0, 0.5).seconds == Approx(2.0));
  CHECK(retry_wait(2, 2, "", 0, 0.999).seconds == Approx(8.0 * 1.2495));
  auto ra = retry_wait(0, 1, "60", 0, 0.5);
  CHECK(ra.seconds == 60.0);
  CHECK(std::string(ra.reason) == "retry-after");
  CHECK(std::string(retry_wait(0, 1, "0", 0, 0.5).reason) == "back-off");  // shorter than the back-off
  CHECK(retry_wait(30, 10, "", 0, 0.999).seconds == kMaxRetryWait);
  CHECK(retry_wait(0, 1, "999999", 0, 0.5).seconds == kMaxRetryWait);
}

TEST_CASE("a host parks after N failing URLs in a row, for a doubling time", "[policy]") {
  HostHealth health(3, 10);
  CHECK_FALSE(health.url_finished("h", true));
  CHECK_FALSE(health.url_finished("h", true));
  CHECK(health.url_finished("h", true) == 10.0);
  CHECK(health.url_finished("h", true) == 20.0);
  CHECK(health.url_finished("other", true) == std::nullopt);  // per host
  CHECK_FALSE(health.url_finished("h", false));  // an answer resets the streak
  CHECK(health.failing_in_a_row("h") == 0);
  CHECK_FALSE(health.url_finished("h", true));
  HostHealth never(0, 10);
  for (int i = 0; i < 10; i++) CHECK_FALSE(never.url_finished("h", true));
  HostHealth capped(1, 1000);
  for (int i = 0; i < 10; i++) capped.url_finished("h", true);
  CHECK(capped.url_finished("h", true) == kMaxRetryWait);
}

TEST_CASE("robots.txt statuses map to rules as RFC 9309 says", "[policy]") {
  using Kind = RobotsOutcome::Kind;
  CHECK(robots_outcome(with_status(200), 0, 2).kind == Kind::kRules);
  CHECK(robots_outcome(with_status(404), 0, 2).kind == Kind::kAllowAll);
  CHECK(robots_outcome(with_status(503), 0, 2).kind == Kind::kRetry);
  auto gone = robots_outcome(with_status(503), 0, 0);
  CHECK(gone.kind == Kind::kDisallowAll);
  CHECK(gone.unavailable == "robots.txt unavailable: HTTP 503");
  CHECK(robots_outcome(with_status(429), 0, 0).kind == Kind::kDisallowAll);
  auto unreachable = robots_outcome(with_error(Code::kDns), 0, 2);  // not worth a retry
  CHECK(unreachable.kind == Kind::kDisallowAll);
  CHECK(unreachable.unavailable == "robots.txt unreachable: x");
  FetchResponse moved = with_status(301);
  moved.headers = {{"Location", "/elsewhere.txt"}};
  auto redirect = robots_outcome(moved, 0, 2);
  CHECK(redirect.kind == Kind::kRedirect);
  CHECK(redirect.location == "/elsewhere.txt");
  CHECK(robots_outcome(moved, kMaxRobotsRedirects, 2).kind == Kind::kAllowAll);
}

TEST_CASE("each outcome has one error kind", "[policy]") {
  CHECK(error_kind(with_status(200)).empty());
  CHECK(error_kind(with_status(301)).empty());
  CHECK(error_kind(with_status(404)) == "http 4xx");
  CHECK(error_kind(with_status(503)) == "http 5xx");
  CHECK(error_kind(with_error(Code::kDns)) == "dns");
  CHECK(error_kind(with_error(Code::kTls)) == "tls");
  CHECK(error_kind(with_error(Code::kTimeout)) == "timeout");
  CHECK(error_kind(with_error(Code::kNetwork)) == "connect");
  CHECK(error_kind(with_error(Code::kNetwork, true)) == "protocol");  // reset mid-answer
  CHECK(error_kind(with_error(Code::kHttp, true)) == "protocol");
  CHECK(error_kind(with_error(Code::kCancelled)).empty());
  FetchResponse temporary;
  temporary.error = Error{Code::kNetwork, "dns a.test: temporary failure"};
  CHECK(error_kind(temporary) == "dns");
}
