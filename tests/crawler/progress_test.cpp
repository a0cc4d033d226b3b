// The progress line.
#include "crawler/progress.h"

#include <catch2/catch.hpp>

#include <sstream>

using namespace webcrawl::crawler;

TEST_CASE("the progress line says pages, rate, queue, waits and an ETA", "[progress]") {
  ProgressSnapshot s;
  s.stored = 100;
  s.queued = 50;
  s.in_flight = 3;
  s.errors = 2;
  s.waiting = {{"parked", 1}, {"host delay", 4}};
  s.remaining = 200;
  CHECK(Progress::format(s, 10.0) ==
        "100 pages  10.0/s  queued 50  in flight 3  errors 2  ETA 20s  waiting: host delay 4 parked 1");
  s.remaining.reset();
  s.waiting.clear();
  CHECK(Progress::format(s, 10.0) == "100 pages  10.0/s  queued 50  in flight 3  errors 2");
}

TEST_CASE("off a terminal the line comes every 10 s; lines printed above it stay whole", "[progress]") {
  std::ostringstream log;
  Progress p(log, false, 0);
  ProgressSnapshot s;
  p.update(s, 1);   // too soon after the start
  p.update(s, 11);  // printed
  p.update(s, 12);  // too soon after the last
  p.print("a warning");
  CHECK(log.str() == "0 pages  0.0/s  queued 0  in flight 0  errors 0\na warning\n");
}

TEST_CASE("on a terminal the line is redrawn below what is printed", "[progress]") {
  std::ostringstream log;
  Progress p(log, true, 0);
  ProgressSnapshot s;
  p.update(s, 1);
  p.print("GET x");
  p.clear();
  CHECK(log.str() ==
        "\r\x1b[K0 pages  0.0/s  queued 0  in flight 0  errors 0"
        "\r\x1b[KGET x\n0 pages  0.0/s  queued 0  in flight 0  errors 0"
        "\r\x1b[K");
}
