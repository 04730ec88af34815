/*
 * test_search_plan.c - a TrainingJob with spec.search through aios_tj_plan(): the test
 * keeps the "cluster" (the job and its pods), applies each plan, and plays the kubelet:
 * pods run, then end with the trainer's termination message, whose validation loss is a
 * known function of the trial's parameters (read back from the pod's AIOS_SPEC).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "operator/search.h"
#include "operator/trainingjob.h"
#include "support/tj_cluster.h"

#define T0 1800000000 /* a fixed wall clock, Unix seconds */

struct cluster {
	struct aios_tjc k; /* the job, its pods, the last plan */
	int ips;
	int max_active_trials; /* most trials with live pods seen at once */
	int fail_trial[16];    /* 1: that trial's pods exit 1 */
};

static void cluster_init(struct cluster *c, const char *spec_json)
{
	memset(c, 0, sizeof(*c));
	aios_tjc_init(&c->k, spec_json);
}

static int label(struct json_object *pod, const char *l)
{
	struct json_object *labels = aios_json_lookup(pod, "metadata.labels"), *v;
	ck_assert_msg(labels && json_object_object_get_ex(labels, l, &v), "pod %s lacks label %s",
	              aios_json_str(pod, "metadata.name"), l);
	return (int)strtol(json_object_get_string(v), NULL, 10);
}

static int pod_live(struct json_object *pod)
{
	const char *ph = aios_json_str(pod, "status.phase");
	return !ph || (strcmp(ph, "Succeeded") != 0 && strcmp(ph, "Failed") != 0);
}

/* Plans at time now and applies the plan; counts the trials with live pods. */
static void step(struct cluster *c, time_t now)
{
	aios_tjc_step(&c->k, now, NULL);
	/* never more than parallelism trials with live pods */
	int active[64] = {0}, n_active = 0;
	for (size_t i = 0; i < c->k.n; i++) {
		int t = label(c->k.pods[i], AIOS_SEARCH_LABEL_TRIAL);
		if (pod_live(c->k.pods[i]) && t < 64 && !active[t]++)
			n_active++;
	}
	if (n_active > c->max_active_trials)
		c->max_active_trials = n_active;
}

/* The validation loss a trial reaches: best at learning rate 0.01 and small hidden layers. */
static double loss_of(struct json_object *spec)
{
	double lr = json_object_get_double(aios_json_lookup(spec, "optimizer.learningRate"));
	struct json_object *h = aios_json_lookup(spec, "model.hidden");
	double w = h ? json_object_get_double(json_object_array_get_idx(h, 0)) : 0;
	return fabs(log10(lr) + 2) + w / 1000;
}

/* The validation accuracy a classification trial reaches: mostly a matter of width
 * (best with 64 units), so the best trial by accuracy is not the best by loss. */
static double accuracy_of(struct json_object *spec)
{
	double lr = json_object_get_double(aios_json_lookup(spec, "optimizer.learningRate"));
	struct json_object *h = aios_json_lookup(spec, "model.hidden");
	double w = h ? json_object_get_double(json_object_array_get_idx(h, 0)) : 0;
	return 0.5 + w / 200 - fabs(log10(lr) + 2) / 20;
}

/* One kubelet pass: new pods start (with an IP), running pods end; a classification
 * trial (spec.loss cross_entropy) also reports val_accuracy. */
static void kubelet(struct cluster *c)
{
	for (size_t i = 0; i < c->k.n; i++) {
		struct json_object *p = c->k.pods[i];
		const char *ph = aios_json_str(p, "status.phase");
		char buf[2048];
		if (!ph) {
			snprintf(buf, sizeof(buf),
			         "{\"phase\":\"Running\",\"podIP\":\"10.244.0.%d\"}", ++c->ips);
			json_object_object_add(p, "status", aios_tjc_parse(buf));
		} else if (strcmp(ph, "Running") == 0) {
			struct json_object *spec = aios_tjc_pod_spec(p);
			int t = label(p, AIOS_SEARCH_LABEL_TRIAL),
			    fail = t < 16 && c->fail_trial[t];
			const char *uri = aios_json_str(spec, "output.uri");
			const char *loss = aios_json_str(spec, "loss");
			char msg[512], acc[64] = "";
			if (loss && strcmp(loss, "cross_entropy") == 0)
				snprintf(acc, sizeof(acc),
				         ",\"accuracy\":0.99,\"val_accuracy\":%.9g",
				         accuracy_of(spec));
			snprintf(msg, sizeof(msg),
			         "{\"artifact\":{\"uri\":\"%s\",\"sha256\":\"ab%d\",\"bytes\":100},"
			         "\"epochs\":%d,"
			         "\"loss\":0.5,\"val_loss\":%.9g%s}",
			         uri ? uri : "model.aios", t,
			         json_object_get_int(aios_json_lookup(spec, "optimizer.epochs")),
			         loss_of(spec), acc);
			struct json_object *m = json_object_new_string(fail ? "diverged" : msg);
			snprintf(
			    buf, sizeof(buf),
			    "{\"phase\":\"%s\",\"podIP\":\"%s\",\"containerStatuses\":[{\"name\":"
			    "\"trainer\",\"state\":{\"terminated\":{\"exitCode\":%d,\"message\":%s}"
			    "}}]}",
			    fail ? "Failed" : "Succeeded", aios_json_str(p, "status.podIP"), fail,
			    json_object_to_json_string(m));
			json_object_put(m);
			json_object_put(spec);
			json_object_object_add(p, "status", aios_tjc_parse(buf));
		}
	}
}

/* Steps and kubelet passes until the job ends (or steps run out). */
static void run(struct cluster *c, time_t *now, int max_steps)
{
	for (int i = 0; i < max_steps; i++) {
		step(c, (*now)++);
		const char *ph = aios_json_str(c->k.job, "status.phase");
		if (ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0))
			return;
		kubelet(c);
	}
}

static struct json_object *trial(struct cluster *c, size_t i)
{
	struct json_object *t = aios_json_lookup(c->k.job, "status.trials");
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_lt(i, json_object_array_length(t));
	return json_object_array_get_idx(t, i);
}

static size_t n_trials(struct cluster *c)
{
	struct json_object *t = aios_json_lookup(c->k.job, "status.trials");
	return t ? json_object_array_length(t) : 0;
}

static const char *cond_reason(struct cluster *c, const char *type)
{
	struct json_object *conds = aios_json_lookup(c->k.job, "status.conditions");
	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		struct json_object *x = json_object_array_get_idx(conds, i);
		if (strcmp(aios_json_str(x, "type"), type) == 0 &&
		    strcmp(aios_json_str(x, "status"), "True") == 0)
			return aios_json_str(x, "reason");
	}
	return NULL;
}

/* status.best names trial `best` with objective obj, and the job publishes its artifact. */
static void assert_best(struct cluster *c, size_t best, double obj)
{
	char bn[16];
	snprintf(bn, sizeof(bn), "t%zu", best);
	ck_assert_str_eq(aios_json_str(c->k.job, "status.best.trial"), bn);
	ck_assert_double_eq_tol(
	    json_object_get_double(aios_json_lookup(c->k.job, "status.best.objective")), obj,
	    1e-12);
	ck_assert_str_eq(aios_json_str(c->k.job, "status.artifact.uri"),
	                 aios_json_str(trial(c, best), "artifact.uri"));
}

#define RANDOM6                                                                                    \
	"{\"model\":{\"type\":\"mlp\",\"hidden\":[8]},\"optimizer\":{\"epochs\":5},"               \
	"\"output\":{\"uri\":\"pvc://models/m.aios\"},\"runPolicy\":{\"backoffLimit\":0},"         \
	"\"search\":{\"algorithm\":\"random\",\"seed\":3,\"trials\":6,\"parallelism\":2,"          \
	"\"space\":{\"learningRate\":{\"min\":0.0001,\"max\":1},\"hidden\":{\"values\":[[2],[16]," \
	"[64]]}}}}"

/* 6 random trials, 2 at a time: all recorded, the best picked, its artifact published. */
START_TEST(random_six_by_two)
{
	struct cluster c;
	cluster_init(&c, RANDOM6);
	time_t now = T0;
	step(&c, now++);
	ck_assert_uint_eq(c.k.plan.n_create, 2); /* rank 0 of trials 0 and 1 */
	struct json_object *p0 = c.k.plan.create[0];
	ck_assert_str_eq(aios_json_str(p0, "metadata.name"), "tj-t0-g1a0-w0");
	ck_assert_int_eq(label(p0, AIOS_SEARCH_LABEL_TRIAL), 0);
	ck_assert_int_eq(label(c.k.plan.create[1], AIOS_SEARCH_LABEL_TRIAL), 1);
	struct json_object *labels = aios_json_lookup(p0, "metadata.labels"), *v;
	ck_assert(json_object_object_get_ex(labels, AIOS_TJ_LABEL_JOB, &v));
	ck_assert_str_eq(json_object_get_string(v), "tj");
	struct json_object *ref =
	    json_object_array_get_idx(aios_json_lookup(p0, "metadata.ownerReferences"), 0);
	ck_assert_str_eq(aios_json_str(ref, "name"), "tj");
	ck_assert_str_eq(aios_json_str(ref, "uid"), "uid-1");
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Pending");
	ck_assert_uint_eq(n_trials(&c), 2);
	ck_assert_str_eq(aios_json_str(trial(&c, 0), "name"), "t0");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(trial(&c, 1), "index")), 1);
	ck_assert_ptr_null(aios_json_lookup(trial(&c, 0), "completionTime"));

	run(&c, &now, 100);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Succeeded");
	ck_assert_str_eq(cond_reason(&c, "Succeeded"), "SearchSucceeded");
	ck_assert_int_eq(c.max_active_trials, 2);
	ck_assert_uint_eq(n_trials(&c), 6);
	size_t best = 0;
	double best_obj = INFINITY;
	for (size_t i = 0; i < 6; i++) {
		struct json_object *t = trial(&c, i);
		ck_assert_str_eq(aios_json_str(t, "phase"), "Succeeded");
		ck_assert_ptr_nonnull(aios_json_str(t, "completionTime"));
		ck_assert_ptr_nonnull(aios_json_str(t, "startTime"));
		double lr = json_object_get_double(aios_json_lookup(t, "parameters.learningRate"));
		ck_assert(lr >= 0.0001 && lr <= 1);
		char want[64];
		snprintf(want, sizeof(want), "pvc://models/m.trial-%zu.aios", i);
		ck_assert_str_eq(aios_json_str(t, "artifact.uri"), want);
		double obj = json_object_get_double(aios_json_lookup(t, "objective"));
		struct json_object *fake = json_object_new_object();
		aios_json_set(fake, "optimizer.learningRate", json_object_new_double(lr));
		aios_json_set(fake, "model.hidden",
		              aios_json_copy(aios_json_lookup(t, "parameters.hidden")));
		ck_assert_double_eq_tol(obj, loss_of(fake), 1e-6);
		json_object_put(fake);
		ck_assert_double_eq_tol(
		    json_object_get_double(aios_json_lookup(t, "validationLoss")), obj, 1e-12);
		ck_assert_int_eq(json_object_get_int(aios_json_lookup(t, "epochs")), 5);
		if (obj < best_obj) {
			best_obj = obj;
			best = i;
		}
	}
	assert_best(&c, best, best_obj);
	ck_assert(aios_json_equal(aios_json_lookup(c.k.job, "status.best.parameters"),
	                          aios_json_lookup(trial(&c, best), "parameters")));
	ck_assert_str_eq(aios_json_str(c.k.job, "status.artifact.uri"),
	                 aios_json_str(trial(&c, best), "artifact.uri"));
	ck_assert_int_eq(
	    json_object_get_int(aios_json_lookup(c.k.job, "status.artifact.generation")), 1);

	/* level-based: planning again changes nothing */
	step(&c, now + 100);
	ck_assert_int_eq(c.k.plan.status_changed, 0);
	ck_assert_uint_eq(c.k.plan.n_create, 0);
	aios_tjc_free(&c.k);
}
END_TEST

/* The accuracy objective: each trial's validation accuracy recorded, the highest wins
 * (not the lowest loss); a regression model is refused before any pod exists. */
START_TEST(accuracy_objective_maximized)
{
	struct cluster c;
	cluster_init(&c, RANDOM6); /* with a classification loss and the accuracy objective */
	aios_json_set(c.k.job, "spec.loss", json_object_new_string("cross_entropy"));
	aios_json_set(c.k.job, "spec.search.objective.metric", json_object_new_string("accuracy"));
	time_t now = T0;
	run(&c, &now, 100);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Succeeded");
	ck_assert_uint_eq(n_trials(&c), 6);
	size_t best_acc = 0, best_loss = 0;
	double max_acc = -1, min_loss = INFINITY;
	for (size_t i = 0; i < 6; i++) {
		struct json_object *t = trial(&c, i);
		ck_assert_str_eq(aios_json_str(t, "phase"), "Succeeded");
		struct json_object *fake = json_object_new_object();
		aios_json_set(fake, "optimizer.learningRate",
		              aios_json_copy(aios_json_lookup(t, "parameters.learningRate")));
		aios_json_set(fake, "model.hidden",
		              aios_json_copy(aios_json_lookup(t, "parameters.hidden")));
		double acc = json_object_get_double(aios_json_lookup(t, "accuracy"));
		double obj = json_object_get_double(aios_json_lookup(t, "objective"));
		ck_assert_double_eq_tol(acc, accuracy_of(fake), 1e-6); /* val_accuracy, not 0.99 */
		ck_assert_double_eq_tol(obj, acc, 1e-12);
		double loss = json_object_get_double(aios_json_lookup(t, "validationLoss"));
		ck_assert_double_eq_tol(loss, loss_of(fake), 1e-6);
		json_object_put(fake);
		if (acc > max_acc)
			max_acc = acc, best_acc = i;
		if (loss < min_loss)
			min_loss = loss, best_loss = i;
	}
	ck_assert_uint_ne(best_acc, best_loss); /* the two objectives disagree here */
	assert_best(&c, best_acc, max_acc);
	/* the end names the metric */
	ck_assert_ptr_nonnull(
	    strstr(json_object_to_json_string(aios_json_lookup(c.k.job, "status.conditions")),
	           "accuracy"));
	aios_tjc_free(&c.k);

	/* the same search of a regression model (mlp, mse by default) */
	cluster_init(&c, RANDOM6);
	aios_json_set(c.k.job, "spec.search.objective.metric", json_object_new_string("accuracy"));
	step(&c, T0);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Failed");
	ck_assert_str_eq(cond_reason(&c, "Failed"), "InvalidSpec");
	ck_assert_uint_eq(c.k.plan.n_create, 0);
	ck_assert_uint_eq(n_trials(&c), 0);
	struct json_object *conds = aios_json_lookup(c.k.job, "status.conditions");
	ck_assert_ptr_nonnull(
	    strstr(json_object_to_json_string(conds), "accuracy needs a classification model"));
	aios_tjc_free(&c.k);
}
END_TEST

/* Failed trials are recorded and do not fail the search; all failing does. */
START_TEST(failed_trials)
{
	struct cluster c;
	cluster_init(&c, RANDOM6);
	c.fail_trial[1] = c.fail_trial[3] = 1;
	time_t now = T0;
	run(&c, &now, 100);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Succeeded");
	ck_assert_str_eq(aios_json_str(trial(&c, 1), "phase"), "Failed");
	ck_assert_ptr_nonnull(strstr(aios_json_str(trial(&c, 1), "message"), "exit code 1"));
	ck_assert_ptr_null(aios_json_lookup(trial(&c, 1), "objective"));
	ck_assert_str_eq(aios_json_str(trial(&c, 3), "phase"), "Failed");
	const char *b = aios_json_str(c.k.job, "status.best.trial");
	ck_assert(strcmp(b, "t1") != 0 && strcmp(b, "t3") != 0);
	aios_tjc_free(&c.k);

	cluster_init(&c, RANDOM6);
	for (int i = 0; i < 6; i++)
		c.fail_trial[i] = 1;
	now = T0;
	run(&c, &now, 100);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Failed");
	ck_assert_str_eq(cond_reason(&c, "Failed"), "AllTrialsFailed");
	ck_assert_uint_eq(n_trials(&c), 6);
	ck_assert_ptr_null(aios_json_lookup(c.k.job, "status.artifact"));
	aios_tjc_free(&c.k);
}
END_TEST

/* Suspend deletes every pod and holds the search; resume goes on with the same trials. */
START_TEST(suspend_and_resume)
{
	struct cluster c;
	cluster_init(&c, RANDOM6);
	time_t now = T0;
	step(&c, now++);
	kubelet(&c); /* both running */
	step(&c, now++);
	ck_assert_str_eq(aios_json_str(trial(&c, 0), "phase"), "Running");
	struct json_object *params0 = aios_json_copy(aios_json_lookup(trial(&c, 0), "parameters"));
	aios_json_set(c.k.job, "spec.runPolicy.suspend", json_object_new_boolean(1));
	step(&c, now++);
	ck_assert_uint_eq(c.k.n, 0);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Suspended");
	ck_assert_str_eq(aios_json_str(trial(&c, 0), "phase"), "Pending");
	step(&c, now++);
	ck_assert_uint_eq(c.k.plan.n_create, 0);
	aios_json_set(c.k.job, "spec.runPolicy.suspend", json_object_new_boolean(0));
	step(&c, now++);
	ck_assert_uint_eq(c.k.plan.n_create, 2);
	ck_assert_uint_eq(n_trials(&c), 2);
	ck_assert(aios_json_equal(params0, aios_json_lookup(trial(&c, 0), "parameters")));
	run(&c, &now, 100);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Succeeded");
	ck_assert_uint_eq(n_trials(&c), 6);
	json_object_put(params0);
	aios_tjc_free(&c.k);
}
END_TEST

/* A distributed trial: rank 0 first, rank 1 once rank 0 has an IP; both in the trial. */
START_TEST(distributed_trials)
{
	struct cluster c;
	cluster_init(
	    &c, "{\"distributed\":{\"workers\":2},\"output\":{\"uri\":\"pvc://m/x\"},"
	        "\"search\":{\"algorithm\":\"grid\",\"parallelism\":1,\"space\":{\"learningRate\":"
	        "{\"values\":[0.1,0.01]}}}}");
	time_t now = T0;
	step(&c, now++);
	ck_assert_uint_eq(c.k.plan.n_create, 1);
	kubelet(&c);
	step(&c, now++);
	ck_assert_uint_eq(c.k.plan.n_create, 1);
	ck_assert_str_eq(aios_json_str(c.k.plan.create[0], "metadata.name"), "tj-t0-g1a0-w1");
	ck_assert_int_eq(label(c.k.plan.create[0], AIOS_SEARCH_LABEL_TRIAL), 0);
	run(&c, &now, 50);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Succeeded");
	ck_assert_uint_eq(n_trials(&c), 2);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.best.trial"), "t1"); /* lr 0.01 is best */
	ck_assert_str_eq(aios_json_str(c.k.job, "status.artifact.uri"), "pvc://m/x.trial-1");
	ck_assert_int_eq(c.max_active_trials, 1);
	aios_tjc_free(&c.k);
}
END_TEST

/* Successive halving through the controller: rung 0 of 3 trials at 2 epochs, the best
 * one again at 4 epochs; the others Stopped. */
START_TEST(halving_through_the_plan)
{
	struct cluster c;
	cluster_init(&c,
	             "{\"output\":{\"uri\":\"pvc://m/x.aios\"},\"search\":{\"algorithm\":"
	             "\"successive-halving\",\"trials\":4,\"reductionFactor\":2,\"minEpochs\":2,"
	             "\"parallelism\":3,\"seed\":1,\"space\":{\"learningRate\":{\"min\":0.0001,"
	             "\"max\":1}}}}");
	time_t now = T0;
	run(&c, &now, 60);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Succeeded");
	ck_assert_uint_eq(n_trials(&c), 4);
	size_t best0 = 0;
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(json_object_get_int(aios_json_lookup(trial(&c, i), "epochs")), 2);
		if (json_object_get_double(aios_json_lookup(trial(&c, i), "objective")) <
		    json_object_get_double(aios_json_lookup(trial(&c, best0), "objective")))
			best0 = i;
	}
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(aios_json_str(trial(&c, i), "phase"),
		                 i == best0 ? "Succeeded" : "Stopped");
	for (size_t i = 0; i < 3; i++)
		if (i != best0)
			ck_assert_str_eq(aios_json_str(trial(&c, i), "reason"), "NotPromoted");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(trial(&c, 3), "epochs")), 4);
	ck_assert(aios_json_equal(aios_json_lookup(trial(&c, 3), "parameters"),
	                          aios_json_lookup(trial(&c, best0), "parameters")));
	ck_assert_str_eq(aios_json_str(c.k.job, "status.best.trial"), "t3");
	/* the promoted trial continues from its rung-0 run's checkpoints; rung 0 starts afresh */
	char from[64];
	snprintf(from, sizeof(from), "pvc://m/x.trial-%zu.aios.ckpt", best0);
	int seen = 0;
	for (size_t i = 0; i < c.k.n; i++) {
		struct json_object *spec = aios_tjc_pod_spec(c.k.pods[i]);
		const char *rf = aios_json_str(spec, "checkpoint.resumeFrom");
		if (label(c.k.pods[i], AIOS_SEARCH_LABEL_TRIAL) == 3) {
			ck_assert_msg(rf && strcmp(rf, from) == 0,
			              "trial 3 resumes from %s, not %s", rf ? rf : "(nothing)",
			              from);
			seen++;
		} else {
			ck_assert_ptr_null(rf);
		}
		json_object_put(spec);
	}
	ck_assert_int_eq(seen, 1);
	aios_tjc_free(&c.k);
}
END_TEST

/* A new spec generation starts a new search; a bad search space fails the job by name. */
START_TEST(new_generation_and_invalid)
{
	struct cluster c;
	cluster_init(&c, RANDOM6);
	time_t now = T0;
	run(&c, &now, 100);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Succeeded");
	json_object_object_add(aios_json_lookup(c.k.job, "metadata"), "generation",
	                       json_object_new_int64(2));
	step(&c, now++);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Pending");
	ck_assert_uint_eq(n_trials(&c), 2);
	ck_assert_ptr_null(aios_json_lookup(c.k.job, "status.best"));
	ck_assert_ptr_null(aios_json_lookup(c.k.job, "status.artifact"));
	ck_assert_str_eq(aios_json_str(c.k.plan.create[0], "metadata.name"), "tj-t0-g2a0-w0");
	aios_tjc_free(&c.k);

	cluster_init(&c, "{\"search\":{\"space\":{\"learningRate\":{\"min\":1,\"max\":0.5}}}}");
	step(&c, T0);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Failed");
	ck_assert_str_eq(cond_reason(&c, "Failed"), "InvalidSpec");
	ck_assert_uint_eq(c.k.plan.n_create, 0);
	aios_tjc_free(&c.k);
}
END_TEST

/* A trial's pod that cannot start: the reason is recorded on the trial, reported once. */
START_TEST(waiting_reason_reported_once)
{
	struct cluster c;
	cluster_init(&c, RANDOM6);
	step(&c, T0);
	struct json_object *p = aios_tjc_pod(&c.k, "tj-t0-g1a0-w0");
	ck_assert_ptr_nonnull(p);
	json_object_object_add(
	    p, "status",
	    aios_tjc_parse("{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":"
	                   "\"trainer\",\"state\":{\"waiting\":{\"reason\":"
	                   "\"ImagePullBackOff\",\"message\":\"no such image\"}}}]}"));
	step(&c, T0 + 1);
	ck_assert_uint_eq(c.k.plan.n_events, 1);
	ck_assert_str_eq(c.k.plan.events[0].reason, "ImagePullBackOff");
	ck_assert_ptr_nonnull(strstr(c.k.plan.events[0].message, "trial t0: "));
	ck_assert_str_eq(aios_json_str(trial(&c, 0), "reason"), "ImagePullBackOff");
	ck_assert_ptr_nonnull(strstr(aios_json_str(trial(&c, 0), "message"), "no such image"));
	step(&c, T0 + 2);
	ck_assert_uint_eq(c.k.plan.n_events, 0);
	ck_assert_int_eq(c.k.plan.status_changed, 0);
	kubelet(&c); /* it starts after all */
	json_object_object_add(p, "status",
	                       aios_tjc_parse("{\"phase\":\"Running\",\"podIP\":\"10.244.0.99\"}"));
	step(&c, T0 + 3);
	ck_assert_str_eq(aios_json_str(trial(&c, 0), "phase"), "Running");
	ck_assert_ptr_null(aios_json_lookup(trial(&c, 0), "reason"));
	aios_tjc_free(&c.k);
}
END_TEST

/* Specs too large for the environment go in a ConfigMap per trial, one per pass: a
 * trial's pod is never created before its ConfigMap. */
START_TEST(large_specs_one_configmap_per_pass)
{
	struct cluster c;
	cluster_init(&c, "{\"search\":{\"trials\":2,\"parallelism\":2,\"space\":{\"learningRate\":"
	                 "{\"values\":[0.1,0.01]}}}}");
	struct json_object *feats = json_object_new_array(), *labels = json_object_new_array();
	for (int i = 0; i < 4000; i++) {
		struct json_object *row = json_object_new_array();
		json_object_array_add(row, json_object_new_double(i * 0.001));
		json_object_array_add(feats, row);
		json_object_array_add(labels, json_object_new_double(i * 0.002));
	}
	aios_json_set(c.k.job, "spec.data.inline.features", feats);
	aios_json_set(c.k.job, "spec.data.inline.labels", labels);
	step(&c, T0);
	ck_assert_ptr_nonnull(c.k.plan.configmap);
	ck_assert_str_eq(aios_json_str(c.k.plan.configmap, "metadata.name"), "tj-t0-spec-g1");
	ck_assert_uint_eq(c.k.plan.n_create, 1);
	ck_assert_int_eq(label(c.k.plan.create[0], AIOS_SEARCH_LABEL_TRIAL), 0);
	ck_assert_int_gt(c.k.plan.requeue_after_ms, 0);
	step(&c, T0 + 1);
	ck_assert_ptr_nonnull(c.k.plan.configmap);
	ck_assert_str_eq(aios_json_str(c.k.plan.configmap, "metadata.name"), "tj-t1-spec-g1");
	ck_assert_uint_eq(c.k.plan.n_create, 1);
	ck_assert_int_eq(label(c.k.plan.create[0], AIOS_SEARCH_LABEL_TRIAL), 1);
	struct json_object *l = aios_json_lookup(c.k.plan.configmap, "metadata.labels"), *v;
	ck_assert(json_object_object_get_ex(l, AIOS_TJ_LABEL_JOB, &v));
	ck_assert_str_eq(json_object_get_string(v), "tj");
	aios_tjc_free(&c.k);
}
END_TEST

/* activeDeadlineSeconds bounds the whole search: unfinished trials are Stopped, their
 * pods deleted, the job Failed; the trials do not carry the deadline themselves. */
START_TEST(deadline_over_the_whole_search)
{
	struct cluster c;
	cluster_init(&c, RANDOM6);
	aios_json_set(c.k.job, "spec.runPolicy.activeDeadlineSeconds", json_object_new_int(60));
	step(&c, T0);
	ck_assert_uint_eq(c.k.n, 2);
	struct json_object *spec = aios_tjc_pod_spec(c.k.pods[0]);
	ck_assert_ptr_null(aios_json_lookup(spec, "runPolicy.activeDeadlineSeconds"));
	json_object_put(spec);
	ck_assert_int_eq(c.k.plan.requeue_after_ms, 60000);
	kubelet(&c);
	step(&c, T0 + 30);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Running");
	step(&c, T0 + 60);
	ck_assert_str_eq(aios_json_str(c.k.job, "status.phase"), "Failed");
	ck_assert_str_eq(cond_reason(&c, "Failed"), "DeadlineExceeded");
	ck_assert_str_eq(aios_json_str(trial(&c, 0), "phase"), "Stopped");
	ck_assert_str_eq(aios_json_str(trial(&c, 1), "phase"), "Stopped");
	ck_assert_str_eq(aios_json_str(trial(&c, 1), "reason"), "DeadlineExceeded");
	ck_assert_uint_eq(c.k.n, 0);
	ck_assert_uint_eq(n_trials(&c), 2);
	aios_tjc_free(&c.k);
}
END_TEST

static Suite *search_plan_suite(void)
{
	Suite *s = suite_create("search_plan");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, random_six_by_two);
	tcase_add_test(tc, accuracy_objective_maximized);
	tcase_add_test(tc, failed_trials);
	tcase_add_test(tc, suspend_and_resume);
	tcase_add_test(tc, distributed_trials);
	tcase_add_test(tc, halving_through_the_plan);
	tcase_add_test(tc, new_generation_and_invalid);
	tcase_add_test(tc, waiting_reason_reported_once);
	tcase_add_test(tc, large_specs_one_configmap_per_pass);
	tcase_add_test(tc, deadline_over_the_whole_search);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(search_plan_suite)
