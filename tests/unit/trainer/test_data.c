/*
 * test_data.c - dataset parsers and sources: every kind of bad input gets an error
 * naming the file, line and column; good input parses exactly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/hash.h"
#include "common/json.h"
#include "http/http.h"
#include "trainer/data.h"

static const struct trainer_label_rule REAL = {TRAINER_LABEL_REAL, 0, 1};
static const struct trainer_label_rule PROB = {TRAINER_LABEL_PROB, 0, 1};
static const struct trainer_label_rule CLASS3 = {TRAINER_LABEL_CLASS, 3, 1};

static struct trainer_data_opts opts(void)
{
	struct trainer_data_opts o = {TRAINER_FMT_AUTO, -1, NULL, -1, NULL};
	return o;
}

static enum aios_err load_fixture(const char *name, const struct trainer_data_opts *o,
                                  const struct trainer_label_rule *r, struct trainer_dataset *d)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "tests/fixtures/data/trainer/%s", name);
	return trainer_load(aios_test_path(rel), o, r, d);
}

static void assert_msg(const char *want)
{
	ck_assert_msg(strstr(aios_errmsg(), want) != NULL, "message \"%s\" lacks \"%s\"",
	              aios_errmsg(), want);
}

START_TEST(csv_parses_with_header_and_crlf)
{
	struct trainer_data_opts o = opts();
	struct trainer_dataset d;
	ck_assert_int_eq(load_fixture("seed.csv", &o, &REAL, &d), AIOS_OK);
	ck_assert_int_eq(d.rows, 4);
	ck_assert_int_eq(d.cols, 1);
	ck_assert_float_eq(d.x[3], 4.0f);
	ck_assert_float_eq(d.t[3], 8.0f);
	trainer_dataset_cleanup(&d);

	o.label_name = "f1"; /* label by name, features are the other columns in order */
	ck_assert_int_eq(load_fixture("crlf.csv", &o, &REAL, &d), AIOS_OK);
	ck_assert_int_eq(d.rows, 2);
	ck_assert_int_eq(d.cols, 2);
	ck_assert_float_eq(d.t[0], 0.5f);
	ck_assert_float_eq(d.x[0], 100.0f);
	ck_assert_float_eq(d.x[1], 3.0f);
	ck_assert_float_eq(d.t[1], -1.0f);
	trainer_dataset_cleanup(&d);

	o.label_name = NULL;
	o.label_index = 0;
	o.header = 0; /* forced: the header line is then bad data */
	ck_assert_int_eq(load_fixture("crlf.csv", &o, &REAL, &d), AIOS_ERR_INVALID);
	assert_msg("crlf.csv:1: column 1: \"f1\": not a number");
}
END_TEST

START_TEST(csv_errors_name_file_line_and_column)
{
	struct trainer_data_opts o = opts();
	struct trainer_dataset d;
	ck_assert_int_eq(load_fixture("bad_number.csv", &o, &PROB, &d), AIOS_ERR_INVALID);
	assert_msg("bad_number.csv:4: column 2 (b): \"abc\": not a number");
	ck_assert_ptr_null(d.x);
	ck_assert_int_eq(load_fixture("nan.csv", &o, &PROB, &d), AIOS_ERR_INVALID);
	assert_msg("nan.csv:2: column 1: \"NaN\": NaN is not allowed");
	ck_assert_int_eq(load_fixture("columns.csv", &o, &PROB, &d), AIOS_ERR_INVALID);
	assert_msg("columns.csv:5: 4 columns, expected 3");
	ck_assert_int_eq(load_fixture("empty.csv", &o, &PROB, &d), AIOS_ERR_INVALID);
	assert_msg("empty.csv: no data rows");
	ck_assert_int_eq(load_fixture("bad_class.csv", &o, &CLASS3, &d), AIOS_ERR_INVALID);
	assert_msg("bad_class.csv:3: column 3 (label): \"7\": a class label must be an integer");
	ck_assert_int_eq(load_fixture("bad_class.csv", &o, &PROB, &d), AIOS_ERR_INVALID);
	assert_msg("must lie in [0, 1]");
	ck_assert_int_eq(load_fixture("missing.csv", &o, &PROB, &d), AIOS_ERR_NOT_FOUND);
	assert_msg("missing.csv");
	o.label_name = "nope";
	ck_assert_int_eq(load_fixture("seed.csv", &o, &REAL, &d), AIOS_ERR_INVALID);
	assert_msg("no column named \"nope\"");
	o.label_name = NULL;
	o.label_index = 5;
	ck_assert_int_eq(load_fixture("seed.csv", &o, &REAL, &d), AIOS_ERR_INVALID);
	assert_msg("label column 5 is outside the 2 columns");
}
END_TEST

START_TEST(csv_edge_cases)
{
	struct trainer_data_opts o = opts();
	struct trainer_dataset d;
	const char *cases[][2] = {
	    {"1,2\n3,\n", "t:2: column 2: \"\": empty field"},
	    {"1,2\n3,1e999\n", "out of the float range"},
	    {"1,2\n3,inf\n", "infinity is not allowed"},
	    {"1\n2\n", "1 column; need features and a label"},
	    {"", "no data rows"},
	    {"\n\n  \n", "no data rows"},
	    {"1,2\n3,4 5\n", "not a number"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_ne(
		    trainer_parse_csv(cases[i][0], strlen(cases[i][0]), "t", &o, &REAL, &d),
		    AIOS_OK);
		assert_msg(cases[i][1]);
	}
	/* No trailing newline, a blank line inside, exact values. */
	const char *ok = "1.5,-2\n\n3,4";
	ck_assert_int_eq(trainer_parse_csv(ok, strlen(ok), "t", &o, &REAL, &d), AIOS_OK);
	ck_assert_int_eq(d.rows, 2);
	ck_assert_float_eq(d.x[0], 1.5f);
	ck_assert_float_eq(d.t[1], 4.0f);
	trainer_dataset_cleanup(&d);
	/* Multi-output regression needs f32 or inline data. */
	struct trainer_label_rule two = {TRAINER_LABEL_REAL, 0, 2};
	ck_assert_int_eq(trainer_parse_csv(ok, strlen(ok), "t", &o, &two, &d),
	                 AIOS_ERR_UNSUPPORTED);
}
END_TEST

START_TEST(f32_round_trip_and_errors)
{
	struct trainer_dataset d = {.rows = 3, .cols = 2, .tcols = 1};
	float x[] = {1, 2, 3, 4, 5, 6}, t[] = {0, 1, 1};
	d.x = x;
	d.t = t;
	char path[] = "/tmp/aios-f32-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(trainer_write_f32(path, &d), AIOS_OK);
	struct trainer_data_opts o = opts();
	struct trainer_dataset r;
	ck_assert_int_eq(trainer_load(path, &o, &PROB, &r), AIOS_OK); /* found by its magic */
	ck_assert_int_eq(r.rows, 3);
	ck_assert_int_eq(memcmp(r.x, x, sizeof(x)), 0);
	ck_assert_int_eq(memcmp(r.t, t, sizeof(t)), 0);
	trainer_dataset_cleanup(&r);

	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	ck_assert_int_eq(aios_buf_read_file(&b, path), AIOS_OK);
	unlink(path);
	/* every truncation fails cleanly */
	for (size_t n = 0; n < b.len; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, b.data, n);
		ck_assert_int_ne(trainer_parse_f32(copy, n, "cut.f32", &PROB, &r), AIOS_OK);
		free(copy);
	}
	assert_msg("cut.f32");
	/* wrong label count for the model */
	struct trainer_label_rule two = {TRAINER_LABEL_REAL, 0, 2};
	ck_assert_int_eq(trainer_parse_f32(b.data, b.len, "d.f32", &two, &r), AIOS_ERR_INVALID);
	assert_msg("1 label columns, the model needs 2");
	/* a NaN in row 2, column 2 */
	float nan = NAN;
	memcpy(b.data + 32 + 4 * 4, &nan, 4);
	ck_assert_int_eq(trainer_parse_f32(b.data, b.len, "d.f32", &PROB, &r), AIOS_ERR_INVALID);
	assert_msg("d.f32: row 2, column 2: not a finite number");
	/* a label outside [0, 1] */
	float two_f = 2;
	memcpy(b.data + 32 + 4 * 4, &x[4], 4);
	memcpy(b.data + 32 + 8 * 4, &two_f, 4);
	ck_assert_int_eq(trainer_parse_f32(b.data, b.len, "d.f32", &PROB, &r), AIOS_ERR_INVALID);
	assert_msg("row 3, column 3");
	/* a row count that does not match the size */
	b.data[24] = 9;
	ck_assert_int_eq(trainer_parse_f32(b.data, b.len, "d.f32", &REAL, &r), AIOS_ERR_INVALID);
	assert_msg("9 rows of 3 floats need");
	aios_buf_cleanup(&b);
}
END_TEST

START_TEST(digest_mismatch_is_refused)
{
	const char *rel = "tests/fixtures/data/trainer/seed.csv";
	char hex[AIOS_SHA256_HEX];
	ck_assert_int_eq(aios_sha256_file_hex(aios_test_path(rel), hex), AIOS_OK);
	struct trainer_data_opts o = opts();
	o.sha256 = hex;
	struct trainer_dataset d;
	ck_assert_int_eq(trainer_load(aios_test_path(rel), &o, &REAL, &d), AIOS_OK);
	trainer_dataset_cleanup(&d);
	hex[0] = hex[0] == '0' ? '1' : '0';
	ck_assert_int_eq(trainer_load(aios_test_path(rel), &o, &REAL, &d), AIOS_ERR_DIGEST);
	assert_msg("seed.csv: SHA-256 is");
}
END_TEST

START_TEST(inline_data_is_checked)
{
	struct trainer_dataset d;
	const char *cases[][2] = {
	    {"{\"features\":[[1],[2]],\"labels\":[1]}", "2 feature rows but 1 labels"},
	    {"{\"features\":[[1],[2,3]],\"labels\":[1,2]}",
	     "spec.data.inline.features[1]: expected 1 numbers"},
	    {"{\"features\":[[1],[\"x\"]],\"labels\":[1,2]}", "features[1][0]: expected a number"},
	    {"{\"features\":[],\"labels\":[]}", "no data rows"},
	    {"{\"features\":[[1]],\"labels\":[\"a\"]}", "labels[0]: expected a number"},
	    {"{\"labels\":[1]}", "features: expected an array"},
	    {"{\"features\":[[1]],\"labels\":[0.5]}", "labels[0]: 0.5: a class label"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *o;
		ck_assert_int_eq(aios_json_parse(cases[i][0], strlen(cases[i][0]), "t", &o),
		                 AIOS_OK);
		ck_assert_int_eq(
		    trainer_parse_inline(o, "spec.data.inline", i == 6 ? &CLASS3 : &REAL, &d),
		    AIOS_ERR_INVALID);
		assert_msg(cases[i][1]);
		json_object_put(o);
	}
	const char *ok = "{\"features\":[[1,2],[3,4]],\"labels\":[[1,2],[3,4]]}";
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(ok, strlen(ok), "t", &o), AIOS_OK);
	struct trainer_label_rule two = {TRAINER_LABEL_REAL, 0, 2};
	ck_assert_int_eq(trainer_parse_inline(o, "spec.data.inline", &two, &d), AIOS_OK);
	ck_assert_int_eq(d.tcols, 2);
	ck_assert_float_eq(d.t[3], 4.0f);
	trainer_dataset_cleanup(&d);
	json_object_put(o);
}
END_TEST

START_TEST(uris_map_to_paths)
{
	char p[256];
	setenv("AIOS_PVC_ROOT", "/srv/claims", 1);
	ck_assert_int_eq(trainer_uri_to_path("pvc://data/sets/x.csv", p, sizeof(p)), AIOS_OK);
	ck_assert_str_eq(p, "/srv/claims/data/sets/x.csv");
	unsetenv("AIOS_PVC_ROOT");
	ck_assert_int_eq(trainer_uri_to_path("pvc://data/x.csv", p, sizeof(p)), AIOS_OK);
	ck_assert_str_eq(p, "/mnt/pvc/data/x.csv");
	ck_assert_int_eq(trainer_uri_to_path("file:///a/b", p, sizeof(p)), AIOS_OK);
	ck_assert_str_eq(p, "/a/b");
	ck_assert_int_eq(trainer_uri_to_path("rel/path.csv", p, sizeof(p)), AIOS_OK);
	ck_assert_str_eq(p, "rel/path.csv");
	ck_assert_int_eq(trainer_uri_to_path("pvc://data/../etc/passwd", p, sizeof(p)),
	                 AIOS_ERR_INVALID);
	ck_assert_int_eq(trainer_uri_to_path("pvc://data/..", p, sizeof(p)), AIOS_ERR_INVALID);
	ck_assert_int_eq(trainer_uri_to_path("pvc://data/..x", p, sizeof(p)), AIOS_OK);
	ck_assert_int_eq(trainer_uri_to_path("pvc://data", p, sizeof(p)), AIOS_ERR_INVALID);
	ck_assert_int_eq(trainer_uri_to_path("file://rel", p, sizeof(p)), AIOS_ERR_INVALID);
	ck_assert_int_eq(trainer_uri_to_path("s3://bucket/x", p, sizeof(p)), AIOS_ERR_UNSUPPORTED);
}
END_TEST

START_TEST(split_and_normalize)
{
	struct trainer_dataset d = {.rows = 100, .cols = 2, .tcols = 1};
	d.x = malloc(200 * sizeof(float));
	d.t = malloc(100 * sizeof(float));
	for (int i = 0; i < 100; i++) {
		d.x[2 * i] = (float)i;
		d.x[2 * i + 1] = 5.0f; /* constant column: std 1 */
		d.t[i] = (float)i;
	}
	struct trainer_dataset v;
	trainer_split(&d, 0.25, 7, &v);
	ck_assert_int_eq(d.rows, 75);
	ck_assert_int_eq(v.rows, 25);
	double sum = 0;
	for (int i = 0; i < 75; i++) {
		ck_assert_float_eq(d.x[2 * i], d.t[i]); /* rows stay whole */
		sum += d.t[i];
	}
	for (int i = 0; i < 25; i++)
		sum += v.t[i];
	ck_assert_double_eq(sum, 4950); /* every row lands on one side */
	float mean[2], sd[2];
	trainer_norm_stats(&d, mean, sd);
	ck_assert_float_eq(sd[1], 1.0f);
	ck_assert_float_eq(mean[1], 5.0f);
	trainer_normalize(&d, mean, sd);
	float m2[2], s2[2];
	trainer_norm_stats(&d, m2, s2);
	ck_assert_float_eq_tol(m2[0], 0.0f, 1e-5f);
	ck_assert_float_eq_tol(s2[0], 1.0f, 1e-5f);
	trainer_dataset_cleanup(&d);
	trainer_dataset_cleanup(&v);
}
END_TEST

/* Serves the seed CSV at /seed.csv; anything else is a 404. */
static void serve_seed(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	(void)req;
	resp->content_type = "text/csv";
	if (aios_buf_puts(&resp->body, ud))
		resp->status = 500;
}

START_TEST(http_source_with_digest_and_cap)
{
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = 0;
	c.name = "test";
	struct aios_http_server *srv = aios_http_server_new(&c);
	const char *csv = "x,y\n1,2\n2,4\n";
	ck_assert_int_eq(aios_http_route(srv, "GET", "/seed.csv", serve_seed, (void *)csv),
	                 AIOS_OK);
	ck_assert_int_eq(aios_http_server_start(srv), AIOS_OK);
	char url[128], missing[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/seed.csv", aios_http_server_port(srv));
	snprintf(missing, sizeof(missing), "http://127.0.0.1:%d/nope.csv",
	         aios_http_server_port(srv));

	uint8_t d[AIOS_SHA256_LEN];
	char hex[AIOS_SHA256_HEX];
	aios_sha256(csv, strlen(csv), d);
	aios_sha256_hex(d, hex);
	struct trainer_data_opts o = opts();
	o.sha256 = hex;
	struct trainer_dataset ds;
	ck_assert_msg(trainer_load(url, &o, &REAL, &ds) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_int_eq(ds.rows, 2);
	ck_assert_float_eq(ds.t[1], 4.0f);
	trainer_dataset_cleanup(&ds);
	hex[5] = hex[5] == 'a' ? 'b' : 'a';
	ck_assert_int_eq(trainer_load(url, &o, &REAL, &ds), AIOS_ERR_DIGEST);
	assert_msg("seed.csv: SHA-256 is");
	ck_assert_int_eq(trainer_load(missing, &o, &REAL, &ds), AIOS_ERR_NOT_FOUND);
	assert_msg("HTTP 404");
	struct aios_buf small;
	aios_buf_init(&small, 8); /* the cap holds whatever the server says */
	ck_assert_int_eq(trainer_fetch(url, &small), AIOS_ERR_TOO_BIG);
	assert_msg("larger than the 8-byte dataset limit");
	aios_buf_cleanup(&small);
	aios_http_server_free(srv);
	ck_assert_int_eq(trainer_load("http://127.0.0.1:1/x.csv", &o, &REAL, &ds), AIOS_ERR_IO);
}
END_TEST

static Suite *data_suite(void)
{
	Suite *s = suite_create("trainer_data");
	TCase *tc = tcase_create("data");
	tcase_add_test(tc, csv_parses_with_header_and_crlf);
	tcase_add_test(tc, csv_errors_name_file_line_and_column);
	tcase_add_test(tc, csv_edge_cases);
	tcase_add_test(tc, f32_round_trip_and_errors);
	tcase_add_test(tc, digest_mismatch_is_refused);
	tcase_add_test(tc, inline_data_is_checked);
	tcase_add_test(tc, uris_map_to_paths);
	tcase_add_test(tc, split_and_normalize);
	tcase_add_test(tc, http_source_with_digest_and_cap);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(data_suite)
