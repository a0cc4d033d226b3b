#include "parser/content_decoder.h"

#include "parser/ascii.h"

#include <brotli/decode.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <string>

namespace webcrawl::parser {
namespace {

// Decoders inflate into a fixed buffer of this size and copy out only what
// fits under the limit, so a bomb never makes us allocate past max_output.
constexpr std::size_t kStep = 16 * 1024;

Error corrupt(std::string_view what, std::string_view detail) {
  return make_error(Code::kParse, std::string(what) + ": " + std::string(detail));
}

// Holds the output limit shared by every decoder.
class LimitedDecoder : public ContentDecoder {
 protected:
  explicit LimitedDecoder(std::size_t max_output) : max_output_(max_output) {}

  // Appends what still fits under the limit; marks truncation when some of
  // `bytes` had to be dropped.
  void emit(std::string_view bytes, std::string& out) {
    std::size_t take = std::min(bytes.size(), max_output_ - produced_);
    out.append(bytes.data(), take);
    produced_ += take;
    if (take < bytes.size()) truncated_ = true;
  }

 private:
  std::size_t max_output_;
  std::size_t produced_ = 0;
};

class IdentityDecoder final : public LimitedDecoder {
 public:
  explicit IdentityDecoder(std::size_t max_output) : LimitedDecoder(max_output) {}

  Result<void> feed(std::string_view chunk, std::string& out) override {
    if (!truncated_) emit(chunk, out);
    return {};
  }
  Result<void> finish(std::string&) override { return {}; }
};

// gzip and deflate through zlib. Each stream starts by sniffing its first two
// bytes: a gzip magic or a valid zlib header picks the wrapper, anything else
// under "deflate" is raw deflate (RFC 9110 says zlib, but many servers send raw).
class ZlibDecoder final : public LimitedDecoder {
 public:
  enum class Format { kGzip, kDeflate };

  ZlibDecoder(Format format, std::size_t max_output)
      : LimitedDecoder(max_output), format_(format) {}
  ~ZlibDecoder() override {
    if (initialized_) inflateEnd(&strm_);
  }
  ZlibDecoder(const ZlibDecoder&) = delete;
  ZlibDecoder& operator=(const ZlibDecoder&) = delete;

  Result<void> feed(std::string_view chunk, std::string& out) override {
    while (!chunk.empty() && !truncated_ && state_ != State::kDone) {
      Result<std::size_t> used =
          state_ == State::kSniff ? sniff(chunk, out) : inflate_some(chunk, out);
      if (!used) return used.error();
      chunk.remove_prefix(*used);
    }
    return {};
  }

  Result<void> finish(std::string&) override {
    if (truncated_ || state_ == State::kDone) return {};
    // Between gzip members, or an empty body (common on redirects and HEAD-like
    // replies that still carry Content-Encoding).
    if (state_ == State::kSniff && head_.empty()) return {};
    return corrupt(name(), "compressed stream cut short");
  }

 private:
  enum class State { kSniff, kInflate, kDone };

  const char* name() const { return format_ == Format::kGzip ? "gzip" : "deflate"; }

  static bool is_gzip_magic(std::string_view b) {
    return static_cast<unsigned char>(b[0]) == 0x1f && static_cast<unsigned char>(b[1]) == 0x8b;
  }
  // RFC 1950: CM = 8 (deflate), CINFO <= 7, and the header is a multiple of 31.
  static bool is_zlib_header(std::string_view b) {
    unsigned cmf = static_cast<unsigned char>(b[0]);
    unsigned flg = static_cast<unsigned char>(b[1]);
    return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
  }

  // Collects the first two bytes of a stream, then starts inflating with
  // them. Returns how much of `chunk` it took.
  Result<std::size_t> sniff(std::string_view chunk, std::string& out) {
    std::size_t take = std::min(chunk.size(), 2 - head_.size());
    head_.append(chunk.data(), take);
    if (head_.size() < 2) return take;
    std::string head = std::move(head_);
    head_.clear();
    int window_bits = 0;
    if (is_gzip_magic(head)) {
      window_bits = 16 + MAX_WBITS;
    } else if (members_ > 0) {
      // Bytes after a complete gzip member that do not start another one:
      // trailing garbage, which browsers ignore too.
      state_ = State::kDone;
      return chunk.size();
    } else if (is_zlib_header(head)) {
      window_bits = MAX_WBITS;
    } else if (format_ == Format::kDeflate) {
      window_bits = -MAX_WBITS;
    } else {
      return corrupt(name(), "not a gzip stream");
    }
    Result<void> started = start(window_bits);
    if (!started) return started.error();
    // Two bytes can complete only a raw deflate stream, after which the rest
    // is ignored anyway, so whether inflate took both does not matter here.
    Result<std::size_t> used = inflate_some(head, out);
    if (!used) return used.error();
    return take;
  }

  Result<void> start(int window_bits) {
    strm_.next_in = nullptr;
    strm_.avail_in = 0;
    int rc = initialized_ ? inflateReset2(&strm_, window_bits) : inflateInit2(&strm_, window_bits);
    if (rc != Z_OK) return corrupt(name(), "cannot initialize zlib");
    initialized_ = true;
    gzip_wrapped_ = window_bits > MAX_WBITS;
    state_ = State::kInflate;
    return {};
  }

  // Inflates from `in` until it is used up, the stream ends, or the output
  // limit is hit. Returns how many bytes of `in` were consumed.
  Result<std::size_t> inflate_some(std::string_view in, std::string& out) {
    std::size_t size = std::min<std::size_t>(in.size(), UINT_MAX);
    strm_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    strm_.avail_in = static_cast<uInt>(size);
    for (;;) {
      strm_.next_out = buffer_.data();
      strm_.avail_out = static_cast<uInt>(buffer_.size());
      int rc = inflate(&strm_, Z_NO_FLUSH);
      std::size_t produced = buffer_.size() - strm_.avail_out;
      emit({reinterpret_cast<const char*>(buffer_.data()), produced}, out);
      if (rc == Z_STREAM_END) {
        end_stream();
        break;
      }
      if (rc == Z_NEED_DICT) return corrupt(name(), "preset dictionary not supported");
      if (rc == Z_DATA_ERROR) return corrupt(name(), strm_.msg ? strm_.msg : "corrupt data");
      if (rc == Z_MEM_ERROR) return corrupt(name(), "out of memory");
      // Z_BUF_ERROR: no progress possible without more input.
      if (rc == Z_BUF_ERROR || truncated_) break;
      if (strm_.avail_in == 0 && strm_.avail_out != 0) break;
    }
    return size - strm_.avail_in;
  }

  // RFC 1952 allows several gzip members back to back; zlib and raw deflate
  // streams end for good.
  void end_stream() {
    ++members_;
    state_ = gzip_wrapped_ ? State::kSniff : State::kDone;
  }

  Format format_;
  State state_ = State::kSniff;
  std::string head_;  // first bytes of a stream, until there are two
  z_stream strm_{};
  bool initialized_ = false;
  bool gzip_wrapped_ = false;
  int members_ = 0;
  std::array<Bytef, kStep> buffer_{};
};

class BrotliDecoder final : public LimitedDecoder {
 public:
  BrotliDecoder(BrotliDecoderState* state, std::size_t max_output)
      : LimitedDecoder(max_output), state_(state) {}
  ~BrotliDecoder() override { BrotliDecoderDestroyInstance(state_); }
  BrotliDecoder(const BrotliDecoder&) = delete;
  BrotliDecoder& operator=(const BrotliDecoder&) = delete;

  Result<void> feed(std::string_view chunk, std::string& out) override {
    if (chunk.empty() || truncated_ || done_) return {};
    started_ = true;
    std::size_t avail_in = chunk.size();
    auto* next_in = reinterpret_cast<const uint8_t*>(chunk.data());
    while (!truncated_) {
      std::size_t avail_out = buffer_.size();
      uint8_t* next_out = buffer_.data();
      BrotliDecoderResult rc =
          BrotliDecoderDecompressStream(state_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      std::size_t produced = buffer_.size() - avail_out;
      emit({reinterpret_cast<const char*>(buffer_.data()), produced}, out);
      if (rc == BROTLI_DECODER_RESULT_ERROR) {
        return corrupt("br", BrotliDecoderErrorString(BrotliDecoderGetErrorCode(state_)));
      }
      if (rc == BROTLI_DECODER_RESULT_SUCCESS) {
        done_ = true;  // trailing bytes after the stream are ignored
        break;
      }
      if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) break;
    }
    return {};
  }

  Result<void> finish(std::string&) override {
    if (truncated_ || done_ || !started_) return {};
    return corrupt("br", "compressed stream cut short");
  }

 private:
  BrotliDecoderState* state_;
  bool started_ = false;
  bool done_ = false;
  std::array<uint8_t, kStep> buffer_{};
};

}  // namespace

Result<std::unique_ptr<ContentDecoder>> ContentDecoder::create(std::string_view encoding,
                                                               std::size_t max_output) {
  std::string_view name = trim_ows(encoding);
  if (name.empty() || iequals(name, "identity")) {
    return std::unique_ptr<ContentDecoder>(std::make_unique<IdentityDecoder>(max_output));
  }
  if (iequals(name, "gzip") || iequals(name, "x-gzip")) {
    return std::unique_ptr<ContentDecoder>(
        std::make_unique<ZlibDecoder>(ZlibDecoder::Format::kGzip, max_output));
  }
  if (iequals(name, "deflate")) {
    return std::unique_ptr<ContentDecoder>(
        std::make_unique<ZlibDecoder>(ZlibDecoder::Format::kDeflate, max_output));
  }
  if (iequals(name, "br")) {
    BrotliDecoderState* state = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    if (!state) return make_error(Code::kParse, "br: cannot allocate decoder");
    return std::unique_ptr<ContentDecoder>(std::make_unique<BrotliDecoder>(state, max_output));
  }
  return make_error(Code::kHttp, "unsupported content-encoding: " + std::string(name));
}

}  // namespace webcrawl::parser
