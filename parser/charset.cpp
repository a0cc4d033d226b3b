// Character sets: detection in the HTML Standard's order and conversion to
// UTF-8 through iconv. Over 600 lines because a third of it is one table, the
// Encoding Standard's 220-odd labels (kLabels), kept whole and sorted here.
#include "parser/charset.h"

#include "parser/ascii.h"

#include <errno.h>
#include <iconv.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>

#include "parser/utf8.h"

namespace webcrawl::parser {
namespace {

// The encodings of the WHATWG Encoding Standard that we decode ("replacement"
// and "x-user-defined" excepted, see the header). kUnknown stands for the
// standard's "failure".
enum class Enc : std::uint8_t {
  kUtf8,
  kIbm866,
  kIso8859_2,
  kIso8859_3,
  kIso8859_4,
  kIso8859_5,
  kIso8859_6,
  kIso8859_7,
  kIso8859_8,
  kIso8859_8I,
  kIso8859_10,
  kIso8859_13,
  kIso8859_14,
  kIso8859_15,
  kIso8859_16,
  kKoi8R,
  kKoi8U,
  kMacintosh,
  kWindows874,
  kWindows1250,
  kWindows1251,
  kWindows1252,
  kWindows1253,
  kWindows1254,
  kWindows1255,
  kWindows1256,
  kWindows1257,
  kWindows1258,
  kMacCyrillic,
  kGbk,
  kGb18030,
  kBig5,
  kEucJp,
  kIso2022Jp,
  kShiftJis,
  kEucKr,
  kUtf16Be,
  kUtf16Le,
  kUnknown,
};

struct EncodingInfo {
  std::string_view name;  // canonical WHATWG name
  const char* iconv;      // glibc iconv name; null for UTF-8, which we decode ourselves
};

// Where the WHATWG decoder matches a glibc table other than the namesake, the
// comment says why that table was chosen.
constexpr std::array<EncodingInfo, static_cast<std::size_t>(Enc::kUnknown) + 1> kEncodings = {{
    {"UTF-8", nullptr},
    {"IBM866", "IBM866"},
    {"ISO-8859-2", "ISO-8859-2"},
    {"ISO-8859-3", "ISO-8859-3"},
    {"ISO-8859-4", "ISO-8859-4"},
    {"ISO-8859-5", "ISO-8859-5"},
    {"ISO-8859-6", "ISO-8859-6"},
    {"ISO-8859-7", "ISO-8859-7"},
    {"ISO-8859-8", "ISO-8859-8"},
    // Logical and visual Hebrew differ in rendering only; the bytes map alike.
    {"ISO-8859-8-I", "ISO-8859-8"},
    {"ISO-8859-10", "ISO-8859-10"},
    {"ISO-8859-13", "ISO-8859-13"},
    {"ISO-8859-14", "ISO-8859-14"},
    {"ISO-8859-15", "ISO-8859-15"},
    {"ISO-8859-16", "ISO-8859-16"},
    {"KOI8-R", "KOI8-R"},
    // WHATWG's KOI8-U index has the Belarusian letters at 0xAE/0xBE (KOI8-RU);
    // glibc's KOI8-U has box drawing there.
    {"KOI8-U", "KOI8-RU"},
    {"macintosh", "MACINTOSH"},
    {"windows-874", "CP874"},
    {"windows-1250", "CP1250"},
    {"windows-1251", "CP1251"},
    {"windows-1252", "CP1252"},
    {"windows-1253", "CP1253"},
    {"windows-1254", "CP1254"},
    {"windows-1255", "CP1255"},
    {"windows-1256", "CP1256"},
    {"windows-1257", "CP1257"},
    {"windows-1258", "CP1258"},
    {"x-mac-cyrillic", "MAC-CYRILLIC"},
    // The Encoding Standard's GBK decoder is its gb18030 decoder.
    {"GBK", "GB18030"},
    {"gb18030", "GB18030"},
    // WHATWG's Big5 index is Big5-HKSCS, including its two-code-point entries.
    {"Big5", "BIG5-HKSCS"},
    // WHATWG's jis0208 index has Microsoft's mappings (0xA1C1 is U+FF5E).
    {"EUC-JP", "EUC-JP-MS"},
    // glibc's plain ISO-2022-JP lacks the ESC ( I katakana set WHATWG decodes.
    {"ISO-2022-JP", "ISO-2022-JP-2"},
    // WHATWG's Shift_JIS is Windows code page 932.
    {"Shift_JIS", "CP932"},
    // WHATWG's EUC-KR is Windows code page 949 (Unified Hangul Code).
    {"EUC-KR", "CP949"},
    {"UTF-16BE", "UTF-16BE"},
    {"UTF-16LE", "UTF-16LE"},
    {"", nullptr},
}};

const EncodingInfo& info(Enc enc) { return kEncodings[static_cast<std::size_t>(enc)]; }

struct Label {
  std::string_view label;
  Enc enc;
};

// The Encoding Standard's label table, sorted for binary search.
constexpr Label kLabels[] = {
    {"866", Enc::kIbm866},
    {"ansi_x3.4-1968", Enc::kWindows1252},
    {"arabic", Enc::kIso8859_6},
    {"ascii", Enc::kWindows1252},
    {"asmo-708", Enc::kIso8859_6},
    {"big5", Enc::kBig5},
    {"big5-hkscs", Enc::kBig5},
    {"chinese", Enc::kGbk},
    {"cn-big5", Enc::kBig5},
    {"cp1250", Enc::kWindows1250},
    {"cp1251", Enc::kWindows1251},
    {"cp1252", Enc::kWindows1252},
    {"cp1253", Enc::kWindows1253},
    {"cp1254", Enc::kWindows1254},
    {"cp1255", Enc::kWindows1255},
    {"cp1256", Enc::kWindows1256},
    {"cp1257", Enc::kWindows1257},
    {"cp1258", Enc::kWindows1258},
    {"cp819", Enc::kWindows1252},
    {"cp866", Enc::kIbm866},
    {"csbig5", Enc::kBig5},
    {"cseuckr", Enc::kEucKr},
    {"cseucpkdfmtjapanese", Enc::kEucJp},
    {"csgb2312", Enc::kGbk},
    {"csibm866", Enc::kIbm866},
    {"csiso2022jp", Enc::kIso2022Jp},
    {"csiso58gb231280", Enc::kGbk},
    {"csiso88596e", Enc::kIso8859_6},
    {"csiso88596i", Enc::kIso8859_6},
    {"csiso88598e", Enc::kIso8859_8},
    {"csiso88598i", Enc::kIso8859_8I},
    {"csisolatin1", Enc::kWindows1252},
    {"csisolatin2", Enc::kIso8859_2},
    {"csisolatin3", Enc::kIso8859_3},
    {"csisolatin4", Enc::kIso8859_4},
    {"csisolatin5", Enc::kWindows1254},
    {"csisolatin6", Enc::kIso8859_10},
    {"csisolatin9", Enc::kIso8859_15},
    {"csisolatinarabic", Enc::kIso8859_6},
    {"csisolatincyrillic", Enc::kIso8859_5},
    {"csisolatingreek", Enc::kIso8859_7},
    {"csisolatinhebrew", Enc::kIso8859_8},
    {"cskoi8r", Enc::kKoi8R},
    {"csksc56011987", Enc::kEucKr},
    {"csmacintosh", Enc::kMacintosh},
    {"csshiftjis", Enc::kShiftJis},
    {"csunicode", Enc::kUtf16Le},
    {"cyrillic", Enc::kIso8859_5},
    {"dos-874", Enc::kWindows874},
    {"ecma-114", Enc::kIso8859_6},
    {"ecma-118", Enc::kIso8859_7},
    {"elot_928", Enc::kIso8859_7},
    {"euc-jp", Enc::kEucJp},
    {"euc-kr", Enc::kEucKr},
    {"gb18030", Enc::kGb18030},
    {"gb2312", Enc::kGbk},
    {"gb_2312", Enc::kGbk},
    {"gb_2312-80", Enc::kGbk},
    {"gbk", Enc::kGbk},
    {"greek", Enc::kIso8859_7},
    {"greek8", Enc::kIso8859_7},
    {"hebrew", Enc::kIso8859_8},
    {"ibm819", Enc::kWindows1252},
    {"ibm866", Enc::kIbm866},
    {"iso-10646-ucs-2", Enc::kUtf16Le},
    {"iso-2022-jp", Enc::kIso2022Jp},
    {"iso-8859-1", Enc::kWindows1252},
    {"iso-8859-10", Enc::kIso8859_10},
    {"iso-8859-11", Enc::kWindows874},
    {"iso-8859-13", Enc::kIso8859_13},
    {"iso-8859-14", Enc::kIso8859_14},
    {"iso-8859-15", Enc::kIso8859_15},
    {"iso-8859-16", Enc::kIso8859_16},
    {"iso-8859-2", Enc::kIso8859_2},
    {"iso-8859-3", Enc::kIso8859_3},
    {"iso-8859-4", Enc::kIso8859_4},
    {"iso-8859-5", Enc::kIso8859_5},
    {"iso-8859-6", Enc::kIso8859_6},
    {"iso-8859-6-e", Enc::kIso8859_6},
    {"iso-8859-6-i", Enc::kIso8859_6},
    {"iso-8859-7", Enc::kIso8859_7},
    {"iso-8859-8", Enc::kIso8859_8},
    {"iso-8859-8-e", Enc::kIso8859_8},
    {"iso-8859-8-i", Enc::kIso8859_8I},
    {"iso-8859-9", Enc::kWindows1254},
    {"iso-ir-100", Enc::kWindows1252},
    {"iso-ir-101", Enc::kIso8859_2},
    {"iso-ir-109", Enc::kIso8859_3},
    {"iso-ir-110", Enc::kIso8859_4},
    {"iso-ir-126", Enc::kIso8859_7},
    {"iso-ir-127", Enc::kIso8859_6},
    {"iso-ir-138", Enc::kIso8859_8},
    {"iso-ir-144", Enc::kIso8859_5},
    {"iso-ir-148", Enc::kWindows1254},
    {"iso-ir-149", Enc::kEucKr},
    {"iso-ir-157", Enc::kIso8859_10},
    {"iso-ir-58", Enc::kGbk},
    {"iso8859-1", Enc::kWindows1252},
    {"iso8859-10", Enc::kIso8859_10},
    {"iso8859-11", Enc::kWindows874},
    {"iso8859-13", Enc::kIso8859_13},
    {"iso8859-14", Enc::kIso8859_14},
    {"iso8859-15", Enc::kIso8859_15},
    {"iso8859-2", Enc::kIso8859_2},
    {"iso8859-3", Enc::kIso8859_3},
    {"iso8859-4", Enc::kIso8859_4},
    {"iso8859-5", Enc::kIso8859_5},
    {"iso8859-6", Enc::kIso8859_6},
    {"iso8859-7", Enc::kIso8859_7},
    {"iso8859-8", Enc::kIso8859_8},
    {"iso8859-9", Enc::kWindows1254},
    {"iso88591", Enc::kWindows1252},
    {"iso885910", Enc::kIso8859_10},
    {"iso885911", Enc::kWindows874},
    {"iso885913", Enc::kIso8859_13},
    {"iso885914", Enc::kIso8859_14},
    {"iso885915", Enc::kIso8859_15},
    {"iso88592", Enc::kIso8859_2},
    {"iso88593", Enc::kIso8859_3},
    {"iso88594", Enc::kIso8859_4},
    {"iso88595", Enc::kIso8859_5},
    {"iso88596", Enc::kIso8859_6},
    {"iso88597", Enc::kIso8859_7},
    {"iso88598", Enc::kIso8859_8},
    {"iso88599", Enc::kWindows1254},
    {"iso_8859-1", Enc::kWindows1252},
    {"iso_8859-15", Enc::kIso8859_15},
    {"iso_8859-1:1987", Enc::kWindows1252},
    {"iso_8859-2", Enc::kIso8859_2},
    {"iso_8859-2:1987", Enc::kIso8859_2},
    {"iso_8859-3", Enc::kIso8859_3},
    {"iso_8859-3:1988", Enc::kIso8859_3},
    {"iso_8859-4", Enc::kIso8859_4},
    {"iso_8859-4:1988", Enc::kIso8859_4},
    {"iso_8859-5", Enc::kIso8859_5},
    {"iso_8859-5:1988", Enc::kIso8859_5},
    {"iso_8859-6", Enc::kIso8859_6},
    {"iso_8859-6:1987", Enc::kIso8859_6},
    {"iso_8859-7", Enc::kIso8859_7},
    {"iso_8859-7:1987", Enc::kIso8859_7},
    {"iso_8859-8", Enc::kIso8859_8},
    {"iso_8859-8:1988", Enc::kIso8859_8},
    {"iso_8859-9", Enc::kWindows1254},
    {"iso_8859-9:1989", Enc::kWindows1254},
    {"koi", Enc::kKoi8R},
    {"koi8", Enc::kKoi8R},
    {"koi8-r", Enc::kKoi8R},
    {"koi8-ru", Enc::kKoi8U},
    {"koi8-u", Enc::kKoi8U},
    {"koi8_r", Enc::kKoi8R},
    {"korean", Enc::kEucKr},
    {"ks_c_5601-1987", Enc::kEucKr},
    {"ks_c_5601-1989", Enc::kEucKr},
    {"ksc5601", Enc::kEucKr},
    {"ksc_5601", Enc::kEucKr},
    {"l1", Enc::kWindows1252},
    {"l2", Enc::kIso8859_2},
    {"l3", Enc::kIso8859_3},
    {"l4", Enc::kIso8859_4},
    {"l5", Enc::kWindows1254},
    {"l6", Enc::kIso8859_10},
    {"l9", Enc::kIso8859_15},
    {"latin1", Enc::kWindows1252},
    {"latin2", Enc::kIso8859_2},
    {"latin3", Enc::kIso8859_3},
    {"latin4", Enc::kIso8859_4},
    {"latin5", Enc::kWindows1254},
    {"latin6", Enc::kIso8859_10},
    {"logical", Enc::kIso8859_8I},
    {"mac", Enc::kMacintosh},
    {"macintosh", Enc::kMacintosh},
    {"ms932", Enc::kShiftJis},
    {"ms_kanji", Enc::kShiftJis},
    {"shift-jis", Enc::kShiftJis},
    {"shift_jis", Enc::kShiftJis},
    {"sjis", Enc::kShiftJis},
    {"sun_eu_greek", Enc::kIso8859_7},
    {"tis-620", Enc::kWindows874},
    {"ucs-2", Enc::kUtf16Le},
    {"unicode", Enc::kUtf16Le},
    {"unicode-1-1-utf-8", Enc::kUtf8},
    {"unicode11utf8", Enc::kUtf8},
    {"unicode20utf8", Enc::kUtf8},
    {"unicodefeff", Enc::kUtf16Le},
    {"unicodefffe", Enc::kUtf16Be},
    {"us-ascii", Enc::kWindows1252},
    {"utf-16", Enc::kUtf16Le},
    {"utf-16be", Enc::kUtf16Be},
    {"utf-16le", Enc::kUtf16Le},
    {"utf-8", Enc::kUtf8},
    {"utf8", Enc::kUtf8},
    {"visual", Enc::kIso8859_8},
    {"windows-1250", Enc::kWindows1250},
    {"windows-1251", Enc::kWindows1251},
    {"windows-1252", Enc::kWindows1252},
    {"windows-1253", Enc::kWindows1253},
    {"windows-1254", Enc::kWindows1254},
    {"windows-1255", Enc::kWindows1255},
    {"windows-1256", Enc::kWindows1256},
    {"windows-1257", Enc::kWindows1257},
    {"windows-1258", Enc::kWindows1258},
    {"windows-31j", Enc::kShiftJis},
    {"windows-874", Enc::kWindows874},
    {"windows-949", Enc::kEucKr},
    {"x-cp1250", Enc::kWindows1250},
    {"x-cp1251", Enc::kWindows1251},
    {"x-cp1252", Enc::kWindows1252},
    {"x-cp1253", Enc::kWindows1253},
    {"x-cp1254", Enc::kWindows1254},
    {"x-cp1255", Enc::kWindows1255},
    {"x-cp1256", Enc::kWindows1256},
    {"x-cp1257", Enc::kWindows1257},
    {"x-cp1258", Enc::kWindows1258},
    {"x-euc-jp", Enc::kEucJp},
    {"x-gbk", Enc::kGbk},
    {"x-mac-cyrillic", Enc::kMacCyrillic},
    {"x-mac-roman", Enc::kMacintosh},
    {"x-mac-ukrainian", Enc::kMacCyrillic},
    {"x-sjis", Enc::kShiftJis},
    {"x-unicode20utf8", Enc::kUtf8},
    {"x-user-defined", Enc::kWindows1252},
    {"x-x-big5", Enc::kBig5},
};

static_assert(std::ranges::is_sorted(kLabels, {}, &Label::label));
constexpr std::size_t kLongestLabel = 19;  // "cseucpkdfmtjapanese"

bool is_space(char c) { return is_html_space(c); }

bool starts_with_lower(std::string_view s, std::size_t pos, std::string_view lower) {
  return pos <= s.size() && iequals(s.substr(pos, lower.size()), lower);
}

// The Encoding Standard's "get an encoding".
Enc encoding_for_label(std::string_view label) {
  label = trim(label);
  if (label.empty() || label.size() > kLongestLabel) return Enc::kUnknown;
  char buffer[kLongestLabel];
  std::transform(label.begin(), label.end(), buffer, ascii_lower);
  std::string_view lower(buffer, label.size());
  const auto* it = std::lower_bound(std::begin(kLabels), std::end(kLabels), lower,
                                    [](const Label& l, std::string_view key) { return l.label < key; });
  return it != std::end(kLabels) && it->label == lower ? it->enc : Enc::kUnknown;
}

bool is_utf16(Enc enc) { return enc == Enc::kUtf16Be || enc == Enc::kUtf16Le; }

struct Bom {
  Enc enc;
  std::size_t length;
};

// The Encoding Standard's "BOM sniff".
std::optional<Bom> sniff_bom(std::string_view body) {
  if (body.starts_with("\xEF\xBB\xBF")) return Bom{Enc::kUtf8, 3};
  if (body.starts_with("\xFE\xFF")) return Bom{Enc::kUtf16Be, 2};
  if (body.starts_with("\xFF\xFE")) return Bom{Enc::kUtf16Le, 2};
  return std::nullopt;
}

// ---- Content-Type header ----

bool is_http_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The raw value of the first charset parameter of a Content-Type value, after
// WHATWG MIME Sniffing's parameter rules. Backslash escapes in quoted values
// are not undone: no encoding label contains a backslash, so an escaped value
// fails the label lookup, which is the right outcome anyway.
std::string_view charset_parameter(std::string_view content_type) {
  std::size_t pos = content_type.find(';');
  const std::size_t n = content_type.size();
  while (pos < n) {
    ++pos;  // past ';'
    while (pos < n && is_http_space(content_type[pos])) ++pos;
    const std::size_t name_start = pos;
    while (pos < n && content_type[pos] != ';' && content_type[pos] != '=') ++pos;
    if (pos >= n || content_type[pos] == ';') continue;
    std::string_view name = content_type.substr(name_start, pos - name_start);
    ++pos;  // past '='
    std::string_view value;
    if (pos < n && content_type[pos] == '"') {
      const std::size_t value_start = ++pos;
      while (pos < n && content_type[pos] != '"') pos += content_type[pos] == '\\' ? 2 : 1;
      value = content_type.substr(value_start, std::min(pos, n) - value_start);
      pos = content_type.find(';', std::min(pos, n));
    } else {
      const std::size_t value_start = pos;
      pos = content_type.find(';', pos);
      value = content_type.substr(value_start, std::min(pos, n) - value_start);
      while (!value.empty() && is_http_space(value.back())) value.remove_suffix(1);
    }
    if (iequals(name, "charset") && !value.empty()) return value;
  }
  return {};
}

// ---- The HTML Standard's "prescan a byte stream to determine its encoding" ----

constexpr std::size_t kPrescanBytes = 1024;

struct Attribute {
  // Spans of the input; the standard lowercases them, we compare ignoring case.
  std::string_view name;
  std::string_view value;
};

enum class Got { kAttribute, kNone, kEnd };

// The standard's "get an attribute". kEnd means the window ended inside the
// tag, which ends the prescan: a tag cut at byte 1024 declares nothing.
Got get_attribute(std::string_view s, std::size_t& pos, Attribute& attr) {
  const std::size_t n = s.size();
  while (pos < n && (is_space(s[pos]) || s[pos] == '/')) ++pos;
  if (pos >= n) return Got::kEnd;
  if (s[pos] == '>') return Got::kNone;
  attr = {};
  const std::size_t name_start = pos;
  // The first byte belongs to the name even when it is '='.
  for (++pos; pos < n; ++pos) {
    const char c = s[pos];
    if (c == '=' || is_space(c) || c == '/' || c == '>') break;
  }
  if (pos >= n) return Got::kEnd;
  attr.name = s.substr(name_start, pos - name_start);
  if (s[pos] == '/' || s[pos] == '>') return Got::kAttribute;
  while (pos < n && is_space(s[pos])) ++pos;
  if (pos >= n) return Got::kEnd;
  if (s[pos] != '=') return Got::kAttribute;
  ++pos;
  while (pos < n && is_space(s[pos])) ++pos;
  if (pos >= n) return Got::kEnd;
  const char quote = s[pos];
  if (quote == '"' || quote == '\'') {
    const std::size_t close = s.find(quote, pos + 1);
    if (close == std::string_view::npos) return Got::kEnd;
    attr.value = s.substr(pos + 1, close - pos - 1);
    pos = close + 1;
    return Got::kAttribute;
  }
  if (quote == '>') return Got::kAttribute;
  const std::size_t value_start = pos;
  while (pos < n && !is_space(s[pos]) && s[pos] != '>') ++pos;
  if (pos >= n) return Got::kEnd;
  attr.value = s.substr(value_start, pos - value_start);
  return Got::kAttribute;
}

// The ASCII case-insensitive position of "charset" in s at or after pos.
std::size_t find_charset_word(std::string_view s, std::size_t pos) {
  for (; pos + 7 <= s.size(); ++pos) {
    if (starts_with_lower(s, pos, "charset")) return pos;
  }
  return std::string_view::npos;
}

// The HTML Standard's "algorithm for extracting a character encoding from a
// meta element", applied to a content attribute's value.
Enc encoding_from_content(std::string_view content) {
  std::size_t pos = 0;
  for (;;) {
    const std::size_t word = find_charset_word(content, pos);
    if (word == std::string_view::npos) return Enc::kUnknown;
    pos = word + 7;
    while (pos < content.size() && is_space(content[pos])) ++pos;
    if (pos < content.size() && content[pos] == '=') break;
    // Not "charset=": look for the next "charset" from here.
  }
  ++pos;
  while (pos < content.size() && is_space(content[pos])) ++pos;
  if (pos >= content.size()) return Enc::kUnknown;
  const char quote = content[pos];
  if (quote == '"' || quote == '\'') {
    const std::size_t close = content.find(quote, pos + 1);
    if (close == std::string_view::npos) return Enc::kUnknown;
    return encoding_for_label(content.substr(pos + 1, close - pos - 1));
  }
  std::size_t end = pos;
  while (end < content.size() && !is_space(content[end]) && content[end] != ';') ++end;
  return encoding_for_label(content.substr(pos, end - pos));
}

// What one <meta> tag says; `end` means the window ended inside it.
struct MetaResult {
  Enc enc = Enc::kUnknown;
  bool end = false;
};

// The standard's steps for a <meta> tag, from just after "<meta" and its
// following space or slash. Leaves pos at the tag's '>'.
MetaResult prescan_meta(std::string_view s, std::size_t& pos) {
  bool seen_http_equiv = false, seen_content = false, seen_charset = false;
  bool got_pragma = false;
  std::optional<bool> need_pragma;
  std::optional<Enc> charset;  // nullopt is the standard's "null"; kUnknown its "failure"
  Attribute attr;
  for (;;) {
    const Got got = get_attribute(s, pos, attr);
    if (got == Got::kEnd) return {Enc::kUnknown, true};
    if (got == Got::kNone) break;
    // Only the first attribute of each name counts.
    if (iequals(attr.name, "http-equiv")) {
      if (std::exchange(seen_http_equiv, true)) continue;
      if (iequals(attr.value, "content-type")) got_pragma = true;
    } else if (iequals(attr.name, "content")) {
      if (std::exchange(seen_content, true) || charset) continue;
      const Enc enc = encoding_from_content(attr.value);
      if (enc == Enc::kUnknown) continue;
      charset = enc;
      need_pragma = true;
    } else if (iequals(attr.name, "charset")) {
      if (std::exchange(seen_charset, true)) continue;
      charset = encoding_for_label(attr.value);
      need_pragma = false;
    }
  }
  if (!need_pragma || (*need_pragma && !got_pragma)) return {};
  if (!charset || *charset == Enc::kUnknown) return {};
  // A document that can be prescanned as ASCII cannot be UTF-16.
  return {is_utf16(*charset) ? Enc::kUtf8 : *charset, false};
}

Enc prescan(std::string_view body) {
  const std::string_view s = body.substr(0, kPrescanBytes);
  const std::size_t n = s.size();
  std::size_t pos = 0;
  while (pos < n) {
    if (s.compare(pos, 4, "<!--") == 0) {
      // "<!-->" closes itself: the "--" of the opener counts.
      const std::size_t close = s.find("-->", pos + 2);
      if (close == std::string_view::npos) return Enc::kUnknown;
      pos = close + 3;
      continue;
    }
    if (starts_with_lower(s, pos, "<meta") && pos + 5 < n && (is_space(s[pos + 5]) || s[pos + 5] == '/')) {
      pos += 6;
      const MetaResult meta = prescan_meta(s, pos);
      if (meta.end) return Enc::kUnknown;
      if (meta.enc != Enc::kUnknown) return meta.enc;
      ++pos;
      continue;
    }
    const bool lt = s[pos] == '<' && pos + 1 < n;
    if (lt && (is_ascii_alpha(s[pos + 1]) || (s[pos + 1] == '/' && pos + 2 < n && is_ascii_alpha(s[pos + 2])))) {
      // Any other tag: skip its name and attributes, so a '<meta' inside an
      // attribute value is not taken for a tag.
      while (pos < n && !is_space(s[pos]) && s[pos] != '>') ++pos;
      Attribute attr;
      Got got = Got::kAttribute;
      while (got == Got::kAttribute) got = get_attribute(s, pos, attr);
      if (got == Got::kEnd) return Enc::kUnknown;
      ++pos;
      continue;
    }
    if (lt && (s[pos + 1] == '!' || s[pos + 1] == '/' || s[pos + 1] == '?')) {
      const std::size_t close = s.find('>', pos + 1);
      if (close == std::string_view::npos) return Enc::kUnknown;
      pos = close + 1;
      continue;
    }
    ++pos;
  }
  return Enc::kUnknown;
}

// ---- UTF-8 ----

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The longest prefix of valid UTF-8 `s` that has at most `max` bytes and ends
// on a character boundary.
std::size_t boundary_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s.size();
  std::size_t keep = max;
  while (keep > 0 && is_continuation(s[keep])) --keep;
  return keep;
}

// Appends valid UTF-8 `piece`, or its longest whole-character prefix that fits
// in `max`; false when it did not all fit.
bool append_bounded(std::string& out, std::string_view piece, std::size_t max) {
  const std::size_t room = max - out.size();
  const std::size_t keep = boundary_prefix(piece, room);
  out.append(piece.data(), keep);
  return keep == piece.size();
}

Utf8Text repair_utf8(std::string body, std::size_t max_output) {
  Utf8Text result;
  std::size_t bad = first_invalid_utf8(body, 0);
  if (bad == std::string::npos) {
    const std::size_t keep = boundary_prefix(body, max_output);
    result.truncated = keep < body.size();
    body.resize(keep);
    result.text = std::move(body);
    return result;
  }
  const std::string_view in = body;
  std::string& out = result.text;
  out.reserve(std::min(max_output, in.size() + 64));
  std::size_t run = 0;  // start of the valid bytes not yet copied
  while (bad != std::string_view::npos) {
    bool valid = false;
    const std::size_t length = utf8_sequence(in, bad, &valid);
    if (!append_bounded(out, in.substr(run, bad - run), max_output) ||
        !append_bounded(out, kReplacement, max_output)) {
      result.truncated = true;
      return result;
    }
    ++result.replaced;
    run = bad + length;
    bad = first_invalid_utf8(in, run);
  }
  result.truncated = !append_bounded(out, in.substr(run), max_output);
  return result;
}

// ---- Legacy encodings through iconv ----

const iconv_t kNoDescriptor = reinterpret_cast<iconv_t>(-1);

// Each thread's iconv descriptors, opened on first use and reset before each
// conversion. iconv_t is not thread-safe, so sharing one would need a lock.
class DescriptorCache {
 public:
  DescriptorCache() { descriptors_.fill(nullptr); }
  ~DescriptorCache() {
    for (iconv_t cd : descriptors_) {
      if (cd != nullptr && cd != kNoDescriptor) iconv_close(cd);
    }
  }
  DescriptorCache(const DescriptorCache&) = delete;
  DescriptorCache& operator=(const DescriptorCache&) = delete;

  // kNoDescriptor when this glibc cannot convert `enc` (no gconv modules).
  iconv_t get(Enc enc) {
    iconv_t& cd = descriptors_[static_cast<std::size_t>(enc)];
    if (cd == nullptr) cd = iconv_open("UTF-8", info(enc).iconv);
    return cd;
  }

 private:
  std::array<iconv_t, kEncodings.size()> descriptors_;
};

iconv_t thread_descriptor(Enc enc) {
  thread_local DescriptorCache cache;
  return cache.get(enc);
}

// Code points the Encoding Standard's indexes define but glibc's tables lack,
// for a byte iconv rejected; 0 when there is none.
char32_t whatwg_only(Enc enc, unsigned char byte) {
  switch (enc) {
    case Enc::kWindows1252:
      // WHATWG maps the five holes of code page 1252 to the C1 controls.
      if (byte == 0x81 || byte == 0x8D || byte == 0x8F || byte == 0x90 || byte == 0x9D) return byte;
      return 0;
    case Enc::kGbk:
    case Enc::kGb18030:
      return byte == 0x80 ? U'\u20AC' : 0;
    case Enc::kShiftJis:
      return byte == 0x80 ? U'\u0080' : 0;
    default:
      return 0;
  }
}

std::size_t encode_utf8(char32_t cp, char* out) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  out[0] = static_cast<char>(0xE0 | (cp >> 12));
  out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[2] = static_cast<char>(0x80 | (cp & 0x3F));
  return 3;
}

// Makes room for `need` more bytes after `used` in `buffer` without passing
// `max`; false when that would pass it.
bool make_room(std::string& buffer, std::size_t used, std::size_t need, std::size_t max) {
  if (buffer.size() - used >= need) return true;
  if (need > max - used) return false;
  buffer.resize(std::min(max, std::max(buffer.size() * 2, used + need)));
  return true;
}

Utf8Text convert_with_iconv(std::string_view in, Enc enc, std::size_t max_output) {
  iconv_t cd = thread_descriptor(enc);
  if (cd == kNoDescriptor) return repair_utf8(std::string(in), max_output);
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // back to the initial shift state

  Utf8Text result;
  std::string& out = result.text;
  // Most legacy text grows by at most half in UTF-8 (2 bytes to 3 for CJK).
  out.resize(std::min(max_output, in.size() + in.size() / 2 + 16));
  std::size_t used = 0;
  // iconv's prototype is not const-correct; it only reads the input.
  char* src = const_cast<char*>(in.data());
  std::size_t left = in.size();
  const std::size_t unit = is_utf16(enc) ? 2 : 1;
  while (left > 0) {
    char* dst = out.data() + used;
    std::size_t room = out.size() - used;
    const std::size_t rc = iconv(cd, &src, &left, &dst, &room);
    used = static_cast<std::size_t>(dst - out.data());
    if (rc != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) {
      if (make_room(out, used, out.size() - used + 1, max_output)) continue;
      result.truncated = true;
      break;
    }
    // EILSEQ (malformed or unmappable) or EINVAL (cut short at the end): the
    // unit at src becomes one U+FFFD and decoding resumes after it.
    char32_t cp = whatwg_only(enc, static_cast<unsigned char>(*src));
    if (cp == 0) {
      cp = U'\uFFFD';
      ++result.replaced;
    }
    char bytes[3];
    const std::size_t length = encode_utf8(cp, bytes);
    if (!make_room(out, used, length, max_output)) {
      result.truncated = true;
      break;
    }
    std::memcpy(out.data() + used, bytes, length);
    used += length;
    const std::size_t skip = std::min(unit, left);
    src += skip;
    left -= skip;
  }
  // Stateful decoders (windows-1258 composes characters) may hold one back.
  while (!result.truncated) {
    char* dst = out.data() + used;
    std::size_t room = out.size() - used;
    const std::size_t rc = iconv(cd, nullptr, nullptr, &dst, &room);
    used = static_cast<std::size_t>(dst - out.data());
    if (rc != static_cast<std::size_t>(-1) || errno != E2BIG) break;
    if (!make_room(out, used, out.size() - used + 1, max_output)) result.truncated = true;
  }
  out.resize(used);
  return result;
}

}  // namespace

std::string_view charset_for_label(std::string_view label) { return info(encoding_for_label(label)).name; }

DetectedCharset detect_charset(std::string_view content_type_header, std::string_view body) {
  if (auto bom = sniff_bom(body)) return {std::string(info(bom->enc).name), "bom"};
  const Enc declared = encoding_for_label(charset_parameter(content_type_header));
  if (declared != Enc::kUnknown) return {std::string(info(declared).name), "header"};
  const Enc meta = prescan(body);
  if (meta != Enc::kUnknown) return {std::string(info(meta).name), "meta"};
  return {std::string(info(Enc::kUtf8).name), "default"};
}

Utf8Text to_utf8(std::string body, std::string_view charset, std::size_t max_output) {
  Enc enc = encoding_for_label(charset);
  std::size_t bom_length = 0;
  if (auto bom = sniff_bom(body)) {
    enc = bom->enc;
    bom_length = bom->length;
  }
  if (enc == Enc::kUnknown || enc == Enc::kUtf8) {
    body.erase(0, bom_length);
    return repair_utf8(std::move(body), max_output);
  }
  return convert_with_iconv(std::string_view(body).substr(bom_length), enc, max_output);
}

}  // namespace webcrawl::parser
