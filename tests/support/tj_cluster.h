/*
 * tj_cluster.h - a pretend cluster for driving the TrainingJob state machine
 * (aios_tj_plan) the way the controller drives it: the test keeps the job and its pods,
 * each step plans and applies the plan (deletes, creates, status), and the test plays
 * the kubelet by writing pod statuses in between. Used by the operator's unit tests
 * (test_trainingjob_status.c, test_search_plan.c).
 */
#ifndef AIOS_TEST_TJ_CLUSTER_H
#define AIOS_TEST_TJ_CLUSTER_H

#include <json-c/json.h>
#include <stddef.h>
#include <time.h>

#include "operator/trainingjob.h"

#define AIOS_TJC_MAX_PODS 128 /* pods the cluster holds; creating more fails the test */

struct aios_tjc {
	struct json_object *job;
	struct json_object *pods[AIOS_TJC_MAX_PODS];
	size_t n;
	struct aios_tj_plan plan; /* the last step's */
};

/* Parses JSON text; fails the test when it is not JSON. New object. */
struct json_object *aios_tjc_parse(const char *s);
/* A TrainingJob "tj" in namespace "ns" (uid "uid-1", generation 1) with spec_json. */
void aios_tjc_init(struct aios_tjc *c, const char *spec_json);
void aios_tjc_free(struct aios_tjc *c);
/* The spec a pod's trainer runs (its AIOS_SPEC); fails the test when it has none. New
 * object. */
struct json_object *aios_tjc_pod_spec(struct json_object *pod);
/* The pod of that name, or NULL. */
struct json_object *aios_tjc_pod(struct aios_tjc *c, const char *name);
/* Plans at now with scraped progress pr (NULL: none) and applies the plan; a pod created
 * twice fails the test. */
void aios_tjc_step(struct aios_tjc *c, time_t now, const struct aios_tj_progress *pr);

#endif
