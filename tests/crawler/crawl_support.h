// Small verbs for crawler tests: run a crawl in-process, read the database,
// run the real binary. Everything talks to loopback servers only.
#pragma once

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "crawler/crawler.h"
#include "storage/reader.h"
#include "storage/store.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace webcrawl::testing {

// Options for a fast test crawl: no politeness delay, no robots.txt unless asked.
inline crawler::CrawlOptions test_options(const std::string& db, std::vector<std::string> seeds) {
  crawler::CrawlOptions o;
  o.db_path = db;
  o.seeds = std::move(seeds);
  o.delay = 0;
  o.quiet = true;
  o.robots = false;
  o.timeout = 10;
  o.retries = 0;
  return o;
}

inline crawler::CrawlSummary crawl_ok(const crawler::CrawlOptions& o) {
  std::ostringstream log;
  auto r = crawler::run_crawl(o, log);
  if (!r) throw std::runtime_error("crawl failed: " + r.error().message);
  // The crawl's loop closed (uv_loop_close == 0): no handle was leaked.
  if (r->handles_left != 0 || r->lookups_left) throw std::runtime_error("the crawl's loop did not close");
  return *r;
}

// Every row of `sql` as text ("" for NULL).
inline std::vector<std::vector<std::string>> rows(const std::string& db, const std::string& sql) {
  auto store = storage::Reader::open(db);
  if (!store) throw std::runtime_error("open: " + store.error().message);
  std::vector<std::vector<std::string>> out;
  auto r = (*store)->query(
      sql, [](const std::vector<std::string>&) {},
      [&](const std::vector<storage::Value>& row) {
        std::vector<std::string> cells;
        for (const auto& v : row) cells.push_back(v.to_string());
        out.push_back(std::move(cells));
      });
  if (!r) throw std::runtime_error("query: " + r.error().message);
  return out;
}

// The single value of `sql`.
inline std::string scalar(const std::string& db, const std::string& sql) {
  auto r = rows(db, sql);
  if (r.empty() || r[0].empty()) throw std::runtime_error("no rows: " + sql);
  return r[0][0];
}

// Seconds between consecutive request starts the server saw, in order.
inline std::vector<double> start_gaps(const TestServer& server) {
  auto reqs = server.requests();
  std::vector<double> gaps;
  for (std::size_t i = 1; i < reqs.size(); i++) {
    gaps.push_back(std::chrono::duration<double>(reqs[i].start - reqs[i - 1].start).count());
  }
  return gaps;
}

// What a run of the binary did: exit status (or 128 + signal), stdout, stderr.
using CommandResult = ProgramResult;

// Runs the webcrawl binary with `args` (no shell), capturing both streams.
CommandResult run_webcrawl(const std::vector<std::string>& args, double timeout_seconds = 60);

// The webcrawl binary running in the background, its output to files, for
// tests that signal it. The destructor kills it if it still runs.
class Background {
 public:
  Background(const std::vector<std::string>& args, const std::string& log_path);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  void signal(int signum);
  // Waits up to `timeout_seconds`; the exit status (or 128 + signal), or -1 if
  // it is still running.
  int wait(double timeout_seconds);

 private:
  int pid_ = -1;
  bool reaped_ = false;
};

}  // namespace webcrawl::testing
