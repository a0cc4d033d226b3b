// The bytes of the requests the fetcher sends: a GET to a server or an HTTP
// proxy, and the CONNECT that opens a tunnel.
#include "parser/http_request.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using webcrawl::parser::Headers;
using webcrawl::parser::HttpRequest;
using webcrawl::parser::RequestOptions;

namespace {

webcrawl::parser::Url url(std::string_view text) {
  auto parsed = webcrawl::parser::parse_url(text);
  REQUIRE(parsed);
  return *parsed;
}

// The GET for `text` as sent, with `extra` user headers.
std::string get_bytes(std::string_view text, Headers extra = {}, bool via_proxy = false) {
  RequestOptions options;
  options.user_agent = "webcrawl-test/1";
  options.extra = std::move(extra);
  options.via_proxy = via_proxy;
  return serialize_request(get_request(url(text), options));
}

std::vector<std::string> names(const Headers& headers) {
  std::vector<std::string> out;
  for (const auto& field : headers) out.push_back(field.first);
  return out;
}

}  // namespace

TEST_CASE("a GET carries Host, User-Agent, Accept, Accept-Encoding and Connection, in that order",
          "[http_request]") {
  CHECK(get_bytes("http://example.org/a/b?q=1") ==
        "GET /a/b?q=1 HTTP/1.1\r\n"
        "Host: example.org\r\n"
        "User-Agent: webcrawl-test/1\r\n"
        "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
        "Accept-Encoding: gzip, deflate, br\r\n"
        "Connection: keep-alive\r\n"
        "\r\n");
}

TEST_CASE("the Host header names a port only when it is not the scheme's default", "[http_request]") {
  CHECK_THAT(get_bytes("http://example.org:8080/"), Catch::Contains("\r\nHost: example.org:8080\r\n"));
  CHECK_THAT(get_bytes("https://example.org:443/"), Catch::Contains("\r\nHost: example.org\r\n"));
  CHECK_THAT(get_bytes("http://[::1]:8080/"), Catch::Contains("\r\nHost: [::1]:8080\r\n"));
}

TEST_CASE("a server gets the origin form, an HTTP proxy the absolute form", "[http_request]") {
  CHECK_THAT(get_bytes("http://example.org:8080/p?q"), Catch::StartsWith("GET /p?q HTTP/1.1\r\n"));
  CHECK_THAT(get_bytes("http://example.org:8080/p?q", {}, true),
             Catch::StartsWith("GET http://example.org:8080/p?q HTTP/1.1\r\n"));
  CHECK_THAT(get_bytes("http://example.org", {}, true), Catch::StartsWith("GET http://example.org/ HTTP/1.1\r\n"));
}

TEST_CASE("an extra header replaces the default of the same name, in its place, and others are added",
          "[http_request]") {
  RequestOptions options;
  options.user_agent = "ua";
  options.extra = {{"accept", "text/plain"}, {"X-Trace", "1"}, {"USER-AGENT", "other"}};
  HttpRequest r = get_request(url("http://example.org/"), options);
  CHECK(names(r.headers) == std::vector<std::string>{"Host", "User-Agent", "Accept", "Accept-Encoding", "Connection",
                                                     "X-Trace"});
  CHECK(webcrawl::parser::header_value(r.headers, "Accept") == "text/plain");
  CHECK(webcrawl::parser::header_value(r.headers, "User-Agent") == "other");
  CHECK(webcrawl::parser::header_value(r.headers, "X-Trace") == "1");
}

TEST_CASE("CR, LF and NUL in a header or the target are sent as spaces, so nothing splits the request",
          "[http_request]") {
  std::string bytes = get_bytes("http://example.org/", {{"X-Evil", "a\r\nInjected: yes"}, {"X\nName", std::string("b\0c", 3)}});
  CHECK_THAT(bytes, Catch::Contains("\r\nX-Evil: a  Injected: yes\r\n"));
  CHECK_THAT(bytes, Catch::Contains("\r\nX Name: b c\r\n"));
  CHECK_THAT(bytes, !Catch::Contains("\r\nInjected"));
  HttpRequest odd;
  odd.method = "GET";
  odd.target = "/a\r\nb";
  CHECK(serialize_request(odd) == "GET /a  b HTTP/1.1\r\n\r\n");
}

TEST_CASE("CONNECT names the authority: IPv4, bracketed IPv6 and host names, with the port", "[http_request]") {
  struct Case {
    const char* url;
    const char* authority;
  };
  auto c = GENERATE(Case{"https://127.0.0.1:8443/x", "127.0.0.1:8443"}, Case{"https://[::1]/", "[::1]:443"},
                    Case{"https://Example.ORG/a?b", "example.org:443"}, Case{"http://example.org/", "example.org:80"});
  INFO(c.url);
  HttpRequest r = connect_request(url(c.url), "ua/1");
  CHECK(r.method == "CONNECT");
  CHECK(serialize_request(r) == "CONNECT " + std::string(c.authority) + " HTTP/1.1\r\nHost: " + c.authority +
                                    "\r\nUser-Agent: ua/1\r\n\r\n");
}
