// An HTTP cookie jar per RFC 6265 (sections 4.1 and 5), with two rules of
// RFC 6265bis that browsers now follow: a Secure cookie may only be set over
// https, and an http response may not set a cookie that would overwrite or
// shadow a Secure one (6265bis 5.7, step 16).
//
// Sans-I/O and deterministic: the crawler hands in response headers and the
// time, and asks for Cookie header values; nothing here reads a clock, a file
// or a socket. Nothing fails either: a Set-Cookie value the RFC says to ignore
// is ignored. Memory stays bounded whatever a server sends: a value longer
// than kMaxCookieBytes is dropped unread, and past kMaxCookiesPerDomain or
// kMaxCookies the least recently created cookies are evicted.
//
// One jar per crawl; not thread-safe (the loop thread owns it).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parser/http_response.h"
#include "parser/url.h"

namespace webcrawl::parser {

// RFC 6265 section 6.1 asks for at least these; we keep at most these.
// A Set-Cookie field value (name, value and attributes) longer than this is ignored.
inline constexpr std::size_t kMaxCookieBytes = 4096;
// Cookies with the same `domain`; past it the domain's oldest is evicted.
inline constexpr std::size_t kMaxCookiesPerDomain = 50;
// Cookies in the jar; past it the jar's oldest is evicted.
inline constexpr std::size_t kMaxCookies = 3000;

struct Cookie {
  std::string name, value;
  std::string domain;   // lowercase, no leading dot
  std::string path;     // starts with '/'
  std::optional<double> expires;  // unix seconds; none: a session cookie (kept for the crawl)
  bool secure = false, http_only = false, host_only = true;
  double created = 0;   // unix seconds; orders cookies with equal path length

  bool operator==(const Cookie&) const = default;
};

// One change to the jar, for persistence. A removed change carries the cookie
// as it was (its domain, path and name are the database key).
struct CookieChange {
  Cookie cookie;
  bool removed = false;
};

// The unix time of a cookie-date (RFC 6265 5.1.1), or none when it is not one.
// Tolerates what servers send: "Sun, 06 Nov 1994 08:49:37 GMT",
// "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"; two-digit
// years 70-99 are 19xx and 00-69 are 20xx. Pure and thread-safe.
std::optional<double> parse_cookie_date(std::string_view text);

class CookieJar {
 public:
  // `is_public_suffix` says whether a domain is a public suffix (the crawler
  // passes libpsl); a Domain attribute that is one is refused (RFC 6265 5.3
  // step 5) unless it equals the request host (then host-only). An empty
  // function treats no domain as a public suffix.
  explicit CookieJar(std::function<bool(std::string_view domain)> is_public_suffix);

  // Takes the Set-Cookie field values of a response to `url` received at
  // `now`, in order (a later one replaces an earlier one with the same name,
  // domain and path). Drops cookies that have expired by `now`.
  void receive(const Url& url, const Headers& response_headers, double now);
  // The Cookie request header value for `url` at `now` ("" when none):
  // domain-match, path-match, Secure only over https, expired ones dropped,
  // sorted longer path first then earlier created (5.4). HttpOnly cookies are
  // sent: the crawler is the HTTP client, not a script.
  std::string header_for(const Url& url, double now);
  // A cookie from storage (a resumed crawl), kept as it is, creation time
  // included. One that has expired by `now`, or that is not a cookie this jar
  // could hold (no name, no domain, a path not starting with '/', a time that
  // is not finite, too large), is dropped and reported as removed, so that
  // the crawler deletes its row. Limits apply as to received cookies.
  void load(Cookie cookie, double now);
  // What changed since the last call, oldest first, so that the crawler can
  // write it to the database in order. Changes to one cookie are merged into
  // the last of them (a set then a replacement is one set), and a cookie set
  // and removed again before it was ever taken is not reported at all: so
  // applying the list to what the previous lists built gives the jar's
  // content, and the list stays bounded however long it is not taken.
  std::vector<CookieChange> take_changes();
  // Cookies held, expired ones not yet dropped included.
  std::size_t size() const { return cookies_.size(); }

 private:
  // The domain is stored reversed ("moc.elpmaxe"), so that the cookies of a
  // domain, and of all its subdomains, are neighbours in the map.
  struct Key {
    std::string rdomain, path, name;
    auto operator<=>(const Key&) const = default;
  };
  struct Entry {
    Cookie cookie;
    std::uint64_t seq;  // creation order, to break ties between equal `created`
  };
  using Store = std::map<Key, Entry>;
  using Range = std::pair<Store::const_iterator, Store::const_iterator>;
  using When = std::pair<double, std::uint64_t>;  // a time, then the entry's seq
  struct Pending {
    CookieChange change;
    std::uint64_t order;
  };

  void store(Cookie cookie, double now, bool from_response);
  void insert(Key key, Cookie cookie, std::uint64_t seq);
  void remove(Store::iterator it);    // reports the removal
  void unindex(Store::iterator it);   // erases without a report
  void record(const Key& key, const Cookie& cookie, bool removed);
  void purge_expired(double now);
  void enforce_limits(const std::string& rdomain);
  bool shadows_secure(const Cookie& cookie) const;
  Range on_domain(std::string_view rdomain) const;
  Range under_domain(std::string_view rdomain) const;

  std::function<bool(std::string_view)> is_public_suffix_;
  Store cookies_;
  std::map<When, Store::iterator> by_created_;  // every cookie, oldest first
  std::map<When, Store::iterator> by_expiry_;   // cookies with an expiry, soonest first
  std::map<Key, Pending> pending_;  // at most one change per cookie
  std::set<Key> stored_;            // cookies the database holds, as far as we told it
  std::uint64_t next_seq_ = 0;
  std::uint64_t next_order_ = 0;
};

}  // namespace webcrawl::parser
