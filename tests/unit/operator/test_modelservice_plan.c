/*
 * test_modelservice_plan.c - the ModelService plan: first pods and the Service,
 * surge-first rollouts, a broken new model that never takes the service down, waiting
 * for a TrainingJob, scaling, status and conditions.
 */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "operator/modelservice.h"

#define NOW 1800000000

static struct json_object *parse(const char *doc)
{
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(doc, strlen(doc), "test", &o), AIOS_OK);
	return o;
}

static struct json_object *ms_with_uri(const char *uri)
{
	char doc[1024];
	snprintf(
	    doc, sizeof(doc),
	    "{\"metadata\":{\"name\":\"iris\",\"namespace\":\"ml\",\"uid\":\"u\",\"generation\":1},"
	    "\"spec\":{\"model\":{\"uri\":\"%s\"},\"replicas\":{\"min\":1,\"max\":8}}}",
	    uri);
	return parse(doc);
}

static void rev_of(struct json_object *ms, struct json_object *tj,
                   char rev[AIOS_MS_REVISION_LEN + 1])
{
	struct aios_ms_model m;
	aios_ms_resolve_model(ms, tj, &m);
	ck_assert(m.have);
	aios_ms_revision(ms, &m, rev);
}

enum pod_state { STARTING, READY, CRASHED, TERMINATING, EVICTED };

/* A pod of revision rev with index idx in the given state. exit/message: the crash. */
static struct json_object *pod(const char *rev, int idx, enum pod_state s, int exit_code,
                               const char *message)
{
	char *name = aios_ms_pod_name("iris", rev, idx);
	char doc[2048];
	const char *phase = s == READY || s == CRASHED || s == TERMINATING ? "Running"
	                    : s == EVICTED                                 ? "Failed"
	                                                                   : "Pending";
	snprintf(doc, sizeof(doc),
	         "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ml\",%s\"labels\":{"
	         "\"aios.dev/service\":\"iris\",\"aios.dev/revision\":\"%s\"}},"
	         "\"status\":{\"phase\":\"%s\",\"podIP\":\"10.0.0.%d\",\"conditions\":[{\"type\":"
	         "\"Ready\",\"status\":\"%s\"}]%s%s%s}}",
	         name, s == TERMINATING ? "\"deletionTimestamp\":\"2027-01-01T00:00:00Z\"," : "",
	         rev, phase, idx + 1, s == READY || s == TERMINATING ? "True" : "False",
	         s == CRASHED ? ",\"containerStatuses\":[{\"name\":\"serve\",\"restartCount\":3,"
	                        "\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},"
	                        "\"lastState\":{\"terminated\":{\"exitCode\":"
	                      : "",
	         "", "");
	free(name);
	if (s == CRASHED) {
		size_t n = strlen(doc) - 2; /* before the closing "}}" */
		snprintf(doc + n, sizeof(doc) - n, "%d,\"message\":\"%s\"}}}]}}", exit_code,
		         message);
	}
	return parse(doc);
}

struct pods {
	struct json_object *p[32];
	size_t n;
};

static void pods_free(struct pods *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		json_object_put(ps->p[i]);
	ps->n = 0;
}

static void run(struct json_object *ms, struct json_object *tj, struct pods *ps, int desired,
                struct aios_ms_plan *plan)
{
	struct aios_ms_input in = {.ms = ms,
	                           .tj = tj,
	                           .pods = ps->p,
	                           .n_pods = ps->n,
	                           .have_service = 1,
	                           .desired = desired,
	                           .now = NOW};
	ck_assert_int_eq(aios_ms_plan(&in, plan), AIOS_OK);
}

static int removes(const struct aios_ms_plan *p, const char *rev, int idx)
{
	char *name = aios_ms_pod_name("iris", rev, idx);
	int found = 0;
	for (size_t i = 0; i < p->n_remove; i++)
		found |= strcmp(p->remove[i], name) == 0;
	free(name);
	return found;
}

static const char *cond(struct json_object *status, const char *type, const char **reason)
{
	struct json_object *cs = aios_json_lookup(status, "conditions");
	for (size_t i = 0; cs && i < json_object_array_length(cs); i++) {
		struct json_object *c = json_object_array_get_idx(cs, i);
		if (strcmp(aios_json_str(c, "type"), type) == 0) {
			if (reason)
				*reason = aios_json_str(c, "reason");
			return aios_json_str(c, "status");
		}
	}
	return NULL;
}

static int has_event(const struct aios_ms_plan *p, const char *reason)
{
	for (size_t i = 0; i < p->n_events; i++)
		if (strcmp(p->events[i].reason, reason) == 0)
			return 1;
	return 0;
}

START_TEST(first_reconcile_creates_service_and_pods)
{
	struct json_object *ms = ms_with_uri("file:///models/iris.aios");
	struct pods ps = {.n = 0};
	struct aios_ms_input in = {.ms = ms, .pods = ps.p, .desired = 2, .now = NOW};
	struct aios_ms_plan p;
	ck_assert_int_eq(aios_ms_plan(&in, &p), AIOS_OK);
	ck_assert_ptr_nonnull(p.service);
	ck_assert_uint_eq(p.n_create, 2);
	char rev[AIOS_MS_REVISION_LEN + 1];
	rev_of(ms, NULL, rev);
	char *n0 = aios_ms_pod_name("iris", rev, 0);
	ck_assert_str_eq(aios_json_str(p.create[0], "metadata.name"), n0);
	free(n0);
	ck_assert_str_eq(aios_json_str(p.status, "phase"), "Pending");
	ck_assert_str_eq(aios_json_str(p.status, "url"), "http://iris.ml.svc.cluster.local");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "desiredReplicas")), 2);
	const char *r;
	ck_assert_str_eq(cond(p.status, "ModelLoaded", &r), "False");
	ck_assert_str_eq(r, "Loading");
	ck_assert_str_eq(cond(p.status, "Ready", &r), "False");
	ck_assert(p.status_changed);
	aios_ms_plan_cleanup(&p);
	json_object_put(ms);
}
END_TEST

START_TEST(steady_state_is_quiet)
{
	struct json_object *ms = ms_with_uri("file:///m");
	char rev[AIOS_MS_REVISION_LEN + 1];
	rev_of(ms, NULL, rev);
	struct pods ps = {.n = 0};
	ps.p[ps.n++] = pod(rev, 0, READY, 0, NULL);
	ps.p[ps.n++] = pod(rev, 1, READY, 0, NULL);
	struct aios_ms_plan p;
	run(ms, NULL, &ps, 2, &p);
	ck_assert_uint_eq(p.n_create, 0);
	ck_assert_uint_eq(p.n_remove, 0);
	ck_assert_str_eq(aios_json_str(p.status, "phase"), "Ready");
	ck_assert_str_eq(aios_json_str(p.status, "model.uri"), "file:///m");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "readyReplicas")), 2);
	ck_assert_str_eq(cond(p.status, "ModelLoaded", NULL), "True");
	ck_assert_str_eq(cond(p.status, "Ready", NULL), "True");
	/* Written back, the same inputs change nothing. */
	json_object_object_add(ms, "status", json_object_get(p.status));
	aios_ms_plan_cleanup(&p);
	run(ms, NULL, &ps, 2, &p);
	ck_assert(!p.status_changed);
	ck_assert_uint_eq(p.n_events, 0);
	aios_ms_plan_cleanup(&p);
	pods_free(&ps);
	json_object_put(ms);
}
END_TEST

START_TEST(rollout_is_surge_first)
{
	struct json_object *old_ms = ms_with_uri("file:///v1");
	struct json_object *ms = ms_with_uri("file:///v2");
	char r1[AIOS_MS_REVISION_LEN + 1], r2[AIOS_MS_REVISION_LEN + 1];
	rev_of(old_ms, NULL, r1);
	rev_of(ms, NULL, r2);
	ck_assert_str_ne(r1, r2);
	struct pods ps = {.n = 0};
	for (int i = 0; i < 3; i++)
		ps.p[ps.n++] = pod(r1, i, READY, 0, NULL);
	struct aios_ms_plan p;

	/* 1: all new pods at once, no old pod goes yet. */
	run(ms, NULL, &ps, 3, &p);
	ck_assert_uint_eq(p.n_create, 3);
	ck_assert_uint_eq(p.n_remove, 0);
	ck_assert(has_event(&p, "RolloutStarted"));
	ck_assert_str_eq(aios_json_str(p.status, "phase"), "Ready");
	aios_ms_plan_cleanup(&p);

	/* 2: one new pod ready: exactly one old pod goes. */
	ps.p[ps.n++] = pod(r2, 0, READY, 0, NULL);
	ps.p[ps.n++] = pod(r2, 1, STARTING, 0, NULL);
	ps.p[ps.n++] = pod(r2, 2, STARTING, 0, NULL);
	run(ms, NULL, &ps, 3, &p);
	ck_assert_uint_eq(p.n_create, 0);
	ck_assert_uint_eq(p.n_remove, 1);
	ck_assert(removes(&p, r1, 2)); /* highest index first */
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "readyReplicas")), 3);
	ck_assert(!has_event(&p, "RolloutStarted"));
	aios_ms_plan_cleanup(&p);

	/* 3: all new ready: the rest of the old revision goes, rollout complete. */
	json_object_put(ps.p[4]);
	json_object_put(ps.p[5]);
	ps.p[4] = pod(r2, 1, READY, 0, NULL);
	ps.p[5] = pod(r2, 2, READY, 0, NULL);
	json_object_put(ps.p[2]);
	ps.p[2] = pod(r1, 2, TERMINATING, 0, NULL);
	run(ms, NULL, &ps, 3, &p);
	ck_assert_uint_eq(p.n_remove, 2);
	ck_assert(removes(&p, r1, 0) && removes(&p, r1, 1));
	ck_assert(has_event(&p, "RolloutComplete"));
	ck_assert_str_eq(aios_json_str(p.status, "model.uri"), "file:///v2");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "replicas")), 3);
	aios_ms_plan_cleanup(&p);
	pods_free(&ps);
	json_object_put(ms);
	json_object_put(old_ms);
}
END_TEST

START_TEST(broken_new_model_keeps_old_pods)
{
	struct json_object *old_ms = ms_with_uri("file:///v1");
	struct json_object *ms = ms_with_uri("file:///v2");
	aios_json_set(ms, "status.model.uri", json_object_new_string("file:///v1"));
	char r1[AIOS_MS_REVISION_LEN + 1], r2[AIOS_MS_REVISION_LEN + 1];
	rev_of(old_ms, NULL, r1);
	rev_of(ms, NULL, r2);
	struct pods ps = {.n = 0};
	ps.p[ps.n++] = pod(r1, 0, READY, 0, NULL);
	ps.p[ps.n++] = pod(r1, 1, READY, 0, NULL);
	ps.p[ps.n++] = pod(r2, 0, CRASHED, 2, "file:///m: SHA-256 is 00, expected 11");
	ps.p[ps.n++] = pod(r2, 1, CRASHED, 2, "file:///m: SHA-256 is 00, expected 11");
	struct aios_ms_plan p;
	run(ms, NULL, &ps, 2, &p);
	ck_assert_uint_eq(p.n_remove, 0);
	ck_assert_uint_eq(p.n_create, 0);
	const char *r;
	ck_assert_str_eq(cond(p.status, "ModelLoaded", &r), "False");
	ck_assert_str_eq(r, "ModelDamaged");
	ck_assert_str_eq(cond(p.status, "Ready", NULL), "True"); /* the old revision serves */
	ck_assert_str_eq(aios_json_str(p.status, "phase"), "Ready");
	ck_assert_str_eq(aios_json_str(p.status, "model.uri"), "file:///v1");
	ck_assert(has_event(&p, "ModelDamaged"));
	struct json_object *cs = aios_json_lookup(p.status, "conditions");
	int seen = 0;
	for (size_t i = 0; i < json_object_array_length(cs); i++) {
		const char *m = aios_json_str(json_object_array_get_idx(cs, i), "message");
		seen |= strstr(m, "exited with code 2") && strstr(m, "SHA-256 is 00");
	}
	ck_assert(seen);
	aios_ms_plan_cleanup(&p);
	pods_free(&ps);
	json_object_put(ms);
	json_object_put(old_ms);
}
END_TEST

START_TEST(missing_model_with_nothing_serving_fails)
{
	struct json_object *ms = ms_with_uri("pvc://models/none.aios");
	char rev[AIOS_MS_REVISION_LEN + 1];
	rev_of(ms, NULL, rev);
	struct pods ps = {.n = 0};
	ps.p[ps.n++] =
	    pod(rev, 0, CRASHED, 2, "open /mnt/pvc/models/none.aios: No such file or directory");
	struct aios_ms_plan p;
	run(ms, NULL, &ps, 1, &p);
	const char *r;
	ck_assert_str_eq(aios_json_str(p.status, "phase"), "Failed");
	ck_assert_str_eq(cond(p.status, "ModelLoaded", &r), "False");
	ck_assert_str_eq(r, "ModelNotFound");
	ck_assert_str_eq(cond(p.status, "Ready", &r), "False");
	ck_assert_str_eq(r, "ModelNotFound");
	aios_ms_plan_cleanup(&p);
	pods_free(&ps);
	json_object_put(ms);
}
END_TEST

START_TEST(waits_for_training_job)
{
	struct json_object *ms =
	    parse("{\"metadata\":{\"name\":\"iris\",\"namespace\":\"ml\",\"uid\":"
	          "\"u\"},\"spec\":{\"model\":{\"trainingJob\":\"train\"}}}");
	struct json_object *tj = parse("{\"status\":{\"phase\":\"Running\"}}");
	struct pods ps = {.n = 0};
	struct aios_ms_plan p;
	run(ms, tj, &ps, 1, &p);
	ck_assert_uint_eq(p.n_create, 0);
	const char *r;
	ck_assert_str_eq(cond(p.status, "ModelLoaded", &r), "False");
	ck_assert_str_eq(r, "WaitingForTrainingJob");
	ck_assert_str_eq(aios_json_str(p.status, "phase"), "Pending");
	ck_assert_int_gt(p.requeue_after_ms, 0);
	aios_ms_plan_cleanup(&p);
	json_object_put(tj);

	tj =
	    parse("{\"status\":{\"phase\":\"Succeeded\",\"artifact\":{\"uri\":\"pvc://out/m.aios\","
	          "\"sha256\":\""
	          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	          "\"}}}");
	run(ms, tj, &ps, 1, &p);
	ck_assert_uint_eq(p.n_create, 1);
	struct json_object *c =
	    json_object_array_get_idx(aios_json_lookup(p.create[0], "spec.containers"), 0);
	struct json_object *args = aios_json_lookup(c, "args");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(args, 1)),
	                 "pvc://out/m.aios");
	aios_ms_plan_cleanup(&p);
	json_object_put(tj);
	json_object_put(ms);
}
END_TEST

START_TEST(scale_down_takes_unready_and_highest_first)
{
	struct json_object *ms = ms_with_uri("file:///m");
	char rev[AIOS_MS_REVISION_LEN + 1];
	rev_of(ms, NULL, rev);
	struct pods ps = {.n = 0};
	ps.p[ps.n++] = pod(rev, 0, READY, 0, NULL);
	ps.p[ps.n++] = pod(rev, 1, STARTING, 0, NULL);
	ps.p[ps.n++] = pod(rev, 2, READY, 0, NULL);
	ps.p[ps.n++] = pod(rev, 3, READY, 0, NULL);
	ps.p[ps.n++] = pod(rev, 4, EVICTED, 0, NULL);
	struct aios_ms_plan p;
	run(ms, NULL, &ps, 2, &p);
	ck_assert_uint_eq(p.n_create, 0);
	ck_assert_uint_eq(p.n_remove, 3);
	ck_assert(removes(&p, rev, 4)); /* evicted */
	ck_assert(removes(&p, rev, 1)); /* not ready */
	ck_assert(removes(&p, rev, 3)); /* highest ready */
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "replicas")), 2);
	aios_ms_plan_cleanup(&p);

	/* Up again: the free indices are reused, a terminating pod's name is not. */
	pods_free(&ps);
	ps.p[ps.n++] = pod(rev, 0, READY, 0, NULL);
	ps.p[ps.n++] = pod(rev, 1, TERMINATING, 0, NULL);
	run(ms, NULL, &ps, 3, &p);
	ck_assert_uint_eq(p.n_create, 2);
	char *n2 = aios_ms_pod_name("iris", rev, 2), *n3 = aios_ms_pod_name("iris", rev, 3);
	ck_assert_str_eq(aios_json_str(p.create[0], "metadata.name"), n2);
	ck_assert_str_eq(aios_json_str(p.create[1], "metadata.name"), n3);
	free(n2);
	free(n3);
	aios_ms_plan_cleanup(&p);
	/* The count is clamped to replicas.max (8). */
	run(ms, NULL, &ps, 50, &p);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "desiredReplicas")), 8);
	ck_assert_uint_eq(p.n_create, 7);
	aios_ms_plan_cleanup(&p);
	pods_free(&ps);
	json_object_put(ms);
}
END_TEST

START_TEST(invalid_spec_touches_nothing)
{
	struct json_object *ms =
	    parse("{\"metadata\":{\"name\":\"iris\"},\"spec\":{\"model\":{"
	          "\"uri\":\"file:///m\"},\"replicas\":{\"min\":5,\"max\":2}}}");
	struct pods ps = {.n = 0};
	struct aios_ms_plan p;
	run(ms, NULL, &ps, 1, &p);
	ck_assert_uint_eq(p.n_create, 0);
	ck_assert_str_eq(aios_json_str(p.status, "phase"), "Failed");
	const char *r;
	ck_assert_str_eq(cond(p.status, "Ready", &r), "False");
	ck_assert_str_eq(r, "InvalidSpec");
	ck_assert(has_event(&p, "InvalidSpec"));
	aios_ms_plan_cleanup(&p);
	json_object_put(ms);
}
END_TEST

START_TEST(metrics_and_held_scrapes_in_status)
{
	struct json_object *ms = ms_with_uri("file:///m");
	char rev[AIOS_MS_REVISION_LEN + 1];
	rev_of(ms, NULL, rev);
	struct pods ps = {.n = 0};
	ps.p[ps.n++] = pod(rev, 0, READY, 0, NULL);
	struct aios_autoscaler_decision d = {.desired = 1, .held = 1};
	struct aios_ms_input in = {.ms = ms,
	                           .pods = ps.p,
	                           .n_pods = ps.n,
	                           .have_service = 1,
	                           .desired = 1,
	                           .decision = &d,
	                           .have_metrics = 1,
	                           .concurrency = 3.14159,
	                           .rps = 20,
	                           .latency_p99_ms = 12.5,
	                           .last_scale = NOW - 10,
	                           .now = NOW};
	struct aios_ms_plan p;
	ck_assert_int_eq(aios_ms_plan(&in, &p), AIOS_OK);
	const char *r;
	ck_assert_str_eq(cond(p.status, "MetricsAvailable", &r), "False");
	ck_assert_str_eq(r, "ScrapeFailing");
	ck_assert_double_eq_tol(
	    json_object_get_double(aios_json_lookup(p.status, "metrics.concurrency")), 3.14, 1e-9);
	ck_assert_double_eq(
	    json_object_get_double(aios_json_lookup(p.status, "metrics.latencyP99Ms")), 12.5);
	ck_assert_str_eq(aios_json_str(p.status, "lastScaleTime"), "2027-01-15T07:59:50Z");
	aios_ms_plan_cleanup(&p);
	pods_free(&ps);
	json_object_put(ms);
}
END_TEST

START_TEST(scale_to_zero_and_back)
{
	struct json_object *ms = parse(
	    "{\"metadata\":{\"name\":\"iris\",\"namespace\":\"ml\",\"uid\":\"u\",\"generation\":1},"
	    "\"spec\":{\"model\":{\"uri\":\"file:///m\"},\"replicas\":{\"min\":0,\"max\":4}}}");
	char rev[AIOS_MS_REVISION_LEN + 1];
	rev_of(ms, NULL, rev);
	/* idle: the autoscaler says 0, the last pod goes */
	struct pods ps = {.n = 0};
	ps.p[ps.n++] = pod(rev, 0, READY, 0, NULL);
	struct aios_ms_input in = {.ms = ms,
	                           .pods = ps.p,
	                           .n_pods = ps.n,
	                           .desired = 0,
	                           .have_service = 1,
	                           .now = NOW,
	                           .cold_starts = 2};
	struct aios_ms_plan p;
	ck_assert_int_eq(aios_ms_plan(&in, &p), AIOS_OK);
	ck_assert_uint_eq(p.n_remove, 1);
	ck_assert(removes(&p, rev, 0));
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "desiredReplicas")), 0);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "coldStarts")), 2);
	aios_ms_plan_cleanup(&p);
	/* no pod left: ScaledToZero, Ready (the gateway answers) */
	struct aios_ms_input none = {.ms = ms, .desired = 0, .have_service = 1, .now = NOW};
	ck_assert_int_eq(aios_ms_plan(&none, &p), AIOS_OK);
	ck_assert_uint_eq(p.n_create, 0);
	ck_assert_str_eq(aios_json_str(p.status, "phase"), "ScaledToZero");
	const char *r;
	ck_assert_str_eq(cond(p.status, "Ready", &r), "True");
	ck_assert_str_eq(r, "ScaledToZero");
	ck_assert_str_eq(cond(p.status, "ModelLoaded", &r), "False");
	ck_assert_str_eq(r, "ScaledToZero");
	aios_ms_plan_cleanup(&p);
	/* a held request: the autoscaler says 1, a pod is created */
	none.desired = 1;
	ck_assert_int_eq(aios_ms_plan(&none, &p), AIOS_OK);
	ck_assert_uint_eq(p.n_create, 1);
	ck_assert_str_eq(aios_json_str(p.status, "phase"), "Pending");
	aios_ms_plan_cleanup(&p);
	pods_free(&ps);
	json_object_put(ms);
}
END_TEST

static struct json_object *ms_external(const char *metric, const char *count)
{
	char doc[1024];
	snprintf(doc, sizeof(doc),
	         "{\"metadata\":{\"name\":\"iris\",\"namespace\":\"ml\",\"uid\":\"u\","
	         "\"generation\":2},\"spec\":{\"model\":{\"uri\":\"file:///m\"},"
	         "\"autoscaling\":{\"metric\":\"%s\"},\"replicas\":{\"min\":1,\"max\":4%s%s}},"
	         "\"status\":{\"desiredReplicas\":2}}",
	         metric, count ? ",\"count\":" : "", count ? count : "");
	return parse(doc);
}

static int desired_of(const struct aios_ms_plan *p)
{
	return json_object_get_int(aios_json_lookup(p->status, "desiredReplicas"));
}

START_TEST(external_metric_follows_the_scale_field)
{
	char rev[AIOS_MS_REVISION_LEN + 1];
	struct json_object *ms = ms_external("external", "3");
	rev_of(ms, NULL, rev);
	struct pods ps = {.n = 0};
	ps.p[ps.n++] = pod(rev, 0, READY, 0, NULL);
	ps.p[ps.n++] = pod(rev, 1, READY, 0, NULL);
	struct aios_ms_plan p;
	/* the decider's count (7) is not read: spec.replicas.count (3) is */
	run(ms, NULL, &ps, 7, &p);
	ck_assert_int_eq(desired_of(&p), 3);
	ck_assert_uint_eq(p.n_create, 1);
	ck_assert_str_eq(aios_json_str(p.status, "selector"), "aios.dev/service=iris");
	/* the change from status.desiredReplicas 2 is the scale: an event and lastScaleTime */
	ck_assert(has_event(&p, "Scaled"));
	ck_assert_str_eq(p.events[0].message,
	                 "desired replicas 2 -> 3: spec.replicas.count 3 (metric external)");
	ck_assert_str_eq(aios_json_str(p.status, "lastScaleTime"), "2027-01-15T08:00:00Z");
	/* written back, the next reconcile holds the count and says nothing */
	json_object_object_add(ms, "status", json_object_get(p.status));
	aios_ms_plan_cleanup(&p);
	run(ms, NULL, &ps, 0, &p);
	ck_assert_int_eq(desired_of(&p), 3);
	ck_assert_uint_eq(p.n_events, 0);
	aios_ms_plan_cleanup(&p);
	json_object_put(ms);

	/* bounded to replicas.min..max (1..4), the event says so */
	ms = ms_external("external", "9");
	run(ms, NULL, &ps, 2, &p);
	ck_assert_int_eq(desired_of(&p), 4);
	ck_assert_uint_eq(p.n_create, 2);
	ck_assert_str_eq(p.events[0].message, "desired replicas 2 -> 4: spec.replicas.count 9 "
	                                      "(metric external), bounded to replicas.min..max");
	aios_ms_plan_cleanup(&p);
	json_object_put(ms);
	ms = ms_external("external", "0");
	run(ms, NULL, &ps, 2, &p);
	ck_assert_int_eq(desired_of(&p), 1);
	ck_assert_uint_eq(p.n_remove, 1);
	aios_ms_plan_cleanup(&p);
	json_object_put(ms);

	/* no count written yet: replicas.min */
	ms = ms_external("external", NULL);
	run(ms, NULL, &ps, 2, &p);
	ck_assert_int_eq(desired_of(&p), 1);
	aios_ms_plan_cleanup(&p);
	json_object_put(ms);

	/* a built-in metric: the decider owns the count and the scale field is ignored */
	ms = ms_external("concurrency", "4");
	run(ms, NULL, &ps, 2, &p);
	ck_assert_int_eq(desired_of(&p), 2);
	ck_assert_uint_eq(p.n_create + p.n_remove, 0);
	ck_assert(!has_event(&p, "Scaled"));
	ck_assert_str_eq(aios_json_str(p.status, "selector"), "aios.dev/service=iris");
	aios_ms_plan_cleanup(&p);
	json_object_put(ms);
	pods_free(&ps);
}
END_TEST

START_TEST(scale_field_out_of_range_is_invalid)
{
	struct json_object *ms = ms_external("external", "-1");
	struct pods ps = {.n = 0};
	struct aios_ms_plan p;
	run(ms, NULL, &ps, 1, &p);
	ck_assert_uint_eq(p.n_create, 0);
	const char *r;
	ck_assert_str_eq(cond(p.status, "Ready", &r), "False");
	ck_assert_str_eq(r, "InvalidSpec");
	ck_assert_str_eq(p.events[0].message,
	                 "spec.replicas.count: must be within 0..1000000, got -1");
	aios_ms_plan_cleanup(&p);
	json_object_put(ms);
}
END_TEST

/* ---- the canary ---- */

#define V1 "file:///models/v1.aios"
#define V2 "file:///models/v2.aios"

static struct json_object *ms_with_canary(void)
{
	return parse("{\"metadata\":{\"name\":\"iris\",\"namespace\":\"ml\",\"uid\":\"u\","
	             "\"generation\":1},\"spec\":{\"model\":{\"uri\":\"" V1 "\"},"
	             "\"replicas\":{\"min\":1,\"max\":8},\"canary\":{\"model\":{\"uri\":"
	             "\"" V2 "\"},\"trafficPercent\":20,\"analysis\":{\"interval\":10,"
	             "\"steps\":[50],\"minRequests\":10}}}}");
}

/* One plan at now with metrics m; the plan's status becomes ms's status. */
static void run_canary(struct json_object *ms, struct pods *ps, time_t now,
                       const struct aios_canary_metrics *m, struct aios_ms_plan *plan)
{
	struct aios_ms_input in = {.ms = ms,
	                           .pods = ps->p,
	                           .n_pods = ps->n,
	                           .have_service = 1,
	                           .desired = 4,
	                           .now = now,
	                           .canary_metrics = m};
	ck_assert_int_eq(aios_ms_plan(&in, plan), AIOS_OK);
	json_object_object_add(ms, "status", aios_json_copy(plan->status));
}

static const char *created_rev(const struct aios_ms_plan *p, size_t i)
{
	struct json_object *labels = aios_json_lookup(p->create[i], "metadata.labels"), *v;
	ck_assert(json_object_object_get_ex(labels, "aios.dev/revision", &v));
	return json_object_get_string(v);
}

START_TEST(canary_runs_beside_stable_and_steps_up)
{
	struct json_object *ms = ms_with_canary();
	char rev[AIOS_MS_REVISION_LEN + 1], crev[AIOS_MS_REVISION_LEN + 1];
	rev_of(ms, NULL, rev);
	struct json_object *v2 = ms_with_uri(V2);
	rev_of(v2, NULL, crev);
	json_object_put(v2);
	ck_assert_str_ne(rev, crev);
	struct pods ps = {.n = 0};
	for (int i = 0; i < 4; i++)
		ps.p[ps.n++] = pod(rev, i, READY, 0, NULL);

	struct aios_ms_plan p;
	run_canary(ms, &ps, NOW, NULL, &p);
	/* one canary pod (20 % of 4, rounded up), no stable pod touched */
	ck_assert_uint_eq(p.n_create, 1);
	ck_assert_str_eq(created_rev(&p, 0), crev);
	ck_assert_uint_eq(p.n_remove, 0);
	ck_assert_str_eq(aios_json_str(p.status, "canary.phase"), "Progressing");
	ck_assert_str_eq(aios_json_str(p.status, "canary.revision"), crev);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "canary.weight")), 20);
	ck_assert(has_event(&p, "CanaryStarted"));
	ck_assert_str_eq(cond(p.status, "Canary", NULL), "True");
	aios_ms_plan_cleanup(&p);

	/* the canary pod is ready; the window closes with good numbers: 50 %, two pods */
	ps.p[ps.n++] = pod(crev, 0, READY, 0, NULL);
	struct aios_canary_metrics good = {
	    .canary = {.have = 1, .requests = 100, .errors = 0, .p99_ms = 5},
	    .stable = {.have = 1, .requests = 400, .errors = 0, .p99_ms = 5}};
	run_canary(ms, &ps, NOW + 5, &good, &p); /* window still open: quiet */
	ck_assert_uint_eq(p.n_create, 0);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "readyReplicas")), 5);
	aios_ms_plan_cleanup(&p);
	run_canary(ms, &ps, NOW + 6, &good, &p); /* nothing new: status unchanged */
	ck_assert_int_eq(p.status_changed, 0);
	ck_assert_uint_eq(p.n_events, 0);
	aios_ms_plan_cleanup(&p);
	run_canary(ms, &ps, NOW + 10, &good, &p);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "canary.weight")), 50);
	ck_assert(has_event(&p, "CanaryStep"));
	ck_assert_uint_eq(p.n_create, 1);
	ck_assert_str_eq(created_rev(&p, 0), crev);
	aios_ms_plan_cleanup(&p);

	/* then errors: rolled back, the canary's pods go, the stable ones stay */
	ps.p[ps.n++] = pod(crev, 1, READY, 0, NULL);
	struct aios_canary_metrics bad = good;
	bad.canary.errors = 30;
	run_canary(ms, &ps, NOW + 20, &bad, &p);
	ck_assert_str_eq(aios_json_str(p.status, "canary.phase"), "RolledBack");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(p.status, "canary.weight")), 0);
	ck_assert_uint_eq(p.n_remove, 2);
	ck_assert(removes(&p, crev, 0) && removes(&p, crev, 1));
	ck_assert(has_event(&p, "CanaryRolledBack"));
	const char *reason = NULL;
	ck_assert_str_eq(cond(p.status, "Canary", &reason), "False");
	ck_assert_str_eq(reason, "ErrorRateTooHigh");
	aios_ms_plan_cleanup(&p);
	pods_free(&ps);
	json_object_put(ms);
}
END_TEST

START_TEST(promoted_canary_becomes_the_stable_revision)
{
	struct json_object *ms = ms_with_canary();
	char rev[AIOS_MS_REVISION_LEN + 1], crev[AIOS_MS_REVISION_LEN + 1];
	rev_of(ms, NULL, rev);
	struct json_object *v2 = ms_with_uri(V2);
	rev_of(v2, NULL, crev);
	json_object_put(v2);
	struct pods ps = {.n = 0};
	for (int i = 0; i < 4; i++)
		ps.p[ps.n++] = pod(rev, i, READY, 0, NULL);
	ps.p[ps.n++] = pod(crev, 0, READY, 0, NULL);
	ps.p[ps.n++] = pod(crev, 1, READY, 0, NULL);
	char st[512];
	snprintf(st, sizeof(st),
	         "{\"canary\":{\"phase\":\"Promoted\",\"revision\":\"%s\",\"weight\":100,"
	         "\"model\":{\"uri\":\"" V2 "\"},\"reason\":\"Promoted\",\"message\":\"m\"}}",
	         crev);
	json_object_object_add(ms, "status", parse(st));
	struct aios_ms_plan p;
	run_canary(ms, &ps, NOW, NULL, &p);
	/* the canary's two pods are the new stable revision's; two more join them, and
	 * the old revision's pods go only as far as ready new ones stand in */
	ck_assert_uint_eq(p.n_create, 2);
	ck_assert_str_eq(created_rev(&p, 0), crev);
	ck_assert_str_eq(created_rev(&p, 1), crev);
	ck_assert_uint_eq(p.n_remove, 2);
	ck_assert_str_eq(aios_json_str(p.status, "model.uri"), V2);
	ck_assert_str_eq(aios_json_str(p.status, "canary.phase"), "Promoted");
	ck_assert_str_eq(cond(p.status, "Canary", NULL), "True");
	aios_ms_plan_cleanup(&p);
	pods_free(&ps);
	json_object_put(ms);
}
END_TEST

static Suite *ms_plan_suite(void)
{
	Suite *s = suite_create("modelservice_plan");
	TCase *tc = tcase_create("plan");
	tcase_add_test(tc, first_reconcile_creates_service_and_pods);
	tcase_add_test(tc, canary_runs_beside_stable_and_steps_up);
	tcase_add_test(tc, promoted_canary_becomes_the_stable_revision);
	tcase_add_test(tc, steady_state_is_quiet);
	tcase_add_test(tc, rollout_is_surge_first);
	tcase_add_test(tc, broken_new_model_keeps_old_pods);
	tcase_add_test(tc, missing_model_with_nothing_serving_fails);
	tcase_add_test(tc, waits_for_training_job);
	tcase_add_test(tc, scale_down_takes_unready_and_highest_first);
	tcase_add_test(tc, invalid_spec_touches_nothing);
	tcase_add_test(tc, metrics_and_held_scrapes_in_status);
	tcase_add_test(tc, scale_to_zero_and_back);
	tcase_add_test(tc, external_metric_follows_the_scale_field);
	tcase_add_test(tc, scale_field_out_of_range_is_invalid);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(ms_plan_suite)
