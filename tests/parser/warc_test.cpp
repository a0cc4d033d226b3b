#include "parser/warc.h"

#include <openssl/sha.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "tests/support/warc_reader.h"

using webcrawl::Code;
using webcrawl::parser::GzipCompressor;
using webcrawl::parser::GzipMemberScanner;
using webcrawl::parser::WarcCapture;
using webcrawl::parser::WarcExchange;
using webcrawl::parser::WarcOriginal;
using webcrawl::testing::expected_digest;
using webcrawl::testing::ReadRecord;
namespace warc = webcrawl::parser;

namespace {

constexpr std::string_view kWarcinfoId = "<urn:uuid:00000000-0000-4000-8000-000000000001>";
const std::string kHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n";

std::string raw_sha1(std::string_view s) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof md);
}

// A chunked 200 whose payload is "hello world".
WarcExchange exchange() {
  WarcExchange x;
  x.target_uri = "http://a.test/page?q=1";
  x.ip_address = "192.0.2.7";
  x.date = 1717243200.5;
  x.request = "GET /page?q=1 HTTP/1.1\r\nHost: a.test\r\nUser-Agent: webcrawl/0.1\r\n\r\n";
  x.response = kHead + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  x.head_size = kHead.size();
  x.payload_sha1 = raw_sha1("hello world");
  return x;
}

// Compresses each record into its own member and reads the file back.
std::vector<ReadRecord> read_records(const std::vector<std::string>& records) {
  auto gz = GzipCompressor::create();
  REQUIRE(gz);
  std::string file;
  for (const std::string& r : records) gz->compress(r, file);
  return webcrawl::testing::read_warc(file);
}

std::vector<ReadRecord> read_back(const WarcCapture& c) {
  return read_records({c.request.bytes, c.response.bytes});
}

std::string gzip_of(const std::vector<std::string>& parts) {
  std::string file;
  for (const std::string& p : parts) file += webcrawl::testing::gzip_member(p);
  return file;
}

}  // namespace

TEST_CASE("base32 follows the RFC 4648 test vectors", "[warc]") {
  CHECK(warc::base32("") == "");
  CHECK(warc::base32("f") == "MY======");
  CHECK(warc::base32("fo") == "MZXQ====");
  CHECK(warc::base32("foo") == "MZXW6===");
  CHECK(warc::base32("foob") == "MZXW6YQ=");
  CHECK(warc::base32("fooba") == "MZXW6YTB");
  CHECK(warc::base32("foobar") == "MZXW6YTBOI======");
}

TEST_CASE("base32 of any bytes agrees with an independent encoder", "[warc]") {
  std::mt19937 rng(15);
  for (int n = 0; n < 64; ++n) {
    std::string bytes(static_cast<std::size_t>(n), '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    CHECK(warc::base32(bytes) == webcrawl::testing::base32_of(bytes));
  }
}

TEST_CASE("sha1 labels are sha1: plus base32 of the raw digest", "[warc]") {
  CHECK(warc::sha1_label(warc::sha1("abc")) == "sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5");
  CHECK(warc::sha1_label(warc::sha1("")) == "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ");
  CHECK(warc::sha1("abc") == raw_sha1("abc"));
}

TEST_CASE("WARC dates are UTC with microseconds", "[warc]") {
  CHECK(warc::warc_date(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(warc::warc_date(1717243200.25) == "2024-06-01T12:00:00.250000Z");
  CHECK(warc::warc_date(1717243199.9999996) == "2024-06-01T12:00:00.000000Z");
}

TEST_CASE("record ids are distinct version 4 UUID URNs", "[warc]") {
  constexpr std::string_view kShape = "<urn:uuid:xxxxxxxx-xxxx-4xxx-xxxx-xxxxxxxxxxxx>";
  constexpr std::size_t kVariant = 29;  // first digit of the fourth group: 10xx in binary
  std::string a = warc::make_record_id();
  std::string b = warc::make_record_id();
  CHECK(webcrawl::testing::has_shape(a, kShape));
  CHECK(webcrawl::testing::has_shape(b, kShape));
  CHECK(std::string_view("89ab").find(a.at(kVariant)) != std::string_view::npos);
  CHECK(a != b);
}

TEST_CASE("a request and its response name each other and share the capture's fields", "[warc]") {
  WarcExchange x = exchange();
  WarcCapture c = warc::capture_records(x, kWarcinfoId);
  auto records = read_back(c);
  REQUIRE(records.size() == 2);
  const ReadRecord& req = records[0];
  const ReadRecord& resp = records[1];
  CHECK(req.field("WARC-Type") == "request");
  CHECK(resp.field("WARC-Type") == "response");
  CHECK(req.field("WARC-Record-ID") == c.request.id);
  CHECK(resp.field("WARC-Record-ID") == c.response.id);
  CHECK(req.field("WARC-Concurrent-To") == c.response.id);
  CHECK(resp.field("WARC-Concurrent-To") == c.request.id);
  for (const ReadRecord* r : {&req, &resp}) {
    CHECK(r->field("WARC-Date") == "2024-06-01T12:00:00.500000Z");
    CHECK(r->field("WARC-Target-URI") == "http://a.test/page?q=1");
    CHECK(r->field("WARC-IP-Address") == "192.0.2.7");
    CHECK(r->field("WARC-Warcinfo-ID") == kWarcinfoId);
    CHECK(r->field("WARC-Block-Digest") == expected_digest(r->block));
  }
  CHECK(req.field("Content-Type") == "application/http; msgtype=request");
  CHECK(resp.field("Content-Type") == "application/http; msgtype=response");
  CHECK(req.block == x.request);
  CHECK(resp.block == x.response);
  CHECK(req.count("WARC-Payload-Digest") == 0);
  CHECK(resp.count("WARC-Truncated") == 0);
}

TEST_CASE("the payload digest is of the de-chunked body, content coding kept", "[warc]") {
  auto records = read_back(warc::capture_records(exchange(), kWarcinfoId));
  const ReadRecord& resp = records.at(1);
  CHECK(webcrawl::testing::http_payload(resp.block) == "hello world");
  CHECK(resp.field("WARC-Payload-Digest") == expected_digest("hello world"));
  CHECK(resp.field("WARC-Payload-Digest") != resp.field("WARC-Block-Digest"));
}

TEST_CASE("an unknown address leaves WARC-IP-Address out", "[warc]") {
  WarcExchange x = exchange();
  x.ip_address.clear();
  for (const ReadRecord& r : read_back(warc::capture_records(x, kWarcinfoId))) {
    CHECK(r.count("WARC-IP-Address") == 0);
  }
}

TEST_CASE("a body cut at max-body says WARC-Truncated: length", "[warc]") {
  WarcExchange x = exchange();
  x.response = kHead + "5\r\nhello\r\n6\r\n wo";
  x.payload_sha1 = raw_sha1("hello wo");
  x.truncated = true;
  auto records = read_back(warc::capture_records(x, kWarcinfoId));
  const ReadRecord& resp = records.at(1);
  CHECK(resp.field("WARC-Truncated") == "length");
  CHECK(resp.block == x.response);
  CHECK(resp.field("WARC-Payload-Digest") == expected_digest(webcrawl::testing::http_payload(resp.block)));
  CHECK(records.at(0).count("WARC-Truncated") == 0);
}

TEST_CASE("a revisit keeps the head, names the original and says the block is truncated", "[warc]") {
  WarcExchange x = exchange();
  WarcOriginal original{"<urn:uuid:11111111-2222-4333-8444-555555555555>", "http://a.test/first",
                        "2024-05-31T08:00:00.000000Z"};
  WarcCapture c = warc::capture_records(x, kWarcinfoId, &original);
  auto records = read_back(c);
  const ReadRecord& rev = records.at(1);
  CHECK(rev.field("WARC-Type") == "revisit");
  CHECK(rev.field("WARC-Profile") ==
        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest");
  CHECK(rev.field("WARC-Refers-To") == original.record_id);
  CHECK(rev.field("WARC-Refers-To-Target-URI") == "http://a.test/first");
  CHECK(rev.field("WARC-Refers-To-Date") == "2024-05-31T08:00:00.000000Z");
  CHECK(rev.field("WARC-Payload-Digest") == expected_digest("hello world"));
  CHECK(rev.field("WARC-Truncated") == "length");
  CHECK(rev.block == kHead);
  CHECK(rev.field("Content-Length") == std::to_string(kHead.size()));
  CHECK(rev.field("WARC-Block-Digest") == expected_digest(kHead));
  CHECK(rev.field("WARC-Concurrent-To") == c.request.id);
  CHECK(records.at(0).field("WARC-Concurrent-To") == c.response.id);
}

TEST_CASE("warcinfo describes the software, the format and the crawl's options", "[warc]") {
  warc::WarcInfo info{"webcrawl-20240601120000000-00000-host.warc.gz", 1717243200,
                      {{"http-header-user-agent", "webcrawl/0.1 (+x)"}, {"robots", "classic"}}};
  auto records = read_records({warc::warcinfo_record(info).bytes});
  const ReadRecord& r = records.at(0);
  CHECK(r.field("WARC-Type") == "warcinfo");
  CHECK(r.field("WARC-Filename") == info.filename);
  CHECK(r.field("Content-Type") == "application/warc-fields");
  CHECK(r.field("WARC-Date") == "2024-06-01T12:00:00.000000Z");
  CHECK(r.count("WARC-Target-URI") == 0);
  CHECK(r.block ==
        "software: webcrawl/0.2.0\r\n"
        "format: WARC File Format 1.1\r\n"
        "conformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n"
        "http-header-user-agent: webcrawl/0.1 (+x)\r\n"
        "robots: classic\r\n");
}

TEST_CASE("CR and LF in values cannot add header fields or info lines", "[warc]") {
  WarcExchange x = exchange();
  x.target_uri = "http://a.test/\r\nWARC-Type: resource";
  auto records = read_back(warc::capture_records(x, kWarcinfoId));
  CHECK(records.at(1).field("WARC-Target-URI") == "http://a.test/  WARC-Type: resource");
  CHECK(records.at(1).count("WARC-Type") == 1);

  warc::WarcInfo info{"f.warc.gz", 0, {{"operator", "me\r\nrobots: none"}}};
  auto info_records = read_records({warc::warcinfo_record(info).bytes});
  CHECK(info_records.at(0).block.find("\r\nrobots") == std::string::npos);
}

TEST_CASE("parse_warc_header reads back the fields written", "[warc]") {
  WarcCapture c = warc::capture_records(exchange(), kWarcinfoId);
  auto header = warc::parse_warc_header(c.response.bytes);
  REQUIRE(header);
  CHECK(header->version == "WARC/1.1");
  CHECK(header->get("warc-record-id") == c.response.id);
  CHECK(header->get("WARC-Payload-Digest") == expected_digest("hello world"));
  CHECK(header->get("X-Absent").empty());
  CHECK(c.response.bytes.substr(header->size) == exchange().response + "\r\n\r\n");
}

TEST_CASE("parse_warc_header folds continuation lines and rejects what is not a header", "[warc]") {
  auto folded = warc::parse_warc_header("WARC/1.0\r\nA: one\r\n  two\r\n\r\nblock");
  REQUIRE(folded);
  CHECK(folded->get("a") == "one two");
  CHECK(folded->size == 27);

  auto no_blank = warc::parse_warc_header("WARC/1.1\r\nA: b\r\n");
  REQUIRE_FALSE(no_blank);
  CHECK(no_blank.error().code == Code::kParse);
  CHECK_FALSE(warc::parse_warc_header("HTTP/1.1 200 OK\r\n\r\n"));
  CHECK_FALSE(warc::parse_warc_header("WARC/1.1\r\nno colon here\r\n\r\n"));
  CHECK_FALSE(warc::parse_warc_header("WARC/1.1\r\n continued\r\n\r\n"));
}

TEST_CASE("the compressor refuses levels libdeflate does not have", "[warc]") {
  auto bad = GzipCompressor::create(13);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Code::kInvalidArgument);
  CHECK_FALSE(GzipCompressor::create(-1));
  CHECK(GzipCompressor::create(12));
}

TEST_CASE("the scanner counts members fed in pieces of any size", "[warc]") {
  std::string file = gzip_of({"first record", std::string(100000, 'x'), "third"});
  for (std::size_t step : {std::size_t{1}, std::size_t{7}, file.size()}) {
    auto scanner = GzipMemberScanner::create();
    REQUIRE(scanner);
    for (std::size_t i = 0; i < file.size(); i += step) {
      REQUIRE((*scanner)->feed(std::string_view(file).substr(i, step)));
    }
    CHECK((*scanner)->members() == 3);
    CHECK((*scanner)->valid_end() == file.size());
  }
}

TEST_CASE("the scanner's valid end stops before a member cut anywhere", "[warc]") {
  std::string kept = gzip_of({"one", "two"});
  std::string last = webcrawl::testing::gzip_member(std::string(5000, 'y') + "tail");
  for (std::size_t cut = 0; cut < last.size(); ++cut) {
    auto scanner = GzipMemberScanner::create();
    REQUIRE(scanner);
    REQUIRE((*scanner)->feed(kept + last.substr(0, cut)));
    CHECK((*scanner)->members() == 2);
    CHECK((*scanner)->valid_end() == kept.size());
  }
}

TEST_CASE("the scanner fails at a bad trailer or bytes that are no member", "[warc]") {
  std::string kept = gzip_of({"one"});
  std::string bad_crc = webcrawl::testing::gzip_member("two");
  bad_crc[bad_crc.size() - 8] ^= 1;  // first byte of the CRC-32
  auto scanner = GzipMemberScanner::create();
  REQUIRE(scanner);
  auto fed = (*scanner)->feed(kept + bad_crc);
  REQUIRE_FALSE(fed);
  CHECK(fed.error().code == Code::kParse);
  CHECK((*scanner)->valid_end() == kept.size());
  CHECK_FALSE((*scanner)->feed(kept));  // failed for good

  auto zeros = GzipMemberScanner::create();
  REQUIRE(zeros);
  CHECK_FALSE((*zeros)->feed(kept + std::string(16, '\0')));
  CHECK((*zeros)->valid_end() == kept.size());
  CHECK((*zeros)->members() == 1);
}

TEST_CASE("the scanner keeps the first bytes of the first member's output only", "[warc]") {
  auto scanner = GzipMemberScanner::create(4);
  REQUIRE(scanner);
  std::string file = gzip_of({"ab", "cdefgh", "ijklmnop"});
  REQUIRE((*scanner)->feed(file));
  CHECK((*scanner)->members() == 3);
  CHECK((*scanner)->head() == "ab");

  auto longer = GzipMemberScanner::create(4);
  REQUIRE(longer);
  REQUIRE((*longer)->feed(gzip_of({"abcdefgh", "ijkl"})));
  CHECK((*longer)->head() == "abcd");
}
