// Sitemap parsing on expat; the contract is in sitemap.h.
#include "parser/sitemap.h"

#include <expat.h>

#include <algorithm>
#include <climits>
#include <limits>
#include <new>
#include <optional>
#include <utility>

#include "parser/ascii.h"
#include "parser/content_decoder.h"

namespace webcrawl::parser {
namespace {

// Expat reports a namespaced name as "uri\nlocal". A newline cannot occur in
// a namespace name unescaped (attribute values normalize it to a space), and
// expat 2.4.5 and later reject one that arrives as "&#10;".
constexpr XML_Char kNamespaceSeparator = '\n';

// Compressed input goes to zlib this much at a time. Deflate expands at most
// about 1032:1, so one step decodes to about 1 MiB at worst, which expat
// consumes before the next step.
constexpr std::size_t kCompressedStep = 1024;

// XML_Parse takes an int length.
constexpr std::size_t kMaxXmlPiece = std::size_t{1} << 30;

struct Name {
  std::string_view ns;     // empty when the element is in no namespace
  std::string_view local;
};

Name split_name(const XML_Char* name) {
  std::string_view s(name);
  std::size_t sep = s.rfind(kNamespaceSeparator);
  if (sep == std::string_view::npos) return {{}, s};
  return {s.substr(0, sep), s.substr(sep + 1)};
}

bool is_gzip_magic(std::string_view head) {
  return head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f &&
         static_cast<unsigned char>(head[1]) == 0x8b;
}

Error parse_error(std::string message) { return make_error(Code::kParse, std::move(message)); }

}  // namespace

class SitemapParser::Impl {
 public:
  explicit Impl(const SitemapLimits& limits);
  ~Impl() { XML_ParserFree(xml_); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Result<void> feed(std::string_view bytes);
  Result<void> finish();

  SitemapKind kind_ = SitemapKind::kUnknown;
  std::vector<SitemapEntry> entries_;
  std::size_t listed_ = 0;
  bool truncated_ = false;

 private:
  enum class Field { kNone, kLoc, kLastmod };

  Result<void> start_body();
  Result<void> route(std::string_view bytes);
  Result<void> parse_xml(std::string_view xml, bool final);
  Result<void> stopped();
  Result<void> fail(Error error);

  void on_start(const XML_Char* name);
  void on_end();
  void on_text(std::string_view text);
  void on_entity_declaration(const XML_Char* name);
  void take_root(Name name);
  void complete_entry();
  void stop(Error error);

  // Runs a handler; an exception must not unwind through expat's C frames.
  template <class F>
  static void guarded(void* self, F&& handler) {
    auto* impl = static_cast<Impl*>(self);
    try {
      handler(*impl);
    } catch (...) {
      impl->out_of_memory_ = true;  // nothing here may allocate
      XML_StopParser(impl->xml_, XML_FALSE);
    }
  }

  XML_Parser xml_;
  SitemapLimits limits_;
  std::string head_;  // the first bytes, until two of them decide gzip or not
  bool started_ = false;
  std::unique_ptr<ContentDecoder> gunzip_;
  std::string decoded_;      // one step of gzip output, handed to expat at once
  std::size_t xml_bytes_ = 0;  // XML given to expat so far
  std::optional<Error> error_;
  bool out_of_memory_ = false;
  int depth_ = 0;              // 1 inside the root element
  std::string ns_;             // the root element's namespace
  std::string_view entry_;     // "url" or "sitemap", by kind
  bool in_entry_ = false;
  bool loc_seen_ = false;      // the first <loc> of an entry wins
  bool lastmod_seen_ = false;
  Field field_ = Field::kNone;
  SitemapEntry current_;
};

SitemapParser::Impl::Impl(const SitemapLimits& limits)
    : xml_(XML_ParserCreateNS(nullptr, kNamespaceSeparator)), limits_(limits) {
  if (xml_ == nullptr) throw std::bad_alloc();
  XML_SetUserData(xml_, this);
  // No external DTD or parameter entity is ever read; without an external
  // entity ref handler expat has no way to fetch anything either.
  XML_SetParamEntityParsing(xml_, XML_PARAM_ENTITY_PARSING_NEVER);
  XML_SetElementHandler(
      xml_,
      [](void* self, const XML_Char* name, const XML_Char**) {
        guarded(self, [name](Impl& impl) { impl.on_start(name); });
      },
      [](void* self, const XML_Char*) { guarded(self, [](Impl& impl) { impl.on_end(); }); });
  XML_SetCharacterDataHandler(xml_, [](void* self, const XML_Char* s, int len) {
    guarded(self, [s, len](Impl& impl) { impl.on_text({s, static_cast<std::size_t>(len)}); });
  });
  XML_SetEntityDeclHandler(xml_, [](void* self, const XML_Char* name, int, const XML_Char*, int,
                                    const XML_Char*, const XML_Char*, const XML_Char*,
                                    const XML_Char*) {
    guarded(self, [name](Impl& impl) { impl.on_entity_declaration(name); });
  });
}

Result<void> SitemapParser::Impl::feed(std::string_view bytes) {
  if (error_) return *error_;
  if (truncated_) return {};
  if (!started_) {
    std::size_t take = std::min(bytes.size(), 2 - head_.size());
    head_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (head_.size() < 2) return {};
    Result<void> begun = start_body();
    if (!begun) return begun;
  }
  return route(bytes);
}

Result<void> SitemapParser::Impl::finish() {
  if (error_) return *error_;
  if (truncated_) return {};
  if (!started_) {
    Result<void> begun = start_body();  // a body of zero or one byte
    if (!begun || truncated_) return begun;
  }
  if (gunzip_) {
    decoded_.clear();
    Result<void> done = gunzip_->finish(decoded_);
    if (!done) return fail(done.error());
    done = parse_xml(decoded_, false);
    if (!done || truncated_) return done;
  }
  return parse_xml({}, true);
}

// Decides from the first bytes whether the body is gzip, then parses them.
Result<void> SitemapParser::Impl::start_body() {
  started_ = true;
  if (is_gzip_magic(head_)) {
    // One byte over the limit tells parse_xml() that the XML went past it.
    std::size_t max_output = limits_.max_bytes == std::numeric_limits<std::size_t>::max()
                                 ? limits_.max_bytes
                                 : limits_.max_bytes + 1;
    auto decoder = ContentDecoder::create("gzip", max_output);
    if (!decoder) return fail(decoder.error());
    gunzip_ = std::move(*decoder);
  }
  std::string head = std::move(head_);
  head_.clear();
  return route(head);
}

Result<void> SitemapParser::Impl::route(std::string_view bytes) {
  if (!gunzip_) return parse_xml(bytes, false);
  while (!bytes.empty()) {
    std::string_view step = bytes.substr(0, kCompressedStep);
    bytes.remove_prefix(step.size());
    decoded_.clear();
    Result<void> decoded = gunzip_->feed(step, decoded_);
    if (!decoded) return fail(decoded.error());
    Result<void> parsed = parse_xml(decoded_, false);
    if (!parsed || truncated_) return parsed;
  }
  return {};
}

// Hands XML to expat, up to the byte limit.
Result<void> SitemapParser::Impl::parse_xml(std::string_view xml, bool final) {
  std::size_t room = limits_.max_bytes - xml_bytes_;
  bool over = xml.size() > room;
  if (over) {
    xml = xml.substr(0, room);
    final = false;
  }
  xml_bytes_ += xml.size();
  do {
    std::string_view piece = xml.substr(0, kMaxXmlPiece);
    xml.remove_prefix(piece.size());
    XML_Status status = XML_Parse(xml_, piece.data(), static_cast<int>(piece.size()),
                                  final && xml.empty() ? XML_TRUE : XML_FALSE);
    if (status != XML_STATUS_OK) return stopped();
  } while (!xml.empty());
  if (over) truncated_ = true;
  return {};
}

// XML_Parse stopped: for a limit, for a reason of ours, or for expat's own.
Result<void> SitemapParser::Impl::stopped() {
  if (truncated_) return {};
  if (error_) return *error_;
  if (out_of_memory_) return fail(make_error(Code::kTooLarge, "sitemap: out of memory"));
  return fail(parse_error("malformed XML at line " +
                          std::to_string(XML_GetCurrentLineNumber(xml_)) + ": " +
                          XML_ErrorString(XML_GetErrorCode(xml_))));
}

Result<void> SitemapParser::Impl::fail(Error error) {
  error_ = std::move(error);
  return *error_;
}

void SitemapParser::Impl::stop(Error error) {
  error_ = std::move(error);
  XML_StopParser(xml_, XML_FALSE);
}

void SitemapParser::Impl::on_start(const XML_Char* raw) {
  ++depth_;
  Name name = split_name(raw);
  if (depth_ == 1) return take_root(name);
  if (name.ns != ns_ || field_ != Field::kNone) return;
  if (depth_ == 2 && name.local == entry_) {
    in_entry_ = true;
    loc_seen_ = lastmod_seen_ = false;
    current_ = {};
  } else if (depth_ == 3 && in_entry_) {
    if (name.local == "loc" && !loc_seen_) field_ = Field::kLoc;
    if (name.local == "lastmod" && !lastmod_seen_) field_ = Field::kLastmod;
  }
}

void SitemapParser::Impl::on_end() {
  // Well-formedness makes each end match its start, so depth alone says
  // which element ends.
  if (depth_ == 3 && field_ != Field::kNone) {
    (field_ == Field::kLoc ? loc_seen_ : lastmod_seen_) = true;
    field_ = Field::kNone;
  } else if (depth_ == 2 && in_entry_) {
    in_entry_ = false;
    complete_entry();
  }
  --depth_;
}

void SitemapParser::Impl::on_text(std::string_view text) {
  // Text of elements nested inside <loc> is not part of it.
  if (depth_ != 3) return;
  if (field_ == Field::kLoc) current_.loc.append(text);
  if (field_ == Field::kLastmod) current_.lastmod.append(text);
}

void SitemapParser::Impl::on_entity_declaration(const XML_Char* name) {
  stop(parse_error("entity declarations are not allowed: <!ENTITY " + std::string(name) +
                   "> at line " + std::to_string(XML_GetCurrentLineNumber(xml_))));
}

void SitemapParser::Impl::take_root(Name name) {
  ns_.assign(name.ns);
  if (name.local == "urlset") {
    kind_ = SitemapKind::kUrlset;
    entry_ = "url";
  } else if (name.local == "sitemapindex") {
    kind_ = SitemapKind::kIndex;
    entry_ = "sitemap";
  } else {
    stop(parse_error("not a sitemap: root element <" + std::string(name.local) + ">"));
  }
}

void SitemapParser::Impl::complete_entry() {
  current_.loc = std::string(trim(current_.loc));
  if (current_.loc.empty()) return;
  if (listed_ == limits_.max_entries) {
    truncated_ = true;
    XML_StopParser(xml_, XML_FALSE);
    return;
  }
  current_.lastmod = std::string(trim(current_.lastmod));
  entries_.push_back(std::move(current_));
  ++listed_;
}

SitemapParser::SitemapParser(const SitemapLimits& limits) : impl_(std::make_unique<Impl>(limits)) {}
SitemapParser::~SitemapParser() = default;

Result<void> SitemapParser::feed(std::string_view bytes) { return impl_->feed(bytes); }
Result<void> SitemapParser::finish() { return impl_->finish(); }
SitemapKind SitemapParser::kind() const { return impl_->kind_; }
std::vector<SitemapEntry> SitemapParser::take_entries() { return std::exchange(impl_->entries_, {}); }
std::size_t SitemapParser::listed() const { return impl_->listed_; }
bool SitemapParser::truncated() const { return impl_->truncated_; }

Result<Sitemap> parse_sitemap(std::string_view body, const SitemapLimits& limits) {
  SitemapParser parser(limits);
  Result<void> done = parser.feed(body);
  if (done) done = parser.finish();
  if (!done) return done.error();
  return Sitemap{parser.kind(), parser.take_entries(), parser.truncated()};
}

}  // namespace webcrawl::parser
