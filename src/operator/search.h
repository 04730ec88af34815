/*
 * search.h - hyperparameter search in a TrainingJob (spec.search): the pure parts.
 *
 * A search runs trials. Each trial trains a plain TrainingJob spec (the job's spec with
 * the trial's values put in place of spec.optimizer / spec.model fields, spec.search
 * removed and its own output URI) as one unit of the job: a gang of trainer pods planned
 * like a plain job's (search_plan.c, aios_tj_gang_plan). This module knows nothing of pods:
 *
 *   - aios_search_parse() reads spec.search (defaults as in the CRD);
 *   - aios_search_sample() gives configuration i: grid point i, or the i-th random draw
 *     (a pure function of seed and i, so an operator restart draws the same values);
 *   - aios_search_apply() turns a parameter assignment into the trial's spec;
 *   - aios_search_decide() looks at the trials so far (state, objective) and says which
 *     trials start next, which finished trials successive halving stops (does not
 *     promote), whether the search is done, and which trial is best.
 *
 * Successive halving (synchronous, as in Jamieson & Talwalkar 2016): rung 0 runs n
 * random configurations for minEpochs epochs; when every trial of a rung has ended, the
 * best 1/eta of those that succeeded (by objective) run again from scratch as new trials
 * with eta times the epochs; the others are Stopped. n is the largest rung-0 size whose
 * rungs together fit in `trials`. The best trial is the best of the highest rung that
 * has a result (a low-budget result is not compared with a high-budget one).
 *
 * Decisions and limits are written down in docs/search.md.
 */
#ifndef AIOS_OPERATOR_SEARCH_H
#define AIOS_OPERATOR_SEARCH_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "operator/trainingjob.h"

#define AIOS_SEARCH_MAX_DIMS       8                /* fields of spec.search.space */
#define AIOS_SEARCH_MAX_TRIALS     1000             /* the CRD's maximum of trials */
#define AIOS_SEARCH_DEFAULT_TRIALS 10               /* random / successive-halving, trials unset */
#define AIOS_SEARCH_MAX_RUNGS      32               /* rungs of successive halving (eta >= 2) */
#define AIOS_SEARCH_LABEL_TRIAL    "aios.dev/trial" /* AIOS_TJ_LABEL_TRIAL */

enum aios_search_algo { AIOS_SEARCH_GRID, AIOS_SEARCH_RANDOM, AIOS_SEARCH_HALVING };

enum aios_search_phase {
	AIOS_TRIAL_PENDING,
	AIOS_TRIAL_RUNNING,
	AIOS_TRIAL_SUCCEEDED,
	AIOS_TRIAL_FAILED,
	AIOS_TRIAL_STOPPED, /* succeeded in its rung, not promoted (successive halving) */
};

enum aios_search_kind { AIOS_DIM_NUMBER, AIOS_DIM_INT, AIOS_DIM_HIDDEN, AIOS_DIM_STRING };

/* One field of spec.search.space. */
struct aios_search_dim {
	const char *name; /* "learningRate" (static) */
	const char *path; /* where it goes in spec: "optimizer.learningRate" */
	enum aios_search_kind kind;
	struct json_object *values; /* the listed values (a reference we hold), or NULL */
	double min, max;            /* a range, when values is NULL */
	int log;                    /* range sampled uniformly in log(value) */
};

struct aios_search {
	enum aios_search_algo algo;
	uint64_t seed;
	size_t trials;      /* trial budget (grid: the grid, cut to spec's trials) */
	size_t parallelism; /* trials running at once */
	int grid_points;    /* points a range is split into by grid */
	int eta;            /* successive halving's reductionFactor */
	int64_t min_epochs; /* successive halving's rung-0 epochs */
	int accuracy;       /* objective metric: 1 accuracy, 0 validationLoss */
	int maximize;       /* objective goal */
	size_t n_dims;
	struct aios_search_dim dims[AIOS_SEARCH_MAX_DIMS];
	size_t rung_size[AIOS_SEARCH_MAX_RUNGS]; /* successive halving: planned rung sizes */
	int n_rungs;
};

/* Reads spec.search (the object itself); AIOS_ERR_INVALID names the field at fault.
 * out holds references into search: call aios_search_cleanup(). */
enum aios_err aios_search_parse(struct json_object *search,
                                struct aios_search *out) AIOS_MUST_CHECK;
void aios_search_cleanup(struct aios_search *s);

/*
 * Checks what the objective needs of the rest of the job's spec (the spec object): the
 * accuracy objective needs a classification loss (spec.loss cross_entropy or hinge, or
 * unset with model.type logistic or softmax) and a strategy whose trainer reports
 * accuracy (not pipeline). AIOS_ERR_INVALID names the fields at fault. Decided before
 * any trial runs: a regression search would otherwise train every trial for nothing and
 * end NoObjective.
 */
enum aios_err aios_search_check_spec(const struct aios_search *s,
                                     struct json_object *spec) AIOS_MUST_CHECK;

/* Configuration `config` as {name: value} by space field name (grid: point `config`,
 * last field fastest; random and successive halving: draw `config`). Caller puts. */
struct json_object *aios_search_sample(const struct aios_search *s, size_t config);

/*
 * The spec of trial `trial`: a copy of spec without search, with each parameter put in
 * its place, optimizer.epochs = epochs when epochs > 0, output.uri suffixed
 * ".trial-<trial>" before its extension, and no runPolicy activeDeadlineSeconds,
 * ttlSecondsAfterFinished or suspend (they apply to the whole search). Caller puts.
 */
struct json_object *aios_search_apply(struct json_object *spec, struct json_object *params,
                                      int64_t epochs, size_t trial);

/* "pvc://c/m.aios" -> "pvc://c/m.trial-3.aios" (no extension: suffix appended). Caller frees. */
char *aios_search_trial_uri(const char *uri, size_t trial);

/* ---- deciding ---- */

struct aios_search_trial {
	enum aios_search_phase phase;
	int has_objective;
	double objective;
};

struct aios_search_start {
	size_t trial;   /* its index: trials start in index order */
	long parent;    /* successive halving: the trial whose parameters it reuses, or -1 */
	size_t config;  /* parent < 0: the configuration to sample */
	int64_t epochs; /* > 0: optimizer.epochs of the trial (successive halving) */
};

struct aios_search_decision {
	struct aios_search_start *start; /* trials to start now (owned) */
	size_t n_start;
	size_t *stop; /* Succeeded trials to mark Stopped (owned) */
	size_t n_stop;
	int done;       /* every trial has ended; nothing more will start */
	long best;      /* index of the best trial, -1 if none has a result */
	int all_failed; /* done and no trial succeeded */
};

/* Decides from the n trials started so far (index order). Pure. */
void aios_search_decide(const struct aios_search *s, const struct aios_search_trial *t, size_t n,
                        struct aios_search_decision *d);
void aios_search_decision_cleanup(struct aios_search_decision *d);

/* Is a better than b under the objective's goal. */
int aios_search_better(const struct aios_search *s, double a, double b);

/* "Pending", "Running", ... and back (unknown text: Pending). */
const char *aios_search_phase_name(enum aios_search_phase p);
enum aios_search_phase aios_search_phase_parse(const char *s);

/* ---- the controller side (search_plan.c) ---- */

/*
 * The trials of a search are its units: the job policy of aios_tj_plan() (a new run,
 * suspend, the deadline, the end, cleanPodPolicy, TTL) runs around them as around a plain
 * job's gang. status.trials and status.best live in the status's other fields (rest).
 */

/* status.trials is present: a search has run. */
int aios_search_has_trials(struct json_object *rest);
/* A new run: trials and best forgotten. */
void aios_search_forget(struct json_object *rest);
/* Suspended: running trials wait as Pending (their attempts kept). */
void aios_search_pause(struct json_object *rest);
/* The job ended before them: Pending and Running trials are Stopped with reason. */
void aios_search_stop(struct json_object *rest, const char *reason, const char *msg,
                      const char *now_s);

/* How a search ended, for the job policy to record. */
struct aios_search_outcome {
	int done;           /* every trial has ended */
	int ok;             /* a best trial exists: the job succeeds */
	const char *reason; /* static: SearchSucceeded, AllTrialsFailed, NoObjective */
	char message[AIOS_TJ_MESSAGE_MAX];
};

/*
 * Plans the trials of a running search: each not ended is planned by aios_tj_gang_plan()
 * (search_plan.c), the algorithm stops and starts trials (new ones recorded in
 * status.trials with their parameters), and st gets the phase, the Running condition and
 * the scraped trial's progress; once done, status.best and the best trial's artifact,
 * and *o says how it ended. Pure.
 */
void aios_search_run(struct json_object *job, const struct aios_search *s,
                     const struct aios_tj_spec *spec, struct aios_tj_status *st,
                     struct json_object *const *pods, size_t n_pods, time_t now,
                     const struct aios_tj_progress *progress, struct aios_tj_plan *out,
                     struct aios_search_outcome *o);

#endif
