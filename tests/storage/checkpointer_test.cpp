#include "storage/checkpointer.h"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/support/temp_dir.h"

namespace webcrawl::storage {
namespace {

using testing::TempDir;

// A raw connection, as the Store's writer holds one.
class Db {
 public:
  explicit Db(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr) == SQLITE_OK);
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    std::string text = message != nullptr ? message : "";
    sqlite3_free(message);
    INFO(sql << ": " << text);
    REQUIRE(rc == SQLITE_OK);
  }
  // One transaction that adds about `pages` 4 KiB pages to the log.
  void write_pages(int pages) {
    exec("BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
         std::to_string(pages) + ") INSERT INTO t SELECT randomblob(3500) FROM n; COMMIT;");
  }
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

std::uintmax_t size_of(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

// Waits up to five seconds for `done`.
template <class Done>
bool eventually(Done&& done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A fresh WAL database with one table, and its file's size before any checkpoint.
struct WalDb {
  WalDb() {
    writer.exec("PRAGMA journal_mode = WAL; CREATE TABLE t(b BLOB);");
    before = size_of(path);
  }
  TempDir dir;
  std::filesystem::path path = dir.file("wal.db");
  Db writer{path.string()};
  std::uintmax_t before = 0;
};

TEST_CASE("the checkpointer copies a grown log back to the database while the writer goes on",
          "[checkpointer]") {
  WalDb wal;
  auto& [dir, path, writer, before] = wal;
  auto checkpointer = Checkpointer::start(path.string(), writer.get());
  REQUIRE(checkpointer);

  writer.write_pages(Checkpointer::kWakeAt / 2);  // not enough to wake it
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK((*checkpointer)->completed() == 0);
  CHECK(size_of(path) == before);

  writer.write_pages(Checkpointer::kWakeAt);
  REQUIRE(eventually([&] { return (*checkpointer)->completed() == 1; }));
  CHECK(size_of(path) > before + Checkpointer::kWakeAt * std::uintmax_t{3500});

  // Nothing is lost or doubled, and the next commit writes on.
  writer.write_pages(10);
  Db reader(path.string());
  sqlite3_stmt* count = nullptr;
  REQUIRE(sqlite3_prepare_v2(reader.get(), "SELECT count(*) FROM t", -1, &count, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(count) == SQLITE_ROW);
  CHECK(sqlite3_column_int(count, 0) == Checkpointer::kWakeAt / 2 + Checkpointer::kWakeAt + 10);
  sqlite3_finalize(count);
}

TEST_CASE("once the checkpointer is gone the writer checkpoints by itself again", "[checkpointer]") {
  WalDb wal;
  auto& [dir, path, writer, before] = wal;
  {
    auto checkpointer = Checkpointer::start(path.string(), writer.get());
    REQUIRE(checkpointer);
  }
  writer.write_pages(Checkpointer::kWakeAt + 100);
  // SQLite's own autocheckpoint ran inside that commit.
  CHECK(size_of(path) > before + Checkpointer::kWakeAt * std::uintmax_t{3500});
}

TEST_CASE("the checkpointer refuses a database that is not in WAL mode", "[checkpointer]") {
  TempDir dir;
  auto path = dir.file("rollback.db");
  Db writer(path.string());
  writer.exec("CREATE TABLE t(b BLOB);");
  auto checkpointer = Checkpointer::start(path.string(), writer.get());
  REQUIRE_FALSE(checkpointer);
  CHECK(checkpointer.error().message == "checkpoint connection: the database is not in WAL mode");
}

}  // namespace
}  // namespace webcrawl::storage
