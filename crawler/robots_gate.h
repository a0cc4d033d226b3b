// robots.txt for a crawl (RFC 9309): one entry per origin, fetched before the
// host's first page through the crawl's own fetcher and scheduler (so it
// counts against the host's delay), retried after a back-off when the
// failure is transient, and kept 24 hours. Entries can also come from an
// earlier run's database rows (preload), so a resumed crawl does not ask
// again within the 24 hours.
//
// The gate owns its back-off timers: close() closes them and settles the
// hosts that waited on them, so a stopping crawl is never held by a
// back-off. Loop thread only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crawler/fetcher.h"
#include "parser/robots.h"
#include "parser/url.h"
#include "storage/store.h"

typedef struct uv_loop_s uv_loop_t;
typedef struct uv_timer_s uv_timer_t;

namespace webcrawl::crawler {

class RobotsGate {
 public:
  struct Config {
    std::string product_token;  // selects the robots.txt group
    int retries = 2;            // of a transient failure
    double backoff = 1.0;       // the first retry's wait (the crawl's delay, at least 1 s)
    double ttl = 24 * 3600.0;   // RFC 9309 2.4: cache for at most 24 hours
  };
  // How the gate reaches the rest of the crawl. Each is called from the loop.
  struct Hooks {
    // Requests `url`; `done` is called once.
    std::function<void(const parser::Url& url, Fetcher::Callback done)> fetch;
    // One robots.txt attempt ended (the audit trail). `waited` and
    // `wait_reason` describe what the attempt waited for.
    std::function<void(const std::string& origin, const parser::Url& url, const FetchResponse& response,
                       int attempt, double waited, const std::string& wait_reason)> audit;
    // A robots.txt response to keep (the `robots` table).
    std::function<void(storage::RobotsRecord record)> keep;
    // The fetch for `origin` is over: its rules are known, or (known =
    // false) it was abandoned by a stop and they stay unknown.
    std::function<void(const std::string& origin, bool known)> settled;
  };

  RobotsGate(uv_loop_t* loop, Config config, Hooks hooks);
  ~RobotsGate();  // closes like close(), without calling settled
  RobotsGate(const RobotsGate&) = delete;
  RobotsGate& operator=(const RobotsGate&) = delete;

  enum class Verdict { kAllowed, kDisallowed, kUnknown, kFetching };
  // What the rules say about `target` ("/path?query") on `origin`: kUnknown
  // when robots.txt must be fetched first (never, or more than ttl ago),
  // kFetching while that is under way. `decision` gets the matching rule.
  Verdict check(const std::string& origin, std::string_view target, std::optional<parser::RobotsDecision>* decision);
  // Starts the fetch of `origin`'s robots.txt; settled() follows. `waited`
  // and `wait_reason` are the first attempt's wait, for the audit trail.
  void fetch(const std::string& origin, double waited, std::string wait_reason);
  // Why the host is disallowed entirely ("robots.txt unavailable: HTTP 503"),
  // or "" when its rules say so (or allow it).
  const std::string& unavailable(const std::string& origin) const;
  // The Sitemap: lines of the host's robots.txt, as written.
  const std::vector<std::string>& sitemaps(const std::string& origin) const;
  // The host's Crawl-delay, if its rules have one.
  std::optional<double> crawl_delay(const std::string& origin) const;
  // Takes an earlier run's answer for `origin`, fetched `age` seconds ago:
  // a 2xx body is parsed; a 4xx allows all. Other statuses are not kept (they
  // are asked again). Does nothing past the ttl.
  void preload(const std::string& origin, int status, std::string_view body, double age);
  // Stops retrying: pending back-offs are cancelled and their hosts settled
  // as unknown. Fetches in flight are the fetcher's to cancel; their
  // responses are still taken.
  void close();

 private:
  struct Entry {
    enum class State { kUnknown, kFetching, kKnown } state = State::kUnknown;
    double fetched_at = 0;  // monotonic
    parser::RobotsTxt rules = parser::RobotsTxt::allow_all();
    std::string unavailable;
    double waited = 0;      // the wait of the job that brought the fetch
    std::string wait_reason;
    uv_timer_t* retry = nullptr;  // a back-off under way
  };
  void attempt(const std::string& origin, parser::Url url, int hops, int attempt);
  void on_response(const std::string& origin, const parser::Url& url, int hops, int attempt,
                   FetchResponse response);
  void known(const std::string& origin, parser::RobotsTxt rules, std::string unavailable);
  void keep(const std::string& origin, const parser::Url& url, const FetchResponse& response,
            const parser::RobotsTxt* rules);
  void cancel_retry(Entry& e);
  struct Retry;  // a back-off timer's data

  uv_loop_t* loop_;
  Config config_;
  Hooks hooks_;
  std::unordered_map<std::string, Entry> entries_;
  bool closed_ = false;
};

}  // namespace webcrawl::crawler
