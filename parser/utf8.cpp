#include "parser/utf8.h"

namespace webcrawl::parser {

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

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    bool valid = false;
    i += utf8_sequence(s, i, &valid);
    if (!valid) return false;
  }
  return true;
}

}  // namespace webcrawl::parser
