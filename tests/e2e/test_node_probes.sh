#!/usr/bin/env bash
# aios-node runs probes off its loop (docs/node.md, "Probes"): a pod whose probe
# endpoints accept connections and never answer (three containers, readiness and
# liveness each, timeoutSeconds 30: six probes of 5 s, the cap, every second) stays
# unready and is not restarted, while another pod still starts and finishes at once,
# its status written within seconds, and the node's Lease is renewed every 10 s as
# usual. When probes ran on the loop, each round waited 6 x 5 s for them: the other pod
# waited up to 30 s and the Lease went 30 s unrenewed.
# E2E_LIMIT=180
source "$(dirname "$0")/lib.sh"
setup_ns

hang_ctr() { # hang_ctr NAME PORT: a container whose port accepts and never answers
  cat <<YAML
  - name: $1
    image: aios/trainer:e2e
    command: [python3, -c, 'import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", $2)); s.listen(128); held = [s.accept()[0] for _ in iter(int, 1)]']
    readinessProbe: {httpGet: {path: /ready, port: $2}, periodSeconds: 1, timeoutSeconds: 30}
    livenessProbe: {httpGet: {path: /live, port: $2}, periodSeconds: 1, timeoutSeconds: 30, failureThreshold: 1000}
YAML
}
kn apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: hang}
spec:
  terminationGracePeriodSeconds: 1
  containers:
$(hang_ctr a 8081)
$(hang_ctr b 8082)
$(hang_ctr c 8083)
YAML
wait_until "pod hang Running" 60 phase_is pod/hang Running
sleep 6 # every probe of the pod has started and hangs now
note "pod hang: 3 containers whose 6 probes hang for 5 s each, every second"

lease() { k -n kube-node-lease get lease aios-node -o 'jsonpath={.spec.renewTime}' 2>/dev/null || true; }

# another pod, started now: Running and Succeeded within seconds
t0=$SECONDS
kn apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: quick}
spec:
  restartPolicy: Never
  containers: [{name: q, image: aios/trainer:e2e, command: [echo, quick]}]
YAML
wait_until "pod quick Succeeded" 60 phase_is pod/quick Succeeded
took=$((SECONDS - t0))
note "pod quick created and Succeeded in ${took}s beside the hanging probes"
((took <= 10)) || fail "pod quick took ${took}s to start and finish: the hanging probes held the agent's loop"

# the Lease: watch renewTime for 25 s; renewals every 10 s, no gap over 14 s
last="$(lease)" last_t=$SECONDS start=$SECONDS renewals=0 max_gap=0
while ((SECONDS - start < 25)); do
  sleep 0.5
  cur="$(lease)"
  if [[ -n "$cur" && "$cur" != "$last" ]]; then
    gap=$((SECONDS - last_t))
    ((renewals > 0 && gap > max_gap)) && max_gap=$gap
    renewals=$((renewals + 1)) last="$cur" last_t=$SECONDS
  fi
done
gap=$((SECONDS - last_t))
((gap > max_gap)) && max_gap=$gap
note "Lease renewed $renewals times in 25 s, longest gap ${max_gap}s"
((renewals >= 2 && max_gap <= 14)) || fail "the node Lease was renewed $renewals times in 25 s (longest gap ${max_gap}s): the hanging probes held the agent's loop"

# the hanging pod itself: unready, never restarted (failureThreshold 1000), its probes'
# failures counted
[[ "$(jp pod/hang '{.status.conditions[?(@.type=="Ready")].status}')" == False ]] || fail "pod hang is Ready: its readiness probes cannot pass"
[[ "$(jp pod/hang '{.status.containerStatuses[*].restartCount}')" == "0 0 0" ]] || fail "pod hang restarted: $(jp pod/hang '{.status.containerStatuses[*].restartCount}')"
t0=$SECONDS
kn delete pod hang --wait=true --timeout=30s >/dev/null || fail "pod hang was not deleted"
note "pod hang unready, not restarted, deleted in $((SECONDS - t0))s"
exit 0
