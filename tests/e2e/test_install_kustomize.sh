#!/usr/bin/env bash
# The install a user runs: `kubectl apply -f crds/ && kubectl apply -k operator/` puts the
# operator Deployment on the cluster, and its pod reaches the API server with its
# ServiceAccount token through the `kubernetes` Service, TLS verified against the token
# secret's ca.crt. On aios-node the pod runs the built aios-operator for the image
# aios/operator and the Service is aios-node's forwarder on the bridge address
# (10.244.0.1); on the kubelet node kind (AIOS_E2E_NODE=kubelet) the kubelet runs the
# image aios/operator:0.1.0 in containerd and the Service is its ClusterIP 10.96.0.1
# (scripts/cluster.sh: a DNAT on the pods' bridge to the API forwarder).
#
# Only one operator ever acts: the cluster's local operator (scripts/cluster.sh) holds
# the Lease aios-system/aios-operator, so the new pod becomes Ready as a standby; the
# test checks it does not take the Lease, stops the local operator
# (`scripts/cluster.sh operator stop`), waits until the pod holds the Lease, then a
# TrainingJob trains (Succeeded) and a ModelService serves (Ready, prediction for 5
# within 0.1 of 10) with only the pod reconciling. On exit, pass or fail (trap), the
# Deployment is deleted, its pod gone, and the local operator started again and holding
# the Lease: the cluster is left as it was. The gap without a leader is at most one
# lease duration (15 s) each way.
# E2E_LIMIT=420
source "$(dirname "$0")/lib.sh"
ROOT="$(cd "$E2E_ROOT/../.." && pwd)"
CLUSTER_SH="$ROOT/scripts/cluster.sh"
LOCAL_ID=aios-operator-local # scripts/cluster.sh's --leader-election-identity
SYS=aios-system
ks() { "$KBIN/kubectl" -n "$SYS" "$@"; }
holder() { ks get lease aios-operator -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null || true; }
holder_is() { [[ "$(holder)" == "$1" ]]; }
op_pods() { ks get pods -l app.kubernetes.io/component=operator -o 'jsonpath={.items[*].metadata.name}' 2>/dev/null || true; }
no_op_pods() { [[ -z "$(op_pods)" ]]; }
local_alive() { [[ -f "$AIOS_CLUSTER_DIR/aios-operator.pid" ]] && kill -0 "$(cat "$AIOS_CLUSTER_DIR/aios-operator.pid")" 2>/dev/null; }
deployment_ready() { [[ "$(ks get deployment aios-operator -o 'jsonpath={.status.readyReplicas}' 2>/dev/null)" == 1 ]]; }

# --- preconditions: what this test switches must be there, and the certificate must
# name the address pods dial (clusters made before aios-node's forwarder lack it)
local_alive || fail "no local aios-operator running (pid file $AIOS_CLUSTER_DIR/aios-operator.pid): run scripts/cluster.sh up"
if [[ "${AIOS_E2E_NODE:-aios-node}" == kubelet ]]; then
  SVC_HOST=10.96.0.1 # the kubelet's env for the `kubernetes` Service: its ClusterIP
else
  SVC_HOST=10.244.0.1 # aios-node's forwarder on the bridge
  grep -q '"event":"apiserver_proxy"' "$AIOS_CLUSTER_DIR/aios-node.log" \
    || fail "aios-node runs no API server forwarder (no apiserver_proxy event in $AIOS_CLUSTER_DIR/aios-node.log): rebuild it and restart the cluster"
fi
grep -q "IP Address:$SVC_HOST" <<<"$(openssl x509 -in "$AIOS_CLUSTER_DIR/api/pki/apiserver.crt" -noout -text)" \
  || fail "the API server certificate does not name $SVC_HOST (the address pods dial): this cluster predates it, run scripts/cluster.sh down && scripts/cluster.sh up"
wait_until "the local operator holding the Lease $SYS/aios-operator" 30 holder_is "$LOCAL_ID"

setup_ns
models_claim

# Put the cluster back as it was, whatever happened; a failure to restore fails the test.
restore() {
  local rc=$? ok=1
  trap - EXIT
  ((rc == 0)) || ks get pods -l app.kubernetes.io/component=operator -o wide >&2 2>/dev/null || true
  ks delete -f "$ROOT/operator/deployment.yaml" --ignore-not-found --wait=true --timeout=60s >/dev/null 2>&1 || true
  local end=$((SECONDS + 60))
  while ((SECONDS < end)) && ! no_op_pods; do sleep 0.5; done
  no_op_pods || { note "restore: operator pods still there: $(op_pods)"; ok=0; }
  "$CLUSTER_SH" operator start >/dev/null 2>&1 || { note "restore: scripts/cluster.sh operator start failed"; ok=0; }
  end=$((SECONDS + 60))
  while ((SECONDS < end)) && ! holder_is "$LOCAL_ID"; do sleep 0.5; done
  holder_is "$LOCAL_ID" || { note "restore: the Lease is held by '$(holder)', not the local operator"; ok=0; }
  ((ok)) && note "restored: Deployment deleted, local operator running and leading"
  k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  ((ok)) || exit 1
  exit "$rc"
}
trap restore EXIT

# --- the install, exactly as the user runs it
t0=$SECONDS
out="$(cd "$ROOT" && k apply -f crds/ 2>&1 && k apply -k operator/ 2>&1)" \
  || fail "kubectl apply -f crds/ && kubectl apply -k operator/ failed: $out"
grep -qE '^deployment.apps/aios-operator (created|configured|unchanged)' <<<"$out" \
  || fail "kubectl apply -k operator/ did not apply the Deployment: $out"
wait_until "the operator Deployment's pod Ready" 120 deployment_ready
pod="$(op_pods)"
[[ "$pod" != *" "* && -n "$pod" ]] || fail "expected one operator pod, found '$pod'"
note "operator pod $pod Ready $((SECONDS - t0))s after kubectl apply"
if [[ "${AIOS_E2E_NODE:-aios-node}" == kubelet ]]; then
  img="$(ks get pod "$pod" -o 'jsonpath={.status.containerStatuses[0].image}')"
  [[ "$img" == docker.io/aios/operator:0.1.0 ]] || fail "operator pod $pod runs image '$img', not aios/operator:0.1.0"
fi

# what the pod got: the ServiceAccount, its token volume (ServiceAccount admission plugin,
# token controller's secret), and the `kubernetes` Service's address in its env
[[ "$(ks get pod "$pod" -o 'jsonpath={.spec.serviceAccountName}')" == aios-operator ]] \
  || fail "pod $pod does not run as the ServiceAccount aios-operator"
mounts="$(ks get pod "$pod" -o 'jsonpath={.spec.containers[0].volumeMounts[*].mountPath}')"
[[ " $mounts " == *" /var/run/secrets/kubernetes.io/serviceaccount "* ]] \
  || fail "pod $pod has no token volume at /var/run/secrets/kubernetes.io/serviceaccount (mounts: $mounts)"
pid="$(pids_with_env "POD_NAME=$pod" | head -1)"
[[ -n "$pid" ]] || fail "no process of pod $pod on this machine"
grep -qzx "KUBERNETES_SERVICE_HOST=$SVC_HOST" "/proc/$pid/environ" \
  || fail "process $pid of pod $pod lacks KUBERNETES_SERVICE_HOST=$SVC_HOST"
grep -qzx 'KUBERNETES_SERVICE_PORT=443' "/proc/$pid/environ" \
  || fail "process $pid of pod $pod lacks KUBERNETES_SERVICE_PORT=443"

# it reached the API server as itself: its informers listed (RBAC of operator/ lets
# system:serviceaccount:aios-system:aios-operator do that) and it waits for the Lease
podlog() { ks logs "$pod" 2>/dev/null || true; }
wait_until "pod $pod's informers synced" 60 bash -c "'$KBIN/kubectl' -n $SYS logs $pod 2>/dev/null | grep -q '\"event\":\"synced\"'"
id="$(podlog | sed -n 's/.*waiting for the Lease aios-system\\\/aios-operator as \([^"]*\)".*/\1/p' | head -1)"
[[ -n "$id" && "$id" != "$LOCAL_ID" ]] || fail "pod $pod does not wait for the Lease under its own identity (log: $(podlog | tail -5))"
note "pod $pod: token volume, KUBERNETES_SERVICE_HOST=$SVC_HOST, informers synced, standby as $id"

# a standby, not a second actor: the local operator keeps the Lease (3 of its 2 s renewals)
sleep 6
holder_is "$LOCAL_ID" || fail "the Lease moved to '$(holder)' while the local operator runs"
! grep -q 'acquired the Lease' <<<"$(podlog)" || fail "pod $pod started its workers while the local operator leads"

# --- the switch: stop the local operator; the pod takes the Lease
t1=$SECONDS
"$CLUSTER_SH" operator stop >/dev/null 2>&1 || fail "scripts/cluster.sh operator stop failed"
local_alive && fail "the local operator still runs after operator stop"
wait_until "pod $pod holding the Lease" 60 holder_is "$id"
wait_until "pod $pod starting its workers" 10 bash -c "'$KBIN/kubectl' -n $SYS logs $pod 2>/dev/null | grep -q 'acquired the Lease'"
note "pod $pod leads $((SECONDS - t1))s after the local operator stopped"

# --- the work, done by the pod alone
t2=$SECONDS
kn apply -f "$ROOT/examples/trainingjob-linear.yaml" >/dev/null
wait_until "trainingjob linear Succeeded (reconciled by pod $pod)" 180 phase_is trainingjob/linear Succeeded
kn apply -f "$ROOT/examples/modelservice-linear.yaml" >/dev/null
wait_until "modelservice linear Ready (reconciled by pod $pod)" 120 phase_is modelservice/linear Ready
pred=""
for _ in $(seq 1 20); do pred="$(predict linear 5)" && break; sleep 0.5; done
[[ -n "$pred" ]] || fail "no prediction from modelservice linear"
python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 10) <= 0.1 else 1)' "$pred" \
  || fail "prediction $pred is not within 0.1 of 10"
local_alive && fail "a local operator ran during the work"
holder_is "$id" || fail "the Lease left pod $pod during the work (holder '$(holder)')"
# the pod's own counters (its /metrics on the pod IP): it reconciled both kinds (a
# ModelService's reconcile ends in requeue_after while the autoscaler watches it)
podip="$(ks get pod "$pod" -o 'jsonpath={.status.podIP}')"
metrics="$(curl -sf --max-time 5 "http://$podip:8080/metrics" || true)"
for kind in trainingjob modelservice; do
  n="$(awk -v k="kind=\"$kind\"" '$1 ~ /^aios_operator_reconcile_total\{/ && index($1, k) && $1 !~ /result="error"/ {s += $2} END {print s + 0}' <<<"$metrics")"
  ((n > 0)) || fail "pod $pod counted no $kind reconcile without error (http://$podip:8080/metrics: $(grep '^aios_operator_reconcile_total' <<<"$metrics" | tr '\n' ' '))"
done
note "trained and served by pod $pod in $((SECONDS - t2))s; prediction for x = 5: $pred"
exit 0
