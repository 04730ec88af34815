/* test_engine.c - serving kernels and the engine against model.c's reference forward pass. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "serve/engine.h"
#include "support/serve_fixture.h"

static float max_abs_diff(const float *a, const float *b, size_t n)
{
	float d = 0;
	for (size_t i = 0; i < n; i++)
		d = fmaxf(d, fabsf(a[i] - b[i]));
	return d;
}

/* Runs the reference and the engine on the same random batch; returns max |diff|. */
static float compare(struct aios_model *m, const struct aios_engine_opts *o, int rows,
                     struct aios_engine **keep)
{
	struct aios_engine *e;
	ck_assert_int_eq(aios_engine_new(m, o, &e), AIOS_OK);
	unsigned seed = 99;
	float *x = malloc(sizeof(float) * rows * m->n_inputs);
	sf_fill(x, (size_t)rows * m->n_inputs, &seed);
	float *y_ref = malloc(sizeof(float) * rows * m->n_outputs);
	float *y = malloc(sizeof(float) * rows * m->n_outputs);
	float *s_ref = malloc(sizeof(float) * aios_model_scratch_floats(m, rows));
	float *s = malloc(sizeof(float) * aios_engine_scratch_floats(e, rows));
	aios_model_forward_ref(m, x, rows, y_ref, s_ref);
	aios_engine_forward(e, x, rows, y, s);
	float d = max_abs_diff(y, y_ref, (size_t)rows * m->n_outputs);
	free(x), free(y_ref), free(y), free(s_ref), free(s);
	if (keep)
		*keep = e;
	else
		aios_engine_free(e);
	return d;
}

START_TEST(fp32_matches_reference)
{
	int sizes[] = {13, 64, 32, 3};
	struct aios_model *m = sf_model(3, sizes, AIOS_ACT_RELU, AIOS_ACT_SOFTMAX, 7);
	aios_model_enable_norm(m);
	for (int j = 0; j < 13; j++) {
		m->norm_mean[j] = 0.1f * j;
		m->norm_std[j] = 1.0f + 0.05f * j;
	}
	struct aios_engine_opts o = {0};
	for (int rows = 1; rows <= 70; rows += 23)
		ck_assert_float_lt(compare(m, &o, rows, NULL), 1e-5f);
	aios_model_free(m);
}
END_TEST

/* Layers wide enough that the FP32 product packs its weights into panels and sums k in
 * blocks (common/matmul.c), and widths off its 16-float vectors and 64-column panels: the
 * bias must still be added once, before every block. */
START_TEST(fp32_wide_layers_match_reference)
{
	int sizes[] = {200, 300, 130, 1};
	struct aios_model *m = sf_model(3, sizes, AIOS_ACT_TANH, AIOS_ACT_IDENTITY, 11);
	struct aios_engine_opts o = {0};
	static const int rows[] = {1, 17, 40};
	for (int i = 0; i < 3; i++)
		ck_assert_float_lt(compare(m, &o, rows[i], NULL), 1e-5f);
	aios_model_free(m);
}
END_TEST

START_TEST(every_activation_matches)
{
	enum aios_act hs[] = {AIOS_ACT_RELU, AIOS_ACT_TANH, AIOS_ACT_SIGMOID, AIOS_ACT_IDENTITY};
	enum aios_act os[] = {AIOS_ACT_IDENTITY, AIOS_ACT_SIGMOID, AIOS_ACT_SOFTMAX};
	int sizes[] = {5, 9, 4};
	struct aios_engine_opts o = {0};
	for (int h = 0; h < 4; h++)
		for (int k = 0; k < 3; k++) {
			struct aios_model *m = sf_model(2, sizes, hs[h], os[k], 3 + h * 3 + k);
			ck_assert_float_lt(compare(m, &o, 5, NULL), 1e-5f);
			aios_model_free(m);
		}
}
END_TEST

START_TEST(int8_close_to_fp32)
{
	/* identity output so the error is not squashed by an activation */
	int sizes[] = {32, 64, 64, 4};
	struct aios_model *m = sf_model(3, sizes, AIOS_ACT_RELU, AIOS_ACT_IDENTITY, 11);
	struct aios_engine_opts o = {.quantize = AIOS_QUANT_INT8};
	float d = compare(m, &o, 17, NULL);
	/* outputs are O(1); per-channel int8 weights and per-row int8 activations
	 * keep the error around 1% of that */
	ck_assert_float_lt(d, 0.05f);
	ck_assert_float_gt(d, 0.0f); /* it really is the quantized path */
	aios_model_free(m);
}
END_TEST

START_TEST(int8_kernel_exact_on_representable_values)
{
	/* weights and inputs that are exact multiples of their scales: int8 == fp32 */
	float w[2 * 4] = {127, -127, 0, 64, 1, 2, 3, -4};
	float b[2] = {0.5f, -1};
	float x[4] = {1, 0.5f, -1, 0}; /* per-row scale 1/127 ... values on grid */
	int8_t q[8];
	float scale[2], y8[2], y32[2];
	int8_t xq[4];
	aios_model_quantize_rows(w, 2, 4, q, scale);
	ck_assert_int_eq(q[0], 127);
	ck_assert_int_eq(q[1], -127);
	ck_assert_float_eq_tol(scale[0], 1.0f, 1e-6f);
	aios_kernel_dense_i8(x, 1, 4, q, scale, b, 2, y8, xq);
	aios_kernel_dense_f32(x, 1, 4, w, b, 2, y32);
	ck_assert_float_eq_tol(y8[0], y32[0], 1.0f); /* 0.5 on a 127-step grid */
	ck_assert_float_eq_tol(y8[1], y32[1], 0.1f);
	/* zero rows stay zero (no division by a zero scale) */
	float z[4] = {0};
	aios_kernel_dense_i8(z, 1, 4, q, scale, b, 2, y8, xq);
	ck_assert_float_eq(y8[0], 0.5f);
	ck_assert_float_eq(y8[1], -1.0f);
}
END_TEST

START_TEST(prune_zeroes_smallest)
{
	float w[10] = {0.1f, -5, 0.2f, 3, -0.05f, 4, -0.3f, 2, 1, -0.01f};
	size_t z = aios_prune_magnitude(w, 10, 0.5);
	ck_assert_uint_eq(z, 5);
	ck_assert_float_eq(w[1], -5);
	ck_assert_float_eq(w[3], 3);
	ck_assert_float_eq(w[8], 1);
	ck_assert_float_eq(w[0], 0);
	ck_assert_float_eq(w[9], 0);
	ck_assert_float_eq(w[6], 0);
	float t[4] = {1, 1, 1, 1}; /* ties: exactly floor(0.5 * 4) zeroed */
	ck_assert_uint_eq(aios_prune_magnitude(t, 4, 0.5), 2);
	ck_assert_uint_eq(aios_prune_magnitude(t, 4, 0), 2); /* nothing more, counts zeros */
}
END_TEST

START_TEST(sparse_kernel_matches_pruned_dense)
{
	int sizes[] = {40, 80, 3};
	struct aios_model *m = sf_model(2, sizes, AIOS_ACT_TANH, AIOS_ACT_IDENTITY, 5);
	struct aios_engine_opts sparse = {.prune_sparsity = 0.85};
	struct aios_engine_opts dense = {.prune_sparsity = 0.85, .force_dense = 1};
	struct aios_engine *es, *ed;
	compare(m, &sparse, 9, &es);
	compare(m, &dense, 9, &ed);
	ck_assert_int_eq(aios_engine_sparse_layers(es), 2);
	ck_assert_int_eq(aios_engine_sparse_layers(ed), 0);
	ck_assert_float_ge(aios_engine_sparsity(es), 0.84);
	unsigned seed = 4;
	float x[9 * 40], y1[9 * 3], y2[9 * 3];
	sf_fill(x, sizeof x / sizeof x[0], &seed);
	float *s = malloc(sizeof(float) * aios_engine_scratch_floats(es, 9));
	aios_engine_forward(es, x, 9, y1, s);
	aios_engine_forward(ed, x, 9, y2, s);
	ck_assert_float_lt(max_abs_diff(y1, y2, 27), 1e-5f);
	free(s);
	aios_engine_free(es);
	aios_engine_free(ed);
	struct aios_engine *bad;
	struct aios_engine_opts o = {.prune_sparsity = 1.0};
	ck_assert_int_eq(aios_engine_new(m, &o, &bad), AIOS_ERR_INVALID);
	aios_model_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_engine");
	TCase *t = tcase_create("kernels");
	tcase_add_test(t, fp32_matches_reference);
	tcase_add_test(t, fp32_wide_layers_match_reference);
	tcase_add_test(t, every_activation_matches);
	tcase_add_test(t, int8_close_to_fp32);
	tcase_add_test(t, int8_kernel_exact_on_representable_values);
	tcase_add_test(t, prune_zeroes_smallest);
	tcase_add_test(t, sparse_kernel_matches_pruned_dense);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
