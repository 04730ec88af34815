#!/usr/bin/env bash
# bench/e2e/run.sh - the seed example from `kubectl apply` to TrainingJob Succeeded and to
# its first prediction, on the local cluster, beside Kubernetes' own controllers running
# the same pods in the same run.
#
#   bench/e2e/run.sh [--node aios-node|kubelet] [--runs N]     (defaults: aios-node, 5)
#
# Per run, after deleting what the previous run made:
#   aios        kubectl apply of examples/trainingjob-linear.yaml and
#               examples/modelservice-linear.yaml together: seconds to the TrainingJob's
#               phase Succeeded, to the ModelService's phase Ready, and to the first
#               prediction answered through the API server's service proxy
#   Job         a batch/v1 Job whose pod template is the trainer pod aios-operator rendered
#               (same image, command, spec and volumes; restartPolicy Never): seconds to
#               the Job controller's Complete condition
#   Deployment  a Deployment + Service whose pod template is the serving pod aios-operator
#               rendered (same image, model, probes): seconds to the first prediction
# The pod templates are read from one warm-up run, which is not counted. Clocks start
# before kubectl starts; states come from WATCH streams (bench/e2e/timeline.py).
#
# The cluster is scripts/cluster.sh's (started when down; kept up after). The measured
# part starts once the 1-minute load is below 0.8 (cluster start-up makes load); quietness
# is judged by bench/lib/quiet.sh from there to the end.
#
# Environment: AIOS_BUILD_DIR (default <repo>/build; the cluster runs its binaries),
# AIOS_CLUSTER_DIR (cluster.sh's), AIOS_BENCH_RECORD (see bench/lib/quiet.sh).
# Exit codes: 0 done; 1 a step failed; 2 bad usage; 3 (with AIOS_BENCH_RECORD) not quiet.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
NODE=aios-node RUNS=5
while (($#)); do
  case "$1" in
    --node) NODE="${2:-}"; shift 2 || { echo "run.sh: --node needs aios-node or kubelet" >&2; exit 2; } ;;
    --runs) RUNS="${2:-}"; shift 2 || { echo "run.sh: --runs needs a number" >&2; exit 2; } ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$NODE" in aios-node|kubelet) ;; *) echo "run.sh: --node '$NODE': use aios-node or kubelet" >&2; exit 2 ;; esac
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs '$RUNS' is not a positive number" >&2; exit 2; }

export AIOS_BUILD_DIR="${AIOS_BUILD_DIR:-$ROOT/build}"
KUBECONFIG="$("$ROOT/scripts/cluster.sh" up --node "$NODE")"
export KUBECONFIG
KBIN="${AIOS_KUBE_BIN:-$("$ROOT/scripts/build-kube.sh")}"
KUBECTL="$KBIN/kubectl"
k() { "$KUBECTL" -n default "$@"; }
TL=(/usr/bin/python3 "$ROOT/bench/e2e/timeline.py" "$KUBECTL" "$KUBECONFIG" default)
WORK="$(mktemp -d /tmp/aios-bench-e2e.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

k apply -f "$ROOT/examples/pvc-models.yaml" >/dev/null
cat "$ROOT/examples/trainingjob-linear.yaml" > "$WORK/aios.yaml"
printf -- '---\n' >> "$WORK/aios.yaml"
cat "$ROOT/examples/modelservice-linear.yaml" >> "$WORK/aios.yaml"

clean() {
  k delete modelservice linear --ignore-not-found --wait=true >/dev/null
  k delete trainingjob linear --ignore-not-found --wait=true >/dev/null
  k delete job linear-peer --ignore-not-found --wait=true --cascade=foreground >/dev/null 2>&1 ||
    k delete job linear-peer --ignore-not-found --wait=true >/dev/null
  k delete deployment linear-peer --ignore-not-found --wait=true --cascade=foreground >/dev/null 2>&1 ||
    k delete deployment linear-peer --ignore-not-found --wait=true >/dev/null
  k delete service linear-peer --ignore-not-found >/dev/null
  # pods the controllers made go away before the next run starts
  for _ in $(seq 1 300); do
    [[ -z "$(k get pods -l 'aios.dev/job=linear' -o name 2>/dev/null)$(k get pods -l 'app=linear-peer' -o name 2>/dev/null)$(k get pods -l 'job-name=linear-peer' -o name 2>/dev/null)$(k get pods -l 'aios.dev/service=linear' -o name 2>/dev/null)" ]] && break
    sleep 0.2
  done
  sleep 1
}

echo "bench e2e: node kind $NODE, $RUNS runs; warm-up run (not counted)" >&2
clean
"${TL[@]}" trainingjob "$WORK/aios.yaml" > "$WORK/warmup.json"
k get pods -l 'aios.dev/job=linear' -o json > "$WORK/trainer-pods.json"
k get pods -l 'aios.dev/service=linear' -o json > "$WORK/serve-pods.json"
/usr/bin/python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
def template(path, labels):
    pods = json.load(open(path))["items"]
    if not pods:
        sys.exit(f"run.sh: no pod in {path}: the warm-up run made none")
    spec = pods[0]["spec"]
    for f in ("nodeName", "hostname", "subdomain", "priority", "enableServiceLinks", "preemptionPolicy"):
        spec.pop(f, None)
    # the token volume the API server injected is injected again for the peer
    spec["volumes"] = [v for v in spec.get("volumes", []) if not v["name"].startswith("kube-api-access") and
                       not v["name"].endswith("-token") and "-token-" not in v["name"]]
    for c in spec["containers"]:
        c["volumeMounts"] = [m for m in c.get("volumeMounts", []) if any(v["name"] == m["name"] for v in spec["volumes"])]
    return {"metadata": {"labels": labels}, "spec": spec}
t = template(f"{work}/trainer-pods.json", {"app": "linear-peer-train"})
t["spec"]["restartPolicy"] = "Never"
for c in t["spec"]["containers"]:
    for e in c.get("env", []):  # its own output file, so the two never write one path
        if "value" in e and "linear.aios" in e["value"]:
            e["value"] = e["value"].replace("linear.aios", "linear-peer.aios")
job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "linear-peer"},
       "spec": {"backoffLimit": 0, "template": t}}
json.dump(job, open(f"{work}/job.json", "w"))
s = template(f"{work}/serve-pods.json", {"app": "linear-peer"})
dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "linear-peer"},
       "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "linear-peer"}}, "template": s}}
port = s["spec"]["containers"][0]["ports"][0]["containerPort"]
svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "linear-peer"},
       "spec": {"selector": {"app": "linear-peer"}, "ports": [{"name": "http", "port": 80, "targetPort": port}]}}
json.dump({"apiVersion": "v1", "kind": "List", "items": [dep, svc]}, open(f"{work}/deployment.json", "w"))
PY

for _ in $(seq 1 60); do awk '{exit !($1 < 0.8)}' /proc/loadavg && break; sleep 5; done
# the cluster is the system under test: its CPU is the benchmark's own (bench/lib/quiet.sh)
export AIOS_BENCH_OWN="etcd kube-apiserver kube-controller kube-scheduler aios-node aios-operator containerd kubelet containerd-shim"
source "$ROOT/bench/lib/quiet.sh"
bench_quiet_begin "e2e-$NODE"
: > "$WORK/results"
for i in $(seq 1 "$RUNS"); do
  clean
  a="$("${TL[@]}" trainingjob "$WORK/aios.yaml")"
  clean
  j="$("${TL[@]}" job "$WORK/job.json" linear-peer)"
  clean
  d="$("${TL[@]}" deployment "$WORK/deployment.json" linear-peer)"
  echo "run $i: aios $a; Job $j; Deployment $d"
  printf '%s\n%s\n%s\n' "$a" "$j" "$d" >> "$WORK/results"
done
clean
/usr/bin/python3 - "$WORK/results" "$NODE" "$RUNS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def fig(mode, key):
    v = sorted(r[key] for r in rows if r["mode"] == mode)
    return f"median {statistics.median(v):.2f} s (min {v[0]:.2f}, max {v[-1]:.2f})"
print(f"seed example on {sys.argv[2]}, {sys.argv[3]} runs, clock from before kubectl starts:")
print(f"  kubectl apply -> TrainingJob Succeeded    {fig('trainingjob', 'succeeded_s')}")
print(f"  batch/v1 Job, same pod -> Complete        {fig('job', 'succeeded_s')}")
print(f"  kubectl apply -> ModelService Ready       {fig('trainingjob', 'ready_s')}")
print(f"  kubectl apply -> first prediction         {fig('trainingjob', 'first_prediction_s')}  (training included)")
print(f"  Deployment+Service, same pod -> first prediction  {fig('deployment', 'first_prediction_s')}  (model already trained)")
preds = [r["prediction"] for r in rows if "prediction" in r]
print(f"  predictions for x = 5: {', '.join(str(p) for p in preds)}")
PY
