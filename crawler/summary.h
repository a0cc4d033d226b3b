// What a crawl did, in words: the end-of-crawl summary and `webcrawl stats`
// print the same figures (storage::CrawlStats, one definition of fetched,
// failed, skipped and errors), so the two always agree. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/reader.h"

namespace webcrawl::crawler {

// "5,023".
std::string thousands(int64_t n);
// "1.3 KiB", "4.1 MiB", "512 bytes".
std::string human_bytes(int64_t bytes);
// "1 connection", "2 connections".
std::string count_of(int64_t n, std::string_view one, std::string_view many);

// Why a run ended, as the summary's first line says it, from its outcome
// (finished, limit, sigint, sigterm, error).
std::string ending(std::string_view outcome);

// The end-of-crawl summary of one run: why it ended, then a few lines of at
// most 100 columns: fetched, failed, skipped by reason, errors by kind, the
// hosts that failed most, what is still queued.
std::string format_summary(const storage::CrawlStats& run, std::string_view outcome, double seconds);

// `webcrawl stats` as text: the whole database, then its runs.
std::string format_stats(const std::string& db, const storage::CrawlStats& s);

// `webcrawl stats --format json`: the same figures as one JSON object.
std::string stats_json(const std::string& db, const storage::CrawlStats& s);

}  // namespace webcrawl::crawler
