// Wall-clock time as the database and the audit trail record it.
#pragma once

#include <chrono>

namespace webcrawl {

// Seconds since the Unix epoch, with sub-second precision.
inline double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace webcrawl
