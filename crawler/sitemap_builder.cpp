#include "crawler/sitemap_builder.h"

namespace webcrawl::crawler {
namespace {

void add_error(std::string& error, const std::string& what) { error += (error.empty() ? "" : "; ") + what; }

}  // namespace

SitemapItem build_sitemap(FetchedSitemap fetched, const LinkPolicy& policy, const parser::SitemapLimits& limits) {
  SitemapItem item;
  item.level = fetched.level;
  storage::SitemapRecord& r = item.record;
  r.url = fetched.url.href();
  r.host = fetched.url.origin();
  r.fetched_at = fetched.fetched_at;
  r.status = fetched.status;

  parser::SitemapParser parser(limits);
  Result<void> parsed = parser.feed(fetched.body);
  std::string().swap(fetched.body);  // the entries are what is kept from here
  // A body cut short is read as far as it goes: its entries are good.
  if (parsed && !fetched.truncated) parsed = parser.finish();
  if (!parsed) add_error(r.error, parsed.error().message);
  if (fetched.truncated) add_error(r.error, "body cut at " + std::to_string(parser::kMaxSitemapBytes) + " bytes");
  if (parser.truncated()) {
    add_error(r.error, "truncated: at most " + std::to_string(limits.max_entries) + " URLs and " +
                           std::to_string(limits.max_bytes >> 20) + " MiB of XML are read");
  }
  parser::SitemapKind kind = parser.kind();
  r.kind = kind == parser::SitemapKind::kUrlset ? "urlset" : kind == parser::SitemapKind::kIndex ? "index" : "";
  r.urls = static_cast<int64_t>(parser.listed());

  std::size_t invalid = 0;
  std::vector<parser::SitemapEntry> entries = parser.take_entries();
  if (kind == parser::SitemapKind::kIndex && fetched.level >= kMaxSitemapLevel) {
    add_error(r.error, "sitemap index nested too deep: its " + std::to_string(entries.size()) + " sitemaps not read");
    entries.clear();
  }
  if (kind == parser::SitemapKind::kUrlset) r.entries.reserve(entries.size());
  for (parser::SitemapEntry& e : entries) {
    auto url = parser::resolve_url(fetched.url, e.loc);
    if (!url) {
      invalid++;
      continue;
    }
    if (kind == parser::SitemapKind::kIndex) {
      item.children.push_back(url->href());
      continue;
    }
    storage::DiscoveredUrl d = policy.decide(std::move(*url), 0, false, "sitemap");
    d.lastmod = std::move(e.lastmod);
    r.entries.push_back(std::move(d));
  }
  if (invalid > 0) add_error(r.error, std::to_string(invalid) + " entries with an invalid <loc> skipped");
  return item;
}

}  // namespace webcrawl::crawler
