// Crawl configuration files (TOML, read with toml++): every crawl option, plus
// per-host overrides of the delay and the connection cap.
//
//   delay = 2.0
//   user_agent = "study-bot/1.0 (+mailto:me@example.org)"
//   seeds = ["https://example.org/"]
//
//   [[hosts]]
//   match = "example.org"   # the host and its subdomains
//   delay = 5.0
//   per_host = 2
#pragma once

#include <set>
#include <string>

#include "common/result.h"
#include "crawler/options.h"

namespace webcrawl::crawler {

// Reads `path` into `options`, leaving alone every option whose command-line
// name (without the dashes, e.g. "delay", "max-pages") is in `given`: flags
// win over the file. Unknown keys, wrong types and bad values fail with a
// message naming the file, the line and the key.
Result<void> apply_config_file(const std::string& path, const std::set<std::string>& given,
                               CrawlOptions& options);

// The override that applies to `hostname`: the longest `match` equal to it or
// to one of its parent domains; nothing when none does.
const HostOverride* find_override(const CrawlOptions& options, const std::string& hostname);

}  // namespace webcrawl::crawler
