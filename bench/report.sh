#!/usr/bin/env bash
# The report benchmark (issue 16): times `webcrawl report` on a database of
# PAGES finished pages over HOSTS hosts with LINKS links per page, made by
# bench_make_report_db (kept in bench/out and reused while its size matches),
# and, when `make bench` has left one, on bench/out/crawl.db, a real crawl.
#
#   bench/report.sh BUILD_DIR [PAGES] [HOSTS] [LINKS]
#
# Prints each database's pages, size, the report's wall time (best of three,
# the page cache warm after the first) and its peak RSS.
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR [PAGES] [HOSTS] [LINKS]}
pages=${2:-1000000}
hosts=${3:-1000}
links=${4:-20}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/out
webcrawl="$build/webcrawl"
maker="$build/bench/bench_make_report_db"
for bin in "$webcrawl" "$maker"; do
  [ -x "$bin" ] || { echo "report: $bin is missing (make bench-report builds it)" >&2; exit 1; }
done
mkdir -p "$out"
db="$out/report-$pages-$hosts-$links.db"
if [ ! -s "$db" ]; then
  rm -f "$db" "$db-wal" "$db-shm"
  "$maker" "$db" "$pages" "$hosts" "$links"
fi

time_report() {
  local name=$1 file=$2 best="" peak=0
  local stored
  stored=$("$webcrawl" query --db "$file" --format csv "SELECT count(*) FROM documents" | tail -1)
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %M' -o "$out/report.time" "$webcrawl" report --db "$file" --output "$out/report.html" >/dev/null
    read -r seconds kb < "$out/report.time"
    if [ -z "$best" ] || awk -v a="$seconds" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$seconds; fi
    [ "$kb" -gt "$peak" ] && peak=$kb
  done
  printf '%s: %s pages, %s on disk: report in %s s (best of 3), peak RSS %d MB, page %s\n' \
    "$name" "$stored" "$(du -h "$file" | cut -f1)" "$best" "$((peak / 1024))" "$(du -h "$out/report.html" | cut -f1)"
}

time_report "generated" "$db"
if [ -s "$out/crawl.db" ]; then
  time_report "make bench crawl" "$out/crawl.db"
fi
