/*
 * test_nn.c - dense layers against the naive reference, every layer's and loss's backward
 * pass against finite differences, optimizers against steps computed by hand.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/matmul.h"
#include "trainer/nn.h"
#include "trainer/optim.h"
#include "trainer/pool.h"
#include "trainer/rng.h"

static void fill(float *p, size_t n, uint64_t seed, float scale)
{
	struct trainer_rng r;
	trainer_rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(trainer_rng_uniform(&r) * 2 - 1) * scale;
}

static float *alloc_filled(size_t n, uint64_t seed)
{
	float *p = malloc((n ? n : 1) * sizeof(float));
	fill(p, n, seed, 1.0f);
	return p;
}

/* |a - b| within an absolute-plus-relative tolerance. */
static void assert_close(double a, double b, double tol, const char *what, int i)
{
	ck_assert_msg(fabs(a - b) <= tol * (1.0 + fabs(a) + fabs(b)), "%s[%d]: %.7g vs %.7g", what,
	              i, a, b);
}

START_TEST(transpose_matches_definition)
{
	static const int shapes[][2] = {{1, 1},  {1, 9},  {8, 1},  {13, 7},
	                                {16, 5}, {9, 64}, {64, 33}};
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		int rows = shapes[s][0], cols = shapes[s][1];
		float *src = alloc_filled((size_t)rows * cols, 300 + s);
		float *dst = malloc((size_t)rows * cols * sizeof(float));
		aios_matmul_transpose(dst, src, rows, cols);
		for (int r = 0; r < rows; r++)
			for (int j = 0; j < cols; j++)
				ck_assert_float_eq(dst[(size_t)j * rows + r],
				                   src[(size_t)r * cols + j]);
		free(src);
		free(dst);
	}
}
END_TEST

START_TEST(dense_fast_matches_reference)
{
	enum { B = 7, I = 13, O = 10 };
	float *x = alloc_filled(B * I, 1), *w = alloc_filled(O * I, 2), *b = alloc_filled(O, 3);
	float *dy = alloc_filled(B * O, 4), wt[O * I], y0[B * O], y1[B * O];
	float dw0[O * I], dw1[O * I], db0[O], db1[O], dx0[B * I], dx1[B * I], scratch[O * B];
	aios_matmul_transpose(wt, w, O, I);
	trainer_dense_forward_ref(y0, x, w, b, B, I, O);
	trainer_dense_forward(y1, x, wt, b, B, I, O);
	for (int i = 0; i < B * O; i++)
		assert_close(y1[i], y0[i], 1e-5, "y", i);
	memset(dw0, 0, sizeof(dw0)), memset(dw1, 0, sizeof(dw1));
	memset(db0, 0, sizeof(db0)), memset(db1, 0, sizeof(db1));
	trainer_dense_backward_ref(dx0, dw0, db0, dy, x, w, B, I, O);
	trainer_dense_backward(dx1, dw1, db1, dy, x, w, B, I, O, scratch);
	for (int i = 0; i < O * I; i++)
		assert_close(dw1[i], dw0[i], 1e-5, "dw", i);
	for (int i = 0; i < O; i++)
		assert_close(db1[i], db0[i], 1e-5, "db", i);
	for (int i = 0; i < B * I; i++)
		assert_close(dx1[i], dx0[i], 1e-5, "dx", i);
	free(x), free(w), free(b), free(dy);
}
END_TEST

/* L = sum(r * dense(x)) for a fixed random r: dL/dparam by the backward pass and by differences. */
START_TEST(dense_backward_matches_finite_differences)
{
	enum { B = 4, I = 5, O = 3 };
	double x[B * I], w[O * I], b[O];
	float xf[B * I], wf[O * I], bf[O], r[B * O], y[B * O];
	fill(xf, B * I, 7, 1), fill(wf, O * I, 8, 1), fill(bf, O, 9, 1), fill(r, B * O, 10, 1);
	for (int i = 0; i < B * I; i++)
		x[i] = xf[i];
	for (int i = 0; i < O * I; i++)
		w[i] = wf[i];
	for (int i = 0; i < O; i++)
		b[i] = bf[i];
	float dw[O * I] = {0}, db[O] = {0}, dx[B * I];
	trainer_dense_backward_ref(dx, dw, db, r, xf, wf, B, I, O);
	/* L is linear in each parameter, so a central difference in double is exact. */
	double *targets[] = {x, w, b};
	float *grads[] = {dx, dw, db};
	int sizes[] = {B * I, O * I, O};
	for (int t = 0; t < 3; t++)
		for (int i = 0; i < sizes[t]; i++) {
			double l[2];
			for (int s = 0; s < 2; s++) {
				double save = targets[t][i];
				targets[t][i] += s ? -1e-3 : 1e-3;
				double L = 0;
				for (int rr = 0; rr < B; rr++)
					for (int o = 0; o < O; o++) {
						double v = b[o];
						for (int j = 0; j < I; j++)
							v += x[rr * I + j] * w[o * I + j];
						L += r[rr * O + o] * v;
					}
				l[s] = L;
				targets[t][i] = save;
			}
			assert_close(grads[t][i], (l[0] - l[1]) / 2e-3, 1e-4, "dense", t * 100 + i);
		}
	(void)y;
}
END_TEST

START_TEST(activation_backward_matches_finite_differences)
{
	enum aios_act acts[] = {AIOS_ACT_IDENTITY, AIOS_ACT_RELU, AIOS_ACT_TANH, AIOS_ACT_SIGMOID};
	float z[16];
	fill(z, 16, 11, 3);
	for (int i = 0; i < 16; i++)
		if (fabsf(z[i]) < 0.05f)
			z[i] = 0.3f; /* keep away from relu's kink */
	for (int a = 0; a < 4; a++)
		for (int i = 0; i < 16; i++) {
			float y = z[i], d = 1.0f;
			trainer_act_forward(acts[a], &y, 1);
			trainer_act_backward(acts[a], &d, &y, 1);
			float hi = z[i] + 1e-3f, lo = z[i] - 1e-3f;
			trainer_act_forward(acts[a], &hi, 1);
			trainer_act_forward(acts[a], &lo, 1);
			assert_close(d, (hi - lo) / 2e-3, 5e-3, aios_act_name(acts[a]), i);
		}
}
END_TEST

/* Checks dz of one loss against central differences of the summed loss. */
static void check_loss(enum trainer_loss l, enum aios_act out, int B, int O, const float *t)
{
	float z[64], dz[64], dummy[64];
	fill(z, (size_t)B * O, 12 + l, 2);
	if (l == TRAINER_LOSS_HINGE)
		for (int i = 0; i < B; i++)
			if (fabsf(1.0f - fabsf(z[i])) < 0.05f)
				z[i] += 0.2f; /* away from the hinge */
	trainer_loss_forward_backward(l, out, z, t, dz, B, O, 1.0f);
	for (int i = 0; i < B * O; i++) {
		float save = z[i];
		z[i] = save + 1e-3f;
		double hi = trainer_loss_forward_backward(l, out, z, t, dummy, B, O, 1.0f);
		z[i] = save - 1e-3f;
		double lo = trainer_loss_forward_backward(l, out, z, t, dummy, B, O, 1.0f);
		z[i] = save;
		assert_close(dz[i], (hi - lo) / 2e-3, 5e-3, trainer_loss_name(l), i);
	}
}

START_TEST(losses_match_finite_differences)
{
	float reg[12], bin[4] = {0, 1, 1, 0}, cls[4] = {0, 3, 2, 1}, pm[4] = {-1, 1, 1, -1};
	fill(reg, 12, 13, 2);
	check_loss(TRAINER_LOSS_MSE, AIOS_ACT_IDENTITY, 4, 3, reg);
	check_loss(TRAINER_LOSS_CROSS_ENTROPY, AIOS_ACT_SIGMOID, 4, 1, bin);
	check_loss(TRAINER_LOSS_CROSS_ENTROPY, AIOS_ACT_SOFTMAX, 4, 4, cls);
	check_loss(TRAINER_LOSS_HINGE, AIOS_ACT_IDENTITY, 4, 1, pm);
	check_loss(TRAINER_LOSS_HINGE, AIOS_ACT_IDENTITY, 4, 1, bin);
	/* Known values: mse of (1 - 3)^2 = 4; BCE of z = 0 is log 2; softmax of equal logits log K. */
	float z = 1, t = 3, dz;
	ck_assert_double_eq_tol(trainer_loss_forward_backward(TRAINER_LOSS_MSE, AIOS_ACT_IDENTITY,
	                                                      &z, &t, &dz, 1, 1, 1),
	                        4, 1e-6);
	ck_assert_float_eq_tol(dz, -4.0f, 1e-6f);
	z = 0, t = 1;
	ck_assert_double_eq_tol(trainer_loss_forward_backward(TRAINER_LOSS_CROSS_ENTROPY,
	                                                      AIOS_ACT_SIGMOID, &z, &t, &dz, 1, 1,
	                                                      1),
	                        log(2), 1e-6);
	float z3[3] = {0.5f, 0.5f, 0.5f}, d3[3], c = 2;
	ck_assert_double_eq_tol(trainer_loss_forward_backward(TRAINER_LOSS_CROSS_ENTROPY,
	                                                      AIOS_ACT_SOFTMAX, z3, &c, d3, 1, 3,
	                                                      1),
	                        log(3), 1e-6);
	/* Large logits stay finite. */
	z = 200, t = 0;
	double big = trainer_loss_forward_backward(TRAINER_LOSS_CROSS_ENTROPY, AIOS_ACT_SIGMOID, &z,
	                                           &t, &dz, 1, 1, 1);
	ck_assert(isfinite(big));
	ck_assert_double_eq_tol(big, 200, 1e-3);
}
END_TEST

/* Accuracy counts: softmax argmax (first on ties), sigmoid at p = 0.5, hinge by sign. */
START_TEST(correct_counts_classes_by_loss)
{
	ck_assert_int_eq(trainer_loss_classifies(TRAINER_LOSS_MSE), 0);
	ck_assert_int_eq(trainer_loss_classifies(TRAINER_LOSS_CROSS_ENTROPY), 1);
	ck_assert_int_eq(trainer_loss_classifies(TRAINER_LOSS_HINGE), 1);
	/* softmax, 3 classes, 4 rows: argmax 2, 0, 1, and a tie between 0 and 2 (-> 0) */
	float z3[12] = {0.1f, 0.2f, 0.9f, 3, -1, 2, -5, 4, 3.9f, 1, 0, 1};
	float cls[4] = {2, 1, 1, 0};
	ck_assert_int_eq(
	    trainer_loss_correct(TRAINER_LOSS_CROSS_ENTROPY, AIOS_ACT_SOFTMAX, z3, cls, 4, 3), 3);
	cls[3] = 2; /* the tie goes to the first class */
	ck_assert_int_eq(
	    trainer_loss_correct(TRAINER_LOSS_CROSS_ENTROPY, AIOS_ACT_SOFTMAX, z3, cls, 4, 3), 2);
	/* sigmoid: z >= 0 is p >= 0.5, class 1; probability targets count from 0.5 */
	float z1[5] = {-2, 0, 3, -0.1f, 0.1f}, prob[5] = {0, 1, 0.7f, 0.5f, 0.2f};
	ck_assert_int_eq(
	    trainer_loss_correct(TRAINER_LOSS_CROSS_ENTROPY, AIOS_ACT_SIGMOID, z1, prob, 5, 1), 3);
	/* hinge: the sign of z against 0/1 or -1/+1 targets */
	float zh[4] = {-0.5f, 2, 0.3f, -3}, pm[4] = {-1, 1, -1, 1}, b01[4] = {0, 1, 0, 0};
	ck_assert_int_eq(trainer_loss_correct(TRAINER_LOSS_HINGE, AIOS_ACT_IDENTITY, zh, pm, 4, 1),
	                 2);
	ck_assert_int_eq(trainer_loss_correct(TRAINER_LOSS_HINGE, AIOS_ACT_IDENTITY, zh, b01, 4, 1),
	                 3);
	/* regression has no classes */
	ck_assert_int_eq(trainer_loss_correct(TRAINER_LOSS_MSE, AIOS_ACT_IDENTITY, z1, z1, 5, 1),
	                 0);
}
END_TEST

/* The whole network: analytic gradient of the mean loss vs central differences. */
static void check_net(enum aios_model_type type, enum aios_act hidden, enum aios_act out,
                      enum trainer_loss loss, int n_layers, const int *sizes, const float *t)
{
	struct aios_model *m = aios_model_new(type, hidden, out, n_layers, sizes);
	struct trainer_net net;
	trainer_net_init(&net, m, loss);
	fill(net.params, net.n_params, 21, 0.8f);
	trainer_net_refresh(&net);
	enum { B = 6 };
	float x[6 * 8];
	fill(x, (size_t)B * sizes[0], 22, 1.5f);
	struct trainer_ws ws;
	trainer_ws_init(&ws, &net, B);
	memset(net.grads, 0, net.n_params * sizeof(float));
	trainer_net_train_rows(&net, &ws, x, t, B, 1.0f / B, net.grads);
	for (size_t i = 0; i < net.n_params; i++) {
		float save = net.params[i];
		net.params[i] = save + 5e-3f;
		trainer_net_refresh(&net);
		double hi = trainer_net_eval_rows(&net, &ws, x, t, B, NULL) / B;
		net.params[i] = save - 5e-3f;
		trainer_net_refresh(&net);
		double lo = trainer_net_eval_rows(&net, &ws, x, t, B, NULL) / B;
		net.params[i] = save;
		trainer_net_refresh(&net);
		assert_close(net.grads[i], (hi - lo) / 1e-2, 2e-2, aios_act_name(hidden), (int)i);
	}
	trainer_ws_cleanup(&ws);
	trainer_net_cleanup(&net);
}

START_TEST(network_gradients_match_finite_differences)
{
	float reg[12], bin[6] = {0, 1, 1, 0, 1, 0}, cls[6] = {0, 2, 1, 1, 0, 2};
	fill(reg, 12, 23, 1);
	int lin[] = {4, 1}, mlp[] = {3, 5, 4, 2}, mlp1[] = {3, 6, 1}, mlp3[] = {3, 5, 3};
	check_net(AIOS_MODEL_LINEAR, AIOS_ACT_IDENTITY, AIOS_ACT_IDENTITY, TRAINER_LOSS_MSE, 1, lin,
	          reg);
	check_net(AIOS_MODEL_LOGISTIC, AIOS_ACT_IDENTITY, AIOS_ACT_SIGMOID,
	          TRAINER_LOSS_CROSS_ENTROPY, 1, lin, bin);
	check_net(AIOS_MODEL_MLP, AIOS_ACT_TANH, AIOS_ACT_IDENTITY, TRAINER_LOSS_MSE, 3, mlp, reg);
	check_net(AIOS_MODEL_MLP, AIOS_ACT_SIGMOID, AIOS_ACT_SIGMOID, TRAINER_LOSS_CROSS_ENTROPY, 2,
	          mlp1, bin);
	check_net(AIOS_MODEL_MLP, AIOS_ACT_TANH, AIOS_ACT_SOFTMAX, TRAINER_LOSS_CROSS_ENTROPY, 2,
	          mlp3, cls);
	check_net(AIOS_MODEL_MLP, AIOS_ACT_TANH, AIOS_ACT_IDENTITY, TRAINER_LOSS_HINGE, 2, mlp1,
	          bin);
}
END_TEST

START_TEST(relu_network_gradients_match_finite_differences)
{
	/* relu has kinks: a smaller step keeps most hidden units on one side of them. */
	float reg[6];
	fill(reg, 6, 24, 1);
	int sizes[] = {4, 7, 1};
	struct aios_model *m =
	    aios_model_new(AIOS_MODEL_MLP, AIOS_ACT_RELU, AIOS_ACT_IDENTITY, 2, sizes);
	struct trainer_net net;
	trainer_net_init(&net, m, TRAINER_LOSS_MSE);
	fill(net.params, net.n_params, 25, 1.0f);
	trainer_net_refresh(&net);
	float x[24];
	fill(x, 24, 26, 1);
	struct trainer_ws ws;
	trainer_ws_init(&ws, &net, 6);
	trainer_net_train_rows(&net, &ws, x, reg, 6, 1.0f / 6, net.grads);
	int checked = 0;
	for (size_t i = 0; i < net.n_params; i++) {
		double l[2];
		for (int s = 0; s < 2; s++) {
			float save = net.params[i];
			net.params[i] = save + (s ? -1e-3f : 1e-3f);
			trainer_net_refresh(&net);
			l[s] = trainer_net_eval_rows(&net, &ws, x, reg, 6, NULL) / 6;
			net.params[i] = save;
		}
		trainer_net_refresh(&net);
		assert_close(net.grads[i], (l[0] - l[1]) / 2e-3, 2e-2, "relu", (int)i);
		checked++;
	}
	ck_assert_int_eq(checked, 4 * 7 + 7 + 7 + 1);
	trainer_ws_cleanup(&ws);
	trainer_net_cleanup(&net);
}
END_TEST

START_TEST(momentum_matches_hand_computed_steps)
{
	struct trainer_optim o = {.type = TRAINER_OPT_MOMENTUM, .lr = 0.1f, .momentum = 0.9f};
	float p[1] = {1.0f}, g[1] = {0.5f}, m1[1] = {0}, m2[1] = {0};
	trainer_optim_step(&o, 1, p, g, m1, m2, 1);
	/* v = 0.5; p = 1 - 0.05 = 0.95 */
	ck_assert_float_eq_tol(m1[0], 0.5f, 1e-7f);
	ck_assert_float_eq_tol(p[0], 0.95f, 1e-7f);
	g[0] = -0.2f;
	trainer_optim_step(&o, 2, p, g, m1, m2, 1);
	/* v = 0.9 * 0.5 - 0.2 = 0.25; p = 0.95 - 0.025 = 0.925 */
	ck_assert_float_eq_tol(m1[0], 0.25f, 1e-7f);
	ck_assert_float_eq_tol(p[0], 0.925f, 1e-6f);
	/* sgd with weight decay: p -= lr (g + wd p) = 2 - 0.1 (1 + 0.5 * 2) = 1.8 */
	struct trainer_optim s = {.type = TRAINER_OPT_SGD, .lr = 0.1f, .weight_decay = 0.5f};
	p[0] = 2, g[0] = 1;
	trainer_optim_step(&s, 1, p, g, m1, m2, 1);
	ck_assert_float_eq_tol(p[0], 1.8f, 1e-6f);
}
END_TEST

START_TEST(adam_matches_hand_computed_steps)
{
	struct trainer_optim o = {.type = TRAINER_OPT_ADAM,
	                          .lr = 0.01f,
	                          .beta1 = 0.9f,
	                          .beta2 = 0.999f,
	                          .epsilon = 1e-8f};
	float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, 3.0f}, m1[2] = {0}, m2[2] = {0};
	trainer_optim_step(&o, 1, p, g, m1, m2, 2);
	/* step 1: m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2: p -= lr * sign(g) (almost) */
	ck_assert_float_eq_tol(m1[0], 0.05f, 1e-7f);
	ck_assert_float_eq_tol(m2[1], 0.009f, 5e-7f); /* (1 - 0.999f) is not 0.001 in float */
	ck_assert_float_eq_tol(p[0], 1.0f - 0.01f, 1e-6f);
	ck_assert_float_eq_tol(p[1], -2.0f - 0.01f, 1e-6f);
	g[0] = 0.1f;
	g[1] = 3.0f;
	trainer_optim_step(&o, 2, p, g, m1, m2, 2);
	/* step 2, parameter 0, by hand in double */
	double m = 0.9 * 0.05 + 0.1 * 0.1, v = 0.999 * 0.00025 + 0.001 * 0.01;
	double mh = m / (1 - 0.81), vh = v / (1 - 0.999 * 0.999);
	double want = 0.99 - 0.01 * mh / (sqrt(vh) + 1e-8);
	ck_assert_float_eq_tol(m1[0], (float)m, 1e-7f);
	ck_assert_float_eq_tol(m2[0], (float)v, 1e-8f);
	ck_assert_double_eq_tol(p[0], want, 1e-6);
	/* parameter 1 saw a constant gradient: it moves by lr again */
	ck_assert_float_eq_tol(p[1], -2.02f, 1e-5f);
}
END_TEST

/* Adam's steps 1..40 over n elements of p, g, m1, m2 (back to back in buf). */
static void adam_steps(enum aios_matmul_isa isa, const struct trainer_optim *o, float *buf,
                       size_t n)
{
	for (int step = 1; step <= 40; step++)
		trainer_optim_step_isa(isa, o, step, buf, buf + n, buf + 2 * n, buf + 3 * n, n);
}

/* Every Adam variant this CPU runs gives the reference's bits (the scalar loop), on
 * lengths around the 16-lane vector, with and without weight decay, moments that decay
 * into the subnormal range (stored as zero), and a NaN (kept). */
START_TEST(adam_variants_match_the_reference_bit_for_bit)
{
	static const size_t lens[] = {1, 7, 15, 16, 17, 33, 1000, 6337};
	static const enum aios_matmul_isa isas[] = {AIOS_MATMUL_ISA_AVX2, AIOS_MATMUL_ISA_AVX512};
	static const char *const isa_names[] = {"avx2+fma", "avx512"};
	for (size_t v = 0; v < 2; v++)
		if (!aios_matmul_isa_supported(isas[v]))
			printf(
			    "test_nn: NOTE this CPU lacks %s: its Adam loop is NOT checked here\n",
			    isa_names[v]);
	for (int decay = 0; decay < 2; decay++) {
		struct trainer_optim o = {.type = TRAINER_OPT_ADAM,
		                          .lr = 0.01f,
		                          .beta1 = 0.9f,
		                          .beta2 = 0.999f,
		                          .epsilon = 1e-8f,
		                          .weight_decay = decay ? 0.01f : 0.0f};
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			size_t n = lens[l];
			float *ref = alloc_filled(4 * n, 40 + l),
			      *got = malloc(4 * n * sizeof(float));
			/* every third element: p and g 0, moments that 40 steps push below
			 * FLT_MIN (m1 by 0.9^40, m2 by 0.999^40) */
			for (size_t i = 0; i < n; i += 3) {
				ref[i] = ref[n + i] = 0;
				ref[2 * n + i] = 1e-37f;
				ref[3 * n + i] = 1.2e-38f;
			}
			if (n > 5)
				ref[n + 4] = NAN;
			float *init = malloc(4 * n * sizeof(float));
			memcpy(init, ref, 4 * n * sizeof(float));
			adam_steps(AIOS_MATMUL_ISA_GENERIC, &o, ref, n);
			for (size_t v = 0; v < 2; v++) {
				if (!aios_matmul_isa_supported(isas[v]))
					continue;
				memcpy(got, init, 4 * n * sizeof(float));
				adam_steps(isas[v], &o, got, n);
				for (size_t i = 0; i < 4 * n; i++)
					ck_assert_msg(!memcmp(&ref[i], &got[i], sizeof(float)),
					              "%s, n %zu, decay %d: element %zu: %.9g, "
					              "reference %.9g",
					              isa_names[v], n, decay, i, got[i], ref[i]);
			}
			for (size_t i = 0; !decay && i < n; i += 3) /* zeros, not subnormals */
				ck_assert_msg(ref[2 * n + i] == 0 && ref[3 * n + i] == 0,
				              "n %zu: m1[%zu] %g, m2[%zu] %g", n, i, ref[2 * n + i],
				              i, ref[3 * n + i]);
			if (n > 5)
				ck_assert(isnan(ref[4]) && isnan(ref[2 * n + 4]));
			free(init), free(ref), free(got);
		}
	}
}
END_TEST

START_TEST(rng_is_deterministic)
{
	struct trainer_rng a, b;
	trainer_rng_seed(&a, 42);
	trainer_rng_seed(&b, 42);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(trainer_rng_next(&a), trainer_rng_next(&b));
	uint32_t idx[50];
	for (int i = 0; i < 50; i++)
		idx[i] = (uint32_t)i;
	trainer_rng_shuffle(&a, idx, 50);
	int sum = 0, moved = 0;
	for (int i = 0; i < 50; i++)
		sum += (int)idx[i], moved += idx[i] != (uint32_t)i;
	ck_assert_int_eq(sum, 49 * 50 / 2);
	ck_assert_int_gt(moved, 30);
	for (int i = 0; i < 1000; i++)
		ck_assert_uint_lt(trainer_rng_below(&a, 7), 7);
}
END_TEST

struct tally {
	int calls[TRAINER_MAX_THREADS];
	int team[TRAINER_MAX_THREADS];
};

static void count(void *ud, int i, int n)
{
	struct tally *t = ud;
	t->calls[i]++;
	t->team[i] = n;
}

START_TEST(pool_runs_each_worker_once)
{
	struct trainer_pool *p = trainer_pool_new(4);
	ck_assert_int_eq(trainer_pool_size(p), 4);
	struct tally t = {0};
	for (int round = 0; round < 1000; round++)
		trainer_pool_run(p, count, &t);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(t.calls[i], 1000);
		ck_assert_int_eq(t.team[i], 4);
	}
	struct tally u = {0};
	for (int round = 0; round < 500; round++)
		trainer_pool_run_n(p, 2, count, &u);
	trainer_pool_run_n(p, 99, count, &u); /* clamped to the pool */
	ck_assert_int_eq(u.calls[0], 501);
	ck_assert_int_eq(u.calls[1], 501);
	ck_assert_int_eq(u.calls[2], 1);
	ck_assert_int_eq(u.calls[3], 1);
	trainer_pool_free(p);
	trainer_pool_free(NULL);
}
END_TEST

static Suite *nn_suite(void)
{
	Suite *s = suite_create("trainer_nn");
	TCase *tc = tcase_create("nn");
	tcase_add_test(tc, transpose_matches_definition);
	tcase_add_test(tc, dense_fast_matches_reference);
	tcase_add_test(tc, dense_backward_matches_finite_differences);
	tcase_add_test(tc, activation_backward_matches_finite_differences);
	tcase_add_test(tc, losses_match_finite_differences);
	tcase_add_test(tc, correct_counts_classes_by_loss);
	tcase_add_test(tc, network_gradients_match_finite_differences);
	tcase_add_test(tc, relu_network_gradients_match_finite_differences);
	tcase_add_test(tc, momentum_matches_hand_computed_steps);
	tcase_add_test(tc, adam_matches_hand_computed_steps);
	tcase_add_test(tc, adam_variants_match_the_reference_bit_for_bit);
	tcase_add_test(tc, rng_is_deterministic);
	tcase_add_test(tc, pool_runs_each_worker_once);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(nn_suite)
