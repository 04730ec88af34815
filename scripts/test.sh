#!/usr/bin/env bash
# The whole test suite, every tier, as CI runs it (.ci/run calls exactly this).
# Installs what it needs, builds RelWithDebInfo (tested), Release and Debug (compiled only),
# all with warnings as errors, then runs:
#   source checks, unit + fixture tests, integration tests against a real kube-apiserver,
#   end-to-end tests on the one-machine cluster (aios-node), end-to-end tests on the kubelet
#   node kind (the images of scripts/images.sh in containerd, real Helm), bounded fuzzing, the unit + fixture
#   tiers again under AddressSanitizer + UBSan, and under valgrind (no leaks).
# Options (environment):
#   AIOS_TEST_TIERS  space-separated subset of: source unit integration e2e e2e-kubelet fuzz asan valgrind
#   AIOS_FUZZ_SECONDS  seconds per fuzz driver (default 20)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
TIERS="${AIOS_TEST_TIERS:-source unit integration e2e e2e-kubelet fuzz asan valgrind}"
JOBS="${AIOS_JOBS:-2}"
declare -A RESULT
step() { printf '\n==== %s (%s)\n' "$1" "$(date -u +%T)"; }
run_tier() {
  local name="$1"; shift
  local t0=$SECONDS
  if "$@"; then RESULT[$name]="passed in $((SECONDS - t0)) s"; else RESULT[$name]="FAILED after $((SECONDS - t0)) s"; fi
}
want() { [[ " $TIERS " == *" $1 "* ]]; }

step "dependencies"
scripts/install-deps.sh
KUBE_BIN="$(scripts/build-kube.sh)"
export AIOS_KUBE_BIN="$KUBE_BIN"
scripts/helm.sh >/dev/null # real Helm for the unit tier's chart checks and e2e-kubelet

step "build (warnings are errors)"
cmake -S . -B build -DAIOS_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >build-configure.log 2>&1 || { cat build-configure.log; exit 1; }
cmake --build build -j"$JOBS" 2>&1 | tee build.log | grep -E 'warning|error' || true
[[ ${PIPESTATUS[0]} == 0 ]] || { echo "build failed"; tail -40 build.log; exit 1; }
rm -f build-configure.log build.log
# The other two build types, compile only, so a warning that only -O3 (Release) or -O0
# (Debug) shows fails CI too: about 25 s each on two cores.
for bt in Release Debug; do
  dir="build-${bt,,}"
  step "build $bt into $dir (warnings are errors, compile only)"
  cmake -S . -B "$dir" -DAIOS_WERROR=ON -DCMAKE_BUILD_TYPE="$bt" >"$dir.log" 2>&1 \
    && cmake --build "$dir" -j"$JOBS" >>"$dir.log" 2>&1 \
    || { echo "$bt build failed"; grep -E 'warning|error' "$dir.log" | head -40; tail -20 "$dir.log"; exit 1; }
  rm -f "$dir.log"
done

if want source; then step "source checks"; run_tier source scripts/check-source.sh; fi
if want unit; then step "unit + fixture tests"; run_tier unit bash -c "cd build && ctest -j$JOBS --output-on-failure -L 'unit|fixture'"; fi
if want integration; then step "integration tests (real kube-apiserver + etcd)"; run_tier integration tests/cluster/run-integration.sh build; fi
if want e2e; then step "end-to-end tests (one-machine cluster)"; run_tier e2e tests/e2e/run.sh build; fi
if want e2e-kubelet; then step "end-to-end tests (kubelet node kind: the project's images, real Helm)"; run_tier e2e-kubelet env AIOS_E2E_NODE=kubelet tests/e2e/run.sh build; fi
if want fuzz; then step "fuzzing (bounded)"; run_tier fuzz fuzz/run.sh "${AIOS_FUZZ_SECONDS:-20}"; fi
if want asan; then
  step "unit + fixture tests under AddressSanitizer + UBSan"
  run_tier asan bash -c "cmake -S . -B build-asan -DAIOS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null && cmake --build build-asan -j$JOBS >/dev/null && cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -j$JOBS --output-on-failure -L 'unit|fixture'"
fi
if want valgrind; then
  step "unit + fixture tests under valgrind"
  run_tier valgrind scripts/valgrind-tests.sh build
fi

step "summary"
passed=0; failed=0
for t in $TIERS; do
  r="${RESULT[$t]:-not run}"
  printf '  %-12s %s\n' "$t" "$r"
  if [[ "$r" == passed* ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "tiers: $passed passed, $failed failed"
[[ $failed == 0 ]]
