// Everything a crawl can be told, with the defaults the README documents.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace webcrawl::crawler {

enum class Scope { kHost, kDomain, kAny };

inline constexpr const char* kDefaultUserAgent =
    "webcrawl/0.1 (+https://github.com/webcrawl/webcrawl)";

// Politeness for one host or domain, from a config file's [[hosts]] tables.
struct HostOverride {
  std::string match;               // a host name; applies to it and its subdomains
  std::optional<double> delay;     // instead of --delay
  std::optional<int> per_host;     // instead of --per-host
};

struct CrawlOptions {
  std::string db_path = "crawl.db";
  std::vector<std::string> seeds;       // URLs from the command line and --seeds
  std::optional<int64_t> max_pages;     // no value: no limit
  std::optional<int> max_depth;         // no value: no limit
  Scope scope = Scope::kHost;
  int concurrency = 64;                 // global cap on open connections
  int per_host = 1;                     // cap on simultaneous connections to one host
  double delay = 1.0;                   // seconds between request starts to one host
  double per_ip_delay = 0;              // seconds between request starts to one address; 0: off
  bool adaptive = false;                // a host's delay follows its response time
  double adaptive_factor = 5.0;         // delay = factor x response time ...
  double max_delay = 60.0;              // ... at most this
  int park_after = 5;                   // consecutive failures that park a host
  double park_seconds = 60.0;           // first parking; doubles each time, at most an hour
  bool robots = true;
  std::string user_agent = kDefaultUserAgent;
  double timeout = 30.0;                // per request, connect to last byte
  double connect_timeout = 10.0;        // DNS + TCP connect, and the TLS handshake
  double read_timeout = 15.0;           // to the first byte, then between reads
  int retries = 2;                      // retries of transient failures
  std::size_t max_body = 10u << 20;     // bytes
  std::string ca_file;                  // extra trusted CA certificates (PEM)
  bool insecure = false;                // skip certificate verification (warned about)
  std::size_t max_url_length = 2048;    // longer discovered URLs are skipped as traps
  std::optional<int64_t> max_pages_per_host;
  bool quiet = false;
  int parse_threads = 0;                // 0: one per core
  std::vector<HostOverride> host_overrides;
};

}  // namespace webcrawl::crawler
