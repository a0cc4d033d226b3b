#include "crawler/progress.h"

#include <algorithm>
#include <cstdio>

namespace webcrawl::crawler {
namespace {

std::string duration_text(double seconds) {
  char buf[32];
  long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lds", s);
  }
  return buf;
}

}  // namespace

std::string Progress::format(const ProgressSnapshot& s, double elapsed) {
  elapsed = std::max(elapsed, 1e-9);
  double rate = static_cast<double>(s.stored) / elapsed;
  char head[160];
  std::snprintf(head, sizeof head, "%lld pages  %.1f/s  queued %lld  in flight %zu  errors %lld",
                static_cast<long long>(s.stored), rate, static_cast<long long>(s.queued), s.in_flight,
                static_cast<long long>(s.errors));
  std::string line = head;
  if (s.remaining && rate > 0) line += "  ETA " + duration_text(static_cast<double>(*s.remaining) / rate);
  if (!s.waiting.empty()) {
    line += "  waiting:";
    for (const auto& [reason, hosts] : s.waiting) line += " " + reason + " " + std::to_string(hosts);
  }
  return line;
}

void Progress::update(const ProgressSnapshot& s, double now) {
  double elapsed = now - began_;
  std::string line = format(s, elapsed);
  if (tty_) {
    shown_ = line;
    log_ << "\r\x1b[K" << line;
    log_.flush();
  } else if (elapsed - last_line_ >= 10.0) {
    last_line_ = elapsed;
    log_ << line << "\n";
    log_.flush();
  }
}

void Progress::print(const std::string& line) {
  if (tty_ && !shown_.empty()) {
    log_ << "\r\x1b[K" << line << "\n" << shown_;
  } else {
    log_ << line << "\n";
  }
  log_.flush();
}

void Progress::clear() {
  if (tty_ && !shown_.empty()) log_ << "\r\x1b[K";
  shown_.clear();
  log_.flush();
}

}  // namespace webcrawl::crawler
