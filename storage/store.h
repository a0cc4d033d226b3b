// The crawl's writable database: the writes a crawl makes (seeds, batches
// of results with their links, frontier states, audit rows) and the frontier
// reads it needs to resume. The schema is schema.h's; what users read
// (stats, search, query) is reader.h's, on a connection of its own.
//
// A Store is one SQLite connection, owned by the crawl's writer thread, which
// (with Checkpoints::kThread) keeps a thread and a second connection of its
// own for WAL checkpoints; readers open a Reader (WAL lets them read while
// the crawl writes).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/schema.h"

struct sqlite3;

namespace webcrawl::storage {

class Checkpointer;

// A URL the crawler should fetch, as the frontier holds it.
struct QueuedUrl {
  int64_t id = 0;
  std::string url;     // normalized href
  std::string origin;  // scheme://host[:port], the politeness key
  int depth = 0;
  int redirects = 0;   // redirect hops that led here (0 for links and seeds)
};

// A URL seen in a link, a redirect or the seed list.
struct DiscoveredUrl {
  std::string url;
  std::string origin;
  int depth = 0;
  int redirects = 0;
  // True: queue it if it is new. False: store it as known but not to be
  // fetched, with `skip_reason` (for example "out of scope", "max depth",
  // "too many redirects"; empty means merely discovered).
  bool follow = false;
  std::string skip_reason;
  std::string source = {};   // how it was found: "seed", "link", "redirect", "sitemap", "canonical"
  std::string lastmod = {};  // a sitemap entry's <lastmod>, as written
};

struct OutLink {
  DiscoveredUrl target;
  std::string anchor_text;
  bool nofollow = false;
};

// Where a page's response (or revisit) record is in the crawl's WARC files.
struct WarcPlace {
  std::string file;            // relative to the --warc directory
  uint64_t offset = 0;         // of the gzip member holding the record
  uint64_t length = 0;         // that member's size
  bool revisit = false;        // a revisit record: the payload is in an earlier one
  std::string payload_digest;  // "sha1:BASE32"
};

// The end of one URL's life in this crawl: fetched, failed, or skipped.
struct PageResult {
  int64_t url_id = 0;
  std::string final_url;              // the URL the response came from
  std::optional<int> status;          // no value when no HTTP response came
  std::string content_type;           // media type, lowercase, no parameters
  std::string charset;                // the encoding the text was decoded from (HTML only)
  std::string title;
  std::string text;
  bool index = false;                 // add title/text to pages_fts (HTML, not noindex)
  double fetched_at = 0;              // unix seconds
  std::string error;                  // empty: none
  bool skipped = false;               // never requested (robots, ...); `error` says why
  std::string skip_reason;            // the frontier's reason for it ("robots unavailable"); "": `error`
  int64_t bytes = 0;                  // body bytes received (before decoding)
  bool truncated = false;             // body cut at --max-body
  // What kind of error (README: errors by kind): "dns", "connect", "tls",
  // "timeout", "protocol", "robots", "http 4xx", "http 5xx"; empty: none.
  std::string error_kind;
  // The URL failed although an answer came: a 429 or 5xx still there after
  // the last retry. (No answer at all always fails.)
  bool failed = false;
  std::optional<WarcPlace> warc;      // with --warc: its record
  std::optional<DiscoveredUrl> redirect;  // Location of a 3xx, resolved
  std::string canonical;              // pages.canonical: absolute; "" when none
  std::optional<DiscoveredUrl> canonical_target;  // queued like a link, when not the page itself
  std::vector<OutLink> links;         // distinct targets found in the page
};

// One request attempt, for the audit trail of a crawl's politeness (`fetches`).
struct FetchRecord {
  std::string url;
  std::string host;          // origin
  std::string address;       // resolved IP; empty when never connected
  std::string kind;          // "page" or "robots"
  int attempt = 0;           // 0 for the first try
  std::optional<double> started_at;  // unix seconds the request was written; none if never
  double waited = 0;         // seconds between being next in line and starting
  std::string wait_reason;   // what it waited for: "host delay", "crawl-delay", "back-off",
                             // "retry-after", "connections"; empty when it did not wait
  std::string robots_rule;   // the rule that allowed it, "no matching rule", or "robots off"
  std::optional<int> status;
  std::string error;
  int64_t bytes = 0;
  double elapsed = 0;        // seconds from the start of the attempt to its end
  bool reused = false;       // over a kept-alive connection
  std::string error_kind;    // as PageResult::error_kind
};

// One robots.txt fetch, kept whole (`robots`).
struct RobotsRecord {
  std::string host;          // origin
  std::string url;           // where the body came from (after redirects)
  double fetched_at = 0;     // unix seconds
  std::optional<int> status;
  std::string error;
  std::string body;          // as received, at most 500 KiB
  std::optional<double> crawl_delay;
  std::vector<std::string> sitemaps;
};

// One sitemap fetch (`sitemaps`), and the page URLs a urlset listed.
struct SitemapRecord {
  std::string url;
  std::string host;          // origin
  double fetched_at = 0;     // unix seconds
  std::optional<int> status; // none: never answered (or never requested: `error` says why)
  std::string error;         // also what a limit dropped ("truncated at 50000 URLs")
  std::string kind;          // "urlset", "index", or "" when unknown
  int64_t urls = 0;          // <loc> entries it listed, within the limits
  std::vector<DiscoveredUrl> entries;  // a urlset's pages, decided as links are
};

// One cookie of a crawl's jar (--cookies), a row of `cookies`; with
// `removed`, the deletion of the row with its domain, path and name.
struct CookieRecord {
  std::string domain;              // lowercase, no leading dot
  std::string path;
  std::string name;
  std::string value;
  std::optional<double> expires;   // unix seconds; none: a session cookie
  bool secure = false;
  bool http_only = false;
  bool host_only = true;
  double created = 0;              // unix seconds
  bool removed = false;
};

// Everything the writer commits in one transaction.
struct Batch {
  std::vector<int64_t> started;  // url ids whose requests began: state 'in_flight'
  std::vector<PageResult> pages;
  std::vector<FetchRecord> fetches;
  std::vector<RobotsRecord> robots;
  std::vector<SitemapRecord> sitemaps;
  // The delay the crawl keeps for a host (its own delay or its Crawl-delay,
  // the larger), for reports that show whether the policy held.
  std::vector<std::pair<std::string, double>> host_delays;
  // Changes to the cookie jar, applied in order: a set replaces the row, a
  // removal deletes it.
  std::vector<CookieRecord> cookies;
};

// One invocation of `webcrawl crawl` on the database (the `runs` view).
struct RunRecord {
  double started_at = 0;     // unix seconds
  std::string version;       // "webcrawl 0.2"
  std::string options;       // the effective options as JSON
  std::string seeds_sha256;  // of the seed URLs given to this run, one per line; "" when none
};

// Who copies a writable Store's WAL back into the database file.
enum class Checkpoints {
  kThread,  // a thread of the Store's own (see checkpointer.h): the crawl's writer
            // commits without stopping to copy
  kWriter,  // the writing connection, as SQLite does by default: less CPU in all
            // when nothing else waits for the writer
};

class Store {
 public:
  // Opens (creating or upgrading, see open_database) the database at `path`
  // and puts URLs left 'in_flight' by an earlier run back in the queue. Fails
  // with kNotOurs for a file that is not a webcrawl database (never
  // modified), kStorage for other failures.
  static Result<std::unique_ptr<Store>> open(const std::string& path,
                                             Checkpoints checkpoints = Checkpoints::kThread);
  ~Store();
  Store(const Store&) = delete;
  const std::string& path() const { return path_; }
  Store& operator=(const Store&) = delete;

  // ---- crawl writes (writer thread) ----

  // Inserts seeds as depth-0 URLs and returns those that now need fetching: new
  // ones, and known ones that were only discovered or skipped. Done URLs stay done.
  Result<std::vector<QueuedUrl>> add_seeds(const std::vector<DiscoveredUrl>& seeds);
  // Applies results in one transaction: document rows, search entries (see
  // defer_index), URL states, new URLs, link edges, redirect chains
  // (ancestors' final_url updated; a redirect back into its own chain is
  // recorded as error "redirect loop").
  // Returns the URLs newly queued by these results.
  Result<std::vector<QueuedUrl>> commit(const std::vector<PageResult>& results);
  // The same, with the batch's fetch and robots.txt records in the same transaction.
  Result<std::vector<QueuedUrl>> commit(const Batch& batch);
  // ---- the search index ----
  //
  // FTS5 writes the terms it holds as a new index segment each time a
  // transaction ends (or its pending terms pass 'hashsize'), and its merges
  // rewrite every segment again, so many small commits index for more than
  // a few large ones. By default commit() indexes its pages as it applies
  // them (and any an earlier deferring run left pending). With
  // defer_index(true) it stores a page's row and lists it in fts_pending in
  // that transaction, and index_pending() writes the
  // entries of every listed page in one transaction of its own: the writer
  // calls it when enough have gathered, or the oldest has waited long
  // enough, and before it stops. A listed page is not yet found by search;
  // the list is durable, so a killed crawl indexes it when the database is
  // next written.
  void defer_index(bool on);
  // Pages stored and not yet indexed (rows in fts_pending).
  int64_t pending_index() const;
  // Indexes every pending page in one transaction, `step` pages per
  // statement in url id order, calling `between` after each statement
  // (which must not use the store); returns how many.
  Result<int64_t> index_pending(int64_t step = INT64_MAX, const std::function<void()>& between = {});

  // Every URL still queued, in id order (tests and tools; a crawl reads windows).
  Result<std::vector<QueuedUrl>> queued_urls();
  // How many URLs each origin has queued (to resume a crawl without loading them).
  Result<std::vector<std::pair<std::string, int64_t>>> queued_by_host();
  // Up to `limit` queued URLs of `origin` with ids above `after_id`, in id
  // order: the next window of that host's queue.
  Result<std::vector<QueuedUrl>> queued_for_host(const std::string& origin, int64_t after_id,
                                                 std::size_t limit);
  // The origins of every depth-0 URL (the seeds and the targets of their
  // redirects), which define a crawl's scope when it resumes.
  Result<std::vector<std::string>> seed_origins();
  // Documents stored per origin (for --max-pages-per-host across runs).
  Result<std::vector<std::pair<std::string, int64_t>>> documents_by_host();
  // Number of documents stored (fetched, failed or skipped).
  Result<int64_t> document_count();
  // The last robots.txt answer of each origin that still has URLs queued,
  // fetched after `since` (unix seconds): a resumed crawl uses them for
  // their 24 hours instead of asking again.
  Result<std::vector<RobotsRecord>> recent_robots(double since);
  // Sitemaps an earlier run read (or was refused) for good: any answer but a
  // 5xx or 429, so a resumed crawl does not read them again.
  Result<std::vector<std::string>> settled_sitemaps();
  // The payloads earlier runs archived in WARC response records: digest
  // ("sha1:BASE32") -> (file, offset), for the archive's dedup on resume.
  Result<std::vector<std::pair<std::string, std::pair<std::string, uint64_t>>>> archived_payloads();
  // Every cookie kept by earlier runs (--cookies), expired ones included:
  // the jar drops those and reports them removed, so their rows go.
  Result<std::vector<CookieRecord>> cookies();
  // Runs recorded before this one.
  Result<int64_t> run_count();
  // Queues again every URL that failed, and those skipped because their
  // host's robots.txt was unreachable; returns how many.
  Result<int64_t> retry_failed();
  // Free-form crawl metadata.
  Result<void> set_meta(std::string_view key, std::string_view value);
  Result<std::optional<std::string>> get_meta(std::string_view key);

  // The manifest of this run: a `runs` row when it starts, completed when it
  // ends. A run killed before end_run() keeps outcome NULL.
  Result<int64_t> begin_run(const RunRecord& run);
  // `outcome`: finished, limit, sigint, sigterm or error; `pages` stored by the run.
  Result<void> end_run(int64_t id, double ended_at, int64_t pages, std::string_view outcome);

 private:
  struct Statements;
  Store(sqlite3* db, std::string path);
  sqlite3* db_;
  std::string path_;
  std::unique_ptr<Statements> stmts_;
  std::unique_ptr<Checkpointer> checkpointer_;  // writable stores: copies the WAL back
};

}  // namespace webcrawl::storage
