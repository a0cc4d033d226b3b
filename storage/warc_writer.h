// WARC files on disk (issue 15): naming, rotation, durability, payload
// deduplication and repair after a crash. The records themselves come from
// parser/warc.h; this class only decides where their bytes go.
//
// Files are named as the IIPC recommends,
//   {prefix}-{YYYYMMDDhhmmss}{mmm}-{serial:05}-{hostname}.warc.gz
// with the UTC time the file was begun, and each starts with a warcinfo
// record. Every record is a gzip member of its own, so an index can point at
// a member's offset and a reader decompress just that member.
//
// Durability: write() hands bytes to the kernel; only sync() makes them
// durable. A caller that stores offsets (the crawler's database rows) writes
// a batch, calls sync(), and only then commits the rows, so no row points at
// a record that a crash could lose.
//
// Not thread-safe: one thread at a time uses a WarcWriter (the crawler gives
// it a thread of its own). Other processes must not write into DIR meanwhile.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "parser/warc.h"

namespace webcrawl::storage {

struct WarcWriterOptions {
  static constexpr uint64_t kDefaultMaxSize = uint64_t{1} << 30;  // --warc-max-size

  std::string prefix = "webcrawl";
  // A capture (request plus response) that would take a file past this
  // starts the next file; one bigger than this still goes in, alone after the
  // warcinfo record.
  uint64_t max_size = kDefaultMaxSize;
  // The crawl's effective options for each file's warcinfo record, in order.
  std::vector<std::pair<std::string, std::string>> info;
  // For file names; "" takes gethostname(). Characters other than letters,
  // digits, '.', '-' and '_' become '-'.
  std::string hostname;
  int compression_level = parser::GzipCompressor::kDefaultLevel;  // libdeflate's 0 to 12
};

// Where write() put a capture.
struct WarcWritten {
  std::string filename;   // relative to DIR
  uint64_t offset = 0;    // of the gzip member holding the response or revisit
  uint64_t length = 0;    // that member's compressed size (CDXJ "length")
  std::string record_id;  // of the response or revisit
  std::string date;       // its WARC-Date, as written
  bool revisit = false;
};

// The record held by the gzip member at `offset` of the .warc.gz at `path`,
// decompressed: its WARC header and block, at most `limit` bytes (a longer
// record comes back cut there). Fails with kIo when the file cannot be read
// and kParse when no intact member starts at `offset`.
Result<std::string> read_warc_record(const std::string& path, uint64_t offset, std::size_t limit);

class WarcWriter {
 public:
  // Creates DIR (and fsyncs its parent) when absent, repairs the newest file
  // of this prefix, then begins a new file whose serial follows the highest
  // one in DIR. Repair: that file is scanned member by member and cut after
  // the last member whose gzip trailer checks out, since a crash can leave a
  // torn member at its end (a file left empty is removed); older files are
  // not touched. The scan inflates the whole file: 40-55 MB of .warc.gz a
  // second on the 2-core test box, so a full 1 GiB file costs about 20 s at
  // every resume; a smaller max_size shortens that. Fails with kIo, naming the path, when DIR is not a
  // directory, cannot be created or written, and with kInvalidArgument for a
  // bad compression level.
  static Result<std::unique_ptr<WarcWriter>> open(const std::string& dir,
                                                  const WarcWriterOptions& options = {});
  ~WarcWriter();  // closes the files; does not sync
  WarcWriter(const WarcWriter&) = delete;
  WarcWriter& operator=(const WarcWriter&) = delete;

  // What open() cut or removed, as one line for the crawl's log; "" when the
  // newest file ended cleanly (or there was none).
  const std::string& repair_report() const { return repair_report_; }
  // The file being written, relative to DIR.
  const std::string& current_file() const;

  // Writes the request record and then a response record, or a revisit when
  // a payload with the same SHA-1 was archived before in this crawl (by this
  // writer, or given to remember()). A candidate is confirmed by reading the
  // original record's header back from disk: its full payload digest must
  // match, and its id, target URI and date go into the revisit. An empty
  // payload (a redirect without body, a HEAD) is never deduplicated:
  // revisiting nothing saves nothing. On failure (disk full) the file is cut
  // back to where this capture began and the error, naming the file, is
  // returned.
  Result<WarcWritten> write(const parser::WarcExchange& exchange);

  // Makes every earlier write() durable: fdatasync of the current file (files
  // left by rotation were synced then), and fsync of DIR when a file was
  // created since the last sync.
  Result<void> sync();

  // Registers a response record archived earlier, e.g. by a previous run
  // whose offsets the crawler kept, so that its payload is revisited rather
  // than written again. `payload_sha1` is the raw 20-byte digest; `filename`
  // is relative to DIR. An entry whose record cannot be read back later is
  // replaced by the next response with that payload.
  void remember(std::string_view payload_sha1, std::string_view filename, uint64_t offset);

  // Distinct payloads the dedup table holds (16 bytes a slot).
  std::size_t remembered() const;

 private:
  struct Impl;
  explicit WarcWriter(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  std::string repair_report_;
};

}  // namespace webcrawl::storage
