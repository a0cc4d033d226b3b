// bench_ceiling: the ceiling `make bench` holds the crawl against, that is how
// fast this machine parses, extracts and stores the benchmark site when there
// is no network at all.
//
//   bench_ceiling --site DIR [--db FILE] [--threads N] [--pipeline N]
//                 [--checkpoints writer|thread]
//
// Reads every page listed in DIR/urls.txt ("URL<TAB>path", as bench_gen_site
// writes it) into memory first, untimed. Then runs the crawler's own pipeline
// with the fetcher taken out: the seeds of DIR/seeds.txt go into a fresh Store
// through add_seeds; a WorkerPool of N parse workers (default one per core, as
// the crawler's --parse-threads, and niced as the crawler's) runs
// crawler::build_page with a --scope any LinkPolicy on each queued URL's body;
// one StoreWriter commits the results in batches; the URLs each commit queues
// are handed to the workers next, as the loop thread hands them to the
// fetcher. At most --pipeline pages (default 128, the crawler's limit at
// --concurrency 64) are between hand-out and the writer taking them into a
// batch. So the database ends up as the crawl's would, new URLs inserted as
// links discover them.
//
// The ceiling is this machine's best rate for the work, so the store
// checkpoints its WAL the way that is fastest here, on the writer (default),
// though the crawler uses a checkpoint thread: with no network to wait for,
// the thread's extra copying costs more than it saves (20,000 pages, in turns:
// 446-469 pages/s on the writer, 395-447 with the thread). In a crawl it is
// the other way round (see storage/checkpointer.h).
//
// The timed part runs from the first hand-out to the last commit. It prints
// "key value" lines for bench/run.sh:
//   pages            documents committed
//   missing          queued URLs that are not in the site (stored as 404s)
//   unreached        pages of the site never queued
//   wall_s           seconds
//   pages_per_s      the ceiling
//   parse_cpu_ms     thread CPU per page inside build_page (gumbo, extract, link policy)
//   store_cpu_ms     writer thread CPU per page (Store::commit)
//   checkpoint_cpu_ms  the store's checkpoint thread's CPU per page
//   cpu_ms           process CPU per page (user + system), all threads
// --db FILE must not exist (it is left behind for inspection); without it a
// temporary database is used and removed.
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crawler/link_policy.h"
#include "crawler/page_builder.h"
#include "crawler/pipeline.h"
#include "crawler/store_writer.h"
#include "parser/url.h"
#include "storage/store.h"

namespace {

namespace fs = std::filesystem;
using webcrawl::Code;
using webcrawl::Error;
using webcrawl::Result;
namespace crawler = webcrawl::crawler;
namespace parser = webcrawl::parser;
namespace storage = webcrawl::storage;

constexpr std::string_view kUsage =
    "usage: bench_ceiling --site DIR [--db FILE] [--threads N] [--pipeline N]\n"
    "                     [--checkpoints writer|thread]\n";

struct Args {
  std::string site;
  std::string db;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::size_t pipeline = 128;
  storage::Checkpoints checkpoints = storage::Checkpoints::kWriter;
};

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// CPU time of this process's threads named `name` (the first field of
// /proc/self/task/TID/schedstat, in ns); 0 if there are none.
int64_t named_threads_cpu_ns(const std::string& name) {
  int64_t ns = 0;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string thread_name;
    std::getline(comm, thread_name);
    if (thread_name != name) continue;
    std::ifstream schedstat(task.path() / "schedstat");
    int64_t on_cpu = 0;
    if (schedstat >> on_cpu) ns += on_cpu;
  }
  return ns;
}

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

Result<std::string> read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Error{Code::kIo, "cannot open " + path.string()};
  std::ostringstream s;
  s << f.rdbuf();
  if (!f) return Error{Code::kIo, "cannot read " + path.string()};
  return std::move(s).str();
}

// The site in memory: URL (normalized, as the store keeps it) -> body.
using Site = std::unordered_map<std::string, std::string>;

Result<Site> load_site(const fs::path& dir) {
  auto index = read_file(dir / "urls.txt");
  if (!index) return index.error();
  Site site;
  std::istringstream lines(*index);
  std::string line;
  while (std::getline(lines, line)) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) return Error{Code::kInvalidArgument, "bad line in urls.txt: " + line};
    auto url = parser::parse_url(std::string_view(line).substr(0, tab));
    if (!url) return Error{Code::kInvalidArgument, "bad URL in urls.txt: " + url.error().message};
    auto body = read_file(dir / line.substr(tab + 1));
    if (!body) return body.error();
    site.emplace(url->href(), std::move(*body));
  }
  if (site.empty()) return Error{Code::kInvalidArgument, "no pages in " + (dir / "urls.txt").string()};
  return site;
}

Result<std::vector<storage::DiscoveredUrl>> load_seeds(const fs::path& dir) {
  auto text = read_file(dir / "seeds.txt");
  if (!text) return text.error();
  std::vector<storage::DiscoveredUrl> seeds;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    auto url = parser::parse_url(line);
    if (!url) return Error{Code::kInvalidArgument, "bad seed " + line + ": " + url.error().message};
    storage::DiscoveredUrl d;
    d.url = url->href();
    d.origin = url->origin();
    d.follow = true;
    seeds.push_back(std::move(d));
  }
  return seeds;
}

struct Totals {
  int64_t pages = 0;
  int64_t missing = 0;
  int64_t unreached = 0;
  double wall_s = 0;
  double cpu_s = 0;
  int64_t parse_cpu_ns = 0;
  int64_t store_cpu_ns = 0;
  int64_t checkpoint_cpu_ns = 0;
};

// Replies from the writer thread, waited for by the dispatching thread.
class Inbox {
 public:
  void push(crawler::WriterReply reply) {
    {
      std::lock_guard lock(mutex_);
      replies_.push_back(std::move(reply));
    }
    ready_.notify_one();
  }
  std::vector<crawler::WriterReply> wait_all() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !replies_.empty(); });
    return std::exchange(replies_, {});
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<crawler::WriterReply> replies_;
};

// What the fetcher would have handed over for `url`: the body from memory, or
// a 404 for a URL the site does not have.
crawler::FetchedPage fetched(storage::QueuedUrl url, const Site& site, bool* missing) {
  crawler::FetchedPage page;
  auto parsed = parser::parse_url(url.url);
  if (parsed) page.final_url = std::move(*parsed);
  auto it = site.find(url.url);
  *missing = it == site.end() || !parsed;
  page.status = *missing ? 404 : 200;
  page.content_type = "text/html";
  if (!*missing) page.body = it->second;
  page.wire_bytes = static_cast<int64_t>(page.body.size());
  page.fetched_at = static_cast<double>(std::time(nullptr));
  page.url = std::move(url);
  return page;
}

Result<Totals> run(const Args& args, const Site& site, const std::vector<storage::DiscoveredUrl>& seeds) {
  auto store = storage::Store::open(args.db, args.checkpoints);
  if (!store) return store.error();
  auto queued = (*store)->add_seeds(seeds);
  if (!queued) return queued.error();
  crawler::LinkPolicy policy(crawler::Scope::kAny, std::nullopt);
  for (const auto& s : seeds) {
    if (auto url = parser::parse_url(s.url)) policy.add_seed_host(url->hostname());
  }

  Totals totals;
  Inbox inbox;
  std::atomic<int64_t> parse_ns{0};
  std::atomic<int64_t> store_ns{0};
  // The writer is declared before the workers so the workers stop first.
  crawler::StoreWriter writer(std::move(*store), [&](crawler::WriterReply reply) {
    store_ns.store(thread_cpu_ns(), std::memory_order_relaxed);  // this thread's total so far
    inbox.push(std::move(reply));
  });
  // The crawl's parse admission (crawl.h): trees of about 40 MB at once,
  // pages under 4 MB of tree always admitted.
  constexpr std::size_t kBudget = 40u << 20, kSmall = 4u << 20;
  crawler::BudgetPool<crawler::FetchedPage> parsers(args.threads, kBudget, kSmall, [&](crawler::FetchedPage&& page) {
    std::size_t weight = page.body.size();
    int64_t start = thread_cpu_ns();
    crawler::PageItem item{crawler::build_page(std::move(page), policy), weight};
    parse_ns.fetch_add(thread_cpu_ns() - start, std::memory_order_relaxed);
    writer.submit(std::move(item));
  }, "parse", crawler::kParseNice);

  std::deque<storage::QueuedUrl> frontier(queued->begin(), queued->end());
  std::size_t in_flight = 0;    // handed out, not yet taken by the writer (the crawler's bound)
  std::size_t uncommitted = 0;  // handed out, not yet committed
  int64_t dispatched_known = 0;
  std::optional<Error> failure;
  double cpu_start = process_cpu_seconds();
  auto wall_start = std::chrono::steady_clock::now();
  for (;;) {
    while (in_flight < args.pipeline && !frontier.empty()) {
      bool missing = false;
      crawler::FetchedPage page = fetched(std::move(frontier.front()), site, &missing);
      frontier.pop_front();
      if (missing) {
        totals.missing++;
      } else {
        dispatched_known++;
      }
      in_flight++;
      uncommitted++;
      std::size_t cost = 64 * 1024 + 9 * page.body.size();
      parsers.submit(std::move(page), cost);
    }
    if (uncommitted == 0) break;
    for (auto& reply : inbox.wait_all()) {
      in_flight -= reply.taken;
      uncommitted -= reply.items;
      totals.pages += static_cast<int64_t>(reply.items);
      if (reply.error && !failure) failure = reply.error;
      for (auto& q : reply.queued) frontier.push_back(std::move(q));
    }
    if (failure) break;
  }
  parsers.stop();
  auto store_after = writer.stop();  // kept open while its checkpoint thread is measured
  int64_t checkpoint_ns = named_threads_cpu_ns("checkpoint");
  totals.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  totals.cpu_s = process_cpu_seconds() - cpu_start;
  if (failure) return *failure;
  totals.parse_cpu_ns = parse_ns.load();
  totals.store_cpu_ns = store_ns.load();
  totals.checkpoint_cpu_ns = checkpoint_ns;
  totals.unreached = static_cast<int64_t>(site.size()) - dispatched_known;
  return totals;
}

std::optional<Args> parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i], value = argv[i + 1];
    auto number = [&](auto& out) {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
      return ec == std::errc() && end == value.data() + value.size() && out > 0;
    };
    bool ok = true;
    if (flag == "--site") {
      a.site = value;
    } else if (flag == "--db") {
      a.db = value;
    } else if (flag == "--threads") {
      ok = number(a.threads);
    } else if (flag == "--pipeline") {
      ok = number(a.pipeline);
    } else if (flag == "--checkpoints") {
      ok = value == "writer" || value == "thread";
      a.checkpoints = value == "thread" ? storage::Checkpoints::kThread : storage::Checkpoints::kWriter;
    } else {
      ok = false;
    }
    if (!ok) return std::nullopt;
  }
  if (argc % 2 == 0 || a.site.empty()) return std::nullopt;
  return a;
}

void print(const Totals& t) {
  double pages = static_cast<double>(std::max<int64_t>(1, t.pages));
  std::printf("pages %lld\nmissing %lld\nunreached %lld\n", static_cast<long long>(t.pages),
              static_cast<long long>(t.missing), static_cast<long long>(t.unreached));
  std::printf("wall_s %.3f\npages_per_s %.1f\n", t.wall_s, t.wall_s > 0 ? t.pages / t.wall_s : 0);
  std::printf("parse_cpu_ms %.3f\nstore_cpu_ms %.3f\ncheckpoint_cpu_ms %.3f\ncpu_ms %.3f\n",
              static_cast<double>(t.parse_cpu_ns) / 1e6 / pages,
              static_cast<double>(t.store_cpu_ns) / 1e6 / pages,
              static_cast<double>(t.checkpoint_cpu_ns) / 1e6 / pages, t.cpu_s * 1e3 / pages);
}

}  // namespace

int main(int argc, char** argv) {
  auto args = parse_args(argc, argv);
  if (!args) {
    std::cerr << kUsage;
    return 2;
  }
  std::optional<fs::path> temp_dir;
  if (args->db.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "bench_ceiling.XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("bench_ceiling: mkdtemp");
      return 1;
    }
    temp_dir = tmpl;
    args->db = (*temp_dir / "ceiling.db").string();
  } else if (fs::exists(args->db)) {
    std::cerr << "bench_ceiling: " << args->db << " exists; the ceiling needs a fresh database\n";
    return 2;
  }
  auto seeds = load_seeds(args->site);
  auto site = seeds ? load_site(args->site) : Result<Site>(seeds.error());
  Result<Totals> totals = site ? run(*args, *site, *seeds) : Result<Totals>(site.error());
  std::error_code ignored;
  if (temp_dir) fs::remove_all(*temp_dir, ignored);
  if (!totals) {
    std::cerr << "bench_ceiling: " << totals.error().message << "\n";
    return 1;
  }
  print(*totals);
  return 0;
}
