// The crawl database's schema: creating it in a new file, upgrading a file
// written by an older webcrawl, and refusing anything that is not ours
// without touching it.
//
// Layout (PRAGMA user_version = kSchemaVersion, PRAGMA application_id =
// kApplicationId): integer-keyed tables `hosts`, `urls` (every known URL: the
// frontier and the link targets), `documents` (one row per fetched or finally
// failed URL), `edges` (the link graph), logs `fetch_log`, `robots_log`,
// `sitemap_log`, `run_log`, the cookie jar `cookies`; user-facing views
// `pages`, `links`, `frontier`, `fetches`, `robots`, `sitemaps`, `runs` with the
// columns README.md documents; FTS5 table `pages_fts` (title, text) whose
// rowid is the url id, and `fts_pending`, the documents still to be indexed.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

struct sqlite3;

namespace webcrawl::storage {

inline constexpr int kSchemaVersion = 3;
inline constexpr int32_t kApplicationId = 0x57435257;  // "WCRW"

enum class Access { kReadOnly, kReadWrite };

// Opens `path` with SQLite and makes sure it holds the current schema. An
// absent or empty file is created (kReadWrite only). An older schema is
// upgraded in one transaction (even for kReadOnly, through a short writable
// connection: its tables only gain columns and views). Fails with kNotOurs for
// a file that exists and is not a webcrawl database (not SQLite, or SQLite
// without our application_id), which is never modified; with kStorage for a
// newer schema and other failures. The caller owns the connection.
Result<sqlite3*> open_database(const std::string& path, Access access);

}  // namespace webcrawl::storage
