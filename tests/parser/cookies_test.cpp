// The cookie jar: RFC 6265 sections 5.2 to 5.4, fed Set-Cookie values and asked for Cookie headers.
#include "parser/cookies.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using webcrawl::parser::Cookie;
using webcrawl::parser::CookieChange;
using webcrawl::parser::CookieJar;
using webcrawl::parser::Headers;
using webcrawl::parser::kMaxCookieBytes;
using webcrawl::parser::kMaxCookies;
using webcrawl::parser::kMaxCookiesPerDomain;
using webcrawl::parser::parse_cookie_date;
using webcrawl::parser::parse_url;
using webcrawl::parser::Url;

constexpr double kNow = 1'700'000'000;  // 2023-11-14T22:13:20Z

webcrawl::parser::Url url(std::string_view href) {
  auto parsed = parse_url(href);
  REQUIRE(parsed);
  return *parsed;
}

// A fake public suffix list: "test", "uk" and "co.uk".
bool fake_public_suffix(std::string_view domain) {
  return domain == "test" || domain == "uk" || domain == "co.uk";
}

// A crawler's view of the jar: responses come in, requests go out, the clock moves.
struct Client {
  CookieJar jar{fake_public_suffix};
  double now = kNow;

  void response(std::string_view href, std::initializer_list<std::string_view> set_cookies) {
    Headers headers = {{"Content-Type", "text/html"}};
    for (std::string_view field : set_cookies) headers.emplace_back("Set-Cookie", field);
    jar.receive(url(href), headers, now);
  }
  std::string sent(std::string_view href) { return jar.header_for(url(href), now); }
  std::vector<CookieChange> changes() { return jar.take_changes(); }
};

// "name=value" for a set, "-name" for a removal, in the order reported.
std::vector<std::string> summary(const std::vector<CookieChange>& changes) {
  std::vector<std::string> out;
  for (const CookieChange& c : changes) {
    out.push_back(c.removed ? "-" + c.cookie.name : c.cookie.name + "=" + c.cookie.value);
  }
  return out;
}

Cookie stored(std::string name, std::string domain, double created, std::optional<double> expires = {}) {
  Cookie c;
  c.name = std::move(name);
  c.value = "v";
  c.domain = std::move(domain);
  c.path = "/";
  c.created = created;
  c.expires = expires;
  return c;
}

// 1994-11-06T08:49:37Z, the RFC's example date.
constexpr double kRfcDate = 784111777;

}  // namespace

TEST_CASE("a cookie set on / is sent back on /members", "[cookies]") {
  Client client;
  client.response("http://shop.example/", {"session=abc123"});
  CHECK(client.sent("http://shop.example/members") == "session=abc123");
  CHECK(client.sent("http://other.example/members").empty());
}

TEST_CASE("a domain cookie reaches subdomains, a host-only cookie does not", "[cookies]") {
  Client client;
  client.response("http://www.example.com/", {"wide=1; Domain=example.com", "narrow=2"});
  CHECK(client.sent("http://www.example.com/") == "wide=1; narrow=2");
  CHECK(client.sent("http://a.b.example.com/") == "wide=1");
  CHECK(client.sent("http://example.com/") == "wide=1");
  CHECK(client.sent("http://notexample.com/").empty());
}

TEST_CASE("a Domain attribute loses its leading dot and its case", "[cookies]") {
  Client client;
  client.response("http://www.example.com/", {"a=1; Domain=.EXAMPLE.com"});
  CHECK(client.sent("http://api.example.com/") == "a=1");
  REQUIRE(client.jar.size() == 1);
  auto changes = client.changes();
  CHECK(changes.at(0).cookie.domain == "example.com");
  CHECK_FALSE(changes.at(0).cookie.host_only);
}

TEST_CASE("Domain equal to the host makes a domain cookie", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"a=1; Domain=example.com"});
  CHECK(client.sent("http://www.example.com/") == "a=1");
}

TEST_CASE("a Domain the request host does not domain-match is ignored", "[cookies]") {
  Client client;
  client.response("http://www.example.com/", {"sibling=1; Domain=api.example.com",
                                              "child=1; Domain=x.www.example.com",
                                              "other=1; Domain=example.org", "partial=1; Domain=ample.com"});
  CHECK(client.jar.size() == 0);
  CHECK(client.sent("http://api.example.com/").empty());
}

TEST_CASE("a public-suffix Domain is refused unless it is the host itself", "[cookies]") {
  Client client;
  client.response("http://shop.co.uk/", {"tracker=1; Domain=co.uk", "uk=1; Domain=.uk"});
  CHECK(client.jar.size() == 0);
  CHECK(client.sent("http://other.co.uk/").empty());

  // The host itself: kept, but host-only (5.3 step 5).
  client.response("http://co.uk/", {"registry=1; Domain=co.uk"});
  CHECK(client.sent("http://co.uk/") == "registry=1");
  CHECK(client.sent("http://shop.co.uk/").empty());
}

TEST_CASE("an empty Domain attribute is ignored: the cookie is host-only", "[cookies]") {
  Client client;
  client.response("http://www.example.com/", {"a=1; Domain="});
  CHECK(client.sent("http://www.example.com/") == "a=1");
  CHECK(client.sent("http://x.www.example.com/").empty());
}

TEST_CASE("an IP host takes no Domain but its own", "[cookies]") {
  Client client;
  client.response("http://127.0.0.1/", {"plain=1", "self=2; Domain=127.0.0.1", "parent=3; Domain=0.0.1"});
  CHECK(client.sent("http://127.0.0.1/") == "plain=1; self=2");
  CHECK(client.jar.size() == 2);
}

TEST_CASE("paths match whole segments", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"docs=1; Path=/docs", "slash=2; Path=/api/"});
  CHECK(client.sent("http://example.com/docs") == "docs=1");
  CHECK(client.sent("http://example.com/docs/page") == "docs=1");
  CHECK(client.sent("http://example.com/docsets").empty());
  CHECK(client.sent("http://example.com/").empty());
  CHECK(client.sent("http://example.com/api/v1") == "slash=2");
  CHECK(client.sent("http://example.com/api").empty());
}

TEST_CASE("without a usable Path the default path is the request path up to its last '/'", "[cookies]") {
  Client client;
  client.response("http://example.com/docs/guide/page.html?x=1", {"deep=1", "relative=2; Path=docs"});
  client.response("http://example.com/top", {"top=3"});
  CHECK(client.sent("http://example.com/docs/guide/other") == "deep=1; relative=2; top=3");
  CHECK(client.sent("http://example.com/docs/elsewhere") == "top=3");
}

TEST_CASE("the last of an attribute wins", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"a=1; Path=/x; Path=/y"});
  CHECK(client.sent("http://example.com/y") == "a=1");
  CHECK(client.sent("http://example.com/x").empty());
}

TEST_CASE("Max-Age=0 and a past Expires delete the cookie", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"a=1", "b=2", "c=3"});
  client.response("http://example.com/", {"a=; Max-Age=0", "b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                                          "c=; Max-Age=-5"});
  CHECK(client.sent("http://example.com/").empty());
  CHECK(client.jar.size() == 0);
}

TEST_CASE("an expired cookie is not stored and deletes nothing else", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"keep=1", "gone=1; Max-Age=0"});
  CHECK(client.sent("http://example.com/") == "keep=1");
  CHECK(summary(client.changes()) == std::vector<std::string>{"keep=1"});
}

TEST_CASE("Max-Age counts from the response and wins over Expires, in either order", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"a=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                                          "b=2; Expires=Thu, 01 Jan 2099 00:00:00 GMT; Max-Age=60"});
  CHECK(client.sent("http://example.com/") == "a=1; b=2");
  for (const CookieChange& c : client.changes()) CHECK(c.cookie.expires == kNow + 60);
  client.now = kNow + 59;
  CHECK(client.sent("http://example.com/") == "a=1; b=2");
  client.now = kNow + 60;
  CHECK(client.sent("http://example.com/").empty());
}

TEST_CASE("a Max-Age that is not a number is ignored", "[cookies]") {
  Client client;
  client.response("http://example.com/",
                  {"a=1; Max-Age=abc", "b=1; Max-Age=1e3", "c=1; Max-Age=", "d=1; Max-Age=-"});
  for (const CookieChange& c : client.changes()) CHECK_FALSE(c.cookie.expires);
  CHECK(client.jar.size() == 4);
}

TEST_CASE("a huge Max-Age stays a finite expiry", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"a=1; Max-Age=99999999999999999999999999999999"});
  auto changes = client.changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].cookie.expires == kNow + 1e15);
}

TEST_CASE("a session cookie has no expiry and lasts the crawl", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"s=1", "bad=2; Expires=not a date"});
  client.now = kNow + 10 * 365 * 86400.0;
  CHECK(client.sent("http://example.com/") == "s=1; bad=2");
  for (const CookieChange& c : client.changes()) CHECK_FALSE(c.cookie.expires);
}

TEST_CASE("a Secure cookie is sent over https only", "[cookies]") {
  Client client;
  client.response("https://example.com/", {"s=1; Secure", "p=2"});
  CHECK(client.sent("https://example.com/") == "s=1; p=2");
  CHECK(client.sent("http://example.com/") == "p=2");
}

TEST_CASE("an http response cannot set a Secure cookie", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"s=1; Secure"});
  CHECK(client.jar.size() == 0);
}

TEST_CASE("an http response cannot overwrite or shadow a Secure cookie", "[cookies]") {
  Client client;
  client.response("https://www.example.com/", {"id=secure; Secure; Path=/app"});
  client.response("http://www.example.com/", {"id=forged; Path=/app",      // the same cookie
                                              "id=forged; Path=/app/x",    // its path path-matches
                                              "id=forged; Domain=example.com; Path=/app"});  // a parent
  CHECK(client.sent("https://www.example.com/app/x") == "id=secure");
  CHECK(client.jar.size() == 1);

  // Another name, a path that does not path-match, or https may.
  client.response("http://www.example.com/", {"other=1; Path=/app", "id=elsewhere; Path=/"});
  client.response("https://www.example.com/", {"id=replaced; Secure; Path=/app"});
  CHECK(client.sent("https://www.example.com/app") == "id=replaced; other=1; id=elsewhere");
}

TEST_CASE("an http response cannot shadow a Secure cookie of a subdomain", "[cookies]") {
  Client client;
  client.response("https://www.example.com/", {"id=secure; Secure"});
  client.response("http://example.com/", {"id=forged; Domain=example.com"});
  CHECK(client.sent("https://www.example.com/") == "id=secure");
}

TEST_CASE("HttpOnly cookies are sent, and attribute names are case-insensitive", "[cookies]") {
  Client client;
  client.response("https://example.com/",
                  {"a=1; hTTpOnly; SECURE; path=/x; MAX-AGE=10; SameSite=Strict; Foo=bar"});
  CHECK(client.sent("https://example.com/x") == "a=1");
  auto changes = client.changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].cookie.http_only);
  CHECK(changes[0].cookie.secure);
  CHECK(changes[0].cookie.expires == kNow + 10);
}

TEST_CASE("names and values are trimmed and split at the first '='", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"  token \t=  a=b=c  ; Path=/", "empty="});
  CHECK(client.sent("http://example.com/") == "token=a=b=c; empty=");
}

TEST_CASE("Set-Cookie is found whatever its case, and other fields are not read", "[cookies]") {
  CookieJar jar(fake_public_suffix);
  Headers headers = {{"SET-COOKIE", "a=1"}, {"Set-Cookie2", "b=2"}, {"Cookie", "c=3"}};
  jar.receive(url("http://example.com/"), headers, kNow);
  CHECK(jar.header_for(url("http://example.com/"), kNow) == "a=1");
}

TEST_CASE("cookies are sent longer path first, then earlier created", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"late=1; Path=/"});
  client.now += 1;
  client.response("http://example.com/", {"deep=2; Path=/a/b", "mid=3; Path=/a"});
  client.response("http://example.com/", {"later=4; Path=/"});
  client.now -= 10;  // a clock that stepped back: the creation time, not the arrival, orders
  client.response("http://example.com/", {"early=5; Path=/"});
  CHECK(client.sent("http://example.com/a/b/c") == "deep=2; mid=3; early=5; late=1; later=4");
}

TEST_CASE("cookies created at the same time are sent in the order they were set", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"c=1", "a=2", "b=3"});
  CHECK(client.sent("http://example.com/") == "c=1; a=2; b=3");
}

TEST_CASE("replacing a cookie keeps its creation time and its place", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"first=1", "second=2"});
  client.changes();
  client.now += 100;
  client.response("http://example.com/", {"first=updated"});
  CHECK(client.sent("http://example.com/") == "first=updated; second=2");
  auto changes = client.changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].cookie.value == "updated");
  CHECK(changes[0].cookie.created == kNow);
  CHECK(client.jar.size() == 2);
}

TEST_CASE("a cookie's identity is its name, domain and path", "[cookies]") {
  Client client;
  client.response("http://www.example.com/", {"a=host", "a=domain; Domain=example.com", "a=path; Path=/p"});
  CHECK(client.jar.size() == 3);
  CHECK(client.sent("http://www.example.com/p") == "a=path; a=host; a=domain");
}

TEST_CASE("cookie dates in the usual formats parse to their instant", "[cookies]") {
  CHECK(parse_cookie_date("Sun, 06 Nov 1994 08:49:37 GMT") == kRfcDate);
  CHECK(parse_cookie_date("Sunday, 06-Nov-94 08:49:37 GMT") == kRfcDate);
  CHECK(parse_cookie_date("Sun Nov  6 08:49:37 1994") == kRfcDate);
  CHECK(parse_cookie_date("sun, 6 NOVEMBER 1994 8:49:37") == kRfcDate);
  CHECK(parse_cookie_date("1994 Nov 06 08:49:37") == kRfcDate);  // the day comes before the year
  CHECK(parse_cookie_date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK(parse_cookie_date("Tue, 29 Feb 2000 23:59:59 GMT") == 951868799);
  CHECK(parse_cookie_date("Fri, 31 Dec 9999 23:59:59 GMT") == 253402300799);
  CHECK(parse_cookie_date("Sat, 01 Jan 1601 00:00:00 GMT") == -11644473600);
}

TEST_CASE("two-digit years 70 to 99 are 19xx, 00 to 69 are 20xx", "[cookies]") {
  CHECK(parse_cookie_date("01-Jan-70 00:00:00") == 0);
  CHECK(parse_cookie_date("31-Dec-99 23:59:59") == 946684799);
  CHECK(parse_cookie_date("01-Jan-00 00:00:00") == 946684800);
  CHECK(parse_cookie_date("01-Jan-69 00:00:00") == 3124224000);
}

TEST_CASE("what is not a cookie date is none", "[cookies]") {
  CHECK_FALSE(parse_cookie_date(""));
  CHECK_FALSE(parse_cookie_date("Sun, 06 Nov 1994"));             // no time
  CHECK_FALSE(parse_cookie_date("06 1994 08:49:37"));             // no month
  CHECK_FALSE(parse_cookie_date("Nov 1994 08:49:37"));            // 1994 is no day of month
  CHECK_FALSE(parse_cookie_date("Sun, 30 Feb 2001 08:49:37 GMT"));  // no such day
  CHECK_FALSE(parse_cookie_date("Sun, 32 Jan 2001 08:49:37 GMT"));
  CHECK_FALSE(parse_cookie_date("Sun, 06 Nov 1994 24:00:00 GMT"));
  CHECK_FALSE(parse_cookie_date("Sun, 06 Nov 1994 08:60:00 GMT"));
  CHECK_FALSE(parse_cookie_date("Sun, 06 Nov 1994 08:49:60 GMT"));
  CHECK_FALSE(parse_cookie_date("Mon, 01 Jan 1600 00:00:00 GMT"));  // before 1601
  CHECK_FALSE(parse_cookie_date("Sun, 06 Nov 1994 008:49:37 GMT"));  // three-digit hour
}

TEST_CASE("a domain keeps at most 50 cookies, evicting its oldest", "[cookies]") {
  Client client;
  for (std::size_t i = 0; i < kMaxCookiesPerDomain; ++i) {
    client.response("http://example.com/", {"c" + std::to_string(i) + "=1"});
    client.now += 1;
  }
  client.response("http://other.example/", {"elsewhere=1"});
  client.changes();
  client.response("http://example.com/", {"newest=1"});
  CHECK(client.jar.size() == kMaxCookiesPerDomain + 1);
  CHECK(summary(client.changes()) == std::vector<std::string>{"newest=1", "-c0"});
  CHECK(client.sent("http://other.example/") == "elsewhere=1");
}

TEST_CASE("the jar keeps at most 3000 cookies, evicting its oldest", "[cookies]") {
  Client client;
  for (std::size_t i = 0; i < kMaxCookies; ++i) {
    std::string host = "http://h" + std::to_string(i / kMaxCookiesPerDomain) + ".example/";
    client.response(host, {"c" + std::to_string(i) + "=1"});
    client.now += 1;
  }
  client.changes();
  CHECK(client.jar.size() == kMaxCookies);
  client.response("http://new.example/", {"newest=1"});
  CHECK(client.jar.size() == kMaxCookies);
  CHECK(summary(client.changes()) == std::vector<std::string>{"newest=1", "-c0"});
  CHECK(client.sent("http://h0.example/").find("c0=") == std::string::npos);
}

TEST_CASE("a Set-Cookie longer than 4096 bytes is ignored", "[cookies]") {
  Client client;
  std::string fits = "a=" + std::string(kMaxCookieBytes - 2, 'x');
  std::string too_long = "b=" + std::string(kMaxCookieBytes - 1, 'x');
  client.response("http://example.com/", {fits, too_long});
  CHECK(client.jar.size() == 1);
  CHECK(client.sent("http://example.com/") == fits);
}

TEST_CASE("garbage Set-Cookie values are ignored", "[cookies]") {
  Client client;
  std::string huge = "big=" + std::string(100 * 1024, 'x');
  client.response("http://example.com/", {"", "novalue", "=nameless", "  =x", ";a=1", "bell=\a",
                                          std::string("nul=a\0b", 7), "del=\x7f", "lf=a\nb", huge});
  CHECK(client.jar.size() == 0);
  CHECK(client.changes().empty());
  CHECK(client.sent("http://example.com/").empty());
}

TEST_CASE("a tab in a value is not a control character to refuse", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"a=x\ty"});
  CHECK(client.sent("http://example.com/") == "a=x\ty");
}

TEST_CASE("thousands of Set-Cookie headers leave the jar within its limits", "[cookies]") {
  Client client;
  Headers headers;
  for (int i = 0; i < 2000; ++i) {
    headers.emplace_back("Set-Cookie", "k" + std::to_string(i) + "=" + std::string(4000, 'v'));
    headers.emplace_back("Set-Cookie", "d" + std::to_string(i) + "=1; Domain=example.com");
  }
  client.jar.receive(url("http://www.example.com/"), headers, kNow);
  CHECK(client.jar.size() == 2 * kMaxCookiesPerDomain);
  // Only what survived is reported: what came and went is not.
  CHECK(client.changes().size() == 2 * kMaxCookiesPerDomain);
  std::string sent = client.sent("http://www.example.com/");
  CHECK(sent.find("k1999=") != std::string::npos);
  CHECK(sent.find("k1949=") == std::string::npos);
}

TEST_CASE("take_changes reports sets, replacements and removals in order", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"a=1", "b=1", "c=1; Max-Age=60"});
  CHECK(summary(client.changes()) == std::vector<std::string>{"a=1", "b=1", "c=1"});
  CHECK(client.changes().empty());

  client.response("http://example.com/", {"b=2", "a=; Max-Age=0"});
  client.now += 60;  // c expires
  CHECK(client.sent("http://example.com/") == "b=2");
  auto changes = client.changes();
  CHECK(summary(changes) == std::vector<std::string>{"b=2", "-a", "-c"});
  CHECK(changes.at(1).cookie.value == "1");  // a removal carries the cookie as it was
}

TEST_CASE("take_changes merges the changes to one cookie into the last", "[cookies]") {
  Client client;
  client.response("http://example.com/", {"a=1", "b=1"});
  client.response("http://example.com/", {"a=2"});
  CHECK(summary(client.changes()) == std::vector<std::string>{"b=1", "a=2"});

  // Set and removed before the database heard of it: nothing to write.
  client.response("http://example.com/", {"tmp=1", "tmp=; Max-Age=0"});
  CHECK(client.changes().empty());

  // Removed, then set again: the database row is overwritten.
  client.response("http://example.com/", {"b=; Max-Age=0", "b=3"});
  CHECK(summary(client.changes()) == std::vector<std::string>{"b=3"});
}

TEST_CASE("a loaded cookie is kept as stored and is not reported back", "[cookies]") {
  Client client;
  Cookie c = stored("sid", "example.com", kNow - 1000, kNow + 1000);
  c.host_only = false;
  client.jar.load(c, client.now);
  CHECK(client.sent("http://www.example.com/") == "sid=v");
  CHECK(client.changes().empty());

  client.response("http://example.com/", {"sid=new; Domain=example.com; Max-Age=5000"});
  auto changes = client.changes();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].cookie.created == kNow - 1000);
}

TEST_CASE("load drops an expired or malformed cookie and reports it removed", "[cookies]") {
  Client client;
  client.jar.load(stored("old", "example.com", kNow - 100, kNow - 1), client.now);
  client.jar.load(stored("", "example.com", kNow), client.now);
  client.jar.load(stored("nan", "example.com", std::nan("")), client.now);
  Cookie relative = stored("rel", "example.com", kNow);
  relative.path = "docs";
  client.jar.load(relative, client.now);
  CHECK(client.jar.size() == 0);
  CHECK(summary(client.changes()) == std::vector<std::string>{"-old", "-", "-nan", "-rel"});
}

TEST_CASE("load keeps the limits, evicting the oldest", "[cookies]") {
  Client client;
  for (std::size_t i = 0; i <= kMaxCookiesPerDomain; ++i) {
    double created = kNow - 1000.0 + static_cast<double>(i);
    client.jar.load(stored("c" + std::to_string(i), "example.com", created), kNow);
  }
  CHECK(client.jar.size() == kMaxCookiesPerDomain);
  CHECK(summary(client.changes()) == std::vector<std::string>{"-c0"});
}

TEST_CASE("expired cookies are dropped on every call, and reported once", "[cookies]") {
  Client client;
  client.response("http://a.example/", {"a=1; Max-Age=10"});
  client.response("http://b.example/", {"b=1; Max-Age=20"});
  client.changes();
  client.now += 15;
  client.response("http://b.example/", {});
  CHECK(client.jar.size() == 1);
  CHECK(summary(client.changes()) == std::vector<std::string>{"-a"});
  client.now += 5;
  CHECK(client.sent("http://a.example/").empty());
  CHECK(summary(client.changes()) == std::vector<std::string>{"-b"});
}
