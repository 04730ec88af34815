#!/usr/bin/env bash
# Canary rollouts behind aios-gateway (docs/gateway.md "Canary"): a ModelService with
# spec.canary at 20 % runs one canary pod beside two stable ones; 2,000 requests through the
# gateway split 20 % +-5 % (counted on the pods' own aios_serve_requests_total); a tiny
# maxLatencyP99Ms rolls it back with reason LatencyTooHigh in status, the condition and an
# event; a second service's good canary is promoted through every step (20 -> 50 -> 100) and
# its revision becomes the stable one. The canary's model is the job's artifact named by URI
# without its digest: the same predictions, another revision.
# E2E_LIMIT=420
source "$(dirname "$0")/lib.sh"
GW="http://127.0.0.1:18090"
curl -sf --max-time 2 "$GW/readyz" >/dev/null || fail "aios-gateway does not answer on $GW (scripts/cluster.sh starts it)"
setup_ns
models_claim
kn apply -f "$E2E_ROOT/../../examples/trainingjob-linear.yaml" >/dev/null
wait_until "trainingjob linear Succeeded" 180 phase_is trainingjob/linear Succeeded

# service NAME INTERVAL MIN_REQUESTS: a ModelService of 2 stable pods with a canary at 20 %.
service() {
  kn apply -f - >/dev/null <<YAML
apiVersion: aios.dev/v1alpha1
kind: ModelService
metadata: {name: $1}
spec:
  model: {trainingJob: linear}
  runtime: {threads: 1}
  replicas: {min: 2, max: 2}
  canary:
    model: {uri: "pvc://models/linear.aios"}
    trafficPercent: 20
    analysis: {interval: $2, steps: [50], minRequests: $3}
YAML
}
canary_is() { [[ "$(jp "modelservice/$1" '{.status.canary.phase}')" == "$2" ]]; }
ready_is() { [[ "$(jp "modelservice/$1" '{.status.readyReplicas}')" == "$2" ]]; }

# drive MS N: N predictions through the gateway on one keep-alive connection; prints how
# many answered 200.
drive() {
  python3 - "$1" "$2" "$NS" <<'PY'
import http.client, json, sys
ms, n, ns = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", 18090, timeout=10)
ok = 0
for i in range(n):
    c.request("POST", "/namespaces/%s/v1/models/%s:predict" % (ns, ms),
              json.dumps({"instances": [[i % 7]]}), {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    ok += r.status == 200
print(ok)
PY
}

# served MS REV: inference requests answered by the pods of MS, as "CANARY TOTAL" where
# CANARY counts the pods of revision REV (from each pod's own /metrics).
served() {
  local total=0 can=0 name ip n
  while read -r name ip; do
    n="$(curl -s --max-time 3 "http://$ip:8080/metrics" | awk '$1 ~ /^aios_serve_requests_total\{/ && $1 ~ /endpoint="v1_predict"/ {s += $2} END {print s + 0}')"
    total=$((total + n))
    [[ "$name" == *"-$2-"* ]] && can=$((can + n))
  done < <(kn get pods -l "aios.dev/service=$1" -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP}{"\n"}{end}')
  echo "$can $total"
}

# ---- the split, then a rollback on latency ----
service lin-split 3600 50
wait_until "lin-split canary Progressing" 60 canary_is lin-split Progressing
wait_until "lin-split: 2 stable + 1 canary pods ready" 120 ready_is lin-split 3
CREV="$(jp modelservice/lin-split '{.status.canary.revision}')"
[[ -n "$CREV" ]] || fail "no status.canary.revision"
[[ "$(jp modelservice/lin-split '{.status.canary.weight}')" == 20 ]] || fail "canary weight is not 20"
sleep 2 # the gateway's Endpoints and ModelService watches carry the ready pods
read -r c0 t0 <<<"$(served lin-split "$CREV")"
ok="$(drive lin-split 2000)"
[[ "$ok" == 2000 ]] || fail "only $ok of 2000 predictions through the gateway answered 200"
read -r c1 t1 <<<"$(served lin-split "$CREV")"
can=$((c1 - c0)) total=$((t1 - t0))
note "split: $can of $total requests served by the canary (weight 20)"
echo "CANARY SPLIT: $can of $total requests at weight 20"
((total == 2000)) || fail "the pods served $total requests, want 2000"
((can >= 300 && can <= 500)) || fail "the canary served $can of 2000: not 20 % +-5 %"

kn patch modelservice lin-split --type merge \
  -p '{"spec":{"canary":{"analysis":{"interval":5,"minRequests":50,"maxLatencyP99Ms":0.001}}}}' >/dev/null
drive lin-split 200 >/dev/null
wait_until "lin-split canary RolledBack" 60 canary_is lin-split RolledBack
reason="$(jp modelservice/lin-split '{.status.canary.reason}')"
msg="$(jp modelservice/lin-split '{.status.canary.message}')"
note "rollback: $reason: $msg"
[[ "$reason" == LatencyTooHigh ]] || fail "rollback reason $reason, want LatencyTooHigh"
[[ "$msg" == *"above maxLatencyP99Ms 0.001 by"* ]] || fail "rollback message does not name the bound: $msg"
[[ "$(jp modelservice/lin-split '{.status.canary.weight}')" == 0 ]] || fail "weight is not 0 after the rollback"
[[ "$(jp modelservice/lin-split '{.status.conditions[?(@.type=="Canary")].status}')" == False ]] \
  || fail "condition Canary is not False"
wait_until "an event CanaryRolledBack" 30 bash -c \
  "'$KBIN/kubectl' -n $NS get events --field-selector reason=CanaryRolledBack -o name | grep -q ."
wait_until "the canary's pods are gone" 60 bash -c \
  "[[ -z \"\$('$KBIN/kubectl' -n $NS get pods -l aios.dev/revision=$CREV -o name 2>/dev/null)\" ]]"
ok="$(drive lin-split 100)"
[[ "$ok" == 100 ]] || fail "after the rollback only $ok of 100 predictions answered 200"

# ---- a good canary promoted through every step ----
service lin-good 4 20
wait_until "lin-good: 2 stable + 1 canary pods ready" 120 ready_is lin-good 3
GREV="$(jp modelservice/lin-good '{.status.canary.revision}')"
python3 - "$NS" >/dev/null 2>&1 <<'PY' &
import http.client, json, sys, time
c = http.client.HTTPConnection("127.0.0.1", 18090, timeout=10)
end = time.time() + 120
while time.time() < end:
    try:
        c.request("POST", "/namespaces/%s/v1/models/lin-good:predict" % sys.argv[1],
                  json.dumps({"instances": [[1]]}), {"Content-Type": "application/json"})
        c.getresponse().read()
    except Exception:
        c = http.client.HTTPConnection("127.0.0.1", 18090, timeout=10)
    time.sleep(0.01)
PY
LOAD=$!
trap 'kill $LOAD 2>/dev/null || true; k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
weights=""
promoted() { local w; w="$(jp modelservice/lin-good '{.status.canary.weight}')"; [[ " $weights " == *" $w "* ]] || weights="$weights $w"; canary_is lin-good Promoted; }
wait_until "lin-good canary Promoted" 120 promoted
note "weights seen:$weights; $(jp modelservice/lin-good '{.status.canary.message}')"
[[ "$(jp modelservice/lin-good '{.status.canary.lastAnalysis.result}')" == Passed ]] || fail "last analysis did not pass"
only_canary_rev() {
  local revs
  revs="$(kn get pods -l aios.dev/service=lin-good -o jsonpath='{range .items[*]}{.metadata.labels.aios\.dev/revision}{"\n"}{end}' | sort -u)"
  [[ "$revs" == "$GREV" ]] && ready_is lin-good 2
}
wait_until "every lin-good pod runs the promoted revision" 120 only_canary_rev
[[ "$(jp modelservice/lin-good '{.status.model.uri}')" == pvc://models/linear.aios ]] || fail "status.model is not the canary's"
kill $LOAD 2>/dev/null || true
ok="$(drive lin-good 50)"
[[ "$ok" == 50 ]] || fail "after the promotion only $ok of 50 predictions answered 200"
echo "CANARY: split $can/2000 at 20 %, rolled back ($reason), promoted (weights$weights)"
