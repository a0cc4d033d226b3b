#include "tests/support/warc_reader.h"

#include <openssl/sha.h>
#include <zlib.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace webcrawl::testing {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("warc_reader: " + what); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

std::string strip(std::string_view s) {
  std::size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  std::size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

struct Member {
  std::string data;       // inflated
  std::size_t used = 0;   // compressed bytes
};

// Inflates exactly one gzip member from the start of `in`.
Member inflate_member(std::string_view in) {
  z_stream s{};
  if (inflateInit2(&s, 31) != Z_OK) fail("inflateInit2");
  Member m;
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  char buf[16384];
  int rc;
  do {
    s.next_out = reinterpret_cast<Bytef*>(buf);
    s.avail_out = sizeof buf;
    rc = inflate(&s, Z_NO_FLUSH);
    m.data.append(buf, sizeof buf - s.avail_out);
  } while (rc == Z_OK);
  m.used = in.size() - s.avail_in;
  inflateEnd(&s);
  if (rc != Z_STREAM_END) fail("gzip member cut short or corrupt (zlib " + std::to_string(rc) + ")");
  return m;
}

ReadRecord parse_record(std::string_view data) {
  std::size_t blank = data.find("\r\n\r\n");
  if (blank == std::string_view::npos) fail("record header without blank line");
  ReadRecord r;
  std::string_view head = data.substr(0, blank);
  std::size_t pos = 0;
  bool first = true;
  while (pos <= head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (first) {
      r.version = std::string(line);
      first = false;
      continue;
    }
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      if (r.fields.empty()) fail("continuation line before any field");
      r.fields.back().second += " " + strip(line);
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) fail("field without colon: " + std::string(line));
    r.fields.emplace_back(std::string(line.substr(0, colon)), strip(line.substr(colon + 1)));
  }
  if (r.version != "WARC/1.1") fail("version line " + r.version);
  std::string length = r.field("Content-Length");
  if (length.empty() || length.find_first_not_of("0123456789") != std::string::npos) {
    fail("bad Content-Length '" + length + "'");
  }
  std::size_t size = std::stoull(length);
  std::string_view rest = data.substr(blank + 4);
  if (rest.size() != size + 4) fail("block is not Content-Length bytes plus CRLF CRLF");
  if (rest.substr(size) != "\r\n\r\n") fail("record does not end with CRLF CRLF");
  r.block = std::string(rest.substr(0, size));
  return r;
}

}  // namespace

std::string ReadRecord::field(std::string_view name) const {
  std::string want = lower(name);
  std::string found;
  int n = 0;
  for (const auto& [k, v] : fields) {
    if (lower(k) == want) {
      found = v;
      ++n;
    }
  }
  if (n > 1) fail("field " + std::string(name) + " repeated");
  return found;
}

int ReadRecord::count(std::string_view name) const {
  int n = 0;
  for (const auto& f : fields) n += lower(f.first) == lower(name);
  return n;
}

ReadRecord read_record_at(std::string_view file, uint64_t offset) {
  if (offset >= file.size()) fail("offset " + std::to_string(offset) + " past the end");
  Member m = inflate_member(file.substr(offset));
  ReadRecord r = parse_record(m.data);
  r.offset = offset;
  r.member_size = m.used;
  return r;
}

std::vector<ReadRecord> read_warc(std::string_view file) {
  std::vector<ReadRecord> records;
  uint64_t offset = 0;
  while (offset < file.size()) {
    records.push_back(read_record_at(file, offset));
    offset += records.back().member_size;
  }
  return records;
}

std::vector<ReadRecord> read_warc_file(const std::string& path) { return read_warc(file_bytes(path)); }

std::string base32_of(std::string_view bytes) {
  // Bit accumulator: take five bits at a time from the left.
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
  while (out.size() % 8 != 0) out += '=';
  return out;
}

std::string expected_digest(std::string_view bytes) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  return "sha1:" + base32_of(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

std::string http_payload(std::string_view block) {
  std::size_t blank = block.find("\r\n\r\n");
  if (blank == std::string_view::npos) fail("HTTP block without blank line");
  std::string head = lower(block.substr(0, blank));
  std::string_view body = block.substr(blank + 4);
  bool chunked = false;
  for (std::size_t at = head.find("\r\ntransfer-encoding:"); at != std::string::npos;
       at = head.find("\r\ntransfer-encoding:", at + 1)) {
    std::size_t eol = head.find("\r\n", at + 2);
    chunked |= head.substr(at, eol - at).find("chunked") != std::string::npos;
  }
  if (!chunked) return std::string(body);
  std::string payload;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) break;  // cut inside a size line
    std::string size_line(body.substr(pos, eol - pos));
    std::size_t size = std::stoull(size_line.substr(0, size_line.find(';')), nullptr, 16);
    if (size == 0) break;
    pos = eol + 2;
    payload.append(body.substr(pos, size));  // a cut chunk gives what arrived
    pos += size + 2;
  }
  return payload;
}

bool has_shape(std::string_view s, std::string_view pattern) {
  if (s.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool digit = c >= '0' && c <= '9';
    bool ok = pattern[i] == '#' ? digit : pattern[i] == 'x' ? digit || (c >= 'a' && c <= 'f') : c == pattern[i];
    if (!ok) return false;
  }
  return true;
}

std::string gzip_member(std::string_view data) {
  z_stream s{};
  if (deflateInit2(&s, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) fail("deflateInit2");
  std::string out(deflateBound(&s, data.size()), '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  if (rc != Z_STREAM_END) fail("deflate");
  return out;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace webcrawl::testing
