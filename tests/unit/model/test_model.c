/*
 * test_model.c - the model artifact: round trips, damage detection, reference forward.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/hash.h"
#include "common/json.h"
#include "model/model.h"
#include "support/tmpdir.h"

/* A 3-4-2 MLP with tanh and softmax, deterministic weights, normalization on. */
static struct aios_model *sample_model(void)
{
	int sizes[] = {3, 4, 2};
	struct aios_model *m =
	    aios_model_new(AIOS_MODEL_MLP, AIOS_ACT_TANH, AIOS_ACT_SOFTMAX, 2, sizes);
	size_t n = aios_model_param_count(m);
	for (size_t i = 0; i < n; i++)
		m->params[i] = (float)sin((double)i * 1.7) * 0.9f;
	aios_model_enable_norm(m);
	for (int i = 0; i < 3; i++) {
		m->norm_mean[i] = 0.5f * (float)i;
		m->norm_std[i] = 1.0f + (float)i;
	}
	json_object_object_add(m->meta, "job", json_object_new_string("test"));
	return m;
}

/* The sample model as an f32 artifact (caller frees). */
static uint8_t *sample_bytes(size_t *n)
{
	struct aios_model *m = sample_model();
	uint8_t *b;
	ck_assert_int_eq(aios_model_write_mem(m, AIOS_DTYPE_F32, &b, n), AIOS_OK);
	aios_model_free(m);
	return b;
}

/* Recomputes the trailing digest after a deliberate edit, so structure checks run. */
static void reseal(uint8_t *b, size_t n)
{
	aios_sha256(b, n - AIOS_SHA256_LEN, b + n - AIOS_SHA256_LEN);
}

START_TEST(param_layout_is_flat)
{
	struct aios_model *m = sample_model();
	ck_assert_uint_eq(aios_model_param_count(m), 3 * 4 + 4 + 4 * 2 + 2);
	ck_assert_ptr_eq(m->layers[0].w, m->params);
	ck_assert_ptr_eq(m->layers[0].b, m->params + 12);
	ck_assert_ptr_eq(m->layers[1].w, m->params + 16);
	ck_assert_ptr_eq(m->layers[1].b, m->params + 24);
	aios_model_free(m);
	aios_model_free(NULL);
}
END_TEST

START_TEST(names_parse)
{
	ck_assert_int_eq(aios_model_type_parse("mlp"), AIOS_MODEL_MLP);
	ck_assert_int_eq(aios_model_type_parse("nope"), -1);
	ck_assert_int_eq(aios_act_parse("sigmoid"), AIOS_ACT_SIGMOID);
	ck_assert_int_eq(aios_act_parse(NULL), -1);
	ck_assert_str_eq(aios_act_name(AIOS_ACT_RELU), "relu");
	ck_assert_str_eq(aios_model_type_name(AIOS_MODEL_LOGISTIC), "logistic");
}
END_TEST

START_TEST(f32_round_trip_is_exact)
{
	struct aios_model *m = sample_model();
	uint8_t *b;
	size_t n;
	ck_assert_int_eq(aios_model_write_mem(m, AIOS_DTYPE_F32, &b, &n), AIOS_OK);
	ck_assert_int_eq(memcmp(b, "AIOSMDL\0", 8), 0);
	struct aios_model *r;
	ck_assert_int_eq(aios_model_read_mem(b, n, "mem", &r), AIOS_OK);
	ck_assert_int_eq(r->type, AIOS_MODEL_MLP);
	ck_assert_int_eq(r->hidden, AIOS_ACT_TANH);
	ck_assert_int_eq(r->output, AIOS_ACT_SOFTMAX);
	ck_assert_int_eq(r->n_layers, 2);
	ck_assert_int_eq(r->n_inputs, 3);
	ck_assert_int_eq(r->n_outputs, 2);
	ck_assert_int_eq(memcmp(r->params, m->params, aios_model_param_count(m) * sizeof(float)),
	                 0);
	ck_assert_ptr_nonnull(r->norm_mean);
	for (int i = 0; i < 3; i++) {
		ck_assert_float_eq(r->norm_mean[i], m->norm_mean[i]);
		ck_assert_float_eq(r->norm_std[i], m->norm_std[i]);
	}
	ck_assert_str_eq(aios_json_str(r->meta, "job"), "test");
	ck_assert_str_eq(r->sha256, m->sha256);
	ck_assert(aios_sha256_hex_valid(r->sha256));
	aios_model_free(r);
	free(b);
	aios_model_free(m);
}
END_TEST

START_TEST(file_round_trip_is_atomic)
{
	char dir[256];
	aios_test_tmpdir("aios-model", dir, sizeof(dir)); /* removed with the test */
	char path[256];
	snprintf(path, sizeof(path), "%s/sub/dir/model.aios", dir);
	struct aios_model *m = sample_model();
	ck_assert_int_eq(aios_model_write_file(m, path, AIOS_DTYPE_F32), AIOS_OK);
	char hex[AIOS_SHA256_HEX];
	ck_assert_int_eq(aios_sha256_file_hex(path, hex), AIOS_OK);
	ck_assert_str_eq(hex, m->sha256);
	struct aios_model *r;
	ck_assert_int_eq(aios_model_read_file(path, &r), AIOS_OK);
	ck_assert_str_eq(r->sha256, m->sha256);
	aios_model_free(r);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s/sub/dir | wc -l) -eq 1", dir);
	ck_assert_int_eq(system(cmd), 0); /* no temp file left behind */
	aios_test_tmpdir_remove(dir);
	ck_assert_int_eq(aios_model_read_file("/nonexistent/model.aios", &r), AIOS_ERR_NOT_FOUND);
	aios_model_free(m);
}
END_TEST

START_TEST(truncation_at_every_length_fails)
{
	size_t n;
	uint8_t *b = sample_bytes(&n);
	for (size_t len = 0; len < n; len++) {
		uint8_t *copy = malloc(len ? len : 1); /* exact size so ASan sees overreads */
		memcpy(copy, b, len);
		struct aios_model *r = (struct aios_model *)1;
		enum aios_err e = aios_model_read_mem(copy, len, "cut", &r);
		ck_assert_msg(e == AIOS_ERR_CORRUPT || e == AIOS_ERR_DIGEST, "len %zu: %d", len, e);
		ck_assert_ptr_null(r);
		ck_assert_ptr_nonnull(strstr(aios_errmsg(), "cut"));
		free(copy);
	}
	free(b);
}
END_TEST

START_TEST(flipped_byte_is_detected)
{
	size_t n;
	uint8_t *b = sample_bytes(&n);
	for (size_t i = 0; i < n; i++) {
		b[i] ^= 0x10;
		struct aios_model *r;
		enum aios_err e = aios_model_read_mem(b, n, "flip", &r);
		if (i >= 16)
			ck_assert_msg(e == AIOS_ERR_DIGEST, "byte %zu: %d %s", i, e, aios_errmsg());
		else
			ck_assert_msg(e == AIOS_ERR_CORRUPT || e == AIOS_ERR_DIGEST, "byte %zu", i);
		b[i] ^= 0x10;
	}
	struct aios_model *r;
	ck_assert_int_eq(aios_model_read_mem(b, n, "intact", &r), AIOS_OK);
	aios_model_free(r);
	free(b);
}
END_TEST

/* Replaces the JSON header with text (same length or padded with spaces) and reseals. */
static enum aios_err read_with_header(const char *from, const char *to)
{
	size_t n;
	uint8_t *b = sample_bytes(&n);
	uint32_t hl = b[12] | b[13] << 8 | b[14] << 16 | (uint32_t)b[15] << 24;
	char *h = strndup((char *)b + 16, hl);
	char *at = strstr(h, from);
	ck_assert_msg(at != NULL, "%s not in %s", from, h);
	size_t fl = strlen(from), tl = strlen(to);
	ck_assert_uint_le(tl, fl);
	memcpy(b + 16 + (at - h), to, tl);
	memset(b + 16 + (at - h) + tl, ' ', fl - tl);
	reseal(b, n);
	struct aios_model *r = NULL;
	enum aios_err e = aios_model_read_mem(b, n, "edited", &r);
	aios_model_free(r);
	free(h);
	free(b);
	return e;
}

START_TEST(bad_lengths_and_fields_are_corrupt)
{
	ck_assert_int_eq(read_with_header("\"layers\":[3,4,2]", "\"layers\":[3,5,2]"),
	                 AIOS_ERR_CORRUPT);
	ck_assert_int_eq(read_with_header("\"layers\":[3,4,2]", "\"layers\":[3,0,2]"),
	                 AIOS_ERR_CORRUPT);
	ck_assert_int_eq(read_with_header("\"layers\":[3,4,2]", "\"layers\":[3]"),
	                 AIOS_ERR_CORRUPT);
	ck_assert_int_eq(read_with_header("\"layers\":[3,4,2]", "\"layers\":[3,\"4\"]"),
	                 AIOS_ERR_CORRUPT);
	ck_assert_int_eq(read_with_header("\"type\":\"mlp\"", "\"type\":\"xyz\""),
	                 AIOS_ERR_CORRUPT);
	ck_assert_int_eq(read_with_header("\"dtype\":\"f32\"", "\"dtype\":\"f64\""),
	                 AIOS_ERR_CORRUPT);
	ck_assert_int_eq(read_with_header("\"offset\":0", "\"offset\":9"), AIOS_ERR_CORRUPT);
	ck_assert_int_eq(read_with_header("\"bytes\":48", "\"bytes\":44"), AIOS_ERR_CORRUPT);
	ck_assert_int_eq(read_with_header("\"offset\":192", "\"offset\":999"), AIOS_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "outside the data section"));
	ck_assert_int_eq(read_with_header("\"name\":\"l1.b\"", "\"name\":\"l9.b\""),
	                 AIOS_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "l1.b is missing"));
	ck_assert_int_eq(read_with_header("{\"type\"", "[\"type\""), AIOS_ERR_CORRUPT);
	/* A header edit that keeps the structure valid reads fine (the helper itself works). */
	ck_assert_int_eq(read_with_header("\"job\":\"test\"", "\"job\":\"te\""), AIOS_OK);

	/* Header length larger than the file, with a valid digest. */
	size_t n;
	uint8_t *b = sample_bytes(&n);
	b[12] = 0xff;
	b[13] = 0xff;
	b[14] = 0xff;
	b[15] = 0x7f;
	reseal(b, n);
	struct aios_model *r;
	ck_assert_int_eq(aios_model_read_mem(b, n, "big", &r), AIOS_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "header length"));
	b[8] = 2; /* version */
	ck_assert_int_eq(aios_model_read_mem(b, n, "v2", &r), AIOS_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "version 2"));
	free(b);
}
END_TEST

START_TEST(non_finite_weights_are_refused)
{
	struct aios_model *m = sample_model();
	m->params[3] = NAN;
	uint8_t *b;
	size_t n;
	ck_assert_int_eq(aios_model_write_mem(m, AIOS_DTYPE_F32, &b, &n), AIOS_ERR_INVALID);
	m->params[3] = 1;
	ck_assert_int_eq(aios_model_write_mem(m, AIOS_DTYPE_F32, &b, &n), AIOS_OK);
	/* Plant an infinity in l0.w[3] of a written file and reseal: the reader refuses it. */
	size_t hl = b[12] | b[13] << 8, data = (16 + hl + 63) / 64 * 64;
	float inf = INFINITY;
	memcpy(b + data + 12, &inf, 4);
	reseal(b, n);
	struct aios_model *r;
	ck_assert_int_eq(aios_model_read_mem(b, n, "inf", &r), AIOS_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "not finite"));
	free(b);
	aios_model_free(m);
}
END_TEST

START_TEST(int8_round_trip_within_half_a_step)
{
	int sizes[] = {40, 16, 3};
	struct aios_model *m =
	    aios_model_new(AIOS_MODEL_MLP, AIOS_ACT_RELU, AIOS_ACT_IDENTITY, 2, sizes);
	for (size_t i = 0; i < aios_model_param_count(m); i++)
		m->params[i] = (float)cos((double)i * 0.37) * (1.0f + (float)(i % 7));
	for (int j = 0; j < 40; j++) /* one all-zero row: scale 0 */
		m->layers[1].w[j % 16] = 0, m->layers[0].w[5 * 40 + j] = 0;
	uint8_t *b;
	size_t n;
	ck_assert_int_eq(aios_model_write_mem(m, AIOS_DTYPE_INT8, &b, &n), AIOS_OK);
	uint8_t *b32;
	size_t n32;
	ck_assert_int_eq(aios_model_write_mem(m, AIOS_DTYPE_F32, &b32, &n32), AIOS_OK);
	ck_assert_uint_lt(n, n32);
	struct aios_model *r;
	ck_assert_int_eq(aios_model_read_mem(b, n, "q8", &r), AIOS_OK);
	for (int k = 0; k < 2; k++) {
		const struct aios_model_layer *a = &m->layers[k], *q = &r->layers[k];
		for (int o = 0; o < a->out; o++) {
			float amax = 0;
			for (int j = 0; j < a->in; j++)
				amax = fmaxf(amax, fabsf(a->w[o * a->in + j]));
			float step = amax / 127.0f;
			for (int j = 0; j < a->in; j++)
				ck_assert_float_le(fabsf(a->w[o * a->in + j] - q->w[o * a->in + j]),
				                   step * 0.5f + 1e-6f);
			ck_assert_float_eq(a->b[o], q->b[o]); /* biases stay f32 */
		}
	}
	for (int j = 0; j < 40; j++)
		ck_assert_float_eq(r->layers[0].w[5 * 40 + j], 0.0f);
	aios_model_free(r);
	free(b);
	free(b32);
	aios_model_free(m);
}
END_TEST

START_TEST(forward_ref_known_values)
{
	/* y = 2x + 0.5 */
	int sizes[] = {1, 1};
	struct aios_model *m =
	    aios_model_new(AIOS_MODEL_LINEAR, AIOS_ACT_IDENTITY, AIOS_ACT_IDENTITY, 1, sizes);
	m->layers[0].w[0] = 2;
	m->layers[0].b[0] = 0.5f;
	float x[] = {1, 5}, y[2], scratch[8];
	ck_assert_uint_le(aios_model_scratch_floats(m, 2), 8);
	aios_model_forward_ref(m, x, 2, y, scratch);
	ck_assert_float_eq(y[0], 2.5f);
	ck_assert_float_eq(y[1], 10.5f);
	aios_model_free(m);

	/* 2-2-1 relu MLP computing XOR on {0,1}^2 with a sigmoid output. */
	int s2[] = {2, 2, 1};
	m = aios_model_new(AIOS_MODEL_MLP, AIOS_ACT_RELU, AIOS_ACT_SIGMOID, 2, s2);
	float w0[] = {1, 1, 1, 1}, b0[] = {0, -1}, w1[] = {20, -40}, b1[] = {-10};
	memcpy(m->layers[0].w, w0, sizeof(w0));
	memcpy(m->layers[0].b, b0, sizeof(b0));
	memcpy(m->layers[1].w, w1, sizeof(w1));
	memcpy(m->layers[1].b, b1, sizeof(b1));
	float xs[] = {0, 0, 0, 1, 1, 0, 1, 1}, ys[4];
	float *sc = malloc(aios_model_scratch_floats(m, 4) * sizeof(float));
	aios_model_forward_ref(m, xs, 4, ys, sc);
	ck_assert_float_lt(ys[0], 0.01f);
	ck_assert_float_gt(ys[1], 0.99f);
	ck_assert_float_gt(ys[2], 0.99f);
	ck_assert_float_lt(ys[3], 0.01f);
	free(sc);
	aios_model_free(m);

	/* Softmax outputs sum to one; normalization is applied first. */
	m = sample_model();
	float in[] = {0.5f, 2.0f, -1.0f}, out[2];
	sc = malloc(aios_model_scratch_floats(m, 1) * sizeof(float));
	aios_model_forward_ref(m, in, 1, out, sc);
	ck_assert_float_eq_tol(out[0] + out[1], 1.0f, 1e-6f);
	/* by hand: normalized input, tanh hidden, softmax output */
	float xn[3], h[4], z[2];
	for (int j = 0; j < 3; j++)
		xn[j] = (in[j] - m->norm_mean[j]) / m->norm_std[j];
	for (int u = 0; u < 4; u++) {
		float s = m->layers[0].b[u];
		for (int j = 0; j < 3; j++)
			s += m->layers[0].w[u * 3 + j] * xn[j];
		h[u] = tanhf(s);
	}
	for (int u = 0; u < 2; u++) {
		float s = m->layers[1].b[u];
		for (int j = 0; j < 4; j++)
			s += m->layers[1].w[u * 4 + j] * h[j];
		z[u] = s;
	}
	float p0 = 1.0f / (1.0f + expf(z[1] - z[0]));
	ck_assert_float_eq_tol(out[0], p0, 1e-6f);
	free(sc);
	aios_model_free(m);
}
END_TEST

static Suite *model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("artifact");
	aios_test_tmpdir_fixture(tc);
	tcase_add_test(tc, param_layout_is_flat);
	tcase_add_test(tc, names_parse);
	tcase_add_test(tc, f32_round_trip_is_exact);
	tcase_add_test(tc, file_round_trip_is_atomic);
	tcase_add_test(tc, truncation_at_every_length_fails);
	tcase_add_test(tc, flipped_byte_is_detected);
	tcase_add_test(tc, bad_lengths_and_fields_are_corrupt);
	tcase_add_test(tc, non_finite_weights_are_refused);
	tcase_add_test(tc, int8_round_trip_within_half_a_step);
	tcase_add_test(tc, forward_ref_known_values);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(model_suite)
