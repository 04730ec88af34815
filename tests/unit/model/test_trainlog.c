/*
 * test_trainlog.c - the trainer's final line: what the writer prints the reader reads
 * back (with and without ONNX and accuracy), the flat {uri,...} form, the last final
 * line of a termination message, and lines that are refused.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "model/trainlog.h"

static void sample(struct aios_trainlog_final *f, int onnx, int classifies)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->artifact.uri, sizeof(f->artifact.uri), "pvc://m/x.aios");
	snprintf(f->artifact.sha256, sizeof(f->artifact.sha256), "%064d", 7);
	f->artifact.bytes = 1234;
	f->onnx.bytes = -1;
	if (onnx) {
		snprintf(f->onnx.uri, sizeof(f->onnx.uri), "pvc://m/x.onnx");
		snprintf(f->onnx.sha256, sizeof(f->onnx.sha256), "ee");
		f->onnx.bytes = 99;
	}
	f->epochs = 12;
	f->loss = 0.25;
	f->val_loss = NAN;
	f->classifies = classifies;
	f->accuracy = classifies ? 0.5 : NAN;
	f->val_accuracy = classifies ? 0.625 : NAN;
}

START_TEST(round_trip)
{
	for (int onnx = 0; onnx < 2; onnx++) {
		for (int cl = 0; cl < 2; cl++) {
			struct aios_trainlog_final *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
			sample(a, onnx, cl);
			char *line = aios_trainlog_format_final(a);
			ck_assert_ptr_null(strchr(line, '\n'));
			ck_assert_ptr_null(strstr(line, "\\/")); /* uris unescaped */
			ck_assert_int_eq(aios_trainlog_parse_final(line, strlen(line), b), AIOS_OK);
			ck_assert_str_eq(b->artifact.uri, a->artifact.uri);
			ck_assert_str_eq(b->artifact.sha256, a->artifact.sha256);
			ck_assert_int_eq(b->artifact.bytes, 1234);
			ck_assert_str_eq(b->onnx.uri, a->onnx.uri);
			ck_assert_int_eq(b->onnx.bytes, a->onnx.bytes);
			ck_assert_int_eq(b->epochs, 12);
			ck_assert_double_eq(b->loss, 0.25);
			ck_assert(isnan(b->val_loss));
			ck_assert_int_eq(b->classifies, cl);
			if (cl) {
				ck_assert_double_eq(b->accuracy, 0.5);
				ck_assert_double_eq(b->val_accuracy, 0.625);
			} else {
				ck_assert(isnan(b->accuracy) && isnan(b->val_accuracy));
			}
			free(line);
			free(a);
			free(b);
		}
	}
}
END_TEST

START_TEST(find_in_a_message)
{
	struct aios_trainlog_final *f = malloc(sizeof(*f));
	const char *msg = "epoch 8 loss 0.01\n"
	                  "{\"artifact\":{\"uri\":\"pvc://m/a\"},\"epochs\":3,\"loss\":1}\n"
	                  "  {\"uri\":\"pvc://m/b\",\"sha256\":\"abc\",\"bytes\":5}  \r\n"
	                  "{\"epoch\":3,\"epochs\":3,\"loss\":1}\n\n";
	ck_assert_int_eq(aios_trainlog_find_final(msg, f), 1);
	ck_assert_str_eq(f->artifact.uri, "pvc://m/b"); /* the flat form, the last one */
	ck_assert_str_eq(f->artifact.sha256, "abc");
	ck_assert_int_eq(f->artifact.bytes, 5);
	ck_assert_int_eq(f->epochs, 0);
	ck_assert(isnan(f->loss));
	ck_assert_int_eq(aios_trainlog_find_final("no json here\n", f), 0);
	ck_assert_int_eq(aios_trainlog_find_final(NULL, f), 0);
	free(f);
}
END_TEST

START_TEST(refused)
{
	struct aios_trainlog_final *f = malloc(sizeof(*f));
	static const char *const bad[] = {
	    "[1]",
	    "{\"epochs\":3}",
	    "{\"artifact\":{\"uri\":7}}",
	    "{\"artifact\":{\"uri\":\"x\"},\"epochs\":\"3\"}",
	    "{\"artifact\":{\"uri\":\"x\"},\"loss\":\"low\"}",
	    "{\"artifact\":{\"uri\":\"x\",\"bytes\":\"9\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(aios_trainlog_parse_final(bad[i], strlen(bad[i]), f) ==
		                  AIOS_ERR_INVALID,
		              "%s", bad[i]);
	free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trainlog");
	TCase *tc = tcase_create("final");
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, find_in_a_message);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
