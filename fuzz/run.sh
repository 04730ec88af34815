#!/usr/bin/env bash
# Builds every fuzz driver (fuzz/*_fuzz.c) with clang, libFuzzer, ASan and UBSan, and
# runs each for a bounded time from its committed seed corpus (fuzz/corpus/<name>/).
# New inputs go to fuzz/corpus-run/<name>/, logs and crash inputs to fuzz/corpus-run/out/
# (both ignored by git).
#   fuzz/run.sh [seconds-per-driver]      (default 30)
# Exits non-zero when a driver finds a crash, a leak or undefined behaviour.
set -euo pipefail
secs="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${AIOS_FUZZ_BUILD:-$root/build-fuzz}"
command -v clang >/dev/null || { echo "fuzz/run.sh: clang is not installed (scripts/install-deps.sh)" >&2; exit 2; }

flags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DAIOS_FUZZ=ON -DAIOS_WERROR=OFF \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log" >&2; exit 2; }
cmake --build "$build" -j2 --target fuzz >"$build/build.log" 2>&1 \
  || { tail -40 "$build/build.log" >&2; exit 2; }

out="$root/fuzz/corpus-run/out"
mkdir -p "$out"
status=0
for src in "$root"/fuzz/*_fuzz.c; do
  name="$(basename "$src" _fuzz.c)"
  seeds="$root/fuzz/corpus/$name"
  work="$root/fuzz/corpus-run/$name"
  mkdir -p "$work" "$seeds"
  echo "fuzz: $name for ${secs}s" >&2
  if ! "$build/fuzz/fuzz_$name" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$out/$name-" "$work" "$seeds" \
      >"$out/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; see $out/$name.log:" >&2
    grep -E "ERROR|SUMMARY|Test unit written" "$out/$name.log" | head -20 >&2 || true
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$out/$name.log" | tail -1 | sed "s/^/fuzz: $name: /" >&2 || true
  fi
done
exit $status
