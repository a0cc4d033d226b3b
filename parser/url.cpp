// The WHATWG URL Standard's basic URL parser (https://url.spec.whatwg.org/),
// specialised for http and https. The standard's state machine collapses to a
// straight line here, because a special scheme fixes every branch that matters:
// scheme, then either a relative reference against the base or an authority,
// then path segments, then the query; the fragment is dropped. One state
// machine, kept in one file although it passes 600 lines.
#include "parser/url.h"


#include <idn2.h>

#include <array>
#include <optional>
#include <utility>

#include "parser/utf8.h"

namespace webcrawl::parser {
namespace {

constexpr size_t kNpos = std::string_view::npos;

// Byte classes, one table lookup each. Bytes >= 0x80 are handled apart (they
// are always percent-encoded, as UTF-8, in paths and queries).
enum : uint8_t {
  kPathEncode = 1,       // the path percent-encode set
  kQueryEncode = 2,      // the special-query percent-encode set
  kForbiddenDomain = 4,  // forbidden domain code points
  kEndOfSegment = 8,     // '/', '\\', '?', '#': ends a path segment
};

constexpr std::array<uint8_t, 128> make_ascii_table() {
  std::array<uint8_t, 128> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = kPathEncode | kQueryEncode | kForbiddenDomain;
  t[0x7f] = kPathEncode | kQueryEncode | kForbiddenDomain;
  // The query percent-encode set, plus '\'' for special schemes.
  for (char c : {' ', '"', '#', '<', '>'}) t[static_cast<uint8_t>(c)] |= kPathEncode | kQueryEncode;
  t['\''] |= kQueryEncode;
  // The path set adds these to the query percent-encode set (not '\'').
  for (char c : {'?', '^', '`', '{', '}'}) t[static_cast<uint8_t>(c)] |= kPathEncode;
  for (char c : {' ', '#', '/', ':', '<', '>', '?', '@', '[', '\\', ']', '^', '|', '%'}) {
    t[static_cast<uint8_t>(c)] |= kForbiddenDomain;
  }
  for (char c : {'/', '\\', '?', '#'}) t[static_cast<uint8_t>(c)] |= kEndOfSegment;
  return t;
}

constexpr std::array<uint8_t, 128> kAscii = make_ascii_table();

bool has_class(char c, uint8_t cls) {
  auto b = static_cast<unsigned char>(c);
  return b < 0x80 && (kAscii[b] & cls) != 0;
}

bool is_slash(char c) { return c == '/' || c == '\\'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  return to_lower(c) - 'a' + 10;
}

bool iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != lower[i]) return false;
  }
  return true;
}

Error invalid(std::string_view why) {
  return make_error(Code::kInvalidArgument, "invalid URL: " + std::string(why));
}

// ---------------------------------------------------------------------------
// Input preprocessing.

std::string_view preprocess(std::string_view in, std::string& storage) {
  while (!in.empty() && static_cast<unsigned char>(in.front()) <= 0x20) in.remove_prefix(1);
  while (!in.empty() && static_cast<unsigned char>(in.back()) <= 0x20) in.remove_suffix(1);
  if (in.find_first_of("\t\n\r") == kNpos) return in;
  storage.reserve(in.size());
  for (char c : in) {
    if (c != '\t' && c != '\n' && c != '\r') storage.push_back(c);
  }
  return storage;
}

// ---------------------------------------------------------------------------
// UTF-8 and percent-encoding.

void append_escape(unsigned char b, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back('%');
  out.push_back(kHex[b >> 4]);
  out.push_back(kHex[b & 0xF]);
}

// UTF-8 percent-encodes `s` with the encode set `set` onto `out`. Malformed
// UTF-8 is encoded as U+FFFD, as if the input had been decoded first the way
// a browser decodes a document.
void percent_encode(std::string_view s, uint8_t set, std::string& out) {
  size_t run = 0;  // start of the pending run of bytes that need no encoding
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80 && (kAscii[b] & set) == 0) {
      ++i;
      continue;
    }
    out.append(s, run, i - run);
    if (b < 0x80) {
      append_escape(b, out);
      ++i;
    } else {
      bool valid = false;
      size_t n = utf8_sequence(s, i, &valid);
      if (valid) {
        for (size_t k = 0; k < n; ++k) append_escape(static_cast<unsigned char>(s[i + k]), out);
      } else {
        out.append("%EF%BF%BD");
      }
      i += n;
    }
    run = i;
  }
  out.append(s, run, s.size() - run);
}

void percent_decode(std::string_view s, std::string& out) {
  if (s.find('%') == kNpos) {
    out.assign(s);
    return;
  }
  out.clear();
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
}

// ---------------------------------------------------------------------------
// IPv4.

// The standard's IPv4 number parser. Values above 2^32 - 1 fail: no IPv4
// address can accept them, so the exact value does not matter.
std::optional<uint64_t> parse_ipv4_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  unsigned radix = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    radix = 16;
  } else if (s.size() >= 2 && s[0] == '0') {
    s.remove_prefix(1);
    radix = 8;
  }
  uint64_t value = 0;
  for (char c : s) {
    bool ok = radix == 16 ? is_hex(c) : (is_digit(c) && static_cast<unsigned>(c - '0') < radix);
    if (!ok) return std::nullopt;
    value = value * radix + static_cast<unsigned>(hex_value(c));
    if (value > 0xFFFFFFFFull) return std::nullopt;
  }
  return value;
}

// "Ends in a number": whether the host parser must treat the host as IPv4.
bool ends_in_a_number(std::string_view s) {
  if (!s.empty() && s.back() == '.') {
    if (s.size() == 1) return false;  // ["", ""]: the last part is empty
    s.remove_suffix(1);
  }
  size_t dot = s.rfind('.');
  std::string_view last = dot == kNpos ? s : s.substr(dot + 1);
  if (last.empty()) return false;
  bool digits = true;
  for (char c : last) digits = digits && is_digit(c);
  if (digits) return true;
  if (last.size() < 2 || last[0] != '0' || (last[1] != 'x' && last[1] != 'X')) return false;
  for (char c : last.substr(2)) {
    if (!is_hex(c)) return false;
  }
  return true;
}

std::optional<uint32_t> parse_ipv4(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  uint64_t numbers[4];
  size_t count = 0;
  for (size_t start = 0;;) {
    size_t dot = s.find('.', start);
    if (count == 4) return std::nullopt;  // more than four parts
    auto n = parse_ipv4_number(s.substr(start, dot == kNpos ? kNpos : dot - start));
    if (!n) return std::nullopt;
    numbers[count++] = *n;
    if (dot == kNpos) break;
    start = dot + 1;
  }
  for (size_t i = 0; i + 1 < count; ++i) {
    if (numbers[i] > 255) return std::nullopt;
  }
  uint64_t last = numbers[count - 1];
  if (last >= (1ull << (8 * (5 - count)))) return std::nullopt;
  uint64_t address = last;
  for (size_t i = 0; i + 1 < count; ++i) address += numbers[i] << (8 * (3 - i));
  return static_cast<uint32_t>(address);
}

void serialize_ipv4(uint32_t address, std::string& out) {
  out.clear();
  for (int shift = 24; shift >= 0; shift -= 8) {
    out += std::to_string((address >> shift) & 0xFF);
    if (shift > 0) out.push_back('.');
  }
}

// ---------------------------------------------------------------------------
// IPv6.

using Ipv6 = std::array<uint16_t, 8>;

// Reads the dotted-decimal tail of an IPv6 address ("::ffff:1.2.3.4") into
// pieces[index] and pieces[index + 1]; `s` starts at its first digit.
bool parse_ipv6_embedded_ipv4(std::string_view s, Ipv6& pieces, size_t index) {
  if (index > 6) return false;
  size_t i = 0;
  int numbers_seen = 0;
  while (i < s.size()) {
    if (numbers_seen > 0) {
      if (s[i] != '.' || numbers_seen >= 4) return false;
      ++i;
    }
    if (i >= s.size() || !is_digit(s[i])) return false;
    int piece = -1;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (piece == 0) return false;  // no leading zeros
      piece = (piece < 0 ? 0 : piece * 10) + (s[i] - '0');
      if (piece > 255) return false;
    }
    pieces[index] = static_cast<uint16_t>(pieces[index] * 0x100 + piece);
    ++numbers_seen;
    if (numbers_seen == 2 || numbers_seen == 4) ++index;
  }
  return numbers_seen == 4;
}

// The standard's IPv6 parser; `s` is the text between the brackets.
std::optional<Ipv6> parse_ipv6(std::string_view s) {
  Ipv6 pieces{};
  size_t index = 0;
  std::optional<size_t> compress;
  size_t i = 0;
  auto at = [&](size_t k) { return k < s.size() ? s[k] : '\0'; };
  if (at(0) == ':') {
    if (at(1) != ':') return std::nullopt;
    i = 2;
    compress = ++index;
  }
  while (i < s.size()) {
    if (index == 8) return std::nullopt;
    if (s[i] == ':') {
      if (compress) return std::nullopt;
      ++i;
      compress = ++index;
      continue;
    }
    unsigned value = 0;
    size_t length = 0;
    for (; length < 4 && i < s.size() && is_hex(s[i]); ++length, ++i) {
      value = value * 0x10 + static_cast<unsigned>(hex_value(s[i]));
    }
    if (i < s.size() && s[i] == '.') {
      if (length == 0) return std::nullopt;
      if (!parse_ipv6_embedded_ipv4(s.substr(i - length), pieces, index)) return std::nullopt;
      index += 2;
      break;
    }
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (i == s.size()) return std::nullopt;
    } else if (i < s.size()) {
      return std::nullopt;
    }
    pieces[index++] = static_cast<uint16_t>(value);
  }
  if (compress) {
    size_t swaps = index - *compress;
    for (size_t k = 7; k != 0 && swaps > 0; --k, --swaps) {
      std::swap(pieces[k], pieces[*compress + swaps - 1]);
    }
  } else if (index != 8) {
    return std::nullopt;
  }
  return pieces;
}

void serialize_ipv6(const Ipv6& pieces, std::string& out) {
  // Compress the first longest run of two or more zero pieces.
  size_t best_start = 8, best_len = 1;
  for (size_t k = 0; k < 8;) {
    if (pieces[k] != 0) {
      ++k;
      continue;
    }
    size_t start = k;
    while (k < 8 && pieces[k] == 0) ++k;
    if (k - start > best_len) {
      best_start = start;
      best_len = k - start;
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.assign("[");
  for (size_t k = 0; k < 8; ++k) {
    if (k == best_start) {
      out.append(k == 0 ? "::" : ":");
      k += best_len - 1;
      continue;
    }
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned nibble = (pieces[k] >> shift) & 0xF;
      if (nibble == 0 && !started && shift > 0) continue;
      started = true;
      out.push_back(kHex[nibble]);
    }
    if (k != 7) out.push_back(':');
  }
  out.push_back(']');
}

// ---------------------------------------------------------------------------
// Domains.

// A label goes through IDNA when it is not ASCII or claims to be an A-label;
// the standard lowercases every other ASCII label, and so avoids UTS #46's
// hyphen checks on names like "r3---sn-abc.example".
bool needs_idna(std::string_view label) {
  for (char c : label) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return label.size() >= 4 && iequals(label.substr(0, 4), "xn--");
}

Result<void> label_to_ascii(std::string_view label, std::string& out) {
  if (!is_valid_utf8(label)) return invalid("host is not valid UTF-8");
  std::string input(label);  // libidn2 wants a NUL-terminated string
  char* ascii = nullptr;
  int rc = idn2_to_ascii_8z(input.c_str(), &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  if (rc == IDN2_DISALLOWED) {
    // As curl does: retry under transitional (IDNA 2003 compatible)
    // processing, which accepts some names non-transitional disallows.
    rc = idn2_to_ascii_8z(input.c_str(), &ascii, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
  }
  if (rc != IDN2_OK) return invalid(std::string("bad international host: ") + idn2_strerror(rc));
  for (const char* p = ascii; *p != '\0'; ++p) out.push_back(to_lower(*p));
  idn2_free(ascii);
  return {};
}

bool any_label_needs_idna(std::string_view domain) {
  for (size_t start = 0;;) {
    size_t dot = domain.find('.', start);
    if (needs_idna(domain.substr(start, dot == kNpos ? kNpos : dot - start))) return true;
    if (dot == kNpos) return false;
    start = dot + 1;
  }
}

// Domain to ASCII, label by label, in place. `domain` is percent-decoded.
Result<void> domain_to_ascii(std::string& domain) {
  if (!any_label_needs_idna(domain)) {
    for (char& c : domain) c = to_lower(c);
    return {};
  }
  std::string unicode = std::move(domain);
  domain.clear();
  domain.reserve(unicode.size() + 16);
  for (size_t start = 0;;) {
    size_t dot = unicode.find('.', start);
    std::string_view label =
        std::string_view(unicode).substr(start, dot == kNpos ? kNpos : dot - start);
    if (needs_idna(label)) {
      auto done = label_to_ascii(label, domain);
      if (!done) return done;
    } else {
      for (char c : label) domain.push_back(to_lower(c));
    }
    if (dot == kNpos) break;
    domain.push_back('.');
    start = dot + 1;
  }
  return {};
}

bool has_forbidden_domain_code_point(std::string_view s) {
  for (char c : s) {
    if (has_class(c, kForbiddenDomain)) return true;
  }
  return false;
}

// The host parser for special schemes: `in` is the raw host text, `host`
// receives the serialized host.
Result<void> parse_host(std::string_view in, std::string& host) {
  if (in.front() == '[') {
    if (in.size() < 2 || in.back() != ']') return invalid("unterminated IPv6 address");
    auto address = parse_ipv6(in.substr(1, in.size() - 2));
    if (!address) return invalid("bad IPv6 address");
    serialize_ipv6(*address, host);
    return {};
  }
  percent_decode(in, host);
  // Checking ASCII code points before IDNA is equivalent to the standard's
  // check after it (UTS #46 maps ASCII only to lowercase ASCII), and keeps a
  // decoded NUL away from libidn2's C strings.
  if (has_forbidden_domain_code_point(host)) return invalid("forbidden code point in host");
  auto done = domain_to_ascii(host);
  if (!done) return done;
  if (host.empty()) return invalid("empty host");
  // UTS #46 can map a non-ASCII code point onto a forbidden one ("％" to "%").
  if (has_forbidden_domain_code_point(host)) return invalid("forbidden code point in host");
  if (!ends_in_a_number(host)) return {};
  auto address = parse_ipv4(host);
  if (!address) return invalid("bad IPv4 address");
  serialize_ipv4(*address, host);
  return {};
}

// ---------------------------------------------------------------------------
// Port, path, query.

uint16_t default_port_of(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

Result<void> parse_port(std::string_view digits, Url& url) {
  url.port = default_port_of(url.scheme);
  if (digits.empty()) return {};
  uint32_t value = 0;
  for (char c : digits) {
    if (!is_digit(c)) return invalid("bad port");
    value = value * 10 + static_cast<uint32_t>(c - '0');
    if (value > 65535) return invalid("port out of range");
  }
  url.port = static_cast<uint16_t>(value);
  return {};
}

bool is_single_dot(std::string_view seg) { return seg == "." || iequals(seg, "%2e"); }

bool is_double_dot(std::string_view seg) {
  return seg == ".." || iequals(seg, ".%2e") || iequals(seg, "%2e.") || iequals(seg, "%2e%2e");
}

// Removes the path's last segment; the path is kept serialized ("/a/b").
void shorten(std::string& path) {
  size_t slash = path.rfind('/');
  if (slash != kNpos) path.resize(slash);
}

// The path state and the query state: `in` starts at a path segment and runs to
// the end of the input. Appends segments to url.path.
void parse_path_and_query(std::string_view in, Url& url) {
  size_t pos = 0;
  char end = '\0';
  for (;;) {
    size_t seg_end = pos;
    while (seg_end < in.size() && !has_class(in[seg_end], kEndOfSegment)) ++seg_end;
    std::string_view seg = in.substr(pos, seg_end - pos);
    end = seg_end < in.size() ? in[seg_end] : '\0';
    bool more = is_slash(end);
    if (is_double_dot(seg)) {
      shorten(url.path);
      if (!more) url.path.push_back('/');
    } else if (is_single_dot(seg)) {
      if (!more) url.path.push_back('/');
    } else {
      url.path.push_back('/');
      percent_encode(seg, kPathEncode, url.path);
    }
    pos = seg_end + 1;
    if (!more) break;
  }
  url.query.clear();
  url.has_query = end == '?';
  if (!url.has_query) return;
  std::string_view query = in.substr(pos);
  query = query.substr(0, query.find('#'));
  percent_encode(query, kQueryEncode, url.query);
}

// From the special authority slashes state on: `in` follows "scheme:".
Result<Url> parse_authority(std::string_view in, Url url) {
  while (!in.empty() && is_slash(in.front())) in.remove_prefix(1);
  size_t end = 0;
  while (end < in.size() && !has_class(in[end], kEndOfSegment)) ++end;
  std::string_view authority = in.substr(0, end);
  // Userinfo is dropped: a crawler never sends credentials found in links.
  size_t at = authority.rfind('@');
  std::string_view host_port = at == kNpos ? authority : authority.substr(at + 1);
  size_t colon = kNpos;
  bool in_brackets = false;
  for (size_t i = 0; i < host_port.size() && colon == kNpos; ++i) {
    if (host_port[i] == '[') in_brackets = true;
    if (host_port[i] == ']') in_brackets = false;
    if (host_port[i] == ':' && !in_brackets) colon = i;
  }
  std::string_view host = host_port.substr(0, colon);
  if (host.empty()) return invalid("empty host");
  auto done = parse_host(host, url.host);
  if (!done) return done.error();
  done = parse_port(colon == kNpos ? std::string_view() : host_port.substr(colon + 1), url);
  if (!done) return done.error();
  std::string_view rest = in.substr(end);
  if (!rest.empty() && is_slash(rest.front())) rest.remove_prefix(1);  // path start state
  url.path.reserve(rest.size() + 1);
  parse_path_and_query(rest, url);
  return url;
}

// The relative state: `in` is resolved against `base`.
Result<Url> parse_relative(std::string_view in, const Url& base, Url url) {
  if (!in.empty() && is_slash(in[0])) {
    if (in.size() > 1 && is_slash(in[1])) return parse_authority(in.substr(2), std::move(url));
    url.host = base.host;
    url.port = base.port;
    parse_path_and_query(in.substr(1), url);
    return url;
  }
  url.host = base.host;
  url.port = base.port;
  url.path.reserve(base.path.size() + in.size());
  url.path = base.path;
  if (in.empty() || in[0] == '#') {
    url.query = base.query;
    url.has_query = base.has_query;
    return url;
  }
  if (in[0] == '?') {
    url.has_query = true;
    std::string_view query = in.substr(1);
    percent_encode(query.substr(0, query.find('#')), kQueryEncode, url.query);
    return url;
  }
  shorten(url.path);
  parse_path_and_query(in, url);
  return url;
}

// Length of the scheme when `in` starts with one followed by ':', else npos.
size_t scheme_length(std::string_view in) {
  if (in.empty() || !is_alpha(in[0])) return kNpos;
  for (size_t i = 1; i < in.size(); ++i) {
    char c = in[i];
    if (c == ':') return i;
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return kNpos;
  }
  return kNpos;
}

Result<Url> parse(std::string_view raw, const Url* base) {
  std::string storage;
  std::string_view in = preprocess(raw, storage);
  Url url;
  size_t scheme_len = scheme_length(in);
  if (scheme_len == kNpos) {
    if (base == nullptr) return invalid("relative reference without a base");
    url.scheme = base->scheme;
    return parse_relative(in, *base, std::move(url));
  }
  url.scheme.reserve(scheme_len);
  for (char c : in.substr(0, scheme_len)) url.scheme.push_back(to_lower(c));
  if (url.scheme != "http" && url.scheme != "https") {
    return make_error(Code::kInvalidArgument, "unsupported scheme: " + url.scheme);
  }
  std::string_view rest = in.substr(scheme_len + 1);
  // The special relative or authority state: "http:g" against an http base is
  // a relative reference.
  bool authority = rest.size() >= 2 && rest[0] == '/' && rest[1] == '/';
  if (base != nullptr && base->scheme == url.scheme && !authority) {
    return parse_relative(rest, *base, std::move(url));
  }
  return parse_authority(rest, std::move(url));
}

}  // namespace

std::string Url::href() const {
  std::string out;
  out.reserve(scheme.size() + 3 + host.size() + 6 + path.size() + 1 + query.size());
  out.append(scheme).append("://").append(host);
  if (!default_port()) out.append(":").append(std::to_string(port));
  out.append(path);
  if (has_query) out.append("?").append(query);
  return out;
}

std::string Url::origin() const {
  std::string out = scheme;
  out.append("://").append(host_header());
  return out;
}

std::string Url::request_target() const {
  std::string out = path.empty() ? std::string("/") : path;
  if (has_query) out.append("?").append(query);
  return out;
}

std::string Url::host_header() const {
  std::string out = host;
  if (!default_port()) out.append(":").append(std::to_string(port));
  return out;
}

std::string Url::hostname() const {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

bool Url::host_is_ip() const {
  if (!host.empty() && host.front() == '[') return true;
  // A serialized domain never ends in a number: the host parser turns any
  // such host into an IPv4 address.
  size_t dot = host.rfind('.');
  std::string_view last = std::string_view(host).substr(dot == std::string::npos ? 0 : dot + 1);
  if (last.empty()) return false;
  for (char c : last) {
    if (!is_digit(c)) return false;
  }
  return true;
}

Result<Url> parse_url(std::string_view input) { return parse(input, nullptr); }

Result<Url> resolve_url(const Url& base, std::string_view input) {
  if (base.scheme != "http" && base.scheme != "https") {
    return make_error(Code::kInvalidArgument, "base URL is not http or https");
  }
  return parse(input, &base);
}

}  // namespace webcrawl::parser
