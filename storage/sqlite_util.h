// SQLite glue shared by the storage units (not for users of storage/):
// errors as values, prepared statements that reset themselves, and read
// snapshots. Every call here is on the connection's own thread.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace webcrawl::storage {

inline Error from_sqlite(sqlite3* db, std::string_view what) {
  return Error{Code::kStorage, std::string(what) + ": " + sqlite3_errmsg(db)};
}


struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

inline Result<Stmt> prepare(sqlite3* db, std::string_view sql, unsigned flags = 0) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return from_sqlite(db, "prepare");
  return stmt;
}

inline Result<void> exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return from_sqlite(db, sql);
  return {};
}

// One use of a prepared statement: bind, step, read columns. The destructor
// resets it, so the statement is reusable and holds no read snapshot. A failed
// bind (e.g. SQLITE_TOOBIG) is remembered and returned by step().
class Call {
 public:
  explicit Call(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Call() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  Call& bind_int(int i, int64_t v) { return note(sqlite3_bind_int64(stmt_, i, v)); }
  Call& bind_real(int i, double v) { return note(sqlite3_bind_double(stmt_, i, v)); }
  Call& bind_null(int i) { return note(sqlite3_bind_null(stmt_, i)); }
  // The text must outlive this Call (SQLITE_STATIC: no copy on the hot path).
  Call& bind_text(int i, std::string_view v) {
    const char* data = v.data() != nullptr ? v.data() : "";
    return note(sqlite3_bind_text64(stmt_, i, data, v.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  // Empty text is stored as NULL: "no title" reads better in SQL as IS NULL.
  Call& bind_text_or_null(int i, std::string_view v) {
    return v.empty() ? bind_null(i) : bind_text(i, v);
  }
  Call& bind_column(int i, sqlite3_stmt* src, int col) {
    return note(sqlite3_bind_value(stmt_, i, sqlite3_column_value(src, col)));
  }

  int step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(stmt_); }

  int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p != nullptr ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
                        : std::string();
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  Call& note(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

// Steps a statement that returns no rows.
inline Result<void> run(sqlite3* db, Call& call, std::string_view what) {
  if (call.step() != SQLITE_DONE) return from_sqlite(db, what);
  return {};
}

// Runs a read statement with optional integer parameters, calling row() per row.
template <class RowFn>
Result<void> each_row(sqlite3* db, std::string_view sql, std::initializer_list<int64_t> params,
                      RowFn&& row) {
  auto stmt = prepare(db, sql);
  if (!stmt) return stmt.error();
  Call call(stmt->get());
  int i = 1;
  for (int64_t p : params) call.bind_int(i++, p);
  int rc;
  while ((rc = call.step()) == SQLITE_ROW) row(call);
  if (rc != SQLITE_DONE) return from_sqlite(db, "query");
  return {};
}

// A read-only transaction, so several reads see one snapshot.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(sqlite3* db) : db_(db) { active_ = exec(db, "BEGIN").ok(); }
  ~ReadSnapshot() {
    if (active_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

 private:
  sqlite3* db_;
  bool active_ = false;
};


// Reads one integer; returns the SQLite result code (SQLITE_ROW on success).
inline int read_integer(sqlite3* db, const char* sql, int64_t* out) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(raw);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(raw, 0);
  return rc;
}

}  // namespace webcrawl::storage
