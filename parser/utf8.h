// UTF-8 validation shared by the parsers. Pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace webcrawl::parser {

// Length of the UTF-8 sequence at s[i] (requires i < s.size()). When it is
// malformed (overlong, surrogate, past U+10FFFF, cut short), *valid is false
// and the length is that of the maximal subpart which the Encoding Standard's
// decoder turns into one U+FFFD.
std::size_t utf8_sequence(std::string_view s, std::size_t i, bool* valid);

// Index of the first malformed sequence in `s` at or after `from`, or npos.
// ASCII is skipped eight bytes at a time: most of most pages is markup.
std::size_t first_invalid_utf8(std::string_view s, std::size_t from);

// Strict UTF-8: no overlongs, surrogates or code points past U+10FFFF.
bool is_valid_utf8(std::string_view s);

// `text` when it is valid UTF-8; otherwise a copy in `storage` with each
// malformed sequence (maximal subpart) replaced by U+FFFD.
std::string_view repair_utf8(std::string_view text, std::string& storage);

}  // namespace webcrawl::parser
