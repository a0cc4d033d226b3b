#include "crawler/seeds.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "parser/ascii.h"
#include "parser/url.h"

namespace webcrawl::crawler {

Result<std::string> seed_url(std::string_view text) {
  auto url = parser::parse_url(text);
  if (url) return url->href();
  std::string shown(text.substr(0, 200));
  // "example.org/page" parses as a relative reference: say what it lacks.
  // "mailto:x" has a scheme; "example.org:8080/x" and "localhost:80" do not.
  std::size_t colon = text.find(':');
  bool has_scheme = text.find("://") != std::string_view::npos ||
                    (colon != std::string_view::npos && colon > 0 && colon + 1 < text.size() &&
                     !parser::is_ascii_digit(text[colon + 1]) &&
                     std::all_of(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(colon), parser::is_ascii_alpha));
  if (!has_scheme) return Error{Code::kInvalidArgument, "'" + shown + "' has no scheme: add http:// or https://"};
  return Error{Code::kInvalidArgument, "'" + shown + "': " + url.error().message};
}

Result<SeedList> read_seed_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{Code::kIo, "cannot read seed file " + path + ": " + std::strerror(errno)};
  SeedList list;
  std::unordered_set<std::string> seen;
  std::string line;
  for (int number = 1; std::getline(in, line); number++) {
    if (number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    // '#' starts a comment at the start of a line or after white space; inside
    // a URL it is a fragment.
    std::size_t hash = line.find('#');
    while (hash != std::string::npos && hash > 0 && !parser::is_html_space(line[hash - 1])) {
      hash = line.find('#', hash + 1);
    }
    std::string_view text = parser::trim_if(std::string_view(line.data(), hash == std::string::npos ? line.size() : hash),
                                            [](char c) { return parser::is_html_space(c) || c == '\v'; });
    if (text.empty()) continue;
    auto href = seed_url(text);
    if (!href) {
      list.warnings.push_back(path + ":" + std::to_string(number) + ": invalid URL " + href.error().message);
      continue;
    }
    if (seen.insert(*href).second) list.urls.push_back(std::move(*href));
  }
  if (in.bad()) return Error{Code::kIo, "error reading seed file " + path};
  if (list.urls.empty()) return Error{Code::kInvalidArgument, "seed file " + path + " has no valid URL"};
  return list;
}

}  // namespace webcrawl::crawler
