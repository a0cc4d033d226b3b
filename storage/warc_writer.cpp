#include "storage/warc_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <unordered_map>

#include "parser/ascii.h"

namespace webcrawl::storage {
namespace {

using parser::WarcExchange;
using parser::WarcOriginal;

constexpr std::string_view kSuffix = ".warc.gz";
constexpr std::size_t kSha1Size = 20;
constexpr std::size_t kRepairStep = 1 << 20;
// A record header is well under a kilobyte; reading back stops at the blank
// line, or at this much output if a record has none.
constexpr std::size_t kHeadStep = 16 * 1024;
constexpr std::size_t kHeadLimit = 64 * 1024;

Error io_error(std::string_view what, const std::string& path, int err) {
  return make_error(Code::kIo, std::string(what) + " " + path + ": " + std::strerror(err));
}

// Closes its descriptor when it goes.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

// pread that retries interrupted calls.
ssize_t read_at(int fd, char* buf, std::size_t size, uint64_t offset) {
  ssize_t n;
  do {
    n = ::pread(fd, buf, size, static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  return n;
}

// Open addressing from the first 8 bytes of a payload's SHA-1 to where its
// first record is: 16 bytes a slot, whatever the URLs. The key is already
// uniform, so it is its own hash.
class PayloadTable {
 public:
  static constexpr int kOffsetBits = 40;  // 1 TiB files; 2^24 - 1 files
  static constexpr uint64_t kMaxFiles = (uint64_t{1} << (64 - kOffsetBits)) - 1;

  static uint64_t key_of(std::string_view sha1) {
    uint64_t key = 0;
    std::memcpy(&key, sha1.data(), sizeof key);
    return key;
  }
  // 0, the empty slot's mark, when the location does not fit.
  static uint64_t pack(uint32_t file, uint64_t offset) {
    if (file >= kMaxFiles || offset >> kOffsetBits) return 0;
    return (uint64_t{file} + 1) << kOffsetBits | offset;
  }
  static uint32_t file_of(uint64_t where) { return static_cast<uint32_t>((where >> kOffsetBits) - 1); }
  static uint64_t offset_of(uint64_t where) { return where & ((uint64_t{1} << kOffsetBits) - 1); }

  // The location stored for `key`, or 0.
  uint64_t find(uint64_t key) const {
    if (slots_.empty()) return 0;
    for (std::size_t i = key & mask(); slots_[i].where; i = (i + 1) & mask()) {
      if (slots_[i].key == key) return slots_[i].where;
    }
    return 0;
  }

  // Stores `where` for `key`; an existing entry stays unless `replace`.
  void put(uint64_t key, uint64_t where, bool replace) {
    if (!where) return;
    if ((used_ + 1) * 10 > slots_.size() * 7) grow();
    std::size_t i = key & mask();
    while (slots_[i].where && slots_[i].key != key) i = (i + 1) & mask();
    if (slots_[i].where && !replace) return;
    if (!slots_[i].where) ++used_;
    slots_[i] = {key, where};
  }

  std::size_t size() const { return used_; }

 private:
  struct Slot {
    uint64_t key = 0;
    uint64_t where = 0;  // 0: empty
  };

  std::size_t mask() const { return slots_.size() - 1; }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    used_ = 0;
    for (const Slot& s : old) put(s.key, s.where, true);
  }

  std::vector<Slot> slots_;
  std::size_t used_ = 0;
};

// The serial in "{prefix}-{17 digits}-{serial}-{host}.warc.gz", if `name`
// is one of ours.
std::optional<uint64_t> serial_of(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix) || !name.ends_with(kSuffix)) return std::nullopt;
  std::string_view rest = name.substr(prefix.size(), name.size() - prefix.size() - kSuffix.size());
  auto digits = [&](std::size_t at) {
    std::size_t n = 0;
    while (at + n < rest.size() && parser::is_ascii_digit(rest[at + n])) ++n;
    return n;
  };
  if (rest.size() < 20 || rest[0] != '-' || digits(1) != 17 || rest[18] != '-') return std::nullopt;
  std::size_t serial_digits = digits(19);
  std::size_t end = 19 + serial_digits;
  if (serial_digits < 5 || serial_digits > 18 || end + 1 >= rest.size() || rest[end] != '-') {
    return std::nullopt;
  }
  return std::stoull(std::string(rest.substr(19, serial_digits)));
}

std::string file_name(const WarcWriterOptions& o, double now, uint64_t serial) {
  auto t = static_cast<std::time_t>(now);
  int millis = static_cast<int>((now - std::floor(now)) * 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "-%04d%02d%02d%02d%02d%02d%03d-%05llu-", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis,
                static_cast<unsigned long long>(serial));
  return o.prefix + stamp + o.hostname + std::string(kSuffix);
}

std::string clean_hostname(std::string name) {
  if (name.empty()) {
    char buf[256] = {};
    name = ::gethostname(buf, sizeof buf - 1) == 0 && buf[0] ? buf : "localhost";
  }
  for (char& c : name) {
    if (!parser::is_ascii_alpha(c) && !parser::is_ascii_digit(c) && c != '.' && c != '_') c = '-';
  }
  return name;
}

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// A payload worth a revisit: its digest is known and it is not empty.
bool dedupable(std::string_view payload_sha1) {
  static const std::string kEmptySha1 = parser::sha1("");
  return payload_sha1.size() == kSha1Size && payload_sha1 != kEmptySha1;
}

// Creates `dir` and its missing parents, and makes the new entry durable.
Result<void> make_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error("cannot create", dir, ec.value());
  std::filesystem::path parent = std::filesystem::absolute(dir, ec).parent_path();
  Fd pfd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (pfd.ok() && ::fsync(pfd.get()) != 0) return io_error("fsync", parent.string(), errno);
  return {};
}

}  // namespace

struct WarcWriter::Impl {
  Impl(std::string d, WarcWriterOptions o, parser::GzipCompressor g)
      : dir(std::move(d)), options(std::move(o)), gz(std::move(g)) {}

  std::string dir;
  WarcWriterOptions options;
  parser::GzipCompressor gz;
  Fd dir_fd;
  std::vector<std::string> files;  // dedup file index -> name relative to dir
  std::unordered_map<std::string, uint32_t> file_index;
  uint32_t current = 0;
  Fd fd;                    // the current file, or none after a failed rotation
  uint64_t size = 0;        // bytes in the current file
  uint64_t warcinfo_end = 0;
  std::string warcinfo_id;
  uint64_t next_serial = 0;
  bool dir_dirty = false;   // a file was created since the last sync
  PayloadTable table;

  std::string path(std::string_view name) const { return dir + "/" + std::string(name); }

  uint32_t index_of(std::string_view name) {
    auto [it, added] = file_index.try_emplace(std::string(name), static_cast<uint32_t>(files.size()));
    if (added) files.emplace_back(name);
    return it->second;
  }

  // Appends all of `bytes` to the current file, or cuts it back to where it
  // was and fails.
  Result<void> append(std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        // Best effort: if this fails too, the torn member is what repair cuts
        // at the next open.
        [[maybe_unused]] int cut = ::ftruncate(fd.get(), static_cast<off_t>(size));
        return io_error("write", path(files[current]), err);
      }
      done += static_cast<std::size_t>(n);
    }
    size += bytes.size();
    return {};
  }

  Result<void> begin_file() {
    double now = unix_now();
    std::string name = file_name(options, now, next_serial);
    Fd created(::openat(dir_fd.get(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644));
    if (!created.ok()) return io_error("cannot create", path(name), errno);
    ++next_serial;
    fd = std::move(created);
    current = index_of(name);
    size = 0;
    dir_dirty = true;
    parser::WarcRecord info = parser::warcinfo_record({name, now, options.info});
    warcinfo_id = info.id;
    std::string member;
    gz.compress(info.bytes, member);
    Result<void> written = append(member);
    warcinfo_end = size;
    return written;
  }

  // Syncs and closes the current file, then begins the next one.
  Result<void> rotate() {
    if (::fdatasync(fd.get()) != 0) return io_error("fdatasync", path(files[current]), errno);
    fd = Fd();
    return begin_file();
  }

  Result<parser::WarcHeader> read_header(uint32_t file, uint64_t offset) {
    Fd own;
    int from = fd.get();
    if (file != current || !fd.ok()) {
      own = Fd(::openat(dir_fd.get(), files[file].c_str(), O_RDONLY | O_CLOEXEC));
      if (!own.ok()) return io_error("cannot open", path(files[file]), errno);
      from = own.get();
    }
    auto scanner = parser::GzipMemberScanner::create(kHeadLimit);
    if (!scanner) return scanner.error();
    std::string buf(kHeadStep, '\0');
    for (uint64_t at = offset;;) {
      ssize_t n = read_at(from, buf.data(), buf.size(), at);
      if (n < 0) return io_error("read", path(files[file]), errno);
      if (n == 0) break;
      at += static_cast<uint64_t>(n);
      if (!(*scanner)->feed(std::string_view(buf.data(), static_cast<std::size_t>(n)))) break;
      const std::string& head = (*scanner)->head();
      if (head.find("\r\n\r\n") != std::string::npos || (*scanner)->members() > 0) break;
      if (head.size() >= kHeadLimit) break;
    }
    return parser::parse_warc_header((*scanner)->head());
  }

  enum class Found { kNothing, kOriginal, kOtherPayload, kUnreadable };

  // Looks for the record that first archived this payload.
  Found find_original(const WarcExchange& x, WarcOriginal& original) {
    uint64_t where = table.find(PayloadTable::key_of(x.payload_sha1));
    if (!where) return Found::kNothing;
    auto header = read_header(PayloadTable::file_of(where), PayloadTable::offset_of(where));
    if (!header || header->get("WARC-Type") != "response") return Found::kUnreadable;
    // Eight bytes of SHA-1 can collide; the full digest decides.
    if (header->get("WARC-Payload-Digest") != parser::sha1_label(x.payload_sha1)) {
      return Found::kOtherPayload;
    }
    original = {std::string(header->get("WARC-Record-ID")), std::string(header->get("WARC-Target-URI")),
                std::string(header->get("WARC-Date"))};
    return Found::kOriginal;
  }

  // Cuts `name` after its last intact member; a line on what went, or "".
  Result<std::string> repair(const std::string& name) {
    Fd file(::openat(dir_fd.get(), name.c_str(), O_RDWR | O_CLOEXEC));
    if (!file.ok()) return io_error("cannot open", path(name), errno);
    auto scanner = parser::GzipMemberScanner::create();
    if (!scanner) return scanner.error();
    std::string buf(kRepairStep, '\0');
    uint64_t total = 0;
    std::string why = "cut short";
    for (;;) {
      ssize_t n = read_at(file.get(), buf.data(), buf.size(), total);
      if (n < 0) return io_error("read", path(name), errno);
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      auto fed = (*scanner)->feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      if (!fed) {
        why = fed.error().message;
        break;
      }
    }
    struct stat st{};
    if (::fstat(file.get(), &st) != 0) return io_error("stat", path(name), errno);
    auto file_size = static_cast<uint64_t>(st.st_size);
    uint64_t keep = (*scanner)->valid_end();
    if (keep == file_size) return std::string();
    if (keep == 0) {
      if (::unlinkat(dir_fd.get(), name.c_str(), 0) != 0) return io_error("cannot remove", path(name), errno);
      if (::fsync(dir_fd.get()) != 0) return io_error("fsync", dir, errno);
      return "removed " + name + ": none of its " + std::to_string(file_size) +
             " bytes is an intact gzip member (" + why + ")";
    }
    if (::ftruncate(file.get(), static_cast<off_t>(keep)) != 0) return io_error("cannot cut", path(name), errno);
    if (::fdatasync(file.get()) != 0) return io_error("fdatasync", path(name), errno);
    return "cut " + name + " from " + std::to_string(file_size) + " to " + std::to_string(keep) +
           " bytes, after its " + std::to_string((*scanner)->members()) + " intact records (" + why + ")";
  }
};

Result<std::string> read_warc_record(const std::string& path, uint64_t offset, std::size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path, errno);
  auto scanner = parser::GzipMemberScanner::create(limit);
  if (!scanner) {
    ::close(fd);
    return scanner.error();
  }
  std::string buf(1 << 16, '\0');
  Result<void> fed;
  for (uint64_t at = offset; (*scanner)->members() == 0 && (*scanner)->head().size() < limit;) {
    ssize_t n = read_at(fd, buf.data(), buf.size(), at);
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return io_error("read", path, err);
    }
    if (n == 0) break;
    at += static_cast<uint64_t>(n);
    fed = (*scanner)->feed(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    if (!fed) break;
  }
  ::close(fd);
  if ((*scanner)->members() == 0 && (*scanner)->head().size() < limit) {
    return Error{Code::kParse, path + ": no intact WARC record at offset " + std::to_string(offset)};
  }
  return (*scanner)->head();
}

WarcWriter::WarcWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WarcWriter::~WarcWriter() = default;

Result<std::unique_ptr<WarcWriter>> WarcWriter::open(const std::string& dir,
                                                     const WarcWriterOptions& options) {
  auto gz = parser::GzipCompressor::create(options.compression_level);
  if (!gz) return gz.error();
  struct stat st{};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return make_error(Code::kIo, "WARC directory " + dir + ": not a directory");
  } else if (Result<void> made = make_dir(dir); !made) {
    return made.error();
  }
  WarcWriterOptions o = options;
  o.hostname = clean_hostname(o.hostname);
  auto impl = std::make_unique<Impl>(dir, std::move(o), std::move(*gz));
  impl->dir_fd = Fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!impl->dir_fd.ok()) return io_error("cannot open", dir, errno);

  std::error_code ec;
  std::optional<uint64_t> newest;
  std::string newest_name;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    std::optional<uint64_t> serial = serial_of(name, impl->options.prefix);
    if (serial && (!newest || *serial > *newest)) {
      newest = serial;
      newest_name = name;
    }
  }
  if (ec) return io_error("cannot list", dir, ec.value());

  std::unique_ptr<WarcWriter> writer(new WarcWriter(std::move(impl)));
  if (newest) {
    Result<std::string> report = writer->impl_->repair(newest_name);
    if (!report) return report.error();
    writer->repair_report_ = std::move(*report);
    writer->impl_->next_serial = *newest + 1;
  }
  if (Result<void> begun = writer->impl_->begin_file(); !begun) return begun.error();
  return writer;
}

const std::string& WarcWriter::current_file() const { return impl_->files[impl_->current]; }

Result<WarcWritten> WarcWriter::write(const parser::WarcExchange& x) {
  Impl& w = *impl_;
  if (!w.fd.ok()) {  // the last rotation failed; try again
    if (Result<void> begun = w.begin_file(); !begun) return begun.error();
  }
  WarcOriginal original;
  auto found = dedupable(x.payload_sha1) ? w.find_original(x, original) : Impl::Found::kNothing;
  bool revisit = found == Impl::Found::kOriginal;
  for (;;) {
    parser::WarcCapture capture = parser::capture_records(x, w.warcinfo_id, revisit ? &original : nullptr);
    std::string members;
    w.gz.compress(capture.request.bytes, members);
    std::size_t request_size = members.size();
    w.gz.compress(capture.response.bytes, members);
    if (w.size + members.size() > w.options.max_size && w.size > w.warcinfo_end) {
      // The records name the file's warcinfo, so they are built again for
      // the next file: once a file, not once a record.
      if (Result<void> rotated = w.rotate(); !rotated) return rotated.error();
      continue;
    }
    uint64_t offset = w.size + request_size;
    if (Result<void> written = w.append(members); !written) return written.error();
    if (dedupable(x.payload_sha1) && !revisit && found != Impl::Found::kOtherPayload) {
      w.table.put(PayloadTable::key_of(x.payload_sha1), PayloadTable::pack(w.current, offset),
                  found == Impl::Found::kUnreadable);
    }
    return WarcWritten{w.files[w.current], offset, members.size() - request_size,
                       std::move(capture.response.id), parser::warc_date(x.date), revisit};
  }
}

Result<void> WarcWriter::sync() {
  Impl& w = *impl_;
  if (w.fd.ok() && ::fdatasync(w.fd.get()) != 0) return io_error("fdatasync", w.path(current_file()), errno);
  if (w.dir_dirty) {
    if (::fsync(w.dir_fd.get()) != 0) return io_error("fsync", w.dir, errno);
    w.dir_dirty = false;
  }
  return {};
}

void WarcWriter::remember(std::string_view payload_sha1, std::string_view filename, uint64_t offset) {
  if (!dedupable(payload_sha1)) return;
  uint32_t file = impl_->index_of(filename);
  impl_->table.put(PayloadTable::key_of(payload_sha1), PayloadTable::pack(file, offset), false);
}

std::size_t WarcWriter::remembered() const { return impl_->table.size(); }

}  // namespace webcrawl::storage
