#!/usr/bin/env bash
# bench/serve/run.sh [seconds-per-run]   (default 5)
#
# aios-serve beside its peers, all on loopback in the same run, driven by wrk (peak
# throughput) and aios-bench-loadgen (latency at a fixed rate, open loop):
#   aios    aios-serve, 2 loop threads, the MLP trained by train.py (16-64-64-4)
#   python  the same MLP in PyTorch behind ThreadingHTTPServer (torch_server.py)
#   nginx   nginx (2 workers) returning a fixed reply on the same path: the HTTP
#           ceiling of this machine
# Requests/s and p50/p99 latency at batch 1 and 32 rows per request, 32 and 128
# connections; batch 32 by protocol, aios-serve alone (rows/s, the figure batching
# is for), 32 and 128 connections:
#   v1-json     POST /v1/models/bench:predict {"instances": [[16 numbers] x 32]}
#   v2-json     POST /v2/models/bench/infer, inputs[0].data: 512 numbers, JSON answer
#   v2-binary   the same tensor in the binary extension (Inference-Header-Content-Length,
#               2048 bytes of FP32 after the JSON header), binary answer asked for
#               with "binary_data_output": true
# latency of aios-serve and nginx at half their peak rate (open loop,
# aios-bench-loadgen); dynamic batching on and off
# with a larger model; binary size; idle and loaded RSS; CPU time per request (robust
# to other load on the machine); and the int8 / pruning accuracy and kernel-speed
# table (aios-bench-kernels). Prints markdown; nothing here is a pass/fail test.
#   bench/serve/run.sh --help   this text
# Environment: AIOS_BUILD_DIR (default build/), AIOS_BENCH_ISOLATE=1 (see below).
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;; esac
# AIOS_BENCH_ISOLATE=1 (below) changes the CPU weight of this script's session: give it a
# session of its own first
if [[ "${AIOS_BENCH_ISOLATE:-0}" == 1 && "$(ps -o sid= -p $$ | tr -d ' ')" != "$$" ]]; then
  exec setsid -w "$0" "$@"
fi
secs="${1:-5}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${AIOS_BUILD_DIR:-$root/build}"
py=/usr/bin/python3
for tool in wrk nginx "$py"; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool missing (scripts/install-deps.sh --bench)" >&2; exit 2; }
done
"$py" -c "import torch" 2>/dev/null || { echo "run.sh: python3-torch missing" >&2; exit 2; }

tmp="$(mktemp -d /tmp/aios-bench-serve.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
source "$root/bench/lib/quiet.sh"
bench_quiet_begin serve

cmake --build "$build" -j2 --target aios-serve aios-bench-mkmodel aios-bench-kernels aios-bench-loadgen >/dev/null
serve="$build/src/serve/aios-serve"
"$py" "$root/bench/serve/train.py" "$tmp/w.json" "$tmp/heldout.f32" 64 64 2>"$tmp/train.log"
"$build/bench/serve/aios-bench-mkmodel" --from-json "$tmp/w.json" "$tmp/m.aios" >/dev/null

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { local p; for p in $(seq "$1" $(($1 + 50))); do port_free "$p" && { echo "$p"; return; }; done; exit 2; }
wait_http() { # url method
  for _ in $(seq 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 -X "$2" -d "$body1" "$1" || true)
    [[ "$code" == 200 ]] && return 0
    sleep 0.1
  done
  echo "run.sh: $1 never answered" >&2; exit 2
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { # utime+stime of pid and its children (nginx workers)
  local t=0 p
  for p in "$@" $(pgrep -P "$1" || true); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}

# request bodies: 1 row and 32 rows of 16 features
row='[0.1,-0.2,0.3,-0.4,0.5,-0.6,0.7,-0.8,0.9,-1.0,1.1,-1.2,1.3,-1.4,1.5,-1.6]'
body1="{\"instances\": [$row]}"
rows32="$row"; for _ in $(seq 31); do rows32="$rows32,$row"; done
body32="{\"instances\": [$rows32]}"
for b in 1 32; do
  v="body$b"
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '"'"'%s'"'"'\n' "${!v}" >"$tmp/b$b.lua"
done

pa=$(pick_port 18300); pp=$(pick_port 18360); pn=$(pick_port 18420)
path=/v1/models/bench:predict
"$serve" --model "$tmp/m.aios" --name bench --bind 127.0.0.1 --port "$pa" --threads 2 2>"$tmp/serve.log" &
apid=$!; pids+=("$apid")
"$py" "$root/bench/serve/torch_server.py" "$tmp/w.json" "$pp" bench 2>"$tmp/py.log" &
ppid=$!; pids+=("$ppid")
mkdir -p "$tmp/ngx"
fixed=$(curl -s --retry 50 --retry-connrefused --retry-delay 0 -X POST -d "$body1" "http://127.0.0.1:$pa$path")
cat >"$tmp/ngx/nginx.conf" <<NGX
worker_processes 2;
pid $tmp/ngx/nginx.pid;
error_log $tmp/ngx/error.log;
events { worker_connections 2048; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $tmp/ngx;
  server {
    listen 127.0.0.1:$pn;
    location = $path { default_type application/json; return 200 '$fixed'; }
  }
}
NGX
nginx -p "$tmp/ngx" -c "$tmp/ngx/nginx.conf" -g 'daemon off;' &
npid=$!; pids+=("$npid")
wait_http "http://127.0.0.1:$pa$path" POST
wait_http "http://127.0.0.1:$pp$path" POST
wait_http "http://127.0.0.1:$pn$path" POST
idle_rss=$(rss_kb "$apid")

# run PEER PORT PID BATCH CONNS [LUA] [PATH]: prints "rps p50 p99 cpu_us_per_req"
run() {
  local port=$1 pid=$2 b=$3 c=$4 lua=${5:-$tmp/b$3.lua} url_path=${6:-$path}
  local t0; t0=$(cpu_ticks "$pid")
  local threads=2; ((c < 2)) && threads=1
  wrk -t"$threads" -c"$c" -d"${secs}s" --latency -s "$lua" "http://127.0.0.1:$port$url_path" >"$tmp/wrk.out" 2>&1
  local t1; t1=$(cpu_ticks "$pid")
  local hz; hz=$(getconf CLK_TCK)
  awk -v dt=$((t1 - t0)) -v hz="$hz" '
    function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
    / 50%/ {p50 = us($2)} / 99%/ {p99 = us($2)} /Requests\/sec/ {rps = $2}
    /requests in/ {n = $1}
    END { printf "%.0f %.0f %.0f %.1f\n", rps, p50, p99, (n > 0 ? dt / hz * 1e6 / n : 0) }' "$tmp/wrk.out"
}

echo "## aios-serve benchmark ($(date -u +%FT%TZ), ${secs}s per run, load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs)"
echo
echo "| server | rows/request | connections | requests/s | p50 us | p99 us | server CPU us/request |"
echo "|---|---|---|---|---|---|---|"
declare -A peak
for peer in aios python nginx; do
  case $peer in aios) port=$pa pid=$apid;; python) port=$pp pid=$ppid;; nginx) port=$pn pid=$npid;; esac
  for b in 1 32; do
    [[ $peer == nginx && $b == 32 ]] && continue # a fixed reply: the body size does not matter
    for c in 32 128; do
      read -r rps p50 p99 cpu < <(run "$port" "$pid" "$b" "$c")
      echo "| $peer | $b | $c | $rps | $p50 | $p99 | $cpu |"
      key="$peer.$b"; [[ -z "${peak[$key]:-}" || $rps -gt ${peak[$key]} ]] && peak[$key]=$rps
    done
  done
done
loaded_hwm=$(hwm_kb "$apid")
echo
a1=${peak[aios.1]}; p1=${peak[python.1]}; n1=${peak[nginx.1]}
echo "peak requests/s at batch 1: aios $a1, python $p1, nginx $n1;" \
  "aios/python = $(awk -v a="$a1" -v b="$p1" 'BEGIN{printf "%.1f", a/b}')x," \
  "aios/nginx = $(awk -v a="$a1" -v b="$n1" 'BEGIN{printf "%.2f", a/b}')"
echo "peak rows/s at batch 32: aios $((${peak[aios.32]} * 32)), python $((${peak[python.32]} * 32))"

# Batch 32 by protocol: the same 32 rows as V1 JSON, V2 JSON and V2 binary. The bodies
# (and wrk scripts, every byte of the binary one as a \ddd escape) come from python3.
"$py" - "$tmp" "$row" <<'PY'
import json, struct, sys
tmp, row = sys.argv[1], json.loads(sys.argv[2])
rows = [row] * 32
flat = [v for r in rows for v in r]
def lua(name, body, headers):
    esc = "".join("\\%03d" % b for b in body)
    with open(f"{tmp}/{name}.lua", "w") as f:
        f.write('wrk.method = "POST"\n')
        for k, v in headers.items():
            f.write(f'wrk.headers["{k}"] = "{v}"\n')
        f.write(f'wrk.body = "{esc}"\n')
    with open(f"{tmp}/{name}.body", "wb") as f:
        f.write(body)
v1 = json.dumps({"instances": rows}, separators=(",", ":")).encode()
v2 = json.dumps({"inputs": [{"name": "input-0", "shape": [32, 16], "datatype": "FP32",
                             "data": flat}]}, separators=(",", ":")).encode()
head = json.dumps({"inputs": [{"name": "input-0", "shape": [32, 16], "datatype": "FP32",
                               "parameters": {"binary_data_size": 4 * len(flat)}}],
                   "parameters": {"binary_data_output": True}}, separators=(",", ":")).encode()
lua("v1-json", v1, {"Content-Type": "application/json"})
lua("v2-json", v2, {"Content-Type": "application/json"})
lua("v2-binary", head + struct.pack("<%df" % len(flat), *flat),
    {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": len(head)})
with open(f"{tmp}/v2-binary.hlen", "w") as f:
    f.write(str(len(head)))
PY
echo
echo "### batch 32 by protocol (aios-serve alone, 32 rows of 16 features per request)"
echo
echo "| protocol | connections | requests/s | rows/s | p50 us | p99 us | server CPU us/request |"
echo "|---|---|---|---|---|---|---|"
v2path=/v2/models/bench/infer
for proto in v1-json v2-json v2-binary; do
  url=$path extra=()
  [[ $proto == v2-* ]] && url=$v2path
  [[ $proto == v2-binary ]] && extra=(-H "Content-Type: application/octet-stream" -H "Inference-Header-Content-Length: $(cat "$tmp/v2-binary.hlen")")
  code=$(curl -s -o /dev/null -w '%{http_code}' "${extra[@]}" --data-binary "@$tmp/$proto.body" "http://127.0.0.1:$pa$url")
  [[ $code == 200 ]] || { echo "run.sh: $proto request answered $code" >&2; exit 2; }
  for c in 32 128; do
    read -r rps p50 p99 cpu < <(run "$pa" "$apid" 32 "$c" "$tmp/$proto.lua" "$url")
    echo "| $proto | $c | $rps | $((rps * 32)) | $p50 | $p99 | $cpu |"
  done
done

# Latency at half of the peak rate: open loop (aios-bench-loadgen), requests sent at a
# fixed rate and timed from their scheduled send time, so stalls are charged in full.
# aios-serve at half its peak, nginx at half its own peak (the best any server can show
# on this machine at that load) and at aios-serve's rate. AIOS_BENCH_ISOLATE=1 repeats
# them twice, each run bounded by its duration and needing CAP_SYS_NICE:
#   weighted   this session's autogroup at nice -20 (the highest CPU weight, as a pod
#              with a large CPU request would have): still the fair scheduler;
#   SCHED_FIFO the server's threads and the load generator at real-time priority 1,
#              out of the competition with the machine's other processes (a stand-in
#              for a quiet machine).
loadgen="$build/bench/serve/aios-bench-loadgen"
printf '%s' "$body1" >"$tmp/b1.json"
tids_of() { local p; for p in "$1" $(pgrep -P "$1" || true); do ls "/proc/$p/task"; done; }
paced() { # PEER PORT PID RATE MODE(normal|weighted|SCHED_FIFO): prints a table row
  local peer=$1 port=$2 pid=$3 rate=$4 mode=$5 t0 t1 out cpu prefix=() tids=()
  [[ $mode == weighted ]] && echo -20 >/proc/self/autogroup
  if [[ $mode == SCHED_FIFO ]]; then
    mapfile -t tids < <(tids_of "$pid")
    for t in "${tids[@]}"; do chrt -f -p 1 "$t" >/dev/null; done
    prefix=(chrt -f 1)
  fi
  t0=$(cpu_ticks "$pid")
  [[ $peer == aios ]] && in_server "$port" >"$tmp/hist0"
  out=$("${prefix[@]}" "$loadgen" --port "$port" --path "$path" --body-file "$tmp/b1.json" \
    --rate "$rate" --connections 32 --duration "$secs" --warmup 1 2>"$tmp/loadgen.err") ||
    { echo "run.sh: loadgen failed: $(cat "$tmp/loadgen.err")" >&2; exit 2; }
  t1=$(cpu_ticks "$pid")
  local q99=""
  if [[ $peer == aios ]]; then
    in_server "$port" >"$tmp/hist1"
    # the bucket holding the 99th percentile of the run's requests, as seen by the server
    q99=$(paste "$tmp/hist0" "$tmp/hist1" | awk '{le[NR] = $1; d[NR] = $4 - $2; n = NR}
      END { for (i = 1; i <= n; i++) if (d[i] >= 0.99 * d[n]) { printf "<= %g us", le[i] * 1e6; exit } }')
  fi
  for t in "${tids[@]}"; do chrt -o -p 0 "$t" >/dev/null 2>&1 || true; done
  [[ $mode == weighted ]] && echo 0 >/proc/self/autogroup
  declare -A kv; local f
  for f in $out; do kv[${f%%=*}]=${f#*=}; done
  cpu=$(awk -v dt=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="${kv[answered]}" -v s="$secs" \
    'BEGIN { printf "%.1f", (n > 0 ? dt / hz * 1e6 / (n * (s + 1) / s) : 0) }')
  echo "| $peer | $mode | $rate | ${kv[rps]} |" \
    "${kv[unfinished]} | ${kv[p50_us]} | ${kv[p90_us]} | ${kv[p99_us]} | ${kv[p999_us]} | ${kv[max_us]} | ${q99:--} | $cpu |"
}
in_server() { # PORT: "le count" of aios-serve's v1_predict duration histogram (cumulative)
  curl -s "http://127.0.0.1:$1/metrics" |
    awk -F'[",} ]+' '/^aios_serve_request_duration_seconds_bucket\{endpoint="v1_predict"/ {
      print ($4 == "+Inf" ? 1e9 : $4), $NF }'
}
echo
echo "### latency at half of the peak rate (open loop, 32 connections, ${secs}s after 1s warm-up; load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| server | scheduling | target requests/s | answered/s | unfinished | p50 us | p90 us | p99 us | p99.9 us | max us | in-server p99 | server CPU us/request |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
modes=normal; [[ "${AIOS_BENCH_ISOLATE:-0}" == 1 ]] && modes="normal weighted SCHED_FIFO"
for mode in $modes; do
  paced aios "$pa" "$apid" $((a1 / 2)) "$mode"
  paced nginx "$pn" "$npid" $((n1 / 2)) "$mode"
  paced nginx "$pn" "$npid" $((a1 / 2)) "$mode"
done
echo
echo "footprint: aios-serve binary $(stat -c %s "$serve") bytes" \
  "($(strip -o "$tmp/stripped" "$serve" && stat -c %s "$tmp/stripped") stripped)," \
  "RSS idle $idle_rss KiB, RSS peak under load $loaded_hwm KiB;" \
  "python RSS $(rss_kb "$ppid") KiB, nginx master+workers $(for p in "$npid" $(pgrep -P "$npid"); do rss_kb "$p"; done | awk '{s += $1} END {print s}') KiB"
kill "$ppid" "$npid" 2>/dev/null || true

# Dynamic batching on and off, with a model where the forward pass dominates
echo
echo "### dynamic batching (256-512-512-16 MLP, 1 row per request)"
echo
echo "| max batch size | connections | requests/s | p50 us | p99 us | server CPU us/request |"
echo "|---|---|---|---|---|---|"
"$build/bench/serve/aios-bench-mkmodel" "$tmp/big.aios" "$tmp/big.json" 256 512 512 16 >/dev/null
bigrow=$(awk 'BEGIN{printf "["; for (i = 0; i < 256; i++) printf "%s%.2f", (i ? "," : ""), (i % 7) / 7 - 0.5; printf "]"}')
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '"'"'{"instances": [%s]}'"'"'\n' "$bigrow" >"$tmp/big.lua"
kill "$apid" 2>/dev/null || true
for mb in 1 32; do
  pb=$(pick_port 18480)
  "$serve" --model "$tmp/big.aios" --name bench --bind 127.0.0.1 --port "$pb" --threads 2 --max-batch-size "$mb" 2>>"$tmp/serve.log" &
  bpid=$!; pids+=("$bpid")
  body1="{\"instances\": [$bigrow]}"
  wait_http "http://127.0.0.1:$pb$path" POST
  for c in 1 128; do
    read -r rps p50 p99 cpu < <(run "$pb" "$bpid" 1 "$c" "$tmp/big.lua")
    echo "| $mb | $c | $rps | $p50 | $p99 | $cpu |"
  done
  kill "$bpid"; wait "$bpid" 2>/dev/null || true
done

echo
echo "### int8 and pruning on the held-out set ($(cat "$tmp/train.log"))"
echo
"$build/bench/serve/aios-bench-kernels" "$tmp/m.aios" "$tmp/heldout.f32"
