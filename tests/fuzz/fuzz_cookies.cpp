// libFuzzer target for the cookie jar. The input is Set-Cookie values, one a
// line, received by a few responses from related hosts at moving times. Then:
// the jar stays within its limits; every change it reports is a cookie it
// could send; the changes, applied to a mirror as the crawler applies them to
// its database, give exactly the jar's content; and a jar loaded from that
// mirror (a resumed crawl) sends the same cookies. parse_cookie_date, run on
// every line, must give a finite time from 1601 to 9999 or none.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "parser/cookies.h"

namespace {

using webcrawl::parser::Cookie;
using webcrawl::parser::CookieJar;
using webcrawl::parser::Headers;
using webcrawl::parser::kMaxCookies;
using webcrawl::parser::parse_cookie_date;
using webcrawl::parser::parse_url;
using webcrawl::parser::Url;

constexpr double kStart = 1'700'000'000;
constexpr double kFirstYear1601 = -11644473600;
constexpr double kEndOfYear9999 = 253402300800;

[[noreturn]] void violated(const char* what, std::string_view detail) {
  std::fprintf(stderr, "invariant violated: %s: \"%.*s\"\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// Hosts that domain-match one another, an unrelated one and an IP, over both schemes.
const std::vector<Url>& urls() {
  static const std::vector<Url> kUrls = [] {
    std::vector<Url> out;
    for (const char* href : {"http://www.fuzz.test/a/b", "https://www.fuzz.test/", "http://fuzz.test/a",
                             "https://x.www.fuzz.test/a/b/c", "http://other.test/", "http://127.0.0.1/p/"}) {
      auto url = parse_url(href);
      if (!url) violated("a fixed URL does not parse", href);
      out.push_back(std::move(*url));
    }
    return out;
  }();
  return kUrls;
}

bool is_public_suffix(std::string_view domain) { return domain == "test"; }

using Mirror = std::map<std::tuple<std::string, std::string, std::string>, Cookie>;

void apply_changes(CookieJar& jar, Mirror& mirror) {
  for (auto& change : jar.take_changes()) {
    const Cookie& c = change.cookie;
    auto key = std::make_tuple(c.domain, c.path, c.name);
    if (change.removed) {
      if (mirror.erase(key) == 0) violated("removal of a cookie never reported", c.name);
      continue;
    }
    if (c.name.empty() || c.domain.empty() || !c.path.starts_with('/')) violated("malformed cookie", c.name);
    if (c.expires && !std::isfinite(*c.expires)) violated("expiry not finite", c.name);
    mirror.insert_or_assign(key, c);
  }
  if (mirror.size() != jar.size()) violated("changes do not add up to the jar", "");
}

// The Cookie header's pairs, sorted: cookies created together may be sent in
// another order after a reload.
std::vector<std::string_view> pairs(std::string_view header) {
  std::vector<std::string_view> out;
  while (!header.empty()) {
    std::size_t end = header.find("; ");
    out.push_back(header.substr(0, end));
    header.remove_prefix(end == std::string_view::npos ? header.size() : end + 2);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CookieJar jar(is_public_suffix);
  Mirror mirror;
  double now = kStart;
  std::size_t response = 0;
  while (!input.empty()) {
    // A blank line ends a response; the next comes ten seconds later from another URL.
    std::size_t blank = input.find("\n\n");
    std::string_view block = input.substr(0, blank);
    input.remove_prefix(blank == std::string_view::npos ? input.size() : blank + 2);
    Headers headers;
    while (!block.empty()) {
      std::size_t eol = block.find('\n');
      std::string_view line = block.substr(0, eol);
      block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 1);
      if (auto date = parse_cookie_date(line)) {
        if (!(*date >= kFirstYear1601 && *date < kEndOfYear9999)) violated("date out of range", line);
      }
      headers.emplace_back("Set-Cookie", std::string(line));
    }
    jar.receive(urls()[response++ % urls().size()], headers, now);
    if (jar.size() > kMaxCookies) violated("too many cookies", "");
    apply_changes(jar, mirror);
    now += 10;
  }

  CookieJar resumed(is_public_suffix);
  for (const auto& [key, cookie] : mirror) resumed.load(cookie, now);
  for (const Url& url : urls()) {
    std::string header = jar.header_for(url, now);
    if (pairs(header) != pairs(resumed.header_for(url, now))) violated("a reload sends other cookies", header);
  }
  return 0;
}
