# bench/lib/quiet.sh - is this machine quiet enough for a benchmark's figures to count?
#
# Sourced by every bench/*/run.sh. On a busy machine the peers (PyTorch, nginx, Python,
# kube-controller-manager) suffer more than aios does, so ratios come out too flattering:
# only figures from a quiet machine go into docs/. Quiet means the 1-minute load average
# stayed at or below AIOS_BENCH_MAX_LOAD (default 1.0) from the start of the run to its end.
#
#   bench_quiet_begin NAME   (call it after the script's own EXIT trap, which it keeps)
#                            prints the load average and the busiest processes, starts a
#                            sampler of the 1-minute load (every AIOS_BENCH_SAMPLE_S s,
#                            default 5) and, with AIOS_BENCH_RECORD set, captures stdout
#   bench_quiet_end          (run on EXIT) prints the load and the busiest processes again
#                            and the verdict line, "bench: QUIET ..." or "bench: NOT QUIET
#                            ...": figures of a NOT QUIET run are printed but marked
#
#   AIOS_BENCH_RECORD=FILE   append the run's output (with the verdict) to FILE, a page
#                            under docs/, but only when the run was quiet; otherwise refuse,
#                            say why, and exit 3. Without it nothing is written anywhere.
#   AIOS_BENCH_LOADAVG=FILE  read the load from FILE instead of /proc/loadavg (tests)
#
# The sampler costs one `read` every few seconds. The peak, not the mean, decides: a build
# that ran for half the benchmark spoils that half's figures.

BENCH_QUIET_MAX="${AIOS_BENCH_MAX_LOAD:-1.0}"
BENCH_QUIET_LOADAVG="${AIOS_BENCH_LOADAVG:-/proc/loadavg}"

bench_load1() { cut -d' ' -f1 "$BENCH_QUIET_LOADAVG"; }

# The five processes using the most CPU over the last half second (top's second sample:
# its first is the average since each process started).
bench_busy() {
  top -b -n 2 -d 0.5 -w 200 2>/dev/null | awk '/^top -/ {n++} n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 1 {printf "%s%s(%s%%)", sep, $12, $9; sep=", "; if (++k == 5) exit} END {if (!k) printf "none"}'
}

# 1 when $1 > $2 (decimal strings)
bench_gt() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a > b)}'; }

bench_quiet_begin() {
  BENCH_QUIET_NAME="$1"
  BENCH_QUIET_DIR="$(mktemp -d /tmp/aios-bench-quiet.XXXXXX)"
  bench_load1 > "$BENCH_QUIET_DIR/peak"
  if [[ -n "${AIOS_BENCH_RECORD:-}" ]]; then
    exec 7>&1 > >(tee "$BENCH_QUIET_DIR/out")
    BENCH_QUIET_TEE=$!
  fi
  echo "bench: $BENCH_QUIET_NAME starts $(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 "$BENCH_QUIET_LOADAVG"), busy: $(bench_busy)"
  (
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    while :; do
      sleep "${AIOS_BENCH_SAMPLE_S:-5}" & nap=$!
      wait "$nap"
      l="$(bench_load1)"
      bench_gt "$l" "$(cat "$BENCH_QUIET_DIR/peak")" && echo "$l" > "$BENCH_QUIET_DIR/peak"
    done
  ) &
  BENCH_QUIET_SAMPLER=$!
  # the script's own EXIT trap (its cleanup) runs first, from bench_quiet_end
  local prev; prev="$(trap -p EXIT)"
  if [[ -n "$prev" ]]; then eval "local words=($prev)"; BENCH_QUIET_PREV="${words[2]}"; else BENCH_QUIET_PREV=""; fi
  trap bench_quiet_end EXIT
}

bench_quiet_end() {
  local rc=$? l peak verdict
  kill "$BENCH_QUIET_SAMPLER" 2>/dev/null; wait "$BENCH_QUIET_SAMPLER" 2>/dev/null
  [[ -n "$BENCH_QUIET_PREV" ]] && eval "$BENCH_QUIET_PREV"
  l="$(bench_load1)"; peak="$(cat "$BENCH_QUIET_DIR/peak")"
  bench_gt "$l" "$peak" && peak="$l"
  echo "bench: $BENCH_QUIET_NAME ends $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 "$BENCH_QUIET_LOADAVG"), busy: $(bench_busy)"
  if bench_gt "$peak" "$BENCH_QUIET_MAX"; then
    verdict="bench: NOT QUIET (peak 1-minute load $peak > $BENCH_QUIET_MAX): these figures are not for docs/"
  else
    verdict="bench: QUIET (peak 1-minute load $peak <= $BENCH_QUIET_MAX)"
  fi
  echo "$verdict"
  if [[ -n "${AIOS_BENCH_RECORD:-}" ]]; then
    exec 1>&7 7>&-
    wait "$BENCH_QUIET_TEE" 2>/dev/null # tee has written everything once it exits
    if [[ $rc != 0 ]]; then
      echo "bench: the run failed (exit $rc): nothing written to $AIOS_BENCH_RECORD" >&2
    elif [[ "$verdict" == "bench: NOT QUIET"* ]]; then
      echo "bench: refusing to write into $AIOS_BENCH_RECORD: the machine was not quiet (peak load $peak)" >&2
      rc=3
    else
      { echo; cat "$BENCH_QUIET_DIR/out"; } >> "$AIOS_BENCH_RECORD"
      echo "bench: figures appended to $AIOS_BENCH_RECORD" >&2
    fi
  fi
  rm -rf "$BENCH_QUIET_DIR"
  trap - EXIT
  exit "$rc"
}
