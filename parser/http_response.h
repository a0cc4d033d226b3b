// One HTTP/1.1 response, read from bytes (sans-I/O, as llhttp and nghttp2
// are): feed what arrived, ask what is complete. llhttp does the framing
// (Content-Length, chunked, close-delimited, no body for 1xx/204/304);
// ContentDecoder removes the content coding as the body arrives, capped at
// a size limit. Interim responses (100 Continue, 103 Early Hints) are read
// and dropped; the final response is what remains.
//
// Knows nothing of sockets or loops: the fetcher feeds it network reads and
// the fuzz target feeds it arbitrary bytes, so both drive the same code.
// One parser per response; not thread-safe.
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

namespace webcrawl::parser {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The first value of header `name` (ASCII case-insensitive), or "" when absent.
std::string_view header_value(const Headers& headers, std::string_view name);

struct ResponseLimits {
  std::size_t max_body = 10u << 20;          // decoded body bytes; the rest is cut
  std::size_t max_header_bytes = 64 * 1024;  // status line and header fields, in all
  // Keep the final response as received (status line, headers, body with its
  // transfer coding) and the SHA-1 of its entity body, for WARC records.
  bool keep_raw = false;
  // The response to a CONNECT: it has no body, and the bytes after its head
  // belong to the tunnel.
  bool connect = false;
};

struct HttpResponse {
  int status = 0;
  Headers headers;          // the final response's fields, in arrival order, as sent; no trailers
  std::string body;         // content coding removed; at most max_body bytes
  int64_t body_bytes = 0;   // entity bytes received: transfer coding removed, content coding kept
  bool truncated = false;   // the body was cut at max_body
  bool keep_alive = false;  // the connection may carry another request
  // With ResponseLimits::keep_raw:
  std::string raw;          // the final response as received, up to where reading stopped
  std::size_t head_size = 0;  // bytes of `raw` that are the status line and headers
  std::string payload_sha1;   // 20 bytes: SHA-1 of the entity body bytes received

  std::string_view header(std::string_view name) const { return header_value(headers, name); }
};

class HttpResponseParser {
 public:
  enum class Progress {
    kNeedMore,  // feed more bytes, or finish_at_eof() when the peer closed
    kDone,      // response() is complete (or cut at max_body: truncated is set)
  };

  explicit HttpResponseParser(ResponseLimits limits = {});
  ~HttpResponseParser();
  HttpResponseParser(const HttpResponseParser&) = delete;
  HttpResponseParser& operator=(const HttpResponseParser&) = delete;

  // Reads `bytes`. Fails with kHttp for a malformed response ("malformed
  // response: ..." naming llhttp's reason, or "response headers too large"),
  // for an unsupported content coding, and with kParse for a corrupt
  // compressed body. Bytes after a complete response (a confused server) are
  // ignored and make the connection not reusable. Once kDone or failed,
  // further calls return the same outcome.
  Result<Progress> feed(std::string_view bytes);
  // The peer closed the connection: a close-delimited body ends here. Fails
  // with kNetwork when the response was cut short ("connection closed before
  // the response ended", or "... without a response" when nothing came).
  Result<Progress> finish_at_eof();

  bool started() const { return started_; }          // a byte of the response arrived
  bool head_complete() const { return head_done_; }  // the final status and headers are in
  bool done() const { return done_; }
  // With ResponseLimits::connect: the bytes that came after a 2xx head, which
  // belong to the tunnel.
  std::string_view tunnel_bytes() const { return tunnel_bytes_; }
  const HttpResponse& response() const { return response_; }
  HttpResponse take() { return std::move(response_); }

  struct State;  // llhttp's callbacks reach the parser through it

 private:
  Result<Progress> fail(Error error);
  void keep_raw(std::string_view bytes);
  bool raw_too_large() const;

  ResponseLimits limits_;
  std::unique_ptr<State> state_;
  HttpResponse response_;
  bool started_ = false;
  bool head_done_ = false;
  bool done_ = false;
  std::optional<Error> error_;
  std::string tunnel_bytes_;
};

}  // namespace webcrawl::parser
