// webcrawl-serve: serves a directory on a loopback address with the test
// server, for `make demo` and the benchmarks. Runs until SIGINT or SIGTERM.
//
//   webcrawl-serve --root DIR [--bind 127.0.0.1] [--port N] [--port-file F]
//                  [--access-log F]
//
// With --port-file the chosen port is written to F (atomically, by rename)
// once the server listens, so a script can wait for the file to appear.
// With --access-log every request is written to F when the server stops, one
// line each in arrival order: "METHOD TARGET STATUS CONNECTION MS", where
// CONNECTION numbers the connection from 1 and MS is the time from the first
// byte of the request to the last byte of the response (status 0 and "-" for
// a request the server never answered).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/test_server.h"

namespace {

constexpr std::string_view kUsage =
    "usage: webcrawl-serve --root DIR [--bind 127.0.0.1] [--port N] [--port-file F]\n"
    "                      [--access-log F]\n";

struct Args {
  std::string root;
  std::string bind = "127.0.0.1";
  std::uint16_t port = 0;
  std::string port_file;
  std::string access_log;
};

// Only loopback: this server follows symlinks and has no access control.
bool is_loopback(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, address.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Accepts "--flag value" and "--flag=value". On a bad command line, returns
// nothing after printing why.
std::optional<Args> parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    if (std::size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::cerr << "webcrawl-serve: " << flag << " needs a value\n" << kUsage;
      return std::nullopt;
    }
    if (flag == "--root") {
      args.root = value;
    } else if (flag == "--bind") {
      args.bind = value;
    } else if (flag == "--port-file") {
      args.port_file = value;
    } else if (flag == "--access-log") {
      args.access_log = value;
    } else if (flag == "--port") {
      std::optional<std::uint16_t> port = parse_port(value);
      if (!port) {
        std::cerr << "webcrawl-serve: not a port: " << value << "\n";
        return std::nullopt;
      }
      args.port = *port;
    } else {
      std::cerr << "webcrawl-serve: unknown option " << flag << "\n" << kUsage;
      return std::nullopt;
    }
  }
  if (args.root.empty()) {
    std::cerr << "webcrawl-serve: --root is required\n" << kUsage;
    return std::nullopt;
  }
  if (!is_loopback(args.bind)) {
    std::cerr << "webcrawl-serve: refusing to bind " << args.bind
              << ": only loopback addresses (127.0.0.0/8, ::1) are allowed\n";
    return std::nullopt;
  }
  return args;
}

bool write_port_file(const std::string& path, std::uint16_t port) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  return !ec;
}

// The log is written from requests() after stop(), not live: the server
// records every request anyway, and this keeps file I/O off its threads.
bool write_access_log(std::ofstream& out,
                      const std::vector<webcrawl::testing::RecordedRequest>& requests) {
  for (const webcrawl::testing::RecordedRequest& r : requests) {
    out << r.method << ' ' << r.target << ' ' << r.status << ' ' << r.connection << ' ';
    if (r.end == std::chrono::steady_clock::time_point{}) {
      out << "-\n";
      continue;
    }
    std::chrono::duration<double, std::milli> took = r.end - r.start;
    out << took.count() << '\n';
  }
  return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      std::cout << kUsage;
      return 0;
    }
  }
  std::optional<Args> args = parse_args(argc, argv);
  if (!args) return 2;

  // Blocked before any thread starts, so every server thread inherits the
  // mask and sigwait() below is the only place these signals land. A shell
  // starts background jobs with SIGINT ignored, and an ignored signal is
  // discarded rather than queued for sigwait(), so restore the default.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Opened now so that a bad path fails before the server runs, not after.
  std::ofstream access_log;
  if (!args->access_log.empty()) {
    access_log.open(args->access_log, std::ios::trunc);
    if (!access_log) {
      std::cerr << "webcrawl-serve: cannot write " << args->access_log << "\n";
      return 1;
    }
  }

  try {
    webcrawl::testing::TestServer::Options options;
    options.bind_address = args->bind;
    options.port = args->port;
    webcrawl::testing::TestServer server(options);
    server.serve_directory(args->root);
    if (!args->port_file.empty() && !write_port_file(args->port_file, server.port())) {
      std::cerr << "webcrawl-serve: cannot write " << args->port_file << "\n";
      return 1;
    }
    std::cerr << "serving " << args->root << " on " << server.url("/") << std::endl;
    int received = 0;
    sigwait(&stop_signals, &received);
    server.stop();
    if (access_log.is_open() && !write_access_log(access_log, server.requests())) {
      std::cerr << "webcrawl-serve: cannot write " << args->access_log << "\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "webcrawl-serve: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
