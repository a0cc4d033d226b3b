// A crawl with --warc: every exchange in the archive, read back by the
// tests' own WARC reader (tests/support/warc_reader.h, written apart from the
// writer), and the database as its index.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "tests/crawler/crawl_support.h"
#include "tests/support/test_server.h"
#include "tests/support/warc_reader.h"

using namespace webcrawl::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> warc_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Every record of every file, by file name (relative).
std::map<std::string, std::vector<ReadRecord>> read_archive(const std::string& dir) {
  std::map<std::string, std::vector<ReadRecord>> out;
  for (const std::string& f : warc_files(dir)) out[fs::path(f).filename().string()] = read_warc_file(f);
  return out;
}

// Every pages row with a record points at a readable response or revisit
// for its URL, whose payload digest is that of the bytes in the archive.
void check_rows_point_at_records(const std::string& db, const std::string& dir) {
  auto rows_with = rows(db, "SELECT url, warc_file, warc_offset, payload_digest FROM pages WHERE warc_file IS NOT NULL");
  REQUIRE_FALSE(rows_with.empty());
  std::map<std::string, std::string> bytes;
  for (const auto& r : rows_with) {
    INFO(r[0]);
    if (!bytes.count(r[1])) bytes[r[1]] = file_bytes(dir + "/" + r[1]);
    ReadRecord rec = read_record_at(bytes[r[1]], std::stoull(r[2]));
    CHECK(rec.field("WARC-Target-URI") == r[0]);
    CHECK((rec.field("WARC-Type") == "response" || rec.field("WARC-Type") == "revisit"));
    CHECK(rec.field("WARC-Payload-Digest") == r[3]);
    if (rec.field("WARC-Type") == "response" && rec.field("WARC-Truncated").empty()) {
      CHECK(expected_digest(http_payload(rec.block)) == r[3]);
    }
  }
  CHECK(scalar(db, "SELECT count(*) FROM pages WHERE status IS NOT NULL AND warc_file IS NULL") == "0");
}

void serve_archive_site(TestServer& s) {
  s.on("/robots.txt", [](const Request&, Response& r) { r.text("User-agent: *\nAllow: /\n"); });
  s.on("/", [](const Request&, Response& r) {
    r.html("<title>home</title><a href='/a'>a</a><a href='/old'>old</a><a href='/missing'>m</a>"
           "<a href='/gz'>gz</a><a href='/chunked'>c</a><a href='/same1'>1</a><a href='/same2'>2</a>"
           "<a href='/big'>big</a>");
  });
  s.on("/a", [](const Request&, Response& r) { r.html("<p>page a</p>"); });
  s.on("/old", [](const Request&, Response& r) { r.redirect(301, "/a"); });
  s.on("/missing", [](const Request&, Response& r) {
    r.status = 404;
    r.html("<p>not here</p>");
  });
  s.on("/gz", [](const Request&, Response& r) { r.html("<p>compressed zebra</p>").gzip(); });
  s.on("/chunked", [](const Request&, Response& r) { r.html("<p>in three chunks of text</p>").chunked(3); });
  for (const char* p : {"/same1", "/same2"}) s.on(p, [](const Request&, Response& r) { r.html("<p>twins</p>"); });
  s.on("/big", [](const Request&, Response& r) { r.html("<p>" + std::string(20000, 'b') + "</p>"); });
}

}  // namespace

TEST_CASE("every exchange is archived, paired and indexed by its row", "[warc]") {
  TestServer server;
  serve_archive_site(server);
  TempDir dir;
  std::string db = dir.file("c.db");
  std::string archive = dir.file("warc");
  auto o = test_options(db, {server.url("/")});
  o.robots = true;
  o.warc_dir = archive;
  o.max_body = 8192;
  crawl_ok(o);

  auto files = read_archive(archive);
  REQUIRE(files.size() == 1);
  const auto& records = files.begin()->second;
  REQUIRE_FALSE(records.empty());
  CHECK(records[0].field("WARC-Type") == "warcinfo");
  CHECK(records[0].block.find("user_agent: ") != std::string::npos);
  CHECK(records[0].block.find("delay: 0.0") != std::string::npos);

  std::map<std::string, std::string> response_of;  // target -> type of its response-side record
  std::set<std::string> request_ids;
  for (const auto& r : records) {
    std::string type = r.field("WARC-Type");
    if (type == "request") request_ids.insert(r.field("WARC-Record-ID"));
    if (type == "response" || type == "revisit") {
      response_of[r.field("WARC-Target-URI")] = type;
      // Paired with the request just before it.
      CHECK(request_ids.count(r.field("WARC-Concurrent-To")) == 1);
      CHECK(r.field("WARC-IP-Address") == "127.0.0.1");
      CHECK(r.field("Content-Type") == "application/http; msgtype=response");
    }
  }
  // Pages, the redirect, the 404 and robots.txt are all there.
  for (const char* p : {"/robots.txt", "/", "/a", "/old", "/missing", "/gz", "/chunked", "/same1", "/big"}) {
    INFO(p);
    CHECK(response_of[server.url(p)] == "response");
  }
  // Identical bodies: the second is a revisit of the first.
  CHECK(response_of[server.url("/same2")] == "revisit");
  for (const auto& r : records) {
    if (r.field("WARC-Type") != "revisit") continue;
    CHECK(r.field("WARC-Refers-To-Target-URI") == server.url("/same1"));
    CHECK(r.field("WARC-Profile") == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest");
  }
  // The cut body says so; the chunked one keeps its framing and its payload
  // digest is of the body without it; the gzip one keeps its content coding.
  for (const auto& r : records) {
    std::string target = r.field("WARC-Target-URI");
    if (r.field("WARC-Type") != "response") continue;
    if (target == server.url("/big")) CHECK(r.field("WARC-Truncated") == "length");
    if (target == server.url("/chunked")) CHECK(r.block.find("Transfer-Encoding: chunked") != std::string::npos);
    if (target == server.url("/gz")) {
      CHECK(http_payload(r.block).substr(0, 2) == "\x1f\x8b");
      CHECK(r.field("WARC-Payload-Digest") == expected_digest(http_payload(r.block)));
    }
  }
  check_rows_point_at_records(db, archive);
  CHECK(scalar(db, "SELECT count(*) FROM pages WHERE warc_file IS NOT NULL") == "9");  // all but robots
}

TEST_CASE("a small --warc-max-size rotates files, each beginning with its warcinfo", "[warc]") {
  TestServer server;
  std::string links;
  for (int i = 0; i < 30; i++) {
    links += "<a href='/p" + std::to_string(i) + "'>p</a>";
    // Distinct bodies that do not compress away.
    std::mt19937 rng(static_cast<unsigned>(i));
    std::string noise;
    for (int j = 0; j < 6000; j++) noise += static_cast<char>('a' + rng() % 26);
    server.on("/p" + std::to_string(i), [noise](const Request&, Response& r) { r.html("<p>" + noise + "</p>"); });
  }
  server.on("/", [links](const Request&, Response& r) { r.html(links); });
  TempDir dir;
  std::string db = dir.file("c.db");
  std::string archive = dir.file("warc");
  auto o = test_options(db, {server.url("/")});
  o.warc_dir = archive;
  o.warc_max_size = 64 * 1024;
  crawl_ok(o);
  auto files = warc_files(archive);
  CHECK(files.size() >= 3);
  for (const std::string& f : files) {
    INFO(f);
    CHECK(fs::file_size(f) <= 64 * 1024 + 8 * 1024);
    auto records = read_warc_file(f);
    REQUIRE_FALSE(records.empty());
    CHECK(records[0].field("WARC-Type") == "warcinfo");
    CHECK(has_shape(fs::path(f).filename().string().substr(0, 28), "webcrawl-#################-#"));
  }
  check_rows_point_at_records(db, archive);
}

TEST_CASE("after SIGKILL with --warc every file reads to its end and every row's record verifies", "[warc][durability]") {
  TestServer server;
  const int pages = 150;
  for (int i = 0; i < pages; i++) {
    server.on("/p" + std::to_string(i), [i](const Request&, Response& r) {
      std::string body = "<title>page " + std::to_string(i) + "</title>" + std::string(3000 + i * 7, 'x');
      for (int j = 1; j <= 8; j++) body += "<a href='/p" + std::to_string((i * 7 + j * 13) % pages) + "'>x</a>";
      r.html(body).delay(5ms);
    });
  }
  TempDir dir;
  std::string db = dir.file("c.db");
  std::string archive = dir.file("warc");
  std::vector<std::string> args = {"crawl", "--db", db, "--delay", "0", "--per-host", "4", "--no-robots", "--quiet",
                                   "--warc", archive, "--warc-max-size", "256k", server.url("/p0")};
  std::mt19937 rng(20261202);
  for (int kill = 0; kill < 3; kill++) {
    Background crawl(args, dir.file("log.txt"));
    std::size_t target = server.requests().size() + 20 + rng() % 30;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (server.requests().size() < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
    crawl.signal(SIGKILL);
    REQUIRE(crawl.wait(10) == 128 + SIGKILL);
    // The next run repairs a torn end; until then rows already point only at
    // durable records.
    check_rows_point_at_records(db, archive);
  }
  auto last = run_webcrawl(args, 120);
  REQUIRE(last.status == 0);
  for (const std::string& f : warc_files(archive)) {
    INFO(f);
    CHECK_NOTHROW(read_warc_file(f));
  }
  check_rows_point_at_records(db, archive);
  CHECK(scalar(db, "SELECT count(*) FROM pages WHERE status = 200") == std::to_string(pages));
}

TEST_CASE("show prints a page from its record, and export writes a sorted CDXJ index", "[warc][cli]") {
  TestServer server;
  serve_archive_site(server);
  TempDir dir;
  std::string db = dir.file("c.db");
  std::string archive = dir.file("warc");
  REQUIRE(run_webcrawl({"crawl", "--quiet", "--db", db, "--delay", "0", "--no-robots", "--warc", archive,
                        server.url("/")}).status == 0);
  auto gz = run_webcrawl({"show", "--db", db, server.url("/gz")});
  REQUIRE(gz.status == 0);
  CHECK(gz.out.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(gz.out.find("Content-Encoding: gzip") != std::string::npos);
  CHECK(gz.out.find("<p>compressed zebra</p>") != std::string::npos);  // decoded
  auto raw = run_webcrawl({"show", "--db", db, "--raw", server.url("/gz")});
  CHECK(raw.out.find("<p>compressed zebra</p>") == std::string::npos);  // as received
  auto twin = run_webcrawl({"show", "--db", db, server.url("/same2")});  // a revisit
  CHECK(twin.out.find("<p>twins</p>") != std::string::npos);
  auto chunked = run_webcrawl({"show", "--db", db, server.url("/chunked")});
  CHECK(chunked.out.find("<p>in three chunks of text</p>") != std::string::npos);
  auto missing = run_webcrawl({"show", "--db", db, server.url("/nowhere")});
  CHECK(missing.status == 2);
  CHECK(missing.err.find("is not in the database") != std::string::npos);

  std::string cdxj_path = dir.file("index.cdxj");
  REQUIRE(run_webcrawl({"export", "--db", db, "--output", cdxj_path}).status == 0);
  std::string cdxj = file_bytes(cdxj_path);
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (start < cdxj.size()) {
    std::size_t end = cdxj.find('\n', start);
    std::string line = cdxj.substr(start, end - start);
    keys.push_back(line.substr(0, line.find(" {")));
    CHECK(line.find("\"filename\": \"webcrawl-") != std::string::npos);
    start = end + 1;
  }
  CHECK(keys.size() == 9);
  CHECK(std::is_sorted(keys.begin(), keys.end()));
  CHECK(cdxj.find("\"mime\": \"warc/revisit\"") != std::string::npos);
}
