// Runs another program for a test (headless Chromium, promtool): no shell,
// both output streams captured, a deadline.
#pragma once

#include <string>
#include <vector>

namespace webcrawl::testing {

struct ProgramResult {
  int status = -1;  // exit status, or 128 + signal; -1 when it could not be started
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs argv[0] (looked up in PATH) with `argv`, standard input from
// `stdin_path` (or /dev/null), killed at `timeout_seconds`.
ProgramResult run_program(const std::vector<std::string>& argv, double timeout_seconds = 60,
                          const std::string& stdin_path = "/dev/null");

// The full path of `name` in PATH, or "" when it is not installed.
std::string find_program(const std::string& name);

}  // namespace webcrawl::testing
