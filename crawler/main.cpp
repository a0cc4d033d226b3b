#include <csignal>

#include "crawler/cli.h"

int main(int argc, char** argv) {
  // A peer closing a socket must be an error value, not a process exit.
  std::signal(SIGPIPE, SIG_IGN);
  return webcrawl::crawler::run_cli(argc, argv);
}
