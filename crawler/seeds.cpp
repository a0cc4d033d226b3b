#include "crawler/seeds.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "parser/ascii.h"
#include "parser/url.h"

namespace webcrawl::crawler {

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
    auto url = parser::parse_url(text);
    if (!url) {
      list.warnings.push_back(path + ":" + std::to_string(number) + ": invalid URL '" +
                              std::string(text.substr(0, 200)) + "': " + url.error().message);
      continue;
    }
    std::string href = url->href();
    if (seen.insert(href).second) list.urls.push_back(std::move(href));
  }
  if (in.bad()) return Error{Code::kIo, "error reading seed file " + path};
  if (list.urls.empty()) return Error{Code::kInvalidArgument, "seed file " + path + " has no valid URL"};
  return list;
}

}  // namespace webcrawl::crawler
