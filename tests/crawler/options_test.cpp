// The option table: one parser and one range per option, for the command
// line and the config file alike.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "crawler/config.h"
#include "crawler/options.h"
#include "tests/support/temp_dir.h"

using namespace webcrawl;
using namespace webcrawl::crawler;

namespace {

std::string error_of(const char* option, const char* text) {
  auto v = parse_option_text(*find_option(option), text);
  return v ? std::string("accepted") : v.error().message;
}

}  // namespace

TEST_CASE("bad numbers are refused in words, NaN and infinities included", "[options]") {
  CHECK(error_of("delay", "nan") == "--delay: 'nan' is not a number of seconds");
  CHECK(error_of("delay", "inf") == "--delay: 'inf' is not a number of seconds");
  CHECK(error_of("delay", "-inf") == "--delay: '-inf' is not a number of seconds");
  CHECK(error_of("delay", "1e999") == "--delay: '1e999' is not a number of seconds");
  CHECK(error_of("delay", "abc") == "--delay: 'abc' is not a number of seconds");
  CHECK(error_of("delay", "2s") == "--delay: '2s' is not a number of seconds");
  CHECK(error_of("max-pages", "many") == "--max-pages: 'many' is not a whole number");
  CHECK(error_of("max-pages", "0") == "--max-pages: 0 is out of range (at least 1)");
  CHECK(error_of("concurrency", "0") == "--concurrency: 0 is out of range (1 to 10000)");
  CHECK(error_of("retries", "1.5") == "--retries: '1.5' is not a whole number");
  CHECK(error_of("scope", "planet") == "--scope: 'planet' is not one of host, domain, any");
  CHECK(error_of("max-body", "10Q") == "--max-body: '10Q' is not a size in bytes (k, M, G suffixes)");
}

TEST_CASE("good values are read the same way from both places", "[options]") {
  CrawlOptions o;
  find_option("delay")->set(o, *parse_option_text(*find_option("delay"), "2.5"));
  CHECK(o.delay == 2.5);
  find_option("max-body")->set(o, *parse_option_text(*find_option("max-body"), "2M"));
  CHECK(o.max_body == 2u << 20);
  find_option("max-pages")->set(o, *parse_option_text(*find_option("max-pages"), "7"));
  CHECK(o.max_pages == 7);

  testing::TempDir dir;
  CrawlOptions f;
  REQUIRE(apply_config_file(dir.write("c.toml", "delay = 3\nmax_body = \"1k\"\nscope = \"any\"\n"), f));
  CHECK(f.delay == 3.0);
  CHECK(f.max_body == 1024);
  CHECK(f.scope == Scope::kAny);
}

TEST_CASE("every option's range holds in a config file as on the command line", "[options]") {
  testing::TempDir dir;
  for (const OptionSpec& spec : crawl_options()) {
    if (spec.kind != OptionSpec::Kind::kSeconds && spec.kind != OptionSpec::Kind::kInteger) continue;
    INFO(spec.name);
    std::string below = std::to_string(static_cast<int64_t>(spec.min) - 1);
    CHECK_FALSE(parse_option_text(spec, below));
    CrawlOptions o;
    auto file = apply_config_file(dir.write("r.toml", spec.toml_key() + " = " + below + "\n"), o);
    REQUIRE_FALSE(file);
    CHECK(file.error().message.find(spec.toml_key() + ": " + below + " is out of range") != std::string::npos);
  }
}

TEST_CASE("a mistyped name gets the closest one as a hint", "[options]") {
  std::vector<std::string> names = {"delay", "per-host", "max-pages"};
  CHECK(closest_name("dealy", names) == "delay");
  CHECK(closest_name("per-hots", names) == "per-host");
  CHECK_FALSE(closest_name("frobnicate", names));
}

TEST_CASE("the effective options are one JSON object with every option", "[options]") {
  CrawlOptions o;
  o.delay = 2;
  o.host_overrides = {{"example.org", 5.0, std::nullopt}};
  auto j = nlohmann::json::parse(options_json(o));
  CHECK(j["delay"] == 2.0);
  CHECK(j["max_pages"].is_null());
  CHECK(j["scope"] == "host");
  CHECK(j["robots"] == true);
  CHECK(j["hosts"][0]["match"] == "example.org");
  CHECK(j.size() == crawl_options().size() + 1);
}
