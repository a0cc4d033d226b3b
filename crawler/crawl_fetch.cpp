// The pump, which starts every request that may start now, and what happens
// to each response: retries, parking, redirects, pages to parse, the audit.
#include <cmath>

#include <cstdio>
#include <ctime>

#include "common/clock.h"
#include "parser/ascii.h"
#include "parser/link_header.h"
#include "crawler/config.h"
#include "crawler/summary.h"
#include "crawler/crawl.h"
#include "crawler/uv_util.h"

namespace webcrawl::crawler {
namespace {

// "allow /docs/ (line 4)", for the audit trail.
std::string describe(const std::optional<parser::RobotsDecision>& d) {
  if (!d || !d->rule) return "no matching rule";
  return std::string(d->rule->allow ? "allow " : "disallow ") + d->rule->pattern + " (line " +
         std::to_string(d->rule->line) + ")";
}

// "08:41:07  200  12.3 KiB  0.123s  http://a.test/x" or, for a failure,
// "08:41:07  timeout: read idle for 15s  0 bytes  15.0s  http://a.test/y".
std::string verbose_line(const storage::FetchRecord& f) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
  std::string what = f.status ? std::to_string(*f.status) : f.error_kind + ": " + f.error;
  if (f.status && !f.error.empty()) what += " (" + f.error + ")";
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.3fs", f.elapsed);
  return std::string(clock) + "  " + what + "  " + human_bytes(f.bytes) + "  " + elapsed + "  " + f.url;
}

bool cancelled(const FetchResponse& r) { return r.error && r.error->code == Code::kCancelled; }

}  // namespace

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
      if (job->attempt == 0 && !job->sitemap) {
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
        if (job.sitemap) {
          record_sitemap(job, std::nullopt, why.empty() ? "robots: disallowed" : "robots: " + why);
          return false;
        }
        storage::PageResult r = skipped(job, why.empty() ? "robots" : "robots: " + why);
        if (!why.empty()) {
          r.error_kind = "robots";
          r.skip_reason = "robots unavailable";
        }
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
  if (options_.max_pages_per_host && job.attempt == 0 && !job.sitemap &&
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
  uv_check(uv_timer_start(timer_, [](uv_timer_t* h) {
    if (h->data) static_cast<Crawl*>(h->data)->pump();
  }, static_cast<uint64_t>(std::ceil(wait * 1000.0)) + 1, 0), "uv_timer_start");
}

FetchRequest Crawl::request_for(parser::Url url, std::size_t max_body) {
  FetchRequest r;
  r.url = std::move(url);
  r.max_body = max_body;
  r.timeout = options_.timeout;
  r.connect_timeout = std::min(options_.connect_timeout, options_.timeout);
  r.read_timeout = std::min(options_.read_timeout, options_.timeout);
  r.headers = headers_;
  r.keep_raw = warc_ != nullptr;
  if (!options_.host_overrides.empty()) {
    if (const HostOverride* h = find_override(options_, r.url.hostname())) {
      for (const std::string& header : h->headers) {
        if (auto nv = split_header(header)) r.headers.push_back(std::move(*nv));
      }
    }
  }
  add_cookie_header(r);
  return r;
}

void Crawl::start(Job job, parser::Url url) {
  if (job.attempt == 0 && !job.sitemap) writer_->submit(StartedUrl{job.url.id});
  double delay = frontier_.policy_delay(job.url.origin);
  auto [known, fresh] = reported_delay_.try_emplace(job.url.origin, delay);
  if (fresh || known->second != delay) {
    known->second = delay;
    writer_->submit(HostDelay{job.url.origin, delay});
  }
  FetchRequest request = request_for(url, job.sitemap ? parser::kMaxSitemapBytes : options_.max_body);
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
  take_cookies(url, response);
  if (options_.adaptive && response.status) {
    frontier_.adapt(job.url.origin, response.elapsed, options_.adaptive_factor, options_.max_delay);
  }
  audit(job.url.url, job.url.origin, job.sitemap ? "sitemap" : "page", job.attempt, job.waited, job.wait_reason, job.robots_rule, response);
  note_fetcher_counts();
  bytes_ += response.wire_bytes;
  std::optional<parser::WarcExchange> exchange = exchange_of(url, response);
  if (is_transient(response) && job.attempt < options_.retries) {
    // Retried later, or, when stopping, left queued for the next run. The
    // answer is archived all the same: it is an exchange of the crawl.
    if (exchange) warc_->submit(WarcJob{std::move(*exchange), nullptr});
    if (!stopping_) retry_later(std::move(job), response);
    return pump();
  }
  if (job.sitemap) {
    on_sitemap_response(std::move(job), url, std::move(response));
    if (exchange) warc_->submit(WarcJob{std::move(*exchange), nullptr});
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
    record(redirect_result(job, url, response), 0, std::move(exchange));
  } else {
    hand_to_parser(std::move(job), url, std::move(response), std::move(exchange));
  }
  pump();
}

std::optional<parser::WarcExchange> Crawl::exchange_of(const parser::Url& url, FetchResponse& r) const {
  if (!warc_ || !r.status || r.raw_response.empty()) return std::nullopt;
  parser::WarcExchange x;
  x.target_uri = url.href();
  x.ip_address = r.remote_address;
  x.date = unix_now() - (monotonic_seconds() - r.sent_at);
  x.request = std::move(r.raw_request);
  x.response = std::move(r.raw_response);
  x.head_size = r.head_size;
  x.payload_sha1 = std::move(r.payload_sha1);
  x.truncated = r.truncated;
  return x;
}

// Runs `next` once `exchange` is durable in the archive, with the place of
// its record, on the WARC thread; a failure of the archive stops the crawl,
// and the page's room in the pipeline is given back.
void Crawl::after_archive(parser::WarcExchange exchange, std::size_t weight,
                          std::function<void(storage::WarcPlace)> next) {
  std::string digest = exchange.payload_sha1.empty() ? "" : parser::sha1_label(exchange.payload_sha1);
  warc_->submit(WarcJob{std::move(exchange), [this, weight, digest, next = std::move(next)](
                                                  Result<storage::WarcWritten> written) {
    if (!written) {
      WriterReply reply;
      reply.taken = reply.items = 1;
      reply.taken_weight = weight;
      reply.error = Error{written.error().code, "warc: " + written.error().message};
      deliver(std::move(reply));
      return;
    }
    next(storage::WarcPlace{written->filename, written->offset, written->length, written->revisit, digest});
  }});
}

void Crawl::hand_to_parser(Job job, const parser::Url& url, FetchResponse response,
                           std::optional<parser::WarcExchange> exchange) {
  FetchedPage page;
  page.url = std::move(job.url);
  page.final_url = url;
  page.status = *response.status;
  page.content_type = std::string(response.header("content-type"));
  page.body = std::move(response.body);
  page.wire_bytes = response.wire_bytes;
  page.truncated = response.truncated;
  page.fetched_at = unix_now();
  take_page_headers(page, response);
  if (!wants_parsing(page)) {
    storage::PageResult r = build_page(std::move(page), policy_);
    r.error_kind = error_kind(response);
    // A 429 or 5xx that outlasted its retries: the URL failed.
    r.failed = is_transient(response);
    return record(std::move(r), 0, std::move(exchange));
  }
  // A page whose tree will not fit beside others weighs that tree in the
  // pipeline, so fetching waits while it parses instead of piling up bodies;
  // bytes kept for the archive weigh too.
  std::size_t cost = parse_cost(page);
  std::size_t weight = page.body.size() + (cost > kSmallParse ? cost : 0) + (exchange ? exchange->response.size() : 0);
  enter_pipeline(weight);
  if (!exchange) return parsers_->submit(ParseJob{std::move(page), weight}, cost);
  auto job_ptr = std::make_shared<ParseJob>(ParseJob{std::move(page), weight});
  after_archive(std::move(*exchange), weight, [this, job_ptr, cost](storage::WarcPlace place) {
    job_ptr->page.warc = std::move(place);
    parsers_->submit(std::move(*job_ptr), cost);
  });
}

void Crawl::take_page_headers(FetchedPage& page, const FetchResponse& response) const {
  std::vector<std::string> tags;
  std::string links;
  for (const auto& [name, value] : response.headers) {
    if (parser::iequals(name, "x-robots-tag")) tags.push_back(value);
    if (parser::iequals(name, "link")) links += (links.empty() ? "" : ", ") + value;
  }
  if (!tags.empty()) page.directives = parser::parse_x_robots_tag(tags, product_token_);
  if (!links.empty()) page.canonical_link = parser::canonical_link(links).value_or("");
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
  policy_.steering().strip(*target);
  storage::DiscoveredUrl d;
  d.url = target->href();
  d.origin = target->origin();
  d.depth = job.url.depth;  // a redirect is not a hop
  d.redirects = job.url.redirects + 1;
  d.source = "redirect";
  if (d.redirects > kMaxRedirects) {
    d.skip_reason = "too many redirects";
    r.error = "too many redirects";
  } else {
    // A seed that redirects (http to https, to www.) brings its target's host
    // into scope, as the user meant the site, not the spelling.
    // Its patterns do not apply either: a seed is always fetched.
    bool seed = job.url.depth == 0;
    if (seed) policy_.add_seed_host(target->hostname());
    if (const char* why = policy_.out_of_reach(*target, !seed)) {
      d.skip_reason = why;
    } else {
      d.follow = true;
    }
  }
  r.redirect = std::move(d);
  return r;
}

void Crawl::record(storage::PageResult result, std::size_t weight, std::optional<parser::WarcExchange> exchange) {
  if (result.skipped) {
    skipped_++;
  } else if (!result.error.empty() && !result.status) {
    errors_++;
  }
  enter_pipeline(weight);
  if (!exchange) return writer_->submit(PageItem{std::move(result), weight});
  auto item = std::make_shared<PageItem>(PageItem{std::move(result), weight});
  after_archive(std::move(*exchange), weight, [this, item](storage::WarcPlace place) {
    item->result.warc = std::move(place);
    writer_->submit(std::move(*item));
  });
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
  if (!f.error_kind.empty()) request_errors_[f.error_kind]++;
  if (options_.verbose) progress_->print(verbose_line(f));
  writer_->submit(std::move(f));
}

void Crawl::on_robots_settled(const std::string& origin, bool known) {
  // The robots.txt request held the slot of the job that brought it.
  frontier_.finished(origin);
  frontier_.set_blocked(origin, false);
  if (known) {
    if (auto crawl_delay = robots_->crawl_delay(origin)) frontier_.set_delay(origin, *crawl_delay);
    queue_robots_sitemaps(origin, robots_->sitemaps(origin));
  }
  pump();
}


}  // namespace webcrawl::crawler
