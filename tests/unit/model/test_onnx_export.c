/*
 * test_onnx_export.c - the ONNX writer (model/onnx_export.h): the graph's names, shapes,
 * operators, attributes and initializers as decoded by protobuf-c; the round trip
 * through aios-serve's own reader (model/onnx.h) with the same predictions; refusals.
 * onnxruntime and onnx.checker judge the files in tests/unit/trainer/test_onnx_out.c.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "model/onnx.h"
#include "model/onnx_export.h"
#include "onnx.pb-c.h"
#include "support/serve_fixture.h"

/* An MLP in-hidden-out (tanh, softmax) with normalization whose mean and std are not 0/1. */
static struct aios_model *normalized_mlp(void)
{
	int sizes[] = {5, 7, 3};
	struct aios_model *m = sf_model(2, sizes, AIOS_ACT_TANH, AIOS_ACT_SOFTMAX, 11);
	aios_model_enable_norm(m);
	for (int j = 0; j < 5; j++) {
		m->norm_mean[j] = 3.0f - (float)j;
		m->norm_std[j] = 0.5f + 0.25f * (float)j;
	}
	return m;
}

static Onnx__ModelProto *export_unpacked(const struct aios_model *m, uint8_t **bytes, size_t *len)
{
	ck_assert_msg(aios_onnx_export_mem(m, bytes, len) == AIOS_OK, "%s", aios_errmsg());
	Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, *len, *bytes);
	ck_assert_ptr_nonnull(mp);
	return mp;
}

static void assert_io(const Onnx__ValueInfoProto *v, const char *name, int width)
{
	ck_assert_str_eq(v->name, name);
	ck_assert_int_eq(v->type->value_case, ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE);
	const Onnx__TypeProto__Tensor *t = v->type->tensor_type;
	ck_assert_int_eq(t->elem_type, 1); /* float32 */
	ck_assert_uint_eq(t->shape->n_dim, 2);
	ck_assert_int_eq(t->shape->dim[0]->value_case,
	                 ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM);
	ck_assert_str_eq(t->shape->dim[0]->dim_param, "batch");
	ck_assert_int_eq(t->shape->dim[1]->value_case,
	                 ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE);
	ck_assert_int_eq(t->shape->dim[1]->dim_value, width);
}

static const Onnx__AttributeProto *only_attr(const Onnx__NodeProto *n, const char *name)
{
	ck_assert_uint_eq(n->n_attribute, 1);
	ck_assert_str_eq(n->attribute[0]->name, name);
	return n->attribute[0];
}

static void assert_init(const Onnx__TensorProto *t, const char *name, int d0, int d1,
                        const float *want)
{
	ck_assert_str_eq(t->name, name);
	ck_assert_int_eq(t->data_type, 1);
	ck_assert_uint_eq(t->n_dims, d1 ? 2 : 1);
	ck_assert_int_eq(t->dims[0], d0);
	if (d1)
		ck_assert_int_eq(t->dims[1], d1);
	size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
	ck_assert(t->has_raw_data);
	ck_assert_uint_eq(t->raw_data.len, n * sizeof(float));
	ck_assert_int_eq(memcmp(t->raw_data.data, want, n * sizeof(float)), 0);
}

START_TEST(graph_names_shapes_and_operators)
{
	struct aios_model *m = normalized_mlp();
	memcpy(m->sha256, "ab12", 5);
	uint8_t *b;
	size_t len;
	Onnx__ModelProto *mp = export_unpacked(m, &b, &len);
	ck_assert(aios_onnx_sniff(b, len)); /* ir_version is the first field */
	ck_assert_int_eq(mp->ir_version, AIOS_ONNX_EXPORT_IR);
	ck_assert_uint_eq(mp->n_opset_import, 1);
	ck_assert_str_eq(mp->opset_import[0]->domain, "");
	ck_assert_int_eq(mp->opset_import[0]->version, 13);
	ck_assert_str_eq(mp->producer_name, "aios");
	int props = 0;
	for (size_t i = 0; i < mp->n_metadata_props; i++) {
		const Onnx__StringStringEntryProto *p = mp->metadata_props[i];
		if (!strcmp(p->key, "aios.type"))
			props += !strcmp(p->value, "mlp");
		if (!strcmp(p->key, "aios.artifact.sha256"))
			props += !strcmp(p->value, "ab12");
	}
	ck_assert_int_eq(props, 2);

	const Onnx__GraphProto *g = mp->graph;
	ck_assert_uint_eq(g->n_input, 1);
	ck_assert_uint_eq(g->n_output, 1);
	assert_io(g->input[0], "input", 5);
	assert_io(g->output[0], "output", 3);

	static const char *const ops[] = {"Sub", "Div", "Gemm", "Tanh", "Gemm", "Softmax"};
	static const char *const names[] = {"norm.sub", "norm.div", "l0.gemm",
	                                    "l0.tanh",  "l1.gemm",  "l1.softmax"};
	ck_assert_uint_eq(g->n_node, 6);
	const char *prev = "input";
	for (size_t i = 0; i < 6; i++) {
		const Onnx__NodeProto *n = g->node[i];
		ck_assert_str_eq(n->op_type, ops[i]);
		ck_assert_str_eq(n->name, names[i]);
		ck_assert_str_eq(n->input[0], prev); /* one chain from input to output */
		ck_assert_uint_eq(n->n_output, 1);
		prev = n->output[0];
	}
	ck_assert_str_eq(prev, "output");
	ck_assert_str_eq(g->node[0]->input[1], "norm.mean");
	ck_assert_str_eq(g->node[1]->input[1], "norm.std");
	ck_assert_str_eq(g->node[2]->input[1], "l0.w");
	ck_assert_str_eq(g->node[2]->input[2], "l0.b");
	const Onnx__AttributeProto *a = only_attr(g->node[2], "transB");
	ck_assert_int_eq(a->type, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
	ck_assert_int_eq(a->i, 1);
	ck_assert_uint_eq(g->node[3]->n_attribute, 0);
	ck_assert_int_eq(only_attr(g->node[5], "axis")->i, 1);

	ck_assert_uint_eq(g->n_initializer, 6);
	assert_init(g->initializer[0], "norm.mean", 5, 0, m->norm_mean);
	assert_init(g->initializer[1], "norm.std", 5, 0, m->norm_std);
	assert_init(g->initializer[2], "l0.w", 7, 5, m->layers[0].w);
	assert_init(g->initializer[3], "l0.b", 7, 0, m->layers[0].b);
	assert_init(g->initializer[4], "l1.w", 3, 7, m->layers[1].w);
	assert_init(g->initializer[5], "l1.b", 3, 0, m->layers[1].b);
	onnx__model_proto__free_unpacked(mp, NULL);
	free(b);
	aios_model_free(m);
}
END_TEST

/* A linear model without normalization or activation: one Gemm writes the output. */
START_TEST(linear_model_is_one_gemm)
{
	int sizes[] = {4, 1};
	struct aios_model *m = sf_model(1, sizes, AIOS_ACT_IDENTITY, AIOS_ACT_IDENTITY, 3);
	m->type = AIOS_MODEL_LINEAR;
	uint8_t *b;
	size_t len;
	Onnx__ModelProto *mp = export_unpacked(m, &b, &len);
	const Onnx__GraphProto *g = mp->graph;
	ck_assert_uint_eq(g->n_node, 1);
	ck_assert_str_eq(g->node[0]->op_type, "Gemm");
	ck_assert_str_eq(g->node[0]->input[0], "input");
	ck_assert_str_eq(g->node[0]->output[0], "output");
	ck_assert_uint_eq(g->n_initializer, 2);
	assert_io(g->output[0], "output", 1);
	ck_assert_str_eq(g->name, "aios_linear");
	for (size_t i = 0; i < mp->n_metadata_props; i++) /* never written as an artifact */
		ck_assert_str_ne(mp->metadata_props[i]->key, "aios.artifact.sha256");
	onnx__model_proto__free_unpacked(mp, NULL);
	free(b);
	aios_model_free(m);
}
END_TEST

/* Exported, then read by aios-serve's reader: the same predictions on 500 rows, the
 * graph's names in the reader's metadata. */
static void round_trip(const char *what, struct aios_model *m)
{
	uint8_t *b;
	size_t len;
	ck_assert_msg(aios_onnx_export_mem(m, &b, &len) == AIOS_OK, "%s: %s", what, aios_errmsg());
	struct aios_model *r;
	ck_assert_msg(aios_onnx_read_mem(b, len, what, &r) == AIOS_OK, "%s: %s", what,
	              aios_errmsg());
	ck_assert_int_eq(r->n_inputs, m->n_inputs);
	ck_assert_int_eq(r->n_outputs, m->n_outputs);
	ck_assert_int_eq(r->n_layers, m->n_layers);
	const char *in = json_object_get_string(json_object_object_get(
	    json_object_array_get_idx(
	        json_object_object_get(json_object_object_get(r->meta, "onnx"), "inputs"), 0),
	    "name"));
	ck_assert_str_eq(in, "input");
	int rows = 500;
	unsigned seed = 99;
	float *x = malloc(sizeof(float) * (size_t)rows * (size_t)m->n_inputs);
	sf_fill(x, (size_t)rows * (size_t)m->n_inputs, &seed);
	for (size_t i = 0; i < (size_t)rows * (size_t)m->n_inputs; i++)
		x[i] = 3.0f * x[i] + 1.0f;
	float *y0 = malloc(sizeof(float) * (size_t)rows * (size_t)m->n_outputs);
	float *y1 = malloc(sizeof(float) * (size_t)rows * (size_t)m->n_outputs);
	float *s0 = malloc(sizeof(float) * aios_model_scratch_floats(m, rows));
	float *s1 = malloc(sizeof(float) * aios_model_scratch_floats(r, rows));
	aios_model_forward_ref(m, x, rows, y0, s0);
	aios_model_forward_ref(r, x, rows, y1, s1);
	sf_assert_close(what, y1, y0, (size_t)rows * (size_t)m->n_outputs);
	free(x), free(y0), free(y1), free(s0), free(s1), free(b);
	aios_model_free(r);
}

START_TEST(round_trips_through_the_reader)
{
	struct aios_model *m = normalized_mlp();
	round_trip("mlp tanh softmax, normalized", m);
	aios_model_free(m);

	int lin[] = {6, 1};
	m = sf_model(1, lin, AIOS_ACT_IDENTITY, AIOS_ACT_SIGMOID, 5);
	m->type = AIOS_MODEL_LOGISTIC;
	aios_model_enable_norm(m);
	m->norm_mean[2] = 4.0f;
	m->norm_std[4] = 2.5f;
	round_trip("logistic, normalized", m);
	aios_model_free(m);

	int deep[] = {8, 16, 16, 2};
	m = sf_model(3, deep, AIOS_ACT_RELU, AIOS_ACT_IDENTITY, 7);
	round_trip("mlp relu 16-16", m);
	aios_model_free(m);

	/* per-layer activations, as a model read from ONNX has them */
	m = sf_model(3, deep, AIOS_ACT_RELU, AIOS_ACT_SOFTMAX, 8);
	m->acts = malloc(sizeof *m->acts * 3);
	m->acts[0] = (struct aios_model_act){AIOS_ACT_LEAKY_RELU, 0.2f};
	m->acts[1] = (struct aios_model_act){AIOS_ACT_SIGMOID, 0};
	m->acts[2] = (struct aios_model_act){AIOS_ACT_LOG_SOFTMAX, 0};
	round_trip("leaky_relu, sigmoid, log_softmax", m);
	aios_model_free(m);
}
END_TEST

START_TEST(what_has_no_onnx_form_is_refused)
{
	/* every model kind and activation the trainer trains */
	static const enum aios_act hidden[] = {AIOS_ACT_IDENTITY, AIOS_ACT_RELU, AIOS_ACT_TANH,
	                                       AIOS_ACT_SIGMOID};
	static const enum aios_act out[] = {AIOS_ACT_IDENTITY, AIOS_ACT_SIGMOID, AIOS_ACT_SOFTMAX};
	for (int t = AIOS_MODEL_LINEAR; t <= AIOS_MODEL_MLP; t++)
		for (size_t h = 0; h < 4; h++)
			for (size_t o = 0; o < 3; o++)
				ck_assert_int_eq(aios_onnx_export_check((enum aios_model_type)t,
				                                        hidden[h], out[o]),
				                 AIOS_OK);
	/* an activation outside the writer's table: named, for the mlp that would use it */
	ck_assert_int_eq(
	    aios_onnx_export_check(AIOS_MODEL_MLP, (enum aios_act)42, AIOS_ACT_IDENTITY),
	    AIOS_ERR_UNSUPPORTED);
	ck_assert_msg(strstr(aios_errmsg(), "a mlp model's hidden activation unknown (42) has no "
	                                    "ONNX operator"),
	              "%s", aios_errmsg());
	ck_assert_int_eq(
	    aios_onnx_export_check(AIOS_MODEL_LINEAR, (enum aios_act)42, AIOS_ACT_IDENTITY),
	    AIOS_OK); /* a linear model has no hidden layer */
	ck_assert_int_eq(
	    aios_onnx_export_check(AIOS_MODEL_SOFTMAX, AIOS_ACT_RELU, (enum aios_act)9),
	    AIOS_ERR_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "output activation unknown (9)"));
	ck_assert_int_eq(
	    aios_onnx_export_check((enum aios_model_type)7, AIOS_ACT_RELU, AIOS_ACT_IDENTITY),
	    AIOS_ERR_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "model type 7 has no ONNX form"));

	int sizes[] = {3, 4, 2};
	struct aios_model *m = sf_model(2, sizes, AIOS_ACT_RELU, AIOS_ACT_SOFTMAX, 2);
	uint8_t *b = (uint8_t *)"untouched";
	size_t len = 1;
	m->acts = calloc(2, sizeof *m->acts);
	m->acts[1].act = (enum aios_act)42;
	ck_assert_int_eq(aios_onnx_export_mem(m, &b, &len), AIOS_ERR_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "layer 1's activation unknown (42)"));
	ck_assert_ptr_null(b);
	ck_assert_uint_eq(len, 0);
	free(m->acts);
	m->acts = NULL;
	m->layers[1].w[3] = NAN;
	ck_assert_int_eq(aios_onnx_export_mem(m, &b, &len), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "parameter 19 is not finite"));
	m->layers[1].w[3] = 0;
	aios_model_enable_norm(m);
	m->norm_std[1] = 0;
	ck_assert_int_eq(aios_onnx_export_mem(m, &b, &len), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "normalization of input 1"));
	aios_model_free(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("model_onnx_export");
	TCase *t = tcase_create("writer");
	tcase_add_test(t, graph_names_shapes_and_operators);
	tcase_add_test(t, linear_model_is_one_gemm);
	tcase_add_test(t, round_trips_through_the_reader);
	tcase_add_test(t, what_has_no_onnx_form_is_refused);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
