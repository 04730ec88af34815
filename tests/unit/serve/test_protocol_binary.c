/*
 * test_protocol_binary.c - the Open Inference Protocol's binary tensor data extension in
 * protocol.c: the header length, requests (a round trip and every malformed frame, each
 * with the message expected) and the binary response.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/buf.h"
#include "serve/protocol.h"

#define N_IN 3

/* A frame: the JSON header, then n floats little-endian (and extra raw bytes). */
struct frame {
	char b[4096];
	size_t len, json_len;
};

static void frame(struct frame *f, const char *json, const float *x, size_t n, const char *extra,
                  size_t extra_n)
{
	f->json_len = strlen(json);
	memcpy(f->b, json, f->json_len);
	f->len = f->json_len;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &x[i], 4);
		for (int k = 0; k < 4; k++)
			f->b[f->len++] = (char)(u >> (8 * k));
	}
	memcpy(f->b + f->len, extra, extra_n);
	f->len += extra_n;
}

START_TEST(header_length)
{
	char err[256];
	size_t n = 99;
	ck_assert_int_eq(aios_proto_v2_header_length("0", 10, &n, err, sizeof err), AIOS_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(aios_proto_v2_header_length("10", 10, &n, err, sizeof err), AIOS_OK);
	ck_assert_uint_eq(n, 10);
	static const struct {
		const char *v, *msg;
	} bad[] = {
	    {"", "Inference-Header-Content-Length is empty; expected the JSON header's length in "
	         "bytes"},
	    {"11", "Inference-Header-Content-Length is 11 but the body holds only 10 bytes"},
	    {"-1", "Inference-Header-Content-Length: \"-1\" is not a byte count (decimal digits "
	           "only)"},
	    {"+5", "\"+5\" is not a byte count"},
	    {"5 5", "\"5 5\" is not a byte count"},
	    {"0x5", "\"0x5\" is not a byte count"},
	    {"99999999999999999999999999",
	     "Inference-Header-Content-Length is 99999999999999999999999999 but the body holds "
	     "only 10 bytes"},
	    {"18446744073709551616", "but the body holds only 10 bytes"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		ck_assert_int_eq(aios_proto_v2_header_length(bad[i].v, 10, &n, err, sizeof err),
		                 AIOS_ERR_INVALID);
		ck_assert_msg(strstr(err, bad[i].msg), "\"%s\": \"%s\" lacks \"%s\"", bad[i].v, err,
		              bad[i].msg);
	}
}
END_TEST

#define HEAD(shape, size, extra)                                                                   \
	"{\"id\":\"b1\",\"inputs\":[{\"name\":\"x\",\"shape\":" shape                              \
	",\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":" size "}}]" extra "}"

START_TEST(round_trip)
{
	float x[6] = {0.5f, -1, 3.4028235e38f, 1e-45f, -0.0f, 0.1f};
	struct frame f;
	frame(&f, HEAD("[2,3]", "24", ",\"parameters\":{\"binary_data_output\":true}"), x, 6, "",
	      0);
	struct aios_proto_batch b;
	char err[256] = "";
	ck_assert_int_eq(
	    aios_proto_v2_parse_binary(f.b, f.len, f.json_len, N_IN, 64, &b, err, sizeof err),
	    AIOS_OK);
	ck_assert_int_eq(b.rows, 2);
	ck_assert_int_eq(b.cols, 3);
	ck_assert_str_eq(b.id, "b1");
	ck_assert_int_eq(b.binary_out, 1);
	ck_assert_mem_eq(b.x, x, sizeof x); /* bit for bit, -0 and subnormals included */
	/* the response: a JSON header naming the size, then the floats */
	struct aios_buf out;
	aios_buf_init(&out, 4096);
	size_t jl = 0;
	ck_assert_int_eq(aios_proto_v2_encode_binary("m", b.id, b.x, 2, 3, &out, &jl), AIOS_OK);
	const char *want =
	    "{\"model_name\":\"m\",\"model_version\":\"1\",\"id\":\"b1\",\"outputs\":"
	    "[{\"name\":\"output-0\",\"shape\":[2,3],\"datatype\":\"FP32\","
	    "\"parameters\":{\"binary_data_size\":24}}]}";
	ck_assert_uint_eq(jl, strlen(want));
	ck_assert_int_eq(memcmp(out.data, want, jl), 0);
	ck_assert_uint_eq(out.len, jl + 24);
	ck_assert_int_eq(memcmp(out.data + jl, f.b + f.json_len, 24), 0); /* little-endian */
	free(b.x);
	aios_buf_cleanup(&out);
	/* binary in, JSON out (no binary_data_output), [cols] shape */
	frame(&f, HEAD("[3]", "12", ""), x, 3, "", 0);
	ck_assert_int_eq(
	    aios_proto_v2_parse_binary(f.b, f.len, f.json_len, N_IN, 64, &b, err, sizeof err),
	    AIOS_OK);
	ck_assert_int_eq(b.rows, 1);
	ck_assert_int_eq(b.binary_out, 0);
	free(b.x);
	/* JSON in, binary out, asked for on the output */
	const char *j = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\","
	                "\"data\":[1,2,3]}],\"outputs\":[{\"name\":\"output-0\",\"parameters\":"
	                "{\"binary_data\":true}}]}";
	ck_assert_int_eq(aios_proto_v2_parse(j, strlen(j), N_IN, 64, &b, err, sizeof err), AIOS_OK);
	ck_assert_int_eq(b.binary_out, 1);
	free(b.x);
	/* the output's own setting wins over the request's */
	const char *j2 = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\","
	                 "\"data\":[1,2,3]}],\"parameters\":{\"binary_data_output\":true},"
	                 "\"outputs\":[{\"name\":\"output-0\",\"parameters\":{\"binary_data\":"
	                 "false}}]}";
	ck_assert_int_eq(aios_proto_v2_parse(j2, strlen(j2), N_IN, 64, &b, err, sizeof err),
	                 AIOS_OK);
	ck_assert_int_eq(b.binary_out, 0);
	free(b.x);
	/* a framed body whose JSON carries the data, nothing after it */
	ck_assert_int_eq(
	    aios_proto_v2_parse_binary(j, strlen(j), strlen(j), N_IN, 64, &b, err, sizeof err),
	    AIOS_OK);
	ck_assert_float_eq(b.x[2], 3.0f);
	free(b.x);
}
END_TEST

/* Every malformed frame: refused with the message naming the problem, nothing kept. */
START_TEST(malformed)
{
	float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, nan = NAN, inf = INFINITY;
	float xn[3] = {1, nan, 3}, xi[3] = {1, 2, inf};
	static char buf[64];
	struct {
		const char *json;
		const float *x;
		size_t n;
		const char *extra;
		size_t extra_n;
		long json_len; /* -1: the JSON's length; -2: no header (plain JSON body) */
		enum aios_err want;
		const char *msg;
	} cases[] = {
	    {HEAD("[1,3]", "12", ""), x, 3, "", 0, 100000, AIOS_ERR_INVALID,
	     "Inference-Header-Content-Length is 100000 but the body holds only"},
	    {HEAD("[1,3]", "16", ""), x, 4, "", 0, -1, AIOS_ERR_INVALID,
	     "inputs[0].parameters.binary_data_size is 16 bytes; shape [1, 3] of FP32 needs 12"},
	    {HEAD("[2,3]", "12", ""), x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "inputs[0].parameters.binary_data_size is 12 bytes; shape [2, 3] of FP32 needs 24"},
	    {HEAD("[1,3]", "12", ""), x, 3, "x", 1, -1, AIOS_ERR_INVALID,
	     "inputs[0].parameters.binary_data_size is 12 bytes but the binary part after the "},
	    {HEAD("[1,3]", "12", ""), x, 2, "", 0, -1, AIOS_ERR_INVALID,
	     "binary_data_size is 12 bytes but the binary part after the"},
	    {HEAD("[1,3]", "12", ""), x, 0, "", 0, -2, AIOS_ERR_INVALID,
	     "binary_data_size is set but the request has no binary part"},
	    {HEAD("[1,3]", "-12", ""), x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "inputs[0].parameters.binary_data_size: expected a non-negative integer"},
	    {HEAD("[1,3]", "12.0", ""), x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "binary_data_size: expected a non-negative integer"},
	    {HEAD("[1,3]", "\"12\"", ""), x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "binary_data_size: expected a non-negative integer"},
	    {HEAD("[1,3]", "9223372036854775807", ""), x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "binary_data_size is 9223372036854775807 bytes but the binary part"},
	    {HEAD("[1,3]", "18446744073709551615", ""), x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "but the binary part"},
	    {HEAD("[4611686018427387904,3]", "12", ""), x, 3, "", 0, -1, AIOS_ERR_TOO_BIG,
	     "request has 2147483647 rows; the limit is 64 rows per request"},
	    {HEAD("[65,3]", "780", ""), x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "binary_data_size is 780 bytes but the binary part"},
	    {HEAD("[1,3]", "12", ""), xn, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "inputs[0]: binary element 1 is NaN; inputs must be finite numbers"},
	    {HEAD("[1,3]", "12", ""), xi, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "inputs[0]: binary element 2 is infinite"},
	    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"INT32\",\"parameters\":"
	     "{\"binary_data_size\":12}}]}",
	     x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "inputs[0].datatype: INT32 is not supported; the model takes FP32"},
	    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3],"
	     "\"parameters\":{\"binary_data_size\":12}}]}",
	     x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "inputs[0]: both \"data\" and parameters.binary_data_size; send one"},
	    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]"
	     "}",
	     x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "the binary part holds 12 bytes but inputs[0] declares no "
	     "parameters.binary_data_size"},
	    {HEAD("[1,3]", "12", ",\"parameters\":{\"binary_data_output\":\"yes\"}"), x, 3, "", 0,
	     -1, AIOS_ERR_INVALID, "parameters.binary_data_output: expected true or false"},
	    {HEAD("[1,3]", "12",
	          ",\"outputs\":[{\"name\":\"output-0\",\"parameters\":"
	          "{\"binary_data\":1}}]"),
	     x, 3, "", 0, -1, AIOS_ERR_INVALID,
	     "outputs[0].parameters.binary_data: expected true or false"},
	    {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"parameters\":"
	     "{\"binary_data_size\":12}}]",
	     x, 3, "", 0, -1, AIOS_ERR_INVALID, "infer request: truncated JSON"},
	    /* the header length cuts the JSON short: the binary bytes are not JSON */
	    {HEAD("[1,3]", "12", ""), x, 3, "", 0, 20, AIOS_ERR_INVALID, "infer request:"},
	    /* a length of 0: no JSON at all */
	    {HEAD("[1,3]", "12", ""), x, 3, "", 0, 0, AIOS_ERR_INVALID,
	     "request body is empty; expected a JSON object"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct frame f;
		frame(&f, cases[i].json, cases[i].x, cases[i].n, cases[i].extra, cases[i].extra_n);
		size_t jl = cases[i].json_len == -1   ? f.json_len
		            : cases[i].json_len == -2 ? AIOS_PROTO_NO_BINARY
		                                      : (size_t)cases[i].json_len;
		struct aios_proto_batch b;
		char err[512] = "";
		enum aios_err e =
		    aios_proto_v2_parse_binary(f.b, f.len, jl, N_IN, 64, &b, err, sizeof err);
		snprintf(buf, sizeof buf, "case %zu", i);
		ck_assert_msg(e == cases[i].want, "%s: %s (%s), want %s", buf, aios_strerror(e),
		              err, aios_strerror(cases[i].want));
		ck_assert_msg(strstr(err, cases[i].msg), "%s: \"%s\" lacks \"%s\"", buf, err,
		              cases[i].msg);
		ck_assert_ptr_null(b.x);
		/* the reference path says the same */
		char err2[512] = "";
		e = aios_proto_v2_parse_ref(f.b, f.len, jl, N_IN, 64, &b, err2, sizeof err2);
		ck_assert_int_eq(e, cases[i].want);
		ck_assert_str_eq(err, err2);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_protocol_binary");
	TCase *t = tcase_create("core");
	tcase_add_test(t, header_length);
	tcase_add_test(t, round_trip);
	tcase_add_test(t, malformed);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
