/* test_batcher.c - per-round dynamic batching: merging, splitting back, bounds, the hold. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/clock.h"
#include "serve/batcher.h"

/* The "model": y = 2x + 1 (in = out = 2); records pass sizes. */
static int g_passes, g_rows[16], g_done;
static float g_y[16][8];
static int g_done_rows[16];

static void fn(const float *x, int rows, float *y, void *ud)
{
	g_rows[g_passes++] = rows;
	for (int i = 0; i < rows * 2; i++)
		y[i] = 2 * x[i] + 1;
}

static void done(void *ctx, const float *y, int rows, void *ud)
{
	int id = (int)(intptr_t)ctx;
	memcpy(g_y[id], y, sizeof(float) * rows * 2);
	g_done_rows[id] = rows;
	g_done++;
}

static void reset(void)
{
	g_passes = g_done = 0;
	memset(g_rows, 0, sizeof g_rows);
	memset(g_done_rows, 0, sizeof g_done_rows);
}

static void add(struct aios_batcher *b, int id, int rows)
{
	float x[8];
	for (int k = 0; k < rows * 2; k++)
		x[k] = (float)(id * 10 + k);
	ck_assert_int_eq(aios_batcher_add(b, x, rows, (void *)(intptr_t)id), AIOS_OK);
}

START_TEST(one_round_one_pass_split_back)
{
	reset();
	struct aios_batcher_config c = {.in = 2, .out = 2, .max_batch_rows = 32};
	struct aios_batcher *b = aios_batcher_new(&c);
	for (int i = 0; i < 5; i++)
		add(b, i, 1 + i % 3);
	ck_assert_int_eq(aios_batcher_pending(b), 5);
	ck_assert_int_eq(aios_batcher_round(b, fn, done, NULL, NULL), -1);
	ck_assert_int_eq(g_passes, 1);
	ck_assert_int_eq(g_rows[0], 1 + 2 + 3 + 1 + 2);
	ck_assert_int_eq(g_done, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(g_done_rows[i], 1 + i % 3);
		for (int k = 0; k < g_done_rows[i] * 2; k++)
			ck_assert_float_eq(g_y[i][k], 2 * (float)(i * 10 + k) + 1);
	}
	ck_assert_int_eq(aios_batcher_pending(b), 0);
	ck_assert_int_eq(aios_batcher_round(b, fn, done, NULL, NULL), -1); /* nothing: no pass */
	ck_assert_int_eq(g_passes, 1);
	aios_batcher_free(b);
}
END_TEST

START_TEST(max_rows_splits_passes)
{
	reset();
	struct aios_batcher_config c = {.in = 2, .out = 2, .max_batch_rows = 4};
	struct aios_batcher *b = aios_batcher_new(&c);
	add(b, 0, 3);
	add(b, 1, 1); /* 3 + 1 fits */
	add(b, 2, 3);
	add(b, 3, 4); /* 3 + 4 does not */
	aios_batcher_flush(b, fn, done, NULL, NULL);
	ck_assert_int_eq(g_passes, 3);
	ck_assert_int_eq(g_rows[0], 4);
	ck_assert_int_eq(g_rows[1], 3);
	ck_assert_int_eq(g_rows[2], 4);
	for (int k = 0; k < 8; k++)
		ck_assert_float_eq(g_y[3][k], 2 * (float)(30 + k) + 1);
	/* a single request over the limit runs alone */
	reset();
	float big[12] = {0};
	ck_assert_int_eq(aios_batcher_add(b, big, 6, (void *)(intptr_t)0), AIOS_OK);
	aios_batcher_flush(b, fn, done, NULL, NULL);
	ck_assert_int_eq(g_rows[0], 6);
	aios_batcher_free(b);
}
END_TEST

START_TEST(capacity_refuses)
{
	reset();
	struct aios_batcher_config c = {.in = 2, .out = 2, .capacity = 2};
	struct aios_batcher *b = aios_batcher_new(&c);
	add(b, 0, 1);
	add(b, 1, 1);
	float x[2] = {0};
	ck_assert_int_eq(aios_batcher_add(b, x, 1, NULL), AIOS_ERR_UNAVAILABLE);
	aios_batcher_flush(b, fn, done, NULL, NULL);
	ck_assert_int_eq(g_done, 2);
	ck_assert_int_eq(aios_batcher_add(b, x, 1, (void *)(intptr_t)2), AIOS_OK); /* room again */
	aios_batcher_free(b);
}
END_TEST

START_TEST(hold_only_under_load)
{
	reset();
	struct aios_batcher_config c = {
	    .in = 2, .out = 2, .max_batch_rows = 8, .max_delay_us = 50000};
	struct aios_batcher *b = aios_batcher_new(&c);
	/* a lone request at an idle batcher runs in its own round: no hold */
	add(b, 0, 1);
	ck_assert_int_eq(aios_batcher_round(b, fn, done, NULL, NULL), -1);
	ck_assert_int_eq(g_done, 1);
	/* two in one round (load): they run, and the next partial batch may be held */
	add(b, 1, 1);
	add(b, 2, 1);
	ck_assert_int_eq(aios_batcher_round(b, fn, done, NULL, NULL), -1);
	ck_assert_int_eq(g_done, 3);
	add(b, 3, 1);
	int wait = aios_batcher_round(b, fn, done, NULL, NULL);
	ck_assert_int_gt(wait, 0);
	ck_assert_int_le(wait, 50);
	ck_assert_int_eq(g_done, 3); /* held */
	add(b, 4, 1);
	aios_sleep_ms(60);
	ck_assert_int_eq(aios_batcher_round(b, fn, done, NULL, NULL), -1); /* hold expired */
	ck_assert_int_eq(g_done, 5);
	ck_assert_int_eq(g_rows[g_passes - 1], 2); /* 3 and 4 went together */
	/* a full batch is never held */
	for (int i = 0; i < 8; i++)
		add(b, 5 + (i % 8), 1);
	ck_assert_int_eq(aios_batcher_round(b, fn, done, NULL, NULL), -1);
	aios_batcher_free(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_batcher");
	TCase *t = tcase_create("core");
	tcase_add_test(t, one_round_one_pass_split_back);
	tcase_add_test(t, max_rows_splits_passes);
	tcase_add_test(t, capacity_refuses);
	tcase_add_test(t, hold_only_under_load);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
