#include "crawler/store_writer.h"

namespace webcrawl::crawler {

StoreWriter::StoreWriter(std::unique_ptr<storage::Store> store, std::function<void(WriterReply)> reply)
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
    std::vector<std::pair<std::string, int>> children;
    commit.pages.reserve(batch.size());
    for (auto& item : batch) {
      if (auto* s = std::get_if<StartedUrl>(&item)) commit.started.push_back(s->url_id);
      if (auto* r = std::get_if<RefillRequest>(&item)) refills.push_back(std::move(*r));
      if (auto* f = std::get_if<storage::FetchRecord>(&item)) commit.fetches.push_back(std::move(*f));
      if (auto* r = std::get_if<storage::RobotsRecord>(&item)) commit.robots.push_back(std::move(*r));
      if (auto* h = std::get_if<HostDelay>(&item)) commit.host_delays.emplace_back(std::move(h->origin), h->delay);
      if (auto* c = std::get_if<storage::CookieRecord>(&item)) commit.cookies.push_back(std::move(*c));
      if (auto* p = std::get_if<PageItem>(&item)) {
        taken.taken_weight += p->weight;
        commit.pages.push_back(std::move(p->result));
      }
      if (auto* m = std::get_if<SitemapItem>(&item)) {
        taken.taken_weight += m->weight;
        for (std::string& child : m->children) children.emplace_back(std::move(child), m->level + 1);
        commit.sitemaps.push_back(std::move(m->record));
      }
    }
    taken.taken = commit.pages.size() + commit.sitemaps.size();
    if (taken.taken > 0) reply_(std::move(taken));
    WriterReply reply;
    reply.items = taken.taken;
    reply.pages = commit.pages.size();
    if (!failed) {
      auto committed = store_->commit(commit);
      if (committed) {
        reply.queued = std::move(*committed);
        reply.sitemaps = std::move(children);
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
