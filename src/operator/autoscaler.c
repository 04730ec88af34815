/*
 * autoscaler.c - the KPA-style scaling decision (see autoscaler.h and
 * docs/autoscaling.md for the rules and where they differ from Knative's).
 */
#include "autoscaler.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/mem.h"

/* A pod count beyond this is treated as this (keeps ceil() of huge loads in an int). */
#define POD_COUNT_CAP 1000000
/* Window averages are sums of floats; this keeps 5.0000000001 pods at 5. */
#define CEIL_SLACK 1e-9

/* ================================================================ params */

void aios_autoscaler_params_default(struct aios_autoscaler_params *p)
{
	p->metric = AIOS_AUTOSCALER_CONCURRENCY;
	p->target = AIOS_AUTOSCALER_DEFAULT_CONCURRENCY;
	p->stable_window_s = 60;
	p->panic_window_s = 6;
	p->panic_threshold = 2.0;
	p->scale_down_delay_s = 0;
	p->max_scale_up_rate = 1000.0;
	p->max_scale_down_rate = 2.0;
	p->scale_down_tolerance = 0.1;
	p->min_replicas = 1;
	p->max_replicas = 10;
	p->scale_to_zero_grace_s = 30;
	p->count = -1;
}

static enum aios_err opt_int_range(struct json_object *o, const char *path, int dflt, int lo,
                                   int hi, int *out)
{
	int64_t v;
	enum aios_err e = aios_json_opt_int(o, path, dflt, &v);
	if (e)
		return e;
	if (v < lo || v > hi)
		return aios_fail(AIOS_ERR_INVALID, "%s: must be within %d..%d, got %lld", path, lo,
		                 hi, (long long)v);
	*out = (int)v;
	return AIOS_OK;
}

/* spec.replicas.count: unset is -1, else 0..POD_COUNT_CAP. */
static enum aios_err opt_count(struct json_object *o, int *out)
{
	if (!aios_json_lookup(o, "spec.replicas.count")) {
		*out = -1;
		return AIOS_OK;
	}
	return opt_int_range(o, "spec.replicas.count", 0, 0, POD_COUNT_CAP, out);
}

static enum aios_err opt_double_above(struct json_object *o, const char *path, double dflt,
                                      double lo, double *out)
{
	enum aios_err e = aios_json_opt_double(o, path, dflt, out);
	if (e)
		return e;
	if (!(*out > lo))
		return aios_fail(AIOS_ERR_INVALID, "%s: must be > %g, got %g", path, lo, *out);
	return AIOS_OK;
}

enum aios_err aios_autoscaler_params_from_spec(struct json_object *ms,
                                               struct aios_autoscaler_params *out)
{
	struct aios_autoscaler_params p;
	aios_autoscaler_params_default(&p);
	const char *metric;
	enum aios_err e =
	    aios_json_opt_string(ms, "spec.autoscaling.metric", "concurrency", &metric);
	if (e)
		return e;
	if (strcmp(metric, "concurrency") == 0) {
		p.metric = AIOS_AUTOSCALER_CONCURRENCY;
		p.target = AIOS_AUTOSCALER_DEFAULT_CONCURRENCY;
	} else if (strcmp(metric, "rps") == 0) {
		p.metric = AIOS_AUTOSCALER_RPS;
		p.target = AIOS_AUTOSCALER_DEFAULT_RPS;
	} else if (strcmp(metric, "external") == 0) {
		p.metric = AIOS_AUTOSCALER_EXTERNAL; /* target and windows are read, not used */
	} else {
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "spec.autoscaling.metric: must be concurrency, rps or external, got "
		    "\"%s\"",
		    metric);
	}
	if ((e = opt_double_above(ms, "spec.autoscaling.target", p.target, 0.0, &p.target)) ||
	    (e = opt_int_range(ms, "spec.autoscaling.stableWindowSeconds", p.stable_window_s, 6,
	                       AIOS_AUTOSCALER_MAX_WINDOW_S, &p.stable_window_s)) ||
	    (e = opt_int_range(ms, "spec.autoscaling.panicWindowSeconds", p.panic_window_s, 1,
	                       AIOS_AUTOSCALER_MAX_WINDOW_S, &p.panic_window_s)) ||
	    (e = opt_double_above(ms, "spec.autoscaling.panicThreshold", p.panic_threshold, 1.0,
	                          &p.panic_threshold)) ||
	    (e = opt_int_range(ms, "spec.autoscaling.scaleDownDelaySeconds", p.scale_down_delay_s,
	                       0, AIOS_AUTOSCALER_MAX_WINDOW_S, &p.scale_down_delay_s)) ||
	    (e = opt_double_above(ms, "spec.autoscaling.maxScaleUpRate", p.max_scale_up_rate, 1.0,
	                          &p.max_scale_up_rate)) ||
	    (e = opt_double_above(ms, "spec.autoscaling.maxScaleDownRate", p.max_scale_down_rate,
	                          1.0, &p.max_scale_down_rate)) ||
	    (e = opt_int_range(ms, "spec.replicas.min", p.min_replicas, 0, POD_COUNT_CAP,
	                       &p.min_replicas)) ||
	    (e = opt_int_range(ms, "spec.replicas.max", p.max_replicas, 1, POD_COUNT_CAP,
	                       &p.max_replicas)) ||
	    (e = opt_count(ms, &p.count)) ||
	    (e = opt_int_range(ms, "spec.autoscaling.scaleToZeroGraceSeconds",
	                       p.scale_to_zero_grace_s, 0, AIOS_AUTOSCALER_MAX_WINDOW_S,
	                       &p.scale_to_zero_grace_s)))
		return e;
	if (p.panic_window_s > p.stable_window_s)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.autoscaling.panicWindowSeconds: %d is longer than "
		                 "stableWindowSeconds %d",
		                 p.panic_window_s, p.stable_window_s);
	if (p.max_replicas < p.min_replicas)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.replicas.max: %d is below spec.replicas.min %d",
		                 p.max_replicas, p.min_replicas);
	*out = p;
	return AIOS_OK;
}

int aios_autoscaler_external_count(const struct aios_autoscaler_params *p)
{
	int n = p->count < 0 ? p->min_replicas : p->count;
	return n < p->min_replicas ? p->min_replicas : n > p->max_replicas ? p->max_replicas : n;
}

/* ================================================================ series */

struct aios_autoscaler_series {
	int cap;                             /* slots, one per second */
	int64_t newest;                      /* newest second recorded; 0 = empty */
	struct aios_autoscaler_sample *slot; /* slot[t % cap], valid when .t == t */
};

struct aios_autoscaler_series *aios_autoscaler_series_new(int capacity_s)
{
	if (capacity_s < 1)
		capacity_s = 1;
	if (capacity_s > AIOS_AUTOSCALER_MAX_WINDOW_S)
		capacity_s = AIOS_AUTOSCALER_MAX_WINDOW_S;
	struct aios_autoscaler_series *s = aios_xcalloc(1, sizeof(*s));
	s->cap = capacity_s;
	s->slot = aios_xcalloc((size_t)capacity_s, sizeof(*s->slot));
	return s;
}

void aios_autoscaler_series_free(struct aios_autoscaler_series *s)
{
	if (!s)
		return;
	free(s->slot);
	free(s);
}

int aios_autoscaler_series_capacity(const struct aios_autoscaler_series *s)
{
	return s->cap;
}

void aios_autoscaler_series_put(struct aios_autoscaler_series *s,
                                const struct aios_autoscaler_sample *x)
{
	if (x->t <= 0 || x->t <= s->newest - s->cap)
		return;
	if (x->t > s->newest)
		s->newest = x->t;
	s->slot[x->t % s->cap] = *x;
}

int aios_autoscaler_series_get(const struct aios_autoscaler_series *s, int64_t t,
                               struct aios_autoscaler_sample *out)
{
	if (t <= 0 || t > s->newest || t <= s->newest - s->cap)
		return 0;
	const struct aios_autoscaler_sample *x = &s->slot[t % s->cap];
	if (x->t != t)
		return 0;
	*out = *x;
	return 1;
}

int64_t aios_autoscaler_series_newest(const struct aios_autoscaler_series *s)
{
	return s->newest;
}

/* The service-wide value of one sample, or -1 when it holds no data. */
static double sample_value(const struct aios_autoscaler_sample *x,
                           enum aios_autoscaler_metric metric)
{
	if (x->pods_ready <= 0 || x->pods_scraped <= 0)
		return -1;
	double v = metric == AIOS_AUTOSCALER_RPS ? x->rps : x->concurrency;
	if (x->pods_scraped < x->pods_ready)
		v = v * x->pods_ready / x->pods_scraped; /* the silent pods carry the same */
	return v;
}

double aios_autoscaler_series_average(const struct aios_autoscaler_series *s,
                                      enum aios_autoscaler_metric metric, int64_t now, int window_s,
                                      int *seconds)
{
	double sum = 0;
	int n = 0;
	for (int64_t t = now - window_s + 1; t <= now; t++) {
		struct aios_autoscaler_sample x;
		double v;
		if (aios_autoscaler_series_get(s, t, &x) && (v = sample_value(&x, metric)) >= 0) {
			sum += v;
			n++;
		}
	}
	if (seconds)
		*seconds = n;
	return n ? sum / n : 0;
}

/* ================================================================ decision */

void aios_autoscaler_state_init(struct aios_autoscaler_state *st, int desired)
{
	memset(st, 0, sizeof(*st));
	st->desired = desired;
}

static int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int imax(int a, int b)
{
	return a > b ? a : b;
}

/* ceil(x), as a pod count in 0..POD_COUNT_CAP. */
static int pods_ceil(double x)
{
	if (!(x > 0))
		return 0;
	double c = ceil(x - CEIL_SLACK);
	return c >= POD_COUNT_CAP ? POD_COUNT_CAP : (int)c;
}

/* Appends to the reason line; silently stops at its end. */
static void say(struct aios_autoscaler_decision *d, const char *fmt, ...) AIOS_PRINTF(2, 3);
static void say(struct aios_autoscaler_decision *d, const char *fmt, ...)
{
	size_t n = strlen(d->reason);
	if (n + 1 >= sizeof(d->reason))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->reason + n, sizeof(d->reason) - n, fmt, ap);
	va_end(ap);
}

/*
 * Records want for second now in the scale-down delay ring and returns the maximum
 * recorded over the last delay_s seconds (want itself when delay_s is 0).
 */
static int delay_window(struct aios_autoscaler_state *st, int64_t now, int delay_s, int want)
{
	if (delay_s <= 0)
		return want;
	const int64_t n = AIOS_AUTOSCALER_MAX_WINDOW_S;
	if (st->delay_t == 0 || now - st->delay_t >= n || now < st->delay_t - n) {
		memset(st->delay, 0, sizeof(st->delay));
		st->delay_t = now;
	}
	for (int64_t t = st->delay_t + 1; t <= now; t++)
		st->delay[t % n] = 0; /* seconds with no decision hold no value */
	if (now > st->delay_t)
		st->delay_t = now;
	st->delay[now % n] = want;
	int m = want;
	for (int64_t t = now - delay_s + 1; t <= now; t++)
		if (t > st->delay_t - n && t > 0)
			m = imax(m, st->delay[t % n]);
	return m;
}

/* 1 when sample x shows a request anywhere: on the pods or at the gateway. */
static int busy(const struct aios_autoscaler_sample *x)
{
	return x->concurrency > 0 || x->rps > 0 || x->gw_queued > 0 || x->gw_in_flight > 0 ||
	       x->gw_rps > 0;
}

/*
 * The scale-to-zero rules (autoscaler.h) applied to want: activation at zero, and the
 * grace before zero. Fills d->activated and d->idle_seconds.
 */
static int zero_rules(const struct aios_autoscaler_params *p,
                      const struct aios_autoscaler_series *s, int ready, int64_t now,
                      struct aios_autoscaler_decision *d, int want)
{
	struct aios_autoscaler_sample x;
	int have_now = aios_autoscaler_series_get(s, now, &x);
	if (ready <= 0 && have_now && (x.gw_queued > 0 || x.gw_in_flight > 0)) {
		d->activated = 1;
		if (want < 1) {
			say(d, "; gateway holds %.0f requests for a pod: activating", x.gw_queued);
			want = 1;
		}
	}
	/* complete, idle seconds counted back from now (at most the grace, +1 to see past) */
	for (int64_t t = now; t > now - p->scale_to_zero_grace_s - 1 && t > 0; t--) {
		if (!aios_autoscaler_series_get(s, t, &x) || !x.gw_have ||
		    x.pods_scraped < x.pods_ready || busy(&x))
			break;
		d->idle_seconds++;
	}
	if (want > 0 || p->min_replicas > 0)
		return want;
	if (ready <= 0 && d->previous <= 0)
		return 0; /* at zero already and nothing asks for a pod */
	if (d->idle_seconds < p->scale_to_zero_grace_s) {
		say(d,
		    "; scale to zero waits for %d s without requests and with complete metrics "
		    "from pods and gateway (%d s so far)",
		    p->scale_to_zero_grace_s, d->idle_seconds);
		return 1;
	}
	say(d, "; idle for %d s: scaling to zero", d->idle_seconds);
	return 0;
}

void aios_autoscaler_decide(const struct aios_autoscaler_params *p,
                            const struct aios_autoscaler_series *s, int ready, int64_t now,
                            struct aios_autoscaler_state *st, struct aios_autoscaler_decision *d)
{
	memset(d, 0, sizeof(*d));
	const char *mname = p->metric == AIOS_AUTOSCALER_RPS ? "rps" : "concurrency";
	const int prev = st->desired > 0 ? st->desired : p->min_replicas;
	const int cap = ready > 0 ? ready : 1; /* Knative's floor of one pod */
	d->previous = prev;
	d->ready = ready > 0 ? ready : 0;

	/* Window averages over the seconds that have data; a gap is not a zero. */
	double stable_sum = 0, panic_sum = 0;
	int panic_n = 0, panic_gap = 0;
	for (int64_t t = now - p->stable_window_s + 1; t <= now; t++) {
		const int in_panic = t > now - p->panic_window_s;
		struct aios_autoscaler_sample x;
		double v;
		if (!aios_autoscaler_series_get(s, t, &x) ||
		    (v = sample_value(&x, p->metric)) < 0) {
			panic_gap |= in_panic;
			continue;
		}
		if (x.pods_scraped < x.pods_ready)
			panic_gap |= in_panic;
		else
			d->complete_seconds++;
		stable_sum += v;
		d->stable_seconds++;
		if (in_panic) {
			panic_sum += v;
			panic_n++;
		}
	}
	d->no_data = d->stable_seconds == 0;
	d->stable_value = d->stable_seconds ? stable_sum / d->stable_seconds : 0;
	d->panic_value = panic_n ? panic_sum / panic_n : d->stable_value;
	d->stable_pods = pods_ceil(d->stable_value / p->target);
	d->panic_pods = pods_ceil(d->panic_value / p->target);
	const int hold_down =
	    panic_gap || d->complete_seconds < AIOS_AUTOSCALER_MIN_COVERAGE * p->stable_window_s;

	/* Rate clamps relative to ready capacity. */
	const int max_up = pods_ceil(p->max_scale_up_rate * cap);
	const int max_down = (int)floor(cap / p->max_scale_down_rate);
	const int stable_c = clampi(d->stable_pods, max_down, max_up);
	const int panic_c = clampi(d->panic_pods, max_down, max_up);

	say(d,
	    "%s: stable %.2f over %d s (%d s of data) = %d pods; panic %.2f over %d s = %d pods;"
	    " target %.4g/pod; ready %d",
	    mname, d->stable_value, p->stable_window_s, d->stable_seconds, d->stable_pods,
	    d->panic_value, p->panic_window_s, d->panic_pods, p->target, d->ready);

	/* Panic: demand in the panic window at panicThreshold x the ready capacity. */
	const double demand = d->panic_value / p->target;
	const int over = panic_n > 0 && demand >= p->panic_threshold * cap;
	if (over) {
		if (!st->panic_since) {
			st->panic_since = now;
			st->max_panic = prev;
		}
		st->panic_last_over = now;
	} else if (st->panic_since && now - st->panic_last_over >= p->stable_window_s) {
		st->panic_since = 0;
		st->max_panic = 0;
		say(d, "; panic over (%d s below threshold)", p->stable_window_s);
	}

	int want;
	if (st->panic_since) {
		d->panic = 1;
		want = imax(stable_c, panic_c);
		if (want > st->max_panic)
			st->max_panic = want;
		want = st->max_panic;
		say(d,
		    "; panic mode since %lld (demand %.2f pods vs %.2f x %d ready): no scale-down",
		    (long long)st->panic_since, demand, p->panic_threshold, cap);
	} else {
		want = stable_c;
		if (want < prev && p->scale_down_tolerance > 0) {
			/* Hysteresis: each remaining pod must stay under target * (1 - tol). */
			int down = pods_ceil(d->stable_value /
			                     (p->target * (1 - p->scale_down_tolerance)));
			down = imax(want, down < prev ? down : prev);
			if (down > want)
				say(d, "; tolerance %.0f%% keeps %d not %d",
				    p->scale_down_tolerance * 100, down, want);
			want = down;
		}
	}
	if (want == max_up && (d->stable_pods > max_up || d->panic_pods > max_up))
		say(d, "; scale-up rate caps at %d", max_up);
	if (want == max_down && stable_c > d->stable_pods && !d->panic)
		say(d, "; scale-down rate floors at %d", max_down);

	if (hold_down) {
		d->held = 1;
		if (want < prev) {
			say(d, "; metrics incomplete (%d of %d s complete%s): holding %d not %d",
			    d->complete_seconds, p->stable_window_s,
			    panic_gap ? ", gap in panic window" : "", prev, want);
			want = prev;
		} else {
			say(d, "; metrics incomplete (%d of %d s complete): no scale-down",
			    d->complete_seconds, p->stable_window_s);
		}
	}

	want = zero_rules(p, s, ready, now, d, want);

	const int delayed = delay_window(st, now, p->scale_down_delay_s, want);
	if (delayed > want)
		say(d, "; scale-down delay %d s keeps %d", p->scale_down_delay_s, delayed);
	want = delayed;

	d->desired = clampi(want, p->min_replicas, p->max_replicas);
	if (d->desired != want)
		say(d, "; bounded to [%d, %d]", p->min_replicas, p->max_replicas);
	say(d, "; desired %d (was %d)", d->desired, prev);
	if (d->desired != prev)
		st->last_scale = now;
	st->desired = d->desired;
}
