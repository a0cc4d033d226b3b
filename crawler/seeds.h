// Seed lists: one URL per line; blank lines and '#' comments are ignored.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace webcrawl::crawler {

struct SeedList {
  std::vector<std::string> urls;      // normalized hrefs, in file order, no duplicates
  std::vector<std::string> warnings;  // "FILE:LINE: invalid URL ...: why", one per skipped line
};

// A seed as the user typed it, normalized ("http://host/path"); the error
// says what is wrong in words: "example.org/x: add http:// or https://"
// for a URL without a scheme.
Result<std::string> seed_url(std::string_view text);

// Reads `path`. Invalid lines are skipped with a warning naming their line.
// Fails for an unreadable file, and for a file with no valid URL at all.
Result<SeedList> read_seed_file(const std::string& path);

}  // namespace webcrawl::crawler
