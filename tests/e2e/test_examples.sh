#!/usr/bin/env bash
# The examples the user guide points at, applied as their comments say:
# examples/trainingjob-distributed.yaml (one job per strategy: allreduce, parameter-server,
# pipeline), examples/trainingjob-csv-pvc.yaml (CSV from a claim, copied onto the PV as
# the comment shows) and examples/modelservice-int8.yaml (the seed job's file, quantized at
# load: the prediction for 5 within 0.2 of 10). Each job must succeed with the pod count of its strategy and an
# artifact; the CSV job's model must predict y = 3*x1 - 2*x2 + 1 (checked through a
# ModelService: x = (2, 1) gives 5, within 0.2).
# E2E_LIMIT=420
source "$(dirname "$0")/lib.sh"
EX="$E2E_ROOT/../../examples"
setup_ns
models_claim

# the CSV on a claim, as examples/trainingjob-csv-pvc.yaml says
datasets_claim
cp "$EX/data/plane.csv" "$DATASETS_DIR/"
kn apply -f "$EX/trainingjob-csv-pvc.yaml" >/dev/null
kn apply -f "$EX/trainingjob-distributed.yaml" >/dev/null
kn apply -f "$EX/trainingjob-linear.yaml" >/dev/null

# Worker and stage pods only: a parameter-server pod is still Running when the workers
# finish, so cleanPodPolicy Running (the default) may have deleted it already.
declare -A pods=([linear-allreduce]=2 [linear-ps]=2 [mlp-pipeline]=2 [plane]=1 [linear]=1)
for j in linear-allreduce linear-ps mlp-pipeline plane linear; do
  wait_until "trainingjob $j Succeeded (phase now: \$(jp trainingjob/$j '{.status.phase}'))" 240 phase_is "trainingjob/$j" Succeeded
  n="$(kn get pods -l "aios.dev/job=$j,aios.dev/role!=ps" -o name | wc -l)"
  [[ "$n" == "${pods[$j]}" ]] || fail "trainingjob $j ran $n pods, want ${pods[$j]}"
  sha="$(jp "trainingjob/$j" '{.status.artifact.sha256}')"
  [[ "$sha" =~ ^[0-9a-f]{64}$ ]] || fail "trainingjob $j has no artifact digest: $(jp "trainingjob/$j" '{.status}')"
  note "$j: Succeeded, $n pods, $(jp "trainingjob/$j" '{.status.artifact.uri}')"
done

kn apply -f - >/dev/null <<'YAML'
apiVersion: aios.dev/v1alpha1
kind: ModelService
metadata: {name: plane}
spec:
  model: {trainingJob: plane}
YAML
wait_until "modelservice plane Ready" 120 phase_is modelservice/plane Ready
pred=""
for _ in $(seq 1 20); do pred="$(predict plane '2, 1')" && break; sleep 0.5; done
[[ -n "$pred" ]] || fail "no prediction from modelservice plane"
python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 5) <= 0.2 else 1)' "$pred" || fail "prediction $pred for (2, 1) is not within 0.2 of 5"
note "plane: prediction for (2, 1): $pred"

kn apply -f "$EX/modelservice-int8.yaml" >/dev/null
wait_until "modelservice linear-int8 Ready" 120 phase_is modelservice/linear-int8 Ready
pred=""
for _ in $(seq 1 20); do pred="$(predict linear-int8 5)" && break; sleep 0.5; done
[[ -n "$pred" ]] || fail "no prediction from modelservice linear-int8"
python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 10) <= 0.2 else 1)' "$pred" || fail "int8 prediction $pred is not within 0.2 of 10"
note "linear-int8: prediction for 5: $pred"
exit 0
