// Streaming Content-Encoding decoding (identity, gzip, deflate, br) with an
// output limit, so a decompression bomb stops at the limit instead of filling
// memory.
//
// Not thread-safe; one decoder per response. Used on the loop thread, fed one
// network chunk at a time, so each call does work proportional to its input.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace webcrawl::parser {

class ContentDecoder {
 public:
  // `encoding` is the Content-Encoding header value (case-insensitive; empty or
  // "identity" means none; "x-gzip" is gzip). "deflate" accepts both zlib-wrapped
  // and raw deflate streams, since servers send either. Unknown encodings fail
  // with kHttp ("unsupported content-encoding: xyz"). `max_output` bounds the
  // total decoded size.
  static Result<std::unique_ptr<ContentDecoder>> create(std::string_view encoding,
                                                        std::size_t max_output);
  virtual ~ContentDecoder() = default;

  // Appends the decoded form of `chunk` to `out`. Stops writing once
  // max_output bytes have been produced in total and sets truncated(); further
  // input is then ignored. Fails with kParse on corrupt input.
  virtual Result<void> feed(std::string_view chunk, std::string& out) = 0;
  // Called at the end of the body; fails with kParse when the compressed stream
  // was cut short (unless output was already truncated at the limit).
  virtual Result<void> finish(std::string& out) = 0;

  bool truncated() const { return truncated_; }

 protected:
  bool truncated_ = false;
};

}  // namespace webcrawl::parser
