#!/usr/bin/env bash
# Runs every unit and fixture test program under valgrind's memcheck, without Check's
# fork-per-test (CK_FORK=no) so that leaks in the tests' own process are seen.
# Fails when any program fails, reports an error, or leaks definitely/indirectly.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-build}"
cd "$BUILD"
# Tests labelled 'script' are shell checks of the built files (hardening flags, the krew
# archive, the linked libraries), not C programs; the unit tier runs them.
mapfile -t progs < <(ctest -N -L 'unit|fixture' -LE script | awk '/Test +#/ {print $3}')
mapfile -t scripts < <(ctest -N -L script | awk '/Test +#/ {print $3}')
echo "valgrind: ${#progs[@]} programs; ${#scripts[@]} script checks left to the unit tier: ${scripts[*]}"
fail=0
for p in "${progs[@]}"; do
  exe="$(find . -type f -executable -name "$p" | head -1)"
  [[ -n "$exe" ]] || { echo "valgrind: $p: executable not found"; fail=1; continue; }
  if CK_FORK=no AIOS_SOURCE_DIR="$ROOT" AIOS_BUILD_DIR="$(pwd)" AIOS_UNDER_VALGRIND=1 \
     valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
       --show-leak-kinds=definite,indirect --suppressions="$ROOT/tests/valgrind.supp" \
       "$exe" >"/tmp/valgrind-$p.log" 2>&1; then
    echo "valgrind: $p: clean"
  else
    echo "valgrind: $p: FAILED"; tail -40 "/tmp/valgrind-$p.log"; fail=1
  fi
done
exit $fail
