// The bytes of an HTTP/1.1 request (sans-I/O): what the crawler sends for a
// URL, directly or through a proxy. Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "parser/http_response.h"
#include "parser/url.h"

namespace webcrawl::parser {

struct HttpRequest {
  std::string method = "GET";
  // Origin form ("/path?q") to a server, absolute form ("http://host/path")
  // to an HTTP proxy, authority form ("host:443") for CONNECT.
  std::string target;
  Headers headers;  // sent in this order
};

// The request line, the fields and the blank line. CR, LF and NUL inside a
// name or value (which would split the request) are sent as spaces; callers
// validate user-given headers before that.
std::string serialize_request(const HttpRequest& request);

struct RequestOptions {
  std::string user_agent;
  Headers extra;             // user headers (--header): a name that is also a default replaces it
  bool via_proxy = false;    // absolute-form target, for an HTTP proxy
};

// The GET the crawler sends for `url`: Host, User-Agent, Accept,
// Accept-Encoding (gzip, deflate, br) and Connection: keep-alive, then the
// extra headers.
HttpRequest get_request(const Url& url, const RequestOptions& options);

// The CONNECT that opens a tunnel through a proxy to `url`'s host and port.
HttpRequest connect_request(const Url& url, std::string_view user_agent);

}  // namespace webcrawl::parser
