// Include and exclude patterns that steer a crawl (--include, --exclude):
// RE2 regular expressions matched anywhere in a URL's normalized href.
//
// RE2 matches in time linear in the URL whatever the pattern, so a
// pathological pattern such as "(a*)*b" cannot stall a parse thread. Syntax
// is RE2's (https://github.com/google/re2/wiki/Syntax): case-sensitive unless
// the pattern says "(?i)", unanchored unless it uses ^ or $.
//
// Immutable after construction: one instance may be shared by any number of
// threads, and copies share the compiled patterns.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace re2 {
class RE2;
}

namespace webcrawl::parser {

// A list of compiled patterns; matches when any one of them does.
class PatternList {
 public:
  PatternList() = default;  // no patterns: matches nothing

  // Fails with kInvalidArgument at the first pattern RE2 rejects. The message
  // is the pattern, quoted, and RE2's reason ("'(': missing ): ("); the caller
  // puts the flag or config key in front ("--include '(': missing ): (").
  static Result<PatternList> compile(const std::vector<std::string>& patterns);

  bool empty() const { return patterns_.empty(); }
  std::size_t size() const { return patterns_.size(); }
  // True when some pattern matches somewhere in `text`.
  bool matches(std::string_view text) const;

 private:
  std::vector<std::shared_ptr<const re2::RE2>> patterns_;
};

enum class PatternDecision {
  kAllowed,      // no exclude matched, and an include did (or there are none)
  kNotIncluded,  // includes were given and none matched
  kExcluded,     // an exclude matched: it wins over any include
};

// "allowed", "not included" or "excluded", for logs and pages.error.
const char* to_string(PatternDecision decision);

class UrlPatterns {
 public:
  UrlPatterns() = default;  // allows every URL
  UrlPatterns(PatternList includes, PatternList excludes)
      : includes_(std::move(includes)), excludes_(std::move(excludes)) {}

  // Decides for `href`, which should be a normalized absolute URL
  // (Url::href()), so that patterns see one spelling of each URL.
  PatternDecision check(std::string_view href) const;

 private:
  PatternList includes_;
  PatternList excludes_;
};

}  // namespace webcrawl::parser
