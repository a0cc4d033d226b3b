#include "crawler/config.h"

#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "parser/ascii.h"

namespace webcrawl::crawler {
namespace {

std::string where(const std::string& path, const toml::node& node) {
  return path + ":" + std::to_string(node.source().begin.line);
}

Error bad(const std::string& path, const toml::node& node, const std::string& key, const std::string& why) {
  return Error{Code::kInvalidArgument, where(path, node) + ": " + key + ": " + why};
}

// A TOML value as an option value; tables and mixed arrays have no such form.
OptionValue value_of(const toml::node& n) {
  if (n.is_integer()) return *n.value<int64_t>();
  if (n.is_floating_point()) return *n.value<double>();
  if (n.is_boolean()) return *n.value<bool>();
  if (n.is_string()) return *n.value<std::string>();
  if (const toml::array* a = n.as_array()) {
    std::vector<std::string> items;
    for (const toml::node& item : *a) {
      if (!item.is_string()) return std::monostate{};
      items.push_back(*item.value<std::string>());
    }
    return items;
  }
  return std::monostate{};
}

// Reads one key through its spec: the same checks as the command line.
Result<OptionValue> read_value(const std::string& path, const toml::node& n, const OptionSpec& spec) {
  auto v = check_option_value(spec, value_of(n));
  if (!v) return Error{Code::kInvalidArgument, where(path, n) + ": " + v.error().message};
  return v;
}

Result<HostOverride> host_override(const std::string& path, const toml::node& n) {
  const toml::table* t = n.as_table();
  if (!t) return bad(path, n, "hosts", "expected [[hosts]] tables");
  HostOverride o;
  for (const auto& [k, v] : *t) {
    std::string key(k.str());
    if (key == "match") {
      if (!v.is_string()) return bad(path, v, "hosts.match", "expected a host name");
      o.match = parser::ascii_lowercase(*v.value<std::string>());
    } else if (key == "delay" || key == "per_host") {
      auto value = read_value(path, v, *find_option(key));
      if (!value) return Error{value.error().code, value.error().message};
      CrawlOptions scratch;
      find_option(key)->set(scratch, *value);
      if (key == "delay") o.delay = scratch.delay;
      if (key == "per_host") o.per_host = scratch.per_host;
    } else if (key == "headers") {
      OptionValue list = value_of(v);
      if (auto* one = std::get_if<std::string>(&list)) list = std::vector<std::string>{*one};
      auto* headers = std::get_if<std::vector<std::string>>(&list);
      if (!headers) return bad(path, v, "hosts.headers", "expected an array of \"Name: value\" strings");
      o.headers = *headers;
    } else if (key == "include" || key == "exclude") {
      OptionValue list = value_of(v);
      if (auto* one = std::get_if<std::string>(&list)) list = std::vector<std::string>{*one};
      auto* patterns = std::get_if<std::vector<std::string>>(&list);
      if (!patterns) return bad(path, v, "hosts." + key, "expected an array of RE2 patterns");
      (key == "include" ? o.include : o.exclude) = *patterns;
    } else {
      return bad(path, v, "hosts." + key, "unknown key (match, delay, per_host, headers, include, exclude)");
    }
  }
  if (o.match.empty()) return bad(path, n, "hosts", "every [[hosts]] table needs a match");
  return o;
}

std::string unknown_key(const std::string& key) {
  std::vector<std::string> names = {"seeds", "hosts"};
  for (const OptionSpec& s : crawl_options()) names.push_back(s.toml_key());
  auto hint = closest_name(key, names);
  return hint ? "unknown key (did you mean " + *hint + "?)" : "unknown key";
}

}  // namespace

Result<void> apply_config_file(const std::string& path, CrawlOptions& o) {
  std::ifstream probe(path);
  if (!probe) return Error{Code::kIo, "cannot read config file " + path + ": " + std::strerror(errno)};
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Error{Code::kInvalidArgument,
                 path + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description())};
  }
  for (const auto& [k, node] : root) {
    std::string key(k.str());
    if (key == "seeds") {
      OptionValue v = value_of(node);
      auto* urls = std::get_if<std::vector<std::string>>(&v);
      if (!urls) return bad(path, node, "seeds", "expected an array of URLs");
      o.seeds.insert(o.seeds.end(), urls->begin(), urls->end());
      continue;
    }
    if (key == "hosts") {
      const toml::array* a = node.as_array();
      if (!a) return bad(path, node, "hosts", "expected [[hosts]] tables");
      for (const toml::node& item : *a) {
        auto h = host_override(path, item);
        if (!h) return h.error();
        o.host_overrides.push_back(std::move(*h));
      }
      continue;
    }
    const OptionSpec* spec = find_option(key);
    if (!spec || key != spec->toml_key()) return bad(path, node, key, unknown_key(key));
    auto value = read_value(path, node, *spec);
    if (!value) return value.error();
    spec->set(o, *value);
  }
  return {};
}

bool host_matches(const std::string& hostname, const std::string& match) {
  if (hostname == match) return true;
  return hostname.size() > match.size() && hostname.compare(hostname.size() - match.size(), match.size(), match) == 0 &&
         hostname[hostname.size() - match.size() - 1] == '.';
}

const HostOverride* find_override(const CrawlOptions& options, const std::string& hostname) {
  const HostOverride* best = nullptr;
  for (const HostOverride& o : options.host_overrides) {
    if (host_matches(hostname, o.match) && (!best || o.match.size() > best->match.size())) best = &o;
  }
  return best;
}

}  // namespace webcrawl::crawler
