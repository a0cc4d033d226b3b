// HTML extraction over gumbo's tree; the contract is in extract.h.
#include "parser/extract.h"


#include <gumbo.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <unordered_set>
#include <utility>

#include "parser/ascii.h"
#include "parser/gumbo_document.h"
#include "parser/robots_directives.h"
#include "parser/utf8.h"

namespace webcrawl::parser {
namespace {

// What the walk does with an element's contents, by tag.
enum class Role : uint8_t {
  kInline,  // text flows through
  kBlock,   // starts and ends a word: "<p>a</p><p>b</p>" is "a b"
  kHidden,  // not visible text, but may hold links and metadata: head, noscript
  kSkip,    // never descended: scripts, styles, raw text, <title>
};

constexpr std::array<Role, GUMBO_TAG_LAST + 1> make_roles() {
  std::array<Role, GUMBO_TAG_LAST + 1> roles{};
  for (GumboTag tag : {
           GUMBO_TAG_HTML, GUMBO_TAG_BODY, GUMBO_TAG_MAIN, GUMBO_TAG_ARTICLE, GUMBO_TAG_SECTION,
           GUMBO_TAG_NAV, GUMBO_TAG_ASIDE, GUMBO_TAG_HEADER, GUMBO_TAG_FOOTER, GUMBO_TAG_ADDRESS,
           GUMBO_TAG_DIV, GUMBO_TAG_CENTER, GUMBO_TAG_P, GUMBO_TAG_BR, GUMBO_TAG_HR,
           GUMBO_TAG_PRE, GUMBO_TAG_LISTING, GUMBO_TAG_XMP, GUMBO_TAG_PLAINTEXT,
           GUMBO_TAG_BLOCKQUOTE, GUMBO_TAG_FIGURE, GUMBO_TAG_FIGCAPTION, GUMBO_TAG_HGROUP,
           GUMBO_TAG_H1, GUMBO_TAG_H2, GUMBO_TAG_H3, GUMBO_TAG_H4, GUMBO_TAG_H5, GUMBO_TAG_H6,
           GUMBO_TAG_UL, GUMBO_TAG_OL, GUMBO_TAG_LI, GUMBO_TAG_MENU, GUMBO_TAG_DIR,
           GUMBO_TAG_DL, GUMBO_TAG_DT, GUMBO_TAG_DD, GUMBO_TAG_DETAILS, GUMBO_TAG_SUMMARY,
           GUMBO_TAG_TABLE, GUMBO_TAG_CAPTION, GUMBO_TAG_THEAD, GUMBO_TAG_TBODY, GUMBO_TAG_TFOOT,
           GUMBO_TAG_TR, GUMBO_TAG_TD, GUMBO_TAG_TH, GUMBO_TAG_FORM, GUMBO_TAG_FIELDSET,
           GUMBO_TAG_LEGEND, GUMBO_TAG_SELECT, GUMBO_TAG_OPTGROUP, GUMBO_TAG_OPTION,
           GUMBO_TAG_TEXTAREA, GUMBO_TAG_FRAMESET}) {
    roles[tag] = Role::kBlock;
  }
  roles[GUMBO_TAG_HEAD] = Role::kHidden;
  roles[GUMBO_TAG_NOSCRIPT] = Role::kHidden;
  // iframe, noframes and noembed hold raw text (fallback markup as a string).
  for (GumboTag tag : {GUMBO_TAG_SCRIPT, GUMBO_TAG_STYLE, GUMBO_TAG_TEMPLATE, GUMBO_TAG_TITLE,
                       GUMBO_TAG_IFRAME, GUMBO_TAG_NOFRAMES, GUMBO_TAG_NOEMBED}) {
    roles[tag] = Role::kSkip;
  }
  return roles;
}

constexpr std::array<Role, GUMBO_TAG_LAST + 1> kRoles = make_roles();

// Gumbo keeps offsets in 32 bits.
constexpr std::size_t kMaxHtmlBytes = std::numeric_limits<uint32_t>::max() - 1;

constexpr std::size_t kNoAnchor = std::numeric_limits<std::size_t>::max();

// True when `list`, split on any of `separators`, holds `lower` (ASCII case-insensitive).
bool has_token(std::string_view list, std::string_view lower, std::string_view separators) {
  std::size_t i = 0;
  while (i < list.size()) {
    std::size_t end = list.find_first_of(separators, i);
    if (end == std::string_view::npos) end = list.size();
    if (iequals(list.substr(i, end - i), lower)) return true;
    i = end + 1;
  }
  return false;
}

// True for an href with a scheme other than http(s) ("mailto:", "javascript:"),
// which can never resolve to a URL we keep; saves a full parse. Anything
// unusual (say a tab inside the scheme, which the URL parser removes) is left
// to resolve_url.
bool has_other_scheme(std::string_view ref) {
  if (ref.empty() || !((ref[0] >= 'a' && ref[0] <= 'z') || (ref[0] >= 'A' && ref[0] <= 'Z'))) {
    return false;
  }
  for (std::size_t i = 1; i < ref.size(); ++i) {
    char c = ref[i];
    if (c == ':') {
      std::string_view scheme = ref.substr(0, i);
      return !iequals(scheme, "http") && !iequals(scheme, "https");
    }
    bool scheme_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '-' || c == '.';
    if (!scheme_char) return false;
  }
  return false;
}

// True when an ancestor of `node` is the HTML <head>.
bool in_head(const GumboNode& node) {
  for (const GumboNode* up = node.parent; up != nullptr; up = up->parent) {
    if (up->type == GUMBO_NODE_ELEMENT && up->v.element.tag == GUMBO_TAG_HEAD &&
        up->v.element.tag_namespace == GUMBO_NAMESPACE_HTML) {
      return true;
    }
  }
  return false;
}

std::string_view attribute(const GumboElement& element, const char* name) {
  const GumboAttribute* attr = gumbo_get_attribute(&element.attributes, name);
  return attr != nullptr ? std::string_view(attr->value) : std::string_view();
}

// An href as the HTML Standard reads it. Gumbo 0.10.1 replaces control
// characters and noncharacters (DEL, U+0080, U+FFFF, U+FDD0) with U+FFFD,
// where the standard keeps them and the URL parser percent-encodes them
// (issue #11). So when the value holds U+FFFD and its source text has no
// character reference to decode and no NUL (which does become U+FFFD), the
// source text is the value.
std::string_view href_of(const GumboElement& element) {
  const GumboAttribute* attr = gumbo_get_attribute(&element.attributes, "href");
  if (attr == nullptr) return {};
  std::string_view value(attr->value);
  if (value.find("\xEF\xBF\xBD") == std::string_view::npos) return value;
  std::string_view raw(attr->original_value.data, attr->original_value.length);
  if (raw.size() >= 2 && (raw.front() == '"' || raw.front() == '\'') && raw.back() == raw.front()) {
    raw = raw.substr(1, raw.size() - 2);
  }
  if (raw.find('&') != std::string_view::npos || raw.find('\0') != std::string_view::npos) return value;
  return raw;
}

bool has_attribute(const GumboElement& element, const char* name) {
  return gumbo_get_attribute(&element.attributes, name) != nullptr;
}

// `text` when it is valid UTF-8; otherwise a copy in `storage` with each
// malformed byte replaced by U+FFFD. Gumbo 0.10.1 decodes a numeric character
// reference that overflows an int ("&#x1F60BBBBBBBB;") into one arbitrary
// byte instead of U+FFFD, so its text is not always valid UTF-8.
std::string_view valid_utf8(std::string_view text, std::string& storage) {
  std::size_t i = 0;
  bool valid = true;
  while (i < text.size()) {
    std::size_t n = utf8_sequence(text, i, &valid);
    if (!valid) break;
    i += n;
  }
  if (i == text.size()) return text;
  storage.assign(text.substr(0, i));
  while (i < text.size()) {
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

// Appends text to a string with every run of ASCII whitespace collapsed to one
// space, none leading or trailing, and at most `cap` bytes in all, cut at a
// UTF-8 character boundary. The string is passed on each call because it may
// live in a vector that grows between calls; the sink is a small value, so an
// outer link's sink can be saved while an inner one collects.
class TextSink {
 public:
  explicit TextSink(std::size_t cap) : cap_(cap) {}

  void add(std::string& out, std::string_view text) {
    if (full_) return;
    std::string storage;
    text = valid_utf8(text, storage);
    std::size_t i = 0;
    while (i < text.size() && !full_) {
      if (is_html_space(text[i])) {
        pending_space_ = true;
        ++i;
        continue;
      }
      std::size_t end = i + 1;
      while (end < text.size() && !is_html_space(text[end])) ++end;
      put(out, text.substr(i, end - i));
      i = end;
    }
  }

  // A word boundary: the next word starts after a space.
  void separate() { pending_space_ = true; }

 private:
  void put(std::string& out, std::string_view word) {
    std::size_t space = pending_space_ && !out.empty() ? 1 : 0;
    pending_space_ = false;
    std::size_t room = cap_ - out.size();
    if (space + word.size() <= room) {
      out.append(space, ' ');
      out.append(word);
      return;
    }
    full_ = true;
    if (room <= space) return;
    // add() passes only valid UTF-8, so backing off continuation bytes lands
    // on a character boundary.
    std::size_t cut = room - space;
    while (cut > 0 && (static_cast<unsigned char>(word[cut]) & 0xC0) == 0x80) --cut;
    if (cut == 0) return;  // no trailing space
    out.append(space, ' ');
    out.append(word.substr(0, cut));
  }

  std::size_t cap_;
  bool pending_space_ = false;
  bool full_ = false;
};

// Hashes and compares link indexes by their URL, so the dedup set holds no
// second copy of each URL.
struct LinkHash {
  const std::vector<Link>* links;
  std::size_t operator()(std::size_t i) const noexcept {
    return std::hash<std::string_view>{}((*links)[i].url);
  }
};
struct LinkEqual {
  const std::vector<Link>* links;
  bool operator()(std::size_t a, std::size_t b) const noexcept {
    return (*links)[a].url == (*links)[b].url;
  }
};

// One pass over the tree. Links resolve against `base`; when a <base href>
// turns up after links were already resolved without it (a <base> in the
// body), the walk stops and reports the base so the caller can walk again.
class Extractor {
 public:
  Extractor(const Url& page_url, const ExtractOptions& options, std::optional<Url> base)
      : page_url_(page_url),
        options_(options),
        base_(std::move(base)),
        base_known_(base_.has_value()),
        text_(options.max_text_bytes),
        title_text_(options.max_title_bytes),
        anchor_text_(options.max_anchor_text_bytes),
        seen_(16, LinkHash{&page_.links}, LinkEqual{&page_.links}) {}
  // seen_ points into page_.
  Extractor(const Extractor&) = delete;
  Extractor& operator=(const Extractor&) = delete;

  // Returns false when the walk must be redone with late_base().
  bool walk(const GumboNode* document, std::size_t html_bytes);
  const std::optional<Url>& late_base() const { return base_; }
  ExtractedPage take();

 private:
  struct Frame {
    const GumboVector* children;
    unsigned next;
    Role role;
    bool anchor;               // this element set anchor_
    std::size_t outer_anchor;  // anchor_ and anchor_text_ to restore when it ends
    TextSink outer_anchor_text;
  };

  void visit(const GumboNode* node);
  void visit_element(const GumboNode& node);
  void leave(const Frame& frame);
  void add_text(std::string_view text);
  void separate();
  void take_title(const GumboElement& title);
  void take_base(const GumboElement& base);
  void take_robots(const GumboElement& meta);
  void take_canonical(const GumboNode& link);
  std::size_t take_link(const GumboElement& element);

  const Url& page_url_;
  const ExtractOptions& options_;
  std::optional<Url> base_;
  bool base_known_;
  bool saw_link_ = false;  // an <a href> or <area href> was met
  bool restart_ = false;
  bool title_seen_ = false;
  bool canonical_seen_ = false;
  unsigned hidden_ = 0;  // open kHidden elements
  std::size_t anchor_ = kNoAnchor;  // index of the link collecting anchor text
  ExtractedPage page_;
  TextSink text_;
  TextSink title_text_;
  TextSink anchor_text_;
  std::unordered_set<std::size_t, LinkHash, LinkEqual> seen_;
  std::vector<Frame> stack_;
};

bool Extractor::walk(const GumboNode* document, std::size_t html_bytes) {
  page_.text.reserve(std::min(options_.max_text_bytes, html_bytes / 4 + 64));
  stack_.reserve(64);
  visit(document);
  while (!stack_.empty() && !restart_) {
    Frame& top = stack_.back();
    if (top.next < top.children->length) {
      visit(static_cast<const GumboNode*>(top.children->data[top.next++]));
      continue;
    }
    leave(top);
    stack_.pop_back();
  }
  return !restart_;
}

ExtractedPage Extractor::take() { return std::move(page_); }

void Extractor::visit(const GumboNode* node) {
  switch (node->type) {
    case GUMBO_NODE_DOCUMENT:
      stack_.push_back(
          Frame{&node->v.document.children, 0, Role::kInline, false, anchor_, anchor_text_});
      return;
    case GUMBO_NODE_ELEMENT:
      return visit_element(*node);
    case GUMBO_NODE_TEXT:
    case GUMBO_NODE_CDATA:
      return add_text(node->v.text.text);
    case GUMBO_NODE_WHITESPACE:
      return separate();
    case GUMBO_NODE_COMMENT:
    case GUMBO_NODE_TEMPLATE:  // inert content, not part of the page
      return;
  }
}

void Extractor::visit_element(const GumboNode& node) {
  const GumboElement& element = node.v.element;
  Role role = kRoles[element.tag];
  if (element.tag_namespace == GUMBO_NAMESPACE_HTML) {
    switch (element.tag) {
      case GUMBO_TAG_TITLE:
        return take_title(element);
      case GUMBO_TAG_BASE:
        return take_base(element);
      case GUMBO_TAG_META:
        return take_robots(element);
      case GUMBO_TAG_LINK:
        return take_canonical(node);
      default:
        break;
    }
  }
  Frame frame{&element.children, 0, role, false, anchor_, anchor_text_};
  if (element.tag == GUMBO_TAG_A || element.tag == GUMBO_TAG_AREA) {
    if (element.tag_namespace == GUMBO_NAMESPACE_HTML && has_attribute(element, "href")) {
      frame.anchor = true;
      anchor_ = take_link(element);
      if (restart_) return;
    }
  }
  if (role == Role::kSkip) return;
  if (role == Role::kBlock) separate();
  if (role == Role::kHidden) ++hidden_;
  if (element.children.length == 0) return leave(frame);
  stack_.push_back(frame);
}

void Extractor::leave(const Frame& frame) {
  if (frame.role == Role::kBlock) separate();
  if (frame.role == Role::kHidden) --hidden_;
  if (frame.anchor) {
    // The inner link's text is not the outer one's, but it still ends a word.
    anchor_ = frame.outer_anchor;
    anchor_text_ = frame.outer_anchor_text;
    anchor_text_.separate();
  }
}

void Extractor::add_text(std::string_view text) {
  if (hidden_ == 0) text_.add(page_.text, text);
  if (anchor_ != kNoAnchor) anchor_text_.add(page_.links[anchor_].anchor_text, text);
}

void Extractor::separate() {
  text_.separate();
  anchor_text_.separate();
}

void Extractor::take_title(const GumboElement& title) {
  // document.title is the first <title> in tree order.
  if (title_seen_) return;
  title_seen_ = true;
  for (unsigned i = 0; i < title.children.length; ++i) {
    auto* child = static_cast<const GumboNode*>(title.children.data[i]);
    if (child->type == GUMBO_NODE_TEXT || child->type == GUMBO_NODE_WHITESPACE) {
      title_text_.add(page_.title, child->v.text.text);
    }
  }
}

void Extractor::take_base(const GumboElement& base) {
  // HTML: the first <base> with an href, in tree order, sets the base for the
  // whole document, including links that come before it.
  if (base_known_ || !has_attribute(base, "href")) return;
  base_known_ = true;
  auto url = resolve_url(page_url_, trim(href_of(base)));
  if (!url) return;
  base_ = std::move(*url);
  if (saw_link_) restart_ = true;
}

void Extractor::take_robots(const GumboElement& meta) {
  if (!iequals(attribute(meta, "name"), "robots")) return;
  RobotsDirectives directives = parse_robots_directives(attribute(meta, "content"));
  page_.noindex = page_.noindex || directives.noindex;
  page_.nofollow = page_.nofollow || directives.nofollow;
}

void Extractor::take_canonical(const GumboNode& node) {
  const GumboElement& link = node.v.element;
  if (canonical_seen_ || !has_attribute(link, "href")) return;
  if (!has_token(attribute(link, "rel"), "canonical", " \t\n\r\f") || !in_head(node)) return;
  // Only the first counts, valid or not; it resolves against <base> like links.
  canonical_seen_ = true;
  saw_link_ = true;
  std::string_view ref = trim(href_of(link));
  if (has_other_scheme(ref)) return;
  auto url = resolve_url(base_ ? *base_ : page_url_, ref);
  if (url) page_.canonical = url->href();
}

// Returns the index of the new link, or kNoAnchor when the href is dropped:
// not http(s), unresolvable, a duplicate, or over max_links.
std::size_t Extractor::take_link(const GumboElement& element) {
  saw_link_ = true;
  if (page_.links_truncated) return kNoAnchor;
  std::string_view ref = trim(href_of(element));
  if (has_other_scheme(ref)) return kNoAnchor;
  auto url = resolve_url(base_ ? *base_ : page_url_, ref);
  if (!url) return kNoAnchor;
  bool nofollow = has_token(attribute(element, "rel"), "nofollow", " \t\n\r\f");
  std::vector<Link>& links = page_.links;
  std::string href = url->href();
  links.push_back(Link{std::move(href), {}, nofollow, std::move(*url)});
  std::size_t index = links.size() - 1;
  if (!seen_.insert(index).second) {
    links.pop_back();
    return kNoAnchor;
  }
  if (links.size() > options_.max_links) {
    seen_.erase(index);
    links.pop_back();
    page_.links_truncated = true;
    return kNoAnchor;
  }
  anchor_text_ = TextSink(options_.max_anchor_text_bytes);
  if (element.tag == GUMBO_TAG_AREA) {
    anchor_text_.add(links[index].anchor_text, attribute(element, "alt"));
    return kNoAnchor;  // <area> is void; nothing inside it is text
  }
  return index;
}

}  // namespace

// Where elements first nest deeper than `limit`, estimated in one linear pass
// over the tags (comments, raw text, void elements and elements whose end tag
// is optional do not nest); npos when they never do.
std::size_t nesting_cut(std::string_view html, std::size_t limit) {
  static constexpr std::string_view kFlat[] = {
      "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
      "track", "wbr", "keygen", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th",
      "thead", "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rtc", "rp", "html", "head", "body"};
  static constexpr std::string_view kRaw[] = {"script", "style", "textarea", "title", "xmp", "plaintext"};
  auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; };
  std::size_t depth = 0;
  std::size_t i = 0;
  char name[16];
  while ((i = html.find('<', i)) != std::string_view::npos) {
    std::size_t start = i++;
    if (html.substr(start, 4) == "<!--") {
      std::size_t end = html.find("-->", start + 4);
      if (end == std::string_view::npos) return std::string_view::npos;
      i = end + 3;
      continue;
    }
    bool closing = i < html.size() && html[i] == '/';
    if (closing) i++;
    if (i >= html.size() || !std::isalpha(static_cast<unsigned char>(html[i]))) continue;
    std::size_t n = 0;
    while (i < html.size() && is_name(html[i])) {
      if (n < sizeof name) name[n] = static_cast<char>(std::tolower(static_cast<unsigned char>(html[i])));
      n++;
      i++;
    }
    std::string_view tag(name, std::min(n, sizeof name));
    std::size_t gt = html.find('>', i);
    if (gt == std::string_view::npos) return std::string_view::npos;
    bool self_closing = gt > 0 && html[gt - 1] == '/';
    i = gt + 1;
    if (std::find(std::begin(kFlat), std::end(kFlat), tag) != std::end(kFlat)) continue;
    if (closing) {
      if (depth > 0) depth--;
      continue;
    }
    if (std::find(std::begin(kRaw), std::end(kRaw), tag) != std::end(kRaw)) {
      // Raw text runs to its end tag; tags inside it are text.
      std::string close = "</" + std::string(tag);
      std::size_t j = i;
      while ((j = html.find("</", j)) != std::string_view::npos) {
        std::string_view candidate = html.substr(j, close.size());
        if (std::equal(candidate.begin(), candidate.end(), close.begin(), close.end(),
                       [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; })) {
          break;
        }
        j += 2;
      }
      if (j == std::string_view::npos) return std::string_view::npos;
      i = j;
      continue;
    }
    if (self_closing) continue;
    if (++depth > limit) return start;
  }
  return std::string_view::npos;
}

ExtractedPage extract_page(const Url& page_url, std::string_view html,
                           const ExtractOptions& options) {
  html = html.substr(0, kMaxHtmlBytes);
  bool cut = false;
  if (std::size_t at = nesting_cut(html, options.max_nesting); at != std::string_view::npos) {
    html = html.substr(0, at);
    cut = true;
  }
  Document document(html);
  if (document.root() == nullptr) return {};
  Extractor first(page_url, options, std::nullopt);
  ExtractedPage page;
  if (first.walk(document.root(), html.size())) {
    page = first.take();
  } else {
    Extractor second(page_url, options, first.late_base());
    (void)second.walk(document.root(), html.size());
    page = second.take();
  }
  page.nesting_cut = cut;
  return page;
}

}  // namespace webcrawl::parser
