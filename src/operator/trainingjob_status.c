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

static struct json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

void aios_tj_plan_event(struct aios_tj_plan *p, const char *type, const char *reason,
                        const char *fmt, ...)
{
	char msg[AIOS_TJ_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->events = aios_xrealloc(p->events, (p->n_events + 1) * sizeof(*p->events));
	p->events[p->n_events].type = type;
	p->events[p->n_events].reason = reason;
	p->events[p->n_events].message = aios_xstrdup(msg);
	p->n_events++;
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

/* ============================== conditions ============================== */

/* ============================== the plan ============================== */

struct ctx {
	struct json_object *job, *st;
	const struct aios_tj_spec *spec;
	struct aios_tj_plan *plan;
	int64_t gen;
	time_t now;
	char now_s[32];
	const char *name;
	const char *phase0;           /* the phase before this reconcile ("" if none) */
	struct aios_conditions conds; /* status.conditions, written back at the end */
};

static void set_phase(struct ctx *c, const char *phase)
{
	json_object_object_add(c->st, "phase", jstr(phase));
}

/* The job reached Succeeded or Failed: record it once. */
static void finish(struct ctx *c, const char *type, const char *reason, const char *msg)
{
	const char *other = strcmp(type, "Succeeded") == 0 ? "Failed" : "Succeeded";
	aios_conditions_remove(&c->conds, other);
	aios_conditions_set(&c->conds, type, AIOS_CONDITION_TRUE, reason, msg, c->gen, c->now_s);
	aios_conditions_set_false_if_present(&c->conds, "Running", reason, msg, c->gen, c->now_s);
	aios_conditions_set_false_if_present(&c->conds, "Restarting", reason, msg, c->gen,
	                                     c->now_s);
	set_phase(c, type);
	json_object_object_add(c->st, "completionTime", jstr(c->now_s));
	aios_tj_plan_event(c->plan, strcmp(type, "Succeeded") == 0 ? "Normal" : "Warning", reason,
	                   "%s", msg);
}

/* Deletes the pods cleanPodPolicy names once the job is finished. */
static void clean_pods(struct ctx *c, struct json_object *const *pods, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *pn = aios_json_str(pods[i], "metadata.name");
		if (!pn || aios_json_lookup(pods[i], "metadata.deletionTimestamp"))
			continue;
		int running = !aios_tj_pod_finished(pods[i]);
		/* parameter servers never finish on their own: they go with their job */
		int is_ps = aios_tj_label_int(pods[i], AIOS_TJ_LABEL_RANK, 0) >= c->spec->workers;
		if (c->spec->clean == AIOS_TJ_CLEAN_ALL ||
		    (running && (c->spec->clean == AIOS_TJ_CLEAN_RUNNING || is_ps)))
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
	struct json_object *old = aios_json_lookup(c->st, "progress");
	struct json_object *o = old ? aios_json_copy(old) : json_object_new_object();
	json_object_object_add(o, "epoch", json_object_new_int64(f->epochs));
	json_object_object_add(o, "epochs", json_object_new_int64(f->epochs));
	if (isfinite(f->loss))
		json_object_object_add(o, "loss", json_object_new_double(f->loss));
	if (isfinite(f->val_loss))
		json_object_object_add(o, "validationLoss", json_object_new_double(f->val_loss));
	if (isfinite(f->val_accuracy))
		json_object_object_add(o, "accuracy", json_object_new_double(f->val_accuracy));
	json_object_object_add(o, "percent", json_object_new_int64(100));
	json_object_object_add(o, "etaSeconds", json_object_new_int64(0));
	json_object_object_add(c->st, "progress", o);
}

/* {uri, sha256, bytes} of a file the final line names; sha256 and bytes when given. */
static struct json_object *file_ref(const struct aios_trainlog_file *f)
{
	struct json_object *r = json_object_new_object();
	json_object_object_add(r, "uri", jstr(f->uri));
	if (f->sha256[0])
		json_object_object_add(r, "sha256", jstr(f->sha256));
	if (f->bytes >= 0)
		json_object_object_add(r, "bytes", json_object_new_int64(f->bytes));
	return r;
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
	struct json_object *art = NULL;
	if (aios_trainlog_find_final(aios_tj_termination_message(rank0), f)) {
		set_final_progress(c, f);
		art = file_ref(&f->artifact);
		if (f->onnx.uri[0])
			json_object_object_add(art, "onnx", file_ref(&f->onnx));
	}
	free(f);
	if (!art) {
		const char *uri = aios_json_str(c->job, "spec.output.uri");
		if (!uri)
			return;
		art = json_object_new_object();
		json_object_object_add(art, "uri", jstr(uri));
	}
	json_object_object_add(art, "generation", json_object_new_int64(c->gen));
	json_object_object_add(c->st, "artifact", art);
}

static void set_progress(struct ctx *c, const struct aios_tj_progress *pr)
{
	struct json_object *o = json_object_new_object();
	if (pr->have_epoch)
		json_object_object_add(o, "epoch", json_object_new_int64((int64_t)pr->epoch));
	if (pr->have_epochs)
		json_object_object_add(o, "epochs", json_object_new_int64((int64_t)pr->epochs));
	if (pr->have_loss)
		json_object_object_add(o, "loss", json_object_new_double(pr->loss));
	if (pr->have_val_loss)
		json_object_object_add(o, "validationLoss", json_object_new_double(pr->val_loss));
	if (pr->have_val_acc)
		json_object_object_add(o, "accuracy", json_object_new_double(pr->val_acc));
	if (pr->have_sps)
		json_object_object_add(o, "samplesPerSecond", json_object_new_double(pr->sps));
	if (pr->have_epoch && pr->have_epochs && pr->epochs > 0) {
		double frac = pr->epoch / pr->epochs;
		if (frac > 1)
			frac = 1;
		json_object_object_add(o, "percent", json_object_new_int64((int64_t)(frac * 100)));
		const char *st = aios_json_str(c->st, "startTime");
		time_t t0 = st ? aios_rfc3339_parse(st) : -1;
		if (t0 >= 0 && pr->epoch > 0 && c->now >= t0) {
			double per_epoch = (double)(c->now - t0) / pr->epoch;
			double eta = per_epoch * (pr->epochs - pr->epoch);
			json_object_object_add(o, "etaSeconds",
			                       json_object_new_int64(eta > 0 ? (int64_t)eta : 0));
		}
	}
	json_object_object_add(c->st, "progress", o);
}

static void set_workers(struct ctx *c, struct json_object **cur)
{
	int active = 0, succeeded = 0, failed = 0;
	for (int r = 0; r < c->spec->world; r++) {
		if (!cur[r])
			continue;
		if (pod_is(cur[r], "Succeeded"))
			succeeded++;
		else if (pod_is(cur[r], "Failed"))
			failed++;
		else
			active++;
	}
	struct json_object *w = json_object_new_object();
	json_object_object_add(w, "active", json_object_new_int(active));
	json_object_object_add(w, "succeeded", json_object_new_int(succeeded));
	json_object_object_add(w, "failed", json_object_new_int(failed));
	json_object_object_add(c->st, "workers", w);
}

/* Renders the missing ranks of the current attempt: rank 0 first, the rest once rank 0
 * has an IP to point them at. */
static enum aios_err create_missing(struct ctx *c, struct json_object **cur, int attempt,
                                    int spec_in_cm)
{
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
		enum aios_err e = aios_tj_render_pod(c->job, c->spec, r, attempt,
		                                     coord[0] ? coord : NULL, spec_in_cm, &pod);
		if (e)
			return e;
		plan_create(c->plan, pod);
		cur[r] = pod; /* counted as active from now on */
		if (r == 0)
			break;
	}
	return AIOS_OK;
}

static int64_t status_int(struct json_object *st, const char *key)
{
	int64_t v = 0;
	if (aios_json_opt_int(st, key, 0, &v))
		v = 0;
	return v;
}

enum aios_err aios_tj_plan(struct json_object *job, struct json_object *const *pods, size_t n_pods,
                           time_t now, const struct aios_tj_progress *progress,
                           struct aios_tj_plan *out)
{
	memset(out, 0, sizeof(*out));
	struct json_object *old = aios_json_lookup(job, "status");
	struct json_object *st = old && json_object_is_type(old, json_type_object)
	                             ? aios_json_copy(old)
	                             : json_object_new_object();
	out->status = st;
	struct ctx c = {.job = job, .st = st, .plan = out, .now = now};
	aios_rfc3339(now, c.now_s, sizeof(c.now_s));
	c.name = aios_json_str(job, "metadata.name");
	if (!c.name)
		return aios_fail(AIOS_ERR_INVALID, "trainingjob: metadata.name missing");
	if (aios_json_opt_int(job, "metadata.generation", 1, &c.gen))
		c.gen = 1;
	const char *ph0 = aios_json_str(st, "phase");
	c.phase0 = ph0 ? ph0 : "";
	char phase0[16];
	snprintf(phase0, sizeof(phase0), "%s", c.phase0);
	c.phase0 = phase0;
	aios_conditions_decode(aios_json_lookup(st, "conditions"), &c.conds);

	/* a job being deleted: the garbage collector takes its pods */
	if (aios_json_lookup(job, "metadata.deletionTimestamp"))
		goto done;

	struct aios_tj_spec spec;
	c.spec = &spec;
	if (aios_tj_spec_parse(job, &spec) != AIOS_OK) {
		char msg[AIOS_TJ_MESSAGE_MAX];
		snprintf(msg, sizeof(msg), "invalid spec: %s", aios_errmsg());
		json_object_object_add(st, "observedGeneration", json_object_new_int64(c.gen));
		const char *fr = aios_conditions_reason(&c.conds, "Failed");
		if (!fr || strcmp(fr, "InvalidSpec") != 0)
			finish(&c, "Failed", "InvalidSpec", msg);
		for (size_t i = 0; i < n_pods; i++)
			if (!aios_tj_pod_finished(pods[i]) &&
			    aios_json_str(pods[i], "metadata.name"))
				aios_tj_plan_remove(out, aios_json_str(pods[i], "metadata.name"));
		goto done;
	}

	/* ---- hyperparameter search: each trial planned through this function (search.h) ---- */
	if (aios_json_lookup(job, "spec.search")) {
		aios_conditions_cleanup(&c.conds); /* the search keeps its own */
		enum aios_err se = aios_search_plan(job, &spec, pods, n_pods, now, progress, out);
		if (se)
			return se;
		goto changed;
	}

	/* ---- a new spec generation starts a new run ---- */
	int64_t observed = status_int(st, "observedGeneration");
	int64_t attempts = status_int(st, "attempts");
	if (observed != c.gen) {
		int was_terminal = aios_conditions_is_true(&c.conds, "Succeeded") ||
		                   aios_conditions_is_true(&c.conds, "Failed");
		if (observed > 0 && (was_terminal || attempts > 0) && !spec.suspend &&
		    !aios_conditions_is_true(&c.conds, "Suspended"))
			aios_tj_plan_event(out, "Normal", "NewRun",
			                   "spec generation %lld: starting a new run",
			                   (long long)c.gen);
		aios_conditions_remove(&c.conds, "Succeeded");
		aios_conditions_remove(&c.conds, "Failed");
		json_object_object_del(st, "completionTime");
		json_object_object_del(st, "startTime");
		json_object_object_del(st, "progress");
		attempts = 0;
		json_object_object_add(st, "attempts", json_object_new_int64(0));
		json_object_object_add(st, "observedGeneration", json_object_new_int64(c.gen));
		if (was_terminal)
			set_phase(&c, "Pending");
	}
	int terminal = aios_conditions_is_true(&c.conds, "Succeeded") ||
	               aios_conditions_is_true(&c.conds, "Failed");

	/* ---- sort pods: the current attempt's, by rank; everything else is stale ---- */
	struct json_object **cur = aios_xcalloc((size_t)spec.world, sizeof(*cur));
	int attempt = attempts > 0 ? (int)(attempts - 1) : 0;
	for (size_t i = 0; i < n_pods; i++) {
		struct json_object *p = pods[i];
		const char *pn = aios_json_str(p, "metadata.name");
		if (!pn)
			continue;
		int64_t g = aios_tj_label_int(p, AIOS_TJ_LABEL_GENERATION, -1);
		int64_t a = aios_tj_label_int(p, AIOS_TJ_LABEL_ATTEMPT, -1);
		int64_t r = aios_tj_label_int(p, AIOS_TJ_LABEL_RANK, -1);
		int deleting = aios_json_lookup(p, "metadata.deletionTimestamp") != NULL;
		int current =
		    attempts > 0 && g == c.gen && a == attempt && r >= 0 && r < spec.world;
		if (current && !deleting && !cur[r]) {
			char *want = aios_tj_pod_name(c.name, aios_tj_rank_role(&spec, (int)r),
			                              (int)r, c.gen, attempt);
			if (strcmp(want, pn) == 0)
				cur[r] = p;
			free(want);
			if (cur[r])
				continue;
		}
		if (terminal || deleting)
			continue; /* cleanPodPolicy decides for a finished job */
		aios_tj_plan_remove(out, pn);
	}

	/* ---- finished: cleanPodPolicy and TTL ---- */
	if (terminal) {
		clean_pods(&c, pods, n_pods);
		const char *ct = aios_json_str(st, "completionTime");
		time_t t = ct ? aios_rfc3339_parse(ct) : -1;
		if (spec.ttl_s >= 0 && t >= 0) {
			if (now >= t + spec.ttl_s)
				out->delete_job = 1;
			else
				aios_tj_plan_requeue(out, ((int64_t)(t + spec.ttl_s - now)) * 1000);
		}
		free(cur);
		goto done;
	}

	/* ---- suspended: no pods, no clock ---- */
	if (spec.suspend) {
		for (size_t i = 0; i < n_pods; i++) {
			const char *pn = aios_json_str(pods[i], "metadata.name");
			if (pn && !aios_json_lookup(pods[i], "metadata.deletionTimestamp"))
				aios_tj_plan_remove(out, pn);
		}
		if (!aios_conditions_is_true(&c.conds, "Suspended"))
			aios_tj_plan_event(
			    out, "Normal", "Suspended",
			    "runPolicy.suspend is true: pods deleted, clock stopped");
		aios_conditions_set(&c.conds, "Suspended", AIOS_CONDITION_TRUE, "JobSuspended",
		                    "runPolicy.suspend is true", c.gen, c.now_s);
		aios_conditions_set_false_if_present(&c.conds, "Running", "JobSuspended",
		                                     "the job is suspended", c.gen, c.now_s);
		aios_conditions_set_false_if_present(&c.conds, "Restarting", "JobSuspended",
		                                     "the job is suspended", c.gen, c.now_s);
		json_object_object_del(st, "startTime");
		set_phase(&c, "Suspended");
		memset(cur, 0, (size_t)spec.world * sizeof(*cur));
		goto done_cur;
	}
	if (aios_conditions_is_true(&c.conds, "Suspended")) {
		aios_conditions_set(&c.conds, "Suspended", AIOS_CONDITION_FALSE, "JobResumed",
		                    "runPolicy.suspend is false", c.gen, c.now_s);
		aios_tj_plan_event(out, "Normal", "Resumed",
		                   "runPolicy.suspend is false: starting pods");
	}

	/* ---- active ---- */
	if (attempts == 0) {
		attempts = 1;
		attempt = 0;
		json_object_object_add(st, "attempts", json_object_new_int64(1));
		aios_conditions_set(&c.conds, "Created", AIOS_CONDITION_TRUE, "PodsCreated",
		                    "the operator creates one pod per rank", c.gen, c.now_s);
	}
	if (!aios_json_str(st, "startTime"))
		json_object_object_add(st, "startTime", jstr(c.now_s));

	/* a failed rank restarts the gang, or fails the job when no attempt is left */
	int failed_rank = -1;
	for (int r = 0; r < spec.world && failed_rank < 0; r++)
		if (cur[r] && pod_is(cur[r], "Failed"))
			failed_rank = r;
	if (failed_rank >= 0) {
		char why[AIOS_TJ_MESSAGE_MAX - 128];
		describe_failure(cur[failed_rank], failed_rank, why, sizeof(why));
		if (attempts > spec.backoff_limit) {
			char msg[AIOS_TJ_MESSAGE_MAX];
			snprintf(msg, sizeof(msg),
			         "attempt %lld of %lld failed, backoffLimit %lld reached: %s",
			         (long long)attempts, (long long)spec.backoff_limit + 1,
			         (long long)spec.backoff_limit, why);
			finish(&c, "Failed", "BackoffLimitExceeded", msg);
			clean_pods(&c, pods, n_pods);
			goto done_cur;
		}
		for (int r = 0; r < spec.world; r++)
			if (cur[r])
				aios_tj_plan_remove(out, aios_json_str(cur[r], "metadata.name"));
		aios_tj_plan_event(out, "Warning", "Restarting",
		                   "attempt %lld failed, starting attempt %lld: %s",
		                   (long long)attempts, (long long)attempts + 1, why);
		aios_conditions_set(&c.conds, "Restarting", AIOS_CONDITION_TRUE, "RankFailed", why,
		                    c.gen, c.now_s);
		attempts++;
		attempt++;
		json_object_object_add(st, "attempts", json_object_new_int64(attempts));
		json_object_object_del(st, "progress");
		memset(cur, 0, (size_t)spec.world * sizeof(*cur));
	}

	/* the deadline counts from startTime (reset by suspend) */
	if (spec.deadline_s > 0) {
		const char *sts = aios_json_str(st, "startTime");
		time_t t0 = sts ? aios_rfc3339_parse(sts) : now;
		if (t0 < 0)
			t0 = now;
		if (now >= t0 + spec.deadline_s) {
			char msg[256];
			snprintf(msg, sizeof(msg),
			         "the job ran longer than runPolicy.activeDeadlineSeconds (%lld s)",
			         (long long)spec.deadline_s);
			finish(&c, "Failed", "DeadlineExceeded", msg);
			for (size_t i = 0; i < n_pods; i++)
				if (!aios_tj_pod_finished(pods[i]) &&
				    aios_json_str(pods[i], "metadata.name") &&
				    !aios_json_lookup(pods[i], "metadata.deletionTimestamp"))
					aios_tj_plan_remove(
					    out, aios_json_str(pods[i], "metadata.name"));
			clean_pods(&c, pods, n_pods);
			goto done_cur;
		}
		aios_tj_plan_requeue(out, ((int64_t)(t0 + spec.deadline_s - now)) * 1000);
	}

	/* every worker (or stage) succeeded: done */
	int all_ok = 1;
	for (int r = 0; r < spec.workers; r++)
		if (!cur[r] || !pod_is(cur[r], "Succeeded"))
			all_ok = 0;
	if (all_ok) {
		set_artifact(&c, cur[0]);
		char msg[128];
		snprintf(msg, sizeof(msg), "all %d worker%s succeeded (attempt %lld)", spec.workers,
		         spec.workers == 1 ? "" : "s", (long long)attempts);
		finish(&c, "Succeeded", "AllWorkersSucceeded", msg);
		clean_pods(&c, pods, n_pods);
		goto done_cur;
	}

	/* create what is missing */
	size_t spec_len = strlen(
	    json_object_to_json_string_ext(aios_json_lookup(job, "spec"), JSON_C_TO_STRING_PLAIN));
	if (spec_len > AIOS_TJ_SPEC_FILE_MAX) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "the spec is %zu bytes as JSON; at most %u fit in a ConfigMap", spec_len,
		         AIOS_TJ_SPEC_FILE_MAX);
		finish(&c, "Failed", "SpecTooLarge", msg);
		goto done_cur;
	}
	int spec_in_cm = spec_len > AIOS_TJ_SPEC_ENV_MAX;
	size_t before = out->n_create;
	enum aios_err e = create_missing(&c, cur, attempt, spec_in_cm);
	if (e) {
		char msg[AIOS_TJ_MESSAGE_MAX];
		snprintf(msg, sizeof(msg), "cannot render pods: %s", aios_errmsg());
		finish(&c, "Failed", "InvalidSpec", msg);
		goto done_cur;
	}
	if (spec_in_cm && out->n_create > before) {
		if (aios_tj_render_spec_configmap(job, &out->configmap) != AIOS_OK)
			out->configmap = NULL;
	}

	/* the phase */
	int running = 0, pending = 0;
	const char *why_reason = NULL;
	char why[AIOS_TJ_MESSAGE_MAX];
	why[0] = '\0';
	for (int r = 0; r < spec.world; r++) {
		if (cur[r] && pod_is(cur[r], "Running")) {
			running++;
		} else {
			pending++;
			if (cur[r] && !why_reason)
				pending_reason(cur[r], &why_reason, why, sizeof(why));
		}
	}
	if (running == spec.world) {
		if (strcmp(c.phase0, "Running") != 0)
			aios_tj_plan_event(out, "Normal", "Running",
			                   "all %d rank%s running (attempt %lld)", spec.world,
			                   spec.world == 1 ? "" : "s", (long long)attempts);
		set_phase(&c, "Running");
		char msg[96];
		snprintf(msg, sizeof(msg), "all %d rank%s running", spec.world,
		         spec.world == 1 ? "" : "s");
		aios_conditions_set(&c.conds, "Running", AIOS_CONDITION_TRUE, "AllRanksRunning",
		                    msg, c.gen, c.now_s);
		aios_conditions_set_false_if_present(&c.conds, "Restarting", "AllRanksRunning", msg,
		                                     c.gen, c.now_s);
		const char *ip = aios_json_str(cur[0], "status.podIP");
		if (ip && *ip)
			out->scrape_addr = aios_xasprintf("%s:%d", ip, AIOS_TJ_METRICS_PORT);
		if (progress)
			set_progress(&c, progress);
		aios_tj_plan_requeue(out, AIOS_TJ_PROGRESS_PERIOD_MS);
	} else {
		const char *phase = attempts > 1 ? "Restarting" : "Pending";
		/* ranks that finished early (a worker done before the others) count as running */
		int done_early = 0;
		for (int r = 0; r < spec.world; r++)
			if (cur[r] && pod_is(cur[r], "Succeeded"))
				done_early++;
		if (done_early > 0 && running + done_early == spec.world)
			phase = "Running";
		const char *reason0 = aios_conditions_reason(&c.conds, "Running");
		if (why_reason && (!reason0 || strcmp(reason0, why_reason) != 0))
			aios_tj_plan_event(out, "Warning", why_reason, "%s", why);
		else if (!why_reason && c.phase0[0] && strcmp(phase, c.phase0) != 0 &&
		         strcmp(phase, "Restarting") != 0)
			aios_tj_plan_event(out, "Normal", phase, "waiting for every rank to run");
		set_phase(&c, phase);
		if (strcmp(phase, "Running") != 0) {
			char msg[AIOS_TJ_MESSAGE_MAX];
			snprintf(msg, sizeof(msg), "%d of %d rank%s running%s%s", running,
			         spec.world, spec.world == 1 ? "" : "s", why_reason ? "; " : "",
			         why_reason ? why : "");
			if (why_reason || aios_conditions_find(&c.conds, "Running"))
				aios_conditions_set(&c.conds, "Running", AIOS_CONDITION_FALSE,
				                    why_reason ? why_reason : "RanksPending", msg,
				                    c.gen, c.now_s);
		}
	}

done_cur:
	set_workers(&c, cur);
	free(cur);
done:
	if (c.conds.n > 0 || aios_json_lookup(st, "conditions"))
		json_object_object_add(st, "conditions", aios_conditions_encode(&c.conds));
	aios_conditions_cleanup(&c.conds);
changed:
	out->status_changed = !old || !aios_json_equal(old, st);
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
