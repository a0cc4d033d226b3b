#include "crawler/pipeline.h"

namespace webcrawl::crawler {

StoreWriter::StoreWriter(std::unique_ptr<storage::Store> store,
                         std::function<void(WriterReply)> reply)
    : store_(std::move(store)), reply_(std::move(reply)) {
  thread_ = std::thread([this] { run(); });
}

StoreWriter::~StoreWriter() { stop(); }

std::unique_ptr<storage::Store> StoreWriter::stop() {
  queue_.close();
  if (thread_.joinable()) thread_.join();
  return std::move(store_);
}

void StoreWriter::run() {
  bool failed = false;
  for (;;) {
    auto batch = queue_.take(kMaxBatch);
    if (batch.empty()) return;
    WriterReply reply;
    storage::Batch commit;
    std::vector<RefillRequest> refills;
    commit.pages.reserve(batch.size());
    for (auto& item : batch) {
      if (item.started) commit.started.push_back(*item.started);
      if (item.refill) refills.push_back(std::move(*item.refill));
      if (item.fetch) commit.fetches.push_back(std::move(*item.fetch));
      if (item.robots) commit.robots.push_back(std::move(*item.robots));
      if (item.page) {
        reply.weight += item.weight;
        commit.pages.push_back(std::move(*item.page));
      }
    }
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
