// A whole crawl: seeds in, database out.
//
// One libuv loop thread owns the frontier, the scheduler and every socket;
// HTML goes to a pool of parse workers; results go to the single writer thread,
// which commits them in batches and hands newly found URLs back to the loop.
// The pipeline between fetching and the database is bounded (pages and bytes),
// so a slow parser or disk slows fetching instead of growing memory.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "common/result.h"
#include "crawler/options.h"
#include "storage/reader.h"

namespace webcrawl::crawler {

struct CrawlSummary {
  int64_t pages = 0;           // documents stored by this run
  int64_t errors = 0;          // of which failed (no usable response)
  int64_t requests = 0;        // requests written, retries included
  int64_t connections = 0;     // connections opened
  int64_t bytes = 0;           // body bytes received
  int64_t queued = 0;          // URLs still queued at the end (limits, stop)
  double seconds = 0;
  int signal = 0;              // SIGINT or SIGTERM when stopped by one, else 0
  // getaddrinfo calls were still running on libuv's thread pool when the
  // crawl ended (a stop during slow lookups): the process should _exit, as
  // libuv's exit handler would wait for them.
  bool lookups_left = false;
  int handles_left = 0;
  // Why the run ended: finished (nothing left to fetch), limit (--max-pages),
  // sigint, sigterm, or error. The run manifest says the same.
  std::string outcome;
  storage::CrawlStats stats;   // what this run did, as `webcrawl stats` counts it
  // Not one page got an HTTP answer although requests were made (exit 3);
  // `why_nothing` says why, per seed host.
  bool nothing_fetched = false;
  std::string why_nothing;        // libuv handles left open at the end: always 0 unless there is a bug
};



// Runs the crawl described by `options` until the frontier is exhausted, a
// limit is reached, or SIGINT/SIGTERM stops it. Progress and the summary go to
// `log` (unless options.quiet). Fails before crawling for a database that
// cannot be opened or is not ours, and when there is nothing to crawl; a
// failing store stops the crawl with its error.
Result<CrawlSummary> run_crawl(const CrawlOptions& options, std::ostream& log);

}  // namespace webcrawl::crawler
