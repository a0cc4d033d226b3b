// HttpResponseParser fed bytes directly, as the fetcher feeds it network
// reads. Every framing is also fed one byte at a time, since a read can end
// anywhere.
#include "parser/http_response.h"

#include <zlib.h>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "tests/support/codings.h"

using webcrawl::Code;
using webcrawl::parser::HttpResponse;
using webcrawl::parser::HttpResponseParser;
using webcrawl::parser::ResponseLimits;
using Progress = webcrawl::parser::HttpResponseParser::Progress;
namespace testing = webcrawl::testing;

namespace {

// Feeds `bytes` in pieces of `step` bytes (0: all at once) and returns the
// outcome of the last feed; the parser stops taking bytes once it is done
// or failed, as the fetcher stops feeding it.
webcrawl::Result<Progress> feed(HttpResponseParser& parser, std::string_view bytes, std::size_t step = 0) {
  if (step == 0) step = bytes.size();
  webcrawl::Result<Progress> last = Progress::kNeedMore;
  for (std::size_t i = 0; i < bytes.size(); i += step) {
    last = parser.feed(bytes.substr(i, step));
    if (!last || *last == Progress::kDone) break;
  }
  return last;
}

// A parser that has read all of `bytes`, `step` at a time; REQUIREs kDone.
struct Parsed {
  HttpResponseParser parser;
  explicit Parsed(std::string_view bytes, std::size_t step = 0, ResponseLimits limits = {}) : parser(limits) {
    auto progress = feed(parser, bytes, step);
    INFO((progress ? "" : progress.error().message));
    REQUIRE(progress);
    REQUIRE(*progress == Progress::kDone);
  }
  const HttpResponse& response() const { return parser.response(); }
};

// The error a parser ends with after `bytes` and, when the feeds did not
// fail, the peer's close.
webcrawl::Error failure(std::string_view bytes, std::size_t step = 0, ResponseLimits limits = {}) {
  HttpResponseParser parser(limits);
  auto progress = feed(parser, bytes, step);
  if (progress) progress = parser.finish_at_eof();
  REQUIRE_FALSE(progress);
  return progress.error();
}

ResponseLimits raw_limits() {
  ResponseLimits limits;
  limits.keep_raw = true;
  return limits;
}

ResponseLimits body_limit(std::size_t max_body) {
  ResponseLimits limits;
  limits.max_body = max_body;
  return limits;
}

ResponseLimits tunnel_limits() {
  ResponseLimits limits;
  limits.connect = true;
  return limits;
}

// A 200 with `body` under Content-Length, after `fields` (each ending in CRLF).
std::string with_length(std::string_view body, std::string_view fields = "") {
  return "HTTP/1.1 200 OK\r\n" + std::string(fields) + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

std::string encoded(std::string_view coding, std::string_view body) {
  return with_length(body, "Content-Encoding: " + std::string(coding) + "\r\n");
}

const std::string kChunked =
    "HTTP/1.1 200 OK\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Trailer: X-Checksum, X-Signature\r\n"
    "\r\n"
    "5;name=value\r\nhello\r\n"
    "1\r\n \r\n"
    "5;ext\r\nworld\r\n"
    "0\r\n"
    "X-Checksum: 42\r\n"
    "X-Signature: abc\r\n"
    "\r\n";

std::string sample_text() {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i) + " of the page\n";
  return text;
}

}  // namespace

// ---- framing ---------------------------------------------------------------

TEST_CASE("a Content-Length body ends at its length", "[http_response]") {
  auto step = GENERATE(0u, 1u);
  Parsed p(with_length("hello", "Content-Type: text/plain\r\n"), step);
  CHECK(p.response().status == 200);
  CHECK(p.response().body == "hello");
  CHECK(p.response().body_bytes == 5);
  CHECK(p.response().header("content-type") == "text/plain");
  CHECK_FALSE(p.response().truncated);
  CHECK(p.parser.head_complete());
}

// RFC 9110 6.5.1: trailer fields are not merged into the header section
// unless their definition allows it; the crawler knows none that do.
TEST_CASE("a chunked body is de-chunked, chunk extensions skipped, trailers kept out of the headers",
          "[http_response]") {
  auto step = GENERATE(0u, 1u);
  Parsed p(kChunked, step);
  CHECK(p.response().body == "hello world");
  CHECK(p.response().body_bytes == 11);
  CHECK(p.response().keep_alive);
  CHECK(p.response().header("X-Checksum").empty());
  CHECK(p.response().header("X-Signature").empty());
  CHECK(p.response().headers.size() == 2);
}

TEST_CASE("a close-delimited body ends when the peer closes", "[http_response]") {
  auto step = GENERATE(0u, 1u);
  HttpResponseParser parser;
  auto progress = feed(parser, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", step);
  REQUIRE(progress);
  CHECK(*progress == Progress::kNeedMore);
  CHECK(parser.head_complete());
  auto end = parser.finish_at_eof();
  REQUIRE(end);
  CHECK(*end == Progress::kDone);
  CHECK(parser.response().body == "until the end");
  CHECK_FALSE(parser.response().keep_alive);
}

// RFC 9110 8.6: a 304's Content-Length describes the representation it did
// not send; neither an interim response, a 204 nor a 304 ever has a body.
TEST_CASE("1xx, 204 and 304 have no body, whatever Content-Length says", "[http_response]") {
  auto step = GENERATE(0u, 1u);
  Parsed no_content("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", step);
  CHECK(no_content.response().status == 204);
  CHECK(no_content.response().body.empty());
  CHECK(no_content.response().keep_alive);
  Parsed not_modified("HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\nETag: \"x\"\r\n\r\n", step);
  CHECK(not_modified.response().status == 304);
  CHECK(not_modified.response().body.empty());
  CHECK(not_modified.response().keep_alive);
  Parsed bare("HTTP/1.1 304 Not Modified\r\n\r\n", step);
  CHECK(bare.response().keep_alive);
  Parsed hinted("HTTP/1.1 103 Early Hints\r\nContent-Length: 3\r\n\r\n" + with_length("ok"), step);
  CHECK(hinted.response().status == 200);
  CHECK(hinted.response().body == "ok");
}

TEST_CASE("100 Continue and 103 Early Hints are dropped; the final response remains", "[http_response]") {
  auto step = GENERATE(0u, 1u);
  const std::string interim =
      "HTTP/1.1 100 Continue\r\nX-Interim: a\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
  const std::string final_head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
  Parsed p(interim + final_head + "ok", step, raw_limits());
  CHECK(p.response().status == 200);
  CHECK(p.response().body == "ok");
  CHECK(p.response().header("Link").empty());
  CHECK(p.response().header("X-Interim").empty());
  CHECK(p.response().headers.size() == 1);
  CHECK(p.response().raw == final_head + "ok");
  CHECK(p.response().head_size == final_head.size());
}

TEST_CASE("repeated header fields are kept in order and looked up case-insensitively", "[http_response]") {
  Parsed p(with_length("", "Set-Cookie: a=1\r\nset-cookie: b=2\r\n"));
  const auto& headers = p.response().headers;
  REQUIRE(headers.size() == 3);
  CHECK(headers[0] == std::pair<std::string, std::string>("Set-Cookie", "a=1"));
  CHECK(headers[1] == std::pair<std::string, std::string>("set-cookie", "b=2"));
  CHECK(p.response().header("SET-COOKIE") == "a=1");
  CHECK(webcrawl::parser::header_value(headers, "content-LENGTH") == "0");
  CHECK(p.response().header("Absent").empty());
}

TEST_CASE("once done, further bytes are not read and the outcome stays", "[http_response]") {
  Parsed p(with_length("ok"));
  auto again = p.parser.feed("HTTP/1.1 500 Oops\r\n\r\n");
  REQUIRE(again);
  CHECK(*again == Progress::kDone);
  CHECK(p.response().status == 200);
  auto end = p.parser.finish_at_eof();
  REQUIRE(end);
  CHECK(*end == Progress::kDone);
}

// ---- keep-alive ------------------------------------------------------------

TEST_CASE("keep_alive says whether the connection may carry another request", "[http_response]") {
  CHECK(Parsed(with_length("x")).response().keep_alive);
  CHECK_FALSE(Parsed(with_length("x", "Connection: close\r\n")).response().keep_alive);
  CHECK_FALSE(Parsed("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx").response().keep_alive);
  CHECK(Parsed("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx").response().keep_alive);
}

TEST_CASE("bytes after a complete response make the connection not reusable", "[http_response]") {
  Parsed p(with_length("ok") + "HTTP/1.1 200 OK\r\n");
  CHECK(p.response().body == "ok");
  CHECK_FALSE(p.response().keep_alive);
}

// ---- body limits -----------------------------------------------------------

TEST_CASE("an identity body is cut at max_body and the connection is not reused", "[http_response]") {
  auto step = GENERATE(0u, 1u);
  Parsed p(with_length(std::string(100, 'x')), step, body_limit(10));
  CHECK(p.response().body == std::string(10, 'x'));
  CHECK(p.response().truncated);
  CHECK_FALSE(p.response().keep_alive);
}

TEST_CASE("a body of exactly max_body bytes is whole", "[http_response]") {
  auto step = GENERATE(0u, 1u);
  Parsed p(with_length(std::string(10, 'x')), step, body_limit(10));
  CHECK(p.response().body == std::string(10, 'x'));
  CHECK_FALSE(p.response().truncated);
  CHECK(p.response().keep_alive);
}

TEST_CASE("a gzip body is cut at max_body decoded bytes", "[http_response]") {
  const std::string text = sample_text();
  Parsed p(encoded("gzip", testing::gzip(text)), 0, body_limit(100));
  CHECK(p.response().body == text.substr(0, 100));
  CHECK(p.response().truncated);
  CHECK_FALSE(p.response().keep_alive);
}

TEST_CASE("a gzip bomb stops at max_body without inflating the rest", "[http_response]") {
  const std::string bomb = testing::zeros_bomb(16 + MAX_WBITS, 1024);  // 1 GiB of zeros
  Parsed p(encoded("gzip", bomb), 0, body_limit(1 << 20));
  CHECK(p.response().body.size() == std::size_t{1} << 20);
  CHECK(p.response().body.find_first_not_of('\0') == std::string::npos);
  CHECK(p.response().truncated);
}

// ---- content codings -------------------------------------------------------

TEST_CASE("content codings are removed and body_bytes counts the coded entity", "[http_response]") {
  const std::string text = sample_text();
  struct Case {
    const char* coding;
    std::string wire;
  };
  auto c = GENERATE_COPY(Case{"gzip", testing::gzip(text)}, Case{"deflate", testing::zlib_wrapped(text)},
                         Case{"deflate", testing::raw_deflate(text)}, Case{"br", testing::brotli(text)});
  INFO(c.coding);
  Parsed p(encoded(c.coding, c.wire));
  CHECK(p.response().body == text);
  CHECK(p.response().body_bytes == static_cast<int64_t>(c.wire.size()));
  CHECK_FALSE(p.response().truncated);
}

TEST_CASE("an unsupported content coding fails with kHttp naming it", "[http_response]") {
  auto e = failure(encoded("compress", "abc"));
  CHECK(e.code == Code::kHttp);
  CHECK_THAT(e.message, Catch::Contains("compress"));
}

TEST_CASE("a corrupt gzip body fails with kParse", "[http_response]") {
  std::string body = testing::gzip(sample_text());
  body[body.size() / 2] ^= 0x55;
  body[body.size() / 2 + 1] ^= 0x55;
  CHECK(failure(encoded("gzip", body)).code == Code::kParse);
}

// ---- malformed and cut-short responses -------------------------------------

TEST_CASE("headers past max_header_bytes fail with \"response headers too large\"", "[http_response]") {
  ResponseLimits limits;
  limits.max_header_bytes = 100;
  auto e = failure(with_length("", "X-Big: " + std::string(200, 'a') + "\r\n"), 0, limits);
  CHECK(e.code == Code::kHttp);
  CHECK(e.message == "response headers too large");
}

TEST_CASE("a malformed status line fails with kHttp \"malformed response: ...\"", "[http_response]") {
  auto step = GENERATE(0u, 1u);
  auto e = failure("HTTP/1.1 abc OK\r\n\r\n", step);
  CHECK(e.code == Code::kHttp);
  CHECK_THAT(e.message, Catch::StartsWith("malformed response: "));
  CHECK(failure("SMTP ready\r\n\r\n").code == Code::kHttp);
}

TEST_CASE("a bad chunk size fails with kHttp \"malformed response: ...\"", "[http_response]") {
  auto e = failure("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
  CHECK(e.code == Code::kHttp);
  CHECK_THAT(e.message, Catch::StartsWith("malformed response: "));
}

TEST_CASE("a failed parser keeps failing with the same error", "[http_response]") {
  HttpResponseParser parser;
  auto first = parser.feed("HTTP/1.1 abc OK\r\n\r\n");
  REQUIRE_FALSE(first);
  auto again = parser.feed(with_length("ok"));
  REQUIRE_FALSE(again);
  CHECK(again.error().message == first.error().message);
}

TEST_CASE("the peer closing before any byte is \"connection closed without a response\"", "[http_response]") {
  HttpResponseParser parser;
  auto end = parser.finish_at_eof();
  REQUIRE_FALSE(end);
  CHECK(end.error().code == Code::kNetwork);
  CHECK(end.error().message == "connection closed without a response");
  CHECK_FALSE(parser.started());
}

TEST_CASE("the peer closing mid-response is \"connection closed before the response ended\"",
          "[http_response]") {
  auto cut = GENERATE(as<std::string>{}, "HTTP/1.1 200 OK\r\nContent-Le", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf",
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
  auto e = failure(cut);
  CHECK(e.code == Code::kNetwork);
  CHECK(e.message == "connection closed before the response ended");
}

TEST_CASE("a cut-short response is not reusable even when the close is clean", "[http_response]") {
  HttpResponseParser parser;
  REQUIRE(parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"));
  REQUIRE_FALSE(parser.finish_at_eof());
  CHECK_FALSE(parser.response().keep_alive);
}

// ---- raw bytes for WARC ----------------------------------------------------

TEST_CASE("keep_raw keeps the transfer coding and digests the de-chunked entity", "[http_response]") {
  auto step = GENERATE(0u, 1u);
  Parsed p(kChunked, step, raw_limits());
  CHECK(p.response().raw == kChunked);
  CHECK(p.response().head_size == kChunked.find("\r\n\r\n") + 4);
  CHECK(p.response().payload_sha1 == testing::sha1("hello world"));
}

TEST_CASE("keep_raw digests the content-coded entity: a gzip body's SHA-1 is the gzip bytes'",
          "[http_response]") {
  const std::string wire = testing::gzip(sample_text());
  const std::string bytes = encoded("gzip", wire);
  Parsed p(bytes, 0, raw_limits());
  CHECK(p.response().body == sample_text());
  CHECK(p.response().raw == bytes);
  CHECK(p.response().payload_sha1 == testing::sha1(wire));
}

TEST_CASE("keep_raw stops where reading stopped", "[http_response]") {
  const std::string response = with_length("ok");
  Parsed p(response + "HTTP/1.1 200 OK\r\n", 0, raw_limits());
  CHECK(p.response().raw == response);
  HttpResponseParser close_delimited(raw_limits());
  REQUIRE(close_delimited.feed("HTTP/1.1 200 OK\r\n\r\nall of it"));
  REQUIRE(close_delimited.finish_at_eof());
  CHECK(close_delimited.response().raw == "HTTP/1.1 200 OK\r\n\r\nall of it");
  CHECK(close_delimited.response().payload_sha1 == testing::sha1("all of it"));
}

TEST_CASE("keep_raw of a body cut at max_body holds and digests every entity byte read", "[http_response]") {
  ResponseLimits limits = raw_limits();
  limits.max_body = 10;
  const std::string entity(100, 'x');
  Parsed p(with_length(entity), 0, limits);
  CHECK(p.response().truncated);
  CHECK(p.response().raw == with_length(entity));
  CHECK(p.response().body_bytes == 100);
  CHECK(p.response().payload_sha1 == testing::sha1(entity));
}

// ---- CONNECT ---------------------------------------------------------------

TEST_CASE("a CONNECT's 2xx head is the whole response; what follows belongs to the tunnel", "[http_response]") {
  auto step = GENERATE(0u, 1u);
  const std::string head = "HTTP/1.1 200 Connection established\r\n\r\n";
  const std::string tunnel = step ? "" : "\x16\x03\x01 tls bytes";
  HttpResponseParser parser(tunnel_limits());
  auto progress = feed(parser, head + tunnel, step);
  REQUIRE(progress);
  CHECK(*progress == Progress::kDone);
  CHECK(parser.response().status == 200);
  CHECK(parser.response().body.empty());
  CHECK(parser.response().keep_alive);
  CHECK(parser.tunnel_bytes() == tunnel);
}

TEST_CASE("a CONNECT answered 407 with a body is read whole", "[http_response]") {
  auto step = GENERATE(0u, 1u);
  HttpResponseParser parser(tunnel_limits());
  auto progress = feed(parser,
                       "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n"
                       "Content-Length: 12\r\n\r\nlog in first",
                       step);
  REQUIRE(progress);
  CHECK(*progress == Progress::kDone);
  CHECK(parser.response().status == 407);
  CHECK(parser.response().body == "log in first");
  CHECK(parser.tunnel_bytes().empty());
}
