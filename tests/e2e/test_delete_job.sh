#!/usr/bin/env bash
# Deleting a TrainingJob removes its pods (garbage collector, owner references) and
# aios-node stops their processes and removes their network namespaces.
# E2E_LIMIT=180
source "$(dirname "$0")/lib.sh"
setup_ns
models_claim
kn apply -f - >/dev/null <<'YAML'
apiVersion: aios.dev/v1alpha1
kind: TrainingJob
metadata: {name: del-e2e}
spec:
  model: {type: linear}
  loss: mse
  optimizer: {type: sgd, learningRate: 0.05, batchSize: 4, epochs: 1000000, seed: 42}
  data: {inline: {features: [[1], [2], [3], [4]], labels: [2, 4, 6, 8]}}
  distributed: {workers: 2}
  checkpoint: {everyEpochs: 1000000}
  output: {uri: pvc://models/del.aios}
YAML
wait_until "two trainer processes of del-e2e" 90 bash -c "source '$E2E_ROOT/lib.sh' >/dev/null 2>&1; (( \$(pids_with_env AIOS_JOB=del-e2e | wc -l) >= 2 ))"
pids="$(pids_with_env AIOS_JOB=del-e2e)"
uids="$(kn get pods -o 'jsonpath={range .items[*]}{.metadata.uid} {end}')"
note "job running: pods $(kn get pods -o name | tr '\n' ' ') processes $(echo $pids)"
kn delete trainingjob del-e2e --wait=true --timeout=60s >/dev/null || fail "deleting the TrainingJob did not finish"
wait_until "the job's pods gone" 90 bash -c "[[ -z \"\$('$KBIN/kubectl' -n $NS get pods -o name)\" ]]"
for p in $pids; do [[ -d /proc/$p ]] && fail "trainer process $p outlived its pod"; done
for u in $uids; do
  ns="aios-$(echo "${u//-/}" | cut -c1-12)"
  ip netns list | grep -q "^$ns" && fail "network namespace $ns outlived its pod"
done
note "pods, processes and namespaces gone"
exit 0
