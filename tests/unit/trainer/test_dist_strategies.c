/*
 * test_dist_strategies.c - the parameter-server and pipeline strategies as real
 * processes on loopback, each against the one-process computation:
 *   - synchronous parameter servers (1 and 2 servers, 2 and 3 workers): linear
 *     regression by SGD on the global batch; parameters equal the one-process run
 *     within 1e-5 (relative), and every worker saw the same parameters;
 *   - asynchronous parameter servers (staleness 2): the loss falls to within 1% of the
 *     optimum (timing decides the exact path);
 *   - pipeline (2, 3 and 4 stages, 4 micro-batches): an MLP trained by SGD for a few
 *     steps equals trainer_net_train_rows (the trainer's own one-process pass) within
 *     1e-4 relative (float summation order differs: micro-batches, naive kernels).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/mem.h"
#include "dist_harness.h"
#include "trainer/dist_pipeline.h"
#include "trainer/dist_ps.h"
#include "trainer/dist_stage.h"
#include "trainer/nn.h"
#include "trainer/optim.h"

/* ------------------------------------------------------------------ data */

enum { ROWS = 48, FEAT = 5, STEPS = 30 };
static const float LR = 0.05f;

static void make_data(float *x, float *y)
{
	uint32_t s = 12345;
	for (int r = 0; r < ROWS; r++) {
		double acc = 0.5;
		for (int f = 0; f < FEAT; f++) {
			s = s * 1664525u + 1013904223u;
			float v = (float)((s >> 8) & 0xffff) / 65536.0f * 2.0f - 1.0f;
			x[r * FEAT + f] = v;
			acc += (f + 1) * 0.3 * v;
		}
		s = s * 1664525u + 1013904223u;
		y[r] = (float)(acc + ((s >> 8) & 0xff) / 2560.0);
	}
}

/* d/dtheta of the mean squared error over rows [r0, r1), scaled by 1/ROWS; theta = (w, b). */
static void lin_grad(const float *theta, const float *x, const float *y, int r0, int r1, float *g)
{
	memset(g, 0, (FEAT + 1) * sizeof(float));
	for (int r = r0; r < r1; r++) {
		float p = theta[FEAT];
		for (int f = 0; f < FEAT; f++)
			p += theta[f] * x[r * FEAT + f];
		float e = 2.0f * (p - y[r]) / (float)ROWS;
		for (int f = 0; f < FEAT; f++)
			g[f] += e * x[r * FEAT + f];
		g[FEAT] += e;
	}
}

static double lin_loss(const float *theta, const float *x, const float *y)
{
	double l = 0;
	for (int r = 0; r < ROWS; r++) {
		double p = theta[FEAT];
		for (int f = 0; f < FEAT; f++)
			p += theta[f] * x[r * FEAT + f];
		l += (p - y[r]) * (p - y[r]);
	}
	return l / ROWS;
}

static void reference_sgd(float *theta, int steps)
{
	float x[ROWS * FEAT], y[ROWS], g[FEAT + 1];
	make_data(x, y);
	memset(theta, 0, (FEAT + 1) * sizeof(float));
	for (int k = 0; k < steps; k++) {
		lin_grad(theta, x, y, 0, ROWS, g);
		for (int i = 0; i <= FEAT; i++)
			theta[i] -= LR * g[i];
	}
}

/* ------------------------------------------------------------------ parameter server */

static void sgd_apply(void *ctx, size_t off, size_t n, float *p, const float *g, int64_t step)
{
	(void)ctx;
	(void)off;
	(void)step;
	for (size_t i = 0; i < n; i++)
		p[i] -= LR * g[i];
}

struct ps_case {
	int staleness;
	int steps;
};

static int rank_ps(int rank, const struct aios_dist_config *cfg, void *arg)
{
	struct ps_case *c = arg;
	struct aios_dist *d;
	struct aios_dist_ps *ps;
	if (aios_dist_connect(cfg, &d) != AIOS_OK) {
		harness_note("connect: %s", aios_errmsg());
		return 2;
	}
	if (aios_dist_ps_new(d, FEAT + 1, c->staleness, &ps) != AIOS_OK) {
		harness_note("ps_new: %s", aios_errmsg());
		aios_dist_free(d);
		return 3;
	}
	float theta[FEAT + 1] = {0}, x[ROWS * FEAT], y[ROWS], g[FEAT + 1];
	make_data(x, y);
	enum aios_err e;
	if (cfg->role == AIOS_DIST_ROLE_PS) {
		e = aios_dist_ps_serve(ps, theta, sgd_apply, NULL);
	} else {
		/* worker w of W computes the gradient of its contiguous share of the rows */
		int w = aios_dist_ps_worker_index(ps), W = aios_dist_ps_workers(ps);
		int r0 = ROWS * w / W, r1 = ROWS * (w + 1) / W;
		e = AIOS_OK;
		for (int k = 0; k < c->steps && !e; k++) {
			e = aios_dist_ps_pull(ps, theta);
			if (!e) {
				lin_grad(theta, x, y, r0, r1, g);
				/* the servers average over workers: scale the partial sum back up */
				for (int i = 0; i <= FEAT; i++)
					g[i] *= (float)W;
				e = aios_dist_ps_push(ps, g);
			}
		}
		if (!e)
			e = aios_dist_ps_done(ps, rank == 0 ? theta : NULL);
	}
	if (e) {
		harness_note("%s", aios_errmsg());
		aios_dist_ps_free(ps);
		aios_dist_free(d);
		return 4;
	}
	aios_dist_ps_free(ps);
	if (aios_dist_finish(d) != AIOS_OK) {
		harness_note("finish: %s", aios_errmsg());
		return 5;
	}
	if (rank == 0) {
		float want[FEAT + 1];
		reference_sgd(want, c->steps);
		if (c->staleness == 0) {
			for (int i = 0; i <= FEAT; i++)
				if (fabsf(theta[i] - want[i]) > 1e-5f * (1.0f + fabsf(want[i]))) {
					harness_note("theta[%d] = %.9g, one process: %.9g", i,
					             theta[i], want[i]);
					return 6;
				}
		} else {
			reference_sgd(want, 2000); /* close to the optimum */
			double lo = lin_loss(want, x, y), got = lin_loss(theta, x, y);
			if (got > lo * 1.01) {
				harness_note("async loss %.6g vs optimum %.6g", got, lo);
				return 7;
			}
		}
	}
	return 0;
}

static void check_ps(int world, int servers, int staleness, int steps)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, world);
	for (int r = world - servers; r < world; r++)
		cfgs[r].role = AIOS_DIST_ROLE_PS;
	struct ps_case c = {staleness, steps};
	struct harness_result res;
	harness_run(world, cfgs, rank_ps, &c, 60000, &res);
	for (int r = 0; r < world; r++)
		ck_assert_msg(res.status[r] == 0,
		              "world %d servers %d staleness %d: rank %d exited %d: %s", world,
		              servers, staleness, r, res.status[r], res.note[r]);
}

START_TEST(ps_sync_equals_one_process)
{
	check_ps(3, 1, 0, 1);
	check_ps(3, 1, 0, 2);
	check_ps(3, 1, 0, STEPS);
	check_ps(4, 2, 0, STEPS); /* 2 workers, 2 servers (shards of 3 and 3) */
	check_ps(4, 1, 0, STEPS); /* 3 workers, 1 server */
}
END_TEST

START_TEST(ps_async_converges)
{
	check_ps(4, 1, 2, 400);
}
END_TEST

START_TEST(ps_refuses_bad_layouts)
{
	struct aios_dist_config c;
	aios_dist_config_defaults(&c);
	struct aios_dist *d;
	ck_assert_int_eq(aios_dist_connect(&c, &d), AIOS_OK);
	struct aios_dist_ps *ps;
	ck_assert_int_eq(aios_dist_ps_new(d, 10, 0, &ps), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "no rank has role ps"));
	ck_assert_int_eq(aios_dist_ps_new(d, 10, -1, &ps), AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_dist_finish(d), AIOS_OK);
}
END_TEST

/* ------------------------------------------------------------------ pipeline */

enum { P_ROWS = 32, P_IN = 6, P_OUT = 3, P_STEPS = 5 };
static const int P_SIZES[] = {P_IN, 16, 12, 10, 8, P_OUT}; /* 5 dense layers */
#define P_LAYERS 5

static void pipe_data(float *x, float *t)
{
	uint32_t s = 777;
	for (int i = 0; i < P_ROWS * P_IN; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = (float)((s >> 8) & 0xffff) / 65536.0f * 2.0f - 1.0f;
	}
	for (int r = 0; r < P_ROWS; r++)
		t[r] = (float)(r % P_OUT); /* class index (softmax + cross-entropy) */
}

static struct aios_model *pipe_model(void)
{
	struct aios_model *m =
	    aios_model_new(AIOS_MODEL_MLP, AIOS_ACT_TANH, AIOS_ACT_SOFTMAX, P_LAYERS, P_SIZES);
	return m;
}

/* The trainer's own one-process pass: the reference. */
static void pipe_reference(float *params_out, size_t n)
{
	struct trainer_net net;
	trainer_net_init(&net, pipe_model(), TRAINER_LOSS_CROSS_ENTROPY);
	trainer_net_init_params(&net, 42);
	struct trainer_ws ws;
	trainer_ws_init(&ws, &net, P_ROWS);
	float x[P_ROWS * P_IN], t[P_ROWS];
	pipe_data(x, t);
	ck_assert_uint_eq(net.n_params, n);
	for (int k = 0; k < P_STEPS; k++) {
		trainer_net_refresh(&net);
		memset(net.grads, 0, n * sizeof(float));
		trainer_net_train_rows(&net, &ws, x, t, P_ROWS, 1.0f / P_ROWS, net.grads);
		for (size_t i = 0; i < n; i++)
			net.params[i] -= 0.1f * net.grads[i];
	}
	memcpy(params_out, net.params, n * sizeof(float));
	trainer_ws_cleanup(&ws);
	trainer_net_cleanup(&net);
}

static int rank_pipe(int rank, const struct aios_dist_config *cfg, void *arg)
{
	int micro = *(int *)arg;
	struct aios_dist *d;
	if (aios_dist_connect(cfg, &d) != AIOS_OK) {
		harness_note("connect: %s", aios_errmsg());
		return 2;
	}
	int S = cfg->world;
	/* same initial parameters as the reference: the same seed on every rank */
	struct trainer_net net;
	trainer_net_init(&net, pipe_model(), TRAINER_LOSS_CROSS_ENTROPY);
	trainer_net_init_params(&net, 42);
	struct aios_model *m = net.model;
	size_t n = net.n_params;
	size_t counts[P_LAYERS];
	for (int l = 0; l < P_LAYERS; l++)
		counts[l] = (size_t)m->layers[l].in * m->layers[l].out + m->layers[l].out;
	int first[P_LAYERS + 1];
	if (aios_dist_pipe_split(P_LAYERS, counts, S, first) != AIOS_OK) {
		harness_note("split: %s", aios_errmsg());
		return 3;
	}
	float *grads = aios_xcalloc(n, sizeof(float));
	struct aios_dist_stage *st = aios_dist_stage_new(m, TRAINER_LOSS_CROSS_ENTROPY, first[rank],
	                                                 first[rank + 1], P_ROWS, grads);
	float x[P_ROWS * P_IN], t[P_ROWS];
	pipe_data(x, t);
	aios_dist_stage_set_targets(st, t, 1.0f / P_ROWS);
	struct aios_dist_pipe_ops ops = aios_dist_stage_ops(st);
	size_t off, len;
	aios_dist_stage_range(st, &off, &len);
	enum aios_err e = AIOS_OK;
	for (int k = 0; k < P_STEPS && !e; k++) {
		memset(grads, 0, n * sizeof(float));
		double loss;
		e = aios_dist_pipe_step(d, &ops, P_ROWS, micro, x, &loss);
		for (size_t i = off; i < off + len; i++)
			m->params[i] -= 0.1f * grads[i];
	}
	size_t offs[HARNESS_MAX + 1];
	for (int s = 0; s < S; s++) {
		struct aios_dist_stage *tmp = aios_dist_stage_new(m, TRAINER_LOSS_CROSS_ENTROPY,
		                                                  first[s], first[s + 1], 1, grads);
		size_t o, l;
		aios_dist_stage_range(tmp, &o, &l);
		offs[s] = o;
		offs[s + 1] = o + l;
		aios_dist_stage_free(tmp);
	}
	if (!e)
		e = aios_dist_pipe_gather(d, m->params, offs);
	int rc = 0;
	if (e) {
		harness_note("%s", aios_errmsg());
		rc = 4;
	} else if (rank == 0) {
		float *want = aios_xmalloc(n * sizeof(float));
		pipe_reference(want, n);
		double worst = 0;
		for (size_t i = 0; i < n; i++) {
			double err = fabs((double)m->params[i] - want[i]) / (1.0 + fabs(want[i]));
			if (err > worst)
				worst = err;
		}
		/* and the step must have changed something */
		struct trainer_net init;
		trainer_net_init(&init, pipe_model(), TRAINER_LOSS_CROSS_ENTROPY);
		trainer_net_init_params(&init, 42);
		double moved = 0;
		for (size_t i = 0; i < n; i++)
			moved += fabs((double)init.params[i] - want[i]);
		trainer_net_cleanup(&init);
		if (worst > 1e-4 || moved < 1e-3) {
			harness_note("stages %d micro %d: worst relative error %.3g, moved %.3g", S,
			             micro, worst, moved);
			rc = 6;
		}
		free(want);
	}
	aios_dist_stage_free(st);
	free(grads);
	trainer_net_cleanup(&net);
	if (rc) {
		aios_dist_free(d);
		return rc;
	}
	return aios_dist_finish(d) == AIOS_OK ? 0 : 5;
}

static void check_pipe(int stages, int micro)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, stages);
	for (int r = 0; r < stages; r++)
		cfgs[r].role = AIOS_DIST_ROLE_STAGE;
	struct harness_result res;
	harness_run(stages, cfgs, rank_pipe, &micro, 60000, &res);
	for (int r = 0; r < stages; r++)
		ck_assert_msg(res.status[r] == 0, "stages %d micro %d: rank %d exited %d: %s",
		              stages, micro, r, res.status[r], res.note[r]);
}

START_TEST(pipeline_equals_one_process)
{
	check_pipe(2, 4);
	check_pipe(3, 4);
	check_pipe(4, 4);
	check_pipe(3, 5); /* uneven micro-batches: 7, 7, 6, 6, 6 rows */
	check_pipe(2, 1); /* no micro-batching */
}
END_TEST

START_TEST(pipeline_split_balances_parameters)
{
	size_t counts[] = {100, 10, 10, 10, 100};
	int first[6];
	ck_assert_int_eq(aios_dist_pipe_split(5, counts, 2, first), AIOS_OK);
	ck_assert_int_eq(first[0], 0);
	ck_assert_int_eq(first[2], 5);
	ck_assert_int_ge(first[1], 2);
	ck_assert_int_le(first[1], 4);
	ck_assert_int_eq(aios_dist_pipe_split(5, counts, 5, first), AIOS_OK);
	for (int s = 0; s <= 5; s++)
		ck_assert_int_eq(first[s], s);
	ck_assert_int_eq(aios_dist_pipe_split(5, counts, 6, first), AIOS_ERR_INVALID);
	size_t even[] = {1, 1, 1, 1};
	ck_assert_int_eq(aios_dist_pipe_split(4, even, 2, first), AIOS_OK);
	ck_assert_int_eq(first[1], 2);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dist_strategies");
	TCase *t = tcase_create("strategies");
	aios_test_tmpdir_fixture(t); /* harness_run's directories */
	tcase_set_timeout(t, 120);
	tcase_add_test(t, ps_sync_equals_one_process);
	tcase_add_test(t, ps_async_converges);
	tcase_add_test(t, ps_refuses_bad_layouts);
	tcase_add_test(t, pipeline_split_balances_parameters);
	tcase_add_test(t, pipeline_equals_one_process);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
