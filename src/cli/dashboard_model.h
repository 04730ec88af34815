/*
 * dashboard_model.h - what `kubectl aios dashboard` shows, as pure functions.
 *
 * The dashboard's collector reads the cluster (TrainingJobs, ModelServices, rank 0's pod
 * logs, Events) and keeps, per object, a bounded history; these functions turn API
 * objects and that history into the JSON snapshot pushed to the browser. No I/O here,
 * so every figure the page draws is unit-tested (tests/unit/cli/test_dashboard_model.c).
 *
 * Where the curves come from: the trainer prints one line per epoch (model/trainlog.h)
 * and the API server serves pod logs to anyone allowed `get pods/log`, so the dashboard
 * reads the last AIOS_DASH_LOG_LINES lines of rank 0's newest pod while the job runs and
 * once after it finished, and keeps every epoch it saw, downsampled to AIOS_DASH_POINTS.
 * This needs no operator change, no new RBAC, and gives every epoch even of a job that
 * finishes between two of the operator's progress reads (docs/dashboard.md).
 */
#ifndef AIOS_CLI_DASHBOARD_MODEL_H
#define AIOS_CLI_DASHBOARD_MODEL_H

#include <json-c/json.h>
#include <stdint.h>

#include "common/err.h"

#define AIOS_DASH_POINTS    240  /* points of one curve sent to the page */
#define AIOS_DASH_LOG_LINES 5000 /* log lines read per pod (tailLines): ~750 KB a read */
#define AIOS_DASH_SAMPLES   300  /* samples of a ModelService's history (1 s apart: 5 min) */
#define AIOS_DASH_EVENTS    10   /* newest Events kept per ModelService */

/* One training curve: epochs in increasing order, at most AIOS_DASH_POINTS. */
struct aios_dash_curve {
	int n;
	int64_t epoch[AIOS_DASH_POINTS];
	double loss[AIOS_DASH_POINTS], val_loss[AIOS_DASH_POINTS], val_acc[AIOS_DASH_POINTS];
};

/*
 * Adds the epochs of a pod's log (len bytes) to curve c (zeroed for a new one): every
 * epoch line (model/trainlog.h), other lines skipped. The log is a tail (the last
 * AIOS_DASH_LOG_LINES lines): points c kept from earlier reads stay where they come
 * before the log's first epoch, so the curve covers every epoch seen since the dashboard
 * started following the job. When a run restarts (a retry prints lower epochs again) the
 * later lines win. Over AIOS_DASH_POINTS points, the curve is thinned evenly in epochs,
 * the first and the last kept. Returns the number of epoch lines the log held (0: c is
 * unchanged).
 */
int aios_dash_curve_from_log(struct aios_dash_curve *c, const char *log, size_t len);

/* {"epoch": [...], "loss": [...], "valLoss": [...], "valAccuracy": [...]} (null for
 * missing values); a new object. */
struct json_object *aios_dash_curve_json(const struct aios_dash_curve *c);

/* A ModelService's history: a ring of the newest AIOS_DASH_SAMPLES samples. */
struct aios_dash_series {
	int n, head;                       /* samples held; index of the oldest */
	double t[AIOS_DASH_SAMPLES];       /* unix seconds */
	double desired[AIOS_DASH_SAMPLES]; /* status.desiredReplicas */
	double ready[AIOS_DASH_SAMPLES];   /* status.readyReplicas */
	double rps[AIOS_DASH_SAMPLES];     /* status.metrics.rps (NaN: none) */
	double p99_ms[AIOS_DASH_SAMPLES];  /* status.metrics.latencyP99Ms (NaN: none) */
};

/* Appends a sample read from ms (a ModelService) at time t, dropping the oldest when full. */
void aios_dash_series_push(struct aios_dash_series *s, struct json_object *ms, double t);

/* {"t": [...], "desired": [...], "ready": [...], "rps": [...], "p99Ms": [...]}, oldest first. */
struct json_object *aios_dash_series_json(const struct aios_dash_series *s);

/*
 * What the page shows of a TrainingJob (borrowed tj): namespace, name, phase, percent,
 * etaSeconds, epoch, epochs, loss, validationLoss, accuracy, workers {wanted, active,
 * succeeded, failed}, attempts, artifact, and for a search its trials (name, index, phase,
 * objective, best) and the best trial's name. A new object.
 */
struct json_object *aios_dash_tj_summary(struct json_object *tj);

/*
 * The same for a ModelService: namespace, name, phase, ready, desired, min, max, url,
 * rps, p99Ms, concurrency, metric, target, and the canary's status (weight, bounds)
 * as status.canary holds it, when present. A new object.
 */
struct json_object *aios_dash_ms_summary(struct json_object *ms);

/* {"time", "reason", "message", "type"} of an Event (borrowed); a new object. */
struct json_object *aios_dash_event_summary(struct json_object *ev);

#endif
