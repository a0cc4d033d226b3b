// The crawl's parts, shared by crawler.cpp (set-up, the loop's life, the
// end) and crawl_fetch.cpp (the pump and what happens to each response).
// Internal to crawler/.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crawler/crawl_policy.h"
#include "crawler/crawler.h"
#include "crawler/fetcher.h"
#include "crawler/frontier.h"
#include "crawler/link_policy.h"
#include "crawler/metrics.h"
#include "crawler/page_builder.h"
#include "crawler/pipeline.h"
#include "crawler/progress.h"
#include "crawler/robots_gate.h"
#include "crawler/sitemap_builder.h"
#include "crawler/store_writer.h"
#include "crawler/warc_sink.h"
#include "crawler/uv_util.h"
#include "parser/cookies.h"

namespace webcrawl::crawler {

inline constexpr int kMaxRedirects = 10;
inline constexpr std::size_t kRobotsMaxBody = parser::kMaxRobotsBytes + 16 * 1024;
inline constexpr double kGracePeriod = 3.0;               // seconds in-flight requests get after a stop
inline constexpr std::size_t kPipelineBytes = 32u << 20;  // bodies between fetch and commit
inline constexpr std::size_t kMinWindow = 16;             // queued URLs per host kept in memory

// Parsing admits pages against a memory budget. A gumbo tree takes up to
// about 9 times the HTML it comes from (Java 17 API docs: a 6.0 MB page grew
// the peak RSS by 51 MB, 2.9 MB by 23 MB, 1.9 MB by 14 MB; see the arena in
// parser/extract.cpp), so two multi-MB pages parsed side by side would take
// more than the rest of the crawl does.
inline constexpr std::size_t kTreeFactor = 9;
inline constexpr std::size_t kParseBudget = 40u << 20;  // expected tree bytes parsed at once
inline constexpr std::size_t kSmallParse = 4u << 20;    // always admitted (about 300 KB of HTML)
inline std::size_t parse_cost(const FetchedPage& page) { return 64 * 1024 + kTreeFactor * page.body.size(); }

// The scheduler's policy: the flags, and the config file's [[hosts]] overrides.
Frontier::Policy frontier_policy(const CrawlOptions& o);

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
  Result<void> open_warc();
  Result<void> add_proxies(FetcherConfig& fc) const;
  Result<void> summarize(CrawlSummary& s);
  void finish();
  void on_signal(int signum);
  void abandon_in_flight();

  // The pump: start every request that may start now.
  void pump();
  void arm_timer();
  bool admit(Job& job, const parser::Url& url);
  void start(Job job, parser::Url url);
  FetchRequest request_for(parser::Url url, std::size_t max_body);

  // --cookies (crawl_cookies.cpp): the jar, filled from the database.
  Result<void> load_cookies();
  // Adds the jar's Cookie header for the request's URL, if it has one.
  void add_cookie_header(FetchRequest& request);
  // Takes the Set-Cookie fields of a response to `url` (every hop of a
  // redirect, robots.txt too) and hands the jar's changes to the writer.
  void take_cookies(const parser::Url& url, const FetchResponse& response);

  // Outcomes.
  void on_response(Job job, const parser::Url& url, FetchResponse response);
  void retry_later(Job job, const FetchResponse& response);
  void record(storage::PageResult result, std::size_t weight = 0,
              std::optional<parser::WarcExchange> exchange = std::nullopt);
  void hand_to_parser(Job job, const parser::Url& url, FetchResponse response,
                      std::optional<parser::WarcExchange> exchange);
  // With --warc: the exchange of a response, taking its raw bytes.
  std::optional<parser::WarcExchange> exchange_of(const parser::Url& url, FetchResponse& response) const;
  void after_archive(parser::WarcExchange exchange, std::size_t weight, std::function<void(storage::WarcPlace)> next);
  // Puts a reply in the loop's inbox and wakes it; any thread.
  void deliver(WriterReply reply);
  storage::PageResult redirect_result(const Job& job, const parser::Url& from, const FetchResponse& response);
  storage::PageResult result_for(const Job& job) const;
  storage::PageResult skipped(const Job& job, const std::string& why);
  void audit(const std::string& url, const std::string& origin, const char* kind, int attempt, double waited,
             const std::string& wait_reason, const std::string& robots_rule, const FetchResponse& response);
  void on_robots_settled(const std::string& origin, bool known);

  // Sitemaps (crawl_sitemaps.cpp): queued in front of their host's pages,
  // fetched through the same scheduler and robots.txt, parsed on the parse
  // threads, committed with the URLs they list.
  Result<void> prepare_sitemaps();
  void queue_sitemap(const std::string& url, int level, int redirects = 0);
  void queue_robots_sitemaps(const std::string& origin, const std::vector<std::string>& sitemaps);
  void on_sitemap_response(Job job, const parser::Url& url, FetchResponse response);
  // A sitemap row without a body to read: refused, failed, or not 2xx.
  void record_sitemap(const Job& job, std::optional<int> status, std::string error);
  // The response's X-Robots-Tag and Link canonical, for the page builder.
  void take_page_headers(FetchedPage& page, const FetchResponse& response) const;

  // The writer's replies, and the end.
  void on_wake();
  void maybe_finish();
  void show_progress();
  void note_fetcher_counts();
  // --metrics (crawl_metrics.cpp): the port bound before the database is
  // touched, served once the loop exists, the counters of one scrape.
  Result<void> bind_metrics();
  Result<void> serve_metrics();
  MetricsSnapshot metrics_snapshot() const;

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
    std::optional<FetchedSitemap> sitemap;  // a sitemap instead of a page
  };
  std::unique_ptr<BudgetPool<ParseJob>> parsers_;
  std::unique_ptr<RobotsGate> robots_;
  std::unique_ptr<WarcSink> warc_;    // with --warc
  std::unique_ptr<Progress> progress_;
  std::unique_ptr<MetricsServer> metrics_;  // with --metrics: bound in prepare(), served on the loop
  std::unique_ptr<storage::Store> store_;  // until the writer takes it
  std::unique_ptr<parser::CookieJar> cookies_;  // with --cookies
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
  std::map<std::string, int64_t> request_errors_;  // failed requests by error kind, for --metrics
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
  parser::Headers headers_;         // --header, sent with every request
  std::vector<storage::RobotsRecord> earlier_robots_;  // from the database, for the gate
  std::unordered_map<std::string, double> reported_delay_;  // hosts.delay as last written
  std::unordered_map<std::string, int64_t> pages_per_host_;  // only with --max-pages-per-host
  std::string product_token_;       // of --user-agent: selects X-Robots-Tag parts
  std::unordered_set<std::string> sitemaps_seen_;  // queued in this run, or settled in an earlier one
  std::unordered_map<std::string, int> sitemaps_per_host_;
};

}  // namespace webcrawl::crawler
