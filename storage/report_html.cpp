// The report as one HTML page: tables written here as escaped HTML, the
// charts' data as escaped JSON, drawn by Chart.js inlined from the system.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "storage/report.h"

namespace webcrawl::storage {
namespace {

using Json = nlohmann::ordered_json;

std::string html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// JSON that can sit inside a <script> element: no '<' (so no "</script>"
// and no "<!--"), '>' or '&' outside an escape. In JSON these can only occur
// inside strings, where \u003c means the same character.
std::string script_json(const Json& value) {
  std::string dumped = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(dumped.size());
  for (char c : dumped) {
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else {
      out += c;
    }
  }
  return out;
}

// A script's text with every "</script" and "<!--" broken up, so the HTML
// parser cannot end or re-mode the element early ("<\/" is "</" in strings
// and regular expressions, the only places such text can be in valid JS).
std::string script_text(std::string_view js) {
  std::string out;
  out.reserve(js.size());
  for (std::size_t i = 0; i < js.size(); ++i) {
    if (js[i] == '<' && i + 1 < js.size() && (js[i + 1] == '/' || js[i + 1] == '!')) {
      out += "<\\";
      continue;
    }
    out += js[i];
  }
  return out;
}

std::string thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string bytes_text(int64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string utc(double unix_seconds, const char* format) {
  if (unix_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string seconds_text(std::optional<double> s) {
  if (!s) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", *s);
  return buf;
}

Json counts_json(const std::vector<ReportCount>& counts) {
  Json labels = Json::array(), n = Json::array();
  for (const ReportCount& c : counts) {
    labels.push_back(c.label);
    n.push_back(c.n);
  }
  return {{"labels", labels}, {"counts", n}};
}

Json optional_json(std::optional<double> v) { return v ? Json(*v) : Json(nullptr); }

// Everything the charts draw.
Json chart_data(const ReportData& d) {
  Json out;
  const ReportTimeline& t = d.timeline;
  const char* format = t.bucket >= 3600 ? "%m-%d %H:%M" : "%H:%M:%S";
  Json times = Json::array();
  for (std::size_t i = 0; i < t.pages.size(); ++i) {
    times.push_back(utc(t.start + static_cast<double>(i * static_cast<std::size_t>(t.bucket)), format));
  }
  out["timeline"] = {{"labels", times}, {"pages", t.pages}, {"requests", t.requests}, {"unit", t.unit}};
  out["status"] = counts_json(d.status);
  out["types"] = counts_json(d.content_types);
  Json hosts = Json::array(), pages = Json::array(), gaps = Json::array(), delays = Json::array();
  for (const ReportHost& h : d.hosts_by_pages) {
    hosts.push_back(h.origin);
    pages.push_back(h.pages);
    gaps.push_back(optional_json(h.min_gap));
    delays.push_back(optional_json(h.delay));
  }
  out["hosts"] = {{"labels", hosts}, {"pages", pages}, {"gaps", gaps}, {"delays", delays}};
  out["depth"] = counts_json(d.depth);
  out["times"] = counts_json(d.response_times);
  // Pages and requests by error kind, over the union of their kinds.
  std::vector<std::string> kinds;
  for (const auto* list : {&d.page_errors, &d.request_errors}) {
    for (const ReportCount& c : *list) {
      if (std::find(kinds.begin(), kinds.end(), c.label) == kinds.end()) kinds.push_back(c.label);
    }
  }
  auto count_of = [](const std::vector<ReportCount>& list, const std::string& kind) {
    for (const ReportCount& c : list) {
      if (c.label == kind) return c.n;
    }
    return int64_t{0};
  };
  Json by_page = Json::array(), by_request = Json::array();
  for (const std::string& k : kinds) {
    by_page.push_back(count_of(d.page_errors, k));
    by_request.push_back(count_of(d.request_errors, k));
  }
  out["errors"] = {{"labels", kinds}, {"pages", by_page}, {"requests", by_request}};
  return out;
}

constexpr const char* kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 1140px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.summary { color: #444; } .note { color: #555; font-size: 13px; }
.chart { position: relative; height: 250px; } .pair { display: flex; gap: 24px; } .pair > section { flex: 1; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
td.n { text-align: right; } .url { word-break: break-all; }
pre { margin: 0; font-size: 12px; max-height: 240px; overflow: auto; }
.error { color: #b00020; font-weight: bold; }
)css";

// Runs before anything else: a script error is written into the page and
// into body's data-error, where a headless browser test finds it.
constexpr const char* kErrorHook = R"js(
window.onerror = function (message, source, line) {
  var text = String(message) + (line ? ' (line ' + line + ')' : '');
  var body = document.body;
  if (!body) return;
  body.dataset.error = (body.dataset.error ? body.dataset.error + '; ' : '') + text;
  var p = document.createElement('p');
  p.className = 'error';
  p.textContent = 'Script error: ' + text;
  body.insertBefore(p, body.firstChild);
};
)js";

constexpr const char* kDraw = R"js(
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  var drawn = 0;
  function draw(id, type, labels, datasets, options) {
    new Chart(document.getElementById(id), {type: type, data: {labels: labels, datasets: datasets}, options: options || {}});
    drawn++;
  }
  function set(label, values, color) { return {label: label, data: values, backgroundColor: color, borderColor: color}; }
  function axes(x, y) {
    return {scales: {x: {title: {display: true, text: x}}, y: {beginAtZero: true, title: {display: true, text: y}}}};
  }
  var palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
                 '#bcbd22', '#17becf', '#aec7e8', '#ffbb78', '#98df8a'];
  var t = data.timeline;
  var perUnit = ' per ' + t.unit;
  // Bars for a short crawl (a line of one point is invisible); otherwise
  // lines, requests wide and pale under the pages so equal counts show both.
  var bars = t.labels.length <= 60;
  var timeline = [set('pages' + perUnit, t.pages, '#1f77b4'), set('requests' + perUnit, t.requests, '#ffbb78')];
  timeline.forEach(function (s, i) {
    if (!bars) { s.pointRadius = 0; s.borderWidth = i ? 5 : 1.5; s.fill = false; s.order = i; }
  });
  draw('chart-timeline', bars ? 'bar' : 'line', t.labels, timeline, axes('time (UTC), per ' + t.unit, 'count' + perUnit));
  draw('chart-status', 'bar', data.status.labels, [set('pages', data.status.counts, '#1f77b4')],
       axes('HTTP status', 'pages'));
  draw('chart-types', 'doughnut', data.types.labels,
       [{label: 'pages', data: data.types.counts, backgroundColor: palette}], {plugins: {legend: {position: 'right'}}});
  var h = data.hosts;
  draw('chart-host-pages', 'bar', h.labels, [set('pages', h.pages, '#1f77b4')], axes('host', 'pages'));
  var held = h.gaps.map(function (g, i) { return g === null || h.delays[i] === null || g >= h.delays[i]; });
  var gaps = set('smallest gap between request starts (s)', h.gaps,
                 held.map(function (ok) { return ok ? '#2ca02c' : '#d62728'; }));
  gaps.order = 1;  // drawn first, so the delay marks stay visible on top
  var delays = {type: 'line', label: 'delay (s)', data: h.delays, showLine: false, pointStyle: 'line',
                pointRadius: 24, pointBorderWidth: 3, borderColor: '#222', backgroundColor: '#222', order: 0};
  draw('chart-host-gaps', 'bar', h.labels, [gaps, delays], axes('host', 'seconds'));
  draw('chart-depth', 'bar', data.depth.labels, [set('pages', data.depth.counts, '#9467bd')],
       axes('depth (hops from a seed)', 'pages'));
  draw('chart-times', 'bar', data.times.labels, [set('requests', data.times.counts, '#17becf')],
       axes('response time', 'requests'));
  draw('chart-errors', 'bar', data.errors.labels,
       [set('pages', data.errors.pages, '#d62728'), set('requests', data.errors.requests, '#ff9896')],
       axes('error kind', 'count'));
  document.body.dataset.rendered = drawn + ' charts';
})();
)js";

struct ChartSection {
  const char* id;
  const char* heading;
  const char* note;
  int pair = 0;  // 1: the left of two side by side, 2: the right
};
const ChartSection kCharts[] = {
    {"chart-timeline", "Pages and requests over time", "pages: the first request to each URL; requests: all, robots.txt and retries included"},
    {"chart-status", "Status codes", "", 1},
    {"chart-types", "Content types", "", 2},
    {"chart-host-pages", "Pages per host", "the 30 hosts with the most pages"},
    {"chart-host-gaps", "Politeness per host",
     "bars: the smallest gap between two consecutive request starts to the host; marks: the delay it was kept "
     "to (hosts.delay). The policy held where every bar reaches its mark."},
    {"chart-depth", "Depth", "pages by hops from a seed", 1},
    {"chart-times", "Response times", "every request started, robots.txt and retries included", 2},
    {"chart-errors", "Errors by kind", "pages: final outcomes; requests: every attempt"},
};

void chart_section(std::ostream& out, const ChartSection& c) {
  out << "<section><h2>" << c.heading << "</h2>";
  if (*c.note) out << "<p class=\"note\">" << c.note << "</p>";
  out << "<div class=\"chart\"><canvas id=\"" << c.id << "\"></canvas></div></section>\n";
}

void summary(std::ostream& out, const ReportData& d) {
  out << "<p class=\"summary\">" << thousands(d.documents) << " pages stored (" << thousands(d.answered)
      << " with an HTTP answer) from " << thousands(d.hosts) << " hosts; " << thousands(d.requests)
      << " requests, " << bytes_text(d.bytes) << " received; " << thousands(d.links) << " links; "
      << thousands(d.queued) << " of " << thousands(d.urls) << " known URLs still queued. Requests from "
      << utc(d.first_request, "%Y-%m-%d %H:%M:%S") << " to " << utc(d.last_request, "%Y-%m-%d %H:%M:%S")
      << " UTC.</p>\n";
}

void policy(std::ostream& out, const ReportData& d) {
  out << "<p>" << thousands(d.hosts_checked) << " hosts had two or more requests; ";
  if (d.hosts_under_delay == 0) {
    out << "at every one the gap between request starts was at least its delay: the policy held.</p>\n";
    return;
  }
  out << "<strong>" << thousands(d.hosts_under_delay)
      << " had a gap below their delay</strong>. The worst:</p>\n<table><tr><th>host</th><th>smallest gap</th>"
      << "<th>delay</th></tr>\n";
  for (const ReportHost& h : d.under_delay) {
    out << "<tr><td class=\"url\">" << html(h.origin) << "</td><td class=\"n\">" << seconds_text(h.min_gap)
        << "</td><td class=\"n\">" << seconds_text(h.delay) << "</td></tr>\n";
  }
  out << "</table>\n";
}

void most_linked(std::ostream& out, const ReportData& d) {
  out << "<section><h2>Most linked-to pages</h2>\n<table id=\"most-linked\"><tr><th>#</th><th>page</th>"
      << "<th>status</th><th>linking pages</th></tr>\n";
  int i = 1;
  for (const ReportLinked& l : d.most_linked) {
    out << "<tr><td class=\"n\">" << i++ << "</td><td class=\"url\">" << html(l.url);
    if (!l.title.empty()) out << "<br>" << html(l.title);
    out << "</td><td>" << (l.status ? std::to_string(*l.status) : "-") << "</td><td class=\"n\">"
        << thousands(l.links) << "</td></tr>\n";
  }
  out << "</table></section>\n";
}

void manifest(std::ostream& out, const ReportData& d) {
  out << "<section><h2>Run manifest</h2>\n";
  if (d.runs_total > static_cast<int64_t>(d.runs.size())) {
    out << "<p class=\"note\">The newest " << d.runs.size() << " of " << thousands(d.runs_total) << " runs.</p>\n";
  }
  out << "<table id=\"runs\"><tr><th>run</th><th>started</th><th>ended</th><th>version</th><th>pages</th>"
      << "<th>outcome</th><th>seeds sha256</th><th>options</th></tr>\n";
  for (const ReportRun& r : d.runs) {
    out << "<tr><td class=\"n\">" << r.id << "</td><td>" << html(r.started_at) << "</td><td>" << html(r.ended_at)
        << "</td><td>" << html(r.version) << "</td><td class=\"n\">" << thousands(r.pages) << "</td><td>"
        << html(r.outcome) << "</td><td class=\"url\">" << html(r.seeds_sha256) << "</td><td><pre>"
        << html(r.options) << "</pre></td></tr>\n";
  }
  out << "</table></section>\n";
}

}  // namespace

const std::vector<std::string>& report_chart_ids() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> out;
    for (const ChartSection& c : kCharts) out.push_back(c.id);
    return out;
  }();
  return ids;
}

std::string render_report(const ReportData& d, std::string_view chart_js) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>webcrawl report: "
      << html(d.title) << "</title>\n<style>" << kStyle << "</style>\n<script>" << kErrorHook
      << "</script>\n</head><body>\n<h1>webcrawl report: " << html(d.title) << "</h1>\n";
  summary(out, d);
  for (const ChartSection& c : kCharts) {
    if (c.pair == 1) out << "<div class=\"pair\">";
    chart_section(out, c);
    if (c.pair == 2) out << "</div>\n";
    if (std::string_view(c.id) == "chart-host-gaps") policy(out, d);
  }
  most_linked(out, d);
  manifest(out, d);
  out << "<script type=\"application/json\" id=\"report-data\">" << script_json(chart_data(d)) << "</script>\n"
      << "<script>" << script_text(chart_js) << "</script>\n<script>" << kDraw << "</script>\n</body></html>\n";
  return out.str();
}

Result<std::string> load_chart_js(const std::string& dir) {
  // chart.umd.js is Chart.js 4's browser build; 3.x ships chart.min.js.
  for (const char* name : {"chart.umd.js", "chart.min.js", "Chart.min.js", "chart.js"}) {
    std::string path = dir + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::ifstream in(path, std::ios::binary);
    std::string js{std::istreambuf_iterator<char>(in), {}};
    if (!in.bad() && !js.empty()) return js;
  }
  return Error{Code::kIo, "Chart.js not found in " + dir + "; install it with: apt-get install libjs-chart.js"};
}

}  // namespace webcrawl::storage
