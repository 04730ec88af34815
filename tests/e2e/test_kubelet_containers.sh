#!/usr/bin/env bash
# On the kubelet node kind: the seed example trains and serves from the project's own
# images in real containers, and containerd shows them running from aios/trainer and
# aios/serve as uid 65532 with a read-only root filesystem (the pod security context
# the operator renders, enforced by runc).
# E2E_NODE=kubelet
# E2E_LIMIT=240
source "$(dirname "$0")/lib.sh"
CTRD_SOCK="$AIOS_CLUSTER_DIR/containerd/containerd.sock"
[[ -S "$CTRD_SOCK" ]] || fail "no containerd at $CTRD_SOCK: this test needs scripts/cluster.sh up --node kubelet"
setup_ns
models_claim

# container_spec POD CONTAINER: "IMAGE UID GID READONLY" of that container, from containerd
container_spec() {
  local id
  for id in $(ctr -a "$CTRD_SOCK" -n k8s.io containers ls -q); do
    ctr -a "$CTRD_SOCK" -n k8s.io containers info "$id" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin); l = d.get("Labels", {})
if l.get("io.kubernetes.pod.namespace") == sys.argv[1] and l.get("io.kubernetes.pod.name") == sys.argv[2] and l.get("io.kubernetes.container.name") == sys.argv[3]:
    u = d["Spec"]["process"]["user"]
    print(d["Image"], u["uid"], u["gid"], d["Spec"]["root"].get("readonly", False))
' "$NS" "$1" "$2"
  done | head -1
}

kn apply -f "$E2E_ROOT/../../examples/trainingjob-linear.yaml" >/dev/null
wait_until "a trainer pod of linear" 60 bash -c "'$KBIN/kubectl' -n '$NS' get pods -l aios.dev/job=linear -o name | grep -q ."
tpod="$(kn get pods -l aios.dev/job=linear -o 'jsonpath={.items[0].metadata.name}')"
wait_until "trainingjob linear Succeeded" 120 phase_is trainingjob/linear Succeeded
spec="$(container_spec "$tpod" trainer)"
[[ "$spec" == "docker.io/aios/trainer:0.1.0 65532 65532 True" ]] || fail "trainer container of $tpod: '$spec', want aios/trainer as 65532:65532, read-only root"
note "trainer: $spec"

kn apply -f "$E2E_ROOT/../../examples/modelservice-linear.yaml" >/dev/null
wait_until "modelservice linear Ready" 120 phase_is modelservice/linear Ready
spod="$(kn get pods -l aios.dev/service=linear -o 'jsonpath={.items[0].metadata.name}' 2>/dev/null)"
[[ -n "$spod" ]] || spod="$(kn get pods -o name | grep -v "$tpod" | head -1 | sed 's#pod/##')"
spec="$(container_spec "$spod" serve)"
[[ "$spec" == "docker.io/aios/serve:0.1.0 65532 65532 True" ]] || fail "serve container of $spod: '$spec', want aios/serve as 65532:65532, read-only root"
note "serve: $spec"
# and from the kernel's side: the server process's / is mounted ro, its uid is 65532
cid="$(ctr -a "$CTRD_SOCK" -n k8s.io containers ls | awk '/aios\/serve:/ {print $1; exit}')"
pid="$(ctr -a "$CTRD_SOCK" -n k8s.io tasks ls | awk -v id="$cid" '$1 == id {print $2}')"
[[ -n "$pid" ]] || fail "no running task of the serve container"
opts="$(awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo" | tail -1)"
[[ "$opts" == ro* ]] || fail "the serve container's / is mounted $opts, not read-only"
uid="$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")"
[[ "$uid" == 65532 ]] || fail "the serve process runs as uid $uid"
pred=""
for _ in $(seq 1 20); do pred="$(predict linear 5)" && break; sleep 0.5; done
[[ -n "$pred" ]] || fail "no prediction from modelservice linear"
python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 10) <= 0.1 else 1)' "$pred" || fail "prediction $pred is not within 0.1 of 10"
note "prediction for x = 5 from the aios/serve container: $pred"
exit 0
