// `webcrawl report`: the figures of a loopback crawl as SQL counts them, the
// page with every chart and Chart.js inlined, hostile text kept inert, the
// page opened in headless Chromium, and the command's errors.
#include "storage/report.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/crawler/crawl_support.h"
#include "tests/support/process.h"
#include "tests/support/test_server.h"

using namespace webcrawl;
using namespace webcrawl::testing;
namespace fs = std::filesystem;

namespace {

constexpr const char* kHostile = "</script><script>alert(1)";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::size_t occurrences(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) n++;
  return n;
}

// Two hosts: pages that all link to one with a hostile title, a 404, a
// response with a hostile content type, and a link whose URL carries the
// same text. A delay of 50 ms gives the politeness chart something to hold.
struct Site {
  TestServer a;
  TestServer b{second_host()};

  static TestServerOptions second_host() {
    TestServerOptions o;
    o.bind_address = "127.0.0.2";
    return o;
  }

  Site() {
    std::string hub = "<title>hub</title><a href='/hostile'>h</a><a href='/missing'>m</a>"
                      "<a href='/typed'>t</a><a href='/x?q=" + std::string(kHostile) + "'>x</a>";
    for (int i = 0; i < 4; i++) hub += "<a href='/p" + std::to_string(i) + "'>p</a>";
    hub += "<a href='" + b.url("/") + "'>b</a>";
    a.on("/", [hub](const Request&, Response& r) { r.html(hub); });
    for (int i = 0; i < 4; i++) {
      a.on("/p" + std::to_string(i), [](const Request&, Response& r) {
        r.html("<title>p</title><a href='/hostile'>h</a>");
      });
    }
    a.on("/hostile", [](const Request&, Response& r) {
      r.html("<title>&lt;/script&gt;&lt;script&gt;alert(1)</title><p>hostile</p>");
    });
    a.on("/typed", [](const Request&, Response& r) { r.text("x", std::string("text/x-") + kHostile); });
    a.on("/x", [](const Request&, Response& r) { r.html("<title>x</title>"); });
    b.on("/", [this](const Request&, Response& r) {
      r.html("<title>b</title><a href='/b1'>1</a><a href='" + a.url("/hostile") + "'>h</a>");
    });
    b.on("/b1", [](const Request&, Response& r) { r.html("<title>b1</title>"); });
  }

  // Crawls both hosts into `db` (in-process, so a leaked handle fails).
  void crawl(const std::string& db) {
    auto o = test_options(db, {a.url("/")});
    o.delay = 0.05;
    o.scope = crawler::Scope::kAny;
    o.user_agent = std::string("report-test/1.0 ") + kHostile;
    crawl_ok(o);
  }
};

storage::ReportData collect(const std::string& db) {
  auto reader = storage::Reader::open(db);
  REQUIRE(reader);
  auto data = storage::collect_report(**reader, fs::path(db).filename().string());
  INFO((data ? "" : data.error().message));
  REQUIRE(data);
  return std::move(*data);
}

std::string page_for(const storage::ReportData& data) {
  auto js = storage::load_chart_js();
  INFO((js ? "" : js.error().message));
  REQUIRE(js);
  return storage::render_report(data, *js);
}

}  // namespace

TEST_CASE("report: the hosts' gaps and delays are what SQL computes over the fetches", "[report]") {
  Site site;
  TempDir dir;
  std::string db = dir.file("c.db").string();
  site.crawl(db);
  auto data = collect(db);

  auto expected = rows(db,
                       "SELECT host, min(gap) FROM (SELECT host, started_unix - lag(started_unix) OVER "
                       "(PARTITION BY host ORDER BY started_unix) AS gap FROM fetches WHERE started_unix IS NOT NULL) "
                       "WHERE gap IS NOT NULL GROUP BY host ORDER BY host");
  REQUIRE(expected.size() == 2);
  REQUIRE(data.hosts_by_pages.size() == 2);
  CHECK(data.hosts_by_pages[0].origin == site.a.origin());  // the most pages first
  for (const auto& row : expected) {
    auto host = std::find_if(data.hosts_by_pages.begin(), data.hosts_by_pages.end(),
                             [&](const storage::ReportHost& h) { return h.origin == row[0]; });
    REQUIRE(host != data.hosts_by_pages.end());
    REQUIRE(host->min_gap);
    CHECK(*host->min_gap == std::stod(row[1]));
    REQUIRE(host->delay);
    CHECK(*host->delay == std::stod(scalar(db, "SELECT delay FROM hosts WHERE origin = '" + row[0] + "'")));
    CHECK(*host->min_gap >= *host->delay);
    CHECK(host->pages == std::stoll(scalar(db, "SELECT count(*) FROM frontier WHERE host = '" + row[0] +
                                                   "' AND state IN ('done', 'failed')")));
  }
  CHECK(data.hosts_checked == 2);
  CHECK(data.hosts_under_delay == 0);

  CHECK(data.documents == std::stoll(scalar(db, "SELECT count(*) FROM pages")));
  CHECK(data.requests == std::stoll(scalar(db, "SELECT count(*) FROM fetches")));
  int64_t timeline_pages = 0, timeline_requests = 0;
  for (int64_t n : data.timeline.pages) timeline_pages += n;
  for (int64_t n : data.timeline.requests) timeline_requests += n;
  CHECK(timeline_pages ==
        std::stoll(scalar(db, "SELECT count(*) FROM fetches WHERE kind = 'page' AND attempt = 0 AND "
                              "started_unix IS NOT NULL")));
  int64_t by_depth = 0;
  for (const auto& c : data.depth) by_depth += c.n;
  CHECK(by_depth == std::stoll(scalar(db, "SELECT count(*) FROM pages WHERE state IN ('done', 'failed')")));
  CHECK(by_depth == timeline_pages);  // no retries, no robots.txt: one first request per page
  CHECK(timeline_requests == data.requests);
  CHECK(data.timeline.unit == "second");

  auto status_404 = std::find_if(data.status.begin(), data.status.end(),
                                 [](const storage::ReportCount& c) { return c.label == "404"; });
  REQUIRE(status_404 != data.status.end());
  CHECK(status_404->n == 1);
  REQUIRE(!data.most_linked.empty());
  CHECK(data.most_linked[0].url == site.a.url("/hostile"));
  CHECK(data.most_linked[0].title == kHostile);
  CHECK(data.most_linked[0].links == 6);  // the hub, four pages and b's home
  REQUIRE(data.runs.size() == 1);
  CHECK(data.runs[0].outcome == "finished");
  CHECK(data.runs[0].options.find("\n  \"db\": ") != std::string::npos);  // indented
}

TEST_CASE("report: one page with Chart.js inlined, every chart, and hostile text inert", "[report]") {
  Site site;
  TempDir dir;
  std::string db = dir.file("c.db").string();
  site.crawl(db);
  std::string page = page_for(collect(db));
  auto js = storage::load_chart_js();
  REQUIRE(js);

  CHECK(page.find(js->substr(0, 2000)) != std::string::npos);
  for (const std::string& id : storage::report_chart_ids()) {
    CHECK(occurrences(page, "<canvas id=\"" + id + "\">") == 1);
  }
  CHECK(storage::report_chart_ids().size() == 8);
  // Nothing the crawl met can open or close an element: the hostile title
  // (most linked table), content type (chart data) and User-Agent (manifest)
  // are all there, escaped.
  CHECK(page.find("<script>alert(1)") == std::string::npos);
  CHECK(occurrences(page, "<script") == 4 + occurrences(*js, "<script"));
  CHECK(occurrences(page, "</script>") == 4);
  CHECK(page.find("&lt;/script&gt;&lt;script&gt;alert(1)") != std::string::npos);
  CHECK(page.find("text/x-\\u003c/script\\u003e\\u003cscript\\u003ealert(1)") != std::string::npos);
  CHECK(page.find("report-test/1.0 &lt;/script&gt;") != std::string::npos);
  // No address beyond the page itself: it opens with no network.
  CHECK(occurrences(page, "src=") == occurrences(*js, "src="));
  CHECK(occurrences(page, "<link") == occurrences(*js, "<link"));
}

TEST_CASE("report: a database with nothing fetched yet still makes a page", "[report]") {
  TempDir dir;
  std::string db = dir.file("c.db").string();
  {
    auto store = storage::Store::open(db);
    REQUIRE(store);
    REQUIRE((*store)->add_seeds({storage::DiscoveredUrl{"http://a.test/", "http://a.test", 0, 0, true, ""}}));
  }
  auto data = collect(db);
  CHECK(data.documents == 0);
  CHECK(data.queued == 1);
  CHECK(data.timeline.pages.empty());
  CHECK(data.hosts_checked == 0);
  std::string page = page_for(data);
  CHECK(page.find("<canvas id=\"chart-timeline\">") != std::string::npos);
}

TEST_CASE("report: Chart.js missing is an error naming the package", "[report]") {
  TempDir dir;
  auto js = storage::load_chart_js(dir.path().string());
  REQUIRE(!js);
  CHECK(js.error().code == Code::kIo);
  CHECK(js.error().message.find("libjs-chart.js") != std::string::npos);
  dir.write("chart.min.js", "window.Chart = 1;");
  auto found = storage::load_chart_js(dir.path().string());
  REQUIRE(found);
  CHECK(*found == "window.Chart = 1;");
}

TEST_CASE("report: headless Chromium draws every chart with no script error", "[report][chromium]") {
  std::string chromium = find_program("chromium");
  if (chromium.empty()) {
    WARN("chromium is not installed (Debian package chromium): the report was not opened in a browser");
    return;
  }
  Site site;
  TempDir dir;
  std::string db = dir.file("c.db").string();
  site.crawl(db);
  // Next to the test's output (the build's tests/ directory), for a person to look at.
  fs::path out = fs::current_path() / "report_test";
  fs::create_directories(out);
  fs::path html = out / "report.html";
  fs::path png = out / "report.png";
  fs::remove(png);
  auto made = run_program({WEBCRAWL_BINARY_PATH, "report", "--db", db, "--output", html.string()});
  INFO(made.err);
  REQUIRE(made.status == 0);
  std::vector<std::string> browser = {chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                      "--user-data-dir=" + dir.file("profile").string(), "--window-size=1200,2400"};
  auto dom_args = browser;
  dom_args.insert(dom_args.end(), {"--dump-dom", "file://" + html.string()});
  auto dom = run_program(dom_args, 60);
  INFO(dom.err);
  REQUIRE(dom.status == 0);
  CHECK(dom.out.find("data-rendered=\"8 charts\"") != std::string::npos);
  CHECK(dom.out.find("data-error") == std::string::npos);
  CHECK(dom.out.find("<p class=\"error\">") == std::string::npos);

  auto shot_args = browser;
  shot_args.insert(shot_args.end(), {"--screenshot=" + png.string(), "file://" + html.string()});
  auto shot = run_program(shot_args, 60);
  INFO(shot.err);
  CHECK(shot.status == 0);
  CHECK(fs::exists(png));
  CHECK(fs::file_size(png) > 10000);
}

TEST_CASE("report: the command writes the page where told, and says what is wrong", "[report][cli]") {
  Site site;
  TempDir dir;
  std::string db = dir.file("c.db").string();
  site.crawl(db);
  std::string html = dir.file("r.html").string();
  auto ok = run_program({WEBCRAWL_BINARY_PATH, "report", "--db", db, "--output", html});
  CHECK(ok.status == 0);
  CHECK(ok.out.find("wrote " + html + " (8 charts, ") == 0);
  CHECK(slurp(html).find("id=\"report-data\"") != std::string::npos);
  CHECK(!fs::exists(html + ".partial"));

  auto to_stdout = run_program({WEBCRAWL_BINARY_PATH, "report", "--db", db, "--output", "-"});
  CHECK(to_stdout.status == 0);
  CHECK(to_stdout.out.rfind("<!DOCTYPE html>", 0) == 0);

  auto missing = run_program({WEBCRAWL_BINARY_PATH, "report", "--db", dir.file("none.db").string()});
  CHECK(missing.status == 1);
  CHECK(missing.err == "webcrawl: " + dir.file("none.db").string() + ": no such file\n");

  auto usage = run_program({WEBCRAWL_BINARY_PATH, "report", "--db", db, "--outptu", html});
  CHECK(usage.status == 2);
  CHECK(occurrences(usage.err, "\n") == 1);
  CHECK(usage.err.find("did you mean --output?") != std::string::npos);

  auto help = run_program({WEBCRAWL_BINARY_PATH, "report", "--help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("default report.html in the current directory") != std::string::npos);
}
