// Include and exclude patterns on RE2; the contract is in url_patterns.h.
#include "parser/url_patterns.h"

#include <re2/re2.h>

namespace webcrawl::parser {

Result<PatternList> PatternList::compile(const std::vector<std::string>& patterns) {
  RE2::Options options;
  options.set_log_errors(false);  // a bad pattern is reported once, as a value
  PatternList list;
  list.patterns_.reserve(patterns.size());
  for (const std::string& pattern : patterns) {
    auto re = std::make_shared<const RE2>(pattern, options);
    if (!re->ok()) {
      return make_error(Code::kInvalidArgument, "'" + pattern + "': " + re->error());
    }
    list.patterns_.push_back(std::move(re));
  }
  return list;
}

bool PatternList::matches(std::string_view text) const {
  re2::StringPiece piece(text.data(), text.size());
  for (const auto& re : patterns_) {
    if (RE2::PartialMatch(piece, *re)) return true;
  }
  return false;
}

const char* to_string(PatternDecision decision) {
  switch (decision) {
    case PatternDecision::kAllowed:
      return "allowed";
    case PatternDecision::kNotIncluded:
      return "not included";
    case PatternDecision::kExcluded:
      return "excluded";
  }
  return "unknown";
}

PatternDecision UrlPatterns::check(std::string_view href) const {
  if (excludes_.matches(href)) return PatternDecision::kExcluded;
  if (!includes_.empty() && !includes_.matches(href)) return PatternDecision::kNotIncluded;
  return PatternDecision::kAllowed;
}

}  // namespace webcrawl::parser
