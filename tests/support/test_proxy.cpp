#include "tests/support/test_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "tests/support/test_server.h"  // send_all

namespace webcrawl::testing {
namespace {

constexpr std::size_t kMaxHead = 64 * 1024;

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::runtime_error("test proxy: " + what + ": " + std::strerror(errno));
}

// "host:port" or "[v6]:port" as a loopback socket address, or nothing when
// it does not parse or is not loopback.
std::optional<sockaddr_storage> loopback_address(std::string_view authority) {
  std::size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(authority.substr(0, colon));
  std::string_view port_text = authority.substr(colon + 1);
  std::uint16_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0) return std::nullopt;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127) return std::nullopt;
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return ss;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return ss;
  }
  return std::nullopt;
}

// A connected socket to `target`, or -1.
int connect_to(const sockaddr_storage& target) {
  int fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  socklen_t len = target.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&target), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string answer(int status, std::string_view reason, std::string_view extra = "") {
  std::string body = "proxy says " + std::to_string(status) + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n" + std::string(extra) +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// Copies bytes both ways until both directions have ended; a side's EOF is
// passed on as a half-close.
void relay(int a, int b) {
  bool open[2] = {true, true};  // a -> b, b -> a
  char buf[16 * 1024];
  while (open[0] || open[1]) {
    pollfd fds[2] = {{a, static_cast<short>(open[0] ? POLLIN : 0), 0}, {b, static_cast<short>(open[1] ? POLLIN : 0), 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || fds[i].revents == 0) continue;
      int from = i == 0 ? a : b;
      int to = i == 0 ? b : a;
      ssize_t n = recv(from, buf, sizeof buf, 0);
      if (n > 0 && send_all(to, std::string_view(buf, static_cast<std::size_t>(n)))) continue;
      if (n <= 0 && (fds[i].revents & (POLLERR | POLLNVAL))) return;  // reset or stopped: end both ways
      open[i] = false;
      shutdown(to, SHUT_WR);
      if (n < 0) return;
    }
  }
}

}  // namespace

struct TestProxy::Impl {
  Options options;
  int listen_fd = -1;
  int wake[2] = {-1, -1};  // the accept thread polls wake[0] to learn about stop()
  std::uint16_t port = 0;
  std::thread accept_thread;

  mutable std::mutex mutex;
  bool stopped = false;  // guarded by mutex, like everything below
  std::vector<std::string> lines;
  std::list<int> sockets;  // every open connection's sockets, client and upstream
  std::list<std::thread> threads;

  void listen_socket();
  void accept_loop();
  void serve(int client);
  void handle(int client, std::string buffer);
  // Registers a socket so that stop() can shut it down; false once stopping.
  bool track(int fd);
  void forget(int fd);
};

void TestProxy::Impl::listen_socket() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (inet_pton(AF_INET, options.bind_address.c_str(), &addr.sin_addr) != 1) {
    throw std::runtime_error("test proxy: not an IPv4 address: " + options.bind_address);
  }
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) fail_errno("socket");
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail_errno("bind");
  if (listen(listen_fd, 128) != 0) fail_errno("listen");
  socklen_t len = sizeof addr;
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) fail_errno("getsockname");
  port = ntohs(addr.sin_port);
  if (pipe2(wake, O_CLOEXEC) != 0) fail_errno("pipe2");
}

void TestProxy::Impl::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno == EINTR) continue;
    if (fds[1].revents != 0) return;
    int client = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(mutex);
    if (stopped) {
      close(client);
      return;
    }
    sockets.push_back(client);
    threads.emplace_back([this, client] { serve(client); });
  }
}

void TestProxy::Impl::serve(int client) {
  std::string buffer;
  char chunk[4096];
  while (buffer.find("\r\n\r\n") == std::string::npos && buffer.size() < kMaxHead) {
    ssize_t n = recv(client, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  if (buffer.find("\r\n\r\n") != std::string::npos) handle(client, std::move(buffer));
  forget(client);
}

// Answers one request head (and whatever followed it in `buffer`).
void TestProxy::Impl::handle(int client, std::string buffer) {
  std::string line = buffer.substr(0, buffer.find("\r\n"));
  {
    std::lock_guard lock(mutex);
    lines.push_back(line);
  }
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    send_all(client, answer(400, "Bad Request"));
    return;
  }
  std::string_view method = std::string_view(line).substr(0, sp1);
  std::string_view target = std::string_view(line).substr(sp1 + 1, sp2 - sp1 - 1);
  bool tunnel = method == "CONNECT";
  if (tunnel && options.refuse_connect_with != 0) {
    int status = options.refuse_connect_with;
    std::string extra = status == 407 ? "Proxy-Authenticate: Basic realm=\"test\"\r\n" : "";
    send_all(client, answer(status, "Refused", extra));
    return;
  }
  std::string_view authority = target;
  if (!tunnel) {
    if (!target.starts_with("http://")) {
      send_all(client, answer(400, "Bad Request"));
      return;
    }
    authority = target.substr(7, target.find('/', 7) - 7);
    if (authority.find(':') == std::string_view::npos) authority = {};  // port 80: not ours to reach
  }
  std::optional<sockaddr_storage> address = loopback_address(authority);
  if (!address) {
    send_all(client, answer(403, "Forbidden"));
    return;
  }
  int upstream = connect_to(*address);
  if (upstream < 0) {
    send_all(client, answer(502, "Bad Gateway"));
    return;
  }
  if (track(upstream)) {
    std::size_t head_end = buffer.find("\r\n\r\n") + 4;
    bool sent = tunnel ? send_all(client, "HTTP/1.1 200 Connection established\r\n\r\n") &&
                             send_all(upstream, std::string_view(buffer).substr(head_end))
                       : send_all(upstream, buffer);
    if (sent) relay(client, upstream);
  }
  forget(upstream);
}

bool TestProxy::Impl::track(int fd) {
  std::lock_guard lock(mutex);
  sockets.push_back(fd);
  if (stopped) shutdown(fd, SHUT_RDWR);
  return !stopped;
}

void TestProxy::Impl::forget(int fd) {
  std::lock_guard lock(mutex);
  sockets.remove(fd);
  close(fd);
}

TestProxy::TestProxy(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->listen_socket();
  impl_->accept_thread = std::thread([impl = impl_.get()] { impl->accept_loop(); });
}

TestProxy::~TestProxy() { stop(); }

void TestProxy::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (int fd : impl_->sockets) shutdown(fd, SHUT_RDWR);  // wakes recv(), poll() and send()
  }
  char byte = 0;
  if (write(impl_->wake[1], &byte, 1) < 0) {
    // The accept thread also stops on the next connection; nothing else to do.
  }
  impl_->accept_thread.join();
  for (std::thread& t : impl_->threads) t.join();  // no thread is added once stopped
  for (int fd : {impl_->listen_fd, impl_->wake[0], impl_->wake[1]}) close(fd);
}

std::uint16_t TestProxy::port() const { return impl_->port; }

std::string TestProxy::url() const { return "http://" + impl_->options.bind_address + ":" + std::to_string(port()); }

std::vector<std::string> TestProxy::request_lines() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->lines;
}

}  // namespace webcrawl::testing
