/*
 * test_render.c - kubectl-aios pictures: table, progress bar, loss curve, request body.
 */
#include <math.h>
#include <string.h>

#include "check_main.h"
#include "cli/render.h"
#include "common/clock.h"
#include "common/json.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = NULL;
	ck_assert_int_eq(aios_json_parse(s, strlen(s), "test", &o), AIOS_OK);
	return o;
}

START_TEST(table_lists_both_kinds)
{
	struct json_object *tjs =
	    parse("{\"items\":[{\"metadata\":{\"name\":\"linear\",\"namespace\":\"ml\","
	          "\"creationTimestamp\":\"2026-11-29T01:00:00Z\"},\"spec\":{\"distributed\":{"
	          "\"workers\":2}},"
	          "\"status\":{\"phase\":\"Running\",\"progress\":{\"epoch\":30,\"epochs\":500,"
	          "\"loss\":0.125}}}]}");
	struct json_object *mss = parse(
	    "{\"items\":[{\"metadata\":{\"name\":\"linear-svc\",\"namespace\":\"ml\","
	    "\"creationTimestamp\":\"2026-11-27T01:00:00Z\"},\"status\":{\"phase\":\"Ready\","
	    "\"readyReplicas\":2,\"desiredReplicas\":3,\"url\":\"http://linear-svc.ml.svc\"}}]}");
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	time_t now = aios_rfc3339_parse("2026-11-29T01:05:00Z");
	ck_assert_int_eq(aios_cli_table(&b, tjs, mss, 1, now), AIOS_OK);
	ck_assert_ptr_nonnull(strstr(b.data, "NAMESPACE"));
	ck_assert_ptr_nonnull(strstr(b.data, "TrainingJob  ml               linear"));
	ck_assert_ptr_nonnull(strstr(b.data, "workers=2 epoch=30/500 loss=0.125"));
	ck_assert_ptr_nonnull(strstr(b.data, "ready=2/3 url=http://linear-svc.ml.svc"));
	ck_assert_ptr_nonnull(strstr(b.data, " 5m "));
	ck_assert_ptr_nonnull(strstr(b.data, " 2d "));
	aios_buf_cleanup(&b);
	json_object_put(tjs);
	json_object_put(mss);
}
END_TEST

START_TEST(classifier_shows_accuracy)
{
	struct json_object *tjs =
	    parse("{\"items\":[{\"metadata\":{\"name\":\"mnist\",\"namespace\":\"ml\","
	          "\"creationTimestamp\":\"2026-11-29T01:00:00Z\"},\"spec\":{},"
	          "\"status\":{\"phase\":\"Running\",\"progress\":{\"epoch\":3,\"epochs\":10,"
	          "\"loss\":0.25,\"accuracy\":0.9694,\"percent\":30}}}]}");
	struct json_object *none = parse("{\"items\":[]}");
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	time_t now = aios_rfc3339_parse("2026-11-29T01:05:00Z");
	ck_assert_int_eq(aios_cli_table(&b, tjs, none, 0, now), AIOS_OK);
	ck_assert_msg(strstr(b.data, "workers=1 epoch=3/10 loss=0.25 acc=0.969"), "%s", b.data);
	aios_buf_reset(&b);
	struct json_object *tj = json_object_array_get_idx(json_object_object_get(tjs, "items"), 0);
	ck_assert_int_eq(aios_cli_progress(&b, tj, 10), AIOS_OK);
	ck_assert_str_eq(b.data,
	                 "[###.......]  30%  Running  epoch 3/10  loss 0.25  accuracy 96.9%");
	aios_buf_cleanup(&b);
	json_object_put(tjs);
	json_object_put(none);
}
END_TEST

START_TEST(progress_bar_fills_by_percent)
{
	struct json_object *tj =
	    parse("{\"status\":{\"phase\":\"Running\",\"progress\":{\"epoch\":5,"
	          "\"epochs\":10,\"loss\":0.5,\"percent\":50,\"etaSeconds\":12}}}");
	struct aios_buf b;
	aios_buf_init(&b, 4096);
	ck_assert_int_eq(aios_cli_progress(&b, tj, 10), AIOS_OK);
	ck_assert_str_eq(b.data, "[#####.....]  50%  Running  epoch 5/10  loss 0.5  eta 12s");
	json_object_put(tj);
	aios_buf_reset(&b);
	tj = parse("{\"status\":{\"phase\":\"Succeeded\"}}");
	ck_assert_int_eq(aios_cli_progress(&b, tj, 4), AIOS_OK);
	ck_assert_str_eq(b.data, "[####] 100%  Succeeded  epoch 0/0");
	json_object_put(tj);
	aios_buf_cleanup(&b);
}
END_TEST

START_TEST(curve_puts_max_top_left_and_min_bottom_right)
{
	double l[] = {4, 3, NAN, 2, 1};
	struct aios_buf b;
	aios_buf_init(&b, 1 << 16);
	ck_assert_int_eq(aios_cli_curve(&b, l, 5, 5, 4), AIOS_OK);
	/* first row: label 4 and a star in the first column; last plot row: star in the last. */
	ck_assert_ptr_nonnull(strstr(b.data, "         4 |*    \n"));
	ck_assert_ptr_nonnull(strstr(b.data, "         1 |    *\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "5 epochs shown"));
	aios_buf_reset(&b);
	double none[] = {NAN};
	ck_assert_int_eq(aios_cli_curve(&b, none, 1, 5, 4), AIOS_OK);
	ck_assert_str_eq(b.data, "(no loss values yet)\n");
	aios_buf_cleanup(&b);
}
END_TEST

START_TEST(predict_body_checks_data)
{
	char *body = NULL;
	ck_assert_int_eq(aios_cli_predict_body("[[5]]", &body), AIOS_OK);
	ck_assert_str_eq(body, "{\"instances\":[[5]]}");
	free(body);
	ck_assert_int_eq(aios_cli_predict_body("[]", &body), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "--data"));
	ck_assert_int_eq(aios_cli_predict_body("[[5]", &body), AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_cli_predict_body("{\"a\":1}", &body), AIOS_ERR_INVALID);
}
END_TEST

START_TEST(age_like_kubectl)
{
	char out[16];
	time_t t0 = aios_rfc3339_parse("2026-11-29T00:00:00Z");
	aios_cli_age("2026-11-29T00:00:00Z", t0 + 59, out, sizeof(out));
	ck_assert_str_eq(out, "59s");
	aios_cli_age("2026-11-29T00:00:00Z", t0 + 3 * 3600, out, sizeof(out));
	ck_assert_str_eq(out, "3h");
	aios_cli_age("junk", t0, out, sizeof(out));
	ck_assert_str_eq(out, "<unknown>");
}
END_TEST

static Suite *render_suite(void)
{
	Suite *s = suite_create("cli_render");
	TCase *tc = tcase_create("render");
	tcase_add_test(tc, table_lists_both_kinds);
	tcase_add_test(tc, classifier_shows_accuracy);
	tcase_add_test(tc, progress_bar_fills_by_percent);
	tcase_add_test(tc, curve_puts_max_top_left_and_min_bottom_right);
	tcase_add_test(tc, predict_body_checks_data);
	tcase_add_test(tc, age_like_kubectl);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(render_suite)
