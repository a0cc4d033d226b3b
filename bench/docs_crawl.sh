#!/usr/bin/env bash
# A repeatable benchmark: serves Debian's Python 3.11 documentation
# (python3.11-doc, about 530 HTML files) on loopback with webcrawl-serve,
# crawls it twice into fresh databases and checks what the crawl stored
# against the files on disk and the server's access log. Run by
# `make bench-docs`, which installs the packages this script only checks for.
#
#   usage: bench/docs_crawl.sh BUILD_DIR
#
# Run 1 (throughput): --delay 0 --concurrency 16 --per-host 16.
# Run 2 (keep-alive):  --delay 0 --concurrency 1 --per-host 1, one connection
#                      reused for the whole site.
# Exits 1 if a check fails: a target requested twice, a page linked from
# index.html but not stored, a page stored with an error, or a crawl that
# failed. The work directory (databases, logs) is then kept for inspection.
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$1
doc_root=/usr/share/doc/python3.11/html
serve="$build/tests/webcrawl-serve"
webcrawl="$build/webcrawl"
gnu_time=/usr/bin/time

if [ ! -f "$doc_root/index.html" ]; then
  echo "bench: $doc_root is missing; install it with: apt-get install python3.11-doc" >&2
  exit 1
fi
for bin in "$serve" "$webcrawl"; do
  if [ ! -x "$bin" ]; then
    echo "bench: $bin is missing; build first (make build)" >&2
    exit 1
  fi
done
# Peak RSS comes from GNU time; bash's `time` keyword cannot report it.
if ! "$gnu_time" -f '' true 2>/dev/null; then
  echo "bench: GNU time ($gnu_time) is missing; install it with: apt-get install time" >&2
  exit 1
fi
if ! command -v python3 >/dev/null; then
  echo "bench: python3 is missing (it walks the site's links); install it with: apt-get install python3" >&2
  exit 1
fi

# shellcheck source=../tests/tools/start_serve.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/tools/start_serve.sh"
work=$(mktemp -d)
keep_work=0
cleanup() {
  stop_server
  if [ "$keep_work" = 1 ]; then
    echo "bench: kept $work for inspection" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
# Turn Ctrl-C into a normal exit so the EXIT trap stops the server.
trap 'exit 130' INT TERM

# Starts webcrawl-serve on a free port, logging requests to $1; sets
# server_pid and port.
start_server() {
  start_serve bench "$work" "$serve" --root "$doc_root" --bind 127.0.0.1 --port 0 --access-log "$1"
}

# Runs one crawl of the site under GNU time. $1 names the run; the rest are
# crawl options. Leaves $work/$1.db, $1.access (complete: the server is
# stopped), $1.stderr, and sets wall (seconds) and rss_kb.
crawl() {
  local name=$1
  shift
  start_server "$work/$name.access"
  local status=0
  "$gnu_time" -f '%e %M' -o "$work/$name.time" \
    "$webcrawl" crawl --db "$work/$name.db" "$@" "http://127.0.0.1:$port/index.html" \
    2>"$work/$name.stderr" || status=$?
  stop_server
  if [ "$status" != 0 ]; then
    keep_work=1
    # GNU time puts "Command terminated by signal N" above its figures.
    echo "bench: crawl '$name' failed (status $status):" >&2
    cat "$work/$name.stderr" "$work/$name.time" >&2
    exit 1
  fi
  read -r wall rss_kb < <(tail -n 1 "$work/$name.time")
}

# One value from a single-column query.
scalar() {
  "$webcrawl" query --db "$1" --format csv "$2" | sed -n 2p
}

# Targets the server saw more than once ($2 of "METHOD TARGET STATUS ...").
duplicate_targets() {
  awk '{print $2}' "$1" | sort | uniq -d
}

# Prints every same-origin target reachable from /index.html (bench/reachable.py).
reachable_targets() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/reachable.py" "$doc_root"
}

# Prints up to five lines of a list, then how many more there were.
show_some() {
  local label=$1 file=$2
  local count
  count=$(wc -l <"$file")
  [ "$count" = 0 ] && return
  echo "  $label ($count):"
  head -n 5 "$file" | sed 's/^/    /'
  [ "$count" -gt 5 ] && echo "    ... and $((count - 5)) more"
  return 0
}

# Prints pages/s for $1 pages over the last crawl's wall time, and its peak RSS.
report_speed() {
  awk -v p="$1" -v t="$wall" -v k="$rss_kb" 'BEGIN {
    printf "pages/s:               %.1f\n", (t > 0) ? p / t : 0
    printf "peak RSS:              %.1f MB\n", k / 1024
  }'
}

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

echo "== site: $doc_root"
(cd "$doc_root" && find . -name '*.html' | sed 's|^\.||' | sort) >"$work/html_files"
html_files=$(wc -l <"$work/html_files")
reachable_targets | sort >"$work/reachable"
sed 's|?.*||' "$work/reachable" | sort -u | comm -23 "$work/html_files" - >"$work/unlinked"
reachable_html=$((html_files - $(wc -l <"$work/unlinked")))
echo "html files under the root:           $html_files"
echo "html files reachable from index.html: $reachable_html"
echo "targets linked from the site (any):   $(wc -l <"$work/reachable")"
show_some "html files no link leads to" "$work/unlinked"

echo
echo "== run 1: --delay 0 --concurrency 16 --per-host 16 --no-robots --quiet"
crawl fast --delay 0 --concurrency 16 --per-host 16 --no-robots --quiet
db="$work/fast.db"
log="$work/fast.access"
origin="http://127.0.0.1:$port"
pages=$(scalar "$db" "SELECT count(*) FROM pages")
pages_ok=$(scalar "$db" "SELECT count(*) FROM pages WHERE status = 200")
errors=$(scalar "$db" "SELECT count(*) FROM pages WHERE error IS NOT NULL")
untitled=$(scalar "$db" "SELECT count(*) FROM pages WHERE title IS NULL OR title = ''")
links=$(scalar "$db" "SELECT count(*) FROM links")
requests=$(wc -l <"$log")
targets=$(awk '{print $2}' "$log" | sort -u | wc -l)
connections=$(awk '{print $4}' "$log" | sort -u | wc -l)
duplicate_targets "$log" >"$work/fast.duplicates"
duplicates=$(wc -l <"$work/fast.duplicates")
"$webcrawl" query --db "$db" --format csv "SELECT url FROM pages" | sed -n '2,$p' |
  sed "s|^$origin||" | sort >"$work/stored"
comm -23 "$work/reachable" "$work/stored" >"$work/reachable_not_stored"
comm -13 "$work/reachable" "$work/stored" >"$work/stored_not_reachable"
awk '$3 != 200 {print $3, $2}' "$log" >"$work/fast.not_ok"

echo "pages stored:          $pages ($pages_ok with status 200)"
echo "wall time:             ${wall} s"
report_speed "$pages"
echo "requests served:       $requests over $connections connections"
echo "distinct targets:      $targets"
echo "targets requested >1x: $duplicates"
echo "html files reachable:  $reachable_html  vs  pages stored: $pages"
echo "pages with an error:   $errors"
echo "pages with no title:   $untitled"
echo "links stored:          $links"
show_some "responses other than 200 (status target)" "$work/fast.not_ok"
show_some "reachable but not stored" "$work/reachable_not_stored"
show_some "stored but not reachable" "$work/stored_not_reachable"
show_some "requested more than once" "$work/fast.duplicates"
if [ "$errors" != 0 ]; then
  "$webcrawl" query --db "$db" "SELECT error, count(*) FROM pages GROUP BY error"
fi
[ "$duplicates" = 0 ] || fail "$duplicates targets were requested more than once"
[ -s "$work/reachable_not_stored" ] && fail "$(wc -l <"$work/reachable_not_stored") reachable targets were not stored"
[ "$errors" = 0 ] || fail "$errors pages were stored with an error"

echo
echo "== run 2: --delay 0 --concurrency 1 --per-host 1 --no-robots (keep-alive)"
crawl polite --delay 0 --concurrency 1 --per-host 1 --no-robots
summary=$(grep '^crawled ' "$work/polite.stderr" | tail -n 1 || true)
pages2=$(scalar "$work/polite.db" "SELECT count(*) FROM pages")
duplicate_targets "$work/polite.access" >"$work/polite.duplicates"
duplicates2=$(wc -l <"$work/polite.duplicates")
per_connection=$(sed -n 's/.* (\([0-9.]*\) per connection).*/\1/p' <<<"$summary")
echo "crawler summary:       ${summary:-(none on stderr)}"
echo "pages stored:          $pages2"
echo "wall time:             ${wall} s"
report_speed "$pages2"
echo "requests/connection:   ${per_connection:-unknown} (server saw $(wc -l <"$work/polite.access") requests over $(awk '{print $4}' "$work/polite.access" | sort -u | wc -l) connections)"
echo "targets requested >1x: $duplicates2"
show_some "requested more than once" "$work/polite.duplicates"
[ "$duplicates2" = 0 ] || fail "run 2: $duplicates2 targets were requested more than once"
[ "$pages2" = "$pages" ] || fail "run 2 stored $pages2 pages, run 1 stored $pages"

echo
if [ "$failures" != 0 ]; then
  keep_work=1
  echo "bench: $failures checks failed"
  exit 1
fi
echo "bench: all checks passed"
