#!/usr/bin/env bash
# A 2-worker data-parallel TrainingJob (all-reduce) trains: two trainer pods, one per
# rank, meet over pod IPs; the job succeeds; a ModelService serves its model and answers.
# E2E_LIMIT=300
source "$(dirname "$0")/lib.sh"
setup_ns
models_claim
kn apply -f - >/dev/null <<'YAML'
apiVersion: aios.dev/v1alpha1
kind: TrainingJob
metadata: {name: lin2}
spec:
  model: {type: linear}
  loss: mse
  optimizer: {type: sgd, learningRate: 0.05, batchSize: 4, epochs: 500, seed: 42}
  data:
    inline:
      features: [[1], [2], [3], [4], [5], [6], [7], [8]]
      labels: [2, 4, 6, 8, 10, 12, 14, 16]
    normalize: true
  distributed: {workers: 2, strategy: allreduce}
  checkpoint: {everyEpochs: 100}
  output: {uri: pvc://models/lin2.aios}
---
apiVersion: aios.dev/v1alpha1
kind: ModelService
metadata: {name: lin2}
spec:
  model: {trainingJob: lin2}
YAML
wait_until "two trainer pods" 60 bash -c "(( \$('$KBIN/kubectl' -n $NS get pods -o name | grep -c lin2) >= 2 ))"
ips="$(kn get pods -o 'jsonpath={range .items[*]}{.metadata.name}={.status.podIP} {end}')"
note "ranks: $ips"
wait_until "trainingjob lin2 Succeeded" 180 phase_is trainingjob/lin2 Succeeded
[[ "$(jp trainingjob/lin2 '{.status.workers.succeeded}')" == 2 ]] || fail "status.workers.succeeded is not 2: $(jp trainingjob/lin2 '{.status.workers}')"
wait_until "modelservice lin2 Ready" 120 phase_is modelservice/lin2 Ready
pred=""
for _ in $(seq 1 20); do pred="$(predict lin2 5)" && break; sleep 0.5; done
[[ -n "$pred" ]] || fail "no prediction from modelservice lin2"
python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 10) <= 0.5 else 1)' "$pred" || fail "prediction $pred is not within 0.5 of 10"
note "2-worker model predicts $pred for x = 5"
exit 0
