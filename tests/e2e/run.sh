#!/usr/bin/env bash
# End-to-end tests on the one-machine cluster (scripts/cluster.sh).
#
#   tests/e2e/run.sh [BUILD_DIR] [TEST...]     e.g. tests/e2e/run.sh build test_node_pods
#
# Brings the cluster up (or reuses the one running; a cluster it started is torn down at
# the end), then runs each tests/e2e/test_*.sh (or the ones named) under `timeout`
# with its own limit (E2E_LIMIT_<name> in the test's header, default 300 s), each in
# its own namespace. Prints one PASS/FAIL line per test; exits 1 if any failed.
# Needs root (aios-node makes a bridge and namespaces).
#
#   AIOS_E2E_NODE=kubelet tests/e2e/run.sh build    the same on the kubelet node kind
#     (scripts/cluster.sh up --node kubelet): by default the tests named in KUBELET_TESTS,
#     the ones marked `# E2E_NODE=kubelet` among them; those are not run on aios-node.
#     Tests see the kind in AIOS_E2E_NODE (aios-node or kubelet).
set -uo pipefail
E2E_ROOT="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$E2E_ROOT/../.." && pwd)"
BUILD="${1:-build}"; shift || true
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
export AIOS_BUILD_DIR="$BUILD" E2E_ROOT
NODE_KIND="${AIOS_E2E_NODE:-aios-node}"
case "$NODE_KIND" in aios-node|kubelet) ;; *) echo "e2e: AIOS_E2E_NODE=$NODE_KIND: use aios-node or kubelet" >&2; exit 2 ;; esac
export AIOS_E2E_NODE="$NODE_KIND"
if [[ $NODE_KIND == kubelet ]]; then
  export AIOS_CLUSTER_DIR="${AIOS_CLUSTER_DIR:-/var/lib/aios-cluster-kubelet}"
else
  export AIOS_CLUSTER_DIR="${AIOS_CLUSTER_DIR:-/var/lib/aios-cluster}"
fi
# The kubelet kind's subset (docs/local-cluster.md, "End-to-end tests"): the seed example
# from real containers (with the images' user and read-only root), 2 workers across pods,
# scaling under load, a checkpoint restart after a container kill, and the operator from
# its image by kustomize and by real Helm. The tests of aios-node itself stay on aios-node.
KUBELET_TESTS=(test_kubelet_containers test_distributed test_checkpoint_restart test_autoscale
  test_install_kustomize test_kubelet_helm)

[[ $EUID -eq 0 ]] || { echo "e2e: needs root (the cluster's node agent makes a bridge and network namespaces)" >&2; exit 1; }
for p in node operator trainer serve; do
  [[ -x "$BUILD/src/$p/aios-$p" ]] || { echo "e2e: $BUILD/src/$p/aios-$p is not built" >&2; exit 1; }
done

started=0
if ! "$ROOT/scripts/cluster.sh" status --node "$NODE_KIND" >/dev/null 2>&1; then
  started=1
fi
KUBECONFIG="$("$ROOT/scripts/cluster.sh" up --node "$NODE_KIND")" || { echo "e2e: the cluster did not come up" >&2; exit 1; }
export KUBECONFIG
KBIN="${AIOS_KUBE_BIN:-$("$ROOT/scripts/build-kube.sh")}"
export KBIN

tests=("$@")
if ((${#tests[@]} == 0)); then
  if [[ $NODE_KIND == kubelet ]]; then
    tests=("${KUBELET_TESTS[@]}")
  else
    for f in "$E2E_ROOT"/test_*.sh; do
      grep -q '^# E2E_NODE=kubelet' "$f" || tests+=("$(basename "$f" .sh)")
    done
  fi
fi
failed=()
for t in "${tests[@]}"; do
  f="$E2E_ROOT/${t%.sh}.sh"
  [[ -f "$f" ]] || { echo "e2e: no test $t" >&2; failed+=("$t"); continue; }
  limit="$(sed -n 's/^# E2E_LIMIT=\([0-9]*\).*/\1/p' "$f" | head -1)"
  limit="${limit:-300}"
  start=$SECONDS
  printf '==== %s (limit %ss)\n' "$t" "$limit"
  if timeout --kill-after=10 "$limit" bash "$f"; then
    printf 'PASS %s (%ss)\n' "$t" "$((SECONDS - start))"
  else
    rc=$?
    [[ $rc == 124 ]] && printf '  [%s] killed: over its %ss limit\n' "$t" "$limit"
    printf 'FAIL %s (%ss)\n' "$t" "$((SECONDS - start))"
    failed+=("$t")
  fi
done

if ((started)); then "$ROOT/scripts/cluster.sh" down --node "$NODE_KIND" >/dev/null 2>&1; fi
if ((${#failed[@]})); then
  echo "e2e: ${#failed[@]} of ${#tests[@]} failed: ${failed[*]}"
  exit 1
fi
echo "e2e: all ${#tests[@]} passed"
