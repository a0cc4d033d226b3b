// Small glue between libuv and our Result/Error values. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/result.h"

namespace webcrawl::crawler {

inline Error from_uv(int rc, std::string_view what) {
  Code code = Code::kNetwork;
  if (rc == UV_ETIMEDOUT) code = Code::kTimeout;
  if (rc == UV_ECANCELED) code = Code::kCancelled;
  return {code, std::string(what) + ": " + uv_strerror(rc)};
}

// For the libuv calls that fail only on a programming error (uv_timer_init
// on a live loop, uv_timer_start on an open handle with a callback): their
// result is checked all the same, and a failure stops the program with the
// call that failed, as an assert would, instead of a request that silently
// never times out.
inline void uv_check(int rc, const char* what) {
  if (rc >= 0) return;
  std::fprintf(stderr, "webcrawl: internal error: %s: %s\n", what, uv_strerror(rc));
  std::abort();
}

// Seconds on the loop's monotonic clock, with sub-millisecond precision.
inline double monotonic_seconds() { return static_cast<double>(uv_hrtime()) / 1e9; }

// Closes a heap-allocated handle and deletes it once libuv is done with it
// (STYLE.md section 4). Safe on null.
template <class Handle>
void close_and_delete(Handle* h) {
  if (!h) return;
  h->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(h),
           [](uv_handle_t* handle) { delete reinterpret_cast<Handle*>(handle); });
}

}  // namespace webcrawl::crawler
