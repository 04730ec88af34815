#!/usr/bin/env bash
# The seed example end to end: examples/trainingjob-linear.yaml (y = 2x) trains on the
# cluster, examples/modelservice-linear.yaml serves it, and the prediction for x = 5
# fetched over HTTP through the API server's service proxy is within 0.1 of 10.
# E2E_LIMIT=300
source "$(dirname "$0")/lib.sh"
setup_ns
models_claim
t0=$SECONDS
kn apply -f "$E2E_ROOT/../../examples/trainingjob-linear.yaml" >/dev/null
wait_until "trainingjob linear Succeeded" 180 phase_is trainingjob/linear Succeeded
uri="$(jp trainingjob/linear '{.status.artifact.uri}')"
[[ "$uri" == pvc://models/* ]] || fail "status.artifact.uri is '$uri'"
note "trained in $((SECONDS - t0))s: $uri"
kn apply -f "$E2E_ROOT/../../examples/modelservice-linear.yaml" >/dev/null
wait_until "modelservice linear Ready" 120 phase_is modelservice/linear Ready
pred=""
for _ in $(seq 1 20); do pred="$(predict linear 5)" && break; sleep 0.5; done
[[ -n "$pred" ]] || fail "no prediction from modelservice linear"
python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 10) <= 0.1 else 1)' "$pred" || fail "prediction $pred is not within 0.1 of 10"
note "prediction for x = 5: $pred, $((SECONDS - t0))s after kubectl apply"
exit 0
