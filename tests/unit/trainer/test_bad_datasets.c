/*
 * test_bad_datasets.c - the table of bad datasets (each row with
 * the exact error expected): CSV text, f32 files and inline spec data, each row
 * refused with the error code and the message given (naming the source, the line or
 * row, and the column). Bad content is AIOS_ERR_INVALID, a cap AIOS_ERR_TOO_BIG.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "trainer/data.h"

static const struct trainer_label_rule REAL = {TRAINER_LABEL_REAL, 0, 1};
static const struct trainer_label_rule PROB = {TRAINER_LABEL_PROB, 0, 1};
static const struct trainer_label_rule CLASS3 = {TRAINER_LABEL_CLASS, 3, 1};
static const struct trainer_label_rule SIGN = {TRAINER_LABEL_SIGN, 0, 1};
static const struct trainer_label_rule REAL2 = {TRAINER_LABEL_REAL, 0, 2};

static void expect(const char *label, enum aios_err e, enum aios_err code, const char *msg)
{
	ck_assert_msg(e == code, "%s: error %s (%s), expected %s", label, aios_strerror(e),
	              aios_errmsg(), aios_strerror(code));
	ck_assert_msg(strstr(aios_errmsg(), msg) != NULL, "%s: message \"%s\" lacks \"%s\"", label,
	              aios_errmsg(), msg);
}

/* ---- CSV (label: the last column unless the row says otherwise) ---- */

static const struct {
	const char *csv;
	const struct trainer_label_rule *rule;
	const char *label_name; /* or NULL */
	enum aios_err code;
	const char *msg;
} csv_cases[] = {
    {"", &REAL, NULL, AIOS_ERR_INVALID, "d.csv: no data rows"},
    {"x,y\n", &REAL, NULL, AIOS_ERR_INVALID, "d.csv: no data rows"},
    {"\n\n\n", &REAL, NULL, AIOS_ERR_INVALID, "d.csv: no data rows"},
    {"x,y\n1,2\n3\n", &REAL, NULL, AIOS_ERR_INVALID, "d.csv:3: 1 columns, expected 2"},
    {"x,y\n1,2\n3,4,5\n", &REAL, NULL, AIOS_ERR_INVALID, "d.csv:3: 3 columns, expected 2"},
    {"x,y\n1,two\n", &REAL, NULL, AIOS_ERR_INVALID, "d.csv:2: column 2 (y): \"two\": not a number"},
    {"1,2\n3,abc\n", &REAL, NULL, AIOS_ERR_INVALID, "d.csv:2: column 2: \"abc\": not a number"},
    {"x,y\n1,\n", &REAL, NULL, AIOS_ERR_INVALID, "d.csv:2: column 2 (y): \"\": empty field"},
    {"x,y\n1,2\n,4\n", &REAL, NULL, AIOS_ERR_INVALID, "d.csv:3: column 1 (x): \"\": empty field"},
    {"x,y\nNaN,1\n", &REAL, NULL, AIOS_ERR_INVALID,
     "d.csv:2: column 1 (x): \"NaN\": NaN is not allowed"},
    {"x,y\ninf,1\n", &REAL, NULL, AIOS_ERR_INVALID,
     "d.csv:2: column 1 (x): \"inf\": infinity is not allowed"},
    {"x,y\n1e39,1\n", &REAL, NULL, AIOS_ERR_INVALID,
     "d.csv:2: column 1 (x): \"1e39\": out of the float range"},
    {"x,y\n1,2x\n", &REAL, NULL, AIOS_ERR_INVALID, "d.csv:2: column 2 (y): \"2x\": not a number"},
    {"x,p\n1,1.5\n", &PROB, NULL, AIOS_ERR_INVALID,
     "d.csv:2: column 2 (p): \"1.5\": a cross-entropy label must lie in [0, 1]"},
    {"x,p\n1,-0.1\n", &PROB, NULL, AIOS_ERR_INVALID,
     "d.csv:2: column 2 (p): \"-0.1\": a cross-entropy label must lie in [0, 1]"},
    {"x,c\n1,3\n", &CLASS3, NULL, AIOS_ERR_INVALID,
     "d.csv:2: column 2 (c): \"3\": a class label must be an integer from 0 to outputs-1"},
    {"x,c\n1,1.5\n", &CLASS3, NULL, AIOS_ERR_INVALID,
     "d.csv:2: column 2 (c): \"1.5\": a class label must be an integer"},
    {"x,c\n1,-1\n", &CLASS3, NULL, AIOS_ERR_INVALID,
     "d.csv:2: column 2 (c): \"-1\": a class label must be an integer"},
    {"x,s\n1,0.5\n", &SIGN, NULL, AIOS_ERR_INVALID,
     "d.csv:2: column 2 (s): \"0.5\": a hinge label must be -1, 0 or 1"},
    {"x,y\n1,2\n", &REAL, "z", AIOS_ERR_INVALID, "d.csv: no column named \"z\""},
    {"x,y\n1,2\n", &REAL2, NULL, AIOS_ERR_UNSUPPORTED,
     "d.csv: CSV data has one label column; 2 target columns need f32 or inline data"},
    {"y\n1\n", &REAL, NULL, AIOS_ERR_INVALID, "d.csv:1: 1 column; need features and a label"},
    {"x,y\n1,2\n\"3\",4\n", &REAL, NULL, AIOS_ERR_INVALID,
     "d.csv:3: column 1 (x): \"\"3\"\": not a number"},
};

START_TEST(csv_refused)
{
	struct trainer_data_opts o = {TRAINER_FMT_CSV, -1, csv_cases[_i].label_name, -1, NULL};
	struct trainer_dataset d;
	memset(&d, 0, sizeof(d));
	const char *csv = csv_cases[_i].csv;
	enum aios_err e = trainer_parse_csv(csv, strlen(csv), "d.csv", &o, csv_cases[_i].rule, &d);
	char label[128];
	snprintf(label, sizeof(label), "csv case %d", _i);
	expect(label, e, csv_cases[_i].code, csv_cases[_i].msg);
	ck_assert_ptr_null(d.x);
	ck_assert_ptr_null(d.t);
}
END_TEST

START_TEST(csv_line_over_the_cap)
{
	size_t n = TRAINER_CSV_MAX_LINE + 16;
	char *p = malloc(n + 1);
	memcpy(p, "x,y\n", 4);
	memset(p + 4, '1', n - 4);
	p[n] = 0;
	struct trainer_data_opts o = {TRAINER_FMT_CSV, -1, NULL, -1, NULL};
	struct trainer_dataset d;
	memset(&d, 0, sizeof(d));
	enum aios_err e = trainer_parse_csv(p, n, "d.csv", &o, &REAL, &d);
	expect("long line", e, AIOS_ERR_TOO_BIG, "d.csv:2: line longer than 1048576 bytes");
	free(p);
}
END_TEST

/* ---- f32: a good file of 2 rows x (2 features + 1 label), then damaged ---- */

static size_t f32_file(uint8_t *p, uint32_t version, uint32_t features, uint32_t labels,
                       uint64_t rows, size_t values)
{
	memset(p, 0, TRAINER_F32_HEADER);
	memcpy(p, TRAINER_F32_MAGIC, 8);
	for (int i = 0; i < 4; i++) {
		p[8 + i] = (uint8_t)(version >> (8 * i));
		p[12 + i] = (uint8_t)(features >> (8 * i));
		p[16 + i] = (uint8_t)(labels >> (8 * i));
	}
	for (int i = 0; i < 8; i++)
		p[24 + i] = (uint8_t)(rows >> (8 * i));
	float *v = (float *)(p + TRAINER_F32_HEADER);
	for (size_t i = 0; i < values; i++)
		v[i] = (float)(i % 3 == 2 ? 1 : i); /* labels 1: valid for every rule */
	return TRAINER_F32_HEADER + 4 * values;
}

START_TEST(f32_refused)
{
	static uint8_t p[TRAINER_F32_HEADER + 4 * 64];
	struct trainer_dataset d;
	size_t n;
#define TRY(label, rule, code, msg)                                                                \
	do {                                                                                       \
		memset(&d, 0, sizeof(d));                                                          \
		enum aios_err e_ = trainer_parse_f32(p, n, "d.f32", (rule), &d);                   \
		expect(label, e_, code, msg);                                                      \
		ck_assert_ptr_null(d.x);                                                           \
	} while (0)

	n = f32_file(p, 1, 2, 1, 2, 6);
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(trainer_parse_f32(p, n, "d.f32", &REAL, &d), AIOS_OK); /* the good one */
	ck_assert_int_eq(d.rows, 2);
	trainer_dataset_cleanup(&d);

	n = 10;
	TRY("too short", &REAL, AIOS_ERR_INVALID, "d.f32: not an f32 dataset (no AIOSF32 header)");
	n = f32_file(p, 1, 2, 1, 2, 6);
	memcpy(p, "AIOSMDL", 8);
	TRY("wrong magic", &REAL, AIOS_ERR_INVALID,
	    "d.f32: not an f32 dataset (no AIOSF32 header)");
	n = f32_file(p, 2, 2, 1, 2, 6);
	TRY("version 2", &REAL, AIOS_ERR_INVALID, "d.f32: f32 version 2, expected 1");
	n = f32_file(p, 1, 0, 1, 2, 2);
	TRY("no features", &REAL, AIOS_ERR_INVALID, "d.f32: 0 feature columns, expected 1..65536");
	n = f32_file(p, 1, 70000, 1, 0, 0);
	TRY("too many features", &REAL, AIOS_ERR_INVALID,
	    "d.f32: 70000 feature columns, expected 1..65536");
	n = f32_file(p, 1, 2, 1, 2, 6);
	TRY("labels the model does not take", &REAL2, AIOS_ERR_INVALID,
	    "d.f32: 1 label columns, the model needs 2");
	n = f32_file(p, 1, 2, 1, 0, 0);
	TRY("no rows", &REAL, AIOS_ERR_INVALID, "d.f32: no data rows");
	n = f32_file(p, 1, 2, 1, (uint64_t)1 << 40, 6);
	TRY("rows over the limit", &REAL, AIOS_ERR_TOO_BIG,
	    "d.f32: 1099511627776 rows, limit 2147483648");
	n = f32_file(p, 1, 2, 1, 3, 6);
	TRY("fewer values than rows say", &REAL, AIOS_ERR_INVALID,
	    "d.f32: 56 bytes, but 3 rows of 3 floats need 68");
	n = f32_file(p, 1, 2, 1, 2, 6) + 4;
	TRY("a trailing value", &REAL, AIOS_ERR_INVALID,
	    "d.f32: 60 bytes, but 2 rows of 3 floats need 56");
	n = f32_file(p, 1, 2, 1, 2, 6);
	((float *)(p + TRAINER_F32_HEADER))[4] = 1.0f / 0.0f;
	TRY("an infinite feature", &REAL, AIOS_ERR_INVALID,
	    "d.f32: row 2, column 2: not a finite number");
	n = f32_file(p, 1, 2, 1, 2, 6);
	((float *)(p + TRAINER_F32_HEADER))[5] = 0.5f;
	TRY("a label outside the classes", &CLASS3, AIOS_ERR_INVALID,
	    "d.f32: row 2, column 3: a class label must be an integer from 0 to outputs-1");
#undef TRY
}
END_TEST

/* ---- inline data from the TrainingJob spec (spec.data.inline) ---- */

static const struct {
	const char *json;
	const struct trainer_label_rule *rule;
	const char *msg;
} inline_cases[] = {
    {"{\"labels\":[1]}", &REAL, "spec.data.inline.features: expected an array of rows"},
    {"{\"features\":[[1]]}", &REAL, "spec.data.inline.labels: expected an array"},
    {"{\"features\":[],\"labels\":[]}", &REAL, "spec.data.inline.features: no data rows"},
    {"{\"features\":[[1],[2]],\"labels\":[1]}", &REAL,
     "spec.data.inline: 2 feature rows but 1 labels"},
    {"{\"features\":[[1,2],[3]],\"labels\":[1,2]}", &REAL,
     "spec.data.inline.features[1]: expected 2 numbers"},
    {"{\"features\":[[1],[\"a\"]],\"labels\":[1,2]}", &REAL,
     "spec.data.inline.features[1][0]: expected a number"},
    {"{\"features\":[[1],[1e39]],\"labels\":[1,2]}", &REAL,
     "spec.data.inline.features[1][0]: not a finite float"},
    {"{\"features\":[[1],[2]],\"labels\":[1,\"b\"]}", &REAL,
     "spec.data.inline.labels[1]: expected a number"},
    {"{\"features\":[[1],[2]],\"labels\":[0,7]}", &CLASS3,
     "spec.data.inline.labels[1]: 7: a class label must be an integer from 0 to outputs-1"},
    {"{\"features\":[[1],[2]],\"labels\":[0,2]}", &PROB,
     "spec.data.inline.labels[1]: 2: a cross-entropy label must lie in [0, 1]"},
    {"{\"features\":[[1],[2]],\"labels\":[[1],[2]]}", &REAL2,
     "spec.data.inline.labels[0]: expected 2 values"},
};

START_TEST(inline_refused)
{
	struct json_object *o;
	const char *j = inline_cases[_i].json;
	ck_assert_int_eq(aios_json_parse(j, strlen(j), "case", &o), AIOS_OK);
	struct trainer_dataset d;
	memset(&d, 0, sizeof(d));
	enum aios_err e = trainer_parse_inline(o, "spec.data.inline", inline_cases[_i].rule, &d);
	char label[128];
	snprintf(label, sizeof(label), "inline case %d", _i);
	expect(label, e, AIOS_ERR_INVALID, inline_cases[_i].msg);
	ck_assert_ptr_null(d.x);
	json_object_put(o);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bad_datasets");
	TCase *tc = tcase_create("table");
	tcase_add_loop_test(tc, csv_refused, 0, (int)(sizeof(csv_cases) / sizeof(csv_cases[0])));
	tcase_add_test(tc, csv_line_over_the_cap);
	tcase_add_test(tc, f32_refused);
	tcase_add_loop_test(tc, inline_refused, 0,
	                    (int)(sizeof(inline_cases) / sizeof(inline_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
