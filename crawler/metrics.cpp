#include "crawler/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <unordered_set>
#include <utility>

#include "crawler/uv_util.h"

namespace webcrawl::crawler {
namespace {

// Label values: backslash, double quote and line feed escaped (format 0.0.4).
std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, int64_t value, std::string_view label = {},
            std::string_view label_text = {}) {
  out += name;
  if (!label.empty()) {
    out += '{';
    out += label;
    out += "=\"";
    out += label_value(label_text);
    out += "\"}";
  }
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

// Frontier::waiting's reasons as label values; each is always shown.
struct Reason {
  const char* frontier;
  const char* label;
};
constexpr Reason kReasons[] = {
    {"host delay", "delay"}, {"crawl-delay", "crawl-delay"}, {"adaptive", "adaptive"},
    {"per-ip", "per-ip"},    {"back-off", "backoff"},        {"retry-after", "retry-after"},
    {"parked", "parked"},    {"robots.txt", "robots-txt"},
};

}  // namespace

std::string format_metrics(const MetricsSnapshot& s) {
  std::string out;
  header(out, "webcrawl_pages_stored_total", "counter", "Pages (documents) committed to the database by this run.");
  sample(out, "webcrawl_pages_stored_total", s.pages_stored);
  header(out, "webcrawl_requests_total", "counter", "HTTP requests written, robots.txt and retries included.");
  sample(out, "webcrawl_requests_total", s.requests);
  header(out, "webcrawl_response_bytes_total", "counter", "Response body bytes received, as on the wire.");
  sample(out, "webcrawl_response_bytes_total", s.response_bytes);
  header(out, "webcrawl_errors_total", "counter", "Requests that failed, by kind (as fetches.error_kind).");
  for (const auto& [kind, n] : s.errors) sample(out, "webcrawl_errors_total", n, "kind", kind);
  header(out, "webcrawl_requests_in_flight", "gauge", "Requests started and not yet answered.");
  sample(out, "webcrawl_requests_in_flight", s.in_flight);
  header(out, "webcrawl_urls_queued", "gauge", "URLs queued to fetch, in memory and in the database.");
  sample(out, "webcrawl_urls_queued", s.queued);
  header(out, "webcrawl_hosts_waiting", "gauge", "Hosts with queued URLs that may not start a request yet, by reason.");
  std::map<std::string, int64_t> waiting;
  for (const Reason& r : kReasons) waiting[r.label] = 0;
  for (const auto& [reason, n] : s.waiting) {
    auto known = std::find_if(std::begin(kReasons), std::end(kReasons),
                              [&](const Reason& r) { return reason == r.frontier; });
    std::string label = known != std::end(kReasons) ? known->label : reason;
    std::replace(label.begin(), label.end(), ' ', '-');
    waiting[label] += n;
  }
  for (const auto& [reason, n] : waiting) sample(out, "webcrawl_hosts_waiting", n, "reason", reason);
  header(out, "webcrawl_parse_queue_depth", "gauge", "Pages waiting for a parse thread.");
  sample(out, "webcrawl_parse_queue_depth", s.parse_queue);
  header(out, "webcrawl_writer_queue_depth", "gauge", "Items waiting for the database writer.");
  sample(out, "webcrawl_writer_queue_depth", s.writer_queue);
  header(out, "webcrawl_resident_memory_bytes", "gauge", "Resident set size of the crawler process.");
  sample(out, "webcrawl_resident_memory_bytes", s.resident_bytes);
  return out;
}

int64_t resident_memory_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long long size = 0, resident = 0;
  int fields = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  if (fields != 2) return 0;
  return static_cast<int64_t>(resident) * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error{Code::kInvalidArgument, "--metrics: '" + std::string(text) + "' " + std::string(why) +
                                             " (give HOST:PORT, e.g. 127.0.0.1:9100)"};
  };
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("has no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
      port > 65535) {
    return bad("has no port from 1 to 65535");
  }
  ListenAddress a;
  a.port = port;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    a.ip = std::string(host.substr(1, host.size() - 2));
    in6_addr v6{};
    if (inet_pton(AF_INET6, a.ip.c_str(), &v6) != 1) return bad("has no IPv6 address in brackets");
    return a;
  }
  a.ip = host.empty() ? "0.0.0.0" : host == "localhost" ? "127.0.0.1" : std::string(host);
  in_addr v4{};
  if (inet_pton(AF_INET, a.ip.c_str(), &v4) != 1) return bad("needs an IP address or localhost");
  return a;
}

int metrics_status(std::string_view head) {
  std::string_view line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) return 400;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version.substr(0, 7) != "HTTP/1." || target.empty()) return 400;
  if (method != "GET" && method != "HEAD") return 405;
  return target.substr(0, target.find('?')) == "/metrics" ? 200 : 404;
}

// ---- the server -------------------------------------------------------------

namespace {

struct Client {
  MetricsServer::Impl* server = nullptr;
  uv_tcp_t* tcp = nullptr;
  uv_timer_t* deadline = nullptr;
  std::string head;
  char scratch[2048];
};

// A response and its write request in one block, freed by the write callback.
struct Written {
  uv_write_t req;
  std::string bytes;
};

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Request Header Fields Too Large";
  }
}

bool head_complete(const std::string& head) {
  return head.find("\r\n\r\n") != std::string::npos || head.find("\n\n") != std::string::npos;
}

}  // namespace

struct MetricsServer::Impl {
  uv_loop_t* loop = nullptr;
  uv_tcp_t* listener = nullptr;
  SnapshotFn snapshot;
  std::unordered_set<Client*> clients;

  ~Impl() {
    close_and_delete(std::exchange(listener, nullptr));
    for (Client* c : clients) close_client(c);
    clients.clear();
  }

  static void close_client(Client* c) {
    close_and_delete(c->tcp);
    close_and_delete(c->deadline);
    delete c;
  }
  void drop(Client* c) {
    clients.erase(c);
    close_client(c);
  }

  void accept() {
    auto* tcp = new uv_tcp_t;
    uv_check(uv_tcp_init(loop, tcp), "uv_tcp_init");
    tcp->data = nullptr;
    if (uv_accept(reinterpret_cast<uv_stream_t*>(listener), reinterpret_cast<uv_stream_t*>(tcp)) != 0 ||
        clients.size() >= kMaxClients) {
      return close_and_delete(tcp);
    }
    auto* c = new Client;
    c->server = this;
    c->tcp = tcp;
    c->deadline = new uv_timer_t;
    uv_check(uv_timer_init(loop, c->deadline), "uv_timer_init");
    tcp->data = c;
    c->deadline->data = c;
    clients.insert(c);
    uv_check(uv_timer_start(c->deadline, [](uv_timer_t* t) {
      if (auto* client = static_cast<Client*>(t->data)) client->server->drop(client);
    }, static_cast<uint64_t>(kClientDeadline * 1000), 0), "uv_timer_start");
    int rc = uv_read_start(
        reinterpret_cast<uv_stream_t*>(tcp),
        [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
          auto* client = static_cast<Client*>(h->data);
          *buf = client ? uv_buf_init(client->scratch, sizeof client->scratch) : uv_buf_init(nullptr, 0);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
          if (auto* client = static_cast<Client*>(s->data)) client->server->on_read(client, n);
        });
    if (rc < 0) drop(c);
  }

  void on_read(Client* c, ssize_t n) {
    if (n < 0) return drop(c);  // the peer left before its request was whole
    c->head.append(c->scratch, static_cast<std::size_t>(n));
    if (head_complete(c->head)) return answer(c, metrics_status(c->head));
    if (c->head.size() > kMaxRequest) answer(c, 431);
  }

  void answer(Client* c, int status) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(c->tcp));
    std::string body = status == 200 ? format_metrics(snapshot()) : std::string(reason_phrase(status)) + "\n";
    const char* type = status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8";
    auto* w = new Written;
    w->bytes = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\nContent-Type: " + type +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
               (status == 405 ? "Allow: GET, HEAD\r\n" : "") + "Connection: close\r\n\r\n";
    if (c->head.rfind("HEAD ", 0) != 0) w->bytes += body;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(c->tcp), &buf, 1, [](uv_write_t* req, int) {
      auto* written = static_cast<Written*>(req->data);
      auto* client = static_cast<Client*>(req->handle->data);
      delete written;
      // Written or not (a closed client's write comes back cancelled), the
      // connection is done: one request per connection.
      if (client) client->server->drop(client);
    });
    if (rc < 0) {
      delete w;
      drop(c);
    }
  }
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::bind(const ListenAddress& address) {
  const bool v6 = address.ip.find(':') != std::string::npos;
  std::string shown = (v6 ? "[" + address.ip + "]" : address.ip) + ":" + std::to_string(address.port);
  sockaddr_storage storage{};
  socklen_t length = 0;
  int parsed = v6 ? uv_ip6_addr(address.ip.c_str(), address.port, reinterpret_cast<sockaddr_in6*>(&storage))
                  : uv_ip4_addr(address.ip.c_str(), address.port, reinterpret_cast<sockaddr_in*>(&storage));
  if (parsed != 0) return Error{Code::kInvalidArgument, "--metrics: bad address " + shown};
  length = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error{Code::kIo, "--metrics " + shown + ": " + std::strerror(errno)};
  int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 || ::listen(fd, 64) != 0) {
    int e = errno;
    ::close(fd);
    return Error{Code::kIo, "--metrics " + shown + ": " + std::strerror(e)};
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer);
  server->fd_ = fd;
  server->shown_ = std::move(shown);
  return server;
}

Result<void> MetricsServer::serve(uv_loop_t* loop, SnapshotFn snapshot) {
  if (fd_ < 0 || impl_) return Error{Code::kInvalidArgument, "metrics: serve() without a bound socket"};
  auto impl = std::make_unique<Impl>();
  impl->loop = loop;
  impl->snapshot = std::move(snapshot);
  auto* listener = new uv_tcp_t;
  if (int rc = uv_tcp_init(loop, listener); rc < 0) {
    delete listener;
    return from_uv(rc, "metrics");
  }
  impl->listener = listener;
  listener->data = impl.get();
  impl_ = std::move(impl);
  if (int rc = uv_tcp_open(listener, fd_); rc < 0) return from_uv(rc, "metrics " + shown_);
  fd_ = -1;  // the handle's now: closing it closes the socket
  int rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener), 64, [](uv_stream_t* server, int status) {
    auto* owner = static_cast<Impl*>(server->data);
    if (owner && status >= 0) owner->accept();
  });
  if (rc < 0) return from_uv(rc, "metrics " + shown_);
  return {};
}

MetricsServer::~MetricsServer() {
  impl_.reset();
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace webcrawl::crawler
