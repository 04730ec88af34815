#!/usr/bin/env bash
# Killing a trainer process (SIGKILL, as an OOM kill or a lost node would) fails its
# pod; the operator starts a new attempt, which resumes from the last checkpoint and
# succeeds.
# E2E_LIMIT=300
source "$(dirname "$0")/lib.sh"
setup_ns
models_claim
kn apply -f - >/dev/null <<'YAML'
apiVersion: aios.dev/v1alpha1
kind: TrainingJob
metadata: {name: ckpt-e2e}
spec:
  model: {type: linear}
  loss: mse
  optimizer: {type: sgd, learningRate: 0.01, batchSize: 4, epochs: 1000000, seed: 42}
  data:
    normalize: true
    inline:
      features: [[1],[2],[3],[4],[5],[6],[7],[8],[9],[10],[11],[12],[13],[14],[15],[16],[17],[18],[19],[20],[21],[22],[23],[24],[25],[26],[27],[28],[29],[30],[31],[32],[33],[34],[35],[36],[37],[38],[39],[40],[41],[42],[43],[44],[45],[46],[47],[48],[49],[50],[51],[52],[53],[54],[55],[56],[57],[58],[59],[60],[61],[62],[63],[64]]
      labels: [2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62,64,66,68,70,72,74,76,78,80,82,84,86,88,90,92,94,96,98,100,102,104,106,108,110,112,114,116,118,120,122,124,126,128]
  checkpoint: {everyEpochs: 20000}
  output: {uri: pvc://models/ckpt.aios}
  runPolicy: {backoffLimit: 3}
YAML
wait_until "a trainer process of ckpt-e2e" 60 bash -c "source '$E2E_ROOT/lib.sh' >/dev/null 2>&1; [[ -n \"\$(pids_with_env AIOS_JOB=ckpt-e2e)\" ]]"
sleep 8 # let it write a few checkpoints
phase="$(jp trainingjob/ckpt-e2e '{.status.phase}')"
[[ "$phase" != Succeeded ]] || fail "the job finished before the kill: make it longer"
victims="$(pids_with_env AIOS_JOB=ckpt-e2e)"
note "killing trainer process(es) $victims (phase $phase, epoch $(jp trainingjob/ckpt-e2e '{.status.progress.epoch}'))"
kill -9 $victims
wait_until "trainingjob ckpt-e2e Succeeded after the kill" 240 phase_is trainingjob/ckpt-e2e Succeeded
attempts="$(jp trainingjob/ckpt-e2e '{.status.attempts}')"
((attempts >= 2)) || fail "status.attempts is $attempts: no new attempt after the kill"
resumed=""
for p in $(kn get pods -o name); do
  resumed+="$(kn logs --limit-bytes=1000000 "$p" 2>/dev/null | grep -o 'resumed from the checkpoint of epoch [0-9]*' || true)"
done
[[ -n "$resumed" ]] || fail "no pod log says it resumed from a checkpoint"
note "succeeded after $attempts attempts; $resumed"
exit 0
