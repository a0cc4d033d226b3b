// From a fetched response to the row the store keeps.
#include "crawler/page_builder.h"

#include <catch2/catch.hpp>

using namespace webcrawl;
using namespace webcrawl::crawler;

namespace {

FetchedPage fetched(int status, std::string content_type, std::string body) {
  FetchedPage p;
  p.url = storage::QueuedUrl{7, "http://a.test/p", "http://a.test", 1, 0};
  p.final_url = *parser::parse_url("http://a.test/p");
  p.status = status;
  p.content_type = std::move(content_type);
  p.body = std::move(body);
  p.wire_bytes = static_cast<int64_t>(p.body.size());
  p.fetched_at = 1700000000;
  return p;
}

}  // namespace

TEST_CASE("the media type is lowercase without parameters", "[page_builder]") {
  CHECK(media_type("Text/HTML; charset=UTF-8") == "text/html");
  CHECK(media_type("  application/xhtml+xml ") == "application/xhtml+xml");
  CHECK(media_type("").empty());
}

TEST_CASE("only 2xx HTML, or untyped bodies that look like HTML, are parsed", "[page_builder]") {
  CHECK(wants_parsing(fetched(200, "text/html", "<p>x</p>")));
  CHECK(wants_parsing(fetched(203, "application/xhtml+xml", "<p>x</p>")));
  CHECK(wants_parsing(fetched(200, "", "\xEF\xBB\xBF  <!DOCTYPE html><p>x</p>")));
  CHECK_FALSE(wants_parsing(fetched(200, "", "just text")));
  CHECK_FALSE(wants_parsing(fetched(200, "text/plain", "<p>x</p>")));
  CHECK_FALSE(wants_parsing(fetched(404, "text/html", "<p>x</p>")));
}

TEST_CASE("an HTML page becomes title, text and links decided by the link policy", "[page_builder]") {
  LinkPolicy policy(Scope::kHost, 1, 2048);
  policy.add_seed_host("a.test");
  auto r = build_page(fetched(200, "text/html; charset=utf-8",
                              "<title>T</title><p>Hello</p><a href='/in'>in</a><a href='http://b.test/'>out</a>"
                              "<a href='/deep'>deep</a>"),
                      policy);
  CHECK(r.url_id == 7);
  CHECK(r.title == "T");
  CHECK(r.text.find("Hello") != std::string::npos);
  CHECK(r.index);
  CHECK(r.charset == "UTF-8");
  REQUIRE(r.links.size() == 3);
  CHECK(r.links[0].target.url == "http://a.test/in");
  CHECK_FALSE(r.links[0].target.follow);  // depth 2 > max depth 1
  CHECK(r.links[0].target.skip_reason == "max depth");
  CHECK(r.links[1].target.skip_reason == "out of scope");
}

TEST_CASE("noindex keeps the page but not its text", "[page_builder]") {
  LinkPolicy policy(Scope::kAny, std::nullopt, 2048);
  auto r = build_page(fetched(200, "text/html", "<meta name=robots content=noindex><title>T</title><p>secret</p>"),
                      policy);
  CHECK_FALSE(r.index);
  CHECK(r.text.empty());
  CHECK(r.title == "T");
}

TEST_CASE("bytes that are not UTF-8 and declare nothing are read as windows-1252", "[page_builder]") {
  LinkPolicy policy(Scope::kAny, std::nullopt, 2048);
  auto r = build_page(fetched(200, "text/html", "<p>caf\xE9</p>"), policy);
  CHECK(r.charset == "windows-1252");
  CHECK(r.text == "caf\xC3\xA9");
}

TEST_CASE("a response that is not parsed keeps its status and type only", "[page_builder]") {
  LinkPolicy policy(Scope::kAny, std::nullopt, 2048);
  auto r = build_page(fetched(404, "text/html; charset=x", "<a href='/x'>x</a>"), policy);
  CHECK(r.status == 404);
  CHECK(r.content_type == "text/html");
  CHECK(r.links.empty());
  CHECK(r.title.empty());
}
