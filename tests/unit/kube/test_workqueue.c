/*
 * test_workqueue.c - the work queue's client-go semantics: dedupe, never one key in
 * two workers at once, delayed adds, per-key backoff growth and cap, the overall
 * token bucket, and a shutdown that wakes every waiter.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/clock.h"
#include "kube/workqueue.h"

START_TEST(dedupe)
{
	struct aios_kube_workqueue *q = aios_kube_workqueue_new(NULL);
	aios_kube_workqueue_add(q, "ns/a");
	aios_kube_workqueue_add(q, "ns/b");
	aios_kube_workqueue_add(q, "ns/a");
	aios_kube_workqueue_add(q, "ns/a");
	ck_assert_uint_eq(aios_kube_workqueue_len(q), 2);
	char *k1 = aios_kube_workqueue_get(q);
	char *k2 = aios_kube_workqueue_get(q);
	ck_assert_str_eq(k1, "ns/a"); /* FIFO order of first adds */
	ck_assert_str_eq(k2, "ns/b");
	ck_assert_uint_eq(aios_kube_workqueue_len(q), 0);
	aios_kube_workqueue_done(q, k1);
	aios_kube_workqueue_done(q, k2);
	ck_assert_uint_eq(aios_kube_workqueue_len(q), 0);
	free(k1);
	free(k2);
	aios_kube_workqueue_free(q);
}
END_TEST

START_TEST(key_in_process_is_held_back)
{
	struct aios_kube_workqueue *q = aios_kube_workqueue_new(NULL);
	aios_kube_workqueue_add(q, "a");
	char *k = aios_kube_workqueue_get(q);
	ck_assert_str_eq(k, "a");
	/* Added again while processing: not handed to another worker... */
	aios_kube_workqueue_add(q, "a");
	aios_kube_workqueue_add(q, "a");
	ck_assert_uint_eq(aios_kube_workqueue_len(q), 0);
	ck_assert_ptr_null(aios_kube_workqueue_get_timeout(q, 50));
	/* ...until done, and then once. */
	aios_kube_workqueue_done(q, k);
	ck_assert_uint_eq(aios_kube_workqueue_len(q), 1);
	char *k2 = aios_kube_workqueue_get(q);
	ck_assert_str_eq(k2, "a");
	aios_kube_workqueue_done(q, k2);
	ck_assert_uint_eq(aios_kube_workqueue_len(q), 0);
	free(k);
	free(k2);
	aios_kube_workqueue_free(q);
}
END_TEST

/* Many workers hammer a few keys; per-key counters must never exceed 1. */
#define NKEYS 4
static int busy[NKEYS];
static int overlap;
static int processed;

static void *worker(void *arg)
{
	struct aios_kube_workqueue *q = arg;
	char *k;
	while ((k = aios_kube_workqueue_get(q)) != NULL) {
		int i = k[1] - '0';
		if (__atomic_add_fetch(&busy[i], 1, __ATOMIC_SEQ_CST) > 1)
			__atomic_store_n(&overlap, 1, __ATOMIC_SEQ_CST);
		aios_sleep_ms(1);
		/* re-adding from inside the worker is the usual requeue pattern */
		if (rand() % 4 == 0)
			aios_kube_workqueue_add(q, k);
		__atomic_sub_fetch(&busy[i], 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&processed, 1, __ATOMIC_SEQ_CST);
		aios_kube_workqueue_done(q, k);
		free(k);
	}
	return NULL;
}

START_TEST(never_two_workers_on_one_key)
{
	struct aios_kube_workqueue *q = aios_kube_workqueue_new(NULL);
	pthread_t th[6];
	for (int i = 0; i < 6; i++)
		pthread_create(&th[i], NULL, worker, q);
	char key[8];
	for (int n = 0; n < 2000; n++) {
		snprintf(key, sizeof(key), "k%d", n % NKEYS);
		aios_kube_workqueue_add(q, key);
		if (n % 100 == 0)
			aios_sleep_ms(2);
	}
	int64_t until = aios_now_ms() + 5000;
	while (aios_kube_workqueue_len(q) > 0 && aios_now_ms() < until)
		aios_sleep_ms(5);
	aios_sleep_ms(50);
	aios_kube_workqueue_shutdown(q);
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(overlap, 0);
	ck_assert_int_gt(processed, 20);
	aios_kube_workqueue_free(q);
}
END_TEST

START_TEST(backoff_grows_and_caps)
{
	struct aios_kube_workqueue_opts o = {
	    .base_delay_ms = 5, .max_delay_ms = 1000, .qps = 1e6, .burst = 1000000};
	struct aios_kube_workqueue *q = aios_kube_workqueue_new(&o);
	int64_t want[] = {5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_int_eq(aios_kube_workqueue_when(q, "a"), want[i]);
	ck_assert_int_eq(aios_kube_workqueue_num_requeues(q, "a"), 10);
	/* per key: another key starts at the base */
	ck_assert_int_eq(aios_kube_workqueue_when(q, "b"), 5);
	aios_kube_workqueue_forget(q, "a");
	ck_assert_int_eq(aios_kube_workqueue_num_requeues(q, "a"), 0);
	ck_assert_int_eq(aios_kube_workqueue_when(q, "a"), 5);
	aios_kube_workqueue_free(q);
}
END_TEST

START_TEST(defaults_are_client_go)
{
	struct aios_kube_workqueue *q = aios_kube_workqueue_new(NULL);
	/* 5 ms * 2^n capped at 1000 s: the 19th failure is 5*2^18 ms = 1310.72 s -> cap */
	int64_t d = 0;
	for (int i = 0; i < 19; i++)
		d = aios_kube_workqueue_when(q, "x");
	ck_assert_int_eq(d, 1000 * 1000);
	aios_kube_workqueue_free(q);
}
END_TEST

START_TEST(token_bucket_limits_overall_rate)
{
	/* 10 per second, burst 3: the 4th..6th distinct keys wait ~100, 200, 300 ms */
	struct aios_kube_workqueue_opts o = {
	    .base_delay_ms = 1, .max_delay_ms = 1000, .qps = 10, .burst = 3};
	struct aios_kube_workqueue *q = aios_kube_workqueue_new(&o);
	char key[8];
	int64_t d[6];
	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		d[i] = aios_kube_workqueue_when(q, key);
	}
	ck_assert_int_le(d[0], 1);
	ck_assert_int_le(d[2], 1);
	ck_assert_int_ge(d[3], 90);
	ck_assert_int_le(d[3], 110);
	ck_assert_int_ge(d[5], 290);
	ck_assert_int_le(d[5], 310);
	aios_kube_workqueue_free(q);
}
END_TEST

START_TEST(add_after_waits)
{
	struct aios_kube_workqueue *q = aios_kube_workqueue_new(NULL);
	int64_t t0 = aios_now_ms();
	aios_kube_workqueue_add_after(q, "late", 300);
	aios_kube_workqueue_add_after(q, "soon", 100);
	ck_assert_uint_eq(aios_kube_workqueue_len(q), 0);
	char *k = aios_kube_workqueue_get(q);
	int64_t t1 = aios_now_ms();
	ck_assert_str_eq(k, "soon");
	ck_assert_int_ge(t1 - t0, 95);
	ck_assert_int_lt(t1 - t0, 290);
	aios_kube_workqueue_done(q, k);
	free(k);
	k = aios_kube_workqueue_get(q);
	ck_assert_str_eq(k, "late");
	ck_assert_int_ge(aios_now_ms() - t0, 295);
	aios_kube_workqueue_done(q, k);
	free(k);
	/* Two delays for one key: the earlier wins, and it is queued once. */
	aios_kube_workqueue_add_after(q, "x", 400);
	aios_kube_workqueue_add_after(q, "x", 50);
	k = aios_kube_workqueue_get_timeout(q, 300);
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k, "x");
	aios_kube_workqueue_done(q, k);
	free(k);
	ck_assert_ptr_null(aios_kube_workqueue_get_timeout(q, 500));
	/* add_rate_limited goes through the delay too */
	aios_kube_workqueue_add_rate_limited(q, "r");
	ck_assert_int_eq(aios_kube_workqueue_num_requeues(q, "r"), 1);
	k = aios_kube_workqueue_get_timeout(q, 1000);
	ck_assert_ptr_nonnull(k);
	aios_kube_workqueue_done(q, k);
	free(k);
	aios_kube_workqueue_forget(q, "r");
	aios_kube_workqueue_free(q);
}
END_TEST

static void *blocked_get(void *arg)
{
	return aios_kube_workqueue_get(arg);
}

START_TEST(shutdown_wakes_every_waiter)
{
	struct aios_kube_workqueue *q = aios_kube_workqueue_new(NULL);
	aios_kube_workqueue_add_after(q, "far", 60000); /* a sleeper with a deadline too */
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, blocked_get, q);
	aios_sleep_ms(100);
	int64_t t0 = aios_now_ms();
	aios_kube_workqueue_shutdown(q);
	for (int i = 0; i < 4; i++) {
		void *r = (void *)1;
		pthread_join(th[i], &r);
		ck_assert_ptr_null(r);
	}
	ck_assert_int_lt(aios_now_ms() - t0, 500);
	ck_assert(aios_kube_workqueue_shutting_down(q));
	/* adds after shutdown are dropped, gets return at once */
	aios_kube_workqueue_add(q, "after");
	ck_assert_uint_eq(aios_kube_workqueue_len(q), 0);
	ck_assert_ptr_null(aios_kube_workqueue_get(q));
	aios_kube_workqueue_free(q);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_workqueue");
	TCase *t = tcase_create("queue");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, dedupe);
	tcase_add_test(t, key_in_process_is_held_back);
	tcase_add_test(t, never_two_workers_on_one_key);
	tcase_add_test(t, backoff_grows_and_caps);
	tcase_add_test(t, defaults_are_client_go);
	tcase_add_test(t, token_bucket_limits_overall_rate);
	tcase_add_test(t, add_after_waits);
	tcase_add_test(t, shutdown_wakes_every_waiter);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
