#include "crawler/page_builder.h"

#include "parser/ascii.h"
#include "parser/charset.h"
#include "parser/utf8.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace webcrawl::crawler {
namespace {

bool looks_like_html(std::string_view body) {
  // Skip a UTF-8 BOM and leading white space, then look for the usual openings.
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  body = parser::trim(body.substr(0, 1024));
  using parser::istarts_with;
  return istarts_with(body, "<!doctype html") || istarts_with(body, "<html") ||
         istarts_with(body, "<head") || istarts_with(body, "<body") ||
         istarts_with(body, "<!--");
}

}  // namespace

std::string media_type(std::string_view content_type) {
  std::string_view m = parser::trim(content_type.substr(0, content_type.find(';')));
  return parser::ascii_lowercase(m);
}

bool wants_parsing(const FetchedPage& page) {
  if (page.status < 200 || page.status > 299) return false;
  std::string type = media_type(page.content_type);
  if (type == "text/html" || type == "application/xhtml+xml") return true;
  return type.empty() && looks_like_html(page.body);
}

namespace {

// The page's canonical URL, when it names one other than itself.
void take_canonical(storage::PageResult& r, const FetchedPage& page, const std::string& element,
                    const LinkPolicy& policy, bool nofollow) {
  std::optional<parser::Url> canonical;
  if (!element.empty()) {
    auto url = parser::parse_url(element);
    if (url) canonical = std::move(*url);
  } else if (!page.canonical_link.empty()) {
    auto url = parser::resolve_url(page.final_url, page.canonical_link);
    if (url) canonical = std::move(*url);  // the URL parser takes http(s) only
  }
  if (!canonical) return;
  r.canonical = canonical->href();
  if (r.canonical == r.final_url) return;
  r.canonical_target = policy.decide(std::move(*canonical), page.url.depth, nofollow, "canonical");
}

}  // namespace

storage::PageResult build_page(FetchedPage page, const LinkPolicy& policy,
                               const parser::ExtractOptions& options) {
  storage::PageResult r;
  r.url_id = page.url.id;
  r.final_url = page.final_url.href();
  r.status = page.status;
  r.content_type = media_type(page.content_type);
  r.fetched_at = page.fetched_at;
  r.bytes = page.wire_bytes;
  r.truncated = page.truncated;
  r.warc = std::move(page.warc);
  if (!wants_parsing(page)) {
    if (page.status >= 200 && page.status <= 299) take_canonical(r, page, "", policy, page.directives.nofollow);
    return r;
  }
  if (r.content_type.empty()) r.content_type = "text/html";

  // Text is stored as UTF-8 whatever the page was sent in. A page that
  // declares nothing and is not valid UTF-8 is windows-1252 in practice.
  parser::DetectedCharset charset = parser::detect_charset(page.content_type, page.body);
  if (std::string_view(charset.source) == "default" && !parser::is_valid_utf8(page.body)) {
    charset.name = "windows-1252";
  }
  r.charset = charset.name;
  parser::Utf8Text utf8 = parser::to_utf8(std::move(page.body), charset.name, SIZE_MAX);
  parser::ExtractedPage x = parser::extract_page(page.final_url, utf8.text, options);
  // The meta tag and the headers combine; the stricter wins.
  const bool noindex = x.noindex || page.directives.noindex;
  const bool nofollow = x.nofollow || page.directives.nofollow;
  r.title = std::move(x.title);
  r.index = !noindex;
  // noindex: the page is recorded, its text is neither kept nor indexed.
  if (!noindex) r.text = std::move(x.text);
  // Not failures: the page is stored, and these say what was cut.
  if (x.nesting_cut) r.error = "nesting cut at " + std::to_string(options.max_nesting) + " levels";
  if (x.links_truncated) {
    r.error += (r.error.empty() ? "" : "; ") + std::string("links truncated at ") + std::to_string(options.max_links);
  }
  take_canonical(r, page, x.canonical, policy, nofollow);
  r.links.reserve(x.links.size());
  for (parser::Link& link : x.links) {
    storage::OutLink out;
    out.target = policy.decide(std::move(link.target), page.url.depth, link.nofollow || nofollow);
    out.anchor_text = std::move(link.anchor_text);
    out.nofollow = link.nofollow;
    r.links.push_back(std::move(out));
  }
  return r;
}

}  // namespace webcrawl::crawler
