// URL parsing and resolution per the WHATWG URL Standard, restricted to what a
// crawler can fetch: the result is always an absolute http or https URL.
//
// Pure and thread-safe. Everything comes back normalized: lowercase scheme and
// host, host in ASCII (IDNA through libidn2, UTS #46 non-transitional), IPv4
// hosts in dotted decimal, IPv6 hosts compressed and bracketed, default port
// dropped, dot segments removed, percent-encoding applied per the standard's
// encode sets, fragment removed.
//
// Beyond the standard, on purpose:
// - Userinfo ("http://user:pass@host/") is parsed and dropped: a crawler never
//   sends credentials it found in a link. "http://@/" is still an error.
// - Only http and https come back; every other scheme is an error.
// - Non-ASCII labels go through libidn2, which also applies UTS #46's hyphen
//   and DNS length checks (the standard turns those off); a non-transitional
//   IDN2_DISALLOWED is retried transitionally, as curl does.
//   Pure-ASCII labels not starting with "xn--" are only lowercased.
// - Input that is not valid UTF-8 is percent-encoded as if each malformed
//   sequence were U+FFFD, the way a browser decodes a document.
// Otherwise the result is WHATWG-exact; in particular existing percent-escapes
// are kept as written ("%7e" stays lowercase, "%41" stays encoded).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace webcrawl::parser {

struct Url {
  std::string scheme;   // "http" or "https"
  std::string host;     // ASCII, lowercase; "[::1]" for IPv6
  uint16_t port = 0;    // effective port: 80 or 443 when none was given
  std::string path;     // always starts with '/'
  std::string query;    // without the leading '?'
  bool has_query = false;  // "http://a/?" keeps its empty query

  bool https() const { return scheme == "https"; }
  bool default_port() const { return port == (https() ? 443 : 80); }

  // "http://host[:port]/path[?query]": the normalized form stored everywhere.
  std::string href() const;
  // "scheme://host[:port]": the politeness key (a host is scheme + host + port).
  std::string origin() const;
  // "/path[?query]": what goes on the request line.
  std::string request_target() const;
  // "host[:port]": the Host header; port only when not the default.
  std::string host_header() const;
  // The host name without brackets: what DNS, SNI and certificate checks use.
  std::string hostname() const;
  // True when the host is an IPv4 or IPv6 literal (no SNI then).
  bool host_is_ip() const;
};

// Parses `input` (leading/trailing C0 controls and spaces stripped, tabs and
// newlines removed, as the standard says). Fails with kInvalidArgument for an
// invalid URL, and for a valid URL whose scheme is not http or https
// ("unsupported scheme: mailto").
Result<Url> parse_url(std::string_view input);

// Resolves `input` against `base` as a browser resolves an href: relative
// references, scheme-relative "//host/x", query-only "?q", dot segments; ""
// and "#x" give back `base`. An absolute `input` ignores `base`, except that
// "http:x" against an http base is relative, as the standard says. `base`
// must be an http(s) URL as this parser produces; otherwise kInvalidArgument.
Result<Url> resolve_url(const Url& base, std::string_view input);

}  // namespace webcrawl::parser
