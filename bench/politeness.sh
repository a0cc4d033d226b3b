#!/usr/bin/env bash
# The politeness benchmark of issue 3, run by `make bench-politeness`:
#
#   usage: bench/politeness.sh BUILD_DIR [PAGES] [DELAY] [CONCURRENCY]
#
# Crawls the generated site of bench/run.sh (bench/out/site-PAGES, default
# 2,000 pages on 200 loopback hosts, made with bench_gen_site when missing or
# older than the generator) twice, each time with a fresh database, nginx with
# one worker (bench/nginx.sh) and
#   webcrawl crawl --scope any --per-host 1 --no-robots --quiet --delay D --concurrency C
# 1. "H/d binds": DELAY (default 2 s) and CONCURRENCY (default 64) as given,
#    nginx as is: C/L is huge when static files take a millisecond, so the
#    bound is H/d (200 / 2 s = 100 pages/s, well below what the CPU allows;
#    a delay of 0.5 s would ask for 400 pages/s, which is CPU-bound here).
# 2. "C/L binds": delay BENCH_C_DELAY (0.5 s), concurrency BENCH_C_CONCURRENCY
#    (8), and nginx answering each request BENCH_LATENCY (0.1 s) late
#    (echo_sleep from libnginx-mod-http-echo), so C/L (~80) is the bound and
#    H/d (400) is not. BENCH_LATENCY=0 skips this run.
# From each database's `fetches` table it prints:
#  - warm pages/s: request starts per second between the starts of the 10 %
#    and 90 % quantiles of the crawl's requests, against min(H/d, C/L), with
#    H the hosts that returned pages and L the median `elapsed`; the ratio's
#    target is >= 0.95, unless the CPU is the binding limit;
#  - the smallest gap between consecutive request starts to one host and
#    where (target >= d), and the median gap: the scheduler's real spacing;
#  - the most requests in flight at once to one host (target <= 1) and in all
#    (target <= C), each from started_at (written) to the end of its response
#    (pages.fetched_unix). Also counted over [started_at, started_at +
#    elapsed], an upper bound: `elapsed` runs from fetch(), so it also holds
#    the DNS lookup and connect that came before the write;
#  - the mean number in flight over the warm window, which shows whether C
#    was kept full;
#  - CPU: the crawler's user + sys (GNU time) as cores and ms per page, and how
#    busy the whole machine was, to judge whether the CPU bound instead.
# Exits 1 if a crawl failed, stored fewer pages with status 200 than the site
# has, or broke a politeness limit (gap < d, per-host or global cap exceeded);
# a missed throughput target is reported, not fatal, since it depends on the
# machine. Leaves bench/out/politeness-{1,2}.db for inspection.
#
# Environment: BENCH_PORT (default 8741, the site's port), BENCH_LATENCY,
# BENCH_C_DELAY, BENCH_C_CONCURRENCY (above), BENCH_HOSTS (default 200: the
# site of bench/run.sh; another count gets its own site-PAGES-hHOSTS, as
# `make bench-politeness-1000` uses: 10,000 pages on 1,000 hosts, d = 4 s).
set -euo pipefail

if [ "$#" -lt 1 ] || [ "$#" -gt 4 ]; then
  echo "usage: $0 BUILD_DIR [PAGES] [DELAY] [CONCURRENCY]" >&2
  exit 2
fi
build=$1
pages=${2:-2000}
delay=${3:-2}
concurrency=${4:-64}
port=${BENCH_PORT:-8741}
latency=${BENCH_LATENCY:-0.1}
c_delay=${BENCH_C_DELAY:-0.5}
c_concurrency=${BENCH_C_CONCURRENCY:-8}
per_host=1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/out
hosts_wanted=${BENCH_HOSTS:-200}
# bench/run.sh's site for 200 hosts; its own directory for any other count.
site=$out/site-$pages
[ "$hosts_wanted" = 200 ] || site=$out/site-$pages-h$hosts_wanted
gen="$build/bench/bench_gen_site"
webcrawl="$build/webcrawl"
gnu_time=/usr/bin/time
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
# Our own nginx work directory, so a stale bench/out/nginx does not matter.
export BENCH_NGINX_WORK=$out/politeness-nginx

for bin in "$gen" "$webcrawl"; do
  if [ ! -x "$bin" ]; then
    echo "politeness: $bin is missing; build it first (make bench-politeness builds everything)" >&2
    exit 1
  fi
done
if ! "$gnu_time" -f '' true 2>/dev/null; then
  echo "politeness: GNU time ($gnu_time) is missing; install it with: apt-get install time" >&2
  exit 1
fi
if awk -v l="$latency" 'BEGIN { exit !(l > 0) }' && [ ! -f "$echo_module" ]; then
  echo "politeness: $echo_module is missing; install it with: apt-get install libnginx-mod-http-echo" >&2
  exit 1
fi
mkdir -p "$out"

nginx_started=0
cleanup() {
  if [ "$nginx_started" = 1 ]; then
    bash "$here/nginx.sh" stop || true
  fi
}
trap cleanup EXIT
# Turn Ctrl-C into a normal exit so the EXIT trap stops nginx.
trap 'exit 130' INT TERM

# A value from the site's manifest ("key value" lines).
manifest() {
  awk -v k="$1" '$1 == k { print $2 }' "$site/manifest" 2>/dev/null
}

# The rows of a query of database $1, as CSV without the header.
rows() {
  "$webcrawl" query --db "$1" --format csv "$2" | sed 1d
}

# CPU ticks the whole machine has spent busy (all CPUs, /proc/stat).
machine_busy_ticks() {
  local _cpu user nice system _idle _iowait irq softirq steal
  read -r _cpu user nice system _idle _iowait irq softirq steal _ </proc/stat
  echo $((user + nice + system + irq + softirq + steal))
}

# Starts nginx on the site; with a latency $1 > 0 every response is held back
# that long. bench/nginx.sh writes the configuration (one server block per
# host) but has no hook for per-server directives, so for a latency its
# configuration is patched and nginx restarted on it the way nginx.sh starts it;
# nginx.sh stop still stops it through the pid file. Called where errexit is
# off (under `run_config || ...`), so every step checks its own status.
start_nginx() {
  nginx_started=1
  bash "$here/nginx.sh" start "$site" "$port" "$hosts" >/dev/null || return 1
  awk -v l="$1" 'BEGIN { exit !(l > 0) }' || return 0
  bash "$here/nginx.sh" stop || return 1
  local conf=$BENCH_NGINX_WORK/nginx.conf
  # echo_sleep holds the request in nginx's timer (no worker is blocked), then
  # echo_exec hands it to a named location whose static handler sends the file.
  awk -v module="$echo_module" -v l="$1" '
    NR == 1 { print "load_module " module ";" }
    { print }
    /^    root .*;$/ {
      print "    location / { echo_sleep " l "; echo_exec @file; }"
      print "    location @file { }"
    }' "$conf" >"$conf.tmp"
  mv "$conf.tmp" "$conf" || return 1
  if [ "$(grep -c 'echo_sleep' "$conf")" != "$hosts" ]; then
    echo "politeness: could not add the latency to every server block of $conf" >&2
    return 1
  fi
  : >"$BENCH_NGINX_WORK/error.log"
  "$nginx_bin" -p "$BENCH_NGINX_WORK" -c "$conf" -e "$BENCH_NGINX_WORK/error.log" || {
    echo "politeness: nginx did not start with a latency; see $BENCH_NGINX_WORK/error.log" >&2
    return 1
  }
}

# Runs one configuration: $1 number, $2 title, $3 delay, $4 concurrency,
# $5 server latency. Prints its figures; returns 1 on a failure (see the top).
run_config() {
  local n=$1 title=$2 d=$3 c=$4 lat=$5
  local db=$out/politeness-$n.db
  echo
  echo "== $n. $title: $hosts hosts, delay $d s, per-host $per_host, concurrency $c, server latency +$lat s"
  rm -f "$db" "$db-wal" "$db-shm"
  start_nginx "$lat" || return 1
  local busy status=0
  busy=$(machine_busy_ticks)
  "$gnu_time" -v -o "$out/politeness-$n.time" \
    "$webcrawl" crawl --db "$db" --seeds "$site/seeds.txt" --scope any --delay "$d" \
    --per-host "$per_host" --concurrency "$c" --no-robots --quiet 2>"$out/politeness-$n.stderr" ||
    status=$?
  busy=$(($(machine_busy_ticks) - busy))
  bash "$here/nginx.sh" stop || return 1
  nginx_started=0
  if [ "$status" != 0 ]; then
    echo "politeness: the crawl exited with status $status:" >&2
    cat "$out/politeness-$n.stderr" >&2
    return 1
  fi

  local wall user sys
  read -r wall user sys < <(awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
    /User time \(seconds\)/ { u = $2 }
    /System time \(seconds\)/ { s = $2 }
    END { print w, u, s }' "$out/politeness-$n.time")

  # One row per request that was written: host, start s, `elapsed` e, and its
  # end x. `elapsed` counts from fetch(), so before the write it also holds DNS
  # and connect: s + e overshoots the end. A page's fetched_unix is when its
  # response was complete; where it is there (one attempt), x is that.
  local base="f AS MATERIALIZED (
      SELECT f.host AS host, f.started_unix AS s, f.elapsed AS e,
             CASE WHEN p.fetched_unix >= f.started_unix THEN min(f.started_unix + f.elapsed, p.fetched_unix)
                  ELSE f.started_unix + f.elapsed END AS x
      FROM fetches f LEFT JOIN pages p ON p.url = f.url WHERE f.started_unix IS NOT NULL),
    n AS (SELECT count(*) AS n FROM f)"
  local ok requests errors h
  IFS=, read -r ok requests errors h <<<"$(rows "$db" "WITH $base SELECT
      (SELECT count(*) FROM pages WHERE status = 200) AS ok,
      (SELECT n FROM n) AS requests,
      (SELECT count(*) FROM fetches WHERE error IS NOT NULL OR status IS NOT 200) AS errors,
      (SELECT count(DISTINCT host) FROM fetches WHERE status BETWEEN 200 AND 299) AS h")"
  if [ "${requests:-0}" -lt 2 ]; then
    echo "politeness: only ${requests:-0} requests were written; nothing to measure" >&2
    return 1
  fi
  # The warm window: from the start of the request at the 10 % quantile to
  # that of the one at 90 %. Mean in flight over it: the time requests spent
  # inside it (write to end) over its length.
  local t0 t1 warm_n mean_inflight first last
  IFS=, read -r t0 t1 warm_n mean_inflight first last <<<"$(rows "$db" "WITH $base,
      r AS (SELECT s, x, row_number() OVER (ORDER BY s) AS i FROM f),
      q AS (SELECT max(1, CAST(round(0.1 * n) AS INTEGER)) AS i0,
                   max(2, CAST(round(0.9 * n) AS INTEGER)) AS i1 FROM n),
      w AS (SELECT (SELECT s FROM r WHERE i = i0) AS t0, (SELECT s FROM r WHERE i = i1) AS t1,
                   i1 - i0 AS k FROM q)
    SELECT printf('%.6f', t0) AS t0, printf('%.6f', t1) AS t1, k,
           (SELECT sum(max(0, min(x, t1) - max(s, t0))) FROM r) / (t1 - t0) AS inflight,
           printf('%.6f', (SELECT min(s) FROM f)) AS first, printf('%.6f', (SELECT max(x) FROM f)) AS last
    FROM w")"
  local median_l mean_l
  IFS=, read -r median_l mean_l <<<"$(rows "$db" "WITH $base
    SELECT (SELECT avg(e) FROM (SELECT e FROM f ORDER BY e
              LIMIT 2 - (SELECT n FROM n) % 2 OFFSET ((SELECT n FROM n) - 1) / 2)) AS median,
           (SELECT avg(e) FROM f) AS mean")"
  # Gaps between consecutive starts to one host: the smallest, where, and the
  # median (the scheduler's actual spacing when H/d binds).
  local gap gap_host median_gap
  IFS=, read -r gap gap_host median_gap <<<"$(rows "$db" "WITH $base,
      g AS (SELECT host, s - lag(s) OVER (PARTITION BY host ORDER BY s) AS gap FROM f),
      gg AS (SELECT host, gap FROM g WHERE gap IS NOT NULL)
    SELECT (SELECT gap FROM gg ORDER BY gap LIMIT 1) AS gap, (SELECT host FROM gg ORDER BY gap LIMIT 1) AS host,
           (SELECT gap FROM gg ORDER BY gap LIMIT 1 OFFSET (SELECT count(*) FROM gg) / 2) AS median")"
  # In flight: +1 at a start, -1 at an end (ends first at equal times); with
  # the end x, and with s + e, which counts an upper bound.
  local per_host_max overall_max per_host_upper overall_upper
  IFS=, read -r per_host_max overall_max per_host_upper overall_upper <<<"$(rows "$db" "WITH $base,
      ev AS (SELECT host, s AS t, 1 AS step, 0 AS upper FROM f UNION ALL SELECT host, x, -1, 0 FROM f
             UNION ALL SELECT host, s, 1, 1 FROM f UNION ALL SELECT host, s + e, -1, 1 FROM f),
      run AS (SELECT upper,
        sum(step) OVER (PARTITION BY upper, host ORDER BY t, step ROWS UNBOUNDED PRECEDING) AS ph,
        sum(step) OVER (PARTITION BY upper ORDER BY t, step ROWS UNBOUNDED PRECEDING) AS oa FROM ev)
    SELECT max(ph) FILTER (WHERE upper = 0) AS ph, max(oa) FILTER (WHERE upper = 0) AS oa,
           max(ph) FILTER (WHERE upper = 1) AS ph_upper, max(oa) FILTER (WHERE upper = 1) AS oa_upper
    FROM run")"

  awk -v site_pages="$site_pages" -v ok="$ok" -v requests="$requests" -v errors="$errors" -v h="$h" \
      -v d="$d" -v c="$c" -v per_host="$per_host" -v t0="$t0" -v t1="$t1" -v warm_n="$warm_n" \
      -v inflight="${mean_inflight:-0}" -v first="$first" -v last="$last" -v median_l="$median_l" \
      -v mean_l="$mean_l" -v gap="${gap:-0}" -v gap_host="${gap_host:-none}" -v median_gap="${median_gap:-0}" \
      -v ph="$per_host_max" -v oa="$overall_max" -v ph_upper="$per_host_upper" -v oa_upper="$overall_upper" \
      -v wall="$wall" -v user="$user" -v sys="$sys" \
      -v busy="$busy" -v tck="$(getconf CLK_TCK)" -v cores="$(nproc)" '
    function verdict(ok) { return ok ? "met" : "MISSED" }
    BEGIN {
      warm = (t1 > t0) ? warm_n / (t1 - t0) : 0
      hd = (d > 0) ? h / d : -1
      cl = (median_l > 0) ? c / median_l : -1
      bound = (hd < 0) ? cl : (cl < 0 || hd < cl) ? hd : cl
      ratio = (bound > 0) ? warm / bound : 0
      cpu = user + sys
      printf "%-24s %d of %d  (requests %d, not 200: %d)\n", "pages (status 200)", ok, site_pages, requests, errors
      printf "%-24s %.1f  (%d requests in %.2f s between the 10%% and 90%% starts)\n", "warm pages/s", warm, warm_n, t1 - t0
      printf "%-24s %.1f  (H/d = %d / %g = %s; C/L = %d / %.4f = %.1f; L = median elapsed)\n",
             "bound min(H/d, C/L)", bound, h, d, (hd < 0) ? "inf" : sprintf("%.1f", hd), c, median_l, cl
      printf "%-24s %.3f  (target >= 0.95: %s)\n", "ratio", ratio, verdict(ratio >= 0.95)
      printf "%-24s %.2f s  (first start to last end)\n", "crawl", last - first
      printf "%-24s %.4f s  (mean %.4f s; from fetch(): DNS and connect included)\n", "median elapsed L", median_l, mean_l
      printf "%-24s %.2f of C = %d  (write to response end, warm window)\n", "mean in flight", inflight, c
      printf "%-24s %.4f s  (H / it = %.1f pages/s)\n", "median per-host gap", median_gap,
             (median_gap > 0) ? h / median_gap : 0
      printf "%-24s %.4f s on %s  (target >= %g: %s)\n", "min per-host gap", gap, gap_host, d, verdict(gap >= d)
      printf "%-24s %d  (target <= %d: %s; counting from fetch(), an upper bound: %d)\n", "max in flight per host",
             ph, per_host, verdict(ph <= per_host), ph_upper
      printf "%-24s %d  (target <= %d: %s; counting from fetch(), an upper bound: %d)\n", "max in flight overall",
             oa, c, verdict(oa <= c), oa_upper
      printf "%-24s %.2f s (user %.2f + sys %.2f) in %.2f s wall = %.2f cores, %.2f ms/page\n",
             "crawler CPU", cpu, user, sys, wall, (wall > 0) ? cpu / wall : 0, (ok > 0) ? cpu * 1000 / ok : 0
      m = (wall > 0) ? busy / tck / wall : 0
      printf "%-24s %.2f of %d cores busy during the crawl, all processes%s\n", "machine", m, cores,
             (m > 0.9 * cores) ? " (saturated: the CPU may bind)" : ""
    }'

  local failed=0
  if [ "$ok" -lt "$site_pages" ]; then
    echo "politeness: FAIL: the crawl stored $ok pages with status 200; the site has $site_pages" >&2
    failed=1
  fi
  if awk -v g="${gap:-0}" -v d="$d" -v ph="$per_host_max" -v p="$per_host" -v oa="$overall_max" -v c="$c" \
      'BEGIN { exit !(g < d || ph > p || oa > c) }'; then
    echo "politeness: FAIL: a politeness limit was broken (see MISSED above)" >&2
    failed=1
  fi
  return "$failed"
}

# --- the site (as bench/run.sh makes it) ----------------------------------------
if [ "$(manifest pages)" != "$pages" ] || [ "$(manifest port)" != "$port" ] ||
   [ "$(manifest hosts)" != "$hosts_wanted" ] || [ "$gen" -nt "$site/manifest" ]; then
  echo "== generating $pages pages on $hosts_wanted hosts into $site"
  rm -rf "$site" "$site.tmp"
  "$gen" --out "$site.tmp" --port "$port" --pages "$pages" --hosts "$hosts_wanted"
  mv "$site.tmp" "$site"
else
  echo "== site: $site (cached)"
fi
site_pages=$(wc -l <"$site/urls.txt")
hosts=$(manifest hosts)

failed=0
run_config 1 "H/d binds" "$delay" "$concurrency" 0 || failed=1
if awk -v l="$latency" 'BEGIN { exit !(l > 0) }'; then
  run_config 2 "C/L binds" "$c_delay" "$c_concurrency" "$latency" || failed=1
fi
exit "$failed"
