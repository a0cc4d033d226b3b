// SURT keys and CDXJ index lines for WARC records, in the form pywb writes
// and reads (issue 15): a crawl's .cdxj sorted with `LC_ALL=C sort` is an
// index pywb can replay from.
//
// Pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace webcrawl::parser {

// The key pywb's canonicalize(url) gives, i.e. the `surt` package's surt()
// with its default (Internet Archive) canonicalization, so that pywb finds
// our lines when it looks a URL up:
// - scheme dropped; userinfo and fragment dropped; default port dropped,
//   any other kept as "host:port";
// - host lowercased, one leading "www", "www2"... label dropped, labels
//   reversed and joined by commas, then ")": "http://www.a.b.test/" gives
//   "test,b,a)/"; IPv4 hosts in any inet_aton form become dotted quads and
//   are reversed too;
// - path and query percent-decoded until stable, then re-encoded (bytes
//   outside 0x21-0x7e, '%' and '#'), and lowercased; dot segments, repeated
//   slashes and a trailing slash removed;
// - query arguments sorted by name, then value ("b&a=2&a" gives "a&a=2&b"),
//   known session ids (jsessionid, phpsessid, sid, ASPSESSIONID, cfid and
//   cftoken) and an empty query removed.
// pywb's quirks are kept on purpose: "%26" in a query is decoded before the
// split, so it splits there too, as the lookup key will.
// Unlike pywb, a non-ASCII host is not IDNA-encoded (the crawler's URLs
// already are) and a port that is not a number is dropped. "" gives "-".
std::string surt(std::string_view url);

// What one CDXJ line says about a response or revisit record.
struct CdxjRecord {
  std::string url;             // WARC-Target-URI
  std::string warc_date;       // WARC-Date: the line's 14-digit timestamp
  std::string content_type;    // the HTTP Content-Type header; "" if none
  int status = 0;              // HTTP status code; 0 if unknown
  std::string payload_digest;  // WARC-Payload-Digest ("sha1:..."); "" if none
  uint64_t length = 0;         // the record's gzip member size
  uint64_t offset = 0;         // its offset in the file
  std::string filename;        // the .warc.gz, relative to the archive
  bool revisit = false;
};

// "SURT TIMESTAMP {json}\n" with the fields pywb's own indexer writes, in its
// order and format: url, mime, status, digest, length, offset, filename, all
// strings. mime is the media type without parameters ("unk" when none), or
// "warc/revisit"; digest loses its "sha1:" label; status is left out of
// revisit lines and when unknown, as pywb does.
std::string cdxj_line(const CdxjRecord& record);

}  // namespace webcrawl::parser
