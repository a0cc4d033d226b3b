// ASCII text helpers shared by the protocol code: case-insensitive
// comparison, classification and trimming. Protocol tokens (header names,
// schemes, robots.txt keys, HTML attribute values) are ASCII
// case-insensitive whatever the locale, so nothing here calls std::tolower,
// which follows the C locale and takes int.
//
// Pure, header-only and thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace webcrawl::parser {

constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_ascii_hex(char c) {
  return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// ASCII whitespace as the HTML, URL and Encoding Standards define it:
// tab, line feed, form feed, carriage return and space.
constexpr bool is_html_space(char c) { return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '; }

// HTTP's optional white space (RFC 9110 5.6.3): space and tab.
constexpr bool is_ows(char c) { return c == ' ' || c == '\t'; }

// ASCII case-insensitive equality.
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// True when `s` starts with `prefix`, ASCII case-insensitively.
constexpr bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// `s` without the leading and trailing characters for which `is_space` holds.
template <class Pred>
constexpr std::string_view trim_if(std::string_view s, Pred is_space) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Trims HTML ASCII whitespace (see is_html_space).
constexpr std::string_view trim(std::string_view s) { return trim_if(s, is_html_space); }

// Trims HTTP optional white space (see is_ows).
constexpr std::string_view trim_ows(std::string_view s) { return trim_if(s, is_ows); }

inline std::string ascii_lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

}  // namespace webcrawl::parser
