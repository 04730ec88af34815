/*
 * modelservice_plan.c - the ModelService reconcile as a pure function: pods to
 * create and delete (surge-first rollouts, scaling to the autoscaler's count), the
 * Service, the status and the events (see modelservice.h, docs/modelservice.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/mem.h"
#include "kube/conditions.h"
#include "operator/modelservice.h"
#include "operator/render_security.h"

/* How often a service waiting for its TrainingJob looks again (ms); the autoscaler's
 * tick also wakes it within a second of the job's artifact changing. */
#define WAIT_REQUEUE_MS 5000

/* ============================== plan building ============================== */

static void add_event(struct aios_ms_plan *p, const char *type, const char *reason, const char *fmt,
                      ...) AIOS_PRINTF(4, 5);
static void add_event(struct aios_ms_plan *p, const char *type, const char *reason, const char *fmt,
                      ...)
{
	char msg[AIOS_MS_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->events = aios_xrealloc(p->events, (p->n_events + 1) * sizeof(*p->events));
	p->events[p->n_events++] = (struct aios_ms_event){type, reason, aios_xstrdup(msg)};
}

static void add_remove(struct aios_ms_plan *p, const char *name)
{
	p->remove = aios_xrealloc(p->remove, (p->n_remove + 1) * sizeof(*p->remove));
	p->remove[p->n_remove++] = aios_xstrdup(name);
}

static void add_create(struct aios_ms_plan *p, struct json_object *pod)
{
	p->create = aios_xrealloc(p->create, (p->n_create + 1) * sizeof(*p->create));
	p->create[p->n_create++] = pod;
}

void aios_ms_plan_cleanup(struct aios_ms_plan *p)
{
	json_object_put(p->status);
	json_object_put(p->service);
	for (size_t i = 0; i < p->n_create; i++)
		json_object_put(p->create[i]);
	free(p->create);
	for (size_t i = 0; i < p->n_remove; i++)
		free(p->remove[i]);
	free(p->remove);
	for (size_t i = 0; i < p->n_events; i++)
		free(p->events[i].message);
	free(p->events);
	memset(p, 0, sizeof(*p));
}

/* ============================== status pieces ============================== */

/* Sets condition type in conds, a status rebuilt from scratch: the old status'
 * condition is carried over first, so that conditions.h's rules keep its
 * lastTransitionTime while the status holds. An empty message says the reason. */
static void set_condition(struct aios_conditions *conds, struct json_object *ms, const char *type,
                          const char *status, const char *reason, const char *message, time_t now)
{
	char ts[32];
	aios_rfc3339(now, ts, sizeof(ts));
	struct aios_conditions old;
	aios_conditions_decode(aios_json_lookup(ms, "status.conditions"), &old);
	aios_conditions_carry(conds, &old, type);
	aios_conditions_cleanup(&old);
	int64_t gen = 0;
	if (aios_json_opt_int(ms, "metadata.generation", 0, &gen))
		gen = 0;
	aios_conditions_set(
	    conds, type, strcmp(status, "True") == 0 ? AIOS_CONDITION_TRUE : AIOS_CONDITION_FALSE,
	    reason, message && *message ? message : reason, gen, ts);
}

/* The old status' condition type has this reason. */
static int old_reason_is(struct json_object *ms, const char *type, const char *reason)
{
	struct aios_conditions old;
	aios_conditions_decode(aios_json_lookup(ms, "status.conditions"), &old);
	const char *r = aios_conditions_reason(&old, type);
	int same = r && strcmp(r, reason) == 0;
	aios_conditions_cleanup(&old);
	return same;
}

/* Two decimals are enough for status and keep it from changing on noise. */
static struct json_object *rounded(double v)
{
	return json_object_new_double((double)(long long)(v * 100 + (v >= 0 ? 0.5 : -0.5)) / 100);
}

/* ============================== pods ============================== */

/* Why a not-ready pod is not serving, from its container status; 0 if it looks like
 * it is just starting. reason is one of ModelNotFound, ModelDamaged, ModelLoadFailed,
 * ImagePullFailed, PodsCrashing. */
static int pod_failure(struct json_object *pod, const char **reason, char *msg, size_t n)
{
	const char *pname = aios_json_str(pod, "metadata.name");
	struct json_object *cs = aios_json_lookup(pod, "status.containerStatuses");
	for (size_t i = 0;
	     cs && json_object_is_type(cs, json_type_array) && i < json_object_array_length(cs);
	     i++) {
		struct json_object *c = json_object_array_get_idx(cs, i);
		const char *wait = aios_json_str(c, "state.waiting.reason");
		if (wait && (strstr(wait, "ImagePull") || strcmp(wait, "ErrImagePull") == 0 ||
		             strcmp(wait, "InvalidImageName") == 0)) {
			*reason = "ImagePullFailed";
			const char *m = aios_json_str(c, "state.waiting.message");
			snprintf(msg, n, "pod %s: %s: %s", pname, wait, m ? m : "");
			return 1;
		}
		struct json_object *term = aios_json_lookup(c, "state.terminated");
		if (!term)
			term = aios_json_lookup(c, "lastState.terminated");
		if (!term || json_object_is_type(term, json_type_null))
			continue;
		int64_t code = 0;
		if (aios_json_opt_int(term, "exitCode", 0, &code) || code == 0)
			continue;
		const char *m = aios_json_str(term, "message");
		m = m ? m : "";
		/* aios-serve exits 2 when the model cannot be loaded (src/serve/main.c); its
		 * last log line, the termination message, says why. */
		if (code != AIOS_MS_EXIT_MODEL)
			*reason = "PodsCrashing";
		else if (strstr(m, "not found") || strstr(m, "No such file") || strstr(m, "404"))
			*reason = "ModelNotFound";
		else if (strstr(m, "SHA-256") || strstr(m, "digest") || strstr(m, "corrupt") ||
		         strstr(m, "truncated") || strstr(m, "magic") || strstr(m, "tensor"))
			*reason = "ModelDamaged";
		else
			*reason = "ModelLoadFailed";
		int64_t restarts = 0;
		if (aios_json_opt_int(c, "restartCount", 0, &restarts))
			restarts = 0;
		size_t len = strlen(m);
		while (len > 0 && (m[len - 1] == '\n' || m[len - 1] == ' '))
			len--;
		snprintf(msg, n, "pod %s: aios-serve exited with code %lld (%lld restarts): %.*s",
		         pname, (long long)code, (long long)restarts, (int)len, m);
		return 1;
	}
	return 0;
}

/* Index of a pod named "<prefix>-<rev>-<index>", or -1. */
static int pod_index(const char *name)
{
	const char *dash = name ? strrchr(name, '-') : NULL;
	if (!dash || !dash[1])
		return -1;
	char *end;
	long v = strtol(dash + 1, &end, 10);
	return *end || v < 0 || v >= AIOS_MS_MAX_PODS ? -1 : (int)v;
}

/* Value of label key (which holds dots, so not a json.h path), or NULL. */
const char *aios_ms_label(struct json_object *obj, const char *key)
{
	struct json_object *labels = aios_json_lookup(obj, "metadata.labels"), *v;
	if (!labels || !json_object_object_get_ex(labels, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int pod_finished(struct json_object *pod)
{
	const char *phase = aios_json_str(pod, "status.phase");
	return phase && (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0);
}

/* Orders pods so that the ones to delete first come first: not ready before ready,
 * then the higher index first. */
static int removal_order(const void *a, const void *b)
{
	struct json_object *pa = *(struct json_object *const *)a,
	                   *pb = *(struct json_object *const *)b;
	int ra = aios_ms_pod_ready(pa), rb = aios_ms_pod_ready(pb);
	if (ra != rb)
		return ra - rb;
	int ia = pod_index(aios_json_str(pa, "metadata.name"));
	int ib = pod_index(aios_json_str(pb, "metadata.name"));
	return ib - ia;
}

/* ============================== the plan ============================== */

struct census {
	struct json_object **cur, **old, **can; /* live pods of this revision, of others,
	                                         * of the canary's */
	size_t n_cur, n_old, n_can;
	int cur_ready, old_ready, can_ready;
	int failing; /* a current pod has failed (reason below) */
	const char *fail_reason;
	char fail_msg[AIOS_MS_MESSAGE_MAX];
	unsigned char used[AIOS_MS_MAX_PODS];     /* indices taken in this revision */
	unsigned char can_used[AIOS_MS_MAX_PODS]; /* and in the canary's */
};

/* Sorts the pods of service in->ms by revision: rev (current), crev (the canary's, ""
 * for none), and older ones. */
static void take_census(const struct aios_ms_input *in, const char *rev, const char *crev,
                        struct census *c, struct aios_ms_plan *p)
{
	c->cur = aios_xcalloc(in->n_pods + 1, sizeof(*c->cur));
	c->old = aios_xcalloc(in->n_pods + 1, sizeof(*c->old));
	c->can = aios_xcalloc(in->n_pods + 1, sizeof(*c->can));
	for (size_t i = 0; i < in->n_pods && i < AIOS_MS_MAX_PODS; i++) {
		struct json_object *pod = in->pods[i];
		const char *name = aios_json_str(pod, "metadata.name");
		const char *r = aios_ms_label(pod, AIOS_MS_LABEL_REVISION);
		int is_cur = r && strcmp(r, rev) == 0;
		int is_can = !is_cur && r && *crev && strcmp(r, crev) == 0;
		int idx = pod_index(name);
		if (is_cur && idx >= 0)
			c->used[idx] = 1; /* a terminating pod still holds its name */
		if (is_can && idx >= 0)
			c->can_used[idx] = 1;
		if (!name || aios_ms_pod_terminating(pod))
			continue;
		if (is_cur && !c->failing && !aios_ms_pod_ready(pod))
			c->failing =
			    pod_failure(pod, &c->fail_reason, c->fail_msg, sizeof(c->fail_msg));
		if (pod_finished(pod)) {
			add_remove(p, name); /* restartPolicy Always: only evictions end here */
			continue;
		}
		if (is_cur) {
			c->cur[c->n_cur++] = pod;
			c->cur_ready += aios_ms_pod_ready(pod);
		} else if (is_can) {
			c->can[c->n_can++] = pod;
			c->can_ready += aios_ms_pod_ready(pod);
		} else {
			c->old[c->n_old++] = pod;
			c->old_ready += aios_ms_pod_ready(pod);
		}
	}
}

static void census_cleanup(struct census *c)
{
	free(c->cur);
	free(c->old);
	free(c->can);
}

/* Brings the n pods of revision rev to want: creates the lowest indices not in used,
 * or removes the surplus, not-ready and highest index first. *ready (the ready pods
 * among them) loses the ready pods removed. */
static enum aios_err scale_revision(const struct aios_ms_input *in,
                                    const struct aios_ms_model *model, const char *rev, int want,
                                    struct json_object **pods, size_t n, unsigned char *used,
                                    int *ready, struct aios_ms_plan *p)
{
	int missing = want - (int)n;
	for (int idx = 0; missing > 0 && idx < AIOS_MS_MAX_PODS; idx++) {
		if (used[idx])
			continue;
		struct json_object *pod;
		enum aios_err e = aios_ms_render_pod(in->ms, model, rev, idx, &pod);
		if (e)
			return e;
		add_create(p, pod);
		used[idx] = 1;
		missing--;
	}
	if ((int)n > want) {
		qsort(pods, n, sizeof(*pods), removal_order);
		for (int i = 0; i < (int)n - want; i++) {
			*ready -= aios_ms_pod_ready(pods[i]);
			add_remove(p, aios_json_str(pods[i], "metadata.name"));
		}
	}
	return AIOS_OK;
}

/* Creates, scales and retires pods (surge-first across revisions). */
static enum aios_err plan_pods(const struct aios_ms_input *in, const struct aios_ms_model *model,
                               const char *rev, int desired, struct census *c,
                               struct aios_ms_plan *p)
{
	int cur_ready = c->cur_ready;
	enum aios_err e =
	    scale_revision(in, model, rev, desired, c->cur, c->n_cur, c->used, &cur_ready, p);
	if (e)
		return e;
	/* Surge-first: keep old pods standing in for current ones not ready yet. */
	int keep = desired - cur_ready;
	if (keep < 0)
		keep = 0;
	if ((int)c->n_old > keep) {
		qsort(c->old, c->n_old, sizeof(*c->old), removal_order);
		int n = (int)c->n_old - keep;
		for (int i = 0; i < n; i++)
			add_remove(p, aios_json_str(c->old[i], "metadata.name"));
		if (keep == 0)
			add_event(p, "Normal", "RolloutComplete",
			          "revision %s serves %s with %d ready pods; removed %d pods of "
			          "older revisions",
			          rev, model->uri, cur_ready, n);
	}
	if (c->n_old > 0 && c->n_cur == 0 && p->n_create > 0)
		add_event(p, "Normal", "RolloutStarted",
		          "rolling out revision %s (%s%s%s): %zu new pods beside %zu of older "
		          "revisions, which go as new ones become ready",
		          rev, model->uri, model->sha256[0] ? " sha256 " : "", model->sha256,
		          p->n_create, c->n_old);
	return AIOS_OK;
}

static void put_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static void put_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/* Copies the old status.<key> into st, if there is one. */
static void keep_old(struct json_object *st, struct json_object *ms, const char *key)
{
	char path[64];
	snprintf(path, sizeof(path), "status.%s", key);
	struct json_object *v = aios_json_lookup(ms, path);
	if (v && !json_object_is_type(v, json_type_null))
		json_object_object_add(st, key, aios_json_copy(v));
}

/* ============================== the canary ============================== */

/* The canary's model: spec.canary.model read as spec.model is, never falling back to
 * a model served before. */
static void resolve_canary(struct json_object *ms, struct json_object *tj,
                           struct aios_ms_model *out)
{
	struct json_object *view = json_object_new_object();
	struct json_object *m = aios_json_lookup(ms, "spec.canary.model");
	aios_json_set(view, "spec.model", m ? aios_json_copy(m) : json_object_new_object());
	aios_ms_resolve_model(view, tj, out);
	json_object_put(view);
}

/* The old status.canary says this canary model was promoted. */
static int canary_promoted(struct json_object *ms, const struct aios_ms_model *cm)
{
	struct json_object *old = aios_json_lookup(ms, "status.canary");
	const char *phase = aios_json_str(old, "phase");
	return cm->have && phase && strcmp(phase, "Promoted") == 0 &&
	       aios_canary_status_is_for(old, cm->uri, cm->sha256);
}

/* Runs the analysis, writes status.canary and the Canary condition, and brings the
 * canary's pods to their share of desired. */
static enum aios_err plan_canary(const struct aios_ms_input *in, const struct aios_canary_spec *cs,
                                 const struct aios_ms_model *cm, const char *crev, int desired,
                                 struct census *c, struct aios_conditions *conds,
                                 struct aios_ms_plan *p)
{
	static const struct aios_canary_metrics none = {.canary = {.p99_ms = -1},
	                                                .stable = {.p99_ms = -1}};
	struct aios_canary_decision d;
	aios_canary_decide(cs, aios_json_lookup(in->ms, "status.canary"), cm->uri, cm->sha256, crev,
	                   in->canary_metrics ? in->canary_metrics : &none, c->can_ready > 0,
	                   in->now, &d);
	json_object_object_add(p->status, "canary", d.status);
	const char *phase = aios_json_str(d.status, "phase");
	int64_t weight = 0;
	if (aios_json_opt_int(d.status, "weight", 0, &weight))
		weight = 0;
	int progressing = phase && strcmp(phase, "Progressing") == 0;
	const char *reason = aios_json_str(d.status, "reason");
	const char *message = aios_json_str(d.status, "message");
	int promoted = phase && strcmp(phase, "Promoted") == 0;
	set_condition(conds, in->ms, "Canary", progressing || promoted ? "True" : "False",
	              reason ? reason : "Progressing", message, in->now);
	switch (d.action) {
	case AIOS_CANARY_START: add_event(p, "Normal", "CanaryStarted", "%s", d.message); break;
	case AIOS_CANARY_STEP: add_event(p, "Normal", "CanaryStep", "%s", d.message); break;
	case AIOS_CANARY_PROMOTE: add_event(p, "Normal", "CanaryPromoted", "%s", d.message); break;
	case AIOS_CANARY_ROLLBACK:
		add_event(p, "Warning", "CanaryRolledBack", "%s", d.message);
		break;
	case AIOS_CANARY_NONE: break;
	}
	/* its share of the pods, at least one while it is analysed (none at zero) */
	int want = 0;
	if (progressing && desired > 0) {
		want = (int)((desired * weight + 99) / 100);
		want = want < 1 ? 1 : want;
	}
	if (progressing && (p->requeue_after_ms == 0 || p->requeue_after_ms > 1000))
		p->requeue_after_ms = 1000; /* windows close on the clock, not on events */
	int ready = c->can_ready; /* the removed ones are taken off later, with the others */
	return scale_revision(in, cm, crev, want, c->can, c->n_can, c->can_used, &ready, p);
}

static void finish_status(const struct aios_ms_input *in, struct aios_ms_plan *p)
{
	struct json_object *old = aios_json_lookup(in->ms, "status");
	p->status_changed = !old || !aios_json_equal(old, p->status);
}

enum aios_err aios_ms_plan(const struct aios_ms_input *in, struct aios_ms_plan *p)
{
	memset(p, 0, sizeof(*p));
	struct json_object *ms = in->ms;
	const char *name = aios_json_str(ms, "metadata.name");
	if (!name || !*name)
		return aios_fail(AIOS_ERR_INVALID, "modelservice: metadata.name missing");
	int64_t gen = 0;
	if (aios_json_opt_int(ms, "metadata.generation", 0, &gen))
		gen = 0;

	struct json_object *st = json_object_new_object();
	p->status = st;
	struct aios_conditions conds_list = {0}, *conds = &conds_list;
	put_int(st, "observedGeneration", gen);
	char *url = aios_ms_url(ms);
	put_str(st, "url", url);
	free(url);
	/* the /scale subresource's labelSelectorPath: what an HPA counts as this service's pods */
	char selector[sizeof(AIOS_MS_LABEL_SERVICE) + AIOS_MS_NAME_MAX + 2];
	snprintf(selector, sizeof(selector), "%s=%s", AIOS_MS_LABEL_SERVICE, name);
	put_str(st, "selector", selector);
	if (!in->have_service)
		p->service = aios_ms_render_service(ms);

	/* A spec the schema let through but we cannot act on: say so, touch nothing. */
	struct aios_autoscaler_params params;
	struct aios_ms_model model;
	aios_ms_resolve_model(ms, in->tj, &model);
	/* the template's policy first: refused even while the model is not there yet */
	enum aios_err perr =
	    aios_render_policy_check(aios_json_lookup(ms, "spec.template"), "spec.template");
	if (!perr)
		perr = aios_autoscaler_params_from_spec(ms, &params);
	/* A canary: once promoted, its model is the stable one; else its own revision. */
	struct aios_canary_spec cspec = {0};
	struct aios_ms_model cmodel;
	memset(&cmodel, 0, sizeof(cmodel));
	if (!perr)
		perr = aios_canary_spec_from_ms(ms, &cspec);
	int promoted = 0;
	if (!perr && cspec.enabled) {
		resolve_canary(ms, in->canary_tj, &cmodel);
		promoted = canary_promoted(ms, &cmodel);
		if (promoted)
			model = cmodel;
	}
	char rev[AIOS_MS_REVISION_LEN + 1] = "", crev[AIOS_MS_REVISION_LEN + 1] = "";
	struct json_object *probe = NULL;
	if (!perr && model.have) {
		aios_ms_revision(ms, &model, rev);
		perr = aios_ms_render_pod(ms, &model, rev, 0, &probe);
		json_object_put(probe);
	}
	if (!perr && model.have && cmodel.have && !promoted) {
		aios_ms_revision(ms, &cmodel, crev);
		if (strcmp(crev, rev) == 0)
			crev[0] = '\0'; /* the canary is what the stable pods already serve */
	}
	if (perr || (model.reason && strcmp(model.reason, "InvalidSpec") == 0)) {
		const char *msg = perr ? aios_errmsg() : model.message;
		put_str(st, "phase", "Failed");
		set_condition(conds, ms, "Ready", "False", "InvalidSpec", msg, in->now);
		json_object_object_add(st, "conditions", aios_conditions_encode(conds));
		aios_conditions_cleanup(conds);
		keep_old(st, ms, "model");
		if (!old_reason_is(ms, "Ready", "InvalidSpec"))
			add_event(p, "Warning", "InvalidSpec", "%s", msg);
		finish_status(in, p);
		return AIOS_OK;
	}

	/* metric external: the /scale field is the count and the decider's is not read */
	const int external = params.metric == AIOS_AUTOSCALER_EXTERNAL;
	int desired = external                            ? aios_autoscaler_external_count(&params)
	              : in->desired < params.min_replicas ? params.min_replicas
	              : in->desired > params.max_replicas ? params.max_replicas
	                                                  : in->desired;
	struct census c;
	memset(&c, 0, sizeof(c));
	take_census(in, model.have ? rev : "", crev, &c, p);
	if (model.have) {
		enum aios_err e = plan_pods(in, &model, rev, desired, &c, p);
		if (!e && crev[0])
			e = plan_canary(in, &cspec, &cmodel, crev, desired, &c, conds, p);
		else if (!e && promoted)
			set_condition(conds, ms, "Canary", "True", "Promoted",
			              aios_json_str(ms, "status.canary.message"), in->now);
		if (cspec.enabled && !crev[0])
			keep_old(st, ms, "canary");
		if (e) {
			census_cleanup(&c);
			aios_ms_plan_cleanup(p);
			return e;
		}
	} else {
		p->requeue_after_ms = WAIT_REQUEUE_MS;
	}
	int ready = c.cur_ready + c.old_ready + c.can_ready,
	    live = (int)(c.n_cur + c.n_old + c.n_can);
	/* Pods this plan removes no longer count. */
	for (size_t i = 0; i < p->n_remove; i++) {
		for (size_t j = 0; j < in->n_pods; j++) {
			const char *pn = aios_json_str(in->pods[j], "metadata.name");
			if (pn && strcmp(p->remove[i], pn) == 0 && !pod_finished(in->pods[j]) &&
			    !aios_ms_pod_terminating(in->pods[j])) {
				live--;
				ready -= aios_ms_pod_ready(in->pods[j]);
			}
		}
	}
	p->ready = ready;
	/* replicas.min 0 and nothing asked for: no pod runs, aios-gateway holds requests */
	const int at_zero = desired == 0 && params.min_replicas == 0 && live == 0;
	put_int(st, "replicas", live);
	put_int(st, "readyReplicas", ready);
	put_int(st, "desiredReplicas", desired);
	if (params.min_replicas == 0 || in->cold_starts > 0)
		put_int(st, "coldStarts", in->cold_starts);
	int64_t old_desired = -1;
	if (aios_json_opt_int(ms, "status.desiredReplicas", -1, &old_desired))
		old_desired = -1;
	if (external && old_desired >= 0 && old_desired != desired) {
		/* the external scaler moved the count: this reconcile is the scale */
		char ts[32];
		aios_rfc3339(in->now, ts, sizeof(ts));
		put_str(st, "lastScaleTime", ts);
		add_event(p, "Normal", "Scaled",
		          "desired replicas %lld -> %d: spec.replicas.count %d (metric external)%s",
		          (long long)old_desired, desired, params.count,
		          params.count != desired ? ", bounded to replicas.min..max" : "");
	} else if (!external && in->last_scale > 0) {
		char ts[32];
		aios_rfc3339(in->last_scale, ts, sizeof(ts));
		put_str(st, "lastScaleTime", ts);
	} else {
		keep_old(st, ms, "lastScaleTime");
	}

	/* ModelLoaded: a pod of the current revision is ready. */
	char msg[AIOS_MS_MESSAGE_MAX];
	const char *loaded_reason;
	int failed = 0;
	if (!model.have) {
		loaded_reason = model.reason;
		set_condition(conds, ms, "ModelLoaded", "False", model.reason, model.message,
		              in->now);
		failed = strcmp(model.reason, "TrainingJobFailed") == 0;
	} else if (at_zero) {
		loaded_reason = "ScaledToZero";
		snprintf(msg, sizeof(msg), "no pod runs revision %s: scaled to zero", rev);
		set_condition(conds, ms, "ModelLoaded", "False", loaded_reason, msg, in->now);
	} else if (c.cur_ready > 0) {
		loaded_reason = "Loaded";
		snprintf(msg, sizeof(msg), "revision %s serves %s%s%s (%d of %d pods ready)%s%s",
		         rev, model.uri, model.sha256[0] ? " sha256 " : "", model.sha256,
		         c.cur_ready, desired, model.reason ? "; " : "",
		         model.reason ? model.message : "");
		set_condition(conds, ms, "ModelLoaded", "True", loaded_reason, msg, in->now);
		struct json_object *mo = json_object_new_object();
		put_str(mo, "uri", model.uri);
		if (model.sha256[0]) /* the 1.20 API server reads "" as null, and refuses it */
			put_str(mo, "sha256", model.sha256);
		json_object_object_add(st, "model", mo);
	} else if (c.failing) {
		loaded_reason = c.fail_reason;
		set_condition(conds, ms, "ModelLoaded", "False", c.fail_reason, c.fail_msg,
		              in->now);
		failed = 1;
	} else {
		loaded_reason = "Loading";
		snprintf(msg, sizeof(msg), "%zu pods of revision %s are loading %s",
		         c.n_cur + p->n_create, rev, model.uri);
		set_condition(conds, ms, "ModelLoaded", "False", loaded_reason, msg, in->now);
	}
	if (!json_object_object_get_ex(st, "model", NULL))
		keep_old(st, ms, "model");
	if (failed && !old_reason_is(ms, "ModelLoaded", loaded_reason))
		add_event(p, "Warning", loaded_reason, "%s",
		          c.failing ? c.fail_msg : model.message);

	/* Ready: something serves, whatever its revision. */
	if (ready > 0) {
		snprintf(msg, sizeof(msg), "%d of %d pods ready", ready, desired);
		set_condition(conds, ms, "Ready", "True", "Serving", msg, in->now);
		put_str(st, "phase", "Ready");
	} else if (at_zero) {
		set_condition(conds, ms, "Ready", "True", "ScaledToZero",
		              "scaled to zero: aios-gateway holds the next request until a pod is "
		              "ready",
		              in->now);
		put_str(st, "phase", "ScaledToZero");
	} else {
		snprintf(msg, sizeof(msg), "no pod is ready: %s", loaded_reason);
		set_condition(conds, ms, "Ready", "False", failed ? loaded_reason : "NoReadyPods",
		              msg, in->now);
		put_str(st, "phase", failed ? "Failed" : "Pending");
	}

	/* MetricsAvailable: False while incomplete scrapes hold the count. */
	if (in->decision && model.have && ready > 0) {
		/* Fixed wording: the numbers change every second and live in events. */
		if (in->decision->held) {
			snprintf(msg, sizeof(msg),
			         "scrapes of /metrics are failing or missing: the autoscaler holds "
			         "%d replicas and will not scale down until they recover",
			         in->decision->desired);
			set_condition(conds, ms, "MetricsAvailable", "False", "ScrapeFailing", msg,
			              in->now);
		} else {
			set_condition(conds, ms, "MetricsAvailable", "True", "Scraping",
			              "every ready pod answers its /metrics scrape", in->now);
		}
	}
	json_object_object_add(st, "conditions", aios_conditions_encode(conds));
	aios_conditions_cleanup(conds);

	if (in->have_metrics) {
		struct json_object *m = json_object_new_object();
		json_object_object_add(m, "concurrency", rounded(in->concurrency));
		json_object_object_add(m, "rps", rounded(in->rps));
		json_object_object_add(m, "latencyP99Ms", rounded(in->latency_p99_ms));
		json_object_object_add(st, "metrics", m);
	} else {
		keep_old(st, ms, "metrics");
	}
	census_cleanup(&c);
	finish_status(in, p);
	return AIOS_OK;
}
