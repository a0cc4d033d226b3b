// The crawl's WARC archive on a thread of its own (off the loop and off the
// SQLite writer): it writes each exchange's records, makes them durable with
// one sync per batch, and only then runs what was waiting for them (a page
// going on to the parser or the writer with its record's place), so a row
// never points at a record that is not on disk.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"
#include "crawler/pipeline.h"
#include "parser/warc.h"
#include "storage/warc_writer.h"

namespace webcrawl::crawler {

struct WarcJob {
  parser::WarcExchange exchange;
  // Runs on the WARC thread once the records are durable, with where they
  // are, or with the error that stopped the archive. May be empty.
  std::function<void(Result<storage::WarcWritten>)> then;
};

class WarcSink {
 public:
  // Opens (and repairs) the archive in `dir`; see storage::WarcWriter.
  static Result<std::unique_ptr<WarcSink>> open(const std::string& dir, const storage::WarcWriterOptions& options);
  ~WarcSink();
  WarcSink(const WarcSink&) = delete;
  WarcSink& operator=(const WarcSink&) = delete;

  // What open() cut from a torn file, or "".
  const std::string& repair_report() const { return writer_->repair_report(); }
  // Before the first submit(): a payload an earlier run archived.
  void remember(std::string_view payload_sha1, std::string_view filename, uint64_t offset) {
    writer_->remember(payload_sha1, filename, offset);
  }
  // Any thread.
  void submit(WarcJob job) { queue_.push(std::move(job)); }
  // Writes and syncs what was submitted, runs its continuations, joins.
  void stop();

 private:
  explicit WarcSink(std::unique_ptr<storage::WarcWriter> writer);
  void run();
  std::unique_ptr<storage::WarcWriter> writer_;
  WorkQueue<WarcJob> queue_;
  std::thread thread_;
};

}  // namespace webcrawl::crawler
