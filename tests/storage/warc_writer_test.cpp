#include "storage/warc_writer.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <string>

#include "tests/support/temp_dir.h"
#include "tests/support/warc_reader.h"

namespace webcrawl::storage {
namespace {

namespace fs = std::filesystem;
using parser::WarcExchange;
using testing::ReadRecord;
using testing::TempDir;

std::string raw_sha1(std::string_view s) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return std::string(reinterpret_cast<const char*>(md), sizeof md);
}

// Bytes that do not compress, so sizes on disk are predictable.
std::string noise(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// A 200 with a Content-Length body fetched from `url`.
WarcExchange page(const std::string& url, const std::string& body, int status = 200) {
  WarcExchange x;
  x.target_uri = url;
  x.ip_address = "127.0.0.1";
  x.date = 1717243200 + static_cast<double>(url.size());
  x.request = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
  std::string head = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n";
  x.response = head + body;
  x.head_size = head.size();
  x.payload_sha1 = raw_sha1(body);
  return x;
}

WarcWriterOptions options(uint64_t max_size = WarcWriterOptions::kDefaultMaxSize) {
  WarcWriterOptions o;
  o.max_size = max_size;
  o.hostname = "test-host";
  o.info = {{"robots", "classic"}, {"http-header-user-agent", "webcrawl/0.1"}};
  return o;
}

std::unique_ptr<WarcWriter> open_writer(const fs::path& dir, const WarcWriterOptions& o = options()) {
  auto w = WarcWriter::open(dir.string(), o);
  INFO((w ? "" : w.error().message));
  REQUIRE(w);
  return std::move(*w);
}

WarcWritten write(WarcWriter& w, const WarcExchange& x) {
  auto written = w.write(x);
  INFO((written ? "" : written.error().message));
  REQUIRE(written);
  return *written;
}

std::vector<std::string> warc_files(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

ReadRecord record_at(const fs::path& dir, const WarcWritten& where) {
  return testing::read_record_at(testing::file_bytes((dir / where.filename).string()), where.offset);
}

std::string serial_of(const std::string& name) { return name.substr(27, 5); }

}  // namespace

TEST_CASE("a new directory gets a file named by the IIPC convention that starts with warcinfo", "[warc]") {
  TempDir tmp;
  fs::path dir = tmp.file("a/b/warcs");
  auto w = open_writer(dir);
  REQUIRE(w->sync());
  CHECK(w->repair_report().empty());
  std::string name = w->current_file();
  CHECK(testing::has_shape(name, "webcrawl-#################-00000-test-host.warc.gz"));
  CHECK(warc_files(dir) == std::vector<std::string>{name});
  auto records = testing::read_warc_file((dir / name).string());
  REQUIRE(records.size() == 1);
  CHECK(records[0].field("WARC-Type") == "warcinfo");
  CHECK(records[0].field("WARC-Filename") == name);
  CHECK(records[0].block.find("\r\nrobots: classic\r\n") != std::string::npos);
}

TEST_CASE("write returns the offset and length of the member holding the response", "[warc]") {
  TempDir tmp;
  auto w = open_writer(tmp.path());
  std::vector<WarcWritten> written;
  for (int i = 0; i < 3; ++i) {
    written.push_back(write(*w, page("http://a.test/" + std::to_string(i), "body " + std::to_string(i))));
  }
  for (int i = 0; i < 3; ++i) {
    ReadRecord r = record_at(tmp.path(), written[i]);
    CHECK(r.field("WARC-Type") == "response");
    CHECK(r.field("WARC-Target-URI") == "http://a.test/" + std::to_string(i));
    CHECK(r.field("WARC-Record-ID") == written[i].record_id);
    CHECK(r.field("WARC-Date") == written[i].date);
    CHECK(r.member_size == written[i].length);
    CHECK_FALSE(written[i].revisit);
  }
  auto records = testing::read_warc_file((tmp.path() / w->current_file()).string());
  REQUIRE(records.size() == 7);
  std::string info_id = records[0].field("WARC-Record-ID");
  for (std::size_t i = 1; i < records.size(); i += 2) {
    CHECK(records[i].field("WARC-Type") == "request");
    CHECK(records[i].field("WARC-Concurrent-To") == records[i + 1].field("WARC-Record-ID"));
    CHECK(records[i + 1].field("WARC-Warcinfo-ID") == info_id);
    CHECK(records[i + 1].field("WARC-Block-Digest") == testing::expected_digest(records[i + 1].block));
  }
}

TEST_CASE("captures past --warc-max-size go to new files, each with its warcinfo", "[warc]") {
  TempDir tmp;
  constexpr uint64_t kMax = 5000;
  auto w = open_writer(tmp.path(), options(kMax));
  std::vector<WarcWritten> written;
  for (unsigned i = 0; i < 12; ++i) {
    written.push_back(write(*w, page("http://a.test/" + std::to_string(i), noise(1500, i))));
  }
  REQUIRE(w->sync());
  auto files = warc_files(tmp.path());
  REQUIRE(files.size() >= 4);
  for (std::size_t i = 0; i < files.size(); ++i) {
    CHECK(std::stoi(serial_of(files[i])) == static_cast<int>(i));
    CHECK(fs::file_size(tmp.path() / files[i]) <= kMax);
    auto records = testing::read_warc_file((tmp.path() / files[i]).string());
    REQUIRE(records.size() >= 3);
    CHECK(records[0].field("WARC-Type") == "warcinfo");
    CHECK(records[0].field("WARC-Filename") == files[i]);
    for (std::size_t r = 1; r < records.size(); ++r) {
      CHECK(records[r].field("WARC-Warcinfo-ID") == records[0].field("WARC-Record-ID"));
    }
  }
  for (unsigned i = 0; i < 12; ++i) {
    CHECK(record_at(tmp.path(), written[i]).field("WARC-Target-URI") == "http://a.test/" + std::to_string(i));
  }
}

TEST_CASE("a capture bigger than the limit goes in alone after the warcinfo", "[warc]") {
  TempDir tmp;
  auto w = open_writer(tmp.path(), options(1000));
  WarcWritten small = write(*w, page("http://a.test/s", "tiny"));
  WarcWritten big = write(*w, page("http://a.test/big", noise(20000, 1)));
  WarcWritten after = write(*w, page("http://a.test/after", "tiny too"));
  CHECK(big.filename != small.filename);
  CHECK(after.filename != big.filename);
  CHECK(testing::read_warc_file((tmp.path() / big.filename).string()).size() == 3);
}

TEST_CASE("a payload archived before is written as a revisit of the first record", "[warc]") {
  TempDir tmp;
  auto w = open_writer(tmp.path());
  std::string body = "<html>the same page under two URLs</html>";
  WarcWritten first = write(*w, page("http://a.test/one", body));
  // Read-back must stop at the original's member, not run on into these.
  WarcWritten other = write(*w, page("http://a.test/three", "another page"));
  WarcWritten second = write(*w, page("http://a.test/two", body));
  CHECK_FALSE(first.revisit);
  CHECK(second.revisit);
  CHECK_FALSE(other.revisit);
  CHECK(w->remembered() == 2);
  ReadRecord r = record_at(tmp.path(), second);
  CHECK(r.field("WARC-Type") == "revisit");
  CHECK(r.field("WARC-Record-ID") == second.record_id);
  CHECK(r.field("WARC-Refers-To") == first.record_id);
  CHECK(r.field("WARC-Refers-To-Target-URI") == "http://a.test/one");
  CHECK(r.field("WARC-Refers-To-Date") == first.date);
  CHECK(r.field("WARC-Payload-Digest") == testing::expected_digest(body));
  CHECK(r.block == page("http://a.test/two", body).response.substr(0, page("", body).head_size));
  CHECK(r.member_size == second.length);
}

TEST_CASE("empty payloads are never revisits", "[warc]") {
  TempDir tmp;
  auto w = open_writer(tmp.path());
  CHECK_FALSE(write(*w, page("http://a.test/r1", "", 301)).revisit);
  CHECK_FALSE(write(*w, page("http://a.test/r2", "", 301)).revisit);
  CHECK(w->remembered() == 0);
}

TEST_CASE("a revisit can refer to a record in an earlier file", "[warc]") {
  TempDir tmp;
  auto w = open_writer(tmp.path(), options(3000));
  std::string body = noise(2000, 7);
  WarcWritten first = write(*w, page("http://a.test/one", body));
  write(*w, page("http://a.test/filler", noise(2000, 8)));
  WarcWritten again = write(*w, page("http://a.test/two", body));
  CHECK(again.filename != first.filename);
  REQUIRE(again.revisit);
  CHECK(record_at(tmp.path(), again).field("WARC-Refers-To") == first.record_id);
}

TEST_CASE("remember() lets a resumed crawl revisit what an earlier run archived", "[warc]") {
  TempDir tmp;
  std::string body = "kept from the first run";
  WarcWritten first;
  {
    auto w = open_writer(tmp.path());
    first = write(*w, page("http://a.test/one", body));
    REQUIRE(w->sync());
  }
  SECTION("remembered") {
    auto w = open_writer(tmp.path());
    CHECK(serial_of(w->current_file()) == "00001");
    w->remember(raw_sha1(body), first.filename, first.offset);
    WarcWritten again = write(*w, page("http://a.test/two", body));
    REQUIRE(again.revisit);
    CHECK(record_at(tmp.path(), again).field("WARC-Refers-To") == first.record_id);
  }
  SECTION("not remembered") {
    auto w = open_writer(tmp.path());
    CHECK_FALSE(write(*w, page("http://a.test/two", body)).revisit);
  }
}

TEST_CASE("a remembered record that cannot be read back is replaced by the next response", "[warc]") {
  TempDir tmp;
  auto w = open_writer(tmp.path());
  std::string body = "payload";
  w->remember(raw_sha1(body), "gone.warc.gz", 123);
  WarcWritten first = write(*w, page("http://a.test/one", body));
  CHECK_FALSE(first.revisit);
  WarcWritten second = write(*w, page("http://a.test/two", body));
  REQUIRE(second.revisit);
  CHECK(record_at(tmp.path(), second).field("WARC-Refers-To") == first.record_id);
}

TEST_CASE("a digest that shares only its first 8 bytes gets a full response", "[warc]") {
  TempDir tmp;
  auto w = open_writer(tmp.path());
  WarcWritten y = write(*w, page("http://a.test/y", "payload y"));
  std::string x_body = "payload x";
  std::string lookalike = raw_sha1(x_body).substr(0, 8) + raw_sha1("something else").substr(8);
  w->remember(lookalike, y.filename, y.offset);  // x's table slot now points at y's record
  CHECK_FALSE(write(*w, page("http://a.test/x1", x_body)).revisit);
  CHECK_FALSE(write(*w, page("http://a.test/x2", x_body)).revisit);
}

TEST_CASE("open cuts a torn member off the newest file, wherever the cut fell", "[warc]") {
  TempDir tmp;
  fs::path origin = tmp.file("origin");
  std::string name;
  uint64_t last_start = 0;
  {
    auto w = open_writer(origin);
    for (int i = 0; i < 5; ++i) last_start = write(*w, page("http://a.test/" + std::to_string(i), noise(3000, i))).offset;
    name = w->current_file();
  }
  std::string whole = testing::file_bytes((origin / name).string());
  std::size_t records = testing::read_warc(whole).size();
  std::mt19937 rng(42);
  std::vector<uint64_t> cuts = {last_start + 1, last_start + 10, whole.size() - 1, whole.size() - 8};
  for (int i = 0; i < 8; ++i) cuts.push_back(last_start + 1 + rng() % (whole.size() - last_start - 1));
  for (uint64_t cut : cuts) {
    INFO("cut at " << cut << " of " << whole.size());
    TempDir run;
    run.write(name, whole.substr(0, cut));
    auto w = open_writer(run.path());
    CHECK(w->repair_report().find(name) != std::string::npos);
    std::string repaired = testing::file_bytes((run.path() / name).string());
    CHECK(repaired == whole.substr(0, last_start));
    CHECK(testing::read_warc(repaired).size() == records - 1);
    CHECK(serial_of(w->current_file()) == "00001");
    WarcWritten after = write(*w, page("http://a.test/after", "new"));
    CHECK(record_at(run.path(), after).field("WARC-Target-URI") == "http://a.test/after");
  }
}

TEST_CASE("open cuts bytes after the last member and leaves older files alone", "[warc]") {
  TempDir tmp;
  std::vector<std::string> names;
  for (int run = 0; run < 2; ++run) {
    auto w = open_writer(tmp.path());
    write(*w, page("http://a.test/" + std::to_string(run), "body"));
    names.push_back(w->current_file());
  }
  std::string older = testing::file_bytes((tmp.path() / names[0]).string());
  std::string newest = testing::file_bytes((tmp.path() / names[1]).string());
  SECTION("zeros, as a power cut leaves them") { tmp.write(names[1], newest + std::string(4096, '\0')); }
  SECTION("a partial member of another writer") {
    tmp.write(names[1], newest + testing::gzip_member("WARC/1.1\r\n").substr(0, 15));
  }
  auto w = open_writer(tmp.path());
  CHECK_FALSE(w->repair_report().empty());
  CHECK(testing::file_bytes((tmp.path() / names[1]).string()) == newest);
  CHECK(testing::file_bytes((tmp.path() / names[0]).string()) == older);
  CHECK(serial_of(w->current_file()) == "00002");
}

TEST_CASE("a newest file with no intact member is removed", "[warc]") {
  TempDir tmp;
  std::string name;
  {
    auto w = open_writer(tmp.path());
    name = w->current_file();
  }
  std::string whole = testing::file_bytes((tmp.path() / name).string());
  tmp.write(name, whole.substr(0, whole.size() / 2));
  auto w = open_writer(tmp.path());
  CHECK(w->repair_report().find("removed " + name) == 0);
  CHECK_FALSE(fs::exists(tmp.path() / name));
  CHECK(serial_of(w->current_file()) == "00001");
}

TEST_CASE("a clean newest file is not touched and yields an empty report", "[warc]") {
  TempDir tmp;
  { open_writer(tmp.path()); }
  auto w = open_writer(tmp.path());
  CHECK(w->repair_report().empty());
  CHECK(warc_files(tmp.path()).size() == 2);
}

TEST_CASE("a directory path that is a file is an error naming it", "[warc]") {
  TempDir tmp;
  fs::path file = tmp.write("plain", "x");
  auto w = WarcWriter::open(file.string(), options());
  REQUIRE_FALSE(w);
  CHECK(w.error().code == Code::kIo);
  CHECK(w.error().message.find(file.string()) != std::string::npos);
  auto below = WarcWriter::open((file / "sub").string(), options());
  REQUIRE_FALSE(below);
  CHECK(below.error().message.find("sub") != std::string::npos);
}

TEST_CASE("a directory that cannot be written is an error naming it", "[warc]") {
  TempDir tmp;
  // Root writes through file modes, so it gets procfs, which takes no files.
  fs::path dir = ::geteuid() == 0 ? fs::path("/proc") : tmp.file("locked");
  if (::geteuid() != 0) {
    fs::create_directory(dir);
    fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
  }
  auto w = WarcWriter::open(dir.string(), options());
  REQUIRE_FALSE(w);
  CHECK(w.error().code == Code::kIo);
  CHECK(w.error().message.find("cannot create " + dir.string() + "/webcrawl-") == 0);
  if (::geteuid() != 0) fs::permissions(dir, fs::perms::owner_all);
}

TEST_CASE("a write the disk refuses is cut back and the file stays readable", "[warc]") {
  TempDir tmp;
  auto w = open_writer(tmp.path());
  WarcWritten kept = write(*w, page("http://a.test/kept", "fits"));
  fs::path file = tmp.path() / kept.filename;
  uint64_t before = fs::file_size(file);
  // RLIMIT_FSIZE makes write() fail with EFBIG past the limit, as a full disk
  // fails it with ENOSPC, after taking what fits.
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = before + 1000;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  auto refused = w->write(page("http://a.test/big", noise(50000, 3)));
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Code::kIo);
  CHECK(refused.error().message.find(file.string()) != std::string::npos);
  CHECK(fs::file_size(file) == before);
  WarcWritten next = write(*w, page("http://a.test/next", "after the refusal"));
  CHECK(record_at(tmp.path(), next).field("WARC-Target-URI") == "http://a.test/next");
  CHECK(testing::read_warc_file(file.string()).size() == 5);
}

}  // namespace webcrawl::storage
