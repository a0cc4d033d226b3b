#include "storage/store.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace webcrawl::storage {
namespace {

using testing::TempDir;
using Rows = std::vector<std::vector<std::string>>;

// ---- fixtures ----

std::string origin_of(const std::string& url) {
  auto slash = url.find('/', url.find("//") + 2);
  return url.substr(0, slash);
}

DiscoveredUrl to(const std::string& url, int depth = 1, bool follow = true,
                 const std::string& skip_reason = "") {
  return DiscoveredUrl{url, origin_of(url), depth, 0, follow, skip_reason};
}

OutLink link(const std::string& url, const std::string& anchor = "", int depth = 1,
             bool follow = true) {
  return OutLink{to(url, depth, follow), anchor, false};
}

PageResult page(int64_t id, const std::string& url, const std::string& title = "",
                const std::string& text = "") {
  PageResult p;
  p.url_id = id;
  p.final_url = url;
  p.status = 200;
  p.content_type = "text/html";
  p.title = title;
  p.text = text;
  p.index = true;
  p.fetched_at = 1700000000.25;
  p.bytes = 100;
  return p;
}

PageResult redirect(int64_t id, const std::string& url, const std::string& location,
                    int redirects = 1) {
  PageResult p = page(id, url);
  p.status = 301;
  p.index = false;
  p.redirect = to(location, 0);
  p.redirect->redirects = redirects;
  return p;
}

std::unique_ptr<Store> open_store(const std::string& path, OpenMode mode = OpenMode::kCrawl) {
  auto store = Store::open(path, mode);
  INFO((store ? "" : store.error().message));
  REQUIRE(store);
  return std::move(*store);
}

Rows rows(Store& store, const std::string& sql) {
  Rows out;
  auto r = store.query(
      sql, [](const std::vector<std::string>&) {},
      [&](const std::vector<Value>& row) {
        out.emplace_back();
        for (const Value& v : row) out.back().push_back(v.to_string());
      });
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
  return out;
}

std::string scalar(Store& store, const std::string& sql) {
  Rows r = rows(store, sql);
  REQUIRE(r.size() == 1);
  return r.at(0).at(0);
}

std::vector<std::string> columns(Store& store, const std::string& sql) {
  std::vector<std::string> names;
  auto r = store.query(
      sql, [&](const std::vector<std::string>& n) { names = n; }, [](const std::vector<Value>&) {});
  REQUIRE(r);
  return names;
}

std::string state_of(Store& store, const std::string& url) {
  return scalar(store, "SELECT state FROM urls WHERE url = '" + url + "'");
}

// Seeds one URL and returns its id.
int64_t seed(Store& store, const std::string& url) {
  auto queued = store.add_seeds({to(url, 0)});
  REQUIRE(queued);
  REQUIRE(queued->size() == 1);
  return queued->at(0).id;
}

void commit(Store& store, const std::vector<PageResult>& results) {
  auto r = store.commit(results);
  INFO((r ? "" : r.error().message));
  REQUIRE(r);
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs SQL on a raw connection, bypassing Store, to build foreign files.
void raw_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

// ---- opening ----

TEST_CASE("a new database carries our application_id and schema version", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  CHECK(scalar(*store, "PRAGMA application_id") == std::to_string(kApplicationId));
  CHECK(scalar(*store, "PRAGMA user_version") == std::to_string(kSchemaVersion));
}

TEST_CASE("a crawl database runs in WAL mode", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  CHECK(scalar(*store, "PRAGMA journal_mode") == "wal");
}

TEST_CASE("a file that is not SQLite is refused and left byte-for-byte unchanged", "[storage]") {
  TempDir dir;
  std::string contents = GENERATE(std::string("hello, not a database\n"), std::string(8192, 'x'));
  auto path = dir.write("notes.txt", contents);
  for (OpenMode mode : {OpenMode::kCrawl, OpenMode::kReadOnly}) {
    auto store = Store::open(path.string(), mode);
    REQUIRE_FALSE(store);
    CHECK(store.error().code == Code::kNotOurs);
    CHECK(store.error().message == path.string() + " is not a webcrawl database");
  }
  CHECK(file_bytes(path) == contents);
}

TEST_CASE("an SQLite database of another program is refused and left unchanged", "[storage]") {
  TempDir dir;
  std::string path = dir.file("other.db").string();
  raw_sql(path, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
  std::string before = file_bytes(path);
  auto store = Store::open(path, OpenMode::kCrawl);
  REQUIRE_FALSE(store);
  CHECK(store.error().code == Code::kNotOurs);
  CHECK(file_bytes(path) == before);
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST_CASE("an empty SQLite file with another application_id is refused", "[storage]") {
  TempDir dir;
  std::string path = dir.file("other.db").string();
  raw_sql(path, "PRAGMA application_id = 42;");
  std::string before = file_bytes(path);
  auto store = Store::open(path, OpenMode::kCrawl);
  REQUIRE_FALSE(store);
  CHECK(store.error().code == Code::kNotOurs);
  CHECK(file_bytes(path) == before);
}

TEST_CASE("a zero-length file is initialised as a new database", "[storage]") {
  TempDir dir;
  auto path = dir.write("empty.db", "");
  auto store = open_store(path.string());
  CHECK(scalar(*store, "PRAGMA application_id") == std::to_string(kApplicationId));
}

TEST_CASE("a database written by a newer schema version is refused", "[storage]") {
  TempDir dir;
  std::string path = dir.file("c.db").string();
  open_store(path);
  raw_sql(path, "PRAGMA user_version = 99;");
  auto store = Store::open(path, OpenMode::kCrawl);
  REQUIRE_FALSE(store);
  CHECK(store.error().code == Code::kStorage);
  CHECK_THAT(store.error().message, Catch::Contains("newer"));
}

TEST_CASE("opening a missing file read-only fails without creating it", "[storage]") {
  TempDir dir;
  std::string path = dir.file("missing.db").string();
  CHECK_FALSE(Store::open(path, OpenMode::kReadOnly));
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("reopening a crawl resumes its queued URLs in id order", "[storage]") {
  TempDir dir;
  std::string path = dir.file("c.db").string();
  {
    auto store = open_store(path);
    int64_t a = seed(*store, "http://a.test/");
    PageResult p = page(a, "http://a.test/");
    p.links = {link("http://a.test/x"), link("http://b.test/y")};
    commit(*store, {p});
  }
  auto store = open_store(path);
  auto queued = store->queued_urls();
  REQUIRE(queued);
  REQUIRE(queued->size() == 2);
  CHECK(queued->at(0).url == "http://a.test/x");
  CHECK(queued->at(1).url == "http://b.test/y");
  CHECK(queued->at(1).origin == "http://b.test");
  CHECK(queued->at(1).depth == 1);
}

// ---- seeds ----

TEST_CASE("add_seeds queues new seeds at depth 0", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  auto queued = store->add_seeds({to("http://a.test/", 3), to("http://b.test/", 3)});
  REQUIRE(queued);
  REQUIRE(queued->size() == 2);
  CHECK(queued->at(0).depth == 0);
  CHECK(queued->at(1).origin == "http://b.test");
  CHECK(state_of(*store, "http://b.test/") == "queued");
}

TEST_CASE("add_seeds re-queues discovered and skipped URLs but leaves done ones", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  PageResult p = page(a, "http://a.test/");
  p.links = {OutLink{to("http://a.test/d", 2, false), "", false},
             OutLink{to("http://o.test/", 2, false, "out of scope"), "", false}};
  commit(*store, {p});

  auto queued =
      store->add_seeds({to("http://a.test/"), to("http://a.test/d"), to("http://o.test/")});
  REQUIRE(queued);
  REQUIRE(queued->size() == 2);
  CHECK(queued->at(0).url == "http://a.test/d");
  CHECK(queued->at(1).url == "http://o.test/");
  CHECK(state_of(*store, "http://a.test/") == "done");
  CHECK(
      scalar(
          *store,
          "SELECT depth || state || ifnull(reason, '-') FROM urls WHERE url = 'http://o.test/'") ==
      "0queued-");
}

TEST_CASE("add_seeds returns seeds that are still queued, once each", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  seed(*store, "http://a.test/");
  auto queued = store->add_seeds({to("http://a.test/"), to("http://a.test/")});
  REQUIRE(queued);
  CHECK(queued->size() == 1);
}

// ---- commit ----

TEST_CASE("the pages view has the documented columns and one row per document", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  commit(*store, {page(a, "http://a.test/", "Home", "Welcome home")});

  std::vector<std::string> expected = {"url",   "final_url", "status",    "content_type",
                                       "depth", "title",     "text",      "fetched_at",
                                       "error", "bytes",     "truncated", "host"};
  auto names = columns(*store, "SELECT * FROM pages");
  REQUIRE(names.size() >= expected.size());
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 12) == expected);
  CHECK(rows(*store,
             "SELECT url, final_url, status, content_type, depth, title, text, fetched_at, "
             "error, bytes, truncated, host FROM pages") ==
        Rows{{"http://a.test/", "http://a.test/", "200", "text/html", "0", "Home", "Welcome home",
              "2023-11-14T22:13:20.250Z", "", "100", "0", "http://a.test"}});
}

TEST_CASE("the links view has the documented columns and stores each link once", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  PageResult p = page(a, "http://a.test/");
  p.links = {link("http://a.test/x", "first"), link("http://a.test/y", "why")};
  commit(*store, {p});
  p.links = {link("http://a.test/x", "second")};
  commit(*store, {p});

  auto names = columns(*store, "SELECT * FROM links");
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 4) ==
        std::vector<std::string>{"src_url", "dst_url", "anchor_text", "nofollow"});
  CHECK(
      rows(*store, "SELECT src_url, dst_url, anchor_text, nofollow FROM links ORDER BY dst_url") ==
      Rows{{"http://a.test/", "http://a.test/x", "first", "0"},
           {"http://a.test/", "http://a.test/y", "why", "0"}});
}

TEST_CASE("commit returns the URLs it newly queued", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  int64_t b = seed(*store, "http://b.test/");
  PageResult pa = page(a, "http://a.test/");
  pa.links = {link("http://a.test/x"), link("http://b.test/")};
  PageResult pb = page(b, "http://b.test/");
  pb.links = {link("http://a.test/x"), OutLink{to("http://b.test/n", 1, false), "", true}};
  auto queued = store->commit({pa, pb});
  REQUIRE(queued);
  REQUIRE(queued->size() == 1);
  CHECK(queued->at(0).url == "http://a.test/x");
  CHECK(state_of(*store, "http://b.test/n") == "discovered");
}

TEST_CASE("url states record done, failed and skipped results with their reasons", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t ok = seed(*store, "http://a.test/ok");
  int64_t bad = seed(*store, "http://a.test/bad");
  int64_t robots = seed(*store, "http://a.test/private");
  int64_t missing = seed(*store, "http://a.test/missing");
  PageResult failed = page(bad, "http://a.test/bad");
  failed.status.reset();
  failed.error = "connection refused";
  PageResult skipped = page(robots, "http://a.test/private");
  skipped.status.reset();
  skipped.skipped = true;
  skipped.error = "disallowed by robots.txt";
  PageResult not_found = page(missing, "http://a.test/missing");
  not_found.status = 404;
  commit(*store, {page(ok, "http://a.test/ok"), failed, skipped, not_found});
  CHECK(rows(*store, "SELECT url, state, ifnull(reason, '-') FROM urls ORDER BY id") ==
        Rows{{"http://a.test/ok", "done", "-"},
             {"http://a.test/bad", "failed", "connection refused"},
             {"http://a.test/private", "skipped", "disallowed by robots.txt"},
             {"http://a.test/missing", "done", "-"}});
}

TEST_CASE("a link target skipped for a reason is stored with it and not queued", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  PageResult p = page(a, "http://a.test/");
  p.links = {OutLink{to("http://o.test/", 1, false, "out of scope"), "", false}};
  auto queued = store->commit({p});
  REQUIRE(queued);
  CHECK(queued->empty());
  CHECK(
      scalar(*store, "SELECT state || ':' || reason FROM frontier WHERE url = 'http://o.test/'") ==
      "skipped:out of scope");
}

TEST_CASE("a discovered URL is queued when a later link follows it, at the smaller depth",
          "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  int64_t b = seed(*store, "http://a.test/b");
  PageResult pa = page(a, "http://a.test/");
  pa.links = {OutLink{to("http://a.test/n", 3, false), "", true}};
  commit(*store, {pa});
  CHECK(state_of(*store, "http://a.test/n") == "discovered");

  PageResult pb = page(b, "http://a.test/b");
  pb.links = {link("http://a.test/n", "", 1)};
  auto queued = store->commit({pb});
  REQUIRE(queued);
  REQUIRE(queued->size() == 1);
  CHECK(queued->at(0).url == "http://a.test/n");
  CHECK(queued->at(0).depth == 1);
  CHECK(scalar(*store, "SELECT state || depth FROM urls WHERE url = 'http://a.test/n'") ==
        "queued1");
}

TEST_CASE("a URL skipped by robots stays skipped when a later link follows it", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  int64_t r = seed(*store, "http://a.test/private");
  PageResult skipped = page(r, "http://a.test/private");
  skipped.status.reset();
  skipped.skipped = true;
  skipped.error = "disallowed by robots.txt";
  PageResult pa = page(a, "http://a.test/");
  pa.links = {link("http://a.test/private")};
  auto queued = store->commit({skipped, pa});
  REQUIRE(queued);
  CHECK(queued->empty());
  CHECK(state_of(*store, "http://a.test/private") == "skipped");
}

TEST_CASE("a commit naming an unknown url id fails and stores nothing", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  auto r = store->commit({page(a, "http://a.test/"), page(999, "http://a.test/ghost")});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::kInvalidArgument);
  CHECK(*store->document_count() == 0);
  CHECK(state_of(*store, "http://a.test/") == "queued");
}

TEST_CASE("a rolled-back commit leaves no trace of the hosts it added", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  PageResult p = page(a, "http://a.test/");
  p.links = {link("http://n.test/x")};
  REQUIRE_FALSE(store->commit({p, page(999, "http://a.test/ghost")}));
  commit(*store, {p});
  CHECK(rows(*store, "SELECT url, host FROM frontier WHERE state = 'queued'") ==
        Rows{{"http://n.test/x", "http://n.test"}});
}

// ---- redirects ----

TEST_CASE("a redirect chain sets every ancestor's final_url to the end of the chain", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/a");
  auto q1 = store->commit({redirect(a, "http://a.test/a", "http://a.test/b", 1)});
  REQUIRE(q1);
  REQUIRE(q1->size() == 1);
  CHECK(q1->at(0).redirects == 1);
  auto q2 = store->commit({redirect(q1->at(0).id, "http://a.test/b", "http://a.test/c", 2)});
  REQUIRE(q2);
  REQUIRE(q2->size() == 1);
  commit(*store, {page(q2->at(0).id, "http://a.test/c", "End")});
  CHECK(rows(*store, "SELECT url, final_url, ifnull(redirect_to, '-') FROM pages ORDER BY url") ==
        Rows{{"http://a.test/a", "http://a.test/c", "http://a.test/b"},
             {"http://a.test/b", "http://a.test/c", "http://a.test/c"},
             {"http://a.test/c", "http://a.test/c", "-"}});
}

TEST_CASE("a redirect to an already fetched URL takes that URL's final_url", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t c = seed(*store, "http://a.test/c");
  int64_t a = seed(*store, "http://a.test/a");
  commit(*store, {page(c, "http://a.test/c")});
  commit(*store, {redirect(a, "http://a.test/a", "http://a.test/c")});
  CHECK(scalar(*store, "SELECT final_url FROM pages WHERE url = 'http://a.test/a'") ==
        "http://a.test/c");
}

TEST_CASE("a redirect back into its own chain is recorded as a redirect loop", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/a");
  auto q = store->commit({redirect(a, "http://a.test/a", "http://a.test/b")});
  REQUIRE(q);
  REQUIRE(q->size() == 1);
  auto back = store->commit({redirect(q->at(0).id, "http://a.test/b", "http://a.test/a", 2)});
  REQUIRE(back);
  CHECK(back->empty());
  CHECK(rows(*store, "SELECT url, ifnull(error, '-') FROM pages ORDER BY url") ==
        Rows{{"http://a.test/a", "-"}, {"http://a.test/b", "redirect loop"}});
}

TEST_CASE("a redirect to the URL itself is a redirect loop", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/a");
  commit(*store, {redirect(a, "http://a.test/a", "http://a.test/a")});
  CHECK(scalar(*store, "SELECT error FROM pages") == "redirect loop");
}

// ---- search ----

TEST_CASE("search finds pages by title and by text with a bracketed snippet", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  commit(*store, {page(a, "http://a.test/", "Gardening", "How to grow tomatoes in a small yard")});

  auto by_title = store->search("gardening");
  REQUIRE(by_title);
  REQUIRE(by_title->size() == 1);
  CHECK(by_title->at(0).url == "http://a.test/");
  CHECK(by_title->at(0).title == "Gardening");

  auto by_text = store->search("tomatoes");
  REQUIRE(by_text);
  REQUIRE(by_text->size() == 1);
  CHECK_THAT(by_text->at(0).snippet, Catch::Contains("[tomatoes]"));
}

TEST_CASE("search ranks title matches above text matches", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/text");
  int64_t b = seed(*store, "http://a.test/title");
  commit(*store, {page(a, "http://a.test/text", "Other", "notes about rust and other metals"),
                  page(b, "http://a.test/title", "Rust", "notes about a language")});
  auto hits = store->search("rust");
  REQUIRE(hits);
  REQUIRE(hits->size() == 2);
  CHECK(hits->at(0).url == "http://a.test/title");
  CHECK(hits->at(0).rank < hits->at(1).rank);
}

TEST_CASE("pages committed with index=false are not searchable", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  PageResult p = page(a, "http://a.test/", "Secret", "hidden words");
  p.index = false;
  commit(*store, {p});
  auto hits = store->search("hidden");
  REQUIRE(hits);
  CHECK(hits->empty());
}

TEST_CASE("a recommitted page replaces its search entry", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  commit(*store, {page(a, "http://a.test/", "Old", "apples")});
  commit(*store, {page(a, "http://a.test/", "New", "oranges")});
  CHECK(store->search("apples")->empty());
  CHECK(store->search("oranges")->size() == 1);
  CHECK(scalar(*store, "SELECT count(*) FROM pages_fts WHERE pages_fts MATCH 'old OR new'") == "1");
  // The external-content index agrees with its documents.
  CHECK(store->query(
      "INSERT INTO pages_fts(pages_fts, rank) VALUES('integrity-check', 1)", [](const auto&) {},
      [](const auto&) {}));
}

TEST_CASE("search accepts plain words that are not FTS5 syntax", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  commit(*store, {page(a, "http://a.test/", "C++ tips", "use well-known idioms")});
  auto hits = store->search("well-known c++");
  REQUIRE(hits);
  CHECK(hits->size() == 1);
}

TEST_CASE("an empty search query is an invalid argument", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  auto hits = store->search("  ");
  REQUIRE_FALSE(hits);
  CHECK(hits.error().code == Code::kInvalidArgument);
}

// ---- query ----

TEST_CASE("query streams column names and typed values", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  std::vector<std::string> names;
  std::vector<std::vector<Value>> got;
  auto r = store->query(
      "SELECT 7 AS i, 1.0 AS r, 'x' AS t, x'00ff' AS b, NULL AS n",
      [&](const std::vector<std::string>& n) { names = n; },
      [&](const std::vector<Value>& row) { got.push_back(row); });
  REQUIRE(r);
  CHECK(names == std::vector<std::string>{"i", "r", "t", "b", "n"});
  REQUIRE(got.size() == 1);
  const auto& row = got[0];
  CHECK(row[0].type == Value::Type::kInteger);
  CHECK(row[0].integer == 7);
  CHECK(row[1].type == Value::Type::kReal);
  CHECK(row[1].to_string() == "1.0");
  CHECK(row[2].type == Value::Type::kText);
  CHECK(row[3].type == Value::Type::kBlob);
  CHECK(row[3].to_string() == "x'00ff'");
  CHECK(row[4].type == Value::Type::kNull);
  CHECK(row[4].to_string().empty());
}

TEST_CASE("query refuses more than one statement and reports bad SQL", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  auto noop = [](const auto&) {};
  auto two = store->query("SELECT 1; SELECT 2", noop, noop);
  REQUIRE_FALSE(two);
  CHECK(two.error().code == Code::kInvalidArgument);
  auto bad = store->query("SELEC 1", noop, noop);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Code::kInvalidArgument);
  CHECK(store->query("SELECT 1; -- a comment\n", noop, noop));
}

TEST_CASE("a read-only store rejects write statements and writes", "[storage]") {
  TempDir dir;
  std::string path = dir.file("c.db").string();
  auto writer = open_store(path);
  auto reader = open_store(path, OpenMode::kReadOnly);
  auto noop = [](const auto&) {};
  auto r = reader->query("DELETE FROM urls", noop, noop);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "only read-only statements are allowed");
  CHECK_FALSE(reader->add_seeds({to("http://a.test/")}));
  CHECK_FALSE(reader->set_meta("k", "v"));
  CHECK(reader->query("SELECT count(*) FROM pages", noop, noop));
}

TEST_CASE("a reader reads while the writer holds an open transaction", "[storage]") {
  TempDir dir;
  std::string path = dir.file("c.db").string();
  auto writer = open_store(path);
  REQUIRE(writer->set_meta("k", "old"));
  auto noop = [](const auto&) {};
  REQUIRE(writer->query("BEGIN IMMEDIATE", noop, noop));
  REQUIRE(writer->query("UPDATE meta SET value = 'new'", noop, noop));

  auto reader = open_store(path, OpenMode::kReadOnly);
  auto during = reader->get_meta("k");
  REQUIRE(during);
  CHECK(*during == "old");

  REQUIRE(writer->query("COMMIT", noop, noop));
  CHECK(*reader->get_meta("k") == "new");
}

// ---- meta and stats ----

TEST_CASE("meta values are stored, replaced and read back", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  CHECK_FALSE(store->get_meta("start")->has_value());
  REQUIRE(store->set_meta("start", "1"));
  REQUIRE(store->set_meta("start", "2"));
  CHECK(*store->get_meta("start") == "2");
}

TEST_CASE("stats count URLs, documents, statuses, errors and hosts", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  int64_t b = seed(*store, "http://a.test/b");
  int64_t c = seed(*store, "http://c.test/");
  PageResult pa = page(a, "http://a.test/");
  pa.links = {link("http://a.test/b"), link("http://a.test/q")};
  PageResult pb = page(b, "http://a.test/b");
  pb.status = 404;
  pb.fetched_at = 1700000100;
  PageResult pc = page(c, "http://c.test/");
  pc.status.reset();
  pc.error = "timeout";
  pc.content_type.clear();
  pc.fetched_at = 1700000050;
  commit(*store, {pa, pb, pc});

  auto s = store->stats(1);
  REQUIRE(s);
  CHECK(s->urls_known == 4);
  CHECK(s->queued == 1);
  CHECK(s->fetched == 2);
  CHECK(s->failed == 1);
  CHECK(s->skipped == 0);
  CHECK(s->bytes == 300);
  CHECK(s->first_fetch == Approx(1700000000.25));
  CHECK(s->last_fetch == Approx(1700000100));
  CHECK(s->links == 2);
  CHECK(s->by_status == std::map<std::string, int64_t>{{"200", 1}, {"404", 1}});
  CHECK(s->by_content_type == std::map<std::string, int64_t>{{"text/html", 2}});
  CHECK(s->errors == std::map<std::string, int64_t>{{"timeout", 1}});
  CHECK(s->top_hosts == std::vector<std::pair<std::string, int64_t>>{{"http://a.test", 2}});
}

}  // namespace
}  // namespace webcrawl::storage
