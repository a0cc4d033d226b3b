// A WARC reader for tests, written apart from parser/warc.cpp and
// storage/warc_writer.cpp so that a test checks the writer against a second
// reading of the format, not against its own code: it walks gzip members
// with zlib's inflate, parses record headers itself, and computes SHA-1
// (OpenSSL's one-shot SHA1) and base32 its own way.
//
// Everything throws std::runtime_error on malformed input, so a Catch test
// that reads a bad file fails with the reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace webcrawl::testing {

struct ReadRecord {
  uint64_t offset = 0;       // of its gzip member in the file
  uint64_t member_size = 0;  // compressed bytes of that member
  std::string version;       // "WARC/1.1"
  std::vector<std::pair<std::string, std::string>> fields;
  std::string block;

  // The value of the only field called `name` (case-insensitive); "" if
  // absent. Throws when the field appears more than once.
  std::string field(std::string_view name) const;
  int count(std::string_view name) const;
};

// Every record of a .warc.gz, one per gzip member. Throws when a member is
// corrupt or cut short, holds anything but exactly one record, or a record's
// Content-Length does not match its block.
std::vector<ReadRecord> read_warc(std::string_view file);
std::vector<ReadRecord> read_warc_file(const std::string& path);

// The record in the member that starts at `offset` of `file`.
ReadRecord read_record_at(std::string_view file, uint64_t offset);

// "sha1:" + RFC 4648 base32 of SHA-1(bytes).
std::string expected_digest(std::string_view bytes);
std::string base32_of(std::string_view bytes);

// The payload of an HTTP response block: the body after the blank line with
// chunked transfer coding undone (when the head says so); a body cut inside a
// chunk yields what arrived.
std::string http_payload(std::string_view block);

// True when `s` has the shape `pattern`: '#' stands for a decimal digit,
// 'x' for a lower-case hex digit, every other character for itself.
bool has_shape(std::string_view s, std::string_view pattern);

// Compresses `data` as one gzip member with zlib, for tests that build files.
std::string gzip_member(std::string_view data);

// The whole file; throws when it cannot be read.
std::string file_bytes(const std::string& path);

}  // namespace webcrawl::testing
