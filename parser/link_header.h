// The HTTP Link header (RFC 8288): finds the target of a link by relation
// type, such as the canonical URL a response names for itself
// ("Link: <https://a.example/x>; rel=\"canonical\"").
//
// Pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace webcrawl::parser {

// The target of the first link in `value` whose rel holds `relation`, ASCII
// case-insensitively: rel is a quoted list ("alternate canonical") or a bare
// token, and only a link's first rel parameter counts (RFC 8288 3.3). The
// target comes back as written between < and >, an unresolved URI reference
// (the caller resolves it against the response URL). Links with an anchor
// parameter describe another resource and are skipped. Several Link header
// lines may be joined with ", " first. Malformed link-values are skipped up
// to the next comma outside quotes; nullopt when no link matches.
std::optional<std::string> find_link(std::string_view value, std::string_view relation);

// find_link(value, "canonical").
inline std::optional<std::string> canonical_link(std::string_view value) {
  return find_link(value, "canonical");
}

}  // namespace webcrawl::parser
