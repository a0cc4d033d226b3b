#include "crawler/store_writer.h"

namespace webcrawl::crawler {

StoreWriter::StoreWriter(std::unique_ptr<storage::Store> store, std::function<void(WriterReply)> reply,
                         bool bulk_index)
    : store_(std::move(store)), reply_(std::move(reply)) {
  store_->defer_index(bulk_index);
  // Pages a killed run left pending are due at once.
  pending_since_ = std::chrono::steady_clock::now() - kIndexLag;
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

// What the writer has taken off its queue for its next commit.
struct StoreWriter::Gathered {
  storage::Batch commit;
  std::vector<RefillRequest> refills;
  std::vector<std::pair<std::string, int>> children;
  std::size_t items = 0;  // page and sitemap results
};

// Moves `batch` into `into` and tells the loop what it took.
void StoreWriter::absorb(std::vector<WriterItem>& batch, Gathered& into) {
  WriterReply taken;
  storage::Batch& commit = into.commit;
  for (auto& item : batch) {
    if (auto* s = std::get_if<StartedUrl>(&item)) commit.started.push_back(s->url_id);
    if (auto* r = std::get_if<RefillRequest>(&item)) into.refills.push_back(std::move(*r));
    if (auto* f = std::get_if<storage::FetchRecord>(&item)) commit.fetches.push_back(std::move(*f));
    if (auto* r = std::get_if<storage::RobotsRecord>(&item)) commit.robots.push_back(std::move(*r));
    if (auto* h = std::get_if<HostDelay>(&item)) commit.host_delays.emplace_back(std::move(h->origin), h->delay);
    if (auto* c = std::get_if<storage::CookieRecord>(&item)) commit.cookies.push_back(std::move(*c));
    if (auto* p = std::get_if<PageItem>(&item)) {
      taken.taken++;
      taken.taken_weight += p->weight;
      commit.pages.push_back(std::move(p->result));
    }
    if (auto* m = std::get_if<SitemapItem>(&item)) {
      taken.taken++;
      taken.taken_weight += m->weight;
      for (std::string& child : m->children) into.children.emplace_back(std::move(child), m->level + 1);
      commit.sitemaps.push_back(std::move(m->record));
    }
  }
  into.items += taken.taken;
  if (taken.taken > 0) reply_(std::move(taken));
}

bool StoreWriter::index(bool all, Gathered* gathering) {
  const int64_t pending = store_->pending_index();
  if (pending == 0) return true;
  const auto now = std::chrono::steady_clock::now();
  if (!all && pending < kIndexBatch && now - pending_since_ < kIndexLag) return true;
  // Between steps the writer keeps taking what arrives (without waiting), up
  // to kIndexHold results, so the pipeline keeps moving while it indexes;
  // it is committed after.
  auto between = [&] {
    if (gathering == nullptr || gathering->items >= kIndexHold) return;
    auto more = queue_.take(kMaxBatch, 1, std::chrono::milliseconds(0), std::chrono::milliseconds(1));
    absorb(more, *gathering);
  };
  auto indexed = store_->index_pending(kIndexStep, between);
  if (indexed) return true;
  WriterReply reply;
  reply.error = indexed.error();
  reply_(std::move(reply));
  return false;
}

void StoreWriter::run() {
  bool failed = false;
  bool busy = false;
  for (;;) {
    const auto idle = store_->pending_index() > 0 && !failed ? kIndexCheck : std::chrono::milliseconds(0);
    auto batch = queue_.take(kMaxBatch, busy ? kBusyBatch : 1, busy ? kGather : std::chrono::milliseconds(0), idle);
    if (batch.empty()) {
      if (queue_.closed()) break;
      failed = failed || !index(false, nullptr);
      continue;
    }
    busy = batch.size() >= kBusyBatch;
    Gathered g;
    g.commit.pages.reserve(batch.size());
    absorb(batch, g);
    if (!failed) failed = !index(false, &g);
    storage::Batch& commit = g.commit;
    std::vector<RefillRequest>& refills = g.refills;
    std::vector<std::pair<std::string, int>>& children = g.children;
    WriterReply reply;
    reply.items = g.items;
    reply.pages = commit.pages.size();
    if (!failed) {
      const bool was_pending = store_->pending_index() > 0;
      auto committed = store_->commit(commit);
      if (!was_pending && store_->pending_index() > 0) pending_since_ = std::chrono::steady_clock::now();
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
  if (!failed) index(true, nullptr);
}

}  // namespace webcrawl::crawler
