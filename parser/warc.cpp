#include "parser/warc.h"

#include <libdeflate.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>

#include "parser/ascii.h"

namespace webcrawl::parser {
namespace {

constexpr std::string_view kConformsTo =
    "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/";
constexpr std::string_view kRequestType = "application/http; msgtype=request";
constexpr std::string_view kResponseType = "application/http; msgtype=response";
constexpr std::size_t kSha1Size = 20;
// Inflated bytes are written here and dropped, past what head() keeps.
constexpr std::size_t kInflateStep = 64 * 1024;

// A header value on one line: CR and LF would end the field early and let
// the rest pose as fields of its own.
std::string one_line(std::string_view value) {
  std::string out(value);
  std::replace_if(out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
  return out;
}

// Named fields in the order they are written; Content-Type and
// Content-Length come last, from the block.
class RecordBuilder {
 public:
  RecordBuilder(std::string_view type, std::string id, std::string date) : id_(std::move(id)) {
    add("WARC-Type", type);
    add("WARC-Record-ID", id_);
    add("WARC-Date", date);
  }

  RecordBuilder& add(std::string_view name, std::string_view value) {
    header_ += name;
    header_ += ": ";
    header_ += one_line(value);
    header_ += "\r\n";
    return *this;
  }

  WarcRecord finish(std::string_view content_type, std::string_view block) {
    add("WARC-Block-Digest", sha1_label(sha1(block)));
    add("Content-Type", content_type);
    add("Content-Length", std::to_string(block.size()));
    WarcRecord record{std::move(id_), {}};
    record.bytes.reserve(kWarcVersion.size() + header_.size() + block.size() + 8);
    record.bytes.append(kWarcVersion).append("\r\n").append(header_).append("\r\n");
    record.bytes.append(block).append("\r\n\r\n");
    return record;
  }

 private:
  std::string id_;
  std::string header_;
};

// Fields that request, response and revisit share, after the first three.
void add_capture_fields(RecordBuilder& b, const WarcExchange& x, std::string_view concurrent_to,
                        std::string_view warcinfo_id) {
  b.add("WARC-Target-URI", x.target_uri);
  if (!x.ip_address.empty()) b.add("WARC-IP-Address", x.ip_address);
  b.add("WARC-Concurrent-To", concurrent_to);
  b.add("WARC-Warcinfo-ID", warcinfo_id);
}

}  // namespace

WarcRecord warcinfo_record(const WarcInfo& info) {
  std::string block;
  auto line = [&](std::string_view key, std::string_view value) {
    block.append(one_line(key)).append(": ").append(one_line(value)).append("\r\n");
  };
  line("software", kWarcSoftware);
  line("format", "WARC File Format 1.1");
  line("conformsTo", kConformsTo);
  for (const auto& [key, value] : info.fields) line(key, value);
  RecordBuilder b("warcinfo", make_record_id(), warc_date(info.date));
  b.add("WARC-Filename", info.filename);
  return b.finish("application/warc-fields", block);
}

WarcCapture capture_records(const WarcExchange& x, std::string_view warcinfo_id,
                            const WarcOriginal* revisit_of) {
  std::string date = warc_date(x.date);
  std::string request_id = make_record_id();
  std::string response_id = make_record_id();
  bool has_digest = x.payload_sha1.size() == kSha1Size;

  RecordBuilder response(revisit_of ? "revisit" : "response", response_id, date);
  add_capture_fields(response, x, request_id, warcinfo_id);
  std::string_view block = x.response;
  if (revisit_of) {
    response.add("WARC-Profile", kRevisitProfile)
        .add("WARC-Refers-To", revisit_of->record_id)
        .add("WARC-Refers-To-Target-URI", revisit_of->target_uri)
        .add("WARC-Refers-To-Date", revisit_of->date);
    block = block.substr(0, x.head_size);
  }
  if (has_digest) response.add("WARC-Payload-Digest", sha1_label(x.payload_sha1));
  if (revisit_of || x.truncated) response.add("WARC-Truncated", "length");

  RecordBuilder request("request", request_id, date);
  add_capture_fields(request, x, response_id, warcinfo_id);
  return {request.finish(kRequestType, x.request), response.finish(kResponseType, block)};
}

std::string make_record_id() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    // OpenSSL's generator failing to seed is all but impossible on Linux; the
    // kernel's, behind random_device, is as good.
    std::random_device device;
    for (unsigned char& c : b) c = static_cast<unsigned char>(device());
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // RFC 9562: version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // variant 10
  char out[64];
  std::snprintf(out, sizeof out,
                "<urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x>",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                b[13], b[14], b[15]);
  return out;
}

std::string warc_date(double unix_seconds) {
  double whole = std::floor(std::max(unix_seconds, 0.0));
  auto micros = static_cast<long>(std::llround((std::max(unix_seconds, 0.0) - whole) * 1e6));
  auto t = static_cast<std::time_t>(whole);
  if (micros >= 1000000) {  // 0.9999996 rounds up into the next second
    micros -= 1000000;
    ++t;
  }
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[64];  // room for any year gmtime_r gives
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  return out;
}

std::string base32(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  out.reserve((bytes.size() + 4) / 5 * 8);
  for (std::size_t i = 0; i < bytes.size(); i += 5) {
    // A group of up to five bytes is 40 bits, eight 5-bit characters; a short
    // last group pads its bits with zeros and its missing characters with '='.
    std::size_t n = std::min<std::size_t>(5, bytes.size() - i);
    uint64_t group = 0;
    for (std::size_t j = 0; j < 5; ++j) {
      group = (group << 8) | (j < n ? static_cast<unsigned char>(bytes[i + j]) : 0u);
    }
    std::size_t chars = (n * 8 + 4) / 5;
    for (std::size_t k = 0; k < 8; ++k) {
      out += k < chars ? kAlphabet[(group >> (35 - 5 * k)) & 31] : '=';
    }
  }
  return out;
}

std::string sha1(std::string_view bytes) {
  std::string digest(EVP_MAX_MD_SIZE, '\0');
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), reinterpret_cast<unsigned char*>(digest.data()), &size,
             EVP_sha1(), nullptr);
  digest.resize(size);
  return digest;
}

std::string sha1_label(std::string_view raw_digest) { return "sha1:" + base32(raw_digest); }

std::optional<std::string> raw_sha1(std::string_view label) {
  if (label.substr(0, 5) != "sha1:") return std::nullopt;
  label.remove_prefix(5);
  while (!label.empty() && label.back() == '=') label.remove_suffix(1);
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : label) {
    int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= '2' && c <= '7' ? c - '2' + 26 : -1;
    if (v < 0) return std::nullopt;
    bits = (bits << 5) | static_cast<uint32_t>(v);
    count += 5;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  if (out.size() != 20) return std::nullopt;
  return out;
}

std::string_view WarcHeader::get(std::string_view name) const {
  for (const auto& [n, v] : fields) {
    if (iequals(n, name)) return v;
  }
  return {};
}

Result<WarcHeader> parse_warc_header(std::string_view bytes) {
  auto bad = [](std::string what) { return make_error(Code::kParse, "WARC header: " + what); };
  std::size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) return bad("no blank line");
  WarcHeader header;
  header.size = end + 4;
  std::string_view rest = bytes.substr(0, end + 2);
  bool first = true;
  while (!rest.empty()) {
    std::size_t eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    if (first) {
      if (!line.starts_with("WARC/")) return bad("not a WARC record");
      header.version = std::string(line);
      first = false;
    } else if (!line.empty() && is_ows(line.front())) {
      if (header.fields.empty()) return bad("continuation before any field");
      header.fields.back().second.append(" ").append(trim_ows(line));
    } else {
      std::size_t colon = line.find(':');
      std::string_view name = colon == std::string_view::npos ? "" : trim_ows(line.substr(0, colon));
      if (name.empty()) return bad("malformed line \"" + std::string(line.substr(0, 80)) + "\"");
      header.fields.emplace_back(std::string(name), std::string(trim_ows(line.substr(colon + 1))));
    }
  }
  return header;
}

Result<GzipCompressor> GzipCompressor::create(int level) {
  if (level < 0 || level > 12) {
    return make_error(Code::kInvalidArgument,
                      "gzip level must be 0 to 12, not " + std::to_string(level));
  }
  libdeflate_compressor* c = libdeflate_alloc_compressor(level);
  if (!c) return make_error(Code::kIo, "gzip: cannot allocate a compressor");
  return GzipCompressor(c);
}

GzipCompressor::GzipCompressor(GzipCompressor&& other) noexcept : c_(std::exchange(other.c_, nullptr)) {}

GzipCompressor& GzipCompressor::operator=(GzipCompressor&& other) noexcept {
  std::swap(c_, other.c_);
  return *this;
}

GzipCompressor::~GzipCompressor() { libdeflate_free_compressor(c_); }

void GzipCompressor::compress(std::string_view data, std::string& out) {
  std::size_t start = out.size();
  out.resize(start + libdeflate_gzip_compress_bound(c_, data.size()));
  // With the bound's room, compression cannot run out of space, so it never
  // returns 0 here.
  std::size_t size =
      libdeflate_gzip_compress(c_, data.data(), data.size(), out.data() + start, out.size() - start);
  out.resize(start + size);
}

Result<std::unique_ptr<GzipMemberScanner>> GzipMemberScanner::create(std::size_t head_limit) {
  auto* stream = new z_stream{};
  if (inflateInit2(stream, 16 + MAX_WBITS) != Z_OK) {
    delete stream;
    return make_error(Code::kParse, "gzip: cannot initialize zlib");
  }
  return std::unique_ptr<GzipMemberScanner>(new GzipMemberScanner(stream, head_limit));
}

GzipMemberScanner::GzipMemberScanner(void* stream, std::size_t head_limit)
    : stream_(stream), head_limit_(head_limit) {}

GzipMemberScanner::~GzipMemberScanner() {
  auto* s = static_cast<z_stream*>(stream_);
  inflateEnd(s);
  delete s;
}

Result<void> GzipMemberScanner::fail(std::string_view detail) {
  failed_ = true;
  failure_ = "gzip member at offset " + std::to_string(valid_end_) + ": " + std::string(detail);
  return make_error(Code::kParse, failure_);
}

Result<void> GzipMemberScanner::feed(std::string_view bytes) {
  if (failed_) return make_error(Code::kParse, failure_);
  auto* s = static_cast<z_stream*>(stream_);
  std::array<Bytef, kInflateStep> out;
  while (!bytes.empty()) {
    if (!in_member_) {
      inflateReset(s);
      in_member_ = true;
    }
    std::size_t offered = std::min<std::size_t>(bytes.size(), UINT_MAX);
    s->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    s->avail_in = static_cast<uInt>(offered);
    int rc = Z_OK;
    do {
      s->next_out = out.data();
      s->avail_out = static_cast<uInt>(out.size());
      rc = inflate(s, Z_NO_FLUSH);
      std::size_t produced = out.size() - s->avail_out;
      std::size_t room = members_ == 0 ? head_limit_ - std::min(head_limit_, head_.size()) : 0;
      std::size_t keep = std::min(produced, room);
      head_.append(reinterpret_cast<const char*>(out.data()), keep);
      if (rc == Z_NEED_DICT) return fail("preset dictionary");
      if (rc == Z_DATA_ERROR || rc == Z_STREAM_ERROR || rc == Z_MEM_ERROR) {
        return fail(s->msg ? s->msg : "corrupt data");
      }
      // Z_BUF_ERROR: the input ran out mid-member; the next feed goes on.
    } while (rc == Z_OK && (s->avail_in > 0 || s->avail_out == 0));
    std::size_t consumed = offered - s->avail_in;
    fed_ += consumed;
    bytes.remove_prefix(consumed);
    if (rc == Z_STREAM_END) {  // inflate checked the trailer's CRC-32 and ISIZE
      in_member_ = false;
      valid_end_ = fed_;
      ++members_;
    }
  }
  return {};
}

}  // namespace webcrawl::parser
