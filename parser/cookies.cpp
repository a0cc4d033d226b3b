// RFC 6265: parsing Set-Cookie (5.2), the cookie-date algorithm (5.1.1), the
// storage model (5.3) and the Cookie header (5.4).
#include "parser/cookies.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "parser/ascii.h"

namespace webcrawl::parser {
namespace {

// Max-Age values past this (about 31 million years) are clamped to it, so
// that the expiry stays an exact, finite double.
constexpr double kMaxAgeSeconds = 1e15;

// ---------------------------------------------------------------------------
// The cookie-date algorithm, 5.1.1.

bool is_date_delimiter(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return c == 0x09 || (c >= 0x20 && c <= 0x2F) || (c >= 0x3B && c <= 0x40) ||
         (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

// Reads `min` to `max` digits from the front of `s`; fails if more digits follow.
std::optional<int> take_digits(std::string_view& s, std::size_t min, std::size_t max) {
  std::size_t n = 0;
  int value = 0;
  while (n < s.size() && is_ascii_digit(s[n])) {
    if (++n > max) return std::nullopt;
    value = value * 10 + (s[n - 1] - '0');
  }
  if (n < min) return std::nullopt;
  s.remove_prefix(n);
  return value;
}

bool take_colon(std::string_view& s) {
  if (s.empty() || s.front() != ':') return false;
  s.remove_prefix(1);
  return true;
}

struct TimeOfDay {
  int hour, minute, second;
};

std::optional<TimeOfDay> time_token(std::string_view token) {
  auto hour = take_digits(token, 1, 2);
  if (!hour || !take_colon(token)) return std::nullopt;
  auto minute = take_digits(token, 1, 2);
  if (!minute || !take_colon(token)) return std::nullopt;
  auto second = take_digits(token, 1, 2);
  if (!second) return std::nullopt;
  return TimeOfDay{*hour, *minute, *second};
}

std::optional<int> month_token(std::string_view token) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (istarts_with(token, kMonths[i])) return static_cast<int>(i) + 1;
  }
  return std::nullopt;
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// Days from 1970-01-01 to the given date (proleptic Gregorian), after
// Howard Hinnant's days_from_civil.
std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const std::int64_t year_of_era = year - era * 400;
  const std::int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const std::int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

// ---------------------------------------------------------------------------
// Set-Cookie parsing, 5.2.

// What a Set-Cookie value says, before the storage model looks at the request.
struct SetCookie {
  std::string_view name, value;
  std::optional<double> expires;     // from Max-Age, else from Expires
  std::optional<std::string> domain;  // lowercase, leading dot dropped
  std::optional<std::string_view> path;  // only one starting with '/'
  bool secure = false, http_only = false;
};

// CTLs other than HTAB (6265bis 5.7 step 1): a value holding one is ignored.
bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7F;
  });
}

// 5.2.2: an optional '-', then digits; anything else leaves the attribute unused.
std::optional<double> max_age_expiry(std::string_view value, double now) {
  bool negative = !value.empty() && value.front() == '-';
  if (negative) value.remove_prefix(1);
  if (value.empty()) return std::nullopt;
  double seconds = 0;
  for (char c : value) {
    if (!is_ascii_digit(c)) return std::nullopt;
    seconds = std::min(seconds * 10 + (c - '0'), kMaxAgeSeconds);
  }
  // Zero or less: "the earliest representable date", which has passed.
  if (negative || seconds == 0) return -INFINITY;
  return now + seconds;
}

void apply_attribute(SetCookie& out, std::optional<double>& max_age, std::string_view name,
                     std::string_view value, double now) {
  if (iequals(name, "expires")) {
    if (auto date = parse_cookie_date(value)) out.expires = date;
  } else if (iequals(name, "max-age")) {
    if (auto expiry = max_age_expiry(value, now)) max_age = expiry;
  } else if (iequals(name, "domain")) {
    // An empty Domain is undefined in RFC 6265; 6265bis ignores the attribute.
    if (value.empty()) return;
    if (value.front() == '.') value.remove_prefix(1);
    out.domain = ascii_lowercase(value);
  } else if (iequals(name, "path")) {
    // A path not starting with '/' means the default path (5.2.4).
    out.path = value.empty() || value.front() != '/' ? std::nullopt : std::optional(value);
  } else if (iequals(name, "secure")) {
    out.secure = true;
  } else if (iequals(name, "httponly")) {
    out.http_only = true;
  }
}

std::optional<SetCookie> parse_set_cookie(std::string_view field, double now) {
  if (field.size() > kMaxCookieBytes || has_control(field)) return std::nullopt;
  std::size_t semicolon = field.find(';');
  std::string_view pair = field.substr(0, semicolon);
  std::size_t equals = pair.find('=');
  if (equals == std::string_view::npos) return std::nullopt;
  SetCookie out;
  out.name = trim_ows(pair.substr(0, equals));
  out.value = trim_ows(pair.substr(equals + 1));
  if (out.name.empty()) return std::nullopt;

  // The last of each attribute wins (5.3 step 3); Max-Age wins over Expires.
  std::optional<double> max_age;
  std::string_view rest = semicolon == std::string_view::npos ? "" : field.substr(semicolon);
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the ';'
    std::string_view av = rest.substr(0, rest.find(';'));
    rest.remove_prefix(av.size());
    std::size_t eq = av.find('=');
    std::string_view value = eq == std::string_view::npos ? "" : av.substr(eq + 1);
    apply_attribute(out, max_age, trim_ows(av.substr(0, eq)), trim_ows(value), now);
  }
  if (max_age) out.expires = max_age;
  return out;
}

// ---------------------------------------------------------------------------
// Matching, 5.1.3 and 5.1.4.

std::string reversed(std::string_view s) { return std::string(s.rbegin(), s.rend()); }

// 5.1.3: `host` is `domain` or a subdomain of it; an IP address only matches itself.
bool domain_matches(std::string_view host, bool host_is_ip, std::string_view domain) {
  if (host == domain) return true;
  return !host_is_ip && host.size() > domain.size() && host.ends_with(domain) &&
         host[host.size() - domain.size() - 1] == '.';
}

bool path_matches(std::string_view request_path, std::string_view cookie_path) {
  if (!request_path.starts_with(cookie_path)) return false;
  return request_path.size() == cookie_path.size() || cookie_path.back() == '/' ||
         request_path[cookie_path.size()] == '/';
}

// 5.1.4: the request path up to, not including, its last '/'; "/" when that is empty.
std::string default_path(std::string_view request_path) {
  std::size_t last = request_path.rfind('/');
  if (last == 0 || last == std::string_view::npos) return "/";
  return std::string(request_path.substr(0, last));
}

// When an entry was created; `seq` breaks ties between equal times.
template <class Entry>
std::pair<double, std::uint64_t> created_of(const Entry& entry) {
  return {entry.cookie.created, entry.seq};
}

bool expired(const Cookie& cookie, double now) { return cookie.expires && *cookie.expires <= now; }

bool loadable(const Cookie& c) {
  bool finite = std::isfinite(c.created) && (!c.expires || std::isfinite(*c.expires));
  std::size_t bytes = c.name.size() + c.value.size() + c.domain.size() + c.path.size();
  return finite && !c.name.empty() && !c.domain.empty() && c.path.starts_with('/') &&
         bytes <= kMaxCookieBytes;
}

// The cookie a response to `url` sets (5.3 steps 2 to 9), or none when it is
// to be ignored.
std::optional<Cookie> make_cookie(const SetCookie& set, const Url& url, double now,
                                  const std::function<bool(std::string_view)>& is_public_suffix) {
  std::string host = url.hostname();
  bool ip = url.host_is_ip();
  Cookie cookie{.name = std::string(set.name), .value = std::string(set.value), .domain = host,
                .path = set.path ? std::string(*set.path) : default_path(url.path),
                .expires = set.expires, .secure = set.secure, .http_only = set.http_only,
                .host_only = true, .created = now};
  if (set.domain && *set.domain != host) {
    if (ip || (is_public_suffix && is_public_suffix(*set.domain))) return std::nullopt;
    if (!domain_matches(host, ip, *set.domain)) return std::nullopt;
    cookie.host_only = false;
    cookie.domain = *set.domain;
  } else if (set.domain && !ip) {
    // Domain=host: a domain cookie unless the host is itself a public suffix.
    cookie.host_only = is_public_suffix && is_public_suffix(host);
  }
  return cookie;
}

}  // namespace

std::optional<double> parse_cookie_date(std::string_view text) {
  std::optional<TimeOfDay> time;
  std::optional<int> day, month, year;
  while (!text.empty()) {
    auto start = std::find_if_not(text.begin(), text.end(), is_date_delimiter);
    auto end = std::find_if(start, text.end(), is_date_delimiter);
    std::string_view token(start, end);
    text.remove_prefix(static_cast<std::size_t>(end - text.begin()));
    if (token.empty()) continue;
    if (!time && (time = time_token(token))) continue;
    if (!day && (day = take_digits(token, 1, 2))) continue;
    if (!month && (month = month_token(token))) continue;
    if (!year) year = take_digits(token, 2, 4);
  }
  if (!time || !day || !month || !year) return std::nullopt;
  if (*year >= 70 && *year <= 99) *year += 1900;
  if (*year <= 69) *year += 2000;
  if (*year < 1601 || *day < 1 || *day > days_in_month(*year, *month)) return std::nullopt;
  if (time->hour > 23 || time->minute > 59 || time->second > 59) return std::nullopt;
  double days = static_cast<double>(days_from_civil(*year, *month, *day));
  return days * 86400 + time->hour * 3600 + time->minute * 60 + time->second;
}

CookieJar::CookieJar(std::function<bool(std::string_view domain)> is_public_suffix)
    : is_public_suffix_(std::move(is_public_suffix)) {}

void CookieJar::receive(const Url& url, const Headers& response_headers, double now) {
  purge_expired(now);
  for (const auto& [name, field] : response_headers) {
    if (!iequals(name, "set-cookie")) continue;
    auto set = parse_set_cookie(field, now);
    if (!set) continue;
    // 6265bis: only a secure origin may set a Secure cookie.
    if (set->secure && !url.https()) continue;
    auto cookie = make_cookie(*set, url, now, is_public_suffix_);
    if (!cookie || (!url.https() && shadows_secure(*cookie))) continue;
    store(std::move(*cookie), now, true);
  }
}

std::string CookieJar::header_for(const Url& url, double now) {
  purge_expired(now);
  std::string host = url.hostname();
  std::vector<const Entry*> matches;
  // The host, then each parent domain: the only domains the host domain-matches.
  for (std::string_view domain = host; !domain.empty();) {
    for (auto [it, end] = on_domain(reversed(domain)); it != end; ++it) {
      const Cookie& c = it->second.cookie;
      if (c.host_only && domain != host) continue;
      if (c.secure && !url.https()) continue;
      if (path_matches(url.path, c.path)) matches.push_back(&it->second);
    }
    std::size_t dot = domain.find('.');
    domain = url.host_is_ip() || dot == std::string_view::npos ? "" : domain.substr(dot + 1);
  }
  std::sort(matches.begin(), matches.end(), [](const Entry* a, const Entry* b) {
    std::size_t a_path = a->cookie.path.size(), b_path = b->cookie.path.size();
    return a_path != b_path ? a_path > b_path : created_of(*a) < created_of(*b);
  });
  std::string header;
  for (const Entry* entry : matches) {
    if (!header.empty()) header += "; ";
    header += entry->cookie.name + "=" + entry->cookie.value;
  }
  return header;
}

void CookieJar::load(Cookie cookie, double now) {
  purge_expired(now);
  Key key{reversed(cookie.domain), cookie.path, cookie.name};
  stored_.insert(key);
  if (!loadable(cookie) || expired(cookie, now)) return record(key, cookie, true);
  store(std::move(cookie), now, false);
}

std::vector<CookieChange> CookieJar::take_changes() {
  std::vector<std::pair<const Key*, Pending*>> ordered;
  for (auto& [key, pending] : pending_) ordered.emplace_back(&key, &pending);
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.second->order < b.second->order; });
  std::vector<CookieChange> changes;
  changes.reserve(ordered.size());
  for (auto& [key, pending] : ordered) {
    if (pending->change.removed) {
      stored_.erase(*key);
    } else {
      stored_.insert(*key);
    }
    changes.push_back(std::move(pending->change));
  }
  pending_.clear();
  return changes;
}

// 5.3 steps 11 and 12: a cookie with the same name, domain and path is
// replaced, and an expired one only removes it.
void CookieJar::store(Cookie cookie, double now, bool from_response) {
  Key key{reversed(cookie.domain), cookie.path, cookie.name};
  std::uint64_t seq = next_seq_++;
  if (auto old = cookies_.find(key); old != cookies_.end()) {
    // 5.3 step 11.3: the replacement keeps the original creation time.
    if (from_response) cookie.created = old->second.cookie.created;
    seq = old->second.seq;
    if (expired(cookie, now)) return remove(old);
    unindex(old);
  } else if (expired(cookie, now)) {
    return;
  }
  if (from_response) record(key, cookie, false);
  std::string rdomain = key.rdomain;
  insert(std::move(key), std::move(cookie), seq);
  enforce_limits(rdomain);
}

void CookieJar::insert(Key key, Cookie cookie, std::uint64_t seq) {
  auto it = cookies_.emplace(std::move(key), Entry{std::move(cookie), seq}).first;
  by_created_.emplace(created_of(it->second), it);
  if (auto expires = it->second.cookie.expires) by_expiry_.emplace(When{*expires, seq}, it);
}

void CookieJar::remove(Store::iterator it) {
  const Entry& entry = it->second;
  record(it->first, entry.cookie, true);
  unindex(it);
}

void CookieJar::unindex(Store::iterator it) {
  const Entry& entry = it->second;
  by_created_.erase(created_of(entry));
  if (entry.cookie.expires) by_expiry_.erase({*entry.cookie.expires, entry.seq});
  cookies_.erase(it);
}

void CookieJar::record(const Key& key, const Cookie& cookie, bool removed) {
  // What the database never held needs no removal; dropping it keeps pending_
  // bounded by the cookies in the jar plus those in the database.
  if (removed && !stored_.contains(key)) {
    pending_.erase(key);
    return;
  }
  pending_.insert_or_assign(key, Pending{CookieChange{cookie, removed}, next_order_++});
}

void CookieJar::purge_expired(double now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first.first <= now) {
    remove(by_expiry_.begin()->second);
  }
}

// 5.3: past the limits, the least recently created cookies go first (expired
// ones are already gone, purged on every call).
void CookieJar::enforce_limits(const std::string& rdomain) {
  auto [begin, end] = on_domain(rdomain);
  if (static_cast<std::size_t>(std::distance(begin, end)) > kMaxCookiesPerDomain) {
    auto oldest = std::min_element(begin, end, [](const auto& a, const auto& b) {
      return created_of(a.second) < created_of(b.second);
    });
    remove(cookies_.find(oldest->first));
  }
  while (cookies_.size() > kMaxCookies) remove(by_created_.begin()->second);
}

// 6265bis 5.7 step 16: an insecure response may not set a cookie named as a
// Secure one whose domain domain-matches its domain or the other way round,
// and whose path its path path-matches.
bool CookieJar::shadows_secure(const Cookie& cookie) const {
  auto shadows = [&](Range range) {
    return std::any_of(range.first, range.second, [&](const auto& kv) {
      const Cookie& old = kv.second.cookie;
      return old.secure && old.name == cookie.name && path_matches(cookie.path, old.path);
    });
  };
  std::string rdomain = reversed(cookie.domain);
  if (shadows(under_domain(rdomain))) return true;
  // The domain itself, then each parent: a prefix of the reversed domain ending at a '.'.
  for (std::size_t end = rdomain.size(); end != std::string::npos && end > 0;
       end = rdomain.rfind('.', end - 1)) {
    if (shadows(on_domain(std::string_view(rdomain).substr(0, end)))) return true;
  }
  return false;
}

// Keys sort by rdomain first, and nothing sorts between "x" and "x\0".
CookieJar::Range CookieJar::on_domain(std::string_view rdomain) const {
  std::string domain(rdomain);
  return {cookies_.lower_bound(Key{domain, "", ""}), cookies_.lower_bound(Key{domain + '\0', "", ""})};
}

// The subdomains of a domain, reversed, start with its reversed name and a
// '.', and '/' follows '.' in ASCII.
CookieJar::Range CookieJar::under_domain(std::string_view rdomain) const {
  std::string domain(rdomain);
  return {cookies_.lower_bound(Key{domain + '.', "", ""}), cookies_.lower_bound(Key{domain + '/', "", ""})};
}

}  // namespace webcrawl::parser
