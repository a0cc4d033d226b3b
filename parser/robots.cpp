#include "parser/robots.h"

#include "parser/ascii.h"

#include <algorithm>
#include <charconv>
#include <system_error>
#include <utility>

namespace webcrawl::parser {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// robots.txt separates with spaces and tabs; lines are already split at CR and LF.
constexpr std::string_view kSpace = " \t\v\f";
bool is_space(char c) { return kSpace.find(c) != std::string_view::npos; }
std::string_view trim_space(std::string_view s) { return trim_if(s, is_space); }

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 section 2.3.
bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Bytes a URL parser percent-encodes in both paths and queries; encoding them
// in patterns too lets "Disallow: /a b" match the fetched "/a%20b".
bool needs_encoding(unsigned char c) {
  return c <= 0x20 || c >= 0x7F || c == '"' || c == '<' || c == '>';
}

void append_encoded(std::string& out, unsigned char c) {
  constexpr char kHex[] = "0123456789ABCDEF";
  out += '%';
  out += kHex[c >> 4];
  out += kHex[c & 0x0F];
}

// Brings a pattern (is_pattern) or a request target into one comparable form
// (RFC 9309 section 2.2.2): %XX of unreserved characters decoded, other %XX
// uppercased, non-ASCII and unsafe bytes encoded. In patterns '*' and a final
// '$' stay special; every other '*' and '$' becomes %2A and %24, so the RFC's
// "/file-with-a-%2A.html" matches a literal '*' in the target.
std::string normalize(std::string_view s, bool is_pattern) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      auto decoded = static_cast<unsigned char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      if (is_unreserved(decoded)) {
        out += static_cast<char>(decoded);
      } else {
        append_encoded(out, decoded);
      }
      i += 2;
    } else if (is_pattern && (c == '*' || (c == '$' && i + 1 == s.size()))) {
      out += static_cast<char>(c);
    } else if (c == '*' || c == '$' || needs_encoding(c)) {
      append_encoded(out, c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Matches `pattern` ('*' any run of bytes, a final '$' anchors the end, else
// a prefix match) against `subject`. The classic glob walk: only the latest
// '*' is ever retried, so the cost is at most |pattern| * |subject| and never
// exponential.
bool matches(std::string_view pattern, std::string_view subject) {
  bool anchored = !pattern.empty() && pattern.back() == '$';
  if (anchored) pattern.remove_suffix(1);
  std::size_t p = 0;
  std::size_t s = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  for (;;) {
    if (p == pattern.size()) {
      if (!anchored || s == subject.size()) return true;
    } else if (pattern[p] == '*') {
      star = p++;
      resume = s;
      continue;
    } else if (s < subject.size()) {
      if (pattern[p] == subject[s]) {
        ++p;
        ++s;
        continue;
      }
    } else {
      // The subject ran out inside a literal run; letting the last '*' take
      // more would leave even less for that run.
      return false;
    }
    if (star == std::string_view::npos || resume >= subject.size()) return false;
    p = star + 1;
    s = ++resume;
  }
}

// A non-negative decimal such as "10" or "0.5"; anything else is ignored.
std::optional<double> parse_crawl_delay(std::string_view v) {
  std::size_t int_digits = 0;
  while (int_digits < v.size() && v[int_digits] >= '0' && v[int_digits] <= '9') ++int_digits;
  std::size_t end = int_digits;
  std::size_t frac_digits = 0;
  if (end < v.size() && v[end] == '.') {
    ++end;
    while (end < v.size() && v[end] >= '0' && v[end] <= '9') {
      ++end;
      ++frac_digits;
    }
  }
  if (end != v.size() || int_digits + frac_digits == 0) return std::nullopt;
  double seconds = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec == std::errc::result_out_of_range) {
    // Overflow when the integer part is not all zeros, underflow otherwise.
    bool huge = v.substr(0, int_digits).find_first_not_of('0') != std::string_view::npos;
    return huge ? kMaxCrawlDelay : 0.0;
  }
  if (ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
  return std::min(seconds, kMaxCrawlDelay);
}

// RFC 9309 section 2.2.1: "*" is the catch-all user agent.
bool is_star_agent(std::string_view value) {
  return !value.empty() && value[0] == '*' &&
         (value.size() == 1 || kSpace.find(value[1]) != std::string_view::npos);
}

bool names_token(std::string_view value, std::string_view token) {
  return !token.empty() && iequals(product_token(value), token);
}

// Drops whatever is past kMaxRobotsBytes, back to the end of the last whole
// line, so a rule is never read half cut.
std::string_view cap_body(std::string_view body) {
  if (body.size() <= kMaxRobotsBytes) return body;
  std::size_t eol = body.find_last_of("\r\n", kMaxRobotsBytes);
  return eol == std::string_view::npos ? std::string_view() : body.substr(0, eol);
}

struct Group {
  std::vector<std::string_view> agents;
  std::vector<RobotsRule> rules;
  std::optional<double> crawl_delay;
};

// Splits a body into groups (RFC 9309 section 2.1): a run of user-agent lines
// opens a group, and a user-agent line after a rule opens the next one. Other
// records (crawl-delay, sitemap, unknown keys) never affect grouping.
class GroupReader {
 public:
  void line(std::string_view text, int number) {
    text = text.substr(0, text.find('#'));
    std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view key = trim_space(text.substr(0, colon));
    std::string_view value = trim_space(text.substr(colon + 1));
    if (iequals(key, "user-agent")) return user_agent(value);
    if (iequals(key, "allow")) return rule(true, value, number);
    if (iequals(key, "disallow")) return rule(false, value, number);
    if (iequals(key, "crawl-delay")) return crawl_delay(value);
    if (iequals(key, "sitemap") && !value.empty()) sitemaps_.emplace_back(value);
  }

  std::vector<Group>& groups() { return groups_; }
  std::vector<std::string>& sitemaps() { return sitemaps_; }

 private:
  void user_agent(std::string_view value) {
    if (groups_.empty() || in_rules_) groups_.emplace_back();
    in_rules_ = false;
    groups_.back().agents.push_back(value);
  }

  void rule(bool allow, std::string_view value, int number) {
    // Rules before the first user-agent line belong to no group.
    if (groups_.empty()) return;
    in_rules_ = true;
    // An empty value matches nothing (RFC 9309 section 2.2.2 example "Disallow:").
    if (value.empty()) return;
    groups_.back().rules.push_back(RobotsRule{allow, std::string(value), number});
  }

  void crawl_delay(std::string_view value) {
    if (groups_.empty()) return;
    std::optional<double> seconds = parse_crawl_delay(value);
    if (!seconds) return;
    auto& current = groups_.back().crawl_delay;
    current = std::max(current.value_or(0.0), *seconds);
  }

  std::vector<Group> groups_;
  std::vector<std::string> sitemaps_;
  bool in_rules_ = false;
};

// Feeds `body` to `reader` line by line; CR, LF and CRLF all end a line.
void read_lines(std::string_view body, GroupReader& reader) {
  int number = 0;
  for (;;) {
    std::size_t eol = body.find_first_of("\r\n");
    reader.line(body.substr(0, eol), ++number);
    if (eol == std::string_view::npos) return;
    bool crlf = body[eol] == '\r' && eol + 1 < body.size() && body[eol + 1] == '\n';
    body.remove_prefix(eol + (crlf ? 2 : 1));
  }
}

}  // namespace

RobotsTxt RobotsTxt::parse(std::string_view body, std::string_view product_token_value) {
  body = cap_body(body);
  if (body.substr(0, kBom.size()) == kBom) body.remove_prefix(kBom.size());
  GroupReader reader;
  read_lines(body, reader);

  RobotsTxt robots;
  robots.sitemaps_ = std::move(reader.sitemaps());
  std::string token = product_token(product_token_value);
  auto take_groups = [&](auto&& applies) {
    bool any = false;
    for (const Group& group : reader.groups()) {
      if (std::none_of(group.agents.begin(), group.agents.end(), applies)) continue;
      any = true;
      for (const RobotsRule& rule : group.rules) {
        robots.rules_.push_back(Rule{rule, normalize(rule.pattern, true)});
      }
      if (group.crawl_delay) {
        robots.crawl_delay_ = std::max(robots.crawl_delay_.value_or(0.0), *group.crawl_delay);
      }
    }
    return any;
  };
  // RFC 9309 section 2.2.1: groups naming the crawler win over "*" groups,
  // and groups with the same user agent are combined.
  if (!take_groups([&](std::string_view agent) { return names_token(agent, token); })) {
    take_groups(is_star_agent);
  }
  return robots;
}

RobotsTxt RobotsTxt::allow_all() { return RobotsTxt(); }

RobotsTxt RobotsTxt::disallow_all() {
  RobotsTxt robots;
  robots.rules_.push_back(Rule{RobotsRule{false, "/", 0}, "/"});
  return robots;
}

RobotsDecision RobotsTxt::check(std::string_view path_and_query) const {
  // RFC 9309 section 2.2.2: "/robots.txt" is implicitly allowed.
  if (path_and_query.substr(0, path_and_query.find('?')) == "/robots.txt") return {};
  std::string subject = normalize(path_and_query.empty() ? "/" : path_and_query, false);
  const Rule* best = nullptr;
  for (const Rule& rule : rules_) {
    // Longest pattern wins; on equal length allow wins (section 2.2.2).
    bool better = !best || rule.match.size() > best->match.size() ||
                  (rule.match.size() == best->match.size() && rule.source.allow &&
                   !best->source.allow);
    if (better && matches(rule.match, subject)) best = &rule;
  }
  if (!best) return {};
  return RobotsDecision{best->source.allow, best->source};
}

std::string product_token(std::string_view user_agent) {
  user_agent = trim_space(user_agent);
  std::size_t n = 0;
  while (n < user_agent.size() && is_token_char(user_agent[n])) ++n;
  return std::string(user_agent.substr(0, n));
}

}  // namespace webcrawl::parser
