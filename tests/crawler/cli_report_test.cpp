// What the program tells its user, and the controls people reach for: a
// test per defect users met (message, exit status, no file left behind),
// and loopback tests for --retry-failed, --header, --verbose, robots.txt
// kept across runs, export and query output, and summary = stats.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "tests/crawler/crawl_support.h"
#include "tests/support/test_server.h"

using namespace webcrawl::testing;
namespace fs = std::filesystem;

namespace {

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// A port nothing listens on: bound, then released.
std::string refused_url() {
  uint16_t port;
  {
    TestServer s;
    port = s.port();
  }
  return "http://127.0.0.1:" + std::to_string(port) + "/";
}

void serve_two_pages(TestServer& s) {
  s.on("/", [](const Request&, Response& r) { r.html("<title>home</title><a href='/b'>b</a><a href='http://x.invalid/'>out</a>"); });
  s.on("/b", [](const Request&, Response& r) { r.html("<title>b</title>"); });
}

}  // namespace

TEST_CASE("a crawl that fetches nothing exits 3 with one line saying why", "[cli][report]") {
  TempDir dir;
  std::string db = dir.file("c.db");
  std::string seed = refused_url();
  auto r = run_webcrawl({"crawl", "--quiet", "--db", db, "--retries", "0", seed});
  CHECK(r.status == 3);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.find("webcrawl: no seed could be fetched: 127.0.0.1:") == 0);
  CHECK(r.err.find("connect: connection refused") != std::string::npos);
  // Every attempt is one request: a refused robots.txt is not hammered.
  CHECK(scalar(db, "SELECT count(*) FROM fetches") == "1");
}

TEST_CASE("usage errors leave no file behind and say what to do", "[cli][report]") {
  TempDir dir;
  std::string db = dir.file("c.db");
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"crawl", "--db", db, "example.org/page"}, 2, "has no scheme: add http:// or https://"},
           {{"crawl", "--db", db, "--seeds", dir.file("missing.txt")}, 1, "cannot read seed file"},
           {{"crawl", "--db", db}, 2, "nothing to crawl"},
           {{"crawl", "--db", db, "--header", "no colon", "http://127.0.0.1:1/"}, 2, "--header: 'no colon' is not"},
           {{"crawl", "--db", db, "--proxy", "https://p.test:3128", "http://127.0.0.1:1/"}, 2, "only http:// proxies"},
           {{"crawl", "--db", db, "--config", dir.file("missing.toml"), "http://127.0.0.1:1/"}, 1, "cannot read config"},
           {{"craw", "--db", db}, 2, "unknown command 'craw' (did you mean crawl?)"},
           {{"crawl", "--db", db, "--dealy", "1"}, 2, "unknown option --dealy (did you mean --delay?); see webcrawl crawl --help"},
           {{"crawl", "--db", db, "--delay", "nan", "http://127.0.0.1:1/"}, 2, "--delay: 'nan' is not a number of seconds"},
       }) {
    auto r = run_webcrawl(c.args);
    INFO(c.args[1] << ": " << r.err);
    CHECK(r.status == c.status);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK_FALSE(fs::exists(db));
  }
}

TEST_CASE("a directory given as the database is named as one", "[cli][report]") {
  TempDir dir;
  auto r = run_webcrawl({"crawl", "--db", dir.path().string(), "http://127.0.0.1:1/"});
  CHECK(r.status == 1);
  CHECK(r.err.find("is a directory") != std::string::npos);
}

TEST_CASE("the summary counts what stats counts, and says why the run ended", "[cli][report]") {
  TestServer server;
  serve_two_pages(server);
  server.on("/robots.txt", [](const Request&, Response& r) { r.text("User-agent: *\nDisallow: /b\n"); });
  TempDir dir;
  std::string db = dir.file("c.db");
  auto c = run_webcrawl({"crawl", "--db", db, "--delay", "0", server.url("/")});
  REQUIRE(c.status == 0);
  CHECK(c.err.find("webcrawl: finished: nothing left to fetch") != std::string::npos);
  CHECK(c.err.find("fetched  1 page (") != std::string::npos);
  CHECK(c.err.find("2 requests over 1 connection (2.0 per connection)") != std::string::npos);
  CHECK(c.err.find("skipped  2: ") != std::string::npos);
  CHECK(c.err.find("out of scope 1") != std::string::npos);
  CHECK(c.err.find("robots 1") != std::string::npos);
  // No line is wider than 100 columns.
  std::size_t start = 0;
  while (start < c.err.size()) {
    std::size_t end = c.err.find('\n', start);
    if (end == std::string::npos) end = c.err.size();
    CHECK(end - start <= 100);
    start = end + 1;
  }
  auto json = run_webcrawl({"stats", "--db", db, "--format", "json"});
  REQUIRE(json.status == 0);
  auto s = nlohmann::json::parse(json.out);
  CHECK(s["fetched"] == 1);
  CHECK(s["skipped"] == 2);
  CHECK(s["skipped_by_reason"]["robots"] == 1);
  CHECK(s["skipped_by_reason"]["out of scope"] == 1);
  CHECK(s["requests"] == 2);
  CHECK(s["runs"][0]["outcome"] == "finished");
  auto text = run_webcrawl({"stats", "--db", db});
  CHECK(text.out.find("skipped       2: ") != std::string::npos);

  // A second run of the same command has nothing to do, and says it resumes.
  auto again = run_webcrawl({"crawl", "--db", db, "--delay", "0", server.url("/")});
  CHECK(again.status == 0);
  CHECK(again.err.find("webcrawl: resuming " + db + ": 2 stored, 0 queued, 1 run before this one") !=
        std::string::npos);
}

TEST_CASE("retrying failed URLs (--retry-failed) fetches again what failed once the server is back", "[cli][report]") {
  TestServer server;
  std::atomic<bool> up{false};
  server.on("/", [&](const Request&, Response& r) {
    if (up) return r.html("<title>back</title>"), void();
    r.status = 503;
    r.text("down");
  });
  TempDir dir;
  std::string db = dir.file("c.db");
  std::vector<std::string> args = {"crawl", "--quiet", "--db", db, "--delay", "0", "--no-robots", "--retries", "0",
                                   server.url("/")};
  auto down = run_webcrawl(args);
  CHECK(down.status == 3);  // a 503 after the last retry is a failure
  CHECK(down.err.find(": HTTP 503") != std::string::npos);
  CHECK(scalar(db, "SELECT state FROM frontier") == "failed");
  up = true;
  REQUIRE(run_webcrawl(args).status == 0);  // done is done: no request
  CHECK(server.request_count("/") == 1);
  args.push_back("--retry-failed");
  auto r = run_webcrawl(args);
  REQUIRE(r.status == 0);
  CHECK(server.request_count("/") == 2);
  CHECK(rows(db, "SELECT state, title FROM pages") == std::vector<std::vector<std::string>>{{"done", "back"}});
}

TEST_CASE("retrying failed URLs (--retry-failed) also asks again a host whose robots.txt was unreachable", "[cli][report]") {
  TestServer server;
  std::atomic<bool> up{false};
  server.on("/robots.txt", [&](const Request&, Response& r) {
    if (up) return r.text("User-agent: *\nAllow: /\n"), void();
    r.status = 500;
    r.text("broken");
  });
  server.on("/", [](const Request&, Response& r) { r.html("<title>ok</title>"); });
  TempDir dir;
  std::string db = dir.file("c.db");
  std::vector<std::string> args = {"crawl", "--quiet", "--db", db, "--delay", "0", "--retries", "0", server.url("/")};
  CHECK(run_webcrawl(args).status == 3);
  CHECK(scalar(db, "SELECT reason FROM frontier") == "robots unavailable");
  up = true;
  args.push_back("--retry-failed");
  REQUIRE(run_webcrawl(args).status == 0);
  CHECK(scalar(db, "SELECT status FROM pages") == "200");
}

TEST_CASE("robots.txt is kept across runs for its 24 hours", "[cli][report]") {
  TestServer server;
  server.on("/robots.txt", [](const Request&, Response& r) { r.text("User-agent: *\nDisallow: /private\n"); });
  for (int i = 0; i < 4; i++) {
    server.on("/" + std::to_string(i), [i](const Request&, Response& r) {
      r.html("<a href='/" + std::to_string(i + 1) + "'>next</a><a href='/private'>p</a>");
    });
  }
  TempDir dir;
  std::string db = dir.file("c.db");
  REQUIRE(run_webcrawl({"crawl", "--quiet", "--db", db, "--delay", "0", "--max-pages", "2", server.url("/0")}).status == 0);
  CHECK(server.request_count("/robots.txt") == 1);
  REQUIRE(run_webcrawl({"crawl", "--quiet", "--db", db, "--delay", "0"}).status == 0);
  CHECK(server.request_count("/robots.txt") == 1);  // the first run's answer still holds
  CHECK(server.request_count("/private") == 0);
  CHECK(server.request_count("/3") == 1);
}

TEST_CASE("a header given with --header is sent with every request, and per host from the config", "[cli][report]") {
  TestServer::Options other_opts;
  other_opts.bind_address = "127.0.0.2";
  TestServer one, other(other_opts);
  for (TestServer* s : {&one, &other}) s->on("/", [](const Request&, Response& r) { r.html("<p>x</p>"); });
  TempDir dir;
  std::string config = dir.write("c.toml", "[[hosts]]\nmatch = \"127.0.0.2\"\nheaders = [\"X-Study: s2\"]\n");
  std::string db = dir.file("c.db");
  auto r = run_webcrawl({"crawl", "--quiet", "--db", db, "--delay", "0", "--no-robots", "--config", config, "--header",
                         "Accept-Language: de", "--header", "X-Team: lab", one.url("/"), other.url("/")});
  REQUIRE(r.status == 0);
  auto seen = [](const TestServer& s, const char* name) {
    std::vector<std::string> out;
    for (const auto& req : s.requests()) out.push_back(req.header(name));
    return out;
  };
  CHECK(seen(one, "accept-language") == std::vector<std::string>{"de"});
  CHECK(seen(one, "x-team") == std::vector<std::string>{"lab"});
  CHECK(seen(one, "x-study") == std::vector<std::string>{""});
  CHECK(seen(other, "x-study") == std::vector<std::string>{"s2"});
  CHECK(seen(other, "x-team") == std::vector<std::string>{"lab"});
}

TEST_CASE("verbose output (--verbose) prints a line per finished request", "[cli][report]") {
  TestServer server;
  serve_two_pages(server);
  server.on("/b", [](const Request&, Response& r) {
    r.status = 404;
    r.html("gone");
  });
  TempDir dir;
  auto r = run_webcrawl({"crawl", "--quiet", "--verbose", "--db", dir.file("c.db"), "--delay", "0", "--no-robots",
                         server.url("/")});
  REQUIRE(r.status == 0);
  CHECK(lines(r.err) == 2);
  CHECK(r.err.find("  200  ") != std::string::npos);
  CHECK(r.err.find("  404  ") != std::string::npos);
  CHECK(r.err.find(server.url("/b")) != std::string::npos);
}

TEST_CASE("query output is whole when piped, cut on request; export reads the format from the file name",
          "[cli][report]") {
  TestServer server;
  std::string long_title(150, 'q');
  server.on("/", [&](const Request&, Response& r) { r.html("<title>" + long_title + "</title><a href='/b'>b</a>"); });
  server.on("/b", [](const Request&, Response& r) {
    r.status = 404;
    r.html("gone");
  });
  TempDir dir;
  std::string db = dir.file("c.db");
  REQUIRE(run_webcrawl({"crawl", "--quiet", "--db", db, "--delay", "0", "--no-robots", server.url("/")}).status == 0);
  auto piped = run_webcrawl({"query", "--db", db, "SELECT title FROM pages WHERE status = 200"});
  CHECK(piped.out.find(long_title) != std::string::npos);
  auto cut = run_webcrawl({"query", "--db", db, "--width", "20", "SELECT title FROM pages WHERE status = 200"});
  CHECK(cut.out.find(long_title) == std::string::npos);
  CHECK(cut.out.find(std::string(19, 'q') + "\u2026") != std::string::npos);

  std::string csv = dir.file("p.csv");
  REQUIRE(run_webcrawl({"export", "--db", db, "--output", csv, "--where", "status >= 400"}).status == 0);
  CHECK(read_file(csv).rfind("url,final_url,status", 0) == 0);
  CHECK(lines(read_file(csv)) == 2);
  std::string jsonl = dir.file("f.jsonl");
  REQUIRE(run_webcrawl({"export", "--db", db, "--table", "fetches", "--output", jsonl}).status == 0);
  std::string first = read_file(jsonl).substr(0, read_file(jsonl).find('\n'));
  CHECK(first.rfind("{\"url\":", 0) == 0);  // keys in the view's order, not sorted
  CHECK(first.find("\"started_at\":\"20") != std::string::npos);
  auto runs = run_webcrawl({"export", "--db", db, "--table", "runs"});
  CHECK(nlohmann::json::parse(runs.out.substr(0, runs.out.find('\n')))["outcome"] == "finished");
  auto unknown = run_webcrawl({"export", "--db", db, "--output", dir.file("x.txt")});
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("give --format jsonl or csv") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.file("x.txt")));
}

TEST_CASE("a crawl of several hosts with no contact in the User-Agent is warned about once", "[cli][report]") {
  TestServer::Options other_opts;
  other_opts.bind_address = "127.0.0.2";
  TestServer one, other(other_opts);
  for (TestServer* s : {&one, &other}) s->on("/", [](const Request&, Response& r) { r.html("<p>x</p>"); });
  TempDir dir;
  auto r = run_webcrawl({"crawl", "--db", dir.file("a.db"), "--delay", "0", "--no-robots", one.url("/"), other.url("/")});
  CHECK(r.err.find("warning: the User-Agent names no contact") != std::string::npos);
  auto polite = run_webcrawl({"crawl", "--db", dir.file("b.db"), "--delay", "0", "--no-robots", "--user-agent",
                              "study/1 (+mailto:me@example.org)", one.url("/"), other.url("/")});
  CHECK(polite.err.find("warning") == std::string::npos);
  for (const auto& req : one.requests()) CHECK(req.user_agent.find("http") == std::string::npos);
}
