/*
 * test_dashboard_model.c - what the dashboard draws: curves from trainer logs (restarts,
 * thinning, lines that are not epochs), a ModelService's history ring, the summaries.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "cli/dashboard_model.h"
#include "common/buf.h"
#include "common/json.h"
#include "model/trainlog.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = NULL;
	ck_assert_int_eq(aios_json_parse(s, strlen(s), "test", &o), AIOS_OK);
	return o;
}

/* n epoch lines of epochs total, loss 1/epoch, from epoch `from`, as the trainer writes them. */
static void epochs(struct aios_buf *b, int from, int to, int total, int classifies)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	for (int e = from; e <= to; e++) {
		struct aios_trainlog_epoch ep = {.epoch = e,
		                                 .epochs = total,
		                                 .loss = 1.0 / e,
		                                 .val_loss = e % 2 ? NAN : 2.0 / e,
		                                 .val_accuracy = classifies ? 0.5 : NAN};
		aios_trainlog_write_epoch(f, &ep, classifies);
	}
	fclose(f);
	ck_assert_int_eq(aios_buf_append(b, text, len), AIOS_OK);
	free(text);
}

START_TEST(curve_from_log_skips_other_lines)
{
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	ck_assert_int_eq(aios_buf_puts(&b,
	                               "{\"ts\":\"x\",\"level\":\"info\",\"msg\":\"start\"}\n"
	                               "not json at all\n{\"epoch\":0,\"epochs\":3,\"loss\":1}\n"),
	                 AIOS_OK);
	epochs(&b, 1, 3, 3, 1);
	ck_assert_int_eq(aios_buf_puts(&b,
	                               "{\"artifact\":{\"uri\":\"x\"},\"epochs\":3,\"loss\":0.3}\n"
	                               "{\"epoch\":2,\"epochs\":3,\"loss\":\"x\"}"),
	                 AIOS_OK);
	static struct aios_dash_curve c;
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(aios_dash_curve_from_log(&c, b.data, b.len), 3);
	ck_assert_int_eq(c.n, 3);
	ck_assert_int_eq(c.epoch[0], 1);
	ck_assert_int_eq(c.epoch[2], 3);
	ck_assert(fabs(c.loss[2] - 1.0 / 3) < 1e-8);
	ck_assert(isnan(c.val_loss[0]));
	ck_assert(fabs(c.val_loss[1] - 1.0) < 1e-8);
	ck_assert(fabs(c.val_acc[0] - 0.5) < 1e-8);
	struct json_object *j = aios_dash_curve_json(&c);
	ck_assert_str_eq(
	    json_object_to_json_string_ext(aios_json_lookup(j, "valLoss"), JSON_C_TO_STRING_PLAIN),
	    "[null,1.0,null]");
	json_object_put(j);
	aios_buf_cleanup(&b);
}
END_TEST

/* A retried attempt prints from a lower epoch again: its lines replace the redone ones. */
START_TEST(curve_restart_keeps_the_later_run)
{
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	epochs(&b, 1, 10, 20, 0);
	epochs(&b, 6, 20, 20, 0); /* resumed from the checkpoint of epoch 5 */
	static struct aios_dash_curve c;
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(aios_dash_curve_from_log(&c, b.data, b.len), 20);
	ck_assert_int_eq(c.n, 20);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(c.epoch[i], i + 1);
	aios_buf_cleanup(&b);
}
END_TEST

START_TEST(long_curve_is_thinned_evenly)
{
	struct aios_buf b;
	aios_buf_init(&b, 8 << 20);
	epochs(&b, 1, 1000, 1000, 0);
	static struct aios_dash_curve c;
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(aios_dash_curve_from_log(&c, b.data, b.len), 1000);
	ck_assert_int_eq(c.n, AIOS_DASH_POINTS);
	ck_assert_int_eq(c.epoch[0], 1);
	ck_assert_int_eq(c.epoch[AIOS_DASH_POINTS - 1], 1000);
	for (int i = 1; i < c.n; i++) {
		int64_t gap = c.epoch[i] - c.epoch[i - 1];
		ck_assert_msg(gap >= 4 && gap <= 5, "gap %lld at %d", (long long)gap, i);
	}
	aios_buf_cleanup(&b);
}
END_TEST

START_TEST(series_ring_keeps_the_newest)
{
	static struct aios_dash_series s;
	memset(&s, 0, sizeof(s));
	char text[256];
	for (int i = 0; i < AIOS_DASH_SAMPLES + 5; i++) {
		snprintf(text, sizeof(text),
		         "{\"status\":{\"desiredReplicas\":%d,\"readyReplicas\":%d,\"metrics\":{"
		         "\"rps\":%d}}}",
		         i % 7, i % 3, i);
		struct json_object *ms = parse(text);
		aios_dash_series_push(&s, ms, 1000.0 + i);
		json_object_put(ms);
	}
	ck_assert_int_eq(s.n, AIOS_DASH_SAMPLES);
	struct json_object *j = aios_dash_series_json(&s);
	struct json_object *t = aios_json_lookup(j, "t"), *rps = aios_json_lookup(j, "rps");
	ck_assert_int_eq(json_object_array_length(t), AIOS_DASH_SAMPLES);
	ck_assert(json_object_get_double(json_object_array_get_idx(t, 0)) == 1005.0);
	ck_assert(json_object_get_double(json_object_array_get_idx(rps, AIOS_DASH_SAMPLES - 1)) ==
	          AIOS_DASH_SAMPLES + 4);
	ck_assert_ptr_null(json_object_array_get_idx(aios_json_lookup(j, "p99Ms"), 0)); /* null */
	json_object_put(j);
}
END_TEST

START_TEST(search_summary_marks_the_best)
{
	struct json_object *tj = parse(
	    "{\"metadata\":{\"name\":\"lr\",\"namespace\":\"ml\"},\"spec\":{\"search\":{\"trials\":"
	    "2},"
	    "\"distributed\":{\"workers\":2}},\"status\":{\"phase\":\"Succeeded\",\"attempts\":1,"
	    "\"workers\":{\"active\":0,\"succeeded\":2},\"best\":{\"trial\":\"lr-t1\"},"
	    "\"trials\":[{\"index\":0,\"name\":\"lr-t0\",\"phase\":\"Succeeded\",\"objective\":0.5}"
	    ","
	    "{\"index\":1,\"name\":\"lr-t1\",\"phase\":\"Succeeded\",\"objective\":0.25,"
	    "\"parameters\":{\"optimizer.learningRate\":0.1}}]}}");
	struct json_object *s = aios_dash_tj_summary(tj);
	ck_assert_str_eq(aios_json_str(s, "best"), "lr-t1");
	ck_assert_str_eq(aios_json_str(s, "phase"), "Succeeded");
	struct json_object *trials = aios_json_lookup(s, "trials");
	ck_assert_int_eq(json_object_array_length(trials), 2);
	ck_assert(!json_object_get_boolean(
	    aios_json_lookup(json_object_array_get_idx(trials, 0), "best")));
	ck_assert(json_object_get_boolean(
	    aios_json_lookup(json_object_array_get_idx(trials, 1), "best")));
	int64_t wanted = 0;
	ck_assert_int_eq(aios_json_get_int(s, "workers.wanted", &wanted), AIOS_OK);
	ck_assert_int_eq(wanted, 2);
	json_object_put(s);
	json_object_put(tj);
	/* a plain job has no trials, and a missing phase shows as Pending */
	tj = parse("{\"metadata\":{\"name\":\"x\"},\"spec\":{}}");
	s = aios_dash_tj_summary(tj);
	ck_assert_ptr_null(aios_json_lookup(s, "trials"));
	ck_assert_str_eq(aios_json_str(s, "phase"), "Pending");
	json_object_put(s);
	json_object_put(tj);
}
END_TEST

START_TEST(trainlog_refuses_what_is_not_an_epoch)
{
	struct aios_trainlog_epoch e;
	static const char *bad[] = {"",
	                            "[1]",
	                            "{\"epoch\":1}",
	                            "{\"epoch\":1.5,\"epochs\":2,\"loss\":1}",
	                            "{\"epoch\":3,\"epochs\":2,\"loss\":1}",
	                            "{\"epoch\":1,\"epochs\":2,\"loss\":null}",
	                            "{\"epoch\":1,\"epochs\":2,\"loss\":1,\"val_loss\":\"x\"}",
	                            "{"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(aios_trainlog_parse_epoch(bad[i], strlen(bad[i]), &e) ==
		                  AIOS_ERR_INVALID,
		              "accepted %s", bad[i]);
	char big[AIOS_TRAINLOG_LINE_MAX + 2];
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	ck_assert_int_eq(aios_trainlog_parse_epoch(big, sizeof(big), &e), AIOS_ERR_INVALID);
	const char *ok =
	    "{\"epoch\":2,\"epochs\":2,\"loss\":0.5,\"val_loss\":null,\"val_accuracy\":0.75,"
	    "\"samples_per_sec\":10.0,\"elapsed_s\":1.5,\"cpu_s\":0.1}";
	ck_assert_int_eq(aios_trainlog_parse_epoch(ok, strlen(ok), &e), AIOS_OK);
	ck_assert(e.epoch == 2 && e.loss == 0.5 && isnan(e.val_loss) && e.val_accuracy == 0.75);
}
END_TEST

/* Logs are read as tails: a later read that starts after the first one's start keeps the
 * earlier points, so the curve covers every epoch seen. */
START_TEST(tails_merge_into_one_curve)
{
	struct aios_buf b;
	aios_buf_init(&b, 8 << 20);
	static struct aios_dash_curve c;
	memset(&c, 0, sizeof(c));
	epochs(&b, 1, 100, 3000, 0);
	ck_assert_int_eq(aios_dash_curve_from_log(&c, b.data, b.len), 100);
	aios_buf_reset(&b);
	epochs(&b, 50, 3000, 3000, 0);
	ck_assert_int_eq(aios_dash_curve_from_log(&c, b.data, b.len), 2951);
	ck_assert_int_eq(c.n, AIOS_DASH_POINTS);
	ck_assert_int_eq(c.epoch[0], 1);
	ck_assert_int_eq(c.epoch[c.n - 1], 3000);
	for (int i = 1; i < c.n; i++)
		ck_assert_msg(c.epoch[i] > c.epoch[i - 1], "not increasing at %d", i);
	/* an empty read (no new log yet) leaves the curve alone */
	ck_assert_int_eq(aios_dash_curve_from_log(&c, "", 0), 0);
	ck_assert_int_eq(c.n, AIOS_DASH_POINTS);
	aios_buf_cleanup(&b);
}
END_TEST

static Suite *dash_suite(void)
{
	Suite *s = suite_create("dashboard_model");
	TCase *tc = tcase_create("model");
	tcase_add_test(tc, curve_from_log_skips_other_lines);
	tcase_add_test(tc, curve_restart_keeps_the_later_run);
	tcase_add_test(tc, long_curve_is_thinned_evenly);
	tcase_add_test(tc, tails_merge_into_one_curve);
	tcase_add_test(tc, series_ring_keeps_the_newest);
	tcase_add_test(tc, search_summary_marks_the_best);
	tcase_add_test(tc, trainlog_refuses_what_is_not_an_epoch);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(dash_suite)
