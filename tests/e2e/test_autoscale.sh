#!/usr/bin/env bash
# A ModelService under load scales up and, when the load stops, back down: the
# autoscaler (rps, target 100 requests/s per replica) sees a generator of 40 clients
# sending for 60 s, raises desiredReplicas above 1 and gets more Ready pods; after the
# load ends it returns to min (1) after its scale-down delay.
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
ip="$(kn get pods -l "aios.dev/service=linear-autoscaled" -o 'jsonpath={.items[0].status.podIP}' 2>/dev/null || true)"
[[ -n "$ip" ]] || ip="$(kn get endpoints -o 'jsonpath={.items[0].subsets[0].addresses[0].ip}')"
[[ -n "$ip" ]] || fail "no pod address for the ModelService"
note "load: 40 concurrent clients for 60 s against the Service's endpoints (first $ip)"
python3 - "$NS" "$KBIN" <<'PY' &
import json, subprocess, sys, threading, time, urllib.request
ns, kbin = sys.argv[1], sys.argv[2]
deadline = time.time() + 60          # seconds of load
max_requests = 2_000_000             # hard bound on requests sent
sent = [0]
lock = threading.Lock()
def endpoints():
    out = subprocess.run([kbin + "/kubectl", "-n", ns, "get", "endpoints", "-o", "json"], capture_output=True, text=True).stdout
    addrs = []
    for ep in json.loads(out or '{"items": []}')["items"]:
        for s in ep.get("subsets", []):
            for a in s.get("addresses", []):
                for p in s.get("ports", []):
                    if p["port"] == 8080:
                        addrs.append(a["ip"])
    return addrs or ["127.0.0.1"]
addrs = [endpoints()]
def refresh():
    while time.time() < deadline:
        addrs[0] = endpoints(); time.sleep(2)
def client(i):
    body = json.dumps({"instances": [[5]] * 64}).encode()
    while time.time() < deadline:
        with lock:
            if sent[0] >= max_requests: return
            sent[0] += 1
        a = addrs[0][i % len(addrs[0])]
        try:
            urllib.request.urlopen(urllib.request.Request(f"http://{a}:8080/v1/models/linear-autoscaled:predict", data=body,
                                   headers={"Content-Type": "application/json"}), timeout=5).read()
        except Exception:
            time.sleep(0.05)
threads = [threading.Thread(target=refresh)] + [threading.Thread(target=client, args=(i,)) for i in range(40)]
for t in threads: t.start()
for t in threads: t.join()
print(f"load generator: {sent[0]} requests", file=sys.stderr)
PY
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
wait $gen || true
note "load stopped; waiting for the scale-down"
wait_until "desiredReplicas back to 1" 180 bash -c "[[ \$('$KBIN/kubectl' -n $NS get modelservice linear-autoscaled -o 'jsonpath={.status.desiredReplicas}') == 1 ]]"
wait_until "one pod left" 90 bash -c "(( \$('$KBIN/kubectl' -n $NS get pods -o name | grep -vc linear-g || true) <= 1 ))"
note "scaled back down to 1"
exit 0
