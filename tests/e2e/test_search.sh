#!/usr/bin/env bash
# Hyperparameter search end to end: examples/trainingjob-search.yaml (y = x^2, a small MLP)
# with a generated dataset (64 points of y = x^2 + noise, drawn here) runs a random search of
# 6 trials, parallelism 2, over learning rate and hidden size on the cluster. Checked: never
# more than 2 trials' pods alive at once; 6 trials recorded, each with the validation loss
# its trainer reported; status.best is the trial with the lowest of them (no worse than any
# point the search tried); status.artifact is that trial's model, on the claim with the
# recorded SHA-256; a ModelService with model.trainingJob serves it and predicts x = 1
# within 0.5 of 1.
# Beside it, the accuracy objective with the real trainer: a grid search of a classifier
# (points inside a circle or not) over hidden size [1] and [16]; every trial records the
# validation accuracy its trainer reported, and the winner is the most accurate trial (the
# 16-unit network: one tanh unit can only cut the plane in two), at least 0.85.
# E2E_LIMIT=420
source "$(dirname "$0")/lib.sh"
setup_ns
models_claim
t0=$SECONDS

# the example, with a generated dataset in place of its inline 17 points
python3 - "$E2E_ROOT/../../examples/trainingjob-search.yaml" > "/tmp/e2e-search-$$.json" <<'PY'
import json, random, sys
import yaml
job = yaml.safe_load(open(sys.argv[1]))
rng = random.Random(5)
xs = [rng.uniform(-2, 2) for _ in range(64)]
job["spec"]["data"]["inline"] = {
    "features": [[round(x, 4)] for x in xs],
    "labels": [round(x * x + rng.gauss(0, 0.02), 4) for x in xs],
}
json.dump(job, sys.stdout)
PY
trap 'rm -f "/tmp/e2e-search-$$.json" "/tmp/e2e-search-acc-$$.json"; k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
kn apply -f "/tmp/e2e-search-$$.json" >/dev/null

# the classifier: 256 points in [-2, 2]^2, label 1 inside the circle of radius 1.3
python3 > "/tmp/e2e-search-acc-$$.json" <<'PY'
import json, random
rng = random.Random(3)
pts = [(rng.uniform(-2, 2), rng.uniform(-2, 2)) for _ in range(256)]
json.dump({"apiVersion": "aios.dev/v1alpha1", "kind": "TrainingJob", "metadata": {"name": "circle"},
           "spec": {"model": {"type": "mlp", "hidden": [16], "activation": "tanh"}, "loss": "cross_entropy",
                    "optimizer": {"type": "adam", "learningRate": 0.05, "batchSize": 32, "epochs": 150, "seed": 1},
                    "data": {"inline": {"features": [[round(x, 4), round(y, 4)] for x, y in pts],
                                        "labels": [int(x * x + y * y < 1.69) for x, y in pts]},
                             "validationSplit": 0.25},
                    "output": {"uri": "pvc://models/circle.aios"},
                    "search": {"algorithm": "grid", "parallelism": 2, "objective": {"metric": "accuracy"},
                               "space": {"hidden": {"values": [[1], [16]]}}}}}, __import__("sys").stdout)
PY
kn apply -f "/tmp/e2e-search-acc-$$.json" >/dev/null

# while it runs: never more than 2 trials' pods alive at once
watch_trials square 2 360
[[ "$(jp trainingjob/square '{.status.phase}')" == Succeeded ]] \
  || fail "search did not succeed: $(kn get trainingjob square -o 'jsonpath={.status}')"
note "search done in $((SECONDS - t0))s; at most $MAX_LIVE trials at once"
((MAX_LIVE >= 1)) || fail "never saw a trial's pods alive"

# the trials, the best, the artifact
kn get trainingjob square -o json > "/tmp/e2e-search-$$.json"
python3 - "/tmp/e2e-search-$$.json" <<'PY' || fail "status.trials / status.best are wrong"
import json, sys
st = json.load(open(sys.argv[1]))["status"]
trials = st["trials"]
assert len(trials) == 6, f"{len(trials)} trials"
for t in trials:
    assert t["phase"] == "Succeeded", t
    assert set(t["parameters"]) == {"learningRate", "hidden"}, t
    assert 0.001 <= t["parameters"]["learningRate"] <= 0.3, t
    assert t["objective"] == t["validationLoss"], t
uris = {t["artifact"]["uri"] for t in trials}
assert len(uris) == 6, f"trials share artifacts: {uris}"
best = min(trials, key=lambda t: t["validationLoss"])
assert st["best"]["trial"] == best["name"], (st["best"], best)
assert st["best"]["objective"] <= min(t["validationLoss"] for t in trials)
assert st["best"]["parameters"] == best["parameters"]
assert st["artifact"]["uri"] == best["artifact"]["uri"], (st["artifact"], best)
assert st["artifact"]["sha256"] == best["artifact"]["sha256"]
for t in trials:
    print(f'  [test_search] {t["name"]}: lr {t["parameters"]["learningRate"]:.4g} hidden {t["parameters"]["hidden"]} '
          f'-> validation loss {t["validationLoss"]:.4g}{"  <- best" if t is best else ""}', file=sys.stderr)
PY
uri="$(jp trainingjob/square '{.status.artifact.uri}')"
sha="$(jp trainingjob/square '{.status.artifact.sha256}')"
[[ "$uri" == pvc://models/square.trial-*.aios ]] || fail "status.artifact.uri is '$uri'"
dir="$(k get pv "$(jp pvc/models '{.spec.volumeName}')" -o 'jsonpath={.spec.hostPath.path}')"
file="$dir/${uri#pvc://models/}"
[[ -f "$file" ]] || fail "the best model $file is not on the claim"
[[ "$(sha256sum "$file" | cut -d' ' -f1)" == "$sha" ]] || fail "$file does not have the recorded sha256 $sha"

# serve the winner
kn apply -f - >/dev/null <<'YAML'
apiVersion: aios.dev/v1alpha1
kind: ModelService
metadata: {name: square}
spec:
  model: {trainingJob: square}
YAML
wait_until "modelservice square Ready" 120 phase_is modelservice/square Ready
[[ "$(jp modelservice/square '{.status.model.uri}')" == "$uri" ]] \
  || fail "modelservice serves '$(jp modelservice/square '{.status.model.uri}')', not the best trial's $uri"
pred=""
for _ in $(seq 1 20); do pred="$(predict square 1)" && break; sleep 0.5; done
[[ -n "$pred" ]] || fail "no prediction from modelservice square"
python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 1) <= 0.5 else 1)' "$pred" \
  || fail "prediction $pred for x = 1 is not within 0.5 of 1"
note "the winner ($uri) predicts $pred for x = 1; $((SECONDS - t0))s in all"

# the accuracy search
circle_ended() { [[ "$(jp trainingjob/circle '{.status.phase}')" =~ ^(Succeeded|Failed)$ ]]; }
wait_until "trainingjob circle finished" 180 circle_ended
kn get trainingjob circle -o json > "/tmp/e2e-search-acc-$$.json"
python3 - "/tmp/e2e-search-acc-$$.json" <<'PY' || fail "the accuracy search is wrong: $(kn get trainingjob circle -o 'jsonpath={.status}')"
import json, sys
st = json.load(open(sys.argv[1]))["status"]
assert st["phase"] == "Succeeded", st.get("conditions")
trials = st["trials"]
assert len(trials) == 2, f"{len(trials)} trials"
for t in trials:
    assert t["phase"] == "Succeeded", t
    assert 0 <= t["accuracy"] <= 1, t
    assert t["objective"] == t["accuracy"], t
    print(f'  [test_search] circle {t["name"]}: hidden {t["parameters"]["hidden"]} -> validation accuracy '
          f'{t["accuracy"]:.3f}, validation loss {t["validationLoss"]:.3f}', file=sys.stderr)
best = max(trials, key=lambda t: t["accuracy"])
assert st["best"]["trial"] == best["name"], (st["best"], best)
assert best["parameters"]["hidden"] == [16], best
assert best["accuracy"] >= 0.85, best
assert st["artifact"]["uri"] == best["artifact"]["uri"], (st["artifact"], best)
PY
note "accuracy search done; $((SECONDS - t0))s in all"
exit 0
