/* test_protocol.c - V1 and V2 request parsing (every refusal names the problem) and encoding. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "serve/protocol.h"

static char err[512];

static enum aios_err v1(const char *body, int n_in, struct aios_proto_batch *b)
{
	err[0] = 0;
	return aios_proto_v1_parse(body, strlen(body), n_in, 65536, b, err, sizeof err);
}

static enum aios_err v2(const char *body, int n_in, struct aios_proto_batch *b)
{
	err[0] = 0;
	return aios_proto_v2_parse(body, strlen(body), n_in, 65536, b, err, sizeof err);
}

#define REFUSES(call, needle)                                                                      \
	do {                                                                                       \
		struct aios_proto_batch b_;                                                        \
		ck_assert_int_eq(call, AIOS_ERR_INVALID);                                          \
		ck_assert_msg(strstr(err, needle), "error \"%s\" lacks \"%s\"", err, needle);      \
		ck_assert_ptr_null(b_.x);                                                          \
	} while (0)

START_TEST(v1_good)
{
	struct aios_proto_batch b;
	ck_assert_int_eq(v1("{\"instances\": [[1, 2.5, -3e-1], [0,0,1e2]]}", 3, &b), AIOS_OK);
	ck_assert_int_eq(b.rows, 2);
	ck_assert_int_eq(b.cols, 3);
	ck_assert_float_eq(b.x[1], 2.5f);
	ck_assert_float_eq_tol(b.x[2], -0.3f, 1e-7f);
	ck_assert_float_eq(b.x[5], 100.0f);
	free(b.x);
	/* the hand scanner and the json-c path (taken for any other shape) agree */
	const char *forms[] = {
	    "{\"instances\":[[1,2.5,-0.3],[0,0,100]]}",
	    " {\n \"instances\" : [ [ 1 , 2.5 , -3E-1 ] ,\t[0, 0.0, 1e+2] ] } \r\n",
	    "{\"instances\": [[1, 2.5, -0.3], [0, 0, 100]], \"parameters\": {}}",
	    "{\"parameters\": null, \"instances\": [[1, 2.5, -0.3], [0, 0, 100]]}",
	};
	for (int f = 0; f < 4; f++) {
		ck_assert_int_eq(v1(forms[f], 3, &b), AIOS_OK);
		ck_assert_int_eq(b.rows, 2);
		float want[6] = {1, 2.5f, -0.3f, 0, 0, 100};
		for (int i = 0; i < 6; i++)
			ck_assert_float_eq(b.x[i], want[i]);
		free(b.x);
	}
	REFUSES(v1("{\"instances\": [[01, 2, 3]]}", 3, &b_),
	        "malformed JSON"); /* no leading zeros */
	REFUSES(v1("{\"instances\": [[+1, 2, 3]]}", 3, &b_), "malformed JSON");
	REFUSES(v1("{\"instances\": [[1, 2, 3],]}", 3, &b_), "malformed JSON");
	ck_assert_int_eq(v1("{\"instances\": [4, 5]}", 1, &b), AIOS_OK); /* scalars for 1 input */
	ck_assert_int_eq(b.rows, 2);
	ck_assert_float_eq(b.x[1], 5.0f);
	free(b.x);
}
END_TEST

START_TEST(v1_refusals)
{
	REFUSES(v1("{\"instances\": [[1, 2]", 2, &b_), "truncated");
	REFUSES(v1("{\"instances\": [[1, 2]]} x", 2, &b_), "malformed JSON at byte");
	REFUSES(v1("[1]", 2, &b_), "JSON object");
	REFUSES(v1("", 2, &b_), "empty");
	REFUSES(v1("{\"rows\": []}", 2, &b_), "missing \"instances\"");
	REFUSES(v1("{\"instances\": {}}", 2, &b_), "instances: expected an array");
	REFUSES(v1("{\"instances\": []}", 2, &b_), "instances is empty");
	REFUSES(v1("{\"instances\": [[1, 2], [1]]}", 2, &b_),
	        "instances[1] has 1 values; the model takes 2");
	REFUSES(v1("{\"instances\": [[1, \"2\"]]}", 2, &b_),
	        "instances[0][1]: expected a number, got a string");
	REFUSES(v1("{\"instances\": [[1, NaN]]}", 2, &b_), "NaN");
	REFUSES(v1("{\"instances\": [[1, 1e39]]}", 2, &b_), "not a finite FP32");
	REFUSES(v1("{\"instances\": [[1, true]]}", 2, &b_), "expected a number");
	REFUSES(v1("{\"instances\": [3]}", 2, &b_), "instances[0]: expected an array of 2 numbers");
}
END_TEST

START_TEST(v2_good)
{
	struct aios_proto_batch b;
	const char *flat = "{\"id\":\"r1\",\"inputs\":[{\"name\":\"x\",\"shape\":[2,3],"
	                   "\"datatype\":\"FP32\",\"data\":[1,2,3,4,5,6]}]}";
	ck_assert_int_eq(v2(flat, 3, &b), AIOS_OK);
	ck_assert_int_eq(b.rows, 2);
	ck_assert_str_eq(b.id, "r1");
	ck_assert_float_eq(b.x[5], 6.0f);
	free(b.x);
	const char *nested = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\","
	                     "\"data\":[[1,2],[3,4]]}]}";
	ck_assert_int_eq(v2(nested, 2, &b), AIOS_OK);
	ck_assert_float_eq(b.x[2], 3.0f);
	ck_assert_str_eq(b.id, "");
	free(b.x);
	const char *one =
	    "{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":[7,8]}]}";
	ck_assert_int_eq(v2(one, 2, &b), AIOS_OK);
	ck_assert_int_eq(b.rows, 1);
	free(b.x);
}
END_TEST

START_TEST(v2_refusals)
{
	REFUSES(v2("{}", 2, &b_), "missing \"inputs\"");
	REFUSES(v2("{\"inputs\":[]}", 2, &b_), "inputs has 0 tensors");
	REFUSES(v2("{\"inputs\":[{\"shape\":[1,2],\"data\":[1,2]}]}", 2, &b_), "datatype: missing");
	REFUSES(
	    v2("{\"inputs\":[{\"shape\":[1,2],\"datatype\":\"INT64\",\"data\":[1,2]}]}", 2, &b_),
	    "INT64 is not supported");
	REFUSES(
	    v2("{\"inputs\":[{\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}", 2, &b_),
	    "last dimension is 3; the model takes 2");
	REFUSES(
	    v2("{\"inputs\":[{\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}", 2, &b_),
	    "has 3 values; shape [2, 2] needs 4");
	REFUSES(
	    v2("{\"inputs\":[{\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}", 2, &b_),
	    "more than the 2 values");
	REFUSES(v2("{\"inputs\":[{\"shape\":[0,2],\"datatype\":\"FP32\",\"data\":[]}]}", 2, &b_),
	        "batch is empty");
	REFUSES(v2("{\"inputs\":[{\"shape\":[1,2,2],\"datatype\":\"FP32\",\"data\":[]}]}", 2, &b_),
	        "3 dimensions");
	REFUSES(v2("{\"inputs\":[{\"shape\":[1000000000,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}",
	           2, &b_),
	        "cannot fit");
	REFUSES(
	    v2("{\"inputs\":[{\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,null]}]}", 2, &b_),
	    "data[1]: expected a number");
	REFUSES(v2("{\"id\":5,\"inputs\":[]}", 2, &b_), "id: expected a string");
}
END_TEST

/* The row cap: a body with more rows than max_rows is TOO_BIG (413), on every path. */
START_TEST(row_cap)
{
	struct aios_proto_batch b;
	const char *three = "{\"instances\": [[1,2],[3,4],[5,6]]}"; /* the fast path */
	ck_assert_int_eq(aios_proto_v1_parse(three, strlen(three), 2, 3, &b, err, sizeof err),
	                 AIOS_OK);
	ck_assert_int_eq(b.rows, 3);
	free(b.x);
	ck_assert_int_eq(aios_proto_v1_parse(three, strlen(three), 2, 2, &b, err, sizeof err),
	                 AIOS_ERR_TOO_BIG);
	ck_assert_str_eq(err, "request has 3 rows; the limit is 2 rows per request");
	ck_assert_ptr_null(b.x);
	/* json-c's path (a key the fast path does not take) */
	const char *slow = "{\"x\": 1, \"instances\": [[1,2],[3,4],[5,6]]}";
	ck_assert_int_eq(aios_proto_v1_parse(slow, strlen(slow), 2, 2, &b, err, sizeof err),
	                 AIOS_ERR_TOO_BIG);
	ck_assert_str_eq(err, "request has 3 rows; the limit is 2 rows per request");
	ck_assert_ptr_null(b.x);
	/* V2: the shape says how many rows */
	const char *v2b = "{\"inputs\":[{\"name\":\"x\",\"shape\":[3,2],\"datatype\":\"FP32\","
	                  "\"data\":[1,2,3,4,5,6]}]}";
	ck_assert_int_eq(aios_proto_v2_parse(v2b, strlen(v2b), 2, 3, &b, err, sizeof err), AIOS_OK);
	free(b.x);
	ck_assert_int_eq(aios_proto_v2_parse(v2b, strlen(v2b), 2, 2, &b, err, sizeof err),
	                 AIOS_ERR_TOO_BIG);
	ck_assert_str_eq(err, "request has 3 rows; the limit is 2 rows per request");
	ck_assert_ptr_null(b.x);
	/* far past the cap: refused on the raw bytes, before any JSON parse (the body is
	 * not even valid JSON, and the answer is still 413, not 400) */
	char many[4096] = "{\"instances\": [";
	size_t at = strlen(many);
	for (int i = 0; i < 1000; i++, at += 2)
		memcpy(many + at, "1,", 3);
	ck_assert_int_eq(aios_proto_v1_parse(many, strlen(many), 1, 10, &b, err, sizeof err),
	                 AIOS_ERR_TOO_BIG);
	ck_assert_str_eq(err, "request carries more than 10 rows of 1 values (1001 values); the "
	                      "limit is 10 rows per request");
	ck_assert_int_eq(aios_proto_v2_parse(many, strlen(many), 1, 10, &b, err, sizeof err),
	                 AIOS_ERR_TOO_BIG);
	ck_assert_ptr_null(b.x);
}
END_TEST

START_TEST(encoding)
{
	struct aios_buf out;
	aios_buf_init(&out, 4096);
	float y1[] = {0.5f, -2};
	ck_assert_int_eq(aios_proto_v1_encode(y1, 2, 1, &out), AIOS_OK);
	ck_assert_str_eq(out.data, "{\"predictions\":[0.5,-2]}");
	aios_buf_reset(&out);
	float y2[] = {0.25f, 0.75f, 1, 0};
	ck_assert_int_eq(aios_proto_v1_encode(y2, 2, 2, &out), AIOS_OK);
	ck_assert_str_eq(out.data, "{\"predictions\":[[0.25,0.75],[1,0]]}");
	aios_buf_reset(&out);
	ck_assert_int_eq(aios_proto_v2_encode("m\"1", "abc", y2, 2, 2, &out), AIOS_OK);
	ck_assert_str_eq(out.data,
	                 "{\"model_name\":\"m\\\"1\",\"model_version\":\"1\",\"id\":\"abc\","
	                 "\"outputs\":[{\"name\":\"output-0\",\"shape\":[2,2],"
	                 "\"datatype\":\"FP32\",\"data\":[0.25,0.75,1,0]}]}");
	aios_buf_reset(&out);
	/* a float survives the text round trip exactly */
	float v = 0.1f;
	ck_assert_int_eq(aios_proto_put_float(&out, v), AIOS_OK);
	ck_assert_float_eq(strtof(out.data, NULL), v);
	aios_buf_cleanup(&out);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_protocol");
	TCase *t = tcase_create("core");
	tcase_add_test(t, v1_good);
	tcase_add_test(t, v1_refusals);
	tcase_add_test(t, v2_good);
	tcase_add_test(t, v2_refusals);
	tcase_add_test(t, row_cap);
	tcase_add_test(t, encoding);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
