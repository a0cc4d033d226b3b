// Turns one fetched response into the row the store keeps. Pure apart from
// the LinkPolicy it reads; runs on the parse workers for HTML and on the loop
// thread for everything else (which needs no parsing).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crawler/link_policy.h"
#include "parser/extract.h"
#include "parser/robots_directives.h"
#include "storage/store.h"

namespace webcrawl::crawler {

struct FetchedPage {
  storage::QueuedUrl url;
  parser::Url final_url;        // where the body came from
  int status = 0;
  std::string content_type;     // header value as sent
  std::string body;             // decoded
  int64_t wire_bytes = 0;
  bool truncated = false;
  double fetched_at = 0;        // unix seconds
  std::optional<storage::WarcPlace> warc;  // with --warc: where its record is
  parser::RobotsDirectives directives;  // from the X-Robots-Tag headers meant for us
  std::string canonical_link;   // a Link header's rel="canonical" target, as written
};

// "text/html; charset=utf-8" -> "text/html".
std::string media_type(std::string_view content_type);

// True when the response should go through the HTML parser: a 2xx status and
// an HTML media type, or no media type and a body that looks like HTML.
bool wants_parsing(const FetchedPage& page);

// The stored record: title, text and links for HTML (per the robots meta tag
// and X-Robots-Tag), status and type only for the rest; for any 2xx
// response its canonical URL (the head's <link rel=canonical>, else the
// Link header's), queued as a link is.
storage::PageResult build_page(FetchedPage page, const LinkPolicy& policy,
                               const parser::ExtractOptions& options = {});

}  // namespace webcrawl::crawler
