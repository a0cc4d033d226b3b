// Self-tests of the loopback test server and test CA that every crawler
// test relies on: plain clients over raw sockets and OpenSSL, no crawler.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <zlib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/temp_dir.h"
#include "tests/support/test_ca.h"
#include "tests/support/test_server.h"

using webcrawl::testing::LeafOptions;
using webcrawl::testing::Request;
using webcrawl::testing::Response;
using webcrawl::testing::TempDir;
using webcrawl::testing::TestCa;
using webcrawl::testing::TestServer;
using webcrawl::testing::TlsIdentity;

namespace {

// An open TCP connection to a test server; closes on destruction.
class Client {
 public:
  Client(const std::string& address, std::uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval timeout{5, 0};  // a broken server fails the test instead of hanging it
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  explicit Client(const TestServer& server) : Client(server.bind_address(), server.port()) {}
  ~Client() { close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  int fd() const { return fd_; }

  void send(const std::string& bytes) {
    REQUIRE(webcrawl::testing::send_all(fd_, bytes));
  }

  // Reads one response framed by Content-Length (head and body together).
  std::string read_response() {
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::exchange(buffer_, {});
    }
    std::size_t total = head_end + 4 + content_length(buffer_.substr(0, head_end));
    while (buffer_.size() < total && fill()) {
    }
    std::string response = buffer_.substr(0, total);
    buffer_.erase(0, total);
    return response;
  }

  // True once a read saw the server close the connection (not a timeout).
  bool closed_by_server() const { return eof_; }

  // Reads until the server closes the connection (or 5 s pass).
  std::string read_to_end() {
    while (fill()) {
    }
    return std::exchange(buffer_, {});
  }

 private:
  bool fill() {
    char chunk[4096];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    eof_ = n == 0;
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  static std::size_t content_length(const std::string& head) {
    std::size_t at = head.find("Content-Length: ");
    return at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
  }

  int fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
};

std::string get_request(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: test.local\r\nUser-Agent: selftest/1\r\n" + extra +
         "\r\n";
}

// One GET on a fresh connection that asks the server to close afterwards.
std::string fetch(const TestServer& server, const std::string& path) {
  Client client(server);
  client.send(get_request(path, "Connection: close\r\n"));
  return client.read_to_end();
}

std::string body_of(const std::string& response) {
  std::size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

std::string gunzip(const std::string& data) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
  std::string out(64 * 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

struct TlsOutcome {
  bool verified = false;
  long verify_result = X509_V_OK;
  std::string response;
};

// Connects with a client that trusts only ca_file and checks the server's
// certificate against name (a DNS name or an IP address).
TlsOutcome tls_get(const TestServer& server, const std::string& ca_file, const std::string& name) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(ctx != nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  REQUIRE(SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) == 1);
  SSL* ssl = SSL_new(ctx);
  in_addr ip{};
  if (inet_pton(AF_INET, name.c_str(), &ip) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    SSL_set1_host(ssl, name.c_str());
  }
  Client client(server);
  SSL_set_fd(ssl, client.fd());
  TlsOutcome outcome;
  outcome.verified = SSL_connect(ssl) == 1;
  outcome.verify_result = SSL_get_verify_result(ssl);
  if (outcome.verified) {
    std::string request = get_request("/", "Connection: close\r\n");
    SSL_write(ssl, request.data(), static_cast<int>(request.size()));
    char chunk[4096];
    int n;
    while ((n = SSL_read(ssl, chunk, sizeof chunk)) > 0) outcome.response.append(chunk, n);
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return outcome;
}

TestServer::Options tls_options(TlsIdentity identity) {
  TestServer::Options options;
  options.tls = std::move(identity);
  return options;
}

void hello(const Request&, Response& res) { res.html("<p>hello</p>"); }

}  // namespace

TEST_CASE("a plain GET is answered with 200 and recorded", "[support]") {
  TestServer server;
  server.on("/hello", hello);
  std::string response = fetch(server, "/hello?x=1");
  CHECK(response.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(body_of(response) == "<p>hello</p>");
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].host == "test.local");
  CHECK(requests[0].target == "/hello?x=1");
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].user_agent == "selftest/1");
  CHECK(requests[0].local_address == "127.0.0.1");
  CHECK(requests[0].status == 200);
  CHECK(requests[0].end >= requests[0].start);
  CHECK(server.request_count("/hello") == 1);
  CHECK(server.request_count("/hello?x=1") == 1);
  CHECK(requests[0].head == get_request("/hello?x=1", "Connection: close\r\n"));
}

TEST_CASE("requests on one keep-alive connection share its sequence number", "[support]") {
  TestServer server;
  server.on("/a", hello);
  Client first(server);
  first.send(get_request("/a"));
  CHECK(first.read_response().starts_with("HTTP/1.1 200"));
  first.send(get_request("/a"));
  CHECK(first.read_response().starts_with("HTTP/1.1 200"));
  fetch(server, "/a");
  auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[0].connection == requests[1].connection);
  CHECK(requests[2].connection != requests[0].connection);
  CHECK(server.connection_count() == 2);
}

TEST_CASE("a request body is skipped and the next request is served", "[support]") {
  TestServer server;
  server.on("/a", hello);
  Client client(server);
  client.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get_request("/a"));
  CHECK(client.read_response().starts_with("HTTP/1.1 200"));
  CHECK(client.read_response().starts_with("HTTP/1.1 200"));
  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "POST");
  CHECK(requests[1].method == "GET");
}

TEST_CASE("a malformed request line gets 400 and a closed connection", "[support]") {
  TestServer server;
  Client client(server);
  client.send("NONSENSE\r\n\r\n");
  CHECK(client.read_to_end().starts_with("HTTP/1.1 400"));
  CHECK(client.closed_by_server());
  CHECK(server.requests().empty());
}

TEST_CASE("Connection: close ends the connection after the response", "[support]") {
  TestServer server;
  server.on("/a", hello);
  Client client(server);
  client.send(get_request("/a", "Connection: close\r\n"));
  std::string response = client.read_to_end();
  CHECK(client.closed_by_server());
  CHECK(response.find("Connection: close\r\n") != std::string::npos);
  CHECK(body_of(response) == "<p>hello</p>");
}

TEST_CASE("unknown paths get the 404 handler", "[support]") {
  TestServer server;
  CHECK(fetch(server, "/missing").starts_with("HTTP/1.1 404 Not Found\r\n"));
  server.on_not_found([](const Request&, Response& res) { res.status = 410; });
  CHECK(fetch(server, "/missing").starts_with("HTTP/1.1 410 Gone\r\n"));
}

TEST_CASE("static files are served with their content type", "[support]") {
  TempDir dir;
  dir.write("index.html", "<h1>home</h1>");
  dir.write("docs/style.css", "body{}");
  TestServer server;
  server.serve_directory(dir.path());
  std::string page = fetch(server, "/");
  CHECK(page.find("Content-Type: text/html; charset=utf-8\r\n") != std::string::npos);
  CHECK(body_of(page) == "<h1>home</h1>");
  std::string css = fetch(server, "/docs/style.css");
  CHECK(css.find("Content-Type: text/css") != std::string::npos);
  CHECK(body_of(css) == "body{}");
  CHECK(fetch(server, "/nope.html").starts_with("HTTP/1.1 404"));
}

TEST_CASE("a directory without its trailing slash redirects to it", "[support]") {
  TempDir dir;
  dir.write("docs/index.html", "docs");
  TestServer server;
  server.serve_directory(dir.path());
  std::string response = fetch(server, "/docs");
  CHECK(response.starts_with("HTTP/1.1 301"));
  CHECK(response.find("Location: /docs/\r\n") != std::string::npos);
  CHECK(body_of(fetch(server, "/docs/")) == "docs");
}

TEST_CASE("paths that leave the served directory are refused", "[support]") {
  TempDir dir;
  dir.write("site/index.html", "home");
  dir.write("secret.txt", "secret");
  TestServer server;
  server.serve_directory(dir.path() / "site");
  CHECK(fetch(server, "/../secret.txt").starts_with("HTTP/1.1 403"));
  CHECK(fetch(server, "/%2e%2e/secret.txt").starts_with("HTTP/1.1 403"));
  CHECK(fetch(server, "/%2").starts_with("HTTP/1.1 400"));
}

TEST_CASE("gzip responses decompress to the original body", "[support]") {
  TestServer server;
  server.on("/z", [](const Request&, Response& res) { res.gzip().html("<p>squeezed</p>"); });
  std::string response = fetch(server, "/z");
  CHECK(response.find("Content-Encoding: gzip\r\n") != std::string::npos);
  CHECK(gunzip(body_of(response)) == "<p>squeezed</p>");
}

TEST_CASE("chunked responses split the body into chunks", "[support]") {
  TestServer server;
  server.on("/c", [](const Request&, Response& res) { res.text("abcdef").chunked(3); });
  std::string response = fetch(server, "/c");
  CHECK(response.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(response.find("Content-Length") == std::string::npos);
  CHECK(body_of(response) == "2\r\nab\r\n2\r\ncd\r\n2\r\nef\r\n0\r\n\r\n");
}

TEST_CASE("close-delimited responses have no length and end at EOF", "[support]") {
  TestServer server;
  server.on("/e", [](const Request&, Response& res) { res.text("to the end").close_delimited(); });
  Client client(server);
  client.send(get_request("/e"));  // keep-alive requested, the server closes anyway
  std::string response = client.read_to_end();
  CHECK(client.closed_by_server());
  CHECK(response.find("Content-Length") == std::string::npos);
  CHECK(body_of(response) == "to the end");
}

TEST_CASE("raw handlers write arbitrary bytes and the server then closes", "[support]") {
  TestServer server;
  server.on_raw("/raw", [](int fd, const Request&) {
    webcrawl::testing::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort");
  });
  Client client(server);
  client.send(get_request("/raw"));
  CHECK(client.read_to_end() == "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort");
  CHECK(server.request_count("/raw") == 1);
}

TEST_CASE("a client trusting the test CA verifies a leaf by name and by IP", "[support]") {
  TempDir dir;
  TestCa ca;
  REQUIRE(ca.write_pem(dir.file("ca.pem").string()));
  TestServer server(tls_options(ca.issue({"localhost"}, {"127.0.0.1"})));
  server.on("/", hello);
  CHECK(server.url("/x").starts_with("https://127.0.0.1:"));
  TlsOutcome by_name = tls_get(server, dir.file("ca.pem").string(), "localhost");
  CHECK(by_name.verified);
  CHECK(body_of(by_name.response) == "<p>hello</p>");
  CHECK(tls_get(server, dir.file("ca.pem").string(), "127.0.0.1").verified);
  CHECK_FALSE(tls_get(server, dir.file("ca.pem").string(), "other.test").verified);
}

TEST_CASE("a self-signed identity fails certificate verification", "[support]") {
  TempDir dir;
  TestCa ca;
  REQUIRE(ca.write_pem(dir.file("ca.pem").string()));
  TestServer server(tls_options(TestCa::self_signed_identity({"localhost"})));
  TlsOutcome outcome = tls_get(server, dir.file("ca.pem").string(), "localhost");
  CHECK_FALSE(outcome.verified);
  CHECK(outcome.verify_result == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  for (int i = 0; i < 200 && server.tls_handshake_failures() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(server.tls_handshake_failures() == 1);
}

TEST_CASE("an expired leaf fails certificate verification", "[support]") {
  TempDir dir;
  TestCa ca;
  REQUIRE(ca.write_pem(dir.file("ca.pem").string()));
  LeafOptions expired;
  expired.dns_names = {"localhost"};
  expired.not_before = std::chrono::hours(-48);
  expired.not_after = std::chrono::hours(-24);
  TestServer server(tls_options(ca.issue(expired)));
  TlsOutcome outcome = tls_get(server, dir.file("ca.pem").string(), "localhost");
  CHECK_FALSE(outcome.verified);
  CHECK(outcome.verify_result == X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST_CASE("a server bound to 127.0.0.2 records that local address", "[support]") {
  TestServer::Options options;
  options.bind_address = "127.0.0.2";
  TestServer server(options);
  server.on("/", hello);
  CHECK(server.url("/").starts_with("http://127.0.0.2:"));
  CHECK(fetch(server, "/").starts_with("HTTP/1.1 200"));
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].local_address == "127.0.0.2");
}

TEST_CASE("stop() returns promptly despite idle and stalled connections", "[support]") {
  TestServer server;
  server.on("/slow", [](const Request&, Response& res) {
    res.html("late").delay(std::chrono::seconds(30));
  });
  Client idle(server);
  Client stalled(server);
  stalled.send(get_request("/slow"));
  for (int i = 0; i < 200 && server.request_count("/slow") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto before = std::chrono::steady_clock::now();
  server.stop();
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(2));
  CHECK(stalled.read_to_end().empty());
  CHECK(stalled.closed_by_server());
}
