/*
 * canary.c - the canary analysis (canary.h): spec defaults, and the decision that moves
 * status.canary through Progressing, Promoted and RolledBack.
 */
#include "operator/canary.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"

/* The weights after trafficPercent when analysis.steps is not given. */
static const int default_steps[] = {25, 50, 100};

/* ============================== the spec ============================== */

enum aios_err aios_canary_spec_from_ms(struct json_object *ms, struct aios_canary_spec *out)
{
	memset(out, 0, sizeof(*out));
	struct json_object *c = aios_json_lookup(ms, "spec.canary");
	if (!c || json_object_is_type(c, json_type_null))
		return AIOS_OK;
	out->enabled = 1;
	int64_t pct, interval, minreq;
	double rate, lat;
	if (aios_json_opt_int(c, "trafficPercent", AIOS_CANARY_DEFAULT_PERCENT, &pct) ||
	    aios_json_opt_int(c, "analysis.interval", AIOS_CANARY_DEFAULT_INTERVAL_S, &interval) ||
	    aios_json_opt_int(c, "analysis.minRequests", AIOS_CANARY_DEFAULT_MIN_REQUESTS,
	                      &minreq) ||
	    aios_json_opt_double(c, "analysis.maxErrorRate", AIOS_CANARY_DEFAULT_ERROR_RATE,
	                         &rate) ||
	    aios_json_opt_double(c, "analysis.maxLatencyP99Ms", 0, &lat))
		return aios_fail(AIOS_ERR_INVALID, "spec.canary: %s", aios_errmsg());
	if (pct < 1 || pct > 100)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.canary.trafficPercent: %lld is not within 1..100",
		                 (long long)pct);
	if (interval < 1)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.canary.analysis.interval: %lld s is below 1 s",
		                 (long long)interval);
	if (rate < 0 || rate > 1)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.canary.analysis.maxErrorRate: %g is not within 0..1", rate);
	if (lat < 0 || minreq < 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.canary.analysis: maxLatencyP99Ms and minRequests must not "
		                 "be negative");
	out->traffic_percent = (int)pct;
	out->interval_s = (int)interval;
	out->max_error_rate = rate;
	out->max_latency_p99_ms = lat;
	out->min_requests = minreq;
	out->steps[out->n_steps++] = (int)pct;

	struct json_object *steps = aios_json_lookup(c, "analysis.steps");
	int given = steps && json_object_is_type(steps, json_type_array);
	size_t n = given ? json_object_array_length(steps)
	                 : sizeof(default_steps) / sizeof(default_steps[0]);
	int prev = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t v = default_steps[i < 3 ? i : 0];
		if (given) {
			struct json_object *e = json_object_array_get_idx(steps, i);
			if (!json_object_is_type(e, json_type_int))
				return aios_fail(AIOS_ERR_INVALID,
				                 "spec.canary.analysis.steps[%zu]: not an integer",
				                 i);
			v = json_object_get_int64(e);
			if (v < 1 || v > 100 || v <= prev)
				return aios_fail(
				    AIOS_ERR_INVALID,
				    "spec.canary.analysis.steps[%zu]: %lld must be within "
				    "1..100 and above the step before it",
				    i, (long long)v);
			prev = (int)v;
		}
		if (v > out->steps[out->n_steps - 1] && out->n_steps < AIOS_CANARY_MAX_STEPS)
			out->steps[out->n_steps++] = (int)v;
	}
	if (out->steps[out->n_steps - 1] != 100) {
		if (out->n_steps == AIOS_CANARY_MAX_STEPS)
			out->n_steps--;
		out->steps[out->n_steps++] = 100;
	}
	return AIOS_OK;
}

/* ============================== status ============================== */

int aios_canary_status_is_for(struct json_object *canary, const char *uri, const char *sha256)
{
	const char *u = aios_json_str(canary, "model.uri");
	const char *s = aios_json_str(canary, "model.sha256");
	return u && strcmp(u, uri) == 0 && strcmp(s ? s : "", sha256 ? sha256 : "") == 0;
}

static void put_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void put_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

/* Three decimals: enough for a rate, steady against float noise. */
static struct json_object *rounded(double v)
{
	return json_object_new_double((double)(long long)(v * 1000 + (v >= 0 ? 0.5 : -0.5)) / 1000);
}

static struct json_object *window_json(const struct aios_canary_window *w)
{
	struct json_object *o = json_object_new_object();
	put_int(o, "requests", (int64_t)w->requests);
	json_object_object_add(o, "errorRate",
	                       rounded(w->requests > 0 ? w->errors / w->requests : 0));
	if (w->p99_ms >= 0)
		json_object_object_add(o, "latencyP99Ms", rounded(w->p99_ms));
	return o;
}

/* A fresh status.canary at weight, with its window opening at now. */
static struct json_object *fresh(const char *uri, const char *sha256, const char *revision,
                                 const char *phase, int step, int weight, time_t now)
{
	struct json_object *st = json_object_new_object();
	struct json_object *mo = json_object_new_object();
	put_str(mo, "uri", uri);
	if (sha256 && *sha256)
		put_str(mo, "sha256", sha256);
	json_object_object_add(st, "model", mo);
	put_str(st, "revision", revision);
	put_str(st, "phase", phase);
	put_int(st, "step", step);
	put_int(st, "weight", weight);
	char ts[32];
	aios_rfc3339(now, ts, sizeof(ts));
	put_str(st, "windowStart", ts);
	return st;
}

/* Records the window just judged into st.lastAnalysis. */
static void put_analysis(struct json_object *st, const struct aios_canary_metrics *m,
                         const char *result, time_t now)
{
	struct json_object *a = json_object_new_object();
	char ts[32];
	aios_rfc3339(now, ts, sizeof(ts));
	put_str(a, "time", ts);
	put_str(a, "result", result);
	json_object_object_add(a, "canary", window_json(&m->canary));
	if (m->stable.have)
		json_object_object_add(a, "stable", window_json(&m->stable));
	json_object_object_add(st, "lastAnalysis", a);
}

static void say(struct aios_canary_decision *d, struct json_object *st, const char *reason)
{
	d->reason = reason;
	put_str(st, "reason", reason);
	put_str(st, "message", d->message);
}

/* ============================== the decision ============================== */

/* "stable 0.002" or "stable not measured": the stable revision beside the canary. */
static void stable_words(const struct aios_canary_window *s, int latency, char *out, size_t n)
{
	if (!s->have || s->requests <= 0)
		snprintf(out, n, "stable not measured");
	else if (latency)
		snprintf(out, n, "stable %.1f ms", s->p99_ms);
	else
		snprintf(out, n, "stable %.4f", s->errors / s->requests);
}

void aios_canary_decide(const struct aios_canary_spec *spec, struct json_object *old,
                        const char *model_uri, const char *model_sha256, const char *revision,
                        const struct aios_canary_metrics *m, int canary_ready, time_t now,
                        struct aios_canary_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (!old || !aios_canary_status_is_for(old, model_uri, model_sha256)) {
		d->action = AIOS_CANARY_START;
		d->status =
		    fresh(model_uri, model_sha256, revision, "Progressing", 0, spec->steps[0], now);
		snprintf(d->message, sizeof(d->message),
		         "canary %s (revision %s) takes %d%% of traffic", model_uri, revision,
		         spec->steps[0]);
		say(d, d->status, "Progressing");
		return;
	}
	d->status = aios_json_copy(old);
	struct json_object *st = d->status;
	const char *phase = aios_json_str(old, "phase");
	if (!phase || strcmp(phase, "Progressing") != 0) {
		d->reason = aios_json_str(old, "reason"); /* Promoted and RolledBack hold */
		return;
	}
	int64_t step = 0;
	if (aios_json_opt_int(old, "step", 0, &step) || step < 0)
		step = 0;
	if (step >= spec->n_steps)
		step = spec->n_steps - 1; /* the spec lost steps meanwhile */
	const char *ws = aios_json_str(old, "windowStart");
	time_t start = ws ? aios_rfc3339_parse(ws) : 0;
	if (start <= 0 || now - start < spec->interval_s) {
		d->reason = "Progressing";
		if (start <= 0) { /* a status without a window: open one */
			char ts[32];
			aios_rfc3339(now, ts, sizeof(ts));
			put_str(st, "windowStart", ts);
		}
		return;
	}

	/* The window has closed: wait for what a decision needs, never guess. */
	const struct aios_canary_window *c = &m->canary;
	const char *wait = NULL;
	if (!canary_ready)
		wait = "no canary pod is ready";
	else if (!c->have)
		wait = "no metrics from the canary's pods";
	else if (c->requests < (double)spec->min_requests)
		wait = "fewer canary requests than minRequests in the window";
	else if (spec->max_latency_p99_ms > 0 && c->p99_ms < 0)
		wait = "no timed canary request in the window";
	if (wait) {
		snprintf(d->message, sizeof(d->message), "waiting at %d%%: %s (minRequests %lld)",
		         spec->steps[step], wait, (long long)spec->min_requests);
		say(d, st, "Waiting");
		return;
	}

	char other[64];
	double rate = c->errors / c->requests;
	if (rate > spec->max_error_rate) {
		stable_words(&m->stable, 0, other, sizeof(other));
		snprintf(d->message, sizeof(d->message),
		         "rolled back at %d%%: canary error rate %.4f is above maxErrorRate %g by "
		         "%.4f (%.0f of %.0f requests failed; %s)",
		         spec->steps[step], rate, spec->max_error_rate, rate - spec->max_error_rate,
		         c->errors, c->requests, other);
		d->action = AIOS_CANARY_ROLLBACK;
		d->reason = "ErrorRateTooHigh";
	} else if (spec->max_latency_p99_ms > 0 && c->p99_ms > spec->max_latency_p99_ms) {
		stable_words(&m->stable, 1, other, sizeof(other));
		snprintf(d->message, sizeof(d->message),
		         "rolled back at %d%%: canary p99 latency %.1f ms is above maxLatencyP99Ms "
		         "%g by %.1f ms (%.0f requests; %s)",
		         spec->steps[step], c->p99_ms, spec->max_latency_p99_ms,
		         c->p99_ms - spec->max_latency_p99_ms, c->requests, other);
		d->action = AIOS_CANARY_ROLLBACK;
		d->reason = "LatencyTooHigh";
	}
	char ts[32];
	aios_rfc3339(now, ts, sizeof(ts));
	if (d->action == AIOS_CANARY_ROLLBACK) {
		put_str(st, "phase", "RolledBack");
		put_int(st, "weight", 0);
		put_analysis(st, m, "Failed", now);
		say(d, st, d->reason);
		return;
	}
	put_analysis(st, m, "Passed", now);
	if (step + 1 >= spec->n_steps) {
		d->action = AIOS_CANARY_PROMOTE;
		put_str(st, "phase", "Promoted");
		put_int(st, "weight", 100);
		snprintf(d->message, sizeof(d->message),
		         "promoted after %d steps: %s serves all traffic (last window: %.0f "
		         "requests, error rate %.4f)",
		         spec->n_steps, model_uri, c->requests, rate);
		say(d, st, "Promoted");
		return;
	}
	d->action = AIOS_CANARY_STEP;
	put_int(st, "step", step + 1);
	put_int(st, "weight", spec->steps[step + 1]);
	put_str(st, "windowStart", ts);
	snprintf(d->message, sizeof(d->message),
	         "passed at %d%% (%.0f requests, error rate %.4f): now %d%% of traffic",
	         spec->steps[step], c->requests, rate, spec->steps[step + 1]);
	say(d, st, "Progressing");
}
