#include "storage/archive.h"

#include <sqlite3.h>

#include <algorithm>

#include "parser/cdxj.h"
#include "parser/warc.h"
#include "storage/sqlite_util.h"
#include "storage/warc_writer.h"

namespace webcrawl::storage {
namespace {

constexpr std::size_t kMaxRecord = (std::size_t{1} << 30);  // larger than any --max-body record

struct Closer {
  sqlite3* db = nullptr;
  ~Closer() {
    if (db) sqlite3_close_v2(db);
  }
};

std::string warc_date_of(double unix_seconds) { return parser::warc_date(unix_seconds); }

// The record's block: what follows its header, Content-Length bytes.
Result<std::string> block_of(const std::string& record) {
  auto header = parser::parse_warc_header(record);
  if (!header) return header.error();
  std::string_view length = header->get("Content-Length");
  std::size_t n = length.empty() ? record.size() - header->size : std::stoull(std::string(length));
  return record.substr(header->size, n);
}

}  // namespace

Result<void> write_cdxj(Reader& reader, std::ostream& out) {
  Closer sort;
  // "" is a private temporary database on disk: the sort spills there.
  if (sqlite3_open_v2("", &sort.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    return from_sqlite(sort.db, "open a temporary database");
  }
  if (auto r = exec(sort.db, "PRAGMA temp_store = FILE; CREATE TABLE lines(key TEXT, line TEXT); BEGIN"); !r) return r;
  auto insert = prepare(sort.db, "INSERT INTO lines VALUES(?1, ?2)");
  if (!insert) return insert.error();
  auto r = each_row(reader.connection(),
                    "SELECT u.url, d.fetched_at, d.content_type, d.status, d.payload_digest, d.warc_length, "
                    "d.warc_offset, d.warc_file, d.warc_revisit FROM documents d JOIN urls u ON u.id = d.url_id "
                    "WHERE d.warc_file IS NOT NULL",
                    {}, [&](const Call& row) {
                      parser::CdxjRecord rec;
                      rec.url = row.text(0);
                      rec.warc_date = warc_date_of(row.real(1));
                      rec.content_type = row.text(2);
                      rec.status = static_cast<int>(row.integer(3));
                      rec.payload_digest = row.text(4);
                      rec.length = static_cast<uint64_t>(row.integer(5));
                      rec.offset = static_cast<uint64_t>(row.integer(6));
                      rec.filename = row.text(7);
                      rec.revisit = row.integer(8) != 0;
                      std::string line = parser::cdxj_line(rec);
                      std::string key = line.substr(0, line.find(" {"));
                      Call put(insert->get());
                      put.bind_text(1, key).bind_text(2, line);
                      put.step();
                    });
  if (!r) return r;
  if (auto c = exec(sort.db, "COMMIT"); !c) return c;
  r = each_row(sort.db, "SELECT line FROM lines ORDER BY key", {}, [&](const Call& row) { out << row.text(0); });
  if (!r) return r;
  out.flush();
  if (!out) return Error{Code::kIo, "cannot write the output"};
  return {};
}

Result<ArchivedResponse> archived_response(Reader& reader, const std::string& url, const std::string& warc_dir) {
  std::string dir = warc_dir;
  if (dir.empty()) {
    auto r = each_row(reader.connection(), "SELECT value FROM meta WHERE key = 'warc_dir'", {},
                      [&](const Call& row) { dir = row.text(0); });
    if (!r) return r.error();
    if (dir.empty()) return Error{Code::kInvalidArgument, "this crawl kept no WARC archive (crawl with --warc DIR)"};
  }
  auto stmt = prepare(reader.connection(),
                      "SELECT d.warc_file, d.warc_offset, d.warc_revisit, d.payload_digest FROM documents d "
                      "JOIN urls u ON u.id = d.url_id WHERE u.url = ?1");
  if (!stmt) return stmt.error();
  Call find(stmt->get());
  find.bind_text(1, url);
  int rc = find.step();
  if (rc != SQLITE_ROW) return Error{Code::kInvalidArgument, url + " is not in the database"};
  if (find.is_null(0)) return Error{Code::kInvalidArgument, url + " has no WARC record"};
  ArchivedResponse out;
  out.warc_path = dir + "/" + find.text(0);
  auto record = read_warc_record(out.warc_path, static_cast<uint64_t>(find.integer(1)), kMaxRecord);
  if (!record) return record.error();
  auto block = block_of(*record);
  if (!block) return block.error();
  out.message = std::move(*block);
  std::size_t head_end = out.message.find("\r\n\r\n");
  out.head = head_end == std::string::npos ? out.message : out.message.substr(0, head_end + 4);
  if (find.integer(2) == 0) return out;
  // A revisit holds the head; the body is in the first record of that payload.
  out.revisit = true;
  std::string digest = find.text(3);
  auto original = prepare(reader.connection(),
                          "SELECT warc_file, warc_offset FROM documents WHERE payload_digest = ?1 AND "
                          "warc_revisit = 0 AND warc_file IS NOT NULL LIMIT 1");
  if (!original) return original.error();
  Call first(original->get());
  first.bind_text(1, digest);
  if (first.step() != SQLITE_ROW) return out;  // the revisit's head, and no body
  auto earlier = read_warc_record(dir + "/" + first.text(0), static_cast<uint64_t>(first.integer(1)), kMaxRecord);
  if (!earlier) return earlier.error();
  auto earlier_block = block_of(*earlier);
  if (!earlier_block) return earlier_block.error();
  out.message = std::move(*earlier_block);
  return out;
}

}  // namespace webcrawl::storage
