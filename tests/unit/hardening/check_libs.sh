#!/usr/bin/env bash
# Checks that the programs use the libraries the project names for HTTP and TLS:
#   - aios-operator, aios-serve, aios-trainer and kubectl-aios load libcurl and libssl
#     (ldd: the dynamic loader's own answer, not a guess from DT_NEEDED);
#   - no program and not libaios holds or asks for an mbed TLS symbol (mbedtls_*,
#     psa_*, read from every symbol table with readelf), and none loads libmbed*;
#   - no file under src/ mentions mbedtls.
# Usage: check_libs.sh SRC_DIR LIBAIOS.a PROGRAM...   (the four programs above must be
# among PROGRAM; every PROGRAM gets the symbol check)
# Exit 0 when every check passes; 1 naming each program and check that failed; 2 on usage.
set -uo pipefail
(( $# >= 3 )) || { echo "usage: $0 SRC_DIR LIBAIOS.a PROGRAM..." >&2; exit 2; }
for t in ldd readelf grep; do
  command -v "$t" >/dev/null || { echo "$t not found" >&2; exit 2; }
done
src="$1"; lib="$2"; shift 2
bad=0
no() { echo "FAIL $1: $2"; bad=$((bad + 1)); }
need_curl=(aios-operator aios-serve aios-trainer kubectl-aios)

# Symbols defined or referenced by an ELF file or archive, one name a line.
syms_of() { readelf -sW "$1" 2>/dev/null | awk 'NF >= 8 {print $8}' | sed 's/@.*//'; }

[[ -f "$lib" ]] || { no "$lib" "missing"; exit 1; }
m="$(syms_of "$lib" | grep -E '^(mbedtls_|psa_)' | head -3 | tr '\n' ' ')"
[[ -z "$m" ]] || no "$(basename "$lib")" "mbed TLS symbols: $m"

seen=""
for p in "$@"; do
  name="$(basename "$p")"
  before=$bad
  [[ -x "$p" ]] || { no "$name" "not built ($p)"; continue; }
  seen="$seen $name "
  deps="$(ldd "$p" 2>&1)" || no "$name" "ldd failed: $deps"
  if grep -qE 'not found' <<<"$deps"; then
    no "$name" "a library is not found: $(grep 'not found' <<<"$deps" | head -1)"
  fi
  if grep -qE 'libmbed' <<<"$deps"; then
    no "$name" "loads mbed TLS: $(grep libmbed <<<"$deps" | head -1 | xargs)"
  fi
  for want in "${need_curl[@]}"; do
    [[ "$name" == "$want" ]] || continue
    grep -qE '^\s*libcurl\.so\.[0-9]' <<<"$deps" || no "$name" "ldd shows no libcurl"
    grep -qE '^\s*libssl\.so\.[0-9]' <<<"$deps" || no "$name" "ldd shows no libssl"
  done
  m="$(syms_of "$p" | grep -E '^(mbedtls_|psa_)' | head -3 | tr '\n' ' ')"
  [[ -z "$m" ]] || no "$name" "mbed TLS symbols: $m"
  (( bad > before )) || echo "ok   $name: $(grep -oE '^\s*lib(curl|ssl)\.so\.[0-9]+' <<<"$deps" | xargs | sed 's/ /, /g' || true)${deps:+; no mbed TLS}"
done
for want in "${need_curl[@]}"; do
  [[ "$seen" == *" $want "* ]] || no "$want" "not among the programs checked"
done

[[ -d "$src" ]] || { no "$src" "no source directory"; exit 1; }
hits="$(grep -rIl mbedtls "$src" 2>/dev/null | head -5 | tr '\n' ' ')"
[[ -z "$hits" ]] || no "$src" "files mention mbedtls: $hits"
(( bad == 0 )) && echo "ok   grep -r mbedtls $src: nothing"
(( bad == 0 ))
