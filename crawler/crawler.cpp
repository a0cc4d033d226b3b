// A crawl's life: set-up, the loop, signals, the writer's replies, the end.
// The pump and what happens to each response are in crawl_fetch.cpp.
#include "crawler/crawler.h"

#include <openssl/evp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "common/clock.h"
#include "common/version.h"
#include "crawler/config.h"
#include "parser/ascii.h"
#include "crawler/crawl.h"
#include "crawler/summary.h"
#include "crawler/uv_util.h"

namespace webcrawl::crawler {
namespace {

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

Error from_uv_setup(int rc, const char* what) { return {Code::kIo, std::string(what) + ": " + uv_strerror(rc)}; }

}  // namespace

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

// ---- set-up -----------------------------------------------------------------

Result<void> Crawl::prepare() {
  // Everything the user gave is checked before the database is touched, so
  // a usage error creates and changes nothing.
  if (auto r = check_options(options_); !r) return r.error();
  auto steering = Steering::from(options_);
  if (!steering) return steering.error();
  policy_.set_steering(std::move(*steering));
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
  for (const std::string& s : options_.sitemap_urls) {
    auto url = parser::parse_url(s);
    if (!url) return Error{Code::kInvalidArgument, "invalid --sitemap URL " + s + ": " + url.error().message};
  }
  std::error_code ec;
  auto size = std::filesystem::file_size(options_.db_path, ec);
  if (seeds.empty() && options_.sitemap_urls.empty() && (ec || size == 0)) {
    return Error{Code::kInvalidArgument, "nothing to crawl: give seed URLs or --seeds FILE"};
  }
  // The metrics port is taken before the database is touched: a port in use
  // changes nothing and sends nothing.
  if (auto r = bind_metrics(); !r) return r;
  auto store = storage::Store::open(options_.db_path);
  if (!store) return store.error();
  store_ = std::move(*store);
  if (!seeds.empty()) {
    auto added = store_->add_seeds(seeds);
    if (!added) return added.error();
  }
  if (options_.robots) {
    auto robots = store_->recent_robots(unix_now() - 24 * 3600.0);
    if (!robots) return robots.error();
    earlier_robots_ = std::move(*robots);
  }
  if (options_.cookies) {
    if (auto r = load_cookies(); !r) return r.error();
  }
  auto earlier_runs = store_->run_count();
  if (!earlier_runs) return earlier_runs.error();
  if (options_.retry_failed) {
    auto again = store_->retry_failed();
    if (!again) return again.error();
    if (!options_.quiet) log_ << "webcrawl: retrying " << count_of(*again, "URL", "URLs") << " that failed\n";
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
  if (auto r = prepare_sitemaps(); !r) return r.error();
  if (queued->empty() && roots->empty() && options_.sitemap_urls.empty()) {
    return Error{Code::kInvalidArgument, "nothing to crawl: give seed URLs or --seeds FILE"};
  }
  for (auto& [origin, n] : *queued) frontier_.add_on_disk(origin, n);
  if (!options_.quiet && *earlier_runs > 0) {
    log_ << "webcrawl: resuming " << options_.db_path << ": " << thousands(stored_before_) << " stored, "
         << thousands(static_cast<int64_t>(frontier_.queued())) << " queued, " << count_of(*earlier_runs, "run", "runs")
         << " before this one\n";
  }
  const std::string& ua = options_.user_agent;
  bool contact = ua.find("+http") != std::string::npos || ua.find("mailto:") != std::string::npos;
  if (!options_.quiet && !contact && roots->size() > 1) {
    log_ << "webcrawl: warning: the User-Agent names no contact; polite crawls of several hosts carry one, "
            "e.g. --user-agent \"study-bot/1.0 (+mailto:you@example.org)\"\n";
  }
  if (options_.max_pages_per_host) {
    auto per_host = store_->documents_by_host();
    if (!per_host) return per_host.error();
    for (auto& [origin, n] : *per_host) pages_per_host_[origin] = n;
  }
  return {};
}

// Every handle, checked as it is made; on failure those made so far are
// closed by finish() like the rest.
// --proxy for every request, or else what the environment named
// (options.h): http_proxy for http, https_proxy for https, no_proxy for both.
Result<void> Crawl::add_proxies(FetcherConfig& fc) const {
  std::vector<std::string> direct;
  std::string_view list = options_.no_proxy;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string entry = parser::ascii_lowercase(parser::trim(list.substr(0, comma)));
    if (!entry.empty()) direct.push_back(entry.substr(0, entry.find(':')));  // ports are not told apart
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  auto proxy = [&](const std::string& text, bool http, bool https) -> Result<ProxyConfig> {
    auto url = parser::parse_url(text);
    if (!url) return Error{Code::kInvalidArgument, "proxy " + text + ": " + url.error().message};
    return ProxyConfig{*url, direct, http, https};
  };
  if (!options_.proxy.empty()) {
    auto p = proxy(options_.proxy, true, true);
    if (!p) return p.error();
    fc.proxy = std::move(*p);
    fc.proxy->no_proxy.clear();  // a proxy given on the command line carries everything
    return {};
  }
  if (!options_.http_proxy.empty()) {
    auto p = proxy(options_.http_proxy, true, false);
    if (!p) return p.error();
    fc.proxy = std::move(*p);
  }
  if (!options_.https_proxy.empty()) {
    auto p = proxy(options_.https_proxy, false, true);
    if (!p) return p.error();
    fc.https_proxy = std::move(*p);
  }
  return {};
}

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
  if (auto r = add_proxies(fc); !r) return r;
  for (const std::string& header : options_.headers) {
    if (auto nv = split_header(header)) headers_.push_back(std::move(*nv));
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
  product_token_ = parser::product_token(options_.user_agent);
  robots_config.product_token = product_token_;
  robots_config.retries = options_.retries;
  robots_config.backoff = std::max(1.0, options_.delay);
  RobotsGate::Hooks hooks;
  hooks.fetch = [this](const parser::Url& url, Fetcher::Callback done) {
    fetcher_->fetch(request_for(url, kRobotsMaxBody), [this, url, done = std::move(done)](FetchResponse r) {
      take_cookies(url, r);
      if (auto exchange = exchange_of(url, r)) warc_->submit(WarcJob{std::move(*exchange), nullptr});
      done(std::move(r));
    });
  };
  hooks.audit = [this](const std::string& origin, const parser::Url& url, const FetchResponse& response, int attempt,
                       double waited, const std::string& reason) {
    bytes_ += response.wire_bytes;
    audit(url.href(), origin, "robots", attempt, waited, reason, "", response);
  };
  hooks.keep = [this](storage::RobotsRecord record) { writer_->submit(std::move(record)); };
  hooks.settled = [this](const std::string& origin, bool known) { on_robots_settled(origin, known); };
  robots_ = std::make_unique<RobotsGate>(loop_, robots_config, std::move(hooks));
  // RFC 9309 2.4 lets an answer serve 24 hours, across runs too.
  double now = unix_now();
  for (const storage::RobotsRecord& r : earlier_robots_) {
    if (r.status) robots_->preload(r.host, *r.status, r.body, now - r.fetched_at);
    // What that answer listed and no run has read yet (a crawl stopped first).
    if (r.status && *r.status >= 200 && *r.status <= 299) queue_robots_sitemaps(r.host, r.sitemaps);
  }
  earlier_robots_.clear();
  for (const std::string& s : options_.sitemap_urls) queue_sitemap(s, 0);

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
  if (auto r = serve_metrics(); !r) return r;
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

// What this run did, counted from the database as `webcrawl stats` counts
// it, so the summary and stats agree by construction.
Result<void> Crawl::summarize(CrawlSummary& s) {
  auto reader = storage::Reader::open(options_.db_path);
  if (!reader) return reader.error();
  auto stats = (*reader)->stats(5, run_id_);
  if (!stats) return stats.error();
  s.stats = std::move(*stats);
  if (s.stats.fetched == 0 && s.stats.requests > 0) {
    s.nothing_fetched = true;
    auto why = (*reader)->seed_failures(run_id_);
    if (why && !why->empty()) {
      for (const std::string& w : *why) s.why_nothing += (s.why_nothing.empty() ? "" : "; ") + w;
    } else {
      s.why_nothing = "no server answered";
    }
  }
  return {};
}

void Crawl::deliver(WriterReply reply) {
  std::lock_guard lock(inbox_mutex_);
  inbox_.push_back(std::move(reply));
  if (wake_open_) uv_async_send(wake_);
}

// The archive: opened (and a torn end of its last file cut away) before the
// first request, taught the payloads earlier runs archived.
Result<void> Crawl::open_warc() {
  std::error_code ec;
  std::string dir = std::filesystem::absolute(options_.warc_dir, ec).string();
  storage::WarcWriterOptions wo;
  wo.max_size = options_.warc_max_size;
  wo.info = options_fields(options_);
  auto sink = WarcSink::open(dir, wo);
  if (!sink) return Error{sink.error().code, "--warc: " + sink.error().message};
  warc_ = std::move(*sink);
  if (!warc_->repair_report().empty() && !options_.quiet) log_ << "webcrawl: " << warc_->repair_report() << "\n";
  auto archived = store_->archived_payloads();
  if (!archived) return archived.error();
  for (const auto& [digest, place] : *archived) {
    if (auto raw = parser::raw_sha1(digest)) warc_->remember(*raw, place.first, place.second);
  }
  return store_->set_meta("warc_dir", dir);
}

Result<CrawlSummary> Crawl::run() {
  if (auto r = prepare(); !r) return r.error();
  if (!options_.warc_dir.empty()) {
    if (auto r = open_warc(); !r) return r.error();
  }
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

  writer_ = std::make_unique<StoreWriter>(std::move(store_), [this](WriterReply reply) { deliver(std::move(reply)); },
                                         options_.bulk_index);
  int threads = options_.parse_threads > 0 ? options_.parse_threads
                                           : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  parsers_ = std::make_unique<BudgetPool<ParseJob>>(threads, kParseBudget, kSmallParse, [this](ParseJob&& job) {
    if (job.sitemap) {
      SitemapItem item = build_sitemap(std::move(*job.sitemap), policy_);
      item.weight = job.weight;
      return writer_->submit(std::move(item));
    }
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
  // The archive first: what it finishes goes on to the parsers and the writer.
  if (warc_) warc_->stop();
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
  CrawlSummary s;
  if (!fatal_) {
    if (auto r = summarize(s); !r) fatal_ = r.error();
  }
  // The writable connection closes last, so SQLite removes the WAL file.
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
  if (fatal_) return *fatal_;
  if (!options_.quiet) {
    progress_->clear();
    log_ << format_summary(s.stats, outcome, s.seconds);
    log_.flush();
  }
  return s;
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
    stored_ += static_cast<int64_t>(reply.pages);
    for (auto& q : reply.queued) frontier_.push(std::move(q));
    for (auto& [url, level] : reply.sitemaps) queue_sitemap(url, level);
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
  uv_check(uv_timer_start(timer_, [](uv_timer_t* h) {
    if (h->data) static_cast<Crawl*>(h->data)->finish();
  }, 0, 0), "uv_timer_start");
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
  metrics_.reset();
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
  uv_check(uv_timer_init(loop_, linger), "uv_timer_init");
  uv_check(uv_timer_start(linger, [](uv_timer_t* h) {
    uv_stop(h->loop);
    close_and_delete(h);
  }, 0, 0), "uv_timer_start");
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
  uv_check(uv_timer_init(loop_, grace_), "uv_timer_init");
  grace_->data = this;
  uv_check(uv_timer_start(grace_, [](uv_timer_t* h) {
    if (h->data) static_cast<Crawl*>(h->data)->abandon_in_flight();
  }, static_cast<uint64_t>(kGracePeriod * 1000), 0), "uv_timer_start");
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

Result<CrawlSummary> run_crawl(const CrawlOptions& options, std::ostream& log) {
  Crawl crawl(options, log);
  return crawl.run();
}

}  // namespace webcrawl::crawler
