/*
 * test_trainingjob_status.c - the TrainingJob state machine (aios_tj_plan), driven the
 * way the controller drives it: the test keeps the "cluster" (the job and its pods),
 * applies each plan to it, and plays the kubelet by writing pod phases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/clock.h"
#include "common/json.h"
#include "operator/trainingjob.h"
#include "support/tj_cluster.h"

#define T0 1800000000 /* a fixed wall clock, Unix seconds */

static int has_event(struct aios_tjc *c, const char *reason)
{
	for (size_t i = 0; i < c->plan.n_events; i++)
		if (strcmp(c->plan.events[i].reason, reason) == 0)
			return 1;
	return 0;
}

static const char *event_msg(struct aios_tjc *c, const char *reason)
{
	for (size_t i = 0; i < c->plan.n_events; i++)
		if (strcmp(c->plan.events[i].reason, reason) == 0)
			return c->plan.events[i].message;
	return "";
}

static void step(struct aios_tjc *c, time_t now)
{
	aios_tjc_step(c, now, NULL);
}

static void kubelet(struct aios_tjc *c, const char *name, const char *phase, const char *ip,
                    int exit_code, const char *message)
{
	struct json_object *p = aios_tjc_pod(c, name);
	ck_assert_msg(p != NULL, "no pod %s", name);
	char buf[2048];
	struct json_object *msg = json_object_new_string(message ? message : "");
	const char *mq = json_object_to_json_string(msg);
	if (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)
		snprintf(buf, sizeof(buf),
		         "{\"phase\":\"%s\",\"podIP\":\"%s\",\"containerStatuses\":[{\"name\":"
		         "\"trainer\",\"state\":{\"terminated\":{\"exitCode\":%d,\"reason\":\"%s\","
		         "\"message\":%s}}}]}",
		         phase, ip, exit_code, exit_code ? "Error" : "Completed", mq);
	else
		snprintf(buf, sizeof(buf), "{\"phase\":\"%s\",\"podIP\":\"%s\"}", phase, ip);
	json_object_put(msg);
	json_object_object_add(p, "status", aios_tjc_parse(buf));
}

static const char *phase(struct aios_tjc *c)
{
	return aios_json_str(c->job, "status.phase");
}

static int64_t sint(struct aios_tjc *c, const char *path)
{
	int64_t v = -1;
	ck_assert_int_eq(aios_json_get_int(c->job, path, &v), AIOS_OK);
	return v;
}

static const char *cond(struct aios_tjc *c, const char *type, const char *field)
{
	struct json_object *conds = aios_json_lookup(c->job, "status.conditions");
	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		struct json_object *x = json_object_array_get_idx(conds, i);
		if (strcmp(aios_json_str(x, "type"), type) == 0)
			return aios_json_str(x, field);
	}
	return NULL;
}

static int terminal_conditions(struct aios_tjc *c)
{
	int n = 0;
	const char *s = cond(c, "Succeeded", "status"), *f = cond(c, "Failed", "status");
	n += s && strcmp(s, "True") == 0;
	n += f && strcmp(f, "True") == 0;
	ck_assert_int_le((s != NULL) + (f != NULL), 1);
	return n;
}

static void set_gen(struct aios_tjc *c, int64_t gen)
{
	json_object_object_add(aios_json_lookup(c->job, "metadata"), "generation",
	                       json_object_new_int64(gen));
}

/* A 2-worker job: rank 0 first, rank 1 once rank 0 has an IP, Running, Succeeded. */
START_TEST(two_workers_happy_path)
{
	struct aios_tjc c;
	aios_tjc_init(&c,
	              "{\"distributed\":{\"workers\":2},\"output\":{\"uri\":\"pvc://m/x.aios\"}}");
	step(&c, T0);
	ck_assert_uint_eq(c.plan.n_create, 1);
	ck_assert_str_eq(aios_json_str(c.plan.create[0], "metadata.name"), "tj-g1a0-w0");
	ck_assert_str_eq(phase(&c), "Pending");
	ck_assert_int_eq(sint(&c, "status.attempts"), 1);
	ck_assert_int_eq(sint(&c, "status.observedGeneration"), 1);
	ck_assert_ptr_nonnull(aios_json_str(c.job, "status.startTime"));
	ck_assert_str_eq(cond(&c, "Created", "status"), "True");

	step(&c, T0 + 1); /* no IP yet: nothing more, nothing changed */
	ck_assert_uint_eq(c.plan.n_create, 0);
	ck_assert_int_eq(c.plan.status_changed, 0);

	kubelet(&c, "tj-g1a0-w0", "Running", "10.244.0.7", 0, NULL);
	step(&c, T0 + 2);
	ck_assert_uint_eq(c.plan.n_create, 1);
	ck_assert_str_eq(aios_json_str(c.plan.create[0], "metadata.name"), "tj-g1a0-w1");
	ck_assert_str_eq(phase(&c), "Pending");
	ck_assert_int_eq(sint(&c, "status.workers.active"), 2);

	kubelet(&c, "tj-g1a0-w1", "Running", "10.244.0.8", 0, NULL);
	struct aios_tj_progress pr = {.have_epoch = 1,
	                              .epoch = 2,
	                              .have_epochs = 1,
	                              .epochs = 8,
	                              .have_loss = 1,
	                              .loss = 0.5,
	                              .have_val_acc = 1,
	                              .val_acc = 0.75};
	aios_tjc_step(&c, T0 + 10, &pr);
	ck_assert_str_eq(phase(&c), "Running");
	ck_assert(has_event(&c, "Running"));
	ck_assert_str_eq(cond(&c, "Running", "status"), "True");
	ck_assert_str_eq(c.plan.scrape_addr, "10.244.0.7:9090");
	ck_assert_int_eq(c.plan.requeue_after_ms, AIOS_TJ_PROGRESS_PERIOD_MS);
	ck_assert_int_eq(sint(&c, "status.progress.epoch"), 2);
	ck_assert_int_eq(sint(&c, "status.progress.percent"), 25);
	ck_assert_double_eq_tol(
	    json_object_get_double(aios_json_lookup(c.job, "status.progress.accuracy")), 0.75,
	    1e-12);
	ck_assert_int_eq(sint(&c, "status.progress.etaSeconds"),
	                 30); /* 10 s for 2 epochs, 6 left */
	ck_assert_int_eq(sint(&c, "status.workers.active"), 2);
	const char *ltt = cond(&c, "Running", "lastTransitionTime");
	char saved[32];
	snprintf(saved, sizeof(saved), "%s", ltt);

	aios_tjc_step(&c, T0 + 20, &pr); /* same progress, later: transition time kept */
	ck_assert_str_eq(cond(&c, "Running", "lastTransitionTime"), saved);
	ck_assert(!has_event(&c, "Running"));

	kubelet(&c, "tj-g1a0-w1", "Succeeded", "10.244.0.8", 0, "done");
	step(&c, T0 + 30);
	ck_assert_str_eq(phase(&c), "Running"); /* rank 0 still runs */
	kubelet(
	    &c, "tj-g1a0-w0", "Succeeded", "10.244.0.7", 0,
	    "epoch 8 loss 0.01\n{\"uri\":\"pvc://m/x.aios\",\"sha256\":\"abc\",\"bytes\":1234}\n");
	step(&c, T0 + 40);
	ck_assert_str_eq(phase(&c), "Succeeded");
	ck_assert_int_eq(terminal_conditions(&c), 1);
	ck_assert_str_eq(cond(&c, "Succeeded", "status"), "True");
	ck_assert_str_eq(cond(&c, "Running", "status"), "False");
	ck_assert_ptr_nonnull(aios_json_str(c.job, "status.completionTime"));
	ck_assert_str_eq(aios_json_str(c.job, "status.artifact.uri"), "pvc://m/x.aios");
	ck_assert_str_eq(aios_json_str(c.job, "status.artifact.sha256"), "abc");
	ck_assert_int_eq(sint(&c, "status.artifact.bytes"), 1234);
	ck_assert_int_eq(sint(&c, "status.artifact.generation"), 1);
	ck_assert_int_eq(sint(&c, "status.workers.succeeded"), 2);
	ck_assert(has_event(&c, "AllWorkersSucceeded"));
	ck_assert_uint_eq(c.plan.n_remove, 0); /* cleanPodPolicy Running: finished pods stay */
	ck_assert_uint_eq(c.n, 2);

	step(&c, T0 + 50); /* finished and quiet */
	ck_assert_int_eq(c.plan.status_changed, 0);
	ck_assert_uint_eq(c.plan.n_create + c.plan.n_remove + c.plan.n_events, 0);
	ck_assert_int_eq(c.plan.requeue_after_ms, 0);
	aios_tjc_free(&c);
}
END_TEST

/* A failing rank restarts the whole gang as attempt + 1 until backoffLimit. */
START_TEST(failing_rank_restarts_gang_then_fails)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{\"distributed\":{\"workers\":2},\"runPolicy\":{\"backoffLimit\":1}}");
	step(&c, T0);
	kubelet(&c, "tj-g1a0-w0", "Running", "10.0.0.1", 0, NULL);
	step(&c, T0 + 1);
	kubelet(&c, "tj-g1a0-w1", "Failed", "10.0.0.2", 3,
	        "loading data\nerror: no such file x.csv\n");
	step(&c, T0 + 2);
	ck_assert_str_eq(phase(&c), "Restarting");
	ck_assert_int_eq(sint(&c, "status.attempts"), 2);
	ck_assert_uint_eq(c.plan.n_remove, 2);
	ck_assert_uint_eq(c.plan.n_create, 1);
	ck_assert_str_eq(aios_json_str(c.plan.create[0], "metadata.name"), "tj-g1a1-w0");
	ck_assert(has_event(&c, "Restarting"));
	const char *m = event_msg(&c, "Restarting");
	ck_assert_ptr_nonnull(strstr(m, "rank 1"));
	ck_assert_ptr_nonnull(strstr(m, "exit code 3"));
	ck_assert_ptr_nonnull(strstr(m, "error: no such file x.csv"));
	ck_assert_str_eq(cond(&c, "Restarting", "status"), "True");
	ck_assert_uint_eq(c.n, 1);

	kubelet(&c, "tj-g1a1-w0", "Running", "10.0.0.3", 0, NULL);
	step(&c, T0 + 3);
	ck_assert_str_eq(aios_json_str(c.plan.create[0], "metadata.name"), "tj-g1a1-w1");
	struct json_object *env = aios_json_lookup(
	    json_object_array_get_idx(aios_json_lookup(c.plan.create[0], "spec.containers"), 0),
	    "env");
	int saw = 0;
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		struct json_object *e = json_object_array_get_idx(env, i);
		if (strcmp(aios_json_str(e, "name"), "AIOS_COORDINATOR") == 0) {
			ck_assert_str_eq(aios_json_str(e, "value"), "10.0.0.3:29500");
			saw++;
		}
		if (strcmp(aios_json_str(e, "name"), "AIOS_ATTEMPT") == 0) {
			ck_assert_str_eq(aios_json_str(e, "value"), "1");
			saw++;
		}
	}
	ck_assert_int_eq(saw, 2);
	kubelet(&c, "tj-g1a1-w1", "Running", "10.0.0.4", 0, NULL);
	step(&c, T0 + 4);
	ck_assert_str_eq(phase(&c), "Running");
	ck_assert_str_eq(cond(&c, "Restarting", "status"), "False");

	kubelet(&c, "tj-g1a1-w0", "Failed", "10.0.0.3", 137, "OOMKilled");
	step(&c, T0 + 5);
	ck_assert_str_eq(phase(&c), "Failed");
	ck_assert_int_eq(terminal_conditions(&c), 1);
	ck_assert_str_eq(cond(&c, "Failed", "reason"), "BackoffLimitExceeded");
	ck_assert_ptr_nonnull(strstr(cond(&c, "Failed", "message"), "exit code 137"));
	ck_assert_ptr_nonnull(strstr(cond(&c, "Failed", "message"), "rank 0"));
	ck_assert_uint_eq(c.plan.n_create, 0);
	/* cleanPodPolicy Running: the still-running rank 1 goes, the failed rank 0 stays */
	ck_assert_uint_eq(c.plan.n_remove, 1);
	ck_assert_str_eq(c.plan.remove[0], "tj-g1a1-w1");
	ck_assert_int_eq(sint(&c, "status.attempts"), 2);
	aios_tjc_free(&c);
}
END_TEST

START_TEST(backoff_limit_zero_fails_at_once)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{\"runPolicy\":{\"backoffLimit\":0,\"cleanPodPolicy\":\"None\"}}");
	step(&c, T0);
	kubelet(&c, "tj-g1a0-w0", "Failed", "10.0.0.1", 1, "boom");
	step(&c, T0 + 1);
	ck_assert_str_eq(phase(&c), "Failed");
	ck_assert_uint_eq(c.plan.n_remove, 0);
	ck_assert_int_eq(sint(&c, "status.workers.failed"), 1);
	aios_tjc_free(&c);
}
END_TEST

START_TEST(deadline_fails_the_job)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{\"runPolicy\":{\"activeDeadlineSeconds\":60}}");
	step(&c, T0);
	ck_assert_int_eq(c.plan.requeue_after_ms, 60000);
	kubelet(&c, "tj-g1a0-w0", "Running", "10.0.0.1", 0, NULL);
	step(&c, T0 + 30);
	ck_assert_str_eq(phase(&c), "Running");
	ck_assert_int_eq(c.plan.requeue_after_ms, 5000);
	step(&c, T0 + 60);
	ck_assert_str_eq(phase(&c), "Failed");
	ck_assert_str_eq(cond(&c, "Failed", "reason"), "DeadlineExceeded");
	ck_assert_uint_eq(c.plan.n_remove, 1);
	ck_assert_uint_eq(c.n, 0);
	aios_tjc_free(&c);
}
END_TEST

START_TEST(suspend_and_resume)
{
	struct aios_tjc c;
	aios_tjc_init(
	    &c, "{\"distributed\":{\"workers\":2},\"runPolicy\":{\"activeDeadlineSeconds\":100}}");
	step(&c, T0);
	kubelet(&c, "tj-g1a0-w0", "Running", "10.0.0.1", 0, NULL);
	step(&c, T0 + 1);
	ck_assert_uint_eq(c.n, 2);
	/* suspend: a new generation with runPolicy.suspend true */
	json_object_object_add(aios_json_lookup(c.job, "spec.runPolicy"), "suspend",
	                       json_object_new_boolean(1));
	set_gen(&c, 2);
	step(&c, T0 + 90);
	ck_assert_str_eq(phase(&c), "Suspended");
	ck_assert_uint_eq(c.n, 0);
	ck_assert_ptr_null(aios_json_lookup(c.job, "status.startTime"));
	ck_assert_str_eq(cond(&c, "Suspended", "status"), "True");
	ck_assert(has_event(&c, "Suspended"));
	step(&c, T0 + 500); /* suspended jobs have no deadline */
	ck_assert_str_eq(phase(&c), "Suspended");
	ck_assert_int_eq(c.plan.status_changed, 0);
	/* resume */
	json_object_object_add(aios_json_lookup(c.job, "spec.runPolicy"), "suspend",
	                       json_object_new_boolean(0));
	set_gen(&c, 3);
	step(&c, T0 + 600);
	ck_assert_str_eq(phase(&c), "Pending");
	ck_assert(has_event(&c, "Resumed"));
	ck_assert_str_eq(cond(&c, "Suspended", "status"), "False");
	ck_assert_uint_eq(c.plan.n_create, 1);
	ck_assert_str_eq(aios_json_str(c.plan.create[0], "metadata.name"), "tj-g3a0-w0");
	ck_assert_int_eq(c.plan.requeue_after_ms, 100000); /* the clock restarted */
	aios_tjc_free(&c);
}
END_TEST

START_TEST(ttl_deletes_finished_job)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{\"runPolicy\":{\"ttlSecondsAfterFinished\":30}}");
	step(&c, T0);
	kubelet(&c, "tj-g1a0-w0", "Succeeded", "10.0.0.1", 0, "");
	step(&c, T0 + 10);
	ck_assert_str_eq(phase(&c), "Succeeded");
	ck_assert_int_eq(c.plan.delete_job, 0);
	step(&c, T0 + 20);
	ck_assert_int_eq(c.plan.delete_job, 0);
	ck_assert_int_eq(c.plan.requeue_after_ms, 20000);
	step(&c, T0 + 40);
	ck_assert_int_eq(c.plan.delete_job, 1);
	aios_tjc_free(&c);
}
END_TEST

START_TEST(clean_pod_policy_all_and_none)
{
	struct aios_tjc c;
	aios_tjc_init(
	    &c, "{\"distributed\":{\"workers\":2},\"runPolicy\":{\"cleanPodPolicy\":\"All\"}}");
	step(&c, T0);
	kubelet(&c, "tj-g1a0-w0", "Running", "10.0.0.1", 0, NULL);
	step(&c, T0 + 1);
	kubelet(&c, "tj-g1a0-w0", "Succeeded", "10.0.0.1", 0, "");
	kubelet(&c, "tj-g1a0-w1", "Succeeded", "10.0.0.2", 0, "");
	step(&c, T0 + 2);
	ck_assert_str_eq(phase(&c), "Succeeded");
	ck_assert_uint_eq(c.plan.n_remove, 2);
	ck_assert_uint_eq(c.n, 0);
	aios_tjc_free(&c);

	aios_tjc_init(&c,
	              "{\"distributed\":{\"workers\":2},\"runPolicy\":{\"cleanPodPolicy\":\"None\","
	              "\"activeDeadlineSeconds\":5}}");
	step(&c, T0);
	kubelet(&c, "tj-g1a0-w0", "Running", "10.0.0.1", 0, NULL);
	step(&c, T0 + 1);
	kubelet(&c, "tj-g1a0-w1", "Succeeded", "10.0.0.2", 0, "");
	step(&c, T0 + 6); /* deadline: running rank 0 is stopped even with None */
	ck_assert_str_eq(phase(&c), "Failed");
	ck_assert_uint_eq(c.plan.n_remove, 1);
	ck_assert_str_eq(c.plan.remove[0], "tj-g1a0-w0");
	ck_assert_uint_eq(c.n, 1);
	aios_tjc_free(&c);
}
END_TEST

/* A changed spec (a new generation) reruns a finished job as a new run. */
START_TEST(new_generation_new_run)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{\"output\":{\"uri\":\"pvc://m/a\"}}");
	step(&c, T0);
	kubelet(&c, "tj-g1a0-w0", "Succeeded", "10.0.0.1", 0, "");
	step(&c, T0 + 1);
	ck_assert_str_eq(phase(&c), "Succeeded");
	ck_assert_int_eq(sint(&c, "status.artifact.generation"), 1);
	ck_assert_ptr_null(aios_json_lookup(c.job, "status.artifact.onnx"));
	set_gen(&c, 2);
	step(&c, T0 + 2);
	ck_assert(has_event(&c, "NewRun"));
	ck_assert_str_eq(phase(&c), "Pending");
	ck_assert_int_eq(terminal_conditions(&c), 0);
	ck_assert_ptr_null(aios_json_lookup(c.job, "status.completionTime"));
	ck_assert_int_eq(sint(&c, "status.observedGeneration"), 2);
	ck_assert_int_eq(sint(&c, "status.artifact.generation"), 1); /* the old model stays */
	ck_assert_uint_eq(c.plan.n_remove, 1);                       /* the old run's pod */
	ck_assert_str_eq(aios_json_str(c.plan.create[0], "metadata.name"), "tj-g2a0-w0");
	/* the trainer's final line (src/trainer/run.h) nests the artifact, and the ONNX file
	 * beside it (output.formats [aios, onnx]) inside that */
	kubelet(
	    &c, "tj-g2a0-w0", "Succeeded", "10.0.0.1", 0,
	    "{\"artifact\":{\"uri\":\"pvc://m/b\",\"sha256\":\"ff\",\"bytes\":7,"
	    "\"onnx\":{\"uri\":\"pvc://m/b.onnx\",\"sha256\":\"ee\",\"bytes\":9}},\"epochs\":10,"
	    "\"loss\":0.25,\"val_loss\":null,\"accuracy\":0.5,\"val_accuracy\":0.625}");
	step(&c, T0 + 3);
	/* a run faster than the progress scrape still reports its final figures */
	ck_assert_int_eq(sint(&c, "status.progress.epoch"), 10);
	ck_assert_int_eq(sint(&c, "status.progress.epochs"), 10);
	ck_assert_int_eq(sint(&c, "status.progress.percent"), 100);
	ck_assert_ptr_nonnull(aios_json_lookup(c.job, "status.progress.loss"));
	ck_assert_double_eq_tol(
	    json_object_get_double(aios_json_lookup(c.job, "status.progress.loss")), 0.25, 1e-12);
	ck_assert_ptr_null(aios_json_lookup(c.job, "status.progress.validationLoss"));
	ck_assert_double_eq_tol(/* the validation accuracy, as the scrape shows it */
	                        json_object_get_double(
	                            aios_json_lookup(c.job, "status.progress.accuracy")),
	                        0.625, 1e-12);
	ck_assert_str_eq(aios_json_str(c.job, "status.artifact.uri"), "pvc://m/b");
	ck_assert_str_eq(aios_json_str(c.job, "status.artifact.sha256"), "ff");
	ck_assert_int_eq(sint(&c, "status.artifact.bytes"), 7);
	ck_assert_int_eq(sint(&c, "status.artifact.generation"), 2);
	ck_assert_str_eq(aios_json_str(c.job, "status.artifact.onnx.uri"), "pvc://m/b.onnx");
	ck_assert_str_eq(aios_json_str(c.job, "status.artifact.onnx.sha256"), "ee");
	ck_assert_int_eq(sint(&c, "status.artifact.onnx.bytes"), 9);
	aios_tjc_free(&c);
}
END_TEST

START_TEST(pending_reasons_are_actionable)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{}");
	step(&c, T0);
	json_object_object_add(
	    c.pods[0], "status",
	    aios_tjc_parse("{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"trainer\","
	                   "\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\",\"message\":"
	                   "\"Back-off pulling image reg/x:1\"}}}]}"));
	step(&c, T0 + 1);
	ck_assert_str_eq(cond(&c, "Running", "reason"), "ImagePullBackOff");
	ck_assert_ptr_nonnull(strstr(cond(&c, "Running", "message"), "reg/x:1"));
	ck_assert(has_event(&c, "ImagePullBackOff"));
	json_object_object_add(
	    c.pods[0], "status",
	    aios_tjc_parse("{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
	                   "\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":"
	                   "\"0/1 nodes are available: 1 Insufficient cpu.\"}]}"));
	step(&c, T0 + 2);
	ck_assert_str_eq(cond(&c, "Running", "reason"), "Unschedulable");
	ck_assert_ptr_nonnull(strstr(cond(&c, "Running", "message"), "Insufficient cpu"));
	aios_tjc_free(&c);
}
END_TEST

START_TEST(parameter_server_gang)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{\"distributed\":{\"workers\":2,\"strategy\":\"parameter-server\","
	                  "\"parameterServers\":1}}");
	step(&c, T0);
	kubelet(&c, "tj-g1a0-w0", "Running", "10.0.0.1", 0, NULL);
	step(&c, T0 + 1);
	ck_assert_uint_eq(c.plan.n_create, 2);
	ck_assert_ptr_nonnull(aios_tjc_pod(&c, "tj-g1a0-w1"));
	struct json_object *ps = aios_tjc_pod(&c, "tj-g1a0-ps2");
	ck_assert_ptr_nonnull(ps);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(
	                     aios_json_lookup(ps, "metadata.labels"), "aios.dev/role")),
	                 "ps");
	kubelet(&c, "tj-g1a0-w1", "Running", "10.0.0.2", 0, NULL);
	kubelet(&c, "tj-g1a0-ps2", "Running", "10.0.0.3", 0, NULL);
	step(&c, T0 + 2);
	ck_assert_str_eq(phase(&c), "Running");
	kubelet(&c, "tj-g1a0-w0", "Succeeded", "10.0.0.1", 0, "");
	kubelet(&c, "tj-g1a0-w1", "Succeeded", "10.0.0.2", 0, "");
	step(&c, T0 + 3);
	ck_assert_str_eq(phase(&c), "Succeeded"); /* the parameter server never exits itself */
	ck_assert_uint_eq(c.plan.n_remove, 1);
	ck_assert_str_eq(c.plan.remove[0], "tj-g1a0-ps2");
	aios_tjc_free(&c);
}
END_TEST

START_TEST(invalid_spec_fails_with_field)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{\"distributed\":{\"workers\":-2}}");
	step(&c, T0);
	ck_assert_str_eq(phase(&c), "Failed");
	ck_assert_str_eq(cond(&c, "Failed", "reason"), "InvalidSpec");
	ck_assert_ptr_nonnull(strstr(cond(&c, "Failed", "message"), "spec.distributed.workers"));
	ck_assert_uint_eq(c.plan.n_create, 0);
	step(&c, T0 + 1);
	ck_assert_int_eq(c.plan.status_changed, 0);
	aios_tjc_free(&c);
}
END_TEST

/* Pods nobody asked for (an older attempt left behind by a crash) are removed. */
START_TEST(stale_pods_are_removed)
{
	struct aios_tjc c;
	aios_tjc_init(&c, "{}");
	step(&c, T0);
	kubelet(&c, "tj-g1a0-w0", "Running", "10.0.0.1", 0, NULL);
	step(&c, T0 + 1);
	/* an orphan of attempt 5 and a duplicate-rank impostor with the right labels */
	struct json_object *p = aios_json_copy(c.pods[0]);
	json_object_object_add(aios_json_lookup(p, "metadata"), "name",
	                       json_object_new_string("tj-g1a5-w0"));
	json_object_object_add(aios_json_lookup(p, "metadata.labels"), "aios.dev/attempt",
	                       json_object_new_string("5"));
	c.pods[c.n++] = p;
	p = aios_json_copy(c.pods[0]);
	json_object_object_add(aios_json_lookup(p, "metadata"), "name",
	                       json_object_new_string("tj-other"));
	c.pods[c.n++] = p;
	step(&c, T0 + 2);
	ck_assert_uint_eq(c.plan.n_remove, 2);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_str_eq(aios_json_str(c.pods[0], "metadata.name"), "tj-g1a0-w0");
	ck_assert_str_eq(phase(&c), "Running");
	aios_tjc_free(&c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trainingjob_status");
	TCase *tc = tcase_create("plan");
	tcase_add_test(tc, two_workers_happy_path);
	tcase_add_test(tc, failing_rank_restarts_gang_then_fails);
	tcase_add_test(tc, backoff_limit_zero_fails_at_once);
	tcase_add_test(tc, deadline_fails_the_job);
	tcase_add_test(tc, suspend_and_resume);
	tcase_add_test(tc, ttl_deletes_finished_job);
	tcase_add_test(tc, clean_pod_policy_all_and_none);
	tcase_add_test(tc, new_generation_new_run);
	tcase_add_test(tc, pending_reasons_are_actionable);
	tcase_add_test(tc, parameter_server_gang);
	tcase_add_test(tc, invalid_spec_fails_with_field);
	tcase_add_test(tc, stale_pods_are_removed);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
