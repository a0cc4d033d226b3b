// libFuzzer target for the response path without sockets: the input is a raw
// HTTP response, fed to llhttp in pieces whose sizes come from the input, with
// the body going through ContentDecoder as crawler/fetcher.cpp does it (the
// callbacks below are a copy of its glue, minus libuv). The decoded body must
// never exceed max_output, whatever the compression ratio.
#include <llhttp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "parser/content_decoder.h"

namespace {

using webcrawl::parser::ContentDecoder;

constexpr std::size_t kMaxOutput = 1 << 20;
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;  // as in fetcher.cpp
constexpr std::size_t kMaxPiece = 128;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

bool iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// One response being read: the fetcher's Transaction, reduced to what the
// parser callbacks touch.
struct Response {
  std::string field, value;
  bool in_value = false;
  std::size_t header_bytes = 0;
  std::string content_encoding;
  std::unique_ptr<ContentDecoder> decoder;
  bool identity = false;
  std::size_t wire_bytes = 0;
  std::string body;
  bool truncated = false;
  bool complete = false;
  bool failed = false;

  void header_done() {
    if (iequals(field, "content-encoding")) content_encoding = value;
    field.clear();
    value.clear();
    in_value = false;
  }
};

Response* response_of(llhttp_t* p) { return static_cast<Response*>(p->data); }

int on_header_field(llhttp_t* p, const char* at, std::size_t len) {
  Response* r = response_of(p);
  if (r->in_value) r->header_done();
  r->header_bytes += len;
  if (r->header_bytes > kMaxHeaderBytes) return HPE_USER;
  r->field.append(at, len);
  return 0;
}

int on_header_value(llhttp_t* p, const char* at, std::size_t len) {
  Response* r = response_of(p);
  r->in_value = true;
  r->header_bytes += len;
  if (r->header_bytes > kMaxHeaderBytes) return HPE_USER;
  r->value.append(at, len);
  return 0;
}

int on_headers_complete(llhttp_t* p) {
  Response* r = response_of(p);
  if (r->in_value) r->header_done();
  int status = llhttp_get_status_code(p);
  if (status >= 100 && status < 200) {
    // An interim response: the real one follows.
    r->content_encoding.clear();
    return 0;
  }
  auto decoder = ContentDecoder::create(r->content_encoding, kMaxOutput);
  if (!decoder) {
    r->failed = true;
    return HPE_USER;
  }
  std::string_view encoding = r->content_encoding;
  r->identity = encoding.find_first_not_of(" \t") == std::string_view::npos ||
                iequals(encoding, "identity");
  r->decoder = std::move(*decoder);
  return 0;
}

int on_body(llhttp_t* p, const char* at, std::size_t len) {
  Response* r = response_of(p);
  if (!r->decoder) return 0;  // body of an interim response
  r->wire_bytes += len;
  if (!r->decoder->feed(std::string_view(at, len), r->body)) {
    r->failed = true;
    return HPE_USER;
  }
  if (r->decoder->truncated() || r->wire_bytes >= kMaxOutput) {
    r->truncated = true;
    return HPE_PAUSED;
  }
  return 0;
}

int on_message_complete(llhttp_t* p) {
  Response* r = response_of(p);
  if (!r->decoder) return 0;  // end of an interim response
  if (!r->decoder->finish(r->body)) {
    r->failed = true;
    return HPE_USER;
  }
  r->truncated = r->truncated || r->decoder->truncated();
  r->complete = true;
  return HPE_PAUSED;
}

const llhttp_settings_t& settings() {
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_header_field = on_header_field;
    s.on_header_value = on_header_value;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    return s;
  }();
  return kSettings;
}

// Feeds `wire` piece by piece, as reads from a socket would arrive, then
// signals EOF as Connection::on_eof does. Each piece's length is taken from
// its first byte, so the fuzzer controls where the cuts fall.
void read_response(std::string_view wire, Response& r) {
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &settings());
  parser.data = &r;
  while (!wire.empty()) {
    std::size_t piece = 1 + static_cast<unsigned char>(wire.front()) % kMaxPiece;
    piece = std::min(piece, wire.size());
    llhttp_errno_t rc = llhttp_execute(&parser, wire.data(), piece);
    if (rc != HPE_OK) return;  // paused (done or truncated) or malformed
    wire.remove_prefix(piece);
  }
  (void)llhttp_finish(&parser);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Response r;
  read_response(std::string_view(reinterpret_cast<const char*>(data), size), r);
  if (r.body.size() > kMaxOutput) violated("decoded body exceeds max_output");
  // Identity copies every body byte up to the limit, no more and no fewer.
  if (r.identity && r.body.size() != std::min(r.wire_bytes, kMaxOutput)) {
    violated("identity body is not the wire body");
  }
  return 0;
}
