// The program's version, in one place: --version, the User-Agent, the run
// manifest and WARC records all say it.
#pragma once

namespace webcrawl {

inline constexpr const char* kVersion = "0.2.0";

}  // namespace webcrawl
