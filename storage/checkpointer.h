// Copies a WAL database's log back into the database file on a thread of its
// own, so the connection that writes does not.
//
// By default SQLite's committing connection checkpoints whenever the log
// passes 1,000 pages: a crawl's writer, its one serial stage, would stop every
// few commits to copy pages and sync. A Checkpointer installs a WAL hook on
// the writer instead, which wakes a thread with a connection of its own each
// time the log has grown kWakeAt pages since the last copy; the thread runs a
// PASSIVE checkpoint, which blocks neither the writer nor readers.
//
// The log starts over only when a write transaction begins with it copied in
// full, and a busy writer begins the next one before the thread is done. So
// past kWriterLimit pages the hook checkpoints on the writer, which copies
// only what the thread has not yet copied; the next transaction then starts
// the log over. The log stays bounded whatever the thread manages.
//
// 20,000-page crawl, three runs each in turns: writer CPU 44.6-49.2 s and
// 342-372 pages/s when it checkpoints at 1,000 pages itself; 41.7-46.0 s and
// 373-400 pages/s with the thread (which spends 3.6-4.1 s). Without a
// network to wait for (bench_ceiling) the thread costs more than it saves,
// and Checkpoints::kWriter is faster.
//
// A Checkpointer must be destroyed before its writer connection is closed; it
// does no final checkpoint (closing the writer does).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

struct sqlite3;

namespace webcrawl::storage {

class Checkpointer {
 public:
  // Pages added to the log since the last copy that wake the thread (SQLite's
  // own autocheckpoint size).
  static constexpr int kWakeAt = 1000;
  // Pages in the log past which the writer checkpoints too (64 MB at 4 KiB).
  static constexpr int kWriterLimit = 16 * kWakeAt;

  // Opens a second connection to `path` and starts the thread; `writer` is
  // the open connection of the database's writer, and only its thread may
  // commit on it while the Checkpointer lives.
  static Result<std::unique_ptr<Checkpointer>> start(const std::string& path, sqlite3* writer);
  ~Checkpointer();  // removes the hook, stops and joins the thread
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Checkpoints the thread has completed (every page in the log copied back).
  int64_t completed() const;

 private:
  Checkpointer(sqlite3* writer, sqlite3* own);
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
  void run();

  sqlite3* writer_;
  sqlite3* own_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false;
  bool stop_ = false;
  int64_t completed_ = 0;
  int copied_ = 0;  // log pages copied back by the last pass; 0 after a restart
  std::thread thread_;
};

}  // namespace webcrawl::storage
