#include "parser/charset.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

using namespace std::string_literals;
using webcrawl::parser::charset_for_label;
using webcrawl::parser::detect_charset;
using webcrawl::parser::to_utf8;

namespace {

// "name from source", so one CHECK states both.
std::string detected(std::string_view content_type, std::string_view body) {
  auto charset = detect_charset(content_type, body);
  return charset.name + " from " + charset.source;
}

std::string decoded(std::string body, std::string_view charset, std::size_t max = 1 << 20) {
  return to_utf8(std::move(body), charset, max).text;
}

// A body whose first 1024 bytes hold no declaration.
std::string filler(std::size_t n) { return "<p>" + std::string(n - 7, 'x') + "</p>"; }

}  // namespace

TEST_CASE("a byte order mark beats the header and the meta tag", "[charset]") {
  const std::string meta = "<meta charset=koi8-r>";
  CHECK(detected("text/html; charset=iso-8859-2", "\xEF\xBB\xBF" + meta) == "UTF-8 from bom");
  CHECK(detected("text/html; charset=iso-8859-2", "\xFF\xFE" + meta) == "UTF-16LE from bom");
  CHECK(detected("text/html; charset=iso-8859-2", "\xFE\xFF" + meta) == "UTF-16BE from bom");
}

TEST_CASE("the header charset beats the meta tag", "[charset]") {
  CHECK(detected("text/html; charset=iso-8859-2", "<meta charset=koi8-r>") == "ISO-8859-2 from header");
}

TEST_CASE("the header charset parameter is read like a MIME type parameter", "[charset]") {
  CHECK(detected("text/html; Charset=\"ISO-8859-1\"", "") == "windows-1252 from header");
  CHECK(detected("text/html;charset=Shift_JIS ", "") == "Shift_JIS from header");
  CHECK(detected("text/html; format=x; charset=gb2312; charset=utf-8", "") == "GBK from header");
  CHECK(detected("text/html; charset=\"big5\"; q=1", "") == "Big5 from header");
  CHECK(detected("text/html; xcharset=koi8-r", "") == "UTF-8 from default");
  CHECK(detected("text/html; charset=", "") == "UTF-8 from default");
  CHECK(detected("text/html; charset=\"koi8-r", "") == "KOI8-R from header");
}

TEST_CASE("an unknown header charset falls through to the meta tag", "[charset]") {
  CHECK(detected("text/html; charset=klingon", "<meta charset=koi8-r>") == "KOI8-R from meta");
}

TEST_CASE("meta charset is found with any quoting and case", "[charset]") {
  CHECK(detected("", "<html><head><meta charset=koi8-r>") == "KOI8-R from meta");
  CHECK(detected("", "<META CHARSET='Shift_JIS'>") == "Shift_JIS from meta");
  CHECK(detected("", "<meta\ncharset = \"euc-kr\" />") == "EUC-KR from meta");
  CHECK(detected("", "<meta/charset=latin1>") == "windows-1252 from meta");
}

TEST_CASE("meta http-equiv content-type declares the charset in content", "[charset]") {
  CHECK(detected("", R"(<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">)") ==
        "windows-1251 from meta");
  CHECK(detected("", R"(<meta content='text/html;CHARSET = "gbk"' http-equiv=content-type>)") ==
        "GBK from meta");
  CHECK(detected("", R"(<meta content="text/html; charset=koi8-r">)") == "UTF-8 from default");
}

TEST_CASE("meta prescan skips unknown labels and keeps looking", "[charset]") {
  CHECK(detected("", "<meta charset=klingon><meta charset=iso-8859-7>") == "ISO-8859-7 from meta");
}

TEST_CASE("meta tags in comments and attribute values are not declarations", "[charset]") {
  CHECK(detected("", "<!-- <meta charset=koi8-r> --><p>") == "UTF-8 from default");
  CHECK(detected("", "<!--><meta charset=koi8-r>") == "KOI8-R from meta");
  CHECK(detected("", R"(<a title="<meta charset=koi8-r>">x</a>)") == "UTF-8 from default");
}

TEST_CASE("a meta tag beyond the first 1024 bytes is ignored", "[charset]") {
  CHECK(detected("", filler(1024) + "<meta charset=koi8-r>") == "UTF-8 from default");
  CHECK(detected("", filler(1000) + "<meta charset=koi8>") == "KOI8-R from meta");
  // Cut at byte 1024 after "koi8", itself a label: the tag declares nothing.
  CHECK(detected("", filler(1006) + "<meta charset=koi8-r>") == "UTF-8 from default");
}

TEST_CASE("a meta-declared UTF-16 means UTF-8", "[charset]") {
  CHECK(detected("", "<meta charset=utf-16le>") == "UTF-8 from meta");
  CHECK(detected("text/html; charset=utf-16", "") == "UTF-16LE from header");
}

TEST_CASE("a body with no declaration defaults to UTF-8", "[charset]") {
  CHECK(detected("text/html", "<html><body>caf\xC3\xA9</body></html>") == "UTF-8 from default");
  CHECK(detected("", "") == "UTF-8 from default");
}

TEST_CASE("labels are normalised per the Encoding Standard", "[charset]") {
  CHECK(charset_for_label("latin1") == "windows-1252");
  CHECK(charset_for_label("US-ASCII") == "windows-1252");
  CHECK(charset_for_label(" utf8\t") == "UTF-8");
  CHECK(charset_for_label("sjis") == "Shift_JIS");
  CHECK(charset_for_label("ms_kanji") == "Shift_JIS");
  CHECK(charset_for_label("x-gbk") == "GBK");
  CHECK(charset_for_label("ks_c_5601-1987") == "EUC-KR");
  CHECK(charset_for_label("iso-8859-9") == "windows-1254");
  CHECK(charset_for_label("big5-hkscs") == "Big5");
  CHECK(charset_for_label("utf-16") == "UTF-16LE");
  CHECK(charset_for_label("mac") == "macintosh");
  CHECK(charset_for_label("iso-2022-kr").empty());
  CHECK(charset_for_label("utf-8 x").empty());
  CHECK(charset_for_label("").empty());
}

TEST_CASE("windows-1252 decodes 0x80 as the euro sign, unlike ISO-8859-1", "[charset]") {
  CHECK(decoded("5\x80", "latin1") == "5\u20AC");
  CHECK(decoded("caf\xE9", "iso-8859-1") == "caf\u00E9");
  CHECK(decoded("\x81", "windows-1252") == "\u0081");
}

TEST_CASE("CJK encodings decode to UTF-8", "[charset]") {
  CHECK(decoded("\x82\xA0", "shift_jis") == "\u3042");      // あ
  CHECK(decoded("\xC4\xE3\xBA\xC3", "gb2312") == "\u4F60\u597D");  // 你好
  CHECK(decoded("\x80", "gbk") == "\u20AC");
  CHECK(decoded("\xC7\xD1\xB1\xDB", "euc-kr") == "\uD55C\uAE00");  // 한글
  CHECK(decoded("\xA4\xA4", "big5") == "\u4E2D");             // 中
  CHECK(decoded("\xA4\xA2", "euc-jp") == "\u3042");
  CHECK(decoded("\x1B$B$\"\x1B(Bx", "iso-2022-jp") == "\u3042x");
}

TEST_CASE("single-byte encodings follow the WHATWG tables", "[charset]") {
  CHECK(decoded("\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r") == "\u041F\u0440\u0438\u0432\u0435\u0442");
  CHECK(decoded("\xAE", "koi8-u") == "\u045E");
  CHECK(decoded("abc", "windows-1258") == "abc");
}

TEST_CASE("UTF-16 with a byte order mark decodes and loses the mark", "[charset]") {
  CHECK(decoded("\xFF\xFEh\0i\0\xAC\x20"s, "UTF-16LE") == "hi\u20AC");
  CHECK(decoded("\xFE\xFF\0h\0i"s, "windows-1252") == "hi");
  CHECK(decoded("\xEF\xBB\xBFhi", "utf-8") == "hi");
}

TEST_CASE("broken UTF-16 becomes one U+FFFD per code unit", "[charset]") {
  auto text = to_utf8("\xFF\xFE\x00\xD8h\0x"s, "utf-16le", 100);
  CHECK(text.text == "\uFFFDh\uFFFD");
  CHECK(text.replaced == 2);
}

TEST_CASE("invalid UTF-8 becomes one U+FFFD per maximal subpart", "[charset]") {
  auto text = to_utf8("a\xF0\x9F\x98" "b\xC0\xAF" "c\xED\xA0\x80", "UTF-8", 100);
  CHECK(text.text == "a\uFFFD" "b\uFFFD\uFFFD" "c\uFFFD\uFFFD\uFFFD");
  CHECK(text.replaced == 6);
  CHECK(decoded("\xE2\x82", "utf-8") == "\uFFFD");
}

TEST_CASE("invalid bytes in a legacy encoding become U+FFFD", "[charset]") {
  auto text = to_utf8("a\xFF" "b\x82", "shift_jis", 100);
  CHECK(text.text == "a\uFFFD" "b\uFFFD");
  CHECK(text.replaced == 2);
  CHECK(decoded("\xC7", "euc-kr") == "\uFFFD");
}

TEST_CASE("an unknown charset decodes as UTF-8", "[charset]") {
  CHECK(decoded("caf\xC3\xA9", "klingon") == "caf\u00E9");
  CHECK(decoded("caf\xE9", "") == "caf\uFFFD");
}

TEST_CASE("output stops at max_output on a character boundary", "[charset]") {
  auto text = to_utf8("a\xC3\xA9", "utf-8", 2);
  CHECK(text.text == "a");
  CHECK(text.truncated);
  CHECK(to_utf8("a\xC3\xA9", "utf-8", 3).truncated == false);
  CHECK(decoded("a\xFF\xFF", "utf-8", 6) == "a\uFFFD");
  CHECK(decoded("\x80\x80\x80", "windows-1252", 8) == "\u20AC\u20AC");
  CHECK(decoded("\x82\xA0\x82\xA0", "shift_jis", 5) == "\u3042");
  CHECK(to_utf8("abc", "koi8-r", 0).truncated);
  CHECK(to_utf8(std::string(100000, '\xE9'), "windows-1252", 100001).text.size() == 100000);
}

TEST_CASE("a valid UTF-8 body is moved, not copied", "[charset]") {
  std::string body;
  while (body.size() < (1 << 20)) body += "<p>caf\xC3\xA9 \xE4\xB8\xAD\xF0\x9F\x98\x80</p>\n";
  const char* data = body.data();
  const std::size_t size = body.size();
  auto text = to_utf8(std::move(body), "utf-8", 1 << 21);
  CHECK(text.text.data() == data);
  CHECK(text.text.size() == size);
  CHECK(text.replaced == 0);
}

TEST_CASE("a valid UTF-8 body over max_output is truncated in place", "[charset]") {
  std::string body(1 << 20, 'x');
  const char* data = body.data();
  auto text = to_utf8(std::move(body), "utf-8", 1000);
  CHECK(text.text.data() == data);
  CHECK(text.text.size() == 1000);
  CHECK(text.truncated);
}

TEST_CASE("legacy decoding works from several threads at once", "[charset]") {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&failures, t] {
      for (int i = 0; i < 200; ++i) {
        if (to_utf8("\x82\xA0", "sjis", 100).text != "\u3042") ++failures[t];
        if (to_utf8("\xC4\xE3", "gbk", 100).text != "\u4F60") ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == std::vector<int>(4, 0));
}
