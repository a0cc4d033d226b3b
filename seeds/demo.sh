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

# shellcheck source=../tests/tools/start_serve.sh
source "$(dirname "$0")/../tests/tools/start_serve.sh"
work=$(mktemp -d)
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
# Turn Ctrl-C into a normal exit so the EXIT trap stops the server.
trap 'exit 130' INT TERM

start_serve demo "$work" "$serve" --root "$site" --bind 127.0.0.1 --port "$port"

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
