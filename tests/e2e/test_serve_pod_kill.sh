#!/usr/bin/env bash
# An inference pod killed under load: a ModelService held at 2 replicas
# (min = max = 2) serves a bounded closed-loop load (tests/e2e/serve_load.py: 8 client
# connections for 20 s, or until 10 s after the kill if that is later; at most 60 s and
# 60000 requests; spread over the Endpoints' ready addresses as a client behind the
# Service sees them, a failed address ejected after its first failure); once both pods
# answer, one pod's server process is SIGKILLed. Then:
#   - every failed request went to the killed pod, and no more failed than the client
#     connections routed to it at the kill (its concurrency share), none before the kill;
#   - the other pod served throughout: no failure, answers after the kill, no gap longer
#     than MAX_GAP_S between its answers;
#   - the ModelService returns to readyReplicas == desiredReplicas == 2, with the killed
#     pod's container restarted (restartCount grew) or a new pod, within 120 s.
# Prints the figures (requests sent, failed, time to recover) for docs/reliability.md.
# E2E_LIMIT=420
source "$(dirname "$0")/lib.sh"
setup_ns
models_claim
MS=pod-kill
CONNS=8
LOAD_S=20
MAX_GAP_S=5

kn apply -f "$E2E_ROOT/../../examples/trainingjob-linear.yaml" >/dev/null
wait_until "trainingjob linear Succeeded" 180 phase_is trainingjob/linear Succeeded
kn apply -f - >/dev/null <<YAML
apiVersion: aios.dev/v1alpha1
kind: ModelService
metadata: {name: $MS}
spec:
  model: {trainingJob: linear}
  runtime: {threads: 1}
  replicas: {min: 2, max: 2}
YAML
wait_until "modelservice $MS Ready" 120 phase_is "modelservice/$MS" Ready
ready2() {
  [[ "$(jp "modelservice/$MS" '{.status.readyReplicas}')" == 2 && "$(jp "modelservice/$MS" '{.status.desiredReplicas}')" == 2 ]]
}
wait_until "modelservice $MS with 2 ready replicas" 120 ready2
url="$(jp "modelservice/$MS" '{.status.url}')"
svc="${url#http://}"; svc="${svc%%.*}"
[[ -n "$svc" ]] || fail "modelservice $MS has no status.url"
endpoints2() {
  [[ "$(kn get endpoints "$svc" -o 'jsonpath={.subsets[*].addresses[*].ip}' 2>/dev/null | wc -w)" == 2 ]]
}
wait_until "Endpoints $svc listing 2 ready addresses" 60 endpoints2

work="$(mktemp -d)"
gen=""
trap 'if [[ -n "$gen" ]]; then kill "$gen" 2>/dev/null || true; fi; rm -rf "$work"; k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
note "load: $CONNS connections for ${LOAD_S}s (at most 60000 requests) over the Endpoints of $svc"
python3 "$E2E_ROOT/serve_load.py" --kubectl "$KBIN/kubectl" --namespace "$NS" --endpoints "$svc" \
  --model "$MS" --connections "$CONNS" --duration "$LOAD_S" --after-kill 10 --max-duration 60 --max-requests 60000 \
  --progress "$work/progress.json" --kill-file "$work/kill" --out "$work/summary.json" 2>"$work/load.log" &
gen=$!

# Both pods answer before the kill.
both_served() {
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); sys.exit(0 if len(c) == 2 and all(v["ok"] >= 20 for v in c.values()) else 1)' \
    "$work/progress.json"
}
wait_until "both pods answering the load (20 answers each)" 15 both_served

victim="$(kn get pods -l "aios.dev/service=$MS" -o 'jsonpath={.items[0].metadata.name}')"
vip="$(jp "pod/$victim" '{.status.podIP}')"
restarts0="$(jp "pod/$victim" '{.status.containerStatuses[0].restartCount}')"
pods0="$(kn get pods -l "aios.dev/service=$MS" -o name | sort | tr '\n' ' ')"
[[ -n "$vip" ]] || fail "pod $victim has no IP"
# the server process of that pod: the pods aios-node runs carry HOSTNAME=<pod> and AIOS_SERVICE
pids="$(comm -12 <(pids_with_env "HOSTNAME=$victim" | sort) <(pids_with_env "AIOS_SERVICE=$MS" | sort) | tr '\n' ' ')"
[[ -n "${pids// /}" ]] || fail "cannot find the server process of pod $victim"
kill -0 "$gen" 2>/dev/null || fail "the load ended before the kill"
kill_at="$(date +%s.%N)"
kill -9 $pids
echo "$vip $kill_at" > "$work/kill"
note "SIGKILLed the server of pod $victim ($vip, pid $pids, restartCount $restarts0) under load"

# Back to 2 ready replicas (status), the victim replaced, or its container restarted
# (restartCount grew) and answering its readiness endpoint again.
state=""
recovered() {
  local pods r code
  pods="$(kn get pods -l "aios.dev/service=$MS" -o name | sort | tr '\n' ' ')"
  r="$(jp "pod/$victim" '{.status.containerStatuses[0].restartCount}')"
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$vip:8080/v2/health/ready" || true)"
  state="readyReplicas $(jp "modelservice/$MS" '{.status.readyReplicas}'), desiredReplicas $(jp "modelservice/$MS" '{.status.desiredReplicas}'), pods $pods, $victim restartCount ${r:-?}, its /v2/health/ready: $code"
  ready2 || return 1
  [[ "$pods" != "$pods0" ]] && return 0
  ((${r:-0} > ${restarts0:-0})) && [[ "$code" == 200 ]]
}
end=$((SECONDS + 120))
until recovered; do
  ((SECONDS < end)) || fail "not back to 2 ready replicas 120 s after the kill: $state"
  sleep 0.5
done
recover_s="$(python3 -c 'import sys,time; print(round(time.time() - float(sys.argv[1]), 1))' "$kill_at")"
note "recovered in ${recover_s}s: readyReplicas 2, pod $victim restartCount $(jp "pod/$victim" '{.status.containerStatuses[0].restartCount}'), pods: $(kn get pods -l "aios.dev/service=$MS" -o name | tr '\n' ' ')"

wait "$gen" || { cat "$work/load.log" >&2; fail "the load client failed"; }
gen=""
[[ -s "$work/summary.json" ]] || { cat "$work/load.log" >&2; fail "the load client wrote no summary"; }
python3 - "$work/summary.json" "$MAX_GAP_S" "$recover_s" <<'PY' || fail "the load's figures break the bounds above (summary: $(cat "$work/summary.json"))"
import json, sys
s = json.load(open(sys.argv[1])); max_gap = float(sys.argv[2]); recover = sys.argv[3]
v = s["killed"]; errs = []
addr = s["addresses"]
if v["address"] not in addr:
    errs.append(f"the killed pod {v['address']} got no request")
if v["ok_before_kill"] < 20:
    errs.append(f"the killed pod answered only {v['ok_before_kill']} requests before the kill: not under load")
if v["failed_before_kill"]:
    errs.append(f"{v['failed_before_kill']} requests to the killed pod failed before the kill")
if v["failed_after_kill"] > v["share"]:
    errs.append(f"{v['failed_after_kill']} requests to the killed pod failed, more than the {v['share']} connections routed to it")
if s["failed"] != v["failed_before_kill"] + v["failed_after_kill"]:
    errs.append(f"{s['failed'] - v['failed_before_kill'] - v['failed_after_kill']} failed requests went to another pod")
if not s["others"]:
    errs.append("no other pod served")
for ad, o in s["others"].items():
    if o["failed"]:
        errs.append(f"the other pod {ad} failed {o['failed']} requests")
    if o["ok_after_kill"] == 0:
        errs.append(f"the other pod {ad} answered nothing after the kill")
    if o["max_gap_s"] > max_gap:
        errs.append(f"the other pod {ad} went {o['max_gap_s']} s without answering after the kill (bound {max_gap} s)")
gaps = ", ".join(f"{o['max_gap_s']}" for o in s["others"].values())
print(f"  [test_serve_pod_kill] figures: {s['sent']} requests sent in {s['duration_s']} s over {s['connections']} connections, "
      f"{s['ok']} ok, {s['failed']} failed (all on the killed pod: {v['in_flight_at_kill']} in flight at the kill, "
      f"share {v['share']} connections); the other pod's longest gap after the kill {gaps} s; "
      f"the killed pod answered {v['ok_after_restart']} requests again after its restart; "
      f"kill at {v['kill_offset_s']} s; back to 2 ready replicas {recover} s after the kill", file=sys.stderr)
for e in errs:
    print(f"  [test_serve_pod_kill] {e}", file=sys.stderr)
sys.exit(1 if errs else 0)
PY
exit 0
