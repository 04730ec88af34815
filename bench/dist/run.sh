#!/usr/bin/env bash
# Distributed-training benchmarks, each printing its figures beside a peer measured in
# the same run:
#   1. ring all-reduce bandwidth on loopback for 1..64 MB buffers, 2 and 4 ranks, beside
#      memcpy of the same sizes (aios-bench-allreduce);
#   2. training throughput of aios-trainer with 1, 2 and 4 ranks (strategy allreduce,
#      one thread per rank) on the same job: global rows/s and scaling efficiency.
# Bounded: fixed sizes, at most a few seconds per configuration, every rank killed on exit.
#   bench/dist/run.sh [BUILD_DIR]      (default ./build)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
BENCH="$BUILD/bench/dist/aios-bench-allreduce"
TRAINER="$BUILD/src/trainer/aios-trainer"
for b in "$BENCH" "$TRAINER"; do
  [[ -x $b ]] || { echo "bench/dist: $b is missing; build first (cmake --build $BUILD)" >&2; exit 2; }
done
WORK="$(mktemp -d /tmp/aios-bench-dist.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]:-}"; do [[ -n $p ]] && kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
source "$ROOT/bench/lib/quiet.sh"
bench_quiet_begin dist

for n in ${AIOS_BENCH_DIST_RANKS:-2 4}; do
  timeout 300 "$BENCH" --ranks "$n" --reps 5
  echo
done

# A job big enough that an epoch takes a while on one core: 16384 rows x 32 features.
awk 'BEGIN{srand(11); for(i=0;i<16384;i++){s="";y=0;for(j=0;j<32;j++){x=rand()*2-1;s=s x ",";y+=sin(x*(j%5+1))} print s y}}' >"$WORK/data.csv"
cat >"$WORK/spec.json" <<JSON
{"model":{"type":"mlp","hidden":[128,128],"activation":"relu"},"loss":"mse",
 "optimizer":{"type":"sgd","learningRate":0.01,"batchSize":512,"epochs":4,"seed":3},
 "data":{"uri":"$WORK/data.csv","format":"csv","header":false},
 "checkpoint":{"everyEpochs":0}}
JSON
rows=16384; epochs=4
echo "training throughput: mlp 32-128-128-1, batch 512, $epochs epochs of $rows rows, one thread per rank"
# CPU seconds used by all finished children of this shell so far (bash `times`, line 2)
# (times must run in this shell, not in a $(...) subshell)
cpu_mark() { times >"$WORK/times"; }
cpu_read() { tail -1 "$WORK/times" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } print s }'; }
printf '%6s %10s %14s %9s %11s %16s %9s %11s %8s %12s\n' ranks wall_s rows_per_s speedup efficiency \
  epoch_rows_per_s speedup efficiency cpu_s rows_per_cpu_s
base=""; ebase=""
for n in 1 2 4; do
  port=$((30000 + RANDOM % 20000))
  pids=()
  cpu_mark
  c0=$(cpu_read)
  t0=$(date +%s.%N)
  for ((r = 0; r < n; r++)); do
    if ((n == 1)); then
      "$TRAINER" --spec "$WORK/spec.json" --threads 1 --metrics-port 0 --output "$WORK/m$n.aios" \
        >"$WORK/out.$n.$r" 2>"$WORK/err.$n.$r" &
    else
      AIOS_JOB=bench AIOS_RANK=$r AIOS_WORLD_SIZE=$n AIOS_COORDINATOR=127.0.0.1:$port AIOS_ATTEMPT=0 \
        "$TRAINER" --spec "$WORK/spec.json" --threads 1 --metrics-port 0 --output "$WORK/m$n.aios" \
        >"$WORK/out.$n.$r" 2>"$WORK/err.$n.$r" &
    fi
    pids+=($!)
  done
  ok=1
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  pids=()
  t1=$(date +%s.%N)
  cpu_mark
  cpu=$(echo "$(cpu_read) - $c0" | bc -l)
  ((ok)) || { echo "bench/dist: the $n-rank run failed:"; tail -3 "$WORK"/err.$n.*; exit 1; }
  wall=$(echo "$t1 - $t0" | bc -l)
  rps=$(echo "$rows * $epochs / $wall" | bc -l)
  [[ -n $base ]] || base=$rps
  # steady state: each rank's samples_per_sec of epochs 2.., averaged, summed over ranks
  eps=$(cat "$WORK"/out.$n.* | awk -F'"samples_per_sec":' '/"epoch":/ && !/"epoch":1,/ {split($2,a,","); s+=a[1]; k++} END {print (k ? s / (k / '"$n"') : 0)}')
  [[ -n $ebase ]] || ebase=$eps
  printf '%6d %10.2f %14.0f %9.2f %10.0f%% %16.0f %9.2f %10.0f%% %8.2f %12.0f\n' "$n" "$wall" "$rps" \
    "$(echo "$rps / $base" | bc -l)" "$(echo "100 * $rps / $base / $n" | bc -l)" \
    "$eps" "$(echo "$eps / $ebase" | bc -l)" "$(echo "100 * $eps / $ebase / $n" | bc -l)" \
    "$cpu" "$(echo "$rows * $epochs / $cpu" | bc -l)"
done
echo "(wall: process start, data loading, rendezvous and training; epoch: training epochs 2.. only,"
echo " the sum over ranks of the rows each trains per second; efficiency = speedup / ranks;"
echo " cpu_s: CPU seconds of all ranks together, whole run; rows_per_cpu_s: the work per CPU second)"
