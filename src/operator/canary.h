/*
 * canary.h - the canary analysis of a ModelService as a pure function: from the spec's
 * spec.canary, the service's current status.canary, what the canary's and the stable
 * revision's pods measured over the current analysis window, and the clock, the next
 * status.canary (weight, phase, the last analysis) and what happened.
 *
 * Nothing here does I/O. The controller measures (modelservice_controller.c), the plan
 * runs the canary pods and carries the decision into status (modelservice_plan.c), the
 * gateway splits traffic by status.canary.weight (src/gateway/route.h).
 * docs/gateway.md "Canary" draws the state machine:
 *
 *   (spec.canary set) -> Progressing at weight trafficPercent
 *   Progressing --window passed, more steps--> Progressing at the next step
 *   Progressing --window passed at the last step--> Promoted (weight 100: stable pods
 *                                                   get the canary's model)
 *   Progressing --a bound broken--> RolledBack (weight 0, reason names the bound)
 *   Progressing --too few requests or no metrics--> Progressing, no decision
 *
 * Promoted and RolledBack hold for as long as spec.canary names the same model; a new
 * canary model starts over.
 */
#ifndef AIOS_OPERATOR_CANARY_H
#define AIOS_OPERATOR_CANARY_H

#include <json-c/json.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"

#define AIOS_CANARY_MAX_STEPS 16 /* trafficPercent + the CRD's maxItems (15) of steps */

/* The defaults the CRD documents (crds/modelservices.aios.dev.yaml). */
#define AIOS_CANARY_DEFAULT_PERCENT      10   /* spec.canary.trafficPercent */
#define AIOS_CANARY_DEFAULT_INTERVAL_S   60   /* spec.canary.analysis.interval */
#define AIOS_CANARY_DEFAULT_ERROR_RATE   0.01 /* spec.canary.analysis.maxErrorRate */
#define AIOS_CANARY_DEFAULT_MIN_REQUESTS 100  /* spec.canary.analysis.minRequests */

/* spec.canary, with its defaults filled in. */
struct aios_canary_spec {
	int enabled;                      /* spec.canary is set */
	int traffic_percent;              /* the first weight, 1..100 */
	int interval_s;                   /* one analysis window */
	int steps[AIOS_CANARY_MAX_STEPS]; /* the weights, ascending; the first is trafficPercent */
	int n_steps;
	double max_error_rate;     /* 0..1: errors (5xx) / requests */
	double max_latency_p99_ms; /* 0: no latency bound */
	int64_t min_requests;      /* canary requests a window needs before any decision */
};

/*
 * Reads spec.canary of ms into out. The weights are trafficPercent followed by every
 * entry of analysis.steps greater than it (default [25, 50, 100]), ending at 100
 * (appended when missing). AIOS_ERR_INVALID names the field for a value the schema
 * should have refused (a step not above the one before it, a percent over 100).
 */
enum aios_err aios_canary_spec_from_ms(struct json_object *ms,
                                       struct aios_canary_spec *out) AIOS_MUST_CHECK;

/* What one revision's pods did over the current window. */
struct aios_canary_window {
	int have;        /* every number below was measured (scrapes answered) */
	double requests; /* inference requests answered */
	double errors;   /* of those, with a 5xx status */
	double p99_ms;   /* p99 latency, < 0 when no request was timed */
};

struct aios_canary_metrics {
	struct aios_canary_window canary, stable;
};

enum aios_canary_action {
	AIOS_CANARY_NONE,     /* nothing changed: the window is still open, or no data */
	AIOS_CANARY_START,    /* a new canary: Progressing at the first weight */
	AIOS_CANARY_STEP,     /* passed a window: the weight moved to the next step */
	AIOS_CANARY_PROMOTE,  /* passed the last window: the canary is the stable model */
	AIOS_CANARY_ROLLBACK, /* broke a bound: weight 0 */
};

struct aios_canary_decision {
	enum aios_canary_action action;
	struct json_object *status; /* the next status.canary (owned by the caller) */
	const char *reason;         /* CamelCase: Progressing, Waiting, Promoted,
	                             * ErrorRateTooHigh, LatencyTooHigh (static) */
	char message[512];          /* the numbers behind reason */
};

/*
 * The decision for a canary serving `model_uri` (+ model_sha256, "" when none) as pods
 * of revision `revision`, given old = the current status.canary (NULL if none), what the
 * pods measured since old's windowStart, whether a canary pod is ready, and now (Unix
 * s). Pure: the same inputs give the same output. A window opens when the canary
 * starts and when the weight moves; it closes after interval_s. A closed window with no
 * ready canary pod, too few canary requests, without metrics, or (with a latency bound)
 * without a timed request waits: no decision, the window stays open. The wording of a
 * wait holds no live counts, so that status does not change every second.
 */
void aios_canary_decide(const struct aios_canary_spec *spec, struct json_object *old,
                        const char *model_uri, const char *model_sha256, const char *revision,
                        const struct aios_canary_metrics *m, int canary_ready, time_t now,
                        struct aios_canary_decision *out);

/* 1 when a status.canary is for the model uri + sha256 ("" when none). */
int aios_canary_status_is_for(struct json_object *canary, const char *uri, const char *sha256);

#endif
