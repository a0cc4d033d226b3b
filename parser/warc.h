// WARC/1.1 records (ISO 28500:2017) as bytes, and the gzip members that hold
// them, sans-I/O: values in, bytes out, and bytes in, values out. The files
// they go into are storage/warc_writer.h's business (issue 15).
//
// Every function here is pure and thread-safe; GzipCompressor and
// GzipMemberScanner are not thread-safe, one per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

struct libdeflate_compressor;

namespace webcrawl::parser {

inline constexpr std::string_view kWarcSoftware = "webcrawl/0.2.0";  // as common/version.h
inline constexpr std::string_view kWarcVersion = "WARC/1.1";
inline constexpr std::string_view kRevisitProfile =
    "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest";

// One HTTP exchange as the HTTP layer saw it: raw bytes plus the payload
// digest it computed while the body arrived, so nothing here re-parses
// chunked encoding.
struct WarcExchange {
  std::string target_uri;     // the request URL
  std::string ip_address;     // remote address; "" if unknown (the field is left out)
  double date = 0;            // unix seconds when the request was sent
  std::string request;        // the exact request bytes sent, through CRLF CRLF
  std::string response;       // status line, headers and body as received (transfer
                              // and content coding kept), possibly cut at max-body
  std::size_t head_size = 0;  // bytes of `response` that are status line + headers
                              // through the blank line
  std::string payload_sha1;   // 20 raw bytes: SHA-1 of the body with transfer coding
                              // removed and content coding kept
  bool truncated = false;     // the body was cut at max-body: WARC-Truncated: length
};

// One record, uncompressed: header, block and the closing CRLF CRLF.
struct WarcRecord {
  std::string id;     // WARC-Record-ID, "<urn:uuid:...>"
  std::string bytes;
};

// What goes into a file's first record besides software, format and
// conformsTo.
struct WarcInfo {
  std::string filename;  // WARC-Filename
  double date = 0;       // unix seconds
  // The crawl's effective options, written as "key: value" lines in order.
  // CR and LF in keys or values become spaces, so a value cannot add lines.
  std::vector<std::pair<std::string, std::string>> fields;
};

// The record that first archived a payload, as a revisit names it.
struct WarcOriginal {
  std::string record_id;   // WARC-Refers-To
  std::string target_uri;  // WARC-Refers-To-Target-URI
  std::string date;        // WARC-Refers-To-Date: its WARC-Date as written
};

// The records of one capture event: a request and a response (or revisit)
// naming each other in WARC-Concurrent-To, with the same WARC-Date.
struct WarcCapture {
  WarcRecord request;
  WarcRecord response;  // a revisit when revisit_of was given
};

// application/warc-fields record that starts each file.
WarcRecord warcinfo_record(const WarcInfo& info);

// The request record (block: exchange.request) and the response record
// (block: exchange.response, with WARC-Payload-Digest and WARC-Truncated when
// cut). With `revisit_of`, the second record is instead an identical-payload-
// digest revisit whose block is the response head (head_size bytes) and which
// always says WARC-Truncated: length, as WARC 1.1 section 6.7.2 requires of a
// block shortened to drop the duplicate. Both records carry
// WARC-Warcinfo-ID: warcinfo_id and fresh random record ids. CR and LF in
// target_uri or ip_address become spaces.
WarcCapture capture_records(const WarcExchange& exchange, std::string_view warcinfo_id,
                            const WarcOriginal* revisit_of = nullptr);

// "<urn:uuid:...>", a version 4 UUID from OpenSSL's CSPRNG.
std::string make_record_id();
// "YYYY-MM-DDThh:mm:ss.ssssssZ" in UTC (WARC 1.1 allows fractional seconds).
std::string warc_date(double unix_seconds);
// RFC 4648 base32, upper case, padded with '='.
std::string base32(std::string_view bytes);
// The 20 raw bytes of SHA-1(bytes).
std::string sha1(std::string_view bytes);
// "sha1:" + base32(raw_digest): WARC's labelled digest.
std::string sha1_label(std::string_view raw_digest);
// The 20 raw bytes of a "sha1:BASE32" label, or nothing when it is not one.
std::optional<std::string> raw_sha1(std::string_view label);

// A record header read back: version line and named fields in order.
struct WarcHeader {
  std::string version;  // "WARC/1.1"
  std::vector<std::pair<std::string, std::string>> fields;
  std::size_t size = 0;  // bytes through the blank line

  // The first field called `name` (ASCII case-insensitive); "" if none.
  std::string_view get(std::string_view name) const;
};

// Parses the header at the start of `bytes` (which may go on into the block).
// Continuation lines fold into the field before them. Fails with kParse when
// there is no blank line, the first line is not "WARC/x.y", or a line is not
// "name: value".
Result<WarcHeader> parse_warc_header(std::string_view bytes);

// Compresses data into one gzip member (RFC 1952) with libdeflate, which
// costs half of zlib's CPU at a smaller size (bench/warc_compress.cpp).
class GzipCompressor {
 public:
  static constexpr int kDefaultLevel = 1;

  // `level` is libdeflate's, 0 (store) to 12; kInvalidArgument outside.
  static Result<GzipCompressor> create(int level = kDefaultLevel);
  GzipCompressor(GzipCompressor&& other) noexcept;
  GzipCompressor& operator=(GzipCompressor&& other) noexcept;
  GzipCompressor(const GzipCompressor&) = delete;
  GzipCompressor& operator=(const GzipCompressor&) = delete;
  ~GzipCompressor();

  // Appends the member holding `data` to `out`.
  void compress(std::string_view data, std::string& out);

 private:
  explicit GzipCompressor(libdeflate_compressor* c) : c_(c) {}
  libdeflate_compressor* c_;
};

// Walks back-to-back gzip members (a .warc.gz file, or the part of one from a
// member's offset on), fed in order in pieces of any size. Each member's
// trailer CRC-32 and ISIZE are checked, so valid_end() is where the last
// intact member ends: what a repair keeps of a torn file.
class GzipMemberScanner {
 public:
  // Keeps the first `head_limit` bytes the first member inflates to (0:
  // none), so a caller that starts at a record's offset can read its header
  // without holding its block, or the records after it, in memory.
  static Result<std::unique_ptr<GzipMemberScanner>> create(std::size_t head_limit = 0);
  ~GzipMemberScanner();
  GzipMemberScanner(const GzipMemberScanner&) = delete;
  GzipMemberScanner& operator=(const GzipMemberScanner&) = delete;

  // Feeds the next bytes. Fails with kParse at the first byte that cannot be
  // part of a valid member (not a gzip header, corrupt data, a bad trailer);
  // later feeds fail the same way. Bytes cut off at the end are not an error:
  // they are simply not counted in valid_end().
  Result<void> feed(std::string_view bytes);

  // Bytes from the first one fed to the end of the last intact member.
  uint64_t valid_end() const { return valid_end_; }
  // Intact members seen so far.
  uint64_t members() const { return members_; }
  // The first member's output so far, up to head_limit bytes.
  const std::string& head() const { return head_; }

 private:
  GzipMemberScanner(void* stream, std::size_t head_limit);
  Result<void> fail(std::string_view detail);

  void* stream_;  // z_stream; zlib stays out of this header
  std::size_t head_limit_;
  std::string head_;
  uint64_t fed_ = 0;
  uint64_t valid_end_ = 0;
  uint64_t members_ = 0;
  bool in_member_ = false;
  bool failed_ = false;
  std::string failure_;
};

}  // namespace webcrawl::parser
