// Content codings and digests for tests: compress a body the way a server
// would send it, build a decompression bomb cheaply, and compute the SHA-1 a
// WARC record carries. Failures throw std::runtime_error, so Catch reports a
// failed test with the library's reason.
#pragma once

#include <string>
#include <string_view>

namespace webcrawl::testing {

// zlib's deflate at its best compression; window_bits picks the wrapper:
// 16 + MAX_WBITS gzip, MAX_WBITS zlib, -MAX_WBITS raw deflate.
std::string zlib_compress(std::string_view data, int window_bits);
std::string gzip(std::string_view data);          // Content-Encoding: gzip
std::string zlib_wrapped(std::string_view data);  // Content-Encoding: deflate, as RFC 9110 means it
std::string raw_deflate(std::string_view data);   // Content-Encoding: deflate, as some servers send it
std::string brotli(std::string_view data);        // Content-Encoding: br

// A deflate stream (wrapper chosen by window_bits, as above) that inflates to
// `mib` MiB of zeros, built without compressing them all: after a sync flush
// every further MiB of zeros compresses to the same bytes, which only refer
// back to zeros, so one block is repeated. The trailer's checksum covers only
// 2 MiB; decoders are expected to stop long before it.
std::string zeros_bomb(int window_bits, int mib);

// The 20 raw bytes of the SHA-1 of data.
std::string sha1(std::string_view data);

}  // namespace webcrawl::testing
