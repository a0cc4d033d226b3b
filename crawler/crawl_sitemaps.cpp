// Sitemaps (issue 14): the Sitemap: lines of robots.txt and --sitemap URLs
// are queued in front of their host's pages, so they are fetched through the
// same scheduler (the host's delay, its connection cap) and obey robots.txt;
// bodies are parsed on the parse threads (sitemap_builder.h) and the URLs
// they list are committed with the sitemap's row.
#include "common/clock.h"
#include "crawler/crawl.h"

namespace webcrawl::crawler {
namespace {

// Sitemap files read per host, children of indexes included: a bound on the
// jobs kept in memory whatever an index lists (one may list 50,000).
constexpr int kMaxSitemapsPerHost = 1000;

}  // namespace

// Before the first request: the sitemaps earlier runs settled are not read
// again, and each --sitemap host joins the scope as a seed's does.
Result<void> Crawl::prepare_sitemaps() {
  auto settled = store_->settled_sitemaps();
  if (!settled) return settled.error();
  sitemaps_seen_.insert(settled->begin(), settled->end());
  for (const std::string& s : options_.sitemap_urls) {
    if (auto url = parser::parse_url(s)) policy_.add_seed_host(url->hostname());  // checked in prepare()
  }
  return {};
}

void Crawl::queue_robots_sitemaps(const std::string& origin, const std::vector<std::string>& sitemaps) {
  if (!options_.sitemaps) return;
  auto base = parser::parse_url(origin + "/robots.txt");
  if (!base) return;
  for (const std::string& s : sitemaps) {
    if (auto url = parser::resolve_url(*base, s)) queue_sitemap(url->href(), 0);
  }
}

void Crawl::queue_sitemap(const std::string& text, int level, int redirects) {
  auto url = parser::parse_url(text);
  if (!url || stopping_) return;
  std::string href = url->href();
  if (!sitemaps_seen_.insert(href).second) return;
  Job job;
  job.url.url = href;
  job.url.origin = url->origin();
  job.url.redirects = redirects;
  job.sitemap = true;
  job.sitemap_level = level;
  if (!policy_.in_scope(*url)) return record_sitemap(job, std::nullopt, "out of scope");
  if (++sitemaps_per_host_[job.url.origin] > kMaxSitemapsPerHost) {
    return record_sitemap(job, std::nullopt,
                          "not read: more than " + std::to_string(kMaxSitemapsPerHost) + " sitemaps on this host");
  }
  // In front of the host's pages: what a sitemap lists is known early.
  frontier_.push_retry(std::move(job), 0, "host delay");
}

void Crawl::record_sitemap(const Job& job, std::optional<int> status, std::string error) {
  SitemapItem item;
  item.level = job.sitemap_level;
  item.record.url = job.url.url;
  item.record.host = job.url.origin;
  item.record.fetched_at = unix_now();
  item.record.status = status;
  item.record.error = std::move(error);
  enter_pipeline(0);
  writer_->submit(std::move(item));
}

void Crawl::on_sitemap_response(Job job, const parser::Url& url, FetchResponse response) {
  if (response.error) return record_sitemap(job, std::nullopt, response.error->message);
  int status = *response.status;
  if (is_redirect(status) && !response.header("location").empty()) {
    auto target = parser::resolve_url(url, response.header("location"));
    if (!target) return record_sitemap(job, status, "bad redirect location: " + target.error().message);
    record_sitemap(job, status, "redirected to " + target->href());
    if (job.url.redirects >= kMaxRedirects) return;
    // The target is a sitemap of its own, fetched at its host's turn.
    queue_sitemap(target->href(), job.sitemap_level, job.url.redirects + 1);
    return;
  }
  if (status < 200 || status > 299) return record_sitemap(job, status, "HTTP " + std::to_string(status));
  ParseJob parse;
  FetchedSitemap& s = parse.sitemap.emplace();
  s.url = url;
  s.level = job.sitemap_level;
  s.status = status;
  s.body = std::move(response.body);
  s.truncated = response.truncated;
  s.fetched_at = unix_now();
  // The body weighs in the pipeline until the writer takes the entries, and
  // the parse costs little beyond it: expat streams, and gzip is inflated 1
  // KiB at a time.
  parse.weight = s.body.size();
  std::size_t cost = 64 * 1024 + s.body.size();
  enter_pipeline(parse.weight);
  parsers_->submit(std::move(parse), cost);
}

}  // namespace webcrawl::crawler
