#include "crawler/crawler.h"

#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <mutex>
#include <unordered_map>
#include <random>
#include <sstream>

#include "crawler/config.h"
#include "crawler/fetcher.h"
#include "crawler/frontier.h"
#include "crawler/link_policy.h"
#include "crawler/page_builder.h"
#include "crawler/pipeline.h"
#include "crawler/uv_util.h"
#include "parser/robots.h"

namespace webcrawl::crawler {
namespace {

constexpr int kMaxRedirects = 10;
constexpr int kMaxRobotsRedirects = 5;        // RFC 9309 2.3.1.2: at least five
constexpr double kRobotsTtl = 24 * 3600.0;    // RFC 9309 2.4: cache for at most 24 hours
constexpr std::size_t kRobotsMaxBody = parser::kMaxRobotsBytes + 16 * 1024;
constexpr double kGracePeriod = 3.0;         // seconds in-flight requests get after a stop
constexpr double kMaxRetryWait = 3600.0;     // a longer Retry-After is not waited for
// Sockets kept open between requests on top of the `concurrency` active ones,
// so that a crawl over more hosts than that reuses each host's connection
// instead of opening one per request (200 hosts, --concurrency 64: 21 of
// 2,000 requests reused a connection; a host's connection was always evicted
// by the time its turn came again). Bounded by the file descriptor limit,
// which main() raises to its hard limit (at most 65,536), leaving room for
// the database and the rest of the process; idle sockets close after
// FetcherConfig::idle_timeout.
std::size_t idle_socket_budget(int concurrency) {
  constexpr std::size_t kMaxIdle = 1024;
  constexpr std::size_t kReserved = 64;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  std::size_t fds = limit.rlim_cur == RLIM_INFINITY ? kMaxIdle * 4 : static_cast<std::size_t>(limit.rlim_cur);
  std::size_t used = kReserved + static_cast<std::size_t>(std::max(concurrency, 0));
  return fds > used ? std::min(kMaxIdle, fds - used) : 0;
}

constexpr std::size_t kPipelineBytes = 32u << 20;  // bodies between fetch and commit
constexpr std::size_t kMinWindow = 16;        // queued URLs per host kept in memory

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Retry-After is either delta-seconds or an HTTP-date (RFC 9110 10.2.3).
std::optional<double> parse_retry_after(const std::string& value, double now_unix) {
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return value.size() > 9 ? kMaxRetryWait * 2 : std::stod(value);
  }
  std::tm tm{};
  const char* end = strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end) return std::nullopt;
  return std::max(0.0, static_cast<double>(timegm(&tm)) - now_unix);
}

// "allow /docs/ (line 4)", for the audit trail.
std::string describe(const std::optional<parser::RobotsDecision>& d) {
  if (!d || !d->rule) return "no matching rule";
  return std::string(d->rule->allow ? "allow " : "disallow ") + d->rule->pattern + " (line " +
         std::to_string(d->rule->line) + ")";
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Worth another try later: the network failed, or the server said so.
bool is_transient(const FetchResponse& r) {
  if (r.error) return r.error->code == Code::kNetwork || r.error->code == Code::kTimeout;
  int s = r.status.value_or(0);
  return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

}  // namespace

// The scheduler's policy: the flags, and the config file's [[hosts]] overrides.
Frontier::Policy frontier_policy(const CrawlOptions& o) {
  Frontier::Policy p;
  p.delay = o.delay;
  p.per_host = o.per_host;
  p.concurrency = o.concurrency;
  p.per_ip_delay = o.per_ip_delay;
  int widest = o.per_host;
  for (const HostOverride& h : o.host_overrides) widest = std::max(widest, h.per_host.value_or(0));
  p.window = std::max<std::size_t>(kMinWindow, 4 * static_cast<std::size_t>(widest));
  if (!o.host_overrides.empty()) {
    p.host_policy = [&o](const std::string& origin) {
      std::pair<double, int> policy{o.delay, o.per_host};
      auto url = parser::parse_url(origin + "/");
      const HostOverride* h = url ? find_override(o, url->hostname()) : nullptr;
      if (h && h->delay) policy.first = *h->delay;
      if (h && h->per_host) policy.second = *h->per_host;
      return policy;
    };
  }
  return p;
}

class Crawl {
 public:
  Crawl(const CrawlOptions& options, std::ostream& log)
      : options_(options),
        log_(log),
        frontier_(frontier_policy(options), monotonic_seconds),
        policy_(options.scope, options.max_depth, options.max_url_length),
        rng_(std::random_device{}()) {}

  Result<CrawlSummary> run();

 private:
  Result<void> prepare();
  void pump();
  void start(Job job, parser::Url url);
  void on_response(Job job, const parser::Url& url, FetchResponse response);
  void retry_later(Job job, const FetchResponse& response);
  // Counts a host's consecutive transient failures; past --park-after, the
  // host is parked (nothing sent to it) for a doubling time, not hammered.
  void note_health(const std::string& origin, bool failed);
  void record(storage::PageResult result, std::size_t weight = 0);
  FetchRequest request_for(parser::Url url, std::size_t max_body) const {
    FetchRequest r;
    r.url = std::move(url);
    r.max_body = max_body;
    r.timeout = options_.timeout;
    r.connect_timeout = std::min(options_.connect_timeout, options_.timeout);
    r.read_timeout = std::min(options_.read_timeout, options_.timeout);
    return r;
  }
  // Hands a page result to the writer; any thread.
  void submit_page(storage::PageResult result, std::size_t weight) {
    WriterItem item;
    item.page = std::move(result);
    item.weight = weight;
    writer_->submit(std::move(item));
  }
  // The audit trail: one fetches row per request attempt.
  void audit(const std::string& url, const std::string& origin, const char* kind, int attempt,
             double waited, const std::string& wait_reason, const std::string& robots_rule,
             const FetchResponse& response);
  storage::PageResult redirect_result(const Job& job, const parser::Url& from,
                                      const FetchResponse& response);
  void on_wake();
  void arm_timer();
  void maybe_finish();
  void finish();
  void on_signal(int signum);

  // robots.txt (RFC 9309), one entry per origin.
  enum class RobotsGate { kAllowed, kDisallowed, kFetch };
  struct Robots {
    bool known = false;
    double fetched_at = 0;  // monotonic
    parser::RobotsTxt rules = parser::RobotsTxt::allow_all();
    std::string unavailable;  // why everything is disallowed (5xx, unreachable)
    double waited = 0;        // the wait of the request that brought the fetch
    std::string wait_reason;
  };
  RobotsGate robots_gate(const Job& job, const parser::Url& url,
                         std::optional<parser::RobotsDecision>* decision);
  void fetch_robots(const std::string& origin, parser::Url url, int hops, int attempt);
  void on_robots(const std::string& origin, const parser::Url& url, int hops, int attempt,
                 FetchResponse response);
  void robots_known(const std::string& origin, parser::RobotsTxt rules, std::string unavailable);
  void keep_robots(const std::string& origin, const parser::Url& url, const FetchResponse& response,
                   const parser::RobotsTxt* rules);
  // The row every outcome of `job` starts from: its id, its URL, now.
  storage::PageResult result_for(const Job& job) const;
  // The record of a URL never requested (robots.txt, a per-host cap).
  storage::PageResult skipped(const Job& job, const std::string& why);
  void abandon_in_flight();
  void print_progress(bool final);

  bool budget_left() const {
    return !options_.max_pages || stored_before_ + started_ < *options_.max_pages;
  }
  // Counts a page handed to the parse pool or the writer.
  void enter_pipeline(std::size_t weight) {
    pipeline_items_++;
    pipeline_bytes_ += weight;
    uncommitted_++;
  }
  bool pipeline_full() const {
    return pipeline_items_ >= pipeline_limit_ || pipeline_bytes_ >= kPipelineBytes;
  }

  const CrawlOptions& options_;
  std::ostream& log_;
  Frontier frontier_;
  LinkPolicy policy_;
  std::mt19937_64 rng_;

  uv_loop_t loop_{};
  std::unique_ptr<Fetcher> fetcher_;
  std::unique_ptr<StoreWriter> writer_;
  std::unique_ptr<WorkerPool<FetchedPage>> parsers_;
  std::unique_ptr<storage::Store> store_;  // until the writer takes it
  uv_async_t* wake_ = nullptr;
  uv_timer_t* timer_ = nullptr;     // the frontier's next ready time
  uv_timer_t* progress_ = nullptr;
  uv_timer_t* grace_ = nullptr;
  uv_signal_t* sigint_ = nullptr;
  uv_signal_t* sigterm_ = nullptr;

  std::mutex inbox_mutex_;
  std::vector<WriterReply> inbox_;
  bool wake_open_ = false;          // guarded by inbox_mutex_

  // Pages handed to parse/writer and not yet taken into a writer batch: the
  // bound on fetching. A batch being committed holds at most
  // StoreWriter::kMaxBatch items on top, and counting them too would starve
  // parsing during every commit (they were half the pipeline).
  std::size_t pipeline_items_ = 0;
  std::size_t pipeline_bytes_ = 0;
  std::size_t uncommitted_ = 0;     // handed to parse/writer, not yet committed
  std::size_t pipeline_limit_ = 128;
  int64_t stored_before_ = 0;       // documents in the database when we started
  int64_t started_ = 0;             // first attempts started by this run
  int64_t stored_ = 0;              // documents committed by this run
  int64_t errors_ = 0;
  int64_t skipped_ = 0;             // never requested (robots.txt, per-host cap)
  int64_t bytes_ = 0;
  uint64_t requests_ = 0;
  uint64_t connections_ = 0;
  double began_ = 0;
  bool stopping_ = false;           // a signal: start nothing new
  bool abandoned_ = false;          // in-flight requests were dropped
  bool finishing_ = false;
  int signal_ = 0;
  std::optional<Error> fatal_;
  std::unordered_map<std::string, Robots> robots_;
  std::unordered_map<std::string, int64_t> pages_per_host_;  // only with --max-pages-per-host
  std::unordered_map<std::string, int> failures_;            // consecutive, by host
  std::string product_token_;
  bool tty_ = false;
  double last_line_ = 0;
};

Result<void> Crawl::prepare() {
  auto store = storage::Store::open(options_.db_path, storage::OpenMode::kCrawl);
  if (!store) return store.error();
  store_ = std::move(*store);

  std::vector<storage::DiscoveredUrl> seeds;
  for (const std::string& s : options_.seeds) {
    auto url = parser::parse_url(s);
    if (!url) return Error{Code::kInvalidArgument, "invalid seed URL " + s + ": " + url.error().message};
    storage::DiscoveredUrl d;
    d.url = url->href();
    d.origin = url->origin();
    d.follow = true;
    seeds.push_back(std::move(d));
  }
  if (!seeds.empty()) {
    auto added = store_->add_seeds(seeds);
    if (!added) return added.error();
  }
  // Scope comes from every seed the crawl ever had, and the seeds' redirect
  // targets (depth 0 too), so a resumed crawl keeps its scope.
  auto roots = store_->seed_origins();
  if (!roots) return roots.error();
  for (const std::string& origin : *roots) {
    if (auto url = parser::parse_url(origin + "/")) policy_.add_seed_host(url->hostname());
  }
  // Only counts are loaded; each host's first window comes through a refill.
  auto queued = store_->queued_by_host();
  if (!queued) return queued.error();
  auto count = store_->document_count();
  if (!count) return count.error();
  stored_before_ = *count;
  if (queued->empty() && roots->empty()) {
    return Error{Code::kInvalidArgument, "nothing to crawl: give seed URLs or --seeds FILE"};
  }
  for (auto& [origin, n] : *queued) frontier_.add_on_disk(origin, n);
  if (options_.max_pages_per_host) {
    auto per_host = store_->documents_by_host();
    if (!per_host) return per_host.error();
    for (auto& [origin, n] : *per_host) pages_per_host_[origin] = n;
  }
  return {};
}

Result<CrawlSummary> Crawl::run() {
  if (auto r = prepare(); !r) return r.error();
  began_ = monotonic_seconds();
  tty_ = isatty(STDERR_FILENO);
  product_token_ = parser::product_token(options_.user_agent);
  // Two pages per connection keep both stages fed now that the batch being
  // committed is not counted (20,000-page crawl: 128 or 256 make the same
  // 393-418 pages/s; peak RSS 72 MB against 85-90).
  pipeline_limit_ = std::max<std::size_t>(64, 2 * static_cast<std::size_t>(options_.concurrency));

  uv_loop_init(&loop_);
  FetcherConfig fc;
  fc.user_agent = options_.user_agent;
  fc.ca_file = options_.ca_file;
  fc.insecure = options_.insecure;
  if (options_.insecure) {
    log_ << "webcrawl: warning: --insecure: TLS certificates are not verified; anyone on the path can "
            "forge what this crawl stores\n";
  }
  fc.max_connections = static_cast<std::size_t>(options_.concurrency) + idle_socket_budget(options_.concurrency);
  fc.max_idle_per_origin = static_cast<std::size_t>(options_.per_host);
  for (const HostOverride& h : options_.host_overrides) {
    fc.max_idle_per_origin = std::max(fc.max_idle_per_origin, static_cast<std::size_t>(h.per_host.value_or(0)));
  }
  auto fetcher = Fetcher::create(&loop_, fc);
  if (!fetcher) {
    uv_loop_close(&loop_);
    return fetcher.error();
  }
  fetcher_ = std::move(*fetcher);
  fetcher_->set_send_gate([this](const std::string& origin, const std::string& address) {
    return frontier_.send_wait(origin, address, monotonic_seconds());
  });
  fetcher_->set_send_hook([this](const std::string& origin, const std::string& address, double at) {
    frontier_.sent(origin, address, at);
  });

  wake_ = new uv_async_t;
  uv_async_init(&loop_, wake_, [](uv_async_t* h) {
    if (h->data) static_cast<Crawl*>(h->data)->on_wake();
  });
  wake_->data = this;
  wake_open_ = true;
  writer_ = std::make_unique<StoreWriter>(std::move(store_), [this](WriterReply reply) {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(reply));
    if (wake_open_) uv_async_send(wake_);
  });
  int threads = options_.parse_threads > 0 ? options_.parse_threads
                                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  parsers_ = std::make_unique<WorkerPool<FetchedPage>>(threads, [this](FetchedPage&& page) {
    std::size_t weight = page.body.size();
    submit_page(build_page(std::move(page), policy_), weight);
  }, "parse", kParseNice);

  timer_ = new uv_timer_t;
  uv_timer_init(&loop_, timer_);
  timer_->data = this;
  progress_ = new uv_timer_t;
  uv_timer_init(&loop_, progress_);
  progress_->data = this;
  if (!options_.quiet) {
    uv_timer_start(progress_, [](uv_timer_t* h) {
      if (h->data) static_cast<Crawl*>(h->data)->print_progress(false);
    }, 1000, 1000);
  }
  for (auto** sig : {&sigint_, &sigterm_}) {
    *sig = new uv_signal_t;
    uv_signal_init(&loop_, *sig);
    (*sig)->data = this;
    uv_signal_start(*sig, [](uv_signal_t* h, int signum) {
      if (h->data) static_cast<Crawl*>(h->data)->on_signal(signum);
    }, sig == &sigint_ ? SIGINT : SIGTERM);
  }

  pump();
  uv_run(&loop_, UV_RUN_DEFAULT);

  // The loop ended: every handle is closed. Drain the stages and close the store.
  parsers_->stop();
  writer_->stop();
  on_wake();  // the last replies, for the counters
  int rc = uv_loop_close(&loop_);
  (void)rc;

  CrawlSummary s;
  s.pages = stored_;
  s.errors = errors_;
  s.queued = static_cast<int64_t>(frontier_.queued());
  s.seconds = monotonic_seconds() - began_;
  s.signal = signal_;
  s.bytes = bytes_;
  s.requests = static_cast<int64_t>(requests_);
  s.connections = static_cast<int64_t>(connections_);
  if (!options_.quiet) print_progress(true);
  if (fatal_) return *fatal_;
  return s;
}

void Crawl::pump() {
  if (finishing_) return;
  if (!stopping_ && !fatal_) {
    for (RefillRequest& r : frontier_.take_refills()) writer_->request_refill(std::move(r));
    double now = monotonic_seconds();
    while (!pipeline_full() && budget_left()) {
      auto job = frontier_.pop(now);
      if (!job) break;
      auto url = parser::parse_url(job->url.url);
      if (!url) {
        // Stored URLs parsed when they were found; this only guards the database.
        frontier_.cancel(job->url.origin);
        storage::PageResult r = result_for(*job);
        r.error = "invalid url: " + url.error().message;
        record(std::move(r));
        continue;
      }
      if (options_.robots) {
        std::optional<parser::RobotsDecision> decision;
        RobotsGate gate = robots_gate(*job, *url, &decision);
        if (gate == RobotsGate::kFetch) {
          // The host's first request is its robots.txt; the job waits in front.
          std::string origin = job->url.origin;
          robots_[origin].waited = job->waited;
          robots_[origin].wait_reason = job->wait_reason;
          frontier_.push_retry(std::move(*job), 0);
          frontier_.set_blocked(origin, true);
          auto robots_url = parser::parse_url(origin + "/robots.txt");
          fetch_robots(origin, std::move(*robots_url), 0, 0);
          continue;
        }
        if (gate == RobotsGate::kDisallowed) {
          frontier_.cancel(job->url.origin);
          const Robots& r = robots_[job->url.origin];
          record(skipped(*job, r.unavailable.empty() ? "robots" : "robots: " + r.unavailable));
          continue;
        }
        job->robots_rule = describe(decision);
      } else {
        job->robots_rule = "robots off";
      }
      if (options_.max_pages_per_host && job->attempt == 0 &&
          pages_per_host_[job->url.origin] >= *options_.max_pages_per_host) {
        frontier_.cancel(job->url.origin);
        record(skipped(*job, "max pages per host"));
        continue;
      }
      if (job->attempt == 0) {
        started_++;
        if (options_.max_pages_per_host) pages_per_host_[job->url.origin]++;
      }
      start(std::move(*job), std::move(*url));
    }
    arm_timer();
  }
  maybe_finish();
}

Crawl::RobotsGate Crawl::robots_gate(const Job& job, const parser::Url& url,
                                     std::optional<parser::RobotsDecision>* decision) {
  Robots& r = robots_[job.url.origin];
  if (!r.known || monotonic_seconds() - r.fetched_at > kRobotsTtl) return RobotsGate::kFetch;
  *decision = r.rules.check(url.request_target());
  return (*decision)->allowed ? RobotsGate::kAllowed : RobotsGate::kDisallowed;
}

void Crawl::fetch_robots(const std::string& origin, parser::Url url, int hops, int attempt) {
  FetchRequest request = request_for(url, kRobotsMaxBody);
  fetcher_->fetch(std::move(request), [this, origin, url, hops, attempt](FetchResponse response) {
    on_robots(origin, url, hops, attempt, std::move(response));
  });
}

void Crawl::on_robots(const std::string& origin, const parser::Url& url, int hops, int attempt,
                      FetchResponse response) {
  bytes_ += response.wire_bytes;
  const Robots& state = robots_[origin];
  bool first = hops == 0 && attempt == 0;
  audit(url.href(), origin, "robots", attempt, first ? state.waited : 0,
        first ? state.wait_reason : (attempt > 0 ? "back-off" : ""), "", response);
  int status = response.status.value_or(0);
  if (!response.error && status >= 200 && status < 300) {
    parser::RobotsTxt rules = parser::RobotsTxt::parse(response.body, product_token_);
    keep_robots(origin, url, response, &rules);
    return robots_known(origin, std::move(rules), "");
  }
  keep_robots(origin, url, response, nullptr);
  if (!response.error && is_redirect(status) && !response.header("location").empty()) {
    auto next = parser::resolve_url(url, response.header("location"));
    if (next && hops + 1 <= kMaxRobotsRedirects) return fetch_robots(origin, std::move(*next), hops + 1, attempt);
    // RFC 9309 2.3.1.2: past the redirect limit, robots.txt counts as unavailable (4xx).
    return robots_known(origin, parser::RobotsTxt::allow_all(), "");
  }
  if (is_transient(response) && attempt < options_.retries && !stopping_) {
    // Retried in place, after a back-off; the host stays blocked meanwhile.
    double wait = std::min(kMaxRetryWait, std::max(1.0, options_.delay) * std::pow(2.0, attempt));
    auto* timer = new uv_timer_t;
    uv_timer_init(&loop_, timer);
    struct Retry { Crawl* crawl; std::string origin; parser::Url url; int attempt; };
    timer->data = new Retry{this, origin, url, attempt + 1};
    uv_timer_start(timer, [](uv_timer_t* h) {
      auto* retry = static_cast<Retry*>(h->data);
      Crawl* crawl = retry->crawl;
      if (crawl->fetcher_ && !crawl->stopping_) {
        crawl->fetch_robots(retry->origin, retry->url, 0, retry->attempt);
      } else {
        // Stopped meanwhile: the host's rules stay unknown, its URLs stay queued.
        crawl->frontier_.finished(retry->origin);
        crawl->frontier_.set_blocked(retry->origin, false);
        crawl->maybe_finish();
      }
      delete retry;
      uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* hh) { delete reinterpret_cast<uv_timer_t*>(hh); });
    }, static_cast<uint64_t>(wait * 1000), 0);
    return;
  }
  if (response.error) {
    // RFC 9309 2.3.1.4: unreachable means everything is disallowed.
    return robots_known(origin, parser::RobotsTxt::disallow_all(), "robots.txt unreachable: " + response.error->message);
  }
  if (status >= 500) {
    return robots_known(origin, parser::RobotsTxt::disallow_all(),
                        "robots.txt unavailable: HTTP " + std::to_string(status));
  }
  if (status >= 400) return robots_known(origin, parser::RobotsTxt::allow_all(), "");  // 2.3.1.3
  // Anything else (1xx, 3xx without Location): treat as unavailable, allow.
  robots_known(origin, parser::RobotsTxt::allow_all(), "");
}

void Crawl::keep_robots(const std::string& origin, const parser::Url& url, const FetchResponse& response,
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
  WriterItem item;
  item.robots = std::move(rec);
  writer_->submit(std::move(item));
}

void Crawl::robots_known(const std::string& origin, parser::RobotsTxt rules, std::string unavailable) {
  Robots& r = robots_[origin];
  r.known = true;
  r.fetched_at = monotonic_seconds();
  r.unavailable = std::move(unavailable);
  if (auto crawl_delay = rules.crawl_delay()) frontier_.set_delay(origin, *crawl_delay);
  r.rules = std::move(rules);
  frontier_.finished(origin);
  frontier_.set_blocked(origin, false);
  pump();
}

void Crawl::audit(const std::string& url, const std::string& origin, const char* kind, int attempt,
                  double waited, const std::string& wait_reason, const std::string& robots_rule,
                  const FetchResponse& response) {
  storage::FetchRecord f;
  f.url = url;
  f.host = origin;
  f.address = response.remote_address;
  f.kind = kind;
  f.attempt = attempt;
  if (response.sent_at > 0) f.started_at = unix_now() - (monotonic_seconds() - response.sent_at);
  f.waited = waited;
  f.wait_reason = wait_reason;
  f.robots_rule = robots_rule;
  f.status = response.status;
  if (response.error) f.error = response.error->message;
  f.bytes = response.wire_bytes;
  f.elapsed = response.elapsed;
  f.reused = response.reused_connection;
  WriterItem item;
  item.fetch = std::move(f);
  writer_->submit(std::move(item));
}

storage::PageResult Crawl::result_for(const Job& job) const {
  storage::PageResult r;
  r.url_id = job.url.id;
  r.final_url = job.url.url;
  r.fetched_at = unix_now();
  return r;
}

storage::PageResult Crawl::skipped(const Job& job, const std::string& why) {
  storage::PageResult r = result_for(job);
  r.skipped = true;
  r.error = why;
  return r;
}

void Crawl::arm_timer() {
  auto next = frontier_.next_ready_time();
  if (pipeline_full() || !budget_left() || !next) {
    uv_timer_stop(timer_);
    return;
  }
  // libuv's clock is in whole milliseconds: round up, so the timer never fires
  // before the host is ready (which would only spin).
  double wait = std::max(0.0, *next - monotonic_seconds());
  uv_timer_start(timer_, [](uv_timer_t* h) {
    if (h->data) static_cast<Crawl*>(h->data)->pump();
  }, static_cast<uint64_t>(std::ceil(wait * 1000.0)) + 1, 0);
}

void Crawl::start(Job job, parser::Url url) {
  if (job.attempt == 0) {
    WriterItem started;
    started.started = job.url.id;
    writer_->submit(std::move(started));
  }
  FetchRequest request = request_for(url, options_.max_body);
  fetcher_->fetch(std::move(request),
                  [this, job = std::move(job), url = std::move(url)](FetchResponse response) mutable {
                    on_response(std::move(job), url, std::move(response));
                  });
}

void Crawl::on_response(Job job, const parser::Url& url, FetchResponse response) {
  frontier_.finished(job.url.origin);
  if (options_.adaptive && response.status) {
    frontier_.adapt(job.url.origin, response.elapsed, options_.adaptive_factor, options_.max_delay);
  }
  const bool transient = is_transient(response);
  note_health(job.url.origin, transient);
  audit(job.url.url, job.url.origin, "page", job.attempt, job.waited, job.wait_reason, job.robots_rule,
        response);
  requests_ = fetcher_ ? fetcher_->requests_sent() : requests_;
  connections_ = fetcher_ ? fetcher_->connections_opened() : connections_;
  bytes_ += response.wire_bytes;
  if (transient && job.attempt < options_.retries && !stopping_) {
    retry_later(std::move(job), response);
    return pump();
  }
  if (response.error) {
    storage::PageResult r = result_for(job);
    r.error = response.error->message;
    r.bytes = response.wire_bytes;
    record(std::move(r));
  } else if (is_redirect(*response.status) && !response.header("location").empty()) {
    record(redirect_result(job, url, response));
  } else {
    FetchedPage page;
    page.url = std::move(job.url);
    page.final_url = url;
    page.status = *response.status;
    page.content_type = std::string(response.header("content-type"));
    page.body = std::move(response.body);
    page.wire_bytes = response.wire_bytes;
    page.truncated = response.truncated;
    page.fetched_at = unix_now();
    if (wants_parsing(page)) {
      enter_pipeline(page.body.size());
      parsers_->submit(std::move(page));
    } else {
      record(build_page(std::move(page), policy_));
    }
  }
  pump();
}

void Crawl::note_health(const std::string& origin, bool failed) {
  if (!failed) {
    failures_.erase(origin);
    return;
  }
  int n = ++failures_[origin];
  if (options_.park_after <= 0 || n < options_.park_after) return;
  double wait = std::min(kMaxRetryWait, options_.park_seconds * std::pow(2.0, n - options_.park_after));
  frontier_.hold(origin, monotonic_seconds() + wait, "parked");
}

void Crawl::retry_later(Job job, const FetchResponse& response) {
  // Exponential back-off with jitter, never shorter than the host's delay, and
  // never shorter than what the server asked for with Retry-After.
  double base = std::min(kMaxRetryWait, std::max(1.0, options_.delay) * std::pow(2.0, job.attempt));
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  double wait = base * jitter(rng_);
  const char* reason = "back-off";
  if (auto ra = parse_retry_after(std::string(response.header("retry-after")), unix_now()); ra && *ra > wait) {
    wait = std::min(*ra, kMaxRetryWait);
    reason = "retry-after";
  }
  job.attempt++;
  frontier_.push_retry(std::move(job), monotonic_seconds() + wait, reason);
}

storage::PageResult Crawl::redirect_result(const Job& job, const parser::Url& from,
                                           const FetchResponse& response) {
  storage::PageResult r = result_for(job);
  r.status = response.status;
  r.content_type = media_type(response.header("content-type"));
  r.bytes = response.wire_bytes;
  auto target = parser::resolve_url(from, response.header("location"));
  if (!target) {
    r.error = "bad redirect location: " + target.error().message;
    return r;
  }
  storage::DiscoveredUrl d;
  d.url = target->href();
  d.origin = target->origin();
  d.depth = job.url.depth;  // a redirect is not a hop
  d.redirects = job.url.redirects + 1;
  if (d.redirects > kMaxRedirects) {
    d.skip_reason = "too many redirects";
    r.error = "too many redirects";
  } else {
    // A seed that redirects (http to https, to www.) brings its target's host
    // into scope, as the user meant the site, not the spelling.
    if (job.url.depth == 0) policy_.add_seed_host(target->hostname());
    if (policy_.in_scope(*target)) {
      d.follow = true;
    } else {
      d.skip_reason = "out of scope";
    }
  }
  r.redirect = std::move(d);
  return r;
}

void Crawl::record(storage::PageResult result, std::size_t weight) {
  if (result.skipped) {
    skipped_++;
  } else if (!result.error.empty() && !result.status) {
    errors_++;
  }
  enter_pipeline(weight);
  submit_page(std::move(result), weight);
}

void Crawl::on_wake() {
  std::vector<WriterReply> replies;
  {
    std::lock_guard lock(inbox_mutex_);
    replies.swap(inbox_);
  }
  for (WriterReply& reply : replies) {
    pipeline_items_ -= std::min(pipeline_items_, reply.taken);
    pipeline_bytes_ -= std::min(pipeline_bytes_, reply.taken_weight);
    uncommitted_ -= std::min(uncommitted_, reply.items);
    if (reply.error) {
      if (!fatal_) fatal_ = Error{reply.error->code, "database: " + reply.error->message};
      stopping_ = true;
      abandon_in_flight();
      continue;
    }
    stored_ += static_cast<int64_t>(reply.items);
    for (auto& q : reply.queued) frontier_.push(std::move(q));
    for (auto& r : reply.refills) frontier_.refilled(r.origin, std::move(r.urls), r.exhausted);
  }
  if (!finishing_ && timer_) pump();
}

void Crawl::maybe_finish() {
  if (finishing_) return;
  bool idle = (frontier_.in_flight() == 0 || abandoned_) && uncommitted_ == 0;
  bool nothing_left = frontier_.queued() == 0 || !budget_left() || stopping_ || fatal_;
  if (!idle || !nothing_left) return;
  finishing_ = true;
  // Close from a fresh tick: we may be inside a fetcher callback right now.
  uv_timer_start(timer_, [](uv_timer_t* h) {
    if (h->data) static_cast<Crawl*>(h->data)->finish();
  }, 0, 0);
}

void Crawl::finish() {
  {
    std::lock_guard lock(inbox_mutex_);
    wake_open_ = false;
  }
  if (fetcher_) {
    requests_ = fetcher_->requests_sent();
    connections_ = fetcher_->connections_opened();
  }
  fetcher_.reset();
  close_and_delete(wake_);
  close_and_delete(timer_);
  close_and_delete(progress_);
  close_and_delete(grace_);
  close_and_delete(sigint_);
  close_and_delete(sigterm_);
  wake_ = nullptr;
  timer_ = progress_ = grace_ = nullptr;
  sigint_ = sigterm_ = nullptr;
}

void Crawl::on_signal(int signum) {
  if (stopping_) {
    // A second signal: leave now. Committed transactions are safe in the WAL;
    // whatever was in flight is still queued in the database for the next run.
    std::fputs("\nwebcrawl: stopped at once\n", stderr);
    _exit(signum == SIGINT ? 130 : 143);
  }
  signal_ = signum;
  stopping_ = true;
  if (!options_.quiet) {
    log_ << "\nwebcrawl: stopping: finishing " << frontier_.in_flight()
         << " requests in flight (signal again to quit at once)\n";
  }
  grace_ = new uv_timer_t;
  uv_timer_init(&loop_, grace_);
  grace_->data = this;
  uv_timer_start(grace_, [](uv_timer_t* h) {
    if (h->data) static_cast<Crawl*>(h->data)->abandon_in_flight();
  }, static_cast<uint64_t>(kGracePeriod * 1000), 0);
  pump();
}

void Crawl::abandon_in_flight() {
  // Requests still running are dropped; their URLs stay queued in the database.
  if (abandoned_) return;
  abandoned_ = true;
  if (fetcher_) {
    requests_ = fetcher_->requests_sent();
    connections_ = fetcher_->connections_opened();
  }
  fetcher_.reset();
  maybe_finish();
}

void Crawl::print_progress(bool final) {
  double elapsed = std::max(1e-9, monotonic_seconds() - began_);
  std::ostringstream line;
  line << std::fixed << std::setprecision(1);
  if (final) {
    int64_t crawled = stored_ - skipped_;
    line << "crawled " << crawled << " pages in " << elapsed << "s (" << crawled / elapsed
         << " pages/s), " << errors_ << " errors, " << skipped_ << " skipped (robots.txt, limits), "
         << bytes_ / 1024 << " KiB, " << requests_
         << " requests over " << connections_ << " connections";
    if (requests_ > 0 && connections_ > 0) {
      line << " (" << static_cast<double>(requests_) / static_cast<double>(connections_) << " per connection)";
    }
    if (frontier_.queued() > 0) line << ", " << frontier_.queued() << " still queued";
    if (tty_) log_ << "\r\x1b[K";
    log_ << line.str() << "\n";
    log_.flush();
    return;
  }
  line << stored_ << " pages  " << stored_ / elapsed << "/s  queued " << frontier_.queued()
       << "  in flight " << frontier_.in_flight() << "  errors " << errors_;
  if (tty_) {
    log_ << "\r\x1b[K" << line.str();
    log_.flush();
  } else if (elapsed - last_line_ >= 10.0) {
    last_line_ = elapsed;
    log_ << line.str() << "\n";
    log_.flush();
  }
}

Result<CrawlSummary> run_crawl(const CrawlOptions& options, std::ostream& log) {
  Crawl crawl(options, log);
  return crawl.run();
}

}  // namespace webcrawl::crawler
