// The webcrawl binary as a user runs it: exit codes, one-line errors, output.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "tests/crawler/crawl_support.h"
#include "tests/support/test_server.h"

using namespace webcrawl::testing;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

void serve_pages(TestServer& s) {
  s.on("/", [](const Request&, Response& r) {
    r.html("<title>Quokka home</title><p>The quokka is a small marsupial.</p><a href='/b'>b</a>");
  });
  s.on("/b", [](const Request&, Response& r) {
    r.html("<title>Wombat page</title><p>Wombats dig burrows; a quokka does not.</p><a href='/'>home</a>");
  });
}

}  // namespace

TEST_CASE("bad usage gets one line on stderr and exit status 2", "[cli]") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"crawl", "--concurrency", "0", "http://127.0.0.1:1/"},
           {"crawl", "--delay", "abc", "http://127.0.0.1:1/"},
           {"crawl", "--no-such-flag"},
           {"crawl", "--scope", "planet", "http://127.0.0.1:1/"},
           {"frobnicate"},
       }) {
    auto r = run_webcrawl(args);
    INFO(args[1 < args.size() ? 1 : 0] << ": " << r.err);
    CHECK(r.status == 2);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.rfind("webcrawl: ", 0) == 0);
  }
}

TEST_CASE("an invalid seed URL on the command line is refused", "[cli]") {
  TempDir dir;
  auto r = run_webcrawl({"crawl", "--db", dir.file("x.db"), "ftp://example.invalid/"});
  CHECK(r.status == 2);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.find("unsupported scheme") != std::string::npos);
}

TEST_CASE("seed files: comments and blanks ignored, bad lines reported by number", "[cli]") {
  TestServer server;
  serve_pages(server);
  TempDir dir;
  std::string seeds = dir.write("seeds.txt", "# my seeds\n\n" + server.url("/") + "  # home\nnot a url\n");
  std::string db = dir.file("crawl.db");
  auto r = run_webcrawl({"crawl", "--quiet", "--delay", "0", "--no-robots", "--db", db, "--seeds", seeds});
  CHECK(r.status == 0);
  CHECK(r.err.find("seeds.txt:4: invalid URL 'not a url'") != std::string::npos);
  CHECK(server.request_count("/") == 1);
  CHECK(server.request_count("/b") == 1);

  SECTION("a missing seed file is an error") {
    auto m = run_webcrawl({"crawl", "--db", db, "--seeds", dir.file("nope.txt")});
    CHECK(m.status != 0);
    CHECK(lines(m.err) == 1);
    CHECK(m.err.find("cannot read seed file") != std::string::npos);
  }
  SECTION("a seed file with no valid URL is an error") {
    std::string bad = dir.write("bad.txt", "# nothing\nmailto:x@y.z\n");
    auto m = run_webcrawl({"crawl", "--db", db, "--seeds", bad});
    CHECK(m.status != 0);
    CHECK(m.err.find("no valid URL") != std::string::npos);
  }
}

TEST_CASE("a file that is not a webcrawl database is refused and left untouched", "[cli]") {
  TempDir dir;
  std::string path = dir.write("notes.db", "these are my notes, not a database\n");
  std::string before = read_file(path);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"crawl", "--db", path, "http://127.0.0.1:1/"},
           {"stats", "--db", path},
           {"query", "--db", path, "SELECT 1"},
       }) {
    auto r = run_webcrawl(args);
    INFO(args[0]);
    CHECK(r.status == 1);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find("not a webcrawl database") != std::string::npos);
  }
  CHECK(read_file(path) == before);
}

TEST_CASE("stats, search and query read a crawl", "[cli]") {
  TestServer server;
  serve_pages(server);
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto c = run_webcrawl({"crawl", "--delay", "0", "--no-robots", "--db", db, server.url("/")});
  REQUIRE(c.status == 0);
  CHECK(c.err.find("webcrawl: finished: nothing left to fetch") != std::string::npos);
  CHECK(c.err.find("fetched  2 pages") != std::string::npos);

  auto stats = run_webcrawl({"stats", "--db", db});
  CHECK(stats.status == 0);
  CHECK(stats.out.find("fetched       2") != std::string::npos);
  CHECK(stats.out.find("text/html") != std::string::npos);
  CHECK(stats.out.find("requests      2 requests over 1 connection (2.0 per connection)") != std::string::npos);

  auto search = run_webcrawl({"search", "--db", db, "wombat"});
  CHECK(search.status == 0);
  CHECK(search.out.find("Wombat page") != std::string::npos);
  CHECK(search.out.find(server.url("/b")) != std::string::npos);
  CHECK(search.out.find("[Wombats]") != std::string::npos);

  // Title matches rank first.
  auto quokka = run_webcrawl({"search", "--db", db, "quokka"});
  CHECK(quokka.out.find("Quokka home") < quokka.out.find("Wombat page"));

  auto q = run_webcrawl({"query", "--db", db, "SELECT url, status FROM pages ORDER BY url"});
  CHECK(q.status == 0);
  CHECK(q.out.find("(2 rows)") != std::string::npos);

  auto csv = run_webcrawl({"query", "--db", db, "--format", "csv", "SELECT title FROM pages ORDER BY title"});
  CHECK(csv.out == "title\nQuokka home\nWombat page\n");

  auto jsonl = run_webcrawl({"query", "--db", db, "--format", "jsonl", "SELECT status, title FROM pages ORDER BY title LIMIT 1"});
  CHECK(jsonl.out == "{\"status\":200,\"title\":\"Quokka home\"}\n");

  auto write = run_webcrawl({"query", "--db", db, "DELETE FROM urls"});
  CHECK(write.status != 0);
  CHECK(lines(write.err) == 1);
  CHECK(scalar(db, "SELECT COUNT(*) FROM pages") == "2");
}

TEST_CASE("export streams a table as JSON Lines or CSV", "[cli]") {
  TestServer server;
  serve_pages(server);
  TempDir dir;
  std::string db = dir.file("crawl.db");
  REQUIRE(run_webcrawl({"crawl", "--quiet", "--delay", "0", "--no-robots", "--db", db, server.url("/")}).status == 0);

  auto pages = run_webcrawl({"export", "--db", db, "--table", "pages", "--format", "jsonl"});
  CHECK(pages.status == 0);
  CHECK(lines(pages.out) == 2);
  auto first = nlohmann::json::parse(pages.out.substr(0, pages.out.find('\n')));
  CHECK(first["url"] == server.url("/"));
  CHECK(first["status"] == 200);
  CHECK(first["title"] == "Quokka home");

  std::string out = dir.file("links.csv");
  auto links = run_webcrawl({"export", "--db", db, "--table", "links", "--format", "csv", "--output", out});
  CHECK(links.status == 0);
  std::string csv = read_file(out);
  CHECK(csv.rfind("src_url,dst_url,anchor_text,nofollow", 0) == 0);
  CHECK(lines(csv) == 3);

  auto bad = run_webcrawl({"export", "--db", db, "--table", "urls"});
  CHECK(bad.status == 2);
}

TEST_CASE("insecure mode fetches from an untrusted certificate, with a warning", "[cli][tls]") {
  TestServer::Options opts;
  opts.tls = TestCa::self_signed_identity({"localhost"}, {"127.0.0.1"});
  TestServer server(opts);
  serve_pages(server);
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto r = run_webcrawl({"crawl", "--quiet", "--insecure", "--delay", "0", "--no-robots", "--db", db, server.url("/")});
  CHECK(r.status == 0);
  CHECK(r.err.find("warning: --insecure") != std::string::npos);
  CHECK(scalar(db, "SELECT COUNT(*) FROM pages WHERE status = 200") == "2");
}

TEST_CASE("a database path that cannot be written is one clear error", "[cli]") {
  auto r = run_webcrawl({"crawl", "--db", "/nonexistent-dir/sub/crawl.db", "http://127.0.0.1:1/"});
  CHECK(r.status == 1);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.find("/nonexistent-dir/sub/crawl.db") != std::string::npos);
}
