#!/usr/bin/env bash
# The digits example as its comments and the user guide say: examples/data/digits.py writes
# the CSVs onto the claim datasets (examples/pvc-datasets.yaml), examples/trainingjob-digits.yaml
# trains the MLP from pvc://datasets/digits-train.csv, examples/modelservice-digits.yaml serves
# it. Every one of the 360 test images goes through the API server's service proxy (V1
# predict); the served model must classify at least 95% of them right (the same model scores
# 0.97 trained by hand: docs/user-guide.md) and answer ten probabilities a row.
# E2E_LIMIT=420
source "$(dirname "$0")/lib.sh"
EX="$E2E_ROOT/../../examples"
setup_ns
models_claim

datasets_claim
dir="$DATASETS_DIR"
/usr/bin/python3 "$EX/data/digits.py" "$dir" >/dev/null || fail "examples/data/digits.py failed"
kn apply -f "$EX/trainingjob-digits.yaml" >/dev/null
wait_until "trainingjob digits Succeeded (phase now: \$(jp trainingjob/digits '{.status.phase}'))" 300 phase_is trainingjob/digits Succeeded
note "digits: Succeeded, $(jp trainingjob/digits '{.status.artifact.uri}')"
kn apply -f "$EX/modelservice-digits.yaml" >/dev/null
wait_until "modelservice digits Ready" 180 phase_is modelservice/digits Ready

server="$(k config view --raw --minify -o 'jsonpath={.clusters[0].cluster.server}')"
token="$(k config view --raw --minify -o 'jsonpath={.users[0].user.token}')"
ca="$(mktemp)"
k config view --raw --minify -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$ca"
body="$(mktemp)"
/usr/bin/python3 - "$dir/digits-test.csv" >"$body" <<'PY'
import json, sys
rows = [l.strip().split(",") for l in open(sys.argv[1]).readlines()[1:]]
print(json.dumps({"instances": [[float(v) for v in r[:64]] for r in rows]}))
PY
out=""
for _ in $(seq 1 30); do
  out="$(curl -sS --fail --cacert "$ca" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data-binary "@$body" "$server/api/v1/namespaces/$NS/services/digits:80/proxy/v1/models/digits:predict" 2>&1)" && break
  out=""; sleep 1
done
rm -f "$ca" "$body"
[[ -n "$out" ]] || fail "no prediction from modelservice digits"
acc="$(/usr/bin/python3 - "$dir/digits-test.csv" "$out" <<'PY'
import json, sys
labels = [int(l.strip().split(",")[64]) for l in open(sys.argv[1]).readlines()[1:]]
p = json.loads(sys.argv[2])["predictions"]
if len(p) != len(labels) or any(len(r) != 10 for r in p):
    sys.exit("want %d rows of 10 probabilities, got %d rows" % (len(labels), len(p)))
print(sum(max(range(10), key=r.__getitem__) == t for r, t in zip(p, labels)) / len(labels))
PY
)" || fail "bad predictions: ${out:0:300}"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.95 else 1)' "$acc" || fail "test accuracy $acc < 0.95"
note "digits: test accuracy $acc on 360 images"
exit 0
