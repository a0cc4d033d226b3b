#include "parser/cdxj.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "parser/ascii.h"

namespace webcrawl::parser {
namespace {

// A string or nothing: the surt package tells an absent part (None) from an
// empty one, and some of its steps turn one into the other.
using Part = std::optional<std::string>;

int hex_value(char c) {
  if (is_ascii_digit(c)) return c - '0';
  return ascii_lower(c) - 'a' + 10;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && is_ascii_hex(s[i + 1]) && is_ascii_hex(s[i + 2])) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "%2541" is "%41" once decoded and "A" twice; decoding stops when stable.
std::string unescape_repeatedly(std::string s) {
  for (;;) {
    std::string once = percent_decode(s);
    if (once == s) return s;
    s = std::move(once);
  }
}

// Escapes what is not printable ASCII, and '%' and '#' (which are), in
// upper-case hex, as Python's quote() with surt's safe set does.
std::string escape_once(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f || c == '%' || c == '#') {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    } else {
      out += c;
    }
  }
  return out;
}

// Dot segments resolved, empty segments dropped; a trailing slash stays.
std::string normalize_path(const Part& path) {
  if (!path || path->empty()) return "/";
  std::vector<std::string_view> kept;
  std::string_view rest = *path;
  bool first = true;
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (!first && seg == "..") {
      if (kept.empty()) kept.push_back(seg);  // nothing to pop: surt keeps it
      else kept.pop_back();
    } else if (!first && seg != ".") {
      kept.push_back(seg);
    }
    first = false;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::string out = "/";
  for (std::size_t i = 0; i + 1 < kept.size(); ++i) {
    if (!kept[i].empty()) out.append(kept[i]).append("/");
  }
  if (!kept.empty()) out.append(kept.back());
  return out;
}

// surt hands the resolver hosts shaped like 1 to 4 dot-separated numbers,
// the first not starting with 0 (decimal), or all octal with the first
// starting with 0.
bool looks_numeric(std::string_view host) {
  if (host.empty() || !is_ascii_digit(host[0])) return false;
  bool octal = host[0] == '0';
  int parts = 0;
  for (std::size_t at = 0; at <= host.size(); ++parts) {
    std::size_t dot = std::min(host.find('.', at), host.size());
    if (dot == at || parts == 4) return false;
    for (std::size_t i = at; i < dot; ++i) {
      if (!is_ascii_digit(host[i]) || (octal && host[i] > '7')) return false;
    }
    at = dot + 1;
  }
  return true;
}

// inet_aton's forms ("3279880203", "10.0.258", "017.0.0.1") as a dotted
// quad, where surt asks the resolver, which parses them the same way.
std::optional<std::string> attempt_ip(const std::string& host) {
  in_addr addr{};
  if (!host.empty() && std::all_of(host.begin(), host.end(), is_ascii_digit)) {
    uint32_t value = 0;  // surt masks the number to its low 32 bits
    for (char c : host) value = value * 10 + static_cast<uint32_t>(c - '0');
    addr.s_addr = htonl(value);
  } else if (!looks_numeric(host) || inet_aton(host.c_str(), &addr) == 0) {
    return std::nullopt;
  }
  char out[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr, out, sizeof out);
  return std::string(out);
}

constexpr std::size_t kNone = std::string_view::npos;

bool is_alnum(char c) { return is_ascii_alpha(c) || is_ascii_digit(c); }

// True when s[at, at + n) exists and every byte satisfies `pred`.
template <class Pred>
bool run_of(std::string_view s, std::size_t at, std::size_t n, Pred pred) {
  return at + n <= s.size() && std::all_of(s.begin() + at, s.begin() + at + n, pred);
}

// Where a session id of surt's query pattern `pattern` (0 to 4: jsessionid,
// phpsessid, sid, ASPSESSIONID, cfid with cftoken) that starts at `at` ends,
// or kNone. ASCII case-insensitive, as surt's regular expressions are.
std::size_t session_id_end(std::string_view s, std::size_t at, int pattern) {
  static constexpr std::string_view kNames[] = {"jsessionid=", "phpsessid=", "sid="};
  std::string_view rest = s.substr(at);
  if (pattern < 3) {
    std::string_view name = kNames[pattern];
    bool id = istarts_with(rest, name) && run_of(s, at + name.size(), 32, is_alnum);
    return id ? at + name.size() + 32 : kNone;
  }
  if (pattern == 3) {
    bool id = istarts_with(rest, "aspsessionid") && run_of(s, at + 12, 8, is_ascii_alpha) &&
              s.substr(at + 20, 1) == "=" && run_of(s, at + 21, 24, is_ascii_alpha);
    return id ? at + 45 : kNone;
  }
  if (!istarts_with(rest, "cfid=")) return kNone;
  std::size_t amp = std::min(s.find('&', at), s.size());
  std::size_t token = amp + 9;  // past "&cftoken="
  bool id = amp > at + 5 && istarts_with(s.substr(amp), "&cftoken=") && token < s.size() &&
            s[token] != '&';
  return id ? std::min(s.find('&', token), s.size()) : kNone;
}

// surt applies its five patterns ^(.*)ID(?:&(.*))?$ in turn, each once:
// greedy, one cuts its rightmost id that ends the query or an argument, with
// the '&' after it.
std::string strip_query_session_id(std::string query) {
  for (int pattern = 0; pattern < 5; ++pattern) {
    for (std::size_t p = query.size() + 1; p-- > 0;) {
      std::size_t end = session_id_end(query, p, pattern);
      if (end == kNone || (end < query.size() && query[end] != '&')) continue;
      query = query.substr(0, p) + (end < query.size() ? query.substr(end + 1) : "");
      break;
    }
  }
  return query;
}

// True when s[at...] is surt's [^?]+\.aspx.* : ".aspx" after at least one
// byte, with no '?' before it.
bool aspx_follows(std::string_view s, std::size_t at) {
  std::size_t limit = std::min(s.find('?', at), s.size());
  for (std::size_t i = at + 1; i <= limit && i + 5 <= s.size(); ++i) {
    if (istarts_with(s.substr(i), ".aspx")) return true;
  }
  return false;
}

// ASP.NET cookieless session ids, "/(S(24 chars))/x.aspx" or
// "/(24 chars)/x.aspx": surt cuts the rightmost one (then the other form's)
// out of the path.
std::string strip_path_session_id(std::string path) {
  auto grouped_end = [](std::string_view s, std::size_t at) -> std::size_t {
    std::size_t i = at + 1;  // past '('
    while (i < s.size() && is_ascii_alpha(s[i]) && s.substr(i + 1, 1) == "(" &&
           run_of(s, i + 2, 24, is_alnum) && s.substr(i + 26, 1) == ")") {
      i += 27;
    }
    return i > at + 1 && s.substr(i, 2) == ")/" ? i + 2 : kNone;
  };
  auto plain_end = [](std::string_view s, std::size_t at) -> std::size_t {
    return run_of(s, at + 1, 24, is_alnum) && s.substr(at + 25, 2) == ")/" ? at + 27 : kNone;
  };
  for (auto id_end : {+grouped_end, +plain_end}) {
    for (std::size_t p = path.size(); p-- > 1;) {
      if (path[p - 1] != '/' || path[p] != '(') continue;
      std::size_t end = id_end(path, p);
      if (end != kNone && aspx_follows(path, end)) {
        path.erase(p, end - p);
        break;
      }
    }
  }
  return path;
}

// Arguments sorted as Python sorts (name, value) tuples: "a" < "a=" < "a=1".
std::string alpha_reorder(const std::string& query) {
  if (query.size() <= 1) return query;
  struct Arg {
    std::string_view name;
    std::optional<std::string_view> value;
    bool operator<(const Arg& o) const {
      if (name != o.name) return name < o.name;
      return value < o.value;  // nullopt sorts first
    }
  };
  std::vector<Arg> args;
  std::string_view rest = query;
  for (;;) {
    std::size_t amp = rest.find('&');
    std::string_view arg = rest.substr(0, amp);
    std::size_t eq = arg.find('=');
    if (eq == std::string_view::npos) args.push_back({arg, std::nullopt});
    else args.push_back({arg.substr(0, eq), arg.substr(eq + 1)});
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  std::sort(args.begin(), args.end());
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += '&';
    out.append(args[i].name);
    if (args[i].value) out.append("=").append(*args[i].value);
  }
  return out;
}

bool has_scheme(std::string_view s) {
  if (s.empty() || !is_ascii_alpha(s[0])) return false;
  for (char c : s.substr(1)) {
    if (c == ':') return true;
    if (!is_ascii_alpha(c) && !is_ascii_digit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return false;
}

struct SplitUrl {
  std::string scheme;
  Part host;
  std::optional<int> port;
  Part path;
  Part query;
};

// surt's handyurl.parse(): RFC 2396's regular expression, with Python's
// urlsplit() rules for host and port.
SplitUrl split(std::string_view input) {
  std::string s(trim_if(input, [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }));
  std::erase_if(s, [](char c) { return c == '\n' || c == '\r' || c == '\t'; });
  if (!has_scheme(s)) s = "http://" + s;
  // "http://https://host/" is https://host/: the last of repeated prefixes.
  auto prefix = [](std::string_view v) -> std::size_t {
    return v.starts_with("http://") ? 7 : v.starts_with("https://") ? 8 : 0;
  };
  while (std::size_t n = prefix(s)) {
    if (!prefix(std::string_view(s).substr(n))) break;
    s.erase(0, n);
  }
  SplitUrl u;
  std::string_view rest = s;
  std::size_t colon = rest.find(':');
  u.scheme = std::string(rest.substr(0, colon));
  rest.remove_prefix(colon + 1);
  rest = rest.substr(0, rest.find('#'));
  std::string_view netloc;
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    std::size_t end = rest.find_first_of("/?");
    netloc = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  std::size_t q = rest.find('?');
  if (q != std::string_view::npos && q + 1 < rest.size()) u.query = std::string(rest.substr(q + 1));
  if (std::string_view p = rest.substr(0, q); !p.empty()) u.path = std::string(p);

  while (netloc.ends_with(':')) netloc.remove_suffix(1);
  std::string_view hostinfo = netloc.substr(netloc.rfind('@') + 1);
  std::string_view host = hostinfo, port;
  if (std::size_t open = hostinfo.find('['); open != std::string_view::npos) {
    std::string_view bracketed = hostinfo.substr(open + 1);
    std::size_t close = bracketed.find(']');
    host = bracketed.substr(0, close);
    std::string_view after = close == std::string_view::npos ? "" : bracketed.substr(close + 1);
    if (std::size_t c = after.find(':'); c != std::string_view::npos) port = after.substr(c + 1);
  } else if (std::size_t c = hostinfo.find(':'); c != std::string_view::npos) {
    host = hostinfo.substr(0, c);
    port = hostinfo.substr(c + 1);
  }
  if (!host.empty()) u.host = ascii_lowercase(host);
  if (!port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), is_ascii_digit)) {
    int n = std::stoi(std::string(port));
    if (n <= 65535) u.port = n;
  }
  // "http:////host/x": the host is the first segment of the path.
  if (u.scheme.starts_with("http") && !u.host && u.path) {
    std::string_view p = *u.path;
    while (p.starts_with('/')) p.remove_prefix(1);
    std::size_t slash = p.find('/');
    u.host = std::string(p.substr(0, slash));
    u.path = "/" + std::string(slash == std::string_view::npos ? "" : p.substr(slash + 1));
  }
  return u;
}

// surt's GoogleURLCanonicalizer and IAURLCanonicalizer, in that order.
void canonicalize(SplitUrl& u) {
  if (u.query) u.query = escape_once(unescape_repeatedly(*u.query));
  if (u.host && !u.host->empty()) {
    std::string host = unescape_repeatedly(*u.host);
    for (std::size_t at = host.find(".."); at != std::string::npos; at = host.find("..", at + 1)) {
      host.erase(at, 1);
    }
    host = std::string(trim_if(host, [](char c) { return c == '.'; }));
    std::optional<std::string> ip = attempt_ip(host);
    host = ip ? *ip : escape_once(ascii_lowercase(host));
    // One leading www, www2, www34... label goes (not for dns: URLs).
    std::size_t digits = 3;
    while (digits < host.size() && is_ascii_digit(host[digits])) ++digits;
    if (u.scheme != "dns" && host.starts_with("www") && digits < host.size() && host[digits] == '.') {
      host.erase(0, digits + 1);
    }
    u.host = host;
  }
  if (u.path) u.path = unescape_repeatedly(*u.path);
  if (u.host && !u.host->empty()) u.path = normalize_path(u.path);
  if (u.path) {
    std::string path = strip_path_session_id(ascii_lowercase(escape_once(*u.path)));
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    u.path = path;
  }
  std::string scheme = ascii_lowercase(u.scheme);
  if (u.port && ((scheme == "http" && *u.port == 80) || (scheme == "https" && *u.port == 443))) {
    u.port.reset();
  }
  if (u.query) {
    std::string query = alpha_reorder(ascii_lowercase(strip_query_session_id(*u.query)));
    u.query = query.empty() ? Part() : Part(query);
  }
}

std::string json_string(std::string_view s) {
  return nlohmann::json(std::string(s)).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string surt(std::string_view url) {
  if (url.empty()) return "-";
  if (url.starts_with("filedesc")) return std::string(url);
  SplitUrl u = split(url);
  canonicalize(u);
  std::string out;
  if (u.host && !u.host->empty()) {
    std::string_view host = *u.host;
    std::vector<std::string_view> labels;
    for (std::size_t dot; (dot = host.find('.')) != std::string_view::npos; host.remove_prefix(dot + 1)) {
      labels.push_back(host.substr(0, dot));
    }
    labels.push_back(host);
    for (auto it = labels.rbegin(); it != labels.rend(); ++it) {
      if (it != labels.rbegin()) out += ',';
      out.append(*it);
    }
    if (u.port) out += ":" + std::to_string(*u.port);
    out += ')';
  } else {
    out = u.scheme + ":";
  }
  if (u.path && !u.path->empty()) out += *u.path;
  else if (u.query) out += '/';
  if (u.query) out += "?" + *u.query;
  return out;
}

std::string cdxj_line(const CdxjRecord& r) {
  std::string timestamp;
  for (char c : r.warc_date) {
    if (is_ascii_digit(c) && timestamp.size() < 14) timestamp += c;
  }
  std::string mime = r.revisit ? "warc/revisit"
                               : std::string(trim_ows(r.content_type.substr(0, r.content_type.find_first_of("; "))));
  if (mime.empty()) mime = "unk";
  std::string_view digest = r.payload_digest;
  if (digest.starts_with("sha1:")) digest.remove_prefix(5);

  std::string json = "{\"url\": " + json_string(r.url) + ", \"mime\": " + json_string(mime);
  if (!r.revisit && r.status > 0) json += ", \"status\": " + json_string(std::to_string(r.status));
  if (!digest.empty()) json += ", \"digest\": " + json_string(digest);
  json += ", \"length\": " + json_string(std::to_string(r.length));
  json += ", \"offset\": " + json_string(std::to_string(r.offset));
  json += ", \"filename\": " + json_string(r.filename) + "}";
  return surt(r.url) + " " + timestamp + " " + json + "\n";
}

}  // namespace webcrawl::parser
