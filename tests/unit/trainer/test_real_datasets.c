/*
 * test_real_datasets.c - known answers on real datasets no one here made: iris, wine,
 * breast_cancer, digits and diabetes, as Debian's python3-sklearn ships them.
 * datasets/peers.py splits each 80/20 (seed 0, stratified for the classification sets),
 * writes the training rows as CSV and trains two peers on them: scikit-learn's usual
 * estimator and PyTorch with aios's model, loss, optimizer, epochs, batch size and seed.
 * The real aios-trainer binary trains on the same CSV (header, label column "target",
 * --normalize), the real aios-serve serves the artifact, and its V2 answers on the held-out
 * rows are scored by the same function that scores both peers' outputs: accuracy (class
 * of the largest output; p >= 0.5 for one output) or mean squared error.
 *
 * Each case must beat the trivial answer (the test rows' majority class, or their mean)
 * and come within its margin of the better peer:
 *   classification: accuracy at most max(3 points, one test row) below. Three points are
 *     about the spread between the two peers themselves on these splits; on iris and wine
 *     (30 and 36 test rows) one row is 3.3 and 2.8 points, so a margin below one row would
 *     ask for a tie.
 *   linear regression: MSE at most 10% above (SGD against the least-squares optimum).
 *   MLP regression: MSE at most 15% above; diabetes is small and noisy, and this MLP's
 *     MSE spreads by 7-9% over seeds 0..3 with either peer alone.
 * The whole table prints before any assertion. A missing peer fails the test.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "support/serve_fixture.h"
#include "support/tmpdir.h"

static char g_dir[256];

static void setup(void)
{
	aios_test_tmpdir("aios-real-datasets", g_dir, sizeof g_dir);
}

static void teardown(void)
{
	aios_test_tmpdir_remove(g_dir);
	g_dir[0] = 0;
}

static const char *path_of(const char *name, const char *ext)
{
	return aios_test_tmpdir_file(g_dir, name, ext);
}

/* ---------------------------------------------------------------- the cases */

struct dcase {
	const char *name, *dataset;
	const char *model;      /* softmax, logistic, linear, mlp */
	const char *hidden;     /* mlp widths, "-" for none */
	const char *activation; /* mlp hidden layers */
	const char *optimizer;
	double lr;
	int epochs, batch;
	double margin; /* accuracy points (classification) or MSE ratio over 1 (regression) */
};

#define SEED 0 /* aios-trainer's and both peers' */

static const struct dcase cases[] = {
    {"iris_softmax", "iris", "softmax", "-", "relu", "adam", 0.01, 100, 16, 0.03},
    {"iris_mlp", "iris", "mlp", "16", "relu", "adam", 0.01, 100, 16, 0.03},
    {"wine_softmax", "wine", "softmax", "-", "relu", "adam", 0.01, 100, 16, 0.03},
    {"wine_mlp", "wine", "mlp", "16", "relu", "adam", 0.01, 100, 16, 0.03},
    {"breast_cancer_logistic", "breast_cancer", "logistic", "-", "relu", "adam", 0.01, 50, 32,
     0.03},
    {"digits_softmax", "digits", "softmax", "-", "relu", "adam", 0.01, 30, 32, 0.03},
    {"digits_mlp", "digits", "mlp", "64", "relu", "adam", 0.01, 30, 32, 0.03},
    {"diabetes_linear", "diabetes", "linear", "-", "relu", "sgd", 0.01, 200, 32, 0.10},
    {"diabetes_mlp", "diabetes", "mlp", "32", "relu", "adam", 0.01, 300, 32, 0.15},
};
#define N_CASES (sizeof cases / sizeof cases[0])

struct meta {
	int rows, features, classes; /* classes 0: regression */
};

static struct meta read_meta(const char *dataset)
{
	struct meta m = {0};
	FILE *f = fopen(path_of(dataset, ".meta"), "r");
	ck_assert_msg(f != NULL, "%s: peers.py wrote no .meta", dataset);
	ck_assert_int_eq(fscanf(f, "%d %d %d", &m.rows, &m.features, &m.classes), 3);
	fclose(f);
	ck_assert(m.rows > 0 && m.features > 0 && m.classes >= 0);
	return m;
}

/* Width of the model's output: what aios-serve answers per row. */
static int outputs_of(const struct dcase *c, const struct meta *m)
{
	if (!strcmp(c->model, "softmax") || (!strcmp(c->model, "mlp") && m->classes > 2))
		return m->classes;
	return 1;
}

/* ---------------------------------------------------------------- scoring */

/* The one score for aios and both peers: out (rows, width) against the labels y.
 * Accuracy for classification, mean squared error for regression. */
static double score(const struct meta *m, const float *out, int width, const float *y)
{
	double s = 0;
	for (int r = 0; r < m->rows; r++) {
		const float *o = out + (size_t)r * width;
		if (!m->classes) {
			double d = (double)o[0] - y[r];
			s += d * d;
		} else if (width == 1) {
			s += (o[0] >= 0.5f) == (y[r] >= 0.5f);
		} else {
			int best = 0;
			for (int k = 1; k < width; k++)
				if (o[k] > o[best])
					best = k;
			s += best == (int)y[r];
		}
	}
	return s / m->rows;
}

/* The trivial answer's score: the majority class's share, or the labels' variance (the
 * MSE of predicting their mean). */
static double trivial(const struct meta *m, const float *y)
{
	double s = 0, ss = 0, best = 0;
	if (!m->classes) {
		for (int r = 0; r < m->rows; r++)
			s += y[r];
		double mean = s / m->rows;
		for (int r = 0; r < m->rows; r++)
			ss += (y[r] - mean) * (y[r] - mean);
		return ss / m->rows;
	}
	for (int k = 0; k < m->classes; k++) {
		int n = 0;
		for (int r = 0; r < m->rows; r++)
			n += (int)y[r] == k;
		if ((double)n / m->rows > best)
			best = (double)n / m->rows;
	}
	return best;
}

/* ---------------------------------------------------------------- aios */

/* Trains c with aios-trainer and returns aios-serve's outputs on the test rows x. */
static float *aios_outputs(const struct dcase *c, const struct meta *m, const float *x)
{
	char cmd[4096], model[256];
	int width = outputs_of(c, m);
	if (!strcmp(c->model, "mlp"))
		snprintf(model, sizeof model,
		         "--model mlp --hidden %s --activation %s --outputs %d --loss %s",
		         c->hidden, c->activation, width, m->classes ? "cross_entropy" : "mse");
	else
		snprintf(model, sizeof model, "--model %s --outputs %d", c->model, width);
	snprintf(cmd, sizeof cmd,
	         "AIOS_TERMINATION_LOG=/dev/null %s --data %s --label-column target --normalize "
	         "%s --optimizer %s --lr %g --epochs %d --batch-size %d --seed %d --threads 1 "
	         "--metrics-port 0 --checkpoint-every 0 --output %s >%s 2>%s",
	         sf_program("src/trainer/aios-trainer"), path_of(c->dataset, ".train.csv"), model,
	         c->optimizer, c->lr, c->epochs, c->batch, SEED, path_of(c->name, ".aios"),
	         path_of(c->name, ".out"), path_of(c->name, ".err"));
	ck_assert_msg(sf_sh(cmd) == 0, "%s: aios-trainer failed: %s", c->name,
	              sf_slurp(path_of(c->name, ".err")));
	struct sf_server s;
	const char *args[] = {"--model", path_of(c->name, ".aios"), "--name", "m", NULL};
	sf_start(&s, args);
	float *y = sf_infer_v2(s.port, "input", x, m->rows, m->features, width);
	ck_assert_int_eq(sf_stop(&s), 0);
	return y;
}

/* ---------------------------------------------------------------- the test */

struct row {
	double aios, sklearn, torch, trivial;
	int classes, rows;
};

/* Whether r passes c's margin against the better peer. */
static int within(const struct dcase *c, const struct row *r, double *bound)
{
	if (r->classes) {
		double best = fmax(r->sklearn, r->torch);
		double slack = fmax(c->margin, 1.0 / r->rows + 1e-9);
		*bound = best - slack;
		return r->aios >= *bound && r->aios > r->trivial;
	}
	double best = fmin(r->sklearn, r->torch);
	*bound = best * (1 + c->margin);
	return r->aios <= *bound && r->aios < r->trivial;
}

START_TEST(aios_is_within_its_margin_of_the_better_peer)
{
	FILE *f = fopen(path_of("cases", ".txt"), "w");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < N_CASES; i++) {
		const struct dcase *c = &cases[i];
		fprintf(f, "%s %s %s %s %s %s %.17g %d %d %d\n", c->name, c->dataset, c->model,
		        c->hidden, c->activation, c->optimizer, c->lr, c->epochs, c->batch, SEED);
	}
	ck_assert_int_eq(fclose(f), 0);
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 /usr/bin/python3 %s %s %s >%s 2>&1",
	         aios_test_path("tests/unit/trainer/datasets/peers.py"), g_dir,
	         path_of("cases", ".txt"), path_of("peers", ".log"));
	ck_assert_msg(sf_sh(cmd) == 0, "peers.py failed: %s", sf_slurp(path_of("peers", ".log")));

	struct row rows[N_CASES];
	for (size_t i = 0; i < N_CASES; i++) {
		const struct dcase *c = &cases[i];
		struct meta m = read_meta(c->dataset);
		int width = outputs_of(c, &m);
		size_t n = (size_t)m.rows * (size_t)width;
		float *x = sf_read_f32(path_of(c->dataset, ".test.x.f32"),
		                       (size_t)m.rows * (size_t)m.features);
		float *y = sf_read_f32(path_of(c->dataset, ".test.y.f32"), (size_t)m.rows);
		float *sk = sf_read_f32(path_of(c->name, ".sklearn.f32"), n);
		float *pt = sf_read_f32(path_of(c->name, ".torch.f32"), n);
		float *ai = aios_outputs(c, &m, x);
		rows[i] = (struct row){score(&m, ai, width, y),
		                       score(&m, sk, width, y),
		                       score(&m, pt, width, y),
		                       trivial(&m, y),
		                       m.classes,
		                       m.rows};
		free(x), free(y), free(sk), free(pt), free(ai);
	}

	int failed = 0;
	char why[4096] = "";
	size_t wl = 0;
	printf("| dataset | model | test rows | metric | aios | sklearn | PyTorch | trivial | "
	       "margin | pass |\n|---|---|---|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < N_CASES; i++) {
		const struct dcase *c = &cases[i];
		const struct row *r = &rows[i];
		double bound;
		int ok = within(c, r, &bound);
		char mg[64];
		if (r->classes)
			snprintf(mg, sizeof mg, ">= %.4f (best - %.1f pt)", bound,
			         100 * fmax(c->margin, 1.0 / r->rows));
		else
			snprintf(mg, sizeof mg, "<= %.1f (best + %.0f%%)", bound, 100 * c->margin);
		if (r->classes)
			printf(
			    "| %s | %s | %d | accuracy | %.4f | %.4f | %.4f | %.4f | %s | %s |\n",
			    c->dataset, c->name + strlen(c->dataset) + 1, r->rows, r->aios,
			    r->sklearn, r->torch, r->trivial, mg, ok ? "yes" : "NO");
		else
			printf("| %s | %s | %d | MSE | %.1f | %.1f | %.1f | %.1f | %s | %s |\n",
			       c->dataset, c->name + strlen(c->dataset) + 1, r->rows, r->aios,
			       r->sklearn, r->torch, r->trivial, mg, ok ? "yes" : "NO");
		if (!ok) {
			failed++;
			wl += (size_t)snprintf(why + wl, wl < sizeof why ? sizeof why - wl : 0,
			                       " %s: aios %.4f, bound %.4f, trivial %.4f;", c->name,
			                       r->aios, bound, r->trivial);
			if (wl >= sizeof why)
				wl = sizeof why - 1;
		}
	}
	fflush(stdout);
	ck_assert_msg(failed == 0, "%d of %zu cases outside their margin:%s", failed, N_CASES, why);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trainer_real_datasets");
	TCase *t = tcase_create("peers");
	aios_test_tmpdir_fixture(t);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 300);
	tcase_add_test(t, aios_is_within_its_margin_of_the_better_peer);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
