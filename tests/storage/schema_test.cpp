// Opening a crawl database: ours, new, upgraded, or refused untouched.
#include "storage/schema.h"

#include <catch2/catch.hpp>

#include "tests/storage/store_fixtures.h"

namespace webcrawl::storage::test {
namespace {

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
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(store->path().c_str(), &raw) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) == "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
}

TEST_CASE("a file that is not SQLite is refused and left byte-for-byte unchanged", "[storage]") {
  TempDir dir;
  std::string contents = GENERATE(std::string("hello, not a database\n"), std::string(8192, 'x'));
  auto path = dir.write("notes.txt", contents);
  for (Access access : {Access::kReadWrite, Access::kReadOnly}) {
    auto db = open_database(path.string(), access);
    REQUIRE_FALSE(db);
    CHECK(db.error().code == Code::kNotOurs);
    CHECK(db.error().message == path.string() + " is not a webcrawl database");
  }
  CHECK(file_bytes(path) == contents);
}

TEST_CASE("an SQLite database of another program is refused and left unchanged", "[storage]") {
  TempDir dir;
  std::string path = dir.file("other.db").string();
  raw_sql(path, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
  std::string before = file_bytes(path);
  auto store = Store::open(path);
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
  auto store = Store::open(path);
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
  auto store = Store::open(path);
  REQUIRE_FALSE(store);
  CHECK(store.error().code == Code::kStorage);
  CHECK_THAT(store.error().message, Catch::Contains("newer"));
}

TEST_CASE("opening a missing file read-only fails without creating it", "[storage]") {
  TempDir dir;
  std::string path = dir.file("missing.db").string();
  CHECK_FALSE(Reader::open(path));
  CHECK_FALSE(std::filesystem::exists(path));
}

}  // namespace

// A database as webcrawl 0.1 left it: schema version 1, one fetched page, its
// fetch and its robots.txt.
std::string version_1_database(TempDir& dir) {
  std::ifstream in(std::string(WEBCRAWL_SOURCE_DIR) + "/tests/storage/schema_v1.sql");
  std::string ddl((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(!ddl.empty());
  std::string path = dir.file("old.db").string();
  raw_sql(path, ddl.c_str());
  raw_sql(path,
          "INSERT INTO hosts VALUES(1, 'http://a.test');"
          "INSERT INTO urls(id, url, host_id, depth, state, discovered_at) VALUES(1, 'http://a.test/x?y=1', 1, 0, 'done', 1700000000);"
          "INSERT INTO documents(url_id, final_url, status, title, text, fetched_at, bytes, indexed) "
          "VALUES(1, 'http://a.test/x?y=1', 200, 'Old', 'kept text', 1700000001, 9, 1);"
          "INSERT INTO pages_fts(rowid, title, text) VALUES(1, 'Old', 'kept text');"
          "INSERT INTO fetches(url, host, kind, attempt, started_at, waited, bytes, elapsed, reused) "
          "VALUES('http://a.test/x?y=1', 'http://a.test', 'page', 0, 1700000000.5, 0, 9, 0.1, 0);"
          "INSERT INTO robots(host, url, fetched_at, status, body) VALUES('http://a.test', 'http://a.test/robots.txt', 1700000000, 404, '');");
  return path;
}

TEST_CASE("a version 1 database is upgraded in place, its data kept", "[storage]") {
  TempDir dir;
  std::string path = version_1_database(dir);
  auto store = open_store(path);
  CHECK(scalar(*store, "PRAGMA user_version") == std::to_string(kSchemaVersion));
  CHECK(rows(*store, "SELECT url, path, title, fetched_at, fetched_unix, canonical, warc_file FROM pages") ==
        Rows{{"http://a.test/x?y=1", "/x", "Old", "2023-11-14T22:13:21.000Z", "1700000001.0", "", ""}});
  CHECK(rows(*store, "SELECT started_at, started_unix, kind FROM fetches") ==
        Rows{{"2023-11-14T22:13:20.500Z", "1700000000.5", "page"}});
  CHECK(rows(*store, "SELECT status, fetched_at FROM robots") == Rows{{"404", "2023-11-14T22:13:20.000Z"}});
  CHECK(scalar(*store, "SELECT discovered_at FROM frontier") == "2023-11-14T22:13:20.000Z");
  CHECK(scalar(*store, "SELECT count(*) FROM runs") == "0");
  CHECK(scalar(*store, "SELECT count(*) FROM sitemaps") == "0");
  CHECK(scalar(*store, "SELECT count(*) FROM pages_fts WHERE pages_fts MATCH 'kept'") == "1");
  // It keeps working as a crawl database.
  int64_t b = seed(*store, "http://a.test/new");
  commit(*store, {page(b, "http://a.test/new", "New", "fresh")});
  CHECK(scalar(*store, "SELECT count(*) FROM pages") == "2");
}

TEST_CASE("opening a version 1 database for reading upgrades it first", "[storage]") {
  TempDir dir;
  std::string path = version_1_database(dir);
  auto reader = Reader::open(path);
  REQUIRE(reader);
  std::string version;
  REQUIRE((*reader)->query("PRAGMA user_version", [](const auto&) {},
                           [&](const std::vector<Value>& row) { version = row[0].to_string(); }));
  CHECK(version == std::to_string(kSchemaVersion));
}

TEST_CASE("every view has the columns the README documents", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  using Names = std::vector<std::string>;
  CHECK(columns(*store, "SELECT * FROM pages") ==
        Names{"url", "final_url", "status", "content_type", "depth", "title", "text", "fetched_at", "error", "bytes",
              "truncated", "host", "url_id", "redirect_to", "state", "fetched_unix", "charset", "path",
              "canonical", "warc_file", "warc_offset", "error_kind", "run_id", "warc_length", "payload_digest"});
  CHECK(columns(*store, "SELECT * FROM frontier") ==
        Names{"url", "host", "depth", "state", "reason", "id", "redirects", "via", "discovered_at",
              "discovered_unix", "source", "lastmod", "run_id"});
  CHECK(columns(*store, "SELECT * FROM fetches") ==
        Names{"url", "host", "address", "kind", "attempt", "started_at", "waited", "wait_reason", "robots_rule",
              "status", "error", "bytes", "elapsed", "reused", "started_unix", "id", "error_kind", "run_id"});
  CHECK(columns(*store, "SELECT * FROM robots") ==
        Names{"host", "url", "fetched_at", "status", "error", "body", "crawl_delay", "sitemaps", "fetched_unix",
              "run_id"});
  CHECK(columns(*store, "SELECT * FROM sitemaps") ==
        Names{"url", "host", "fetched_at", "status", "error", "kind", "urls", "fetched_unix", "run_id"});
  CHECK(columns(*store, "SELECT * FROM runs") ==
        Names{"id", "started_at", "ended_at", "version", "options", "seeds_sha256", "pages", "outcome",
              "started_unix", "ended_unix"});
}

TEST_CASE("a run is recorded when it begins and completed when it ends", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  auto id = store->begin_run({1700000000, "webcrawl 9", "{\"delay\":1}", "abc"});
  REQUIRE(id);
  CHECK(rows(*store, "SELECT version, options, seeds_sha256, ifnull(outcome, '-'), ifnull(ended_at, '-') FROM runs") ==
        Rows{{"webcrawl 9", "{\"delay\":1}", "abc", "-", "-"}});
  REQUIRE(store->end_run(*id, 1700000060, 42, "sigint"));
  CHECK(rows(*store, "SELECT pages, outcome, ended_at FROM runs") ==
        Rows{{"42", "sigint", "2023-11-14T22:14:20.000Z"}});
}

}  // namespace webcrawl::storage::test
