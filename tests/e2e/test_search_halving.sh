#!/usr/bin/env bash
# Successive halving end to end with the real trainer: examples/trainingjob-halving.yaml
# (y = x^2, 7 trials: rungs of 4 trials x 50 epochs, 2 x 100, 1 x 200; eta 2, parallelism 2).
# Checked, as docs/search.md promises:
# - never more than 2 trials' pods alive at once;
# - status.trials: 4, 2 and 1 trials with 50, 100 and 200 epochs; rung r + 1 holds the best
#   half of rung r by the validation loss its trainer reported (ties: the lower index), in
#   rank order, with their parameters; the others are Stopped with reason NotPromoted;
# - each promoted trial really continued its parent's run: its pod's spec (AIOS_SPEC) has
#   checkpoint.resumeFrom = the parent's output + ".ckpt", its trainer logged "continued
#   from the checkpoint of epoch <parent's epochs> in <that directory>", and its epoch lines
#   run from the parent's epochs + 1 to its own (a rung-0 pod: no resumeFrom, from epoch 1);
# - status.best is the 200-epoch trial, status.artifact its artifact, on the claim with the
#   recorded SHA-256.
# E2E_LIMIT=150
source "$(dirname "$0")/lib.sh"
setup_ns
models_claim
t0=$SECONDS
job=square-halving
kn apply -f "$E2E_ROOT/../../examples/trainingjob-halving.yaml" >/dev/null

watch_trials "$job" 2 120
[[ "$(jp "trainingjob/$job" '{.status.phase}')" == Succeeded ]] \
  || fail "search did not succeed: $(kn get trainingjob "$job" -o 'jsonpath={.status}')"
note "search done in $((SECONDS - t0))s; at most $MAX_LIVE trials at once"
((MAX_LIVE >= 1)) || fail "never saw a trial's pods alive"

out="/tmp/e2e-halving-$$"
mkdir -p "$out"
trap 'rm -rf "$out"; k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
kn get trainingjob "$job" -o json > "$out/job.json"
kn get pods -l "aios.dev/job=$job" -o json > "$out/pods.json"
for p in $(kn get pods -l "aios.dev/job=$job" -o name); do
  kn logs --limit-bytes=4000000 "$p" > "$out/${p#pod/}.log" 2>&1 || fail "no log for $p"
done
dir="$(k get pv "$(jp pvc/models '{.spec.volumeName}')" -o 'jsonpath={.spec.hostPath.path}')"
[[ -d "$dir" ]] || fail "the claim's hostPath '$dir' is not a directory here"

python3 - "$out" "$dir" <<'PY' || fail "successive halving did not do what docs/search.md says (above)"
import hashlib, json, os, re, sys
out, claim = sys.argv[1], sys.argv[2]
job = json.load(open(os.path.join(out, "job.json")))
st, spec = job["status"], job["spec"]
trials = st["trials"]
base = spec["output"]["uri"]  # pvc://models/square-halving.aios
stem = base[: -len(".aios")]
def say(msg): print(f"  [test_search_halving] {msg}", file=sys.stderr)

# the rungs: contiguous runs of trials, sizes 4, 2, 1, epochs 50, 100, 200
assert [t["index"] for t in trials] == list(range(7)), [t["index"] for t in trials]
rungs = [(0, 4, 50), (4, 6, 100), (6, 7, 200)]
for lo, hi, ep in rungs:
    for t in trials[lo:hi]:
        assert t["epochs"] == ep, f'{t["name"]}: epochs {t["epochs"]}, want {ep} (rung of trials {lo}..{hi - 1})'
        assert t["phase"] in ("Succeeded", "Stopped"), t
        assert t["objective"] == t["validationLoss"], t
        assert t["artifact"]["uri"] == f'{stem}.trial-{t["index"]}.aios', t
        say(f'{t["name"]}: {ep} epochs, lr {t["parameters"]["learningRate"]:.4g} hidden {t["parameters"]["hidden"]}'
            f' -> validation loss {t["validationLoss"]:.4g}, {t["phase"]}')

# promotion: the next rung is the best of this one, best first (ties: lower index)
parent = {}
for (lo, hi, _), (nlo, nhi, _) in zip(rungs, rungs[1:]):
    ranked = sorted(trials[lo:hi], key=lambda t: (t["objective"], t["index"]))
    promoted, rest = ranked[: nhi - nlo], ranked[nhi - nlo:]
    for k, p in enumerate(promoted):
        child = trials[nlo + k]
        assert child["parameters"] == p["parameters"], \
            f'{child["name"]} has {child["parameters"]}, not those of {p["name"]}, rank {k} of its rung: {p["parameters"]}'
        assert p["phase"] == "Succeeded", f'{p["name"]} was promoted but is {p["phase"]}'
        parent[child["index"]] = p
    for t in rest:
        assert t["phase"] == "Stopped" and t.get("reason") == "NotPromoted", \
            f'{t["name"]} (validation loss {t["objective"]}) is not among the best {nhi - nlo} of its rung but is {t["phase"]}/{t.get("reason")}'
assert trials[6]["phase"] == "Succeeded", trials[6]

# the pods: one succeeded rank-0 pod per trial; promoted ones continued the parent's run
pods = json.load(open(os.path.join(out, "pods.json")))["items"]
seen = set()
for pod in pods:
    if pod["status"].get("phase") != "Succeeded":
        continue
    name = pod["metadata"]["name"]
    i = int(pod["metadata"]["labels"]["aios.dev/trial"])
    assert i not in seen, f"two succeeded pods of trial {i}"
    seen.add(i)
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    pspec = json.loads(env["AIOS_SPEC"])
    assert pspec["optimizer"]["epochs"] == trials[i]["epochs"], (name, pspec["optimizer"])
    rf = pspec.get("checkpoint", {}).get("resumeFrom")
    log = open(os.path.join(out, name + ".log")).read()
    epochs, cont = [], []  # the epoch lines (stdout); the "resumed" log events (stderr)
    for line in log.splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if not isinstance(o, dict):
            continue
        if "epoch" in o and "epochs" in o and "loss" in o:
            epochs.append(o["epoch"])
        if o.get("event") in ("resumed", "resume_from"):
            m = re.fullmatch(r"continued from the checkpoint of epoch (\d+) in (\S+)", o.get("msg", ""))
            cont.append(m.groups() if m else (None, o.get("msg")))
    if i in parent:
        p = parent[i]
        want = f'{stem}.trial-{p["index"]}.aios.ckpt'
        assert rf == want, f"{name}: checkpoint.resumeFrom {rf!r}, want {want!r} (its parent {p['name']})"
        assert len(cont) == 1 and cont[0][0], f"{name}: not one 'continued from the checkpoint' event: {cont}\n{log[-3000:]}"
        at, path = int(cont[0][0]), cont[0][1]
        assert at == p["epochs"], f"{name} continued from epoch {at}, its parent {p['name']} ran {p['epochs']}"
        assert path.rstrip("/").endswith(want[len("pvc://models/"):]), f"{name} continued from {path}, not {want}"
        assert epochs == list(range(p["epochs"] + 1, trials[i]["epochs"] + 1)), \
            f"{name}: epoch lines {epochs[:3]}..{epochs[-3:]} ({len(epochs)}), want {p['epochs'] + 1}..{trials[i]['epochs']}"
        assert os.path.isdir(os.path.join(claim, want[len("pvc://models/"):])), f"{want} is not on the claim"
        say(f'{name}: resumeFrom {p["name"]}\'s checkpoints, continued at epoch {at}, trained epochs {epochs[0]}..{epochs[-1]}')
    else:
        assert rf is None, f"{name} (rung 0) resumes from {rf}"
        assert not cont, f"{name} (rung 0) continued from a checkpoint: {cont}"
        assert epochs == list(range(1, trials[i]["epochs"] + 1)), \
            f"{name}: epoch lines {epochs[:3]}..{epochs[-3:]} ({len(epochs)}), want 1..{trials[i]['epochs']}"
assert seen == set(range(7)), f"succeeded pods for trials {sorted(seen)}, want 0..6"

# the best: the trial of the last rung; its artifact on the claim with its digest
best = trials[6]
assert st["best"]["trial"] == best["name"], (st["best"], best["name"])
assert st["best"]["objective"] == best["objective"], (st["best"], best["objective"])
assert st["best"]["parameters"] == best["parameters"], (st["best"], best["parameters"])
assert st["artifact"]["uri"] == best["artifact"]["uri"], (st["artifact"], best["artifact"])
assert st["artifact"]["sha256"] == best["artifact"]["sha256"], (st["artifact"], best["artifact"])
f = os.path.join(claim, st["artifact"]["uri"][len("pvc://models/"):])
assert os.path.isfile(f), f"the best model {f} is not on the claim"
assert hashlib.sha256(open(f, "rb").read()).hexdigest() == st["artifact"]["sha256"], f"{f} does not have the recorded sha256"
say(f'best {best["name"]}: validation loss {best["objective"]:.4g}, {st["artifact"]["uri"]} sha256 {st["artifact"]["sha256"][:12]}...')
PY
note "checked; $((SECONDS - t0))s in all"
exit 0
