// `webcrawl report`: one self-contained HTML page that shows a crawl. The
// figures are aggregated in SQL (GROUP BY, window functions, bounded LIMITs),
// so a report costs a few passes over the database and memory that does not
// grow with its rows. The page draws its charts with Chart.js (Debian's
// libjs-chart.js), read at report time and inlined, so it opens with no
// network.
//
// collect_report() reads through a Reader (one thread at a time, like the
// Reader); render_report() and load_chart_js() are pure or touch one file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "storage/reader.h"

namespace webcrawl::storage {

// Where Debian's libjs-chart.js installs Chart.js.
inline constexpr const char* kChartJsDir = "/usr/share/javascript/chart.js";

// One bar of a chart: what it counts and how many.
struct ReportCount {
  std::string label;
  int64_t n = 0;
};

// Pages and requests per bucket of time, every bucket from the first to the
// last (empty ones as 0), at most kMaxBuckets of them.
struct ReportTimeline {
  static constexpr int64_t kMaxBuckets = 720;
  double start = 0;    // unix seconds where the first bucket begins
  int64_t bucket = 1;  // seconds per bucket: 1, 60 or more, chosen by the crawl's span
  std::string unit;    // "second", "minute", "10 minutes", "hour", ...
  std::vector<int64_t> pages;     // first requests to a URL (attempt 0 of a page), by start
  std::vector<int64_t> requests;  // every request start (fetches.started_unix)
};

// A host: its pages (URLs done or failed), and the politeness check: the smallest gap seen between
// two consecutive request starts to it against the delay it was kept to.
struct ReportHost {
  std::string origin;
  int64_t pages = 0;
  std::optional<double> min_gap;  // none: fewer than two requests started
  std::optional<double> delay;    // hosts.delay; none: no request was started
};

struct ReportLinked {
  std::string url, title;
  std::optional<int64_t> status;  // none: not fetched
  int64_t links = 0;              // pages that link to it
};

// A row of `runs`, the run manifest.
struct ReportRun {
  int64_t id = 0;
  std::string started_at, ended_at, version;
  std::string options;  // the options JSON, indented
  std::string seeds_sha256, outcome;
  int64_t pages = 0;
};

struct ReportData {
  std::string title;  // the database's file name
  int64_t documents = 0, answered = 0, requests = 0, bytes = 0, hosts = 0, links = 0, urls = 0, queued = 0;
  double first_request = 0, last_request = 0;  // unix seconds of the first and last request start
  ReportTimeline timeline;
  std::vector<ReportCount> status;          // "200", "404", ...: ascending
  std::vector<ReportCount> content_types;   // most first, at most 12, then "other"
  std::vector<ReportCount> depth;           // "0", "1", ...: depths past 50 as "50+"
  std::vector<ReportCount> response_times;  // fixed buckets of fetches.elapsed
  std::vector<ReportCount> page_errors;     // pages.error_kind
  std::vector<ReportCount> request_errors;  // fetches.error_kind
  std::vector<ReportHost> hosts_by_pages;   // most pages first, at most 30
  int64_t hosts_checked = 0;                // hosts with two or more request starts
  int64_t hosts_under_delay = 0;            // of them, a gap below the host's delay
  std::vector<ReportHost> under_delay;      // the worst of those, at most 10
  std::vector<ReportLinked> most_linked;    // at most 20, most linked first
  std::vector<ReportRun> runs;              // the newest 20, oldest first
  int64_t runs_total = 0;
};

// The figures of the whole database, from one read snapshot.
Result<ReportData> collect_report(Reader& reader, std::string title);

// The whole HTML page: the data as JSON in a <script type="application/json">
// (every '<', '>' and '&' escaped), tables as escaped HTML, `chart_js`
// inlined. The page's script sets document.body.dataset.rendered to "N
// charts" when it has drawn them, and a script error lands in
// document.body.dataset.error and on the page. Pure.
std::string render_report(const ReportData& data, std::string_view chart_js);

// The canvas ids of the charts render_report() draws, in page order.
const std::vector<std::string>& report_chart_ids();

// Chart.js from `dir` (chart.umd.js, chart.min.js, Chart.min.js or
// chart.js, the first that exists); a kIo error naming libjs-chart.js when
// none can be read.
Result<std::string> load_chart_js(const std::string& dir = kChartJsDir);

}  // namespace webcrawl::storage
