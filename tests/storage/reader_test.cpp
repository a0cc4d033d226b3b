// The read side: search, one read-only statement at a time, the summary.
#include "storage/reader.h"

#include <catch2/catch.hpp>

#include "tests/storage/store_fixtures.h"

namespace webcrawl::storage::test {
namespace {

std::unique_ptr<Reader> reader(Store& store) {
  auto r = Reader::open(store.path());
  REQUIRE(r);
  return std::move(*r);
}

// ---- search ----

TEST_CASE("search finds pages by title and by text with a bracketed snippet", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  commit(*store, {page(a, "http://a.test/", "Gardening", "How to grow tomatoes in a small yard")});

  auto by_title = reader(*store)->search("gardening");
  REQUIRE(by_title);
  REQUIRE(by_title->size() == 1);
  CHECK(by_title->at(0).url == "http://a.test/");
  CHECK(by_title->at(0).title == "Gardening");

  auto by_text = reader(*store)->search("tomatoes");
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
  auto hits = reader(*store)->search("rust");
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
  auto hits = reader(*store)->search("hidden");
  REQUIRE(hits);
  CHECK(hits->empty());
}

// The index is sound and, with `against_content` (every document indexed),
// agrees with its documents.
void check_index_integrity(const std::string& path, bool against_content = true) {
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
  std::string sql = std::string("INSERT INTO pages_fts(pages_fts, rank) VALUES('integrity-check', ") +
                    (against_content ? "1)" : "0)");
  CHECK(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
}

TEST_CASE("a recommitted page replaces its search entry", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  commit(*store, {page(a, "http://a.test/", "Old", "apples")});
  commit(*store, {page(a, "http://a.test/", "New", "oranges")});
  CHECK(reader(*store)->search("apples")->empty());
  CHECK(reader(*store)->search("oranges")->size() == 1);
  CHECK(scalar(*store, "SELECT count(*) FROM pages_fts WHERE pages_fts MATCH 'old OR new'") == "1");
  check_index_integrity(store->path());
}

// A store that defers indexing, with two seeded URLs.
struct Deferred {
  TempDir dir;
  std::unique_ptr<Store> store = open_store(dir.file("c.db").string());
  int64_t a = 0, b = 0;
  Deferred() {
    store->defer_index(true);
    a = seed(*store, "http://a.test/a");
    b = seed(*store, "http://a.test/b");
  }
};

TEST_CASE("with deferred indexing a stored page is searchable once its pending entry is written",
          "[storage]") {
  Deferred d;
  auto& store = d.store;
  commit(*store, {page(d.a, "http://a.test/a", "Gardening", "tomatoes"), page(d.b, "http://a.test/b", "Cooking", "soup")});
  CHECK(store->pending_index() == 2);
  CHECK(scalar(*store, "SELECT count(*) FROM pages") == "2");
  CHECK(reader(*store)->search("tomatoes")->empty());

  // One page per step: the callback runs between the steps, all in one pass.
  int steps = 0;
  auto indexed = store->index_pending(1, [&] { steps++; });
  REQUIRE(indexed);
  CHECK(*indexed == 2);
  CHECK(steps == 2);
  CHECK(store->pending_index() == 0);
  CHECK(scalar(*store, "SELECT count(*) FROM fts_pending") == "0");
  CHECK(reader(*store)->search("tomatoes")->size() == 1);
  CHECK(reader(*store)->search("soup")->size() == 1);
  check_index_integrity(store->path());
}

TEST_CASE("a pending page replaced before it was indexed gets one entry, or none", "[storage]") {
  Deferred d;
  auto& store = d.store;
  const int64_t a = d.a, b = d.b;
  commit(*store, {page(a, "http://a.test/a", "Old", "apples"), page(b, "http://a.test/b", "Old", "pears")});
  PageResult hidden = page(b, "http://a.test/b", "New", "plums");
  hidden.index = false;
  commit(*store, {page(a, "http://a.test/a", "New", "oranges"), hidden});
  CHECK(store->pending_index() == 1);
  REQUIRE(store->index_pending());
  CHECK(reader(*store)->search("apples")->empty());
  CHECK(reader(*store)->search("oranges")->size() == 1);
  CHECK(reader(*store)->search("pears OR plums")->empty());
  // And an indexed page replaced while deferring loses its old entry.
  commit(*store, {page(a, "http://a.test/a", "Newer", "lemons")});
  REQUIRE(store->index_pending());
  CHECK(reader(*store)->search("oranges")->empty());
  CHECK(reader(*store)->search("lemons")->size() == 1);
  check_index_integrity(store->path(), false);  // /b is stored unindexed
}

TEST_CASE("pages left pending by a store that closed without indexing are pending when it reopens",
          "[storage]") {
  TempDir dir;
  std::string path = dir.file("c.db").string();
  {
    auto store = open_store(path);
    store->defer_index(true);
    int64_t a = seed(*store, "http://a.test/a");
    commit(*store, {page(a, "http://a.test/a", "Gardening", "tomatoes")});
  }  // as a kill leaves it: the row and its listing committed, no entry
  auto store = open_store(path);
  CHECK(store->pending_index() == 1);
  CHECK(reader(*store)->search("tomatoes")->empty());
  // Without deferral the next commit indexes what is pending too.
  int64_t b = seed(*store, "http://a.test/b");
  commit(*store, {page(b, "http://a.test/b", "Cooking", "soup")});
  CHECK(store->pending_index() == 0);
  CHECK(reader(*store)->search("tomatoes")->size() == 1);
  CHECK(reader(*store)->search("soup")->size() == 1);
  check_index_integrity(path);
}

TEST_CASE("search accepts plain words that are not FTS5 syntax", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  commit(*store, {page(a, "http://a.test/", "C++ tips", "use well-known idioms")});
  auto hits = reader(*store)->search("well-known c++");
  REQUIRE(hits);
  CHECK(hits->size() == 1);
}

TEST_CASE("an empty search query is an invalid argument", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  auto hits = reader(*store)->search("  ");
  REQUIRE_FALSE(hits);
  CHECK(hits.error().code == Code::kInvalidArgument);
}


// ---- query ----

TEST_CASE("query streams column names and typed values", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  auto reader = Reader::open(store->path());
  REQUIRE(reader);
  std::vector<std::string> names;
  std::vector<std::vector<Value>> got;
  auto r = (*reader)->query(
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
  auto reader = Reader::open(store->path());
  REQUIRE(reader);
  auto noop = [](const auto&) {};
  auto two = (*reader)->query("SELECT 1; SELECT 2", noop, noop);
  REQUIRE_FALSE(two);
  CHECK(two.error().code == Code::kInvalidArgument);
  auto bad = (*reader)->query("SELEC 1", noop, noop);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Code::kInvalidArgument);
  CHECK((*reader)->query("SELECT 1; -- a comment\n", noop, noop));
}

TEST_CASE("a reader rejects write statements", "[storage]") {
  TempDir dir;
  std::string path = dir.file("c.db").string();
  auto writer = open_store(path);
  auto reader = Reader::open(path);
  REQUIRE(reader);
  auto noop = [](const auto&) {};
  auto r = (*reader)->query("DELETE FROM urls", noop, noop);
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "only read-only statements are allowed");
  CHECK((*reader)->query("SELECT count(*) FROM pages", noop, noop));
}

TEST_CASE("a reader reads while the writer holds an open transaction", "[storage]") {
  TempDir dir;
  std::string path = dir.file("c.db").string();
  auto writer = open_store(path);
  REQUIRE(writer->set_meta("k", "old"));
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw, "BEGIN IMMEDIATE; UPDATE meta SET value = 'new'", nullptr, nullptr, nullptr) == SQLITE_OK);

  CHECK(scalar(*writer, "SELECT value FROM meta WHERE key = 'k'") == "old");
  REQUIRE(sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  CHECK(scalar(*writer, "SELECT value FROM meta WHERE key = 'k'") == "new");
}


// ---- stats ----

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
  pc.error = "timeout after 30s in all";
  pc.error_kind = "timeout";
  pc.content_type.clear();
  pc.fetched_at = 1700000050;
  pb.error_kind = "http 4xx";
  commit(*store, {pa, pb, pc});

  auto s = reader(*store)->stats(1);
  REQUIRE(s);
  CHECK(s->urls_known == 4);
  CHECK(s->queued == 1);
  CHECK(s->fetched == 2);
  CHECK(s->failed == 1);
  CHECK(s->skipped_total == 0);

  CHECK(s->bytes == 300);
  CHECK(s->first_fetch == Approx(1700000000.25));
  CHECK(s->last_fetch == Approx(1700000100));
  CHECK(s->links == 2);
  CHECK(s->by_status == std::map<std::string, int64_t>{{"200", 1}, {"404", 1}});
  CHECK(s->by_content_type == std::map<std::string, int64_t>{{"text/html", 2}});
  CHECK(s->errors == std::map<std::string, int64_t>{{"http 4xx", 1}, {"timeout", 1}});
  CHECK(s->failing_hosts == std::vector<std::pair<std::string, int64_t>>{{"http://c.test", 1}});
  CHECK(s->top_hosts == std::vector<std::pair<std::string, int64_t>>{{"http://a.test", 2}});
}

TEST_CASE("stats of one run count only what that run did", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  REQUIRE(store->begin_run({1, "v", "{}", ""}));
  int64_t a = seed(*store, "http://a.test/");
  PageResult pa = page(a, "http://a.test/");
  pa.links = {link("http://a.test/b"), OutLink{to("http://out.test/", 1, false, "out of scope"), "", false}};
  commit(*store, {pa});
  auto second = store->begin_run({2, "v", "{}", ""});
  REQUIRE(second);
  auto queued = store->queued_urls();
  REQUIRE(queued->size() == 1);
  PageResult pb = page(queued->at(0).id, "http://a.test/b");
  pb.status.reset();
  pb.error = "connect: connection refused";
  pb.error_kind = "connect";
  commit(*store, {pb});

  auto whole = reader(*store)->stats();
  REQUIRE(whole);
  CHECK(whole->fetched == 1);
  CHECK(whole->failed == 1);
  CHECK(whole->skipped == std::map<std::string, int64_t>{{"out of scope", 1}});
  CHECK(whole->runs.size() == 2);
  auto run2 = reader(*store)->stats(10, *second);
  REQUIRE(run2);
  CHECK(run2->fetched == 0);
  CHECK(run2->failed == 1);
  CHECK(run2->skipped_total == 0);
  CHECK(run2->errors == std::map<std::string, int64_t>{{"connect", 1}});
  CHECK(run2->links == 0);
  CHECK(whole->links == 2);
}

}  // namespace
}  // namespace webcrawl::storage::test
