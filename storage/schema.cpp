#include "storage/schema.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "storage/sqlite_util.h"

namespace webcrawl::storage {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// The tables of version 2. documents.indexed (beyond the documented columns)
// records whether the row has an entry in pages_fts, or is listed in
// fts_pending to get one (version 3): an external-content FTS5 table cannot
// tell, and replacing a document must delete exactly the entry that exists.
constexpr const char* kTables = R"sql(
CREATE TABLE hosts(
  id INTEGER PRIMARY KEY,
  origin TEXT NOT NULL UNIQUE,
  delay REAL
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
  discovered_at REAL NOT NULL,
  source TEXT,
  lastmod TEXT,
  run_id INTEGER
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
  charset TEXT,
  canonical TEXT,
  warc_file TEXT,
  warc_offset INTEGER,
  warc_length INTEGER,
  warc_revisit INTEGER,
  payload_digest TEXT,
  error_kind TEXT,
  run_id INTEGER
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
CREATE TABLE fetch_log(
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
  reused INTEGER NOT NULL,
  error_kind TEXT,
  run_id INTEGER
);
CREATE INDEX fetches_host ON fetch_log(host, started_at);
CREATE TABLE robots_log(
  id INTEGER PRIMARY KEY,
  host TEXT NOT NULL,
  url TEXT NOT NULL,
  fetched_at REAL NOT NULL,
  status INTEGER,
  error TEXT,
  body TEXT,
  crawl_delay REAL,
  sitemaps TEXT,
  run_id INTEGER
);
CREATE INDEX robots_host ON robots_log(host, fetched_at);
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT
);
)sql";

// What version 2 added to version 1's tables. The logs behind the new views
// keep their data under new names.
constexpr const char* kUpgradeFrom1 = R"sql(
DROP VIEW IF EXISTS pages;
DROP VIEW IF EXISTS links;
DROP VIEW IF EXISTS frontier;
ALTER TABLE hosts ADD COLUMN delay REAL;
ALTER TABLE urls ADD COLUMN source TEXT;
ALTER TABLE urls ADD COLUMN lastmod TEXT;
ALTER TABLE urls ADD COLUMN run_id INTEGER;
ALTER TABLE documents ADD COLUMN canonical TEXT;
ALTER TABLE documents ADD COLUMN warc_file TEXT;
ALTER TABLE documents ADD COLUMN warc_offset INTEGER;
ALTER TABLE documents ADD COLUMN warc_length INTEGER;
ALTER TABLE documents ADD COLUMN warc_revisit INTEGER;
ALTER TABLE documents ADD COLUMN payload_digest TEXT;
ALTER TABLE documents ADD COLUMN error_kind TEXT;
ALTER TABLE documents ADD COLUMN run_id INTEGER;
ALTER TABLE fetches ADD COLUMN error_kind TEXT;
ALTER TABLE fetches ADD COLUMN run_id INTEGER;
ALTER TABLE robots ADD COLUMN run_id INTEGER;
ALTER TABLE fetches RENAME TO fetch_log;
ALTER TABLE robots RENAME TO robots_log;
)sql";

// Tables version 2 brought, and every view: created in a new file and after
// an upgrade alike.
constexpr const char* kSince2 = R"sql(
CREATE TABLE sitemap_log(
  id INTEGER PRIMARY KEY,
  url TEXT NOT NULL,
  host TEXT NOT NULL,
  fetched_at REAL NOT NULL,
  status INTEGER,
  error TEXT,
  kind TEXT,
  urls INTEGER NOT NULL DEFAULT 0,
  run_id INTEGER
);
CREATE TABLE run_log(
  id INTEGER PRIMARY KEY,
  started_at REAL NOT NULL,
  ended_at REAL,
  version TEXT NOT NULL,
  options TEXT NOT NULL,
  seeds_sha256 TEXT,
  pages INTEGER NOT NULL DEFAULT 0,
  outcome TEXT
);
CREATE TABLE cookies(
  domain TEXT NOT NULL,
  path TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  expires REAL,
  secure INTEGER NOT NULL,
  http_only INTEGER NOT NULL,
  host_only INTEGER NOT NULL,
  created REAL NOT NULL,
  PRIMARY KEY(domain, path, name)
) WITHOUT ROWID;
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
       d.charset AS charset,
       CASE WHEN instr(substr(u.url, instr(substr(u.url, 9), '/') + 8), '?') > 0
            THEN substr(substr(u.url, instr(substr(u.url, 9), '/') + 8), 1,
                        instr(substr(u.url, instr(substr(u.url, 9), '/') + 8), '?') - 1)
            ELSE substr(u.url, instr(substr(u.url, 9), '/') + 8) END AS path,
       d.canonical AS canonical,
       d.warc_file AS warc_file,
       d.warc_offset AS warc_offset,
       d.error_kind AS error_kind,
       d.run_id AS run_id,
       d.warc_length AS warc_length,
       d.payload_digest AS payload_digest
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
       u.via AS via,
       strftime('%Y-%m-%dT%H:%M:%fZ', u.discovered_at, 'unixepoch') AS discovered_at,
       u.discovered_at AS discovered_unix,
       u.source AS source,
       u.lastmod AS lastmod,
       u.run_id AS run_id
FROM urls u
JOIN hosts h ON h.id = u.host_id;
CREATE VIEW fetches AS
SELECT url, host, address, kind, attempt,
       strftime('%Y-%m-%dT%H:%M:%fZ', started_at, 'unixepoch') AS started_at,
       waited, wait_reason, robots_rule, status, error, bytes, elapsed, reused,
       started_at AS started_unix,
       id,
       error_kind,
       run_id
FROM fetch_log;
CREATE VIEW robots AS
SELECT host, url,
       strftime('%Y-%m-%dT%H:%M:%fZ', fetched_at, 'unixepoch') AS fetched_at,
       status, error, body, crawl_delay, sitemaps,
       fetched_at AS fetched_unix,
       run_id
FROM robots_log;
CREATE VIEW sitemaps AS
SELECT url, host,
       strftime('%Y-%m-%dT%H:%M:%fZ', fetched_at, 'unixepoch') AS fetched_at,
       status, error, kind, urls,
       fetched_at AS fetched_unix,
       run_id
FROM sitemap_log;
CREATE VIEW runs AS
SELECT id,
       strftime('%Y-%m-%dT%H:%M:%fZ', started_at, 'unixepoch') AS started_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', ended_at, 'unixepoch') AS ended_at,
       version, options, seeds_sha256, pages, outcome,
       started_at AS started_unix,
       ended_at AS ended_unix
FROM run_log;
)sql";

// What version 3 added: the documents whose search entries are still to be
// written. A crawl's writer stores a page's row at once and indexes pending
// rows later, many at a time (see Store::defer_index); a row listed here has
// documents.indexed = 1 and no pages_fts entry yet. Listed in the same
// transaction as the document, so a kill never loses one.
//
// And a larger 'hashsize' (FTS5's default is 1 MB): the terms gathered before
// FTS5 writes them out as a segment. Indexing make bench's 20,000 pages (30 KB
// of text each) in transactions of 500 pages: 3.52 ms of CPU per page with a
// 4 MB hash, 2.67 with 16 MB; in 150-page transactions, as the crawl's
// commits were, 3.55 at 1 MB and 3.49 at 16 MB. The hash holds at most that
// much memory while the writer indexes.
constexpr const char* kSince3 = R"sql(
CREATE TABLE fts_pending(url_id INTEGER PRIMARY KEY);
INSERT INTO pages_fts(pages_fts, rank) VALUES('hashsize', 16777216);
)sql";

Error not_ours(const std::string& path, std::string_view detail = {}) {
  std::string message = path + " is not a webcrawl database";
  if (!detail.empty()) message += " (" + std::string(detail) + ")";
  return Error{Code::kNotOurs, std::move(message)};
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
  if (S_ISDIR(st.st_mode)) return Error{Code::kIo, path + " is a directory, not a database file"};
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

// Decides, without writing, whether the open file is ours: the schema
// version of a webcrawl database, 0 for an untouched SQLite database (no
// application_id, no objects) that we may initialise, an error otherwise.
Result<int> schema_version(sqlite3* db, const std::string& path) {
  int64_t app_id = 0;
  int rc = read_integer(db, "PRAGMA application_id", &app_id);
  if ((rc & 0xff) == SQLITE_NOTADB) return not_ours(path);
  if (rc != SQLITE_ROW) return from_sqlite(db, "read " + path);
  if (app_id == kApplicationId) {
    int64_t version = 0;
    if (read_integer(db, "PRAGMA user_version", &version) != SQLITE_ROW) return from_sqlite(db, "read " + path);
    if (version > kSchemaVersion) {
      return Error{Code::kStorage, path + " was written by a newer webcrawl (schema version " +
                                       std::to_string(version) + ", this build reads " +
                                       std::to_string(kSchemaVersion) + ")"};
    }
    if (version < 1) return Error{Code::kStorage, path + " has an unknown schema version " + std::to_string(version)};
    return static_cast<int>(version);
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
  return 0;
}

// Creates or upgrades the schema under a write lock, reading the version
// again inside the transaction in case another process got there first.
Result<void> prepare_schema(sqlite3* db, const std::string& path) {
  if (auto r = exec(db, "BEGIN IMMEDIATE"); !r) return r;
  auto version = schema_version(db, path);
  Result<void> result;
  if (!version) {
    result = version.error();
  } else if (*version < kSchemaVersion) {
    if (*version < 2) {
      result = exec(db, *version == 0 ? kTables : kUpgradeFrom1);
      if (result) result = exec(db, kSince2);
    }
    if (result) result = exec(db, kSince3);
    if (result) {
      std::string pragmas = "PRAGMA application_id = " + std::to_string(kApplicationId) +
                            "; PRAGMA user_version = " + std::to_string(kSchemaVersion) + ";";
      result = exec(db, pragmas.c_str());
    }
  }
  if (result) result = exec(db, "COMMIT");
  if (!result && sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return result;
}

// Closes the connection unless released: every early return closes it.
struct Connection {
  sqlite3* db = nullptr;
  ~Connection() {
    if (db) sqlite3_close_v2(db);
  }
  sqlite3* release() { return std::exchange(db, nullptr); }
};

}  // namespace

Result<sqlite3*> open_database(const std::string& path, Access access) {
  auto kind = classify_file(path);
  if (!kind) return kind.error();
  if (*kind == FileKind::kOther) return not_ours(path);
  const bool read_only = access == Access::kReadOnly;
  if (read_only && *kind == FileKind::kAbsent) return Error{Code::kStorage, path + ": no such file"};
  if (read_only && *kind == FileKind::kEmpty) return not_ours(path, "empty file");
  // An existing database is never created anew: open it without CREATE.
  int flags = SQLITE_OPEN_NOMUTEX | (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
  if (!read_only && *kind != FileKind::kSqlite) flags |= SQLITE_OPEN_CREATE;

  Connection c;
  int rc = sqlite3_open_v2(path.c_str(), &c.db, flags, nullptr);
  if (rc != SQLITE_OK) return from_sqlite(c.db, "open " + path);
  sqlite3_extended_result_codes(c.db, 1);
  sqlite3_busy_timeout(c.db, kBusyTimeoutMs);
  auto version = schema_version(c.db, path);
  if (!version) return version.error();
  if (read_only) {
    if (*version == 0) return not_ours(path, "no webcrawl schema");
    if (*version < kSchemaVersion) {
      // Written by an older webcrawl: upgrade it once, then read.
      sqlite3_close_v2(c.release());
      auto upgraded = open_database(path, Access::kReadWrite);
      if (!upgraded) return Error{upgraded.error().code, "cannot upgrade " + path + ": " + upgraded.error().message};
      sqlite3_close_v2(*upgraded);
      return open_database(path, Access::kReadOnly);
    }
    if (auto r = exec(c.db, "PRAGMA query_only = 1; PRAGMA cache_size = -16384;"); !r) return r.error();
    return c.release();
  }
  if (sqlite3_db_readonly(c.db, "main") == 1) return Error{Code::kStorage, path + ": the file is not writable"};
  // WAL lets readers run while the crawl writes. NORMAL sync is durable
  // enough in WAL mode (a power loss may drop the last commits, never corrupt).
  // Foreign keys stay off: the writer manages every id itself. A 16 MB page
  // cache wrote as fast as 32 MB did (bench_ceiling, 20,000 pages, a 1 GB
  // database: 358 and 356 pages/s) with 15 MB less RSS; since FTS5's term
  // hash takes up to 16 MB while the writer indexes (kSince3), the writer
  // keeps 8 MB (make bench-javadoc peak RSS 100.8 -> 92.1 MB).
  if (auto r = exec(c.db,
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                    "PRAGMA foreign_keys = OFF; PRAGMA cache_size = -8192; "
                    "PRAGMA temp_store = MEMORY;");
      !r) {
    return r.error();
  }
  if (*version < kSchemaVersion) {
    if (auto r = prepare_schema(c.db, path); !r) return r.error();
  }
  return c.release();
}

}  // namespace webcrawl::storage
