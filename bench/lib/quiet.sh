# bench/lib/quiet.sh - is this machine quiet enough for a benchmark's figures to count?
#
# Sourced by every bench/*/run.sh. On a busy machine the peers (PyTorch, nginx, Python,
# kube-controller-manager) suffer more than aios does, so ratios come out too flattering:
# only figures from a quiet machine go into docs/. Quiet means nothing else ran beside the
# benchmark:
#   1. the 1-minute load average was at or below AIOS_BENCH_MAX_LOAD (default 1.0) when
#      the run started, and
#   2. during the run, processes that are not the benchmark's own used at most
#      AIOS_BENCH_MAX_FOREIGN CPUs on average (default 0.10, a tenth of one core).
# The load the benchmark makes itself (two trainer threads, the API server and the
# controllers it starts) is not held against it: on 2 cores it lifts the 1-minute load
# past 1 by design. The peak load is still printed.
#
# Whose a process is: the benchmark's own when it runs below the benchmark script, or
# started after bench_quiet_begin and was orphaned (a daemon the script started with
# setsid), or runs below (or is) a part named in AIOS_BENCH_OWN (space-separated command
# names, for parts started before bench_quiet_begin, such as a local cluster). Build and
# test tools (compilers, linkers, make, cmake, ctest, go, valgrind, apt, the suite's test
# programs) are never the benchmark's, nor is anything below them. Every other process is
# foreign. CPU comes from /proc/PID/stat (utime + stime, and cutime + cstime so that
# short-lived children count) and /proc/stat at every sample.
#
#   bench_quiet_begin NAME   (call it after the script's own EXIT trap, which it keeps)
#                            prints the load average and the busiest processes, starts a
#                            sampler (every AIOS_BENCH_SAMPLE_S s, default 5) of the load
#                            and of foreign CPU and, with AIOS_BENCH_RECORD set, captures
#                            stdout
#   bench_quiet_end          (run on EXIT) prints the load, the busiest processes, the
#                            foreign CPU and who used it, and the verdict line,
#                            "bench: QUIET ..." or "bench: NOT QUIET ...": figures of a
#                            NOT QUIET run are printed but marked
#
#   AIOS_BENCH_RECORD=FILE   append the run's output (with the verdict) to FILE, a page
#                            under docs/, but only when the run was quiet; otherwise refuse,
#                            say why, and exit 3. Without it nothing is written anywhere.
#   AIOS_BENCH_LOADAVG=FILE  read the load from FILE instead of /proc/loadavg (tests)
#   AIOS_BENCH_PROC=DIR      read processes from DIR/PID/stat instead of /proc (tests)
#
# The sampler costs one pass over /proc every few seconds.

BENCH_QUIET_MAX="${AIOS_BENCH_MAX_LOAD:-1.0}"
BENCH_QUIET_LOADAVG="${AIOS_BENCH_LOADAVG:-/proc/loadavg}"
BENCH_QUIET_FOREIGN_MAX="${AIOS_BENCH_MAX_FOREIGN:-0.10}"
BENCH_QUIET_PROC="${AIOS_BENCH_PROC:-/proc}"
BENCH_QUIET_TOOLS="cc1 cc1plus as ld ld.bfd ld.gold collect2 gcc g++ cc c++ make gmake cmake ctest ninja go compile link asm vet valgrind memcheck-amd64- clang clang-14 clang-tidy cppcheck apt apt-get dpkg http"

bench_load1() { cut -d' ' -f1 "$BENCH_QUIET_LOADAVG"; }

# The five processes using the most CPU over the last half second (top's second sample:
# its first is the average since each process started).
bench_busy() {
  top -b -n 2 -d 0.5 -w 200 2>/dev/null | awk '/^top -/ {n++} n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 1 {printf "%s%s(%s%%)", sep, $12, $9; sep=", "; if (++k == 5) exit} END {if (!k) printf "none"}'
}

# One line per process: "PID:STARTTIME PID PPID SELF KIDS OWN COMM" (SELF = utime + stime,
# KIDS = cutime + cstime, the reaped children's, in clock ticks; OWN 1 for the benchmark's
# own, see the header), from $BENCH_QUIET_PROC; first a line "cpu BUSY" of the machine's
# busy ticks from its stat file.
bench_procs() {
  local f
  awk '$1 == "cpu" {print "cpu", $2 + $3 + $4 + $7 + $8 + $9; exit}' "$BENCH_QUIET_PROC/stat"
  for f in "$BENCH_QUIET_PROC"/[0-9]*/stat; do cat "$f" 2>/dev/null || true; echo; done |
    awk -v since="$BENCH_QUIET_T0" -v root="$BENCH_QUIET_PID" -v tools=" $BENCH_QUIET_TOOLS " -v own=" ${AIOS_BENCH_OWN:-} " '
      NF {
        o = index($0, " ("); c = 0
        for (i = length($0); i > o; i--) if (substr($0, i, 1) == ")") { c = i; break }
        if (!o || !c) next
        pid = substr($0, 1, o - 1); comm = substr($0, o + 2, c - o - 2)
        gsub(/[ \t]/, "_", comm)
        n = split(substr($0, c + 2), f, " ")  # f[1] is field 3 (state)
        if (n < 20) next
        pids[++np] = pid; cm[pid] = comm; par[pid] = f[2]; st[pid] = f[20]
        self[pid] = f[12] + f[13]; kids[pid] = f[14] + f[15]
      }
      function tool(p) { return index(tools, " " cm[p] " ") > 0 || cm[p] ~ /^(unit|integration|fixtures|fuzz)_/ }
      # own: not a tool, and below the benchmark script or a part named in AIOS_BENCH_OWN,
      # or started after the run began and orphaned (a daemon the script started)
      function mine(p,   q, hops) {
        if (tool(p)) return 0
        if (index(own, " " cm[p] " ")) return 1
        for (q = p; q in par && hops < 64; q = par[q]) {
          hops++
          if (q == root || index(own, " " cm[q] " ")) return 1
          if (tool(q)) return 0
          if (par[q] == 1) return st[q] + 0 >= since + 0
        }
        return 0
      }
      END { for (i = 1; i <= np; i++) { p = pids[i]; print p ":" st[p], p, par[p], self[p], kids[p], mine(p), cm[p] } }'
}

# Clock ticks since boot, as /proc/PID/stat counts a process' start.
bench_ticks_now() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d\n", $1 * hz}' /proc/uptime; }

# Foreign ticks between snapshots $1 -> $2: the machine's busy ticks less the benchmark's
# own (its processes' ticks and their reaped children's, so short-lived children count;
# a child seen before it was reaped is not counted twice), added into the totals file $3
# and written to $4: "COMM TICKS" per foreign command from its own ticks (not its reaped
# children's, which may have run before the run began), the rest as "(short-lived)".
bench_foreign_add() {
  awk '
    FILENAME == ARGV[1] { if ($1 == "cpu") { busy0 = $2; next }
      ps[$1] = $4; pk[$1] = $5; pm[$1] = $6; pp[$1] = $3; pc[$1] = $7; next }
    FILENAME == ARGV[2] { if ($1 == "cpu") { busy1 = $2; next }
      seen[$1] = 1; bypid[$2] = $1; nm[$1] = $6
      if ($6) own += ($1 in ps) ? ($4 - ps[$1]) + ($5 - pk[$1]) : $4 + $5
      else {  # own ticks only: the reaped children may have run before the run began
        d = ($1 in ps) ? $4 - ps[$1] : $4
        if (d > 0) { use[$7] += d; named += d }
      }
      next }
    FILENAME == ARGV[3] { use[$1] += $2; next }
    END {
      for (k in ps) if (!(k in seen) && pm[k] && (pp[k] in bypid) && nm[bypid[pp[k]]]) own -= ps[k] + pk[k]
      f = busy1 - busy0 - own; if (f < 0) f = 0
      if (f > named) use["(short-lived)"] += f - named
      for (c in use) print c, use[c]
    }' "$1" "$2" "$3" > "$4"
}

# 1 when $1 > $2 (decimal strings)
bench_gt() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a > b)}'; }

# One sample of foreign CPU: the snapshot now against the last one.
bench_quiet_sample() {
  local d="$BENCH_QUIET_DIR"
  bench_procs > "$d/procs.new"
  bench_foreign_add "$d/procs" "$d/procs.new" "$d/foreign" "$d/foreign.new" && mv "$d/foreign.new" "$d/foreign"
  mv "$d/procs.new" "$d/procs"
}

bench_quiet_begin() {
  BENCH_QUIET_NAME="$1"
  BENCH_QUIET_DIR="$(mktemp -d /tmp/aios-bench-quiet.XXXXXX)"
  bench_load1 > "$BENCH_QUIET_DIR/peak"
  BENCH_QUIET_T0="$(bench_ticks_now)"
  BENCH_QUIET_PID=$$
  BENCH_QUIET_START_LOAD="$(bench_load1)"
  BENCH_QUIET_WALL0="$(date +%s.%N)"
  : > "$BENCH_QUIET_DIR/foreign"
  bench_procs > "$BENCH_QUIET_DIR/procs"
  if [[ -n "${AIOS_BENCH_RECORD:-}" ]]; then
    exec 7>&1 > >(tee "$BENCH_QUIET_DIR/out")
    BENCH_QUIET_TEE=$!
  fi
  echo "bench: $BENCH_QUIET_NAME starts $(date -u +%FT%TZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 "$BENCH_QUIET_LOADAVG"), busy: $(bench_busy)"
  (
    set +e # a sample that fails (a process gone mid-read) is skipped, never the end of the sampler
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    while :; do
      sleep "${AIOS_BENCH_SAMPLE_S:-5}" & nap=$!
      wait "$nap"
      l="$(bench_load1)"
      bench_gt "$l" "$(cat "$BENCH_QUIET_DIR/peak")" && echo "$l" > "$BENCH_QUIET_DIR/peak"
      bench_quiet_sample
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
  kill "$BENCH_QUIET_SAMPLER" 2>/dev/null; wait "$BENCH_QUIET_SAMPLER" 2>/dev/null || true
  [[ -n "$BENCH_QUIET_PREV" ]] && eval "$BENCH_QUIET_PREV"
  bench_quiet_sample || true
  l="$(bench_load1)"; peak="$(cat "$BENCH_QUIET_DIR/peak")"
  bench_gt "$l" "$peak" && peak="$l"
  local secs cpus who hz
  hz="$(getconf CLK_TCK)"
  secs="$(awk -v a="$BENCH_QUIET_WALL0" -v b="$(date +%s.%N)" 'BEGIN {d = b - a; printf "%.1f", (d > 0.1 ? d : 0.1)}')"
  cpus="$(awk -v s="$secs" -v hz="$hz" '{t += $2} END {printf "%.2f", t / hz / s}' "$BENCH_QUIET_DIR/foreign")"
  who="$(sort -k2,2nr "$BENCH_QUIET_DIR/foreign" | awk -v hz="$hz" 'NR <= 5 && $2 / hz >= 0.05 {printf "%s%s %.1f s", sep, $1, $2 / hz; sep = ", "} END {if (!NR) printf "none"}')"
  [[ -n "$who" ]] || who=none
  echo "bench: $BENCH_QUIET_NAME ends $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 "$BENCH_QUIET_LOADAVG") (peak $peak, the benchmark's own load included), busy: $(bench_busy)"
  echo "bench: foreign CPU during the run: $cpus CPUs over $secs s (CPU seconds by command: $who)"
  if bench_gt "$BENCH_QUIET_START_LOAD" "$BENCH_QUIET_MAX"; then
    verdict="bench: NOT QUIET (1-minute load $BENCH_QUIET_START_LOAD > $BENCH_QUIET_MAX at the start): these figures are not for docs/"
  elif bench_gt "$cpus" "$BENCH_QUIET_FOREIGN_MAX"; then
    verdict="bench: NOT QUIET (other processes used $cpus CPUs > $BENCH_QUIET_FOREIGN_MAX: $who): these figures are not for docs/"
  else
    verdict="bench: QUIET (1-minute load $BENCH_QUIET_START_LOAD <= $BENCH_QUIET_MAX at the start, other processes $cpus CPUs <= $BENCH_QUIET_FOREIGN_MAX)"
  fi
  echo "$verdict"
  if [[ -n "${AIOS_BENCH_RECORD:-}" ]]; then
    exec 1>&7 7>&-
    wait "$BENCH_QUIET_TEE" 2>/dev/null # tee has written everything once it exits
    if [[ $rc != 0 ]]; then
      echo "bench: the run failed (exit $rc): nothing written to $AIOS_BENCH_RECORD" >&2
    elif [[ "$verdict" == "bench: NOT QUIET"* ]]; then
      echo "bench: refusing to write into $AIOS_BENCH_RECORD: the machine was not quiet (${verdict#bench: NOT QUIET })" >&2
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
