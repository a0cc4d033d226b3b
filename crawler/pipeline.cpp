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
    reply.items = batch.size();
    std::vector<storage::PageResult> results;
    results.reserve(batch.size());
    for (auto& item : batch) {
      reply.weight += item.weight;
      results.push_back(std::move(item.result));
    }
    if (!failed) {
      auto committed = store_->commit(results);
      if (committed) {
        reply.queued = std::move(*committed);
      } else {
        failed = true;
        reply.error = committed.error();
      }
    }
    reply_(std::move(reply));
  }
}

}  // namespace webcrawl::crawler
