#include "parser/http_response.h"

#include <llhttp.h>
#include <openssl/evp.h>

#include "parser/ascii.h"
#include "parser/content_decoder.h"

namespace webcrawl::parser {

std::string_view header_value(const Headers& headers, std::string_view name) {
  for (const auto& [field, value] : headers) {
    if (iequals(field, name)) return value;
  }
  return {};
}

// What llhttp's callbacks touch: parser->data points here. Callbacks never
// throw (they are called from C); a failure is kept in `error` and reported
// with HPE_USER.
struct HttpResponseParser::State {
  llhttp_t parser{};
  llhttp_settings_t settings{};
  HttpResponse* response = nullptr;
  const ResponseLimits* limits = nullptr;
  std::string field, value;  // the header being assembled
  bool in_value = false;
  std::size_t header_bytes = 0;
  std::unique_ptr<ContentDecoder> decoder;  // set once the final head is in
  EVP_MD_CTX* sha1 = nullptr;               // keep_raw only
  bool interim_done = false;  // a 1xx ended: its fields are dropped, the real response follows
  bool complete = false;      // the final response ended
  bool head_done = false;
  std::optional<Error> error;

  ~State() {
    if (sha1) EVP_MD_CTX_free(sha1);
  }

  static State& of(llhttp_t* p) { return *static_cast<State*>(p->data); }

  int fail(Error e) {
    error = std::move(e);
    return HPE_USER;
  }

  int count_header_bytes(std::size_t len) {
    header_bytes += len;
    return header_bytes > limits->max_header_bytes ? fail({Code::kHttp, "response headers too large"}) : 0;
  }

  void header_done() {
    response->headers.emplace_back(std::move(field), std::move(value));
    field.clear();
    value.clear();
    in_value = false;
  }

  int on_headers_complete() {
    if (in_value) header_done();
    int status = llhttp_get_status_code(&parser);
    if (status >= 100 && status < 200 && status != 101) {
      response->headers.clear();  // an interim response: the real one follows
      return 1;                   // with no body
    }
    response->status = status;
    head_done = true;
    auto d = ContentDecoder::create(response->header("content-encoding"), limits->max_body);
    if (!d) return fail(d.error());
    decoder = std::move(*d);
    // A body as sent, of a known length, gets its room at once: no growth
    // by doubling, with its copies and up to twice the memory at the end.
    std::string_view coding = trim_ows(response->header("content-encoding"));
    if ((parser.flags & F_CONTENT_LENGTH) != 0 && (coding.empty() || iequals(coding, "identity"))) {
      response->body.reserve(static_cast<std::size_t>(std::min<uint64_t>(parser.content_length, limits->max_body)));
    }
    if (limits->keep_raw) {
      sha1 = EVP_MD_CTX_new();
      if (!sha1 || EVP_DigestInit_ex(sha1, EVP_sha1(), nullptr) != 1) {
        return fail({Code::kParse, "cannot start a SHA-1 digest"});
      }
    }
    // A tunnel's 2xx head is all there is; what follows is the tunnel's.
    if (limits->connect && status >= 200 && status < 300) return 2;
    // llhttp would read a body a Content-Length announces; these never have
    // one (RFC 9110 6.4.1, 15.3.5, 15.4.5). 1 tells llhttp to skip it.
    if (status == 204 || status == 304) return 1;
    return 0;
  }

  // The entity body's SHA-1, once it is complete (or cut).
  void finish_digest() {
    if (!sha1) return;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_DigestFinal_ex(sha1, digest, &size) == 1) {
      response->payload_sha1.assign(reinterpret_cast<const char*>(digest), size);
    }
  }

  int on_body(const char* at, std::size_t len) {
    if (!decoder) return 0;  // the body of an interim response
    response->body_bytes += static_cast<int64_t>(len);
    if (sha1) EVP_DigestUpdate(sha1, at, len);
    if (auto r = decoder->feed(std::string_view(at, len), response->body); !r) return fail(r.error());
    // Coded bytes are bounded too, so a stream that inflates to nothing
    // cannot be read forever; a body of exactly max_body bytes is whole.
    if (decoder->truncated() || static_cast<std::size_t>(response->body_bytes) > limits->max_body) {
      response->truncated = true;
      return HPE_PAUSED;  // stop reading; the connection is not reused
    }
    return 0;
  }

  int on_message_complete() {
    if (!decoder) {
      interim_done = true;
      return HPE_PAUSED;  // so the raw bytes of the interim response can be dropped
    }
    if (auto r = decoder->finish(response->body); !r) return fail(r.error());
    response->truncated = response->truncated || decoder->truncated();
    response->keep_alive = llhttp_should_keep_alive(&parser) != 0;
    complete = true;
    // A tunnel's head ends the message with F_UPGRADE set: returning 0 lets
    // llhttp stop there with HPE_PAUSED_UPGRADE, which says where the
    // tunnel's bytes start.
    if (limits->connect && llhttp_get_upgrade(&parser)) return 0;
    return HPE_PAUSED;
  }
};

HttpResponseParser::HttpResponseParser(ResponseLimits limits)
    : limits_(limits), state_(std::make_unique<State>()) {
  State& s = *state_;
  s.response = &response_;
  s.limits = &limits_;
  llhttp_settings_init(&s.settings);
  // Fields after the final head are a chunked body's trailers: counted, but
  // not merged into the headers (RFC 9110 6.5.1).
  s.settings.on_header_field = [](llhttp_t* p, const char* at, std::size_t len) {
    State& st = State::of(p);
    if (int rc = st.count_header_bytes(len)) return rc;
    if (st.head_done) return 0;
    if (st.in_value) st.header_done();
    st.field.append(at, len);
    return 0;
  };
  s.settings.on_header_value = [](llhttp_t* p, const char* at, std::size_t len) {
    State& st = State::of(p);
    if (int rc = st.count_header_bytes(len)) return rc;
    if (st.head_done) return 0;
    st.in_value = true;
    st.value.append(at, len);
    return 0;
  };
  s.settings.on_status = [](llhttp_t* p, const char*, std::size_t len) {
    return State::of(p).count_header_bytes(len);
  };
  s.settings.on_headers_complete = [](llhttp_t* p) { return State::of(p).on_headers_complete(); };
  s.settings.on_body = [](llhttp_t* p, const char* at, std::size_t len) {
    return State::of(p).on_body(at, len);
  };
  s.settings.on_message_complete = [](llhttp_t* p) { return State::of(p).on_message_complete(); };
  llhttp_init(&s.parser, HTTP_RESPONSE, &s.settings);
  s.parser.data = &s;
}

HttpResponseParser::~HttpResponseParser() = default;

Result<HttpResponseParser::Progress> HttpResponseParser::fail(Error error) {
  error_ = std::move(error);
  return *error_;
}

void HttpResponseParser::keep_raw(std::string_view bytes) {
  if (!limits_.keep_raw) return;
  response_.raw.append(bytes);
  if (state_->head_done && response_.head_size == 0) {
    // llhttp tells when the head ended, not where: the blank line does.
    // llhttp takes a bare LF as a line end too.
    const std::string& raw = response_.raw;
    std::size_t crlf = raw.find("\r\n\r\n");
    std::size_t lf = raw.find("\n\n");
    std::size_t end = crlf == std::string::npos ? std::string::npos : crlf + 4;
    if (lf != std::string::npos && lf + 2 < end) end = lf + 2;
    response_.head_size = std::min(end, raw.size());
  }
}

bool HttpResponseParser::raw_too_large() const {
  // Chunk framing can outweigh the data it frames (one byte per chunk is six
  // on the wire), so what is kept raw has a bound of its own.
  return limits_.keep_raw && response_.raw.size() > limits_.max_header_bytes + 2 * limits_.max_body;
}

Result<HttpResponseParser::Progress> HttpResponseParser::feed(std::string_view bytes) {
  if (error_) return *error_;
  if (done_) return Progress::kDone;
  State& s = *state_;
  if (!bytes.empty()) started_ = true;
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  while (p < end) {
    llhttp_errno_t rc = llhttp_execute(&s.parser, p, static_cast<std::size_t>(end - p));
    if (rc == HPE_OK) {
      keep_raw(std::string_view(p, static_cast<std::size_t>(end - p)));
      head_done_ = s.head_done;
      if (!raw_too_large()) return Progress::kNeedMore;
      response_.truncated = true;
      response_.keep_alive = false;
      done_ = true;
      break;
    }
    if (rc != HPE_PAUSED && rc != HPE_PAUSED_UPGRADE) {
      if (s.error) return fail(std::move(*s.error));
      const char* reason = llhttp_get_error_reason(&s.parser);
      return fail({Code::kHttp, std::string("malformed response: ") + (reason ? reason : llhttp_errno_name(rc))});
    }
    const char* stop = llhttp_get_error_pos(&s.parser);
    if (stop == nullptr || stop < p || stop > end) stop = end;
    if (s.interim_done) {
      // A 1xx ended; nothing of it is kept, and the final response follows.
      s.interim_done = false;
      response_.raw.clear();
      llhttp_resume(&s.parser);
      p = stop;
      continue;
    }
    keep_raw(std::string_view(p, static_cast<std::size_t>(stop - p)));
    head_done_ = s.head_done;
    done_ = true;
    if (rc == HPE_PAUSED_UPGRADE) {
      tunnel_bytes_.assign(stop, static_cast<std::size_t>(end - stop));
      response_.keep_alive = true;
    } else if (!s.complete || stop < end) {
      // Cut at max_body, or bytes after the response: do not reuse.
      response_.keep_alive = false;
    }
    break;
  }
  if (!done_) return Progress::kNeedMore;
  s.finish_digest();
  return Progress::kDone;
}

Result<HttpResponseParser::Progress> HttpResponseParser::finish_at_eof() {
  if (error_) return *error_;
  if (done_) return Progress::kDone;
  if (!started_) return fail({Code::kNetwork, "connection closed without a response"});
  State& s = *state_;
  llhttp_errno_t rc = llhttp_finish(&s.parser);
  if ((rc == HPE_OK || rc == HPE_PAUSED) && s.complete) {
    // A close-delimited body ends with the connection; it cannot be reused.
    head_done_ = true;
    done_ = true;
    response_.keep_alive = false;
    s.finish_digest();
    return Progress::kDone;
  }
  if (s.error) return fail(std::move(*s.error));
  return fail({Code::kNetwork, "connection closed before the response ended"});
}

}  // namespace webcrawl::parser
