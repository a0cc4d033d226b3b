#!/usr/bin/env bash
# Starts and stops the benchmark's nginx (bench/nginx.conf.in): one worker
# serving DIR/hIII (bench_gen_site's layout) as host i on
# 127.0.(1 + i / 254).(1 + i % 254):PORT, for i < HOSTS (default 200).
#
#   usage: bench/nginx.sh start DIR PORT [HOSTS]
#          bench/nginx.sh stop
#
# Its configuration, pid file, error log and temp paths live in
# $BENCH_NGINX_WORK (default bench/out/nginx). `start` returns once every
# address listens (nginx binds before it daemonizes) and prints the master's
# pid; `stop` ends that master and waits for it, and is a no-op when none runs.
# Run as root, the worker runs as nobody, or as root (`user root;`) only when
# nobody cannot read DIR, as under a 0700 home directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=${BENCH_NGINX_WORK:-$here/out/nginx}
pid_file=$work/nginx.pid
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

usage() {
  echo "usage: $0 start DIR PORT [HOSTS] | stop" >&2
  exit 2
}

running_pid() {
  [ -s "$pid_file" ] || return 1
  local pid
  pid=$(cat "$pid_file")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

start() {
  local root port hosts
  root=$(cd "$1" && pwd)
  port=$2
  hosts=${3:-200}
  if [ ! -x "$nginx_bin" ]; then
    echo "nginx.sh: nginx is missing; install it with: apt-get install nginx" >&2
    exit 1
  fi
  if running_pid >/dev/null; then
    echo "nginx.sh: nginx already runs from $work (pid $(cat "$pid_file")); stop it first" >&2
    exit 1
  fi
  mkdir -p "$work"
  : >"$work/error.log"
  local user="" servers="" i
  if [ "$(id -u)" = 0 ] && ! runuser -u nobody -- test -r "$root/seeds.txt" 2>/dev/null; then
    user="user root;  # nobody cannot read $root"
  fi
  for ((i = 0; i < hosts; i++)); do
    servers+=$(printf '  server {\n    listen 127.0.%d.%d:%s;\n    root %s/h%03d;\n  }' \
      $((1 + i / 254)) $((1 + i % 254)) "$port" "$root" "$i")$'\n'
  done
  local conf=$work/nginx.conf
  # Values go in through the environment: awk -v would interpret backslashes,
  # and a gsub replacement would interpret "&".
  USER_LINE=$user WORK=$work SERVERS=$servers awk '
    function fill(line, name, value,    out, at) {
      out = ""
      while ((at = index(line, name)) > 0) {
        out = out substr(line, 1, at - 1) value
        line = substr(line, at + length(name))
      }
      return out line
    }
    /^@USER@$/ { print ENVIRON["USER_LINE"]; next }
    /^@SERVERS@$/ { printf "%s", ENVIRON["SERVERS"]; next }
    { print fill($0, "@WORK@", ENVIRON["WORK"]) }
  ' "$here/nginx.conf.in" >"$conf"
  "$nginx_bin" -p "$work" -c "$conf" -e "$work/error.log"
  running_pid || { echo "nginx.sh: nginx did not start; see $work/error.log" >&2; exit 1; }
}

stop() {
  local pid
  pid=$(running_pid) || return 0
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "nginx.sh: nginx (pid $pid) did not stop within 10 s" >&2
  exit 1
}

case "${1:-}" in
  start) [ "$#" -ge 3 ] && [ "$#" -le 4 ] || usage; start "$2" "$3" "${4:-200}" ;;
  stop) stop ;;
  *) usage ;;
esac
