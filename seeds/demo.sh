#!/usr/bin/env bash
# Serves seeds/demo-site on 127.0.0.1:PORT, crawls it into ./demo.db, then
# shows what the crawl found. Run by `make demo`.
#
#   usage: seeds/demo.sh BUILD_DIR PORT
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 BUILD_DIR PORT" >&2
  exit 2
fi
build=$1
port=$2
site="$(cd "$(dirname "$0")" && pwd)/demo-site"
serve="$build/tests/webcrawl-serve"
webcrawl="$build/webcrawl"
for bin in "$serve" "$webcrawl"; do
  if [ ! -x "$bin" ]; then
    echo "demo: $bin is missing; build first (make build)" >&2
    exit 1
  fi
done

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# Turn Ctrl-C into a normal exit so the EXIT trap stops the server.
trap 'exit 130' INT TERM

"$serve" --root "$site" --bind 127.0.0.1 --port "$port" --port-file "$work/port" &
server_pid=$!

# The server writes the port file only once it is listening.
for _ in $(seq 1 100); do
  [ -s "$work/port" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    server_pid=""
    echo "demo: webcrawl-serve exited; is port $port already in use?" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -s "$work/port" ]; then
  echo "demo: webcrawl-serve did not start listening within 10 s" >&2
  exit 1
fi

seed="http://127.0.0.1:$port/"
rm -f demo.db demo.db-wal demo.db-shm

echo "== webcrawl crawl $seed"
"$webcrawl" crawl --db demo.db --delay 0.05 "$seed"

echo
echo "== webcrawl stats"
"$webcrawl" stats --db demo.db

echo
echo "== webcrawl search \"robots\""
"$webcrawl" search --db demo.db "robots"

echo
echo "== the five most linked-to URLs"
"$webcrawl" query --db demo.db \
  "SELECT dst_url, COUNT(*) AS inlinks FROM links GROUP BY dst_url ORDER BY inlinks DESC LIMIT 5"

echo
echo "demo.db is kept; explore it with: $webcrawl query --db demo.db \"SELECT url, status FROM pages\""
