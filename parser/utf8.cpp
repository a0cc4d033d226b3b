#include "parser/utf8.h"

#include <cstdint>
#include <cstring>

namespace webcrawl::parser {
namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Skips ASCII eight bytes at a time: most of most pages is ASCII markup.
std::size_t skip_ascii(std::string_view s, std::size_t i) {
  constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, s.data() + i, sizeof word);
    if (word & kHighBits) break;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}

}  // namespace

std::size_t first_invalid_utf8(std::string_view s, std::size_t i) {
  for (;;) {
    i = skip_ascii(s, i);
    if (i >= s.size()) return std::string_view::npos;
    // Two- and three-byte sequences whose leads put no extra limit on the
    // second byte are checked inline: they are nearly all of non-ASCII text.
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead >= 0xC2 && lead <= 0xDF && i + 1 < s.size() && is_continuation(s[i + 1])) {
      i += 2;
      continue;
    }
    if (lead >= 0xE1 && lead <= 0xEF && lead != 0xED && i + 2 < s.size() && is_continuation(s[i + 1]) &&
        is_continuation(s[i + 2])) {
      i += 3;
      continue;
    }
    bool valid = false;
    const std::size_t length = utf8_sequence(s, i, &valid);
    if (!valid) return i;
    i += length;
  }
}


std::size_t utf8_sequence(std::string_view s, std::size_t i, bool* valid) {
  auto lead = static_cast<unsigned char>(s[i]);
  *valid = true;
  if (lead < 0x80) return 1;
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    *valid = false;
    return 1;
  }
  std::size_t n = 1;
  for (; n <= need; ++n) {
    if (i + n >= s.size()) break;
    auto c = static_cast<unsigned char>(s[i + n]);
    if (c < lo || c > hi) break;
    lo = 0x80;
    hi = 0xBF;
  }
  *valid = n == need + 1;
  return n;
}

bool is_valid_utf8(std::string_view s) { return first_invalid_utf8(s, 0) == std::string_view::npos; }

std::string_view repair_utf8(std::string_view text, std::string& storage) {
  std::size_t bad = first_invalid_utf8(text, 0);
  if (bad == std::string_view::npos) return text;
  storage.assign(text.substr(0, bad));
  std::size_t i = bad;
  while (i < text.size()) {
    bool valid = false;
    std::size_t n = utf8_sequence(text, i, &valid);
    if (valid) {
      storage.append(text.substr(i, n));
    } else {
      storage.append("\xEF\xBF\xBD");
    }
    i += n;
  }
  return storage;
}

}  // namespace webcrawl::parser
