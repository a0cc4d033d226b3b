#include "crawler/summary.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

namespace webcrawl::crawler {
namespace {

// "a 3, b 2, c 1" from a count map, largest first, at most `most` of them.
std::string counts(const std::map<std::string, int64_t>& m, std::size_t most = 6) {
  std::vector<std::pair<std::string, int64_t>> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (std::size_t i = 0; i < v.size() && i < most; i++) {
    out += (i ? ", " : "") + v[i].first + " " + thousands(v[i].second);
  }
  if (v.size() > most) out += ", and " + std::to_string(v.size() - most) + " more";
  return out;
}

std::string per_second(double n, double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", seconds > 0 ? n / seconds : 0.0);
  return buf;
}

std::string iso_time(double unix_seconds) {
  if (unix_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string requests_line(const storage::CrawlStats& s) {
  std::string line = count_of(s.requests, "request", "requests") + " over " +
                     count_of(s.connections, "connection", "connections");
  if (s.connections > 0) {
    line += " (" + per_second(static_cast<double>(s.requests), static_cast<double>(s.connections)) +
            " per connection)";
  }
  return line;
}

std::string hosts_line(const std::vector<std::pair<std::string, int64_t>>& hosts) {
  std::string out;
  for (std::size_t i = 0; i < hosts.size(); i++) out += (i ? ", " : "") + hosts[i].first + " (" + thousands(hosts[i].second) + ")";
  return out;
}

}  // namespace

std::string thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); i++) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string human_bytes(int64_t bytes) {
  if (bytes < 1024) return count_of(bytes, "byte", "bytes");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (v >= 1024 && unit < 3) {
    v /= 1024;
    unit++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

std::string count_of(int64_t n, std::string_view one, std::string_view many) {
  return thousands(n) + " " + std::string(n == 1 ? one : many);
}

std::string ending(std::string_view outcome) {
  if (outcome == "finished") return "finished: nothing left to fetch";
  if (outcome == "limit") return "stopped: --max-pages reached";
  if (outcome == "sigint") return "stopped by SIGINT (Ctrl-C); the rest stays queued";
  if (outcome == "sigterm") return "stopped by SIGTERM; the rest stays queued";
  if (outcome == "error") return "stopped by an error";
  return std::string(outcome);
}

std::string format_summary(const storage::CrawlStats& s, std::string_view outcome, double seconds) {
  char took[32];
  std::snprintf(took, sizeof took, "%.1f s", seconds);
  std::string out = "webcrawl: " + ending(outcome) + ", after " + took + "\n";
  out += "  fetched  " + count_of(s.fetched, "page", "pages") + " (" + per_second(static_cast<double>(s.fetched), seconds) +
         " pages/s, " + human_bytes(s.bytes) + "), " + requests_line(s) + "\n";
  out += "  failed   " + thousands(s.failed);
  if (!s.failing_hosts.empty()) out += "; most from " + hosts_line(s.failing_hosts);
  out += "\n";
  if (s.skipped_total > 0) out += "  skipped  " + thousands(s.skipped_total) + ": " + counts(s.skipped) + "\n";
  if (!s.errors.empty()) out += "  errors   " + counts(s.errors) + "\n";
  if (s.queued > 0) out += "  queued   " + thousands(s.queued) + " still to fetch\n";
  return out;
}

std::string format_stats(const std::string& db, const storage::CrawlStats& s) {
  std::string out;
  auto line = [&](std::string_view label, const std::string& value) {
    std::string l(label);
    l.resize(std::max<std::size_t>(l.size() + 1, 14), ' ');
    out += l + value + "\n";
  };
  line("database", db);
  line("urls known", thousands(s.urls_known));
  line("queued", thousands(s.queued));
  line("fetched", thousands(s.fetched));
  line("failed", thousands(s.failed) + (s.failing_hosts.empty() ? "" : "; most from " + hosts_line(s.failing_hosts)));
  line("skipped", thousands(s.skipped_total) + (s.skipped.empty() ? "" : ": " + counts(s.skipped, 20)));
  line("errors", s.errors.empty() ? "none" : counts(s.errors, 20));
  line("links", thousands(s.links));
  line("bytes", human_bytes(s.bytes));
  line("requests", requests_line(s));
  if (s.fetched > 0 && s.last_fetch > s.first_fetch) {
    double span = s.last_fetch - s.first_fetch;
    line("pages/s", per_second(static_cast<double>(s.fetched + s.failed), span) + " over " +
                        per_second(span, 1) + " s");
  }
  auto section = [&](const char* title, const auto& items) {
    if (items.empty()) return;
    out += std::string("\n") + title + "\n";
    for (const auto& [k, v] : items) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "  %8s  ", thousands(v).c_str());
      out += buf + k + "\n";
    }
  };
  section("by status", s.by_status);
  section("by content type", s.by_content_type);
  section("top hosts", s.top_hosts);
  if (!s.min_gaps.empty()) {
    // What an ethics board asks: did any host see requests closer than the policy?
    out += "\nsmallest gap between request starts, per host\n";
    for (const auto& [host, gap] : s.min_gaps) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "  %8.3fs  ", gap);
      out += buf + host + "\n";
    }
  }
  if (!s.runs.empty()) {
    out += "\nruns\n";
    for (const auto& r : s.runs) {
      out += "  " + std::to_string(r.id) + "  " + iso_time(r.started_at) + "  " + iso_time(r.ended_at) + "  " +
             (r.outcome.empty() ? "killed or running" : r.outcome) + "  " + count_of(r.pages, "page", "pages") +
             "  " + r.version + "\n";
    }
  }
  return out;
}

std::string stats_json(const std::string& db, const storage::CrawlStats& s) {
  using Json = nlohmann::ordered_json;
  auto pairs = [](const auto& v) {
    Json a = Json::array();
    for (const auto& [k, n] : v) a.push_back({{"name", k}, {"count", n}});
    return a;
  };
  Json gaps = Json::array();
  for (const auto& [host, gap] : s.min_gaps) gaps.push_back({{"host", host}, {"smallest_gap", gap}});
  Json runs = Json::array();
  for (const auto& r : s.runs) {
    runs.push_back({{"id", r.id},
                    {"started_at", iso_time(r.started_at)},
                    {"ended_at", r.ended_at > 0 ? Json(iso_time(r.ended_at)) : Json(nullptr)},
                    {"version", r.version},
                    {"pages", r.pages},
                    {"outcome", r.outcome.empty() ? Json(nullptr) : Json(r.outcome)}});
  }
  Json j = {{"database", db},
            {"urls_known", s.urls_known},
            {"queued", s.queued},
            {"fetched", s.fetched},
            {"failed", s.failed},
            {"skipped", s.skipped_total},
            {"skipped_by_reason", Json(s.skipped)},
            {"errors_by_kind", Json(s.errors)},
            {"failing_hosts", pairs(s.failing_hosts)},
            {"links", s.links},
            {"bytes", s.bytes},
            {"requests", s.requests},
            {"connections", s.connections},
            {"by_status", Json(s.by_status)},
            {"by_content_type", Json(s.by_content_type)},
            {"top_hosts", pairs(s.top_hosts)},
            {"smallest_gaps", gaps},
            {"runs", runs}};
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace webcrawl::crawler
