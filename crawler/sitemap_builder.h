// Turns one fetched sitemap into the row the store keeps and the URLs it
// lists: a urlset's pages decided as links found at depth 0 are (scope,
// include/exclude, traps; queued at depth 1 with their <lastmod>), an
// index's child sitemaps for the loop to fetch. Runs on the parse workers;
// pure apart from the LinkPolicy it reads.
#pragma once

#include <cstdint>
#include <string>

#include "crawler/link_policy.h"
#include "crawler/store_writer.h"
#include "parser/sitemap.h"

namespace webcrawl::crawler {

struct FetchedSitemap {
  parser::Url url;         // where the body came from
  int level = 0;           // 0: named by robots.txt or --sitemap; 1: listed by an index
  int status = 0;
  std::string body;        // content-decoded; a .xml.gz body is still gzip
  bool truncated = false;  // cut at parser::kMaxSitemapBytes, the fetch's body limit
  double fetched_at = 0;   // unix seconds
};

// Sitemap indexes may list indexes only this deep (sitemaps.org allows none).
inline constexpr int kMaxSitemapLevel = 2;

SitemapItem build_sitemap(FetchedSitemap fetched, const LinkPolicy& policy,
                          const parser::SitemapLimits& limits = {});

}  // namespace webcrawl::crawler
