// The report's figures, each from one aggregate query: nothing here reads
// the rows themselves, and every list is bounded by a LIMIT or by the
// buckets it counts into.
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <variant>

#include "storage/report.h"
#include "storage/sqlite_util.h"

namespace webcrawl::storage {
namespace {

using Param = std::variant<int64_t, double>;

// Runs `sql` with `params` bound in order, calling row() per row.
template <class RowFn>
Result<void> each(sqlite3* db, const char* sql, std::initializer_list<Param> params, RowFn&& row) {
  auto stmt = prepare(db, sql);
  if (!stmt) return stmt.error();
  Call call(stmt->get());
  int i = 1;
  for (const Param& p : params) {
    if (auto n = std::get_if<int64_t>(&p)) call.bind_int(i++, *n);
    if (auto d = std::get_if<double>(&p)) call.bind_real(i++, *d);
  }
  int rc;
  while ((rc = call.step()) == SQLITE_ROW) row(call);
  if (rc != SQLITE_DONE) return from_sqlite(db, "report");
  return {};
}

std::optional<double> real_or_none(const Call& row, int col) {
  if (row.is_null(col)) return std::nullopt;
  return row.real(col);
}

// A documents row keeps the page's text in its middle, so reading a column
// after it (fetched_at, and error_kind where set) walks the text's overflow
// pages: 0.41 s against 0.03 s for status on make bench's 20,000 pages.
// Nothing here reads past the text but error_kind, which is set on pages
// that failed and have no text. Times come from fetches instead.
constexpr const char* kTotals =
    "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM documents WHERE status IS NOT NULL), "
    "(SELECT count(*) FROM hosts), (SELECT count(*) FROM edges), (SELECT count(*) FROM urls), "
    "(SELECT count(*) FROM urls WHERE state = 'queued')";
constexpr const char* kRequests = "SELECT count(*), total(bytes), min(started_at), max(started_at) FROM fetch_log";
// One pass over the requests: all of them, and the first request to each
// URL, which is when its page was fetched (retries and robots.txt left out).
constexpr const char* kOverTime =
    "SELECT CAST((started_unix - ?1) / ?2 AS INTEGER) AS b, count(*), sum(kind = 'page' AND attempt = 0) "
    "FROM fetches WHERE started_unix IS NOT NULL GROUP BY b";
constexpr const char* kStatus =
    "SELECT status, count(*) FROM documents WHERE status IS NOT NULL GROUP BY status ORDER BY status LIMIT 100";
// The window sum runs over every group before the LIMIT: the rest is "other".
constexpr const char* kContentTypes =
    "SELECT content_type, count(*) AS n, sum(count(*)) OVER () FROM documents "
    "WHERE content_type IS NOT NULL AND content_type <> '' GROUP BY content_type ORDER BY n DESC, content_type LIMIT 12";
constexpr int64_t kDeepest = 50;
constexpr const char* kDepth =
    "SELECT min(depth, ?1) AS dd, count(*) FROM urls WHERE state IN ('done', 'failed') GROUP BY dd ORDER BY dd";
constexpr const char* kPageErrors =
    "SELECT error_kind, count(*) AS n FROM documents WHERE error_kind IS NOT NULL "
    "GROUP BY error_kind ORDER BY n DESC, error_kind LIMIT 20";
constexpr const char* kRequestErrors =
    "SELECT error_kind, count(*) AS n FROM fetches WHERE error_kind IS NOT NULL "
    "GROUP BY error_kind ORDER BY n DESC, error_kind LIMIT 20";

// The bounds (seconds) of the response time buckets; the last is open.
constexpr double kTimeBounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
constexpr const char* kTimeLabels[] = {"< 50 ms", "50-100 ms", "100-250 ms", "250-500 ms", "0.5-1 s",
                                       "1-2.5 s",  "2.5-5 s",   "5-10 s",     "10-30 s",    ">= 30 s"};
constexpr const char* kResponseTimes =
    "SELECT CASE WHEN elapsed < ?1 THEN 0 WHEN elapsed < ?2 THEN 1 WHEN elapsed < ?3 THEN 2 "
    "WHEN elapsed < ?4 THEN 3 WHEN elapsed < ?5 THEN 4 WHEN elapsed < ?6 THEN 5 WHEN elapsed < ?7 THEN 6 "
    "WHEN elapsed < ?8 THEN 7 WHEN elapsed < ?9 THEN 8 ELSE 9 END AS b, count(*) FROM fetches "
    "WHERE started_unix IS NOT NULL GROUP BY b";

// The hosts with the most pages and, for each, the smallest gap between
// consecutive request starts (a window over that host's rows of the
// fetches_host index, so 30 range scans, not a pass over every request).
// The pages are counted in one scan of urls: through the urls_host index,
// which SQLite picks to save the GROUP BY's sort, the row lookups take 6
// times as long (1,000,000 pages: 3.0 s against 0.5 s).
constexpr const char* kHostsByPages =
    "SELECT h.origin, top.n, h.delay, "
    "(SELECT min(gap) FROM (SELECT started_unix - lag(started_unix) OVER (ORDER BY started_unix) AS gap "
    "FROM fetches f WHERE f.host = h.origin AND f.started_unix IS NOT NULL)) "
    "FROM (SELECT host_id, count(*) AS n FROM urls NOT INDEXED WHERE state IN ('done', 'failed') "
    "GROUP BY host_id ORDER BY n DESC, host_id LIMIT 30) top "
    "JOIN hosts h ON h.id = top.host_id ORDER BY top.n DESC, h.origin";
// The politeness check over every host: the smallest gap per host (LAG over
// the requests partitioned by host), judged against the host's delay. The
// counts are windows over all judged hosts, computed before the LIMIT keeps
// the ten worst.
constexpr const char* kPolicy =
    "WITH gaps AS (SELECT host, min(gap) AS g FROM (SELECT host, started_unix - lag(started_unix) "
    "OVER (PARTITION BY host ORDER BY started_unix) AS gap FROM fetches WHERE started_unix IS NOT NULL) "
    "WHERE gap IS NOT NULL GROUP BY host), "
    "judged AS (SELECT gaps.host, gaps.g, h.delay, gaps.g < coalesce(h.delay, 0) AS under "
    "FROM gaps LEFT JOIN hosts h ON h.origin = gaps.host) "
    "SELECT host, g, delay, under, count(*) OVER (), sum(under) OVER () FROM judged "
    "ORDER BY under DESC, g - coalesce(delay, 0), host LIMIT 10";
// The links view's targets, counted on its table (edges, by the edges_dst
// index) so that only the twenty winners are joined to their URLs.
constexpr const char* kMostLinked =
    "SELECT u.url, d.title, d.status, top.n FROM "
    "(SELECT dst_id, count(*) AS n FROM edges GROUP BY dst_id ORDER BY n DESC, dst_id LIMIT 20) top "
    "JOIN urls u ON u.id = top.dst_id LEFT JOIN documents d ON d.url_id = top.dst_id ORDER BY top.n DESC, u.url";
constexpr const char* kRuns =
    "SELECT id, started_at, ended_at, version, options, seeds_sha256, pages, outcome, count(*) OVER () "
    "FROM runs ORDER BY id DESC LIMIT 20";

// Options JSON indented for a person; kept as stored when it does not parse.
std::string indented(const std::string& json) {
  auto parsed = nlohmann::ordered_json::parse(json, nullptr, false);
  if (parsed.is_discarded()) return json;
  return parsed.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

struct BucketSize {
  int64_t seconds;
  const char* unit;
};
constexpr BucketSize kBuckets[] = {{1, "second"},    {60, "minute"},   {600, "10 minutes"},
                                   {3600, "hour"},   {86400, "day"},   {7 * 86400, "week"}};

// Per second when the crawl spans at most 720 s, per minute up to 12 hours,
// and so on; a bucket of whole weeks beyond 13 years.
ReportTimeline empty_timeline(double first, double last) {
  ReportTimeline t;
  double span = std::max(0.0, last - first);
  for (const BucketSize& b : kBuckets) {
    t.bucket = b.seconds;
    t.unit = b.unit;
    if (span / static_cast<double>(b.seconds) < ReportTimeline::kMaxBuckets - 1) break;
  }
  while (span / static_cast<double>(t.bucket) >= ReportTimeline::kMaxBuckets - 1) {
    t.bucket *= 2;
    t.unit = std::to_string(t.bucket / 86400) + " days";
  }
  t.start = std::floor(first / static_cast<double>(t.bucket)) * static_cast<double>(t.bucket);
  auto n = static_cast<std::size_t>((last - t.start) / static_cast<double>(t.bucket)) + 1;
  t.pages.assign(n, 0);
  t.requests.assign(n, 0);
  return t;
}

Result<void> read_timeline(sqlite3* db, ReportData& r, double first, double last) {
  if (first <= 0) return {};
  r.timeline = empty_timeline(first, last);
  ReportTimeline& t = r.timeline;
  return each(db, kOverTime, {t.start, static_cast<double>(t.bucket)}, [&](const Call& row) {
    int64_t b = row.integer(0);
    if (b < 0 || b >= static_cast<int64_t>(t.requests.size())) return;
    t.requests[static_cast<std::size_t>(b)] = row.integer(1);
    t.pages[static_cast<std::size_t>(b)] = row.integer(2);
  });
}

Result<void> read_totals(sqlite3* db, ReportData& r) {
  auto totals = each(db, kTotals, {}, [&](const Call& row) {
    r.documents = row.integer(0);
    r.answered = row.integer(1);
    r.hosts = row.integer(2);
    r.links = row.integer(3);
    r.urls = row.integer(4);
    r.queued = row.integer(5);
  });
  if (!totals) return totals;
  auto requests = each(db, kRequests, {}, [&](const Call& row) {
    r.requests = row.integer(0);
    r.bytes = static_cast<int64_t>(row.real(1));
    r.first_request = row.real(2);  // 0 for NULL: no request started
    r.last_request = row.real(3);
  });
  if (!requests) return requests;
  return read_timeline(db, r, r.first_request, r.last_request);
}

Result<void> read_counts(sqlite3* db, ReportData& r) {
  auto push_to = [](std::vector<ReportCount>& out) {
    return [&out](const Call& row) { out.push_back({row.text(0), row.integer(1)}); };
  };
  if (auto s = each(db, kStatus, {}, push_to(r.status)); !s) return s;
  int64_t typed = 0, shown = 0;
  auto types = each(db, kContentTypes, {}, [&](const Call& row) {
    r.content_types.push_back({row.text(0), row.integer(1)});
    shown += row.integer(1);
    typed = row.integer(2);
  });
  if (!types) return types;
  if (typed > shown) r.content_types.push_back({"other", typed - shown});
  auto depth = each(db, kDepth, {kDeepest}, [&](const Call& row) {
    std::string label = std::to_string(row.integer(0));
    if (row.integer(0) >= kDeepest) label += "+";
    r.depth.push_back({std::move(label), row.integer(1)});
  });
  if (!depth) return depth;
  for (const char* label : kTimeLabels) r.response_times.push_back({label, 0});
  auto times = each(db, kResponseTimes,
                    {kTimeBounds[0], kTimeBounds[1], kTimeBounds[2], kTimeBounds[3], kTimeBounds[4], kTimeBounds[5],
                     kTimeBounds[6], kTimeBounds[7], kTimeBounds[8]},
                    [&](const Call& row) {
                      auto b = static_cast<std::size_t>(std::clamp<int64_t>(row.integer(0), 0, 9));
                      r.response_times[b].n = row.integer(1);
                    });
  if (!times) return times;
  if (auto e = each(db, kPageErrors, {}, push_to(r.page_errors)); !e) return e;
  return each(db, kRequestErrors, {}, push_to(r.request_errors));
}

Result<void> read_hosts(sqlite3* db, ReportData& r) {
  auto top = each(db, kHostsByPages, {}, [&](const Call& row) {
    r.hosts_by_pages.push_back({row.text(0), row.integer(1), real_or_none(row, 3), real_or_none(row, 2)});
  });
  if (!top) return top;
  return each(db, kPolicy, {}, [&](const Call& row) {
    r.hosts_checked = row.integer(4);
    r.hosts_under_delay = row.integer(5);
    if (row.integer(3) != 0) r.under_delay.push_back({row.text(0), 0, real_or_none(row, 1), real_or_none(row, 2)});
  });
}

Result<void> read_links_and_runs(sqlite3* db, ReportData& r) {
  auto linked = each(db, kMostLinked, {}, [&](const Call& row) {
    std::optional<int64_t> status;
    if (!row.is_null(2)) status = row.integer(2);
    r.most_linked.push_back({row.text(0), row.text(1), status, row.integer(3)});
  });
  if (!linked) return linked;
  auto runs = each(db, kRuns, {}, [&](const Call& row) {
    r.runs.push_back({row.integer(0), row.text(1), row.text(2), row.text(3), indented(row.text(4)), row.text(5),
                      row.text(7), row.integer(6)});
    r.runs_total = row.integer(8);
  });
  std::reverse(r.runs.begin(), r.runs.end());
  return runs;
}

}  // namespace

Result<ReportData> collect_report(Reader& reader, std::string title) {
  sqlite3* db = reader.connection();
  ReportData r;
  r.title = std::move(title);
  ReadSnapshot snapshot(db);
  for (auto* step : {&read_totals, &read_counts, &read_hosts, &read_links_and_runs}) {
    if (auto done = step(db, r); !done) return done.error();
  }
  return r;
}

}  // namespace webcrawl::storage
