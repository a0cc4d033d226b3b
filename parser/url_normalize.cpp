// Session and tracking parameter removal; the contract is in url_normalize.h.
#include "parser/url_normalize.h"

#include <iterator>
#include <utility>

#include "parser/ascii.h"

namespace webcrawl::parser {
namespace {

constexpr std::string_view kJsessionid = ";jsessionid=";

bool name_matches(std::string_view name, std::string_view rule) {
  if (rule.back() == '*') return istarts_with(name, rule.substr(0, rule.size() - 1));
  return iequals(name, rule);
}

bool is_stripped(std::string_view name, const std::vector<std::string>& rules) {
  for (const std::string& rule : rules) {
    if (!rule.empty() && name_matches(name, rule)) return true;
  }
  return false;
}

// Removes each ";jsessionid=..." up to the next ';' or '/'.
bool strip_jsessionid(std::string& path) {
  bool removed = false;
  for (std::size_t i = path.find(';'); i != std::string::npos; i = path.find(';', i)) {
    if (!istarts_with(std::string_view(path).substr(i), kJsessionid)) {
      ++i;
      continue;
    }
    std::size_t end = path.find_first_of(";/", i + 1);
    path.erase(i, end == std::string::npos ? std::string::npos : end - i);
    removed = true;
  }
  return removed;
}

bool strip_query(Url& url, const std::vector<std::string>& rules) {
  if (!url.has_query || rules.empty()) return false;
  std::string_view query = url.query;
  std::string kept;
  bool removed = false;
  bool first = true;
  for (std::size_t i = 0; i <= query.size();) {
    std::size_t amp = query.find('&', i);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view param = query.substr(i, amp - i);
    i = amp + 1;
    if (is_stripped(param.substr(0, param.find('=')), rules)) {
      removed = true;
      continue;
    }
    if (!first) kept.push_back('&');
    kept.append(param);
    first = false;
  }
  if (!removed) return false;
  url.query = std::move(kept);
  url.has_query = !url.query.empty();
  return true;
}

}  // namespace

bool strip_session_params(Url& url, const StripRules& rules) {
  bool path_changed = rules.jsessionid_path && strip_jsessionid(url.path);
  bool query_changed = strip_query(url, rules.query_params);
  if (path_changed) {
    // A segment such as "..;jsessionid=1" is a dot segment only now.
    if (auto reparsed = parse_url(url.href())) url = std::move(*reparsed);
  }
  return path_changed || query_changed;
}

}  // namespace webcrawl::parser
