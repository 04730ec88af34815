#!/usr/bin/env bash
# bench/serve/lws_compare.sh [seconds]  (default 5)
# The measurement behind docs/internals/http.md: a fixed reply over keep-alive, one
# server thread each, from libwebsockets 4.1.6 (aios-bench-lws-fixed), the aios epoll
# server (aios-serve's GET /v2/health/live) and nginx (1 worker). Prints requests/s,
# p99 and server CPU time per request (the figure that survives a busy machine).
set -euo pipefail
secs="${1:-5}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${AIOS_BUILD_DIR:-$root/build}"
tmp="$(mktemp -d /tmp/aios-lws-cmp.XXXXXX)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
source "$root/bench/lib/quiet.sh"
bench_quiet_begin lws_compare
cmake --build "$build" -j2 --target aios-serve aios-bench-lws-fixed aios-bench-mkmodel >/dev/null
"$build/bench/serve/aios-bench-mkmodel" "$tmp/m.aios" "$tmp/m.json" 16 64 64 4 >/dev/null
cpu() { local t=0 p; for p in "$@" $(pgrep -P "$1" || true); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
measure() { # name pid url
  local t0 t1 n; t0=$(cpu "$2"); wrk -t2 -c32 -d"${secs}s" --latency "$3" >"$tmp/w"; t1=$(cpu "$2")
  n=$(awk '/requests in/ {print $1}' "$tmp/w")
  printf '| %s | %s | %s | %s |\n' "$1" "$(awk '/Requests\/sec/ {print $2}' "$tmp/w")" \
    "$(awk '/ 99%/ {print $2}' "$tmp/w")" \
    "$(awk -v d=$((t1 - t0)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", d / hz * 1e6 / n}')"
}
"$build/bench/serve/aios-bench-lws-fixed" 18540 1 & pids+=($!); lpid=$!
"$build/src/serve/aios-serve" --model "$tmp/m.aios" --name m --port 18541 --bind 127.0.0.1 --threads 1 2>/dev/null & pids+=($!); apid=$!
mkdir -p "$tmp/ngx"
cat >"$tmp/ngx/nginx.conf" <<NGX
worker_processes 1;
pid $tmp/ngx/nginx.pid;
error_log $tmp/ngx/error.log;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:18542;
  location = /v2/health/live { default_type application/json; return 200 '{"live":true}'; } } }
NGX
nginx -p "$tmp/ngx" -c "$tmp/ngx/nginx.conf" -g 'daemon off;' & pids+=($!); npid=$!
sleep 1
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| server (1 thread, fixed reply) | requests/s | p99 | server CPU us/request |"
echo "|---|---|---|---|"
measure libwebsockets "$lpid" http://127.0.0.1:18540/fixed
measure aios-epoll "$apid" http://127.0.0.1:18541/v2/health/live
measure nginx "$npid" http://127.0.0.1:18542/v2/health/live
