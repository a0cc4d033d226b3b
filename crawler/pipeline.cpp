#include "crawler/pipeline.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace webcrawl::crawler {

void name_thread(const std::string& name) {
  // Linux keeps 15 bytes and a NUL; a longer name would be refused whole.
  (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

void lower_thread_priority(int steps) {
  pid_t self = gettid();
  errno = 0;
  int now = getpriority(PRIO_PROCESS, static_cast<id_t>(self));
  if (now == -1 && errno != 0) return;  // cannot read it: leave it as it is
  // Best effort: a thread that keeps its priority only makes the pipeline slower.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(self), std::min(19, now + steps));
}

StoreWriter::StoreWriter(std::unique_ptr<storage::Store> store,
                         std::function<void(WriterReply)> reply)
    : store_(std::move(store)), reply_(std::move(reply)) {
  thread_ = std::thread([this] {
    name_thread("writer");
    run();
  });
}

StoreWriter::~StoreWriter() { stop(); }

std::unique_ptr<storage::Store> StoreWriter::stop() {
  queue_.close();
  if (thread_.joinable()) thread_.join();
  return std::move(store_);
}

void StoreWriter::run() {
  bool failed = false;
  bool busy = false;
  for (;;) {
    auto batch = busy ? queue_.take(kMaxBatch, kBusyBatch, kGather) : queue_.take(kMaxBatch);
    if (batch.empty()) return;
    busy = batch.size() >= kBusyBatch;
    WriterReply taken;
    storage::Batch commit;
    std::vector<RefillRequest> refills;
    commit.pages.reserve(batch.size());
    for (auto& item : batch) {
      if (item.started) commit.started.push_back(*item.started);
      if (item.refill) refills.push_back(std::move(*item.refill));
      if (item.fetch) commit.fetches.push_back(std::move(*item.fetch));
      if (item.robots) commit.robots.push_back(std::move(*item.robots));
      if (item.page) {
        taken.taken_weight += item.weight;
        commit.pages.push_back(std::move(*item.page));
      }
    }
    taken.taken = commit.pages.size();
    if (taken.taken > 0) reply_(std::move(taken));
    WriterReply reply;
    reply.items = commit.pages.size();
    if (!failed) {
      auto committed = store_->commit(commit);
      if (committed) {
        reply.queued = std::move(*committed);
      } else {
        failed = true;
        reply.error = committed.error();
      }
    }
    // Refills read after the commit, so they see every URL it queued.
    for (RefillRequest& r : refills) {
      Refill refill{r.origin, {}, true};
      if (!failed) {
        auto urls = store_->queued_for_host(r.origin, r.after_id, r.limit);
        if (urls) {
          refill.exhausted = urls->size() < r.limit;
          refill.urls = std::move(*urls);
        } else {
          failed = true;
          reply.error = urls.error();
        }
      }
      reply.refills.push_back(std::move(refill));
    }
    reply_(std::move(reply));
  }
}

}  // namespace webcrawl::crawler
