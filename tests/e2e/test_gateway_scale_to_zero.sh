#!/usr/bin/env bash
# Scale to zero behind aios-gateway (docs/gateway.md): a ModelService with replicas.min 0
# and a 10 s grace serves through the gateway's one entry (127.0.0.1:18090, namespace by
# path prefix), goes to zero once idle (phase ScaledToZero, no pod), and answers its next
# request after a cold start held at the gateway (printed, with the gateway's own
# aios_gateway_cold_start_seconds); status.coldStarts counts it. Also: an unknown model is a
# JSON 404. Every request is bounded (curl --max-time), every wait too.
# E2E_LIMIT=360
source "$(dirname "$0")/lib.sh"
GW="http://127.0.0.1:18090"
curl -sf --max-time 2 "$GW/readyz" >/dev/null || fail "aios-gateway does not answer on $GW (scripts/cluster.sh starts it)"
setup_ns
models_claim
kn apply -f "$E2E_ROOT/../../examples/trainingjob-linear.yaml" >/dev/null
wait_until "trainingjob linear Succeeded" 180 phase_is trainingjob/linear Succeeded
kn apply -f - >/dev/null <<'YAML'
apiVersion: aios.dev/v1alpha1
kind: ModelService
metadata: {name: linear-zero}
spec:
  model: {trainingJob: linear}
  runtime: {threads: 1}
  replicas: {min: 0, max: 2}
  autoscaling:
    stableWindowSeconds: 6
    panicWindowSeconds: 2
    scaleToZeroGraceSeconds: 10
    coldStartQueueSize: 10
    coldStartTimeoutSeconds: 90
YAML
wait_until "modelservice linear-zero Ready (its first pod)" 120 phase_is modelservice/linear-zero Ready

# predict_gw X: one prediction for [[X]] through the gateway; prints "HTTP-code seconds body"
predict_gw() {
  curl -s --max-time 100 -o /tmp/gw-e2e-body.$$ -w '%{http_code} %{time_total}' \
    -H 'Content-Type: application/json' -d "{\"instances\": [[$1]]}" \
    "$GW/namespaces/$NS/v1/models/linear-zero:predict" || true
  echo " $(cat /tmp/gw-e2e-body.$$ 2>/dev/null)"
  rm -f /tmp/gw-e2e-body.$$
}
out="$(predict_gw 3)"
[[ "$out" == 200\ * ]] || fail "warm prediction through the gateway: $out"
note "warm: $out"
code="$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' -d '{}' "$GW/namespaces/$NS/v1/models/nope:predict" || true)"
[[ "$code" == 404 ]] || fail "unknown model: HTTP $code, want 404"

t0=$SECONDS
wait_until "modelservice linear-zero ScaledToZero (grace 10 s)" 120 phase_is modelservice/linear-zero ScaledToZero
wait_until "no inference pod left" 60 bash -c "[[ -z \"\$('$KBIN/kubectl' -n $NS get pods -l aios.dev/service=linear-zero -o name 2>/dev/null)\" ]]"
note "idle service at zero $((SECONDS - t0)) s after its last request (grace 10 s, stable window 6 s)"
[[ "$(jp modelservice/linear-zero '{.status.desiredReplicas}')" == 0 ]] || fail "desiredReplicas is not 0 at zero"

out="$(predict_gw 5)"
read -r code secs body <<<"$out"
[[ "$code" == 200 ]] || fail "first request at zero: $out"
python3 -c 'import json,sys; p=json.loads(sys.argv[1])["predictions"][0]; v=p[0] if isinstance(p,list) else p; assert abs(v-10)<0.5, v' "$body" \
  || fail "prediction for 5 is not about 10: $body"
cs="$(curl -s --max-time 5 "$GW/metrics" | awk -v ns="$NS" '$1 ~ "^aios_gateway_cold_start_seconds_sum" && index($1, "namespace=\"" ns "\"") {print $2}')"
note "cold start: first request at zero answered in ${secs} s (client side); gateway's aios_gateway_cold_start_seconds_sum ${cs:-?} s"
echo "COLD START: ${secs} s (gateway held it ${cs:-?} s until a pod was ready)"
wait_until "status.coldStarts >= 1" 30 bash -c "(( \$('$KBIN/kubectl' -n $NS get modelservice linear-zero -o 'jsonpath={.status.coldStarts}') >= 1 ))"
out="$(predict_gw 1)"
[[ "$out" == 200\ * ]] || fail "request after the cold start: $out"
exit 0
