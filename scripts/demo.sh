#!/usr/bin/env bash
# The README's first command: the main job of aios on a one-machine cluster.
#
#   scripts/demo.sh [--fresh] [--node aios-node|kubelet]
#
# Installs the dependencies (apt-get), builds everything (cmake, in build/), starts the
# local cluster (scripts/cluster.sh; reused when already up), applies the seed example
# examples/trainingjob-linear.yaml (y = 2x) and waits for it with its progress shown,
# then applies examples/modelservice-linear.yaml, waits for it to be Ready, and prints
# the model's prediction for x = 5, fetched over HTTP through the API server's service
# proxy. Exits 0 only when the prediction is within 0.1 of 10.
#
# --fresh deletes the example's TrainingJob and ModelService first (a run from apply to
# prediction, as timed in docs/local-cluster.md); without it a job that already
# succeeded is reused.
#
# --node kubelet runs it on the kubelet node kind (scripts/cluster.sh up --node kubelet: a
# real kubelet and containerd running the images of scripts/images.sh); the default is
# aios-node, which starts faster (docs/local-cluster.md).
#
# Environment: AIOS_BUILD_DIR (default <repo>/build), AIOS_CLUSTER_DIR (see cluster.sh),
# AIOS_DEMO_TIMEOUT (seconds per wait, default 300).
# Exit codes: 0 prediction within 0.1 of 10; 1 a step failed (the message says which);
# 2 bad usage; 3 something aios needs is not built or written yet.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export AIOS_BUILD_DIR="${AIOS_BUILD_DIR:-$ROOT/build}"
BUILD="$AIOS_BUILD_DIR"
TIMEOUT="${AIOS_DEMO_TIMEOUT:-300}"
NS=default
FRESH=0
NODE_KIND=aios-node
while (($#)); do
  case "$1" in
    --fresh) FRESH=1; shift ;;
    --node) NODE_KIND="${2:-}"; shift 2 || { echo "demo.sh: --node needs aios-node or kubelet" >&2; exit 2; } ;;
    --node=*) NODE_KIND="${1#--node=}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$NODE_KIND" in
  aios-node) CLUSTER_DIR="${AIOS_CLUSTER_DIR:-/var/lib/aios-cluster}" ;;
  kubelet) CLUSTER_DIR="${AIOS_CLUSTER_DIR:-/var/lib/aios-cluster-kubelet}" ;;
  *) echo "demo.sh: --node '$NODE_KIND': use aios-node or kubelet" >&2; exit 2 ;;
esac

T0=$SECONDS
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
missing() { printf 'demo: cannot run yet: %s\n' "$*" >&2; exit 3; }

[[ $EUID -eq 0 ]] || die "run as root (sudo scripts/demo.sh): the local cluster's node agent creates a bridge and network namespaces"

say "installing dependencies"
"$ROOT/scripts/install-deps.sh"

say "building aios in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# everything (tests, plugin, benchmarks too); what the demo itself needs is checked after
cmake --build "$BUILD" -j2 >"$BUILD/demo-build.log" 2>&1 || echo "demo: the full build reported errors (see $BUILD/demo-build.log); checking what the demo needs" >&2
for p in node operator trainer serve; do
  [[ -x "$BUILD/src/$p/aios-$p" ]] || missing "aios-$p is not built (src/$p is not there yet, or it failed to build: cmake --build $BUILD)"
done
for f in examples/trainingjob-linear.yaml examples/modelservice-linear.yaml crds/trainingjobs.aios.dev.yaml crds/modelservices.aios.dev.yaml; do
  [[ -f "$ROOT/$f" ]] || missing "$f is not written yet"
done

say "starting the local cluster, node kind $NODE_KIND (reused when already up)"
KUBECONFIG="$("$ROOT/scripts/cluster.sh" up --node "$NODE_KIND")"
export KUBECONFIG
KBIN="${AIOS_KUBE_BIN:-$("$ROOT/scripts/build-kube.sh")}"
k() { "$KBIN/kubectl" "$@"; }

if ((FRESH)); then
  k -n "$NS" delete modelservice linear --ignore-not-found --wait=true >/dev/null
  k -n "$NS" delete trainingjob linear --ignore-not-found --wait=true >/dev/null
fi

# The seed writes its model to pvc://models/...: the claim is made here, and bound (the
# default StorageClass aios-local) to a volume aios-node's provisioner makes, or on the
# kubelet kind to one of the hostPath volumes scripts/cluster.sh made at `up`.
k -n "$NS" apply -f "$ROOT/examples/pvc-models.yaml" >/dev/null

say "training: kubectl apply -f examples/trainingjob-linear.yaml"
T_APPLY=$SECONDS
k -n "$NS" apply -f "$ROOT/examples/trainingjob-linear.yaml" >/dev/null
last=""
for ((i = 0; i < TIMEOUT * 2; i++)); do
  line="$(k -n "$NS" get trainingjob linear -o 'jsonpath={.status.phase}|{.status.progress.epoch}/{.status.progress.epochs}|{.status.progress.loss}|{.status.progress.percent}' 2>/dev/null || true)"
  IFS='|' read -r phase epochs loss pct <<<"$line" || true
  if [[ "$line" != "$last" ]]; then
    printf '  trainingjob/linear  %-10s epoch %-9s loss %-12s %s%%\n' "${phase:-Pending}" "${epochs:-?}" "${loss:--}" "${pct:-0}" >&2
    last="$line"
  fi
  case "$phase" in
    Succeeded) break ;;
    Failed)
      k -n "$NS" get trainingjob linear -o 'jsonpath={range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' >&2
      die "the TrainingJob failed (kubectl -n $NS describe trainingjob linear; kubectl logs -l aios.dev/job=linear)" ;;
  esac
  if ((i == 60)) && [[ -z "$phase" ]]; then
    missing "aios-operator has not reconciled the TrainingJob after 30 s (its log: $CLUSTER_DIR/aios-operator.log)"
  fi
  sleep 0.5
done
[[ "$phase" == Succeeded ]] || die "the TrainingJob did not succeed within ${TIMEOUT}s (phase ${phase:-none})"
say "trained in $((SECONDS - T_APPLY))s: $(k -n "$NS" get trainingjob linear -o 'jsonpath={.status.artifact.uri} (sha256 {.status.artifact.sha256})')"

say "serving: kubectl apply -f examples/modelservice-linear.yaml"
k -n "$NS" apply -f "$ROOT/examples/modelservice-linear.yaml" >/dev/null
last=""
for ((i = 0; i < TIMEOUT * 2; i++)); do
  line="$(k -n "$NS" get modelservice linear -o 'jsonpath={.status.phase}|{.status.readyReplicas}/{.status.desiredReplicas}' 2>/dev/null || true)"
  IFS='|' read -r phase reps <<<"$line" || true
  if [[ "$line" != "$last" ]]; then
    printf '  modelservice/linear  %-10s replicas ready %s\n' "${phase:-Pending}" "${reps:-0/?}" >&2
    last="$line"
  fi
  [[ "$phase" == Ready ]] && break
  [[ "$phase" == Failed ]] && die "the ModelService failed (kubectl -n $NS describe modelservice linear)"
  if ((i == 60)) && [[ -z "$phase" ]]; then
    missing "aios-operator has not reconciled the ModelService after 30 s: is its ModelService controller written yet? (log: $CLUSTER_DIR/aios-operator.log)"
  fi
  sleep 0.5
done
[[ "$phase" == Ready ]] || die "the ModelService was not Ready within ${TIMEOUT}s (phase ${phase:-none})"

# status.url is the Service's in-cluster address, http://NAME.NAMESPACE.svc...[:PORT]
url="$(k -n "$NS" get modelservice linear -o 'jsonpath={.status.url}')"
hostport="${url#http://}"; hostport="${hostport%%/*}"
svc="${hostport%%.*}"
port=80; [[ "$hostport" == *:* ]] && port="${hostport##*:}"
[[ -n "$svc" ]] || svc=linear
say "predicting x = 5 through the API server's service proxy (service $svc, port $port)"
server="$(k config view --raw --minify -o 'jsonpath={.clusters[0].cluster.server}')"
token="$(k config view --raw --minify -o 'jsonpath={.users[0].user.token}')"
ca="$(mktemp)"; trap 'rm -f "$ca"' EXIT
k config view --raw --minify -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}' | base64 -d > "$ca"
answer=""
for _ in $(seq 1 20); do # the Endpoints may trail the Ready status by a moment
  answer="$(curl -sS --max-time 5 --cacert "$ca" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"instances": [[5]]}' "$server/api/v1/namespaces/$NS/services/$svc:$port/proxy/v1/models/linear:predict" 2>&1 || true)"
  [[ "$answer" == *predictions* ]] && break
  sleep 0.5
done
echo "$answer"
[[ "$answer" == *predictions* ]] || die "no prediction came back: $answer"
pred="$(python3 -c 'import json,sys; p=json.loads(sys.argv[1])["predictions"][0]; print(p[0] if isinstance(p, list) else p)' "$answer")"
say "prediction for x = 5: $pred (first prediction $((SECONDS - T_APPLY))s after kubectl apply; whole run $((SECONDS - T0))s)"
python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 10) <= 0.1 else 1)' "$pred" \
  || die "the prediction $pred is not within 0.1 of 10"
