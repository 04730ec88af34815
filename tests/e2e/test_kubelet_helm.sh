#!/usr/bin/env bash
# On the kubelet node kind: the operator installed from its image by real Helm 3.8.1
# (scripts/helm.sh) into its own namespace, with the cluster's local operator stopped so
# that the chart's pod holds the Lease: `helm install` (its Deployment Ready, running
# aios/operator as 65532), the seed example trained by that pod, `helm upgrade` to a
# changed value (the new pod runs with it), `helm test` (the chart's test pod reads the
# API from a pod), `helm uninstall`. The CRDs are the cluster's (crds.install=false: the
# cluster applied crds/ already, as after `kubectl apply -f crds/`).
# E2E_NODE=kubelet
# E2E_LIMIT=300
source "$(dirname "$0")/lib.sh"
HELM="$("$E2E_ROOT/../../scripts/helm.sh")"
REL=aios-h
HNS=aios-helm
h() { "$HELM" --kubeconfig "$KUBECONFIG" -n "$HNS" "$@"; }
restore() {
  h uninstall "$REL" >/dev/null 2>&1 || true
  k delete namespace "$HNS" --wait=false >/dev/null 2>&1 || true
  AIOS_CLUSTER_DIR="$AIOS_CLUSTER_DIR" "$E2E_ROOT/../../scripts/cluster.sh" operator start >/dev/null 2>&1 || true
  k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
}
setup_ns
trap restore EXIT
models_claim
"$E2E_ROOT/../../scripts/cluster.sh" operator start >/dev/null 2>&1 || true
"$E2E_ROOT/../../scripts/cluster.sh" operator stop >/dev/null || fail "could not stop the local operator"

out="$(h install "$REL" "$E2E_ROOT/../../helm/aios" --create-namespace \
  --set crds.install=false --set workload.serviceAccount.create=false --set leaderElection.enabled=true \
  --wait --timeout 120s 2>&1)" || fail "helm install failed: $out"
dep="$(k -n "$HNS" get deploy -l app.kubernetes.io/component=operator -o 'jsonpath={.items[0].metadata.name}')"
[[ "$dep" == aios-h-operator ]] || fail "helm install made operator Deployment '$dep'"
# the gateway: its Deployment of 2 replicas from aios/gateway, both available (--wait)
gdep="$(k -n "$HNS" get deploy -l app.kubernetes.io/component=gateway -o 'jsonpath={.items[0].metadata.name}')"
[[ "$gdep" == aios-h-gateway ]] || fail "helm install made gateway Deployment '$gdep'"
wait_until "Deployment $gdep has 2 available replicas" 90 bash -c "[[ \$('$KBIN/kubectl' -n $HNS get deploy $gdep -o 'jsonpath={.status.availableReplicas}') == 2 ]]"
gimg="$(k -n "$HNS" get pods -l app.kubernetes.io/instance=$REL,app.kubernetes.io/component=gateway -o 'jsonpath={.items[0].status.containerStatuses[0].image}')"
[[ "$gimg" == *aios/gateway:0.1.0 ]] || fail "gateway pod runs image '$gimg'"
note "gateway: Deployment $gdep, 2 replicas available, image $gimg"
wait_until "Deployment $dep available" 90 bash -c "[[ \$('$KBIN/kubectl' -n $HNS get deploy $dep -o 'jsonpath={.status.availableReplicas}') == 1 ]]"
pod="$(k -n "$HNS" get pods -l app.kubernetes.io/instance=$REL,app.kubernetes.io/component=operator -o 'jsonpath={.items[0].metadata.name}')"
img="$(k -n "$HNS" get pod "$pod" -o 'jsonpath={.status.containerStatuses[0].image}')"
[[ "$img" == *aios/operator:0.1.0 ]] || fail "operator pod runs image '$img'"
note "helm install: $pod Ready from $img"

# the chart's operator (its Lease is in its namespace: nothing else leads there) trains
kn apply -f "$E2E_ROOT/../../examples/trainingjob-linear.yaml" >/dev/null
wait_until "trainingjob linear Succeeded (reconciled by the Helm-installed operator)" 120 phase_is trainingjob/linear Succeeded
note "the seed example trained under the Helm-installed operator"

out="$(h upgrade "$REL" "$E2E_ROOT/../../helm/aios" --reuse-values --set operator.logLevel=debug --wait --timeout 120s 2>&1)" \
  || fail "helm upgrade failed: $out"
wait_until "the upgraded operator pod runs with --log-level=debug" 90 bash -c \
  "'$KBIN/kubectl' -n $HNS get pods -l app.kubernetes.io/instance=$REL,app.kubernetes.io/component=operator -o jsonpath='{range .items[*]}{.status.phase} {.spec.containers[0].args}{\"\\n\"}{end}' | grep -q 'Running.*--log-level=debug'"
[[ "$(h history "$REL" -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" == 2 ]] || fail "helm history has no second revision"
note "helm upgrade: revision 2, --log-level=debug"

out="$(h test "$REL" --timeout 90s 2>&1)" || fail "helm test failed: $out $(k -n "$HNS" logs aios-h-operator-test-api 2>&1 | tail -5)"
grep -q 'Phase:.*Succeeded' <<<"$out" || fail "helm test: $out"
note "helm test: passed"
out="$(h uninstall "$REL" 2>&1)" || fail "helm uninstall failed: $out"
exit 0
