// libFuzzer target for the response path without sockets: the input is a raw
// HTTP response, fed to parser::HttpResponseParser (the code the fetcher runs)
// in pieces whose sizes come from the input, then EOF. Invariants: the
// decoded body never exceeds max_body whatever the compression ratio; an
// identity body is exactly the entity bytes received, up to the limit; the
// raw capture holds the head and is bounded; feeding the same bytes whole
// gives the same outcome as feeding them in pieces.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "parser/ascii.h"
#include "parser/http_response.h"

namespace {

using webcrawl::parser::HttpResponse;
using webcrawl::parser::HttpResponseParser;
using webcrawl::parser::ResponseLimits;

constexpr std::size_t kMaxBody = 1 << 20;
constexpr std::size_t kMaxPiece = 128;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

struct Outcome {
  bool ok = false;
  bool done = false;
  HttpResponse response;
};

// Feeds `wire` as reads from a socket would arrive, then EOF as the fetcher
// does. With `piecewise`, each piece's length comes from its first byte, so
// the fuzzer controls where the cuts fall.
Outcome read_response(std::string_view wire, bool piecewise) {
  ResponseLimits limits;
  limits.max_body = kMaxBody;
  limits.keep_raw = true;
  HttpResponseParser parser(limits);
  Outcome out;
  out.ok = true;
  while (!wire.empty()) {
    std::size_t piece = piecewise ? 1 + static_cast<unsigned char>(wire.front()) % kMaxPiece : wire.size();
    piece = std::min(piece, wire.size());
    auto progress = parser.feed(wire.substr(0, piece));
    wire.remove_prefix(piece);
    if (!progress) {
      out.ok = false;
      break;
    }
    if (*progress == HttpResponseParser::Progress::kDone) break;
  }
  if (out.ok && !parser.done()) out.ok = parser.finish_at_eof().ok();
  out.done = parser.done();
  out.response = parser.take();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view wire(reinterpret_cast<const char*>(data), size);
  Outcome pieces = read_response(wire, true);
  const HttpResponse& r = pieces.response;
  if (r.body.size() > kMaxBody) violated("decoded body exceeds max_body");
  if (r.raw.size() > 64 * 1024 + 2 * kMaxBody + kMaxPiece + size) violated("raw capture unbounded");
  if (r.head_size > r.raw.size()) violated("head_size past the raw bytes");
  std::string_view encoding = webcrawl::parser::trim_ows(r.header("content-encoding"));
  bool identity = encoding.empty() || webcrawl::parser::iequals(encoding, "identity");
  if (pieces.done && identity &&
      r.body.size() != std::min(static_cast<std::size_t>(r.body_bytes), kMaxBody)) {
    violated("identity body is not the entity body");
  }
  if (pieces.done && r.payload_sha1.size() != 20) violated("no payload digest for a complete response");
  Outcome whole = read_response(wire, false);
  if (whole.ok != pieces.ok || whole.done != pieces.done || whole.response.status != r.status ||
      whole.response.body != r.body) {
    violated("feeding in pieces changed the outcome");
  }
  return 0;
}
