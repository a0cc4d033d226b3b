#include "crawler/warc_sink.h"

#include <optional>
#include <vector>

namespace webcrawl::crawler {

Result<std::unique_ptr<WarcSink>> WarcSink::open(const std::string& dir, const storage::WarcWriterOptions& options) {
  auto writer = storage::WarcWriter::open(dir, options);
  if (!writer) return writer.error();
  return std::unique_ptr<WarcSink>(new WarcSink(std::move(*writer)));
}

WarcSink::WarcSink(std::unique_ptr<storage::WarcWriter> writer) : writer_(std::move(writer)) {
  thread_ = std::thread([this] {
    name_thread("warc");
    run();
  });
}

WarcSink::~WarcSink() { stop(); }

void WarcSink::stop() {
  queue_.close();
  if (thread_.joinable()) thread_.join();
}

void WarcSink::run() {
  std::optional<Error> failed;
  for (;;) {
    auto batch = queue_.take(256);
    if (batch.empty()) return;
    std::vector<Result<storage::WarcWritten>> written;
    written.reserve(batch.size());
    for (WarcJob& job : batch) {
      if (failed) {
        written.emplace_back(*failed);
        continue;
      }
      written.push_back(writer_->write(job.exchange));
      if (!written.back()) failed = written.back().error();
      // The bytes are on their way to disk; the queue need not hold them.
      job.exchange = parser::WarcExchange{};
    }
    // One sync makes the whole batch durable before anything points at it.
    if (!failed) {
      if (auto r = writer_->sync(); !r) failed = r.error();
    }
    for (std::size_t i = 0; i < batch.size(); i++) {
      if (!batch[i].then) continue;
      if (failed && written[i]) written[i] = *failed;
      batch[i].then(std::move(written[i]));
    }
  }
}

}  // namespace webcrawl::crawler
