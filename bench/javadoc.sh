#!/usr/bin/env bash
# Memory on real pages (issue 11): serves the Java 17 API documentation
# (Debian's openjdk-17-doc: about 10,000 pages, some of 3-6 MB) with nginx on
# loopback and crawls it from index.html with --delay 0 --per-host 4. Prints
# the pages stored against the pages reachable on disk, pages/s, peak RSS and
# the URLs requested more than once. Run by `make bench-javadoc`, which
# installs the packages this script only checks for.
#
#   usage: bench/javadoc.sh BUILD_DIR
#
# Exits 1 if the crawl fails, a URL is requested twice, a reachable page is
# not stored, or peak RSS reaches 100 MB. The work directory is then kept.
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
doc_root=${JAVADOC_ROOT:-/usr/share/doc/openjdk-17-jre-headless/api}
webcrawl="$build/webcrawl"
gnu_time=/usr/bin/time
rss_limit_mb=100

if [ ! -f "$doc_root/index.html" ]; then
  echo "bench: $doc_root is missing; install it with: apt-get install openjdk-17-doc" >&2
  exit 1
fi
[ -x "$webcrawl" ] || { echo "bench: $webcrawl is missing; build first (make build)" >&2; exit 1; }
"$gnu_time" -f '' true 2>/dev/null || { echo "bench: GNU time is missing: apt-get install time" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench: python3 is missing: apt-get install python3" >&2; exit 1; }

work=$(mktemp -d)
keep_work=0
export BENCH_NGINX_WORK=$work/nginx
cleanup() {
  bash "$here/nginx.sh" stop || true
  if [ "$keep_work" = 1 ]; then echo "bench: kept $work for inspection" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nginx.sh serves DIR/h000 as host 0, on 127.0.1.1.
mkdir -p "$work/site"
ln -s "$doc_root" "$work/site/h000"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.1.1", 0)); print(s.getsockname()[1])')
bash "$here/nginx.sh" start "$work/site" "$port" 1 >/dev/null

scalar() { "$webcrawl" query --db "$1" --format csv "$2" | sed -n 2p; }

echo "== site: $doc_root"
html_files=$(find "$doc_root" -name '*.html' | wc -l)
# Pages a link leads to that exist on disk (the docs have a few broken links).
python3 "$here/reachable.py" "$doc_root" | grep -E '\.html?$' | sort -u |
  while read -r target; do [ -f "$doc_root$target" ] && echo "$target"; done >"$work/reachable"
largest=$(find "$doc_root" -name '*.html' -printf '%s\n' | sort -n | tail -1)
echo "html files on disk:            $html_files"
echo "html pages reachable:          $(wc -l <"$work/reachable") (from index.html)"
echo "largest page:                  $(awk -v b="$largest" 'BEGIN { printf "%.1f MB", b / 1048576 }')"

echo
echo "== crawl: --delay 0 --per-host 4 --quiet"
db=$work/javadoc.db
status=0
"$gnu_time" -f '%e %M' -o "$work/time" "$webcrawl" crawl --db "$db" --delay 0 --per-host 4 --quiet \
  "http://127.0.1.1:$port/index.html" 2>"$work/stderr" || status=$?
if [ "$status" != 0 ]; then
  keep_work=1
  echo "bench: the crawl failed (status $status):" >&2
  cat "$work/stderr" "$work/time" >&2
  exit 1
fi
read -r wall rss_kb < <(tail -n 1 "$work/time")
origin="http://127.0.1.1:$port"
pages=$(scalar "$db" "SELECT count(*) FROM pages WHERE status = 200 AND content_type = 'text/html'")
"$webcrawl" query --db "$db" --format csv "SELECT url FROM pages WHERE status = 200" | sed -n '2,$p' |
  sed "s|^$origin||; s|?.*||" | sort -u >"$work/stored"
comm -23 "$work/reachable" "$work/stored" >"$work/missing"
"$webcrawl" query --db "$db" --format csv \
  "SELECT url FROM fetches WHERE kind = 'page' GROUP BY url HAVING count(*) > 1" | sed -n '2,$p' >"$work/twice"
echo "html pages stored:             $pages"
echo "reachable, not stored:         $(wc -l <"$work/missing")"
echo "URLs requested more than once: $(wc -l <"$work/twice")"
awk -v p="$pages" -v t="$wall" -v k="$rss_kb" 'BEGIN {
  printf "wall time:                     %.1f s\n", t
  printf "pages/s:                       %.1f\n", (t > 0) ? p / t : 0
  printf "peak RSS:                      %.1f MB\n", k / 1024
}'
head -n 5 "$work/missing" | sed 's/^/  missing: /'
head -n 5 "$work/twice" | sed 's/^/  twice: /'

failures=0
[ -s "$work/missing" ] && { echo "FAIL: reachable pages were not stored"; failures=$((failures + 1)); }
[ -s "$work/twice" ] && { echo "FAIL: URLs were requested more than once"; failures=$((failures + 1)); }
if [ "$rss_kb" -ge $((rss_limit_mb * 1024)) ]; then
  echo "FAIL: peak RSS reached $rss_limit_mb MB"
  failures=$((failures + 1))
fi
if [ "$failures" != 0 ]; then
  keep_work=1
  exit 1
fi
echo "bench: all checks passed"
