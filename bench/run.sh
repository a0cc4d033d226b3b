#!/usr/bin/env bash
# The throughput benchmark of issue 6, run by `make bench` (20,000 pages) and
# `make bench-quick` (2,000):
#
#   usage: bench/run.sh BUILD_DIR [PAGES]
#
# 1. Generates the site with bench_gen_site into bench/out/site-PAGES (kept
#    and reused while its manifest matches PAGES and the port and is newer
#    than the generator).
# 2. Measures the ceiling with bench_ceiling: the same parse, extract and
#    store work with no network, on all cores.
# 3. Serves the site with nginx (bench/nginx.sh: one worker, 200 loopback
#    hosts) and crawls it with webcrawl under GNU time:
#      --delay 0 --per-host 4 --concurrency 64 --no-robots --quiet --scope any
# 4. Measures the ceiling again, so a machine that got busier or quieter during
#    the crawl moves both sides of the ratio; the ceiling is the mean of the two.
# Prints pages, crawl pages/s, ceiling pages/s, their ratio (target >= 0.85),
# CPU ms per page (crawler process, split into its loop thread, parse threads,
# writer and checkpointer; ceiling parse and store stages; nginx) and the
# crawler's peak RSS (target < 100 MB). On a shared machine the wall-clock ratio moves with what else
# runs, so it also prints the cores other processes used during each phase,
# a note when that differed, and the ratio of CPU per page, which does not
# depend on it. Leaves bench/out/crawl.db for inspection. Exits 1 if the
# crawl failed, or stored fewer pages with status 200 than the site has;
# missed targets are reported, not fatal, since the numbers depend on the
# machine.
#
# Environment: BENCH_PORT (default 8741), BENCH_CEILING_RUNS (default 2; 0
# crawls only, for comparing builds in turns),
# BENCH_WARC=1 (the crawl also archives everything with --warc bench/out/warc,
# to measure what WARC output costs).
set -euo pipefail

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
  echo "usage: $0 BUILD_DIR [PAGES]" >&2
  exit 2
fi
build=$1
pages=${2:-20000}
port=${BENCH_PORT:-8741}
ceiling_runs=${BENCH_CEILING_RUNS:-2}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$here/out
site=$out/site-$pages
gen="$build/bench/bench_gen_site"
ceiling="$build/bench/bench_ceiling"
webcrawl="$build/webcrawl"
gnu_time=/usr/bin/time

for bin in "$gen" "$ceiling" "$webcrawl"; do
  if [ ! -x "$bin" ]; then
    echo "bench: $bin is missing; build it first (make bench builds everything)" >&2
    exit 1
  fi
done
if ! "$gnu_time" -f '' true 2>/dev/null; then
  echo "bench: GNU time ($gnu_time) is missing; install it with: apt-get install time" >&2
  exit 1
fi
mkdir -p "$out"

nginx_started=0
cleanup() {
  if [ "$nginx_started" = 1 ]; then
    bash "$here/nginx.sh" stop || true
  fi
  rm -f "$out"/ceiling-*.db "$out"/ceiling-*.db-wal "$out"/ceiling-*.db-shm
}
trap cleanup EXIT
# Turn Ctrl-C into a normal exit so the EXIT trap stops nginx.
trap 'exit 130' INT TERM

# A value from the site's manifest ("key value" lines).
manifest() {
  awk -v k="$1" '$1 == k { print $2 }' "$site/manifest" 2>/dev/null
}

# One value from a single-column query of the crawl database.
scalar() {
  "$webcrawl" query --db "$out/crawl.db" --format csv "$1" | sed -n 2p
}

# utime + stime of a process and its waited-for children, in ms.
cpu_ms_of() {
  local ticks
  ticks=$(getconf CLK_TCK)
  awk -v t="$ticks" '{ sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) * 1000 / t }' "/proc/$1/stat"
}

# The pids of nginx's workers: the children of the master.
nginx_workers() {
  cat /proc/"$1"/task/*/children 2>/dev/null || true
}

# While the crawler (the child of GNU time, pid $1) runs, keeps the CPU clock
# ticks of its threads in $2, "tid ticks name" per line, sampled every 0.5 s
# in bash alone so that sampling costs the crawl next to no CPU. The loop
# thread is the one whose tid is the pid; the crawler names the others
# (parse-N, writer, checkpoint; libuv's DNS pool keeps the process name). A
# thread's last sample stays when it has exited. The split is approximate: the
# last sample misses up to 0.5 s of the crawl's end.
sample_threads() {
  local crawler="" t tid line fields name
  local -A ticks=() names=()
  for _ in $(seq 1 100); do
    read -r crawler _ </proc/"$1"/task/"$1"/children 2>/dev/null || true
    [ -n "$crawler" ] && break
    sleep 0.02
  done
  : >"$2"
  [ -n "$crawler" ] || return 0
  echo "$crawler" >"$2.pid"
  while kill -0 "$crawler" 2>/dev/null; do
    for t in /proc/"$crawler"/task/*; do
      read -r line <"$t/stat" 2>/dev/null || continue
      # "tid (comm) state ppid ...": utime is the 12th field after "(comm) ",
      # stime the 13th.
      read -r -a fields <<<"${line##*) }"
      name=${line#*(}
      tid=${t##*/}
      ticks[$tid]=$((fields[11] + fields[12]))
      names[$tid]=${name%%) *}
    done
    for tid in "${!ticks[@]}"; do echo "$tid ${ticks[$tid]} ${names[$tid]}"; done >"$2"
    sleep 0.5
  done
}

# CPU ticks the whole machine has spent busy (all CPUs, /proc/stat).
machine_busy_ticks() {
  local _cpu user nice system idle iowait irq softirq steal
  read -r _cpu user nice system idle iowait irq softirq steal _ </proc/stat
  echo $((user + nice + system + irq + softirq + steal))
}

# Cores' worth of CPU that other processes used: $1 busy ticks over the
# phase, $2 of them ours (seconds), $3 the phase's wall seconds.
other_cores() {
  awk -v b="$1" -v t="$(getconf CLK_TCK)" -v ours="$2" -v wall="$3" \
    'BEGIN { o = (wall > 0) ? (b / t - ours) / wall : 0; printf "%.2f\n", (o < 0) ? 0 : o }'
}

# Each phase writes about 1 GB (20,000 pages). Flushes what earlier phases left
# to write back, so that a phase does not pay for the one before it. Databases
# are deleted only at the start and the end of the run (freeing 1 GB costs the
# file system work too), so no phase follows a deletion.
settle() {
  sync
  sleep 1
}

# Removes the databases of the ceiling runs and of the crawl.
remove_databases() {
  rm -f "$out"/ceiling-*.db "$out"/ceiling-*.db-wal "$out"/ceiling-*.db-shm
  rm -f "$out/crawl.db" "$out/crawl.db-wal" "$out/crawl.db-shm"
}

# Runs bench_ceiling once on a fresh database ceiling-$2.db, kept until the
# end; appends its output, and the other load on the machine while it ran
# ("other_cores"), to $1.
run_ceiling() {
  settle
  local busy wall user sys
  busy=$(machine_busy_ticks)
  "$gnu_time" -f '%e %U %S' -o "$out/ceiling.rusage" \
    "$ceiling" --site "$site" --db "$out/ceiling-$2.db" >"$out/ceiling.last"
  busy=$(($(machine_busy_ticks) - busy))
  read -r wall user sys <"$out/ceiling.rusage"
  echo "other_cores $(other_cores "$busy" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$wall")" \
    >>"$out/ceiling.last"
  cat "$out/ceiling.last" >>"$1"
  awk '$1 == "pages_per_s" { p = $2 } $1 == "other_cores" { o = $2 }
       END { printf "  ceiling: %s pages/s (other load: %s cores)\n", p, o }' "$out/ceiling.last"
}

# --- 1. the site --------------------------------------------------------------
# A rebuilt generator may write another site: regenerate then too.
if [ "$(manifest pages)" != "$pages" ] || [ "$(manifest port)" != "$port" ] ||
   [ "$gen" -nt "$site/manifest" ]; then
  echo "== generating $pages pages into $site"
  rm -rf "$site" "$site.tmp"
  "$gen" --out "$site.tmp" --port "$port" --pages "$pages"
  mv "$site.tmp" "$site"
else
  echo "== site: $site (cached)"
fi
site_pages=$(wc -l <"$site/urls.txt")
hosts=$(manifest hosts)

# --- 2. the ceiling, before ---------------------------------------------------
ceiling_out=$out/ceiling.txt
: >"$ceiling_out"
echo "== ceiling (no network), $ceiling_runs runs around the crawl"
half=$(((ceiling_runs + 1) / 2))
remove_databases
for ((i = 0; i < half; i++)); do run_ceiling "$ceiling_out" "$i"; done

# --- 3. the crawl ---------------------------------------------------------------
echo "== crawl over nginx: $hosts hosts on 127.0.1.1..127.0.1.$hosts:$port"
settle
nginx_started=1
master=$(bash "$here/nginx.sh" start "$site" "$port" "$hosts")
workers=$(nginx_workers "$master")
nginx_before=0
for w in $workers; do nginx_before=$(awk -v a="$nginx_before" -v b="$(cpu_ms_of "$w")" 'BEGIN { print a + b }'); done
warc_args=()
if [ "${BENCH_WARC:-0}" = 1 ]; then
  rm -rf "$out/warc"
  warc_args=(--warc "$out/warc")
fi
busy=$(machine_busy_ticks)
"$gnu_time" -v -o "$out/crawl.time" \
  "$webcrawl" crawl --db "$out/crawl.db" --seeds "$site/seeds.txt" --delay 0 --per-host 4 \
  --concurrency 64 --no-robots --quiet --scope any "${warc_args[@]}" 2>"$out/crawl.stderr" &
time_pid=$!
sample_threads "$time_pid" "$out/crawl.threads"
status=0
wait "$time_pid" || status=$?
nginx_after=0
for w in $workers; do nginx_after=$(awk -v a="$nginx_after" -v b="$(cpu_ms_of "$w")" 'BEGIN { print a + b }'); done
busy=$(($(machine_busy_ticks) - busy))
bash "$here/nginx.sh" stop
nginx_started=0
if [ "$status" != 0 ]; then
  echo "bench: the crawl exited with status $status:" >&2
  cat "$out/crawl.stderr" >&2
  exit 1
fi

# --- 4. the ceiling, after ------------------------------------------------------
for ((i = half; i < ceiling_runs; i++)); do run_ceiling "$ceiling_out" "$i"; done

# --- the report -----------------------------------------------------------------
ok_pages=$(scalar "SELECT count(*) FROM pages WHERE status = 200")
all_pages=$(scalar "SELECT count(*) FROM pages")
error_pages=$(scalar "SELECT count(*) FROM pages WHERE error IS NOT NULL OR status IS NOT 200")

# time -v: "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.03" and friends.
read -r wall user sys rss_kb < <(awk -F': ' '
  /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
  /User time \(seconds\)/ { u = $2 }
  /System time \(seconds\)/ { s = $2 }
  /Maximum resident set size/ { r = $2 }
  END { print w, u, s, r }' "$out/crawl.time")

nginx_ms=$(awk -v a="$nginx_before" -v b="$nginx_after" 'BEGIN { print b - a }')
crawl_other=$(other_cores "$busy" "$(awk -v u="$user" -v s="$sys" -v n="$nginx_ms" 'BEGIN { print u + s + n / 1000 }')" "$wall")
crawler_pid=$(cat "$out/crawl.threads.pid" 2>/dev/null || echo none)
# CPU ms of the sampled threads by stage: loop thread, parse pool, writer,
# checkpointer.
read -r loop_ms parse_ms writer_ms checkpoint_ms < <(awk -v p="$crawler_pid" -v t="$(getconf CLK_TCK)" '
  { ms = $2 * 1000 / t }
  $1 == p { loop += ms; next }
  $3 ~ /^parse-/ { parse += ms }
  $3 == "writer" { writer += ms }
  $3 == "checkpoint" { checkpoint += ms }
  END { print loop + 0, parse + 0, writer + 0, checkpoint + 0 }' "$out/crawl.threads")

echo
echo "== results ($site_pages pages in the site)"
awk -v pages="$ok_pages" -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss_kb" -v loop_ms="$loop_ms" \
    -v parse_ms="$parse_ms" -v writer_ms="$writer_ms" -v checkpoint_ms="$checkpoint_ms" \
    -v nginx_ms="$nginx_ms" -v crawl_other="$crawl_other" '
  FNR == NR && $1 == "pages_per_s" { pps[++runs] = $2; sum_pps += $2 }
  FNR == NR && $1 == "parse_cpu_ms" { parse += $2 }
  FNR == NR && $1 == "store_cpu_ms" { store += $2 }
  FNR == NR && $1 == "checkpoint_cpu_ms" { checkpoint += $2 }
  FNR == NR && $1 == "cpu_ms" { cpu += $2 }
  FNR == NR && $1 == "other_cores" { other[runs] = $2; sum_other += $2 }
  END {
    ceiling = runs > 0 ? sum_pps / runs : 0
    if (runs == 0) runs = 1  # BENCH_CEILING_RUNS=0: the crawl alone, no ceiling
    crawl = wall > 0 ? pages / wall : 0
    ratio = ceiling > 0 ? crawl / ceiling : 0
    runs_text = ""
    for (i = 1; i <= runs; i++) runs_text = runs_text (i > 1 ? ", " : "") sprintf("%.1f", pps[i])
    printf "%-28s %d\n", "pages (status 200)", pages
    printf "%-28s %.1f  (%.2f s wall)\n", "crawl pages/s", crawl, wall
    printf "%-28s %.1f  (runs: %s)\n", "ceiling pages/s", ceiling, runs_text
    printf "%-28s %.3f  (target >= 0.85: %s)\n", "ratio", ratio, (ratio >= 0.85 ? "met" : "MISSED")
    printf "%-28s %.3f  (user %.3f + sys %.3f)\n", "crawler CPU ms/page",
           (user + sys) * 1000 / pages, user * 1000 / pages, sys * 1000 / pages
    printf "%-28s %.3f\n", "  loop thread (sampled)", loop_ms / pages
    printf "%-28s %.3f\n", "  parse threads (sampled)", parse_ms / pages
    printf "%-28s %.3f\n", "  writer thread (sampled)", writer_ms / pages
    printf "%-28s %.3f\n", "  checkpointer (sampled)", checkpoint_ms / pages
    printf "%-28s %.3f  (DNS pool, and what the samples missed)\n", "  the rest",
           (user + sys) * 1000 / pages - (loop_ms + parse_ms + writer_ms + checkpoint_ms) / pages
    printf "%-28s %.3f\n", "ceiling parse ms/page", parse / runs
    printf "%-28s %.3f\n", "ceiling store ms/page", store / runs
    printf "%-28s %.3f\n", "ceiling checkpoint ms/page", checkpoint / runs
    printf "%-28s %.3f\n", "ceiling CPU ms/page (all)", cpu / runs
    printf "%-28s %.3f\n", "nginx CPU ms/page", nginx_ms / pages
    printf "%-28s %.1f  (target < 100: %s)\n", "peak RSS MB", rss / 1024, (rss / 1024 < 100 ? "met" : "MISSED")
    # On a shared machine the wall-clock ratio moves with the load others put
    # on it; say how much that was, and give the ratio of CPU per page, which
    # does not depend on it (crawler and nginx against the ceiling).
    other_text = ""
    for (i = 1; i <= runs; i++) other_text = other_text (i > 1 ? ", " : "") other[i]
    printf "%-28s crawl %.2f, ceiling runs %s\n", "other load (cores)", crawl_other, other_text
    crawl_cpu = (user + sys) * 1000 / pages + nginx_ms / pages
    printf "%-28s %.3f  (ceiling CPU ms/page / (crawler + nginx CPU ms/page))\n", "CPU ratio", (crawl_cpu > 0) ? (cpu / runs) / crawl_cpu : 0
    d = crawl_other - sum_other / runs
    if (d > 0.25 || d < -0.25)
      printf "note: the load of other processes differed by %+.2f cores between the crawl and the\n      ceiling runs; the wall-clock ratio is unreliable, rerun on a quieter machine\n", d
  }' "$ceiling_out"

failed=0
if [ "$error_pages" != 0 ]; then
  echo
  echo "pages without status 200 ($error_pages of $all_pages):"
  "$webcrawl" query --db "$out/crawl.db" \
    "SELECT status, error, count(*) AS n FROM pages WHERE error IS NOT NULL OR status IS NOT 200
     GROUP BY status, error ORDER BY n DESC LIMIT 10"
fi
if [ "$ok_pages" -lt "$site_pages" ]; then
  echo "bench: FAIL: the crawl stored $ok_pages pages with status 200; the site has $site_pages" >&2
  failed=1
fi
awk '$1 == "unreached" && $2 != 0 { print "bench: FAIL: the ceiling did not reach " $2 " pages" > "/dev/stderr"; exit 1 }' \
  "$ceiling_out" || failed=1
exit "$failed"
