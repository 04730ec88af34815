#!/usr/bin/env bash
# A ModelService under load scales up and, when the load stops, back down: the
# autoscaler (rps, target 100 requests/s per replica) sees a generator of 40 clients
# sending for 60 s (tests/e2e/serve_load.py), raises desiredReplicas above 1 and gets
# more Ready pods; after the load ends it returns to min (1) after its scale-down delay.
# The generator is bounded in requests, concurrency and time.
# E2E_LIMIT=420
source "$(dirname "$0")/lib.sh"
setup_ns
models_claim
kn apply -f "$E2E_ROOT/../../examples/trainingjob-linear.yaml" >/dev/null
wait_until "trainingjob linear Succeeded" 180 phase_is trainingjob/linear Succeeded
# The example scales on concurrency (target 10 in flight); a loopback generator in Python
# keeps only ~1 request in flight against a server answering in milliseconds, so the test
# scales on rps instead (target 100/s per replica; the generator sends several hundred/s),
# with shorter windows so that it fits its time limit.
sed -e 's/scaleDownDelaySeconds: 60/scaleDownDelaySeconds: 10/' -e 's/stableWindowSeconds: 30/stableWindowSeconds: 12/' \
  -e 's/metric: concurrency/metric: rps/' -e 's/target: 10$/target: 100/' \
  "$E2E_ROOT/../../examples/modelservice-autoscaling.yaml" | kn apply -f - >/dev/null
wait_until "modelservice linear-autoscaled Ready" 120 phase_is modelservice/linear-autoscaled Ready
url="$(jp modelservice/linear-autoscaled '{.status.url}')"
svc="${url#http://}"; svc="${svc%%.*}"
[[ -n "$svc" ]] || fail "modelservice linear-autoscaled has no status.url"
# tests/e2e/serve_load.py, as test_serve_pod_kill uses it, without its kill accounting:
# a failed address stays in the rotation (pods come and go while it runs), 64 rows a
# request as a batch client sends them.
note "load: 40 concurrent clients for 60 s (at most 200000 requests) over the Endpoints of $svc"
python3 "$E2E_ROOT/serve_load.py" --kubectl "$KBIN/kubectl" --namespace "$NS" --endpoints "$svc" \
  --model linear-autoscaled --connections 40 --duration 60 --max-duration 60 --max-requests 200000 \
  --instances 64 --no-eject &
gen=$!
trap 'kill $gen 2>/dev/null || true; k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
max=1
end=$((SECONDS + 75))
while ((SECONDS < end)); do
  d="$(jp modelservice/linear-autoscaled '{.status.desiredReplicas}')"
  ((${d:-1} > max)) && max=$d
  ((max >= 2)) && break
  sleep 1
done
((max >= 2)) || { kill $gen 2>/dev/null || true; fail "desiredReplicas never rose above 1 under load (metrics: $(jp modelservice/linear-autoscaled '{.status.metrics}'))"; }
note "scaled up: desiredReplicas $max"
wait_until "2 or more Ready replicas" 90 bash -c "(( \$('$KBIN/kubectl' -n $NS get modelservice linear-autoscaled -o 'jsonpath={.status.readyReplicas}') >= 2 ))"
wait "$gen" || fail "the load client failed"
note "load stopped; waiting for the scale-down"
wait_until "desiredReplicas back to 1" 180 bash -c "[[ \$('$KBIN/kubectl' -n $NS get modelservice linear-autoscaled -o 'jsonpath={.status.desiredReplicas}') == 1 ]]"
wait_until "one pod left" 90 bash -c "(( \$('$KBIN/kubectl' -n $NS get pods -o name | grep -vc linear-g || true) <= 1 ))"
note "scaled back down to 1"
exit 0
