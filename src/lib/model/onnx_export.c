/*
 * onnx_export.c - a model written as ONNX (onnx_export.h).
 *
 * The message is a tree of protoc-c structs. Every struct, name and pointer array lives
 * in one block (struct build) sized for the largest model (AIOS_MODEL_MAX_LAYERS
 * layers), so building allocates once and cannot fail; tensor data is not copied: the
 * initializers' raw_data points at the model's own floats until protobuf-c has packed
 * the tree into the output buffer.
 */
#include "model/onnx_export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "onnx.pb-c.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ONNX raw_data is little-endian; this writer stores the host's floats as they are"
#endif

#define DT_FLOAT  1                               /* TensorProto.DataType */
#define MAX_NODES (2 + 2 * AIOS_MODEL_MAX_LAYERS) /* Sub, Div, then Gemm + activation each */
#define MAX_INITS (2 + 2 * AIOS_MODEL_MAX_LAYERS) /* mean, std, then w and b each */
#define NAME_LEN  32

/* ================================================================ the block */

struct node_slot {
	Onnx__NodeProto n;
	char *in[3], *out[1];
	Onnx__AttributeProto attr, *attrp[1];
	char name[NAME_LEN], out_name[NAME_LEN];
};

struct init_slot {
	Onnx__TensorProto t;
	int64_t dims[2];
	char name[NAME_LEN];
};

struct io_slot {
	Onnx__ValueInfoProto v;
	Onnx__TypeProto type;
	Onnx__TypeProto__Tensor tensor;
	Onnx__TensorShapeProto shape;
	Onnx__TensorShapeProto__Dimension dim[2], *dimp[2];
};

struct build {
	Onnx__ModelProto model;
	Onnx__OperatorSetIdProto opset, *opsetp[1];
	Onnx__GraphProto graph;
	struct node_slot nodes[MAX_NODES];
	Onnx__NodeProto *nodep[MAX_NODES];
	struct init_slot inits[MAX_INITS];
	Onnx__TensorProto *initp[MAX_INITS];
	struct io_slot io[2];
	Onnx__ValueInfoProto *inp[1], *outp[1];
	Onnx__StringStringEntryProto props[4], *propp[4];
	char graph_name[NAME_LEN];
	char *cur; /* the chain's current tensor: the next node's first input */
};

/* ================================================================ activations */

/* The ONNX operator of an activation: "" for identity (no node), NULL for none. */
static const char *act_op(enum aios_act a)
{
	switch (a) {
	case AIOS_ACT_IDENTITY: return "";
	case AIOS_ACT_RELU: return "Relu";
	case AIOS_ACT_TANH: return "Tanh";
	case AIOS_ACT_SIGMOID: return "Sigmoid";
	case AIOS_ACT_SOFTMAX: return "Softmax";
	case AIOS_ACT_LEAKY_RELU: return "LeakyRelu";
	case AIOS_ACT_LOG_SOFTMAX: return "LogSoftmax";
	}
	return NULL;
}

static enum aios_err check_act(enum aios_model_type type, const char *role, enum aios_act a)
{
	if (act_op(a))
		return AIOS_OK;
	return aios_fail(AIOS_ERR_UNSUPPORTED,
	                 "a %s model's %s activation %s (%d) has no ONNX operator; ONNX export "
	                 "takes identity, relu, tanh, sigmoid, softmax, leaky_relu and "
	                 "log_softmax",
	                 aios_model_type_name(type), role, aios_act_name(a), (int)a);
}

enum aios_err aios_onnx_export_check(enum aios_model_type type, enum aios_act hidden,
                                     enum aios_act output)
{
	if ((unsigned)type > AIOS_MODEL_MLP)
		return aios_fail(AIOS_ERR_UNSUPPORTED, "model type %d has no ONNX form", (int)type);
	enum aios_err e = type == AIOS_MODEL_MLP ? check_act(type, "hidden", hidden) : AIOS_OK;
	return e ? e : check_act(type, "output", output);
}

/* ================================================================ building */

/* Appends a float initializer: (rows, cols), or (rows) when cols is 0; v is borrowed. */
static void add_init(struct build *b, const char *name, const float *v, int rows, int cols)
{
	struct init_slot *s = &b->inits[b->graph.n_initializer];
	onnx__tensor_proto__init(&s->t);
	snprintf(s->name, sizeof s->name, "%s", name);
	s->dims[0] = rows;
	s->dims[1] = cols;
	s->t.name = s->name;
	s->t.n_dims = cols > 0 ? 2 : 1;
	s->t.dims = s->dims;
	s->t.has_data_type = 1;
	s->t.data_type = DT_FLOAT;
	s->t.has_raw_data = 1;
	s->t.raw_data.len = sizeof(float) * (size_t)rows * (size_t)(cols > 0 ? cols : 1);
	s->t.raw_data.data = (uint8_t *)v; /* protobuf-c only reads it while packing */
	b->initp[b->graph.n_initializer++] = &s->t;
}

/* Appends node name (op) over the chain's tensor and the constants c1, c2 (NULL: none),
 * writing tensor out, which becomes the chain's. */
static struct node_slot *add_node(struct build *b, const char *op, const char *name,
                                  const char *out, char *c1, char *c2)
{
	struct node_slot *s = &b->nodes[b->graph.n_node];
	onnx__node_proto__init(&s->n);
	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(s->out_name, sizeof s->out_name, "%s", out);
	s->in[0] = b->cur;
	s->in[1] = c1;
	s->in[2] = c2;
	s->n.n_input = 1 + (c1 != NULL) + (c2 != NULL);
	s->n.input = s->in;
	s->out[0] = s->out_name;
	s->n.n_output = 1;
	s->n.output = s->out;
	s->n.name = s->name;
	s->n.op_type = (char *)op;
	b->nodep[b->graph.n_node++] = &s->n;
	b->cur = s->out_name;
	return s;
}

/* Gives node s its one attribute: an int, or a float when is_float. */
static void set_attr(struct node_slot *s, const char *name, int is_float, int64_t i, float f)
{
	onnx__attribute_proto__init(&s->attr);
	s->attr.name = (char *)name;
	s->attr.has_type = 1;
	if (is_float) {
		s->attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
		s->attr.has_f = 1;
		s->attr.f = f;
	} else {
		s->attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
		s->attr.has_i = 1;
		s->attr.i = i;
	}
	s->attrp[0] = &s->attr;
	s->n.n_attribute = 1;
	s->n.attribute = s->attrp;
}

/* A graph input or output: float32 (batch, width), the batch symbolic. */
static Onnx__ValueInfoProto *io_value(struct io_slot *s, const char *name, int width)
{
	onnx__value_info_proto__init(&s->v);
	onnx__type_proto__init(&s->type);
	onnx__type_proto__tensor__init(&s->tensor);
	onnx__tensor_shape_proto__init(&s->shape);
	for (int j = 0; j < 2; j++) {
		onnx__tensor_shape_proto__dimension__init(&s->dim[j]);
		s->dimp[j] = &s->dim[j];
	}
	s->dim[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
	s->dim[0].dim_param = (char *)AIOS_ONNX_EXPORT_BATCH;
	s->dim[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
	s->dim[1].dim_value = width;
	s->shape.n_dim = 2;
	s->shape.dim = s->dimp;
	s->tensor.has_elem_type = 1;
	s->tensor.elem_type = DT_FLOAT;
	s->tensor.shape = &s->shape;
	s->type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	s->type.tensor_type = &s->tensor;
	s->v.name = (char *)name;
	s->v.type = &s->type;
	return &s->v;
}

static void add_prop(struct build *b, const char *key, const char *value)
{
	Onnx__StringStringEntryProto *p = &b->props[b->model.n_metadata_props];
	onnx__string_string_entry_proto__init(p);
	p->key = (char *)key;
	p->value = (char *)value;
	b->propp[b->model.n_metadata_props++] = p;
}

/* The whole tree for m (checked by the caller); points into m and b only. */
static void build(struct build *b, const struct aios_model *m)
{
	onnx__model_proto__init(&b->model);
	onnx__operator_set_id_proto__init(&b->opset);
	onnx__graph_proto__init(&b->graph);
	b->opset.domain = (char *)"";
	b->opset.has_version = 1;
	b->opset.version = AIOS_ONNX_EXPORT_OPSET;
	b->opsetp[0] = &b->opset;
	b->graph.node = b->nodep;
	b->graph.initializer = b->initp;
	b->cur = (char *)AIOS_ONNX_EXPORT_INPUT;

	if (m->norm_mean) {
		add_init(b, "norm.mean", m->norm_mean, m->n_inputs, 0);
		add_init(b, "norm.std", m->norm_std, m->n_inputs, 0);
		add_node(b, "Sub", "norm.sub", "norm.centered", b->inits[0].name, NULL);
		add_node(b, "Div", "norm.div", "norm.x", b->inits[1].name, NULL);
	}
	char name[NAME_LEN], out[NAME_LEN];
	for (int k = 0; k < m->n_layers; k++) {
		const struct aios_model_layer *l = &m->layers[k];
		size_t at = b->graph.n_initializer;
		snprintf(name, sizeof name, "l%d.w", k);
		add_init(b, name, l->w, l->out, l->in);
		snprintf(name, sizeof name, "l%d.b", k);
		add_init(b, name, l->b, l->out, 0);
		snprintf(name, sizeof name, "l%d.gemm", k);
		snprintf(out, sizeof out, "l%d.z", k);
		struct node_slot *g =
		    add_node(b, "Gemm", name, out, b->inits[at].name, b->inits[at + 1].name);
		set_attr(g, "transB", 0, 1, 0);
		struct aios_model_act a = aios_model_layer_act(m, k);
		const char *op = act_op(a.act);
		if (!op[0])
			continue;
		snprintf(name, sizeof name, "l%d.%s", k, aios_act_name(a.act));
		snprintf(out, sizeof out, "l%d.a", k);
		struct node_slot *s = add_node(b, op, name, out, NULL, NULL);
		if (a.act == AIOS_ACT_LEAKY_RELU)
			set_attr(s, "alpha", 1, 0, a.alpha);
		else if (aios_act_is_rowwise(a.act))
			set_attr(s, "axis", 0, 1, 0); /* the features of a (batch, n) tensor */
	}
	/* the last node writes the graph output */
	struct node_slot *last = &b->nodes[b->graph.n_node - 1];
	snprintf(last->out_name, sizeof last->out_name, "%s", AIOS_ONNX_EXPORT_OUTPUT);

	snprintf(b->graph_name, sizeof b->graph_name, "aios_%s", aios_model_type_name(m->type));
	b->graph.name = b->graph_name;
	b->inp[0] = io_value(&b->io[0], AIOS_ONNX_EXPORT_INPUT, m->n_inputs);
	b->outp[0] = io_value(&b->io[1], AIOS_ONNX_EXPORT_OUTPUT, m->n_outputs);
	b->graph.n_input = 1;
	b->graph.input = b->inp;
	b->graph.n_output = 1;
	b->graph.output = b->outp;

	b->model.has_ir_version = 1;
	b->model.ir_version = AIOS_ONNX_EXPORT_IR;
	b->model.n_opset_import = 1;
	b->model.opset_import = b->opsetp;
	b->model.producer_name = (char *)"aios";
	b->model.producer_version = (char *)AIOS_VERSION;
	b->model.domain = (char *)"dev.aios";
	b->model.has_model_version = 1;
	b->model.model_version = 1;
	b->model.graph = &b->graph;
	b->model.metadata_props = b->propp;
	add_prop(b, "aios.type", aios_model_type_name(m->type));
	add_prop(b, "aios.activation", aios_act_name(m->hidden));
	add_prop(b, "aios.output", aios_act_name(m->output));
	if (m->sha256[0])
		add_prop(b, "aios.artifact.sha256", m->sha256);
}

/* ================================================================ checks and encoding */

static enum aios_err check_model(const struct aios_model *m)
{
	if (m->n_layers < 1 || m->n_layers > AIOS_MODEL_MAX_LAYERS)
		return aios_fail(AIOS_ERR_INVALID, "ONNX export: %d layers, expected 1..%d",
		                 m->n_layers, AIOS_MODEL_MAX_LAYERS);
	for (int k = 0; k < m->n_layers; k++) {
		enum aios_act a = aios_model_layer_act(m, k).act;
		if (!act_op(a))
			return aios_fail(AIOS_ERR_UNSUPPORTED,
			                 "ONNX export: layer %d's activation %s (%d) has no ONNX "
			                 "operator",
			                 k, aios_act_name(a), (int)a);
	}
	size_t n = aios_model_param_count(m);
	for (size_t i = 0; i < n; i++)
		if (!isfinite(m->params[i]))
			return aios_fail(AIOS_ERR_INVALID,
			                 "ONNX export: parameter %zu is not finite", i);
	for (int j = 0; m->norm_mean && j < m->n_inputs; j++)
		if (!isfinite(m->norm_mean[j]) || !isfinite(m->norm_std[j]) ||
		    !(m->norm_std[j] > 0))
			return aios_fail(AIOS_ERR_INVALID,
			                 "ONNX export: normalization of input %d (mean %g, std %g) "
			                 "is not a finite mean and a positive std",
			                 j, (double)m->norm_mean[j], (double)m->norm_std[j]);
	return AIOS_OK;
}

enum aios_err aios_onnx_export_mem(const struct aios_model *m, uint8_t **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	enum aios_err e = check_model(m);
	if (e)
		return e;
	struct build *b = aios_xcalloc(1, sizeof *b);
	build(b, m);
	size_t n = onnx__model_proto__get_packed_size(&b->model);
	uint8_t *buf = aios_xmalloc(n ? n : 1);
	size_t w = onnx__model_proto__pack(&b->model, buf);
	free(b);
	if (w != n) {
		free(buf);
		return aios_fail(AIOS_ERR_INTERNAL,
		                 "ONNX export: protobuf-c packed %zu bytes of %zu it sized", w, n);
	}
	*out = buf;
	*len = n;
	return AIOS_OK;
}
