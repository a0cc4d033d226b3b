// bench_warc_compress: the CPU cost of compressing WARC records into gzip
// members (issue 15), zlib against libdeflate, so parser/warc.cpp keeps the
// cheaper one.
//
//   bench_warc_compress DIR [ROUNDS]
//
// Reads every *.html file below DIR (a site written by bench_gen_site),
// wraps each in what the writer compresses per page, a WARC response header
// and an HTTP response head before the body, and compresses every record as
// its own gzip member ROUNDS times (default 5) with each method. A method
// keeps one compressor across records, as the writer does. Prints, per
// method, input MB per CPU second, CPU microseconds per record and per MB, and
// compressed size against input. Times are the process's CPU time, so a busy
// machine slows the wall clock but not the figures much.
#include <libdeflate.h>
#include <zlib.h>

#include <time.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

namespace {

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// What the writer compresses for one page: about 600 bytes of WARC header
// and 250 of HTTP head, then the page.
std::string record_for(const std::string& page, std::size_t serial) {
  std::string http = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 01 Jun 2024 12:00:00 GMT\r\n"
                     "Content-Type: text/html\r\nContent-Length: " +
                     std::to_string(page.size()) +
                     "\r\nLast-Modified: Fri, 31 May 2024 08:00:00 GMT\r\nConnection: keep-alive\r\n"
                     "ETag: \"665983c0-" +
                     std::to_string(serial) + "\"\r\nAccept-Ranges: bytes\r\n\r\n" + page;
  std::string warc = "WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:3f1c2a9e-8b7d-4e21-9a0f-" +
                     std::to_string(100000000000 + serial) +
                     ">\r\nWARC-Date: 2024-06-01T12:00:00.123456Z\r\nWARC-Target-URI: http://127.0.1.1:8741/p" +
                     std::to_string(serial) +
                     ".html\r\nWARC-IP-Address: 127.0.1.1\r\nWARC-Concurrent-To: "
                     "<urn:uuid:0b5e1f3c-2d4a-4c6b-8e9f-a1b2c3d4e5f6>\r\nWARC-Warcinfo-ID: "
                     "<urn:uuid:9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d>\r\nWARC-Block-Digest: "
                     "sha1:ZJ6OTQG3ZK2ND4P7XPU3LYCM6XKR7T3A\r\nWARC-Payload-Digest: "
                     "sha1:L5CH2Z4K3NFMEJ7ZZ2HTTQWPQXRV6YA4\r\nContent-Type: application/http; "
                     "msgtype=response\r\nContent-Length: " +
                     std::to_string(http.size()) + "\r\n\r\n";
  return warc + http + "\r\n\r\n";
}

std::vector<std::string> load_records(const std::filesystem::path& dir) {
  std::vector<std::string> records;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".html") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    records.push_back(record_for(page, records.size()));
  }
  return records;
}

// Compresses one record into `out` and returns the member's size.
using Compress = std::function<std::size_t(const std::string& record, std::string& out)>;

Compress zlib_method(int level) {
  auto stream = std::make_shared<z_stream>();
  deflateInit2(stream.get(), level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  return [stream](const std::string& record, std::string& out) {
    z_stream* s = stream.get();
    deflateReset(s);
    out.resize(deflateBound(s, record.size()));
    s->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(record.data()));
    s->avail_in = static_cast<uInt>(record.size());
    s->next_out = reinterpret_cast<Bytef*>(out.data());
    s->avail_out = static_cast<uInt>(out.size());
    deflate(s, Z_FINISH);
    return static_cast<std::size_t>(s->total_out);
  };
}

Compress libdeflate_method(int level) {
  std::shared_ptr<libdeflate_compressor> c(libdeflate_alloc_compressor(level), libdeflate_free_compressor);
  return [c](const std::string& record, std::string& out) {
    out.resize(libdeflate_gzip_compress_bound(c.get(), record.size()));
    return libdeflate_gzip_compress(c.get(), record.data(), record.size(), out.data(), out.size());
  };
}

void run(const char* name, const Compress& compress, const std::vector<std::string>& records,
         int rounds) {
  std::string out;
  double input = 0, output = 0;
  double start = cpu_seconds();
  for (int r = 0; r < rounds; ++r) {
    for (const std::string& record : records) {
      input += static_cast<double>(record.size());
      output += static_cast<double>(compress(record, out));
    }
  }
  double cpu = cpu_seconds() - start;
  double mb = input / 1e6;
  double count = static_cast<double>(records.size()) * rounds;
  std::printf("%-14s %8.1f MB/s %9.1f us/record %8.2f ms/MB %7.3f ratio\n", name, mb / cpu,
              cpu / count * 1e6, cpu / mb * 1e3, output / input);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: bench_warc_compress DIR [ROUNDS]\n");
    return 2;
  }
  std::vector<std::string> records = load_records(argv[1]);
  if (records.empty()) {
    std::fprintf(stderr, "no .html files below %s\n", argv[1]);
    return 1;
  }
  int rounds = argc == 3 ? std::stoi(argv[2]) : 5;
  double total = 0;
  for (const std::string& r : records) total += static_cast<double>(r.size());
  std::printf("%zu records, mean %.1f KB, %d rounds\n", records.size(), total / records.size() / 1e3,
              rounds);
  run("zlib -1", zlib_method(1), records, rounds);
  run("zlib -6", zlib_method(6), records, rounds);
  run("libdeflate -1", libdeflate_method(1), records, rounds);
  run("libdeflate -3", libdeflate_method(3), records, rounds);
  run("libdeflate -6", libdeflate_method(6), records, rounds);
  return 0;
}
