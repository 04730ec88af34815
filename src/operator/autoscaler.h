/*
 * autoscaler.h - the scaling decision for one ModelService, as a pure function.
 *
 * The scraper (scrape.h) records one sample per second per ModelService: the
 * in-flight requests and the request rate summed over the pods it scraped, and how
 * many ready pods there were. aios_autoscaler_decide() turns the recent samples, the
 * ready pod count and the previous state into a desired replica count, following
 * Knative's KPA (docs/autoscaling.md):
 *
 *   stable = average over stableWindowSeconds (60), panic = over panicWindowSeconds (6)
 *   pods   = ceil(average / target)                    (target is per pod)
 *   clamp  to [floor(ready / maxScaleDownRate), ceil(ready * maxScaleUpRate)]
 *   panic  while panic demand / target >= panicThreshold * ready; in panic the count
 *          never goes down; panic ends a stable window after the condition last held
 *   delay  the result is the maximum decided over the last scaleDownDelaySeconds
 *   bounds [replicas.min, replicas.max]
 *
 * Where this differs from the KPA (each on purpose, each tested):
 *   - Missing or failed scrapes are not zeros. A window average uses only seconds
 *     with data (a partial scrape is scaled up to all ready pods), and while the
 *     last panic window has a gap or the stable window is less than
 *     AIOS_AUTOSCALER_MIN_COVERAGE complete, the count never goes down: the last
 *     decision is held and the decision says so (held = 1, reason).
 *   - Only ready pods count as capacity (ready, not the pods asked for).
 *   - Scale-down has hysteresis: going down needs the stable average to fit under
 *     target * (1 - scaleDownTolerance) per pod, so noise around a boundary does
 *     not flap the count (the KPA has no tolerance; set it to 0 to get the KPA).
 *   - The panic test uses demand before rounding up, so 1.1 pods of load on one
 *     ready pod is not a panic.
 *
 * Scale to zero (replicas.min 0, docs/gateway.md): the gateway's demand (requests held
 * for a pod, in flight, its request rate) rides in each sample beside the pods' own.
 *   - Any gateway demand in the newest sample with no ready pod asks for one pod at
 *     once (the activation), whatever the windows say.
 *   - Going to zero needs every second of the last scaleToZeroGraceSeconds to hold
 *     complete data from both sides (every ready pod scraped, the gateway's stream
 *     present) and no request anywhere; a gap or a request keeps one pod.
 *
 * Time is in whole seconds (any monotonic origin > 0; the operator uses Unix time).
 * Nothing here allocates except the series; nothing here fails except parsing.
 */
#ifndef AIOS_OPERATOR_AUTOSCALER_H
#define AIOS_OPERATOR_AUTOSCALER_H

#include <json-c/json.h>
#include <stdint.h>

#include "common/err.h"

/* Longest stable window and scale-down delay accepted (Knative's upper bound, 1 h). */
#define AIOS_AUTOSCALER_MAX_WINDOW_S 3600
/* Below this share of complete seconds in the stable window, no scale-down. */
#define AIOS_AUTOSCALER_MIN_COVERAGE 0.9
#define AIOS_AUTOSCALER_REASON_MAX   320

/* EXTERNAL: the decider does not run; spec.replicas.count, written through the /scale
 * subresource by kubectl scale, an HPA or KEDA, is the count (docs/autoscaling.md). */
enum aios_autoscaler_metric {
	AIOS_AUTOSCALER_CONCURRENCY,
	AIOS_AUTOSCALER_RPS,
	AIOS_AUTOSCALER_EXTERNAL
};

struct aios_autoscaler_params {
	enum aios_autoscaler_metric metric;
	double target;               /* per pod: in-flight requests, or requests/s */
	int stable_window_s;         /* 6..3600, default 60 */
	int panic_window_s;          /* 1..stable_window_s, default 6 */
	double panic_threshold;      /* > 1, default 2.0 (demand / ready capacity) */
	int scale_down_delay_s;      /* 0..3600, default 0 */
	double max_scale_up_rate;    /* > 1, default 1000 (x ready pods per decision) */
	double max_scale_down_rate;  /* > 1, default 2 (ready / rate is the floor) */
	double scale_down_tolerance; /* 0..<1, default 0.1; not in the CRD */
	int min_replicas;            /* >= 0; 0: scale to zero behind aios-gateway */
	int scale_to_zero_grace_s;   /* 0..3600, default 30: idle seconds before zero */
	int max_replicas;            /* >= min_replicas */
	int count;                   /* spec.replicas.count (the /scale field), -1 unset */
};

/* Knative's defaults (container-concurrency-target-default, requests-per-second-target-default). */
#define AIOS_AUTOSCALER_DEFAULT_CONCURRENCY 100.0
#define AIOS_AUTOSCALER_DEFAULT_RPS         200.0

/* Fills p with the defaults above (metric concurrency, replicas 1..10, no count). */
void aios_autoscaler_params_default(struct aios_autoscaler_params *p);

/*
 * Reads spec.replicas and spec.autoscaling of a ModelService (the whole resource, or
 * any object with a "spec") over the defaults. Fails with AIOS_ERR_INVALID and
 * a message naming the field ("spec.autoscaling.panicThreshold: must be > 1, got
 * 0.5") on a wrong type or a value out of range.
 */
enum aios_err aios_autoscaler_params_from_spec(struct json_object *ms,
                                               struct aios_autoscaler_params *out) AIOS_MUST_CHECK;

/*
 * The count an external scaler asks for, within the bounds: spec.replicas.count
 * clamped to [replicas.min, replicas.max], or replicas.min while the count is unset.
 * Only meaningful with metric EXTERNAL; with a built-in metric the count is ignored.
 */
int aios_autoscaler_external_count(const struct aios_autoscaler_params *p);

/* ---- samples ------------------------------------------------------------- */

struct aios_autoscaler_sample {
	int64_t t;          /* the second the scrape happened */
	double concurrency; /* aios_serve_requests_in_flight summed over scraped pods */
	double rps;         /* request rate summed over scraped pods (counter deltas) */
	int pods_scraped;   /* ready pods whose /metrics answered and parsed */
	int pods_ready;     /* ready pods when the scrape began */
	/* the gateways' view of the same second (modelservice_demand.c) */
	int gw_have;         /* 1: every gateway's stream is current */
	double gw_queued;    /* requests held for a pod */
	double gw_in_flight; /* requests sent to pods */
	double gw_rps;       /* requests accepted per second */
};

/* A ring of per-second samples (one slot per second; later puts for a second win). */
struct aios_autoscaler_series;

/* New empty series keeping the last capacity_s seconds (clamped to 1..MAX_WINDOW). */
struct aios_autoscaler_series *aios_autoscaler_series_new(int capacity_s);
void aios_autoscaler_series_free(struct aios_autoscaler_series *s);
int aios_autoscaler_series_capacity(const struct aios_autoscaler_series *s);
/* Records x for second x->t. Samples older than the newest minus capacity are dropped. */
void aios_autoscaler_series_put(struct aios_autoscaler_series *s,
                                const struct aios_autoscaler_sample *x);
/* Copies the sample of second t into out; 0 if there is none. */
int aios_autoscaler_series_get(const struct aios_autoscaler_series *s, int64_t t,
                               struct aios_autoscaler_sample *out);
/* Newest second recorded, or 0 if empty. */
int64_t aios_autoscaler_series_newest(const struct aios_autoscaler_series *s);
/*
 * Service-wide average of metric over the seconds with data in (now - window_s, now]
 * (partial scrapes scaled up to all ready pods, gaps skipped). *seconds (optional)
 * gets how many seconds had data; with none the average is 0.
 */
double aios_autoscaler_series_average(const struct aios_autoscaler_series *s,
                                      enum aios_autoscaler_metric metric, int64_t now, int window_s,
                                      int *seconds);

/* ---- decision ------------------------------------------------------------ */

/* What the decider remembers between decisions for one service (caller embeds it). */
struct aios_autoscaler_state {
	int desired;                             /* last decision */
	int64_t panic_since;                     /* second panic began; 0 = not in panic */
	int64_t panic_last_over;                 /* last second the panic condition held */
	int max_panic;                           /* highest count decided in this panic */
	int64_t last_scale;                      /* second desired last changed; 0 = never */
	int64_t delay_t;                         /* newest second recorded in delay[] */
	int delay[AIOS_AUTOSCALER_MAX_WINDOW_S]; /* want per second, ring; 0 = none */
};

/* Starts the state at a decision of `desired` (status.desiredReplicas after an
 * operator restart, else replicas.min), so a restart never scales anything down. */
void aios_autoscaler_state_init(struct aios_autoscaler_state *st, int desired);

struct aios_autoscaler_decision {
	int desired;          /* the new replica count */
	int previous;         /* the count before this decision */
	int panic;            /* 1 while in panic mode */
	int held;             /* 1 when incomplete metrics kept the count from going down */
	int no_data;          /* 1 when the stable window has no sample at all */
	int ready;            /* ready pods used as capacity */
	double stable_value;  /* service-wide average over the stable window */
	double panic_value;   /* service-wide average over the panic window */
	int stable_pods;      /* ceil(stable_value / target), before clamps */
	int panic_pods;       /* ceil(panic_value / target), before clamps */
	int stable_seconds;   /* seconds with data in the stable window */
	int complete_seconds; /* seconds where every ready pod answered */
	int activated;        /* 1: gateway demand with no ready pod asked for one */
	int idle_seconds;     /* seconds of complete, requestless data back from now */
	char reason[AIOS_AUTOSCALER_REASON_MAX]; /* one line with the numbers */
};

/*
 * Decides the replica count at second now from the samples in (now - stable window,
 * now] and `ready` pods (ready and not terminating). Updates *st and fills *out.
 * Pure: the same inputs give the same outputs.
 */
void aios_autoscaler_decide(const struct aios_autoscaler_params *p,
                            const struct aios_autoscaler_series *s, int ready, int64_t now,
                            struct aios_autoscaler_state *st, struct aios_autoscaler_decision *out);

#endif
