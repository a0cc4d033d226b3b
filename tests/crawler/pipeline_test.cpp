// The parse pool's memory budget.
#include "crawler/pipeline.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>

using namespace webcrawl::crawler;

namespace {

// Items hold their work until released, so the test sees what runs at once.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  int running = 0;
  int released = 0;
  std::vector<int> started;
  void enter(int id) {
    std::unique_lock lock(mutex);
    running++;
    started.push_back(id);
    changed.notify_all();
    changed.wait(lock, [&] { return released > 0; });
    released--;
    running--;
  }
  void wait_running(int n) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return running == n; });
  }
  void wait_started(std::size_t n) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return started.size() == n; });
  }
  void release_one() {
    std::lock_guard lock(mutex);
    released++;
    changed.notify_all();
  }
};

}  // namespace

TEST_CASE("two items too large for the budget never run at once, while small ones still do", "[pipeline]") {
  Gate gate;
  BudgetPool<int> pool(2, 100, 10, [&](int&& id) { gate.enter(id); });
  pool.submit(1, 80);  // large: runs (nothing else does)
  gate.wait_running(1);
  pool.submit(2, 80);  // large: waits for 1
  pool.submit(3, 5);   // small: runs beside 1, ahead of 2
  gate.wait_running(2);
  {
    std::lock_guard lock(gate.mutex);
    CHECK(gate.started == std::vector<int>{1, 3});
  }
  gate.release_one();
  gate.release_one();
  gate.wait_started(3);  // 2 starts once 1 is done
  gate.release_one();
  pool.stop();
  CHECK(gate.started == std::vector<int>{1, 3, 2});
  CHECK(pool.peak_in_use() == 85);
}

TEST_CASE("an item larger than the whole budget still runs, alone", "[pipeline]") {
  std::atomic<int> done{0};
  BudgetPool<int> pool(2, 10, 1, [&](int&&) { done++; });
  pool.submit(1, 1000);
  pool.submit(2, 1000);
  pool.stop();
  CHECK(done == 2);
  CHECK(pool.peak_in_use() == 1000);
}
