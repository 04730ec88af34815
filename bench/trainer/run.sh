#!/usr/bin/env bash
# bench/trainer/run.sh - aios-trainer against PyTorch (Debian's python3-torch) on the same
# generated data, model, loss (MSE), optimizer (SGD, Adam), batch size and thread count, in
# the same run, plus this machine's memory bandwidth, then the matmul kernels' GFLOP/s on
# one thread beside PyTorch's and numpy's and this run's FMA peak. Prints tables.
#
#   bench/trainer/run.sh [ROWS]        default 1000000 rows x 32 features
#   BUILD=dir TORCH_SAMPLES=N ...      build directory; samples PyTorch times per config
#   BATCHES="32 128 256" OPTIMIZERS="sgd adam"   the configurations (the MLP takes both
#                                      optimizers, linear regression SGD only)
#
# Throughput is training rows per second: aios-trainer's best of 2 full epochs; PyTorch's
# best of 2 epochs over the first TORCH_SAMPLES rows of each (after a warm-up), which
# bounds the run time (~5-10 min on 2 cores) without changing the work per step.
# Both also report CPU seconds, printed as rows per CPU-second: on a busy machine this is
# the fairer figure, since wall-clock throughput then depends on what else runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-1000000}
BUILD=${BUILD:-$ROOT/build}
TORCH_SAMPLES=${TORCH_SAMPLES:-100000}
BATCHES=${BATCHES:-32 128 256}
OPTIMIZERS=${OPTIMIZERS:-sgd adam}
PY=/usr/bin/python3 # Debian's python, where python3-torch lives

"$ROOT/scripts/install-deps.sh" --bench
TRAINER=$BUILD/src/trainer/aios-trainer
HELPER=$BUILD/bench/trainer/bench_trainer
if ! { cmake -S "$ROOT" -B "$BUILD" && cmake --build "$BUILD" -j2 --target aios-trainer bench_trainer; } >"$BUILD.bench-build.log" 2>&1; then
  [[ -x $TRAINER && -x $HELPER ]] || { tail -20 "$BUILD.bench-build.log" >&2; exit 1; }
  echo "run.sh: build failed (see $BUILD.bench-build.log); using the binaries already in $BUILD" >&2
fi

WORK=$(mktemp -d /tmp/aios-bench-trainer.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
source "$ROOT/bench/lib/quiet.sh"
bench_quiet_begin trainer
"$HELPER" gen linear "$ROWS" 32 "$WORK/linear.f32"
"$HELPER" gen mlp "$ROWS" 32 "$WORK/mlp.f32"
"$HELPER" bandwidth 512 >"$WORK/bandwidth.json"

best() { # best epoch among JSON epoch lines on stdin: rows/s, CPU s, rows timed
  "$PY" -c 'import json,sys
rows=[json.loads(l) for l in sys.stdin if l.startswith("{\"epoch\"")]
b=max(rows,key=lambda r:r["samples_per_sec"]); print(b["samples_per_sec"], b["cpu_s"], b.get("rows", int(sys.argv[1])))' "$ROWS"
}

: >"$WORK/results"
for model in linear mlp; do
  for opt in $OPTIMIZERS; do
    [[ $model == linear && $opt != sgd ]] && continue # regression: SGD only
    for batch in $BATCHES; do
      for threads in 1 2; do
        if [[ $model == linear ]]; then margs=(--model linear); else margs=(--model mlp --hidden 64,64 --activation relu); fi
        a=$(timeout 600 "$TRAINER" --data "$WORK/$model.f32" "${margs[@]}" --loss mse --optimizer "$opt" \
              --lr 0.01 --batch-size "$batch" --epochs 2 --threads "$threads" --checkpoint-every 0 \
              --output "$WORK/model.aios" 2>/dev/null | best)
        t=$(timeout 600 "$PY" "$ROOT/bench/trainer/torch_bench.py" --data "$WORK/$model.f32" \
              --model "$model" --optimizer "$opt" --batch "$batch" --threads "$threads" --epochs 2 \
              --lr 0.01 --max-samples "$TORCH_SAMPLES" | best)
        echo "$model/$opt $batch $threads $a $t $ROWS" >>"$WORK/results"
        echo "done: $model $opt batch $batch threads $threads" >&2
      done
    done
  done
done

"$PY" - "$WORK/results" "$WORK/bandwidth.json" <<'PY'
import json, sys
bw = json.load(open(sys.argv[2]))
print(f"memory bandwidth (one thread, best of 5 passes over 512 MiB): read {bw['read_gbps']:.1f} GB/s, "
      f"copy {bw['copy_gbps']:.1f} GB/s")
print(f"{'model':<13} {'batch':>5} {'thr':>3} | {'aios rows/s':>12} {'torch rows/s':>12} {'ratio':>6} | "
      f"{'aios rows/cpu-s':>15} {'torch rows/cpu-s':>16} {'ratio':>6}")
for line in open(sys.argv[1]):
    m, b, t, asps, acpu, arows, tsps, tcpu, trows, _ = line.split()
    asps, tsps = float(asps), float(tsps)
    ac = int(arows) / float(acpu) if float(acpu) > 0 else float("nan")
    tc = int(trows) / float(tcpu) if float(tcpu) > 0 else float("nan")
    note = ""
    if m.startswith("linear"):  # each row is 33 floats read once: 132 bytes
        note = (f"  aios reads {asps * 132 / 1e9:.2f} GB/s wall, {ac * 132 / 1e9:.2f} GB/s per CPU-s: "
                f"{asps * 132 / 1e9 / bw['read_gbps']:.0%} / {ac * 132 / 1e9 / bw['read_gbps']:.0%} of read bandwidth")
    print(f"{m:<13} {b:>5} {t:>3} | {asps:>12,.0f} {tsps:>12,.0f} {asps / tsps:>6.1f} | "
          f"{ac:>15,.0f} {tc:>16,.0f} {ac / tc:>6.1f}{note}")
PY

echo
echo "matmul kernels, one thread, GFLOP/s (bench_trainer gemm; every product of both MLPs' steps, beside PyTorch and numpy on one thread):"
taskset -c 0 "$HELPER" gemm | taskset -c 0 "$PY" "$ROOT/bench/trainer/torch_gemm.py"
