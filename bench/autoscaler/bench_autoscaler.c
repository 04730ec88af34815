/*
 * bench_autoscaler.c - how fast a load step reaches the replica count it needs.
 *
 * One simulated service (per-second samples of in-flight requests, target 10 per
 * pod), a load step at t = 300 s, three deciders fed the same series in the same run:
 *
 *   aios  the operator's decider (src/operator/autoscaler.c), one decision per second,
 *         defaults as shipped (stable 60 s, panic 6 s, threshold 2.0, tolerance 10 %).
 *   KPA   a MODEL of Knative's pod autoscaler written here from its documented
 *         formula (not Knative's code): tick every 2 s, stable 60 s / panic 6 s window
 *         averages, desired = ceil(avg / target), panic when ceil(panic) / ready >= 2,
 *         max scale-up rate 1000, max scale-down rate 2, no tolerance; a second whose
 *         scrape failed counts as an empty (zero) bucket.
 *   HPA   a MODEL of the Kubernetes HPA formula (autoscaling/v2 defaults), not its code:
 *         sync every 15 s, desired = ceil(current * (metric / target)), skipped within
 *         the 10 % tolerance, metric = the latest per-pod value at the sync, scale-up
 *         limited to max(+100 %, +4 pods) per 15 s, scale-down stabilized over 300 s.
 *
 * Pods become ready 5 s after they are asked for (all models). The step lands at a
 * random phase of each model's period; every figure is the mean and the worst over
 * 200 phases. "reach" = seconds from the step until the desired count written is at
 * least ceil(new load / target); "first" = until the first increase.
 *
 * A second scenario measures a scrape outage: the load halves at the moment every
 * scrape starts failing for 30 s; it counts the pods each decider removed during the
 * outage (aios holds; a decider that reads failed scrapes as zero scales down).
 *
 *   aios-bench-autoscaler [--phases N]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator/autoscaler.h"

#define TARGET      10.0
#define STEP_AT     300
#define HORIZON     600
#define READY_DELAY 5

/* ---- the load ---- */

struct scenario {
	const char *name;
	double before, after;
};

static double load_at(const struct scenario *s, int t)
{
	return t < STEP_AT ? s->before : s->after;
}

/* ---- pods: ready READY_DELAY s after being asked for (scale-down is immediate) ---- */

struct pods {
	int asked[HORIZON + 1]; /* desired count in force at second t */
};

static int ready_at(const struct pods *p, int t)
{
	int back = t - READY_DELAY < 0 ? 0 : t - READY_DELAY;
	int r = p->asked[back];
	return r < p->asked[t] ? r : p->asked[t];
}

/* ---- KPA model ---- */

struct kpa {
	double bucket[HORIZON + 1]; /* per-second total, 0 for a failed scrape */
	int desired, panic_since, max_panic, last_over;
};

static double window_avg(const double *b, int now, int w)
{
	double sum = 0;
	for (int t = now - w + 1; t <= now; t++)
		sum += t >= 0 ? b[t] : 0;
	return sum / w;
}

static int kpa_decide(struct kpa *k, int now, int ready)
{
	double cap = ready > 0 ? ready : 1;
	double dspc = ceil(window_avg(k->bucket, now, 60) / TARGET);
	double dppc = ceil(window_avg(k->bucket, now, 6) / TARGET);
	double up = ceil(1000 * cap), down = floor(cap / 2);
	double s = fmin(fmax(dspc, down), up), p = fmin(fmax(dppc, down), up);
	int over = dppc / cap >= 2.0;
	if (over) {
		if (!k->panic_since)
			k->panic_since = now;
		k->last_over = now;
	} else if (k->panic_since && now - k->last_over > 60) {
		k->panic_since = 0;
		k->max_panic = 0;
	}
	int want = (int)s;
	if (k->panic_since) {
		want = (int)fmax(s, p);
		if (want > k->max_panic)
			k->max_panic = want;
		want = k->max_panic;
	}
	k->desired = want < 1 ? 1 : want > 100 ? 100 : want;
	return k->desired;
}

/* ---- HPA model ---- */

struct hpa {
	int desired;
	int recs[HORIZON + 1]; /* recommendations, for the 300 s scale-down stabilization */
};

static int hpa_decide(struct hpa *h, int now, double load, int ready)
{
	int cur = h->desired;
	double per_pod = ready > 0 ? load / ready : load;
	double ratio = per_pod / TARGET;
	int rec = cur;
	if (fabs(ratio - 1.0) > 0.1)
		rec = (int)ceil(cur * ratio);
	h->recs[now] = rec;
	int want = rec;
	if (rec < cur) { /* scale-down: the highest recommendation of the last 300 s */
		for (int t = now - 300; t <= now; t++)
			if (t >= 0 && h->recs[t] > want)
				want = h->recs[t];
	}
	int up_limit = cur + (cur > 4 ? cur : 4); /* max(+100 %, +4 pods) per period */
	if (want > up_limit)
		want = up_limit;
	h->desired = want < 1 ? 1 : want > 100 ? 100 : want;
	return h->desired;
}

/* ---- one run ---- */

enum model { AIOS, KPA, HPA, N_MODELS };
static const char *const model_name[N_MODELS] = {"aios", "KPA (model)", "HPA (model)"};
static const int period[N_MODELS] = {1, 2, 15}; /* seconds between decisions */

struct outcome {
	double first, reach; /* seconds after the step; -1 = never */
	int removed_in_outage;
};

/* Runs model m with its decision clock offset by phase (0..period-1) seconds. fail_from
 * .. fail_to: seconds whose scrapes fail (-1: none). */
static struct outcome run(enum model m, const struct scenario *sc, int phase, int fail_from,
                          int fail_to)
{
	struct pods pods;
	int start = (int)ceil(sc->before / TARGET);
	for (int t = 0; t <= HORIZON; t++)
		pods.asked[t] = start;
	struct aios_autoscaler_params p;
	aios_autoscaler_params_default(&p);
	p.target = TARGET;
	p.max_replicas = 100;
	struct aios_autoscaler_series *series = aios_autoscaler_series_new(3600);
	static struct aios_autoscaler_state st;
	aios_autoscaler_state_init(&st, start);
	static struct kpa k;
	memset(&k, 0, sizeof(k));
	k.desired = start;
	static struct hpa h;
	memset(&h, 0, sizeof(h));
	h.desired = start;

	int need = (int)ceil(sc->after / TARGET);
	struct outcome o = {-1, -1, 0};
	int desired = start, at_fail = 0;
	for (int t = 1; t <= HORIZON; t++) {
		int ready = ready_at(&pods, t - 1);
		int failed = t >= fail_from && t <= fail_to;
		double load = load_at(sc, t);
		/* every model sees the same sample of second t */
		struct aios_autoscaler_sample x = {.t = t,
		                                   .concurrency = load,
		                                   .rps = 0,
		                                   .pods_ready = ready,
		                                   .pods_scraped = failed ? 0 : ready};
		aios_autoscaler_series_put(series, &x);
		k.bucket[t] = failed ? 0 : load;
		if ((t + phase) % period[m] == 0) {
			struct aios_autoscaler_decision d;
			switch (m) {
			case AIOS:
				aios_autoscaler_decide(&p, series, ready, t, &st, &d);
				desired = d.desired;
				break;
			case KPA: desired = kpa_decide(&k, t, ready); break;
			default: desired = hpa_decide(&h, t, failed ? 0 : load, ready); break;
			}
		}
		pods.asked[t] = desired;
		if (t == fail_from)
			at_fail = pods.asked[t - 1];
		if (fail_from > 0 && t >= fail_from && t <= fail_to &&
		    at_fail - desired > o.removed_in_outage)
			o.removed_in_outage = at_fail - desired;
		if (t >= STEP_AT && o.first < 0 && desired > start)
			o.first = t - STEP_AT;
		if (t >= STEP_AT && o.reach < 0 && desired >= need)
			o.reach = t - STEP_AT;
	}
	aios_autoscaler_series_free(series);
	return o;
}

int main(int argc, char **argv)
{
	int phases = 200;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--phases") == 0 && i + 1 < argc) {
			phases = (int)strtol(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: aios-bench-autoscaler [--phases N]\n");
			return strcmp(argv[i], "--help") == 0 ? 0 : 2;
		}
	}
	if (phases < 1)
		phases = 1;
	static const struct scenario steps[] = {
	    {"step x5 (50 -> 250 in flight)", 50, 250},
	    {"step x1.6 (50 -> 80, below panic)", 50, 80},
	    {"step x10 (20 -> 200)", 20, 200},
	};
	printf("target %.0f in-flight per pod; pods ready %d s after asked; %d step phases\n\n",
	       TARGET, READY_DELAY, phases);
	printf("%-36s %-12s %12s %12s %12s %12s\n", "scenario", "decider", "first mean",
	       "first max", "reach mean", "reach max");
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		for (int m = 0; m < N_MODELS; m++) {
			double fsum = 0, fmaxv = 0, rsum = 0, rmaxv = 0;
			int never = 0;
			for (int ph = 0; ph < phases; ph++) {
				struct outcome o =
				    run((enum model)m, &steps[s], ph % period[m], -1, -1);
				if (o.reach < 0 || o.first < 0) {
					never++;
					continue;
				}
				fsum += o.first;
				rsum += o.reach;
				fmaxv = fmax(fmaxv, o.first);
				rmaxv = fmax(rmaxv, o.reach);
			}
			int n = phases - never;
			printf("%-36s %-12s %11.1fs %11.0fs %11.1fs %11.0fs%s\n",
			       m ? "" : steps[s].name, model_name[m], n ? fsum / n : -1, fmaxv,
			       n ? rsum / n : -1, rmaxv,
			       never ? "  (some runs never reached it)" : "");
		}
	}
	static const struct scenario halve = {"load halves during a 30 s scrape outage", 100, 50};
	printf("\n%s (t = %d..%d s):\n", halve.name, STEP_AT, STEP_AT + 29);
	for (int m = 0; m < N_MODELS; m++) {
		struct outcome o = run((enum model)m, &halve, 0, STEP_AT, STEP_AT + 29);
		printf("  %-12s pods removed while blind: %d\n", model_name[m],
		       o.removed_in_outage);
	}
	return 0;
}
