# Helpers of the end-to-end tests, sourced by each tests/e2e/test_*.sh (run.sh sets
# KUBECONFIG, KBIN, AIOS_BUILD_DIR, AIOS_CLUSTER_DIR, E2E_ROOT).
# Every wait is bounded; a failure prints what it waited for and exits 1.
set -euo pipefail

TEST="$(basename "$0" .sh)"
NS="e2e-${TEST#test_}"
NS="${NS//_/-}"

k() { "$KBIN/kubectl" "$@"; }
kn() { "$KBIN/kubectl" -n "$NS" "$@"; }
note() { printf '  [%s] %s\n' "$TEST" "$*" >&2; }
fail() {
  printf '  [%s] FAIL: %s\n' "$TEST" "$*" >&2
  kn get all,pvc -o wide >&2 2>/dev/null || true
  exit 1
}

# wait_until DESCRIPTION SECONDS CMD...: polls CMD every 0.5 s.
wait_until() {
  local what="$1" secs="$2"; shift 2
  local end=$((SECONDS + secs))
  while ((SECONDS < end)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  fail "timed out after ${secs}s waiting for: $what"
}

# A fresh namespace for this test, deleted (with everything in it) when the test ends.
setup_ns() {
  k delete namespace "$NS" --ignore-not-found --wait=true >/dev/null 2>&1 || true
  k create namespace "$NS" >/dev/null
  wait_until "the default ServiceAccount of $NS" 30 kn get serviceaccount default
  # the identity aios workload pods use (operator/workload-service-account.yaml: per namespace)
  kn create serviceaccount aios-workload >/dev/null
  trap 'k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
}

jp() { kn get "$1" -o "jsonpath=$2" 2>/dev/null || true; } # jp OBJECT JSONPATH ("" if it cannot be read)
phase_is() { [[ "$(jp "$1" '{.status.phase}')" == "$2" ]]; }

# Processes whose environment holds KEY=VALUE (the pods aios-node runs carry their env).
# running PID: the process exists and is not a zombie. A process killed after its parent
# (aios-node) died is reaped by the machine's PID 1 whenever that gets to it; until then
# it runs nothing and holds nothing but its number.
running() {
  local st
  st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

# gone_within SECS PID...: fails naming the first process still running after SECS.
gone_within() {
  local secs="$1" p end; shift
  end=$((SECONDS + secs))
  for p in "$@"; do
    while running "$p" && ((SECONDS < end)); do sleep 0.2; done
    running "$p" && { echo "$p"; return 1; }
  done
  return 0
}

pids_with_env() {
  grep -lzxF -- "$1" /proc/[0-9]*/environ 2>/dev/null | sed -n 's#^/proc/\([0-9]*\)/environ$#\1#p' || true
}

# predict MODELSERVICE X: the first prediction for [[X]] through the API server's
# service proxy (the Service named in status.url).
predict() {
  local ms="$1" x="$2" url hostport svc port server token ca out
  url="$(jp "modelservice/$ms" '{.status.url}')"
  hostport="${url#http://}"; hostport="${hostport%%/*}"
  svc="${hostport%%.*}"; port=80; [[ "$hostport" == *:* ]] && port="${hostport##*:}"
  server="$(k config view --raw --minify -o 'jsonpath={.clusters[0].cluster.server}')"
  token="$(k config view --raw --minify -o 'jsonpath={.users[0].user.token}')"
  ca="$(mktemp)"
  k config view --raw --minify -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}' | base64 -d > "$ca"
  out="$(curl -sS --max-time 5 --cacert "$ca" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"instances\": [[$x]]}" "$server/api/v1/namespaces/$NS/services/$svc:$port/proxy/v1/models/$ms:predict" 2>&1 || true)"
  rm -f "$ca"
  python3 -c 'import json,sys; p=json.loads(sys.argv[1])["predictions"][0]; print(p[0] if isinstance(p, list) else p)' "$out" 2>/dev/null \
    || { echo "no prediction: $out" >&2; return 1; }
}

# The PersistentVolumeClaim "models" of examples/pvc-models.yaml (the examples write
# pvc://models/...).
models_claim() {
  kn apply -f "$E2E_ROOT/../../examples/pvc-models.yaml" >/dev/null
}

# datasets_claim: applies examples/pvc-datasets.yaml, waits until the claim is Bound and sets
# DATASETS_DIR to its volume's directory on this machine (the PV's hostPath), as the CSV
# examples' comments copy their files there.
datasets_claim() {
  local pv
  kn apply -f "$E2E_ROOT/../../examples/pvc-datasets.yaml" >/dev/null
  wait_until "claim datasets Bound" 60 phase_is pvc/datasets Bound
  pv="$(jp pvc/datasets '{.spec.volumeName}')"
  DATASETS_DIR="$(k get pv "$pv" -o 'jsonpath={.spec.hostPath.path}')"
  [[ -d "$DATASETS_DIR" ]] || fail "PV $pv's hostPath '$DATASETS_DIR' is not a directory on this machine"
}

# long_job NAME EPOCHS CHECKPOINT_EVERY OUTPUT_URI [EXTRA_SPEC_YAML]: applies a linear
# TrainingJob on 1024 rows that trains for a while (1,000,000 epochs: about a minute on
# 2 cores), one log line per epoch; EXTRA_SPEC_YAML (e.g. "runPolicy: {backoffLimit: 3}")
# is added to its spec.
long_job() {
  local name="$1" epochs="$2" every="$3" out="$4" extra="${5:-}" features labels
  features="$(seq -s '],[' 1 1024)"
  labels="$(seq -s ',' 2 2 2048)"
  kn apply -f - >/dev/null <<YAML
apiVersion: aios.dev/v1alpha1
kind: TrainingJob
metadata: {name: ${name}}
spec:
  model: {type: linear}
  loss: mse
  optimizer: {type: sgd, learningRate: 0.01, batchSize: 4, epochs: ${epochs}, seed: 42}
  data:
    normalize: true
    inline:
      features: [[${features}]]
      labels: [${labels}]
  checkpoint: {everyEpochs: ${every}}
  output: {uri: ${out}}
  ${extra}
YAML
}

# watch_trials JOB PARALLELISM SECONDS: polls a searching TrainingJob until it ends
# (Succeeded or Failed, else fails after SECONDS) and fails the moment more than
# PARALLELISM trials have pods not yet finished (label aios.dev/trial, phase neither
# Succeeded nor Failed). Sets MAX_LIVE to the most trials seen alive at once.
MAX_LIVE=0
watch_trials() {
  local job="$1" par="$2" secs="$3" ph live
  local end=$((SECONDS + secs))
  MAX_LIVE=0
  while :; do
    ph="$(jp "trainingjob/$job" '{.status.phase}')"
    [[ "$ph" == Succeeded || "$ph" == Failed ]] && return 0
    ((SECONDS < end)) || fail "trainingjob $job still $ph after ${secs}s: $(jp "trainingjob/$job" '{.status}')"
    live="$(kn get pods -l "aios.dev/job=$job" -o 'jsonpath={range .items[*]}{.metadata.labels.aios\.dev/trial} {.status.phase}{"\n"}{end}' 2>/dev/null \
      | awk '$2 != "Succeeded" && $2 != "Failed" && $1 != "" {print $1}' | sort -u | wc -l)"
    ((live > MAX_LIVE)) && MAX_LIVE=$live
    ((live <= par)) || fail "$live trials of $job have live pods at once (parallelism $par)"
    sleep 0.5
  done
}
