#!/usr/bin/env bash
# bench/gateway/run.sh - aios-gateway's extra hop and its cold starts, on the local cluster
# (scripts/cluster.sh: the real API server, aios-operator, aios-node or a real kubelet, and
# aios-gateway on 127.0.0.1:18090), beside the same pod called directly and beside Debian's
# nginx as a reverse proxy to that pod, in the same run.
#
#   bench/gateway/run.sh [--node aios-node|kubelet] [--cold-starts N] [--seconds S]
#                        (defaults: aios-node, 20, 5)
#
# 1. The hop. One ModelService (examples/trainingjob-linear.yaml's model, replicas 1..1,
#    one loop thread) and three ways to its pod, one after the other:
#      direct   the pod's address from its Endpoints
#      gateway  http://127.0.0.1:18090/namespaces/NS/v1/models/NAME:predict
#      nginx    nginx (2 workers, upstream keepalive 64) with proxy_pass to the pod
#    Each: peak requests/s with wrk (32 connections, S seconds), then latency at a fixed
#    rate of 1,000 requests/s over 4 connections (aios-bench-loadgen, open loop, S
#    seconds after 1 s of warm-up), and the proxy's CPU per request. The gateway's and
#    nginx's added latency is their p50 minus direct's p50 in the same run.
# 2. Cold starts. A ModelService with replicas.min 0 (scaleToZeroGraceSeconds 2,
#    stableWindowSeconds 6): N times, wait until it is at zero with no pod, then send
#    one prediction through the gateway and time it to its 200 answer (client side,
#    curl's time_total). Prints p50, p95 and max, and the gateway's own
#    aios_gateway_cold_start_seconds (sum / count over the run).
# Every request is bounded (wrk and loadgen by time, curl by --max-time 60).
#
# Environment: AIOS_BUILD_DIR (default <repo>/build; the cluster runs its binaries),
# AIOS_CLUSTER_DIR (cluster.sh's), AIOS_BENCH_RECORD (bench/lib/quiet.sh: figures go to
# docs/gateway.md from a quiet run only).
# Exit codes: 0 done; 1 a step failed; 2 bad usage or a tool missing; 3 (with
# AIOS_BENCH_RECORD) not quiet.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
NODE=aios-node COLD=20 SECS=5
while (($#)); do
  case "$1" in
    --node) NODE="${2:-}"; shift 2 || { echo "run.sh: --node needs aios-node or kubelet" >&2; exit 2; } ;;
    --cold-starts) COLD="${2:-}"; shift 2 || { echo "run.sh: --cold-starts needs a number" >&2; exit 2; } ;;
    --seconds) SECS="${2:-}"; shift 2 || { echo "run.sh: --seconds needs a number" >&2; exit 2; } ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$NODE" in aios-node|kubelet) ;; *) echo "run.sh: --node '$NODE': use aios-node or kubelet" >&2; exit 2 ;; esac
[[ "$COLD" =~ ^[1-9][0-9]*$ && "$COLD" -le 200 ]] || { echo "run.sh: --cold-starts '$COLD': 1..200" >&2; exit 2; }
[[ "$SECS" =~ ^[1-9][0-9]*$ && "$SECS" -le 60 ]] || { echo "run.sh: --seconds '$SECS': 1..60" >&2; exit 2; }
"$ROOT/scripts/install-deps.sh" --bench >/dev/null
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool missing (scripts/install-deps.sh --bench)" >&2; exit 2; }
done

export AIOS_BUILD_DIR="${AIOS_BUILD_DIR:-$ROOT/build}"
cmake --build "$AIOS_BUILD_DIR" -j2 --target aios-bench-loadgen aios-gateway >/dev/null
LOADGEN="$AIOS_BUILD_DIR/bench/serve/aios-bench-loadgen"
KUBECONFIG="$("$ROOT/scripts/cluster.sh" up --node "$NODE")"
export KUBECONFIG
KBIN="${AIOS_KUBE_BIN:-$("$ROOT/scripts/build-kube.sh")}"
NS=aios-bench-gateway
k() { "$KBIN/kubectl" -n "$NS" "$@"; }
GW=127.0.0.1:18090
GW_PID_FILE="${AIOS_CLUSTER_DIR:-$([[ $NODE == kubelet ]] && echo /var/lib/aios-cluster-kubelet || echo /var/lib/aios-cluster)}/aios-gateway.pid"
curl -sf --max-time 2 "http://$GW/readyz" >/dev/null ||
  { echo "run.sh: aios-gateway does not answer on $GW (scripts/cluster.sh starts it when built)" >&2; exit 1; }
GW_PID="$(cat "$GW_PID_FILE" 2>/dev/null || pgrep -xo aios-gateway)" ||
  { echo "run.sh: cannot find aios-gateway's process ($GW_PID_FILE)" >&2; exit 1; }

WORK="$(mktemp -d /tmp/aios-bench-gateway.XXXXXX)"
NGINX_PID=""
cleanup() {
  [[ -n "$NGINX_PID" ]] && kill "$NGINX_PID" 2>/dev/null || true
  "$KBIN/kubectl" delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# wait_for SECONDS WHAT CMD...: until CMD succeeds; fails the run after SECONDS
wait_for() {
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || { echo "run.sh: $what not reached in ${limit}s" >&2; exit 1; }
    sleep 0.2
  done
}
phase_is() { [[ "$(k get "$1" -o 'jsonpath={.status.phase}' 2>/dev/null)" == "$2" ]]; }
no_pods() { [[ -z "$(k get pods -l "aios.dev/service=$1" -o name 2>/dev/null)" ]]; }

echo "bench gateway: node kind $NODE; training the model (not timed)" >&2
"$KBIN/kubectl" delete namespace "$NS" --ignore-not-found --wait=true >/dev/null
"$KBIN/kubectl" create namespace "$NS" >/dev/null
k apply -f "$ROOT/examples/pvc-models.yaml" >/dev/null
k apply -f "$ROOT/examples/trainingjob-linear.yaml" >/dev/null
wait_for 300 "TrainingJob linear Succeeded" phase_is trainingjob/linear Succeeded
k apply -f - >/dev/null <<'YAML'
apiVersion: aios.dev/v1alpha1
kind: ModelService
metadata: {name: hop}
spec:
  model: {trainingJob: linear}
  runtime: {threads: 1}
  replicas: {min: 1, max: 1}
---
apiVersion: aios.dev/v1alpha1
kind: ModelService
metadata: {name: cold}
spec:
  model: {trainingJob: linear}
  runtime: {threads: 1}
  replicas: {min: 0, max: 1}
  autoscaling:
    stableWindowSeconds: 6
    panicWindowSeconds: 2
    scaleToZeroGraceSeconds: 2
    coldStartQueueSize: 10
    coldStartTimeoutSeconds: 60
YAML
wait_for 180 "ModelService hop Ready" phase_is modelservice/hop Ready
wait_for 180 "ModelService cold Ready" phase_is modelservice/cold Ready
POD="$(k get endpoints -l aios.dev/service=hop \
  -o 'jsonpath={.items[0].subsets[0].addresses[0].ip}:{.items[0].subsets[0].ports[0].port}')"
[[ "$POD" =~ ^[0-9.]+:[0-9]+$ ]] || { echo "run.sh: no ready address in hop's Endpoints: '$POD'" >&2; exit 1; }

BODY='{"instances": [[3.0]]}'
printf '%s' "$BODY" > "$WORK/body.json"
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' "'$BODY'" > "$WORK/post.lua"
NGINX_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
  upstream pod { server $POD; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { proxy_pass http://pod; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
PATH_DIRECT="/v1/models/hop:predict"
PATH_GW="/namespaces/$NS/v1/models/hop:predict"
for url in "http://$POD$PATH_DIRECT" "http://$GW$PATH_GW"; do
  code="$(curl -s --max-time 10 -o "$WORK/answer" -w '%{http_code}' -H 'Content-Type: application/json' -d "$BODY" "$url")"
  [[ "$code" == 200 ]] || { echo "run.sh: $url answered $code: $(head -c 300 "$WORK/answer")" >&2; exit 1; }
done

for _ in $(seq 1 60); do awk '{exit !($1 < 0.8)}' /proc/loadavg && break; sleep 5; done
# the cluster and the proxies are the system under test (bench/lib/quiet.sh)
export AIOS_BENCH_OWN="etcd kube-apiserver kube-controller kube-scheduler aios-node aios-operator aios-gateway aios-serve containerd kubelet containerd-shim nginx"
source "$ROOT/bench/lib/quiet.sh"
bench_quiet_begin "gateway-$NODE"
setsid nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -g 'daemon off;' > "$WORK/nginx/out.log" 2>&1 &
NGINX_PID=$!
wait_for 10 "nginx on 127.0.0.1:$NGINX_PORT" curl -sf --max-time 2 -o /dev/null -H 'Content-Type: application/json' \
  -d "$BODY" "http://127.0.0.1:$NGINX_PORT$PATH_DIRECT"

# cpu_ticks PID...: utime + stime of the processes and their threads, in clock ticks
cpu_ticks() {
  local t=0 p
  for p in "$@"; do
    [[ -n "$p" && -r /proc/$p/stat ]] || continue
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
# measure NAME HOST:PORT PATH PIDS: one table row
measure() {
  local name=$1 addr=$2 path=$3 pids=$4 t0 t1 n rps p50 p99 lp50 lp99
  t0=$(cpu_ticks $pids)
  wrk -t2 -c32 -d"${SECS}s" --latency -s "$WORK/post.lua" "http://$addr$path" > "$WORK/wrk.out" 2>&1
  t1=$(cpu_ticks $pids)
  read -r rps p50 p99 n < <(awk '
    function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v }
    / 50%/ {p50 = us($2)} / 99%/ {p99 = us($2)} /Requests\/sec/ {rps = $2} /requests in/ {n = $1}
    /Non-2xx/ {bad = $NF} END { if (bad > 0) exit 1; printf "%.0f %.0f %.0f %d\n", rps, p50, p99, n }' "$WORK/wrk.out") ||
    { echo "run.sh: $name: wrk saw failures: $(cat "$WORK/wrk.out")" >&2; exit 1; }
  local lg
  lg="$("$LOADGEN" --host "${addr%:*}" --port "${addr#*:}" --path "$path" --body-file "$WORK/body.json" \
    --rate 1000 --connections 4 --duration "$SECS" --warmup 1)" || { echo "run.sh: $name: loadgen failed" >&2; exit 1; }
  lp50="$(tr ' ' '\n' <<<"$lg" | awk -F= '$1 == "p50_us" {print $2}')"
  lp99="$(tr ' ' '\n' <<<"$lg" | awk -F= '$1 == "p99_us" {print $2}')"
  local cpu="-"
  [[ -n "$pids" ]] && cpu="$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN {printf "%.1f", d / hz * 1e6 / n}')"
  echo "$name $rps $p50 $p99 $lp50 $lp99 $cpu" >> "$WORK/hop"
}
: > "$WORK/hop"
measure direct "$POD" "$PATH_DIRECT" ""
measure gateway "$GW" "$PATH_GW" "$GW_PID"
measure nginx "127.0.0.1:$NGINX_PORT" "$PATH_DIRECT" "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
kill "$NGINX_PID" 2>/dev/null || true
wait "$NGINX_PID" 2>/dev/null || true
NGINX_PID=""

# cold starts
gw_cold() { # "sum count" of the gateway's cold-start histogram for the cold service
  curl -s --max-time 5 "http://$GW/metrics" | awk -v ns="$NS" '
    index($1, "namespace=\"" ns "\"") && index($1, "service=\"cold\"") {
      if ($1 ~ /^aios_gateway_cold_start_seconds_sum/) s = $2; if ($1 ~ /^aios_gateway_cold_start_seconds_count/) c = $2 }
    END { printf "%s %s\n", s + 0, c + 0 }'
}
read -r cs0 cc0 < <(gw_cold)
: > "$WORK/cold"
for i in $(seq 1 "$COLD"); do
  wait_for 180 "ModelService cold at zero (run $i)" phase_is modelservice/cold ScaledToZero
  wait_for 120 "no pod of cold left (run $i)" no_pods cold
  sleep 1
  out="$(curl -s --max-time 60 -o "$WORK/answer" -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' \
    -d "$BODY" "http://$GW/namespaces/$NS/v1/models/cold:predict" || true)"
  read -r code secs <<<"$out"
  [[ "$code" == 200 ]] || { echo "run.sh: cold start $i answered '$out': $(head -c 300 "$WORK/answer")" >&2; exit 1; }
  echo "$secs" >> "$WORK/cold"
  echo "cold start $i/$COLD: ${secs} s" >&2
done
read -r cs1 cc1 < <(gw_cold)

python3 - "$WORK/hop" "$WORK/cold" "$NODE" "$SECS" "$cs0" "$cc0" "$cs1" "$cc1" <<'PY'
import statistics, sys, time
hop, cold, node, secs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
cs0, cc0, cs1, cc1 = map(float, sys.argv[5:9])
rows = {}
for line in open(hop):
    name, *v = line.split()
    rows[name] = v
print(f"## aios-gateway on {node} ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {secs} s per run)")
print()
print("One ModelService pod (1 loop thread, the seed example's model), batch 1 V1 predict; peak with wrk"
      " (32 connections), latency at 1,000 requests/s open loop (aios-bench-loadgen, 4 connections);"
      " added p50 = the proxy's p50 at 1,000/s minus direct's.")
print()
print("| path | peak requests/s | wrk p50 us | wrk p99 us | p50 us at 1,000/s | p99 us at 1,000/s | added p50 us | proxy CPU us/request |")
print("|---|---|---|---|---|---|---|---|")
base = float(rows["direct"][3])
for name, label in (("direct", "direct to the pod"), ("gateway", "aios-gateway"), ("nginx", "nginx proxy_pass (2 workers)")):
    rps, p50, p99, lp50, lp99, cpu = rows[name]
    added = "-" if name == "direct" else f"{float(lp50) - base:.0f}"
    print(f"| {label} | {rps} | {p50} | {p99} | {lp50} | {lp99} | {added} | {cpu} |")
c = sorted(float(x) for x in open(cold))
def pct(p):
    return c[min(len(c) - 1, max(0, int(round(p / 100 * len(c) + 0.5)) - 1))]
print()
print(f"cold starts through the gateway, replicas.min 0, {len(c)} runs (first request's arrival at a"
      f" service with no pod to its 200 answer, client side): p50 {statistics.median(c):.2f} s,"
      f" p95 {pct(95):.2f} s, max {c[-1]:.2f} s, min {c[0]:.2f} s")
if cc1 > cc0:
    print(f"gateway's aios_gateway_cold_start_seconds over the run: {cc1 - cc0:.0f} cold starts,"
          f" mean {(cs1 - cs0) / (cc1 - cc0):.2f} s held")
PY
