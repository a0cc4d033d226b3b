// libFuzzer target for RobotsTxt: parse any body, then decide a few request
// targets taken from the body itself (so patterns meet paths they nearly
// match). Nothing may crash, and a decision must agree with the rule it names.
// Run with -timeout so a super-linear parse or match shows up as a finding.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "parser/robots.h"

namespace {

using webcrawl::parser::kMaxCrawlDelay;
using webcrawl::parser::RobotsDecision;
using webcrawl::parser::RobotsTxt;

constexpr std::size_t kMaxTargets = 8;
constexpr std::size_t kMaxTargetBytes = 256;

[[noreturn]] void violated(const char* what, std::string_view target) {
  std::fprintf(stderr, "invariant violated: %s: \"%.*s\"\n", what,
               static_cast<int>(target.size()), target.data());
  std::abort();
}

// Request targets: "/", "/robots.txt", and the value after the first ':' of
// the body's first lines (the paths its rules were written for), with a '/'
// put in front when missing.
std::vector<std::string> targets_from(std::string_view body) {
  std::vector<std::string> out = {"/", "/robots.txt"};
  while (!body.empty() && out.size() < kMaxTargets) {
    std::size_t eol = body.find_first_of("\r\n");
    std::string_view line = body.substr(0, eol);
    body.remove_prefix(eol == std::string_view::npos ? body.size() : eol + 1);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1, kMaxTargetBytes);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    std::string target = value.substr(0, 1) == "/" ? "" : "/";
    target.append(value);
    out.push_back(std::move(target));
  }
  return out;
}

void check_decision(const RobotsDecision& decision, std::string_view target) {
  if (!decision.rule) {
    if (!decision.allowed) violated("disallowed without a rule", target);
    return;
  }
  if (decision.rule->allow != decision.allowed) violated("decision disagrees with its rule", target);
  if (decision.rule->line < 1) violated("rule without a line number", target);
  if (decision.rule->pattern.empty()) violated("empty pattern decided", target);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  RobotsTxt robots = RobotsTxt::parse(body, "webcrawl");
  for (const std::string& target : targets_from(body)) {
    check_decision(robots.check(target), target);
  }
  if (!robots.check("/robots.txt").allowed) violated("/robots.txt disallowed", "/robots.txt");
  if (auto delay = robots.crawl_delay()) {
    if (std::isnan(*delay) || *delay < 0 || *delay > kMaxCrawlDelay) {
      violated("crawl-delay out of range", body.substr(0, 64));
    }
  }
  for (const std::string& sitemap : robots.sitemaps()) {
    if (sitemap.empty()) violated("empty sitemap", sitemap);
  }
  return 0;
}
