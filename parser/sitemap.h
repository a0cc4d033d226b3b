// Sitemaps (https://www.sitemaps.org/protocol.html): <urlset> and
// <sitemapindex> documents, plain or gzip-compressed, parsed with expat.
//
// Sans-I/O: feed the bytes as they arrive, drain the entries as they come.
// Elements match by local name in the root element's namespace, so the
// sitemaps.org namespace, no namespace and a prefixed one ("<sm:urlset>") all
// work, and extension elements such as <image:loc> are not mistaken for <loc>.
//
// Hostile input: no DTD or external entity is ever loaded, and any entity
// declaration stops the parse with an error (as defusedxml does), so billion
// laughs and external-entity documents fail at their first declaration.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace webcrawl::parser {

// sitemaps.org: a sitemap file lists at most 50,000 URLs and is at most
// 50 MiB uncompressed.
inline constexpr std::size_t kMaxSitemapEntries = 50000;
inline constexpr std::size_t kMaxSitemapBytes = std::size_t{50} << 20;

struct SitemapLimits {
  std::size_t max_entries = kMaxSitemapEntries;  // entries past this are dropped
  std::size_t max_bytes = kMaxSitemapBytes;      // of XML, after gzip decoding
};

enum class SitemapKind {
  kUnknown,  // the root element has not been seen yet
  kUrlset,   // <urlset>: entries are pages
  kIndex,    // <sitemapindex>: entries are further sitemaps
};

struct SitemapEntry {
  std::string loc;      // the <loc> text, trimmed, as written: not resolved or
                        // normalized; never empty (entries without one are skipped)
  std::string lastmod;  // the <lastmod> text, trimmed, as written; may be empty
};

// One sitemap document. Not thread-safe: one parser per document, used by one
// thread at a time; separate instances share nothing.
class SitemapParser {
 public:
  explicit SitemapParser(const SitemapLimits& limits = {});
  ~SitemapParser();
  SitemapParser(const SitemapParser&) = delete;
  SitemapParser& operator=(const SitemapParser&) = delete;

  // Parses the next bytes of the body, in any split. A body starting with the
  // gzip magic (1f 8b) is decompressed whatever the URL or headers said,
  // 1 KiB of input at a time, so memory stays bounded even for a bomb.
  // Fails with kParse for malformed XML ("malformed XML at line 3: mismatched
  // tag"), a root other than <urlset> or <sitemapindex> ("not a sitemap: root
  // element html"), an entity declaration, or corrupt gzip. An error is
  // final: later calls return it again. Entries completed before the error
  // stay available through take_entries(). Past a limit, parsing stops
  // without an error and later input is ignored (see truncated()).
  Result<void> feed(std::string_view bytes);
  // Ends the body. Fails as feed() does, and also for a document or gzip
  // stream cut short, unless a limit had already stopped the parse.
  Result<void> finish();

  // Known once the root element has been parsed.
  SitemapKind kind() const;
  // The entries completed since the last call, in document order.
  std::vector<SitemapEntry> take_entries();
  // Entries kept so far, including those already taken; at most max_entries.
  std::size_t listed() const;
  // True once a limit stopped the parse: a further entry was found after
  // max_entries, or the XML grew past max_bytes (a partial entry at that
  // point is dropped). Not an error: the first listed() entries are good.
  bool truncated() const;

 private:
  class Impl;  // keeps expat out of this header
  std::unique_ptr<Impl> impl_;
};

struct Sitemap {
  SitemapKind kind = SitemapKind::kUnknown;
  std::vector<SitemapEntry> entries;
  bool truncated = false;  // see SitemapParser::truncated()
};

// The whole body at once. Pure and thread-safe. On error only the error comes
// back; a caller that wants the entries before it uses SitemapParser.
Result<Sitemap> parse_sitemap(std::string_view body, const SitemapLimits& limits = {});

}  // namespace webcrawl::parser
