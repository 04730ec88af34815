/*
 * test_trainingjob_units.c - the job policy over units: a plain job's one gang planned
 * by aios_tj_gang_plan() alone (and what the gang leaves to the job policy), a grid
 * search whose trials are units of the job, and successive halving promoting the better
 * trial of a rung as a new unit that resumes from its checkpoints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "operator/search.h"
#include "operator/trainingjob.h"
#include "support/tj_cluster.h"

#define T0 1800000000 /* a fixed wall clock, Unix seconds */

static const char *label(struct json_object *o, const char *l)
{
	struct json_object *labels = aios_json_lookup(o, "metadata.labels"), *v;
	return labels && json_object_object_get_ex(labels, l, &v) ? json_object_get_string(v)
	                                                          : NULL;
}

/* Sets a pod's status: Running with an IP, or ended (exit code) with the trainer's final
 * line naming uri, epochs and val_loss. */
static void set_pod(struct json_object *pod, const char *phase, const char *uri, int epochs,
                    double val_loss)
{
	char buf[1024];
	if (strcmp(phase, "Running") == 0) {
		json_object_object_add(
		    pod, "status",
		    aios_tjc_parse("{\"phase\":\"Running\",\"podIP\":\"10.0.0.9\"}"));
		return;
	}
	char line[512];
	snprintf(line, sizeof(line),
	         "{\"artifact\":{\"uri\":\"%s\",\"sha256\":\"ab\",\"bytes\":10},\"epochs\":%d,"
	         "\"loss\":0.5,\"val_loss\":%.9g}",
	         uri, epochs, val_loss);
	struct json_object *m = json_object_new_string(line);
	snprintf(buf, sizeof(buf),
	         "{\"phase\":\"%s\",\"podIP\":\"10.0.0.9\",\"containerStatuses\":[{\"name\":"
	         "\"trainer\",\"state\":{\"terminated\":{\"exitCode\":%d,\"message\":%s}}}]}",
	         phase, strcmp(phase, "Succeeded") == 0 ? 0 : 1, json_object_to_json_string(m));
	json_object_put(m);
	json_object_object_add(pod, "status", aios_tjc_parse(buf));
}

/* A plain job's unit through the gang alone: rank 0 first, the rest once it has an IP,
 * Running with rank 0's metrics address, Succeeded with the artifact of the final line.
 * The job's deadline is the job policy's: the gang alone never applies it. */
START_TEST(plain_job_one_gang)
{
	struct json_object *job = aios_tjc_parse(
	    "{\"metadata\":{\"name\":\"tj\",\"namespace\":\"ns\",\"uid\":\"u1\",\"generation\":2},"
	    "\"spec\":{\"distributed\":{\"workers\":2},\"output\":{\"uri\":\"pvc://m/x.aios\"},"
	    "\"runPolicy\":{\"activeDeadlineSeconds\":1}}}");
	struct aios_tj_spec rs;
	ck_assert_int_eq(aios_tj_spec_parse(job, &rs), AIOS_OK);
	struct aios_tj_unit u;
	ck_assert_int_eq(aios_tj_unit_of_job(job, &rs, &u), AIOS_OK);
	u.output_uri = "pvc://m/x.aios";
	struct aios_tj_status st;
	aios_tj_status_decode(NULL, &st);
	struct aios_tj_plan p = {0};
	aios_tj_gang_plan(&u, &st, NULL, 0, T0, NULL, &p);
	ck_assert_uint_eq(p.n_create, 1);
	struct json_object *w0 = json_object_get(p.create[0]);
	ck_assert_str_eq(aios_json_str(w0, "metadata.name"), "tj-g2a0-w0");
	ck_assert_ptr_null(label(w0, AIOS_TJ_LABEL_TRIAL));
	ck_assert_int_eq(st.attempts, 1);
	ck_assert_int_eq(st.phase, AIOS_TJ_PHASE_PENDING);
	aios_tj_plan_cleanup(&p);

	set_pod(w0, "Running", NULL, 0, 0);
	aios_tj_gang_plan(&u, &st, &w0, 1, T0 + 100, NULL, &p);
	ck_assert_uint_eq(p.n_create, 1); /* rank 1, pointed at rank 0 */
	ck_assert_int_ne(st.phase, AIOS_TJ_PHASE_FAILED);
	struct json_object *pods[2] = {w0, json_object_get(p.create[0])};
	ck_assert_str_eq(aios_json_str(pods[1], "metadata.name"), "tj-g2a0-w1");
	aios_tj_plan_cleanup(&p);

	set_pod(pods[1], "Running", NULL, 0, 0);
	aios_tj_gang_plan(&u, &st, pods, 2, T0 + 101, NULL, &p);
	ck_assert_int_eq(st.phase, AIOS_TJ_PHASE_RUNNING);
	ck_assert_str_eq(p.scrape_addr, "10.0.0.9:9090");
	ck_assert_uint_eq(p.n_events, 1);
	ck_assert_str_eq(p.events[0].reason, "Running");
	aios_tj_plan_cleanup(&p);

	set_pod(pods[0], "Succeeded", "pvc://m/x.aios", 4, 0.25);
	set_pod(pods[1], "Succeeded", "pvc://m/x.aios", 4, 0.25);
	aios_tj_gang_plan(&u, &st, pods, 2, T0 + 102, NULL, &p);
	ck_assert_int_eq(st.phase, AIOS_TJ_PHASE_SUCCEEDED);
	ck_assert_str_eq(st.artifact.file.uri, "pvc://m/x.aios");
	ck_assert_int_eq(st.artifact.generation, 2);
	ck_assert_int_eq(st.progress.epochs, 4);
	ck_assert_uint_eq(p.n_events, 1);
	ck_assert_str_eq(p.events[0].reason, "AllWorkersSucceeded");
	aios_tj_plan_cleanup(&p);
	aios_tj_status_cleanup(&st);
	json_object_put(pods[0]);
	json_object_put(pods[1]);
	json_object_put(job);
}
END_TEST

/* A trial's unit: its pods and spec ConfigMap are the job's (label, owner), with the
 * trial's index; its events carry its name. */
START_TEST(trial_unit_children_are_the_jobs)
{
	struct json_object *job = aios_tjc_parse(
	    "{\"metadata\":{\"name\":\"tj\",\"namespace\":\"ns\",\"uid\":\"u1\",\"generation\":1},"
	    "\"spec\":{\"optimizer\":{\"epochs\":1}}}");
	struct json_object *spec = aios_tjc_parse("{\"optimizer\":{\"epochs\":7}}");
	struct aios_tj_spec rs;
	ck_assert_int_eq(aios_tj_spec_parse(job, &rs), AIOS_OK);
	struct aios_tj_unit u = {.job = job,
	                         .name = "tj-t3",
	                         .spec = spec,
	                         .rs = &rs,
	                         .generation = 1,
	                         .trial = 3,
	                         .spec_json_len = AIOS_TJ_SPEC_ENV_MAX + 1,
	                         .event_prefix = "trial t3: "};
	struct aios_tj_status st;
	aios_tj_status_decode(NULL, &st);
	struct aios_tj_plan p = {0};
	aios_tj_gang_plan(&u, &st, NULL, 0, T0, NULL, &p);
	ck_assert_uint_eq(p.n_create, 1);
	struct json_object *pod = p.create[0];
	ck_assert_str_eq(aios_json_str(pod, "metadata.name"), "tj-t3-g1a0-w0");
	ck_assert_str_eq(label(pod, AIOS_TJ_LABEL_JOB), "tj");
	ck_assert_str_eq(label(pod, AIOS_TJ_LABEL_TRIAL), "3");
	struct json_object *ref =
	    json_object_array_get_idx(aios_json_lookup(pod, "metadata.ownerReferences"), 0);
	ck_assert_str_eq(aios_json_str(ref, "name"), "tj");
	ck_assert_ptr_nonnull(p.configmap); /* the spec goes by ConfigMap: it is "large" */
	ck_assert_str_eq(aios_json_str(p.configmap, "metadata.name"), "tj-t3-spec-g1");
	ck_assert_str_eq(label(p.configmap, AIOS_TJ_LABEL_TRIAL), "3");
	struct json_object *data = aios_json_lookup(p.configmap, "data"), *text;
	ck_assert(json_object_object_get_ex(data, "spec.json", &text));
	struct json_object *cm_spec = aios_tjc_parse(json_object_get_string(text));
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(cm_spec, "optimizer.epochs")), 7);
	json_object_put(cm_spec);
	/* a second trial needing its own ConfigMap waits for the next pass */
	u.name = "tj-t4", u.trial = 4, u.event_prefix = "trial t4: ";
	struct aios_tj_status st4;
	aios_tj_status_decode(NULL, &st4);
	aios_tj_gang_plan(&u, &st4, NULL, 0, T0, NULL, &p);
	ck_assert_uint_eq(p.n_create, 1);
	ck_assert_int_eq(p.requeue_after_ms, 1000);
	aios_tj_plan_cleanup(&p);
	/* a pod that cannot pull its image: the event names the trial */
	struct json_object *w0 = aios_tjc_parse(
	    "{\"metadata\":{\"name\":\"tj-t3-g1a0-w0\",\"labels\":{\"aios.dev/generation\":\"1\","
	    "\"aios.dev/attempt\":\"0\",\"aios.dev/rank\":\"0\",\"aios.dev/trial\":\"3\"}},"
	    "\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"trainer\","
	    "\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\",\"message\":\"no image\"}}}]}}");
	u.name = "tj-t3", u.trial = 3, u.event_prefix = "trial t3: ";
	aios_tj_gang_plan(&u, &st, &w0, 1, T0 + 1, NULL, &p);
	ck_assert_uint_eq(p.n_events, 1);
	ck_assert_str_eq(p.events[0].reason, "ErrImagePull");
	ck_assert_ptr_eq(strstr(p.events[0].message, "trial t3: pod tj-t3-g1a0-w0"),
	                 p.events[0].message);
	aios_tj_plan_cleanup(&p);
	aios_tj_status_cleanup(&st);
	aios_tj_status_cleanup(&st4);
	json_object_put(w0);
	json_object_put(spec);
	json_object_put(job);
}
END_TEST

/* A distributed trial's pods mount the trial's own Secret, and that is the one rendered
 * for the name they mount (owned by the job). */
START_TEST(distributed_trial_secret)
{
	struct json_object *job =
	    aios_tjc_parse("{\"metadata\":{\"name\":\"tj\",\"namespace\":\"ns\",\"uid\":\"u1\"},"
	                   "\"spec\":{\"distributed\":{\"workers\":2}}}");
	struct aios_tj_spec rs;
	ck_assert_int_eq(aios_tj_spec_parse(job, &rs), AIOS_OK);
	struct aios_tj_unit u = {.job = job,
	                         .name = "tj-t3",
	                         .spec = aios_json_lookup(job, "spec"),
	                         .rs = &rs,
	                         .generation = 1,
	                         .trial = 3};
	struct json_object *pod, *sec;
	ck_assert_int_eq(aios_tj_unit_render_pod(&u, 0, 0, NULL, 0, &pod), AIOS_OK);
	const char *mounted = NULL;
	struct json_object *vols = aios_json_lookup(pod, "spec.volumes");
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		if (strcmp(aios_json_str(v, "name"), AIOS_TJ_SECRET_VOLUME) == 0)
			mounted = aios_json_str(v, "secret.secretName");
	}
	ck_assert_str_eq(mounted, "tj-t3-dist-g1-a0");
	ck_assert_int_eq(aios_tj_render_secret_named(job, mounted, "s3cret", &sec), AIOS_OK);
	ck_assert_str_eq(aios_json_str(sec, "metadata.name"), mounted);
	ck_assert_str_eq(label(sec, AIOS_TJ_LABEL_JOB), "tj");
	ck_assert_str_eq(aios_json_str(json_object_array_get_idx(
	                                   aios_json_lookup(sec, "metadata.ownerReferences"), 0),
	                               "name"),
	                 "tj");
	json_object_put(sec);
	json_object_put(pod);
	json_object_put(job);
}
END_TEST

/* Passes of the cluster: every new pod runs, every running pod ends with the validation
 * loss loss_of(trial) (trial t's learning rate decides it). */
static double loss_of(struct json_object *spec)
{
	double lr = json_object_get_double(aios_json_lookup(spec, "optimizer.learningRate"));
	return lr == 0.01 ? 0.1 : lr;
}

static void kubelet(struct aios_tjc *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct json_object *p = c->pods[i];
		const char *ph = aios_json_str(p, "status.phase");
		if (!ph) {
			set_pod(p, "Running", NULL, 0, 0);
		} else if (strcmp(ph, "Running") == 0) {
			struct json_object *spec = aios_tjc_pod_spec(p);
			set_pod(p, "Succeeded", aios_json_str(spec, "output.uri"),
			        json_object_get_int(aios_json_lookup(spec, "optimizer.epochs")),
			        loss_of(spec));
			json_object_put(spec);
		}
	}
}

static struct json_object *trial(struct aios_tjc *c, size_t i)
{
	struct json_object *t = aios_json_lookup(c->job, "status.trials");
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_lt(i, json_object_array_length(t));
	return json_object_array_get_idx(t, i);
}

/* A grid of three learning rates, two at a time: trials in grid order, each a unit with
 * its own pods; the best (lowest loss) wins and the job publishes its artifact. */
START_TEST(grid_search_units)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{\"optimizer\":{\"epochs\":2},\"output\":{\"uri\":\"pvc://m/x.aios\"},"
	                  "\"search\":{\"algorithm\":\"grid\",\"parallelism\":2,\"space\":{"
	                  "\"learningRate\":{\"values\":[0.5,0.01,0.2]}}}}");
	aios_tjc_step(&c, T0, NULL);
	ck_assert_uint_eq(c.plan.n_create, 2);
	ck_assert_str_eq(aios_json_str(c.plan.create[0], "metadata.name"), "tj-t0-g1a0-w0");
	ck_assert_str_eq(aios_json_str(c.plan.create[1], "metadata.name"), "tj-t1-g1a0-w0");
	ck_assert_str_eq(aios_json_str(c.job, "status.phase"), "Pending");
	ck_assert_ptr_null(aios_json_lookup(c.job, "status.attempts"));
	kubelet(&c); /* both run */
	aios_tjc_step(&c, T0 + 1, NULL);
	ck_assert_str_eq(aios_json_str(c.job, "status.phase"), "Running");
	ck_assert_str_eq(aios_json_str(trial(&c, 1), "phase"), "Running");
	ck_assert_uint_eq(c.plan.n_create, 0); /* parallelism 2 */
	kubelet(&c);                           /* both end */
	aios_tjc_step(&c, T0 + 2, NULL);
	ck_assert_str_eq(aios_json_str(trial(&c, 0), "phase"), "Succeeded");
	ck_assert_uint_eq(c.plan.n_create, 1);
	ck_assert_str_eq(aios_json_str(c.plan.create[0], "metadata.name"), "tj-t2-g1a0-w0");
	for (int i = 0; i < 3; i++) {
		kubelet(&c);
		aios_tjc_step(&c, T0 + 3 + i, NULL);
	}
	ck_assert_str_eq(aios_json_str(c.job, "status.phase"), "Succeeded");
	ck_assert_str_eq(aios_json_str(c.job, "status.best.trial"), "t1");
	ck_assert_double_eq_tol(
	    json_object_get_double(aios_json_lookup(c.job, "status.best.objective")), 0.1, 1e-12);
	ck_assert_str_eq(aios_json_str(c.job, "status.artifact.uri"), "pvc://m/x.trial-1.aios");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(c.job, "status.artifact.generation")),
	                 1);
	ck_assert_ptr_null(aios_json_lookup(c.job, "status.progress"));
	aios_tjc_free(&c);
}
END_TEST

/* Successive halving, 3 trials, reduction factor 2: rung 0 runs two configurations for
 * one epoch; the better is promoted as trial 2 with two epochs, resuming from its
 * checkpoints, the other is Stopped; the best is the promoted trial's result. */
START_TEST(halving_promotes_the_better_trial)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{\"optimizer\":{\"epochs\":9},\"output\":{\"uri\":\"pvc://m/x.aios\"},"
	                  "\"search\":{\"algorithm\":\"successive-halving\",\"trials\":3,"
	                  "\"reductionFactor\":2,\"minEpochs\":1,\"parallelism\":2,\"space\":{"
	                  "\"learningRate\":{\"values\":[0.01,0.5]}}}}");
	aios_tjc_step(&c, T0, NULL);
	ck_assert_uint_eq(c.plan.n_create, 2);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(trial(&c, 0), "epochs")), 1);
	double lr0 =
	    json_object_get_double(aios_json_lookup(trial(&c, 0), "parameters.learningRate"));
	double lr1 =
	    json_object_get_double(aios_json_lookup(trial(&c, 1), "parameters.learningRate"));
	size_t better = lr0 == 0.01 ? 0 : 1;
	ck_assert(lr0 == 0.01 || lr1 == 0.01);
	kubelet(&c);
	aios_tjc_step(&c, T0 + 1, NULL);
	kubelet(&c);
	aios_tjc_step(&c, T0 + 2, NULL); /* rung 0 done: promotion */
	ck_assert_str_eq(aios_json_str(trial(&c, 1 - better), "phase"), "Stopped");
	ck_assert_str_eq(aios_json_str(trial(&c, 1 - better), "reason"), "NotPromoted");
	ck_assert_str_eq(aios_json_str(trial(&c, better), "phase"), "Succeeded");
	struct json_object *t2 = trial(&c, 2);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(t2, "epochs")), 2);
	ck_assert(aios_json_equal(aios_json_lookup(t2, "parameters"),
	                          aios_json_lookup(trial(&c, better), "parameters")));
	ck_assert_uint_eq(c.plan.n_create, 1);
	struct json_object *spec = aios_tjc_pod_spec(c.plan.create[0]);
	char want[64];
	snprintf(want, sizeof(want), "pvc://m/x.trial-%zu.aios.ckpt", better);
	ck_assert_str_eq(aios_json_str(spec, "checkpoint.resumeFrom"), want);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(spec, "optimizer.epochs")), 2);
	ck_assert_str_eq(aios_json_str(spec, "output.uri"), "pvc://m/x.trial-2.aios");
	json_object_put(spec);
	for (int i = 0; i < 3; i++) {
		kubelet(&c);
		aios_tjc_step(&c, T0 + 3 + i, NULL);
	}
	ck_assert_str_eq(aios_json_str(c.job, "status.phase"), "Succeeded");
	ck_assert_str_eq(aios_json_str(c.job, "status.best.trial"), "t2");
	ck_assert_str_eq(aios_json_str(c.job, "status.artifact.uri"), "pvc://m/x.trial-2.aios");
	aios_tjc_free(&c);
}
END_TEST

static Suite *units_suite(void)
{
	Suite *s = suite_create("trainingjob_units");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, plain_job_one_gang);
	tcase_add_test(tc, trial_unit_children_are_the_jobs);
	tcase_add_test(tc, distributed_trial_secret);
	tcase_add_test(tc, grid_search_units);
	tcase_add_test(tc, halving_promotes_the_better_trial);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(units_suite)
