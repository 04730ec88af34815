/*
 * test_leader.c - the pure parts of leader election: parsing a Lease's
 * metav1.MicroTime, and how far a follower dates back its observation of a renewed
 * record (the renewal's age when it is in the past and no older than the lease
 * duration, capped at leaseDuration - renewDeadline; otherwise "now", client-go's
 * rule).
 */
#include <check.h>
#include <stdint.h>

#include "check_main.h"
#include "kube/leader.h"

#define T0_S     1795914123LL /* 2026-11-29T01:02:03Z */
#define T0_US    (T0_S * 1000000)
#define LEASE_MS 15000
#define MAX_MS   5000 /* leaseDuration - renewDeadline */

START_TEST(micro_time_parses_what_the_api_server_writes)
{
	int64_t us = -1;
	ck_assert_int_eq(aios_kube_micro_time_parse("2026-11-29T01:02:03.456789Z", &us), 0);
	ck_assert_int_eq(us, T0_US + 456789);
	ck_assert_int_eq(aios_kube_micro_time_parse("2026-11-29T01:02:03Z", &us), 0);
	ck_assert_int_eq(us, T0_US);
	ck_assert_int_eq(aios_kube_micro_time_parse("2026-11-29T01:02:03.5Z", &us), 0);
	ck_assert_int_eq(us, T0_US + 500000);
	/* nanoseconds are truncated to microseconds */
	ck_assert_int_eq(aios_kube_micro_time_parse("2026-11-29T01:02:03.123456789Z", &us), 0);
	ck_assert_int_eq(us, T0_US + 123456);
	ck_assert_int_eq(aios_kube_micro_time_parse("1970-01-01T00:00:00.000001Z", &us), 0);
	ck_assert_int_eq(us, 1);
}
END_TEST

START_TEST(micro_time_refuses_anything_else)
{
	static const char *bad[] = {
	    "",
	    "2026-11-29T01:02:03",             /* no zone */
	    "2026-11-29T01:02:03.Z",           /* a dot without digits */
	    "2026-11-29T01:02:03.1234567890Z", /* 10 fraction digits */
	    "2026-11-29T01:02:03+01:00",       /* only UTC "Z" is written by the API server */
	    "2026-11-29 01:02:03Z",            /* no "T" */
	    "2026-13-29T01:02:03Z",            /* month 13 */
	    "2026-11-29T24:02:03Z",            /* hour 24 */
	    "2026-11-29T01:02:03Zx",           /* trailing bytes */
	    " 2026-11-29T01:02:03Z",           /* leading space */
	    "2026-1-29T01:02:03Z",             /* one-digit month */
	    "yesterday",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t us = 42;
		ck_assert_msg(aios_kube_micro_time_parse(bad[i], &us) == -1, "accepted \"%s\"",
		              bad[i]);
		ck_assert_int_eq(us, 0);
	}
	int64_t us = 42;
	ck_assert_int_eq(aios_kube_micro_time_parse(NULL, &us), -1);
}
END_TEST

static int64_t backdate(const char *renew, int64_t now_us)
{
	return aios_kube_lease_backdate_ms(renew, now_us, LEASE_MS, MAX_MS);
}

START_TEST(observation_dated_back_to_a_recent_renewal)
{
	const char *r = "2026-11-29T01:02:03.000000Z";
	ck_assert_int_eq(backdate(r, T0_US), 0);              /* renewed just now */
	ck_assert_int_eq(backdate(r, T0_US + 1500), 1);       /* 1.5 ms: whole ms */
	ck_assert_int_eq(backdate(r, T0_US + 3200000), 3200); /* seen 3.2 s late */
	ck_assert_int_eq(backdate(r, T0_US + 4999000), 4999);
	/* older than leaseDuration - renewDeadline: capped, so a fast clock cannot make a
	 * follower act earlier than renewDeadline after it saw the renewal */
	ck_assert_int_eq(backdate(r, T0_US + 5000000), MAX_MS);
	ck_assert_int_eq(backdate(r, T0_US + 9000000), MAX_MS);
	ck_assert_int_eq(backdate(r, T0_US + 15000000), MAX_MS); /* exactly one lease old */
	/* a cap above the age does not change it */
	ck_assert_int_eq(aios_kube_lease_backdate_ms(r, T0_US + 9000000, LEASE_MS, LEASE_MS), 9000);
	/* a cap of 0 is client-go's rule */
	ck_assert_int_eq(aios_kube_lease_backdate_ms(r, T0_US + 9000000, LEASE_MS, 0), 0);
}
END_TEST

START_TEST(observation_counts_from_now_otherwise)
{
	const char *r = "2026-11-29T01:02:03.000000Z";
	/* renewTime in the future by our clock: their clock is ahead; never date later */
	ck_assert_int_eq(backdate(r, T0_US - 1), 0);
	ck_assert_int_eq(backdate(r, T0_US - 3000000), 0);
	/* older than the lease duration: a stale record (or a slow clock): from now */
	ck_assert_int_eq(backdate(r, T0_US + 15001000), 0);
	ck_assert_int_eq(backdate(r, T0_US + 3600000000LL), 0);
	/* absent or unparsable */
	ck_assert_int_eq(backdate(NULL, T0_US + 3000000), 0);
	ck_assert_int_eq(backdate("", T0_US + 3000000), 0);
	ck_assert_int_eq(backdate("2026-11-29T01:02:03", T0_US + 3000000), 0);
	ck_assert_int_eq(backdate("not a time", T0_US + 3000000), 0);
}
END_TEST

static Suite *leader_suite(void)
{
	Suite *s = suite_create("kube_leader");
	TCase *tc = tcase_create("lease_times");
	tcase_add_test(tc, micro_time_parses_what_the_api_server_writes);
	tcase_add_test(tc, micro_time_refuses_anything_else);
	tcase_add_test(tc, observation_dated_back_to_a_recent_renewal);
	tcase_add_test(tc, observation_counts_from_now_otherwise);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(leader_suite)
