// libFuzzer target for SitemapParser. The first two input bytes choose how
// the rest is fed: the piece size, whether it is gzip-compressed first (so
// the gzip path sees valid streams, not only garbage), a small byte limit,
// and the entry limit. Fed in pieces, the result must equal the one-shot
// parse of the same body (failing alike, listing the same entries); entries
// must stay within the limit, and each loc must be non-empty, trimmed UTF-8.
// abort() on a violation is a finding.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parser/ascii.h"
#include "parser/sitemap.h"
#include "parser/utf8.h"

namespace {

using webcrawl::parser::is_html_space;
using webcrawl::parser::is_valid_utf8;
using webcrawl::parser::parse_sitemap;
using webcrawl::parser::SitemapEntry;
using webcrawl::parser::SitemapLimits;
using webcrawl::parser::SitemapParser;

[[noreturn]] void violated(const char* what, std::string_view detail) {
  std::fprintf(stderr, "invariant violated: %s: \"%.*s\"\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

std::string gzip(std::string_view data) {
  z_stream s{};
  if (deflateInit2(&s, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    violated("deflateInit2 failed", "");
  }
  std::string out(deflateBound(&s, data.size()), '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  if (deflate(&s, Z_FINISH) != Z_STREAM_END) violated("deflate failed", "");
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

void check_entry(const SitemapEntry& entry) {
  if (entry.loc.empty()) violated("empty loc", entry.loc);
  for (const std::string* field : {&entry.loc, &entry.lastmod}) {
    if (!field->empty() && (is_html_space(field->front()) || is_html_space(field->back()))) {
      violated("field not trimmed", *field);
    }
    if (!is_valid_utf8(*field)) violated("field is not UTF-8", *field);
  }
}

// True when `prefix` lists the first entries of `all`.
bool starts_with(const std::vector<SitemapEntry>& all, const std::vector<SitemapEntry>& prefix) {
  if (prefix.size() > all.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (all[i].loc != prefix[i].loc || all[i].lastmod != prefix[i].lastmod) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::size_t step = 1 + (data[0] & 0x3f);
  bool compress = (data[0] & 0x40) != 0;
  bool small_bytes = (data[0] & 0x80) != 0;
  std::string body(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (compress) body = gzip(body);
  SitemapLimits limits;
  limits.max_entries = 1 + data[1] % 64;
  if (small_bytes) limits.max_bytes = (size - 2) / 2;

  SitemapParser parser(limits);
  std::vector<SitemapEntry> entries;
  auto done = parser.feed({});
  for (std::size_t i = 0; i < body.size() && done; i += step) {
    done = parser.feed(std::string_view(body).substr(i, step));
    for (auto& entry : parser.take_entries()) entries.push_back(std::move(entry));
    if (parser.listed() > limits.max_entries) violated("more entries than the limit", body);
  }
  if (done) done = parser.finish();
  for (auto& entry : parser.take_entries()) entries.push_back(std::move(entry));
  if (entries.size() != parser.listed()) violated("listed() disagrees with the entries", body);
  if (parser.truncated() && !done) violated("truncated and failed", done.error().message);
  for (const auto& entry : entries) check_entry(entry);

  auto whole = parse_sitemap(body, limits);
  if (whole.ok() != done.ok()) {
    // At the byte limit the parse stops inside a token, and whether expat has
    // found that token malformed by then depends on the pieces it was given.
    // The entries before the cut agree all the same.
    bool cut = parser.truncated() || (whole && whole->truncated);
    if (!cut) violated("pieces and whole disagree on failure", body);
    if (whole && !starts_with(whole->entries, entries)) violated("entries before the cut differ", body);
    return 0;
  }
  // Both failed; expat may name a different error when a malformed UTF-16
  // document arrives in other pieces, so only the failure is compared.
  if (!whole) return 0;
  if (whole->kind != parser.kind()) violated("pieces and whole disagree on kind", body);
  if (whole->truncated != parser.truncated()) violated("pieces and whole disagree on truncation", body);
  if (whole->entries.size() != entries.size() || !starts_with(whole->entries, entries)) {
    violated("pieces and whole list different entries", body);
  }
  return 0;
}
