#!/usr/bin/env bash
# The operator killed with SIGKILL at random moments while TrainingJobs are created,
# run and deleted. Sizes (CI): CHAOS_JOBS=30 single-rank jobs (a third of them deleted
# while the operator is being killed), CHAOS_KILLS=20 SIGKILLs, each after a random
# 0.5-3.4 s of life; the operator is restarted at once with the command line of the
# process it killed (read from /proc: the cluster's binary, identity, ports; same log).
# Afterwards, within 240 s:
#   - every job that was not deleted is Succeeded (status.phase), with exactly one pod
#     per rank (no duplicate: distinct aios.dev/ rank labels, no two pods of one rank);
#   - every deleted job has no pod left;
#   - no pod in the namespace lacks a controller ownerReference to a live TrainingJob
#     (no orphan).
# The operator is left running (its pid in the cluster's aios-operator.pid).
# E2E_LIMIT=420
source "$(dirname "$0")/lib.sh"
JOBS="${CHAOS_JOBS:-30}"
KILLS="${CHAOS_KILLS:-20}"
PIDFILE="$AIOS_CLUSTER_DIR/aios-operator.pid"
OPLOG="$AIOS_CLUSTER_DIR/aios-operator.log"
[[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null || fail "no aios-operator running (pid file $PIDFILE)"
setup_ns
models_claim

mapfile -d '' OPCMD < "/proc/$(cat "$PIDFILE")/cmdline"
[[ "${OPCMD[0]}" == */aios-operator ]] || fail "pid file $PIDFILE names ${OPCMD[0]:-nothing}, not aios-operator"
restart_operator() {
  setsid "${OPCMD[@]}" >> "$OPLOG" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  disown
}

job() { # job NAME: a linear model trained for a few epochs on four points
  cat <<YAML
apiVersion: aios.dev/v1alpha1
kind: TrainingJob
metadata: {name: $1}
spec:
  model: {type: linear}
  loss: mse
  optimizer: {type: sgd, learningRate: 0.05, batchSize: 4, epochs: 20, seed: 7}
  data: {inline: {features: [[1], [2], [3], [4]], labels: [2, 4, 6, 8]}}
  output: {uri: pvc://models/chaos-$1.aios}
---
YAML
}

# The jobs go in while the killer runs: a third are deleted a moment after creation.
(
  for i in $(seq 1 "$JOBS"); do
    job "c$i" | kn apply -f - >/dev/null 2>&1 || echo "apply c$i failed" >&2
    if (( i % 3 == 0 )); then
      sleep 0.$((RANDOM % 9 + 1))
      kn delete trainingjob "c$((i - 1))" --wait=false >/dev/null 2>&1 || echo "delete c$((i - 1)) failed" >&2
    fi
    sleep 0.2
  done
) &
creator=$!

kills=0
while (( kills < KILLS )); do
  sleep "$(( RANDOM % 3 )).$(( RANDOM % 10 ))" # 0.5-3.4 s: the kills span the creations
  sleep 0.5
  pid="$(cat "$PIDFILE")"
  kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  restart_operator
done
wait "$creator"
note "$kills SIGKILLs of aios-operator while $JOBS jobs were created (every third one's predecessor deleted)"
wait_until "aios-operator healthy after the last kill" 60 curl -sf --max-time 1 http://127.0.0.1:18081/healthz

deleted=()
kept=()
for i in $(seq 1 "$JOBS"); do
  if (( i % 3 == 2 )); then deleted+=("c$i"); else kept+=("c$i"); fi
done

all_done() {
  local phases
  phases="$(kn get trainingjobs -o 'jsonpath={range .items[*]}{.metadata.name}={.status.phase} {end}')"
  for j in "${kept[@]}"; do
    [[ " $phases " == *" $j=Succeeded "* ]] || return 1
  done
}
if ! wait_until "all ${#kept[@]} kept jobs Succeeded" 240 all_done; then
  kn get trainingjobs -o wide >&2
  exit 1
fi

for j in "${deleted[@]}"; do
  wait_until "TrainingJob $j gone" 60 bash -c "! '$KBIN/kubectl' -n $NS get trainingjob $j >/dev/null 2>&1"
done
wait_until "the deleted jobs' pods gone" 90 bash -c "
  for j in ${deleted[*]}; do
    [[ -z \"\$('$KBIN/kubectl' -n $NS get pods -l aios.dev/job=\$j -o name)\" ]] || exit 1
  done"

# Duplicates: one pod per (job, rank); rank comes from the pod's aios.dev/rank label or,
# without one, its name (one rank per job here).
pods="$(kn get pods -o 'jsonpath={range .items[*]}{.metadata.name} {.metadata.labels.aios\.dev/job} {.metadata.ownerReferences[?(@.controller==true)].kind}/{.metadata.ownerReferences[?(@.controller==true)].name} {.status.phase}{"\n"}{end}')"
live="$(kn get trainingjobs -o 'jsonpath={range .items[*]}{.metadata.name} {end}')"
for j in "${kept[@]}"; do
  n="$(awk -v j="$j" '$2 == j' <<<"$pods" | wc -l)"
  [[ "$n" == 1 ]] || { echo "$pods" >&2; fail "job $j has $n pods (want exactly 1: one rank)"; }
done
while read -r name jl owner phase; do
  [[ -z "$name" ]] && continue
  [[ "$owner" == "TrainingJob/$jl" ]] || fail "pod $name has controller $owner, not TrainingJob/$jl"
  [[ " $live " == *" $jl "* ]] || fail "pod $name is an orphan: its job $jl is gone"
done <<<"$pods"
note "${#kept[@]} jobs Succeeded with one pod each, ${#deleted[@]} deleted jobs left no pod, no orphan (operator log: $OPLOG)"
exit 0
