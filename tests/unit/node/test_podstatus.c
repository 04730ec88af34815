/*
 * test_podstatus.c - the phase table and the status object a kubelet would write.
 */
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "node/podstatus.h"

static struct aios_podstatus_ctr ctr(const char *name, enum aios_ctr_state s, int exit_code)
{
	struct aios_podstatus_ctr c = {
	    .name = name, .image = "aios/trainer:1", .state = s, .started = 1};
	c.term.exit_code = exit_code;
	c.term.reason = exit_code ? "Error" : "Completed";
	return c;
}

START_TEST(phase_table)
{
	struct aios_podstatus_ctr cs[2];
	struct aios_podstatus_in in = {
	    .restart = AIOS_RESTART_NEVER, .ctrs = cs, .n_ctrs = 2, .now = "t"};
	cs[0] = ctr("a", AIOS_CTR_WAITING, 0);
	cs[1] = ctr("b", AIOS_CTR_RUNNING, 0);
	ck_assert_str_eq(aios_podstatus_phase(&in), "Pending");
	cs[0] = ctr("a", AIOS_CTR_RUNNING, 0);
	ck_assert_str_eq(aios_podstatus_phase(&in), "Running");
	cs[0] = ctr("a", AIOS_CTR_TERMINATED, 0);
	ck_assert_str_eq(aios_podstatus_phase(&in), "Running");
	cs[1] = ctr("b", AIOS_CTR_TERMINATED, 0);
	ck_assert_str_eq(aios_podstatus_phase(&in), "Succeeded");
	cs[1] = ctr("b", AIOS_CTR_TERMINATED, 2);
	ck_assert_str_eq(aios_podstatus_phase(&in), "Failed");
	in.restart = AIOS_RESTART_ON_FAILURE;
	ck_assert_str_eq(aios_podstatus_phase(&in), "Running");
	in.restart = AIOS_RESTART_ALWAYS;
	cs[1] = ctr("b", AIOS_CTR_TERMINATED, 0);
	ck_assert_str_eq(aios_podstatus_phase(&in), "Running");
	/* waiting in back-off after a failed run counts as stopped, not pending */
	in.restart = AIOS_RESTART_ON_FAILURE;
	cs[1] = ctr("b", AIOS_CTR_WAITING, 0);
	cs[1].has_last = 1;
	cs[1].last.exit_code = 1;
	ck_assert_str_eq(aios_podstatus_phase(&in), "Running");
	in.pod_reason = "UnsupportedPod";
	ck_assert_str_eq(aios_podstatus_phase(&in), "Failed");
}
END_TEST

START_TEST(status_object)
{
	struct aios_podstatus_ctr cs[1] = {ctr("trainer", AIOS_CTR_RUNNING, 0)};
	cs[0].started_at = "2026-11-29T01:00:00Z";
	cs[0].restart_count = 2;
	cs[0].has_last = 1;
	cs[0].last.exit_code = 137;
	cs[0].last.signal = 9;
	cs[0].last.reason = "Error";
	cs[0].last.message = "killed";
	const char *old_s = "{\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\","
	                    "\"lastTransitionTime\":\"2026-11-29T00:00:00Z\"},{\"type\":\"Ready\","
	                    "\"status\":\"True\","
	                    "\"lastTransitionTime\":\"2026-11-29T00:30:00Z\"}]}";
	struct json_object *old;
	ck_assert_int_eq(aios_json_parse(old_s, strlen(old_s), "old", &old), AIOS_OK);
	struct aios_podstatus_in in = {.restart = AIOS_RESTART_ALWAYS,
	                               .pod_ip = "10.244.0.5",
	                               .host_ip = "10.244.0.1",
	                               .start_time = "2026-11-29T00:59:00Z",
	                               .now = "2026-11-29T01:00:05Z",
	                               .ctrs = cs,
	                               .n_ctrs = 1,
	                               .old_status = old};
	struct json_object *st = aios_podstatus_build(&in);
	ck_assert_str_eq(aios_json_str(st, "phase"), "Running");
	ck_assert_str_eq(aios_json_str(st, "podIP"), "10.244.0.5");
	struct json_object *ips = aios_json_lookup(st, "podIPs");
	ck_assert_str_eq(aios_json_str(json_object_array_get_idx(ips, 0), "ip"), "10.244.0.5");
	ck_assert_str_eq(aios_json_str(st, "hostIP"), "10.244.0.1");
	struct json_object *conds = aios_json_lookup(st, "conditions");
	ck_assert_uint_eq(json_object_array_length(conds), 4);
	for (size_t i = 0; i < 4; i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		const char *t = aios_json_str(c, "type");
		if (strcmp(t, "PodScheduled") == 0)
			ck_assert_str_eq(aios_json_str(c, "lastTransitionTime"),
			                 "2026-11-29T00:00:00Z");
		if (strcmp(t, "Ready") == 0) { /* was True, now False: moves */
			ck_assert_str_eq(aios_json_str(c, "status"), "False");
			ck_assert_str_eq(aios_json_str(c, "lastTransitionTime"),
			                 "2026-11-29T01:00:05Z");
			ck_assert_str_eq(aios_json_str(c, "message"),
			                 "containers with unready status: [trainer]");
		}
	}
	struct json_object *c0 =
	    json_object_array_get_idx(aios_json_lookup(st, "containerStatuses"), 0);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(c0, "restartCount")), 2);
	ck_assert_str_eq(aios_json_str(c0, "state.running.startedAt"), "2026-11-29T01:00:00Z");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(c0, "lastState.terminated.exitCode")),
	                 137);
	ck_assert_str_eq(aios_json_str(c0, "lastState.terminated.message"), "killed");
	json_object_put(st);

	cs[0].ready = 1;
	st = aios_podstatus_build(&in);
	conds = aios_json_lookup(st, "conditions");
	for (size_t i = 0; i < 4; i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		if (strcmp(aios_json_str(c, "type"), "Ready") == 0) {
			ck_assert_str_eq(aios_json_str(c, "status"), "True");
			ck_assert_str_eq(aios_json_str(c, "lastTransitionTime"),
			                 "2026-11-29T00:30:00Z");
		}
	}
	json_object_put(st);

	cs[0] = ctr("trainer", AIOS_CTR_WAITING, 0);
	cs[0].reason = "ImageNotSupported";
	cs[0].message = "aios-node runs only aios images";
	in.restart = AIOS_RESTART_NEVER;
	st = aios_podstatus_build(&in);
	ck_assert_str_eq(aios_json_str(st, "phase"), "Pending");
	c0 = json_object_array_get_idx(aios_json_lookup(st, "containerStatuses"), 0);
	ck_assert_str_eq(aios_json_str(c0, "state.waiting.reason"), "ImageNotSupported");
	json_object_put(st);
	json_object_put(old);
}
END_TEST

static Suite *podstatus_suite(void)
{
	Suite *s = suite_create("node_podstatus");
	TCase *t = tcase_create("podstatus");
	tcase_add_test(t, phase_table);
	tcase_add_test(t, status_object);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(podstatus_suite)
