#include "crawler/options.h"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "crawler/metrics.h"
#include "parser/ascii.h"
#include "parser/url.h"

namespace webcrawl::crawler {
namespace {

using Kind = OptionSpec::Kind;
constexpr double kDay = 86400;
constexpr double kUnbounded = 9.2e18;  // an int64 range's top: "at least N"

OptionSpec make(const char* name, Kind kind, const char* value_name, const char* help, double min = 0,
                double max = 0) {
  OptionSpec s;
  s.name = name;
  s.kind = kind;
  s.value_name = value_name;
  s.help = help;
  s.min = min;
  s.max = max;
  return s;
}

// Specs for the common shapes: a field of CrawlOptions read and written
// through a pointer to member.
template <class T>
OptionSpec number(const char* name, Kind kind, const char* value_name, const char* help, double min,
                  double max, T CrawlOptions::*field) {
  OptionSpec s = make(name, kind, value_name, help, min, max);
  s.set = [field](CrawlOptions& o, const OptionValue& v) {
    if (auto d = std::get_if<double>(&v)) o.*field = static_cast<T>(*d);
    if (auto i = std::get_if<int64_t>(&v)) o.*field = static_cast<T>(*i);
  };
  s.get = [field, kind](const CrawlOptions& o) -> OptionValue {
    if (kind == Kind::kSeconds) return static_cast<double>(o.*field);
    return static_cast<int64_t>(o.*field);
  };
  return s;
}

template <class T>
OptionSpec optional_number(const char* name, const char* help, double min, std::optional<T> CrawlOptions::*field) {
  OptionSpec s = make(name, Kind::kInteger, "N", help, min, kUnbounded);
  s.set = [field](CrawlOptions& o, const OptionValue& v) {
    if (auto i = std::get_if<int64_t>(&v)) o.*field = static_cast<T>(*i);
  };
  s.get = [field](const CrawlOptions& o) -> OptionValue {
    if (!(o.*field)) return std::monostate{};
    return static_cast<int64_t>(*(o.*field));
  };
  return s;
}

OptionSpec seconds(const char* name, const char* help, double min, double max, double CrawlOptions::*field) {
  return number(name, Kind::kSeconds, "SECONDS", help, min, max, field);
}

OptionSpec flag(const char* name, const char* help, bool CrawlOptions::*field, const char* cli = nullptr) {
  OptionSpec s = make(name, Kind::kFlag, "", help);
  s.flag = cli;
  s.set = [field](CrawlOptions& o, const OptionValue& v) { o.*field = std::get<bool>(v); };
  s.get = [field](const CrawlOptions& o) -> OptionValue { return o.*field; };
  return s;
}

// A repeatable option; `replace` makes a given list take the default's place
// instead of adding to it.
OptionSpec list(const char* name, const char* value_name, const char* help, std::vector<std::string> CrawlOptions::*field,
                bool replace = false) {
  OptionSpec s = make(name, Kind::kList, value_name, help);
  s.set = [field, replace](CrawlOptions& o, const OptionValue& v) {
    const auto& items = std::get<std::vector<std::string>>(v);
    if (replace) (o.*field).clear();
    (o.*field).insert((o.*field).end(), items.begin(), items.end());
  };
  s.get = [field](const CrawlOptions& o) -> OptionValue { return o.*field; };
  return s;
}

OptionSpec text(const char* name, const char* value_name, const char* help, std::string CrawlOptions::*field) {
  OptionSpec s = make(name, Kind::kText, value_name, help);
  s.set = [field](CrawlOptions& o, const OptionValue& v) { o.*field = std::get<std::string>(v); };
  s.get = [field](const CrawlOptions& o) -> OptionValue { return o.*field; };
  return s;
}

std::vector<OptionSpec> make_table() {
  std::vector<OptionSpec> t;
  t.push_back(text("db", "FILE", "output database; created if absent, resumed if it holds a crawl",
                   &CrawlOptions::db_path));
  t.push_back(optional_number("max-pages", "stop after N pages fetched, counting earlier runs", 1,
                              &CrawlOptions::max_pages));
  t.push_back(optional_number("max-depth", "follow links at most N hops from a seed (seeds are depth 0)", 0,
                              &CrawlOptions::max_depth));
  {
    OptionSpec s = make("scope", Kind::kChoice, "host|domain|any",
                        "which discovered links are followed: the seeds' host names, their registrable domains, or any");
    s.choices = {"host", "domain", "any"};
    s.set = [](CrawlOptions& o, const OptionValue& v) {
      const auto& name = std::get<std::string>(v);
      o.scope = name == "domain" ? Scope::kDomain : name == "any" ? Scope::kAny : Scope::kHost;
    };
    s.get = [](const CrawlOptions& o) -> OptionValue {
      return std::string(o.scope == Scope::kDomain ? "domain" : o.scope == Scope::kAny ? "any" : "host");
    };
    t.push_back(std::move(s));
  }
  t.push_back(number("concurrency", Kind::kInteger, "N", "global cap on requests in flight", 1, 10000,
                     &CrawlOptions::concurrency));
  t.push_back(number("per-host", Kind::kInteger, "N", "cap on simultaneous connections to one host", 1, 1000,
                     &CrawlOptions::per_host));
  t.push_back(seconds("delay", "minimum gap between request starts to one host", 0, kDay, &CrawlOptions::delay));
  t.push_back(seconds("per-ip-delay", "minimum gap between request starts to one IP address (0: off)", 0, kDay,
                      &CrawlOptions::per_ip_delay));
  t.push_back(flag("adaptive", "a host's delay follows its response time (5x), up to --max-delay",
                   &CrawlOptions::adaptive));
  t.push_back(seconds("max-delay", "upper bound of --adaptive delays", 0, kDay, &CrawlOptions::max_delay));
  t.push_back(number("park-after", Kind::kInteger, "N",
                     "park a host after N consecutive URLs that failed as unreachable (0: never)", 0, 1000000,
                     &CrawlOptions::park_after));
  t.push_back(seconds("park-seconds", "first parking time; doubles each time, at most an hour", 0, kDay,
                      &CrawlOptions::park_seconds));
  t.push_back(flag("robots", "do not fetch or obey robots.txt", &CrawlOptions::robots, "no-robots"));
  t.push_back(text("user-agent", "STRING", "sent on every request; its product token selects the robots.txt group",
                   &CrawlOptions::user_agent));
  t.push_back(seconds("timeout", "per request, connect to last byte, in all", 0.1, kDay, &CrawlOptions::timeout));
  t.push_back(seconds("connect-timeout", "DNS and TCP connect, and again the TLS handshake", 0.05, kDay,
                      &CrawlOptions::connect_timeout));
  t.push_back(seconds("read-timeout", "to the first response byte, then between reads", 0.05, kDay,
                      &CrawlOptions::read_timeout));
  t.push_back(number("retries", Kind::kInteger, "N", "retries of transient failures", 0, 100,
                     &CrawlOptions::retries));
  t.push_back(number("max-body", Kind::kBytes, "BYTES", "responses are cut at this size (k, M, G suffixes)", 1,
                     static_cast<double>(int64_t{1} << 40), &CrawlOptions::max_body));
  t.push_back(text("ca-file", "FILE", "also trust these CA certificates (PEM)", &CrawlOptions::ca_file));
  t.push_back(flag("insecure", "do not verify TLS certificates (warns; for testing only)", &CrawlOptions::insecure));
  t.push_back(number("max-url-length", Kind::kInteger, "N", "discovered URLs longer than this are skipped as traps",
                     64, 1 << 20, &CrawlOptions::max_url_length));
  t.push_back(optional_number("max-pages-per-host", "stop fetching a host after N pages (counting earlier runs)", 1,
                              &CrawlOptions::max_pages_per_host));
  t.push_back(number("parse-threads", Kind::kInteger, "N", "HTML parsing threads (0: one per core)", 0, 256,
                     &CrawlOptions::parse_threads));
  t.push_back(flag("quiet", "no progress output", &CrawlOptions::quiet));
  t.push_back(flag("verbose", "a line per finished request on stderr: time, status or error, bytes, elapsed, URL",
                   &CrawlOptions::verbose));
  t.push_back(flag("retry-failed",
                   "queue again every URL that failed, and the hosts whose robots.txt was unreachable",
                   &CrawlOptions::retry_failed));
  t.push_back(list("header", "'NAME: VALUE'", "send this header with every request (repeatable)",
                   &CrawlOptions::headers));
  t.push_back(list("include", "REGEX",
                   "queue a discovered URL only if this RE2 pattern matches it somewhere (repeatable: any)",
                   &CrawlOptions::include));
  t.push_back(list("exclude", "REGEX", "skip discovered URLs this RE2 pattern matches (repeatable; wins over --include)",
                   &CrawlOptions::exclude));
  t.push_back(flag("sitemaps", "do not read the sitemaps robots.txt lists", &CrawlOptions::sitemaps, "no-sitemaps"));
  t.push_back(list("sitemap", "URL", "also read this sitemap (repeatable); its host joins the scope",
                   &CrawlOptions::sitemap_urls));
  {
    OptionSpec s = list("strip-params", "NAME",
                        "query parameter removed from discovered URLs (repeatable, 'utm_*' a prefix; replaces the "
                        "default PHPSESSID, sid, jsessionid, utm_*; '' for none)",
                        &CrawlOptions::strip_params, true);
    s.flag = "strip-param";
    t.push_back(std::move(s));
  }
  t.push_back(text("proxy", "URL",
                   "send every request through this HTTP proxy (CONNECT for https); without it, http_proxy, "
                   "https_proxy and no_proxy are honoured",
                   &CrawlOptions::proxy));
  t.push_back(text("warc", "DIR",
                   "archive every HTTP exchange as WARC/1.1 in DIR/*.warc.gz, indexed by pages.warc_file and "
                   "warc_offset",
                   &CrawlOptions::warc_dir));
  t.push_back(number("warc-max-size", Kind::kBytes, "BYTES", "start a new WARC file past this size (k, M, G suffixes)",
                     64 * 1024, static_cast<double>(int64_t{1} << 40), &CrawlOptions::warc_max_size));
  t.push_back(flag("cookies", "keep cookies the sites set (RFC 6265), in the database, across runs",
                   &CrawlOptions::cookies));
  t.push_back(flag("bulk-index",
                   "write search entries 500 pages at a time instead of with each commit: less CPU per page, "
                   "search up to 30 s behind",
                   &CrawlOptions::bulk_index));
  t.push_back(text("metrics", "HOST:PORT",
                   "serve Prometheus metrics on http://HOST:PORT/metrics while the crawl runs (e.g. 127.0.0.1:9100)",
                   &CrawlOptions::metrics));
  return t;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string range_text(const OptionSpec& s) {
  if (s.max >= kUnbounded) return "at least " + format_number(s.min);
  return format_number(s.min) + " to " + format_number(s.max);
}

const char* kind_words(Kind kind) {
  switch (kind) {
    case Kind::kSeconds: return "a number of seconds";
    case Kind::kInteger: return "a whole number";
    case Kind::kBytes: return "a size in bytes (k, M, G suffixes)";
    case Kind::kFlag: return "true or false";
    case Kind::kList: return "a list of strings";
    default: return "a string";
  }
}

Error bad_value(std::string_view who, std::string_view why) {
  return Error{Code::kInvalidArgument, std::string(who) + ": " + std::string(why)};
}

std::optional<int64_t> whole_number(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// "10M" -> 10485760.
std::optional<int64_t> byte_count(std::string_view text) {
  int shift = 0;
  if (!text.empty()) {
    switch (parser::ascii_lower(text.back())) {
      case 'k': shift = 10; break;
      case 'm': shift = 20; break;
      case 'g': shift = 30; break;
      case 't': shift = 40; break;
      default: break;
    }
    if (shift) text.remove_suffix(1);
  }
  auto n = whole_number(text);
  if (!n || *n < 0 || (shift && *n > (INT64_MAX >> shift))) return std::nullopt;
  return *n << shift;
}

// Range and choice checks shared by both readers; `who` is the flag or key.
Result<OptionValue> check(const OptionSpec& s, OptionValue v, std::string_view who) {
  auto out_of_range = [&](double x) {
    std::string shown = format_number(x);
    if (auto i = std::get_if<int64_t>(&v)) shown = std::to_string(*i);
    return bad_value(who, shown + " is out of range (" + range_text(s) + ")");
  };
  if (auto d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) return bad_value(who, "'" + format_number(*d) + "' is not " + kind_words(s.kind));
    if (*d < s.min || *d > s.max) return out_of_range(*d);
  }
  if (auto i = std::get_if<int64_t>(&v)) {
    if (static_cast<double>(*i) < s.min || static_cast<double>(*i) > s.max) return out_of_range(static_cast<double>(*i));
  }
  if (s.kind == Kind::kChoice) {
    const auto& name = std::get<std::string>(v);
    if (std::find(s.choices.begin(), s.choices.end(), name) == s.choices.end()) {
      std::string all;
      for (const auto& c : s.choices) all += (all.empty() ? "" : ", ") + c;
      return bad_value(who, "'" + name + "' is not one of " + all);
    }
  }
  return v;
}

}  // namespace

std::string OptionSpec::flag_name() const { return std::string("--") + (flag ? flag : name); }

std::string OptionSpec::toml_key() const {
  std::string key = name;
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

const std::vector<OptionSpec>& crawl_options() {
  static const std::vector<OptionSpec> table = make_table();
  return table;
}

const OptionSpec* find_option(std::string_view name) {
  for (const OptionSpec& s : crawl_options()) {
    if (name == s.name || name == s.toml_key()) return &s;
  }
  return nullptr;
}

Result<OptionValue> parse_option_text(const OptionSpec& s, std::string_view text) {
  const std::string who = s.flag_name();
  const std::string quoted = "'" + std::string(text) + "'";
  switch (s.kind) {
    case Kind::kSeconds: {
      std::string copy(parser::trim(text));
      char* end = nullptr;
      double d = copy.empty() ? NAN : std::strtod(copy.c_str(), &end);
      if (copy.empty() || end != copy.c_str() + copy.size() || !std::isfinite(d)) {
        return bad_value(who, quoted + " is not " + kind_words(s.kind));
      }
      return check(s, d, who);
    }
    case Kind::kInteger: {
      auto n = whole_number(parser::trim(text));
      if (!n) return bad_value(who, quoted + " is not " + kind_words(s.kind));
      return check(s, *n, who);
    }
    case Kind::kBytes: {
      auto n = byte_count(parser::trim(text));
      if (!n) return bad_value(who, quoted + " is not " + kind_words(s.kind));
      return check(s, *n, who);
    }
    case Kind::kFlag:
      return OptionValue(true);
    case Kind::kList:
      return OptionValue(std::vector<std::string>{std::string(text)});
    case Kind::kText:
    case Kind::kChoice:
      return check(s, std::string(text), who);
  }
  return bad_value(who, "unknown option kind");
}

Result<OptionValue> check_option_value(const OptionSpec& s, OptionValue v) {
  const std::string who = s.toml_key();
  auto expected = [&] { return bad_value(who, std::string("expected ") + kind_words(s.kind)); };
  switch (s.kind) {
    case Kind::kSeconds:
      if (auto i = std::get_if<int64_t>(&v)) v = static_cast<double>(*i);
      if (!std::holds_alternative<double>(v)) return expected();
      break;
    case Kind::kInteger:
      if (!std::holds_alternative<int64_t>(v)) return expected();
      break;
    case Kind::kBytes:
      if (auto text = std::get_if<std::string>(&v)) {
        auto n = byte_count(*text);
        if (!n) return expected();
        v = *n;
      }
      if (!std::holds_alternative<int64_t>(v)) return expected();
      break;
    case Kind::kFlag:
      if (!std::holds_alternative<bool>(v)) return expected();
      break;
    case Kind::kList:
      if (auto text = std::get_if<std::string>(&v)) v = std::vector<std::string>{*text};
      if (!std::holds_alternative<std::vector<std::string>>(v)) return expected();
      break;
    case Kind::kText:
    case Kind::kChoice:
      if (!std::holds_alternative<std::string>(v)) return expected();
      break;
  }
  return check(s, std::move(v), who);
}

std::optional<std::pair<std::string, std::string>> split_header(std::string_view header) {
  std::size_t colon = header.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view name = header.substr(0, colon);
  auto token = [](char c) {
    return parser::is_ascii_alpha(c) || parser::is_ascii_digit(c) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  };
  if (!std::all_of(name.begin(), name.end(), token)) return std::nullopt;
  std::string_view value = parser::trim_ows(header.substr(colon + 1));
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) return std::nullopt;
  return std::make_pair(std::string(name), std::string(value));
}

Result<void> check_options(const CrawlOptions& o) {
  auto headers = [](const std::vector<std::string>& list, const std::string& who) -> Result<void> {
    for (const std::string& h : list) {
      if (!split_header(h)) return bad_value(who, "'" + h + "' is not 'Name: value'");
    }
    return {};
  };
  if (auto r = headers(o.headers, "--header"); !r) return r;
  for (const HostOverride& h : o.host_overrides) {
    if (auto r = headers(h.headers, "hosts.headers"); !r) return r;
  }
  for (const auto& [who, proxy] : {std::pair<const char*, const std::string*>{"--proxy", &o.proxy},
                                   {"http_proxy", &o.http_proxy},
                                   {"https_proxy", &o.https_proxy}}) {
    if (proxy->empty()) continue;
    auto url = parser::parse_url(*proxy);
    if (!url) return bad_value(who, "'" + *proxy + "' is not a proxy URL: " + url.error().message);
    if (url->https()) return bad_value(who, "'" + *proxy + "': only http:// proxies are supported");
  }
  if (!o.metrics.empty()) {
    if (auto a = parse_listen_address(o.metrics); !a) return a.error();
  }
  if (o.user_agent.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return bad_value("--user-agent", "must be one line");
  }
  if (!o.ca_file.empty()) {
    std::FILE* f = std::fopen(o.ca_file.c_str(), "rb");
    if (!f) return bad_value("--ca-file", "cannot read " + o.ca_file + ": " + std::strerror(errno));
    std::fclose(f);
  }
  return {};
}

std::optional<std::string> closest_name(std::string_view typed, const std::vector<std::string>& names) {
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    return row[b.size()];
  };
  std::optional<std::string> best;
  std::size_t best_distance = 3;
  for (const std::string& name : names) {
    std::size_t d = distance(typed, name);
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  return best;
}

std::vector<std::pair<std::string, std::string>> options_fields(const CrawlOptions& options) {
  auto all = nlohmann::ordered_json::parse(options_json(options));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : all.items()) {
    out.emplace_back(key, value.is_string() ? value.get<std::string>() : value.dump());
  }
  return out;
}

std::string options_json(const CrawlOptions& options) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const OptionSpec& s : crawl_options()) {
    OptionValue v = s.get(options);
    nlohmann::ordered_json& slot = out[s.toml_key()];
    std::visit([&](const auto& x) {
      using T = std::decay_t<decltype(x)>;
      if constexpr (std::is_same_v<T, std::monostate>) {
        slot = nullptr;
      } else {
        slot = x;
      }
    }, v);
  }
  nlohmann::ordered_json hosts = nlohmann::ordered_json::array();
  for (const HostOverride& h : options.host_overrides) {
    nlohmann::ordered_json one = {{"match", h.match}};
    if (h.delay) one["delay"] = *h.delay;
    if (h.per_host) one["per_host"] = *h.per_host;
    if (!h.headers.empty()) one["headers"] = h.headers;
    if (!h.include.empty()) one["include"] = h.include;
    if (!h.exclude.empty()) one["exclude"] = h.exclude;
    hosts.push_back(std::move(one));
  }
  out["hosts"] = std::move(hosts);
  // Proxies from the environment are part of how the crawl was made.
  if (!options.http_proxy.empty()) out["http_proxy"] = options.http_proxy;
  if (!options.https_proxy.empty()) out["https_proxy"] = options.https_proxy;
  if (!options.no_proxy.empty()) out["no_proxy"] = options.no_proxy;
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace webcrawl::crawler
