// The stages that run off the loop thread, and the queues between them: the
// parse workers (admitted against a memory budget) and the single SQLite
// writer (store_writer.h). Nothing here touches libuv: results leave through
// callbacks the crawler gives, which wake the loop with uv_async_send.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace webcrawl::crawler {

// A FIFO handed between threads. Unbounded by itself: the crawler bounds what
// it puts in (see Crawl::pipeline_full), so that the loop never blocks on it.
template <class T>
class WorkQueue {
 public:
  void push(T item) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
  }
  // Waits for work; returns up to `max` items, or nothing once closed and empty.
  // With `gather`, once there is work it waits up to that long more for `min`
  // items (or for close()), so that a consumer that works in batches gets
  // fuller ones. With `idle`, it also returns nothing when no work came for
  // that long (closed() tells the two apart).
  std::vector<T> take(std::size_t max, std::size_t min = 1,
                      std::chrono::milliseconds gather = std::chrono::milliseconds(0),
                      std::chrono::milliseconds idle = std::chrono::milliseconds(0)) {
    std::unique_lock lock(mutex_);
    auto ready = [&] { return closed_ || !items_.empty(); };
    if (idle.count() > 0) {
      if (!ready_.wait_for(lock, idle, ready)) return {};
    } else {
      ready_.wait(lock, ready);
    }
    if (items_.size() < min && gather.count() > 0) {
      ready_.wait_for(lock, gather, [&] { return closed_ || items_.size() >= min; });
    }
    std::vector<T> out;
    while (!items_.empty() && out.size() < max) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return out;
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  // Items waiting to be taken (for --metrics).
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false;
};

// Makes the calling thread `steps` nice levels (at most 19) less favoured by
// the scheduler than it is. Linux keeps a nice value per thread, so this
// leaves the rest of the process alone; raising niceness needs no privilege.
void lower_thread_priority(int steps);

// Names the calling thread (at most 15 bytes are kept), as top -H, perf and
// /proc/PID/task/TID/comm show it.
void name_thread(const std::string& name);

// The parse pool's threads run this many nice levels below the thread that
// made the pool. Parsing is most of the work and never the serial stage,
// while the loop thread and the single writer are. With as many parse threads
// as cores, an equal share would leave the writer a fraction of a core
// whenever everything is runnable, and the whole pipeline would run at that
// fraction's pace; well below, parsing takes what the writer and the loop
// leave (bench_ceiling, 2,000 pages: 418 -> 472 pages/s at nice 5; 20,000
// pages: 337 -> 361). In a 20,000-page crawl the writer still waited 8.2 s
// for a CPU at nice 5, 4.0 s at 10, 2.6 s at 15.
inline constexpr int kParseNice = 15;

// Runs `work` on each submitted item on `threads` threads named NAME-1,
// NAME-2, ..., each `nice` steps below the thread that made the pool, and
// admits items against a memory budget: each item comes with the memory it
// will take while it is worked on (for a page, its parse tree), and an item
// starts only while the items being worked on leave room for it in `budget`.
// An item too large for the budget starts once nothing else runs, and small
// items (at most `small`) start regardless, so one huge page parses alone
// while small ones keep the other cores busy. Waiting items are taken in
// order, skipping those that do not fit yet.
template <class T>
class BudgetPool {
 public:
  BudgetPool(int threads, std::size_t budget, std::size_t small, std::function<void(T&&)> work,
             const std::string& name = "worker", int nice = 0)
      : budget_(budget), small_(small), work_(std::move(work)) {
    for (int i = 0; i < threads; i++) {
      threads_.emplace_back([this, nice, name = name + "-" + std::to_string(i + 1)] {
        name_thread(name);
        if (nice > 0) lower_thread_priority(nice);
        run();
      });
    }
  }
  ~BudgetPool() { stop(); }
  BudgetPool(const BudgetPool&) = delete;
  BudgetPool& operator=(const BudgetPool&) = delete;

  void submit(T item, std::size_t cost) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back({std::move(item), cost});
    }
    changed_.notify_one();
  }
  // Finishes what was submitted, then joins the threads.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  // Items submitted and not yet started (for --metrics).
  std::size_t waiting() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  // The largest total cost that was being worked on at once.
  std::size_t peak_in_use() const {
    std::lock_guard lock(mutex_);
    return peak_;
  }

 private:
  struct Item {
    T value;
    std::size_t cost;
  };
  bool fits(std::size_t cost) const { return running_ == 0 || cost <= small_ || in_use_ + cost <= budget_; }

  void run() {
    for (;;) {
      std::unique_lock lock(mutex_);
      typename std::deque<Item>::iterator next;
      changed_.wait(lock, [&] {
        next = std::find_if(items_.begin(), items_.end(), [&](const Item& i) { return fits(i.cost); });
        return next != items_.end() || (closed_ && items_.empty());
      });
      if (next == items_.end()) return;
      Item item = std::move(*next);
      items_.erase(next);
      in_use_ += item.cost;
      running_++;
      peak_ = std::max(peak_, in_use_);
      lock.unlock();
      work_(std::move(item.value));
      lock.lock();
      in_use_ -= item.cost;
      running_--;
      lock.unlock();
      changed_.notify_all();
    }
  }

  const std::size_t budget_;
  const std::size_t small_;
  std::function<void(T&&)> work_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> items_;
  std::size_t in_use_ = 0;
  std::size_t running_ = 0;
  std::size_t peak_ = 0;
  bool closed_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace webcrawl::crawler
