/*
 * test_canary.c - the canary analysis: spec defaults and refusals, a good canary promoted
 * through every step, bad ones rolled back with the bound and the margin, no decision
 * below minRequests, on missing metrics, before the window closes or with no ready pod.
 */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "operator/canary.h"

#define T0  1800000000 /* an arbitrary start second */
#define URI "file:///models/v2.aios"

static struct json_object *ms_with(const char *canary)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"m\"},\"spec\":{\"canary\":%s}}",
	         canary);
	struct json_object *ms = json_tokener_parse(buf);
	ck_assert_ptr_nonnull(ms);
	return ms;
}

static void spec_of(const char *canary, struct aios_canary_spec *sp)
{
	struct json_object *ms = ms_with(canary);
	ck_assert_int_eq(aios_canary_spec_from_ms(ms, sp), AIOS_OK);
	json_object_put(ms);
}

static const struct aios_canary_metrics good = {
    .canary = {.have = 1, .requests = 500, .errors = 1, .p99_ms = 12},
    .stable = {.have = 1, .requests = 2000, .errors = 2, .p99_ms = 10},
};

/* One decision; the old status is consumed and the new one returned. */
static struct json_object *decide(const struct aios_canary_spec *sp, struct json_object *old,
                                  const struct aios_canary_metrics *m, int ready, time_t now,
                                  enum aios_canary_action want, struct aios_canary_decision *d)
{
	aios_canary_decide(sp, old, URI, "", "abc123", m, ready, now, d);
	json_object_put(old);
	ck_assert_msg(d->action == want, "action %d, want %d (%s)", d->action, want, d->message);
	return d->status;
}

static int weight_of(struct json_object *st)
{
	int64_t w = -1;
	ck_assert_int_eq(aios_json_opt_int(st, "weight", -1, &w), AIOS_OK);
	return (int)w;
}

START_TEST(spec_defaults_and_steps)
{
	struct aios_canary_spec sp;
	spec_of("{\"model\":{\"uri\":\"" URI "\"}}", &sp);
	ck_assert_int_eq(sp.enabled, 1);
	ck_assert_int_eq(sp.interval_s, AIOS_CANARY_DEFAULT_INTERVAL_S);
	ck_assert_int_eq(sp.n_steps, 4);
	int want[] = {10, 25, 50, 100};
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(sp.steps[i], want[i]);
	ck_assert_int_eq(sp.min_requests, AIOS_CANARY_DEFAULT_MIN_REQUESTS);
	ck_assert_double_eq(sp.max_latency_p99_ms, 0);

	/* steps at or below trafficPercent are skipped; 100 is appended */
	spec_of("{\"trafficPercent\":20,\"analysis\":{\"steps\":[10,20,40,80]}}", &sp);
	ck_assert_int_eq(sp.n_steps, 4);
	ck_assert_int_eq(sp.steps[0], 20);
	ck_assert_int_eq(sp.steps[1], 40);
	ck_assert_int_eq(sp.steps[2], 80);
	ck_assert_int_eq(sp.steps[3], 100);

	struct json_object *ms = json_tokener_parse("{\"spec\":{}}");
	ck_assert_int_eq(aios_canary_spec_from_ms(ms, &sp), AIOS_OK);
	ck_assert_int_eq(sp.enabled, 0);
	json_object_put(ms);
}
END_TEST

START_TEST(spec_refusals_name_the_field)
{
	static const struct {
		const char *canary, *msg;
	} cases[] = {
	    {"{\"trafficPercent\":0}", "spec.canary.trafficPercent: 0 is not within 1..100"},
	    {"{\"analysis\":{\"steps\":[50,40]}}",
	     "spec.canary.analysis.steps[1]: 40 must be within 1..100 and above the step "
	     "before it"},
	    {"{\"analysis\":{\"maxErrorRate\":1.5}}",
	     "spec.canary.analysis.maxErrorRate: 1.5 is not within 0..1"},
	    {"{\"analysis\":{\"interval\":0}}", "spec.canary.analysis.interval: 0 s is below 1 s"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aios_canary_spec sp;
		struct json_object *ms = ms_with(cases[i].canary);
		ck_assert_int_eq(aios_canary_spec_from_ms(ms, &sp), AIOS_ERR_INVALID);
		ck_assert_str_eq(aios_errmsg(), cases[i].msg);
		aios_errclear();
		json_object_put(ms);
	}
}
END_TEST

START_TEST(good_canary_promoted_through_every_step)
{
	struct aios_canary_spec sp;
	spec_of("{\"trafficPercent\":20,\"analysis\":{\"interval\":30,\"steps\":[50,100],"
	        "\"maxErrorRate\":0.01,\"maxLatencyP99Ms\":50,\"minRequests\":100}}",
	        &sp);
	struct aios_canary_decision d;
	time_t t = T0;
	struct json_object *st = decide(&sp, NULL, &good, 0, t, AIOS_CANARY_START, &d);
	ck_assert_str_eq(aios_json_str(st, "phase"), "Progressing");
	ck_assert_int_eq(weight_of(st), 20);
	ck_assert_str_eq(aios_json_str(st, "revision"), "abc123");
	int weights[] = {50, 100};
	for (int i = 0; i < 2; i++) {
		/* before the window closes nothing changes, good numbers or not */
		st = decide(&sp, st, &good, 1, t + 29, AIOS_CANARY_NONE, &d);
		ck_assert_int_eq(weight_of(st), i == 0 ? 20 : 50);
		t += 30;
		st = decide(&sp, st, &good, 1, t, AIOS_CANARY_STEP, &d);
		ck_assert_int_eq(weight_of(st), weights[i]);
		ck_assert_str_eq(aios_json_str(st, "lastAnalysis.result"), "Passed");
	}
	t += 30;
	st = decide(&sp, st, &good, 1, t, AIOS_CANARY_PROMOTE, &d);
	ck_assert_str_eq(aios_json_str(st, "phase"), "Promoted");
	ck_assert_str_eq(d.reason, "Promoted");
	ck_assert_int_eq(weight_of(st), 100);
	/* Promoted holds, whatever the metrics say next */
	struct aios_canary_metrics bad = good;
	bad.canary.errors = 400;
	st = decide(&sp, st, &bad, 1, t + 300, AIOS_CANARY_NONE, &d);
	ck_assert_str_eq(aios_json_str(st, "phase"), "Promoted");
	/* a new canary model starts over */
	aios_canary_decide(&sp, st, "file:///models/v3.aios", "", "def456", &good, 1, t + 301, &d);
	json_object_put(st);
	ck_assert_int_eq(d.action, AIOS_CANARY_START);
	ck_assert_int_eq(weight_of(d.status), 20);
	json_object_put(d.status);
}
END_TEST

START_TEST(error_rate_rolls_back_with_reason)
{
	struct aios_canary_spec sp;
	spec_of("{\"trafficPercent\":20,\"analysis\":{\"interval\":30,\"maxErrorRate\":0.05}}",
	        &sp);
	struct aios_canary_decision d;
	struct json_object *st = decide(&sp, NULL, &good, 1, T0, AIOS_CANARY_START, &d);
	struct aios_canary_metrics bad = good;
	bad.canary.errors = 100; /* 0.2 of 500 */
	st = decide(&sp, st, &bad, 1, T0 + 30, AIOS_CANARY_ROLLBACK, &d);
	ck_assert_str_eq(d.reason, "ErrorRateTooHigh");
	ck_assert_str_eq(aios_json_str(st, "phase"), "RolledBack");
	ck_assert_str_eq(aios_json_str(st, "reason"), "ErrorRateTooHigh");
	ck_assert_int_eq(weight_of(st), 0);
	ck_assert_str_eq(d.message, "rolled back at 20%: canary error rate 0.2000 is above "
	                            "maxErrorRate 0.05 by 0.1500 (100 of 500 requests failed; "
	                            "stable 0.0010)");
	ck_assert_str_eq(aios_json_str(st, "message"), d.message);
	ck_assert_str_eq(aios_json_str(st, "lastAnalysis.result"), "Failed");
	/* RolledBack holds: good numbers later do not revive it */
	st = decide(&sp, st, &good, 1, T0 + 600, AIOS_CANARY_NONE, &d);
	ck_assert_int_eq(weight_of(st), 0);
	json_object_put(st);
}
END_TEST

START_TEST(latency_rolls_back_with_reason)
{
	struct aios_canary_spec sp;
	spec_of("{\"analysis\":{\"interval\":10,\"maxLatencyP99Ms\":1}}", &sp);
	struct aios_canary_decision d;
	struct json_object *st = decide(&sp, NULL, &good, 1, T0, AIOS_CANARY_START, &d);
	st = decide(&sp, st, &good, 1, T0 + 10, AIOS_CANARY_ROLLBACK, &d);
	ck_assert_str_eq(d.reason, "LatencyTooHigh");
	ck_assert_str_eq(d.message, "rolled back at 10%: canary p99 latency 12.0 ms is above "
	                            "maxLatencyP99Ms 1 by 11.0 ms (500 requests; stable "
	                            "10.0 ms)");
	ck_assert_int_eq(weight_of(st), 0);
	json_object_put(st);
}
END_TEST

START_TEST(no_decision_below_min_requests_or_without_data)
{
	struct aios_canary_spec sp;
	spec_of("{\"analysis\":{\"interval\":10,\"minRequests\":1000,\"maxLatencyP99Ms\":5}}", &sp);
	struct aios_canary_decision d;
	struct json_object *st = decide(&sp, NULL, &good, 1, T0, AIOS_CANARY_START, &d);
	const char *ws0 = aios_json_str(st, "windowStart");
	char ws[32];
	snprintf(ws, sizeof(ws), "%s", ws0);

	/* every number is a failure, but none may be judged: */
	struct aios_canary_metrics bad = {
	    .canary = {.have = 1, .requests = 999, .errors = 999, .p99_ms = 9000}};
	st = decide(&sp, st, &bad, 1, T0 + 10, AIOS_CANARY_NONE, &d); /* 999 < 1000 */
	ck_assert_str_eq(d.reason, "Waiting");
	ck_assert_str_eq(d.message, "waiting at 10%: fewer canary requests than minRequests in "
	                            "the window (minRequests 1000)");
	bad.canary.requests = 5000;
	bad.canary.have = 0; /* scrapes failed */
	st = decide(&sp, st, &bad, 1, T0 + 11, AIOS_CANARY_NONE, &d);
	ck_assert_str_eq(d.message,
	                 "waiting at 10%: no metrics from the canary's pods (minRequests 1000)");
	bad.canary.have = 1;
	st = decide(&sp, st, &bad, 0, T0 + 12, AIOS_CANARY_NONE, &d); /* no ready pod */
	ck_assert_str_eq(d.message, "waiting at 10%: no canary pod is ready (minRequests 1000)");
	bad.canary.errors = 0;
	bad.canary.p99_ms = -1; /* a latency bound and nothing timed */
	st = decide(&sp, st, &bad, 1, T0 + 13, AIOS_CANARY_NONE, &d);
	ck_assert_str_eq(d.message, "waiting at 10%: no timed canary request in the window "
	                            "(minRequests 1000)");
	ck_assert_int_eq(weight_of(st), 10);
	ck_assert_str_eq(aios_json_str(st, "phase"), "Progressing");
	ck_assert_str_eq(aios_json_str(st, "windowStart"), ws); /* the window stays open */
	ck_assert_ptr_null(aios_json_lookup(st, "lastAnalysis"));

	/* enough requests at last: judged (and here the latency fails) */
	bad.canary.p99_ms = 9000;
	st = decide(&sp, st, &bad, 1, T0 + 14, AIOS_CANARY_ROLLBACK, &d);
	json_object_put(st);
}
END_TEST

static Suite *canary_suite(void)
{
	Suite *s = suite_create("canary");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, spec_defaults_and_steps);
	tcase_add_test(tc, spec_refusals_name_the_field);
	tcase_add_test(tc, good_canary_promoted_through_every_step);
	tcase_add_test(tc, error_rate_rolls_back_with_reason);
	tcase_add_test(tc, latency_rolls_back_with_reason);
	tcase_add_test(tc, no_decision_below_min_requests_or_without_data);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(canary_suite)
