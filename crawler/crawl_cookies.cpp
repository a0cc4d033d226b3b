// --cookies: the crawl's RFC 6265 jar (parser/cookies.h) on the loop thread.
// Every request gets the jar's Cookie header; every response, each redirect
// hop and robots.txt included, hands its Set-Cookie fields back. What
// changes goes to the writer, so the `cookies` table commits with the pages
// the responses brought, and a resumed crawl (even after SIGKILL) carries on
// with the session it had.
#include "common/clock.h"
#include "crawler/crawl.h"
#include "parser/ascii.h"

namespace webcrawl::crawler {
namespace {

parser::Cookie cookie_of(storage::CookieRecord r) {
  parser::Cookie c;
  c.name = std::move(r.name);
  c.value = std::move(r.value);
  c.domain = std::move(r.domain);
  c.path = std::move(r.path);
  c.expires = r.expires;
  c.secure = r.secure;
  c.http_only = r.http_only;
  c.host_only = r.host_only;
  c.created = r.created;
  return c;
}

storage::CookieRecord record_of(parser::CookieChange change) {
  parser::Cookie& c = change.cookie;
  storage::CookieRecord r;
  r.domain = std::move(c.domain);
  r.path = std::move(c.path);
  r.name = std::move(c.name);
  r.value = std::move(c.value);
  r.expires = c.expires;
  r.secure = c.secure;
  r.http_only = c.http_only;
  r.host_only = c.host_only;
  r.created = c.created;
  r.removed = change.removed;
  return r;
}

}  // namespace

Result<void> Crawl::load_cookies() {
  cookies_ = std::make_unique<parser::CookieJar>(
      [this](std::string_view domain) { return policy_.is_public_suffix(domain); });
  auto earlier = store_->cookies();
  if (!earlier) return earlier.error();
  double now = unix_now();
  for (storage::CookieRecord& r : *earlier) cookies_->load(cookie_of(std::move(r)), now);
  // Cookies that expired since the last run are gone from the jar; their
  // rows go now, before the writer starts.
  storage::Batch expired;
  for (parser::CookieChange& change : cookies_->take_changes()) expired.cookies.push_back(record_of(std::move(change)));
  if (expired.cookies.empty()) return {};
  auto committed = store_->commit(expired);
  if (!committed) return committed.error();
  return {};
}

void Crawl::add_cookie_header(FetchRequest& request) {
  if (!cookies_) return;
  std::string value = cookies_->header_for(request.url, unix_now());
  if (value.empty()) return;
  // RFC 6265 5.4: one Cookie header. A --header Cookie the user gave is kept,
  // the jar's cookies after it.
  for (auto& [name, field] : request.headers) {
    if (!parser::iequals(name, "cookie")) continue;
    field += "; " + value;
    return;
  }
  request.headers.emplace_back("Cookie", std::move(value));
}

void Crawl::take_cookies(const parser::Url& url, const FetchResponse& response) {
  if (!cookies_ || response.headers.empty()) return;
  cookies_->receive(url, response.headers, unix_now());
  for (parser::CookieChange& change : cookies_->take_changes()) writer_->submit(record_of(std::move(change)));
}

}  // namespace webcrawl::crawler
