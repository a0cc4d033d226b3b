// What the subcommands of the command line share: exit statuses, the one
// way an error becomes a line on stderr, and how each registers itself.
// Program code (not in the library).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace webcrawl::crawler {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // a file that cannot be read, a database that cannot be opened
inline constexpr int kExitUsage = 2;        // bad usage, a bad seed URL or config value
inline constexpr int kExitNothingFetched = 3;  // a crawl in which no page could be fetched at all

// "webcrawl: MESSAGE" on stderr; the exit status its code means.
int fail(const Error& e);

// A subcommand: its CLI11 app and what runs it once the arguments are parsed.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// Each adds its subcommands to `app`.
void add_crawl_command(CLI::App& app, std::vector<Command>& commands);
void add_read_commands(CLI::App& app, std::vector<Command>& commands);

}  // namespace webcrawl::crawler
