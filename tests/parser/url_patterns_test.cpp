#include "parser/url_patterns.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

using webcrawl::Code;
using webcrawl::parser::PatternDecision;
using webcrawl::parser::PatternList;
using webcrawl::parser::to_string;
using webcrawl::parser::UrlPatterns;

namespace {

PatternList list(const std::vector<std::string>& patterns) {
  auto compiled = PatternList::compile(patterns);
  if (!compiled) FAIL(compiled.error().message);
  return std::move(*compiled);
}

UrlPatterns patterns(const std::vector<std::string>& includes, const std::vector<std::string>& excludes) {
  return UrlPatterns(list(includes), list(excludes));
}

std::string compile_error(const std::vector<std::string>& patterns) {
  auto compiled = PatternList::compile(patterns);
  REQUIRE_FALSE(compiled);
  CHECK(compiled.error().code == Code::kInvalidArgument);
  return compiled.error().message;
}

}  // namespace

TEST_CASE("without patterns every URL is allowed", "[url_patterns]") {
  CHECK(UrlPatterns().check("http://a.test/x") == PatternDecision::kAllowed);
  CHECK(patterns({}, {}).check("http://a.test/x") == PatternDecision::kAllowed);
}

TEST_CASE("with includes only a URL matching one of them is allowed", "[url_patterns]") {
  UrlPatterns p = patterns({"^https://a\\.test/docs/", "/blog/"}, {});
  CHECK(p.check("https://a.test/docs/intro") == PatternDecision::kAllowed);
  CHECK(p.check("http://b.test/blog/post") == PatternDecision::kAllowed);
  CHECK(p.check("http://a.test/docs/intro") == PatternDecision::kNotIncluded);
  CHECK(p.check("https://a.test/about") == PatternDecision::kNotIncluded);
}

TEST_CASE("an exclude match excludes", "[url_patterns]") {
  UrlPatterns p = patterns({}, {"\\.pdf$", "[?&]sort="});
  CHECK(p.check("http://a.test/paper.pdf") == PatternDecision::kExcluded);
  CHECK(p.check("http://a.test/list?page=2&sort=asc") == PatternDecision::kExcluded);
  CHECK(p.check("http://a.test/paper.pdf.html") == PatternDecision::kAllowed);
}

TEST_CASE("exclude wins over include", "[url_patterns]") {
  UrlPatterns p = patterns({"/docs/"}, {"/docs/old/"});
  CHECK(p.check("http://a.test/docs/new/x") == PatternDecision::kAllowed);
  CHECK(p.check("http://a.test/docs/old/x") == PatternDecision::kExcluded);
  CHECK(p.check("http://a.test/other") == PatternDecision::kNotIncluded);
}

TEST_CASE("patterns match anywhere unless anchored", "[url_patterns]") {
  PatternList blog = list({"blog"});
  CHECK(blog.matches("http://blog.a.test/"));
  CHECK(blog.matches("http://a.test/x/blog"));
  PatternList anchored = list({"^http://a\\.test/$"});
  CHECK(anchored.matches("http://a.test/"));
  CHECK_FALSE(anchored.matches("http://a.test/x"));
  CHECK(list({""}).matches("http://a.test/"));
  CHECK_FALSE(PatternList().matches("http://a.test/"));
}

TEST_CASE("patterns are case-sensitive unless they say (?i)", "[url_patterns]") {
  CHECK_FALSE(list({"/Docs/"}).matches("http://a.test/docs/"));
  CHECK(list({"(?i)/Docs/"}).matches("http://a.test/docs/"));
}

TEST_CASE("an invalid pattern is an error naming it and RE2's reason", "[url_patterns]") {
  CHECK(compile_error({"("}) == "'(': missing ): (");
  CHECK(compile_error({"ok", "a**", "("}) == "'a**': bad repetition operator: **");
  CHECK(compile_error({"[z-a]"}) == "'[z-a]': invalid character class range: z-a");
  CHECK(compile_error({"(?<name>x)"}) == "'(?<name>x)': invalid perl operator: (?<");
}

TEST_CASE("a pathological pattern on a long URL still decides", "[url_patterns]") {
  std::string href = "http://a.test/" + std::string(100 * 1024, 'a');
  UrlPatterns p = patterns({}, {"(a*)*b"});
  CHECK(p.check(href) == PatternDecision::kAllowed);
  CHECK(p.check(href + "b") == PatternDecision::kExcluded);
  CHECK(list({"(x+x+)+y"}).matches(std::string(100 * 1024, 'x')) == false);
}

TEST_CASE("one instance decides for many threads at once", "[url_patterns]") {
  UrlPatterns p = patterns({"/keep/"}, {"/keep/no/"});
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&p, &wrong, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string id = std::to_string(t * 10000 + i);
        if (p.check("http://a.test/keep/" + id) != PatternDecision::kAllowed) ++wrong[t];
        if (p.check("http://a.test/keep/no/" + id) != PatternDecision::kExcluded) ++wrong[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wrong == std::vector<int>(4, 0));
}

TEST_CASE("decisions have names for the logs", "[url_patterns]") {
  CHECK(std::string(to_string(PatternDecision::kAllowed)) == "allowed");
  CHECK(std::string(to_string(PatternDecision::kNotIncluded)) == "not included");
  CHECK(std::string(to_string(PatternDecision::kExcluded)) == "excluded");
}
