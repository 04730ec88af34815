/*
 * test_kube_leader.c - leader election between two electors on one Lease against the
 * real API server: one leads at a time, the other takes over after a clean release,
 * and a leader that stops without releasing is replaced after the lease duration.
 * Timings are shortened (lease 4 s, renew 3 s, retry 0.5 s) to keep the test short.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/clock.h"
#include "common/json.h"
#include "kube/leader.h"
#include "support/kube_test.h"

#define OK(expr) ck_assert_msg((expr) == AIOS_OK, "%s: %s", #expr, aios_errmsg())

static struct aios_kube_client *kc;
static char ns[64];

struct cb {
	int started, stopped;
};

static void on_started(void *arg)
{
	__atomic_add_fetch(&((struct cb *)arg)->started, 1, __ATOMIC_SEQ_CST);
}
static void on_stopped(void *arg)
{
	__atomic_add_fetch(&((struct cb *)arg)->stopped, 1, __ATOMIC_SEQ_CST);
}

static int load(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static struct aios_kube_leader *elector(const char *id, struct cb *cb)
{
	struct aios_kube_leader_opts o = {.ns = ns,
	                                  .name = "aios-test-lock",
	                                  .identity = id,
	                                  .lease_duration_ms = 4000,
	                                  .renew_deadline_ms = 3000,
	                                  .retry_period_ms = 500,
	                                  .on_started = on_started,
	                                  .on_stopped = on_stopped,
	                                  .arg = cb};
	struct aios_kube_leader *l = NULL;
	OK(aios_kube_leader_new(kc, &o, &l));
	return l;
}

static int wait_leader(struct aios_kube_leader *l, int64_t ms)
{
	int64_t until = aios_now_ms() + ms;
	while (aios_now_ms() < until) {
		if (aios_kube_leader_is_leader(l))
			return 1;
		aios_sleep_ms(50);
	}
	return 0;
}

static char *holder(void)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_leases, ns, "aios-test-lock");
	struct json_object *lease = NULL;
	OK(aios_kube_get(kc, &r, &lease));
	const char *h = aios_json_str(lease, "spec.holderIdentity");
	char *s = strdup(h ? h : "");
	json_object_put(lease);
	return s;
}

START_TEST(two_electors)
{
	kc = aios_kt_client("admin");
	snprintf(ns, sizeof(ns), "%s", aios_kt_namespace(kc, "kt-leader"));
	struct cb ca = {0}, cbb = {0};
	struct aios_kube_leader *a = elector("elector-a", &ca);
	struct aios_kube_leader *b = elector("elector-b", &cbb);
	ck_assert_str_eq(aios_kube_leader_identity(a), "elector-a");

	OK(aios_kube_leader_start(a));
	ck_assert(wait_leader(a, 5000));
	ck_assert_int_eq(load(&ca.started), 1);
	OK(aios_kube_leader_start(b));
	/* for two lease durations, b never leads while a renews */
	int64_t until = aios_now_ms() + 8000;
	while (aios_now_ms() < until) {
		ck_assert(!(aios_kube_leader_is_leader(a) && aios_kube_leader_is_leader(b)));
		ck_assert(!aios_kube_leader_is_leader(b));
		aios_sleep_ms(100);
	}
	char *h = holder();
	ck_assert_str_eq(h, "elector-a");
	free(h);

	/* a stops cleanly: it releases, b takes over within about a retry period */
	int64_t t0 = aios_now_ms();
	aios_kube_leader_stop(a);
	ck_assert_int_eq(load(&ca.stopped), 1);
	ck_assert(wait_leader(b, 4000));
	ck_assert_int_lt(aios_now_ms() - t0, 3000); /* well under the 4 s lease */
	h = holder();
	ck_assert_str_eq(h, "elector-b");
	free(h);

	/* the lease records the transition */
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_leases, ns, "aios-test-lock");
	struct json_object *lease = NULL;
	OK(aios_kube_get(kc, &r, &lease));
	int64_t transitions = -1, dur = 0;
	OK(aios_json_get_int(lease, "spec.leaseTransitions", &transitions));
	OK(aios_json_get_int(lease, "spec.leaseDurationSeconds", &dur));
	ck_assert_int_ge(transitions, 1);
	ck_assert_int_eq(dur, 4);
	json_object_put(lease);

	aios_kube_leader_stop(b);
	ck_assert_int_eq(load(&cbb.started), 1);
	ck_assert_int_eq(load(&cbb.stopped), 1);
	h = holder();
	ck_assert_str_eq(h, ""); /* released */
	free(h);
	aios_kube_leader_free(a);
	aios_kube_leader_free(b);
	aios_kube_client_free(kc);
}
END_TEST

START_TEST(expired_lease_is_taken)
{
	kc = aios_kt_client("admin");
	snprintf(ns, sizeof(ns), "%s", aios_kt_namespace(kc, "kt-leader"));
	/* a Lease held by someone who vanished without releasing it */
	struct json_object *l =
	    aios_kt_object("coordination.k8s.io/v1", "Lease", ns, "aios-test-lock");
	aios_json_set(l, "spec.holderIdentity", json_object_new_string("ghost"));
	aios_json_set(l, "spec.leaseDurationSeconds", json_object_new_int(4));
	aios_json_set(l, "spec.renewTime", json_object_new_string("2020-01-01T00:00:00.000000Z"));
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_leases, ns, NULL);
	OK(aios_kube_create(kc, &coll, l, NULL, NULL));
	json_object_put(l);
	struct cb cb = {0};
	struct aios_kube_leader *a = elector("elector-a", &cb);
	int64_t t0 = aios_now_ms();
	OK(aios_kube_leader_start(a));
	/* The old renewTime is not trusted (clocks differ): a waits a full lease duration
	 * from when it first saw the record. */
	ck_assert(wait_leader(a, 10000));
	int64_t took = aios_now_ms() - t0;
	ck_assert_int_ge(took, 3900);
	aios_kube_leader_stop(a);
	aios_kube_leader_free(a);
	aios_kube_client_free(kc);
}
END_TEST

START_TEST(bad_timings_refused)
{
	kc = aios_kt_client("admin");
	struct aios_kube_leader_opts o = {
	    .ns = "default", .name = "x", .lease_duration_ms = 10000, .renew_deadline_ms = 15000};
	struct aios_kube_leader *l = NULL;
	ck_assert_int_eq(aios_kube_leader_new(kc, &o, &l), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "must exceed the renew deadline"));
	aios_kube_client_free(kc);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_leader");
	TCase *t = tcase_create("live");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, two_electors);
	tcase_add_test(t, expired_lease_is_taken);
	tcase_add_test(t, bad_timings_refused);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
