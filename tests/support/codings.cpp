#include "tests/support/codings.h"

#include <brotli/encode.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <cstdint>
#include <stdexcept>

namespace webcrawl::testing {
namespace {

class Deflater {
 public:
  explicit Deflater(int window_bits) {
    if (deflateInit2(&s_, Z_BEST_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::runtime_error("deflateInit2 failed");
    }
  }
  ~Deflater() { deflateEnd(&s_); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Compresses all of `in`, then flushes as `flush` says.
  std::string run(std::string_view in, int flush) {
    std::string out(deflateBound(&s_, static_cast<uLong>(in.size())) + 64, '\0');
    s_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    s_.avail_in = static_cast<uInt>(in.size());
    s_.next_out = reinterpret_cast<Bytef*>(out.data());
    s_.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&s_, flush);
    if (rc == Z_STREAM_ERROR || s_.avail_in != 0) throw std::runtime_error("deflate failed");
    if (flush == Z_FINISH && rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
    out.resize(out.size() - s_.avail_out);
    return out;
  }

 private:
  z_stream s_{};
};

}  // namespace

std::string zlib_compress(std::string_view data, int window_bits) {
  return Deflater(window_bits).run(data, Z_FINISH);
}

std::string gzip(std::string_view data) { return zlib_compress(data, 16 + MAX_WBITS); }
std::string zlib_wrapped(std::string_view data) { return zlib_compress(data, MAX_WBITS); }
std::string raw_deflate(std::string_view data) { return zlib_compress(data, -MAX_WBITS); }

std::string brotli(std::string_view data) {
  std::size_t size = BrotliEncoderMaxCompressedSize(data.size());
  std::string out(size, '\0');
  if (BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, data.size(),
                            reinterpret_cast<const uint8_t*>(data.data()), &size,
                            reinterpret_cast<uint8_t*>(out.data())) != BROTLI_TRUE) {
    throw std::runtime_error("BrotliEncoderCompress failed");
  }
  out.resize(size);
  return out;
}

std::string zeros_bomb(int window_bits, int mib) {
  Deflater deflater(window_bits);
  const std::string zeros(1 << 20, '\0');
  std::string bomb = deflater.run(zeros, Z_SYNC_FLUSH);
  const std::string block = deflater.run(zeros, Z_SYNC_FLUSH);
  for (int i = 1; i < mib; ++i) bomb += block;
  bomb += deflater.run({}, Z_FINISH);
  return bomb;
}

std::string sha1(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), size);
}

}  // namespace webcrawl::testing
