// The live progress line on stderr: rewritten in place on a terminal, one
// line every 10 s otherwise; and lines printed above it (warnings, --verbose)
// without tearing it. Loop thread only; no libuv.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>

namespace webcrawl::crawler {

struct ProgressSnapshot {
  int64_t stored = 0;        // pages committed by this run
  int64_t queued = 0;
  std::size_t in_flight = 0;
  int64_t errors = 0;
  std::map<std::string, std::size_t> waiting;  // hosts held, by reason (Frontier::waiting)
  std::optional<int64_t> remaining;            // pages left under --max-pages, for an ETA
};

class Progress {
 public:
  Progress(std::ostream& log, bool tty, double began) : log_(log), tty_(tty), began_(began) {}

  // The line for `s` at monotonic time `now`.
  static std::string format(const ProgressSnapshot& s, double elapsed);
  void update(const ProgressSnapshot& s, double now);
  // A line of its own (a warning, a finished request), above the live line.
  void print(const std::string& line);
  // Clears the live line, for what comes after the crawl.
  void clear();

 private:
  std::ostream& log_;
  bool tty_;
  double began_;
  double last_line_ = 0;
  std::string shown_;  // the live line on the terminal, to redraw after print()
};

}  // namespace webcrawl::crawler
