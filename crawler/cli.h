// The command line: `webcrawl crawl|stats|search|query`, parsed with CLI11.
#pragma once

namespace webcrawl::crawler {

// Runs one command and returns the process exit status: 0 on success, 1 when
// the work failed (database, network set-up), 2 for bad usage, 130 after SIGINT.
// Errors are one line on stderr.
int run_cli(int argc, char** argv);

}  // namespace webcrawl::crawler
