/*
 * test_promtext.c - the Prometheus text reader: wanted names only, labels with escapes,
 * comments and CRLF, timestamps, NaN/Inf values, and the errors that name their line.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "http/promtext.h"

struct seen {
	int n;
	char names[8][64];
	double values[8];
	char le[8][16];
};

static enum aios_err collect(const struct aios_promtext_sample *s, void *arg)
{
	struct seen *x = arg;
	if (x->n < 8) {
		snprintf(x->names[x->n], 64, "%s", s->name);
		x->values[x->n] = s->value;
		const char *le = aios_promtext_label(s, "le");
		snprintf(x->le[x->n], 16, "%s", le ? le : "");
	}
	x->n++;
	return AIOS_OK;
}

static const char *const names[] = {"a_total", "b_bucket", "c", NULL};

START_TEST(samples_of_wanted_names)
{
	const char *page = "# HELP a_total things\r\n"
	                   "# TYPE a_total counter\r\n"
	                   "a_total{path=\"/x\\\"y\",code=\"200\"} 12 1700000000\r\n"
	                   "other{garbage 1\n"
	                   "\n"
	                   "  b_bucket{le=\"0.5\"} 3\n"
	                   "b_bucket{le=\"+Inf\"} 4\n"
	                   "c NaN\n";
	struct seen x = {0};
	ck_assert_int_eq(aios_promtext_parse(page, strlen(page), names, collect, &x), AIOS_OK);
	ck_assert_int_eq(x.n, 4);
	ck_assert_str_eq(x.names[0], "a_total");
	ck_assert_double_eq(x.values[0], 12);
	ck_assert_str_eq(x.le[1], "0.5");
	ck_assert_str_eq(x.le[2], "+Inf");
	ck_assert_double_eq(x.values[2], 4);
	ck_assert(isnan(x.values[3]));
}
END_TEST

START_TEST(label_values)
{
	const char *page = "a_total{path=\"/x\\\"y\",code=\"200\"} 1\n";
	struct seen x = {0};
	ck_assert_int_eq(aios_promtext_parse(page, strlen(page), names, collect, &x), AIOS_OK);
	ck_assert_int_eq(x.n, 1);
	ck_assert_str_eq(x.le[0], "");
}
END_TEST

static enum aios_err path_label(const struct aios_promtext_sample *s, void *arg)
{
	ck_assert_str_eq(aios_promtext_label(s, "path"), "/x\"y");
	ck_assert_str_eq(aios_promtext_label(s, "code"), "200");
	ck_assert_ptr_null(aios_promtext_label(s, "cod"));
	ck_assert_int_eq(s->lineno, 2);
	(*(int *)arg)++;
	return AIOS_OK;
}

START_TEST(label_lookup)
{
	const char *page = "# x\na_total{path=\"/x\\\"y\",code=\"200\"} 1\n";
	int n = 0;
	ck_assert_int_eq(aios_promtext_parse(page, strlen(page), names, path_label, &n), AIOS_OK);
	ck_assert_int_eq(n, 1);
}
END_TEST

START_TEST(errors_name_the_line)
{
	struct seen x = {0};
	const char *bad_labels = "c 1\na_total{path=\"x} 1\n";
	ck_assert_int_eq(aios_promtext_parse(bad_labels, strlen(bad_labels), names, collect, &x),
	                 AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "line 2"));
	const char *no_value = "c\n";
	ck_assert_int_eq(aios_promtext_parse(no_value, strlen(no_value), names, collect, &x),
	                 AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "no value"));
	const char *bad_value = "c 1x\n";
	ck_assert_int_eq(aios_promtext_parse(bad_value, strlen(bad_value), names, collect, &x),
	                 AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "bad value \"1x\""));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("promtext");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, samples_of_wanted_names);
	tcase_add_test(tc, label_values);
	tcase_add_test(tc, label_lookup);
	tcase_add_test(tc, errors_name_the_line);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
