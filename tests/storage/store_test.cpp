// The write side: seeds, batches, URL states, redirect chains, the run manifest.
#include "storage/store.h"

#include <catch2/catch.hpp>

#include "tests/storage/store_fixtures.h"

namespace webcrawl::storage::test {
namespace {

TEST_CASE("reopening a crawl resumes its queued URLs in id order", "[storage]") {
  TempDir dir;
  std::string path = dir.file("c.db").string();
  {
    auto store = open_store(path);
    int64_t a = seed(*store, "http://a.test/");
    PageResult p = page(a, "http://a.test/");
    p.links = {link("http://a.test/x"), link("http://b.test/y")};
    commit(*store, {p});
  }
  auto store = open_store(path);
  auto queued = store->queued_urls();
  REQUIRE(queued);
  REQUIRE(queued->size() == 2);
  CHECK(queued->at(0).url == "http://a.test/x");
  CHECK(queued->at(1).url == "http://b.test/y");
  CHECK(queued->at(1).origin == "http://b.test");
  CHECK(queued->at(1).depth == 1);
}

// ---- seeds ----

TEST_CASE("add_seeds queues new seeds at depth 0", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  auto queued = store->add_seeds({to("http://a.test/", 3), to("http://b.test/", 3)});
  REQUIRE(queued);
  REQUIRE(queued->size() == 2);
  CHECK(queued->at(0).depth == 0);
  CHECK(queued->at(1).origin == "http://b.test");
  CHECK(state_of(*store, "http://b.test/") == "queued");
}

TEST_CASE("add_seeds re-queues discovered and skipped URLs but leaves done ones", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  PageResult p = page(a, "http://a.test/");
  p.links = {OutLink{to("http://a.test/d", 2, false), "", false},
             OutLink{to("http://o.test/", 2, false, "out of scope"), "", false}};
  commit(*store, {p});

  auto queued =
      store->add_seeds({to("http://a.test/"), to("http://a.test/d"), to("http://o.test/")});
  REQUIRE(queued);
  REQUIRE(queued->size() == 2);
  CHECK(queued->at(0).url == "http://a.test/d");
  CHECK(queued->at(1).url == "http://o.test/");
  CHECK(state_of(*store, "http://a.test/") == "done");
  CHECK(
      scalar(
          *store,
          "SELECT depth || state || ifnull(reason, '-') FROM urls WHERE url = 'http://o.test/'") ==
      "0queued-");
}

TEST_CASE("add_seeds returns seeds that are still queued, once each", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  seed(*store, "http://a.test/");
  auto queued = store->add_seeds({to("http://a.test/"), to("http://a.test/")});
  REQUIRE(queued);
  CHECK(queued->size() == 1);
}

// ---- commit ----

TEST_CASE("the pages view has the documented columns and one row per document", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  commit(*store, {page(a, "http://a.test/", "Home", "Welcome home")});

  std::vector<std::string> expected = {"url",   "final_url", "status",    "content_type",
                                       "depth", "title",     "text",      "fetched_at",
                                       "error", "bytes",     "truncated", "host"};
  auto names = columns(*store, "SELECT * FROM pages");
  REQUIRE(names.size() >= expected.size());
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 12) == expected);
  CHECK(rows(*store,
             "SELECT url, final_url, status, content_type, depth, title, text, fetched_at, "
             "error, bytes, truncated, host FROM pages") ==
        Rows{{"http://a.test/", "http://a.test/", "200", "text/html", "0", "Home", "Welcome home",
              "2023-11-14T22:13:20.250Z", "", "100", "0", "http://a.test"}});
}

TEST_CASE("the links view has the documented columns and stores each link once", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  PageResult p = page(a, "http://a.test/");
  p.links = {link("http://a.test/x", "first"), link("http://a.test/y", "why")};
  commit(*store, {p});
  p.links = {link("http://a.test/x", "second")};
  commit(*store, {p});

  auto names = columns(*store, "SELECT * FROM links");
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 4) ==
        std::vector<std::string>{"src_url", "dst_url", "anchor_text", "nofollow"});
  CHECK(
      rows(*store, "SELECT src_url, dst_url, anchor_text, nofollow FROM links ORDER BY dst_url") ==
      Rows{{"http://a.test/", "http://a.test/x", "first", "0"},
           {"http://a.test/", "http://a.test/y", "why", "0"}});
}

TEST_CASE("commit returns the URLs it newly queued", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  int64_t b = seed(*store, "http://b.test/");
  PageResult pa = page(a, "http://a.test/");
  pa.links = {link("http://a.test/x"), link("http://b.test/")};
  PageResult pb = page(b, "http://b.test/");
  pb.links = {link("http://a.test/x"), OutLink{to("http://b.test/n", 1, false), "", true}};
  auto queued = store->commit({pa, pb});
  REQUIRE(queued);
  REQUIRE(queued->size() == 1);
  CHECK(queued->at(0).url == "http://a.test/x");
  CHECK(state_of(*store, "http://b.test/n") == "discovered");
}

TEST_CASE("url states record done, failed and skipped results with their reasons", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t ok = seed(*store, "http://a.test/ok");
  int64_t bad = seed(*store, "http://a.test/bad");
  int64_t robots = seed(*store, "http://a.test/private");
  int64_t missing = seed(*store, "http://a.test/missing");
  PageResult failed = page(bad, "http://a.test/bad");
  failed.status.reset();
  failed.error = "connection refused";
  PageResult skipped = page(robots, "http://a.test/private");
  skipped.status.reset();
  skipped.skipped = true;
  skipped.error = "disallowed by robots.txt";
  PageResult not_found = page(missing, "http://a.test/missing");
  not_found.status = 404;
  commit(*store, {page(ok, "http://a.test/ok"), failed, skipped, not_found});
  CHECK(rows(*store, "SELECT url, state, ifnull(reason, '-') FROM urls ORDER BY id") ==
        Rows{{"http://a.test/ok", "done", "-"},
             {"http://a.test/bad", "failed", "connection refused"},
             {"http://a.test/private", "skipped", "disallowed by robots.txt"},
             {"http://a.test/missing", "done", "-"}});
}

TEST_CASE("a link target skipped for a reason is stored with it and not queued", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  PageResult p = page(a, "http://a.test/");
  p.links = {OutLink{to("http://o.test/", 1, false, "out of scope"), "", false}};
  auto queued = store->commit({p});
  REQUIRE(queued);
  CHECK(queued->empty());
  CHECK(
      scalar(*store, "SELECT state || ':' || reason FROM frontier WHERE url = 'http://o.test/'") ==
      "skipped:out of scope");
}

TEST_CASE("a discovered URL is queued when a later link follows it, at the smaller depth",
          "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  int64_t b = seed(*store, "http://a.test/b");
  PageResult pa = page(a, "http://a.test/");
  pa.links = {OutLink{to("http://a.test/n", 3, false), "", true}};
  commit(*store, {pa});
  CHECK(state_of(*store, "http://a.test/n") == "discovered");

  PageResult pb = page(b, "http://a.test/b");
  pb.links = {link("http://a.test/n", "", 1)};
  auto queued = store->commit({pb});
  REQUIRE(queued);
  REQUIRE(queued->size() == 1);
  CHECK(queued->at(0).url == "http://a.test/n");
  CHECK(queued->at(0).depth == 1);
  CHECK(scalar(*store, "SELECT state || depth FROM urls WHERE url = 'http://a.test/n'") ==
        "queued1");
}

TEST_CASE("a URL skipped by robots stays skipped when a later link follows it", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  int64_t r = seed(*store, "http://a.test/private");
  PageResult skipped = page(r, "http://a.test/private");
  skipped.status.reset();
  skipped.skipped = true;
  skipped.error = "disallowed by robots.txt";
  PageResult pa = page(a, "http://a.test/");
  pa.links = {link("http://a.test/private")};
  auto queued = store->commit({skipped, pa});
  REQUIRE(queued);
  CHECK(queued->empty());
  CHECK(state_of(*store, "http://a.test/private") == "skipped");
}

TEST_CASE("a commit naming an unknown url id fails and stores nothing", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  auto r = store->commit({page(a, "http://a.test/"), page(999, "http://a.test/ghost")});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Code::kInvalidArgument);
  CHECK(*store->document_count() == 0);
  CHECK(state_of(*store, "http://a.test/") == "queued");
}

TEST_CASE("a rolled-back commit leaves no trace of the hosts it added", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/");
  PageResult p = page(a, "http://a.test/");
  p.links = {link("http://n.test/x")};
  REQUIRE_FALSE(store->commit({p, page(999, "http://a.test/ghost")}));
  commit(*store, {p});
  CHECK(rows(*store, "SELECT url, host FROM frontier WHERE state = 'queued'") ==
        Rows{{"http://n.test/x", "http://n.test"}});
}

// ---- redirects ----

TEST_CASE("a redirect chain sets every ancestor's final_url to the end of the chain", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/a");
  auto q1 = store->commit({redirect(a, "http://a.test/a", "http://a.test/b", 1)});
  REQUIRE(q1);
  REQUIRE(q1->size() == 1);
  CHECK(q1->at(0).redirects == 1);
  auto q2 = store->commit({redirect(q1->at(0).id, "http://a.test/b", "http://a.test/c", 2)});
  REQUIRE(q2);
  REQUIRE(q2->size() == 1);
  commit(*store, {page(q2->at(0).id, "http://a.test/c", "End")});
  CHECK(rows(*store, "SELECT url, final_url, ifnull(redirect_to, '-') FROM pages ORDER BY url") ==
        Rows{{"http://a.test/a", "http://a.test/c", "http://a.test/b"},
             {"http://a.test/b", "http://a.test/c", "http://a.test/c"},
             {"http://a.test/c", "http://a.test/c", "-"}});
}

TEST_CASE("a redirect to an already fetched URL takes that URL's final_url", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t c = seed(*store, "http://a.test/c");
  int64_t a = seed(*store, "http://a.test/a");
  commit(*store, {page(c, "http://a.test/c")});
  commit(*store, {redirect(a, "http://a.test/a", "http://a.test/c")});
  CHECK(scalar(*store, "SELECT final_url FROM pages WHERE url = 'http://a.test/a'") ==
        "http://a.test/c");
}

TEST_CASE("a redirect back into its own chain is recorded as a redirect loop", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/a");
  auto q = store->commit({redirect(a, "http://a.test/a", "http://a.test/b")});
  REQUIRE(q);
  REQUIRE(q->size() == 1);
  auto back = store->commit({redirect(q->at(0).id, "http://a.test/b", "http://a.test/a", 2)});
  REQUIRE(back);
  CHECK(back->empty());
  CHECK(rows(*store, "SELECT url, ifnull(error, '-') FROM pages ORDER BY url") ==
        Rows{{"http://a.test/a", "-"}, {"http://a.test/b", "redirect loop"}});
}

TEST_CASE("a redirect to the URL itself is a redirect loop", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  int64_t a = seed(*store, "http://a.test/a");
  commit(*store, {redirect(a, "http://a.test/a", "http://a.test/a")});
  CHECK(scalar(*store, "SELECT error FROM pages") == "redirect loop");
}


// ---- cookies ----

TEST_CASE("cookie changes are applied in order and read back, session cookies included", "[storage]") {
  TempDir dir;
  std::string path = dir.file("c.db").string();
  {
    auto store = open_store(path);
    CookieRecord session{"a.test", "/", "sid", "1", std::nullopt, false, true, true, 10.0};
    CookieRecord kept{"a.test", "/app", "pref", "x", 2e9, true, false, false, 11.0};
    CookieRecord gone{"b.test", "/", "t", "y", 2e9, false, false, true, 12.0};
    Batch batch;
    batch.cookies = {session, kept, gone};
    REQUIRE(store->commit(batch));
    session.value = "2";
    gone.removed = true;
    batch.cookies = {session, gone};
    REQUIRE(store->commit(batch));
  }
  auto store = open_store(path);
  CHECK(rows(*store, "SELECT domain, path, name, value, ifnull(expires, '-'), secure, http_only, host_only "
                     "FROM cookies ORDER BY name") ==
        Rows{{"a.test", "/app", "pref", "x", "2e+09", "1", "0", "0"},
             {"a.test", "/", "sid", "2", "-", "0", "1", "1"}});
  auto cookies = store->cookies();
  REQUIRE(cookies);
  REQUIRE(cookies->size() == 2);
  CHECK(cookies->at(0).name == "sid");  // oldest first
  CHECK_FALSE(cookies->at(0).expires);
  CHECK(cookies->at(0).created == 10.0);
  CHECK(cookies->at(1).expires == 2e9);
  CHECK(cookies->at(1).secure);
  CHECK_FALSE(cookies->at(1).host_only);
}


// ---- meta and stats ----

TEST_CASE("meta values are stored, replaced and read back", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("c.db").string());
  CHECK_FALSE(store->get_meta("start")->has_value());
  REQUIRE(store->set_meta("start", "1"));
  REQUIRE(store->set_meta("start", "2"));
  CHECK(*store->get_meta("start") == "2");
}

}  // namespace
}  // namespace webcrawl::storage::test
