#!/usr/bin/env bash
# Start-up and shutdown of a small crawl (issue 6: each under 100 ms), run by
# `make bench-startup`:
#
#   usage: bench/startup.sh BUILD_DIR [RUNS]
#
# Serves seeds/demo-site (16 pages reachable, a robots.txt) with webcrawl-serve
# on loopback and crawls it RUNS times (default 10), each into a new database:
#   webcrawl crawl --db DB --delay 0 --quiet http://127.0.0.1:PORT/
# For each run it takes, on the wall clock:
#   start-up  from just before the exec to the start of the first request
#             (the robots.txt fetch: the earliest fetches.started_at);
#   shutdown  from the end of the last response (the latest fetched_at of a
#             page or robots.txt) to the moment the process has exited.
# So start-up holds creating the database and its schema, the TLS context and
# the threads; shutdown holds the last commit, closing the database (its WAL
# checkpoint) and joining the threads. Prints each run and the median and
# worst of both; exits 1 if a crawl failed, stored no page, or stored another
# number of pages than the first run. A missed target is reported, not fatal.
set -euo pipefail

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
  echo "usage: $0 BUILD_DIR [RUNS]" >&2
  exit 2
fi
build=$1
runs=${2:-10}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/tools/start_serve.sh
source "$here/../tests/tools/start_serve.sh"
site=$(cd "$here/../seeds/demo-site" && pwd)
serve="$build/tests/webcrawl-serve"
webcrawl="$build/webcrawl"
for bin in "$serve" "$webcrawl"; do
  if [ ! -x "$bin" ]; then
    echo "startup: $bin is missing; build it first (make bench-startup builds everything)" >&2
    exit 1
  fi
done

work=$(mktemp -d)
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_serve startup "$work" "$serve" --root "$site" --bind 127.0.0.1 --port 0 >/dev/null

# One value from a single-column query.
scalar() {
  "$webcrawl" query --db "$1" --format csv "$2" | sed -n 2p
}

echo "== $runs crawls of seeds/demo-site on 127.0.0.1:$port"
printf '%-5s %12s %12s %8s\n' run "start-up ms" "shutdown ms" pages
: >"$work/figures"
for ((i = 1; i <= runs; i++)); do
  db=$work/run-$i.db
  # $EPOCHREALTIME needs no fork, so the clock reads cost nothing measurable.
  before=$EPOCHREALTIME
  status=0
  "$webcrawl" crawl --db "$db" --delay 0 --quiet "http://127.0.0.1:$port/" 2>"$work/stderr" || status=$?
  after=$EPOCHREALTIME
  if [ "$status" != 0 ]; then
    echo "startup: crawl $i exited with status $status:" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
  first=$(scalar "$db" "SELECT printf('%.6f', min(started_unix)) FROM fetches")
  last=$(scalar "$db" "SELECT printf('%.6f', max(t)) FROM (SELECT fetched_unix AS t FROM pages
                       UNION ALL SELECT fetched_unix FROM robots)")
  pages=$(scalar "$db" "SELECT count(*) FROM pages WHERE status = 200")
  expected=${expected:-$pages}
  if [ "$pages" = 0 ] || [ "$pages" != "$expected" ]; then
    echo "startup: crawl $i stored $pages pages with status 200; the first stored $expected" >&2
    exit 1
  fi
  awk -v i="$i" -v b="$before" -v a="$after" -v f="$first" -v l="$last" -v p="$pages" 'BEGIN {
    up = (f - b) * 1000; down = (a - l) * 1000
    printf "%-5d %12.1f %12.1f %8d\n", i, up, down, p
    print up, down >>"/dev/stderr"
  }' 2>>"$work/figures"
done

# Median and worst of a column of the figures.
stat() {
  sort -g <(awk -v c="$1" '{ print $c }' "$work/figures") |
    awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[NR] }'
}
read -r up_median up_worst < <(stat 1)
read -r down_median down_worst < <(stat 2)
echo
awk -v um="$up_median" -v uw="$up_worst" -v dm="$down_median" -v dw="$down_worst" 'BEGIN {
  printf "%-10s median %.1f ms, worst %.1f ms  (target < 100: %s)\n", "start-up", um, uw, (uw < 100) ? "met" : "MISSED"
  printf "%-10s median %.1f ms, worst %.1f ms  (target < 100: %s)\n", "shutdown", dm, dw, (dw < 100) ? "met" : "MISSED"
}'
