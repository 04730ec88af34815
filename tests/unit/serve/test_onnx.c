/*
 * test_onnx.c - ONNX models served by the real aios-serve binary, checked against the
 * real thing: PyTorch (Debian's python3-torch, torch.onnx.export) and onnxruntime
 * (npm onnxruntime-node, pinned, installed into /var/cache/aios/npm on first use).
 *
 * tests/unit/serve/onnx/peers.py trains and exports the models, checks them with
 * onnx.checker and runs onnxruntime on them; it fails (and so does this test) when a
 * peer is missing or cannot be installed: there is no skip.
 *
 * Agreement: sf_assert_close (1e-5 relative, an absolute floor of 1e-6 near 0).
 */
#include <check.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check_main.h"
#include "common/buf.h"
#include "model/onnx.h"
#include "serve/engine.h"
#include "support/http_client.h"
#include "support/serve_fixture.h"
#include "support/tmpdir.h"

static char g_dir[256];

static void setup(void)
{
	aios_test_tmpdir("aios-onnx", g_dir, sizeof g_dir);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s/peers >%s/peers.log 2>&1",
	         aios_test_path("tests/unit/serve/onnx/peers.py"), g_dir, g_dir);
	int rc = system(cmd);
	if (rc != 0) {
		char log[300], tail[4096] = "";
		snprintf(log, sizeof log, "%s/peers.log", g_dir);
		FILE *f = fopen(log, "r");
		if (f) {
			size_t n = fread(tail, 1, sizeof tail - 1, f);
			tail[n] = 0;
			fclose(f);
		}
		ck_abort_msg("peers.py failed (status %d): %s", rc, tail);
	}
}

static void teardown(void)
{
	aios_test_tmpdir_remove(g_dir);
	g_dir[0] = 0;
}

static const char *peer_file(const char *name, const char *ext)
{
	static char path[8][400];
	static int turn;
	char *p = path[turn++ % 8];
	snprintf(p, sizeof path[0], "%s/peers/%s%s", g_dir, name, ext);
	return p;
}

/* Every model of the manifest: served, V2 metadata, outputs vs onnxruntime and PyTorch. */
START_TEST(served_models_match_pytorch_and_onnxruntime)
{
	FILE *mf = fopen(peer_file("manifest", ".txt"), "r");
	ck_assert(mf);
	char name[64], dims[64];
	int rows, n_out, models = 0;
	while (fscanf(mf, "%63s %d %63s %d", name, &rows, dims, &n_out) == 4) {
		int width = 1;
		char shape[96] = "";
		for (char *save = NULL, *t = strtok_r(dims, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			width *= (int)strtol(t, NULL, 10);
			snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ",%s", t);
		}
		struct sf_server s;
		const char *args[] = {"--model", peer_file(name, ".onnx"), "--name", "m", NULL};
		sf_start(&s, args);
		/* the graph's own names and shapes in the metadata */
		struct tc_resp r;
		tc_request(s.port, "GET", "/v2/models/m", NULL, &r);
		ck_assert_int_eq(r.status, 200);
		const char *in_name = strstr(r.body, "\"features\"") ? "features" : "x";
		char want[160];
		snprintf(want, sizeof want,
		         "{\"name\":\"%s\",\"datatype\":\"FP32\",\"shape\":[%s%s]}", in_name,
		         rows == 2 ? "2" : "-1", shape);
		ck_assert_msg(strstr(r.body, want), "%s: metadata %s lacks %s", name, r.body, want);
		ck_assert_msg(strstr(r.body, "\"platform\":\"onnx\""), "%s", r.body);
		tc_resp_free(&r);

		float *x = sf_read_f32(peer_file(name, ".x.f32"), (size_t)rows * width);
		float *y = sf_infer_v2(s.port, in_name, x, rows, width, n_out);
		float *ort = sf_read_f32(peer_file(name, ".ort.f32"), (size_t)rows * n_out);
		char what[128];
		snprintf(what, sizeof what, "%s vs onnxruntime", name);
		sf_assert_close(what, y, ort, (size_t)rows * n_out);
		FILE *tf = fopen(peer_file(name, ".torch.f32"), "r");
		if (tf) {
			fclose(tf);
			float *pt =
			    sf_read_f32(peer_file(name, ".torch.f32"), (size_t)rows * n_out);
			snprintf(what, sizeof what, "%s vs PyTorch", name);
			sf_assert_close(what, y, pt, (size_t)rows * n_out);
			free(pt);
		} else {
			ck_assert_str_eq(name, "handmade"); /* the one model PyTorch did not make */
		}
		free(x), free(y), free(ort);
		ck_assert_int_eq(sf_stop(&s), 0);
		models++;
	}
	fclose(mf);
	ck_assert_int_eq(models, 4);
}
END_TEST

/* The same MLP through the engine in process, int8: quantization applies to ONNX too. */
START_TEST(int8_applies_to_onnx_models)
{
	struct aios_buf b;
	aios_buf_init(&b, AIOS_CAP_ARTIFACT);
	ck_assert(aios_buf_read_file(&b, peer_file("mlp", ".onnx")) == AIOS_OK);
	struct aios_model *m;
	ck_assert_int_eq(aios_onnx_read_mem(b.data, b.len, "mlp.onnx", &m), AIOS_OK);
	aios_buf_cleanup(&b);
	ck_assert_int_eq(m->n_layers, 3);
	ck_assert_int_eq(m->n_inputs, 10);
	struct aios_engine_opts o = {.quantize = AIOS_QUANT_INT8};
	struct aios_engine *e;
	ck_assert_int_eq(aios_engine_new(m, &o, &e), AIOS_OK);
	float *x = sf_read_f32(peer_file("mlp", ".x.f32"), 1000 * 10);
	float *ort = sf_read_f32(peer_file("mlp", ".ort.f32"), 1000 * 4);
	float *y = malloc(sizeof(float) * 1000 * 4);
	float *scratch = malloc(sizeof(float) * aios_engine_scratch_floats(e, 1000));
	aios_engine_forward(e, x, 1000, y, scratch);
	double worst = 0;
	for (int i = 0; i < 4000; i++)
		worst = fmax(worst, fabs((double)y[i] - ort[i]));
	ck_assert_msg(worst < 0.05, "int8 probabilities off by %g", worst); /* softmax outputs */
	ck_assert_msg(worst > 0, "int8 gave FP32's exact answers: not quantized?");
	free(x), free(y), free(ort), free(scratch);
	aios_engine_free(e);
	aios_model_free(m);
}
END_TEST

START_TEST(unsupported_op_is_refused_with_its_name)
{
	char out[4096];
	const char *args[] = {"--model", peer_file("conv", ".onnx"), "--name", "m", NULL};
	ck_assert_int_eq(sf_run_fail(args, out, sizeof out), 2);
	/* the log line is JSON: json-c writes '/' as "\/" */
	ck_assert_msg(strstr(out, "unsupported ONNX op Conv at node \\/conv\\/Conv"), "%s", out);
	/* --format aios on an ONNX file: the artifact reader's refusal, not a crash */
	const char *args2[] = {
	    "--model", peer_file("mlp", ".onnx"), "--name", "m", "--format", "aios", NULL};
	ck_assert_int_eq(sf_run_fail(args2, out, sizeof out), 2);
}
END_TEST

/* Every truncation of a real model, and flipped bytes: a clean error, never a crash. */
START_TEST(damaged_files_are_refused_cleanly)
{
	struct aios_buf b;
	aios_buf_init(&b, AIOS_CAP_ARTIFACT);
	ck_assert(aios_buf_read_file(&b, peer_file("mlp", ".onnx")) == AIOS_OK);
	const uint8_t *p = (const uint8_t *)b.data;
	struct aios_model *m;
	int with_offset = 0;
	for (size_t n = 0; n < b.len; n += 1 + n / 64) {
		enum aios_err e = aios_onnx_read_mem(p, n, "cut.onnx", &m);
		ck_assert_msg(e != AIOS_OK, "a %zu-byte prefix of %zu was accepted", n, b.len);
		ck_assert_ptr_null(m);
		with_offset += strstr(aios_errmsg(), "not a valid ONNX model: byte ") != NULL;
	}
	ck_assert_msg(with_offset > 10, "only %d truncations named a byte offset", with_offset);
	ck_assert_int_eq(aios_onnx_read_mem(p, b.len / 2, "half.onnx", &m), AIOS_ERR_CORRUPT);
	ck_assert_msg(strstr(aios_errmsg(), "half.onnx: not a valid ONNX model: byte "), "%s",
	              aios_errmsg());
	uint8_t *q = malloc(b.len);
	unsigned seed = 7;
	for (int round = 0; round < 200; round++) {
		memcpy(q, p, b.len);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			q[(seed >> 8) % b.len] ^= (uint8_t)(1u << (seed % 8));
		}
		if (aios_onnx_read_mem(q, b.len, "flipped.onnx", &m) == AIOS_OK)
			aios_model_free(m); /* a flip inside a weight is still a valid model */
	}
	free(q);
	/* the served path: a truncated file makes aios-serve exit 2 with the message */
	char cut[400], out[4096];
	snprintf(cut, sizeof cut, "%s/cut.onnx", g_dir);
	FILE *f = fopen(cut, "w");
	ck_assert(f && fwrite(p, 1, b.len - 100, f) == b.len - 100);
	fclose(f);
	const char *args[] = {"--model", cut, "--name", "m", NULL};
	ck_assert_int_eq(sf_run_fail(args, out, sizeof out), 2);
	ck_assert_msg(strstr(out, "not a valid ONNX model: byte "), "%s", out);
	aios_buf_cleanup(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_onnx");
	TCase *t = tcase_create("peers");
	aios_test_tmpdir_fixture(t);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, served_models_match_pytorch_and_onnxruntime);
	tcase_add_test(t, int8_applies_to_onnx_models);
	tcase_add_test(t, unsupported_op_is_refused_with_its_name);
	tcase_add_test(t, damaged_files_are_refused_cleanly);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
