#include "crawler/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <sstream>

namespace webcrawl::crawler {
namespace {

std::string where(const std::string& path, const toml::node& node) {
  return path + ":" + std::to_string(node.source().begin.line);
}

Error bad(const std::string& path, const toml::node& node, const std::string& key, const std::string& why) {
  return Error{Code::kInvalidArgument, where(path, node) + ": " + key + ": " + why};
}

// Typed readers: each checks the node's type and range, or says what is wrong.
Result<double> number(const std::string& path, const toml::node& n, const std::string& key, double lo, double hi) {
  std::optional<double> v;
  if (auto i = n.value<int64_t>(); i && n.is_integer()) v = static_cast<double>(*i);
  if (n.is_floating_point()) v = n.value<double>();
  if (!v) return bad(path, n, key, "expected a number");
  if (*v < lo || *v > hi) {
    std::ostringstream s;
    s << "must be between " << lo << " and " << hi;
    return bad(path, n, key, s.str());
  }
  return *v;
}

Result<int64_t> integer(const std::string& path, const toml::node& n, const std::string& key, int64_t lo, int64_t hi) {
  if (!n.is_integer()) return bad(path, n, key, "expected a whole number");
  int64_t v = *n.value<int64_t>();
  if (v < lo || v > hi) return bad(path, n, key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  return v;
}

Result<std::string> text(const std::string& path, const toml::node& n, const std::string& key) {
  if (!n.is_string()) return bad(path, n, key, "expected a string");
  return *n.value<std::string>();
}

Result<bool> boolean(const std::string& path, const toml::node& n, const std::string& key) {
  if (!n.is_boolean()) return bad(path, n, key, "expected true or false");
  return *n.value<bool>();
}

Result<HostOverride> host_override(const std::string& path, const toml::node& n) {
  const toml::table* t = n.as_table();
  if (!t) return bad(path, n, "hosts", "expected [[hosts]] tables");
  HostOverride o;
  for (const auto& [k, v] : *t) {
    std::string key(k.str());
    if (key == "match") {
      auto s = text(path, v, "hosts.match");
      if (!s) return s.error();
      o.match = *s;
    } else if (key == "delay") {
      auto d = number(path, v, "hosts.delay", 0, 86400);
      if (!d) return d.error();
      o.delay = *d;
    } else if (key == "per_host") {
      auto c = integer(path, v, "hosts.per_host", 1, 1000);
      if (!c) return c.error();
      o.per_host = static_cast<int>(*c);
    } else {
      return bad(path, v, "hosts." + key, "unknown key (match, delay, per_host)");
    }
  }
  if (o.match.empty()) return bad(path, n, "hosts", "every [[hosts]] table needs a match");
  for (char& c : o.match) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

}  // namespace

Result<void> apply_config_file(const std::string& path, const std::set<std::string>& given,
                               CrawlOptions& o) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Error{Code::kInvalidArgument,
                 path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description())};
  }

  // Each key names its command-line flag (with _ for -) and how to set it.
  using Setter = std::function<Result<void>(const toml::node&)>;
  auto num = [&](const char* key, double& out, double lo, double hi) -> Setter {
    return [&, key, lo, hi](const toml::node& n) -> Result<void> {
      auto v = number(path, n, key, lo, hi);
      if (!v) return v.error();
      out = *v;
      return {};
    };
  };
  auto whole = [&](const char* key, auto& out, int64_t lo, int64_t hi) -> Setter {
    return [&, key, lo, hi](const toml::node& n) -> Result<void> {
      auto v = integer(path, n, key, lo, hi);
      if (!v) return v.error();
      out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
      return {};
    };
  };
  auto yes_no = [&](const char* key, bool& out) -> Setter {
    return [&, key](const toml::node& n) -> Result<void> {
      auto v = boolean(path, n, key);
      if (!v) return v.error();
      out = *v;
      return {};
    };
  };
  auto str = [&](const char* key, std::string& out) -> Setter {
    return [&, key](const toml::node& n) -> Result<void> {
      auto v = text(path, n, key);
      if (!v) return v.error();
      out = *v;
      return {};
    };
  };
  std::map<std::string, Setter> setters = {
      {"db", str("db", o.db_path)},
      {"concurrency", whole("concurrency", o.concurrency, 1, 10000)},
      {"per_host", whole("per_host", o.per_host, 1, 1000)},
      {"delay", num("delay", o.delay, 0, 86400)},
      {"per_ip_delay", num("per_ip_delay", o.per_ip_delay, 0, 86400)},
      {"max_delay", num("max_delay", o.max_delay, 0, 86400)},
      {"park_after", whole("park_after", o.park_after, 0, 1000000)},
      {"park_seconds", num("park_seconds", o.park_seconds, 0, 86400)},
      {"adaptive", yes_no("adaptive", o.adaptive)},
      {"user_agent", str("user_agent", o.user_agent)},
      {"timeout", num("timeout", o.timeout, 0.1, 86400)},
      {"connect_timeout", num("connect_timeout", o.connect_timeout, 0.05, 86400)},
      {"read_timeout", num("read_timeout", o.read_timeout, 0.05, 86400)},
      {"retries", whole("retries", o.retries, 0, 100)},
      {"max_body", whole("max_body", o.max_body, 1, int64_t{1} << 40)},
      {"ca_file", str("ca_file", o.ca_file)},
      {"max_url_length", whole("max_url_length", o.max_url_length, 64, 1 << 20)},
      {"parse_threads", whole("parse_threads", o.parse_threads, 1, 256)},
      {"max_pages", [&](const toml::node& n) -> Result<void> {
         auto v = integer(path, n, "max_pages", 1, INT64_MAX);
         if (!v) return v.error();
         o.max_pages = *v;
         return {};
       }},
      {"max_pages_per_host", [&](const toml::node& n) -> Result<void> {
         auto v = integer(path, n, "max_pages_per_host", 1, INT64_MAX);
         if (!v) return v.error();
         o.max_pages_per_host = *v;
         return {};
       }},
      {"max_depth", [&](const toml::node& n) -> Result<void> {
         auto v = integer(path, n, "max_depth", 0, 1000000);
         if (!v) return v.error();
         o.max_depth = static_cast<int>(*v);
         return {};
       }},
      {"scope", [&](const toml::node& n) -> Result<void> {
         auto v = text(path, n, "scope");
         if (!v) return v.error();
         if (*v == "host") {
           o.scope = Scope::kHost;
         } else if (*v == "domain") {
           o.scope = Scope::kDomain;
         } else if (*v == "any") {
           o.scope = Scope::kAny;
         } else {
           return bad(path, n, "scope", "must be host, domain or any");
         }
         return {};
       }},
      {"robots", yes_no("robots", o.robots)},
      {"insecure", yes_no("insecure", o.insecure)},
      {"quiet", yes_no("quiet", o.quiet)},
      {"seeds", [&](const toml::node& n) -> Result<void> {
         const toml::array* a = n.as_array();
         if (!a) return bad(path, n, "seeds", "expected an array of URLs");
         for (const toml::node& item : *a) {
           auto v = text(path, item, "seeds");
           if (!v) return v.error();
           o.seeds.push_back(*v);
         }
         return {};
       }},
      {"hosts", [&](const toml::node& n) -> Result<void> {
         const toml::array* a = n.as_array();
         if (!a) return bad(path, n, "hosts", "expected [[hosts]] tables");
         for (const toml::node& item : *a) {
           auto h = host_override(path, item);
           if (!h) return h.error();
           o.host_overrides.push_back(std::move(*h));
         }
         return {};
       }},
  };

  for (const auto& [k, node] : root) {
    std::string key(k.str());
    auto it = setters.find(key);
    if (it == setters.end()) return bad(path, node, key, "unknown key");
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    // The command line wins; seeds from both places add up.
    if (key != "seeds" && given.count(flag)) continue;
    if (auto r = it->second(node); !r) return r;
  }
  return {};
}

const HostOverride* find_override(const CrawlOptions& options, const std::string& hostname) {
  const HostOverride* best = nullptr;
  for (const HostOverride& o : options.host_overrides) {
    bool exact = hostname == o.match;
    bool parent = hostname.size() > o.match.size() &&
                  hostname.compare(hostname.size() - o.match.size(), o.match.size(), o.match) == 0 &&
                  hostname[hostname.size() - o.match.size() - 1] == '.';
    if ((exact || parent) && (!best || o.match.size() > best->match.size())) best = &o;
  }
  return best;
}

}  // namespace webcrawl::crawler
