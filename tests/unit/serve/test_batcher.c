/* test_batcher.c - dynamic batching: merging, splitting back, no wait when idle, bounds. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/clock.h"
#include "serve/batcher.h"

/* The "model": y = 2x + 1 per column (in = out = 2), optionally slow. */
static atomic_int g_passes, g_max_rows, g_block_ms;
static void fn(const float *x, int rows, float *y, int executor, void *ud)
{
	atomic_fetch_add(&g_passes, 1);
	int m = atomic_load(&g_max_rows);
	while (rows > m && !atomic_compare_exchange_weak(&g_max_rows, &m, rows))
		;
	if (atomic_load(&g_block_ms))
		aios_sleep_ms(atomic_load(&g_block_ms));
	for (int i = 0; i < rows * 2; i++)
		y[i] = 2 * x[i] + 1;
}

static void reset(int block_ms)
{
	atomic_store(&g_passes, 0);
	atomic_store(&g_max_rows, 0);
	atomic_store(&g_block_ms, block_ms);
}

struct job {
	struct aios_batcher *b;
	int rows;
	float x[8], y[8];
	enum aios_err e;
	int64_t deadline;
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	j->e = aios_batcher_run(j->b, j->x, j->rows, j->y, j->deadline);
	return NULL;
}

START_TEST(idle_runs_at_once)
{
	reset(0);
	struct aios_batcher_config c = {.in = 2, .out = 2, .max_batch_rows = 32, .max_delay_us = 200000};
	struct aios_batcher *b = aios_batcher_new(&c, fn, NULL);
	float x[2] = {1, 2}, y[2];
	int64_t t0 = aios_now_ns();
	ck_assert_int_eq(aios_batcher_run(b, x, 1, y, 0), AIOS_OK);
	/* the 200 ms hold applies only under load: an idle batcher never waits */
	ck_assert_int_lt(aios_now_ns() - t0, 20 * 1000000);
	ck_assert_float_eq(y[0], 3);
	ck_assert_float_eq(y[1], 5);
	aios_batcher_free(b);
}
END_TEST

START_TEST(concurrent_requests_merge_and_split)
{
	reset(30); /* the first pass is slow, so the others queue behind it */
	struct aios_batcher_config c = {.in = 2, .out = 2, .max_batch_rows = 32};
	struct aios_batcher *b = aios_batcher_new(&c, fn, NULL);
	struct job jobs[6];
	pthread_t t[6];
	for (int i = 0; i < 6; i++) {
		memset(&jobs[i], 0, sizeof jobs[i]);
		jobs[i].b = b;
		jobs[i].rows = 1 + i % 3;
		for (int k = 0; k < 8; k++)
			jobs[i].x[k] = (float)(i * 10 + k);
		pthread_create(&t[i], NULL, run_job, &jobs[i]);
		if (i == 0)
			aios_sleep_ms(5); /* job 0 is running its pass */
	}
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(jobs[i].e, AIOS_OK);
		for (int k = 0; k < jobs[i].rows * 2; k++)
			ck_assert_float_eq(jobs[i].y[k], 2 * jobs[i].x[k] + 1);
	}
	/* 1 pass for job 0, then the 5 queued ones together (or at worst split in two) */
	ck_assert_int_le(atomic_load(&g_passes), 3);
	ck_assert_int_ge(atomic_load(&g_max_rows), 4);
	aios_batcher_free(b);
}
END_TEST

START_TEST(max_rows_bounds_a_pass)
{
	reset(20);
	struct aios_batcher_config c = {.in = 2, .out = 2, .max_batch_rows = 4};
	struct aios_batcher *b = aios_batcher_new(&c, fn, NULL);
	struct job jobs[5];
	pthread_t t[5];
	for (int i = 0; i < 5; i++) {
		memset(&jobs[i], 0, sizeof jobs[i]);
		jobs[i].b = b;
		jobs[i].rows = 3;
		pthread_create(&t[i], NULL, run_job, &jobs[i]);
	}
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(atomic_load(&g_max_rows), 3); /* 3 + 3 > 4: never merged */
	ck_assert_int_eq(atomic_load(&g_passes), 5);
	aios_batcher_free(b);
}
END_TEST

START_TEST(full_queue_refuses_and_deadline_withdraws)
{
	reset(200);
	struct aios_batcher_config c = {.in = 2, .out = 2, .max_batch_rows = 1, .queue_depth = 1};
	struct aios_batcher *b = aios_batcher_new(&c, fn, NULL);
	struct job a = {.b = b, .rows = 1}, q = {.b = b, .rows = 1};
	pthread_t ta, tq;
	pthread_create(&ta, NULL, run_job, &a); /* running: 200 ms */
	aios_sleep_ms(30);
	q.deadline = aios_now_ns() + 50 * 1000000; /* queued behind it, gives up at 50 ms */
	pthread_create(&tq, NULL, run_job, &q);
	aios_sleep_ms(20);
	ck_assert_int_eq(aios_batcher_queued(b), 1);
	float x[2] = {0}, y[2];
	ck_assert_int_eq(aios_batcher_run(b, x, 1, y, 0), AIOS_ERR_UNAVAILABLE);
	pthread_join(tq, NULL);
	ck_assert_int_eq(q.e, AIOS_ERR_TIMEOUT);
	ck_assert_int_eq(aios_batcher_queued(b), 0);
	pthread_join(ta, NULL);
	ck_assert_int_eq(a.e, AIOS_OK);
	aios_batcher_free(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_batcher");
	TCase *t = tcase_create("core");
	tcase_add_test(t, idle_runs_at_once);
	tcase_add_test(t, concurrent_requests_merge_and_split);
	tcase_add_test(t, max_rows_bounds_a_pass);
	tcase_add_test(t, full_queue_refuses_and_deadline_withdraws);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
