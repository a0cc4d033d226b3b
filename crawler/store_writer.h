// The crawl's single SQLite writer: a thread that owns the writable Store and
// commits whatever has queued up in one transaction at a time (pages, links,
// frontier states, the fetch audit, robots.txt and cookie rows together), then hands
// newly queued URLs and frontier refills back to the loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "common/result.h"
#include "crawler/frontier.h"
#include "crawler/pipeline.h"
#include "storage/store.h"

namespace webcrawl::crawler {

struct Refill {
  std::string origin;
  std::vector<storage::QueuedUrl> urls;
  bool exhausted = false;  // fewer than asked: nothing more is queued on disk
};

// A url id whose first request began: its row becomes 'in_flight'.
struct StartedUrl {
  int64_t url_id = 0;
};

// A page's result, and the bytes it held in the pipeline.
struct PageItem {
  storage::PageResult result;
  std::size_t weight = 0;
};

// A sitemap's row and the URLs it listed; from an index, the child sitemaps
// for the loop to fetch once the row is committed.
struct SitemapItem {
  storage::SitemapRecord record;
  std::vector<std::string> children;  // absolute URLs, as listed
  int level = 0;                      // of this sitemap: 0 for one robots.txt or --sitemap named
  std::size_t weight = 0;
};

// The delay kept for a host (storage::Batch::host_delays).
struct HostDelay {
  std::string origin;
  double delay = 0;
};

// One thing for the writer. Cookie changes (--cookies) are applied in the
// order they were submitted.
using WriterItem =
    std::variant<StartedUrl, PageItem, SitemapItem, storage::FetchRecord, storage::RobotsRecord, RefillRequest,
                 HostDelay, storage::CookieRecord>;

// The writer answers each batch twice. First, as soon as it has taken the
// batch off its queue, with `taken` and `taken_weight` alone: those pages no
// longer wait in the pipeline, so the loop may fetch more while the batch
// commits. Then, once committed, with everything else.
struct WriterReply {
  std::size_t taken = 0;                   // page and sitemap results taken into a batch
  std::size_t taken_weight = 0;
  std::size_t items = 0;                   // page and sitemap results committed
  std::size_t pages = 0;                   // of which page results
  // Child sitemaps of the committed sitemap indexes: (url, level).
  std::vector<std::pair<std::string, int>> sitemaps;
  std::vector<storage::QueuedUrl> queued;  // newly queued by this batch
  std::vector<Refill> refills;
  std::optional<Error> error;              // the store failed: the crawl must stop
};

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
  // Search entries are written apart from the pages' commits
  // (Store::defer_index), for all pending pages at once: when kIndexBatch
  // pages are pending, when the oldest has waited kIndexLag (checked at
  // least every kIndexCheck, so a quiet crawl indexes too), at once for pages
  // a killed run left pending, and before the writer stops. So a stored page
  // is searchable within kIndexLag plus one indexing pass. A pass runs after
  // the writer has taken its next batch and before it commits it, and takes
  // whatever arrives between its steps into that commit, so the pipeline
  // keeps moving while it runs. FTS5 indexing of make bench's pages in
  // transactions of 150, 500 and 1,000 pages (16 MB hash): 3.49, 2.67 and
  // 2.40 ms of CPU per page; a pass of 500 takes about as long as the
  // parsers need to fill the room.
  static constexpr int64_t kIndexBatch = 500;
  static constexpr int64_t kIndexStep = 50;  // pages indexed between looks at the queue
  // Results held for the next commit during a pass, at most: one more
  // pipeline's worth (make bench: 176.7 pages/s and a peak RSS of 111 MB
  // without this bound).
  static constexpr std::size_t kIndexHold = 128;
  static constexpr std::chrono::seconds kIndexLag{10};
  static constexpr std::chrono::milliseconds kIndexCheck{1000};

  // With `bulk_index`, search entries are written in passes (see kIndexBatch);
  // without, each commit indexes its own pages, and pages an earlier bulk
  // run left pending go with the first commit.
  StoreWriter(std::unique_ptr<storage::Store> store, std::function<void(WriterReply)> reply,
              bool bulk_index = false);
  ~StoreWriter();
  // Any thread.
  void submit(WriterItem item) { queue_.push(std::move(item)); }
  // Items submitted and not yet taken into a batch; any thread.
  std::size_t queued() const { return queue_.size(); }
  // Commits everything submitted so far, then joins the thread. Returns the store.
  std::unique_ptr<storage::Store> stop();

 private:
  void run();
  struct Gathered;
  void absorb(std::vector<WriterItem>& batch, Gathered& into);
  // Indexes the pending pages if they are due (or, with `all`, if any are),
  // taking what arrives meanwhile into `gathering` when given; false when
  // the store failed (the error went out in a reply).
  bool index(bool all, Gathered* gathering);
  std::unique_ptr<storage::Store> store_;
  std::chrono::steady_clock::time_point pending_since_;  // when the oldest pending page was stored
  std::function<void(WriterReply)> reply_;
  WorkQueue<WriterItem> queue_;
  std::thread thread_;
};

}  // namespace webcrawl::crawler
