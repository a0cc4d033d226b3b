// The writer stage on its own: a real Store in a temporary directory, no loop.
#include "crawler/store_writer.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/reader.h"

#include "tests/support/temp_dir.h"

namespace webcrawl::crawler {
namespace {

using testing::TempDir;

// Collects the writer's replies, as the loop's inbox does.
class Replies {
 public:
  void push(WriterReply reply) {
    std::lock_guard lock(mutex_);
    replies_.push_back(std::move(reply));
  }
  std::vector<WriterReply> all() {
    std::lock_guard lock(mutex_);
    return replies_;
  }

 private:
  std::mutex mutex_;
  std::vector<WriterReply> replies_;
};

WriterItem page_item(const storage::QueuedUrl& url, std::size_t weight) {
  storage::PageResult page;
  page.url_id = url.id;
  page.final_url = url.url;
  page.status = 200;
  page.content_type = "text/html";
  page.title = "Hello";
  page.text = "hello world";
  page.index = true;
  return PageItem{std::move(page), weight};
}

TEST_CASE("the writer reports a batch taken before it reports it committed", "[pipeline]") {
  TempDir dir;
  auto store = storage::Store::open(dir.file("crawl.db").string());
  REQUIRE(store);
  auto seeds = (*store)->add_seeds({{"http://127.0.0.1:1/a", "http://127.0.0.1:1", 0, 0, true, ""},
                                    {"http://127.0.0.1:1/b", "http://127.0.0.1:1", 0, 0, true, ""}});
  REQUIRE(seeds);
  REQUIRE(seeds->size() == 2);

  Replies replies;
  StoreWriter writer(std::move(*store), [&](WriterReply reply) { replies.push(std::move(reply)); });
  writer.submit(StartedUrl{(*seeds)[0].id});
  writer.submit(page_item((*seeds)[0], 1000));
  writer.submit(page_item((*seeds)[1], 234));
  auto returned = writer.stop();  // commits everything, then joins: every reply is in

  // However the writer split the items into batches, each page is reported
  // taken (alone, with its weight) before it is reported committed.
  std::size_t taken = 0, taken_weight = 0, committed = 0;
  for (const WriterReply& r : replies.all()) {
    if (r.taken > 0) {
      CHECK(r.items == 0);
      CHECK(r.queued.empty());
      taken += r.taken;
      taken_weight += r.taken_weight;
    }
    CHECK(committed + r.items <= taken);
    committed += r.items;
  }
  CHECK(taken == 2);
  CHECK(taken_weight == 1234);
  CHECK(committed == 2);
  REQUIRE(returned);
  auto count = returned->document_count();
  REQUIRE(count);
  CHECK(*count == 2);
}

std::size_t hits(const std::string& db, const std::string& words) {
  auto reader = storage::Reader::open(db);
  REQUIRE(reader);
  auto found = (*reader)->search(words);
  REQUIRE(found);
  return found->size();
}

TEST_CASE("the writer indexes its pages apart from their commits, all of them before it stops", "[pipeline]") {
  TempDir dir;
  std::string db = dir.file("crawl.db").string();
  auto store = storage::Store::open(db);
  REQUIRE(store);
  std::vector<storage::DiscoveredUrl> urls;
  for (int i = 0; i < 20; i++) urls.push_back({"http://127.0.0.1:1/" + std::to_string(i), "http://127.0.0.1:1", 0, 0, true, ""});
  auto seeds = (*store)->add_seeds(urls);
  REQUIRE(seeds);
  Replies replies;
  StoreWriter writer(std::move(*store), [&](WriterReply reply) { replies.push(std::move(reply)); }, true);
  for (const auto& url : *seeds) writer.submit(page_item(url, 1));
  auto returned = writer.stop();
  REQUIRE(returned);
  CHECK(returned->pending_index() == 0);
  CHECK(hits(db, "hello") == 20);
}

TEST_CASE("pages a killed run left unindexed become searchable with no new work", "[pipeline]") {
  TempDir dir;
  std::string db = dir.file("crawl.db").string();
  {
    auto store = storage::Store::open(db);
    REQUIRE(store);
    (*store)->defer_index(true);
    auto seeds = (*store)->add_seeds({{"http://127.0.0.1:1/a", "http://127.0.0.1:1", 0, 0, true, ""}});
    REQUIRE(seeds);
    auto item = page_item(seeds->at(0), 1);
    REQUIRE((*store)->commit(std::vector<storage::PageResult>{std::get<PageItem>(item).result}));
    REQUIRE((*store)->pending_index() == 1);
  }  // closed as a kill leaves it: stored, listed, not indexed
  CHECK(hits(db, "hello") == 0);

  auto store = storage::Store::open(db);
  REQUIRE(store);
  Replies replies;
  StoreWriter writer(std::move(*store), [&](WriterReply reply) { replies.push(std::move(reply)); }, true);
  // Nothing is submitted: the writer's idle check finds the page due.
  auto deadline = std::chrono::steady_clock::now() + StoreWriter::kIndexCheck * 10;
  while (hits(db, "hello") == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(hits(db, "hello") == 1);
  writer.stop();
}

}  // namespace
}  // namespace webcrawl::crawler
