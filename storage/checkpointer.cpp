#include "storage/checkpointer.h"

#include <pthread.h>
#include <sqlite3.h>

namespace webcrawl::storage {

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path, sqlite3* writer) {
  sqlite3* own = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  // Until it reads the database, a connection does not know the file is in
  // WAL mode, and checkpointing on it does nothing.
  sqlite3_stmt* mode = nullptr;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(own, "PRAGMA journal_mode", -1, &mode, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(mode);
  bool wal = rc == SQLITE_ROW &&
             sqlite3_stricmp(reinterpret_cast<const char*>(sqlite3_column_text(mode, 0)), "wal") == 0;
  std::string message = rc == SQLITE_ROW ? "the database is not in WAL mode" : sqlite3_errmsg(own);
  sqlite3_finalize(mode);
  if (!wal) {
    sqlite3_close_v2(own);
    return Error{Code::kStorage, "checkpoint connection: " + message};
  }
  return std::unique_ptr<Checkpointer>(new Checkpointer(writer, own));
}

Checkpointer::Checkpointer(sqlite3* writer, sqlite3* own) : writer_(writer), own_(own) {
  thread_ = std::thread([this] { run(); });
  // Replaces SQLite's autocheckpoint, which is a WAL hook too.
  sqlite3_wal_hook(writer_, &Checkpointer::on_commit, this);
}

Checkpointer::~Checkpointer() {
  sqlite3_wal_autocheckpoint(writer_, kWakeAt);  // the writer's own again
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_close_v2(own_);
}

int64_t Checkpointer::completed() const {
  std::lock_guard lock(mutex_);
  return completed_;
}

// Runs on the writer's thread after each commit, with the log's size in pages.
int Checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int pages) {
  auto* c = static_cast<Checkpointer*>(self);
  if (pages >= kWriterLimit) {
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  std::lock_guard lock(c->mutex_);
  if (pages < c->copied_) c->copied_ = 0;  // the log started over
  if (pages >= c->copied_ + kWakeAt && !c->due_) {
    c->due_ = true;
    c->wake_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::run() {
  pthread_setname_np(pthread_self(), "checkpoint");
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return due_ || stop_; });
    if (stop_) return;
    due_ = false;
    lock.unlock();
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(own_, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    lock.lock();
    // A busy or failed pass is not an error: the next commit asks again, and
    // the writer takes over past kWriterLimit.
    if (rc == SQLITE_OK && log >= 0 && copied == log) completed_++;
    if (rc == SQLITE_OK && log > 0) copied_ = copied;
  }
}

}  // namespace webcrawl::storage
