/*
 * test_conditions.c - metav1.Condition lists: SetStatusCondition's rules
 * (lastTransitionTime only on a status change, observedGeneration on every set), the
 * only-if-present setter, removal, carrying a condition into a rebuilt list, and the
 * JSON round trip.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "kube/conditions.h"

#define T0 "2024-01-01T00:00:00Z"
#define T1 "2024-01-01T00:01:00Z"
#define T2 "2024-01-01T00:02:00Z"

START_TEST(new_condition_gets_now)
{
	struct aios_conditions c = {0};
	ck_assert_int_eq(
	    aios_conditions_set(&c, "Running", AIOS_CONDITION_TRUE, "Up", "all up", 3, T0), 1);
	ck_assert_uint_eq(c.n, 1);
	const struct aios_condition *x = aios_conditions_find(&c, "Running");
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->last_transition, T0);
	ck_assert_int_eq(x->observed_generation, 3);
	ck_assert_str_eq(x->reason, "Up");
	ck_assert_str_eq(x->message, "all up");
	ck_assert(aios_conditions_is_true(&c, "Running"));
	ck_assert(!aios_conditions_is_true(&c, "Failed"));
	ck_assert_ptr_null(aios_conditions_reason(&c, "Failed"));
	aios_conditions_cleanup(&c);
}
END_TEST

START_TEST(transition_time_moves_only_on_status_change)
{
	struct aios_conditions c = {0};
	(void)aios_conditions_set(&c, "Running", AIOS_CONDITION_FALSE, "Pending", "0 of 2", 1, T0);
	/* same status, new reason and message: time kept, generation written */
	ck_assert_int_eq(aios_conditions_set(&c, "Running", AIOS_CONDITION_FALSE,
	                                     "ImagePullBackOff", "1 of 2", 2, T1),
	                 1);
	const struct aios_condition *x = aios_conditions_find(&c, "Running");
	ck_assert_str_eq(x->last_transition, T0);
	ck_assert_str_eq(x->reason, "ImagePullBackOff");
	ck_assert_int_eq(x->observed_generation, 2);
	/* nothing new: no change */
	ck_assert_int_eq(aios_conditions_set(&c, "Running", AIOS_CONDITION_FALSE,
	                                     "ImagePullBackOff", "1 of 2", 2, T2),
	                 0);
	ck_assert_str_eq(aios_conditions_find(&c, "Running")->last_transition, T0);
	/* the status flips: time moves */
	ck_assert_int_eq(
	    aios_conditions_set(&c, "Running", AIOS_CONDITION_TRUE, "Up", "2 of 2", 2, T2), 1);
	ck_assert_str_eq(aios_conditions_find(&c, "Running")->last_transition, T2);
	aios_conditions_cleanup(&c);
}
END_TEST

START_TEST(false_if_present_and_remove)
{
	struct aios_conditions c = {0};
	ck_assert_int_eq(aios_conditions_set_false_if_present(&c, "Restarting", "R", "m", 1, T0),
	                 0);
	ck_assert_uint_eq(c.n, 0);
	(void)aios_conditions_set(&c, "Restarting", AIOS_CONDITION_TRUE, "RankFailed", "m", 1, T0);
	(void)aios_conditions_set(&c, "Created", AIOS_CONDITION_TRUE, "PodsCreated", "m", 1, T0);
	ck_assert_int_eq(aios_conditions_set_false_if_present(&c, "Restarting", "Up", "ok", 1, T1),
	                 1);
	ck_assert_int_eq(aios_conditions_find(&c, "Restarting")->status, AIOS_CONDITION_FALSE);
	ck_assert_str_eq(aios_conditions_find(&c, "Restarting")->last_transition, T1);
	ck_assert_int_eq(aios_conditions_remove(&c, "Restarting"), 1);
	ck_assert_int_eq(aios_conditions_remove(&c, "Restarting"), 0);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_str_eq(c.v[0].type, "Created");
	aios_conditions_cleanup(&c);
}
END_TEST

START_TEST(message_is_cut)
{
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct aios_conditions c = {0};
	(void)aios_conditions_set(&c, "Failed", AIOS_CONDITION_TRUE, "X", big, 1, T0);
	ck_assert_uint_eq(strlen(c.v[0].message), AIOS_CONDITIONS_MESSAGE_MAX - 1);
	(void)aios_conditions_set(&c, "Failed", AIOS_CONDITION_TRUE, "X", NULL, 1, T0);
	ck_assert_str_eq(c.v[0].message, "");
	aios_conditions_cleanup(&c);
}
END_TEST

START_TEST(carry_keeps_the_old_time)
{
	struct aios_conditions old = {0}, cur = {0};
	(void)aios_conditions_set(&old, "Ready", AIOS_CONDITION_TRUE, "Serving", "1 ready", 1, T0);
	aios_conditions_carry(&cur, &old, "Ready");
	aios_conditions_carry(&cur, &old, "ModelLoaded"); /* absent in old: nothing */
	ck_assert_uint_eq(cur.n, 1);
	(void)aios_conditions_set(&cur, "Ready", AIOS_CONDITION_TRUE, "Serving", "2 ready", 2, T1);
	ck_assert_str_eq(aios_conditions_find(&cur, "Ready")->last_transition, T0);
	ck_assert_str_eq(aios_conditions_find(&old, "Ready")->message, "1 ready");
	aios_conditions_cleanup(&old);
	aios_conditions_cleanup(&cur);
}
END_TEST

START_TEST(json_round_trip)
{
	const char *text =
	    "[{\"type\":\"Created\",\"status\":\"True\",\"observedGeneration\":2,"
	    "\"lastTransitionTime\":\"" T0 "\",\"reason\":\"PodsCreated\",\"message\":\"m1\"},"
	    "{\"type\":\"Running\",\"status\":\"False\",\"observedGeneration\":2,"
	    "\"lastTransitionTime\":\"" T1 "\",\"reason\":\"RanksPending\",\"message\":\"\"},"
	    "{\"type\":\"Odd\",\"status\":\"Unknown\",\"observedGeneration\":1,"
	    "\"lastTransitionTime\":\"" T1 "\",\"reason\":\"\",\"message\":\"\"},"
	    "{\"status\":\"True\"}]";
	struct json_object *a = NULL;
	ck_assert_int_eq(aios_json_parse(text, strlen(text), "test", &a), AIOS_OK);
	struct aios_conditions c = {0};
	aios_conditions_decode(a, &c);
	ck_assert_uint_eq(c.n, 3); /* the entry without a type is dropped */
	ck_assert_int_eq(c.v[2].status, AIOS_CONDITION_UNKNOWN);
	struct json_object *b = aios_conditions_encode(&c);
	json_object_array_del_idx(a, 3, 1);
	ck_assert(aios_json_equal(a, b));
	struct aios_conditions d = {0};
	aios_conditions_copy(&d, &c);
	struct json_object *e = aios_conditions_encode(&d);
	ck_assert(aios_json_equal(a, e));
	json_object_put(a);
	json_object_put(b);
	json_object_put(e);
	aios_conditions_cleanup(&c);
	aios_conditions_cleanup(&d);
	aios_conditions_decode(NULL, &c);
	ck_assert_uint_eq(c.n, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("conditions");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, new_condition_gets_now);
	tcase_add_test(tc, transition_time_moves_only_on_status_change);
	tcase_add_test(tc, false_if_present_and_remove);
	tcase_add_test(tc, message_is_cut);
	tcase_add_test(tc, carry_keeps_the_old_time);
	tcase_add_test(tc, json_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
