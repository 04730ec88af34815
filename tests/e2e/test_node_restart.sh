#!/usr/bin/env bash
# aios-node after a crash (SIGKILL) cleans up what it left: the old processes are
# killed, their namespaces removed, and the pods run again, their restartCount counting
# the lost run (restartPolicy Always) while a finished pod is left alone. A clean stop
# (SIGTERM) leaves no process, namespace or veth behind.
# E2E_LIMIT=240
source "$(dirname "$0")/lib.sh"
setup_ns
ROOT="$E2E_ROOT/../.."

kn apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  terminationGracePeriodSeconds: 2
  containers: [{name: s, image: aios/trainer:e2e, command: [sleep, "3600"], env: [{name: E2E_MARK, value: node-restart}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  restartPolicy: Never
  containers: [{name: d, image: aios/trainer:e2e, command: ["true"]}]
YAML
wait_until "sleeper Running" 60 phase_is pod/sleeper Running
wait_until "done Succeeded" 60 phase_is pod/done Succeeded
old="$(pids_with_env E2E_MARK=node-restart)"
[[ -n "$old" ]] || fail "cannot find the sleeper's process"
note "sleeper runs as pid $old; killing aios-node with SIGKILL"
"$ROOT/scripts/cluster.sh" restart-node --kill >/dev/null
wait_until "the sleeper restarted (restartCount 1)" 60 bash -c "[[ \$('$KBIN/kubectl' -n $NS get pod sleeper -o 'jsonpath={.status.containerStatuses[0].restartCount}') == 1 && \$('$KBIN/kubectl' -n $NS get pod sleeper -o 'jsonpath={.status.phase}') == Running ]]"
left="$(gone_within 5 $old)" || fail "old process $left survived the restart"
new="$(pids_with_env E2E_MARK=node-restart)"
[[ -n "$new" && "$new" != "$old" ]] || fail "no new sleeper process (old $old, new $new)"
[[ "$(jp pod/sleeper '{.status.containerStatuses[0].lastState.terminated.exitCode}')" == 137 ]] || fail "lost run not reported as exit 137"
[[ "$(jp pod/done '{.status.phase}')" == Succeeded ]] || fail "the finished pod was run again"
# every pod namespace belongs to a pod that has not finished: none is orphaned. Listing
# the pods and then the namespaces races pods of earlier tests' namespaces still being
# created or torn down, so a namespace counts as orphaned only if it stays without an
# unfinished pod for 15 s; a leak stays forever.
orphans() {
  local live ns out=""
  live="$(k get pods -A --field-selector spec.nodeName=aios-node -o 'jsonpath={range .items[*]}{.metadata.uid} {.status.phase}{"\n"}{end}' \
    | awk '$2 != "Succeeded" && $2 != "Failed" {gsub("-", "", $1); print "aios-" substr($1, 1, 12)}')" \
    || { echo "(the pod list failed)"; return 0; }
  for ns in $(ip netns list | awk '/^aios-/ {print $1}'); do
    grep -qx "$ns" <<<"$live" || out+="$ns "
  done
  echo "$out"
}
end=$((SECONDS + 15))
while left="$(orphans)" && [[ -n "$left" ]] && ((SECONDS < end)); do sleep 1; done
[[ -z "$left" ]] || { k get pods -A --field-selector spec.nodeName=aios-node -o wide >&2 || true
  fail "network namespace(s) $left belong to no unfinished pod 15 s after the restart"; }
note "after SIGKILL: old process gone, pod re-run as restart 1, finished pod untouched, no orphan namespace"

note "stopping aios-node cleanly (SIGTERM)"
"$ROOT/scripts/cluster.sh" restart-node >/dev/null
left="$(gone_within 5 $new)" || fail "process $left survived a clean stop of aios-node"
wait_until "sleeper running again after the clean restart" 60 bash -c "[[ \$('$KBIN/kubectl' -n $NS get pod sleeper -o 'jsonpath={.status.containerStatuses[0].restartCount}') == 2 ]]"
kn delete pod sleeper done --wait=true >/dev/null
[[ -z "$(pids_with_env E2E_MARK=node-restart)" ]] || fail "sleeper processes left after deletion"
exit 0
