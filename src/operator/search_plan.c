/*
 * search_plan.c - the TrainingJob state machine for a job with spec.search.
 *
 * Each trial is a unit of the job (trainingjob.h): a gang named "<job>-t<i>" training
 * the trial's spec (aios_search_apply), planned by aios_tj_gang_plan() on the state its
 * entry status.trials[i] records (attempts, startTime, phase, the reason reported).
 * Its pods are the job's (label aios.dev/job, the owner reference) with label
 * aios.dev/trial = i, so the operator's watch, the garbage collector and
 * `kubectl get pods -l aios.dev/job=<job>` see them as the job's. Pod names are
 * "<job>-t<i>-g<gen>a<attempt>-w<rank>": unique per trial.
 *
 * Around the trials, this file owns what belongs to the whole search: the new run of a
 * new spec generation (trials forgotten), suspend (every pod deleted, running trials
 * back to Pending, attempts kept), activeDeadlineSeconds (counted from the search's
 * startTime), the end (status.best, status.artifact = the best trial's, phase Succeeded
 * unless every trial failed), cleanPodPolicy and ttlSecondsAfterFinished.
 *
 * Level-based: every decision is recomputed from status.trials and the pods; a new
 * trial is recorded in status.trials (written before any pod is created, see
 * trainingjob_controller.c) with its parameters, so an operator restart resumes the
 * same trials with the same values.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/mem.h"
#include "kube/conditions.h"
#include "model/trainlog.h"
#include "operator/search.h"
#include "operator/trainingjob.h"

/* ============================== helpers ============================== */

struct sp {
	struct json_object *job, *trials;
	struct aios_tj_status *st; /* the job's status */
	struct aios_tj_plan *out;
	const struct aios_tj_spec *spec;
	const struct aios_search *s;
	const char *name;
	int64_t gen;
	time_t now;
	char now_s[32];
};

static struct json_object *str(const char *s)
{
	return json_object_new_string(s ? s : "");
}

/* ============================== one trial ============================== */

static int num_at(struct json_object *o, const char *key, double *v)
{
	struct json_object *x;
	if (!o || !json_object_object_get_ex(o, key, &x) ||
	    !(json_object_is_type(x, json_type_double) || json_object_is_type(x, json_type_int)))
		return 0;
	*v = json_object_get_double(x);
	return 1;
}

/* Records the results of a trial that succeeded: validationLoss (or, without a
 * validation split, the final training loss), accuracy (validation, or without a split
 * the training set's), epochs, the objective. */
static void record_result(struct sp *c, struct json_object *tr, struct json_object *rank0)
{
	struct aios_trainlog_final *f = aios_xmalloc(sizeof(*f));
	if (rank0 && aios_trainlog_find_final(aios_tj_termination_message(rank0), f)) {
		double loss = isfinite(f->val_loss) ? f->val_loss : f->loss;
		double acc = isfinite(f->val_accuracy) ? f->val_accuracy : f->accuracy;
		if (isfinite(loss))
			json_object_object_add(tr, "validationLoss", json_object_new_double(loss));
		if (isfinite(acc))
			json_object_object_add(tr, "accuracy", json_object_new_double(acc));
		if (f->epochs > 0 && !aios_json_lookup(tr, "epochs"))
			json_object_object_add(tr, "epochs", json_object_new_int64(f->epochs));
	}
	free(f);
	double v;
	if (num_at(tr, c->s->accuracy ? "accuracy" : "validationLoss", &v))
		json_object_object_add(tr, "objective", json_object_new_double(v));
	else
		json_object_object_add(tr, "message",
		                       str(c->s->accuracy ? "the trainer reported no accuracy"
		                                          : "the trainer reported no loss"));
}

/*
 * Successive halving: the checkpoint directory a promoted trial i (epochs > 0) continues
 * from: that of the latest earlier trial with the same parameters and fewer epochs that
 * succeeded in its rung (Succeeded or Stopped), i.e. the run it was promoted from, or
 * one identical to it. The trainer writes its checkpoints beside its artifact
 * ("<output path>.ckpt") and only takes one whose fingerprint (model, loss, optimizer
 * but epochs, data) is its own. Recomputed from status.trials at every reconcile, so an
 * operator restart gives the same answer. NULL if none (caller frees).
 */
static char *resume_from(struct sp *c, struct json_object *tr, size_t i, int64_t epochs)
{
	const char *uri = aios_json_str(c->job, "spec.output.uri");
	struct json_object *params = aios_json_lookup(tr, "parameters");
	for (size_t j = i; uri && j-- > 0;) {
		struct json_object *o = json_object_array_get_idx(c->trials, j);
		enum aios_search_phase ph = aios_search_phase_parse(aios_json_str(o, "phase"));
		int64_t e = 0;
		if ((ph != AIOS_TRIAL_SUCCEEDED && ph != AIOS_TRIAL_STOPPED) ||
		    aios_json_opt_int(o, "epochs", 0, &e) || e <= 0 || e >= epochs ||
		    !aios_json_equal(aios_json_lookup(o, "parameters"), params))
			continue;
		char *art = aios_search_trial_uri(uri, j);
		char *dir = aios_xasprintf("%s.ckpt", art);
		free(art);
		return dir;
	}
	aios_errclear();
	return NULL;
}

/* The spec trial i trains (aios_search_apply; a promoted trial resumes from its shorter
 * run's checkpoints). New object. */
static struct json_object *trial_spec(struct sp *c, struct json_object *tr, size_t i)
{
	int64_t epochs = 0;
	if (c->s->algo != AIOS_SEARCH_HALVING || aios_json_opt_int(tr, "epochs", 0, &epochs))
		epochs = 0;
	struct json_object *spec = aios_search_apply(aios_json_lookup(c->job, "spec"),
	                                             aios_json_lookup(tr, "parameters"), epochs, i);
	char *from = epochs > 0 ? resume_from(c, tr, i, epochs) : NULL;
	if (from)
		aios_json_set(spec, "checkpoint.resumeFrom", str(from));
	free(from);
	return spec;
}

/* A trial's entry as the state of its gang: attempts, startTime, phase, and the waiting
 * reason already reported (so that it is not reported again). */
static void trial_state_decode(struct sp *c, struct json_object *tr, struct aios_tj_status *st)
{
	memset(st, 0, sizeof(*st));
	st->start_time = st->completion_time = -1;
	st->has_attempts = 1;
	if (aios_json_opt_int(tr, "attempts", 0, &st->attempts))
		st->attempts = 0;
	const char *t0 = aios_json_str(tr, "startTime");
	if (t0)
		st->start_time = aios_rfc3339_parse(t0);
	const char *ph = aios_json_str(tr, "phase");
	st->phase = aios_tj_phase_parse(ph ? ph : "Pending");
	const char *reason = aios_json_str(tr, "reason");
	if (reason)
		aios_conditions_set(&st->conditions, "Running", AIOS_CONDITION_FALSE, reason, "",
		                    c->gen, c->now_s);
}

/* Why a gang waits or failed: its Failed, Restarting or (False) Running condition. */
static const struct aios_condition *gang_why(const struct aios_tj_status *st)
{
	const struct aios_conditions *tc = &st->conditions;
	if (st->phase == AIOS_TJ_PHASE_FAILED)
		return aios_conditions_find(tc, "Failed");
	if (aios_conditions_is_true(tc, "Restarting"))
		return aios_conditions_find(tc, "Restarting");
	const struct aios_condition *run = aios_conditions_find(tc, "Running");
	if (run && run->status == AIOS_CONDITION_FALSE && strcmp(run->reason, "RanksPending") != 0)
		return run;
	return NULL;
}

/* The current attempt's rank 0 among a trial's pods, or NULL. */
static struct json_object *trial_rank0(struct sp *c, struct json_object *const *mine, size_t n,
                                       int64_t attempts)
{
	for (size_t k = n; k-- > 0;)
		if (aios_tj_label_int(mine[k], AIOS_TJ_LABEL_RANK, -1) == 0 &&
		    aios_tj_label_int(mine[k], AIOS_TJ_LABEL_ATTEMPT, -1) == attempts - 1 &&
		    aios_tj_label_int(mine[k], AIOS_TJ_LABEL_GENERATION, -1) == c->gen)
			return mine[k];
	return NULL;
}

/* Writes the gang's new state into the trial's entry; returns the trial's phase. */
static enum aios_search_phase trial_state_encode(struct sp *c, struct json_object *tr,
                                                 struct aios_tj_status *st,
                                                 struct json_object *rank0)
{
	enum aios_search_phase phase = AIOS_TRIAL_PENDING;
	json_object_object_add(tr, "attempts", json_object_new_int64(st->attempts));
	if (st->start_time >= 0 && !aios_json_str(tr, "startTime")) {
		char t0[32];
		aios_rfc3339(st->start_time, t0, sizeof(t0));
		json_object_object_add(tr, "startTime", str(t0));
	}
	json_object_object_del(tr, "reason");
	json_object_object_del(tr, "message");
	if (st->phase == AIOS_TJ_PHASE_SUCCEEDED) {
		phase = AIOS_TRIAL_SUCCEEDED;
		record_result(c, tr, rank0);
		if (st->artifact.present) {
			st->artifact.has_generation = 0;
			json_object_object_add(tr, "artifact",
			                       aios_tj_artifact_encode(&st->artifact));
		}
	} else if (st->phase == AIOS_TJ_PHASE_FAILED) {
		phase = AIOS_TRIAL_FAILED;
	} else if (st->phase == AIOS_TJ_PHASE_RUNNING) {
		phase = AIOS_TRIAL_RUNNING;
	}
	const struct aios_condition *why = gang_why(st);
	if (why) {
		json_object_object_add(tr, "reason", str(why->reason));
		json_object_object_add(tr, "message", str(why->message));
	}
	json_object_object_add(tr, "phase", str(aios_search_phase_name(phase)));
	if (phase == AIOS_TRIAL_SUCCEEDED || phase == AIOS_TRIAL_FAILED)
		json_object_object_add(tr, "completionTime", str(c->now_s));
	return phase;
}

/*
 * Plans trial i (not ended) as a unit of the job: its gang runs the trial's spec, its
 * pods are those labelled with its index. Pods, events and requeues go straight into
 * c->out; the trial's entry gets its new state. *progress_out: the trial's progress
 * when its rank 0 is the one the job scrapes. Returns the trial's new phase.
 */
static enum aios_search_phase run_trial(struct sp *c, size_t i, struct json_object *const *pods,
                                        size_t n_pods, const struct aios_tj_progress *progress,
                                        struct aios_tj_status_progress *progress_out)
{
	struct json_object *tr = json_object_array_get_idx(c->trials, i);
	struct json_object **mine = aios_xcalloc(n_pods + 1, sizeof(*mine));
	size_t n = 0;
	for (size_t k = 0; k < n_pods; k++)
		if (aios_tj_label_int(pods[k], AIOS_TJ_LABEL_TRIAL, -1) == (int64_t)i)
			mine[n++] = pods[k];
	/* a trial carries none of the job's own deadline, TTL or suspend */
	struct aios_tj_spec rs = *c->spec;
	rs.deadline_s = 0, rs.ttl_s = -1, rs.suspend = 0;
	struct json_object *spec = trial_spec(c, tr, i);
	const char *tname = aios_json_str(tr, "name");
	char *uname = aios_xasprintf("%s-t%zu", c->name, i);
	char *prefix = aios_xasprintf("trial %s: ", tname ? tname : "?");
	struct aios_tj_unit u = {
	    .job = c->job,
	    .name = uname,
	    .spec = spec,
	    .rs = &rs,
	    .generation = c->gen,
	    .trial = (long)i,
	    .output_uri = aios_json_str(spec, "output.uri"),
	    .spec_json_len = strlen(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN)),
	    .event_prefix = prefix};
	struct aios_tj_status st;
	trial_state_decode(c, tr, &st);
	int scraped = c->out->scrape_addr != NULL;
	aios_tj_gang_plan(&u, &st, mine, n, c->now, scraped ? NULL : progress, c->out);
	if (!scraped && c->out->scrape_addr && st.progress.present && progress_out)
		*progress_out = st.progress;
	enum aios_search_phase phase =
	    trial_state_encode(c, tr, &st, trial_rank0(c, mine, n, st.attempts));
	aios_tj_status_cleanup(&st);
	json_object_put(spec);
	free(prefix);
	free(uname);
	free(mine);
	return phase;
}

/* ============================== the job policy's hooks ============================== */

static struct json_object *trials_of(struct json_object *rest)
{
	struct json_object *t = aios_json_lookup(rest, "trials");
	return t && json_object_is_type(t, json_type_array) ? t : NULL;
}

int aios_search_has_trials(struct json_object *rest)
{
	return aios_json_lookup(rest, "trials") != NULL;
}

void aios_search_forget(struct json_object *rest)
{
	json_object_object_del(rest, "trials");
	json_object_object_del(rest, "best");
}

void aios_search_pause(struct json_object *rest)
{
	struct json_object *trials = trials_of(rest);
	for (size_t i = 0; trials && i < json_object_array_length(trials); i++) {
		struct json_object *tr = json_object_array_get_idx(trials, i);
		if (aios_search_phase_parse(aios_json_str(tr, "phase")) == AIOS_TRIAL_RUNNING)
			json_object_object_add(tr, "phase", str("Pending"));
	}
}

void aios_search_stop(struct json_object *rest, const char *reason, const char *msg,
                      const char *now_s)
{
	struct json_object *trials = trials_of(rest);
	for (size_t i = 0; trials && i < json_object_array_length(trials); i++) {
		struct json_object *tr = json_object_array_get_idx(trials, i);
		enum aios_search_phase p = aios_search_phase_parse(aios_json_str(tr, "phase"));
		if (p != AIOS_TRIAL_PENDING && p != AIOS_TRIAL_RUNNING)
			continue;
		json_object_object_add(tr, "phase", str("Stopped"));
		json_object_object_add(tr, "reason", str(reason));
		json_object_object_add(tr, "message", str(msg));
		json_object_object_add(tr, "completionTime", str(now_s));
	}
}

/* ============================== the trials ============================== */

/* Records a new trial the algorithm starts, and plans it; returns its phase. */
static enum aios_search_phase start_trial(struct sp *c, const struct aios_search_start *a,
                                          struct json_object *const *pods, size_t n_pods)
{
	struct json_object *tr = json_object_new_object();
	char tn[32];
	snprintf(tn, sizeof(tn), "t%zu", a->trial);
	json_object_object_add(tr, "index", json_object_new_int64((int64_t)a->trial));
	json_object_object_add(tr, "name", str(tn));
	json_object_object_add(tr, "phase", str("Pending"));
	struct json_object *params =
	    a->parent >= 0
	        ? aios_json_copy(aios_json_lookup(
	              json_object_array_get_idx(c->trials, (size_t)a->parent), "parameters"))
	        : aios_search_sample(c->s, a->config);
	json_object_object_add(tr, "parameters", params ? params : json_object_new_object());
	if (a->epochs > 0)
		json_object_object_add(tr, "epochs", json_object_new_int64(a->epochs));
	json_object_array_add(c->trials, tr);
	aios_tj_plan_event(c->out, "Normal", "TrialCreated", "trial %s: %s", tn,
	                   json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN));
	return run_trial(c, a->trial, pods, n_pods, NULL, NULL);
}

/* The search is over: the best trial's parameters, objective and artifact, or why none. */
static void search_outcome(struct sp *c, const struct aios_search_decision *d,
                           const struct aios_search_trial *t, struct aios_search_outcome *o)
{
	size_t n = json_object_array_length(c->trials), failed = 0;
	for (size_t i = 0; i < n; i++)
		failed += t[i].phase == AIOS_TRIAL_FAILED;
	o->done = 1;
	const char *metric = c->s->accuracy ? "accuracy" : "validationLoss";
	if (d->all_failed) {
		o->reason = "AllTrialsFailed";
		snprintf(o->message, sizeof(o->message), "all %zu trials failed", n);
		return;
	}
	if (d->best < 0) {
		o->reason = "NoObjective";
		snprintf(o->message, sizeof(o->message), "no trial reported its objective (%s)",
		         metric);
		return;
	}
	struct json_object *bt = json_object_array_get_idx(c->trials, (size_t)d->best);
	struct json_object *best = json_object_new_object();
	json_object_object_add(best, "trial", str(aios_json_str(bt, "name")));
	json_object_object_add(best, "parameters",
	                       aios_json_copy(aios_json_lookup(bt, "parameters")));
	json_object_object_add(best, "objective", json_object_new_double(t[d->best].objective));
	json_object_object_add(c->st->rest, "best", best);
	struct json_object *art = aios_json_lookup(bt, "artifact");
	if (art) {
		aios_tj_artifact_clear(&c->st->artifact);
		aios_tj_artifact_decode(art, &c->st->artifact);
		c->st->artifact.has_generation = 1;
		c->st->artifact.generation = c->gen;
	}
	o->ok = 1;
	o->reason = "SearchSucceeded";
	snprintf(o->message, sizeof(o->message), "trial %s is the best of %zu (%s %g; %zu failed)",
	         aios_json_str(bt, "name"), n, metric, t[d->best].objective, failed);
}

/* Not over yet: Running from the first trial that runs to the end (a search between two
 * trials is still running), the Running condition, the scraped trial's progress. */
static void search_running(struct sp *c, const struct aios_search_trial *t,
                           const struct aios_tj_status_progress *prog)
{
	size_t n = json_object_array_length(c->trials), running = 0, ended = 0;
	for (size_t i = 0; i < n; i++) {
		running += t[i].phase == AIOS_TRIAL_RUNNING;
		ended += t[i].phase == AIOS_TRIAL_SUCCEEDED || t[i].phase == AIOS_TRIAL_FAILED ||
		         t[i].phase == AIOS_TRIAL_STOPPED;
	}
	enum aios_tj_phase phase =
	    running > 0 || ended > 0 ? AIOS_TJ_PHASE_RUNNING : AIOS_TJ_PHASE_PENDING;
	if (c->st->phase != AIOS_TJ_PHASE_NONE && c->st->phase != phase &&
	    phase == AIOS_TJ_PHASE_RUNNING)
		aios_tj_plan_event(c->out, "Normal", "Running",
		                   "search running: %zu trial%s running", running,
		                   running == 1 ? "" : "s");
	c->st->phase = phase;
	char msg[128];
	snprintf(msg, sizeof(msg), "%zu trial%s running, %zu ended, %zu started", running,
	         running == 1 ? "" : "s", ended, n);
	if (running > 0)
		aios_conditions_set(&c->st->conditions, "Running", AIOS_CONDITION_TRUE,
		                    "TrialsRunning", msg, c->gen, c->now_s);
	else
		aios_conditions_set_false_if_present(&c->st->conditions, "Running", "TrialsPending",
		                                     msg, c->gen, c->now_s);
	if (prog->present)
		c->st->progress = *prog; /* rank 0 of a running trial */
}

void aios_search_run(struct json_object *job, const struct aios_search *s,
                     const struct aios_tj_spec *spec, struct aios_tj_status *st,
                     struct json_object *const *pods, size_t n_pods, time_t now,
                     const struct aios_tj_progress *progress, struct aios_tj_plan *out,
                     struct aios_search_outcome *o)
{
	memset(o, 0, sizeof(*o));
	struct sp c = {.job = job, .st = st, .out = out, .spec = spec, .s = s, .now = now};
	aios_rfc3339(now, c.now_s, sizeof(c.now_s));
	c.name = aios_json_str(job, "metadata.name");
	if (aios_json_opt_int(job, "metadata.generation", 1, &c.gen))
		c.gen = 1;
	c.trials = trials_of(st->rest);
	if (!c.trials) {
		c.trials = json_object_new_array();
		json_object_object_add(st->rest, "trials", c.trials);
	}
	size_t n = json_object_array_length(c.trials);
	/* pods that belong to no recorded trial go */
	for (size_t k = 0; k < n_pods; k++) {
		int64_t t = aios_tj_label_int(pods[k], AIOS_TJ_LABEL_TRIAL, -1);
		const char *pn = aios_json_str(pods[k], "metadata.name");
		if (pn && (t < 0 || (size_t)t >= n) &&
		    !aios_json_lookup(pods[k], "metadata.deletionTimestamp"))
			aios_tj_plan_remove(out, pn);
	}
	/* every trial not ended: plan it */
	struct aios_search_trial *t = aios_xcalloc(n + 1, sizeof(*t));
	struct aios_tj_status_progress prog = {0};
	for (size_t i = 0; i < n; i++) {
		struct json_object *tr = json_object_array_get_idx(c.trials, i);
		t[i].phase = aios_search_phase_parse(aios_json_str(tr, "phase"));
		if (t[i].phase == AIOS_TRIAL_PENDING || t[i].phase == AIOS_TRIAL_RUNNING)
			t[i].phase = run_trial(&c, i, pods, n_pods, progress, &prog);
		t[i].has_objective = num_at(tr, "objective", &t[i].objective);
	}
	/* the algorithm: stop, start, end */
	struct aios_search_decision d;
	aios_search_decide(s, t, n, &d);
	for (size_t k = 0; k < d.n_stop; k++) {
		struct json_object *tr = json_object_array_get_idx(c.trials, d.stop[k]);
		json_object_object_add(tr, "phase", str("Stopped"));
		json_object_object_add(tr, "reason", str("NotPromoted"));
		json_object_object_add(tr, "message",
		                       str("not promoted to the next rung of successive halving"));
		t[d.stop[k]].phase = AIOS_TRIAL_STOPPED;
	}
	t = aios_xrealloc(t, (n + d.n_start + 1) * sizeof(*t));
	for (size_t k = 0; k < d.n_start; k++) {
		size_t i = json_object_array_length(c.trials);
		t[i] =
		    (struct aios_search_trial){.phase = start_trial(&c, &d.start[k], pods, n_pods)};
	}
	if (d.done)
		search_outcome(&c, &d, t, o);
	else
		search_running(&c, t, &prog);
	aios_search_decision_cleanup(&d);
	free(t);
}
