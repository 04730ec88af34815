#!/usr/bin/env bash
# Benchmark of aios-operator's TrainingJob controller beside kube-controller-manager's Job
# controller, in the same run against the same real API server (etcd + kube-apiserver):
#   1. aios-operator (operator identity, operator/ RBAC, --workers 5) is started and ready;
#      N single-worker TrainingJobs are applied at once (8 client threads); seconds until
#      every pod exists; then one more ("probe") behind that backlog, timed to its own
#      pod; the operator's peak RSS (VmHWM) and anonymous memory, idle and at peak.
#   2. kube-controller-manager 1.20.2 (scripts/build-kube.sh) with --controllers=job
#      (its default --concurrent-job-syncs=5), caches synced; N equivalent batch/v1 Jobs
#      applied the same way; same measurements.
# Only one controller runs at a time (2 cores); no scheduler or kubelet, so pods stay
# Pending: the figure is the controllers' own work, create-to-pod.
#
#   bench/operator/run.sh [BUILD_DIR] [N]      (defaults: build, 500)
#
# Environment (for profiling; the figures in docs/operator.md use neither):
#   AIOS_BENCH_SIDES="aios kcm"   which sides to run (e.g. "aios" alone)
#   AIOS_BENCH_OPERATOR_WRAP=CMD  run the operator under CMD (e.g. "valgrind --tool=massif
#                                 --massif-out-file=/tmp/op.massif"); RSS is then CMD's
#   AIOS_KEEP_BENCH_DIR=1         keep the run's directory (logs, smaps_rollup files)
#
# Prints one JSON line per side (peak RSS = VmHWM; peak anon = RssAnon sampled every
# 100 ms; idle anon = RssAnon once ready, before the first create) and a summary line
# with anonymous bytes per cached object ((peak - idle) / (2N + 2): the jobs, their
# pods, the probe's two); figures go to docs/operator.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
case "${1:-}" in -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
BUILD="${1:-$ROOT/build}"
N="${2:-500}"
# kube-controller-manager makes about 6 pods a second here: 5,000 Jobs take ~15 minutes
TIMEOUT=$((N / 2 > 300 ? N / 2 : 300))
cmake --build "$BUILD" -j2 --target aios-bench-operator aios-operator >/dev/null
BENCH="$(find "$BUILD" -type f -name aios-bench-operator -perm -u+x | head -1)"
OPERATOR="$(find "$BUILD" -type f -name aios-operator -perm -u+x | head -1)"
KBIN="$("$ROOT/scripts/build-kube.sh")"
KUBECTL="$KBIN/kubectl"

DIR="$(mktemp -d /tmp/aios-bench-operator.XXXXXX)"
OP_PID="" KCM_PID="" SAMPLER=""
cleanup() {
  [[ -n "$OP_PID" ]] && kill "$OP_PID" 2>/dev/null && wait "$OP_PID" 2>/dev/null || true
  [[ -n "$KCM_PID" ]] && kill "$KCM_PID" 2>/dev/null && wait "$KCM_PID" 2>/dev/null || true
  "$ROOT/tests/cluster/apiserver.sh" down "$DIR" >/dev/null 2>&1 || true
  [[ "${AIOS_KEEP_BENCH_DIR:-0}" == 1 ]] || rm -rf "$DIR"
}
trap cleanup EXIT
source "$ROOT/bench/lib/quiet.sh"
bench_quiet_begin operator
"$ROOT/tests/cluster/apiserver.sh" up "$DIR" >/dev/null
KC="$DIR/admin.kubeconfig"
k() { "$KUBECTL" --kubeconfig "$KC" "$@"; }

k apply -f "$ROOT/crds" >/dev/null
for f in namespace service-account cluster-role cluster-role-binding leader-election-role leader-election-role-binding; do
  k apply -f "$ROOT/operator/$f.yaml" >/dev/null
done
k wait --for condition=established --timeout=60s crd/trainingjobs.aios.dev >/dev/null
# kube-controller-manager without per-controller service accounts (no token controller
# runs here) acts as system:kube-controller-manager: give it the Job controller's role.
k create clusterrolebinding bench-kcm-job --clusterrole=system:controller:job-controller \
  --user=system:kube-controller-manager >/dev/null
for ns in bench-tj bench-job; do
  k create namespace "$ns" >/dev/null
  # the service-account admission plugin wants `default` (no SA controller runs here)
  k -n "$ns" create serviceaccount default >/dev/null 2>&1 || true
done

peak_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status"; }
anon_kb() { awk '/^RssAnon:/{print $2}' "/proc/$1/status"; }
# Peak anonymous (private) memory, sampled every 100 ms into file $2: RSS also counts
# the shared libraries' pages (libc, json-c, libyaml: ~2 MB), a static Go binary none.
sample_anon() {
  local pid="$1" out="$2" max=0 v
  echo 0 >"$out"
  while kill -0 "$pid" 2>/dev/null; do
    v="$(awk '/^RssAnon:/{print $2}' "/proc/$pid/status" 2>/dev/null)"
    if [[ -n "$v" && "$v" -gt "$max" ]]; then max="$v"; echo "$max" >"$out"; fi
    sleep 0.1
  done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# ---- 1. aios-operator -------------------------------------------------------------
HP="$(free_port)" MP="$(free_port)"
SIDES="${AIOS_BENCH_SIDES:-aios kcm}"
if [[ " $SIDES " == *" aios "* ]]; then
# shellcheck disable=SC2086 # the wrapper is a command line
${AIOS_BENCH_OPERATOR_WRAP:-} "$OPERATOR" --kubeconfig "$DIR/operator.kubeconfig" --workers 5 --log-level warn \
  --metrics-bind-address "127.0.0.1:$MP" --health-probe-bind-address "127.0.0.1:$HP" \
  2>"$DIR/operator.log" &
OP_PID=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$HP/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$HP/readyz" >/dev/null || { tail "$DIR/operator.log" >&2; exit 1; }
sleep 1; TJ_IDLE="$(anon_kb "$OP_PID")"
sample_anon "$OP_PID" "$DIR/op.anon" & SAMPLER=$!
tj="$("$BENCH" --kubeconfig "$KC" --namespace bench-tj --kind trainingjob --count "$N" --timeout "$TIMEOUT")"
TJ_RSS="$(peak_kb "$OP_PID")"
cat "/proc/$OP_PID/smaps_rollup" >"$DIR/op.smaps_rollup" 2>/dev/null || true
kill "$OP_PID"; wait "$OP_PID" || true; OP_PID=""
wait "$SAMPLER" || true
TJ_ANON="$(cat "$DIR/op.anon")"
echo "${tj%\}},\"controller\":\"aios-operator\",\"peak_rss_kb\":$TJ_RSS,\"idle_anon_kb\":$TJ_IDLE,\"peak_anon_kb\":$TJ_ANON}"
fi
[[ " $SIDES " == *" kcm "* ]] || exit 0

# ---- 2. kube-controller-manager, Job controller only -------------------------------
"$KBIN/kube-controller-manager" --kubeconfig="$DIR/kube-controller-manager.kubeconfig" \
  --controllers=job --leader-elect=false --port=0 --secure-port=0 --v=2 2>"$DIR/kcm.log" &
KCM_PID=$!
for _ in $(seq 1 300); do grep -q 'Caches are synced for job' "$DIR/kcm.log" && break; sleep 0.1; done
grep -q 'Caches are synced for job' "$DIR/kcm.log" || { tail "$DIR/kcm.log" >&2; exit 1; }
sleep 1; KCM_IDLE="$(anon_kb "$KCM_PID")"
sample_anon "$KCM_PID" "$DIR/kcm.anon" & SAMPLER=$!
job="$("$BENCH" --kubeconfig "$KC" --namespace bench-job --kind job --count "$N" --timeout "$TIMEOUT")"
KCM_RSS="$(peak_kb "$KCM_PID")"
cat "/proc/$KCM_PID/smaps_rollup" >"$DIR/kcm.smaps_rollup" 2>/dev/null || true
kill "$KCM_PID"; wait "$KCM_PID" || true; KCM_PID=""
wait "$SAMPLER" || true
KCM_ANON="$(cat "$DIR/kcm.anon")"
echo "${job%\}},\"controller\":\"kube-controller-manager --controllers=job\",\"peak_rss_kb\":$KCM_RSS,\"idle_anon_kb\":$KCM_IDLE,\"peak_anon_kb\":$KCM_ANON}"

[[ " $SIDES " == *" aios "* ]] || exit 0
field() { sed -E "s/.*\"$1\":([0-9.-]+).*/\\1/" <<<"$2"; }
# cached objects: the N jobs, their N pods and the probe's two
awk -v n="$N" -v t1="$(field all_pods_seconds "$tj")" -v t2="$(field all_pods_seconds "$job")" \
  -v p1="$(field probe_pod_seconds "$tj")" -v p2="$(field probe_pod_seconds "$job")" \
  -v r1="$TJ_RSS" -v r2="$KCM_RSS" -v a1="$TJ_ANON" -v a2="$KCM_ANON" -v i1="$TJ_IDLE" -v i2="$KCM_IDLE" 'BEGIN{
  o = 2 * n + 2
  printf "{\"summary\":true,\"count\":%d,\"aios_seconds\":%s,\"kcm_seconds\":%s,\"speedup\":%.2f,\"aios_probe_seconds\":%s,\"kcm_probe_seconds\":%s,\"aios_rss_mb\":%.1f,\"kcm_rss_mb\":%.1f,\"rss_ratio\":%.3f,\"aios_anon_mb\":%.1f,\"kcm_anon_mb\":%.1f,\"anon_ratio\":%.3f,\"aios_anon_bytes_per_object\":%.0f,\"kcm_anon_bytes_per_object\":%.0f,\"aios_anon_mib_per_1000_objects\":%.2f}\n",
    n, t1, t2, t2/t1, p1, p2, r1/1024, r2/1024, r1/r2, a1/1024, a2/1024, (a2 > 0 ? a1/a2 : 0),
    (a1 - i1) * 1024 / o, (a2 - i2) * 1024 / o, (a1 - i1) * 1000 / o / 1024 }'
