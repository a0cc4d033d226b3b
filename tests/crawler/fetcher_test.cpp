// The Fetcher's lifetime contract against a real libuv loop. Leaks show up in
// the sanitized build (make asan), where LeakSanitizer fails the test.
#include <catch2/catch.hpp>

#include <uv.h>

#include "crawler/fetcher.h"

using namespace webcrawl;

TEST_CASE("a fetcher destroyed during a DNS lookup calls nothing back and leaves nothing behind", "[fetcher]") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  auto fetcher = crawler::Fetcher::create(&loop, {});
  REQUIRE(fetcher);
  auto url = parser::parse_url("http://127.0.0.1:9/");
  REQUIRE(url);
  int calls = 0;
  // The lookup is on the thread pool until the loop runs, so it is pending here.
  (*fetcher)->fetch({*url, 5.0, 1024, 10.0, 15.0, {}, false}, [&](crawler::FetchResponse) { calls++; });
  fetcher->reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(calls == 0);
  CHECK(uv_loop_close(&loop) == 0);
}
