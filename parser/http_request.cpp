#include "parser/http_request.h"

#include "parser/ascii.h"

namespace webcrawl::parser {
namespace {

void append_clean(std::string& out, std::string_view text) {
  for (char c : text) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
}

// Puts `name: value` in place of a field of the same name, or at the end.
void set_field(Headers& headers, std::string_view name, std::string_view value) {
  for (auto& [field, existing] : headers) {
    if (iequals(field, name)) {
      existing = std::string(value);
      return;
    }
  }
  headers.emplace_back(std::string(name), std::string(value));
}

}  // namespace

std::string serialize_request(const HttpRequest& request) {
  std::string out;
  out.reserve(256);
  append_clean(out, request.method);
  out += ' ';
  append_clean(out, request.target);
  out += " HTTP/1.1\r\n";
  for (const auto& [name, value] : request.headers) {
    append_clean(out, name);
    out += ": ";
    append_clean(out, value);
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

HttpRequest get_request(const Url& url, const RequestOptions& options) {
  HttpRequest r;
  r.target = options.via_proxy ? url.href() : url.request_target();
  r.headers = {
      {"Host", url.host_header()},
      {"User-Agent", options.user_agent},
      {"Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"},
      {"Accept-Encoding", "gzip, deflate, br"},
      {"Connection", "keep-alive"},
  };
  for (const auto& [name, value] : options.extra) set_field(r.headers, name, value);
  return r;
}

HttpRequest connect_request(const Url& url, std::string_view user_agent) {
  HttpRequest r;
  r.method = "CONNECT";
  r.target = url.hostname().find(':') != std::string::npos ? "[" + url.hostname() + "]" : url.hostname();
  r.target += ":" + std::to_string(url.port);
  r.headers = {{"Host", r.target}, {"User-Agent", std::string(user_agent)}};
  return r;
}

}  // namespace webcrawl::parser
