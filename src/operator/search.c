/*
 * search.c - spec.search: parsing, sampling, the trial's spec, and the algorithms'
 * decisions (grid, random, successive halving). Pure; see search.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/mem.h"
#include "model/model.h"
#include "operator/search.h"

/* ============================== the space ============================== */

struct field {
	const char *name, *path;
	enum aios_search_kind kind;
	int log_default;
	double lo;   /* smallest value accepted */
	int lo_open; /* lo itself is refused */
	double hi;   /* largest value accepted (exclusive when hi_open) */
	int hi_open;
};

/* The fields a space may name, in the order they are sampled (keep it: draws depend on it). */
static const struct field fields[] = {
    {"learningRate", "optimizer.learningRate", AIOS_DIM_NUMBER, 1, 0, 1, HUGE_VAL, 0},
    {"batchSize", "optimizer.batchSize", AIOS_DIM_INT, 1, 1, 0, 1e9, 0},
    {"epochs", "optimizer.epochs", AIOS_DIM_INT, 0, 1, 0, 1e9, 0},
    {"weightDecay", "optimizer.weightDecay", AIOS_DIM_NUMBER, 0, 0, 0, HUGE_VAL, 0},
    {"momentum", "optimizer.momentum", AIOS_DIM_NUMBER, 0, 0, 0, 1, 1},
    {"hidden", "model.hidden", AIOS_DIM_HIDDEN, 0, 0, 0, 0, 0},
    {"activation", "model.activation", AIOS_DIM_STRING, 0, 0, 0, 0, 0},
};
#define N_FIELDS          (sizeof(fields) / sizeof(fields[0]))
#define HIDDEN_MAX_LAYERS 16
#define HIDDEN_MAX_WIDTH  4096
#define VALUES_MAX        100

static int number_ok(const struct field *f, double v)
{
	if (!isfinite(v) || v < f->lo || (f->lo_open && v <= f->lo))
		return 0;
	return f->hi_open ? v < f->hi : v <= f->hi;
}

static int is_number(struct json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

static enum aios_err check_value(const struct field *f, struct json_object *v, size_t i)
{
	switch (f->kind) {
	case AIOS_DIM_NUMBER:
	case AIOS_DIM_INT:
		if (!is_number(v) ||
		    (f->kind == AIOS_DIM_INT && !json_object_is_type(v, json_type_int)))
			return aios_fail(AIOS_ERR_INVALID,
			                 "spec.search.space.%s.values[%zu]: not %s", f->name, i,
			                 f->kind == AIOS_DIM_INT ? "an integer" : "a number");
		if (!number_ok(f, json_object_get_double(v)))
			return aios_fail(AIOS_ERR_INVALID,
			                 "spec.search.space.%s.values[%zu]: %g is out of range",
			                 f->name, i, json_object_get_double(v));
		return AIOS_OK;
	case AIOS_DIM_HIDDEN: {
		if (!json_object_is_type(v, json_type_array) ||
		    json_object_array_length(v) > HIDDEN_MAX_LAYERS)
			return aios_fail(AIOS_ERR_INVALID,
			                 "spec.search.space.hidden.values[%zu]: not a list of at "
			                 "most %d layer sizes",
			                 i, HIDDEN_MAX_LAYERS);
		for (size_t k = 0; k < json_object_array_length(v); k++) {
			struct json_object *w = json_object_array_get_idx(v, k);
			int64_t n = json_object_get_int64(w);
			if (!json_object_is_type(w, json_type_int) || n < 1 || n > HIDDEN_MAX_WIDTH)
				return aios_fail(AIOS_ERR_INVALID,
				                 "spec.search.space.hidden.values[%zu][%zu]: not "
				                 "an integer in 1..%d",
				                 i, k, HIDDEN_MAX_WIDTH);
		}
		return AIOS_OK;
	}
	case AIOS_DIM_STRING: {
		const char *a =
		    json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
		if (strcmp(a, "relu") && strcmp(a, "tanh") && strcmp(a, "sigmoid"))
			return aios_fail(
			    AIOS_ERR_INVALID,
			    "spec.search.space.activation.values[%zu]: not relu, tanh or sigmoid",
			    i);
		return AIOS_OK;
	}
	}
	return AIOS_OK;
}

static enum aios_err parse_dim(const struct field *f, struct json_object *o,
                               struct aios_search_dim *d)
{
	memset(d, 0, sizeof(*d));
	d->name = f->name;
	d->path = f->path;
	d->kind = f->kind;
	if (!json_object_is_type(o, json_type_object))
		return aios_fail(AIOS_ERR_INVALID, "spec.search.space.%s: not an object", f->name);
	struct json_object *vals = aios_json_lookup(o, "values");
	if (vals) {
		if (!json_object_is_type(vals, json_type_array) ||
		    json_object_array_length(vals) < 1 ||
		    json_object_array_length(vals) > VALUES_MAX)
			return aios_fail(
			    AIOS_ERR_INVALID,
			    "spec.search.space.%s.values: not a list of 1 to %d values", f->name,
			    VALUES_MAX);
		for (size_t i = 0; i < json_object_array_length(vals); i++) {
			enum aios_err e = check_value(f, json_object_array_get_idx(vals, i), i);
			if (e)
				return e;
		}
		d->values = json_object_get(vals);
		return AIOS_OK;
	}
	if (f->kind == AIOS_DIM_HIDDEN || f->kind == AIOS_DIM_STRING)
		return aios_fail(AIOS_ERR_INVALID, "spec.search.space.%s.values: required",
		                 f->name);
	enum aios_err e;
	const char *scale;
	if ((e = aios_json_get_double(o, "min", &d->min)) ||
	    (e = aios_json_get_double(o, "max", &d->max)) ||
	    (e = aios_json_opt_string(o, "scale", f->log_default ? "log" : "linear", &scale)))
		return aios_fail(e, "spec.search.space.%s: %s (a range needs min and max)", f->name,
		                 aios_errmsg());
	if (!number_ok(f, d->min) || !number_ok(f, d->max))
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.search.space.%s: range [%g, %g] is out of bounds", f->name,
		                 d->min, d->max);
	if (d->min > d->max)
		return aios_fail(AIOS_ERR_INVALID, "spec.search.space.%s: min %g is above max %g",
		                 f->name, d->min, d->max);
	if (strcmp(scale, "log") == 0)
		d->log = 1;
	else if (strcmp(scale, "linear") != 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.search.space.%s.scale: \"%s\" is not linear or log", f->name,
		                 scale);
	if (d->log && d->min <= 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.search.space.%s: a log scale needs min > 0", f->name);
	return AIOS_OK;
}

/* Points of a dimension in a grid. */
static size_t dim_points(const struct aios_search *s, const struct aios_search_dim *d)
{
	if (d->values)
		return json_object_array_length(d->values);
	return d->min == d->max ? 1 : (size_t)s->grid_points;
}

/* ============================== parse ============================== */

static enum aios_err opt_range(struct json_object *o, const char *key, int64_t dflt, int64_t lo,
                               int64_t hi, int64_t *out)
{
	enum aios_err e = aios_json_opt_int(o, key, dflt, out);
	if (e)
		return aios_fail(e, "spec.search.%s: %s", key, aios_errmsg());
	if (*out < lo || *out > hi)
		return aios_fail(AIOS_ERR_INVALID, "spec.search.%s: %lld is not in %lld..%lld", key,
		                 (long long)*out, (long long)lo, (long long)hi);
	return AIOS_OK;
}

static enum aios_err parse_algorithm(struct json_object *search, struct aios_search *s)
{
	const char *algo;
	enum aios_err e = aios_json_opt_string(search, "algorithm", "random", &algo);
	if (e)
		return aios_fail(e, "spec.search.algorithm: %s", aios_errmsg());
	if (strcmp(algo, "grid") == 0)
		s->algo = AIOS_SEARCH_GRID;
	else if (strcmp(algo, "random") == 0)
		s->algo = AIOS_SEARCH_RANDOM;
	else if (strcmp(algo, "successive-halving") == 0)
		s->algo = AIOS_SEARCH_HALVING;
	else
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "spec.search.algorithm: \"%s\" is not grid, random or successive-halving",
		    algo);
	return AIOS_OK;
}

/* spec.search.objective: the metric and its goal (accuracy is maximized by default). */
static enum aios_err parse_objective(struct json_object *search, struct aios_search *s)
{
	const char *metric, *goal;
	enum aios_err e;
	if ((e = aios_json_opt_string(search, "objective.metric", "validationLoss", &metric)) ||
	    (e = aios_json_opt_string(search, "objective.goal", NULL, &goal)))
		return aios_fail(e, "spec.search.objective: %s", aios_errmsg());
	if (strcmp(metric, "accuracy") == 0)
		s->accuracy = 1;
	else if (strcmp(metric, "validationLoss") != 0)
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "spec.search.objective.metric: \"%s\" is not validationLoss or accuracy",
		    metric);
	s->maximize = s->accuracy;
	if (goal && strcmp(goal, "maximize") == 0)
		s->maximize = 1;
	else if (goal && strcmp(goal, "minimize") == 0)
		s->maximize = 0;
	else if (goal)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.search.objective.goal: \"%s\" is not minimize or maximize",
		                 goal);
	return AIOS_OK;
}

/* spec.search.space: only searchable fields, at least one. */
static enum aios_err parse_space(struct json_object *search, struct aios_search *s)
{
	struct json_object *space = aios_json_lookup(search, "space");
	if (!space || !json_object_is_type(space, json_type_object))
		return aios_fail(AIOS_ERR_INVALID, "spec.search.space: required (an object)");
	json_object_object_foreach(space, key, val)
	{
		(void)val;
		size_t k = 0;
		while (k < N_FIELDS && strcmp(fields[k].name, key) != 0)
			k++;
		if (k == N_FIELDS)
			return aios_fail(AIOS_ERR_INVALID,
			                 "spec.search.space.%s: not a searchable field "
			                 "(learningRate, batchSize, "
			                 "epochs, weightDecay, momentum, hidden, activation)",
			                 key);
	}
	for (size_t k = 0; k < N_FIELDS; k++) {
		struct json_object *o = aios_json_lookup(space, fields[k].name);
		if (!o)
			continue;
		enum aios_err e = parse_dim(&fields[k], o, &s->dims[s->n_dims]);
		if (e)
			return e;
		s->n_dims++;
	}
	if (s->n_dims == 0)
		return aios_fail(AIOS_ERR_INVALID, "spec.search.space: names no field");
	return AIOS_OK;
}

/* Successive halving: the largest rung 0 whose rungs (n, n/eta, n/eta^2, ... > 0) fit
 * in the trial budget. */
static void plan_rungs(struct aios_search *s)
{
	size_t best_n = 1;
	for (size_t n = 1; n <= s->trials; n++) {
		size_t sum = 0;
		for (size_t r = n; r > 0; r /= (size_t)s->eta)
			sum += r;
		if (sum <= s->trials)
			best_n = n;
	}
	s->n_rungs = 0;
	for (size_t r = best_n; r > 0 && s->n_rungs < AIOS_SEARCH_MAX_RUNGS; r /= (size_t)s->eta)
		s->rung_size[s->n_rungs++] = r;
}

/* The trial budget: the grid (cut to trials), or trials (default 10). */
static enum aios_err set_budget(struct aios_search *s, int64_t trials)
{
	if (s->algo != AIOS_SEARCH_GRID) {
		s->trials = trials > 0 ? (size_t)trials : AIOS_SEARCH_DEFAULT_TRIALS;
		if (s->algo == AIOS_SEARCH_HALVING)
			plan_rungs(s);
		return AIOS_OK;
	}
	size_t total = 1;
	for (size_t i = 0; i < s->n_dims; i++) {
		total *= dim_points(s, &s->dims[i]);
		if (total > AIOS_SEARCH_MAX_TRIALS)
			total = AIOS_SEARCH_MAX_TRIALS + 1;
	}
	if (trials > 0 && (size_t)trials < total)
		total = (size_t)trials;
	if (total > AIOS_SEARCH_MAX_TRIALS)
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "spec.search: the grid has more than %d points; set trials to cut it",
		    AIOS_SEARCH_MAX_TRIALS);
	s->trials = total;
	return AIOS_OK;
}

static enum aios_err parse(struct json_object *search, struct aios_search *s)
{
	if (!search || !json_object_is_type(search, json_type_object))
		return aios_fail(AIOS_ERR_INVALID, "spec.search: not an object");
	enum aios_err e;
	if ((e = parse_algorithm(search, s)))
		return e;
	int64_t seed, trials, par, gp, eta, me;
	if ((e = opt_range(search, "seed", 0, 0, 4294967295LL, &seed)) ||
	    (e = opt_range(search, "trials", 0, 0, AIOS_SEARCH_MAX_TRIALS, &trials)) ||
	    (e = opt_range(search, "parallelism", 1, 1, 100, &par)) ||
	    (e = opt_range(search, "gridPoints", 3, 2, 100, &gp)) ||
	    (e = opt_range(search, "reductionFactor", 3, 2, 10, &eta)) ||
	    (e = opt_range(search, "minEpochs", 1, 1, 1000000, &me)))
		return e;
	if (aios_json_lookup(search, "trials") && trials < 1)
		return aios_fail(AIOS_ERR_INVALID, "spec.search.trials: at least 1");
	s->seed = (uint64_t)seed;
	s->parallelism = (size_t)par;
	s->grid_points = (int)gp;
	s->eta = (int)eta;
	s->min_epochs = me;
	if ((e = parse_objective(search, s)) || (e = parse_space(search, s)))
		return e;
	return set_budget(s, trials);
}

enum aios_err aios_search_parse(struct json_object *search, struct aios_search *out)
{
	memset(out, 0, sizeof(*out));
	enum aios_err e = parse(search, out);
	if (e)
		aios_search_cleanup(out);
	return e;
}

void aios_search_cleanup(struct aios_search *s)
{
	for (size_t i = 0; i < s->n_dims; i++)
		json_object_put(s->dims[i].values);
	memset(s, 0, sizeof(*s));
}

enum aios_err aios_search_check_spec(const struct aios_search *s, struct json_object *spec)
{
	if (!s->accuracy)
		return AIOS_OK;
	const char *type = aios_json_str(spec, "model.type"), *loss = aios_json_str(spec, "loss");
	const char *strategy = aios_json_str(spec, "distributed.strategy");
	if (!type)
		type = AIOS_MODEL_DEFAULT_TYPE;
	int t = aios_model_type_parse(type);
	int classifier = t >= 0 && aios_model_type_classifies((enum aios_model_type)t);
	if (loss ? strcmp(loss, "mse") == 0 : !classifier)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.search.objective.metric: accuracy needs a classification "
		                 "model, but spec.loss is mse%s (a %s model regresses); set "
		                 "spec.loss to cross_entropy or hinge, or use validationLoss",
		                 loss ? "" : " by default", type);
	if (strategy && strcmp(strategy, "pipeline") == 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.search.objective.metric: accuracy is not reported by "
		                 "distributed.strategy pipeline; use validationLoss or another "
		                 "strategy");
	return AIOS_OK;
}

/* ============================== sampling ============================== */

/* splitmix64: a good 64-bit mix, so that draw i of seed s is independent of draw i+1. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* Uniform in [0, 1). */
static double unit(uint64_t *state)
{
	*state = mix64(*state);
	return (double)(*state >> 11) * 0x1.0p-53;
}

/* The value of a range at fraction u in [0, 1]. */
static double at(const struct aios_search_dim *d, double u)
{
	double v = d->log ? exp(log(d->min) + u * (log(d->max) - log(d->min)))
	                  : d->min + u * (d->max - d->min);
	if (v < d->min)
		v = d->min;
	if (v > d->max)
		v = d->max;
	return v;
}

static struct json_object *range_value(const struct aios_search_dim *d, double u)
{
	double v = at(d, u);
	if (d->kind == AIOS_DIM_INT) {
		double r = floor(v + 0.5);
		if (r > d->max)
			r = floor(d->max);
		if (r < d->min)
			r = ceil(d->min);
		return json_object_new_int64((int64_t)r);
	}
	return json_object_new_double(v);
}

struct json_object *aios_search_sample(const struct aios_search *s, size_t config)
{
	struct json_object *o = json_object_new_object();
	if (s->algo == AIOS_SEARCH_GRID) {
		size_t rest = config;
		struct json_object *vals[AIOS_SEARCH_MAX_DIMS];
		for (size_t i = s->n_dims; i-- > 0;) {
			const struct aios_search_dim *d = &s->dims[i];
			size_t n = dim_points(s, d), k = rest % n;
			rest /= n;
			if (d->values)
				vals[i] = aios_json_copy(json_object_array_get_idx(d->values, k));
			else
				vals[i] = range_value(d, n > 1 ? (double)k / (double)(n - 1) : 0);
		}
		for (size_t i = 0; i < s->n_dims; i++)
			json_object_object_add(o, s->dims[i].name, vals[i]);
		return o;
	}
	uint64_t st = mix64(s->seed ^ mix64((uint64_t)config + 1));
	for (size_t i = 0; i < s->n_dims; i++) {
		const struct aios_search_dim *d = &s->dims[i];
		double u = unit(&st);
		struct json_object *v;
		if (d->values) {
			size_t n = json_object_array_length(d->values), k = (size_t)(u * (double)n);
			v = aios_json_copy(json_object_array_get_idx(d->values, k < n ? k : n - 1));
		} else {
			v = range_value(d, u);
		}
		json_object_object_add(o, d->name, v);
	}
	return o;
}

/* ============================== the trial's spec ============================== */

char *aios_search_trial_uri(const char *uri, size_t trial)
{
	size_t len = strlen(uri);
	const char *slash = strrchr(uri, '/');
	const char *dot = strrchr(uri, '.');
	if (!dot || (slash && dot < slash) || dot == uri + len - 1 || (slash && dot == slash + 1))
		return aios_xasprintf("%s.trial-%zu", uri, trial);
	return aios_xasprintf("%.*s.trial-%zu%s", (int)(dot - uri), uri, trial, dot);
}

/*
 * A copy of a parameter value whose numbers are written one way for one value: the
 * shortest of %.15g, %.16g, %.17g that reads back the same double. A trial's values reach
 * the spec either as drawn (json-c writes a new double with 17 digits) or read back from
 * status.trials (the API server writes the shortest form, and json-c re-emits a parsed
 * number's own text), and the trainer fingerprints its checkpoints by the spec's text: a
 * promoted trial (or a later attempt of any trial) must render the same text as the run
 * it continues, or it finds "no checkpoint of this configuration".
 */
static struct json_object *canonical_copy(struct json_object *v)
{
	if (json_object_is_type(v, json_type_double)) {
		double x = json_object_get_double(v);
		char txt[32];
		for (int digits = 15; digits <= 17; digits++) {
			snprintf(txt, sizeof(txt), "%.*g", digits, x);
			if (strtod(txt, NULL) == x)
				break;
		}
		return json_object_new_double_s(x, txt);
	}
	if (json_object_is_type(v, json_type_array)) {
		struct json_object *a = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(v); i++)
			json_object_array_add(a, canonical_copy(json_object_array_get_idx(v, i)));
		return a;
	}
	return aios_json_copy(v);
}

struct json_object *aios_search_apply(struct json_object *spec, struct json_object *params,
                                      int64_t epochs, size_t trial)
{
	struct json_object *t = spec && json_object_is_type(spec, json_type_object)
	                            ? aios_json_copy(spec)
	                            : json_object_new_object();
	json_object_object_del(t, "search");
	for (size_t k = 0; params && k < N_FIELDS; k++) {
		struct json_object *v;
		if (json_object_object_get_ex(params, fields[k].name, &v))
			aios_json_set(t, fields[k].path, canonical_copy(v));
	}
	if (epochs > 0)
		aios_json_set(t, "optimizer.epochs", json_object_new_int64(epochs));
	const char *uri = aios_json_str(t, "output.uri");
	if (uri) {
		char *u = aios_search_trial_uri(uri, trial);
		aios_json_set(t, "output.uri", json_object_new_string(u));
		free(u);
	}
	struct json_object *rp = aios_json_lookup(t, "runPolicy");
	if (rp && json_object_is_type(rp, json_type_object)) {
		json_object_object_del(rp, "activeDeadlineSeconds");
		json_object_object_del(rp, "ttlSecondsAfterFinished");
		json_object_object_del(rp, "suspend");
	}
	return t;
}

/* ============================== deciding ============================== */

int aios_search_better(const struct aios_search *s, double a, double b)
{
	return s->maximize ? a > b : a < b;
}

static const char *const phase_names[] = {"Pending", "Running", "Succeeded", "Failed", "Stopped"};

const char *aios_search_phase_name(enum aios_search_phase p)
{
	return phase_names[p];
}

enum aios_search_phase aios_search_phase_parse(const char *s)
{
	for (size_t i = 0; s && i < sizeof(phase_names) / sizeof(phase_names[0]); i++)
		if (strcmp(s, phase_names[i]) == 0)
			return (enum aios_search_phase)i;
	return AIOS_TRIAL_PENDING;
}

static int ended(enum aios_search_phase p)
{
	return p == AIOS_TRIAL_SUCCEEDED || p == AIOS_TRIAL_FAILED || p == AIOS_TRIAL_STOPPED;
}

static int has_result(const struct aios_search_trial *t)
{
	return (t->phase == AIOS_TRIAL_SUCCEEDED || t->phase == AIOS_TRIAL_STOPPED) &&
	       t->has_objective;
}

static void add_start(struct aios_search_decision *d, size_t trial, long parent, size_t config,
                      int64_t epochs)
{
	d->start = aios_xrealloc(d->start, (d->n_start + 1) * sizeof(*d->start));
	d->start[d->n_start++] = (struct aios_search_start){trial, parent, config, epochs};
}

/* Indexes of trials [lo, hi) with a result, best first (ties: lower index). Returns count. */
static size_t rank(const struct aios_search *s, const struct aios_search_trial *t, size_t lo,
                   size_t hi, size_t *out)
{
	size_t n = 0;
	for (size_t i = lo; i < hi; i++) {
		if (!has_result(&t[i]))
			continue;
		size_t j = n++;
		while (j > 0 && aios_search_better(s, t[i].objective, t[out[j - 1]].objective)) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = i;
	}
	return n;
}

static long best_of(const struct aios_search *s, const struct aios_search_trial *t, size_t lo,
                    size_t hi)
{
	long best = -1;
	for (size_t i = lo; i < hi; i++)
		if (has_result(&t[i]) &&
		    (best < 0 || aios_search_better(s, t[i].objective, t[best].objective)))
			best = (long)i;
	return best;
}

/* Successive halving: rungs are contiguous runs of trials; rung r + 1 holds the best
 * min(rung_size[r + 1], results of rung r) of rung r, started once rung r has ended.
 * Only rung 0 can be partly started when the loop reaches it: a later rung is started
 * (up to parallelism) by the iteration of the rung before it. */
static void decide_halving(const struct aios_search *s, const struct aios_search_trial *t, size_t n,
                           size_t active, struct aios_search_decision *d)
{
	size_t *ranked = aios_xcalloc(n + 1, sizeof(*ranked));
	size_t lo = 0, size = s->rung_size[0];
	int64_t epochs = s->min_epochs;
	for (int r = 0;; r++) {
		size_t hi = lo + size;
		size_t have = n > lo ? (n - lo < size ? n - lo : size) : 0;
		long b = best_of(s, t, lo, lo + have);
		if (b >= 0)
			d->best = b; /* the highest rung with a result wins */
		if (have < size) {
			for (size_t i = n; i < hi && active < s->parallelism; i++, active++)
				add_start(d, i, -1, i, epochs);
			break;
		}
		int all_ended = 1;
		for (size_t i = lo; i < hi; i++)
			all_ended &= ended(t[i].phase);
		if (!all_ended)
			break;
		size_t nr = rank(s, t, lo, hi, ranked);
		size_t next = r + 1 < s->n_rungs ? s->rung_size[r + 1] : 0;
		if (next > nr)
			next = nr;
		if (next == 0) {
			d->done = 1;
			break;
		}
		for (size_t k = next; k < nr; k++) {
			if (t[ranked[k]].phase != AIOS_TRIAL_SUCCEEDED)
				continue;
			d->stop = aios_xrealloc(d->stop, (d->n_stop + 1) * sizeof(*d->stop));
			d->stop[d->n_stop++] = ranked[k];
		}
		size_t started = n > hi ? n - hi : 0;
		for (size_t k = started; k < next && active < s->parallelism; k++, active++)
			add_start(d, hi + k, (long)ranked[k], 0, epochs * s->eta);
		if (started < next)
			break;
		lo = hi;
		size = next;
		epochs *= s->eta;
	}
	free(ranked);
}

void aios_search_decide(const struct aios_search *s, const struct aios_search_trial *t, size_t n,
                        struct aios_search_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->best = -1;
	size_t active = 0;
	for (size_t i = 0; i < n; i++)
		if (!ended(t[i].phase))
			active++;
	if (s->algo == AIOS_SEARCH_HALVING) {
		decide_halving(s, t, n, active, d);
	} else {
		for (size_t i = n; i < s->trials && active < s->parallelism; i++, active++)
			add_start(d, i, -1, i, 0);
		d->best = best_of(s, t, 0, n);
		d->done = n >= s->trials && active == 0;
	}
	if (d->done) {
		d->all_failed = 1;
		for (size_t i = 0; i < n; i++)
			if (t[i].phase == AIOS_TRIAL_SUCCEEDED || t[i].phase == AIOS_TRIAL_STOPPED)
				d->all_failed = 0;
	}
}

void aios_search_decision_cleanup(struct aios_search_decision *d)
{
	free(d->start);
	free(d->stop);
	memset(d, 0, sizeof(*d));
}
