#include "parser/extract.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using webcrawl::parser::ExtractedPage;
using webcrawl::parser::ExtractOptions;
using webcrawl::parser::extract_page;
using webcrawl::parser::parse_url;

namespace {

ExtractedPage extract(std::string_view html, std::string_view page_url = "http://a.test/d/x.html",
                      const ExtractOptions& options = {}) {
  auto url = parse_url(page_url);
  REQUIRE(url);
  return extract_page(*url, html, options);
}

std::vector<std::string> urls(const ExtractedPage& page) {
  std::vector<std::string> out;
  for (const auto& link : page.links) out.push_back(link.url);
  return out;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

std::string repeat(std::string_view piece, int times) {
  std::string out;
  out.reserve(piece.size() * times);
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

}  // namespace

TEST_CASE("the title is the first <title>, whitespace collapsed", "[extract]") {
  auto page = extract("<title>\n  Hello \t  world </title><title>second</title><p>body</p>");
  CHECK(page.title == "Hello world");
  CHECK(page.text == "body");
}

TEST_CASE("a page without a title has an empty title", "[extract]") {
  CHECK(extract("<p>x</p>").title.empty());
}

TEST_CASE("text leaves out script, style, template, noscript and head", "[extract]") {
  auto page = extract(
      "<head><title>T</title><style>h1{}</style><script>var a;</script></head>"
      "<body>one<script>alert(1)</script><style>p{}</style><template>tpl</template>"
      "<noscript>enable js</noscript> two</body>");
  CHECK(page.text == "one two");
}

TEST_CASE("text collapses whitespace runs and trims the ends", "[extract]") {
  CHECK(extract("<body>\n\n  a \t\r\n b  <pre>  c\n\n d </pre>  </body>").text == "a b c d");
}

TEST_CASE("block elements separate words, inline elements do not", "[extract]") {
  CHECK(extract("<p>a</p><p>b</p>").text == "a b");
  CHECK(extract("<div>a<br>b</div><ul><li>c</li><li>d</li></ul>").text == "a b c d");
  CHECK(extract("<table><tr><td>e</td><td>f</td></tr></table>").text == "e f");
  CHECK(extract("<b>g</b><i>h</i><span>i</span>").text == "ghi");
}

TEST_CASE("entities are decoded in text and in hrefs", "[extract]") {
  auto page = extract(R"(<p>caf&eacute; &amp; bar &lt;3</p><a href="/q?a=1&amp;b=2">x</a>)");
  CHECK(page.text == "caf\xC3\xA9 & bar <3 x");
  CHECK(page.links.at(0).url == "http://a.test/q?a=1&b=2");
}

TEST_CASE("relative links resolve against the page URL", "[extract]") {
  auto page = extract(R"(<a href="y">1</a><a href="../z">2</a><a href="//b.test/w">3</a>
                         <a href="?q=1">4</a><a href="HTTP://C.TEST/">5</a>)");
  CHECK(urls(page) == std::vector<std::string>{"http://a.test/d/y", "http://a.test/z",
                                               "http://b.test/w", "http://a.test/d/x.html?q=1",
                                               "http://c.test/"});
}

TEST_CASE("links resolve against <base href>", "[extract]") {
  auto page = extract(R"(<base href="/o/"><a href="y#top">y</a>)", "http://a.test/d/x.html");
  CHECK(page.links.at(0).url == "http://a.test/o/y");
}

TEST_CASE("a <base href> after the links still applies to them", "[extract]") {
  auto page = extract(R"(<body><a href="y">y</a><base href="http://b.test/o/"><a href="z">z</a>)");
  CHECK(urls(page) == std::vector<std::string>{"http://b.test/o/y", "http://b.test/o/z"});
  CHECK(page.links.at(0).anchor_text == "y");
}

TEST_CASE("only the first <base> with an href counts", "[extract]") {
  auto page = extract(R"(<base target="_top"><base href="/one/"><base href="/two/"><a href="y">y</a>)");
  CHECK(page.links.at(0).url == "http://a.test/one/y");
}

TEST_CASE("a <base> that is not an http(s) URL leaves the page URL as base", "[extract]") {
  auto page = extract(R"(<base href="mailto:x@a.test"><a href="y">y</a>)");
  CHECK(page.links.at(0).url == "http://a.test/d/y");
}

TEST_CASE("fragments are removed and a bare fragment or empty href is the page", "[extract]") {
  auto page = extract(R"(<a href="#top">a</a><a href="">b</a><a href="/p#x">c</a>)");
  CHECK(urls(page) == std::vector<std::string>{"http://a.test/d/x.html", "http://a.test/p"});
}

TEST_CASE("links with schemes other than http(s) are dropped", "[extract]") {
  auto page = extract(R"html(<a href="mailto:me@a.test">m</a><a href="javascript:go()">j</a>
                         <a href="tel:123">t</a><a href="ftp://a.test/f">f</a>
                         <a href="data:text/html,x">d</a><a href="https://a.test/s">s</a>)html");
  CHECK(urls(page) == std::vector<std::string>{"https://a.test/s"});
}

TEST_CASE("an <a> without href is not a link", "[extract]") {
  CHECK(extract("<a name=top>anchor</a>").links.empty());
}

TEST_CASE("<area href> is a link whose anchor text is its alt", "[extract]") {
  auto page = extract(R"(<map name=m><area href="/room" alt="  The   room "></map>)");
  REQUIRE(page.links.size() == 1);
  CHECK(page.links[0].url == "http://a.test/room");
  CHECK(page.links[0].anchor_text == "The room");
}

TEST_CASE("anchor text is the visible text inside the link, collapsed", "[extract]") {
  auto page = extract(
      "<a href=/x>\n Hello <b>big</b><script>no()</script><div>wide</div>  world </a> after");
  CHECK(page.links.at(0).anchor_text == "Hello big wide world");
  CHECK(page.text == "Hello big wide world after");
}

TEST_CASE("rel=nofollow is found among other tokens in any case", "[extract]") {
  auto page = extract(R"(<a href=/a rel="noopener NoFollow">a</a><a href=/b rel="nofollowing">b</a>
                         <a href=/c>c</a>)");
  REQUIRE(page.links.size() == 3);
  CHECK(page.links[0].nofollow);
  CHECK_FALSE(page.links[1].nofollow);
  CHECK_FALSE(page.links[2].nofollow);
}

TEST_CASE("duplicate links keep the first occurrence", "[extract]") {
  auto page = extract(R"(<a href="/a" rel=nofollow>first</a><a href="/a#frag">second</a>
                         <a href="http://a.test/a">third</a><a href="/b">b</a>)");
  REQUIRE(page.links.size() == 2);
  CHECK(page.links[0].url == "http://a.test/a");
  CHECK(page.links[0].anchor_text == "first");
  CHECK(page.links[0].nofollow);
  CHECK(page.links[1].url == "http://a.test/b");
}

TEST_CASE("meta robots noindex and nofollow are read separately", "[extract]") {
  auto noindex = extract(R"(<meta name="ROBOTS" content="NoIndex, follow">)");
  CHECK(noindex.noindex);
  CHECK_FALSE(noindex.nofollow);
  auto nofollow = extract(R"(<meta name="robots" content="index,nofollow">)");
  CHECK_FALSE(nofollow.noindex);
  CHECK(nofollow.nofollow);
}

TEST_CASE("meta robots none means noindex and nofollow", "[extract]") {
  auto page = extract(R"(<meta name="robots" content="none">)");
  CHECK(page.noindex);
  CHECK(page.nofollow);
}

TEST_CASE("meta tags other than robots are ignored", "[extract]") {
  auto page = extract(R"(<meta name="googlebot" content="noindex"><meta content="nofollow">)");
  CHECK_FALSE(page.noindex);
  CHECK_FALSE(page.nofollow);
}

TEST_CASE("several meta robots tags add up; a valued directive's value is no directive", "[extract]") {
  auto page = extract(R"(<meta name="robots" content="noindex"><meta name="robots" content="nofollow">)");
  CHECK(page.noindex);
  CHECK(page.nofollow);
  auto preview = extract(R"(<meta name="robots" content="max-image-preview: none, max-snippet: 20">)");
  CHECK_FALSE(preview.noindex);
  CHECK_FALSE(preview.nofollow);
}

TEST_CASE("the canonical is the first <link rel=canonical> in <head>, absolute and normalized", "[extract]") {
  auto page = extract(R"(<head><link rel="stylesheet" href="/s.css">
      <link rel="canonical" href="/Canon/./page?x=1#frag">
      <link rel="canonical" href="/second"></head><body>x</body>)");
  CHECK(page.canonical == "http://a.test/Canon/page?x=1");
  CHECK(urls(page).empty());  // a <link> is not a link to follow
}

TEST_CASE("rel is a case-insensitive token list", "[extract]") {
  CHECK(extract(R"(<link rel="CANONICAL" href="/c">)").canonical == "http://a.test/c");
  CHECK(extract(R"(<link rel=" alternate	canonical " href="/c">)").canonical == "http://a.test/c");
  CHECK(extract(R"(<link rel="canonical-ish" href="/c">)").canonical.empty());
  CHECK(extract(R"(<link rel="alternate" href="/c">)").canonical.empty());
}

TEST_CASE("the canonical resolves against the page URL or <base href>", "[extract]") {
  CHECK(extract(R"(<link rel=canonical href="y.html">)").canonical == "http://a.test/d/y.html");
  CHECK(extract(R"(<link rel=canonical href="y.html"><base href="http://b.test/o/">)").canonical ==
        "http://b.test/o/y.html");
  CHECK(extract(R"(<link rel=canonical href="//c.test">)", "https://a.test/").canonical == "https://c.test/");
}

TEST_CASE("an invalid or non-http(s) canonical is empty, and only the first counts", "[extract]") {
  CHECK(extract(R"(<link rel=canonical href="mailto:a@b.test"><link rel=canonical href="/ok">)")
            .canonical.empty());
  CHECK(extract(R"(<link rel=canonical href="http://[::1">)").canonical.empty());
  CHECK(extract(R"(<link rel=canonical><link rel=canonical href="/ok">)").canonical == "http://a.test/ok");
  CHECK(extract("<p>no canonical</p>").canonical.empty());
}

TEST_CASE("a canonical outside <head> is ignored", "[extract]") {
  CHECK(extract(R"(<body><p>text</p><link rel=canonical href="/body"></body>)").canonical.empty());
  CHECK(extract(R"(<svg><link rel=canonical href="/svg"/></svg>)").canonical.empty());
  // The parser moves a <link> between </head> and <body> into <head>.
  CHECK(extract(R"(<head></head><link rel=canonical href="/moved"><body>x</body>)").canonical ==
        "http://a.test/moved");
}

TEST_CASE("controls and noncharacters in an href are percent-encoded, not replaced (#11)", "[extract]") {
  auto page = extract("<a href=\"/x\x7Fy?q\x7F\">a</a><a href='/\xEF\xBF\xBF\xEF\xB7\x90'>b</a>"
                      "<a href=/u\x01v\xC2\x80>c</a><a href=\"/bad\xFF\">d</a>",
                      "http://a.test/");
  CHECK(urls(page) == std::vector<std::string>{"http://a.test/x%7Fy?q%7F", "http://a.test/%EF%BF%BF%EF%B7%90",
                                               "http://a.test/u%01v%C2%80", "http://a.test/bad%EF%BF%BD"});
}

TEST_CASE("<base> and canonical hrefs keep their controls too (#11)", "[extract]") {
  auto page = extract("<base href=\"/b\x7F/\"><link rel=canonical href=\"c\xEF\xBF\xBE\"><a href=x>x</a>",
                      "http://a.test/");
  CHECK(urls(page) == std::vector<std::string>{"http://a.test/b%7F/x"});
  CHECK(page.canonical == "http://a.test/b%7F/c%EF%BF%BE");
}

TEST_CASE("an href that needs character references decoded keeps gumbo's reading", "[extract]") {
  // Only the source text is known to be the value, so U+FFFD stays here.
  auto page = extract("<a href=\"/e&amp;\x7F\">a</a><a href=\"/n&#x41;\">b</a>", "http://a.test/");
  CHECK(urls(page) == std::vector<std::string>{"http://a.test/e&%EF%BF%BD", "http://a.test/nA"});
}

TEST_CASE("links beyond max_links are dropped and flagged", "[extract]") {
  ExtractOptions options;
  options.max_links = 2;
  auto page = extract(R"(<a href=/a>a</a><a href=/b>b</a><a href=/a>a</a><a href=/c>c</a>)",
                      "http://a.test/", options);
  CHECK(urls(page) == std::vector<std::string>{"http://a.test/a", "http://a.test/b"});
  CHECK(page.links_truncated);
}

TEST_CASE("duplicates past max_links do not count as truncation", "[extract]") {
  ExtractOptions options;
  options.max_links = 2;
  auto page = extract(R"(<a href=/a>a</a><a href=/b>b</a><a href=/a>a</a>)", "http://a.test/",
                      options);
  CHECK(page.links.size() == 2);
  CHECK_FALSE(page.links_truncated);
}

TEST_CASE("text is capped at a UTF-8 character boundary", "[extract]") {
  ExtractOptions options;
  options.max_text_bytes = 4;
  // "ab€": the euro sign takes bytes 3 to 5, so it cannot be half kept.
  auto page = extract("<p>ab\xE2\x82\xAC cd</p>", "http://a.test/", options);
  CHECK(page.text == "ab");
  options.max_text_bytes = 6;
  CHECK(extract("<p>ab\xE2\x82\xAC cd</p>", "http://a.test/", options).text == "ab\xE2\x82\xAC");
}

TEST_CASE("a full text cap does not stop link collection", "[extract]") {
  ExtractOptions options;
  options.max_text_bytes = 3;
  auto page = extract("<p>long text here</p><a href=/late>late link</a>", "http://a.test/", options);
  CHECK(page.text == "lon");
  CHECK(urls(page) == std::vector<std::string>{"http://a.test/late"});
  CHECK(page.links[0].anchor_text == "late link");
}

TEST_CASE("the title and anchor texts have their own caps", "[extract]") {
  ExtractOptions options;
  options.max_title_bytes = 5;
  options.max_anchor_text_bytes = 3;
  auto page = extract("<title>Hello world</title><a href=/a>abcdef</a>", "http://a.test/", options);
  CHECK(page.title == "Hello");
  CHECK(page.links.at(0).anchor_text == "abc");
}

TEST_CASE("links inside <noscript> count but its text does not", "[extract]") {
  auto page = extract(R"(<p>x</p><noscript><a href="/plain">plain page</a></noscript>)");
  CHECK(urls(page) == std::vector<std::string>{"http://a.test/plain"});
  CHECK(page.links[0].anchor_text == "plain page");
  CHECK(page.text == "x");
}

TEST_CASE("malformed HTML with unclosed tags still gives links and text", "[extract]") {
  auto page = extract(R"(<html><body><div><p>one <a href="/a">A<p>two <a href=/b>B<table><td>c)");
  CHECK(urls(page) == std::vector<std::string>{"http://a.test/a", "http://a.test/b"});
  CHECK(page.text == "one A two B c");
}

TEST_CASE("binary garbage does not crash and gives valid UTF-8", "[extract]") {
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    std::string bytes(1000 + round * 3000, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (round % 2 == 1) bytes += "<a href=/x>x</a>";
    auto page = extract(bytes);
    CHECK(valid_utf8(page.text));
    CHECK(valid_utf8(page.title));
  }
}

TEST_CASE("a character reference gumbo overflows comes back as U+FFFD", "[extract]") {
  // Gumbo 0.10.1 decodes "&#xFFFFFFB0;" to the lone byte 0xB0.
  auto page = extract("<title>t&#xFFFFFFB0;</title><p>a&#xFFFFFFB0;b</p>"
                      "<a href=/x>c&#xFFFFFFB0;</a>");
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(page.title == "t" + fffd);
  CHECK(page.text == "a" + fffd + "b c" + fffd);
  REQUIRE(page.links.size() == 1);
  CHECK(page.links[0].anchor_text == "c" + fffd);
}

TEST_CASE("300,000 nested elements do not overflow an 8 MB thread stack", "[extract]") {
  // Past where gumbo's own recursive destroy used to overflow (~262,000), with
  // the nesting cap lifted; <span> because gumbo is quadratic for nested <div>.
  std::string html = repeat("<span>", 300000) + "deep <a href=/deep>d</a>";
  ExtractOptions options;
  options.max_nesting = 1000000;
  ExtractedPage page;
  std::thread worker([&] { page = extract_page(*parse_url("http://a.test/"), html, options); });
  worker.join();
  CHECK(page.text == "deep d");
  CHECK(urls(page) == std::vector<std::string>{"http://a.test/deep"});
  CHECK_FALSE(page.nesting_cut);
}

TEST_CASE("100,000 nested divs are cut at the nesting cap, quickly", "[extract]") {
  std::string html = "<p>before</p>" + repeat("<div>", 100000) + "deep";
  auto began = std::chrono::steady_clock::now();
  auto page = extract(html);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  CHECK(page.nesting_cut);
  CHECK(page.text == "before");
  CHECK(seconds < 2.0);  // uncut, gumbo takes about 15 s
}

TEST_CASE("ordinary pages are not cut: void, optional-end and raw-text tags do not nest", "[extract]") {
  std::string html = repeat("<p>para", 20000) + repeat("<li>item", 20000) + repeat("<br><img src=x>", 20000) +
                     "<script>" + repeat("<div>", 20000) + "</script><div><div>ok</div></div>";
  auto page = extract(html);
  CHECK_FALSE(page.nesting_cut);
  CHECK(page.text.substr(page.text.size() - 2) == "ok");
}

TEST_CASE("200,000 links stop at max_links", "[extract]") {
  std::string html;
  for (int i = 0; i < 200000; ++i) html += "<a href=/" + std::to_string(i) + ">l</a>";
  auto page = extract(html);
  CHECK(page.links.size() == ExtractOptions{}.max_links);
  CHECK(page.links.back().url == "http://a.test/" + std::to_string(ExtractOptions{}.max_links - 1));
  CHECK(page.links_truncated);
}
