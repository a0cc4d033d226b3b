// The two stages that run off the loop thread: a pool of parse workers and
// the single SQLite writer. Neither touches libuv: results leave through the
// callbacks the crawler gives, which wake the loop with uv_async_send.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "crawler/frontier.h"
#include "storage/store.h"

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
  // fuller ones.
  std::vector<T> take(std::size_t max, std::size_t min = 1,
                      std::chrono::milliseconds gather = std::chrono::milliseconds(0)) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return closed_ || !items_.empty(); });
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

 private:
  std::mutex mutex_;
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

// Runs `work` on each submitted item on `threads` threads named NAME-1,
// NAME-2, ..., each `nice` steps below the thread that made the pool (see
// lower_thread_priority).
//
// The crawler's parse pool uses that: parsing is most of the work and never
// the serial stage, while the loop thread and the single writer are. With as
// many parse threads as cores, an equal share would leave the writer a
// fraction of a core whenever everything is runnable, and the whole pipeline
// would run at that fraction's pace; well below, parsing takes what the
// writer and the loop leave (bench_ceiling, 2,000 pages: 418 -> 472 pages/s
// at nice 5; 20,000 pages: 337 -> 361). In a 20,000-page crawl the writer
// still waited 8.2 s for a CPU at nice 5, 4.0 s at 10, 2.6 s at 15.
inline constexpr int kParseNice = 15;

template <class T>
class WorkerPool {
 public:
  WorkerPool(int threads, std::function<void(T&&)> work, const std::string& name = "worker",
             int nice = 0)
      : work_(std::move(work)) {
    for (int i = 0; i < threads; i++) {
      threads_.emplace_back([this, nice, name = name + "-" + std::to_string(i + 1)] {
        name_thread(name);
        if (nice > 0) lower_thread_priority(nice);
        for (;;) {
          auto batch = queue_.take(1);
          if (batch.empty()) return;
          work_(std::move(batch.front()));
        }
      });
    }
  }
  ~WorkerPool() { stop(); }
  void submit(T item) { queue_.push(std::move(item)); }
  // Finishes what was submitted, then joins the threads.
  void stop() {
    queue_.close();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::function<void(T&&)> work_;
  WorkQueue<T> queue_;
  std::vector<std::thread> threads_;
};

struct Refill {
  std::string origin;
  std::vector<storage::QueuedUrl> urls;
  bool exhausted = false;  // fewer than asked: nothing more is queued on disk
};

// One thing for the writer: a page result, an audit record, or a refill.
struct WriterItem {
  std::optional<int64_t> started;  // a url id whose request began
  std::optional<storage::PageResult> page;
  std::size_t weight = 0;  // bytes the page held in the pipeline
  std::optional<storage::FetchRecord> fetch;
  std::optional<storage::RobotsRecord> robots;
  std::optional<RefillRequest> refill;
};

// The writer answers each batch twice. First, as soon as it has taken the
// batch off its queue, with `taken` and `taken_weight` alone: those pages no
// longer wait in the pipeline, so the loop may fetch more while the batch
// commits. Then, once committed, with everything else.
struct WriterReply {
  std::size_t taken = 0;                   // page results taken into a batch
  std::size_t taken_weight = 0;
  std::size_t items = 0;                   // page results committed
  std::vector<storage::QueuedUrl> queued;  // newly queued by this batch
  std::vector<Refill> refills;
  std::optional<Error> error;              // the store failed: the crawl must stop
};

// Owns the crawl's writable Store on its own thread and commits whatever has
// queued up in one transaction at a time.
class StoreWriter {
 public:
  static constexpr std::size_t kMaxBatch = 512;
  // Under load (the last batch was at least kBusyBatch items), the writer
  // waits up to kGather for a batch that large before it commits. Each commit
  // flushes FTS5's pending terms as a new index segment that merges redo later,
  // so fewer, fuller commits index for less (20,000-page crawl: 362 -> 130
  // commits, 2-5 % more pages/s). A trickle never waits: its batches are small.
  static constexpr std::size_t kBusyBatch = 256;
  static constexpr std::chrono::milliseconds kGather{50};

  StoreWriter(std::unique_ptr<storage::Store> store, std::function<void(WriterReply)> reply);
  ~StoreWriter();
  void submit(WriterItem item) { queue_.push(std::move(item)); }
  // Answered after the results submitted before it are committed.
  void request_refill(RefillRequest request) {
    WriterItem item;
    item.refill = std::move(request);
    queue_.push(std::move(item));
  }
  // Commits everything submitted so far, then joins the thread. Returns the store.
  std::unique_ptr<storage::Store> stop();

 private:
  void run();
  std::unique_ptr<storage::Store> store_;
  std::function<void(WriterReply)> reply_;
  WorkQueue<WriterItem> queue_;
  std::thread thread_;
};

}  // namespace webcrawl::crawler
