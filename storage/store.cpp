// The crawl database on SQLite. See store.h for the contract.
//
// Writes go through statements prepared once per Store (Store::Statements)
// and run inside one BEGIN IMMEDIATE transaction per batch. Reads that users
// run (stats, search, query) prepare their statements on demand: they are not
// on the crawl's hot path, and a read-only Store prepares no write statements.
#include "storage/store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "storage/checkpointer.h"

namespace webcrawl::storage {
namespace {

constexpr int kBusyTimeoutMs = 5000;
// Redirect chains are walked through urls.via; a bound keeps a corrupt or
// cyclic chain from looping forever.
constexpr int kMaxViaSteps = 20;
// Origins cached by the writer; cleared when full so a broad crawl stays bounded.
constexpr std::size_t kHostCacheLimit = 1 << 16;

// documents.indexed (beyond the documented columns) records whether the row
// has an entry in pages_fts: an external-content FTS5 table cannot tell, and
// replacing a document must delete exactly the entry that exists.
constexpr const char* kSchema = R"sql(
CREATE TABLE hosts(
  id INTEGER PRIMARY KEY,
  origin TEXT NOT NULL UNIQUE
);
CREATE TABLE urls(
  id INTEGER PRIMARY KEY,
  url TEXT NOT NULL UNIQUE,
  host_id INTEGER NOT NULL REFERENCES hosts(id),
  depth INTEGER NOT NULL,
  redirects INTEGER NOT NULL DEFAULT 0,
  via INTEGER REFERENCES urls(id),
  state TEXT NOT NULL CHECK(state IN ('queued', 'in_flight', 'done', 'failed', 'skipped', 'discovered')),
  reason TEXT,
  discovered_at REAL NOT NULL
);
CREATE INDEX urls_queued ON urls(host_id, id) WHERE state = 'queued';  -- per-host frontier windows
CREATE INDEX urls_in_flight ON urls(id) WHERE state = 'in_flight';     -- reset when a crawl resumes
CREATE INDEX urls_host ON urls(host_id);
CREATE TABLE documents(
  url_id INTEGER PRIMARY KEY REFERENCES urls(id),
  final_url TEXT,
  status INTEGER,
  content_type TEXT,
  title TEXT,
  text TEXT,
  fetched_at REAL,
  error TEXT,
  bytes INTEGER,
  truncated INTEGER NOT NULL DEFAULT 0,
  redirect_to TEXT,
  indexed INTEGER NOT NULL DEFAULT 0,
  charset TEXT
);
CREATE TABLE edges(
  src_id INTEGER NOT NULL,
  dst_id INTEGER NOT NULL,
  anchor_text TEXT,
  nofollow INTEGER NOT NULL,
  PRIMARY KEY(src_id, dst_id)
) WITHOUT ROWID;
CREATE INDEX edges_dst ON edges(dst_id);
CREATE VIRTUAL TABLE pages_fts USING fts5(title, text, content='documents', content_rowid='url_id',
                                     tokenize='porter unicode61 remove_diacritics 2');
-- Indexing is most of the writer's work, and the writer is the crawl's serial
-- stage. Merging index segments less eagerly than FTS5's defaults (automerge
-- 4, crisismerge 16) makes each token's data be rewritten fewer times:
-- bench_ceiling, 20,000 pages, FTS CPU per page 1.64 -> 1.47 ms and 356 -> 398
-- pages/s going from automerge 16 to 64 with crisismerge 128 (from 4, the
-- writer's CPU per page had already dropped from 2.25 to 1.79 ms at 2,000
-- pages). Searches read more segments; on that database they take the same
-- 0.03-0.25 s. Automerge 0 (never) is worse: the forced crisis merges grow.
INSERT INTO pages_fts(pages_fts, rank) VALUES('automerge', 64);
INSERT INTO pages_fts(pages_fts, rank) VALUES('crisismerge', 128);
CREATE TABLE fetches(
  id INTEGER PRIMARY KEY,
  url TEXT NOT NULL,
  host TEXT NOT NULL,
  address TEXT,
  kind TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  started_at REAL,
  waited REAL NOT NULL,
  wait_reason TEXT,
  robots_rule TEXT,
  status INTEGER,
  error TEXT,
  bytes INTEGER NOT NULL,
  elapsed REAL NOT NULL,
  reused INTEGER NOT NULL
);
CREATE INDEX fetches_host ON fetches(host, started_at);
CREATE TABLE robots(
  id INTEGER PRIMARY KEY,
  host TEXT NOT NULL,
  url TEXT NOT NULL,
  fetched_at REAL NOT NULL,
  status INTEGER,
  error TEXT,
  body TEXT,
  crawl_delay REAL,
  sitemaps TEXT
);
CREATE INDEX robots_host ON robots(host, fetched_at);
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT
);
CREATE VIEW pages AS
SELECT u.url AS url,
       d.final_url AS final_url,
       d.status AS status,
       d.content_type AS content_type,
       u.depth AS depth,
       d.title AS title,
       d.text AS text,
       strftime('%Y-%m-%dT%H:%M:%fZ', d.fetched_at, 'unixepoch') AS fetched_at,
       d.error AS error,
       d.bytes AS bytes,
       d.truncated AS truncated,
       h.origin AS host,
       d.url_id AS url_id,
       d.redirect_to AS redirect_to,
       u.state AS state,
       d.fetched_at AS fetched_unix,
       d.charset AS charset
FROM documents d
JOIN urls u ON u.id = d.url_id
JOIN hosts h ON h.id = u.host_id;
CREATE VIEW links AS
SELECT s.url AS src_url,
       t.url AS dst_url,
       e.anchor_text AS anchor_text,
       e.nofollow AS nofollow,
       e.src_id AS src_id,
       e.dst_id AS dst_id
FROM edges e
JOIN urls s ON s.id = e.src_id
JOIN urls t ON t.id = e.dst_id;
CREATE VIEW frontier AS
SELECT u.url AS url,
       h.origin AS host,
       u.depth AS depth,
       u.state AS state,
       u.reason AS reason,
       u.id AS id,
       u.redirects AS redirects,
       u.via AS via
FROM urls u
JOIN hosts h ON h.id = u.host_id;
)sql";

Error from_sqlite(sqlite3* db, std::string_view what) {
  return Error{Code::kStorage, std::string(what) + ": " + sqlite3_errmsg(db)};
}

Error not_ours(const std::string& path, std::string_view detail = {}) {
  std::string message = path + " is not a webcrawl database";
  if (!detail.empty()) message += " (" + std::string(detail) + ")";
  return Error{Code::kNotOurs, std::move(message)};
}

Error read_only_store() {
  return Error{Code::kInvalidArgument, "the database was opened read-only"};
}

double unix_now() {
  using Seconds = std::chrono::duration<double>;
  return std::chrono::duration_cast<Seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

Result<Stmt> prepare(sqlite3* db, std::string_view sql, unsigned flags = 0) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return from_sqlite(db, "prepare");
  return stmt;
}

Result<void> exec(sqlite3* db, const char* sql) {
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
Result<void> run(sqlite3* db, Call& call, std::string_view what) {
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

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// "foo-bar baz" -> "\"foo-bar\" \"baz\"": every word as an FTS5 string, so
// plain words with punctuation search instead of failing to parse.
std::string quote_words(std::string_view q) {
  std::string out;
  std::size_t i = 0;
  while (i < q.size()) {
    while (i < q.size() && is_space(q[i])) ++i;
    std::size_t start = i;
    while (i < q.size() && !is_space(q[i])) ++i;
    if (i == start) break;
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : q.substr(start, i - start)) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out;
}

enum class FileKind { kAbsent, kEmpty, kSqlite, kOther };

// Looks at the file before SQLite does: SQLite may treat a short foreign file
// as an empty database, and initialising it would destroy it.
Result<FileKind> classify_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return FileKind::kAbsent;
    return Error{Code::kStorage, path + ": " + std::strerror(errno)};
  }
  if (!S_ISREG(st.st_mode)) return FileKind::kOther;
  if (st.st_size == 0) return FileKind::kEmpty;
  static constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with the NUL
  char header[sizeof kMagic] = {};
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Error{Code::kStorage, path + ": " + std::strerror(errno)};
  std::size_t n = std::fread(header, 1, sizeof header, f);
  std::fclose(f);
  bool sqlite = n == sizeof header && std::memcmp(header, kMagic, sizeof kMagic) == 0;
  return sqlite ? FileKind::kSqlite : FileKind::kOther;
}

// Reads one integer; returns the SQLite result code (SQLITE_ROW on success).
int read_integer(sqlite3* db, const char* sql, int64_t* out) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(raw);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(raw, 0);
  return rc;
}

// Decides, without writing, whether the open file is ours. Returns true when it
// is an untouched SQLite database (no application_id, no schema) that we may
// initialise, false when it is a webcrawl database of a version we can use.
Result<bool> needs_schema(sqlite3* db, const std::string& path) {
  int64_t app_id = 0;
  int rc = read_integer(db, "PRAGMA application_id", &app_id);
  if ((rc & 0xff) == SQLITE_NOTADB) return not_ours(path);
  if (rc != SQLITE_ROW) return from_sqlite(db, "read " + path);
  if (app_id == kApplicationId) {
    int64_t version = 0;
    if (read_integer(db, "PRAGMA user_version", &version) != SQLITE_ROW) {
      return from_sqlite(db, "read " + path);
    }
    if (version > kSchemaVersion) {
      return Error{Code::kStorage, path + " was written by a newer webcrawl (schema version " +
                                       std::to_string(version) + ", this build reads " +
                                       std::to_string(kSchemaVersion) + ")"};
    }
    if (version < kSchemaVersion) {
      return Error{Code::kStorage,
                   path + " has an unknown schema version " + std::to_string(version)};
    }
    return false;
  }
  if (app_id != 0) {
    char detail[64];
    std::snprintf(detail, sizeof detail, "SQLite application_id 0x%08llx",
                  static_cast<unsigned long long>(static_cast<uint32_t>(app_id)));
    return not_ours(path, detail);
  }
  int64_t objects = 0;
  if (read_integer(db, "SELECT count(*) FROM sqlite_master", &objects) != SQLITE_ROW) {
    return from_sqlite(db, "read " + path);
  }
  if (objects != 0) return not_ours(path, "an SQLite database of another program");
  return true;
}

// Creates the schema under a write lock, re-checking inside the transaction
// in case another process initialised the file first.
Result<void> create_schema(sqlite3* db, const std::string& path) {
  if (auto r = exec(db, "BEGIN IMMEDIATE"); !r) return r;
  auto fresh = needs_schema(db, path);
  Result<void> result;
  if (!fresh) {
    result = fresh.error();
  } else if (*fresh) {
    result = exec(db, kSchema);
    if (result) {
      std::string pragmas = "PRAGMA application_id = " + std::to_string(kApplicationId) +
                            "; PRAGMA user_version = " + std::to_string(kSchemaVersion) + ";";
      result = exec(db, pragmas.c_str());
    }
  }
  if (result) result = exec(db, "COMMIT");
  if (!result && sqlite3_get_autocommit(db) == 0) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return result;
}

struct KnownUrl {
  int64_t id = 0;
  std::string state;
  int64_t depth = 0;
  int64_t redirects = 0;
};

struct RedirectOutcome {
  bool loop = false;
  std::string final_url;  // the target's final URL when it was already fetched
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

const char* state_for_new(const DiscoveredUrl& t) {
  if (t.follow) return "queued";
  return t.skip_reason.empty() ? "discovered" : "skipped";
}

const char* state_for_result(const PageResult& page, std::string_view error) {
  if (page.skipped) return "skipped";
  if (!error.empty() && !page.status) return "failed";
  return "done";
}

}  // namespace

// The write statements of a crawl Store, prepared once, and the procedures
// that use them. Everything here runs inside a transaction opened by commit()
// or add_seeds(); any error rolls the whole batch back.
struct Store::Statements {
  explicit Statements(sqlite3* connection) : db(connection) {}

  Result<void> prepare_all();
  template <class Body>
  Result<void> in_transaction(Body&& body);

  Result<int64_t> host_id(std::string_view origin);
  Result<std::optional<KnownUrl>> find_url(std::string_view url);
  Result<int64_t> insert_url(const DiscoveredUrl& t, std::optional<int64_t> via, const char* state,
                             double now);
  Result<std::optional<int64_t>> via_of(int64_t id);
  Result<bool> in_via_chain(int64_t from, int64_t target);
  Result<void> promote(const KnownUrl& known, const DiscoveredUrl& t, int64_t redirects,
                       std::vector<QueuedUrl>& queued);
  Result<int64_t> link_target(const DiscoveredUrl& t, double now, std::vector<QueuedUrl>& queued);
  Result<RedirectOutcome> redirect_target(int64_t from, const DiscoveredUrl& t, double now,
                                          std::vector<QueuedUrl>& queued);
  Result<void> finish_url(int64_t id, const char* state, std::string_view reason);
  Result<void> put_document(const PageResult& page, std::string_view final_url,
                            std::string_view error);
  Result<void> propagate_final_url(int64_t id, std::string_view final_url);
  Result<void> apply(const PageResult& page, double now, std::vector<QueuedUrl>& queued);
  Result<void> record_fetch(const FetchRecord& f);
  Result<void> record_robots(const RobotsRecord& r);
  Result<void> seed(const DiscoveredUrl& s, double now, std::vector<QueuedUrl>& queued);

  sqlite3* db;
  Stmt begin, commit, rollback;
  Stmt host_find, host_insert;
  Stmt url_find, url_insert, url_finish, url_promote, url_seed, url_redirected, url_via;
  Stmt doc_old, doc_final, doc_put, doc_set_final;
  Stmt fts_insert, fts_delete;
  Stmt edge_insert;
  Stmt meta_set;
  Stmt fetch_insert, robots_insert, url_started;
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> hosts;
};

Result<void> Store::Statements::prepare_all() {
  const std::pair<Stmt*, const char*> all[] = {
      {&begin, "BEGIN IMMEDIATE"},
      {&commit, "COMMIT"},
      {&rollback, "ROLLBACK"},
      {&host_find, "SELECT id FROM hosts WHERE origin = ?1"},
      {&host_insert, "INSERT INTO hosts(origin) VALUES(?1)"},
      {&url_find, "SELECT id, state, depth, redirects FROM urls WHERE url = ?1"},
      {&url_insert,
       "INSERT INTO urls(url, host_id, depth, redirects, via, state, reason, discovered_at) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
      {&url_finish, "UPDATE urls SET state = ?2, reason = ?3 WHERE id = ?1"},
      // A URL skipped as a link target (scope, depth) may be queued when a
      // later link follows it; one skipped after a decision about the URL
      // itself (robots) has a document and stays skipped.
      {&url_promote,
       "UPDATE urls SET state = 'queued', reason = NULL, depth = min(depth, ?2) WHERE id = ?1 AND "
       "(state = 'discovered' OR (state = 'skipped' AND "
       "NOT EXISTS (SELECT 1 FROM documents WHERE url_id = ?1)))"},
      {&url_seed, "UPDATE urls SET state = 'queued', reason = NULL, depth = 0 WHERE id = ?1"},
      {&url_redirected,
       "UPDATE urls SET via = ?2, redirects = ?3, depth = min(depth, ?4) WHERE id = ?1"},
      {&url_via, "SELECT via FROM urls WHERE id = ?1"},
      {&doc_old, "SELECT title, text, indexed FROM documents WHERE url_id = ?1"},
      {&doc_final, "SELECT final_url FROM documents WHERE url_id = ?1"},
      {&doc_put,
       "INSERT OR REPLACE INTO documents(url_id, final_url, status, content_type, title, text, "
       "fetched_at, error, bytes, truncated, redirect_to, indexed, charset) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"},
      {&doc_set_final, "UPDATE documents SET final_url = ?2 WHERE url_id = ?1"},
      {&fts_insert, "INSERT INTO pages_fts(rowid, title, text) VALUES(?1, ?2, ?3)"},
      {&fts_delete,
       "INSERT INTO pages_fts(pages_fts, rowid, title, text) VALUES('delete', ?1, ?2, ?3)"},
      {&edge_insert,
       "INSERT OR IGNORE INTO edges(src_id, dst_id, anchor_text, nofollow) VALUES(?1, ?2, ?3, ?4)"},
      {&meta_set, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)"},
      {&fetch_insert,
       "INSERT INTO fetches(url, host, address, kind, attempt, started_at, waited, wait_reason, "
       "robots_rule, status, error, bytes, elapsed, reused) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"},
      {&url_started, "UPDATE urls SET state = 'in_flight' WHERE id = ?1 AND state = 'queued'"},
      {&robots_insert,
       "INSERT INTO robots(host, url, fetched_at, status, error, body, crawl_delay, sitemaps) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
  };
  for (const auto& [stmt, sql] : all) {
    auto prepared = prepare(db, sql, SQLITE_PREPARE_PERSISTENT);
    if (!prepared) return prepared.error();
    *stmt = std::move(*prepared);
  }
  return {};
}

template <class Body>
Result<void> Store::Statements::in_transaction(Body&& body) {
  {
    Call call(begin.get());
    if (auto r = run(db, call, "begin transaction"); !r) return r;
  }
  Result<void> result = body();
  if (result) {
    Call call(commit.get());
    result = run(db, call, "commit");
  }
  if (result) return result;
  // Some errors (SQLITE_FULL, SQLITE_IOERR) end the transaction themselves.
  if (sqlite3_get_autocommit(db) == 0) {
    Call call(rollback.get());
    call.step();
  }
  // Host ids inserted by the rolled-back transaction no longer exist.
  hosts.clear();
  return result;
}

Result<int64_t> Store::Statements::host_id(std::string_view origin) {
  if (auto it = hosts.find(origin); it != hosts.end()) return it->second;
  int64_t id = 0;
  {
    Call find(host_find.get());
    find.bind_text(1, origin);
    int rc = find.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return from_sqlite(db, "find host");
    if (rc == SQLITE_ROW) id = find.integer(0);
  }
  if (id == 0) {
    Call insert(host_insert.get());
    insert.bind_text(1, origin);
    if (auto r = run(db, insert, "insert host"); !r) return r.error();
    id = sqlite3_last_insert_rowid(db);
  }
  if (hosts.size() >= kHostCacheLimit) hosts.clear();
  hosts.emplace(std::string(origin), id);
  return id;
}

Result<std::optional<KnownUrl>> Store::Statements::find_url(std::string_view url) {
  Call find(url_find.get());
  find.bind_text(1, url);
  int rc = find.step();
  if (rc == SQLITE_DONE) return std::optional<KnownUrl>();
  if (rc != SQLITE_ROW) return from_sqlite(db, "find url");
  return std::optional<KnownUrl>(
      KnownUrl{find.integer(0), find.text(1), find.integer(2), find.integer(3)});
}

Result<int64_t> Store::Statements::insert_url(const DiscoveredUrl& t, std::optional<int64_t> via,
                                              const char* state, double now) {
  auto host = host_id(t.origin);
  if (!host) return host.error();
  Call insert(url_insert.get());
  insert.bind_text(1, t.url).bind_int(2, *host).bind_int(3, t.depth).bind_int(4, t.redirects);
  if (via) insert.bind_int(5, *via);
  insert.bind_text(6, state);
  if (std::strcmp(state, "skipped") == 0) insert.bind_text(7, t.skip_reason);
  insert.bind_real(8, now);
  if (auto r = run(db, insert, "insert url"); !r) return r.error();
  return sqlite3_last_insert_rowid(db);
}

Result<std::optional<int64_t>> Store::Statements::via_of(int64_t id) {
  Call find(url_via.get());
  find.bind_int(1, id);
  int rc = find.step();
  if (rc == SQLITE_ROW && !find.is_null(0)) return std::optional<int64_t>(find.integer(0));
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return from_sqlite(db, "read redirect chain");
  return std::optional<int64_t>();
}

Result<bool> Store::Statements::in_via_chain(int64_t from, int64_t target) {
  auto step = via_of(from);
  for (int i = 0; i < kMaxViaSteps && step && step->has_value(); ++i) {
    if (**step == target) return true;
    step = via_of(**step);
  }
  if (!step) return step.error();
  return false;
}

Result<void> Store::Statements::promote(const KnownUrl& known, const DiscoveredUrl& t,
                                        int64_t redirects, std::vector<QueuedUrl>& queued) {
  if (known.state != "discovered" && known.state != "skipped") return {};
  Call update(url_promote.get());
  update.bind_int(1, known.id).bind_int(2, t.depth);
  if (auto r = run(db, update, "queue url"); !r) return r;
  if (sqlite3_changes(db) == 0) return {};
  queued.push_back(QueuedUrl{known.id, t.url, t.origin,
                             static_cast<int>(std::min<int64_t>(known.depth, t.depth)),
                             static_cast<int>(redirects)});
  return {};
}

Result<int64_t> Store::Statements::link_target(const DiscoveredUrl& t, double now,
                                               std::vector<QueuedUrl>& queued) {
  auto known = find_url(t.url);
  if (!known) return known.error();
  if (known->has_value()) {
    if (t.follow) {
      if (auto r = promote(**known, t, (*known)->redirects, queued); !r) return r.error();
    }
    return (*known)->id;
  }
  const char* state = state_for_new(t);
  auto id = insert_url(t, std::nullopt, state, now);
  if (id && t.follow) queued.push_back(QueuedUrl{*id, t.url, t.origin, t.depth, t.redirects});
  return id;
}

Result<RedirectOutcome> Store::Statements::redirect_target(int64_t from, const DiscoveredUrl& t,
                                                           double now,
                                                           std::vector<QueuedUrl>& queued) {
  auto known = find_url(t.url);
  if (!known) return known.error();
  if (!known->has_value()) {
    auto id = insert_url(t, from, state_for_new(t), now);
    if (!id) return id.error();
    if (t.follow) queued.push_back(QueuedUrl{*id, t.url, t.origin, t.depth, t.redirects});
    return RedirectOutcome{};
  }
  const KnownUrl& target = **known;
  if (target.id == from) return RedirectOutcome{true, {}};
  auto loop = in_via_chain(from, target.id);
  if (!loop) return loop.error();
  if (*loop) return RedirectOutcome{true, {}};
  if (target.state == "done" || target.state == "failed") {
    // Already fetched: this chain ends where the target's chain ended.
    Call find(doc_final.get());
    find.bind_int(1, target.id);
    int rc = find.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return from_sqlite(db, "read final url");
    return RedirectOutcome{false, rc == SQLITE_ROW ? find.text(0) : std::string()};
  }
  {
    Call update(url_redirected.get());
    update.bind_int(1, target.id).bind_int(2, from).bind_int(3, t.redirects).bind_int(4, t.depth);
    if (auto r = run(db, update, "record redirect"); !r) return r.error();
  }
  if (t.follow) {
    if (auto r = promote(target, t, t.redirects, queued); !r) return r.error();
  }
  return RedirectOutcome{};
}

Result<void> Store::Statements::finish_url(int64_t id, const char* state, std::string_view reason) {
  Call update(url_finish.get());
  update.bind_int(1, id).bind_text(2, state);
  if (std::strcmp(state, "done") != 0) update.bind_text(3, reason);
  if (auto r = run(db, update, "update url state"); !r) return r;
  if (sqlite3_changes(db) == 0) {
    return Error{Code::kInvalidArgument, "commit: unknown url id " + std::to_string(id)};
  }
  return {};
}

Result<void> Store::Statements::put_document(const PageResult& page, std::string_view final_url,
                                             std::string_view error) {
  {
    // External-content FTS5 deletes by the indexed values, so the old entry
    // must go before the row that holds those values is replaced.
    Call old(doc_old.get());
    old.bind_int(1, page.url_id);
    int rc = old.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return from_sqlite(db, "read document");
    if (rc == SQLITE_ROW && old.integer(2) != 0) {
      Call del(fts_delete.get());
      del.bind_int(1, page.url_id).bind_column(2, old.get(), 0).bind_column(3, old.get(), 1);
      if (auto r = run(db, del, "delete search entry"); !r) return r;
    }
  }
  Call put(doc_put.get());
  put.bind_int(1, page.url_id).bind_text_or_null(2, final_url);
  if (page.status) put.bind_int(3, *page.status);
  put.bind_text_or_null(4, page.content_type)
      .bind_text_or_null(5, page.title)
      .bind_text_or_null(6, page.text);
  if (page.fetched_at > 0) put.bind_real(7, page.fetched_at);
  put.bind_text_or_null(8, error).bind_int(9, page.bytes).bind_int(10, page.truncated ? 1 : 0);
  if (page.redirect) put.bind_text(11, page.redirect->url);
  put.bind_int(12, page.index ? 1 : 0).bind_text_or_null(13, page.charset);
  if (auto r = run(db, put, "store document"); !r) return r;
  if (!page.index) return {};
  Call fts(fts_insert.get());
  fts.bind_int(1, page.url_id).bind_text_or_null(2, page.title).bind_text_or_null(3, page.text);
  return run(db, fts, "index document");
}

Result<void> Store::Statements::propagate_final_url(int64_t id, std::string_view final_url) {
  auto step = via_of(id);
  for (int i = 0; i < kMaxViaSteps && step && step->has_value() && **step != id; ++i) {
    Call update(doc_set_final.get());
    update.bind_int(1, **step).bind_text(2, final_url);
    if (auto r = run(db, update, "update redirect chain"); !r) return r;
    step = via_of(**step);
  }
  if (!step) return step.error();
  return {};
}

Result<void> Store::Statements::record_fetch(const FetchRecord& f) {
  Call put(fetch_insert.get());
  put.bind_text(1, f.url).bind_text(2, f.host).bind_text_or_null(3, f.address).bind_text(4, f.kind);
  put.bind_int(5, f.attempt);
  if (f.started_at) {
    put.bind_real(6, *f.started_at);
  } else {
    put.bind_null(6);
  }
  put.bind_real(7, f.waited).bind_text_or_null(8, f.wait_reason).bind_text_or_null(9, f.robots_rule);
  if (f.status) {
    put.bind_int(10, *f.status);
  } else {
    put.bind_null(10);
  }
  put.bind_text_or_null(11, f.error).bind_int(12, f.bytes).bind_real(13, f.elapsed);
  put.bind_int(14, f.reused ? 1 : 0);
  return run(db, put, "record fetch");
}

Result<void> Store::Statements::record_robots(const RobotsRecord& r) {
  Call put(robots_insert.get());
  put.bind_text(1, r.host).bind_text(2, r.url).bind_real(3, r.fetched_at);
  if (r.status) {
    put.bind_int(4, *r.status);
  } else {
    put.bind_null(4);
  }
  put.bind_text_or_null(5, r.error).bind_text(6, r.body);
  if (r.crawl_delay) {
    put.bind_real(7, *r.crawl_delay);
  } else {
    put.bind_null(7);
  }
  std::string sitemaps;
  for (const auto& m : r.sitemaps) sitemaps += (sitemaps.empty() ? "" : "\n") + m;
  put.bind_text_or_null(8, sitemaps);
  return run(db, put, "record robots.txt");
}

Result<void> Store::Statements::apply(const PageResult& page, double now,
                                      std::vector<QueuedUrl>& queued) {
  std::string_view error = page.error;
  std::string_view final_url = page.final_url;
  RedirectOutcome redirect;
  if (page.redirect) {
    auto outcome = redirect_target(page.url_id, *page.redirect, now, queued);
    if (!outcome) return outcome.error();
    redirect = std::move(*outcome);
    if (redirect.loop) error = "redirect loop";
    if (!redirect.final_url.empty()) final_url = redirect.final_url;
  }
  if (auto r = finish_url(page.url_id, state_for_result(page, error), error); !r) return r;
  if (auto r = put_document(page, final_url, error); !r) return r;
  // Only a response names a final URL; a failed fetch leaves its chain as is.
  if (!final_url.empty() && !redirect.loop) {
    if (auto r = propagate_final_url(page.url_id, final_url); !r) return r;
  }
  for (const OutLink& link : page.links) {
    auto dst = link_target(link.target, now, queued);
    if (!dst) return dst.error();
    Call edge(edge_insert.get());
    edge.bind_int(1, page.url_id)
        .bind_int(2, *dst)
        .bind_text_or_null(3, link.anchor_text)
        .bind_int(4, link.nofollow ? 1 : 0);
    if (auto r = run(db, edge, "insert link"); !r) return r;
  }
  return {};
}

Result<void> Store::Statements::seed(const DiscoveredUrl& s, double now,
                                     std::vector<QueuedUrl>& queued) {
  auto known = find_url(s.url);
  if (!known) return known.error();
  if (!known->has_value()) {
    DiscoveredUrl fresh = s;
    fresh.depth = 0;
    fresh.redirects = 0;
    auto id = insert_url(fresh, std::nullopt, "queued", now);
    if (!id) return id.error();
    queued.push_back(QueuedUrl{*id, s.url, s.origin, 0, 0});
    return {};
  }
  const KnownUrl& url = **known;
  if (url.state == "done" || url.state == "failed") return {};
  Call update(url_seed.get());
  update.bind_int(1, url.id);
  if (auto r = run(db, update, "queue seed"); !r) return r;
  queued.push_back(QueuedUrl{url.id, s.url, s.origin, 0, static_cast<int>(url.redirects)});
  return {};
}

// ---- Store ----

Store::Store(sqlite3* db) : db_(db) {}

Store::~Store() {
  checkpointer_.reset();  // before the connection it hooks closes
  stmts_.reset();  // statements must be finalized before the connection closes
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, OpenMode mode,
                                           Checkpoints checkpoints) {
  auto kind = classify_file(path);
  if (!kind) return kind.error();
  if (*kind == FileKind::kOther) return not_ours(path);
  const bool read_only = mode == OpenMode::kReadOnly;
  if (read_only && *kind == FileKind::kAbsent) {
    return Error{Code::kStorage, path + ": no such file"};
  }
  if (read_only && *kind == FileKind::kEmpty) return not_ours(path, "empty file");
  // An existing database is never created anew: open it without CREATE.
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READWRITE;
  if (read_only) flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READONLY;
  if (!read_only && *kind != FileKind::kSqlite) flags |= SQLITE_OPEN_CREATE;

  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  std::unique_ptr<Store> store(new Store(db));  // closes db on every path
  if (rc != SQLITE_OK) return from_sqlite(db, "open " + path);
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);

  auto fresh = needs_schema(db, path);
  if (!fresh) return fresh.error();
  if (read_only) {
    if (*fresh) return not_ours(path, "no webcrawl schema");
    auto pragmas = exec(db, "PRAGMA query_only = 1; PRAGMA cache_size = -16384;");
    if (!pragmas) return pragmas.error();
    return store;
  }
  if (sqlite3_db_readonly(db, "main") == 1) {
    return Error{Code::kStorage, path + ": the file is not writable"};
  }
  // WAL lets readers run while the crawl writes. NORMAL sync is durable
  // enough in WAL mode (a power loss may drop the last commits, never corrupt).
  // Foreign keys stay off: the writer manages every id itself. A 16 MB page
  // cache writes as fast as 32 MB did (bench_ceiling, 20,000 pages, a 1 GB
  // database: 358 and 356 pages/s) with 15 MB less RSS.
  if (auto r = exec(db,
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                    "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -16384; "
                    "PRAGMA temp_store = MEMORY;");
      !r) {
    return r.error();
  }
  if (*fresh) {
    if (auto r = create_schema(db, path); !r) return r.error();
  }
  // Requests in flight when the last run ended (a kill, a stop) go again.
  if (auto r = exec(db, "UPDATE urls SET state = 'queued' WHERE state = 'in_flight'"); !r) {
    return r.error();
  }
  store->stmts_ = std::make_unique<Statements>(db);
  if (auto r = store->stmts_->prepare_all(); !r) return r.error();
  // Without the thread (or when its connection did not open), the writer
  // checkpoints as SQLite does by default: no less safe.
  if (checkpoints == Checkpoints::kThread) {
    if (auto c = Checkpointer::start(path, db)) store->checkpointer_ = std::move(*c);
  }
  return store;
}

Result<std::vector<QueuedUrl>> Store::add_seeds(const std::vector<DiscoveredUrl>& seeds) {
  if (!stmts_) return read_only_store();
  std::vector<QueuedUrl> queued;
  if (seeds.empty()) return queued;
  const double now = unix_now();
  auto r = stmts_->in_transaction([&]() -> Result<void> {
    for (const DiscoveredUrl& s : seeds) {
      if (auto one = stmts_->seed(s, now, queued); !one) return one;
    }
    return {};
  });
  if (!r) return r.error();
  // A seed listed twice must reach the crawler once.
  std::unordered_set<int64_t> seen;
  std::erase_if(queued, [&](const QueuedUrl& q) { return !seen.insert(q.id).second; });
  return queued;
}

Result<std::vector<QueuedUrl>> Store::commit(const std::vector<PageResult>& results) {
  Batch batch;
  batch.pages = results;
  return commit(batch);
}

Result<std::vector<QueuedUrl>> Store::commit(const Batch& batch) {
  if (!stmts_) return read_only_store();
  std::vector<QueuedUrl> queued;
  if (batch.pages.empty() && batch.fetches.empty() && batch.robots.empty() && batch.started.empty()) {
    return queued;
  }
  const double now = unix_now();
  auto r = stmts_->in_transaction([&]() -> Result<void> {
    for (int64_t id : batch.started) {
      Call mark(stmts_->url_started.get());
      mark.bind_int(1, id);
      if (auto one = run(db_, mark, "mark in flight"); !one) return one;
    }
    // FTS5 flushes its pending terms as a new index segment whenever a rowid
    // is lower than the one before it in a transaction, and later merges redo
    // every segment. Pages finish in any order (a crawl turns from host to
    // host), so they are applied in url id order. 20,000-page crawl, runs in
    // turns: FTS CPU 35-38 -> 27-28 s, 314-339 -> 393-401 pages/s.
    std::vector<const PageResult*> pages;
    pages.reserve(batch.pages.size());
    for (const PageResult& page : batch.pages) pages.push_back(&page);
    std::stable_sort(pages.begin(), pages.end(),
                     [](const PageResult* a, const PageResult* b) { return a->url_id < b->url_id; });
    for (const PageResult* page : pages) {
      if (auto one = stmts_->apply(*page, now, queued); !one) return one;
    }
    for (const FetchRecord& f : batch.fetches) {
      if (auto one = stmts_->record_fetch(f); !one) return one;
    }
    for (const RobotsRecord& rr : batch.robots) {
      if (auto one = stmts_->record_robots(rr); !one) return one;
    }
    return {};
  });
  if (!r) return r.error();
  return queued;
}

Result<std::vector<QueuedUrl>> Store::queued_urls() {
  std::vector<QueuedUrl> out;
  auto r = each_row(db_,
                    "SELECT u.id, u.url, h.origin, u.depth, u.redirects FROM urls u "
                    "JOIN hosts h ON h.id = u.host_id WHERE u.state = 'queued' ORDER BY u.id",
                    {}, [&](const Call& row) {
                      out.push_back(QueuedUrl{row.integer(0), row.text(1), row.text(2),
                                              static_cast<int>(row.integer(3)),
                                              static_cast<int>(row.integer(4))});
                    });
  if (!r) return r.error();
  return out;
}

Result<std::vector<std::pair<std::string, int64_t>>> Store::queued_by_host() {
  std::vector<std::pair<std::string, int64_t>> out;
  auto r = each_row(db_,
                    "SELECT h.origin, q.n FROM (SELECT host_id, count(*) AS n FROM urls "
                    "WHERE state = 'queued' GROUP BY host_id) q JOIN hosts h ON h.id = q.host_id "
                    "ORDER BY q.host_id",
                    {}, [&](const Call& row) { out.emplace_back(row.text(0), row.integer(1)); });
  if (!r) return r.error();
  return out;
}

Result<std::vector<QueuedUrl>> Store::queued_for_host(const std::string& origin, int64_t after_id,
                                                      std::size_t limit) {
  std::vector<QueuedUrl> out;
  auto stmt = prepare(db_,
                      "SELECT u.id, u.url, u.depth, u.redirects FROM urls u "
                      "WHERE u.host_id = (SELECT id FROM hosts WHERE origin = ?1) "
                      "AND u.state = 'queued' AND u.id > ?2 ORDER BY u.id LIMIT ?3");
  if (!stmt) return stmt.error();
  Call call(stmt->get());
  call.bind_text(1, origin).bind_int(2, after_id).bind_int(3, static_cast<int64_t>(limit));
  int rc;
  while ((rc = call.step()) == SQLITE_ROW) {
    out.push_back(QueuedUrl{call.integer(0), call.text(1), origin, static_cast<int>(call.integer(2)),
                            static_cast<int>(call.integer(3))});
  }
  if (rc != SQLITE_DONE) return from_sqlite(db_, "queued urls of " + origin);
  return out;
}

Result<std::vector<std::pair<std::string, int64_t>>> Store::documents_by_host() {
  std::vector<std::pair<std::string, int64_t>> out;
  auto r = each_row(db_,
                    "SELECT h.origin, count(*) FROM documents d JOIN urls u ON u.id = d.url_id "
                    "JOIN hosts h ON h.id = u.host_id WHERE u.state <> 'skipped' GROUP BY u.host_id",
                    {}, [&](const Call& row) { out.emplace_back(row.text(0), row.integer(1)); });
  if (!r) return r.error();
  return out;
}

Result<std::vector<std::string>> Store::seed_origins() {
  std::vector<std::string> out;
  auto r = each_row(db_,
                    "SELECT h.origin FROM hosts h WHERE EXISTS "
                    "(SELECT 1 FROM urls u WHERE u.host_id = h.id AND u.depth = 0) ORDER BY h.id",
                    {}, [&](const Call& row) { out.push_back(row.text(0)); });
  if (!r) return r.error();
  return out;
}

Result<int64_t> Store::document_count() {
  int64_t count = 0;
  auto r = each_row(db_, "SELECT count(*) FROM documents", {},
                    [&](const Call& row) { count = row.integer(0); });
  if (!r) return r.error();
  return count;
}

Result<void> Store::set_meta(std::string_view key, std::string_view value) {
  if (!stmts_) return read_only_store();
  Call put(stmts_->meta_set.get());
  put.bind_text(1, key).bind_text(2, value);
  return run(db_, put, "set meta");
}

Result<std::optional<std::string>> Store::get_meta(std::string_view key) {
  auto stmt = prepare(db_, "SELECT value FROM meta WHERE key = ?1");
  if (!stmt) return stmt.error();
  Call get(stmt->get());
  get.bind_text(1, key);
  int rc = get.step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return from_sqlite(db_, "get meta");
  return std::optional<std::string>(get.text(0));
}

Result<CrawlStats> Store::stats(std::size_t top_hosts) {
  CrawlStats s;
  ReadSnapshot snapshot(db_);
  auto r =
      each_row(db_, "SELECT state, count(*) FROM urls GROUP BY state", {}, [&](const Call& row) {
        std::string state = row.text(0);
        int64_t n = row.integer(1);
        s.urls_known += n;
        if (state == "queued") s.queued = n;
        if (state == "failed") s.failed = n;
        if (state == "skipped") s.skipped = n;
      });
  if (r) {
    r = each_row(db_,
                 "SELECT count(status), total(bytes), min(fetched_at), max(fetched_at) "
                 "FROM documents",
                 {}, [&](const Call& row) {
                   s.fetched = row.integer(0);
                   s.bytes = static_cast<int64_t>(sqlite3_column_double(row.get(), 1));
                   s.first_fetch = sqlite3_column_double(row.get(), 2);
                   s.last_fetch = sqlite3_column_double(row.get(), 3);
                 });
  }
  if (r) {
    r = each_row(db_, "SELECT count(*) FROM edges", {},
                 [&](const Call& row) { s.links = row.integer(0); });
  }
  if (r) {
    r = each_row(db_,
                 "SELECT status, count(*) FROM documents WHERE status IS NOT NULL GROUP BY status",
                 {}, [&](const Call& row) { s.by_status[row.text(0)] = row.integer(1); });
  }
  if (r) {
    r = each_row(db_,
                 "SELECT content_type, count(*) FROM documents WHERE content_type IS NOT NULL "
                 "GROUP BY content_type",
                 {}, [&](const Call& row) { s.by_content_type[row.text(0)] = row.integer(1); });
  }
  if (r) {
    r = each_row(db_,
                 "SELECT error, count(*) FROM documents WHERE error IS NOT NULL GROUP BY error", {},
                 [&](const Call& row) { s.errors[row.text(0)] = row.integer(1); });
  }
  if (r) {
    const auto limit = static_cast<int64_t>(std::min<std::size_t>(top_hosts, INT64_MAX));
    r = each_row(db_,
                 "SELECT h.origin, count(*) AS n FROM documents d JOIN urls u ON u.id = d.url_id "
                 "JOIN hosts h ON h.id = u.host_id GROUP BY h.id ORDER BY n DESC, h.origin "
                 "LIMIT ?1",
                 {limit},
                 [&](const Call& row) { s.top_hosts.emplace_back(row.text(0), row.integer(1)); });
  }
  if (r) {
    r = each_row(db_,
                 "SELECT count(*), coalesce(sum(reused = 0 AND started_at IS NOT NULL), 0) FROM fetches",
                 {}, [&](const Call& row) {
                   s.requests = row.integer(0);
                   s.connections = row.integer(1);
                 });
  }
  if (r) {
    // The politeness check: per host, the smallest gap between consecutive
    // request starts actually written to it.
    const auto limit = static_cast<int64_t>(std::min<std::size_t>(top_hosts, INT64_MAX));
    r = each_row(db_,
                 "SELECT host, min(gap) AS g FROM (SELECT host, started_at - lag(started_at) "
                 "OVER (PARTITION BY host ORDER BY started_at) AS gap FROM fetches "
                 "WHERE started_at IS NOT NULL) WHERE gap IS NOT NULL GROUP BY host "
                 "ORDER BY g, host LIMIT ?1",
                 {limit},
                 [&](const Call& row) { s.min_gaps.emplace_back(row.text(0), row.real(1)); });
  }
  if (!r) return r.error();
  return s;
}

namespace {

// Runs the search once; an FTS5 syntax error comes back as kInvalidArgument.
Result<std::vector<SearchHit>> run_search(sqlite3* db, std::string_view match, int64_t limit) {
  auto stmt = prepare(db,
                      "SELECT u.url, d.title, snippet(pages_fts, 1, '[', ']', '\u2026', 12), "
                      "bm25(pages_fts, 10.0, 1.0) AS r FROM pages_fts "
                      "JOIN documents d ON d.url_id = pages_fts.rowid "
                      "JOIN urls u ON u.id = d.url_id "
                      "WHERE pages_fts MATCH ?1 ORDER BY r LIMIT ?2");
  if (!stmt) return stmt.error();
  Call call(stmt->get());
  call.bind_text(1, match).bind_int(2, limit);
  std::vector<SearchHit> hits;
  int rc;
  while ((rc = call.step()) == SQLITE_ROW) {
    hits.push_back(
        SearchHit{call.text(0), call.text(1), call.text(2), sqlite3_column_double(call.get(), 3)});
  }
  if (rc == SQLITE_DONE) return hits;
  if ((rc & 0xff) == SQLITE_ERROR) {
    return Error{Code::kInvalidArgument, std::string("bad search query: ") + sqlite3_errmsg(db)};
  }
  return from_sqlite(db, "search");
}

}  // namespace

Result<std::vector<SearchHit>> Store::search(std::string_view fts_query, std::size_t limit) {
  std::string words = quote_words(fts_query);
  if (words.empty()) return Error{Code::kInvalidArgument, "empty search query"};
  const auto max = static_cast<int64_t>(std::min<std::size_t>(limit, INT64_MAX));
  auto hits = run_search(db_, fts_query, max);
  if (hits || hits.error().code != Code::kInvalidArgument || words == fts_query) return hits;
  // Plain words that happen not to be FTS5 syntax ("c++ foo-bar") still search.
  auto retry = run_search(db_, words, max);
  if (retry) return retry;
  return hits;
}

namespace {

// Prepares exactly one statement: what follows it may only be whitespace and
// comments, which SQLite prepares into no statement at all.
Result<Stmt> prepare_one(sqlite3* db, std::string_view sql) {
  if (sql.size() > INT_MAX) return Error{Code::kInvalidArgument, "the SQL text is too long"};
  const char* tail = nullptr;
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return Error{Code::kInvalidArgument, sqlite3_errmsg(db)};
  if (!stmt) return Error{Code::kInvalidArgument, "no SQL statement given"};
  std::string_view rest = sql.substr(static_cast<std::size_t>(tail - sql.data()));
  sqlite3_stmt* extra = nullptr;
  rc = sqlite3_prepare_v2(db, rest.data(), static_cast<int>(rest.size()), &extra, nullptr);
  Stmt extra_stmt(extra);
  // A NUL would hide the text after it from SQLite.
  if (rc != SQLITE_OK || extra_stmt || rest.find('\0') != std::string_view::npos) {
    return Error{Code::kInvalidArgument, "only one SQL statement is allowed"};
  }
  return stmt;
}

void read_value(sqlite3_stmt* stmt, int col, Value& v) {
  v.text.clear();
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
      v.type = Value::Type::kInteger;
      v.integer = sqlite3_column_int64(stmt, col);
      return;
    case SQLITE_FLOAT:
      v.type = Value::Type::kReal;
      v.real = sqlite3_column_double(stmt, col);
      return;
    case SQLITE_TEXT: {
      v.type = Value::Type::kText;
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      if (p != nullptr) v.text.assign(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)));
      return;
    }
    case SQLITE_BLOB: {
      v.type = Value::Type::kBlob;
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, col));
      if (p != nullptr) v.text.assign(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, col)));
      return;
    }
    default:
      v.type = Value::Type::kNull;
      return;
  }
}

}  // namespace

Result<void> Store::query(std::string_view sql,
                          const std::function<void(const std::vector<std::string>&)>& on_columns,
                          const std::function<void(const std::vector<Value>&)>& on_row) {
  auto stmt = prepare_one(db_, sql);
  if (!stmt) return stmt.error();
  sqlite3_stmt* raw = stmt->get();
  if (sqlite3_db_readonly(db_, "main") == 1 && sqlite3_stmt_readonly(raw) == 0) {
    return Error{Code::kInvalidArgument, "only read-only statements are allowed"};
  }

  const int columns = sqlite3_column_count(raw);
  std::vector<std::string> names;
  names.reserve(static_cast<std::size_t>(columns));
  for (int i = 0; i < columns; ++i) {
    const char* name = sqlite3_column_name(raw, i);
    names.emplace_back(name != nullptr ? name : "");
  }
  if (on_columns) on_columns(names);

  std::vector<Value> row(static_cast<std::size_t>(columns));
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    for (int i = 0; i < columns; ++i) read_value(raw, i, row[static_cast<std::size_t>(i)]);
    if (on_row) on_row(row);
  }
  if (rc != SQLITE_DONE) return from_sqlite(db_, "query");
  return {};
}

std::string Value::to_string() const {
  switch (type) {
    case Type::kNull:
      return {};
    case Type::kInteger:
      return std::to_string(integer);
    case Type::kReal: {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, real);
      if (ec != std::errc()) return {};
      std::string out(buf, end);
      // Like SQLite, keep a real looking real: 1.0, not 1.
      if (out.find_first_of(".eEn") == std::string::npos) out += ".0";
      return out;
    }
    case Type::kText:
      return text;
    case Type::kBlob: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out = "x'";
      out.reserve(text.size() * 2 + 3);
      for (unsigned char c : text) {
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
      }
      out += '\'';
      return out;
    }
  }
  return {};
}

}  // namespace webcrawl::storage
