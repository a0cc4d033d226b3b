// Seed files: one URL per line, comments and blanks ignored, bad lines named.
#include "crawler/seeds.h"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using namespace webcrawl;
using namespace webcrawl::crawler;

TEST_CASE("a seed file gives its URLs normalized, in order, once each", "[seeds]") {
  testing::TempDir dir;
  auto list = read_seed_file(dir.write("s.txt",
                                       "\xEF\xBB\xBF# a study\n"
                                       "HTTP://Example.ORG:80/a\n"
                                       "\n"
                                       "  https://b.test/x#frag   # a comment after a space\n"
                                       "\thttp://example.org/a\n"
                                       "http://c.test/#not-a-comment\r\n"));
  REQUIRE(list);
  CHECK(list->urls == std::vector<std::string>{"http://example.org/a", "https://b.test/x", "http://c.test/"});
  CHECK(list->warnings.empty());
}

TEST_CASE("bad lines are skipped with their line number", "[seeds]") {
  testing::TempDir dir;
  auto list = read_seed_file(dir.write("s.txt", "http://ok.test/\nftp://no.test/\nnot a url\n"));
  REQUIRE(list);
  CHECK(list->urls == std::vector<std::string>{"http://ok.test/"});
  REQUIRE(list->warnings.size() == 2);
  CHECK(list->warnings[0].find("s.txt:2: invalid URL 'ftp://no.test/'") != std::string::npos);
  CHECK(list->warnings[1].find("s.txt:3:") != std::string::npos);
}

TEST_CASE("a seed file with no valid URL, or none at all, is an error", "[seeds]") {
  testing::TempDir dir;
  auto empty = read_seed_file(dir.write("e.txt", "# nothing here\n\n"));
  REQUIRE_FALSE(empty);
  CHECK(empty.error().code == Code::kInvalidArgument);
  CHECK(empty.error().message.find("has no valid URL") != std::string::npos);
  auto missing = read_seed_file(dir.file("missing.txt").string());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Code::kIo);
  CHECK(missing.error().message.find("cannot read seed file") != std::string::npos);
}
