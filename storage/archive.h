// The read side of a crawl's WARC archive, through its database: a CDXJ
// index of every archived page (what pywb-style replay tools read), and the
// archived response of one page.
#pragma once

#include <optional>
#include <ostream>
#include <string>

#include "common/result.h"
#include "storage/reader.h"

namespace webcrawl::storage {

// Writes one CDXJ line per page with a WARC record (response or revisit),
// sorted by SURT key and timestamp as replay tools require. Sorting goes
// through a temporary SQLite database on disk, so memory stays bounded for
// any number of pages. The timestamp is pages.fetched_at.
Result<void> write_cdxj(Reader& reader, std::ostream& out);

struct ArchivedResponse {
  std::string warc_path;  // the file its record is in
  std::string head;       // the page's status line and headers, as received
  // A whole HTTP response, as received, whose body is the page's payload:
  // the page's own, or for a revisit the earlier record's with that payload.
  std::string message;
  bool revisit = false;
};

// The archived response of `url` from its record in `warc_dir` (default:
// the directory the crawl recorded). Fails with kInvalidArgument when the
// page is not in the database or has no record, kIo/kParse when the file
// cannot be read.
Result<ArchivedResponse> archived_response(Reader& reader, const std::string& url, const std::string& warc_dir);

}  // namespace webcrawl::storage
