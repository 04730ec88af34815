/*
 * trainingjob_status.c - the TrainingJob state machine: from (job, pods, now) to a plan
 * of pods to create and delete, the status to write and the events to record.
 *
 *   Pending ──(every rank Running)──> Running ──(every worker Succeeded)──> Succeeded
 *      │  ^                             │
 *      │  └─(new attempt's ranks up)── Restarting <──(a rank Failed, attempts left)
 *      └──────(a rank Failed, no attempts left; deadline passed)──────────> Failed
 *   any non-terminal phase ──(runPolicy.suspend)──> Suspended ──(resume)──> Pending
 *   Succeeded | Failed ──(new spec generation)──> Pending (a new run)
 *
 * One run per spec generation: when metadata.generation differs from
 * status.observedGeneration the run restarts at attempt 0 (pods of other generations
 * are deleted). status.attempts counts the attempts of the current run; a run fails
 * once more than runPolicy.backoffLimit attempts have failed. Conditions follow
 * metav1.Condition; Succeeded and Failed are terminal and at most one is present.
 * Everything here is pure (docs/operator.md has the full table).
 *
 * Two layers: the job policy (a new run, the end, suspend, the deadline) runs once per
 * job over its units, and aios_tj_gang_plan() plans one unit's gang (attempts, a failed
 * rank, success, creations, the phase). A plain job is one unit whose state is the job's
 * status; a search's trials are units whose state is their status.trials entry
 * (search_plan.c). docs/internals/operator.md draws both.
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

/* ============================== small helpers ============================== */

/* Appends an event: prefix, then fmt formatted, cut at AIOS_TJ_MESSAGE_MAX. */
static void plan_eventv(struct aios_tj_plan *p, const char *type, const char *reason,
                        const char *prefix, const char *fmt, va_list ap)
{
	char msg[AIOS_TJ_MESSAGE_MAX];
	size_t n = (size_t)snprintf(msg, sizeof(msg), "%s", prefix);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	p->events = aios_xrealloc(p->events, (p->n_events + 1) * sizeof(*p->events));
	p->events[p->n_events].type = type;
	p->events[p->n_events].reason = reason;
	p->events[p->n_events].message = aios_xstrdup(msg);
	p->n_events++;
}

void aios_tj_plan_event(struct aios_tj_plan *p, const char *type, const char *reason,
                        const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	plan_eventv(p, type, reason, "", fmt, ap);
	va_end(ap);
}

void aios_tj_plan_remove(struct aios_tj_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_remove; i++)
		if (strcmp(p->remove[i], name) == 0)
			return;
	p->remove = aios_xrealloc(p->remove, (p->n_remove + 1) * sizeof(*p->remove));
	p->remove[p->n_remove++] = aios_xstrdup(name);
}

static void plan_create(struct aios_tj_plan *p, struct json_object *pod)
{
	p->create = aios_xrealloc(p->create, (p->n_create + 1) * sizeof(*p->create));
	p->create[p->n_create++] = pod;
}

void aios_tj_plan_requeue(struct aios_tj_plan *p, int64_t ms)
{
	if (ms < 1)
		ms = 1;
	if (p->requeue_after_ms == 0 || ms < p->requeue_after_ms)
		p->requeue_after_ms = ms;
}

int64_t aios_tj_label_int(struct json_object *pod, const char *label, int64_t dflt)
{
	struct json_object *labels = aios_json_lookup(pod, "metadata.labels");
	struct json_object *v;
	if (!labels || !json_object_object_get_ex(labels, label, &v) ||
	    !json_object_is_type(v, json_type_string))
		return dflt;
	const char *s = json_object_get_string(v);
	char *end;
	long long n = strtoll(s, &end, 10);
	return (*s && !*end) ? n : dflt;
}

static const char *pod_phase(struct json_object *pod)
{
	const char *ph = aios_json_str(pod, "status.phase");
	return ph ? ph : "Pending";
}

static int pod_is(struct json_object *pod, const char *phase)
{
	return strcmp(pod_phase(pod), phase) == 0;
}

int aios_tj_pod_finished(struct json_object *pod)
{
	return pod_is(pod, "Succeeded") || pod_is(pod, "Failed");
}

/* The trainer container's status object, or NULL. */
static struct json_object *trainer_status(struct json_object *pod)
{
	struct json_object *cs = aios_json_lookup(pod, "status.containerStatuses");
	if (!cs || !json_object_is_type(cs, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(cs); i++) {
		struct json_object *c = json_object_array_get_idx(cs, i);
		const char *n = aios_json_str(c, "name");
		if (n && strcmp(n, AIOS_TJ_CONTAINER) == 0)
			return c;
	}
	return json_object_array_length(cs) > 0 ? json_object_array_get_idx(cs, 0) : NULL;
}

/* The last non-empty line of s into out (n bytes). */
static void last_line(const char *s, char *out, size_t n)
{
	out[0] = '\0';
	if (!s)
		return;
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
		len--;
	size_t start = len;
	while (start > 0 && s[start - 1] != '\n')
		start--;
	snprintf(out, n, "%.*s", (int)(len - start), s + start);
}

/* "rank 1 (pod x) failed: exit code 3 (Error): last line" */
static void describe_failure(struct json_object *pod, int rank, char *out, size_t n)
{
	const char *name = aios_json_str(pod, "metadata.name");
	struct json_object *t = aios_json_lookup(trainer_status(pod), "state.terminated");
	if (t) {
		int64_t code = 0;
		if (aios_json_opt_int(t, "exitCode", 0, &code))
			code = -1;
		const char *reason = aios_json_str(t, "reason");
		char line[512];
		last_line(aios_json_str(t, "message"), line, sizeof(line));
		snprintf(out, n, "rank %d (pod %s) failed: exit code %lld%s%s%s%s%s", rank,
		         name ? name : "?", (long long)code, reason ? " (" : "",
		         reason ? reason : "", reason ? ")" : "", line[0] ? ": " : "", line);
		return;
	}
	const char *reason = aios_json_str(pod, "status.reason");
	const char *msg = aios_json_str(pod, "status.message");
	snprintf(out, n, "rank %d (pod %s) failed%s%s%s%s", rank, name ? name : "?",
	         reason ? ": " : "", reason ? reason : "", msg ? ": " : "", msg ? msg : "");
}

/*
 * Why a pod is not running yet, in words a user can act on: an image pull error or
 * another container waiting reason, or the scheduler's Unschedulable. 0 if nothing
 * to say.
 */
static int pending_reason(struct json_object *pod, const char **reason, char *msg, size_t n)
{
	static const char *const actionable[] = {
	    "ImagePullBackOff",           "ErrImagePull",
	    "InvalidImageName",           "CrashLoopBackOff",
	    "CreateContainerConfigError", "CreateContainerError",
	    "ErrImageNeverPull",          "RunContainerError"};
	const char *name = aios_json_str(pod, "metadata.name");
	struct json_object *w = aios_json_lookup(trainer_status(pod), "state.waiting");
	const char *wr = aios_json_str(w, "reason");
	for (size_t i = 0; wr && i < sizeof(actionable) / sizeof(actionable[0]); i++) {
		if (strcmp(wr, actionable[i]) == 0) {
			*reason = actionable[i];
			const char *m = aios_json_str(w, "message");
			snprintf(msg, n, "pod %s: %s%s%s", name ? name : "?", wr, m ? ": " : "",
			         m ? m : "");
			return 1;
		}
	}
	struct json_object *conds = aios_json_lookup(pod, "status.conditions");
	for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
	                   i < json_object_array_length(conds);
	     i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		const char *t = aios_json_str(c, "type"), *st = aios_json_str(c, "status");
		const char *r = aios_json_str(c, "reason");
		if (t && st && r && strcmp(t, "PodScheduled") == 0 && strcmp(st, "False") == 0 &&
		    strcmp(r, "Unschedulable") == 0) {
			*reason = "Unschedulable";
			const char *m = aios_json_str(c, "message");
			snprintf(msg, n, "pod %s: %s", name ? name : "?", m ? m : "unschedulable");
			return 1;
		}
	}
	return 0;
}

/* ============================== the plan ============================== */

/* One plan in the making: the unit, its state (edited in place), its pods, the plan. */
struct ctx {
	const struct aios_tj_unit *u;
	struct aios_tj_status *st;     /* the unit's state: what gets written */
	struct aios_conditions *conds; /* &st->conditions */
	const struct aios_tj_spec *spec;
	struct aios_tj_plan *plan;
	struct json_object *const *pods;
	size_t n_pods;
	struct json_object **cur; /* the current attempt's pod of each rank, or NULL */
	int attempt;              /* 0-based attempt the current pods belong to */
	time_t now;
	char now_s[32];
	enum aios_tj_phase phase0;        /* the phase before this plan */
	const struct aios_search *search; /* the job's units are a search's trials, or NULL */
};

/* Appends an event, its message after the unit's prefix. */
static void AIOS_PRINTF(4, 5)
    event(struct ctx *c, const char *type, const char *reason, const char *fmt, ...)
{
	const char *pre = c->u->event_prefix;
	va_list ap;
	va_start(ap, fmt);
	plan_eventv(c->plan, type, reason, pre ? pre : "", fmt, ap);
	va_end(ap);
}

static int is_terminal(const struct ctx *c)
{
	return aios_conditions_is_true(c->conds, "Succeeded") ||
	       aios_conditions_is_true(c->conds, "Failed");
}

/* The job reached Succeeded or Failed: record it once. */
static void finish(struct ctx *c, const char *type, const char *reason, const char *msg)
{
	int ok = strcmp(type, "Succeeded") == 0;
	int64_t gen = c->u->generation;
	aios_conditions_remove(c->conds, ok ? "Failed" : "Succeeded");
	aios_conditions_set(c->conds, type, AIOS_CONDITION_TRUE, reason, msg, gen, c->now_s);
	aios_conditions_set_false_if_present(c->conds, "Running", reason, msg, gen, c->now_s);
	aios_conditions_set_false_if_present(c->conds, "Restarting", reason, msg, gen, c->now_s);
	c->st->phase = ok ? AIOS_TJ_PHASE_SUCCEEDED : AIOS_TJ_PHASE_FAILED;
	c->st->completion_time = c->now;
	if (c->search) /* a search shows a running trial's progress: none once it ends */
		memset(&c->st->progress, 0, sizeof(c->st->progress));
	event(c, ok ? "Normal" : "Warning", reason, "%s", msg);
}

/* Deletes the pods cleanPodPolicy names once the job is finished. */
static void clean_pods(struct ctx *c)
{
	for (size_t i = 0; i < c->n_pods; i++) {
		struct json_object *pod = c->pods[i];
		const char *pn = aios_json_str(pod, "metadata.name");
		if (!pn || aios_json_lookup(pod, "metadata.deletionTimestamp"))
			continue;
		int running = !aios_tj_pod_finished(pod);
		/* parameter servers never finish on their own: they go with their job */
		int is_ps = aios_tj_label_int(pod, AIOS_TJ_LABEL_RANK, 0) >= c->spec->workers;
		if (c->spec->clean == AIOS_TJ_CLEAN_ALL ||
		    (running && (c->spec->clean == AIOS_TJ_CLEAN_RUNNING || is_ps)))
			aios_tj_plan_remove(c->plan, pn);
	}
}

/* Deletes every pod not finished (with skip_deleting, not those already going). */
static void remove_unfinished(struct ctx *c, int skip_deleting)
{
	for (size_t i = 0; i < c->n_pods; i++) {
		const char *pn = aios_json_str(c->pods[i], "metadata.name");
		if (pn && !aios_tj_pod_finished(c->pods[i]) &&
		    !(skip_deleting && aios_json_lookup(c->pods[i], "metadata.deletionTimestamp")))
			aios_tj_plan_remove(c->plan, pn);
	}
}

/*
 * Final progress from the trainer's final line (model/trainlog.h): a job faster than the
 * progress scrape period still shows its epochs and final loss. Keeps what the scrape
 * saw (samplesPerSecond) and marks 100%.
 */
static void set_final_progress(struct ctx *c, const struct aios_trainlog_final *f)
{
	if (f->epochs <= 0)
		return;
	struct aios_tj_status_progress *p = &c->st->progress;
	p->present = 1;
	p->epoch = p->epochs = f->epochs;
	p->have |= AIOS_TJ_PR_EPOCH | AIOS_TJ_PR_EPOCHS | AIOS_TJ_PR_PERCENT | AIOS_TJ_PR_ETA;
	if (isfinite(f->loss))
		p->loss = f->loss, p->have |= AIOS_TJ_PR_LOSS;
	if (isfinite(f->val_loss))
		p->val_loss = f->val_loss, p->have |= AIOS_TJ_PR_VAL_LOSS;
	if (isfinite(f->val_accuracy))
		p->accuracy = f->val_accuracy, p->have |= AIOS_TJ_PR_ACCURACY;
	p->percent = 100;
	p->eta_s = 0;
}

/* A file the final line names: uri always, sha256 and bytes when given. */
static void file_ref(struct aios_tj_file *dst, const struct aios_trainlog_file *f)
{
	dst->uri = aios_xstrdup(f->uri);
	dst->sha256 = f->sha256[0] ? aios_xstrdup(f->sha256) : NULL;
	dst->bytes = f->bytes >= 0 ? f->bytes : -1;
}

const char *aios_tj_termination_message(struct json_object *pod)
{
	return aios_json_str(trainer_status(pod), "state.terminated.message");
}

/* Artifact from rank 0's final line, with the ONNX file beside it when the line names
 * one (spec.output.formats); else spec.output.uri alone. */
static void set_artifact(struct ctx *c, struct json_object *rank0)
{
	struct aios_trainlog_final *f = aios_xmalloc(sizeof(*f));
	struct aios_tj_artifact art = {0};
	if (aios_trainlog_find_final(aios_tj_termination_message(rank0), f)) {
		set_final_progress(c, f);
		art.present = 1;
		file_ref(&art.file, &f->artifact);
		if (f->onnx.uri[0]) {
			art.has_onnx = 1;
			file_ref(&art.onnx, &f->onnx);
		}
	}
	free(f);
	if (!art.present) {
		if (!c->u->output_uri)
			return;
		art.present = 1;
		art.file.uri = aios_xstrdup(c->u->output_uri);
		art.file.bytes = -1;
	}
	art.has_generation = 1;
	art.generation = c->u->generation;
	aios_tj_artifact_clear(&c->st->artifact);
	c->st->artifact = art;
}

/* Progress just scraped from rank 0 replaces what status shows; ETA from startTime. */
static void set_progress(struct ctx *c, const struct aios_tj_progress *pr)
{
	struct aios_tj_status_progress p = {.present = 1};
	if (pr->have_epoch)
		p.epoch = (int64_t)pr->epoch, p.have |= AIOS_TJ_PR_EPOCH;
	if (pr->have_epochs)
		p.epochs = (int64_t)pr->epochs, p.have |= AIOS_TJ_PR_EPOCHS;
	if (pr->have_loss)
		p.loss = pr->loss, p.have |= AIOS_TJ_PR_LOSS;
	if (pr->have_val_loss)
		p.val_loss = pr->val_loss, p.have |= AIOS_TJ_PR_VAL_LOSS;
	if (pr->have_val_acc)
		p.accuracy = pr->val_acc, p.have |= AIOS_TJ_PR_ACCURACY;
	if (pr->have_sps)
		p.sps = pr->sps, p.have |= AIOS_TJ_PR_SPS;
	if (pr->have_epoch && pr->have_epochs && pr->epochs > 0) {
		double frac = pr->epoch / pr->epochs;
		if (frac > 1)
			frac = 1;
		p.percent = (int64_t)(frac * 100);
		p.have |= AIOS_TJ_PR_PERCENT;
		time_t t0 = c->st->start_time;
		if (t0 >= 0 && pr->epoch > 0 && c->now >= t0) {
			double per_epoch = (double)(c->now - t0) / pr->epoch;
			double eta = per_epoch * (pr->epochs - pr->epoch);
			p.eta_s = eta > 0 ? (int64_t)eta : 0;
			p.have |= AIOS_TJ_PR_ETA;
		}
	}
	c->st->progress = p;
}

static void set_workers(struct ctx *c)
{
	struct aios_tj_status *st = c->st;
	st->has_workers = 1;
	st->active = st->succeeded = st->failed = 0;
	for (int r = 0; r < c->spec->world; r++) {
		if (!c->cur[r])
			continue;
		if (pod_is(c->cur[r], "Succeeded"))
			st->succeeded++;
		else if (pod_is(c->cur[r], "Failed"))
			st->failed++;
		else
			st->active++;
	}
}

/* Renders the missing ranks of the current attempt: rank 0 first, the rest once rank 0
 * has an IP to point them at. */
static enum aios_err create_missing(struct ctx *c, int spec_in_cm)
{
	struct json_object **cur = c->cur;
	char coord[80];
	coord[0] = '\0';
	if (cur[0]) {
		const char *ip = aios_json_str(cur[0], "status.podIP");
		if (!ip || !*ip)
			return AIOS_OK; /* the pod update that brings the IP wakes us */
		snprintf(coord, sizeof(coord), "%s:%d", ip, AIOS_TJ_RENDEZVOUS_PORT);
	}
	for (int r = 0; r < c->spec->world; r++) {
		if (cur[r])
			continue;
		if (r > 0 && !coord[0])
			break;
		struct json_object *pod;
		enum aios_err e = aios_tj_unit_render_pod(
		    c->u, r, c->attempt, coord[0] ? coord : NULL, spec_in_cm, &pod);
		if (e)
			return e;
		plan_create(c->plan, pod);
		cur[r] = pod; /* counted as active from now on */
		if (r == 0)
			break;
	}
	return AIOS_OK;
}

/* ---- the steps of a plan, in order ---- */

/* The spec does not parse: the job fails (once) and its running pods go. */
static void plan_invalid_spec(struct ctx *c, const char *why)
{
	char msg[AIOS_TJ_MESSAGE_MAX];
	snprintf(msg, sizeof(msg), "invalid spec: %s", why);
	c->st->has_observed = 1;
	c->st->observed_generation = c->u->generation;
	const char *fr = aios_conditions_reason(c->conds, "Failed");
	if (!fr || strcmp(fr, "InvalidSpec") != 0)
		finish(c, "Failed", "InvalidSpec", msg);
	remove_unfinished(c, 0);
}

/* A new spec generation starts a new run: attempts, times and progress start over; a
 * search forgets its trials, its best and their artifact. */
static void plan_new_run(struct ctx *c)
{
	struct aios_tj_status *st = c->st;
	int64_t gen = c->u->generation;
	int64_t observed = st->has_observed ? st->observed_generation : 0;
	if (observed == gen)
		return;
	int was_terminal = is_terminal(c);
	int had_run =
	    c->search ? aios_search_has_trials(st->rest) : was_terminal || st->attempts > 0;
	if (observed > 0 && had_run && !c->spec->suspend &&
	    !aios_conditions_is_true(c->conds, "Suspended"))
		event(c, "Normal", "NewRun", "spec generation %lld: starting a new %s",
		      (long long)gen, c->search ? "search" : "run");
	aios_conditions_remove(c->conds, "Succeeded");
	aios_conditions_remove(c->conds, "Failed");
	st->completion_time = st->start_time = -1;
	memset(&st->progress, 0, sizeof(st->progress));
	st->has_attempts = !c->search; /* a search's attempts are its trials' */
	st->attempts = 0;
	st->has_observed = 1;
	st->observed_generation = gen;
	if (c->search) {
		aios_search_forget(st->rest);
		aios_tj_artifact_clear(&st->artifact);
	}
	if (was_terminal)
		st->phase = AIOS_TJ_PHASE_PENDING;
}

/* Sorts the pods: the current attempt's by rank into c->cur (allocated); the others are
 * stale and go. */
static void sort_pods(struct ctx *c)
{
	const struct aios_tj_spec *spec = c->spec;
	int64_t gen = c->u->generation, attempts = c->st->attempts;
	c->cur = aios_xcalloc((size_t)spec->world, sizeof(*c->cur));
	c->attempt = attempts > 0 ? (int)(attempts - 1) : 0;
	for (size_t i = 0; i < c->n_pods; i++) {
		struct json_object *p = c->pods[i];
		const char *pn = aios_json_str(p, "metadata.name");
		if (!pn)
			continue;
		int64_t g = aios_tj_label_int(p, AIOS_TJ_LABEL_GENERATION, -1);
		int64_t a = aios_tj_label_int(p, AIOS_TJ_LABEL_ATTEMPT, -1);
		int64_t r = aios_tj_label_int(p, AIOS_TJ_LABEL_RANK, -1);
		int deleting = aios_json_lookup(p, "metadata.deletionTimestamp") != NULL;
		int current =
		    attempts > 0 && g == gen && a == c->attempt && r >= 0 && r < spec->world;
		if (current && !deleting && !c->cur[r]) {
			char *want = aios_tj_pod_name(c->u->name, aios_tj_rank_role(spec, (int)r),
			                              (int)r, gen, c->attempt);
			if (strcmp(want, pn) == 0)
				c->cur[r] = p;
			free(want);
			if (c->cur[r])
				continue;
		}
		if (deleting)
			continue;
		aios_tj_plan_remove(c->plan, pn);
	}
}

/* Finished: cleanPodPolicy, and the job's own deletion once its TTL has passed. */
static void plan_finished(struct ctx *c)
{
	clean_pods(c);
	time_t t = c->st->completion_time;
	int64_t ttl = c->spec->ttl_s;
	if (ttl < 0 || t < 0)
		return;
	if (c->now >= t + ttl)
		c->plan->delete_job = 1;
	else
		aios_tj_plan_requeue(c->plan, ((int64_t)(t + ttl - c->now)) * 1000);
}

/* Suspended: no pods, no clock; a search's running trials wait as Pending. */
static void plan_suspend(struct ctx *c)
{
	int64_t gen = c->u->generation;
	for (size_t i = 0; i < c->n_pods; i++) {
		const char *pn = aios_json_str(c->pods[i], "metadata.name");
		if (pn && !aios_json_lookup(c->pods[i], "metadata.deletionTimestamp"))
			aios_tj_plan_remove(c->plan, pn);
	}
	if (!aios_conditions_is_true(c->conds, "Suspended"))
		event(c, "Normal", "Suspended",
		      "runPolicy.suspend is true: pods deleted, clock stopped");
	aios_conditions_set(c->conds, "Suspended", AIOS_CONDITION_TRUE, "JobSuspended",
	                    "runPolicy.suspend is true", gen, c->now_s);
	aios_conditions_set_false_if_present(c->conds, "Running", "JobSuspended",
	                                     "the job is suspended", gen, c->now_s);
	aios_conditions_set_false_if_present(c->conds, "Restarting", "JobSuspended",
	                                     "the job is suspended", gen, c->now_s);
	c->st->start_time = -1;
	c->st->phase = AIOS_TJ_PHASE_SUSPENDED;
	if (c->search) {
		aios_search_pause(c->st->rest);
		memset(&c->st->progress, 0, sizeof(c->st->progress));
	}
}

/* Active: resumed if it was suspended, the first attempt started, the clock started. */
static void plan_start(struct ctx *c)
{
	struct aios_tj_status *st = c->st;
	int64_t gen = c->u->generation;
	if (st->attempts == 0) {
		st->has_attempts = 1;
		st->attempts = 1;
		c->attempt = 0;
		aios_conditions_set(c->conds, "Created", AIOS_CONDITION_TRUE, "PodsCreated",
		                    "the operator creates one pod per rank", gen, c->now_s);
	}
	if (st->start_time < 0)
		st->start_time = c->now;
}

/* A failed rank restarts the gang, or fails the job when no attempt is left (1). */
static int plan_failed_rank(struct ctx *c)
{
	struct aios_tj_status *st = c->st;
	int failed_rank = -1;
	for (int r = 0; r < c->spec->world && failed_rank < 0; r++)
		if (c->cur[r] && pod_is(c->cur[r], "Failed"))
			failed_rank = r;
	if (failed_rank < 0)
		return 0;
	char why[AIOS_TJ_MESSAGE_MAX - 128];
	describe_failure(c->cur[failed_rank], failed_rank, why, sizeof(why));
	if (st->attempts > c->spec->backoff_limit) {
		char msg[AIOS_TJ_MESSAGE_MAX];
		snprintf(msg, sizeof(msg),
		         "attempt %lld of %lld failed, backoffLimit %lld reached: %s",
		         (long long)st->attempts, (long long)c->spec->backoff_limit + 1,
		         (long long)c->spec->backoff_limit, why);
		finish(c, "Failed", "BackoffLimitExceeded", msg);
		clean_pods(c);
		return 1;
	}
	for (int r = 0; r < c->spec->world; r++)
		if (c->cur[r])
			aios_tj_plan_remove(c->plan, aios_json_str(c->cur[r], "metadata.name"));
	event(c, "Warning", "Restarting", "attempt %lld failed, starting attempt %lld: %s",
	      (long long)st->attempts, (long long)st->attempts + 1, why);
	aios_conditions_set(c->conds, "Restarting", AIOS_CONDITION_TRUE, "RankFailed", why,
	                    c->u->generation, c->now_s);
	st->attempts++;
	c->attempt++;
	memset(&st->progress, 0, sizeof(st->progress));
	memset(c->cur, 0, (size_t)c->spec->world * sizeof(*c->cur));
	return 0;
}

/* The deadline counts from startTime (reset by suspend): fails the job when passed (1),
 * stopping a search's unfinished trials. */
static int plan_deadline(struct ctx *c)
{
	int64_t deadline = c->spec->deadline_s;
	if (deadline <= 0)
		return 0;
	time_t t0 = c->st->start_time >= 0 ? c->st->start_time : c->now;
	if (c->now < t0 + deadline) {
		aios_tj_plan_requeue(c->plan, ((int64_t)(t0 + deadline - c->now)) * 1000);
		return 0;
	}
	char msg[256];
	snprintf(msg, sizeof(msg),
	         "the %s ran longer than runPolicy.activeDeadlineSeconds (%lld s)",
	         c->search ? "search" : "job", (long long)deadline);
	if (c->search)
		aios_search_stop(c->st->rest, "DeadlineExceeded", msg, c->now_s);
	finish(c, "Failed", "DeadlineExceeded", msg);
	remove_unfinished(c, 1);
	clean_pods(c);
	return 1;
}

/* Every worker (or stage) succeeded: the job succeeds (1). */
static int plan_success(struct ctx *c)
{
	for (int r = 0; r < c->spec->workers; r++)
		if (!c->cur[r] || !pod_is(c->cur[r], "Succeeded"))
			return 0;
	set_artifact(c, c->cur[0]);
	char msg[128];
	snprintf(msg, sizeof(msg), "all %d worker%s succeeded (attempt %lld)", c->spec->workers,
	         c->spec->workers == 1 ? "" : "s", (long long)c->st->attempts);
	finish(c, "Succeeded", "AllWorkersSucceeded", msg);
	clean_pods(c);
	return 1;
}

/* create_missing would render a pod now. */
static int wants_pods(const struct ctx *c)
{
	if (!c->cur[0])
		return 1;
	const char *ip = aios_json_str(c->cur[0], "status.podIP");
	for (int r = 1; ip && *ip && r < c->spec->world; r++)
		if (!c->cur[r])
			return 1;
	return 0;
}

/* Creates what is missing (the spec ConfigMap first when the spec is large); fails the
 * job when the spec cannot be carried or rendered (1). */
static int plan_create_pods(struct ctx *c)
{
	size_t spec_len = c->u->spec_json_len;
	if (spec_len > AIOS_TJ_SPEC_FILE_MAX) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "the spec is %zu bytes as JSON; at most %u fit in a ConfigMap", spec_len,
		         AIOS_TJ_SPEC_FILE_MAX);
		finish(c, "Failed", "SpecTooLarge", msg);
		return 1;
	}
	int spec_in_cm = spec_len > AIOS_TJ_SPEC_ENV_MAX;
	if (spec_in_cm && c->plan->configmap && wants_pods(c)) {
		/* the plan carries one spec ConfigMap: this unit's pods wait a pass */
		aios_tj_plan_requeue(c->plan, 1000);
		return 0;
	}
	size_t before = c->plan->n_create;
	if (create_missing(c, spec_in_cm) != AIOS_OK) {
		char msg[AIOS_TJ_MESSAGE_MAX];
		snprintf(msg, sizeof(msg), "cannot render pods: %s", aios_errmsg());
		finish(c, "Failed", "InvalidSpec", msg);
		return 1;
	}
	if (spec_in_cm && c->plan->n_create > before &&
	    aios_tj_unit_render_configmap(c->u, &c->plan->configmap) != AIOS_OK)
		c->plan->configmap = NULL;
	return 0;
}

/* Every rank runs: phase Running, rank 0's metrics address, the scraped progress. */
static void plan_running(struct ctx *c, const struct aios_tj_progress *progress)
{
	int world = c->spec->world;
	int64_t gen = c->u->generation;
	if (c->phase0 != AIOS_TJ_PHASE_RUNNING)
		event(c, "Normal", "Running", "all %d rank%s running (attempt %lld)", world,
		      world == 1 ? "" : "s", (long long)c->st->attempts);
	c->st->phase = AIOS_TJ_PHASE_RUNNING;
	char msg[96];
	snprintf(msg, sizeof(msg), "all %d rank%s running", world, world == 1 ? "" : "s");
	aios_conditions_set(c->conds, "Running", AIOS_CONDITION_TRUE, "AllRanksRunning", msg, gen,
	                    c->now_s);
	aios_conditions_set_false_if_present(c->conds, "Restarting", "AllRanksRunning", msg, gen,
	                                     c->now_s);
	const char *ip = aios_json_str(c->cur[0], "status.podIP");
	if (ip && *ip && !c->plan->scrape_addr)
		c->plan->scrape_addr = aios_xasprintf("%s:%d", ip, AIOS_TJ_METRICS_PORT);
	if (progress)
		set_progress(c, progress);
	aios_tj_plan_requeue(c->plan, AIOS_TJ_PROGRESS_PERIOD_MS);
}

/* Some rank does not run yet: Pending or Restarting, with the reason a user can act on. */
static void plan_waiting(struct ctx *c, int running, const char *why_reason, const char *why)
{
	int world = c->spec->world;
	enum aios_tj_phase phase =
	    c->st->attempts > 1 ? AIOS_TJ_PHASE_RESTARTING : AIOS_TJ_PHASE_PENDING;
	/* ranks that finished early (a worker done before the others) count as running */
	int done_early = 0;
	for (int r = 0; r < world; r++)
		if (c->cur[r] && pod_is(c->cur[r], "Succeeded"))
			done_early++;
	if (done_early > 0 && running + done_early == world)
		phase = AIOS_TJ_PHASE_RUNNING;
	const char *reason0 = aios_conditions_reason(c->conds, "Running");
	if (why_reason && (!reason0 || strcmp(reason0, why_reason) != 0))
		event(c, "Warning", why_reason, "%s", why);
	else if (!why_reason && c->phase0 != AIOS_TJ_PHASE_NONE && phase != c->phase0 &&
	         phase != AIOS_TJ_PHASE_RESTARTING)
		event(c, "Normal", aios_tj_phase_name(phase), "waiting for every rank to run");
	c->st->phase = phase;
	if (phase == AIOS_TJ_PHASE_RUNNING)
		return;
	char msg[AIOS_TJ_MESSAGE_MAX];
	snprintf(msg, sizeof(msg), "%d of %d rank%s running%s%s", running, world,
	         world == 1 ? "" : "s", why_reason ? "; " : "", why_reason ? why : "");
	if (why_reason || aios_conditions_find(c->conds, "Running"))
		aios_conditions_set(c->conds, "Running", AIOS_CONDITION_FALSE,
		                    why_reason ? why_reason : "RanksPending", msg, c->u->generation,
		                    c->now_s);
}

/* The phase from the current attempt's pods. */
static void plan_phase(struct ctx *c, const struct aios_tj_progress *progress)
{
	int running = 0;
	const char *why_reason = NULL;
	char why[AIOS_TJ_MESSAGE_MAX];
	why[0] = '\0';
	for (int r = 0; r < c->spec->world; r++) {
		if (c->cur[r] && pod_is(c->cur[r], "Running"))
			running++;
		else if (c->cur[r] && !why_reason)
			pending_reason(c->cur[r], &why_reason, why, sizeof(why));
	}
	if (running == c->spec->world)
		plan_running(c, progress);
	else
		plan_waiting(c, running, why_reason, why);
}

void aios_tj_gang_plan(const struct aios_tj_unit *u, struct aios_tj_status *st,
                       struct json_object *const *pods, size_t n_pods, time_t now,
                       const struct aios_tj_progress *progress, struct aios_tj_plan *plan)
{
	struct ctx c = {.u = u,
	                .st = st,
	                .conds = &st->conditions,
	                .spec = u->rs,
	                .plan = plan,
	                .pods = pods,
	                .n_pods = n_pods,
	                .now = now,
	                .phase0 = st->phase};
	aios_rfc3339(now, c.now_s, sizeof(c.now_s));
	sort_pods(&c);
	plan_start(&c);
	if (!plan_failed_rank(&c) && !plan_success(&c) && !plan_create_pods(&c))
		plan_phase(&c, progress);
	set_workers(&c);
	free(c.cur);
}

/* Leaving suspend: the condition turns False and the pods start again. */
static void plan_resume(struct ctx *c, const char *what)
{
	if (!aios_conditions_is_true(c->conds, "Suspended"))
		return;
	aios_conditions_set(c->conds, "Suspended", AIOS_CONDITION_FALSE, "JobResumed",
	                    "runPolicy.suspend is false", c->u->generation, c->now_s);
	event(c, "Normal", "Resumed", "runPolicy.suspend is false: %s", what);
}

/* The job's units: its one gang, or the trials of its search (which may end it). */
static void plan_units(struct ctx *c, const struct aios_tj_progress *progress)
{
	if (!c->search) {
		aios_tj_gang_plan(c->u, c->st, c->pods, c->n_pods, c->now, progress, c->plan);
		return;
	}
	struct aios_search_outcome o;
	aios_search_run(c->u->job, c->search, c->spec, c->st, c->pods, c->n_pods, c->now, progress,
	                c->plan, &o);
	if (o.done) {
		finish(c, o.ok ? "Succeeded" : "Failed", o.reason, o.message);
		clean_pods(c);
	}
}

/*
 * The job policy, the same over a plain job's one gang and a search's trials: a new run
 * per spec generation, the end (cleanPodPolicy, TTL), suspend and resume, the deadline,
 * then the units.
 */
static void plan_job(struct ctx *c, const struct aios_tj_progress *progress)
{
	plan_new_run(c);
	if (is_terminal(c)) {
		plan_finished(c);
		return;
	}
	if (c->spec->suspend) {
		sort_pods(c); /* stale pods first, then the rest */
		plan_suspend(c);
		memset(c->cur, 0, (size_t)c->spec->world * sizeof(*c->cur));
		if (!c->search)
			set_workers(c);
		free(c->cur);
		return;
	}
	plan_resume(c, c->search ? "resuming the search" : "starting pods");
	if (c->st->start_time < 0)
		c->st->start_time = c->now;
	if (!plan_deadline(c))
		plan_units(c, progress);
}

/* spec.search, parsed and checked against the spec, into s (1); or why not in v. */
static int parse_search(struct aios_tj_view *v, struct aios_search *s)
{
	enum aios_err e = aios_search_parse(aios_json_lookup(v->job, "spec.search"), s);
	if (e == AIOS_OK && (e = aios_search_check_spec(s, aios_json_lookup(v->job, "spec"))))
		aios_search_cleanup(s);
	if (e == AIOS_OK)
		return 1;
	v->spec_ok = 0;
	snprintf(v->spec_error, sizeof(v->spec_error), "%s", aios_errmsg());
	return 0;
}

enum aios_err aios_tj_plan(struct json_object *job, struct json_object *const *pods, size_t n_pods,
                           time_t now, const struct aios_tj_progress *progress,
                           struct aios_tj_plan *out)
{
	memset(out, 0, sizeof(*out));
	struct aios_tj_view v;
	if (aios_tj_view_init(&v, job) != AIOS_OK) {
		out->status = aios_tj_status_encode(&(struct aios_tj_status){0});
		return AIOS_ERR_INVALID;
	}
	struct aios_tj_unit u = {.job = job,
	                         .name = v.name,
	                         .spec = aios_json_lookup(job, "spec"),
	                         .rs = &v.spec,
	                         .generation = v.generation,
	                         .trial = -1,
	                         .output_uri = v.output_uri,
	                         .spec_json_len = v.spec_json_len,
	                         .event_prefix = ""};
	struct ctx c = {.u = &u,
	                .st = &v.status,
	                .conds = &v.status.conditions,
	                .spec = &v.spec,
	                .plan = out,
	                .pods = pods,
	                .n_pods = n_pods,
	                .now = now,
	                .phase0 = v.status.phase};
	aios_rfc3339(now, c.now_s, sizeof(c.now_s));
	struct aios_search search;
	if (!v.deleting && v.spec_ok && v.search && parse_search(&v, &search))
		c.search = &search;
	if (v.deleting) {
		/* the garbage collector takes its pods */
	} else if (!v.spec_ok) {
		plan_invalid_spec(&c, v.spec_error);
	} else {
		plan_job(&c, progress);
	}
	if (c.search)
		aios_search_cleanup(&search);
	out->status = aios_tj_status_encode(&v.status);
	struct json_object *old = aios_json_lookup(job, "status");
	out->status_changed = !old || !aios_json_equal(old, out->status);
	aios_tj_view_cleanup(&v);
	return AIOS_OK;
}

void aios_tj_plan_cleanup(struct aios_tj_plan *p)
{
	json_object_put(p->status);
	json_object_put(p->configmap);
	for (size_t i = 0; i < p->n_create; i++)
		json_object_put(p->create[i]);
	free(p->create);
	for (size_t i = 0; i < p->n_remove; i++)
		free(p->remove[i]);
	free(p->remove);
	for (size_t i = 0; i < p->n_events; i++)
		free(p->events[i].message);
	free(p->events);
	free(p->scrape_addr);
	memset(p, 0, sizeof(*p));
}
