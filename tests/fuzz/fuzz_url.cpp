// libFuzzer target for parse_url and resolve_url. Every URL they return must
// be one the crawler can put on a request line and store as a key: http(s),
// a host, a path starting with '/', printable ASCII with no fragment, and an
// href that parses back to itself. abort() on a violation is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parser/url.h"

namespace {

using webcrawl::Result;
using webcrawl::parser::parse_url;
using webcrawl::parser::resolve_url;
using webcrawl::parser::Url;

[[noreturn]] void violated(const char* what, std::string_view href) {
  std::fprintf(stderr, "invariant violated: %s: \"%.*s\"\n", what, static_cast<int>(href.size()),
               href.data());
  std::abort();
}

// Bases with different schemes, ports, host kinds, queries and path depths, so
// relative references take every branch of the relative state.
const std::vector<Url>& bases() {
  static const std::vector<Url> kBases = [] {
    std::vector<Url> out;
    for (const char* text : {"http://fuzz.test/dir/page.html?q=1", "https://[::1]:8443/a/b/",
                             "http://127.0.0.1/", "https://xn--bcher-kva.example/%7Efoo/x;y"}) {
      auto url = parse_url(text);
      if (!url) violated("a fixed base does not parse", text);
      out.push_back(std::move(*url));
    }
    return out;
  }();
  return kBases;
}

bool is_printable_ascii(std::string_view s) {
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7F) return false;
  }
  return true;
}

void check(const Result<Url>& result) {
  if (!result) return;
  const Url& url = *result;
  std::string href = url.href();
  if (url.scheme != "http" && url.scheme != "https") violated("scheme is not http(s)", href);
  if (url.host.empty()) violated("empty host", href);
  if (url.path.empty() || url.path.front() != '/') violated("path does not start with '/'", href);
  if (!url.has_query && !url.query.empty()) violated("query without has_query", href);
  if (!is_printable_ascii(href)) violated("href is not printable ASCII", href);
  if (href.find('#') != std::string::npos) violated("href keeps a fragment", href);
  auto again = parse_url(href);
  if (!again) violated("href does not parse again", href);
  if (again->href() != href) violated("href is not idempotent", href);
  if (again->port != url.port) violated("port changes on re-parse", href);
  // An absolute href ignores any base.
  auto resolved = resolve_url(bases().front(), href);
  if (!resolved || resolved->href() != href) violated("href resolves to something else", href);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check(parse_url(input));
  for (const Url& base : bases()) check(resolve_url(base, input));
  return 0;
}
