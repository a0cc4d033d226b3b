// HTML extraction with gumbo: title, visible text, links, canonical, robots meta.
//
// Pure and thread-safe: runs on the parse workers, never on the loop thread.
// The walk over the DOM is iterative (an explicit stack), so deeply nested
// documents cannot overflow the thread's stack.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "parser/url.h"

namespace webcrawl::parser {

struct Link {
  std::string url;          // absolute, normalized, no fragment (Url::href())
  std::string anchor_text;  // visible text inside the element (for <area>, its alt),
                            // whitespace collapsed
  bool nofollow = false;    // rel="nofollow" on the element
  Url target = {};          // `url` parsed, so no one parses it again
};

struct ExtractedPage {
  std::string title;      // <title> text, whitespace collapsed
  std::string text;       // visible text: no script, style, template, noscript;
                          // block elements separate words; whitespace collapsed
  std::vector<Link> links;  // <a href> and <area href> resolving to http(s); one
                            // entry per distinct url, first occurrence wins;
                            // links inside <noscript> count (we run no scripts)
  std::string canonical;  // the first <link rel="canonical" href> in <head>, resolved
                          // like links (Url::href()); empty when there is none or it
                          // is invalid or not http(s)
  bool noindex = false;   // <meta name="robots" content="noindex"> (or "none"); the
  bool nofollow = false;  // content is read by parse_robots_directives()
  bool links_truncated = false;  // more than ExtractOptions::max_links were found
  bool nesting_cut = false;      // the document nested deeper than max_nesting: only
                                 // the part before that point was parsed
};

struct ExtractOptions {
  std::size_t max_links = 10000;             // per page; the rest are dropped
  std::size_t max_text_bytes = 1 << 20;      // text beyond this is cut at a UTF-8 boundary
  std::size_t max_title_bytes = 1024;        // the same for the title
  std::size_t max_anchor_text_bytes = 1024;  // and for each link's anchor text
  // Gumbo 0.10.1 takes time quadratic in nesting depth (100,000 nested <div>:
  // 15 s), so a linear pre-scan cuts the document where elements nest deeper.
  std::size_t max_nesting = 10000;
};

// `page_url` is the URL the body came from (after redirects); links resolve
// against it, or against the first <base href> when that is a valid URL.
// `html` must be UTF-8; invalid bytes are tolerated, and every string in the
// result is valid UTF-8 (malformed bytes come back as U+FFFD).
ExtractedPage extract_page(const Url& page_url, std::string_view html,
                           const ExtractOptions& options = {});

}  // namespace webcrawl::parser
