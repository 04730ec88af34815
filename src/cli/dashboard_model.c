/*
 * dashboard_model.c - the dashboard's snapshot pieces (see dashboard_model.h).
 */
#include "dashboard_model.h"

#include <math.h>
#include <string.h>

#include "common/json.h"
#include "common/mem.h"
#include "model/trainlog.h"

/* ---- curves ----------------------------------------------------------------- */

/* Every point of a curve before thinning: what was kept so far plus a log's epochs. */
struct all_points {
	int n;
	int64_t epoch[AIOS_DASH_POINTS + AIOS_DASH_LOG_LINES];
	double loss[AIOS_DASH_POINTS + AIOS_DASH_LOG_LINES];
	double val_loss[AIOS_DASH_POINTS + AIOS_DASH_LOG_LINES];
	double val_acc[AIOS_DASH_POINTS + AIOS_DASH_LOG_LINES];
};

static void put(struct all_points *a, int i, int64_t epoch, double loss, double vl, double va)
{
	a->epoch[i] = epoch;
	a->loss[i] = loss;
	a->val_loss[i] = vl;
	a->val_acc[i] = va;
}

int aios_dash_curve_from_log(struct aios_dash_curve *c, const char *log, size_t len)
{
	struct all_points *a = aios_xcalloc(1, sizeof(*a));
	/* the log's epochs first, into the upper part */
	int base = AIOS_DASH_POINTS, n = 0;
	const char *p = log, *end = log + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct aios_trainlog_epoch e;
		if (ll && p[0] == '{' && aios_trainlog_parse_epoch(p, ll, &e) == AIOS_OK) {
			/* a restarted run prints from a lower epoch again: drop what it redoes */
			while (n > 0 && a->epoch[base + n - 1] >= e.epoch)
				n--;
			if (n < AIOS_DASH_LOG_LINES)
				put(a, base + n++, e.epoch, e.loss, e.val_loss, e.val_accuracy);
		} else {
			aios_errclear();
		}
		p += ll + 1;
	}
	/* then the points kept from earlier reads that come before them (the log is a tail) */
	int64_t first = n ? a->epoch[base] : INT64_MAX;
	int old = 0;
	for (int i = 0; i < c->n && c->epoch[i] < first; i++)
		put(a, old++, c->epoch[i], c->loss[i], c->val_loss[i], c->val_acc[i]);
	memmove(&a->epoch[old], &a->epoch[base], (size_t)n * sizeof(a->epoch[0]));
	memmove(&a->loss[old], &a->loss[base], (size_t)n * sizeof(a->loss[0]));
	memmove(&a->val_loss[old], &a->val_loss[base], (size_t)n * sizeof(a->val_loss[0]));
	memmove(&a->val_acc[old], &a->val_acc[base], (size_t)n * sizeof(a->val_acc[0]));
	a->n = old + n;
	if (n == 0) { /* nothing new: keep the curve as it was */
		free(a);
		return 0;
	}
	/* thinned evenly in epochs: the k-th point is the one nearest to first + k * step,
	 * the first and the last always kept, none twice */
	c->n = 0;
	int j = 0;
	double lo = (double)a->epoch[0], hi = (double)a->epoch[a->n - 1];
	for (int k = 0; k < AIOS_DASH_POINTS && j < a->n; k++) {
		double want = a->n <= AIOS_DASH_POINTS
		                  ? (double)a->epoch[j]
		                  : lo + (hi - lo) * k / (AIOS_DASH_POINTS - 1);
		while (j + 1 < a->n &&
		       fabs((double)a->epoch[j + 1] - want) <= fabs((double)a->epoch[j] - want))
			j++;
		c->epoch[c->n] = a->epoch[j];
		c->loss[c->n] = a->loss[j];
		c->val_loss[c->n] = a->val_loss[j];
		c->val_acc[c->n] = a->val_acc[j];
		c->n++;
		j++;
	}
	free(a);
	return n;
}

static struct json_object *num(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

struct json_object *aios_dash_curve_json(const struct aios_dash_curve *c)
{
	struct json_object *o = json_object_new_object(), *ep = json_object_new_array(),
	                   *l = json_object_new_array(), *vl = json_object_new_array(),
	                   *va = json_object_new_array();
	for (int i = 0; i < c->n; i++) {
		json_object_array_add(ep, json_object_new_int64(c->epoch[i]));
		json_object_array_add(l, num(c->loss[i]));
		json_object_array_add(vl, num(c->val_loss[i]));
		json_object_array_add(va, num(c->val_acc[i]));
	}
	json_object_object_add(o, "epoch", ep);
	json_object_object_add(o, "loss", l);
	json_object_object_add(o, "valLoss", vl);
	json_object_object_add(o, "valAccuracy", va);
	return o;
}

/* ---- ModelService history ------------------------------------------------- */

static double dbl_at(struct json_object *o, const char *path)
{
	double v = NAN;
	if (aios_json_opt_double(o, path, NAN, &v))
		aios_errclear();
	return v;
}

void aios_dash_series_push(struct aios_dash_series *s, struct json_object *ms, double t)
{
	int i;
	if (s->n < AIOS_DASH_SAMPLES) {
		i = (s->head + s->n++) % AIOS_DASH_SAMPLES;
	} else {
		i = s->head;
		s->head = (s->head + 1) % AIOS_DASH_SAMPLES;
	}
	double d = dbl_at(ms, "status.desiredReplicas"), r = dbl_at(ms, "status.readyReplicas");
	s->t[i] = t;
	s->desired[i] = isfinite(d) ? d : 0;
	s->ready[i] = isfinite(r) ? r : 0;
	s->rps[i] = dbl_at(ms, "status.metrics.rps");
	s->p99_ms[i] = dbl_at(ms, "status.metrics.latencyP99Ms");
}

struct json_object *aios_dash_series_json(const struct aios_dash_series *s)
{
	static const char *names[] = {"t", "desired", "ready", "rps", "p99Ms"};
	const double *cols[] = {s->t, s->desired, s->ready, s->rps, s->p99_ms};
	struct json_object *o = json_object_new_object();
	for (int c = 0; c < 5; c++) {
		struct json_object *a = json_object_new_array();
		for (int k = 0; k < s->n; k++)
			json_object_array_add(a, num(cols[c][(s->head + k) % AIOS_DASH_SAMPLES]));
		json_object_object_add(o, names[c], a);
	}
	return o;
}

/* ---- summaries -------------------------------------------------------------- */

/* Copies the value at path (when present) into o under key. */
static void copy(struct json_object *o, const char *key, struct json_object *from, const char *path)
{
	struct json_object *v = aios_json_lookup(from, path);
	if (v)
		json_object_object_add(o, key, json_object_get(v));
}

struct json_object *aios_dash_tj_summary(struct json_object *tj)
{
	struct json_object *o = json_object_new_object();
	copy(o, "namespace", tj, "metadata.namespace");
	copy(o, "name", tj, "metadata.name");
	copy(o, "created", tj, "metadata.creationTimestamp");
	const char *phase = aios_json_str(tj, "status.phase");
	json_object_object_add(o, "phase", json_object_new_string(phase ? phase : "Pending"));
	static const char *const progress[][2] = {
	    {"percent", "status.progress.percent"},
	    {"etaSeconds", "status.progress.etaSeconds"},
	    {"epoch", "status.progress.epoch"},
	    {"epochs", "status.progress.epochs"},
	    {"loss", "status.progress.loss"},
	    {"validationLoss", "status.progress.validationLoss"},
	    {"accuracy", "status.progress.accuracy"},
	    {"attempts", "status.attempts"},
	    {"artifact", "status.artifact"},
	    {"model", "spec.model.type"},
	    {"startTime", "status.startTime"},
	    {"completionTime", "status.completionTime"}};
	for (size_t i = 0; i < sizeof(progress) / sizeof(progress[0]); i++)
		copy(o, progress[i][0], tj, progress[i][1]);
	int64_t wanted = 1;
	if (aios_json_opt_int(tj, "spec.distributed.workers", 1, &wanted))
		aios_errclear();
	struct json_object *w = json_object_new_object();
	json_object_object_add(w, "wanted", json_object_new_int64(wanted));
	copy(w, "active", tj, "status.workers.active");
	copy(w, "succeeded", tj, "status.workers.succeeded");
	copy(w, "failed", tj, "status.workers.failed");
	json_object_object_add(o, "workers", w);
	struct json_object *trials = aios_json_lookup(tj, "status.trials");
	if (aios_json_lookup(tj, "spec.search")) {
		const char *best = aios_json_str(tj, "status.best.trial");
		struct json_object *out = json_object_new_array();
		size_t n = trials && json_object_is_type(trials, json_type_array)
		               ? json_object_array_length(trials)
		               : 0;
		for (size_t i = 0; i < n; i++) {
			struct json_object *t = json_object_array_get_idx(trials, i),
			                   *s = json_object_new_object();
			copy(s, "index", t, "index");
			copy(s, "name", t, "name");
			copy(s, "phase", t, "phase");
			copy(s, "objective", t, "objective");
			copy(s, "epochs", t, "epochs");
			copy(s, "parameters", t, "parameters");
			const char *name = aios_json_str(t, "name");
			json_object_object_add(
			    s, "best",
			    json_object_new_boolean(best && name && !strcmp(best, name)));
			json_object_array_add(out, s);
		}
		json_object_object_add(o, "trials", out);
		if (best)
			json_object_object_add(o, "best", json_object_new_string(best));
	}
	return o;
}

struct json_object *aios_dash_ms_summary(struct json_object *ms)
{
	struct json_object *o = json_object_new_object();
	static const char *const fields[][2] = {{"namespace", "metadata.namespace"},
	                                        {"name", "metadata.name"},
	                                        {"created", "metadata.creationTimestamp"},
	                                        {"phase", "status.phase"},
	                                        {"ready", "status.readyReplicas"},
	                                        {"desired", "status.desiredReplicas"},
	                                        {"min", "spec.replicas.min"},
	                                        {"max", "spec.replicas.max"},
	                                        {"url", "status.url"},
	                                        {"rps", "status.metrics.rps"},
	                                        {"p99Ms", "status.metrics.latencyP99Ms"},
	                                        {"concurrency", "status.metrics.concurrency"},
	                                        {"metric", "spec.autoscaling.metric"},
	                                        {"target", "spec.autoscaling.target"},
	                                        {"lastScaleTime", "status.lastScaleTime"},
	                                        {"canary", "status.canary"},
	                                        {"canarySpec", "spec.canary"}};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		copy(o, fields[i][0], ms, fields[i][1]);
	return o;
}

struct json_object *aios_dash_event_summary(struct json_object *ev)
{
	struct json_object *o = json_object_new_object();
	const char *t = aios_json_str(ev, "lastTimestamp");
	if (!t)
		t = aios_json_str(ev, "eventTime");
	if (!t)
		t = aios_json_str(ev, "metadata.creationTimestamp");
	if (t)
		json_object_object_add(o, "time", json_object_new_string(t));
	copy(o, "reason", ev, "reason");
	copy(o, "message", ev, "message");
	copy(o, "type", ev, "type");
	copy(o, "count", ev, "count");
	return o;
}
