// Writes a crawl database whose frontier holds N queued URLs over H hosts, for
// the frontier memory benchmark (bench/frontier_memory.sh).
//
//   bench_make_frontier DB URLS HOSTS PORT
//
// Host i is http://127.0.X.Y:PORT with X.Y counting up from 0.1, so every URL
// points at loopback; nothing listens there, so a crawl of it fails fast and
// sends nothing anywhere else.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "storage/store.h"

using namespace webcrawl;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DB URLS HOSTS PORT\n", argv[0]);
    return 2;
  }
  const std::string db = argv[1];
  const long urls = std::atol(argv[2]);
  const long hosts = std::atol(argv[3]);
  const std::string port = argv[4];
  if (urls <= 0 || hosts <= 0 || hosts > 65000) {
    std::fprintf(stderr, "bench_make_frontier: URLS > 0 and 0 < HOSTS <= 65000\n");
    return 2;
  }
  auto store = storage::Store::open(db);
  if (!store) {
    std::fprintf(stderr, "bench_make_frontier: %s\n", store.error().message.c_str());
    return 1;
  }
  auto began = std::chrono::steady_clock::now();
  std::vector<storage::DiscoveredUrl> batch;
  constexpr long kBatch = 50000;
  for (long i = 0; i < urls; i++) {
    long h = i % hosts + 1;
    std::string origin = "http://127.0." + std::to_string(h / 250) + "." + std::to_string(h % 250 + 1) + ":" + port;
    storage::DiscoveredUrl d;
    d.url = origin + "/section-" + std::to_string(i % 97) + "/page-" + std::to_string(i) + ".html";
    d.origin = std::move(origin);
    d.follow = true;
    batch.push_back(std::move(d));
    if (static_cast<long>(batch.size()) == kBatch || i + 1 == urls) {
      auto r = (*store)->add_seeds(batch);
      if (!r) {
        std::fprintf(stderr, "bench_make_frontier: %s\n", r.error().message.c_str());
        return 1;
      }
      batch.clear();
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::printf("wrote %ld queued URLs over %ld hosts into %s in %.1fs\n", urls, hosts, db.c_str(), seconds);
  return 0;
}
