#!/usr/bin/env bash
# The user guide's quick start, run as written: the shell blocks of docs/user-guide.md
# between <!-- walkthrough:setup:begin/end --> and <!-- walkthrough:begin/end --> are
# extracted and run in order, from nothing in the namespace to a served prediction, and
# the prediction for x = 5 (printed by `kubectl aios predict` and by the `curl` block) must
# be within 0.1 of 10. Then the documented install, `kubectl apply -f crds/ && kubectl
# apply -k operator/`, must apply cleanly (server-side dry run here, so this test leaves
# the cluster's operator alone; test_install_kustomize.sh applies it for real and runs the
# operator as a Deployment).
#
# Two lines of the setup block are not run, because run.sh has done them already and
# repeating them would disturb other users of the machine: `scripts/install-deps.sh`
# (apt-get) and the `cmake` build (run.sh requires the programs in AIOS_BUILD_DIR, and the
# block's `build/` is read as that directory). Every other line runs verbatim: the
# cluster is reused by `scripts/cluster.sh up` (AIOS_CLUSTER_DIR is inherited), and the
# kubeconfig it prints is copied with its context's namespace set to this test's own, so
# the guide's namespace-less commands land there.
# E2E_LIMIT=420
source "$(dirname "$0")/lib.sh"
ROOT="$(cd "$E2E_ROOT/../.." && pwd)"
DOC="$ROOT/docs/user-guide.md"
setup_ns
work="$(mktemp -d /tmp/aios-e2e-docs.XXXXXX)"
trap 'rm -rf "$work"; k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT

# extract MARKER: the lines inside the ```sh fences between <!-- MARKER:begin --> and
# <!-- MARKER:end -->, every such pair of the file in order.
extract() {
  awk -v b="<!-- $1:begin -->" -v e="<!-- $1:end -->" '
    $0 == b { inside = 1; next }
    $0 == e { inside = 0; next }
    inside && /^```/ { fence = !fence; next }
    inside && fence { print }' "$DOC"
}
extract walkthrough:setup > "$work/setup.sh"
extract walkthrough > "$work/walk.sh"
[[ -s "$work/setup.sh" && -s "$work/walk.sh" ]] || fail "no walkthrough blocks in $DOC"
grep -q '^kubectl aios predict\|kubectl aios predict ms linear' "$work/walk.sh" || fail "the walkthrough has no kubectl aios predict"
note "walkthrough: $(wc -l < "$work/setup.sh") setup lines, $(wc -l < "$work/walk.sh") lines"

# the setup block, minus install-deps and the build (see the header)
grep -q '^scripts/install-deps.sh$' "$work/setup.sh" || fail "the setup block no longer installs the dependencies as expected"
grep -q '^cmake -S \. -B build && cmake --build build -j2$' "$work/setup.sh" || fail "the setup block no longer builds as expected"
grep -v -e '^scripts/install-deps.sh$' -e '^cmake ' "$work/setup.sh" \
  | sed "s#\$PWD/build/#$AIOS_BUILD_DIR/#g" > "$work/setup.run"
{
  cat "$work/setup.run"
  # this test's namespace as the context's (a copy: the cluster's kubeconfig is shared)
  echo 'cp "$KUBECONFIG" "$WORK/kubeconfig" && export KUBECONFIG="$WORK/kubeconfig"'
  echo 'kubectl config set-context --current --namespace="$NS" >/dev/null'
  echo 'cd "$WORK"'
  cat "$work/walk.sh"
} > "$work/all.sh"
ln -s "$ROOT/examples" "$work/examples"

t0=$SECONDS
(cd "$ROOT" && WORK="$work" NS="$NS" bash -euo pipefail "$work/all.sh") > "$work/out" 2> "$work/err" \
  || { sed 's/^/    out: /' "$work/out" >&2; sed 's/^/    err: /' "$work/err" | tail -40 >&2; fail "the walkthrough failed (exit $?)"; }
note "walkthrough ran in $((SECONDS - t0))s"
grep -q '^aios-node *Ready' "$work/out" || fail "kubectl get nodes did not show aios-node Ready: $(head -5 "$work/out")"
grep -q '^pvc://models/linear.aios [0-9a-f]\{64\}$' "$work/out" || fail "no artifact line (uri sha256) in the output"

# every prediction printed (kubectl aios predict's, then curl's) is about 10
preds="$(grep -o '{"predictions":\[[^]]*\]}' "$work/out" || true)"
[[ "$(wc -l <<<"$preds")" -ge 2 && -n "$preds" ]] || { sed 's/^/    out: /' "$work/out" >&2; fail "expected two predictions (kubectl aios predict and curl), got: $preds"; }
while read -r p; do
  python3 -c 'import json,sys; v=json.loads(sys.argv[1])["predictions"][0]; sys.exit(0 if abs(v - 10) <= 0.1 else 1)' "$p" \
    || fail "prediction $p is not within 0.1 of 10"
  note "prediction for x = 5: $p"
done <<<"$preds"
grep -Eq '^ModelService +linear +Ready ' "$work/out" || fail "kubectl aios get does not list ModelService linear Ready"
grep -Eq '^TrainingJob +linear +Succeeded ' "$work/out" || fail "kubectl aios get does not list TrainingJob linear Succeeded"

# the documented install applies cleanly
out="$(cd "$ROOT" && k apply -f crds/ --dry-run=server 2>&1 && k apply -k operator/ --dry-run=server 2>&1)" \
  || fail "kubectl apply -f crds/ && kubectl apply -k operator/ (server dry run) failed: $out"
for want in customresourcedefinition.apiextensions.k8s.io/trainingjobs.aios.dev \
  customresourcedefinition.apiextensions.k8s.io/modelservices.aios.dev \
  deployment.apps/aios-operator clusterrole.rbac.authorization.k8s.io/aios-operator \
  serviceaccount/aios-workload; do
  grep -q "^$want .*(server dry run)$" <<<"$out" || fail "the install did not apply $want: $out"
done
note "kubectl apply -f crds/ && kubectl apply -k operator/: $(wc -l <<<"$out") objects (server dry run)"
exit 0
