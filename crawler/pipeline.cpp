#include "crawler/pipeline.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace webcrawl::crawler {

void name_thread(const std::string& name) {
  // Linux keeps 15 bytes and a NUL; a longer name would be refused whole.
  (void)pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

void lower_thread_priority(int steps) {
  pid_t self = gettid();
  errno = 0;
  int now = getpriority(PRIO_PROCESS, static_cast<id_t>(self));
  if (now == -1 && errno != 0) return;  // cannot read it: leave it as it is
  // Best effort: a thread that keeps its priority only makes the pipeline slower.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(self), std::min(19, now + steps));
}

}  // namespace webcrawl::crawler
