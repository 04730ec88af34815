/*
 * test_search.c - spec.search: parsing, the three algorithms' samples and decisions,
 * and the trial's spec (search.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "operator/search.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(s, strlen(s), "test", &o), AIOS_OK);
	return o;
}

static void parse_ok(const char *json, struct aios_search *s)
{
	struct json_object *o = parse(json);
	enum aios_err e = aios_search_parse(o, s);
	ck_assert_msg(e == AIOS_OK, "%s: %s", json, aios_errmsg());
	json_object_put(o); /* s keeps its own references */
}

/* Expects json refused with a message that contains want. */
static void parse_bad(const char *json, const char *want)
{
	struct json_object *o = parse(json);
	struct aios_search s;
	ck_assert_int_eq(aios_search_parse(o, &s), AIOS_ERR_INVALID);
	ck_assert_msg(strstr(aios_errmsg(), want), "%s: message \"%s\" lacks \"%s\"", json,
	              aios_errmsg(), want);
	json_object_put(o);
}

static double num(struct json_object *params, const char *name)
{
	struct json_object *v;
	ck_assert_msg(json_object_object_get_ex(params, name, &v), "no %s", name);
	return json_object_get_double(v);
}

START_TEST(defaults_and_objective)
{
	struct aios_search s;
	parse_ok("{\"space\":{\"learningRate\":{\"min\":0.001,\"max\":0.1}}}", &s);
	ck_assert_int_eq(s.algo, AIOS_SEARCH_RANDOM);
	ck_assert_uint_eq(s.trials, AIOS_SEARCH_DEFAULT_TRIALS);
	ck_assert_uint_eq(s.parallelism, 1);
	ck_assert_int_eq(s.dims[0].log, 1); /* learningRate defaults to a log scale */
	ck_assert_int_eq(s.maximize, 0);
	aios_search_cleanup(&s);
	parse_ok("{\"objective\":{\"metric\":\"accuracy\"},\"space\":{\"weightDecay\":{\"min\":0,"
	         "\"max\":0.1}}}",
	         &s);
	ck_assert_int_eq(s.maximize, 1);
	ck_assert_int_eq(s.accuracy, 1);
	ck_assert_int_eq(s.dims[0].log, 0); /* weightDecay defaults to linear */
	ck_assert(aios_search_better(&s, 0.9, 0.8));
	aios_search_cleanup(&s);
	parse_ok("{\"objective\":{\"metric\":\"validationLoss\",\"goal\":\"maximize\"},"
	         "\"space\":{\"activation\":{\"values\":[\"relu\"]}}}",
	         &s);
	ck_assert_int_eq(s.maximize, 1);
	aios_search_cleanup(&s);
}
END_TEST

/* The accuracy objective needs a model that classifies, and a strategy that reports it. */
START_TEST(accuracy_needs_a_classifier)
{
	static const struct {
		const char *spec;
		int ok;
		const char *why;
	} cases[] = {
	    {"{\"model\":{\"type\":\"mlp\"}}", 0, "spec.loss is mse by default (a mlp model"},
	    {"{}", 0, "spec.loss is mse by default (a linear model"},
	    {"{\"model\":{\"type\":\"logistic\"},\"loss\":\"mse\"}", 0, "spec.loss is mse ("},
	    {"{\"model\":{\"type\":\"logistic\"}}", 1, NULL},
	    {"{\"model\":{\"type\":\"softmax\",\"outputs\":3}}", 1, NULL},
	    {"{\"model\":{\"type\":\"mlp\"},\"loss\":\"cross_entropy\"}", 1, NULL},
	    {"{\"model\":{\"type\":\"mlp\"},\"loss\":\"hinge\",\"distributed\":{\"workers\":2}}", 1,
	     NULL},
	    {"{\"model\":{\"type\":\"mlp\"},\"loss\":\"cross_entropy\",\"distributed\":{"
	     "\"workers\":2,\"strategy\":\"pipeline\"}}",
	     0, "distributed.strategy pipeline"},
	};
	struct aios_search acc, val;
	parse_ok("{\"objective\":{\"metric\":\"accuracy\"},\"space\":{\"learningRate\":{"
	         "\"values\":[0.1]}}}",
	         &acc);
	parse_ok("{\"space\":{\"learningRate\":{\"values\":[0.1]}}}", &val);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *spec = json_tokener_parse(cases[i].spec);
		ck_assert_ptr_nonnull(spec);
		/* validationLoss suits every model */
		ck_assert_int_eq(aios_search_check_spec(&val, spec), AIOS_OK);
		enum aios_err e = aios_search_check_spec(&acc, spec);
		if (cases[i].ok) {
			ck_assert_msg(e == AIOS_OK, "%s refused: %s", cases[i].spec, aios_errmsg());
		} else {
			ck_assert_msg(e == AIOS_ERR_INVALID, "%s accepted", cases[i].spec);
			ck_assert_msg(strstr(aios_errmsg(), "spec.search.objective.metric") &&
			                  strstr(aios_errmsg(), cases[i].why),
			              "%s: message \"%s\" lacks \"%s\"", cases[i].spec,
			              aios_errmsg(), cases[i].why);
		}
		json_object_put(spec);
	}
	aios_search_cleanup(&acc);
	aios_search_cleanup(&val);
}
END_TEST

START_TEST(bad_specs_are_named)
{
	parse_bad("{}", "spec.search.space");
	parse_bad("{\"space\":{}}", "names no field");
	parse_bad("{\"space\":{\"dropout\":{\"values\":[0.1]}}}", "spec.search.space.dropout");
	parse_bad("{\"algorithm\":\"bayes\",\"space\":{\"hidden\":{\"values\":[[4]]}}}",
	          "algorithm");
	parse_bad("{\"space\":{\"learningRate\":{\"min\":0.1,\"max\":0.01}}}", "above max");
	parse_bad("{\"space\":{\"learningRate\":{\"min\":0,\"max\":0.01}}}", "learningRate");
	parse_bad("{\"space\":{\"weightDecay\":{\"min\":0,\"max\":0.1,\"scale\":\"log\"}}}",
	          "log scale");
	parse_bad("{\"space\":{\"batchSize\":{\"values\":[1.5]}}}", "batchSize.values[0]");
	parse_bad("{\"space\":{\"hidden\":{\"values\":[[4,0]]}}}", "hidden.values[0][1]");
	parse_bad("{\"space\":{\"activation\":{\"values\":[\"gelu\"]}}}", "activation.values[0]");
	parse_bad("{\"space\":{\"hidden\":{\"min\":1,\"max\":2}}}", "hidden.values: required");
	parse_bad("{\"space\":{\"momentum\":{\"values\":[1.0]}}}", "momentum.values[0]");
	parse_bad("{\"parallelism\":0,\"space\":{\"activation\":{\"values\":[\"relu\"]}}}",
	          "parallelism");
	parse_bad(
	    "{\"objective\":{\"goal\":\"up\"},\"space\":{\"activation\":{\"values\":[\"relu\"]}}}",
	    "goal");
}
END_TEST

/* Grid: every combination once, last field fastest; ranges split into gridPoints. */
START_TEST(grid_enumerates)
{
	struct aios_search s;
	parse_ok(
	    "{\"algorithm\":\"grid\",\"space\":{\"learningRate\":{\"min\":0.001,\"max\":0.1},"
	    "\"hidden\":{\"values\":[[4],[8,8]]},\"activation\":{\"values\":[\"relu\",\"tanh\"]}}}",
	    &s);
	ck_assert_uint_eq(s.trials, 3 * 2 * 2);
	char seen[12][128];
	for (size_t i = 0; i < s.trials; i++) {
		struct json_object *p = aios_search_sample(&s, i);
		snprintf(seen[i], sizeof(seen[i]), "%s",
		         json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(seen[i], seen[j]) != 0,
			              "grid point %zu repeats %zu: %s", i, j, seen[i]);
		json_object_put(p);
	}
	/* the log range's three points are 0.001, 0.01, 0.1; activation is fastest */
	struct json_object *p0 = aios_search_sample(&s, 0), *p1 = aios_search_sample(&s, 1),
	                   *p4 = aios_search_sample(&s, 4), *p8 = aios_search_sample(&s, 8);
	ck_assert_double_eq_tol(num(p0, "learningRate"), 0.001, 1e-12);
	ck_assert_double_eq_tol(num(p4, "learningRate"), 0.01, 1e-12);
	ck_assert_double_eq_tol(num(p8, "learningRate"), 0.1, 1e-12);
	ck_assert_str_eq(aios_json_str(p0, "activation"), "relu");
	ck_assert_str_eq(aios_json_str(p1, "activation"), "tanh");
	ck_assert_str_eq(
	    json_object_to_json_string_ext(aios_json_lookup(p0, "hidden"), JSON_C_TO_STRING_PLAIN),
	    "[4]");
	json_object_put(p0);
	json_object_put(p1);
	json_object_put(p4);
	json_object_put(p8);
	aios_search_cleanup(&s);

	/* trials cuts the grid; a linear integer range is rounded */
	parse_ok("{\"algorithm\":\"grid\",\"trials\":2,\"gridPoints\":4,\"space\":{\"batchSize\":"
	         "{\"min\":1,\"max\":10,\"scale\":\"linear\"}}}",
	         &s);
	ck_assert_uint_eq(s.trials, 2);
	struct json_object *q = aios_search_sample(&s, 1);
	ck_assert(json_object_is_type(aios_json_lookup(q, "batchSize"), json_type_int));
	ck_assert_int_eq((int)num(q, "batchSize"), 4);
	json_object_put(q);
	aios_search_cleanup(&s);
}
END_TEST

/* Random: the same seed gives the same draws; draws stay inside their ranges. */
START_TEST(random_reproducible_and_in_range)
{
	struct aios_search a, b, c;
	const char *sp = "\"space\":{\"learningRate\":{\"min\":0.0001,\"max\":1},\"batchSize\":"
	                 "{\"min\":8,\"max\":512},\"weightDecay\":{\"min\":0,\"max\":0.01},"
	                 "\"hidden\":{\"values\":[[4],[16],[64]]}}}";
	char buf[512];
	snprintf(buf, sizeof(buf), "{\"seed\":42,%s", sp);
	parse_ok(buf, &a);
	parse_ok(buf, &b);
	snprintf(buf, sizeof(buf), "{\"seed\":43,%s", sp);
	parse_ok(buf, &c);
	int differs = 0;
	for (size_t i = 0; i < 200; i++) {
		struct json_object *x = aios_search_sample(&a, i), *y = aios_search_sample(&b, i),
		                   *z = aios_search_sample(&c, i);
		ck_assert(aios_json_equal(x, y));
		differs += !aios_json_equal(x, z);
		double lr = num(x, "learningRate"), bs = num(x, "batchSize"),
		       wd = num(x, "weightDecay");
		ck_assert(lr >= 0.0001 && lr <= 1);
		ck_assert(bs >= 8 && bs <= 512 && bs == floor(bs));
		ck_assert(wd >= 0 && wd <= 0.01);
		json_object_put(x);
		json_object_put(y);
		json_object_put(z);
	}
	ck_assert_int_ge(differs, 190);
	aios_search_cleanup(&a);
	aios_search_cleanup(&b);
	aios_search_cleanup(&c);
}
END_TEST

/* A log range is uniform in log(value): as many draws in [1e-4, 1e-2) as in [1e-2, 1]. */
START_TEST(log_scale_respected)
{
	struct aios_search s;
	parse_ok("{\"seed\":7,\"space\":{\"learningRate\":{\"min\":0.0001,\"max\":1}}}", &s);
	int low = 0, n = 4000;
	for (int i = 0; i < n; i++) {
		struct json_object *x = aios_search_sample(&s, (size_t)i);
		low += num(x, "learningRate") < 0.01;
		json_object_put(x);
	}
	/* linear sampling would put ~1% there; log sampling 50% (+-4% is > 5 sigma) */
	ck_assert_msg(low > n * 46 / 100 && low < n * 54 / 100, "%d of %d below 0.01", low, n);
	aios_search_cleanup(&s);
	parse_ok("{\"seed\":7,\"space\":{\"learningRate\":{\"min\":0.0001,\"max\":1,\"scale\":"
	         "\"linear\"}}}",
	         &s);
	low = 0;
	for (int i = 0; i < n; i++) {
		struct json_object *x = aios_search_sample(&s, (size_t)i);
		low += num(x, "learningRate") < 0.01;
		json_object_put(x);
	}
	ck_assert_int_lt(low, n * 3 / 100);
	aios_search_cleanup(&s);
}
END_TEST

START_TEST(apply_makes_a_plain_spec)
{
	struct json_object *spec = parse(
	    "{\"model\":{\"type\":\"mlp\",\"hidden\":[2]},\"optimizer\":{\"learningRate\":0.5,"
	    "\"epochs\":9},"
	    "\"output\":{\"uri\":\"pvc://models/run/model.aios\"},\"runPolicy\":{\"suspend\":true,"
	    "\"activeDeadlineSeconds\":60,\"ttlSecondsAfterFinished\":5,\"backoffLimit\":1},"
	    "\"search\":{\"space\":{\"learningRate\":{\"values\":[0.1]}}}}");
	struct json_object *params =
	    parse("{\"learningRate\":0.01,\"hidden\":[16,8],\"activation\":\"tanh\"}");
	struct json_object *t = aios_search_apply(spec, params, 3, 4);
	ck_assert_ptr_null(aios_json_lookup(t, "search"));
	ck_assert_double_eq(json_object_get_double(aios_json_lookup(t, "optimizer.learningRate")),
	                    0.01);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(t, "optimizer.epochs")), 3);
	ck_assert_str_eq(json_object_to_json_string_ext(aios_json_lookup(t, "model.hidden"),
	                                                JSON_C_TO_STRING_PLAIN),
	                 "[16,8]");
	ck_assert_str_eq(aios_json_str(t, "model.activation"), "tanh");
	ck_assert_str_eq(aios_json_str(t, "model.type"), "mlp");
	ck_assert_str_eq(aios_json_str(t, "output.uri"), "pvc://models/run/model.trial-4.aios");
	ck_assert_ptr_null(aios_json_lookup(t, "runPolicy.suspend"));
	ck_assert_ptr_null(aios_json_lookup(t, "runPolicy.activeDeadlineSeconds"));
	ck_assert_ptr_null(aios_json_lookup(t, "runPolicy.ttlSecondsAfterFinished"));
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(t, "runPolicy.backoffLimit")), 1);
	/* the job's spec is untouched */
	ck_assert_double_eq(
	    json_object_get_double(aios_json_lookup(spec, "optimizer.learningRate")), 0.5);
	ck_assert_ptr_nonnull(aios_json_lookup(spec, "search"));
	json_object_put(t);
	t = aios_search_apply(spec, params, 0, 0); /* epochs 0: the spec's */
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(t, "optimizer.epochs")), 9);
	json_object_put(t);
	json_object_put(params);
	json_object_put(spec);

	char *u;
	ck_assert_str_eq(u = aios_search_trial_uri("file:///m/out", 2), "file:///m/out.trial-2");
	free(u);
	ck_assert_str_eq(u = aios_search_trial_uri("pvc://c.d/x.y/m.aios", 10),
	                 "pvc://c.d/x.y/m.trial-10.aios");
	free(u);
	ck_assert_str_eq(u = aios_search_trial_uri("file:///m/.hidden", 1),
	                 "file:///m/.hidden.trial-1");
	free(u);
}
END_TEST

static void set(struct aios_search_trial *t, enum aios_search_phase p, double obj)
{
	t->phase = p;
	t->has_objective = p == AIOS_TRIAL_SUCCEEDED;
	t->objective = obj;
}

/* Random (and grid): at most parallelism at once, done when all ended, best by goal. */
START_TEST(random_decisions)
{
	struct aios_search s;
	parse_ok("{\"trials\":6,\"parallelism\":2,\"space\":{\"learningRate\":{\"min\":0.001,"
	         "\"max\":0.1}}}",
	         &s);
	struct aios_search_trial t[6] = {0};
	struct aios_search_decision d;
	aios_search_decide(&s, t, 0, &d);
	ck_assert_uint_eq(d.n_start, 2);
	ck_assert_uint_eq(d.start[0].trial, 0);
	ck_assert_uint_eq(d.start[1].trial, 1);
	ck_assert_int_eq(d.start[1].parent, -1);
	ck_assert_uint_eq(d.start[1].config, 1);
	ck_assert_int_eq(d.done, 0);
	aios_search_decision_cleanup(&d);

	set(&t[0], AIOS_TRIAL_RUNNING, 0);
	set(&t[1], AIOS_TRIAL_PENDING, 0);
	aios_search_decide(&s, t, 2, &d);
	ck_assert_uint_eq(d.n_start, 0); /* two active: no room */
	aios_search_decision_cleanup(&d);

	set(&t[0], AIOS_TRIAL_SUCCEEDED, 0.5);
	aios_search_decide(&s, t, 2, &d);
	ck_assert_uint_eq(d.n_start, 1);
	ck_assert_uint_eq(d.start[0].trial, 2);
	aios_search_decision_cleanup(&d);

	set(&t[1], AIOS_TRIAL_FAILED, 0);
	set(&t[2], AIOS_TRIAL_SUCCEEDED, 0.25);
	set(&t[3], AIOS_TRIAL_SUCCEEDED, 0.75);
	set(&t[4], AIOS_TRIAL_FAILED, 0);
	set(&t[5], AIOS_TRIAL_RUNNING, 0);
	aios_search_decide(&s, t, 6, &d);
	ck_assert_uint_eq(d.n_start, 0);
	ck_assert_int_eq(d.done, 0);
	aios_search_decision_cleanup(&d);

	set(&t[5], AIOS_TRIAL_SUCCEEDED, 0.3);
	aios_search_decide(&s, t, 6, &d);
	ck_assert_int_eq(d.done, 1);
	ck_assert_int_eq(d.all_failed, 0); /* failed trials do not fail the search */
	ck_assert_int_eq(d.best, 2);
	aios_search_decision_cleanup(&d);

	s.maximize = 1;
	aios_search_decide(&s, t, 6, &d);
	ck_assert_int_eq(d.best, 3);
	aios_search_decision_cleanup(&d);

	for (int i = 0; i < 6; i++)
		set(&t[i], AIOS_TRIAL_FAILED, 0);
	aios_search_decide(&s, t, 6, &d);
	ck_assert_int_eq(d.done, 1);
	ck_assert_int_eq(d.all_failed, 1);
	ck_assert_int_eq(d.best, -1);
	aios_search_decision_cleanup(&d);
	aios_search_cleanup(&s);
}
END_TEST

/* Successive halving: 10 trials, eta 3 -> rungs of 8 and 2; the best two of rung 0
 * (failed ones excluded) get 3x the epochs, the other six are stopped. */
START_TEST(halving_promotes_the_best)
{
	struct aios_search s;
	parse_ok("{\"algorithm\":\"successive-halving\",\"trials\":10,\"parallelism\":8,"
	         "\"minEpochs\":2,\"space\":{\"learningRate\":{\"min\":0.001,\"max\":0.1}}}",
	         &s);
	ck_assert_int_eq(s.n_rungs, 2);
	ck_assert_uint_eq(s.rung_size[0], 8);
	ck_assert_uint_eq(s.rung_size[1], 2);
	struct aios_search_trial t[10] = {0};
	struct aios_search_decision d;
	aios_search_decide(&s, t, 0, &d);
	ck_assert_uint_eq(d.n_start, 8);
	for (size_t i = 0; i < 8; i++) {
		ck_assert_int_eq(d.start[i].parent, -1);
		ck_assert_int_eq(d.start[i].epochs, 2);
	}
	aios_search_decision_cleanup(&d);

	/* objectives: trial 5 best, then trial 2; trial 0 (would be best) failed */
	const double obj[8] = {0.01, 0.9, 0.2, 0.8, 0.7, 0.1, 0.6, 0.5};
	for (int i = 0; i < 8; i++)
		set(&t[i], i == 0 ? AIOS_TRIAL_FAILED : AIOS_TRIAL_SUCCEEDED, obj[i]);
	set(&t[7], AIOS_TRIAL_RUNNING, 0);
	aios_search_decide(&s, t, 8, &d);
	ck_assert_uint_eq(d.n_start, 0); /* the rung has not ended */
	ck_assert_uint_eq(d.n_stop, 0);
	aios_search_decision_cleanup(&d);

	set(&t[7], AIOS_TRIAL_SUCCEEDED, 0.5);
	aios_search_decide(&s, t, 8, &d);
	ck_assert_uint_eq(d.n_start, 2);
	ck_assert_uint_eq(d.start[0].trial, 8);
	ck_assert_int_eq(d.start[0].parent, 5);
	ck_assert_int_eq(d.start[1].parent, 2);
	ck_assert_int_eq(d.start[0].epochs, 6);
	ck_assert_uint_eq(d.n_stop, 5); /* 1, 3, 4, 6, 7 (0 failed) */
	for (size_t k = 0; k < d.n_stop; k++)
		ck_assert(d.stop[k] != 5 && d.stop[k] != 2 && d.stop[k] != 0);
	ck_assert_int_eq(d.done, 0);
	aios_search_decision_cleanup(&d);

	int stopped[] = {1, 3, 4, 6, 7};
	for (size_t k = 0; k < 5; k++)
		t[stopped[k]].phase = AIOS_TRIAL_STOPPED;
	set(&t[8], AIOS_TRIAL_SUCCEEDED, 0.15);
	set(&t[9], AIOS_TRIAL_SUCCEEDED, 0.05);
	aios_search_decide(&s, t, 10, &d);
	ck_assert_uint_eq(d.n_start, 0);
	ck_assert_uint_eq(d.n_stop, 0);
	ck_assert_int_eq(d.done, 1);
	ck_assert_int_eq(d.best, 9); /* the best of the last rung */
	aios_search_decision_cleanup(&d);

	/* a rung 0 where every trial failed ends the search, all failed */
	for (int i = 0; i < 8; i++)
		set(&t[i], AIOS_TRIAL_FAILED, 0);
	aios_search_decide(&s, t, 8, &d);
	ck_assert_int_eq(d.done, 1);
	ck_assert_int_eq(d.all_failed, 1);
	aios_search_decision_cleanup(&d);
	aios_search_cleanup(&s);
}
END_TEST

/*
 * The same value renders the same spec text however it came: drawn (a new double, which
 * json-c writes with 17 digits) or read back from status.trials (the API server's
 * shortest form; json-c re-emits a parsed number's own text). The trainer fingerprints its
 * checkpoints by that text, so a promoted trial must render what its parent rendered, or it
 * trains from scratch (found end to end: tests/e2e/test_search_halving.sh).
 */
START_TEST(apply_renders_a_value_one_way)
{
	struct json_object *spec = parse("{\"model\":{\"type\":\"mlp\"},\"optimizer\":{"
	                                 "\"beta1\":0.9},\"output\":{\"uri\":\"file:///m.aios\"}}");
	struct json_object *drawn = json_object_new_object();
	json_object_object_add(drawn, "learningRate", json_object_new_double(0.16962819898945131));
	json_object_object_add(drawn, "momentum", json_object_new_double(0.5));
	struct json_object *from[] = {
	    drawn,
	    parse("{\"learningRate\":0.1696281989894513,\"momentum\":0.5}"),   /* Go's form */
	    parse("{\"learningRate\":0.16962819898945131,\"momentum\":5e-1}"), /* 17 digits */
	    parse("{\"learningRate\":1.696281989894513e-1,\"momentum\":0.50}"),
	};
	char *want = NULL;
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		struct json_object *t = aios_search_apply(spec, from[i], 0, 1);
		const char *js = json_object_to_json_string_ext(t, JSON_C_TO_STRING_PLAIN);
		if (!want)
			want = strdup(js);
		else
			ck_assert_msg(strcmp(js, want) == 0, "parameters %zu render\n%s\nnot\n%s",
			              i, js, want);
		ck_assert_double_eq(
		    json_object_get_double(aios_json_lookup(t, "optimizer.learningRate")),
		    0.16962819898945131);
		json_object_put(t);
		json_object_put(from[i]);
	}
	ck_assert_msg(strstr(want, "\"learningRate\":0.1696281989894513,") &&
	                  strstr(want, "\"momentum\":0.5"),
	              "not the shortest form: %s", want);
	free(want);
	json_object_put(spec);
}
END_TEST

static Suite *search_suite(void)
{
	Suite *s = suite_create("search");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, defaults_and_objective);
	tcase_add_test(tc, bad_specs_are_named);
	tcase_add_test(tc, accuracy_needs_a_classifier);
	tcase_add_test(tc, grid_enumerates);
	tcase_add_test(tc, random_reproducible_and_in_range);
	tcase_add_test(tc, log_scale_respected);
	tcase_add_test(tc, apply_makes_a_plain_spec);
	tcase_add_test(tc, apply_renders_a_value_one_way);
	tcase_add_test(tc, random_decisions);
	tcase_add_test(tc, halving_promotes_the_best);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(search_suite)
