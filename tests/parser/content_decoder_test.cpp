#include "parser/content_decoder.h"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "tests/support/codings.h"

using webcrawl::Code;
using webcrawl::parser::ContentDecoder;
using webcrawl::testing::brotli;
using webcrawl::testing::gzip;
using webcrawl::testing::raw_deflate;
using webcrawl::testing::zeros_bomb;
using webcrawl::testing::zlib_wrapped;

namespace {

std::string sample_text() {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "line " + std::to_string(i) + " of the sample page\n";
  return text;
}

struct Decoded {
  std::string body;
  bool ok = true;
  bool truncated = false;
  Code code = Code::kInvalidArgument;
};

// Runs a whole body through a decoder, `step` bytes per feed (0: all at once).
Decoded decode(std::string_view encoding, std::string_view input, std::size_t max_output = 1 << 26,
               std::size_t step = 0) {
  auto decoder = ContentDecoder::create(encoding, max_output);
  REQUIRE(decoder);
  Decoded d;
  auto fail = [&](const webcrawl::Error& e) {
    d.ok = false;
    d.code = e.code;
  };
  if (step == 0) step = input.size() + 1;
  for (std::size_t i = 0; i < input.size() && d.ok; i += step) {
    auto fed = (*decoder)->feed(input.substr(i, step), d.body);
    if (!fed) fail(fed.error());
  }
  if (d.ok) {
    auto done = (*decoder)->finish(d.body);
    if (!done) fail(done.error());
  }
  d.truncated = (*decoder)->truncated();
  return d;
}

}  // namespace

TEST_CASE("identity passes bytes through unchanged", "[content_decoder]") {
  auto d = decode("identity", "hello");
  CHECK(d.ok);
  CHECK(d.body == "hello");
  CHECK(decode("", "x").body == "x");
}

TEST_CASE("identity stops at max_output and reports truncation", "[content_decoder]") {
  auto d = decode("identity", "0123456789", 4, 3);
  CHECK(d.ok);
  CHECK(d.body == "0123");
  CHECK(d.truncated);
}

TEST_CASE("output exactly at the limit is not truncation", "[content_decoder]") {
  CHECK_FALSE(decode("identity", "0123", 4).truncated);
  auto d = decode("gzip", gzip("0123"), 4);
  CHECK(d.body == "0123");
  CHECK_FALSE(d.truncated);
}

TEST_CASE("gzip round trips", "[content_decoder]") {
  auto d = decode("gzip", gzip(sample_text()));
  CHECK(d.ok);
  CHECK(d.body == sample_text());
  CHECK_FALSE(d.truncated);
}

TEST_CASE("x-gzip is gzip", "[content_decoder]") {
  CHECK(decode("x-gzip", gzip("abc")).body == "abc");
}

TEST_CASE("encoding names are case-insensitive and trimmed", "[content_decoder]") {
  CHECK(decode("GZip", gzip("abc")).body == "abc");
  CHECK(decode(" BR ", brotli("abc")).body == "abc");
  CHECK(decode("Deflate", zlib_wrapped("abc")).body == "abc");
  CHECK(decode("IDENTITY", "abc").body == "abc");
}

TEST_CASE("gzip decodes when fed one byte at a time", "[content_decoder]") {
  auto d = decode("gzip", gzip(sample_text()), 1 << 26, 1);
  CHECK(d.ok);
  CHECK(d.body == sample_text());
}

TEST_CASE("concatenated gzip members decode as one body", "[content_decoder]") {
  std::string two = gzip("first ") + gzip("second");
  CHECK(decode("gzip", two).body == "first second");
  CHECK(decode("gzip", two, 1 << 26, 1).body == "first second");
}

TEST_CASE("bytes after the last gzip member are ignored", "[content_decoder]") {
  auto d = decode("gzip", gzip("abc") + std::string(5, '\0'));
  CHECK(d.ok);
  CHECK(d.body == "abc");
}

TEST_CASE("deflate accepts zlib-wrapped streams", "[content_decoder]") {
  auto d = decode("deflate", zlib_wrapped(sample_text()));
  CHECK(d.ok);
  CHECK(d.body == sample_text());
}

TEST_CASE("deflate accepts raw streams", "[content_decoder]") {
  auto d = decode("deflate", raw_deflate(sample_text()));
  CHECK(d.ok);
  CHECK(d.body == sample_text());
}

TEST_CASE("deflate detects the wrapper when fed one byte at a time", "[content_decoder]") {
  CHECK(decode("deflate", zlib_wrapped(sample_text()), 1 << 26, 1).body == sample_text());
  CHECK(decode("deflate", raw_deflate(sample_text()), 1 << 26, 1).body == sample_text());
}

TEST_CASE("brotli round trips", "[content_decoder]") {
  auto d = decode("br", brotli(sample_text()));
  CHECK(d.ok);
  CHECK(d.body == sample_text());
}

TEST_CASE("brotli decodes when fed one byte at a time", "[content_decoder]") {
  CHECK(decode("br", brotli(sample_text()), 1 << 26, 1).body == sample_text());
}

TEST_CASE("an empty compressed body decodes to nothing", "[content_decoder]") {
  for (const char* encoding : {"gzip", "deflate", "br"}) {
    auto d = decode(encoding, "");
    CHECK(d.ok);
    CHECK(d.body.empty());
  }
}

TEST_CASE("a deflate bomb stops at max_output with bounded memory", "[content_decoder]") {
  constexpr std::size_t kLimit = 4 << 20;
  std::string bomb = zeros_bomb(-MAX_WBITS, 1024);  // 1 GiB of zeros
  auto d = decode("deflate", bomb, kLimit, 64 * 1024);
  CHECK(d.ok);
  CHECK(d.truncated);
  CHECK(d.body.size() == kLimit);
  CHECK(d.body.capacity() <= 2 * kLimit);
  CHECK(d.body.find_first_not_of('\0') == std::string::npos);
}

TEST_CASE("the bomb builder makes a valid stream", "[content_decoder]") {
  auto d = decode("deflate", zeros_bomb(-MAX_WBITS, 3));
  CHECK(d.ok);
  CHECK(d.body == std::string(3 << 20, '\0'));
}

TEST_CASE("a gzip bomb stops at max_output and ignores later input", "[content_decoder]") {
  constexpr std::size_t kLimit = 1 << 20;
  auto decoder = ContentDecoder::create("gzip", kLimit);
  REQUIRE(decoder);
  std::string bomb = zeros_bomb(16 + MAX_WBITS, 1024);
  std::string out;
  REQUIRE((*decoder)->feed(bomb.substr(0, bomb.size() / 2), out));
  CHECK((*decoder)->truncated());
  CHECK(out.size() == kLimit);
  REQUIRE((*decoder)->feed(bomb.substr(bomb.size() / 2), out));
  REQUIRE((*decoder)->finish(out));
  CHECK(out.size() == kLimit);
}

TEST_CASE("a brotli bomb stops at max_output", "[content_decoder]") {
  constexpr std::size_t kLimit = 1 << 20;
  auto d = decode("br", brotli(std::string(16 << 20, '\0')), kLimit);
  CHECK(d.ok);
  CHECK(d.truncated);
  CHECK(d.body.size() == kLimit);
}

TEST_CASE("corrupt gzip fails with kParse", "[content_decoder]") {
  std::string bad = gzip(sample_text());
  bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x55);
  bad[bad.size() / 2 + 1] = static_cast<char>(bad[bad.size() / 2 + 1] ^ 0x55);
  auto d = decode("gzip", bad);
  CHECK_FALSE(d.ok);
  CHECK(d.code == Code::kParse);
}

TEST_CASE("a gzip checksum mismatch fails with kParse", "[content_decoder]") {
  std::string bad = gzip("abc");
  bad[bad.size() - 8] = static_cast<char>(bad[bad.size() - 8] ^ 1);  // CRC32 trailer
  auto d = decode("gzip", bad);
  CHECK_FALSE(d.ok);
  CHECK(d.code == Code::kParse);
}

TEST_CASE("a body that is not gzip fails with kParse", "[content_decoder]") {
  auto d = decode("gzip", "<html>plain</html>");
  CHECK_FALSE(d.ok);
  CHECK(d.code == Code::kParse);
}

TEST_CASE("corrupt brotli fails with kParse", "[content_decoder]") {
  auto d = decode("br", std::string(64, '\xff'));
  CHECK_FALSE(d.ok);
  CHECK(d.code == Code::kParse);
}

TEST_CASE("a cut-short stream fails at finish", "[content_decoder]") {
  std::string text = sample_text();
  for (const char* encoding : {"gzip", "deflate", "br"}) {
    std::string whole = std::string(encoding) == "gzip"      ? gzip(text)
                        : std::string(encoding) == "deflate" ? raw_deflate(text)
                                                             : brotli(text);
    auto d = decode(encoding, whole.substr(0, whole.size() / 2));
    CHECK_FALSE(d.ok);
    CHECK(d.code == Code::kParse);
  }
}

TEST_CASE("a lone first byte fails at finish", "[content_decoder]") {
  auto d = decode("gzip", "\x1f");
  CHECK_FALSE(d.ok);
  CHECK(d.code == Code::kParse);
}

TEST_CASE("a cut-short stream is fine once output was truncated", "[content_decoder]") {
  std::string whole = gzip(sample_text());
  auto d = decode("gzip", whole.substr(0, whole.size() / 2), 100);
  CHECK(d.ok);
  CHECK(d.truncated);
  CHECK(d.body == sample_text().substr(0, 100));
}

TEST_CASE("unknown encodings fail with kHttp", "[content_decoder]") {
  auto decoder = ContentDecoder::create("compress", 100);
  REQUIRE_FALSE(decoder);
  CHECK(decoder.error().code == Code::kHttp);
  CHECK(decoder.error().message == "unsupported content-encoding: compress");
  CHECK_FALSE(ContentDecoder::create("gzip, br", 100));
}
