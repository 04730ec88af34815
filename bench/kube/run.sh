#!/usr/bin/env bash
# Benchmark of the Kubernetes client (bench/kube/bench_kube.c) beside kubectl, in the
# same run against the same real API server:
#   - LIST of 1,000 ConfigMaps, paginated by 500: aios vs `kubectl get --chunk-size=500
#     -o json` (kubectl 1.20.2 from the build cache); wall time and peak RSS, 5 runs each
#   - WATCH of 1,000 events (replayed from a resourceVersion): aios (parses every
#     event) vs curl reading the same stream raw (a floor: no parsing at all)
#   kubectl's time includes its start, discovery (cached under ~/.kube/cache after the
#   first run) and printing 1,000 objects as JSON: it is what a user waits for.
#
#   bench/kube/run.sh [BUILD_DIR]      (default: build; builds aios-bench-kube)
#
# Brings up its own etcd + kube-apiserver (tests/cluster/apiserver.sh) and tears it down.
# Prints one JSON line per measurement and a summary; record figures in docs/internals/kube.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
case "${1:-}" in -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
BUILD="${1:-$ROOT/build}"
N=1000
RUNS=5
cmake --build "$BUILD" -j2 --target aios-bench-kube >/dev/null
BENCH="$(find "$BUILD" -type f -name aios-bench-kube -perm -u+x | head -1)"
KUBECTL="$("$ROOT/scripts/build-kube.sh")/kubectl"
[[ -x /usr/bin/time ]] || { echo "bench/kube: /usr/bin/time missing (scripts/install-deps.sh --bench)" >&2; exit 1; }

DIR="$(mktemp -d /tmp/aios-bench-kube.XXXXXX)"
trap '"$ROOT/tests/cluster/apiserver.sh" down "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
source "$ROOT/bench/lib/quiet.sh"
bench_quiet_begin kube
"$ROOT/tests/cluster/apiserver.sh" up "$DIR" >/dev/null
KC="$DIR/admin.kubeconfig"
NS=bench
TOKEN="$(awk -F, '$2=="admin"{print $1}' "$DIR/tokens.csv")"
URL="$(cat "$DIR/url")"

seed="$("$BENCH" --kubeconfig "$KC" --namespace "$NS" seed "$N")"
echo "$seed"
RV="$(sed -E 's/.*"rv_before":"([0-9]+)".*/\1/' <<<"$seed")"

for i in $(seq 1 $RUNS); do
  "$BENCH" --kubeconfig "$KC" --namespace "$NS" list --limit 500
  # %e elapsed s, %M peak RSS KiB
  /usr/bin/time -f '{"op":"list","client":"kubectl","seconds":%e,"peak_rss_kb":%M}' \
    "$KUBECTL" --kubeconfig "$KC" -n "$NS" get configmaps --chunk-size=500 -o json 2>&1 >/dev/null | tail -1
done
for i in $(seq 1 $RUNS); do
  "$BENCH" --kubeconfig "$KC" --namespace "$NS" watch --from "$RV" --count "$N"
  # curl reads the same stream without parsing it; time to the N-th line. curl runs as
  # a process substitution so we need not wait for the stream's end, and is killed by
  # its PID once head has its lines.
  s=$(date +%s.%N)
  exec {fd}< <(exec curl -sN --cacert "$DIR/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
    "$URL/api/v1/namespaces/$NS/configmaps?watch=true&resourceVersion=$RV&timeoutSeconds=30")
  cpid=$!
  head -n "$N" <&"$fd" >/dev/null
  e=$(date +%s.%N)
  kill "$cpid" 2>/dev/null || true
  exec {fd}<&-
  printf '{"op":"watch","client":"curl-raw","events":%d,"seconds":%.3f}\n' "$N" "$(awk -v a="$s" -v b="$e" 'BEGIN{print b-a}')"
done
