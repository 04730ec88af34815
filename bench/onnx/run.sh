#!/usr/bin/env bash
# bench/onnx/run.sh [MODEL.onnx ...] - aios-serve's forward pass against onnxruntime-node's
# CPU provider: the same ONNX model, the same input rows, batch 1, 32 and 256, one thread
# each, in the same run.
#
# Its own directory rather than bench/serve: bench/serve measures the server end to end
# over HTTP against other servers; this measures the kernels alone (no HTTP, no JSON)
# against another runtime, on ONNX files, with a peer (node) and helpers of its own.
#
# Models: without arguments, two MLPs made by PyTorch and exported with torch.onnx.export
# (models.py; ReLU between layers, default initialization, seeded):
#   small  32-64-64-1, identity output
#   wide   256-512-512-10, softmax output
# With arguments, those ONNX files instead (aios-trainer's model.onnx, written when
# spec.output.formats lists onnx, say); each is named by its file name.
# Per model, 256 input rows (standard normal, seeded); batch B is the first B of them:
#   aios         aios-bench-onnx (forward.c): the model loaded and lowered as
#                `aios-serve --model M.onnx` does, aios_engine_forward timed
#   onnxruntime  ort_bench.mjs: onnxruntime-node (tests/support/ort.py installs it,
#                pinned), InferenceSession.run with intraOpNumThreads=1,
#                interOpNumThreads=1, sequential
# One after the other, never at once. Both warm up, then time REPEATS runs of about
# REPEAT_MS each (back-to-back calls); the figure is the median of the runs' wall time
# per batch. The onnxruntime figure includes the node binding's per-call work, as a
# node user pays it. Then every output of every batch is checked against the other
# runtime's (1e-5 relative, 1e-6 absolute floor near 0): a mismatch fails the run.
# The table: model, batch, microseconds per batch and rows/s of each, and the ratio
# onnxruntime us / aios us (above 1: aios is faster).
#
#   bench/onnx/run.sh --help   this text
# Environment: AIOS_BUILD_DIR (default build/); AIOS_BENCH_ONNX_REPEATS (default 15),
# AIOS_BENCH_ONNX_REPEAT_MS (100), AIOS_BENCH_ONNX_WARMUP_MS (200): small values make a
# smoke run; AIOS_NPM_CACHE (tests/support/ort.py); AIOS_BENCH_RECORD and the rest of
# bench/lib/quiet.sh (figures go to docs/serve.md, from a quiet run only).
# Exit: 0 ok; 1 bad usage; 2 a tool missing, the build, the onnxruntime-node install or
# a model that cannot be made or found; 3 quiet.sh refused to record a loud run; 4 the
# outputs disagree; 5 a timing program failed (its message is printed).
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;; -*) echo "run.sh: unknown flag $1 (see --help)" >&2; exit 1 ;; esac
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/bench/onnx"
build="${AIOS_BUILD_DIR:-$root/build}"
py=/usr/bin/python3 # Debian's python, where python3-torch and python3-onnx live
repeats="${AIOS_BENCH_ONNX_REPEATS:-15}"
repeat_ms="${AIOS_BENCH_ONNX_REPEAT_MS:-100}"
warmup_ms="${AIOS_BENCH_ONNX_WARMUP_MS:-200}"
batches=1,32,256
rows=256 # input rows per model: the largest batch

die() { # CODE MESSAGE
  echo "run.sh: $2" >&2
  exit "$1"
}
[[ "$repeats" =~ ^[1-9][0-9]{0,2}$ ]] || die 1 "AIOS_BENCH_ONNX_REPEATS=$repeats: want a whole number, 1 to 999"
for v in repeat_ms warmup_ms; do
  [[ "${!v}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die 1 "AIOS_BENCH_ONNX_${v^^}=${!v}: want milliseconds, a number >= 0"
done
for tool in "$py" node; do
  command -v "$tool" >/dev/null || die 2 "$tool missing (scripts/install-deps.sh --bench)"
done
"$py" -c "import torch, onnx, numpy" 2>/dev/null || die 2 "python3-torch, python3-onnx or python3-numpy missing"
for m in "$@"; do
  [[ -f "$m" && -r "$m" ]] || die 2 "model $m: no such readable file"
done

tmp="$(mktemp -d /tmp/aios-bench-onnx.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# Built, installed and made before the measured part starts.
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$tmp/build.log" 2>&1 ||
    { tail -20 "$tmp/build.log" >&2; die 2 "cannot configure $build"; }
fi
cmake --build "$build" -j2 --target aios-bench-onnx >"$tmp/build.log" 2>&1 ||
  { tail -20 "$tmp/build.log" >&2; die 2 "cannot build aios-bench-onnx in $build"; }
bench="$build/bench/onnx/aios-bench-onnx"
ortd="$("$py" -c 'import sys; sys.path.insert(0, sys.argv[1]); import ort; print(ort.install())' \
  "$root/tests/support" 2>"$tmp/ort.log")" ||
  { cat "$tmp/ort.log" >&2; die 2 "cannot install onnxruntime-node (tests/support/ort.py)"; }

names=()        # per model: its name, $tmp/NAME.x.f32 (input rows), $tmp/NAME.dims
declare -A file # name -> the ONNX file
if (($# == 0)); then
  "$py" "$here/models.py" make "$tmp" "$rows" small:32,64,64,1:identity wide:256,512,512,10:softmax \
    >"$tmp/made" 2>"$tmp/models.log" || { cat "$tmp/models.log" >&2; die 2 "cannot make the models (models.py)"; }
  while read -r name dims; do
    names+=("$name") file[$name]="$tmp/$name.onnx"
    echo "$dims" >"$tmp/$name.dims"
  done <"$tmp/made"
else
  for m in "$@"; do
    name="$(basename "$m" .onnx)"
    [[ -n "${file[$name]:-}" ]] && die 1 "two models named $name: ${file[$name]} and $m"
    "$py" "$here/models.py" rows "$m" "$tmp/$name.x.f32" "$rows" >"$tmp/$name.dims" 2>"$tmp/models.log" ||
      { cat "$tmp/models.log" >&2; die 2 "model $m: cannot make input rows for it (models.py)"; }
    names+=("$name") file[$name]="$m"
  done
fi

source "$root/bench/lib/quiet.sh"
bench_quiet_begin onnx

# timed WHO NAME CMD...: runs one timing program, its lines in $tmp/NAME.WHO.out
timed() {
  local who=$1 name=$2
  shift 2
  local rc=0
  "$@" --batches "$batches" --repeats "$repeats" --repeat-ms "$repeat_ms" --warmup-ms "$warmup_ms" \
    --out-dir "$tmp/$name" >"$tmp/$name.$who.out" 2>"$tmp/$name.$who.err" || rc=$?
  ((rc == 0)) || { cat "$tmp/$name.$who.err" >&2; die 5 "$who timing of model $name failed (exit $rc)"; }
}
for name in "${names[@]}"; do
  mkdir -p "$tmp/$name"
  timed aios "$name" "$bench" --model "${file[$name]}" --input "$tmp/$name.x.f32"
  timed ort "$name" env AIOS_ORT_DIR="$ortd" node "$here/ort_bench.mjs" --model "${file[$name]}" \
    --input "$tmp/$name.x.f32" --dims "$(cat "$tmp/$name.dims")"
  echo "done: $name" >&2
done

# Agreement first: figures of two runtimes that compute different things mean nothing.
for name in "${names[@]}"; do
  for b in ${batches//,/ }; do
    "$py" "$here/models.py" agree "$tmp/$name/aios.b$b.f32" "$tmp/$name/ort.b$b.f32" "$name batch $b" \
      >>"$tmp/agree" || die 4 "aios-serve's forward pass and onnxruntime disagree on model $name at batch $b"
  done
done

ortv="$(sed -n 's/.* ort=//p' "$tmp/${names[0]}.ort.out")"
cpu="$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
echo "## aios-serve forward pass against onnxruntime-node $ortv ($(date -u +%FT%TZ), $cpu, $(nproc) CPUs, node $(node --version))"
echo
flags="$(sed -n 's/^\(CMAKE_BUILD_TYPE\|AIOS_NATIVE\):[A-Z]*=\(.*\)/\1=\2/p' "$build/CMakeCache.txt" | paste -sd' ')"
echo "aios-bench-onnx built with $flags (AIOS_NATIVE=ON: -march=native); onnxruntime picks its kernels for this CPU at run time."
echo
echo "One thread each; microseconds per batch: the median of $repeats runs of about $repeat_ms ms" \
  "(after $warmup_ms ms of warm-up); ratio = onnxruntime us / aios us (above 1: aios is faster)."
echo
echo "| model | batch | aios us/batch | onnxruntime us/batch | aios rows/s | onnxruntime rows/s | ratio |"
echo "|---|---|---|---|---|---|---|"
for name in "${names[@]}"; do
  join <(sed -n 's/^batch=\([0-9]*\) .*median_us=\([0-9.]*\) .*/\1 \2/p' "$tmp/$name.aios.out" | sort) \
    <(sed -n 's/^batch=\([0-9]*\) .*median_us=\([0-9.]*\) .*/\1 \2/p' "$tmp/$name.ort.out" | sort) | sort -n |
    awk -v m="$name" '{ printf "| %s | %d | %.2f | %.2f | %.0f | %.0f | %.2f |\n", m, $1, $2, $3, $1 / $2 * 1e6, $1 / $3 * 1e6, $3 / $2 }'
done
echo
for name in "${names[@]}"; do
  echo "$name: $(sed -n '1s/.* inputs=\([0-9]*\) outputs=\([0-9]*\) layers=\([0-9]*\) params=\([0-9]*\).*/\1 inputs, \3 dense layers, \2 outputs, \4 parameters/p' "$tmp/$name.aios.out");" \
    "runs min..max us/batch: $(for who in aios ort; do
      sed -n "s/^batch=\([0-9]*\) .*min_us=\([0-9.]*\) max_us=\([0-9.]*\)/$who b\1 \2..\3/p" "$tmp/$name.$who.out"; done | paste -sd, | sed 's/,/, /g')"
done
echo "outputs agree (1e-5 relative, 1e-6 absolute floor): $(awk -F': ' '{printf "%s%s (largest |d| %s)", sep, $1, substr($2, index($2, "|d| ") + 4); sep = ", "}' "$tmp/agree")"
