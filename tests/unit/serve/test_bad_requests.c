/*
 * test_bad_requests.c - the table of bad inference request bodies (each row with
 * the exact error expected), for both protocols, against a model
 * that takes 2 inputs. Each body is refused with AIOS_ERR_INVALID (the server answers
 * 400 with the message as the error) and a message naming the field. HTTP-level faults
 * (sizes, methods, paths, headers, slow clients) are in test_http_serve.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "serve/protocol.h"

#define N_INPUTS 2

static const struct {
	const char *body, *msg;
} v1_cases[] = {
    {"", "request body is empty; expected a JSON object"},
    {"[[1,2]]", "predict request: expected a JSON object at the top level"},
    {"{}", "missing \"instances\": expected {\"instances\": [[...], ...]}"},
    {"{\"instances\":[]}", "instances is empty: send at least one row"},
    {"{\"instances\":{}}", "instances: expected an array of rows, got object"},
    {"{\"instances\":[[1,2],[3]]}", "instances[1] has 1 values; the model takes 2"},
    {"{\"instances\":[[1,2,3]]}", "instances[0] has 3 values; the model takes 2"},
    {"{\"instances\":[[1,\"2\"]]}", "instances[0][1]: expected a number, got a string"},
    {"{\"instances\":[[1,null]]}", "instances[0][1]: expected a number, got null"},
    {"{\"instances\":[[1,1e39]]}", "instances[0][1]: 1e+39 is not a finite FP32 number"},
    {"{\"instances\":[[1,2]]", "predict request: truncated JSON"},
    {"{\"instances\":[[1,2]]} x",
     "predict request: malformed JSON at byte 22: unexpected character"},
    {"{\"instances\":[[1,2]],\"instances\":[[1,2,3]]}",
     "instances[0] has 3 values; the model takes 2"},
    {"{\"instances\":[1,2]}", "instances[0]: expected an array of 2 numbers, got int"},
    {"{\"inputs\":[[1,2]]}", "missing \"instances\""},
    {"{\"instances\":[[true,2]]}", "instances[0][0]: expected a number, got boolean"},
    {"{\"instances\":[[[1],[2]]]}", "instances[0][0]: expected a number, got array"},
};

static const struct {
	const char *body, *msg;
} v2_cases[] = {
    {"", "request body is empty; expected a JSON object"},
    {"{}", "missing \"inputs\": expected an array of one FP32 tensor"},
    {"{\"inputs\":[]}", "inputs has 0 tensors; the model takes exactly 1"},
    {"{\"inputs\":{}}", "missing \"inputs\": expected an array of one FP32 tensor"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\"}]}",
     "inputs[0].data: missing; expected an array of numbers"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"INT64\",\"data\":[1,2]}]}",
     "inputs[0].datatype: INT64 is not supported; the model takes FP32"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"data\":[1,2]}]}",
     "inputs[0].datatype: missing; expected \"FP32\""},
    {"{\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"data\":[1,2]}]}",
     "inputs[0].shape: missing; expected [rows, 2]"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}",
     "inputs[0].shape: last dimension is 3; the model takes 2 inputs"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}",
     "inputs[0].data has 3 values; shape [2, 2] needs 4"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}",
     "inputs[0].data has more than the 2 values its shape holds"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}",
     "inputs[0].shape[0]: expected a non-negative integer"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2,1],\"datatype\":\"FP32\",\"data\":[1,2]}]}",
     "inputs[0].shape has 3 dimensions; expected [rows, 2] or [2]"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,\"2\"]}]}",
     "inputs[0].data[1]: expected a number, got a string"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,1e39]}]}",
     "inputs[0].data[1]: 1e+39 is not a finite FP32 number"},
    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]},"
     "{\"name\":\"y\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]}",
     "inputs has 2 tensors; the model takes exactly 1"},
    {"{\"id\":7,\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"datatype\":\"FP32\",\"data\":[1,2]}]"
     "}",
     "id: expected a string"},
};

typedef enum aios_err (*parse_fn)(const char *, size_t, int, int, struct aios_proto_batch *, char *,
                                  size_t);

static void refused(parse_fn parse, const char *label, const char *body, const char *want)
{
	struct aios_proto_batch b;
	memset(&b, 0, sizeof(b));
	char err[512] = "";
	enum aios_err e = parse(body, strlen(body), N_INPUTS, 65536, &b, err, sizeof(err));
	ck_assert_msg(e == AIOS_ERR_INVALID, "%s: accepted or wrong error %s (%s)", label,
	              aios_strerror(e), err);
	ck_assert_msg(strstr(err, want) != NULL, "%s: message \"%s\" lacks \"%s\"", label, err,
	              want);
	ck_assert_ptr_null(b.x);
	free(b.x);
}

START_TEST(v1_refused)
{
	char label[64];
	snprintf(label, sizeof(label), "v1 case %d", _i);
	refused(aios_proto_v1_parse, label, v1_cases[_i].body, v1_cases[_i].msg);
}
END_TEST

START_TEST(v2_refused)
{
	char label[64];
	snprintf(label, sizeof(label), "v2 case %d", _i);
	refused(aios_proto_v2_parse, label, v2_cases[_i].body, v2_cases[_i].msg);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bad_requests");
	TCase *tc = tcase_create("table");
	tcase_add_loop_test(tc, v1_refused, 0, (int)(sizeof(v1_cases) / sizeof(v1_cases[0])));
	tcase_add_loop_test(tc, v2_refused, 0, (int)(sizeof(v2_cases) / sizeof(v2_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
