/*
 * test_train.c - aios-trainer end to end, in process: the seed example by hand and
 * from examples/, known answers (linear weights, accuracy on data no line separates),
 * exact resume, every kind of bad input with its exit code, /metrics.
 */
#include <curl/curl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/shutdown.h"
#include "model/model.h"
#include "support/tmpdir.h"
#include "trainer/data.h"
#include "trainer/metrics.h"
#include "trainer/rng.h"
#include "trainer/run.h"

static char dir[128];
static char last_out[1 << 16]; /* stdout of the last run */

static void setup(void)
{
	aios_test_tmpdir("aios-train", dir, sizeof(dir)); /* removed with the test */
	unsetenv("AIOS_JOB");
	unsetenv("AIOS_SPEC");
	unsetenv("AIOS_SPEC_FILE");
	unsetenv("AIOS_CHECKPOINT_DIR");
	setenv("AIOS_TERMINATION_LOG", "/dev/null", 1);
}

static void teardown(void)
{
	aios_test_tmpdir_remove(dir);
	dir[0] = 0;
}

/* A path inside this test's directory (static rotating buffers). */
static const char *tmp(const char *name)
{
	static char bufs[64][256];
	static int i;
	char *b = bufs[i++ % 64];
	snprintf(b, 256, "%s/%s", dir, name);
	return b;
}

/* Runs aios-trainer with the NULL-terminated arguments; returns the exit code. */
static int run(const char *first, ...)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = "aios-trainer";
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	struct trainer_opts o;
	int code = trainer_opts_parse(argc, argv, &o);
	if (code == 0) {
		FILE *f = tmpfile();
		code = trainer_run_main(&o, f);
		rewind(f);
		size_t n = fread(last_out, 1, sizeof(last_out) - 1, f);
		last_out[n] = '\0';
		fclose(f);
	}
	trainer_opts_cleanup(&o);
	return code;
}

static struct aios_model *load(const char *path)
{
	struct aios_model *m;
	ck_assert_msg(aios_model_read_file(path, &m) == AIOS_OK, "%s", aios_errmsg());
	return m;
}

static float predict1(const struct aios_model *m, const float *x)
{
	float y[16], scratch[4096];
	ck_assert_uint_le(aios_model_scratch_floats(m, 1), 4096);
	aios_model_forward_ref(m, x, 1, y, scratch);
	return y[0];
}

static void assert_msg(const char *want)
{
	ck_assert_msg(strstr(aios_errmsg(), want) != NULL, "message \"%s\" lacks \"%s\"",
	              aios_errmsg(), want);
}

/* The last line of the last run's stdout that names an artifact, parsed (caller puts). */
static struct json_object *final_line(void)
{
	const char *l = NULL;
	for (const char *p = strstr(last_out, "{\"artifact\""); p;
	     p = strstr(p + 1, "{\"artifact\""))
		l = p;
	ck_assert_msg(l != NULL, "no final line in:\n%.2000s", last_out);
	const char *end = strchr(l, '\n');
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o =
	    json_tokener_parse_ex(tok, l, (int)(end ? (size_t)(end - l) : strlen(l)));
	json_tokener_free(tok);
	ck_assert_msg(o != NULL, "final line is not JSON: %.500s", l);
	return o;
}

/* The number at key of o (asserted present and a number). */
static double num(struct json_object *o, const char *key)
{
	struct json_object *v;
	ck_assert_msg(
	    json_object_object_get_ex(o, key, &v) &&
	        (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)),
	    "no number \"%s\" in %s", key, json_object_to_json_string(o));
	return json_object_get_double(v);
}

/* ---------------------------------------------------------------- generated data */

static float gauss(struct trainer_rng *r)
{
	double u = trainer_rng_uniform(r), v = trainer_rng_uniform(r);
	return (float)(sqrt(-2.0 * log(1.0 - u)) * cos(2 * M_PI * v));
}

/* Two interleaved half circles ("two moons"), label 0 or 1, gaussian noise. */
static void moons(struct trainer_dataset *d, int n, uint64_t seed, float noise)
{
	struct trainer_rng r;
	trainer_rng_seed(&r, seed);
	*d = (struct trainer_dataset){.rows = n, .cols = 2, .tcols = 1};
	d->x = malloc((size_t)n * 2 * sizeof(float));
	d->t = malloc((size_t)n * sizeof(float));
	for (int i = 0; i < n; i++) {
		double a = M_PI * trainer_rng_uniform(&r);
		int c = i % 2;
		d->x[2 * i] = (float)(c ? 1 - cos(a) : cos(a)) + noise * gauss(&r);
		d->x[2 * i + 1] = (float)(c ? 0.5 - sin(a) : sin(a)) + noise * gauss(&r);
		d->t[i] = (float)c;
	}
}

/* Four clusters at (+-1, +-1): label = sign(x) xor sign(y). */
static void xor_clusters(struct trainer_dataset *d, int n, uint64_t seed)
{
	struct trainer_rng r;
	trainer_rng_seed(&r, seed);
	*d = (struct trainer_dataset){.rows = n, .cols = 2, .tcols = 1};
	d->x = malloc((size_t)n * 2 * sizeof(float));
	d->t = malloc((size_t)n * sizeof(float));
	for (int i = 0; i < n; i++) {
		int sx = i & 1, sy = (i >> 1) & 1;
		d->x[2 * i] = (sx ? 1.0f : -1.0f) + 0.3f * gauss(&r);
		d->x[2 * i + 1] = (sy ? 1.0f : -1.0f) + 0.3f * gauss(&r);
		d->t[i] = (float)(sx ^ sy);
	}
}

/* Three gaussian blobs, class index labels. */
static void blobs(struct trainer_dataset *d, int n, uint64_t seed)
{
	static const float cx[] = {0, 3, -3}, cy[] = {3, -2, -2};
	struct trainer_rng r;
	trainer_rng_seed(&r, seed);
	*d = (struct trainer_dataset){.rows = n, .cols = 2, .tcols = 1};
	d->x = malloc((size_t)n * 2 * sizeof(float));
	d->t = malloc((size_t)n * sizeof(float));
	for (int i = 0; i < n; i++) {
		int c = i % 3;
		d->x[2 * i] = cx[c] + gauss(&r);
		d->x[2 * i + 1] = cy[c] + gauss(&r);
		d->t[i] = (float)c;
	}
}

static const char *write_set(const char *name, struct trainer_dataset *d)
{
	const char *p = tmp(name);
	ck_assert_int_eq(trainer_write_f32(p, d), AIOS_OK);
	trainer_dataset_cleanup(d);
	return p;
}

/* Share of rows of d the model classifies right (argmax, or p > 0.5 for one output). */
static double accuracy(const struct aios_model *m, const struct trainer_dataset *d)
{
	int right = 0;
	for (int64_t i = 0; i < d->rows; i++) {
		float y[16], scratch[4096];
		aios_model_forward_ref(m, d->x + i * d->cols, 1, y, scratch);
		int c = 0;
		if (m->n_outputs == 1)
			c = m->output == AIOS_ACT_SIGMOID ? y[0] > 0.5f : y[0] > 0.0f;
		else
			for (int k = 1; k < m->n_outputs; k++)
				c = y[k] > y[c] ? k : c;
		right += c == (int)d->t[i];
	}
	double acc = (double)right / (double)d->rows;
	fprintf(stderr, "accuracy of a %s model: %.4f on %lld held-out rows\n",
	        aios_model_type_name(m->type), acc, (long long)d->rows);
	return acc;
}

/* Asserts that the accuracy the trainer's final line fl reports is the share of d's rows m
 * classifies right, give or take two rows; returns the reported figure. */
static double assert_reported_accuracy(struct json_object *fl, const struct aios_model *m,
                                       const struct trainer_dataset *d)
{
	double want = accuracy(m, d), got = num(fl, "accuracy");
	ck_assert_msg(fabs(got - want) <= 2.0 / (double)d->rows,
	              "reported accuracy %.4f, counted %.4f", got, want);
	return got;
}

/* ---------------------------------------------------------------- the seed example */

START_TEST(seed_example_by_hand)
{
	ck_assert_int_eq(run("--model", "linear", "--loss", "mse", "--optimizer", "sgd", "--epochs",
	                     "500", "--batch-size", "4", "--data",
	                     aios_test_path("tests/fixtures/data/trainer/seed.csv"), "--output",
	                     tmp("seed.aios"), "--threads", "1", NULL),
	                 0);
	struct aios_model *m = load(tmp("seed.aios"));
	float x = 5;
	float y = predict1(m, &x);
	ck_assert_msg(fabsf(y - 10.0f) < 0.1f, "predicted %g for x = 5", y);
	/* 500 epoch lines, then the artifact line with the file's digest */
	ck_assert_ptr_nonnull(strstr(last_out, "{\"epoch\":500,\"epochs\":500,\"loss\":"));
	ck_assert_ptr_nonnull(strstr(last_out, m->sha256));
	ck_assert_ptr_nonnull(strstr(last_out, "\"bytes\":"));
	aios_model_free(m);
}
END_TEST

START_TEST(seed_example_from_examples)
{
	ck_assert_int_eq(run("--spec", aios_test_path("examples/trainingjob-linear.json"),
	                     "--output", tmp("linear.aios"), NULL),
	                 0);
	struct aios_model *m = load(tmp("linear.aios"));
	float x = 5;
	float y = predict1(m, &x);
	ck_assert_msg(fabsf(y - 10.0f) < 0.1f, "predicted %g for x = 5", y);
	ck_assert_int_eq(m->type, AIOS_MODEL_LINEAR);
	ck_assert_int_eq(access(tmp("linear.aios.ckpt/ckpt-00000500.aiosckpt"), R_OK), 0);
	aios_model_free(m);
	/* the same job from AIOS_SPEC (the pod's environment contract) */
	FILE *f = fopen(aios_test_path("examples/trainingjob-linear.json"), "r");
	char spec[4096];
	size_t n = fread(spec, 1, sizeof(spec) - 1, f);
	fclose(f);
	spec[n] = '\0';
	setenv("AIOS_SPEC", spec, 1);
	ck_assert_int_eq(run("--output", tmp("env.aios"), "--checkpoint-every", "0", NULL), 0);
	unsetenv("AIOS_SPEC");
	m = load(tmp("env.aios"));
	ck_assert_float_eq_tol(predict1(m, &x), 10.0f, 0.1f);
	aios_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- known answers */

START_TEST(linear_regression_recovers_weights)
{
	static const float w[] = {1.5f, -2.0f, 0.5f, 3.0f, -1.0f}, b = 0.7f;
	struct trainer_rng r;
	trainer_rng_seed(&r, 5);
	struct trainer_dataset d = {.rows = 4000, .cols = 5, .tcols = 1};
	d.x = malloc(4000 * 5 * sizeof(float));
	d.t = malloc(4000 * sizeof(float));
	for (int i = 0; i < 4000; i++) {
		float y = b;
		for (int j = 0; j < 5; j++)
			y += w[j] * (d.x[i * 5 + j] = gauss(&r));
		d.t[i] = y + 0.01f * gauss(&r);
	}
	const char *data = write_set("lin.f32", &d);
	ck_assert_int_eq(run("--data", data, "--model", "linear", "--optimizer", "sgd", "--lr",
	                     "0.05", "--epochs", "20", "--batch-size", "32", "--threads", "2",
	                     "--output", tmp("lin.aios"), "--checkpoint-every", "0", NULL),
	                 0);
	struct aios_model *m = load(tmp("lin.aios"));
	for (int j = 0; j < 5; j++)
		ck_assert_msg(fabsf(m->layers[0].w[j] - w[j]) < 0.01f, "w[%d] = %g, want %g", j,
		              m->layers[0].w[j], w[j]);
	ck_assert_float_eq_tol(m->layers[0].b[0], b, 0.01f);
	aios_model_free(m);
}
END_TEST

START_TEST(logistic_and_mlp_on_two_moons)
{
	struct trainer_dataset d, test;
	moons(&d, 1000, 1, 0.1f);
	const char *data = write_set("moons.f32", &d);
	moons(&test, 2000, 99, 0.1f);
	/* logistic regression: a line does fairly on moons, never perfectly */
	ck_assert_int_eq(run("--data", data, "--model", "logistic", "--optimizer", "adam", "--lr",
	                     "0.05", "--epochs", "60", "--output", tmp("logit.aios"),
	                     "--checkpoint-every", "0", NULL),
	                 0);
	struct aios_model *m = load(tmp("logit.aios"));
	double acc = accuracy(m, &test);
	ck_assert_msg(acc >= 0.80 && acc < 0.95, "logistic accuracy %.3f", acc);
	aios_model_free(m);
	/* an MLP separates them */
	ck_assert_int_eq(run("--data", data, "--model", "mlp", "--hidden", "16,16", "--activation",
	                     "tanh", "--loss", "cross_entropy", "--optimizer", "adam", "--lr",
	                     "0.01", "--epochs", "80", "--validation-split", "0.2", "--normalize",
	                     "--output", tmp("mlp.aios"), "--checkpoint-every", "0", NULL),
	                 0);
	m = load(tmp("mlp.aios"));
	ck_assert_ptr_nonnull(m->norm_mean); /* statistics travel with the model */
	acc = accuracy(m, &test);
	ck_assert_msg(acc >= 0.97, "mlp accuracy %.3f", acc);
	ck_assert_ptr_nonnull(strstr(last_out, "\"val_loss\":0.")); /* the split was reported */
	aios_model_free(m);
	trainer_dataset_cleanup(&test);
}
END_TEST

START_TEST(mlp_on_xor_and_softmax_on_blobs)
{
	struct trainer_dataset d, test;
	xor_clusters(&d, 800, 3);
	const char *data = write_set("xor.f32", &d);
	xor_clusters(&test, 800, 4);
	ck_assert_int_eq(run("--data", data, "--model", "logistic", "--optimizer", "adam", "--lr",
	                     "0.05", "--epochs", "30", "--output", tmp("xl.aios"),
	                     "--checkpoint-every", "0", NULL),
	                 0);
	struct aios_model *m = load(tmp("xl.aios"));
	double acc = accuracy(m, &test);
	ck_assert_msg(acc < 0.75, "XOR is not linearly separable, yet logistic got %.3f", acc);
	aios_model_free(m);
	ck_assert_int_eq(run("--data", data, "--model", "mlp", "--hidden", "8", "--activation",
	                     "relu", "--loss", "cross_entropy", "--optimizer", "momentum", "--lr",
	                     "0.05", "--epochs", "60", "--output", tmp("xm.aios"),
	                     "--checkpoint-every", "0", "--threads", "2", NULL),
	                 0);
	m = load(tmp("xm.aios"));
	acc = accuracy(m, &test);
	ck_assert_msg(acc >= 0.95, "mlp XOR accuracy %.3f", acc);
	aios_model_free(m);
	trainer_dataset_cleanup(&test);

	blobs(&d, 900, 5);
	data = write_set("blobs.f32", &d);
	blobs(&test, 900, 6);
	ck_assert_int_eq(run("--data", data, "--model", "softmax", "--outputs", "3", "--optimizer",
	                     "sgd", "--lr", "0.1", "--epochs", "30", "--output", tmp("sm.aios"),
	                     "--checkpoint-every", "0", NULL),
	                 0);
	m = load(tmp("sm.aios"));
	ck_assert_int_eq(m->output, AIOS_ACT_SOFTMAX);
	acc = accuracy(m, &test);
	ck_assert_msg(acc >= 0.95, "softmax accuracy %.3f", acc);
	aios_model_free(m);
	trainer_dataset_cleanup(&test);

	/* hinge loss: a linear SVM on the blobs' first two classes would need labels +-1;
	 * the moons with 0/1 labels train too, scores > 0 meaning class 1 */
	moons(&d, 600, 8, 0.05f);
	data = write_set("hinge.f32", &d);
	moons(&test, 600, 9, 0.05f);
	ck_assert_int_eq(run("--data", data, "--model", "mlp", "--hidden", "16", "--activation",
	                     "tanh", "--loss", "hinge", "--optimizer", "adam", "--lr", "0.01",
	                     "--epochs", "80", "--output", tmp("hinge.aios"), "--checkpoint-every",
	                     "0", NULL),
	                 0);
	m = load(tmp("hinge.aios"));
	acc = accuracy(m, &test);
	ck_assert_msg(acc >= 0.95, "hinge mlp accuracy %.3f", acc);
	aios_model_free(m);
	trainer_dataset_cleanup(&test);
}
END_TEST

/* The accuracy the trainer reports (final line, epoch lines, the log) is the share of rows
 * the artifact classifies right, as counted here from the artifact alone. */
START_TEST(accuracy_reported_for_classification)
{
	/* softmax without a split: accuracy on the training set, val_accuracy null */
	struct trainer_dataset d;
	blobs(&d, 900, 5);
	const char *data = write_set("acc-blobs.f32", &d);
	ck_assert_int_eq(run("--data", data, "--model", "softmax", "--outputs", "3", "--optimizer",
	                     "sgd", "--lr", "0.1", "--epochs", "3", "--output", tmp("acc-sm.aios"),
	                     "--checkpoint-every", "0", NULL),
	                 0);
	ck_assert_ptr_nonnull(strstr(last_out, "\"val_loss\":null,\"val_accuracy\":null,"));
	struct json_object *fl = final_line();
	struct aios_model *m = load(tmp("acc-sm.aios"));
	blobs(&d, 900, 5); /* the same rows again */
	assert_reported_accuracy(fl, m, &d);
	struct json_object *v;
	ck_assert(json_object_object_get_ex(fl, "val_accuracy", &v) && v == NULL);
	aios_model_free(m);
	json_object_put(fl);
	trainer_dataset_cleanup(&d);

	/* hinge on the moons, 1 epoch of a tiny step: an accuracy far from 1, still counted
	 * right (the figure is not a constant) */
	moons(&d, 600, 8, 0.05f);
	data = write_set("acc-hinge.f32", &d);
	ck_assert_int_eq(run("--data", data, "--model", "mlp", "--hidden", "4", "--activation",
	                     "tanh", "--loss", "hinge", "--optimizer", "sgd", "--lr", "0.0001",
	                     "--epochs", "1", "--output", tmp("acc-h.aios"), "--checkpoint-every",
	                     "0", NULL),
	                 0);
	fl = final_line();
	m = load(tmp("acc-h.aios"));
	moons(&d, 600, 8, 0.05f);
	double got = assert_reported_accuracy(fl, m, &d);
	ck_assert_msg(got < 0.95, "one tiny step should not separate the moons (%.3f)", got);
	aios_model_free(m);
	json_object_put(fl);
	trainer_dataset_cleanup(&d);

	/* an MLP with a validation split: every epoch line carries val_accuracy, the final
	 * one is high and agrees with the training accuracy */
	moons(&d, 1000, 1, 0.1f);
	data = write_set("acc-moons.f32", &d);
	ck_assert_int_eq(run("--data", data, "--model", "mlp", "--hidden", "16,16", "--activation",
	                     "tanh", "--loss", "cross_entropy", "--optimizer", "adam", "--lr",
	                     "0.01", "--epochs", "80", "--validation-split", "0.2", "--normalize",
	                     "--output", tmp("acc-mlp.aios"), "--checkpoint-every", "0", NULL),
	                 0);
	ck_assert_ptr_nonnull(strstr(last_out, "\"epoch\":1,\"epochs\":80,"));
	ck_assert_ptr_null(strstr(last_out, "\"val_accuracy\":null"));
	int lines = 0;
	for (const char *p = strstr(last_out, ",\"val_accuracy\":"); p;
	     p = strstr(p + 1, ",\"val_accuracy\":"))
		lines++;
	ck_assert_int_eq(lines, 80 + 1); /* every epoch and the final line */
	fl = final_line();
	double va = num(fl, "val_accuracy"), ta = num(fl, "accuracy");
	ck_assert_msg(va >= 0.95 && va <= 1.0, "validation accuracy %.4f", va);
	ck_assert_msg(ta >= 0.95 && ta <= 1.0, "training accuracy %.4f", ta);
	json_object_put(fl);

	/* regression: no accuracy anywhere */
	ck_assert_int_eq(run("--spec", aios_test_path("examples/trainingjob-linear.json"),
	                     "--output", tmp("acc-lin.aios"), "--checkpoint-every", "0", NULL),
	                 0);
	ck_assert_ptr_null(strstr(last_out, "accuracy"));
}
END_TEST

/* ---------------------------------------------------------------- checkpoints */

START_TEST(resume_is_exact)
{
	struct trainer_dataset d;
	moons(&d, 700, 11, 0.15f);
	char data[256];
	snprintf(data, sizeof(data), "%s", write_set("resume.f32", &d));
	const char *common[] = {"--data",
	                        data,
	                        "--model",
	                        "mlp",
	                        "--hidden",
	                        "12,8",
	                        "--activation",
	                        "tanh",
	                        "--loss",
	                        "cross_entropy",
	                        "--optimizer",
	                        "adam",
	                        "--lr",
	                        "0.01",
	                        "--epochs",
	                        "12",
	                        "--batch-size",
	                        "16",
	                        "--validation-split",
	                        "0.2",
	                        "--normalize",
	                        "--threads",
	                        "2",
	                        "--checkpoint-every",
	                        "1"};
#define COMMON                                                                                     \
	common[0], common[1], common[2], common[3], common[4], common[5], common[6], common[7],    \
	    common[8], common[9], common[10], common[11], common[12], common[13], common[14],      \
	    common[15], common[16], common[17], common[18], common[19], common[20], common[21],    \
	    common[22], common[23], common[24]
	ck_assert_int_eq(run(COMMON, "--output", tmp("a.aios"), NULL), 0);
	char full[1 << 16];
	memcpy(full, last_out, sizeof(full));

	/* killed after epoch 5: exit 6, checkpoints of epochs 4 and 5 kept */
	ck_assert_int_eq(run(COMMON, "--output", tmp("b.aios"), "--exit-after-epoch", "5", NULL),
	                 TRAINER_EXIT_INTERRUPTED);
	ck_assert_int_eq(access(tmp("b.aios.ckpt/ckpt-00000005.aiosckpt"), R_OK), 0);
	ck_assert_int_eq(access(tmp("b.aios.ckpt/ckpt-00000004.aiosckpt"), R_OK), 0);
	ck_assert_int_ne(access(tmp("b.aios.ckpt/ckpt-00000003.aiosckpt"), R_OK), 0);
	ck_assert_int_ne(access(tmp("b.aios"), R_OK), 0);
	/* a torn newer checkpoint is skipped, not trusted */
	FILE *f = fopen(tmp("b.aios.ckpt/ckpt-00000006.aiosckpt"), "w");
	fputs("AIOSCKP", f);
	fclose(f);

	ck_assert_int_eq(run(COMMON, "--output", tmp("b.aios"), NULL), 0);
	ck_assert_ptr_null(strstr(last_out, "\"epoch\":5,")); /* it did not redo epoch 5 */
	ck_assert_ptr_nonnull(strstr(last_out, "{\"epoch\":6,"));
	/* the losses of epochs 6..12 match the uninterrupted run's to the last digit */
	const char *e6 = strstr(full, "{\"epoch\":12,");
	const char *r6 = strstr(last_out, "{\"epoch\":12,");
	ck_assert_ptr_nonnull(e6);
	ck_assert_ptr_nonnull(r6);
	ck_assert_int_eq(strncmp(strstr(e6, "\"loss\""), strstr(r6, "\"loss\""), 40), 0);

	struct aios_model *a = load(tmp("a.aios")), *b = load(tmp("b.aios"));
	ck_assert_uint_eq(aios_model_param_count(a), aios_model_param_count(b));
	ck_assert_int_eq(memcmp(a->params, b->params, aios_model_param_count(a) * sizeof(float)),
	                 0);
	ck_assert_str_eq(a->sha256, b->sha256);
	aios_model_free(b);

	/* a finished job restarted writes the same artifact without training */
	ck_assert_int_eq(run(COMMON, "--output", tmp("b.aios"), NULL), 0);
	ck_assert_ptr_null(strstr(last_out, "\"epoch\":"));
	ck_assert_ptr_nonnull(strstr(last_out, a->sha256));
	aios_model_free(a);

	/* another spec (learning rate) never resumes from these checkpoints */
	ck_assert_int_eq(
	    run(COMMON, "--lr", "0.02", "--epochs", "2", "--output", tmp("b.aios"), NULL), 0);
	ck_assert_ptr_nonnull(strstr(last_out, "{\"epoch\":1,"));

	/* spec.checkpoint.resumeFrom (a promoted successive-halving trial): a 4-epoch run's
	 * checkpoints carry a 12-epoch run of the same configuration to a.aios's bits */
	ck_assert_int_eq(run(COMMON, "--epochs", "4", "--output", tmp("short.aios"), NULL), 0);
	char spec[512];
	snprintf(spec, sizeof(spec), "{\"checkpoint\":{\"resumeFrom\":\"file://%s\"}}",
	         tmp("short.aios.ckpt"));
	f = fopen(tmp("promoted.json"), "w");
	fputs(spec, f);
	fclose(f);
	ck_assert_int_eq(
	    run("--spec", tmp("promoted.json"), COMMON, "--output", tmp("long.aios"), NULL), 0);
	ck_assert_ptr_null(strstr(last_out, "\"epoch\":4,")); /* epochs 1-4 not trained again */
	ck_assert_ptr_nonnull(strstr(last_out, "{\"epoch\":5,"));
	ck_assert_ptr_nonnull(strstr(last_out, "\"epochs\":12,\"loss\"")); /* the final line */
	a = load(tmp("a.aios"));
	b = load(tmp("long.aios"));
	ck_assert_int_eq(memcmp(a->params, b->params, aios_model_param_count(a) * sizeof(float)),
	                 0);
	aios_model_free(a);
	aios_model_free(b);
	ck_assert_int_eq(access(tmp("long.aios.ckpt/ckpt-00000012.aiosckpt"), R_OK), 0);
	ck_assert_int_ne(access(tmp("short.aios.ckpt/ckpt-00000012.aiosckpt"), R_OK), 0);
	/* another configuration does not take them: it trains from epoch 1 */
	ck_assert_int_eq(run("--spec", tmp("promoted.json"), COMMON, "--lr", "0.02", "--output",
	                     tmp("other.aios"), NULL),
	                 0);
	ck_assert_ptr_nonnull(strstr(last_out, "{\"epoch\":1,"));
#undef COMMON
}
END_TEST

START_TEST(same_seed_same_bits)
{
	/* batch 256 on a 2-4096-ish MLP: big enough that both threads share every batch */
	struct trainer_dataset d;
	moons(&d, 2048, 12, 0.1f);
	char data[256];
	snprintf(data, sizeof(data), "%s", write_set("det.f32", &d));
	const char *names[] = {"d1.aios", "d2.aios", "d3.aios"}, *threads[] = {"2", "2", "1"};
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(run("--data", data, "--model", "mlp", "--hidden", "64,64",
		                     "--loss", "cross_entropy", "--optimizer", "sgd", "--lr", "0.1",
		                     "--epochs", "5", "--batch-size", "256", "--threads",
		                     threads[i], "--seed", "9", "--output", tmp(names[i]),
		                     "--checkpoint-every", "0", NULL),
		                 0);
	struct aios_model *a = load(tmp("d1.aios")), *b = load(tmp("d2.aios")),
	                  *c = load(tmp("d3.aios"));
	ck_assert_str_eq(a->sha256, b->sha256);
	/* one thread adds the same numbers in another order: close, not necessarily equal */
	for (size_t i = 0; i < aios_model_param_count(a); i++)
		ck_assert_float_eq_tol(a->params[i], c->params[i], 1e-3f);
	aios_model_free(a);
	aios_model_free(b);
	aios_model_free(c);
}
END_TEST

/* ---------------------------------------------------------------- bad input */

START_TEST(bad_input_exit_codes)
{
	const char *fx = "tests/fixtures/data/trainer/";
	char bad[512], seed[512];
	snprintf(bad, sizeof(bad), "%s",
	         aios_test_path("tests/fixtures/data/trainer/bad_number.csv"));
	snprintf(seed, sizeof(seed), "%s", aios_test_path("tests/fixtures/data/trainer/seed.csv"));
	(void)fx;
	ck_assert_int_eq(run("--data", bad, "--model", "logistic", "--output", tmp("x.aios"), NULL),
	                 TRAINER_EXIT_DATA);
	assert_msg("bad_number.csv:4: column 2 (b)");
	ck_assert_int_eq(run("--data", aios_test_path("tests/fixtures/data/trainer/nan.csv"),
	                     "--output", tmp("x.aios"), NULL),
	                 TRAINER_EXIT_DATA);
	assert_msg("nan.csv:2: column 1");
	ck_assert_int_eq(run("--data", aios_test_path("tests/fixtures/data/trainer/columns.csv"),
	                     "--output", tmp("x.aios"), NULL),
	                 TRAINER_EXIT_DATA);
	assert_msg("columns.csv:5: 4 columns, expected 3");
	ck_assert_int_eq(run("--data", aios_test_path("tests/fixtures/data/trainer/empty.csv"),
	                     "--output", tmp("x.aios"), NULL),
	                 TRAINER_EXIT_DATA);
	assert_msg("no data rows");
	ck_assert_int_eq(run("--data", seed, "--sha256",
	                     "0000000000000000000000000000000000000000000000000000000000000000",
	                     "--output", tmp("x.aios"), NULL),
	                 TRAINER_EXIT_DATA);
	assert_msg("SHA-256 is");
	ck_assert_int_eq(run("--data", tmp("nonexistent.csv"), "--output", tmp("x.aios"), NULL),
	                 TRAINER_EXIT_DATA);
	assert_msg("nonexistent.csv");
	/* divergence names the epoch */
	ck_assert_int_eq(
	    run("--data", seed, "--lr", "1000", "--epochs", "200", "--output", tmp("x.aios"), NULL),
	    TRAINER_EXIT_DIVERGED);
	assert_msg("diverged at epoch");
	ck_assert_int_ne(access(tmp("x.aios"), F_OK), 0); /* no artifact from a failed run */
	/* bad spec or flags */
	ck_assert_int_eq(run("--data", seed, "--lr", "-1", NULL), TRAINER_EXIT_USAGE);
	assert_msg("spec.optimizer.learningRate");
	ck_assert_int_eq(run("--data", seed, "--model", "forest", NULL), TRAINER_EXIT_USAGE);
	assert_msg("spec.model.type: \"forest\" is not one of");
	ck_assert_int_eq(run("--data", seed, "--lr", "fast", NULL), TRAINER_EXIT_USAGE);
	assert_msg("--lr: \"fast\" is not a number");
	ck_assert_int_eq(run("--bogus", NULL), TRAINER_EXIT_USAGE);
	ck_assert_int_eq(run("--model", "linear", NULL), TRAINER_EXIT_USAGE);
	assert_msg("spec.data: no data");
	ck_assert_int_eq(run("--spec", tmp("missing.json"), NULL), TRAINER_EXIT_USAGE);
	ck_assert_int_eq(run("--data", seed, "--model", "softmax", "--outputs", "1", NULL),
	                 TRAINER_EXIT_USAGE);
	assert_msg("spec.model.outputs");
	ck_assert_int_eq(run("--data", seed, "--validation-split", "1.5", NULL),
	                 TRAINER_EXIT_USAGE);
	assert_msg("spec.data.validationSplit");
	ck_assert_int_eq(run("--data", seed, "--output", "https://example.com/m.aios", NULL),
	                 TRAINER_EXIT_USAGE);
	assert_msg("read-only");
	/* labels that do not fit the loss */
	ck_assert_int_eq(
	    run("--data", seed, "--model", "logistic", "--output", tmp("x.aios"), NULL),
	    TRAINER_EXIT_DATA);
	assert_msg("seed.csv:2: column 2 (y): \"2\": a cross-entropy label must lie in [0, 1]");
	setenv("AIOS_WORLD_SIZE", "2", 1);
	setenv("AIOS_RANK", "2", 1);
	ck_assert_int_eq(run("--data", seed, NULL), TRAINER_EXIT_USAGE);
	assert_msg("AIOS_RANK 2 is not below AIOS_WORLD_SIZE 2");
	unsetenv("AIOS_WORLD_SIZE");
	unsetenv("AIOS_RANK");
}
END_TEST

START_TEST(termination_message_and_signal)
{
	char seed[512];
	snprintf(seed, sizeof(seed), "%s", aios_test_path("tests/fixtures/data/trainer/seed.csv"));
	setenv("AIOS_TERMINATION_LOG", tmp("termination-log"), 1);
	ck_assert_int_eq(run("--data", seed, "--epochs", "3", "--output", tmp("t.aios"), NULL), 0);
	FILE *f = fopen(tmp("termination-log"), "r");
	ck_assert_ptr_nonnull(f);
	char msg[1024];
	size_t n = fread(msg, 1, sizeof(msg) - 1, f);
	fclose(f);
	msg[n] = '\0';
	struct aios_model *m = load(tmp("t.aios"));
	ck_assert_ptr_nonnull(strstr(msg, "{\"artifact\":{\"uri\":\""));
	ck_assert_ptr_nonnull(strstr(msg, m->sha256));
	aios_model_free(m);
	/* a failure leaves its reason there, for kubectl describe */
	ck_assert_int_eq(run("--data", tmp("none.csv"), "--output", tmp("t.aios"), NULL),
	                 TRAINER_EXIT_DATA);
	f = fopen(tmp("termination-log"), "r");
	n = fread(msg, 1, sizeof(msg) - 1, f);
	fclose(f);
	msg[n] = '\0';
	ck_assert_ptr_nonnull(strstr(msg, "exit 3"));
	ck_assert_ptr_nonnull(strstr(msg, "none.csv"));
	/* SIGTERM (the flag its handler sets) stops training with the resumable code */
	aios_shutdown_request();
	ck_assert_int_eq(run("--data", seed, "--epochs", "3", "--output", tmp("s.aios"), NULL),
	                 TRAINER_EXIT_INTERRUPTED);
	assert_msg("stopped by a signal");
	ck_assert_int_ne(access(tmp("s.aios"), F_OK), 0);
}
END_TEST

/* ---------------------------------------------------------------- /metrics */

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	return aios_buf_append(ud, p, s * n) ? 0 : s * n;
}

/* GET /metrics of m into b (initialised here). */
static void get_metrics(struct trainer_metrics *m, struct aios_buf *b)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", trainer_metrics_port(m));
	aios_buf_init(b, 1 << 20);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
}

START_TEST(metrics_endpoint)
{
	struct trainer_metrics *m;
	ck_assert_int_eq(trainer_metrics_start(0, 0, 1, "job-a", &m), AIOS_OK);
	struct trainer_progress p = {.epoch = 2,
	                             .epochs = 10,
	                             .loss = 0.5,
	                             .val_loss = 0.75,
	                             .val_accuracy = NAN,
	                             .samples_per_sec = 1000,
	                             .elapsed_s = 2,
	                             .samples_total = 200,
	                             .step = 20};
	trainer_metrics_update(m, &p);
	struct aios_buf b;
	get_metrics(m, &b); /* regression (or no split): no accuracy gauge at all */
	ck_assert_msg(strstr(b.data, "aios_trainer_validation_accuracy") == NULL, "%s", b.data);
	aios_buf_cleanup(&b);
	p.epoch = 3, p.samples_total = 300, p.step = 30, p.val_accuracy = 0.875;
	trainer_metrics_update(m, &p);
	get_metrics(m, &b);
	const char *want[] = {"aios_trainer_validation_accuracy 0.875",
	                      "aios_trainer_epoch 3",
	                      "aios_trainer_epochs 10",
	                      "aios_trainer_loss 0.5",
	                      "aios_trainer_validation_loss 0.75",
	                      "aios_trainer_samples_per_second 1000",
	                      "aios_trainer_samples_total 300",
	                      "aios_trainer_steps_total 30",
	                      "job=\"job-a\""};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(b.data, want[i]) != NULL, "no \"%s\" in:\n%s", want[i],
		              b.data);
	aios_buf_cleanup(&b);
	trainer_metrics_stop(m);
}
END_TEST

static Suite *train_suite(void)
{
	Suite *s = suite_create("trainer_train");
	TCase *tc = tcase_create("train");
	aios_test_tmpdir_fixture(tc); /* made before setup, removed after the TCase */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, seed_example_by_hand);
	tcase_add_test(tc, seed_example_from_examples);
	tcase_add_test(tc, linear_regression_recovers_weights);
	tcase_add_test(tc, logistic_and_mlp_on_two_moons);
	tcase_add_test(tc, mlp_on_xor_and_softmax_on_blobs);
	tcase_add_test(tc, accuracy_reported_for_classification);
	tcase_add_test(tc, resume_is_exact);
	tcase_add_test(tc, same_seed_same_bits);
	tcase_add_test(tc, bad_input_exit_codes);
	tcase_add_test(tc, metrics_endpoint);
	tcase_add_test(tc, termination_message_and_signal);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(train_suite)
