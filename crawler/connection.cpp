#include "crawler/connection.h"

#include "crawler/uv_util.h"

namespace webcrawl::crawler {
namespace {

constexpr std::size_t kReadBufferSize = 64 * 1024;

// Reads are handled before the next one is allocated, so one buffer per loop
// thread serves every connection.
thread_local char read_buffer[kReadBufferSize];

std::string address_name(const sockaddr_storage& ss) {
  char name[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&ss), name, sizeof name);
  } else if (ss.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(&ss), name, sizeof name);
  }
  return name;
}

struct ConnectRequest {
  uv_connect_t req{};
  std::weak_ptr<Connection*> conn;
};

struct WriteRequest {
  uv_write_t req{};
  std::string data;
  std::weak_ptr<Connection*> conn;
};

}  // namespace

Result<Connection*> Connection::open(uv_loop_t* loop, std::string origin) {
  auto* c = new Connection(std::move(origin));
  if (int rc = uv_tcp_init(loop, &c->tcp_); rc < 0) {
    delete c;
    return from_uv(rc, "socket");
  }
  c->tcp_.data = c;
  c->self_ = std::make_shared<Connection*>(c);
  uv_tcp_nodelay(&c->tcp_, 1);
  return c;
}

void Connection::connect(const sockaddr_storage& address) {
  remote_ = address_name(address);
  auto* cr = new ConnectRequest{{}, self_};
  int rc = uv_tcp_connect(&cr->req, &tcp_, reinterpret_cast<const sockaddr*>(&address),
                          [](uv_connect_t* req, int status) {
    auto* r = reinterpret_cast<ConnectRequest*>(req);
    auto alive = r->conn.lock();
    delete r;
    if (!alive || !*alive) return;
    Connection* c = *alive;
    if (status == 0) {
      int started = uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp_),
          [](uv_handle_t*, std::size_t, uv_buf_t* buf) { *buf = uv_buf_init(read_buffer, kReadBufferSize); },
          [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
            if (s->data) static_cast<Connection*>(s->data)->on_read(nread, buf->base);
          });
      if (started < 0) return c->end(from_uv(started, "read"));
    }
    if (c->events_) c->events_->on_connected(status);
  });
  if (rc < 0) {
    // Reported from the next tick, like any connect failure: the request's
    // callback stays out of its own call.
    delete cr;
    auto* timer = new uv_timer_t;
    uv_check(uv_timer_init(tcp_.loop, timer), "uv_timer_init");
    struct Failed { std::weak_ptr<Connection*> conn; int rc; };
    timer->data = new Failed{self_, rc};
    uv_check(uv_timer_start(timer, [](uv_timer_t* t) {
      auto* f = static_cast<Failed*>(t->data);
      auto alive = f->conn.lock();
      int code = f->rc;
      delete f;
      uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      if (alive && *alive && (*alive)->events_) (*alive)->events_->on_connected(code);
    }, 0, 0), "uv_timer_start");
  }
}

void Connection::start_tls(std::unique_ptr<TlsSession> session) {
  tls_ = std::move(session);
  on_tls_bytes(nullptr, 0);  // sends the ClientHello
}

void Connection::write(std::string_view plaintext) {
  if (closing_) return;
  if (!tls_) return write_raw(std::string(plaintext));
  if (auto r = tls_->write(plaintext); !r) return end(r.error());
  flush_tls();
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  events_ = nullptr;
  self_.reset();  // writes and connects still in flight find no owner
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&tcp_))) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  // libuv calls no read callback after uv_close, so data carries us to the close callback.
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
}

void Connection::write_raw(std::string data) {
  if (closing_ || data.empty()) return;
  auto* w = new WriteRequest{{}, std::move(data), self_};
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, [](uv_write_t* req, int status) {
    auto* done = reinterpret_cast<WriteRequest*>(req);
    auto alive = done->conn.lock();
    delete done;
    if (status < 0 && alive && *alive) (*alive)->end(from_uv(status, "write"));
  });
  if (rc < 0) {
    delete w;
    end(from_uv(rc, "write"));
  }
}

void Connection::flush_tls() {
  if (tls_) write_raw(tls_->take_output());
}

void Connection::on_read(ssize_t nread, const char* data) {
  if (closing_) return;
  if (nread == UV_EOF) return end(std::nullopt);
  if (nread < 0) return end(from_uv(static_cast<int>(nread), "read"));
  if (nread == 0) return;
  // Bytes on an idle connection: the server is confused; never reuse it.
  if (!events_) return end_unattached();
  if (!tls_) return events_->on_data(std::string_view(data, static_cast<std::size_t>(nread)));
  on_tls_bytes(data, static_cast<std::size_t>(nread));
}

void Connection::on_tls_bytes(const char* data, std::size_t len) {
  tls_->feed(std::string_view(data ? data : "", len));
  if (tls_->handshaking()) {
    auto done = tls_->handshake();
    flush_tls();
    if (!done) return end(done.error());
    if (!*done || closing_) return;
    if (events_) events_->on_secure();
    return;
  }
  std::string plain;
  auto open = tls_->read(plain);
  if (!plain.empty() && events_ && !closing_) events_->on_data(plain);
  if (closing_) return;
  if (!open) return end(open.error());
  if (!*open) return end(std::nullopt);
  flush_tls();
}

void Connection::end(std::optional<Error> error) {
  if (closing_) return;
  if (!events_) return end_unattached();
  events_->on_end(std::move(error));
}

// Closing here alone would leave the pool holding a connection that frees
// itself: whoever pools it must unlink it first.
void Connection::end_unattached() {
  if (on_unattached_end) return on_unattached_end(this);
  close();
}

}  // namespace webcrawl::crawler
