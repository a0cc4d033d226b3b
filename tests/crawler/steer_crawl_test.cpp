// Steering a crawl (issue 14), on loopback sites: include and exclude
// patterns on links, redirects and sitemap entries; sitemaps through the
// scheduler and robots.txt, indexes, gzip, limits and hostile XML; canonical
// URLs; X-Robots-Tag; session parameters.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "tests/crawler/crawl_support.h"
#include "tests/support/codings.h"

using namespace webcrawl;
using namespace webcrawl::testing;

namespace {

std::string page(const std::vector<std::string>& hrefs, const std::string& head = "") {
  std::string html = "<html><head><title>t</title>" + head + "</head><body><p>words</p>";
  for (const std::string& h : hrefs) html += "<a href=\"" + h + "\">" + h + "</a> ";
  return html + "</body></html>";
}

std::string urlset(const std::vector<std::string>& locs, const std::string& lastmod = "") {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n";
  for (const std::string& l : locs) {
    xml += "<url><loc>" + l + "</loc>" + (lastmod.empty() ? "" : "<lastmod>" + lastmod + "</lastmod>") + "</url>\n";
  }
  return xml + "</urlset>\n";
}

std::string index_of(const std::vector<std::string>& locs) {
  std::string xml = "<?xml version=\"1.0\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">";
  for (const std::string& l : locs) xml += "<sitemap><loc>" + l + "</loc></sitemap>";
  return xml + "</sitemapindex>";
}

void serve_html(TestServer& server, const std::string& path, std::string html) {
  server.on(path, [html](const Request&, Response& r) { r.html(html); });
}

void serve_xml(TestServer& server, const std::string& path, std::string xml) {
  server.on(path, [xml](const Request&, Response& r) { r.text(xml, "application/xml"); });
}

std::string state_of(const std::string& db, const std::string& url) {
  return scalar(db, "SELECT state || ':' || coalesce(reason, '') FROM frontier WHERE url = '" + url + "'");
}

}  // namespace

// ---- include and exclude ----------------------------------------------------

TEST_CASE("include and exclude steer links; seeds are fetched whatever they say", "[steer]") {
  TestServer server;
  serve_html(server, "/", page({"/docs/a", "/blog/x", "/docs/private/y"}));
  serve_html(server, "/docs/a", page({"/docs/b", "/about"}));
  serve_html(server, "/docs/b", page({}));
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/")});
  o.include = {"/docs/"};
  o.exclude = {"/private/"};
  crawl_ok(o);
  CHECK(server.request_count("/") == 1);  // the seed matches no include
  CHECK(server.request_count("/docs/a") == 1);
  CHECK(server.request_count("/docs/b") == 1);
  CHECK(server.request_count("/blog/x") == 0);
  CHECK(server.request_count("/docs/private/y") == 0);
  CHECK(server.request_count("/about") == 0);
  CHECK(state_of(db, server.url("/blog/x")) == "skipped:not included");
  CHECK(state_of(db, server.url("/docs/private/y")) == "skipped:excluded");  // exclude wins
  CHECK(scalar(db, "SELECT source FROM frontier WHERE url = '" + server.url("/docs/a") + "'") == "link");
}

TEST_CASE("patterns apply to redirect targets, but not to a seed's own redirect", "[steer]") {
  TestServer server;
  server.on("/", [](const Request&, Response& r) { r.redirect(301, "/home"); });
  serve_html(server, "/home", page({"/docs/moved"}));
  server.on("/docs/moved", [](const Request&, Response& r) { r.redirect(302, "/blog/z"); });
  serve_html(server, "/blog/z", page({}));
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/")});
  o.exclude = {"/blog/", "/home$"};
  crawl_ok(o);
  CHECK(server.request_count("/home") == 1);  // the seed's redirect counts as the seed
  CHECK(server.request_count("/docs/moved") == 1);
  CHECK(server.request_count("/blog/z") == 0);
  CHECK(state_of(db, server.url("/blog/z")) == "skipped:excluded");
  CHECK(scalar(db, "SELECT source FROM frontier WHERE url = '" + server.url("/blog/z") + "'") == "redirect");
}

TEST_CASE("a pattern that does not compile is a usage error before anything is made", "[steer][cli]") {
  TestServer server;
  TempDir dir;
  std::string db = dir.file("crawl.db");
  for (const std::string flag : {"--include", "--exclude"}) {
    auto r = run_webcrawl({"crawl", "--db", db, flag, "(", server.url("/")});
    CHECK(r.status == 2);
    CHECK(r.err.find(flag + " '(': missing )") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK_FALSE(std::filesystem::exists(db));
  CHECK(server.requests().empty());
}

TEST_CASE("include and exclude from TOML, and per host in [[hosts]]", "[steer][config]") {
  TestServer a;
  TestServer b(TestServerOptions{"127.0.0.2"});
  serve_html(a, "/", page({"/keep/1", "/drop/1", b.url("/"), b.url("/only/1"), b.url("/keep/2")}));
  serve_html(a, "/keep/1", page({}));
  serve_html(b, "/", page({}));
  serve_html(b, "/only/1", page({}));
  serve_html(b, "/keep/2", page({}));
  TempDir dir;
  std::string db = dir.file("crawl.db");
  std::string config = dir.file("c.toml");
  std::ofstream(config) << "exclude = [\"/drop/\"]\ninclude = [\"/keep/\"]\nscope = \"any\"\ndelay = 0\n"
                        << "[[hosts]]\nmatch = \"127.0.0.2\"\ninclude = [\"/only/\"]\n";
  auto r = run_webcrawl({"crawl", "--quiet", "--no-robots", "--db", db, "--config", config, a.url("/")});
  REQUIRE(r.status == 0);
  CHECK(a.request_count("/keep/1") == 1);
  CHECK(a.request_count("/drop/1") == 0);
  CHECK(b.request_count("/only/1") == 1);  // the host's include replaces the global one
  CHECK(b.request_count("/keep/2") == 0);
  CHECK(b.request_count("/") == 0);
  CHECK(state_of(db, b.url("/keep/2")) == "skipped:not included");
}

// ---- sitemaps ---------------------------------------------------------------

TEST_CASE("robots.txt sitemaps: an index, a plain and a gzip urlset, scope, robots and patterns", "[sitemap]") {
  TestServer server;
  TestServer other(TestServerOptions{"127.0.0.2"});
  serve_html(other, "/elsewhere", page({}));
  server.on("/robots.txt", [](const Request&, Response& r) {
    r.text("User-agent: *\nDisallow: /private/\nSitemap: /sitemap_index.xml\n");
  });
  serve_html(server, "/", page({}));
  serve_xml(server, "/sitemap_index.xml", index_of({"/sm1.xml", "/sm2.xml.gz", "/sm3.xml", other.url("/sm.xml")}));
  serve_xml(server, "/sm1.xml",
            urlset({server.url("/p1"), server.url("/private/p3"), other.url("/elsewhere"), server.url("/skip/me")},
                   "2026-11-30"));
  std::string gz = gzip(urlset({server.url("/p2")}));
  server.on("/sm2.xml.gz", [gz](const Request&, Response& r) { r.text(gz, "application/gzip"); });
  std::string plain = urlset({server.url("/p4")});
  server.on("/sm3.xml", [plain](const Request&, Response& r) { r.text(plain, "application/xml").gzip(); });
  for (const char* p : {"/p1", "/p2", "/p4"}) serve_html(server, p, page({}));
  serve_html(server, "/private/p3", page({}));
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/")});
  o.robots = true;
  o.delay = 0.05;
  o.exclude = {"/skip/"};
  crawl_ok(o);

  for (const char* p : {"/p1", "/p2", "/p4"}) CHECK(server.request_count(p) == 1);
  CHECK(server.request_count("/private/p3") == 0);  // disallowed by robots.txt
  CHECK(server.request_count("/skip/me") == 0);     // excluded
  CHECK(other.requests().empty());                  // out of scope: neither sitemap nor page
  CHECK(scalar(db, "SELECT source || ' ' || depth || ' ' || lastmod FROM frontier WHERE url = '" +
                       server.url("/p1") + "'") == "sitemap 1 2026-11-30");
  CHECK(state_of(db, server.url("/skip/me")) == "skipped:excluded");
  CHECK(state_of(db, other.url("/elsewhere")) == "skipped:out of scope");
  auto row = [&](const std::string& path) {
    return scalar(db, "SELECT coalesce(status, '') || '|' || coalesce(kind, '') || '|' || urls || '|' || "
                      "coalesce(error, '') FROM sitemaps WHERE url = '" + path + "'");
  };
  CHECK(row(server.url("/sitemap_index.xml")) == "200|index|4|");
  CHECK(row(server.url("/sm1.xml")) == "200|urlset|4|");
  CHECK(row(server.url("/sm2.xml.gz")) == "200|urlset|1|");
  CHECK(row(server.url("/sm3.xml")) == "200|urlset|1|");
  CHECK(row(other.url("/sm.xml")) == "||0|out of scope");
  CHECK(scalar(db, "SELECT host FROM sitemaps WHERE url = '" + server.url("/sm1.xml") + "'") == server.origin());
  // Through the scheduler: every request to the host kept the delay.
  for (double gap : start_gaps(server)) CHECK(gap >= 0.05);
  CHECK(scalar(db, "SELECT COUNT(*) FROM fetches WHERE kind = 'sitemap'") == "4");
}

TEST_CASE("a sitemap robots.txt disallows is never requested", "[sitemap]") {
  TestServer server;
  server.on("/robots.txt", [](const Request&, Response& r) {
    r.text("User-agent: *\nDisallow: /maps/\nSitemap: /maps/sitemap.xml\n");
  });
  serve_html(server, "/", page({}));
  serve_xml(server, "/maps/sitemap.xml", urlset({"/x"}));
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/")});
  o.robots = true;
  crawl_ok(o);
  CHECK(server.request_count("/maps/sitemap.xml") == 0);
  CHECK(scalar(db, "SELECT error FROM sitemaps") == "robots: disallowed");
}

TEST_CASE("sitemaps given by flag without seeds, and robots.txt sitemaps turned off", "[sitemap][cli]") {
  TestServer server;
  server.on("/robots.txt", [](const Request&, Response& r) { r.text("Sitemap: /listed.xml\n"); });
  serve_xml(server, "/listed.xml", urlset({"/from-listed"}));
  serve_xml(server, "/given.xml", urlset({"/from-given"}));
  serve_html(server, "/", page({}));
  serve_html(server, "/from-listed", page({}));
  serve_html(server, "/from-given", page({}));
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto r = run_webcrawl({"crawl", "--quiet", "--delay", "0", "--db", db, "--no-sitemaps", "--sitemap",
                         server.url("/given.xml")});
  REQUIRE(r.status == 0);
  CHECK(server.request_count("/given.xml") == 1);
  CHECK(server.request_count("/from-given") == 1);
  CHECK(server.request_count("/robots.txt") == 1);
  CHECK(server.request_count("/listed.xml") == 0);
  // The same command again: the sitemap was read; nothing is asked twice.
  auto again = run_webcrawl({"crawl", "--quiet", "--delay", "0", "--db", db, "--no-sitemaps", "--sitemap",
                             server.url("/given.xml")});
  CHECK(again.status == 0);
  CHECK(server.request_count("/given.xml") == 1);
  auto bad = run_webcrawl({"crawl", "--db", dir.file("b.db"), "--sitemap", "nope"});
  CHECK(bad.status == 2);
  CHECK_FALSE(std::filesystem::exists(dir.file("b.db")));
}

TEST_CASE("a 60,000-URL urlset: the first 50,000 are queued and the row says so", "[sitemap][limits]") {
  TestServer server;
  std::vector<std::string> locs;
  for (int i = 0; i < 60000; i++) locs.push_back("/u/" + std::to_string(i));
  serve_xml(server, "/big.xml", urlset(locs));
  serve_html(server, "/", page({}));
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/")});
  o.sitemap_urls = {server.url("/big.xml")};
  o.max_depth = 0;  // record them, fetch none
  crawl_ok(o);
  CHECK(scalar(db, "SELECT COUNT(*) FROM frontier WHERE source = 'sitemap'") == "50000");
  CHECK(scalar(db, "SELECT urls FROM sitemaps") == "50000");
  CHECK(scalar(db, "SELECT error FROM sitemaps").find("truncated: at most 50000 URLs") != std::string::npos);
  CHECK(server.request_count("/u/1") == 0);
  CHECK(state_of(db, server.url("/u/49999")) == "skipped:max depth");
}

TEST_CASE("malformed, external-entity and billion-laughs sitemaps are recorded errors", "[sitemap][hostile]") {
  TestServer server;
  serve_html(server, "/", page({}));
  serve_html(server, "/secret", page({}));
  serve_xml(server, "/broken.xml", "<urlset><url><loc>/a</loc></url>");
  serve_xml(server, "/notasitemap.xml", "<html><body>hi</body></html>");
  serve_xml(server, "/xxe.xml", "<?xml version=\"1.0\"?>\n<!DOCTYPE urlset [<!ENTITY e SYSTEM \"" +
                                    server.url("/secret") + "\">]>\n<urlset><url><loc>&e;</loc></url></urlset>");
  std::string laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">";
  for (int i = 1; i < 10; i++) {
    laughs += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int j = 0; j < 10; j++) laughs += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
    laughs += "\">";
  }
  laughs += "]>\n<urlset><url><loc>&lol9;</loc></url></urlset>";
  serve_xml(server, "/laughs.xml", laughs);
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/")});
  o.sitemap_urls = {server.url("/broken.xml"), server.url("/notasitemap.xml"), server.url("/xxe.xml"),
                    server.url("/laughs.xml")};
  crawl_ok(o);
  auto error = [&](const std::string& path) {
    return scalar(db, "SELECT error FROM sitemaps WHERE url = '" + server.url(path) + "'");
  };
  CHECK(error("/broken.xml").find("malformed XML") != std::string::npos);
  CHECK(error("/notasitemap.xml").find("not a sitemap") != std::string::npos);
  CHECK(error("/xxe.xml").find("entit") != std::string::npos);
  CHECK(error("/laughs.xml").find("entit") != std::string::npos);
  CHECK(server.request_count("/secret") == 0);
  // Entries completed before the error are good; nothing came from the entities.
  CHECK(scalar(db, "SELECT group_concat(url) FROM frontier WHERE source = 'sitemap'") == server.url("/a"));
}

// ---- canonical, X-Robots-Tag, session parameters -----------------------------

TEST_CASE("pages.canonical from the element, else the Link header, and queued like a link", "[canonical]") {
  TestServer server;
  serve_html(server, "/", page({"/a", "/b", "/c"}));
  serve_html(server, "/a", page({}, "<link rel=\"canonical\" href=\"/canon-a\">"));
  server.on("/b", [](const Request&, Response& r) {
    r.text("%PDF-1.4", "application/pdf").set_header("Link", "</canon-b>; rel=\"canonical\"");
  });
  server.on("/c", [](const Request&, Response& r) {
    r.html(page({}, "<link rel=canonical href=/canon-c>"));
    r.set_header("Link", "</not-this>; rel=canonical");
  });
  for (const char* p : {"/canon-a", "/canon-b", "/canon-c"}) serve_html(server, p, page({}));
  TempDir dir;
  std::string db = dir.file("crawl.db");
  crawl_ok(test_options(db, {server.url("/")}));
  auto canonical = [&](const std::string& path) {
    return scalar(db, "SELECT coalesce(canonical, 'NULL') FROM pages WHERE url = '" + server.url(path) + "'");
  };
  CHECK(canonical("/a") == server.url("/canon-a"));
  CHECK(canonical("/b") == server.url("/canon-b"));
  CHECK(canonical("/c") == server.url("/canon-c"));  // the element wins
  CHECK(canonical("/") == "NULL");
  for (const char* p : {"/canon-a", "/canon-b", "/canon-c"}) CHECK(server.request_count(p) == 1);
  CHECK(server.request_count("/not-this") == 0);
  CHECK(scalar(db, "SELECT source FROM frontier WHERE url = '" + server.url("/canon-b") + "'") == "canonical");
}

TEST_CASE("X-Robots-Tag: noindex, nofollow, none, a user-agent token, several headers", "[robots-tag]") {
  TestServer server;
  std::vector<std::pair<std::string, std::vector<std::string>>> pages = {
      {"/noindex", {"noindex"}},
      {"/nofollow", {"nofollow"}},
      {"/none", {"none"}},
      {"/other-bot", {"otherbot: noindex, nofollow"}},
      {"/our-bot", {"studybot: noindex"}},
      {"/two-headers", {"noindex", "nofollow"}},
      {"/comma-list", {"noarchive, nofollow"}},
  };
  std::vector<std::string> hrefs;
  for (const auto& [path, tags] : pages) {
    hrefs.push_back(path);
    std::string child = path + "-child";
    server.on(path, [child, tags = tags](const Request&, Response& r) {
      r.html(page({child}));
      for (const std::string& t : tags) r.add_header("X-Robots-Tag", t);
    });
    serve_html(server, child, page({}));
  }
  serve_html(server, "/", page(hrefs));
  TempDir dir;
  std::string db = dir.file("crawl.db");
  auto o = test_options(db, {server.url("/")});
  o.user_agent = "StudyBot/1.0 (+mailto:a@b.test)";
  crawl_ok(o);
  auto indexed = [&](const std::string& path) {
    return scalar(db, "SELECT length(coalesce(text, '')) > 0 FROM pages WHERE url = '" + server.url(path) + "'") ==
           "1";
  };
  auto followed = [&](const std::string& path) { return server.request_count(path + "-child") == 1; };
  CHECK_FALSE(indexed("/noindex"));
  CHECK(followed("/noindex"));
  CHECK(indexed("/nofollow"));
  CHECK_FALSE(followed("/nofollow"));
  CHECK(state_of(db, server.url("/nofollow-child")) == "skipped:nofollow");
  CHECK_FALSE(indexed("/none"));
  CHECK_FALSE(followed("/none"));
  CHECK(indexed("/other-bot"));  // meant for another crawler
  CHECK(followed("/other-bot"));
  CHECK_FALSE(indexed("/our-bot"));
  CHECK(followed("/our-bot"));
  CHECK_FALSE(indexed("/two-headers"));
  CHECK_FALSE(followed("/two-headers"));
  CHECK(indexed("/comma-list"));
  CHECK_FALSE(followed("/comma-list"));
  // The root, the three tagged pages still indexed, the three children followed.
  CHECK(scalar(db, "SELECT COUNT(*) FROM pages_fts WHERE pages_fts MATCH 'words'") == "7");
}

TEST_CASE("session and tracking parameters are removed, and the list is configurable", "[normalize]") {
  TestServer server;
  serve_html(server, "/", page({"/s?PHPSESSID=1&x=2", "/s?x=2&utm_source=mail", "/s?sid=9&x=2",
                                "/j;jsessionid=ABC?x=1", "/k?keep=1&track=2"}));
  serve_html(server, "/s", page({}));
  serve_html(server, "/j", page({}));
  serve_html(server, "/k", page({}));
  TempDir dir;
  std::string db = dir.file("crawl.db");
  crawl_ok(test_options(db, {server.url("/")}));
  CHECK(server.request_count("/s") == 1);
  CHECK(scalar(db, "SELECT COUNT(*) FROM frontier WHERE url LIKE '%/s?%'") == "1");
  CHECK(scalar(db, "SELECT COUNT(*) FROM frontier WHERE url = '" + server.url("/s?x=2") + "'") == "1");
  CHECK(scalar(db, "SELECT COUNT(*) FROM frontier WHERE url = '" + server.url("/j?x=1") + "'") == "1");

  std::string db2 = dir.file("crawl2.db");
  auto o = test_options(db2, {server.url("/")});
  o.strip_params = {"track"};
  crawl_ok(o);
  CHECK(scalar(db2, "SELECT COUNT(*) FROM frontier WHERE url = '" + server.url("/k?keep=1") + "'") == "1");
  CHECK(scalar(db2, "SELECT COUNT(*) FROM frontier WHERE url LIKE '%PHPSESSID%'") == "1");
}
