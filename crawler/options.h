// Everything a crawl can be told, with the defaults the README documents, and
// the one table (STYLE.md section 12) that describes each option: its name,
// what it takes, its range and its help. The command line (CLI11), the TOML
// reader, `--help` and the run manifest are all derived from that table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "parser/url_normalize.h"

namespace webcrawl::crawler {

enum class Scope { kHost, kDomain, kAny };

// Names the program and its version, and no web address: there is no page
// about webcrawl that a site owner could visit. A crawl over more than one
// host without a contact of the user's own (+http, +https or mailto:) is
// warned about.
inline constexpr const char* kDefaultUserAgent = "webcrawl/0.2";

// Politeness for one host or domain, from a config file's [[hosts]] tables.
struct HostOverride {
  std::string match;               // a host name; applies to it and its subdomains
  std::optional<double> delay;     // instead of --delay
  std::optional<int> per_host;     // instead of --per-host
  std::vector<std::string> headers = {};  // "Name: value", sent to this host on top of --header
  // URL patterns for URLs on this host: its includes replace --include, its
  // excludes add to --exclude (see crawler/steering.h).
  std::vector<std::string> include = {};
  std::vector<std::string> exclude = {};
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
  int park_after = 5;                   // consecutive failing URLs that park a host
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
  bool verbose = false;                 // a line per finished request on stderr
  bool retry_failed = false;            // queue again what failed, and hosts whose robots.txt was unreachable
  std::vector<std::string> headers;     // "Name: value" sent with every request
  std::string proxy;                    // http://host:port for every request; "": none
  // From the environment when --proxy is absent (curl's rules): http_proxy
  // for http URLs, https_proxy or HTTPS_PROXY for https, no_proxy or
  // NO_PROXY naming the hosts reached directly.
  std::string http_proxy, https_proxy, no_proxy;
  bool cookies = false;                 // keep an RFC 6265 cookie jar for the crawl
  bool bulk_index = false;              // StoreWriter indexes pending pages in bulk
  std::string warc_dir;                 // --warc DIR: archive every exchange there; "": none
  uint64_t warc_max_size = uint64_t{1} << 30;  // a WARC file past this starts the next
  std::string metrics;                  // --metrics HOST:PORT: Prometheus text on /metrics; "": none
  // Steering (issue 14): RE2 patterns over discovered URLs, sitemaps, and
  // the query parameters normalization removes.
  std::vector<std::string> include;     // when any: only matching URLs are queued
  std::vector<std::string> exclude;     // matching URLs are skipped; wins over include
  bool sitemaps = true;                 // follow robots.txt Sitemap: lines
  std::vector<std::string> sitemap_urls;  // --sitemap URL: fetched on top
  std::vector<std::string> strip_params{std::begin(parser::kDefaultStrippedParams),
                                        std::end(parser::kDefaultStrippedParams)};
  std::vector<HostOverride> host_overrides;
};

// A value an option takes. std::monostate: unset (an optional option left
// at "no limit").
using OptionValue = std::variant<std::monostate, bool, int64_t, double, std::string, std::vector<std::string>>;

struct OptionSpec {
  enum class Kind {
    kSeconds,  // a finite number of seconds within [min, max]
    kInteger,  // a whole number within [min, max]
    kBytes,    // a whole number of bytes, with an optional k, M, G or T suffix (powers of 1024)
    kText,
    kChoice,   // one of `choices`
    kFlag,     // true when given; a TOML boolean
    kList,     // repeatable; a TOML array of strings
  };
  const char* name = "";   // the flag is --NAME; the TOML key is NAME with _ for -
  Kind kind = Kind::kText;
  const char* value_name = "";  // what --help shows after the flag: "SECONDS", "N", "FILE"
  const char* help = "";
  double min = 0;
  double max = 0;
  std::vector<std::string> choices;
  // The flag when it is not --NAME: "no-robots" sets robots to false.
  const char* flag = nullptr;
  std::function<void(CrawlOptions&, const OptionValue&)> set;
  std::function<OptionValue(const CrawlOptions&)> get;

  std::string flag_name() const;  // "--delay", "--no-robots"
  std::string toml_key() const;   // "per_host"
};

// Every option of `webcrawl crawl`, in --help order.
const std::vector<OptionSpec>& crawl_options();
// The spec whose name or TOML key is `name` ("per-host" or "per_host"), or null.
const OptionSpec* find_option(std::string_view name);

// Parses a command-line value. Errors are usage errors that say what is wrong
// in words: "--delay: 'nan' is not a number of seconds", "--concurrency: 0 is
// out of range (1 to 10000)".
Result<OptionValue> parse_option_text(const OptionSpec& spec, std::string_view text);
// Checks a typed value (from TOML) against the spec's range or choices;
// the message starts with the TOML key.
Result<OptionValue> check_option_value(const OptionSpec& spec, OptionValue value);

// Checks what a single option's parser cannot: header syntax, the proxy
// URL, that the CA file can be read, a User-Agent without line breaks. The
// message names the option ("--header: 'X-Foo' is not 'Name: value'").
Result<void> check_options(const CrawlOptions& options);

// A "Name: value" header split in two, or nothing when it is not one
// (a name of token characters, a value without CR, LF or NUL).
std::optional<std::pair<std::string, std::string>> split_header(std::string_view header);

// The closest known name to a mistyped one ("dealy" -> "delay"), within two
// edits, from `names`; nothing when none is close.
std::optional<std::string> closest_name(std::string_view typed, const std::vector<std::string>& names);

// The effective options as "key: value" lines (TOML keys, JSON values), in
// table order: the WARC warcinfo record's fields.
std::vector<std::pair<std::string, std::string>> options_fields(const CrawlOptions& options);

// The effective options as one JSON object, keys in table order (the run
// manifest and the WARC warcinfo record).
std::string options_json(const CrawlOptions& options);

}  // namespace webcrawl::crawler
