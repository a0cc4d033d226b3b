#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "tests/crawler/crawl_support.h"

extern char** environ;

namespace webcrawl::testing {

CommandResult run_webcrawl(const std::vector<std::string>& args, double timeout_seconds) {
  std::vector<std::string> argv{WEBCRAWL_BINARY_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = run_program(argv, timeout_seconds);
  if (result.status == -1) throw std::runtime_error("cannot run " + argv[0]);
  return result;
}

Background::Background(const std::vector<std::string>& args, const std::string& log_path) {
  std::vector<std::string> argv_s{WEBCRAWL_BINARY_PATH};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot run " + argv_s[0]);
  pid_ = pid;
}

Background::~Background() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Background::signal(int signum) {
  if (pid_ > 0 && !reaped_) kill(pid_, signum);
}

int Background::wait(double timeout_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    usleep(10000);
  }
}

}  // namespace webcrawl::testing
