#!/usr/bin/env bash
# Source checks run by the test command:
#   1. banned unsafe calls (sprintf, strcpy, strcat, gets, atoi, vsprintf) in C sources;
#   2. clang-format conformance against the committed .clang-format.
# Exits non-zero, naming each offending file and line.
set -uo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench fuzz -name '*.[ch]')
fail=0
banned='(^|[^_a-zA-Z0-9.>])(sprintf|vsprintf|strcpy|strcat|gets|atoi)[[:space:]]*\('
if grep -nE "$banned" "${files[@]}" /dev/null | grep -vE '//.*banned-ok|/\*.*banned-ok'; then
  echo "check-source: banned calls above (use snprintf, memcpy with a length, strtol)" >&2
  fail=1
fi
if ! clang-format --dry-run --Werror "${files[@]}" >/tmp/aios-clang-format.log 2>&1; then
  grep -E '^[^ ].*error:' /tmp/aios-clang-format.log | cut -d: -f1 | sort -u | sed 's/^/check-source: not clang-formatted: /' >&2
  echo "check-source: run: clang-format -i \$(git ls-files '*.[ch]')" >&2
  fail=1
fi
[[ $fail == 0 ]] && echo "check-source: ${#files[@]} files: no banned calls, formatting clean"
exit $fail
