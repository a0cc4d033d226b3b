// The Link header (RFC 8288); the contract is in link_header.h.
#include "parser/link_header.h"

#include "parser/ascii.h"

namespace webcrawl::parser {
namespace {

constexpr std::size_t kNpos = std::string_view::npos;

// RFC 9110 5.6.2 tchar.
bool is_tchar(char c) {
  return is_ascii_alpha(c) || is_ascii_digit(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A cursor over one header value.
class LinkReader {
 public:
  explicit LinkReader(std::string_view s) : s_(s) {}

  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  void skip_ows() {
    while (!done() && is_ows(s_[i_])) ++i_;
  }
  void skip(std::size_t n) { i_ += n; }

  // "<target>", with the reader on '<'; nullopt when '>' never comes.
  std::optional<std::string_view> target() {
    std::size_t close = s_.find('>', i_ + 1);
    if (close == kNpos) return std::nullopt;
    std::string_view out = s_.substr(i_ + 1, close - i_ - 1);
    i_ = close + 1;
    return trim_ows(out);
  }

  std::string_view token() {
    std::size_t start = i_;
    while (!done() && is_tchar(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }

  // A quoted-string, with the reader on its '"'; backslash escapes undone.
  // An unterminated one runs to the end of the value.
  std::string quoted() {
    std::string out;
    for (++i_; !done() && s_[i_] != '"'; ++i_) {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      out.push_back(s_[i_]);
    }
    if (!done()) ++i_;
    return out;
  }

  // A parameter value: a quoted-string or, leniently, anything up to the
  // next white space, ';' or ','.
  std::string value() {
    if (peek() == '"') return quoted();
    std::size_t start = i_;
    while (!done() && !is_ows(s_[i_]) && s_[i_] != ';' && s_[i_] != ',') ++i_;
    return std::string(s_.substr(start, i_ - start));
  }

  // Recovers from a malformed link-value: on to the next comma outside quotes.
  void skip_link() {
    while (!done() && s_[i_] != ',') {
      if (s_[i_] == '"') {
        (void)quoted();
      } else {
        ++i_;
      }
    }
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

// True when the space-separated relation types in `rel` include `relation`.
bool has_relation(std::string_view rel, std::string_view relation) {
  for (std::size_t i = 0; i < rel.size();) {
    std::size_t end = i;
    while (end < rel.size() && !is_html_space(rel[end])) ++end;
    if (iequals(rel.substr(i, end - i), relation)) return true;
    i = end + 1;
  }
  return false;
}

}  // namespace

std::optional<std::string> find_link(std::string_view value, std::string_view relation) {
  LinkReader in(value);
  for (;;) {
    while (in.peek() == ',' || is_ows(in.peek())) in.skip(1);
    if (in.done()) return std::nullopt;
    if (in.peek() != '<') {
      in.skip_link();
      continue;
    }
    auto target = in.target();
    if (!target) return std::nullopt;
    bool rel_seen = false, matches = false, anchored = false;
    for (;;) {
      in.skip_ows();
      if (in.done() || in.peek() == ',') break;
      if (in.peek() != ';') {
        matches = false;  // not a link-value after all
        in.skip_link();
        break;
      }
      in.skip(1);
      in.skip_ows();
      std::string_view name = in.token();
      in.skip_ows();
      std::string param;
      if (in.peek() == '=') {
        in.skip(1);
        in.skip_ows();
        param = in.value();
      }
      if (iequals(name, "rel") && !rel_seen) {
        rel_seen = true;
        matches = has_relation(param, relation);
      }
      if (iequals(name, "anchor")) anchored = true;
    }
    if (matches && !anchored) return std::string(*target);
  }
}

}  // namespace webcrawl::parser
