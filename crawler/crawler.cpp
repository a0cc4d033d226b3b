// The crawl: the loop, the pump that starts requests, and what happens to a
// response. Policy decisions are crawl_policy.h's, robots.txt is the
// RobotsGate's, the progress line is Progress's; this file wires them to the
// frontier, the fetcher, the parse pool and the writer.
#include "crawler/crawler.h"

#include <sys/resource.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <mutex>
#include <random>
#include <sstream>
#include <unordered_map>

#include "crawler/config.h"
#include "crawler/crawl_policy.h"
#include "crawler/fetcher.h"
#include "crawler/frontier.h"
#include "crawler/link_policy.h"
#include "crawler/page_builder.h"
#include "crawler/pipeline.h"
#include "crawler/progress.h"
#include "crawler/robots_gate.h"
#include "crawler/store_writer.h"
#include "crawler/uv_util.h"
#include "common/version.h"

namespace webcrawl::crawler {
namespace {

constexpr int kMaxRedirects = 10;
constexpr std::size_t kRobotsMaxBody = parser::kMaxRobotsBytes + 16 * 1024;
constexpr double kGracePeriod = 3.0;               // seconds in-flight requests get after a stop
constexpr std::size_t kPipelineBytes = 32u << 20;  // bodies between fetch and commit
constexpr std::size_t kMinWindow = 16;             // queued URLs per host kept in memory

// Parsing admits pages against a memory budget. A gumbo tree takes up to
// about 9 times the HTML it comes from (Java 17 API docs: a 6.0 MB page grew
// the peak RSS by 51 MB, 2.9 MB by 23 MB, 1.9 MB by 14 MB; see the arena in
// parser/extract.cpp), so two multi-MB pages parsed side by side would take
// more than the rest of the crawl does.
constexpr std::size_t kTreeFactor = 9;
constexpr std::size_t kParseBudget = 40u << 20;  // expected tree bytes parsed at once
constexpr std::size_t kSmallParse = 4u << 20;    // always admitted (about 300 KB of HTML)
std::size_t parse_cost(const FetchedPage& page) { return 64 * 1024 + kTreeFactor * page.body.size(); }

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

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// "allow /docs/ (line 4)", for the audit trail.
std::string describe(const std::optional<parser::RobotsDecision>& d) {
  if (!d || !d->rule) return "no matching rule";
  return std::string(d->rule->allow ? "allow " : "disallow ") + d->rule->pattern + " (line " +
         std::to_string(d->rule->line) + ")";
}

// SHA-256 of `text` in lowercase hex (the run manifest's seeds_sha256).
std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; i++) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

bool cancelled(const FetchResponse& r) { return r.error && r.error->code == Code::kCancelled; }

Error from_uv_setup(int rc, const char* what) { return {Code::kIo, std::string(what) + ": " + uv_strerror(rc)}; }

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
        health_(options.park_after, options.park_seconds),
        rng_(std::random_device{}()) {}

  Result<CrawlSummary> run();

 private:
  // Set-up and tear-down.
  Result<void> prepare();
  Result<void> open_loop();
  void finish();
  void on_signal(int signum);
  void abandon_in_flight();

  // The pump: start every request that may start now.
  void pump();
  void arm_timer();
  bool admit(Job& job, const parser::Url& url);
  void start(Job job, parser::Url url);
  FetchRequest request_for(parser::Url url, std::size_t max_body) const;

  // Outcomes.
  void on_response(Job job, const parser::Url& url, FetchResponse response);
  void retry_later(Job job, const FetchResponse& response);
  void record(storage::PageResult result, std::size_t weight = 0);
  void hand_to_parser(Job job, const parser::Url& url, FetchResponse response);
  storage::PageResult redirect_result(const Job& job, const parser::Url& from, const FetchResponse& response);
  storage::PageResult result_for(const Job& job) const;
  storage::PageResult skipped(const Job& job, const std::string& why);
  void audit(const std::string& url, const std::string& origin, const char* kind, int attempt, double waited,
             const std::string& wait_reason, const std::string& robots_rule, const FetchResponse& response);
  void on_robots_settled(const std::string& origin, bool known);

  // The writer's replies, and the end.
  void on_wake();
  void maybe_finish();
  void show_progress();
  void note_fetcher_counts();

  bool budget_left() const { return !options_.max_pages || stored_before_ + started_ < *options_.max_pages; }
  // Counts a page handed to the parse pool or the writer.
  void enter_pipeline(std::size_t weight) {
    pipeline_items_++;
    pipeline_bytes_ += weight;
    uncommitted_++;
  }
  bool pipeline_full() const { return pipeline_items_ >= pipeline_limit_ || pipeline_bytes_ >= kPipelineBytes; }

  const CrawlOptions& options_;
  std::ostream& log_;
  Frontier frontier_;
  LinkPolicy policy_;
  HostHealth health_;
  std::mt19937_64 rng_;

  uv_loop_t* loop_ = nullptr;  // on the heap: a crawl stopped with lookups running leaves it behind
  std::unique_ptr<Fetcher> fetcher_;
  std::unique_ptr<StoreWriter> writer_;
  // A page to parse, and the weight it holds in the pipeline until the writer takes it.
  struct ParseJob {
    FetchedPage page;
    std::size_t weight = 0;
  };
  std::unique_ptr<BudgetPool<ParseJob>> parsers_;
  std::unique_ptr<RobotsGate> robots_;
  std::unique_ptr<Progress> progress_;
  std::unique_ptr<storage::Store> store_;  // until the writer takes it
  // Every handle the crawl owns; finish() closes each one.
  uv_async_t* wake_ = nullptr;
  uv_timer_t* timer_ = nullptr;     // the frontier's next ready time
  uv_timer_t* ticker_ = nullptr;    // the progress line
  uv_timer_t* grace_ = nullptr;     // the stop's grace period
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
  bool lookups_left_ = false;       // getaddrinfo calls outlived the crawl
  int signal_ = 0;
  std::optional<Error> fatal_;
  int64_t run_id_ = 0;              // this run's row in `runs`
  std::unordered_map<std::string, double> reported_delay_;  // hosts.delay as last written
  std::unordered_map<std::string, int64_t> pages_per_host_;  // only with --max-pages-per-host
};

// ---- set-up -----------------------------------------------------------------

Result<void> Crawl::prepare() {
  auto store = storage::Store::open(options_.db_path);
  if (!store) return store.error();
  store_ = std::move(*store);

  std::vector<storage::DiscoveredUrl> seeds;
  std::string seed_list;
  for (const std::string& s : options_.seeds) {
    auto url = parser::parse_url(s);
    if (!url) return Error{Code::kInvalidArgument, "invalid seed URL " + s + ": " + url.error().message};
    storage::DiscoveredUrl d;
    d.url = url->href();
    d.origin = url->origin();
    d.follow = true;
    seed_list += d.url + "\n";
    seeds.push_back(std::move(d));
  }
  if (!seeds.empty()) {
    auto added = store_->add_seeds(seeds);
    if (!added) return added.error();
  }
  storage::RunRecord run{unix_now(), std::string("webcrawl ") + kVersion, options_json(options_),
                         seed_list.empty() ? "" : sha256_hex(seed_list)};
  auto run_id = store_->begin_run(run);
  if (!run_id) return run_id.error();
  run_id_ = *run_id;
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

// Every handle, checked as it is made; on failure those made so far are
// closed by finish() like the rest.
Result<void> Crawl::open_loop() {
  FetcherConfig fc;
  fc.user_agent = options_.user_agent;
  fc.ca_file = options_.ca_file;
  fc.insecure = options_.insecure;
  fc.max_connections = static_cast<std::size_t>(options_.concurrency) + idle_socket_budget(options_.concurrency);
  fc.max_idle_per_origin = static_cast<std::size_t>(options_.per_host);
  for (const HostOverride& h : options_.host_overrides) {
    fc.max_idle_per_origin = std::max(fc.max_idle_per_origin, static_cast<std::size_t>(h.per_host.value_or(0)));
  }
  auto fetcher = Fetcher::create(loop_, fc);
  if (!fetcher) return fetcher.error();
  fetcher_ = std::move(*fetcher);
  fetcher_->set_send_gate([this](const std::string& origin, const std::string& address) {
    return frontier_.send_wait(origin, address, monotonic_seconds());
  });
  fetcher_->set_send_hook([this](const std::string& origin, const std::string& address, double at) {
    frontier_.sent(origin, address, at);
  });

  RobotsGate::Config robots_config;
  robots_config.product_token = parser::product_token(options_.user_agent);
  robots_config.retries = options_.retries;
  robots_config.backoff = std::max(1.0, options_.delay);
  RobotsGate::Hooks hooks;
  hooks.fetch = [this](const parser::Url& url, Fetcher::Callback done) {
    fetcher_->fetch(request_for(url, kRobotsMaxBody), std::move(done));
  };
  hooks.audit = [this](const std::string& origin, const parser::Url& url, const FetchResponse& response, int attempt,
                       double waited, const std::string& reason) {
    bytes_ += response.wire_bytes;
    audit(url.href(), origin, "robots", attempt, waited, reason, "", response);
  };
  hooks.keep = [this](storage::RobotsRecord record) { writer_->submit(std::move(record)); };
  hooks.settled = [this](const std::string& origin, bool known) { on_robots_settled(origin, known); };
  robots_ = std::make_unique<RobotsGate>(loop_, robots_config, std::move(hooks));

  auto init_timer = [this](uv_timer_t*& t) -> Result<void> {
    t = new uv_timer_t;
    if (int rc = uv_timer_init(loop_, t); rc < 0) {
      delete std::exchange(t, nullptr);
      return from_uv_setup(rc, "timer");
    }
    t->data = this;
    return {};
  };
  for (uv_timer_t** t : {&timer_, &ticker_}) {
    if (auto r = init_timer(*t); !r) return r;
  }
  wake_ = new uv_async_t;
  if (int rc = uv_async_init(loop_, wake_, [](uv_async_t* h) {
        if (h->data) static_cast<Crawl*>(h->data)->on_wake();
      }); rc < 0) {
    delete std::exchange(wake_, nullptr);
    return from_uv_setup(rc, "async");
  }
  wake_->data = this;
  {
    std::lock_guard lock(inbox_mutex_);
    wake_open_ = true;
  }
  if (!options_.quiet) {
    if (int rc = uv_timer_start(ticker_, [](uv_timer_t* h) {
          if (h->data) static_cast<Crawl*>(h->data)->show_progress();
        }, 1000, 1000); rc < 0) {
      return from_uv_setup(rc, "timer");
    }
  }
  for (auto* sig : {&sigint_, &sigterm_}) {
    *sig = new uv_signal_t;
    if (int rc = uv_signal_init(loop_, *sig); rc < 0) {
      delete std::exchange(*sig, nullptr);
      return from_uv_setup(rc, "signal");
    }
    (*sig)->data = this;
    int rc = uv_signal_start(*sig, [](uv_signal_t* h, int signum) {
      if (h->data) static_cast<Crawl*>(h->data)->on_signal(signum);
    }, sig == &sigint_ ? SIGINT : SIGTERM);
    if (rc < 0) return from_uv_setup(rc, "signal");
  }
  return {};
}

Result<CrawlSummary> Crawl::run() {
  if (auto r = prepare(); !r) return r.error();
  began_ = monotonic_seconds();
  progress_ = std::make_unique<Progress>(log_, isatty(STDERR_FILENO) != 0, began_);
  // Two pages per connection keep both stages fed now that the batch being
  // committed is not counted (20,000-page crawl: 128 or 256 make the same
  // 393-418 pages/s; peak RSS 72 MB against 85-90).
  pipeline_limit_ = std::max<std::size_t>(64, 2 * static_cast<std::size_t>(options_.concurrency));
  if (options_.insecure) {
    log_ << "webcrawl: warning: --insecure: TLS certificates are not verified; anyone on the path can "
            "forge what this crawl stores\n";
  }

  writer_ = std::make_unique<StoreWriter>(std::move(store_), [this](WriterReply reply) {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(reply));
    if (wake_open_) uv_async_send(wake_);
  });
  int threads = options_.parse_threads > 0 ? options_.parse_threads
                                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  parsers_ = std::make_unique<BudgetPool<ParseJob>>(threads, kParseBudget, kSmallParse, [this](ParseJob&& job) {
    writer_->submit(PageItem{build_page(std::move(job.page), policy_), job.weight});
  }, "parse", kParseNice);

  loop_ = new uv_loop_t;
  if (int rc = uv_loop_init(loop_); rc < 0) {
    delete std::exchange(loop_, nullptr);
    fatal_ = from_uv_setup(rc, "event loop");
  } else if (auto r = open_loop(); !r) {
    fatal_ = r.error();
    finish();
  } else {
    pump();
  }
  if (loop_) uv_run(loop_, UV_RUN_DEFAULT);

  // The loop ended: every handle is closed. Drain the stages and close the store.
  parsers_->stop();
  std::unique_ptr<storage::Store> store = writer_->stop();
  on_wake();  // the last replies, for the counters
  std::string outcome = fatal_ ? "error"
                        : signal_ == SIGINT  ? "sigint"
                        : signal_ == SIGTERM ? "sigterm"
                        : !budget_left()     ? "limit"
                                             : "finished";
  if (store) {
    if (auto r = store->end_run(run_id_, unix_now(), stored_, outcome); !r && !fatal_) fatal_ = r.error();
  }
  store.reset();
  int handles_left = 0;
  if (loop_ && uv_loop_close(loop_) == 0) {
    delete loop_;
  } else if (loop_) {
    // getaddrinfo calls still run on libuv's pool and will post to this loop
    // when they end: it must outlive them, so it is left behind. Handles
    // still open would be a bug (every one has an owner that closes it in
    // finish()); they are counted for the tests.
    lookups_left_ = true;
    uv_walk(loop_, [](uv_handle_t* h, void* arg) {
      if (!uv_is_closing(h)) ++*static_cast<int*>(arg);
    }, &handles_left);
  }
  loop_ = nullptr;

  CrawlSummary s;
  s.pages = stored_;
  s.errors = errors_;
  s.queued = static_cast<int64_t>(frontier_.queued());
  s.seconds = monotonic_seconds() - began_;
  s.signal = signal_;
  s.bytes = bytes_;
  s.requests = static_cast<int64_t>(requests_);
  s.connections = static_cast<int64_t>(connections_);
  s.lookups_left = lookups_left_;
  s.outcome = outcome;
  s.handles_left = handles_left;
  if (!options_.quiet) {
    progress_->clear();
    log_ << summary_line(s, skipped_) << "\n";
    log_.flush();
  }
  if (fatal_) return *fatal_;
  return s;
}

// ---- the pump ---------------------------------------------------------------

void Crawl::pump() {
  if (finishing_) return;
  if (!stopping_ && !fatal_) {
    for (RefillRequest& r : frontier_.take_refills()) writer_->submit(std::move(r));
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
      if (!admit(*job, *url)) continue;
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

// Whether a popped job may go out now (robots.txt, the per-host cap). A job
// that may not is put back or recorded here, and its slot given back.
bool Crawl::admit(Job& job, const parser::Url& url) {
  const std::string origin = job.url.origin;
  if (options_.robots) {
    std::optional<parser::RobotsDecision> decision;
    switch (robots_->check(origin, url.request_target(), &decision)) {
      case RobotsGate::Verdict::kUnknown:
        // The host's first request is its robots.txt, in this job's slot;
        // the job waits in front of the host's queue.
        frontier_.set_blocked(origin, true);
        robots_->fetch(origin, job.waited, job.wait_reason);
        frontier_.push_retry(std::move(job), 0);
        return false;
      case RobotsGate::Verdict::kFetching:
        frontier_.push_retry(std::move(job), 0);
        frontier_.cancel(origin);
        return false;
      case RobotsGate::Verdict::kDisallowed: {
        frontier_.cancel(origin);
        const std::string& why = robots_->unavailable(origin);
        storage::PageResult r = skipped(job, why.empty() ? "robots" : "robots: " + why);
        if (!why.empty()) r.error_kind = "robots";
        record(std::move(r));
        return false;
      }
      case RobotsGate::Verdict::kAllowed:
        job.robots_rule = describe(decision);
        break;
    }
  } else {
    job.robots_rule = "robots off";
  }
  if (options_.max_pages_per_host && job.attempt == 0 &&
      pages_per_host_[origin] >= *options_.max_pages_per_host) {
    frontier_.cancel(origin);
    record(skipped(job, "max pages per host"));
    return false;
  }
  return true;
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

FetchRequest Crawl::request_for(parser::Url url, std::size_t max_body) const {
  FetchRequest r;
  r.url = std::move(url);
  r.max_body = max_body;
  r.timeout = options_.timeout;
  r.connect_timeout = std::min(options_.connect_timeout, options_.timeout);
  r.read_timeout = std::min(options_.read_timeout, options_.timeout);
  return r;
}

void Crawl::start(Job job, parser::Url url) {
  if (job.attempt == 0) writer_->submit(StartedUrl{job.url.id});
  double delay = frontier_.policy_delay(job.url.origin);
  auto [known, fresh] = reported_delay_.try_emplace(job.url.origin, delay);
  if (fresh || known->second != delay) {
    known->second = delay;
    writer_->submit(HostDelay{job.url.origin, delay});
  }
  FetchRequest request = request_for(url, options_.max_body);
  fetcher_->fetch(std::move(request),
                  [this, job = std::move(job), url = std::move(url)](FetchResponse response) mutable {
                    on_response(std::move(job), url, std::move(response));
                  });
}

// ---- outcomes ---------------------------------------------------------------

void Crawl::on_response(Job job, const parser::Url& url, FetchResponse response) {
  frontier_.finished(job.url.origin);
  if (cancelled(response)) {
    // Never sent (the crawl is stopping): the URL stays queued for the next run.
    return maybe_finish();
  }
  if (options_.adaptive && response.status) {
    frontier_.adapt(job.url.origin, response.elapsed, options_.adaptive_factor, options_.max_delay);
  }
  audit(job.url.url, job.url.origin, "page", job.attempt, job.waited, job.wait_reason, job.robots_rule, response);
  note_fetcher_counts();
  bytes_ += response.wire_bytes;
  if (is_transient(response) && job.attempt < options_.retries) {
    // Retried later, or, when stopping, left queued for the next run.
    if (!stopping_) retry_later(std::move(job), response);
    return pump();
  }
  // The URL's final outcome: it counts once for parking, whatever its attempts.
  if (auto park = health_.url_finished(job.url.origin, host_failing(response))) {
    frontier_.hold(job.url.origin, monotonic_seconds() + *park, "parked");
  }
  if (response.error) {
    storage::PageResult r = result_for(job);
    r.error = response.error->message;
    r.error_kind = error_kind(response);
    r.bytes = response.wire_bytes;
    record(std::move(r));
  } else if (is_redirect(*response.status) && !response.header("location").empty()) {
    record(redirect_result(job, url, response));
  } else {
    hand_to_parser(std::move(job), url, std::move(response));
  }
  pump();
}

void Crawl::hand_to_parser(Job job, const parser::Url& url, FetchResponse response) {
  FetchedPage page;
  page.url = std::move(job.url);
  page.final_url = url;
  page.status = *response.status;
  page.content_type = std::string(response.header("content-type"));
  page.body = std::move(response.body);
  page.wire_bytes = response.wire_bytes;
  page.truncated = response.truncated;
  page.fetched_at = unix_now();
  if (!wants_parsing(page)) {
    storage::PageResult r = build_page(std::move(page), policy_);
    r.error_kind = error_kind(response);
    // A 429 or 5xx that outlasted its retries: the URL failed.
    r.failed = is_transient(response);
    return record(std::move(r));
  }
  // A page whose tree will not fit beside others weighs that tree in the
  // pipeline, so fetching waits while it parses instead of piling up bodies.
  std::size_t cost = parse_cost(page);
  std::size_t weight = page.body.size() + (cost > kSmallParse ? cost : 0);
  enter_pipeline(weight);
  parsers_->submit(ParseJob{std::move(page), weight}, cost);
}

void Crawl::retry_later(Job job, const FetchResponse& response) {
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  RetryWait w = retry_wait(job.attempt, options_.delay, response.header("retry-after"), unix_now(), jitter(rng_));
  job.attempt++;
  frontier_.push_retry(std::move(job), monotonic_seconds() + w.seconds, w.reason);
}

storage::PageResult Crawl::redirect_result(const Job& job, const parser::Url& from, const FetchResponse& response) {
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
  writer_->submit(PageItem{std::move(result), weight});
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

void Crawl::audit(const std::string& url, const std::string& origin, const char* kind, int attempt, double waited,
                  const std::string& wait_reason, const std::string& robots_rule, const FetchResponse& response) {
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
  f.error_kind = error_kind(response);
  writer_->submit(std::move(f));
}

void Crawl::on_robots_settled(const std::string& origin, bool known) {
  // The robots.txt request held the slot of the job that brought it.
  frontier_.finished(origin);
  frontier_.set_blocked(origin, false);
  if (known) {
    if (auto crawl_delay = robots_->crawl_delay(origin)) frontier_.set_delay(origin, *crawl_delay);
  }
  pump();
}

// ---- the writer's replies, and the end -------------------------------------

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
  if (finishing_ || !timer_) return;
  bool idle = (frontier_.in_flight() == 0 || abandoned_) && uncommitted_ == 0;
  bool nothing_left = frontier_.queued() == 0 || !budget_left() || stopping_ || fatal_;
  if (!idle || !nothing_left) return;
  finishing_ = true;
  // Close from a fresh tick: we may be inside a fetcher callback right now.
  uv_timer_start(timer_, [](uv_timer_t* h) {
    if (h->data) static_cast<Crawl*>(h->data)->finish();
  }, 0, 0);
}

void Crawl::note_fetcher_counts() {
  if (!fetcher_) return;
  requests_ = fetcher_->requests_sent();
  connections_ = fetcher_->connections_opened();
}

void Crawl::finish() {
  finishing_ = true;
  {
    std::lock_guard lock(inbox_mutex_);
    wake_open_ = false;
  }
  note_fetcher_counts();
  bool lookups = fetcher_ && fetcher_->lookups_running() > 0;
  if (robots_) robots_->close();
  robots_.reset();
  fetcher_.reset();
  close_and_delete(std::exchange(wake_, nullptr));
  close_and_delete(std::exchange(timer_, nullptr));
  close_and_delete(std::exchange(ticker_, nullptr));
  close_and_delete(std::exchange(grace_, nullptr));
  close_and_delete(std::exchange(sigint_, nullptr));
  close_and_delete(std::exchange(sigterm_, nullptr));
  if (!lookups) return;
  // A getaddrinfo call cannot be interrupted, and while one runs the loop
  // would not end: stop it once the handles above are closed.
  auto* linger = new uv_timer_t;
  uv_timer_init(loop_, linger);
  uv_timer_start(linger, [](uv_timer_t* h) {
    uv_stop(h->loop);
    close_and_delete(h);
  }, 0, 0);
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
  // Nothing new reaches a server from here on: requests not yet written are
  // cancelled, and robots.txt back-offs end.
  if (fetcher_) fetcher_->cancel_unsent();
  if (robots_) robots_->close();
  if (!options_.quiet) {
    progress_->print("webcrawl: stopping: finishing " + std::to_string(fetcher_ ? fetcher_->active() : 0) +
                     " requests in flight (signal again to quit at once)");
  }
  grace_ = new uv_timer_t;
  uv_timer_init(loop_, grace_);
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
  note_fetcher_counts();
  fetcher_.reset();
  maybe_finish();
}

void Crawl::show_progress() {
  ProgressSnapshot s;
  s.stored = stored_;
  s.queued = static_cast<int64_t>(frontier_.queued());
  s.in_flight = frontier_.in_flight();
  s.errors = errors_;
  double now = monotonic_seconds();
  s.waiting = frontier_.waiting(now);
  if (options_.max_pages) s.remaining = std::max<int64_t>(0, *options_.max_pages - stored_before_ - stored_);
  progress_->update(s, now);
}

std::string summary_line(const CrawlSummary& s, int64_t skipped) {
  std::ostringstream line;
  line << std::fixed << std::setprecision(1);
  double elapsed = std::max(1e-9, s.seconds);
  int64_t crawled = s.pages - skipped;
  line << "crawled " << crawled << " pages in " << elapsed << "s (" << crawled / elapsed << " pages/s), "
       << s.errors << " errors, " << skipped << " skipped (robots.txt, limits), " << s.bytes / 1024 << " KiB, "
       << s.requests << " requests over " << s.connections << " connections";
  if (s.requests > 0 && s.connections > 0) {
    line << " (" << static_cast<double>(s.requests) / static_cast<double>(s.connections) << " per connection)";
  }
  if (s.queued > 0) line << ", " << s.queued << " still queued";
  return line.str();
}

Result<CrawlSummary> run_crawl(const CrawlOptions& options, std::ostream& log) {
  Crawl crawl(options, log);
  return crawl.run();
}

}  // namespace webcrawl::crawler
