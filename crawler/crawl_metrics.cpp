// --metrics: the crawl's side of the Prometheus endpoint (metrics.h), which
// reads the counters the loop keeps and changes none of them.
#include "crawler/crawl.h"

namespace webcrawl::crawler {

Result<void> Crawl::bind_metrics() {
  if (options_.metrics.empty()) return {};
  auto address = parse_listen_address(options_.metrics);
  if (!address) return address.error();
  auto metrics = MetricsServer::bind(*address);
  if (!metrics) return metrics.error();
  metrics_ = std::move(*metrics);
  return {};
}

Result<void> Crawl::serve_metrics() {
  if (!metrics_) return {};
  if (auto r = metrics_->serve(loop_, [this] { return metrics_snapshot(); }); !r) return r;
  if (!options_.quiet) log_ << "webcrawl: metrics on http://" << metrics_->address() << "/metrics\n";
  return {};
}

MetricsSnapshot Crawl::metrics_snapshot() const {
  MetricsSnapshot s;
  s.pages_stored = stored_;
  // The fetcher's own count while it lives; the last of it once it is gone.
  s.requests = static_cast<int64_t>(fetcher_ ? fetcher_->requests_sent() : requests_);
  s.response_bytes = bytes_;
  s.errors = request_errors_;
  s.in_flight = static_cast<int64_t>(frontier_.in_flight());
  s.queued = static_cast<int64_t>(frontier_.queued());
  for (const auto& [reason, hosts] : frontier_.waiting(monotonic_seconds())) {
    s.waiting[reason] = static_cast<int64_t>(hosts);
  }
  s.parse_queue = parsers_ ? static_cast<int64_t>(parsers_->waiting()) : 0;
  s.writer_queue = writer_ ? static_cast<int64_t>(writer_->queued()) : 0;
  s.resident_bytes = resident_memory_bytes();
  return s;
}

}  // namespace webcrawl::crawler
