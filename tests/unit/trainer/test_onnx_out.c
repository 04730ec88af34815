/*
 * test_onnx_out.c - ONNX out of aios-trainer (`--output-formats aios,onnx`), judged by
 * the real peers: the aios-trainer binary trains each model kind with normalization on
 * and writes model.onnx beside the artifact; onnx.checker (Debian's python3-onnx) and
 * the graph contract are checked and onnxruntime-node (npm, pinned, tests/support/ort.py)
 * runs it on 1,000 rows (onnx/check_export.py); its outputs must agree with aios-serve
 * serving the artifact and with the artifact's reference forward pass; aios-serve
 * serving the ONNX file (its own ONNX reader) must answer the same. Agreement is
 * sf_assert_close: 1e-5 relative, an absolute floor of 1e-6 near 0; between the ONNX file
 * and the artifact of a one-layer model, plus the rounding of the normalization the
 * reader folds into the layer (assert_fold_close). A missing peer fails the test: there
 * is no skip.
 */
#include <check.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/hash.h"
#include "model/model.h"
#include "support/http_client.h"
#include "support/serve_fixture.h"
#include "support/tmpdir.h"

#define FEATURES 5
#define TRAIN    1200 /* rows the trainer learns from */
#define ROWS     1000 /* rows every peer predicts */

static char g_dir[256];

static void setup(void)
{
	aios_test_tmpdir("aios-onnx-out", g_dir, sizeof g_dir);
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

/* ---------------------------------------------------------------- data */

/* Feature j of a row: mean mu[j], spread sd[j], so normalization has work to do. */
static const float mu[FEATURES] = {3.0f, -2.0f, 10.0f, 0.5f, -7.0f};
static const float sd[FEATURES] = {2.0f, 0.5f, 4.0f, 1.0f, 3.0f};

/* rows x (rows, FEATURES) from seed; z gets the same rows standardized. */
static void features(int rows, unsigned seed, float *x, float *z)
{
	sf_fill(z, (size_t)rows * FEATURES, &seed);
	for (size_t i = 0; i < (size_t)rows * FEATURES; i++)
		x[i] = mu[i % FEATURES] + sd[i % FEATURES] * z[i];
}

enum target { T_REAL, T_BINARY, T_THREE_CLASSES, T_QUADRANTS, T_DISC, T_WAVE };

static float label(enum target t, const float *z)
{
	switch (t) {
	case T_REAL: return 1.5f * z[0] - 2.0f * z[1] + 0.5f * z[2] + z[3] * z[4] + 3.0f;
	case T_BINARY: return z[0] + z[1] - 0.5f * z[2] > 0;
	case T_THREE_CLASSES: {
		float s[3] = {z[0], z[1], -z[0] - z[1]};
		return (float)(s[1] > s[0] && s[1] > s[2] ? 1 : s[2] > s[0] ? 2 : 0);
	}
	case T_QUADRANTS: return (float)((z[0] * z[1] > 0) + (z[2] > 0.5f));
	case T_DISC: return z[0] * z[0] + z[1] * z[1] < 0.5f;
	case T_WAVE: return sinf(3.0f * z[0]) + z[1];
	}
	return 0;
}

static void write_csv(const char *path, enum target t)
{
	float *x = malloc(sizeof(float) * TRAIN * FEATURES);
	float *z = malloc(sizeof(float) * TRAIN * FEATURES);
	features(TRAIN, 1234 + (unsigned)t, x, z);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < TRAIN; i++) {
		for (int j = 0; j < FEATURES; j++)
			fprintf(f, "%.9g,", (double)x[i * FEATURES + j]);
		fprintf(f, "%.9g\n", (double)label(t, z + i * FEATURES));
	}
	ck_assert_int_eq(fclose(f), 0);
	free(x), free(z);
}

/* ---------------------------------------------------------------- the trainer's line */

/* The last line of a file that starts with {"artifact", parsed (caller puts). */
static struct json_object *final_line(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s is missing", path);
	char line[8192], last[8192] = "";
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "{\"artifact\"", 11))
			memcpy(last, line, sizeof last);
	fclose(f);
	struct json_object *o = json_tokener_parse(last);
	ck_assert_msg(o != NULL, "%s: no final line:\n%s", path, sf_slurp(path));
	return o;
}

static const char *str_at(struct json_object *o, const char *a, const char *b, const char *c)
{
	struct json_object *v = o;
	const char *keys[] = {a, b, c};
	for (int i = 0; i < 3 && keys[i]; i++)
		ck_assert_msg(json_object_object_get_ex(v, keys[i], &v), "no %s in %s", keys[i],
		              json_object_to_json_string(o));
	return json_object_get_string(v);
}

/* The file at path has this sha256 (hex) and byte count. */
static void assert_file(const char *path, const char *sha, int64_t bytes)
{
	char hex[AIOS_SHA256_HEX];
	ck_assert_int_eq(aios_sha256_file_hex(path, hex), AIOS_OK);
	ck_assert_str_eq(sha, hex);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, bytes);
}

/* ---------------------------------------------------------------- the round trip */

/*
 * aios-serve on the ONNX file against aios-serve on the artifact, for a one-layer model.
 * The ONNX reader folds normalization into the layer, W (x - mean) / std + b =
 * (W / std) x + (b - W mean / std), so the two run one function as two float programs.
 * Where the folded bias cancels the products (x near the mean), an output near 0 is the
 * difference of terms of several units and carries their rounding, which
 * sf_assert_close's absolute floor (1e-6, an ulp of 8 to 16) does not cover; passing it
 * there would be down to the order of summation. Each program's rounding, and the
 * fold's, lies within gamma_m S of the exact value (Higham, Accuracy and Stability of
 * Numerical Algorithms, 2nd ed., 3.1; m = in + 3 roundings in a chain at most), with
 * S = max over units of |b| + sum_j |w_j| (|x_j| + |mean_j|) / std_j bounding every term
 * either program adds; sigmoid and softmax do not enlarge a change of their input. So
 * the check allows sf_assert_close's tolerance plus 3 gamma_m S per row; a lowering
 * slip (a feature's mean or scale lost) is off by the size of a term, far outside it.
 */
static void assert_fold_close(const char *what, const struct aios_model *m, const float *x,
                              const float *got, const float *want)
{
	ck_assert_int_eq(m->n_layers, 1);
	const struct aios_model_layer *l = &m->layers[0];
	const double u = ldexp(1.0, -24), mr = l->in + 3, gamma = mr * u / (1 - mr * u);
	double worst = 0;
	for (int i = 0; i < ROWS; i++) {
		const float *xi = x + (size_t)i * l->in;
		double scale = 0;
		for (int o = 0; o < l->out; o++) {
			double t = fabs(l->b[o]);
			for (int j = 0; j < l->in; j++)
				t += fabs(l->w[(size_t)o * l->in + j]) *
				     (fabs(xi[j]) + fabs(m->norm_mean[j])) / m->norm_std[j];
			scale = t > scale ? t : scale;
		}
		for (int o = 0; o < l->out; o++) {
			size_t at = (size_t)i * l->out + o;
			double d = fabs((double)got[at] - want[at]),
			       lim = 1e-5 * fabs(want[at]) + 1e-6 + 3 * gamma * scale;
			ck_assert_msg(d <= lim,
			              "%s: value %zu is %.9g, the peer says %.9g (|d| %.3g > %.3g)",
			              what, at, got[at], want[at], d, lim);
			worst = d > worst ? d : worst;
		}
	}
	fprintf(stderr, "%s: %d values agree within the fold's rounding, largest |d| %.3g\n", what,
	        ROWS * l->out, worst);
}

/* ---------------------------------------------------------------- the cases */

struct kind {
	const char *name;
	enum target target;
	const char *flags; /* model flags after --data */
	int outputs;
	const char *ops; /* the graph's operators, in order */
};

static const struct kind kinds[] = {
    {"linear", T_REAL, "--model linear", 1, "Sub,Div,Gemm"},
    {"logistic", T_BINARY, "--model logistic", 1, "Sub,Div,Gemm,Sigmoid"},
    {"softmax", T_THREE_CLASSES, "--model softmax --outputs 3", 3, "Sub,Div,Gemm,Softmax"},
    {"mlp_relu", T_QUADRANTS,
     "--model mlp --hidden 16,8 --activation relu --outputs 3 --loss cross_entropy", 3,
     "Sub,Div,Gemm,Relu,Gemm,Relu,Gemm,Softmax"},
    {"mlp_tanh", T_DISC, "--model mlp --hidden 12 --activation tanh --loss cross_entropy", 1,
     "Sub,Div,Gemm,Tanh,Gemm,Sigmoid"},
    {"mlp_sigmoid", T_WAVE, "--model mlp --hidden 8 --activation sigmoid", 1,
     "Sub,Div,Gemm,Sigmoid,Gemm"},
};

/* Serves model (a file) as m; returns its V2 answers for x. metadata_has: a string the
 * V2 model metadata must contain. */
static float *serve(const char *model, const float *x, int n_out, const char *metadata_has)
{
	struct sf_server s;
	const char *args[] = {"--model", model, "--name", "m", NULL};
	sf_start(&s, args);
	struct tc_resp r;
	tc_request(s.port, "GET", "/v2/models/m", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.body, metadata_has), "%s: metadata %s lacks %s", model, r.body,
	              metadata_has);
	tc_resp_free(&r);
	float *y = sf_infer_v2(s.port, "input", x, ROWS, FEATURES, n_out);
	ck_assert_int_eq(sf_stop(&s), 0);
	return y;
}

START_TEST(every_kind_agrees_with_onnxruntime_and_round_trips)
{
	const struct kind *k = &kinds[_i];
	char cmd[4096], what[160];
	write_csv(path_of(k->name, ".csv"), k->target);
	snprintf(cmd, sizeof cmd,
	         "AIOS_TERMINATION_LOG=%s %s --data %s %s --normalize --optimizer adam --lr 0.01 "
	         "--epochs 15 --threads 1 --metrics-port 0 --checkpoint-every 0 "
	         "--output-formats aios,onnx --output %s >%s 2>%s",
	         path_of(k->name, ".term"), sf_program("src/trainer/aios-trainer"),
	         path_of(k->name, ".csv"), k->flags, path_of(k->name, ".aios"),
	         path_of(k->name, ".out"), path_of(k->name, ".err"));
	ck_assert_msg(sf_sh(cmd) == 0, "%s: aios-trainer failed: %s", k->name,
	              sf_slurp(path_of(k->name, ".err")));

	/* the final line (and the termination message the operator reads) names both files */
	struct json_object *line = final_line(path_of(k->name, ".out"));
	struct json_object *term = final_line(path_of(k->name, ".term"));
	ck_assert_str_eq(json_object_to_json_string(line), json_object_to_json_string(term));
	ck_assert_str_eq(str_at(line, "artifact", "uri", NULL), path_of(k->name, ".aios"));
	ck_assert_str_eq(str_at(line, "artifact", "onnx", "uri"), path_of(k->name, ".onnx"));
	struct json_object *art = json_object_object_get(line, "artifact");
	struct json_object *onnx = json_object_object_get(art, "onnx");
	assert_file(path_of(k->name, ".aios"), str_at(art, "sha256", NULL, NULL),
	            json_object_get_int64(json_object_object_get(art, "bytes")));
	assert_file(path_of(k->name, ".onnx"), str_at(onnx, "sha256", NULL, NULL),
	            json_object_get_int64(json_object_object_get(onnx, "bytes")));
	json_object_put(line);
	json_object_put(term);

	struct aios_model *m;
	ck_assert_int_eq(aios_model_read_file(path_of(k->name, ".aios"), &m), AIOS_OK);
	ck_assert_ptr_nonnull(m->norm_mean); /* trained with normalization */
	ck_assert_int_eq(m->n_outputs, k->outputs);

	/* 1,000 fresh rows through onnx.checker + onnxruntime */
	float *x = malloc(sizeof(float) * ROWS * FEATURES);
	float *z = malloc(sizeof(float) * ROWS * FEATURES);
	features(ROWS, 777, x, z);
	FILE *f = fopen(path_of(k->name, ".x.f32"), "wb");
	ck_assert(f && fwrite(x, sizeof(float), ROWS * FEATURES, f) == ROWS * FEATURES);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s %d %d %d %s %s >%s 2>&1",
	         aios_test_path("tests/unit/trainer/onnx/check_export.py"),
	         path_of(k->name, ".onnx"), path_of(k->name, ".x.f32"), ROWS, FEATURES, k->outputs,
	         path_of(k->name, ".ort.f32"), k->ops, path_of(k->name, ".py.log"));
	ck_assert_msg(sf_sh(cmd) == 0, "%s: check_export.py failed: %s", k->name,
	              sf_slurp(path_of(k->name, ".py.log")));
	size_t n = (size_t)ROWS * (size_t)k->outputs;
	float *ort = sf_read_f32(path_of(k->name, ".ort.f32"), n);

	/* the artifact: aios-serve, and the reference forward pass */
	float *served = serve(path_of(k->name, ".aios"), x, k->outputs, "\"platform\":\"aios\"");
	snprintf(what, sizeof what, "%s: onnxruntime vs aios-serve", k->name);
	sf_assert_close(what, ort, served, n);
	float *ref = malloc(sizeof(float) * n);
	float *scratch = malloc(sizeof(float) * aios_model_scratch_floats(m, ROWS));
	aios_model_forward_ref(m, x, ROWS, ref, scratch);
	snprintf(what, sizeof what, "%s: onnxruntime vs the artifact's forward pass", k->name);
	sf_assert_close(what, ort, ref, n);

	/* the ONNX file through aios-serve's own reader */
	char meta[160];
	snprintf(meta, sizeof meta, "{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[-1,%d]}",
	         FEATURES);
	float *back = serve(path_of(k->name, ".onnx"), x, k->outputs, meta);
	snprintf(what, sizeof what, "%s: aios-serve on the ONNX file vs on the artifact", k->name);
	if (m->n_layers == 1)
		assert_fold_close(what, m, x, back, served);
	else
		sf_assert_close(what, back, served, n);

	free(x), free(z), free(ort), free(served), free(ref), free(scratch), free(back);
	aios_model_free(m);
}
END_TEST

/* Bad formats: exit 2 with the field named, and no file written. */
START_TEST(bad_formats_are_refused_before_training)
{
	static const char *const bad[][2] = {
	    {"onnx", "spec.output.formats: must list aios"},
	    {"aios,pt", "spec.output.formats[1]: \\\"pt\\\" is not one of aios, onnx"},
	    {"aios,onnx,aios", "spec.output.formats[2]: \\\"aios\\\" is listed twice"},
	};
	write_csv(path_of("bad", ".csv"), T_REAL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char cmd[2048];
		snprintf(
		    cmd, sizeof cmd,
		    "AIOS_TERMINATION_LOG=/dev/null %s --data %s --output-formats %s --output %s "
		    ">/dev/null 2>%s",
		    sf_program("src/trainer/aios-trainer"), path_of("bad", ".csv"), bad[i][0],
		    path_of("bad", ".aios"), path_of("bad", ".err"));
		ck_assert_int_eq(sf_sh(cmd), 2);
		const char *err = sf_slurp(path_of("bad", ".err"));
		ck_assert_msg(strstr(err, bad[i][1]), "%s: stderr lacks %s:\n%s", bad[i][0],
		              bad[i][1], err);
		struct stat st;
		ck_assert_int_ne(stat(path_of("bad", ".aios"), &st), 0);
		ck_assert_int_ne(stat(path_of("bad", ".onnx"), &st), 0);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trainer_onnx_out");
	TCase *t = tcase_create("peers");
	aios_test_tmpdir_fixture(t);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_loop_test(t, every_kind_agrees_with_onnxruntime_and_round_trips, 0,
	                    (int)(sizeof kinds / sizeof kinds[0]));
	tcase_add_test(t, bad_formats_are_refused_before_training);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
