// libFuzzer target for extract_page with small caps, so the limits are hit
// often. Whatever the HTML, the page must respect its caps, every link must be
// a normalized http(s) URL that parses back to itself, and text must be
// whitespace-collapsed valid UTF-8 (it goes to SQLite FTS as is).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_set>

#include "parser/extract.h"
#include "parser/url.h"
#include "parser/utf8.h"

namespace {

using webcrawl::parser::extract_page;
using webcrawl::parser::is_valid_utf8;
using webcrawl::parser::ExtractedPage;
using webcrawl::parser::ExtractOptions;
using webcrawl::parser::parse_url;
using webcrawl::parser::Url;

[[noreturn]] void violated(const char* what, std::string_view value) {
  std::fprintf(stderr, "invariant violated: %s: \"%.*s\"\n", what,
               static_cast<int>(value.size()), value.data());
  std::abort();
}

const Url& page_url() {
  static const Url kUrl = [] {
    auto url = parse_url("http://fuzz.test/dir/page.html");
    if (!url) violated("the page URL does not parse", "http://fuzz.test/dir/page.html");
    return std::move(*url);
  }();
  return kUrl;
}

ExtractOptions small_caps() {
  ExtractOptions options;
  options.max_links = 16;
  options.max_text_bytes = 512;
  options.max_title_bytes = 64;
  options.max_anchor_text_bytes = 32;
  return options;
}


// Collapsed text: no leading, trailing or doubled space, no other ASCII
// whitespace, at most `cap` bytes, cut on a character boundary.
void check_text(std::string_view text, std::size_t cap, const char* what) {
  if (text.size() > cap) violated(what, text);
  if (!text.empty() && (text.front() == ' ' || text.back() == ' ')) violated(what, text);
  if (text.find("  ") != std::string_view::npos) violated(what, text);
  if (text.find_first_of("\t\n\r\f") != std::string_view::npos) violated(what, text);
  if (!is_valid_utf8(text)) violated(what, text);
}

void check_page(const ExtractedPage& page, const ExtractOptions& options) {
  check_text(page.text, options.max_text_bytes, "text");
  check_text(page.title, options.max_title_bytes, "title");
  if (page.links.size() > options.max_links) violated("too many links", page.links.back().url);
  if (page.links_truncated && page.links.size() != options.max_links) {
    violated("truncated below max_links", "");
  }
  std::unordered_set<std::string_view> seen;
  for (const auto& link : page.links) {
    check_text(link.anchor_text, options.max_anchor_text_bytes, "anchor text");
    if (!seen.insert(link.url).second) violated("duplicate link", link.url);
    auto url = parse_url(link.url);
    if (!url) violated("link does not parse", link.url);
    if (url->scheme != "http" && url->scheme != "https") violated("link is not http(s)", link.url);
    if (url->href() != link.url) violated("link is not normalized", link.url);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ExtractOptions kOptions = small_caps();
  std::string_view html(reinterpret_cast<const char*>(data), size);
  check_page(extract_page(page_url(), html, kOptions), kOptions);
  return 0;
}
