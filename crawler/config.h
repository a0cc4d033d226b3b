// Crawl configuration files (TOML, read with toml++): every option of the
// option table (options.h) under its TOML key, seed URLs, and per-host
// overrides of the delay and the connection cap.
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

#include <string>

#include "common/result.h"
#include "crawler/options.h"

namespace webcrawl::crawler {

// Reads `path` into `options`; seeds and [[hosts]] add to what is there.
// Command-line flags are applied after the file, so they win. Unknown keys
// (with a "did you mean" hint), wrong types and bad values fail with a
// message naming the file, the line and the key. A missing or unreadable
// file fails with kIo.
Result<void> apply_config_file(const std::string& path, CrawlOptions& options);

// `hostname` is `match` or one of its subdomains.
bool host_matches(const std::string& hostname, const std::string& match);

// The override that applies to `hostname`: the longest `match` equal to it or
// to one of its parent domains; nothing when none does.
const HostOverride* find_override(const CrawlOptions& options, const std::string& hostname);

}  // namespace webcrawl::crawler
