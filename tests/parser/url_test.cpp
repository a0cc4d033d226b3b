// URL parsing and resolution: the WHATWG URL Standard for http and https.
#include "parser/url.h"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

namespace {

using webcrawl::Code;
using webcrawl::parser::parse_url;
using webcrawl::parser::resolve_url;
using webcrawl::parser::Url;

// The href of `input`, or "error: <message>" so a failure shows what happened.
std::string href(std::string_view input) {
  auto url = parse_url(input);
  if (!url) return "error: " + url.error().message;
  return url->href();
}

std::string resolve(std::string_view base, std::string_view input) {
  auto parsed_base = parse_url(base);
  REQUIRE(parsed_base);
  auto url = resolve_url(*parsed_base, input);
  if (!url) return "error: " + url.error().message;
  return url->href();
}

constexpr std::string_view kRfcBase = "http://a/b/c/d;p?q";

// True when parse_url rejects `input` as invalid (not merely unsupported).
bool rejects(std::string_view input) {
  auto url = parse_url(input);
  return !url && url.error().code == Code::kInvalidArgument;
}

Url parsed(std::string_view input) {
  auto url = parse_url(input);
  REQUIRE(url);
  return *url;
}

}  // namespace

TEST_CASE("RFC 3986 5.4.1 normal examples resolve as the WHATWG standard says", "[url]") {
  CHECK(resolve(kRfcBase, "g") == "http://a/b/c/g");
  CHECK(resolve(kRfcBase, "./g") == "http://a/b/c/g");
  CHECK(resolve(kRfcBase, "g/") == "http://a/b/c/g/");
  CHECK(resolve(kRfcBase, "/g") == "http://a/g");
  // RFC 3986: "http://g". WHATWG gives every special URL a path of at least "/".
  CHECK(resolve(kRfcBase, "//g") == "http://g/");
  CHECK(resolve(kRfcBase, "?y") == "http://a/b/c/d;p?y");
  CHECK(resolve(kRfcBase, "g?y") == "http://a/b/c/g?y");
  // RFC 3986: "http://a/b/c/d;p?q#s". We always drop the fragment.
  CHECK(resolve(kRfcBase, "#s") == "http://a/b/c/d;p?q");
  // RFC 3986: "http://a/b/c/g#s"; fragment dropped.
  CHECK(resolve(kRfcBase, "g#s") == "http://a/b/c/g");
  // RFC 3986: "http://a/b/c/g?y#s"; fragment dropped.
  CHECK(resolve(kRfcBase, "g?y#s") == "http://a/b/c/g?y");
  CHECK(resolve(kRfcBase, ";x") == "http://a/b/c/;x");
  CHECK(resolve(kRfcBase, "g;x") == "http://a/b/c/g;x");
  // RFC 3986: "http://a/b/c/g;x?y#s"; fragment dropped.
  CHECK(resolve(kRfcBase, "g;x?y#s") == "http://a/b/c/g;x?y");
  CHECK(resolve(kRfcBase, "") == "http://a/b/c/d;p?q");
  CHECK(resolve(kRfcBase, ".") == "http://a/b/c/");
  CHECK(resolve(kRfcBase, "./") == "http://a/b/c/");
  CHECK(resolve(kRfcBase, "..") == "http://a/b/");
  CHECK(resolve(kRfcBase, "../") == "http://a/b/");
  CHECK(resolve(kRfcBase, "../g") == "http://a/b/g");
  CHECK(resolve(kRfcBase, "../..") == "http://a/");
  CHECK(resolve(kRfcBase, "../../") == "http://a/");
  CHECK(resolve(kRfcBase, "../../g") == "http://a/g");
}

TEST_CASE("RFC 3986 g:h is an unsupported scheme, not a URL", "[url]") {
  // RFC 3986: "g:h". WHATWG parses it as scheme "g", which a crawler cannot fetch.
  CHECK(resolve(kRfcBase, "g:h") == "error: unsupported scheme: g");
}

TEST_CASE("RFC 3986 5.4.2 abnormal examples resolve as the WHATWG standard says", "[url]") {
  CHECK(resolve(kRfcBase, "../../../g") == "http://a/g");
  CHECK(resolve(kRfcBase, "../../../../g") == "http://a/g");
  CHECK(resolve(kRfcBase, "/./g") == "http://a/g");
  CHECK(resolve(kRfcBase, "/../g") == "http://a/g");
  CHECK(resolve(kRfcBase, "g.") == "http://a/b/c/g.");
  CHECK(resolve(kRfcBase, ".g") == "http://a/b/c/.g");
  CHECK(resolve(kRfcBase, "g..") == "http://a/b/c/g..");
  CHECK(resolve(kRfcBase, "..g") == "http://a/b/c/..g");
  CHECK(resolve(kRfcBase, "./../g") == "http://a/b/g");
  CHECK(resolve(kRfcBase, "./g/.") == "http://a/b/c/g/");
  CHECK(resolve(kRfcBase, "g/./h") == "http://a/b/c/g/h");
  CHECK(resolve(kRfcBase, "g/../h") == "http://a/b/c/h");
  CHECK(resolve(kRfcBase, "g;x=1/./y") == "http://a/b/c/g;x=1/y");
  CHECK(resolve(kRfcBase, "g;x=1/../y") == "http://a/b/c/y");
  CHECK(resolve(kRfcBase, "g?y/./x") == "http://a/b/c/g?y/./x");
  CHECK(resolve(kRfcBase, "g?y/../x") == "http://a/b/c/g?y/../x");
  // RFC 3986: "http://a/b/c/g#s/./x" and "http://a/b/c/g#s/../x"; fragment dropped.
  CHECK(resolve(kRfcBase, "g#s/./x") == "http://a/b/c/g");
  CHECK(resolve(kRfcBase, "g#s/../x") == "http://a/b/c/g");
  // RFC 3986 strict parsers give "http:g"; WHATWG (like RFC 3986's loose
  // parsers) treats a same-scheme "http:g" as relative.
  CHECK(resolve(kRfcBase, "http:g") == "http://a/b/c/g");
}

TEST_CASE("a same-scheme reference without slashes is relative, another scheme is absolute", "[url]") {
  CHECK(resolve("http://a/b/c", "http:") == "http://a/b/c");
  CHECK(resolve("http://a/b/c", "http:/g") == "http://a/g");
  CHECK(resolve("http://a/b/c", "http:\\\\g/x") == "http://g/x");
  CHECK(resolve("http://a/b/c", "https:g") == "https://g/");
  CHECK(resolve("https://a/b/c", "http:/g") == "http://g/");
  CHECK(href("http:g") == "http://g/");
  CHECK(href("http:/g/x") == "http://g/x");
}

TEST_CASE("empty and fragment-only references give back the base without its fragment", "[url]") {
  CHECK(resolve("http://a/p?q#f", "") == "http://a/p?q");
  CHECK(resolve("http://a/p?q", "#x") == "http://a/p?q");
  CHECK(resolve("http://a/p?q", "   ") == "http://a/p?q");
  CHECK(resolve("http://a/p?", "#") == "http://a/p?");
}

TEST_CASE("a query-only reference keeps the base path and replaces the query", "[url]") {
  CHECK(resolve("http://a/b/c?old", "?new") == "http://a/b/c?new");
  CHECK(resolve("http://a/b/c?old", "?") == "http://a/b/c?");
  CHECK(resolve("http://a/b/c?old", "?x y#frag") == "http://a/b/c?x%20y");
}

TEST_CASE("a scheme-relative reference takes scheme from the base and the rest from the input", "[url]") {
  CHECK(resolve("https://a/b", "//other.example/x?y") == "https://other.example/x?y");
  CHECK(resolve("https://a/b", "\\\\other.example\\x") == "https://other.example/x");
  CHECK(resolve("http://a:8080/b", "//c") == "http://c/");
  CHECK(resolve("http://a/b", "///c/d") == "http://c/d");
}

TEST_CASE("a relative reference keeps the base port", "[url]") {
  CHECK(resolve("http://a:8080/b/c", "d") == "http://a:8080/b/d");
  CHECK(resolve("https://a:8443/b/c", "/d") == "https://a:8443/d");
}

TEST_CASE("parse_url rejects a relative reference", "[url]") {
  CHECK(href("/path") == "error: invalid URL: relative reference without a base");
  CHECK(rejects("g"));
  CHECK(rejects(""));
  CHECK(rejects("//host/"));
}

TEST_CASE("resolve_url rejects a base that is not http or https", "[url]") {
  Url base;
  base.scheme = "ftp";
  base.host = "a";
  base.path = "/";
  CHECK_FALSE(resolve_url(base, "x"));
}

TEST_CASE("scheme and host are lowercased but the path keeps its case", "[url]") {
  CHECK(href("http://EXAMPLE.com/A") == "http://example.com/A");
  CHECK(href("HTTP://a") == "http://a/");
  CHECK(href("HtTpS://WWW.Example.COM/Path/To?Q=A") == "https://www.example.com/Path/To?Q=A");
}

TEST_CASE("other schemes are rejected as unsupported", "[url]") {
  CHECK(href("mailto:someone@example.com") == "error: unsupported scheme: mailto");
  CHECK(href("javascript:void(0)") == "error: unsupported scheme: javascript");
  CHECK(href("JavaScript:alert(1)") == "error: unsupported scheme: javascript");
  CHECK(href("ftp://a/") == "error: unsupported scheme: ftp");
  CHECK(href("data:text/html,hi") == "error: unsupported scheme: data");
  CHECK(href("file:///etc/passwd") == "error: unsupported scheme: file");
  CHECK(href("ws://a/") == "error: unsupported scheme: ws");
  CHECK(href("tel:+15551234") == "error: unsupported scheme: tel");
  CHECK(resolve("http://a/b", "mailto:x@y") == "error: unsupported scheme: mailto");
  CHECK(resolve("http://a/b", "  javascript:void(0)") == "error: unsupported scheme: javascript");
}

TEST_CASE("a colon after a non-scheme character makes a relative path, not a scheme", "[url]") {
  CHECK(resolve("http://a/b/c", "x y:z") == "http://a/b/x%20y:z");
  CHECK(resolve("http://a/b/c", "1a:b") == "http://a/b/1a:b");
  CHECK(resolve("http://a/b/c", "./g:h") == "http://a/b/g:h");
}

TEST_CASE("an empty host is an error", "[url]") {
  CHECK(href("http://") == "error: invalid URL: empty host");
  CHECK(rejects("http:"));
  CHECK(rejects("https://?q"));
  CHECK(rejects("http://#f"));
  CHECK(rejects("http://:80/"));
  CHECK(rejects("http://user@/"));
  CHECK(rejects("http://user:pass@:8080/"));
}

TEST_CASE("userinfo is dropped from the result", "[url]") {
  CHECK(href("http://user:pass@a.example/x") == "http://a.example/x");
  CHECK(href("http://user@a.example:8080/") == "http://a.example:8080/");
  CHECK(href("http://@a.example/") == "http://a.example/");
  CHECK(href("http://a@b@c.example/") == "http://c.example/");
  CHECK(href("http://us:er:pa[ss@c.example/") == "http://c.example/");
  CHECK(resolve("http://a/b", "//u:p@c/d") == "http://c/d");
}

TEST_CASE("default ports are dropped and other ports kept", "[url]") {
  CHECK(href("http://a:80/") == "http://a/");
  CHECK(href("https://a:443/") == "https://a/");
  CHECK(href("http://a:443/") == "http://a:443/");
  CHECK(href("https://a:80/") == "https://a:80/");
  CHECK(href("http://a:0080/") == "http://a/");
  CHECK(href("http://a:/x") == "http://a/x");
  CHECK(href("http://a:0/") == "http://a:0/");
  CHECK(href("http://a:65535/") == "http://a:65535/");
  CHECK(href("http://a:8080") == "http://a:8080/");
  CHECK(href("http://a:8080?q") == "http://a:8080/?q");
  CHECK(parsed("http://a/").port == 80);
  CHECK(parsed("https://a/").port == 443);
}

TEST_CASE("a port that is not digits or exceeds 65535 is an error", "[url]") {
  CHECK(href("http://a:65536/") == "error: invalid URL: port out of range");
  CHECK(href("http://a:8x/") == "error: invalid URL: bad port");
  CHECK(rejects("http://a:-1/"));
  CHECK(rejects("http://a: 80/"));
  CHECK(rejects("http://a:80:80/"));
  CHECK(rejects("http://a:99999999999999999999999/"));
}

TEST_CASE("IPv4 hosts in any standard form serialize as dotted decimal", "[url]") {
  CHECK(href("http://0x7f.1/") == "http://127.0.0.1/");
  CHECK(href("http://2130706433/") == "http://127.0.0.1/");
  CHECK(href("http://0177.0.0.1/") == "http://127.0.0.1/");
  CHECK(href("http://127.1/") == "http://127.0.0.1/");
  CHECK(href("http://1.256/") == "http://1.0.1.0/");
  CHECK(href("http://0X7F.0.0.1/") == "http://127.0.0.1/");
  CHECK(href("http://0x/") == "http://0.0.0.0/");
  CHECK(href("http://4294967295/") == "http://255.255.255.255/");
  CHECK(href("http://1.2.3.4./") == "http://1.2.3.4/");
  CHECK(href("http://%31%32%37.0.0.1/") == "http://127.0.0.1/");
}

TEST_CASE("a host ending in a number that is not a valid IPv4 address is an error", "[url]") {
  CHECK(href("http://1.2.3.4.5/") == "error: invalid URL: bad IPv4 address");
  CHECK(href("http://256.256.256.256/") == "error: invalid URL: bad IPv4 address");
  CHECK(rejects("http://1.2.3.256/"));
  CHECK(rejects("http://4294967296/"));
  CHECK(rejects("http://0x100000000/"));
  CHECK(rejects("http://99999999999999999999999/"));
  CHECK(rejects("http://09.0.0.1/"));
  CHECK(rejects("http://1..2/"));
  CHECK(rejects("http://foo.09/"));
  CHECK(rejects("http://example.0x/"));
}

TEST_CASE("a host whose last label is not a number stays a domain", "[url]") {
  CHECK(href("http://1.2.3.a/") == "http://1.2.3.a/");
  CHECK(href("http://0x7g.example/") == "http://0x7g.example/");
  CHECK(href("http://a.0xg/") == "http://a.0xg/");
}

TEST_CASE("IPv6 hosts serialize compressed, lowercase, in brackets", "[url]") {
  CHECK(href("http://[0:0::1]/") == "http://[::1]/");
  CHECK(href("http://[::ffff:1.2.3.4]/") == "http://[::ffff:102:304]/");
  CHECK(href("http://[2001:DB8::1]/") == "http://[2001:db8::1]/");
  CHECK(href("http://[0:0:0:0:0:0:0:0]/") == "http://[::]/");
  CHECK(href("http://[1:0:0:2:0:0:0:3]/") == "http://[1:0:0:2::3]/");
  CHECK(href("http://[1:0:0:2:0:0:3:4]/") == "http://[1::2:0:0:3:4]/");
  CHECK(href("http://[1:0:2:3:4:5:6:7]/") == "http://[1:0:2:3:4:5:6:7]/");
  CHECK(href("http://[1:2:3:4:5:6:7::]/") == "http://[1:2:3:4:5:6:7:0]/");
  CHECK(href("http://[0001:0db8::]/") == "http://[1:db8::]/");
  CHECK(href("http://[::1.2.3.4]/") == "http://[::102:304]/");
  CHECK(href("http://[::1]:8080/x") == "http://[::1]:8080/x");
  CHECK(href("http://[::1]:80/") == "http://[::1]/");
}

TEST_CASE("a malformed IPv6 address is an error", "[url]") {
  CHECK(href("http://[::1/") == "error: invalid URL: unterminated IPv6 address");
  CHECK(href("http://[1::2::3]/") == "error: invalid URL: bad IPv6 address");
  CHECK(rejects("http://[]/"));
  CHECK(rejects("http://[:1]/"));
  CHECK(rejects("http://[1:]/"));
  CHECK(rejects("http://[12345::]/"));
  CHECK(rejects("http://[1:2:3:4:5:6:7:8:9]/"));
  CHECK(rejects("http://[1:2:3:4:5:6:7]/"));
  CHECK(rejects("http://[::1.2.3.256]/"));
  CHECK(rejects("http://[::01.2.3.4]/"));
  CHECK(rejects("http://[::1.2.3]/"));
  CHECK(rejects("http://[::1.2.3.4.5]/"));
  CHECK(rejects("http://[1:2:3:4:5:6:7:1.2.3.4]/"));
  CHECK(rejects("http://[::1]x/"));
  CHECK(rejects("http://[%3A%3A1]/"));
  CHECK(rejects("http://[g::1]/"));
}

TEST_CASE("international hosts become punycode through IDNA", "[url]") {
  CHECK(href("http://bücher.example/") == "http://xn--bcher-kva.example/");
  CHECK(href("http://BÜCHER.example/") == "http://xn--bcher-kva.example/");
  CHECK(href("http://b%C3%BCcher.example/") == "http://xn--bcher-kva.example/");
  CHECK(href("http://XN--BCHER-KVA.example/") == "http://xn--bcher-kva.example/");
  // Full-width letters and the ideographic full stop map to ASCII.
  CHECK(href("http://ｅｘａｍｐｌｅ。com/") == "http://example.com/");
  CHECK(href("http://１２７.０.０.１/") == "http://127.0.0.1/");
  // Non-transitional: ß stays ß rather than becoming "ss".
  CHECK(href("http://faß.de/") == "http://xn--fa-hia.de/");
  // ASCII labels beside a Unicode one skip UTS #46's hyphen checks.
  CHECK(href("http://r3---sn.bücher.example/") == "http://r3---sn.xn--bcher-kva.example/");
}

TEST_CASE("a host IDNA rejects is an error", "[url]") {
  CHECK(rejects("http://xn--zz.example/"));
  CHECK(rejects("http://a％b.example/"));
  CHECK(rejects("http://%FF.example/"));
  CHECK(rejects("http://\xC3.example/"));
  CHECK(rejects("http://%C2%AD/"));
}

TEST_CASE("forbidden host code points are an error", "[url]") {
  CHECK(href("http://a<b/") == "error: invalid URL: forbidden code point in host");
  CHECK(rejects("http://a b/"));
  CHECK(rejects("http://a%20b/"));
  CHECK(rejects("http://a^b/"));
  CHECK(rejects("http://a|b/"));
  CHECK(rejects("http://exa%mple/"));
  CHECK(rejects("http://a%00b/"));
  CHECK(rejects("http://a%2Fb/"));
  CHECK(rejects("http://a]b/"));
}

TEST_CASE("ASCII hosts keep characters DNS would not but the standard allows", "[url]") {
  CHECK(href("http://a_b.example/") == "http://a_b.example/");
  CHECK(href("http://-a-.example/") == "http://-a-.example/");
  CHECK(href("http://a..b/") == "http://a..b/");
  CHECK(href("http://a.example./") == "http://a.example./");
}

TEST_CASE("path characters outside the path set are percent-encoded", "[url]") {
  CHECK(href("http://a/x y\"z") == "http://a/x%20y%22z");
  CHECK(href("http://a/<>`{}^") == "http://a/%3C%3E%60%7B%7D%5E");
  CHECK(href("http://a/'!$&()*+,;=:@~|[]") == "http://a/'!$&()*+,;=:@~|[]");
  CHECK(href("http://a/ü") == "http://a/%C3%BC");
  CHECK(href("http://a/\x01\x7f") == "http://a/%01%7F");
  CHECK(href("http://a/😀") == "http://a/%F0%9F%98%80");
}

TEST_CASE("query characters outside the special-query set are percent-encoded", "[url]") {
  CHECK(href("http://a/?x y\"'<>") == "http://a/?x%20y%22%27%3C%3E");
  CHECK(href("http://a/?`{}^|?/\\") == "http://a/?`{}^|?/\\");
  CHECK(href("http://a/?q=ü") == "http://a/?q=%C3%BC");
  CHECK(href("http://a/?") == "http://a/?");
  CHECK(href("http://a/?#f") == "http://a/?");
}

TEST_CASE("existing percent-escapes are kept exactly as written", "[url]") {
  CHECK(href("http://a/%7e%41%zz%") == "http://a/%7e%41%zz%");
  CHECK(href("http://a/?%7e%2F%") == "http://a/?%7e%2F%");
}

TEST_CASE("malformed UTF-8 in path and query is encoded as U+FFFD", "[url]") {
  CHECK(href("http://a/\xFF") == "http://a/%EF%BF%BD");
  CHECK(href("http://a/\xE2\x82x") == "http://a/%EF%BF%BDx");
  CHECK(href("http://a/?\xC3") == "http://a/?%EF%BF%BD");
  CHECK(href("http://a/\xED\xA0\x80") == "http://a/%EF%BF%BD%EF%BF%BD%EF%BF%BD");
}

TEST_CASE("DEL is percent-encoded in path and query, and forbidden in a host (#11)", "[url]") {
  CHECK(href("http://a/x\x7Fy?q\x7Fz") == "http://a/x%7Fy?q%7Fz");
  CHECK(resolve("http://a/b/c", "d\x7F?\x7F") == "http://a/b/d%7F?%7F");
  CHECK(rejects("http://a\x7F" "b/"));
}

TEST_CASE("noncharacters and C1 controls are encoded as their UTF-8 bytes (#11)", "[url]") {
  CHECK(href("http://a/\xEF\xBF\xBF?\xEF\xBF\xBE") == "http://a/%EF%BF%BF?%EF%BF%BE");
  CHECK(href("http://a/\xEF\xB7\x90\xEF\xB7\xAF") == "http://a/%EF%B7%90%EF%B7%AF");
  CHECK(href("http://a/\xF4\x8F\xBF\xBF") == "http://a/%F4%8F%BF%BF");
  CHECK(href("http://a/\xC2\x80\xC2\x9F?\xC2\x85") == "http://a/%C2%80%C2%9F?%C2%85");
  // A real U+FFFD is kept as what it is, too.
  CHECK(href("http://a/\xEF\xBF\xBD") == "http://a/%EF%BF%BD");
}

TEST_CASE("encoded dot segments are removed like plain ones", "[url]") {
  CHECK(href("http://a/b/%2e%2E/c") == "http://a/c");
  CHECK(href("http://a/b/c/.%2e") == "http://a/b/");
  CHECK(href("http://a/b/%2E./c") == "http://a/c");
  CHECK(href("http://a/b/%2e/c") == "http://a/b/c");
  CHECK(href("http://a/b/..%2f") == "http://a/b/..%2f");
  CHECK(href("http://a/../../x") == "http://a/x");
  CHECK(href("http://a/b/..?q") == "http://a/?q");
  CHECK(href("http://a/b/.#f") == "http://a/b/");
}

TEST_CASE("backslashes act as slashes", "[url]") {
  CHECK(href("http:\\\\a\\b\\c") == "http://a/b/c");
  CHECK(href("https:/\\a/b") == "https://a/b");
  CHECK(resolve("http://a/b/c/d", "..\\g") == "http://a/b/g");
  CHECK(resolve("http://a/b/c/d", "\\g") == "http://a/g");
  CHECK(href("http://a/?x\\y") == "http://a/?x\\y");
}

TEST_CASE("tabs and newlines anywhere are removed, edge controls and spaces trimmed", "[url]") {
  CHECK(href("ht\ttp://a\n.example/p\r\nath") == "http://a.example/path");
  CHECK(href(" \x01\thttp://a/ x \x1f") == "http://a/%20x");
  CHECK(href(std::string_view("http://a/\0", 10)) == "http://a/");
  CHECK(resolve("http://a/b", "\n?q\t=1") == "http://a/b?q=1");
}

TEST_CASE("href, origin, request target and Host header serialize the parts", "[url]") {
  Url url = parsed("https://User@Example.COM:8443/p/a%20th?q=1#frag");
  CHECK(url.scheme == "https");
  CHECK(url.host == "example.com");
  CHECK(url.port == 8443);
  CHECK(url.path == "/p/a%20th");
  CHECK(url.query == "q=1");
  CHECK(url.href() == "https://example.com:8443/p/a%20th?q=1");
  CHECK(url.origin() == "https://example.com:8443");
  CHECK(url.request_target() == "/p/a%20th?q=1");
  CHECK(url.host_header() == "example.com:8443");
  CHECK(url.hostname() == "example.com");
  CHECK_FALSE(url.host_is_ip());
}

TEST_CASE("the default port appears in neither origin nor Host header", "[url]") {
  Url url = parsed("http://example.com");
  CHECK(url.path == "/");
  CHECK_FALSE(url.has_query);
  CHECK(url.origin() == "http://example.com");
  CHECK(url.request_target() == "/");
  CHECK(url.host_header() == "example.com");
}

TEST_CASE("IP literal hosts are recognised and lose brackets in hostname()", "[url]") {
  Url v6 = parsed("http://[2001:db8::1]:81/");
  CHECK(v6.host == "[2001:db8::1]");
  CHECK(v6.hostname() == "2001:db8::1");
  CHECK(v6.host_header() == "[2001:db8::1]:81");
  CHECK(v6.host_is_ip());
  Url v4 = parsed("http://127.1/");
  CHECK(v4.hostname() == "127.0.0.1");
  CHECK(v4.host_is_ip());
  CHECK_FALSE(parsed("http://a.b1/").host_is_ip());
  CHECK_FALSE(parsed("http://localhost/").host_is_ip());
}

TEST_CASE("a resolved URL parses back to itself", "[url]") {
  for (std::string_view input : {"http://a/b c/ü?x y#z", "https://[::1]:8080/%2e%2e/x",
                                 "http://bücher.example/?q='\"'", "http://a:443/./b/../c"}) {
    std::string once = href(input);
    CAPTURE(input, once);
    CHECK(href(once) == once);
  }
}
