/*
 * test_protocol_fastpath.c - the fast paths of protocol.c against their references: every
 * number against strtof (and json-c's integers), every body's floats and every error
 * against the json-c path (aios_proto_v1_parse_ref, aios_proto_v2_parse_ref), and the
 * float writer against snprintf's %.9g.
 */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/buf.h"
#include "serve/protocol.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* What the number s should read as: strtof for a fraction or exponent, the integer
 * converted to float (as json-c reads it) otherwise; 0 if it must be refused. */
static int expected(const char *s, float *want)
{
	if (!strpbrk(s, ".eE")) {
		char *end;
		if (s[0] == '-') {
			long long v = strtoll(s, &end, 10);
			if (*end || (v == LLONG_MIN && strcmp(s, "-9223372036854775808") != 0))
				return 0;
			*want = (float)v;
		} else {
			unsigned long long v = strtoull(s, &end, 10);
			if (*end || (v == ULLONG_MAX && strcmp(s, "18446744073709551615") != 0))
				return 0;
			*want = (float)v;
		}
		return 1;
	}
	*want = strtof(s, NULL);
	return isfinite(*want);
}

static void check_number(const char *s)
{
	float got = 12345.0f, want;
	size_t n = aios_proto_parse_float(s, strlen(s), &got);
	if (!expected(s, &want)) {
		ck_assert_msg(n == 0, "\"%s\": accepted as %a, want refused", s, (double)got);
		return;
	}
	ck_assert_msg(n == strlen(s), "\"%s\": read %zu bytes of %zu", s, n, strlen(s));
	ck_assert_msg(bits(got) == bits(want), "\"%s\": %a (0x%08x), strtof says %a (0x%08x)", s,
	              (double)got, bits(got), (double)want, bits(want));
}

START_TEST(numbers_edges)
{
	static const char *const cases[] = {
	    "0",
	    "-0",
	    "0.0",
	    "-0.0",
	    "-0e0",
	    "1",
	    "-1",
	    "0.1",
	    "-0.2",
	    "1e38",
	    "-1e38",
	    "3.4028235e38",
	    "3.40282346638528859811704183484516925440e38",
	    "3.4028235677973366e38", /* just below the midpoint to 2^128: FLT_MAX */
	    "3.4028236e38",
	    "1e39",
	    "1e400",
	    "-1e400",
	    "1e-45",
	    "1.401298464324817e-45",
	    "7e-46",
	    "7.006492321624086e-46",
	    "7.1e-46",
	    "1.1754943508222875e-38",
	    "1.1754942e-38",
	    "1e-50",
	    "1e-400",
	    "0e999999999",
	    "16777216",
	    "16777217",
	    "16777217.0",
	    "16777219",
	    "33554435",
	    "9007199254740993",
	    "9223372036854775807",
	    "9223372036854775808",
	    "18446744073709551615",
	    "18446744073709551616",
	    "-9223372036854775808",
	    "-9223372036854775809",
	    "100000000000000000000",
	    "1.00000005960464477539062500",
	    "1.000000059604644775390625000000000000001",
	    "1.0000000596046447753906249999999999",
	    "0.100000001490116119384765625",
	    "0.1000000000000000000000000000000000000001",
	    "3.14159265358979323846264338327950288",
	    "123456789012345678901234567890e-20",
	    "0.000000000000000000000000000000000000000001",
	    "1E5",
	    "1e+5",
	    "1E-5",
	    "2.5e-3",
	    "4.9406564584124654e-324",
	    "1.5e22",
	    "1.5e23",
	    "9007199254740992e22",
	    "9007199254740993e-22",
	    /* a few digits whose nearest double is exactly a float midpoint (the value is a
	     * hair above or below it): rounding through that double would go wrong */
	    "3623066509924853e15",
	    "8213028614575371e20",
	    "6132209972337422e5",
	    "3202246252459357e9",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_number(cases[i]);
	/* a 400-digit significand */
	char big[512] = "0.";
	for (int i = 0; i < 400; i++)
		big[2 + i] = (char)('0' + i % 10);
	big[402] = 0;
	check_number(big);
	memcpy(big, "-1", 2);
	check_number(big);
	/* signs of zero: a fraction keeps it, an integer is json-c's int 0 */
	float f;
	ck_assert_uint_eq(aios_proto_parse_float("-0.0", 4, &f), 4);
	ck_assert(signbit(f));
	ck_assert_uint_eq(aios_proto_parse_float("-0", 2, &f), 2);
	ck_assert(!signbit(f));
}
END_TEST

START_TEST(numbers_grammar)
{
	/* length read: only the JSON number at the start, nothing strtof would add */
	static const struct {
		const char *s;
		size_t n;
	} cases[] = {
	    {"01", 1},  {"0x10", 1},  {"1_000", 1}, {"2,", 1},   {"-5]", 2},      {"1e5x", 3},
	    {"+1", 0},  {".5", 0},    {"1.", 0},    {"1.e5", 0}, {"1e", 0},       {"1e+", 0},
	    {"-", 0},   {"- 1", 0},   {"", 0},      {"NaN", 0},  {"Infinity", 0}, {"-Infinity", 0},
	    {"inf", 0}, {"0.5.5", 3}, {"1E-0", 4},  {" 1", 0},   {"\"1\"", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		float f;
		size_t n = aios_proto_parse_float(cases[i].s, strlen(cases[i].s), &f);
		ck_assert_msg(n == cases[i].n, "\"%s\": read %zu bytes, want %zu", cases[i].s, n,
		              cases[i].n);
	}
	/* never reads past n: "12" cut after 1 byte is "1" */
	float f;
	ck_assert_uint_eq(aios_proto_parse_float("12", 1, &f), 1);
	ck_assert_float_eq(f, 1.0f);
	ck_assert_uint_eq(aios_proto_parse_float("1.5", 2, &f), 0);
	ck_assert_uint_eq(aios_proto_parse_float("1e7", 2, &f), 0);
}
END_TEST

/* A random float: any finite bit pattern, or a decimal-looking value. */
static float random_float(void)
{
	for (;;) {
		uint32_t u = (uint32_t)next();
		float f;
		memcpy(&f, &u, sizeof f);
		if (isfinite(f))
			return f;
	}
}

START_TEST(numbers_random)
{
	char s[512];
	for (int i = 0; i < 200000; i++) {
		float f = random_float();
		switch (i % 6) {
		case 0: /* shortest-ish: every precision from 1 to 17 digits */
			snprintf(s, sizeof s, "%.*g", 1 + (int)(next() % 17), (double)f);
			break;
		case 1: /* long mantissas */
			snprintf(s, sizeof s, "%.*e", 18 + (int)(next() % 40), (double)f);
			break;
		case 2: { /* the exact midpoint to the next float, and just either side of it */
			float g = nextafterf(f, INFINITY);
			if (!isfinite(g))
				g = nextafterf(f, -INFINITY);
			double m = ((double)f + (double)g) / 2;
			int k = snprintf(s, sizeof s, "%.120e", m);
			char *e = strchr(s, 'e');
			int side = (int)(next() % 3);
			if (side && e && k < (int)sizeof s - 2) {
				/* replace the last digit before the exponent: a hair above/below */
				char *last = e - 1;
				if (side == 1 && *last < '9')
					(*last)++;
				else if (side == 2 && *last > '0')
					(*last)--;
			}
			break;
		}
		case 3: { /* random decimal digits and exponents */
			int nd = 1 + (int)(next() % 30), at = 0;
			if (next() & 1)
				s[at++] = '-';
			s[at++] = (char)('1' + next() % 9);
			if (nd > 1)
				s[at++] = '.';
			for (int d = 1; d < nd; d++)
				s[at++] = (char)('0' + next() % 10);
			snprintf(s + at, sizeof s - (size_t)at, "e%d", (int)(next() % 100) - 55);
			break;
		}
		case 4: /* integers, some past 2^24 and 2^53, some past int64 */
			snprintf(s, sizeof s, "%s%llu", next() & 1 ? "-" : "",
			         (unsigned long long)(next() >> (next() % 64)));
			break;
		default: /* plain fixed notation, as most clients print */
			snprintf(s, sizeof s, "%.*f", (int)(next() % 10), (double)(f / 1e30f));
			break;
		}
		check_number(s);
	}
}
END_TEST

/* ---------------------------------------------------------------- bodies */

typedef enum aios_err (*parse_fn)(const char *, size_t, int, int, struct aios_proto_batch *, char *,
                                  size_t);

static enum aios_err v2_ref(const char *b, size_t n, int in, int mr, struct aios_proto_batch *o,
                            char *err, size_t errn)
{
	return aios_proto_v2_parse_ref(b, n, AIOS_PROTO_NO_BINARY, in, mr, o, err, errn);
}

/* The fast and the reference path agree on body: same result, same floats, same error. */
static void agree(parse_fn fast, parse_fn ref, const char *body, size_t len, int n_in, int max_rows)
{
	struct aios_proto_batch a, b;
	char ea[512] = "", eb[512] = "";
	enum aios_err ra = fast(body, len, n_in, max_rows, &a, ea, sizeof ea);
	enum aios_err rb = ref(body, len, n_in, max_rows, &b, eb, sizeof eb);
	ck_assert_msg(ra == rb, "%.200s: fast %s (%s), reference %s (%s)", body, aios_strerror(ra),
	              ea, aios_strerror(rb), eb);
	if (ra) {
		ck_assert_msg(strcmp(ea, eb) == 0, "%.200s: fast says \"%s\", reference \"%s\"",
		              body, ea, eb);
		ck_assert_ptr_null(a.x);
		return;
	}
	ck_assert_int_eq(a.rows, b.rows);
	ck_assert_int_eq(a.cols, b.cols);
	ck_assert_str_eq(a.id, b.id);
	ck_assert_int_eq(a.binary_out, b.binary_out);
	ck_assert_msg(memcmp(a.x, b.x, sizeof(float) * (size_t)a.rows * (size_t)a.cols) == 0,
	              "%.200s: floats differ", body);
	free(a.x);
	free(b.x);
}

static void agree1(const char *body, int n_in)
{
	agree(aios_proto_v1_parse, aios_proto_v1_parse_ref, body, strlen(body), n_in, 65536);
}

static void agree2(const char *body, int n_in)
{
	agree(aios_proto_v2_parse, v2_ref, body, strlen(body), n_in, 65536);
}

static const char *const spaces[] = {"", " ", "\n", "\t ", "\r\n  "};

/* A random number in one of the forms clients send. */
static void put_number(struct aios_buf *b)
{
	float f = random_float() / 1e30f;
	if (next() % 8 == 0)
		f = random_float();
	char s[128];
	switch (next() % 5) {
	case 0: snprintf(s, sizeof s, "%.9g", (double)f); break;
	case 1: snprintf(s, sizeof s, "%g", (double)f); break;
	case 2: snprintf(s, sizeof s, "%.3f", (double)f); break;
	case 3: snprintf(s, sizeof s, "%.25e", (double)f); break;
	default: snprintf(s, sizeof s, "%d", (int)(next() % 2001) - 1000); break;
	}
	ck_assert_int_eq(aios_buf_puts(b, s), AIOS_OK);
}

static void put(struct aios_buf *b, const char *s)
{
	ck_assert_int_eq(aios_buf_puts(b, s), AIOS_OK);
	if (next() % 4 == 0)
		ck_assert_int_eq(aios_buf_puts(b, spaces[next() % 5]), AIOS_OK);
}

START_TEST(bodies_random)
{
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	for (int it = 0; it < 3000; it++) {
		int n_in = 1 + (int)(next() % 16), rows = 1 + (int)(next() % 40);
		/* V1: rows of numbers (bare numbers for one input), other keys around */
		aios_buf_reset(&b);
		put(&b, "{");
		if (next() % 3 == 0)
			put(&b, "\"parameters\": {\"a\": [1, \"]\"], \"b\": null},");
		put(&b, "\"instances\":");
		put(&b, "[");
		for (int r = 0; r < rows; r++) {
			if (r)
				put(&b, ",");
			int bare = n_in == 1 && next() % 2;
			if (!bare)
				put(&b, "[");
			for (int j = 0; j < n_in; j++) {
				if (j)
					put(&b, ",");
				put_number(&b);
			}
			if (!bare)
				put(&b, "]");
		}
		put(&b, "]");
		if (next() % 3 == 0)
			put(&b, ", \"signature_name\": \"x\"");
		put(&b, "}");
		agree1(b.data, n_in);
		/* V2: flat or nested data, keys in any order */
		aios_buf_reset(&b);
		char meta[160];
		snprintf(meta, sizeof meta,
		         "\"name\":\"x\",\"shape\":[%d,%d],\"datatype\":\"FP32\"", rows, n_in);
		put(&b, "{");
		if (next() % 2)
			put(&b, "\"id\":\"r-1\",");
		put(&b, "\"inputs\":[{");
		int meta_first = (int)(next() % 2), nested = (int)(next() % 2);
		if (meta_first) {
			put(&b, meta);
			put(&b, ",");
		}
		put(&b, "\"data\":[");
		for (int r = 0; r < rows; r++) {
			if (r)
				put(&b, ",");
			if (nested)
				put(&b, "[");
			for (int j = 0; j < n_in; j++) {
				if (j)
					put(&b, ",");
				put_number(&b);
			}
			if (nested)
				put(&b, "]");
		}
		put(&b, "]");
		if (!meta_first) {
			put(&b, ",");
			put(&b, meta);
		}
		put(&b, "}]");
		if (next() % 2)
			put(&b, ",\"outputs\":[{\"name\":\"output-0\"}]");
		put(&b, "}");
		agree2(b.data, n_in);
	}
	aios_buf_cleanup(&b);
}
END_TEST

/* Bodies each path may refuse or take differently if they drift apart. */
START_TEST(bodies_parity)
{
	static const char *const v1[] = {
	    "{\"instances\":[[1,2]]}",
	    "{\"instances\":[[1,2],[3]]}",
	    "{\"instances\":[[1,2,3]]}",
	    "{\"instances\":[]}",
	    "{\"instances\":[[]]}",
	    "{\"instances\":[[1,2],]}",
	    "{\"instances\":[[1,2]],}",
	    "{\"instances\":[[01,2]]}",
	    "{\"instances\":[[-01,2]]}",
	    "{\"instances\":[[1.,2]]}",
	    "{\"instances\":[[.5,2]]}",
	    "{\"instances\":[[+1,2]]}",
	    "{\"instances\":[[0x10,2]]}",
	    "{\"instances\":[[NaN,2]]}",
	    "{\"instances\":[[Infinity,2]]}",
	    "{\"instances\":[[-Infinity,2]]}",
	    "{\"instances\":[[1e39,2]]}",
	    "{\"instances\":[[1e400,2]]}",
	    "{\"instances\":[[3.4028236e38,2]]}",
	    "{\"instances\":[[1e-50,-0.0]]}",
	    "{\"instances\":[[-0,0]]}",
	    "{\"instances\":[[18446744073709551615,-9223372036854775808]]}",
	    "{\"instances\":[[18446744073709551616,2]]}",
	    "{\"instances\":[[-9223372036854775809,2]]}",
	    "{\"instances\":[[1,\"2\"]]}",
	    "{\"instances\":[[1,null]]}",
	    "{\"instances\":[[1,true]]}",
	    "{\"instances\":[[[1],[2]]]}",
	    "{\"instances\":[1,2]}",
	    "{\"instances\":{}}",
	    "{\"instances\":[[1,2]]",
	    "{\"instances\":[[1,2]]} x",
	    "{\"instances\":[[1,2]]}\n\n",
	    "{\"instances\":[[1,2]],\"instances\":[[1,2,3]]}",
	    "{\"instances\":[[1,2]],\"instan\\u0063es\":[[1,2,3]]}",
	    "{\"instan\\u0063es\":[[1,2,3]],\"instances\":[[1,2]]}",
	    "{'instances':[[1,2]]}",
	    "{\"x\":{'k]':1},\"instances\":[[1,2]]}",
	    "{\"x\":\"]}\\\"\",\"instances\":[[1,2]]}",
	    "{\"x\":/*c*/1,\"instances\":[[1,2]]}",
	    "{\"instances\" [[1,2]]}",
	    "{\"instances\":[[1 2]]}",
	    "{\"instances\":[[1,2]]}}",
	    "[{\"instances\":[[1,2]]}]",
	    "{\"instances\":[[1,\t2\r\n]]\f}",
	    "{\"instances\":[[1,2]]}\0",
	    "",
	    "{}",
	    "{\"instances\":[[1,2]], \"x\": [1,2}",
	};
	for (size_t i = 0; i < sizeof v1 / sizeof v1[0]; i++)
		agree1(v1[i], 2);
	agree1("{\"instances\":[1,[2],3.5]}", 1);
	agree1("{\"instances\":[[1,2]]}", 1);
	/* the embedded NUL: the length says where the body ends */
	static const char nul_after[] = "{\"instances\":[[1,2]]}\0";
	static const char nul_inside[] = "{\"instances\":[[1,\0]]}";
	agree(aios_proto_v1_parse, aios_proto_v1_parse_ref, nul_after, sizeof nul_after - 1, 2,
	      65536);
	agree(aios_proto_v1_parse, aios_proto_v1_parse_ref, nul_inside, sizeof nul_inside - 1, 2,
	      65536);
#define T(data)                                                                                    \
	"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\",\"data\":" data "}]}"
	static const char *const v2[] = {
	    T("[1,2,3,4]"),
	    T("[[1,2],[3,4]]"),
	    T("[[[1],[2]],[[3],[4]]]"),
	    T("[[1,2],[],[3,4]]"),
	    T("[1,2,3]"),
	    T("[1,2,3,4,5]"),
	    T("[1,2,3,\"4\"]"),
	    T("[1,2,3,null]"),
	    T("[1,2,3,1e39]"),
	    T("[1,2,3,01]"),
	    T("[1,2,3,4,]"),
	    T("[[[[[[[[[1]]]]]]]]],2,3,4]"),
	    T("[[[[[[[[[[1]]]]]]]]]],2,3,4]"),
	    T("[1,2,3,NaN]"),
	    T("{}"),
	    T("7"),
	    T("[1,2,3,4]") " ",
	    T("[1,2,3,4]") "x",
	    "{\"inputs\":[{\"data\":[1,2,3,4],\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"FP32\"}"
	    "]}",
	    "{\"inputs\":[{\"data\":[1,2,3,4],\"shape\":[2,2],\"datatype\":\"FP64\"}]}",
	    "{\"inputs\":[{\"data\":[1,2,3,4],\"shape\":[2,3],\"datatype\":\"FP32\"}]}",
	    "{\"inputs\":[{\"data\":[1,2,3,4],\"shape\":[1000000000,2],\"datatype\":\"FP32\"}]}",
	    "{\"inputs\":[{\"data\":[1,2,3,4],\"data\":[1,2],\"shape\":[1,2],\"datatype\":\"FP32\"}"
	    "]}",
	    "{\"inputs\":[{\"data\":[1,2,3,4],\"d\\u0061ta\":[1,2],\"shape\":[1,2],\"datatype\":"
	    "\"FP32\"}]}",
	    "{\"inputs\":[{\"data\":[1,2],\"shape\":[1,2],\"datatype\":\"FP32\"},{\"data\":[3]}]}",
	    "{\"inputs\":[{\"data\":[1,2],\"shape\":[1,2],\"datatype\":\"FP32\"}],\"inputs\":[]}",
	    "{\"id\":7,\"inputs\":[{\"data\":[1,2],\"shape\":[1,2],\"datatype\":\"FP32\"}]}",
	    "{\"id\":\"q\",\"inputs\":[{\"data\":[1,2],\"shape\":[2],\"datatype\":\"FP32\"}],"
	    "\"parameters\":{\"binary_data_output\":true}}",
	    "{\"inputs\":[{\"data\":[1,2],\"shape\":[2],\"datatype\":\"FP32\"}],"
	    "\"parameters\":{\"binary_data_output\":1}}",
	    "{\"inputs\":[{\"data\":[1,2],\"shape\":[2],\"datatype\":\"FP32\","
	    "\"parameters\":{\"binary_data_size\":8}}]}",
	    "{\"inputs\":[{\"data\":[1,2],\"shape\":[2],\"datatype\":\"FP32\"}],\"outputs\":"
	    "[{\"name\":\"output-0\",\"parameters\":{\"binary_data\":true}}]}",
	};
	for (size_t i = 0; i < sizeof v2 / sizeof v2[0]; i++)
		agree2(v2[i], 2);
	/* the row cap on both paths */
	const char *three = "{\"instances\":[[1,2],[3,4],[5,6]]}";
	agree(aios_proto_v1_parse, aios_proto_v1_parse_ref, three, strlen(three), 2, 2);
	const char *three2 = "{\"x\":0,\"instances\":[[1,2],[3,4],[5,6]]}";
	agree(aios_proto_v1_parse, aios_proto_v1_parse_ref, three2, strlen(three2), 2, 2);
	const char *v2_3 = "{\"inputs\":[{\"data\":[1,2,3,4,5,6],\"shape\":[3,2],\"datatype\":"
	                   "\"FP32\"}]}";
	agree(aios_proto_v2_parse, v2_ref, v2_3, strlen(v2_3), 2, 2);
}
END_TEST

/* The fast path really is taken for the common shapes (and its answer is the same). */
START_TEST(fast_values)
{
	struct aios_proto_batch b;
	char err[256];
	const char *s = "{\"instances\":[[0.1,-0.2],[3.4028235e38,1e-45]]}";
	ck_assert_int_eq(aios_proto_v1_parse(s, strlen(s), 2, 10, &b, err, sizeof err), AIOS_OK);
	ck_assert_uint_eq(bits(b.x[0]), bits(0.1f));
	ck_assert_uint_eq(bits(b.x[1]), bits(-0.2f));
	ck_assert_uint_eq(bits(b.x[2]), bits(3.4028235e38f));
	ck_assert_uint_eq(bits(b.x[3]), 1u); /* the smallest subnormal */
	free(b.x);
	/* a long mantissa that double-then-float rounding gets wrong: the float just above
	 * 1 + 2^-24 (a midpoint) is wanted, the double path would land on the midpoint and
	 * round to even, i.e. to 1 */
	const char *m = "{\"instances\":[[1.000000059604644775390625000000000001,0]]}";
	ck_assert_int_eq(aios_proto_v1_parse(m, strlen(m), 2, 10, &b, err, sizeof err), AIOS_OK);
	ck_assert_uint_eq(bits(b.x[0]), bits(nextafterf(1.0f, 2.0f)));
	free(b.x);
	ck_assert_int_eq(aios_proto_v1_parse_ref(m, strlen(m), 2, 10, &b, err, sizeof err),
	                 AIOS_OK);
	ck_assert_uint_eq(bits(b.x[0]), bits(nextafterf(1.0f, 2.0f)));
	free(b.x);
}
END_TEST

/* The float writer prints exactly what snprintf's %.9g prints. */
static void check_put(float f)
{
	static struct aios_buf b;
	if (!b.max)
		aios_buf_init(&b, 64);
	aios_buf_reset(&b);
	ck_assert_int_eq(aios_proto_put_float(&b, f), AIOS_OK);
	char want[64];
	snprintf(want, sizeof want, "%.9g", (double)f);
	ck_assert_msg(strcmp(b.data, want) == 0, "%a: wrote \"%s\", %%.9g is \"%s\"", (double)f,
	              b.data, want);
}

START_TEST(put_float_matches_printf)
{
	static const float edges[] = {0.0f,
	                              -0.0f,
	                              1,
	                              -1,
	                              0.5f,
	                              0.1f,
	                              1e-45f,
	                              -1e-45f,
	                              1.17549435e-38f,
	                              3.40282347e38f,
	                              -3.40282347e38f,
	                              1e8f,
	                              1e9f,
	                              999999999.0f,
	                              999999936.0f,
	                              1e-4f,
	                              1e-5f,
	                              9.99999975e-5f,
	                              123456789.0f,
	                              0.000123456789f,
	                              16777216.0f,
	                              100,
	                              1e10f,
	                              1e38f,
	                              2.5f};
	for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
		check_put(edges[i]);
	for (int i = 0; i < 500000; i++) {
		float f = random_float();
		check_put(f);
		check_put(f / 1e30f); /* the magnitudes models answer with */
	}
	/* every float around the powers of ten, where the digit count changes */
	for (int e = -45; e <= 38; e++) {
		char p[16];
		snprintf(p, sizeof p, "1e%d", e);
		float f = strtof(p, NULL);
		float lo = f, hi = f;
		for (int k = 0; k < 300; k++) {
			lo = nextafterf(lo, 0);
			hi = nextafterf(hi, INFINITY);
			check_put(lo);
			if (isfinite(hi))
				check_put(hi);
		}
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_protocol_fastpath");
	TCase *t = tcase_create("core");
	tcase_set_timeout(t, 300);
	tcase_add_test(t, numbers_edges);
	tcase_add_test(t, numbers_grammar);
	tcase_add_test(t, numbers_random);
	tcase_add_test(t, bodies_random);
	tcase_add_test(t, bodies_parity);
	tcase_add_test(t, fast_values);
	tcase_add_test(t, put_float_matches_printf);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
