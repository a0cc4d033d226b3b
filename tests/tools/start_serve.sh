# Sourced by the scripts that serve a directory with webcrawl-serve
# (seeds/demo.sh, bench/docs_crawl.sh, bench/startup.sh):
#
#   start_serve NAME WORK SERVE_BIN [webcrawl-serve options...]
#   stop_server
#
# Starts SERVE_BIN with the options and --port-file WORK/port, its stderr in
# WORK/serve.err, and waits up to 10 s for the port file, which the server
# writes only once it listens. Sets server_pid and port. If the server exits
# or never listens, prints "NAME: ..." with the server's own error and exits 1.
start_serve() {
  local name=$1 work=$2 serve=$3
  shift 3
  rm -f "$work/port"
  "$serve" "$@" --port-file "$work/port" 2>"$work/serve.err" &
  server_pid=$!
  for _ in $(seq 1 100); do
    [ -s "$work/port" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
      server_pid=""
      echo "$name: webcrawl-serve exited: $(cat "$work/serve.err")" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [ ! -s "$work/port" ]; then
    echo "$name: webcrawl-serve did not start listening within 10 s" >&2
    exit 1
  fi
  port=$(cat "$work/port")
}

# Stops the server start_serve started, if any, and waits for it.
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
