#!/usr/bin/env bash
# Checks that every program of the build carries the hardening CMakeLists.txt asks for,
# by reading the ELF files (readelf, as checksec does):
#   PIE        ELF type DYN and DF_1_PIE in FLAGS_1
#   BIND_NOW   the dynamic section's BIND_NOW flag (with GNU_RELRO: full RELRO)
#   GNU_RELRO  a GNU_RELRO program header
#   canaries   __stack_chk_fail referenced by the program and by libaios's own objects
#   fortify    (--fortify: optimized builds) glibc's __*_chk functions referenced by the
#              program and by libaios's own objects, not only by a linked third-party archive
# Usage: check_hardening.sh [--fortify] LIBAIOS.a PROGRAM...
# Exit 0 when every check passes; 1 naming each program and check that failed; 2 on usage.
set -uo pipefail
fortify=0
if [[ "${1:-}" == --fortify ]]; then fortify=1; shift; fi
(( $# >= 2 )) || { echo "usage: $0 [--fortify] LIBAIOS.a PROGRAM..." >&2; exit 2; }
command -v readelf >/dev/null || { echo "readelf not found (binutils)" >&2; exit 2; }
lib="$1"; shift
bad=0
no() { echo "FAIL $1: $2"; bad=$((bad + 1)); }

[[ -f "$lib" ]] || { echo "FAIL $lib: missing"; exit 1; }
libsyms="$(readelf -sW "$lib" 2>/dev/null | awk '$7 == "UND" {print $8}')"
grep -qx '__stack_chk_fail' <<<"$libsyms" || no "$lib" "no object references __stack_chk_fail (-fstack-protector-strong missing)"
if (( fortify )); then
  grep -qE '^__[a-z0-9_]+_chk$' <<<"$(grep -v '^__stack_chk' <<<"$libsyms")" \
    || no "$lib" "no object references a __*_chk function (-D_FORTIFY_SOURCE missing)"
fi

for p in "$@"; do
  name="$(basename "$p")"
  before=$bad
  [[ -x "$p" ]] || { no "$name" "not built ($p)"; continue; }
  readelf -hW "$p" | grep -qE 'Type:[[:space:]]+DYN' || no "$name" "ELF type is not DYN (not PIE)"
  dyn="$(readelf -dW "$p")"
  grep -qE 'FLAGS_1.*\bPIE\b' <<<"$dyn" || no "$name" "DF_1_PIE not set (not PIE)"
  grep -qE '\(FLAGS\).*\bBIND_NOW\b|FLAGS_1.*\bNOW\b' <<<"$dyn" || no "$name" "BIND_NOW not set (-Wl,-z,now missing)"
  readelf -lW "$p" | grep -q 'GNU_RELRO' || no "$name" "no GNU_RELRO segment (-Wl,-z,relro missing)"
  syms="$(readelf --dyn-syms -W "$p" | awk '{print $8}' | sed 's/@.*//')"
  grep -qx '__stack_chk_fail' <<<"$syms" || no "$name" "__stack_chk_fail not referenced (no stack protector)"
  if (( fortify )); then
    n="$(grep -E '^__[a-z0-9_]+_chk$' <<<"$syms" | grep -vc '^__stack_chk')"
    (( n > 0 )) || no "$name" "no fortified __*_chk function referenced (-D_FORTIFY_SOURCE missing)"
  fi
  (( bad > before )) || echo "ok   $name: PIE, BIND_NOW, GNU_RELRO, stack protector$( (( fortify )) && echo ', fortify')"
done
(( bad == 0 ))
