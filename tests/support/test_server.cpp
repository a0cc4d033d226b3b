#include "tests/support/test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace webcrawl::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxDiscardedBody = 8 * 1024 * 1024;
constexpr std::uintmax_t kMaxFileBytes = 256 * 1024 * 1024;
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kNotRecorded = SIZE_MAX;  // a record index for unrecorded replies

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

bool has_header(const Headers& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return iequals(h.first, name); });
}

// True if a comma-separated header value such as Connection lists token.
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

const char* standard_reason(int status) {
  static const std::map<int, const char*> kReasons = {
      {100, "Continue"},          {200, "OK"},
      {201, "Created"},           {204, "No Content"},
      {206, "Partial Content"},   {301, "Moved Permanently"},
      {302, "Found"},             {303, "See Other"},
      {304, "Not Modified"},      {307, "Temporary Redirect"},
      {308, "Permanent Redirect"}, {400, "Bad Request"},
      {401, "Unauthorized"},      {403, "Forbidden"},
      {404, "Not Found"},         {405, "Method Not Allowed"},
      {408, "Request Timeout"},   {410, "Gone"},
      {413, "Content Too Large"}, {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"}, {501, "Not Implemented"},
      {502, "Bad Gateway"},       {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
  };
  auto it = kReasons.find(status);
  return it == kReasons.end() ? "Status" : it->second;
}

std::string content_type_for(const fs::path& file) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".png", "image/png"},                 {".jpg", "image/jpeg"},
      {".gif", "image/gif"},                 {".svg", "image/svg+xml"},
      {".txt", "text/plain; charset=utf-8"}, {".pdf", "application/pdf"},
      {".json", "application/json"},         {".xml", "application/xml"},
  };
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ascii_lower);
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = ascii_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Percent-decodes a URL path. Nothing on a malformed escape or a NUL byte,
// which no file name can hold.
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    int hi = hex_value(in[i + 1]);
    int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  if (out.find('\0') != std::string::npos) return std::nullopt;
  return out;
}

bool has_dot_dot_segment(std::string_view path) {
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    if (path.substr(0, slash) == "..") return true;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return false;
}

bool is_within(const fs::path& root, const fs::path& candidate) {
  auto mismatch = std::mismatch(root.begin(), root.end(), candidate.begin(), candidate.end());
  return mismatch.first == root.end();
}

std::optional<std::string> read_file(const fs::path& file) {
  std::error_code ec;
  std::uintmax_t size = fs::file_size(file, ec);
  if (ec || size > kMaxFileBytes) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string data(static_cast<std::size_t>(size), '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (!in && !in.eof()) return std::nullopt;
  data.resize(static_cast<std::size_t>(in.gcount()));
  return data;
}

std::string address_text(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
  }
  return text;
}

std::string local_address_of(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  return address_text(addr);
}

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::runtime_error("test server: " + what + ": " + std::strerror(errno));
}

[[noreturn]] void fail_tls(const std::string& what) {
  std::string message = "test server: " + what;
  if (unsigned long code = ERR_get_error(); code != 0) {
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    message += std::string(": ") + reason;
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

// Server threads block SIGPIPE so that a write to a vanished peer, including
// the write() inside OpenSSL's socket BIO, fails with EPIPE instead of
// killing the test process. A signal raised by a write is directed at the
// writing thread, so this stays local to our threads and changes nothing
// for the rest of the process or its children.
void block_sigpipe_in_this_thread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// A connection's byte stream, plain or TLS; SSL_* calls run on the blocking
// socket, so each returns after real progress or a failure.
class Stream {
 public:
  Stream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}

  // Bytes read (> 0), or 0 when the peer closed, the idle timeout passed or
  // the socket failed: the connection is over in every such case.
  std::size_t read(char* buffer, std::size_t size) {
    if (ssl_ != nullptr) {
      int n = SSL_read(ssl_, buffer, static_cast<int>(size));
      arrival_ = Clock::now();
      return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    for (;;) {
      // The kernel's receive time (SO_TIMESTAMPNS) says when the bytes really
      // arrived, however late this thread got to run: timing tests measure
      // the client, not our scheduling.
      iovec iov{buffer, size};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = recvmsg(fd_, &msg, 0);
      if (n < 0 && errno == EINTR) continue;
      arrival_ = Clock::now();
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n > 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
        timespec kernel{};
        std::memcpy(&kernel, CMSG_DATA(c), sizeof kernel);
        auto since = std::chrono::system_clock::now() -
                     std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
                         std::chrono::seconds(kernel.tv_sec) + std::chrono::nanoseconds(kernel.tv_nsec)));
        if (since > std::chrono::nanoseconds(0) && since < std::chrono::seconds(10)) {
          arrival_ -= std::chrono::duration_cast<Clock::duration>(since);
        }
      }
      return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
  }

  // When the bytes of the last read() arrived.
  Clock::time_point arrival() const { return arrival_; }

  bool write_all(std::string_view bytes) {
    if (ssl_ == nullptr) return send_all(fd_, bytes);
    while (!bytes.empty()) {
      int chunk = static_cast<int>(std::min<std::size_t>(bytes.size(), 1 << 30));
      int n = SSL_write(ssl_, bytes.data(), chunk);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

 private:
  int fd_;
  SSL* ssl_;
  Clock::time_point arrival_{};
};

// Closing a socket with unread input (a pipelined request, an unread body)
// sends a reset, and the reset can destroy the response before the client
// reads it. So send our FIN first and read until the client closes too, for
// a bounded time; stop() ends the wait at once by shutting the socket down.
void linger_close(int fd) {
  constexpr auto kLingerLimit = std::chrono::milliseconds(500);
  shutdown(fd, SHUT_WR);
  auto deadline = Clock::now() + kLingerLimit;
  char discard[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return;
    pollfd readable{fd, POLLIN, 0};
    if (poll(&readable, 1, static_cast<int>(left.count())) <= 0) return;
    if (recv(fd, discard, sizeof discard, MSG_DONTWAIT) <= 0) return;
  }
}

enum class ReadOutcome { kRequest, kClosed, kTooLarge, kMalformed };

// Parses "METHOD SP target SP HTTP/1.x". An absolute-form target keeps only
// its path and query, as a server must accept it (RFC 9112 3.2.2).
bool parse_request_line(std::string_view line, Request& request) {
  std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  request.method = std::string(line.substr(0, sp1));
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  request.version = std::string(line.substr(sp2 + 1));
  if (request.version != "HTTP/1.1" && request.version != "HTTP/1.0") return false;
  if (target.find(' ') != std::string_view::npos) return false;
  if (target.starts_with("http://") || target.starts_with("https://")) {
    std::size_t path_start = target.find('/', target.find("//") + 2);
    target = path_start == std::string_view::npos ? "/" : target.substr(path_start);
  }
  if (!target.starts_with('/') && target != "*") return false;
  request.target = std::string(target);
  std::size_t q = target.find('?');
  request.path = std::string(target.substr(0, q));
  request.query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  return true;
}

bool parse_header_line(std::string_view line, Headers& headers) {
  if (line.empty() || line.front() == ' ' || line.front() == '\t') return false;  // obs-fold
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view name = line.substr(0, colon);
  if (name.find_first_of(" \t") != std::string_view::npos) return false;
  headers.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  return true;
}

bool parse_head(std::string_view head, Request& request) {
  std::size_t eol = head.find("\r\n");
  if (!parse_request_line(head.substr(0, eol), request)) return false;
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 2);
    eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    if (line.empty()) break;
    if (!parse_header_line(line, request.headers)) return false;
  }
  return true;
}

struct Connection {
  int fd = -1;  // guarded by Impl::mutex; -1 once closed
  std::uint64_t id = 0;
  std::string local_address;
  std::thread thread;
  bool done = false;  // guarded by Impl::mutex; the thread is about to return
};

// Per-connection reading state across keep-alive requests.
struct Reader {
  Stream& stream;
  std::string buffer;
  Clock::time_point last_read{};

  // Reads the next request head. start is when its first byte arrived.
  ReadOutcome next(Request& request, Clock::time_point& start) {
    drop_leading_blank_lines();
    start = last_read;
    for (;;) {
      std::size_t end = buffer.find("\r\n\r\n");
      if (end != std::string::npos) return take_head(end, request);
      if (buffer.size() > kMaxHeaderBytes) return ReadOutcome::kTooLarge;
      bool was_empty = buffer.empty();
      if (!fill()) return ReadOutcome::kClosed;
      if (was_empty) start = last_read;
      drop_leading_blank_lines();
      if (buffer.empty()) start = {};
    }
  }

  // Reads and drops a request body of length bytes.
  bool discard(std::size_t length) {
    while (buffer.size() < length) {
      length -= buffer.size();
      buffer.clear();
      if (!fill()) return false;
    }
    buffer.erase(0, length);
    return true;
  }

 private:
  bool fill() {
    char chunk[kReadChunk];
    std::size_t n = stream.read(chunk, sizeof chunk);
    if (n == 0) return false;
    last_read = stream.arrival();
    buffer.append(chunk, n);
    return true;
  }

  // RFC 9112 2.2: a server should ignore empty lines before a request line.
  void drop_leading_blank_lines() {
    std::size_t skip = 0;
    while (skip < buffer.size() && (buffer[skip] == '\r' || buffer[skip] == '\n')) ++skip;
    buffer.erase(0, skip);
  }

  ReadOutcome take_head(std::size_t end, Request& request) {
    std::string_view head(buffer.data(), end + 2);
    bool ok = parse_head(head, request);
    request.head = buffer.substr(0, end + 4);
    buffer.erase(0, end + 4);
    return ok ? ReadOutcome::kRequest : ReadOutcome::kMalformed;
  }
};

// Handlers never see request bodies. Skips a body of known length so the
// next request can be read; false if the connection cannot continue (no or
// an invalid length, or a body too large to bother with).
bool skip_body(Reader& reader, const Request& request) {
  if (!request.header("Transfer-Encoding").empty()) return false;
  std::string text = request.header("Content-Length");
  if (text.empty()) return true;
  std::size_t length = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  return length <= kMaxDiscardedBody && reader.discard(length);
}

// What became of one request on a connection.
enum class Turn { kContinue, kClose, kHandedOver };

void default_not_found(const Request&, Response& response) {
  response.status = 404;
  response.html("<!doctype html><title>404</title><h1>Not Found</h1>");
}

std::string status_line(const Response& response) {
  std::string reason = response.reason.empty() ? standard_reason(response.status) : response.reason;
  return "HTTP/1.1 " + std::to_string(response.status) + " " + reason + "\r\n";
}

bool status_has_body(int status) {
  return !(status < 200 || status == 204 || status == 304);
}

// Splits body into at most count non-empty chunks in chunked coding, the
// terminating zero chunk last.
std::vector<std::string> chunk_pieces(std::string_view body, std::size_t count) {
  std::vector<std::string> pieces;
  count = std::max<std::size_t>(1, std::min(count, body.size()));
  std::size_t size = body.empty() ? 0 : (body.size() + count - 1) / count;
  while (!body.empty()) {
    std::string_view part = body.substr(0, size);
    std::ostringstream piece;
    piece << std::hex << part.size() << "\r\n" << part << "\r\n";
    pieces.push_back(piece.str());
    body.remove_prefix(part.size());
  }
  pieces.emplace_back("0\r\n\r\n");
  return pieces;
}

}  // namespace

std::string Request::header(std::string_view name) const { return find_header(headers, name); }

std::string RecordedRequest::header(std::string_view name) const { return find_header(headers, name); }

Response& Response::set_header(std::string name, std::string value) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}


Response& Response::add_header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::string Response::header(std::string_view name) const { return find_header(headers, name); }

Response& Response::html(std::string html_body) {
  return text(std::move(html_body), "text/html; charset=utf-8");
}

Response& Response::text(std::string text_body, std::string content_type) {
  body = std::move(text_body);
  return set_header("Content-Type", std::move(content_type));
}

Response& Response::redirect(int code, std::string location) {
  status = code;
  return set_header("Location", std::move(location));
}

Response& Response::gzip() {
  gzip_body = true;
  return *this;
}

Response& Response::chunked(std::size_t chunks) {
  framing = Framing::kChunked;
  chunk_count = chunks;
  return *this;
}

Response& Response::close_delimited() {
  framing = Framing::kCloseDelimited;
  return *this;
}

Response& Response::delay(std::chrono::milliseconds wait) {
  delay_before = wait;
  return *this;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16 selects the gzip wrapper instead of zlib's.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("gzip_compress: deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip_compress: deflate failed");
  return out;
}

struct TestServer::Impl {
  Options options;
  int listen_fd = -1;
  int wake_read = -1;   // the accept thread polls this to learn about stop()
  int wake_write = -1;
  std::uint16_t port = 0;
  SSL_CTX* ssl_ctx = nullptr;
  std::thread accept_thread;

  mutable std::mutex mutex;
  mutable std::condition_variable stop_signal;
  bool stopping = false;  // guarded by mutex, like everything below
  bool stopped = false;
  std::map<std::string, Handler, std::less<>> routes;
  std::map<std::string, RawHandler, std::less<>> raw_routes;
  Handler not_found = default_not_found;
  std::optional<fs::path> root;
  std::vector<RecordedRequest> records;
  std::list<std::unique_ptr<Connection>> connections;
  std::uint64_t next_connection_id = 1;
  std::size_t accepted = 0;
  std::size_t handshake_failures = 0;

  explicit Impl(Options opts) : options(std::move(opts)) {}
  ~Impl() { release(); }

  void release() {
    for (int* fd : {&listen_fd, &wake_read, &wake_write}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    SSL_CTX_free(ssl_ctx);
    ssl_ctx = nullptr;
  }

  void listen_socket();
  void tls_context();
  void accept_loop();
  void start_connection(int fd);
  void reap_finished_connections();
  void serve(Connection* connection);
  bool serve_requests(Connection* connection, int fd, Stream& stream);
  Turn serve_one(Connection* connection, int fd, Reader& reader, std::size_t served);
  RawHandler raw_route(const std::string& path) const;
  void finish_connection(Connection* connection, SSL* ssl, bool clean, bool linger);
  std::size_t record(const Request& request, Clock::time_point start);
  void mark_end(std::size_t index, int status);
  Response dispatch(const Request& request);
  void serve_file(const Request& request, Response& response);
  bool keep_alive(const Request& request, const Response& response, std::size_t served) const;
  bool send_response(Stream& stream, const Request& request, Response& response,
                     bool keep_open, std::size_t record_index);
  bool wait(std::chrono::milliseconds duration) const;
};

void TestServer::Impl::listen_socket() {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, options.bind_address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options.port);
    addr_len = sizeof *v4;
  } else if (inet_pton(AF_INET6, options.bind_address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options.port);
    addr_len = sizeof *v6;
  } else {
    throw std::runtime_error("test server: not a numeric address: " + options.bind_address);
  }
  listen_fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) fail_errno("socket");
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    fail_errno("bind " + options.bind_address + ":" + std::to_string(options.port));
  }
  if (listen(listen_fd, options.backlog) != 0) fail_errno("listen");
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    fail_errno("getsockname");
  }
  port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                          : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) fail_errno("pipe2");
  wake_read = pipe_fds[0];
  wake_write = pipe_fds[1];
}

// Loads the leaf certificate, then every further certificate in cert_pem as
// the chain, then the key, from memory.
void TestServer::Impl::tls_context() {
  const TlsIdentity& identity = *options.tls;
  ssl_ctx = SSL_CTX_new(TLS_server_method());
  if (ssl_ctx == nullptr) fail_tls("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_2_VERSION);
  std::unique_ptr<BIO, decltype(&BIO_free)> certs(
      BIO_new_mem_buf(identity.cert_pem.data(), static_cast<int>(identity.cert_pem.size())),
      BIO_free);
  X509* leaf = certs ? PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr) : nullptr;
  if (leaf == nullptr) fail_tls("no certificate in TlsIdentity::cert_pem");
  int used = SSL_CTX_use_certificate(ssl_ctx, leaf);
  X509_free(leaf);
  if (used != 1) fail_tls("SSL_CTX_use_certificate");
  while (X509* extra = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    // add0: the context takes ownership on success.
    if (SSL_CTX_add0_chain_cert(ssl_ctx, extra) != 1) {
      X509_free(extra);
      fail_tls("SSL_CTX_add0_chain_cert");
    }
  }
  ERR_clear_error();  // the loop above ends on an expected "no start line"
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(identity.key_pem.data(), static_cast<int>(identity.key_pem.size())),
      BIO_free);
  EVP_PKEY* key = key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                          : nullptr;
  if (key == nullptr) fail_tls("no private key in TlsIdentity::key_pem");
  int key_used = SSL_CTX_use_PrivateKey(ssl_ctx, key);
  EVP_PKEY_free(key);
  if (key_used != 1 || SSL_CTX_check_private_key(ssl_ctx) != 1) fail_tls("private key");
}

void TestServer::Impl::accept_loop() {
  block_sigpipe_in_this_thread();  // connection threads inherit the mask
  for (;;) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_read, POLLIN, 0}};
    int ready = poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || fds[1].revents != 0) return;
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      int on = 1;
      setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);  // see Stream::read
    }
    if (fd < 0) {
      // Out of descriptors: back off rather than spin on a full backlog.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      continue;
    }
    start_connection(fd);
  }
}

void TestServer::Impl::start_connection(int fd) {
  int one = 1;
  // Chunked responses go out in several small sends; Nagle plus delayed
  // ACKs would stall each by tens of milliseconds.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto idle_ms = options.idle_timeout.count();
  timeval idle{static_cast<time_t>(idle_ms / 1000), static_cast<suseconds_t>(idle_ms % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);

  std::lock_guard lock(mutex);
  if (stopping) {
    close(fd);
    return;
  }
  reap_finished_connections();
  auto connection = std::make_unique<Connection>();
  connection->fd = fd;
  connection->id = next_connection_id++;
  connection->local_address = local_address_of(fd);
  Connection* raw = connection.get();
  connections.push_back(std::move(connection));
  try {
    raw->thread = std::thread([this, raw] { serve(raw); });
  } catch (const std::system_error&) {
    // No thread to serve it: drop the connection, keep the server up.
    connections.pop_back();
    close(fd);
    return;
  }
  ++accepted;
}

// REQUIRES: mutex held. A finished thread no longer touches the mutex, so
// joining it here cannot deadlock.
void TestServer::Impl::reap_finished_connections() {
  for (auto it = connections.begin(); it != connections.end();) {
    if (!(*it)->done) {
      ++it;
      continue;
    }
    (*it)->thread.join();
    it = connections.erase(it);
  }
}

void TestServer::Impl::serve(Connection* connection) {
  int fd;
  {
    std::lock_guard lock(mutex);
    fd = connection->fd;
  }
  SSL* ssl = nullptr;
  if (ssl_ctx != nullptr) {
    ssl = SSL_new(ssl_ctx);
    if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
      ERR_clear_error();
      {
        std::lock_guard lock(mutex);
        ++handshake_failures;
      }
      return finish_connection(connection, ssl, false, false);
    }
  }
  Stream stream(fd, ssl);
  bool raw = serve_requests(connection, fd, stream);
  finish_connection(connection, ssl, true, !raw);
}

// Returns true if a raw handler took over the connection.
bool TestServer::Impl::serve_requests(Connection* connection, int fd, Stream& stream) {
  Reader reader{stream, {}, {}};
  for (std::size_t served = 1;; ++served) {
    Turn turn = serve_one(connection, fd, reader, served);
    if (turn != Turn::kContinue) return turn == Turn::kHandedOver;
  }
}

// Reads, records and answers one request; served counts it among the
// connection's requests.
Turn TestServer::Impl::serve_one(Connection* connection, int fd, Reader& reader,
                                 std::size_t served) {
  Request request;
  Clock::time_point start;
  ReadOutcome outcome = reader.next(request, start);
  if (outcome == ReadOutcome::kClosed) return Turn::kClose;
  if (outcome != ReadOutcome::kRequest) {
    Response error;
    error.status = outcome == ReadOutcome::kTooLarge ? 431 : 400;
    error.html("<!doctype html><title>bad request</title>");
    request.method = "GET";  // whatever was parsed, the error page has a body
    send_response(reader.stream, request, error, false, kNotRecorded);
    return Turn::kClose;
  }
  request.connection = connection->id;
  request.local_address = connection->local_address;
  std::size_t index = record(request, start);

  if (RawHandler raw = raw_route(request.path)) {
    try {
      raw(fd, request);
    } catch (...) {
      // Nothing to report to: the handler owned the wire.
    }
    mark_end(index, 0);
    return Turn::kHandedOver;
  }
  bool body_skipped = skip_body(reader, request);
  Response response = dispatch(request);
  if (response.delay_before.count() > 0 && !wait(response.delay_before)) {
    mark_end(index, 0);
    return Turn::kClose;
  }
  bool keep_open = body_skipped && keep_alive(request, response, served);
  bool sent = send_response(reader.stream, request, response, keep_open, index);
  return sent && keep_open ? Turn::kContinue : Turn::kClose;
}

RawHandler TestServer::Impl::raw_route(const std::string& path) const {
  std::lock_guard lock(mutex);
  if (routes.contains(path)) return {};
  auto it = raw_routes.find(path);
  return it == raw_routes.end() ? RawHandler{} : it->second;
}

// Closes the socket under the mutex so that stop() never shuts down a
// descriptor number that has since been reused elsewhere in the process.
// A socket closed by a raw handler's choice is closed as is, so that an
// SO_LINGER of zero the handler set turns into a reset.
void TestServer::Impl::finish_connection(Connection* connection, SSL* ssl, bool clean,
                                         bool linger) {
  if (ssl != nullptr) {
    if (clean) SSL_shutdown(ssl);  // close_notify ends a close-delimited body cleanly
    SSL_free(ssl);
    ERR_clear_error();
  }
  if (linger) linger_close(connection->fd);
  std::lock_guard lock(mutex);
  close(connection->fd);
  connection->fd = -1;
  connection->done = true;
}

std::size_t TestServer::Impl::record(const Request& request, Clock::time_point start) {
  RecordedRequest entry;
  entry.host = request.header("Host");
  entry.target = request.target;
  entry.path = request.path;
  entry.method = request.method;
  entry.user_agent = request.header("User-Agent");
  entry.headers = request.headers;
  entry.connection = request.connection;
  entry.start = start == Clock::time_point{} ? Clock::now() : start;
  entry.local_address = request.local_address;
  entry.head = request.head;
  std::lock_guard lock(mutex);
  records.push_back(std::move(entry));
  return records.size() - 1;
}

void TestServer::Impl::mark_end(std::size_t index, int status) {
  if (index == kNotRecorded) return;
  std::lock_guard lock(mutex);
  records[index].end = Clock::now();
  records[index].status = status;
}

Response TestServer::Impl::dispatch(const Request& request) {
  Handler handler;
  bool use_directory = false;
  {
    std::lock_guard lock(mutex);
    if (auto it = routes.find(request.path); it != routes.end()) {
      handler = it->second;
    } else if (root) {
      use_directory = true;
    } else {
      handler = not_found;
    }
  }
  Response response;
  try {
    if (use_directory) {
      serve_file(request, response);
    } else {
      handler(request, response);
    }
  } catch (const std::exception& e) {
    response = Response{};
    response.status = 500;
    response.text(std::string("handler threw: ") + e.what());
    response.set_header("Connection", "close");
  } catch (...) {
    response = Response{};
    response.status = 500;
    response.text("handler threw");
    response.set_header("Connection", "close");
  }
  return response;
}

void TestServer::Impl::serve_file(const Request& request, Response& response) {
  std::optional<std::string> decoded = percent_decode(request.path);
  if (!decoded || !decoded->starts_with('/')) {
    response.status = 400;
    response.html("<!doctype html><title>bad path</title>");
    return;
  }
  fs::path base;
  Handler fallback;
  {
    std::lock_guard lock(mutex);
    base = *root;
    fallback = not_found;
  }
  std::error_code ec;
  fs::path file = fs::weakly_canonical(base / decoded->substr(1), ec);
  if (has_dot_dot_segment(*decoded) || ec || !is_within(base, file)) {
    response.status = 403;
    response.html("<!doctype html><title>forbidden</title><h1>Forbidden</h1>");
    return;
  }
  if (fs::is_directory(file, ec)) {
    if (!request.path.ends_with('/')) {
      std::string location = request.path + "/";
      if (!request.query.empty()) location += "?" + request.query;
      response.redirect(301, location);
      return;
    }
    file /= "index.html";
  }
  std::optional<std::string> data =
      fs::is_regular_file(file, ec) ? read_file(file) : std::nullopt;
  if (!data) return fallback(request, response);
  response.text(std::move(*data), content_type_for(file));
}

bool TestServer::Impl::keep_alive(const Request& request, const Response& response,
                                  std::size_t served) const {
  if (response.framing == Framing::kCloseDelimited) return false;
  if (lists_token(response.header("Connection"), "close")) return false;
  if (options.max_requests_per_connection != 0 && served >= options.max_requests_per_connection) {
    return false;
  }
  std::string connection = request.header("Connection");
  if (request.version == "HTTP/1.0") return lists_token(connection, "keep-alive");
  return !lists_token(connection, "close");
}

// Builds the head, then sends it and the body pieces; the request's end time
// is taken just before the last piece goes out.
bool TestServer::Impl::send_response(Stream& stream, const Request& request, Response& response,
                                     bool keep_open, std::size_t record_index) {
  std::string body = std::move(response.body);
  if (response.gzip_body) {
    body = gzip_compress(body);
    response.set_header("Content-Encoding", "gzip");
  }
  bool has_body = status_has_body(response.status);
  bool send_body = has_body && request.method != "HEAD";
  std::string head = status_line(response);
  for (const auto& [name, value] : response.headers) {
    if (iequals(name, "Connection")) continue;  // decided below, once
    head += name + ": " + value + "\r\n";
  }
  if (has_body && response.framing == Framing::kContentLength &&
      !has_header(response.headers, "Content-Length")) {
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (has_body && response.framing == Framing::kChunked) head += "Transfer-Encoding: chunked\r\n";
  if (!keep_open) {
    head += "Connection: close\r\n";
  } else if (request.version == "HTTP/1.0") {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";

  std::vector<std::string> pieces;
  if (!send_body) {
    pieces.push_back(std::move(head));
  } else if (response.framing == Framing::kChunked) {
    pieces = chunk_pieces(body, response.chunk_count);
    pieces.insert(pieces.begin(), std::move(head));
  } else {
    pieces.push_back(std::move(head) + body);
  }
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    bool last = i + 1 == pieces.size();
    if (last) mark_end(record_index, response.status);
    if (stream.write_all(pieces[i])) continue;
    if (!last) mark_end(record_index, response.status);
    return false;
  }
  return true;
}

bool TestServer::Impl::wait(std::chrono::milliseconds duration) const {
  std::unique_lock lock(mutex);
  return !stop_signal.wait_for(lock, duration, [this] { return stopping; });
}

TestServer::TestServer() : TestServer(Options{}) {}

TestServer::TestServer(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->listen_socket();
  if (impl_->options.tls) impl_->tls_context();
  impl_->accept_thread = std::thread([impl = impl_.get()] { impl->accept_loop(); });
}

TestServer::~TestServer() { stop(); }

void TestServer::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->stopping = true;
    // Wakes connection threads blocked in recv(), send() or SSL_accept().
    for (const auto& connection : impl_->connections) {
      if (connection->fd >= 0) shutdown(connection->fd, SHUT_RDWR);
    }
  }
  impl_->stop_signal.notify_all();
  char byte = 0;
  ssize_t unused = write(impl_->wake_write, &byte, 1);
  (void)unused;
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  // The accept thread is gone, so the list can no longer grow.
  for (const auto& connection : impl_->connections) connection->thread.join();
  impl_->connections.clear();
  impl_->release();
}

std::uint16_t TestServer::port() const { return impl_->port; }

const std::string& TestServer::bind_address() const { return impl_->options.bind_address; }

bool TestServer::tls() const { return impl_->options.tls.has_value(); }

std::string TestServer::origin() const {
  const std::string& address = impl_->options.bind_address;
  std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  return std::string(tls() ? "https://" : "http://") + host + ":" + std::to_string(port());
}

std::string TestServer::url(std::string_view path) const { return origin() + std::string(path); }

void TestServer::on(std::string path, Handler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->routes[std::move(path)] = std::move(handler);
}

void TestServer::on_raw(std::string path, RawHandler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->raw_routes[std::move(path)] = std::move(handler);
}

void TestServer::on_not_found(Handler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->not_found = std::move(handler);
}

void TestServer::serve_directory(const std::filesystem::path& root) {
  std::error_code ec;
  fs::path canonical = fs::canonical(root, ec);
  if (ec || !fs::is_directory(canonical, ec)) {
    throw std::runtime_error("test server: not a directory: " + root.string());
  }
  std::lock_guard lock(impl_->mutex);
  impl_->root = canonical;
}

std::vector<RecordedRequest> TestServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->records;
}

std::size_t TestServer::request_count(std::string_view path) const {
  bool whole_target = path.find('?') != std::string_view::npos;
  std::lock_guard lock(impl_->mutex);
  return static_cast<std::size_t>(
      std::count_if(impl_->records.begin(), impl_->records.end(), [&](const RecordedRequest& r) {
        return (whole_target ? r.target : r.path) == path;
      }));
}

std::size_t TestServer::connection_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepted;
}

std::size_t TestServer::tls_handshake_failures() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->handshake_failures;
}

bool TestServer::wait_unless_stopped(std::chrono::milliseconds wait) const {
  return impl_->wait(wait);
}

}  // namespace webcrawl::testing
