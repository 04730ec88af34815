/*
 * test_spec.c - the TrainingJob spec: documented defaults, derived output activation and
 * label rules, refusals naming the field, output formats; checkpoint files on their own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/json.h"
#include "trainer/ckpt.h"
#include "trainer/spec.h"

static enum aios_err parse(const char *js, struct trainer_config *c)
{
	struct json_object *o;
	ck_assert_msg(aios_json_parse(js, strlen(js), "t", &o) == AIOS_OK, "%s", js);
	return trainer_config_parse(o, c);
}

static void assert_msg(const char *want)
{
	ck_assert_msg(strstr(aios_errmsg(), want) != NULL, "message \"%s\" lacks \"%s\"",
	              aios_errmsg(), want);
}

START_TEST(defaults_follow_docs)
{
	struct trainer_config c;
	ck_assert_int_eq(parse("{\"data\":{\"uri\":\"x.csv\"}}", &c), AIOS_OK);
	ck_assert_int_eq(c.type, AIOS_MODEL_LINEAR);
	ck_assert_int_eq(c.loss, TRAINER_LOSS_MSE);
	ck_assert_int_eq(c.output_act, AIOS_ACT_IDENTITY);
	ck_assert_int_eq(c.activation, AIOS_ACT_IDENTITY); /* one-layer models */
	ck_assert_int_eq(c.optim.type, TRAINER_OPT_SGD);
	ck_assert_float_eq(c.optim.lr, 0.01f);
	ck_assert_int_eq(c.batch_size, 32);
	ck_assert_int_eq(c.epochs, 10);
	ck_assert_float_eq(c.optim.momentum, 0.9f);
	ck_assert_float_eq(c.optim.beta2, 0.999f);
	ck_assert_uint_eq(c.seed, 42);
	ck_assert_int_eq(c.data.header, -1);
	ck_assert_int_eq(c.data.label_index, -1);
	ck_assert_int_eq(c.checkpoint_every, 1);
	ck_assert_double_eq(c.checkpoint_min_interval_s, 30);
	ck_assert_ptr_null(c.output_uri);
	trainer_config_cleanup(&c);

	ck_assert_int_eq(parse("{\"model\":{\"type\":\"mlp\"},\"optimizer\":{\"type\":\"adam\"},"
	                       "\"checkpoint\":{\"everyEpochs\":5},\"data\":{\"uri\":\"x\"}}",
	                       &c),
	                 AIOS_OK);
	ck_assert_int_eq(c.n_hidden, 2);
	ck_assert_int_eq(c.hidden[0], 64);
	ck_assert_int_eq(c.activation, AIOS_ACT_RELU);
	ck_assert_float_eq(c.optim.lr, 0.001f);
	ck_assert_double_eq(c.checkpoint_min_interval_s, 0);
	int sizes[8];
	ck_assert_int_eq(trainer_config_sizes(&c, 7, sizes), 3);
	ck_assert_int_eq(sizes[0], 7);
	ck_assert_int_eq(sizes[3], 1);
	trainer_config_cleanup(&c);
}
END_TEST

START_TEST(loss_decides_output_and_labels)
{
	struct trainer_config c;
	ck_assert_int_eq(parse("{\"model\":{\"type\":\"logistic\"},\"data\":{\"uri\":\"x\"}}", &c),
	                 AIOS_OK);
	ck_assert_int_eq(c.loss, TRAINER_LOSS_CROSS_ENTROPY);
	ck_assert_int_eq(c.output_act, AIOS_ACT_SIGMOID);
	ck_assert_int_eq(c.labels.kind, TRAINER_LABEL_PROB);
	trainer_config_cleanup(&c);
	ck_assert_int_eq(
	    parse("{\"model\":{\"type\":\"softmax\",\"outputs\":4},\"data\":{\"uri\":\"x\"}}", &c),
	    AIOS_OK);
	ck_assert_int_eq(c.output_act, AIOS_ACT_SOFTMAX);
	ck_assert_int_eq(c.labels.kind, TRAINER_LABEL_CLASS);
	ck_assert_int_eq(c.labels.classes, 4);
	trainer_config_cleanup(&c);
	ck_assert_int_eq(parse("{\"model\":{\"type\":\"mlp\",\"hidden\":[8]},\"loss\":\"hinge\","
	                       "\"data\":{\"uri\":\"x\"}}",
	                       &c),
	                 AIOS_OK);
	ck_assert_int_eq(c.output_act, AIOS_ACT_IDENTITY);
	ck_assert_int_eq(c.labels.kind, TRAINER_LABEL_SIGN);
	trainer_config_cleanup(&c);
	/* a whole TrainingJob object is accepted */
	ck_assert_int_eq(
	    parse("{\"kind\":\"TrainingJob\",\"spec\":{\"model\":{\"type\":\"mlp\",\"hidden\":[3,"
	          "4]},\"data\":{\"uri\":\"x\"}}}",
	          &c),
	    AIOS_OK);
	ck_assert_int_eq(c.n_hidden, 2);
	ck_assert_int_eq(c.hidden[1], 4);
	trainer_config_cleanup(&c);
}
END_TEST

START_TEST(refusals_name_the_field)
{
	static const char *cases[][2] = {
	    {"{}", "spec.data: no data"},
	    {"{\"data\":{\"uri\":\"x\",\"inline\":{}}}", "give inline or uri, not both"},
	    {"{\"model\":{\"type\":\"tree\"},\"data\":{\"uri\":\"x\"}}", "spec.model.type"},
	    {"{\"model\":{\"type\":\"mlp\",\"hidden\":[0]},\"data\":{\"uri\":\"x\"}}",
	     "spec.model.hidden[0]"},
	    {"{\"model\":{\"hidden\":[4]},\"data\":{\"uri\":\"x\"}}", "has no hidden layers"},
	    {"{\"model\":{\"type\":\"mlp\",\"activation\":\"softmax\"},\"data\":{\"uri\":\"x\"}}",
	     "spec.model.activation"},
	    {"{\"model\":{\"type\":\"logistic\",\"outputs\":3},\"data\":{\"uri\":\"x\"}}",
	     "spec.model.outputs"},
	    {"{\"model\":{\"type\":\"softmax\"},\"loss\":\"mse\",\"data\":{\"uri\":\"x\"}}",
	     "spec.loss"},
	    {"{\"model\":{\"outputs\":2},\"loss\":\"hinge\",\"data\":{\"uri\":\"x\"}}",
	     "hinge needs"},
	    {"{\"optimizer\":{\"learningRate\":0},\"data\":{\"uri\":\"x\"}}",
	     "spec.optimizer.learningRate"},
	    {"{\"optimizer\":{\"epochs\":0},\"data\":{\"uri\":\"x\"}}", "spec.optimizer.epochs"},
	    {"{\"optimizer\":{\"batchSize\":\"big\"},\"data\":{\"uri\":\"x\"}}",
	     "spec.optimizer.batchSize"},
	    {"{\"optimizer\":{\"beta2\":1},\"data\":{\"uri\":\"x\"}}", "spec.optimizer.beta2"},
	    {"{\"data\":{\"uri\":\"x\",\"sha256\":\"abc\"}}", "spec.data.sha256"},
	    {"{\"data\":{\"uri\":\"x\",\"format\":\"parquet\"}}", "spec.data.format"},
	    {"{\"data\":{\"uri\":\"x\",\"header\":\"yes\"}}", "spec.data.header"},
	    {"{\"data\":{\"uri\":\"x\",\"labelColumn\":1.5}}", "spec.data.labelColumn"},
	    {"{\"data\":{\"uri\":\"x\"},\"checkpoint\":{\"everyEpochs\":-1}}",
	     "spec.checkpoint.everyEpochs"},
	    {"{\"data\":{\"uri\":\"x\"},\"output\":{\"uri\":\"http://h/m\"}}", "read-only"},
	    {"[1,2]", "expected a JSON object"},
	    {"{\"data\":{\"uri\":\"x\"},\"output\":{\"formats\":\"onnx\"}}",
	     "spec.output.formats: expected a list such as [aios, onnx]"},
	    {"{\"data\":{\"uri\":\"x\"},\"output\":{\"formats\":[\"aios\",\"torchscript\"]}}",
	     "spec.output.formats[1]: \"torchscript\" is not one of aios, onnx"},
	    {"{\"data\":{\"uri\":\"x\"},\"output\":{\"formats\":[\"aios\",1]}}",
	     "spec.output.formats[1]: expected a string"},
	    {"{\"data\":{\"uri\":\"x\"},\"output\":{\"formats\":[\"onnx\",\"aios\",\"onnx\"]}}",
	     "spec.output.formats[2]: \"onnx\" is listed twice"},
	    {"{\"data\":{\"uri\":\"x\"},\"output\":{\"formats\":[\"onnx\"]}}",
	     "spec.output.formats: must list aios"},
	    {"{\"data\":{\"uri\":\"x\"},\"output\":{\"formats\":[]}}",
	     "spec.output.formats: must list aios"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct trainer_config c;
		ck_assert_msg(parse(cases[i][0], &c) == AIOS_ERR_INVALID, "%s accepted",
		              cases[i][0]);
		assert_msg(cases[i][1]);
		trainer_config_cleanup(&c);
	}
}
END_TEST

START_TEST(checkpoint_files)
{
	char dir[] = "/tmp/aios-ckpt-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	float p[5] = {1, 2, 3, 4, 5}, m1[5] = {0.5f, 0, 0, 0, -1}, m2[5] = {1e-8f, 0, 0, 0, 2};
	struct trainer_ckpt c = {.step = 17,
	                         .threads = 2,
	                         .loss = 0.25,
	                         .val_loss = NAN,
	                         .n_params = 5,
	                         .params = p,
	                         .m1 = m1,
	                         .m2 = m2,
	                         .rng = {1, 2, 3, UINT64_MAX}};
	memset(c.fingerprint, 'a', AIOS_SHA256_HEX - 1);
	c.fingerprint[AIOS_SHA256_HEX - 1] = '\0';
	for (int e = 1; e <= 4; e++) {
		c.epoch = e;
		ck_assert_int_eq(trainer_ckpt_write(dir, &c), AIOS_OK);
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/ckpt-00000002.aiosckpt", dir);
	ck_assert_int_ne(access(path, F_OK), 0); /* only the newest TRAINER_CKPT_KEEP stay */
	struct trainer_ckpt r;
	int found;
	ck_assert_int_eq(trainer_ckpt_latest(dir, c.fingerprint, 5, &r, &found), AIOS_OK);
	ck_assert_int_eq(found, 1);
	ck_assert_int_eq(r.epoch, 4);
	ck_assert_int_eq(r.step, 17);
	ck_assert_uint_eq(r.rng[3], UINT64_MAX);
	ck_assert(isnan(r.val_loss));
	ck_assert_int_eq(memcmp(r.params, p, sizeof(p)), 0);
	ck_assert_int_eq(memcmp(r.m1, m1, sizeof(m1)), 0);
	ck_assert_int_eq(memcmp(r.m2, m2, sizeof(m2)), 0);
	trainer_ckpt_cleanup(&r);
	/* a damaged newest file is skipped for the one before it */
	snprintf(path, sizeof(path), "%s/ckpt-00000004.aiosckpt", dir);
	FILE *f = fopen(path, "r+b");
	fseek(f, 100, SEEK_SET);
	fputc('!', f);
	fclose(f);
	ck_assert_int_eq(trainer_ckpt_read(path, 5, &r), AIOS_ERR_DIGEST);
	ck_assert_int_eq(trainer_ckpt_latest(dir, c.fingerprint, 5, &r, &found), AIOS_OK);
	ck_assert_int_eq(r.epoch, 3);
	trainer_ckpt_cleanup(&r);
	/* another fingerprint or parameter count: nothing to resume */
	ck_assert_int_eq(trainer_ckpt_latest(dir, "b", 5, &r, &found), AIOS_OK);
	ck_assert_int_eq(found, 0);
	ck_assert_int_eq(trainer_ckpt_latest(dir, c.fingerprint, 6, &r, &found), AIOS_OK);
	ck_assert_int_eq(found, 0);
	ck_assert_int_eq(trainer_ckpt_latest("/nonexistent/dir", c.fingerprint, 5, &r, &found),
	                 AIOS_OK);
	ck_assert_int_eq(found, 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* output.formats: [aios] by default; onnx for every model kind and activation the spec
 * accepts (none is refused today); the ONNX file's URI beside the artifact. */
START_TEST(output_formats_and_onnx_uri)
{
	struct trainer_config c;
	ck_assert_int_eq(parse("{\"data\":{\"uri\":\"x\"}}", &c), AIOS_OK);
	ck_assert_uint_eq(c.formats, TRAINER_OUT_AIOS);
	trainer_config_cleanup(&c);
	static const char *const kinds[] = {
	    "\"model\":{\"type\":\"linear\",\"outputs\":2}",
	    "\"model\":{\"type\":\"linear\"},\"loss\":\"hinge\"",
	    "\"model\":{\"type\":\"logistic\"}",
	    "\"model\":{\"type\":\"softmax\",\"outputs\":4}",
	    "\"model\":{\"type\":\"mlp\",\"activation\":\"relu\",\"outputs\":3},"
	    "\"loss\":\"cross_entropy\"",
	    "\"model\":{\"type\":\"mlp\",\"activation\":\"tanh\"},\"loss\":\"cross_entropy\"",
	    "\"model\":{\"type\":\"mlp\",\"activation\":\"sigmoid\"},\"loss\":\"hinge\"",
	    "\"model\":{\"type\":\"mlp\",\"activation\":\"identity\"}",
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		char js[512];
		snprintf(
		    js, sizeof js,
		    "{%s,\"data\":{\"uri\":\"x\"},\"output\":{\"formats\":[\"onnx\",\"aios\"]}}",
		    kinds[i]);
		ck_assert_msg(parse(js, &c) == AIOS_OK, "%s: %s", js, aios_errmsg());
		ck_assert_uint_eq(c.formats, TRAINER_OUT_AIOS | TRAINER_OUT_ONNX);
		trainer_config_cleanup(&c);
	}
	char u[64];
	ck_assert_int_eq(trainer_onnx_uri("pvc://models/linear.aios", u, sizeof u), AIOS_OK);
	ck_assert_str_eq(u, "pvc://models/linear.onnx");
	ck_assert_int_eq(trainer_onnx_uri("file:///m/model", u, sizeof u), AIOS_OK);
	ck_assert_str_eq(u, "file:///m/model.onnx");
	ck_assert_int_eq(trainer_onnx_uri("m.aios.bak", u, sizeof u), AIOS_OK);
	ck_assert_str_eq(u, "m.aios.bak.onnx");
	ck_assert_int_eq(trainer_onnx_uri(".aios", u, sizeof u), AIOS_OK);
	ck_assert_str_eq(u, ".onnx");
	ck_assert_int_eq(trainer_onnx_uri("pvc://models/a-rather-long-name.aios", u, 20),
	                 AIOS_ERR_INVALID);
	assert_msg("the ONNX file's URI is too long");
}
END_TEST

static Suite *spec_suite(void)
{
	Suite *s = suite_create("trainer_spec");
	TCase *tc = tcase_create("spec");
	tcase_add_test(tc, defaults_follow_docs);
	tcase_add_test(tc, loss_decides_output_and_labels);
	tcase_add_test(tc, refusals_name_the_field);
	tcase_add_test(tc, output_formats_and_onnx_uri);
	tcase_add_test(tc, checkpoint_files);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(spec_suite)
