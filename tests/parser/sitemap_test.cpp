#include "parser/sitemap.h"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/test_server.h"

using webcrawl::Code;
using webcrawl::parser::kMaxSitemapBytes;
using webcrawl::parser::kMaxSitemapEntries;
using webcrawl::parser::parse_sitemap;
using webcrawl::parser::Sitemap;
using webcrawl::parser::SitemapEntry;
using webcrawl::parser::SitemapKind;
using webcrawl::parser::SitemapLimits;
using webcrawl::parser::SitemapParser;
using webcrawl::testing::gzip_compress;
using webcrawl::testing::TestServer;

namespace {

constexpr const char* kNs = "http://www.sitemaps.org/schemas/sitemap/0.9";

std::string urlset(std::string_view body) {
  return std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"") + kNs +
         "\">\n" + std::string(body) + "</urlset>\n";
}

// A urlset listing http://a.test/0 .. /(n-1).
std::string numbered_urlset(std::size_t n) {
  std::string body;
  for (std::size_t i = 0; i < n; ++i) body += "<url><loc>http://a.test/" + std::to_string(i) + "</loc></url>\n";
  return urlset(body);
}

Sitemap parsed(std::string_view body, const SitemapLimits& limits = {}) {
  auto sitemap = parse_sitemap(body, limits);
  if (!sitemap) FAIL(sitemap.error().message);
  return std::move(*sitemap);
}

std::string error_of(std::string_view body) {
  auto sitemap = parse_sitemap(body);
  REQUIRE_FALSE(sitemap);
  CHECK(sitemap.error().code == Code::kParse);
  return sitemap.error().message;
}

std::vector<std::string> locs(const std::vector<SitemapEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& entry : entries) out.push_back(entry.loc);
  return out;
}

std::vector<std::string> locs_of(std::string_view body) { return locs(parsed(body).entries); }

// Feeds `body` `step` bytes at a time, draining entries after every call.
Sitemap parsed_in_steps(std::string_view body, std::size_t step) {
  SitemapParser parser;
  Sitemap out;
  for (std::size_t i = 0; i < body.size(); i += step) {
    REQUIRE(parser.feed(body.substr(i, step)));
    for (auto& entry : parser.take_entries()) out.entries.push_back(std::move(entry));
  }
  REQUIRE(parser.finish());
  for (auto& entry : parser.take_entries()) out.entries.push_back(std::move(entry));
  out.kind = parser.kind();
  out.truncated = parser.truncated();
  return out;
}

// A gzip member of prefix, `pad` spaces and suffix, compressed as it goes so
// that the test never holds the padding itself.
std::string gzip_padded(std::string_view prefix, std::size_t pad, std::string_view suffix) {
  z_stream s{};
  REQUIRE(deflateInit2(&s, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out;
  std::string spaces(64 * 1024, ' ');
  auto put = [&](std::string_view in, int flush) {
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    s.avail_in = static_cast<uInt>(in.size());
    do {
      char buffer[16 * 1024];
      s.next_out = reinterpret_cast<Bytef*>(buffer);
      s.avail_out = sizeof buffer;
      deflate(&s, flush);
      out.append(buffer, sizeof buffer - s.avail_out);
    } while (s.avail_out == 0);
  };
  put(prefix, Z_NO_FLUSH);
  for (std::size_t left = pad; left > 0; left -= std::min(left, spaces.size())) {
    put(std::string_view(spaces).substr(0, std::min(left, spaces.size())), Z_NO_FLUSH);
  }
  put(suffix, Z_FINISH);
  deflateEnd(&s);
  return out;
}

}  // namespace

TEST_CASE("a urlset lists its locs and lastmods, trimmed", "[sitemap]") {
  Sitemap sitemap = parsed(urlset(
      "<url><loc> http://a.test/x </loc><lastmod>\n2024-05-01T10:00:00+00:00 </lastmod>"
      "<changefreq>daily</changefreq><priority>0.8</priority></url>\n"
      "<url><loc>http://a.test/y</loc></url>\n"));
  CHECK(sitemap.kind == SitemapKind::kUrlset);
  REQUIRE(sitemap.entries.size() == 2);
  CHECK(sitemap.entries[0].loc == "http://a.test/x");
  CHECK(sitemap.entries[0].lastmod == "2024-05-01T10:00:00+00:00");
  CHECK(sitemap.entries[1].loc == "http://a.test/y");
  CHECK(sitemap.entries[1].lastmod.empty());
  CHECK_FALSE(sitemap.truncated);
}

TEST_CASE("a sitemap index lists further sitemaps", "[sitemap]") {
  Sitemap sitemap = parsed(std::string("<sitemapindex xmlns=\"") + kNs + "\">"
                           "<sitemap><loc>http://a.test/s1.xml.gz</loc><lastmod>2024-01-01</lastmod></sitemap>"
                           "<sitemap><loc>http://a.test/s2.xml</loc></sitemap></sitemapindex>");
  CHECK(sitemap.kind == SitemapKind::kIndex);
  CHECK(locs(sitemap.entries) == std::vector<std::string>{"http://a.test/s1.xml.gz", "http://a.test/s2.xml"});
  CHECK(sitemap.entries[0].lastmod == "2024-01-01");
}

TEST_CASE("an index's entries are <sitemap>, a urlset's are <url>", "[sitemap]") {
  CHECK(parsed("<sitemapindex><url><loc>http://a.test/</loc></url></sitemapindex>").entries.empty());
  CHECK(parsed("<urlset><sitemap><loc>http://a.test/</loc></sitemap></urlset>").entries.empty());
}

TEST_CASE("elements match by local name in the root's namespace", "[sitemap]") {
  std::string entry = "<url><loc>http://a.test/</loc></url>";
  CHECK(parsed("<urlset>" + entry + "</urlset>").entries.size() == 1);
  CHECK(parsed(urlset(entry)).entries.size() == 1);
  CHECK(parsed(std::string("<sm:urlset xmlns:sm=\"") + kNs +
               "\"><sm:url><sm:loc>http://a.test/</sm:loc></sm:url></sm:urlset>")
            .entries.size() == 1);
  // Unprefixed children of a prefixed root are in no namespace: not sitemap elements.
  CHECK(parsed(std::string("<sm:urlset xmlns:sm=\"") + kNs + "\">" + entry + "</sm:urlset>")
            .entries.empty());
}

TEST_CASE("extension elements are not mistaken for <loc>", "[sitemap]") {
  CHECK(locs_of(urlset(
      "<url xmlns:image=\"http://www.google.com/schemas/sitemap-image/1.1\""
      " xmlns:x=\"urn:x\"><x:loc>http://a.test/ext</x:loc>"
      "<image:image><image:loc>http://a.test/i.png</image:loc></image:image>"
      "<loc>http://a.test/page</loc></url>")) == std::vector<std::string>{"http://a.test/page"});
}

TEST_CASE("the first <loc> wins, and an entry without one is skipped", "[sitemap]") {
  CHECK(locs_of(urlset(
      "<url><loc>http://a.test/1</loc><loc>http://a.test/2</loc></url>"
      "<url><lastmod>2024-01-01</lastmod></url><url><loc>  </loc></url>"
      "<loc>http://a.test/outside</loc>")) == std::vector<std::string>{"http://a.test/1"});
}

TEST_CASE("CDATA, character references and whitespace in <loc>", "[sitemap]") {
  CHECK(locs_of(urlset(
      "<url><loc>\n   <![CDATA[http://a.test/?a=1&b=<2>]]>\n  </loc></url>"
      "<url><loc>http://a.test/?a=1&amp;b=&#x32;</loc></url>"
      "<url><loc>http://a.test/<b>bold</b>x</loc></url>")) ==
        std::vector<std::string>{"http://a.test/?a=1&b=<2>", "http://a.test/?a=1&b=2", "http://a.test/x"});
}

TEST_CASE("an empty urlset has no entries and is no error", "[sitemap]") {
  for (std::string body : {urlset(""), std::string("<urlset/>")}) {
    Sitemap sitemap = parsed(body);
    CHECK(sitemap.kind == SitemapKind::kUrlset);
    CHECK(sitemap.entries.empty());
    CHECK_FALSE(sitemap.truncated);
  }
}

TEST_CASE("declared encodings other than UTF-8 come back as UTF-8", "[sitemap]") {
  CHECK(locs_of("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
                "<urlset><url><loc>http://a.test/caf\xE9</loc></url></urlset>") ==
        std::vector<std::string>{"http://a.test/caf\xC3\xA9"});
}

TEST_CASE("a gzip body is decompressed whatever it is called", "[sitemap]") {
  std::string xml = numbered_urlset(3);
  Sitemap sitemap = parsed(gzip_compress(xml));
  CHECK(sitemap.kind == SitemapKind::kUrlset);
  CHECK(locs(sitemap.entries) == locs_of(xml));
  CHECK(locs(parsed_in_steps(gzip_compress(xml), 7).entries) == locs(sitemap.entries));
}

TEST_CASE("corrupt or cut-short gzip is an error", "[sitemap]") {
  std::string gz = gzip_compress(numbered_urlset(50));
  std::string corrupt = gz;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x55);
  corrupt[13] = static_cast<char>(corrupt[13] ^ 0x55);
  auto broken = parse_sitemap(corrupt);
  REQUIRE_FALSE(broken);
  CHECK(broken.error().message.rfind("gzip: ", 0) == 0);
  auto cut = parse_sitemap(std::string_view(gz).substr(0, gz.size() - 10));
  REQUIRE_FALSE(cut);
  CHECK(cut.error().message == "gzip: compressed stream cut short");
}

TEST_CASE("fed one byte at a time, a sitemap parses as it does whole", "[sitemap]") {
  std::string xml = urlset(
      "<url><loc> http://a.test/&amp;x </loc><lastmod>2024</lastmod></url>"
      "<url><loc><![CDATA[http://a.test/y]]></loc></url>");
  Sitemap whole = parsed(xml);
  Sitemap bytewise = parsed_in_steps(xml, 1);
  CHECK(bytewise.kind == whole.kind);
  CHECK(locs(bytewise.entries) == locs(whole.entries));
  CHECK(bytewise.entries.at(0).lastmod == "2024");
}

TEST_CASE("entries can be drained as they complete", "[sitemap]") {
  SitemapParser parser;
  REQUIRE(parser.feed("<urlset><url><loc>http://a.test/1</loc></url><url><loc>http://a"));
  CHECK(parser.kind() == SitemapKind::kUrlset);
  CHECK(locs(parser.take_entries()) == std::vector<std::string>{"http://a.test/1"});
  CHECK(parser.take_entries().empty());
  REQUIRE(parser.feed(".test/2</loc></url></urlset>"));
  REQUIRE(parser.finish());
  CHECK(locs(parser.take_entries()) == std::vector<std::string>{"http://a.test/2"});
  CHECK(parser.listed() == 2);
}

TEST_CASE("past 50,000 entries the rest are dropped and the sitemap says so", "[sitemap]") {
  Sitemap sitemap = parsed(numbered_urlset(60000));
  REQUIRE(sitemap.entries.size() == kMaxSitemapEntries);
  CHECK(sitemap.entries.back().loc == "http://a.test/49999");
  CHECK(sitemap.truncated);
}

TEST_CASE("exactly max_entries entries is not truncated", "[sitemap]") {
  SitemapLimits limits;
  limits.max_entries = 3;
  CHECK_FALSE(parsed(numbered_urlset(3), limits).truncated);
  Sitemap four = parsed(numbered_urlset(4), limits);
  CHECK(four.truncated);
  CHECK(four.entries.size() == 3);
}

TEST_CASE("a truncated parse ignores later input, even malformed", "[sitemap]") {
  SitemapLimits limits;
  limits.max_entries = 1;
  SitemapParser parser(limits);
  REQUIRE(parser.feed("<urlset><url><loc>http://a.test/1</loc></url><url><loc>http://a.test/2</loc></url>"));
  CHECK(parser.truncated());
  CHECK(parser.listed() == 1);
  CHECK(parser.feed("</mismatch>"));
  CHECK(parser.finish());
  CHECK(parser.take_entries().size() == 1);
}

TEST_CASE("XML past max_bytes is not parsed, and a partial entry is dropped", "[sitemap]") {
  std::string xml = numbered_urlset(10);
  std::size_t cut = xml.find("http://a.test/3") + 4;  // inside the fourth <loc>
  SitemapLimits limits;
  limits.max_bytes = cut;
  Sitemap sitemap = parsed(xml, limits);
  CHECK(sitemap.truncated);
  CHECK(locs(sitemap.entries) == std::vector<std::string>{"http://a.test/0", "http://a.test/1", "http://a.test/2"});
  limits.max_bytes = xml.size();
  CHECK_FALSE(parsed(xml, limits).truncated);
  CHECK(parsed_in_steps(xml, 5).entries.size() == 10);
}

TEST_CASE("the byte limit counts decompressed XML", "[sitemap]") {
  std::string xml = numbered_urlset(10);
  std::string gz = gzip_compress(xml);
  SitemapLimits limits;
  limits.max_bytes = xml.size() - 1;  // the compressed body is far smaller
  Sitemap sitemap = parsed(gz, limits);
  CHECK(sitemap.truncated);
  CHECK(sitemap.entries.size() == 10);  // only "</urlset>\n" was cut
  limits.max_bytes = xml.size();
  CHECK_FALSE(parsed(gz, limits).truncated);
}

TEST_CASE("a gzip body over 50 MiB decompressed stops at 50 MiB", "[sitemap]") {
  std::string gz = gzip_padded("<urlset><url><loc>http://a.test/a</loc></url>", kMaxSitemapBytes,
                               "<url><loc>http://a.test/b</loc></url></urlset>");
  REQUIRE(gz.size() < kMaxSitemapBytes / 100);
  Sitemap sitemap = parsed(gz);
  CHECK(sitemap.truncated);
  CHECK(locs(sitemap.entries) == std::vector<std::string>{"http://a.test/a"});
}

TEST_CASE("malformed XML is an error with expat's message and line", "[sitemap]") {
  CHECK(error_of("<urlset>\n<url>\n<loc>x</url>\n</urlset>") == "malformed XML at line 3: mismatched tag");
  CHECK(error_of("<urlset><url><loc>http://a.test/?a=1&b=2</loc></url></urlset>") ==
        "malformed XML at line 1: not well-formed (invalid token)");
  CHECK(error_of("") == "malformed XML at line 1: no element found");
  CHECK(error_of("<") == "malformed XML at line 1: unclosed token");
  CHECK(error_of("<urlset><url><loc>http://a.test/</loc></url>") == "malformed XML at line 1: no element found");
}

TEST_CASE("after an error, entries read before it remain and the error sticks", "[sitemap]") {
  SitemapParser parser;
  auto failed = parser.feed("<urlset><url><loc>http://a.test/1</loc></url>\n</oops>");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message == "malformed XML at line 2: mismatched tag");
  CHECK(locs(parser.take_entries()) == std::vector<std::string>{"http://a.test/1"});
  auto again = parser.feed("<url><loc>http://a.test/2</loc></url>");
  REQUIRE_FALSE(again);
  CHECK(again.error().message == failed.error().message);
  CHECK_FALSE(parser.finish());
  CHECK(parser.take_entries().empty());
}

TEST_CASE("a root other than urlset or sitemapindex is not a sitemap", "[sitemap]") {
  CHECK(error_of("<!DOCTYPE html><html><body>hi</body></html>") == "not a sitemap: root element <html>");
  CHECK(error_of("<rss xmlns=\"http://x.test/\"><url><loc>http://a.test/</loc></url></rss>") ==
        "not a sitemap: root element <rss>");
  SitemapParser parser;
  CHECK_FALSE(parser.feed("<feed>"));
  CHECK(parser.kind() == SitemapKind::kUnknown);
}

TEST_CASE("an external entity fails and nothing is fetched", "[sitemap]") {
  TestServer server;
  std::string body = "<?xml version=\"1.0\"?>\n<!DOCTYPE urlset [\n<!ENTITY ext SYSTEM \"" +
                     server.url("/x") + "\">\n]>\n<urlset><url><loc>&ext;</loc></url></urlset>";
  CHECK(error_of(body) == "entity declarations are not allowed: <!ENTITY ext> at line 3");
  CHECK(server.connection_count() == 0);
}

TEST_CASE("an external DTD is never loaded; the document still parses", "[sitemap]") {
  TestServer server;
  std::string body = "<!DOCTYPE urlset SYSTEM \"" + server.url("/s.dtd") +
                     "\"><urlset><url><loc>http://a.test/</loc></url></urlset>";
  CHECK(locs_of(body) == std::vector<std::string>{"http://a.test/"});
  CHECK(server.connection_count() == 0);
}

TEST_CASE("billion laughs fails at its first declaration, before any expansion", "[sitemap]") {
  std::string body = "<?xml version=\"1.0\"?>\n<!DOCTYPE urlset [\n<!ENTITY lol \"lol\">\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = i == 1 ? "lol" : "lol" + std::to_string(i - 1);
    body += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int k = 0; k < 10; ++k) body += "&" + prev + ";";
    body += "\">\n";
  }
  body += "]>\n<urlset><url><loc>&lol9;</loc></url></urlset>";
  CHECK(error_of(body) == "entity declarations are not allowed: <!ENTITY lol> at line 3");
}

TEST_CASE("parameter entities are refused too", "[sitemap]") {
  CHECK(error_of("<!DOCTYPE urlset [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/p\"> %p;]><urlset/>") ==
        "entity declarations are not allowed: <!ENTITY p> at line 1");
}
