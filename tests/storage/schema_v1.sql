-- The schema of webcrawl 0.1 (user_version 1), kept to test upgrades from it.
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
PRAGMA application_id = 1464029783;
PRAGMA user_version = 1;
