#!/usr/bin/env bash
# Seconds from a load step to the new desired replica count: aios's decider beside
# models of the HPA (15 s sync) and KPA (2 s tick) formulas, on the same simulated
# series in the same run (see bench_autoscaler.c for what each model assumes).
#
#   bench/autoscaler/run.sh [BUILD_DIR]        (default: build)
#
# Pure computation (no cluster, ~1 s of CPU). Figures go to docs/autoscaling.md; the
# end-to-end latency on a real API server is measured by
# tests/integration/test_modelservice_controller.c (load_step_scales_up...).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
case "${1:-}" in -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
BUILD="${1:-$ROOT/build}"
cmake --build "$BUILD" -j2 --target aios-bench-autoscaler > /dev/null
source "$ROOT/bench/lib/quiet.sh"
bench_quiet_begin autoscaler
"$BUILD/bench/autoscaler/aios-bench-autoscaler"
