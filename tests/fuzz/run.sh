#!/usr/bin/env bash
# Runs each libFuzzer target for a fixed time on its corpus, then merges the
# inputs that found new coverage back into tests/fuzz/corpus/<target>/.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
# Exits 1 when any target found a crash, leak, timeout or invariant violation;
# the reproducer is in BUILD_DIR/fuzz-artifacts/ and the log in BUILD_DIR/fuzz-logs/.
set -u
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
failed=()

for target in "$@"; do
  kept="$here/corpus/$target"
  scratch="$build/fuzz-corpus/$target"  # libFuzzer writes new inputs to the first dir
  log="$build/fuzz-logs/$target.log"
  mkdir -p "$kept" "$scratch"
  echo "== $target: ${seconds}s on $(ls "$kept" | wc -l) kept inputs"
  # -timeout is per input: a super-linear parse on a few KB shows up as one.
  if ! "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$target-" \
       "$scratch" "$kept" >"$log" 2>&1; then
    failed+=("$target")
    grep -E "ERROR|invariant violated|Test unit written" "$log" | head -5
    continue
  fi
  grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -1
  grep -E "stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)" "$log"
  # The kept corpus is rebuilt as the hand-written seeds (descriptive names)
  # plus the fewest found inputs (sha1 names) that cover every edge the old
  # corpus and this run reached; hit counts are ignored, or it grows tenfold.
  merged="$build/fuzz-merge/$target"
  rm -rf "$merged" && mkdir -p "$merged"
  find "$kept" -maxdepth 1 -type f -regextype posix-extended ! -regex '.*/[0-9a-f]{40}' -exec cp {} "$merged" \;
  if "$build/tests/fuzz/$target" -set_cover_merge=1 -use_counters=0 \
       "$merged" "$kept" "$scratch" >>"$log" 2>&1; then
    find "$kept" -maxdepth 1 -type f -delete
    cp "$merged"/* "$kept"/
    rm -rf "$scratch" "$merged"
  fi
  echo "   corpus now $(ls "$kept" | wc -l) files, $(du -sb "$kept" | cut -f1) bytes"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "findings in: ${failed[*]} (see $build/fuzz-logs/ and $build/fuzz-artifacts/)"
  exit 1
fi
