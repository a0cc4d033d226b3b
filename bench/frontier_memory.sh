#!/usr/bin/env bash
# Frontier memory benchmark (issue 4): a crawl whose frontier holds 1,000,000
# queued URLs over 10,000 hosts must stay under 150 MB of RSS, and its RSS must
# not grow with the number of pages stored.
#
#   bench/frontier_memory.sh BUILD_DIR [URLS] [HOSTS] [PAGES]
#
# The hosts are loopback addresses 127.0.X.Y on a port where nothing listens,
# so every fetch fails at once with "connection refused" and is stored as a
# failed page: the crawl exercises the frontier, scheduler and writer at full
# speed and sends nothing beyond this machine.
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR [URLS] [HOSTS] [PAGES]}
urls=${2:-1000000}
hosts=${3:-10000}
pages=${4:-60000}
port=9  # discard: nothing listens on loopback here
webcrawl="$build/webcrawl"
maker="$build/bench/bench_make_frontier"
for bin in "$webcrawl" "$maker"; do
  [ -x "$bin" ] || { echo "frontier_memory: $bin is missing (make bench-memory builds it)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$work/frontier.db"

"$maker" "$db" "$urls" "$hosts" "$port"
echo "database: $(du -h "$db" | cut -f1)"

"$webcrawl" crawl --db "$db" --delay 0 --concurrency 64 --no-robots --retries 0 \
  --timeout 5 --max-pages "$pages" --quiet &
pid=$!
peak=0
samples="$work/rss.txt"
: > "$samples"
start=$(date +%s%3N)
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
  echo "$(( $(date +%s%3N) - start )) ${rss:-0}" >> "$samples"
  sleep 0.5
done
wait "$pid"
elapsed_ms=$(( $(date +%s%3N) - start ))
elapsed="$((elapsed_ms / 1000)).$(( (elapsed_ms % 1000) / 100 ))"

stored=$("$webcrawl" query --db "$db" --format csv "SELECT count(*) FROM documents" | tail -1)
queued=$("$webcrawl" query --db "$db" --format csv "SELECT count(*) FROM urls WHERE state = 'queued'" | tail -1)

echo
echo "frontier: $urls URLs over $hosts hosts; crawled (all refused) $stored pages in ${elapsed}s; $queued still queued"
echo "peak RSS: $((peak / 1024)) MB (target: under 150 MB)"
echo "RSS over the crawl (seconds, MB):"
awk 'NR % 4 == 1 && $2 > 0 { printf "  %6.1f s  %6.1f MB\n", $1 / 1000, $2 / 1024 }' "$samples"
# Flatness: RSS in the last quarter of the run against the second quarter.
awk '$2 > 0 { t[NR] = $2 } END {
  n = length(t); if (n < 8) exit;
  a = 0; b = 0; q = int(n / 4);
  for (i = q + 1; i <= 2 * q; i++) a += t[i];
  for (i = 3 * q + 1; i <= 4 * q; i++) b += t[i];
  printf "RSS growth from the second to the last quarter of the crawl: %+.1f MB\n", (b - a) / q / 1024 }' "$samples"
if [ "$((peak / 1024))" -ge 150 ]; then
  echo "frontier_memory: peak RSS over 150 MB" >&2
  exit 1
fi
