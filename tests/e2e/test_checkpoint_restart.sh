#!/usr/bin/env bash
# Killing a trainer process (SIGKILL, as an OOM kill or a lost node would) fails its
# pod; the operator starts a new attempt, which resumes from the last checkpoint and
# succeeds. `kubectl aios logs -f`, started before the kill, follows rank 0 across the
# restart and ends by itself once the job has succeeded.
# E2E_LIMIT=300
source "$(dirname "$0")/lib.sh"
setup_ns
models_claim
# 1,000,000 epochs: about a minute on a 2-core machine, so the kill below (8 s in)
# always lands mid-run; a checkpoint every 20,000 epochs (well under a second).
long_job ckpt-e2e 1000000 20000 pvc://models/ckpt.aios "runPolicy: {backoffLimit: 3}"
wait_until "a trainer process of ckpt-e2e" 60 bash -c "source '$E2E_ROOT/lib.sh' >/dev/null 2>&1; [[ -n \"\$(pids_with_env AIOS_JOB=ckpt-e2e)\" ]]"
FOLLOW="$(mktemp /tmp/aios-e2e-follow.XXXXXX)"
KUBECONFIG="$KUBECONFIG" "$AIOS_BUILD_DIR/src/cli/kubectl-aios" -n "$NS" logs tj ckpt-e2e -f \
  >"$FOLLOW.out" 2>"$FOLLOW.err" &
follower=$!
sleep 8 # let it write a few checkpoints
phase="$(jp trainingjob/ckpt-e2e '{.status.phase}')"
[[ "$phase" != Succeeded ]] || fail "the job finished before the kill: make it longer"
victims="$(pids_with_env AIOS_JOB=ckpt-e2e)"
note "killing trainer process(es) $victims (phase $phase, epoch $(jp trainingjob/ckpt-e2e '{.status.progress.epoch}'))"
kill -9 $victims
wait_until "trainingjob ckpt-e2e Succeeded after the kill" 240 phase_is trainingjob/ckpt-e2e Succeeded
attempts="$(jp trainingjob/ckpt-e2e '{.status.attempts}')"
((attempts >= 2)) || fail "status.attempts is $attempts: no new attempt after the kill"
resumed=""
for p in $(kn get pods -o name); do
  resumed+="$(kn logs --limit-bytes=1000000 "$p" 2>/dev/null | grep -o 'resumed from the checkpoint of epoch [0-9]*' || true)"
done
[[ -n "$resumed" ]] || fail "no pod log says it resumed from a checkpoint"
# The follower ends by itself after the job's last pod's stream ends.
for _ in $(seq 1 60); do kill -0 "$follower" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$follower" 2>/dev/null; then kill "$follower"; fail "logs -f still running 30 s after the job succeeded"; fi
wait "$follower" || fail "logs -f exited $?: $(cat "$FOLLOW.err")"
grep -q 'a new attempt' "$FOLLOW.err" || fail "logs -f did not announce the new attempt: $(cat "$FOLLOW.err")"
grep -q 'resumed from the checkpoint' "$FOLLOW.out" || fail "logs -f did not follow into the new attempt's pod"
# Each attempt's log printed once: re-opened streams (aios-node answers follow with the
# log as it is, the first 8 MiB of it) skip what was printed.
starts="$(grep -c '"event":"trainer_start"' "$FOLLOW.out" || true)"
[[ "$starts" == "$attempts" ]] || fail "logs -f printed $starts trainer starts for $attempts attempts"
rm -f "$FOLLOW" "$FOLLOW.out" "$FOLLOW.err"
note "succeeded after $attempts attempts; $resumed; logs -f followed both attempts"
exit 0
