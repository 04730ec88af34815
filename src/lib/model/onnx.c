/*
 * onnx.c - an ONNX graph lowered onto dense layers (onnx.h).
 *
 * Three steps: a walk of the protobuf wire format that checks every length before
 * protobuf-c allocates anything; protobuf-c's unpack; then one pass over the nodes, in
 * the graph's (topological) order, that follows the single chain from the graph input.
 * The chain's current tensor is in one of three states:
 *   ST_INPUT  the graph input times a pending per-feature affine map (ps, pt)
 *   ST_PRE    the output of the last dense layer, before its activation: affine
 *             steps fold straight into that layer's rows
 *   ST_POST   after the last layer's activation, times a pending affine map that folds
 *             into the next dense layer's columns
 * Every constant (initializers, Constant nodes, their transposes) is copied out of the
 * message into a table of its own, so the message can be freed when lowering ends.
 */
#include "model/onnx.h"

#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "onnx.pb-c.h"

#define DT_FLOAT 1 /* TensorProto.DataType */
#define DT_INT64 7

/* ================================================================ wire-format walk */

static int varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	uint64_t r = 0;
	for (int shift = 0; shift < 64 && *i < n; shift += 7) {
		uint8_t b = p[(*i)++];
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 1;
		}
	}
	return 0;
}

/* The wire type a field's values take when not packed. */
static int wire_type_of(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE: return 1;
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FLOAT: return 5;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE: return 2;
	default: return 0;
	}
}

/*
 * Checks the message in p[0..n) (at byte base of the file) against descriptor d: tags,
 * wire types, lengths, nesting. Unknown fields are skipped by their wire type.
 */
static enum aios_err walk(const uint8_t *p, size_t n, size_t base,
                          const ProtobufCMessageDescriptor *d, int depth, const char *what)
{
	if (depth > AIOS_ONNX_MAX_DEPTH)
		return aios_fail(
		    AIOS_ERR_CORRUPT,
		    "%s: not a valid ONNX model: byte %zu: messages nested deeper than %d", what,
		    base, AIOS_ONNX_MAX_DEPTH);
	size_t i = 0;
	while (i < n) {
		size_t at = i;
		uint64_t tag, len;
		if (!varint(p, n, &i, &tag))
			return aios_fail(
			    AIOS_ERR_CORRUPT,
			    "%s: not a valid ONNX model: byte %zu: truncated field tag", what,
			    base + at);
		uint64_t id = tag >> 3;
		int wt = (int)(tag & 7);
		if (id == 0 || id > 536870911u)
			return aios_fail(
			    AIOS_ERR_CORRUPT,
			    "%s: not a valid ONNX model: byte %zu: field number %llu in %s", what,
			    base + at, (unsigned long long)id, d->name);
		const ProtobufCFieldDescriptor *f =
		    protobuf_c_message_descriptor_get_field(d, (unsigned)id);
		if (f) {
			int want = wire_type_of(f->type);
			int packed_ok = f->label == PROTOBUF_C_LABEL_REPEATED && wt == 2;
			if (wt != want && !packed_ok)
				return aios_fail(
				    AIOS_ERR_CORRUPT,
				    "%s: not a valid ONNX model: byte %zu: field %s.%s has "
				    "wire type %d, expected %d",
				    what, base + at, d->name, f->name, wt, want);
		}
		switch (wt) {
		case 0:
			if (!varint(p, n, &i, &len))
				goto truncated;
			break;
		case 1:
		case 5: {
			size_t w = wt == 1 ? 8 : 4;
			if (n - i < w)
				goto truncated;
			i += w;
			break;
		}
		case 2:
			if (!varint(p, n, &i, &len))
				goto truncated;
			if (len > n - i)
				return aios_fail(
				    AIOS_ERR_CORRUPT,
				    "%s: not a valid ONNX model: byte %zu: field %s.%s "
				    "holds %llu bytes but only %zu remain",
				    what, base + at, d->name, f ? f->name : "(unknown)",
				    (unsigned long long)len, n - i);
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
				enum aios_err e = walk(p + i, (size_t)len, base + i, f->descriptor,
				                       depth + 1, what);
				if (e)
					return e;
			}
			i += (size_t)len;
			break;
		default:
			return aios_fail(AIOS_ERR_CORRUPT,
			                 "%s: not a valid ONNX model: byte %zu: wire type %d in %s",
			                 what, base + at, wt, d->name);
		}
		continue;
	truncated:
		return aios_fail(
		    AIOS_ERR_CORRUPT,
		    "%s: not a valid ONNX model: byte %zu: field %llu of %s is cut off "
		    "by the end of %s",
		    what, base + at, (unsigned long long)id, d->name,
		    depth ? "its enclosing message" : "the file");
	}
	return AIOS_OK;
}

/* ================================================================ constants */

struct konst {
	const char *name; /* borrowed from the message */
	int nd;
	int64_t dims[AIOS_ONNX_MAX_RANK];
	size_t n;
	float *f;   /* (n) when float, owned */
	int64_t *i; /* (n) when int64, owned */
};

enum state { ST_INPUT, ST_PRE, ST_POST };

struct lay {
	int in, out;
	float *w, *b; /* (out, in), (out); owned */
	struct aios_model_act act;
};

struct lower {
	const char *what;
	int opset;
	struct konst *k;
	size_t nk, capk;
	struct lay *l;
	int nl;
	const char *cur; /* the chain's current tensor */
	int nd;          /* its shape: dims[0] the batch (-1 symbolic), the rest features */
	int64_t dims[AIOS_ONNX_MAX_RANK];
	int width; /* product of dims[1..nd) */
	enum state st;
	float *ps, *pt; /* (width) pending affine map, ST_INPUT and ST_POST */
	int pending;    /* ps/pt differ from the identity */
	size_t params;
	/* for messages */
	const Onnx__NodeProto *node;
	size_t node_idx;
	char label[160];
};

static const char *label(struct lower *L)
{
	if (L->node->name && L->node->name[0])
		snprintf(L->label, sizeof L->label, "%s", L->node->name);
	else
		snprintf(L->label, sizeof L->label, "#%zu (unnamed)", L->node_idx);
	return L->label;
}

static const struct konst *find_konst(const struct lower *L, const char *name)
{
	for (size_t j = L->nk; j-- > 0;)
		if (!strcmp(L->k[j].name, name))
			return &L->k[j];
	return NULL;
}

static struct konst *push_konst(struct lower *L, const char *name)
{
	if (L->nk == L->capk) {
		L->capk = L->capk ? 2 * L->capk : 16;
		L->k = aios_xrealloc(L->k, L->capk * sizeof *L->k);
	}
	struct konst *c = &L->k[L->nk++];
	memset(c, 0, sizeof *c);
	c->name = name;
	return c;
}

/* Element count of dims, or SIZE_MAX when any is negative or the product passes cap. */
static size_t count(const int64_t *dims, int nd, size_t cap)
{
	size_t n = 1;
	for (int j = 0; j < nd; j++) {
		if (dims[j] < 0 || (dims[j] && n > cap / (size_t)dims[j]))
			return SIZE_MAX;
		n *= (size_t)dims[j];
	}
	return n <= cap ? n : SIZE_MAX;
}

/* Copies a float or int64 TensorProto into a new constant named name. */
static enum aios_err add_tensor(struct lower *L, const char *name, const Onnx__TensorProto *t,
                                const char *where)
{
	if (t->n_dims > AIOS_ONNX_MAX_RANK)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: tensor %s (%s) has %zu dimensions; at most %d", L->what, name,
		                 where, t->n_dims, AIOS_ONNX_MAX_RANK);
	if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: tensor %s (%s) keeps its data in an external file; save the "
		                 "model as one file",
		                 L->what, name, where);
	int dt = t->has_data_type ? t->data_type : 0;
	if (dt != DT_FLOAT && dt != DT_INT64)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: tensor %s (%s) has data type %d; only float32 (1) and int64 "
		                 "(7, for shapes) are supported",
		                 L->what, name, where, dt);
	size_t n = count(t->dims, (int)t->n_dims, AIOS_MODEL_MAX_PARAMS);
	if (n == SIZE_MAX)
		return aios_fail(
		    AIOS_ERR_TOO_BIG,
		    "%s: tensor %s (%s): shape is negative or holds more than %u elements", L->what,
		    name, where, AIOS_MODEL_MAX_PARAMS);
	size_t esz = dt == DT_FLOAT ? sizeof(float) : sizeof(int64_t);
	const void *src;
	size_t have;
	if (t->has_raw_data) {
		have = t->raw_data.len / esz;
		if (t->raw_data.len % esz)
			have = SIZE_MAX;
		src = t->raw_data.data;
	} else if (dt == DT_FLOAT) {
		have = t->n_float_data;
		src = t->float_data;
	} else {
		have = t->n_int64_data;
		src = t->int64_data;
	}
	if (have != n)
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "%s: tensor %s (%s): shape needs %zu elements but the data holds %s%zu",
		    L->what, name, where, n, have == SIZE_MAX ? "a partial element past " : "",
		    have == SIZE_MAX ? t->raw_data.len / esz : have);
	struct konst *c = push_konst(L, name);
	c->nd = (int)t->n_dims;
	for (int j = 0; j < c->nd; j++)
		c->dims[j] = t->dims[j];
	c->n = n;
	/* raw_data is little-endian, as is every host aios builds for (x86-64, arm64) */
	if (dt == DT_FLOAT) {
		c->f = aios_xmalloc(esz * (n ? n : 1));
		if (n)
			memcpy(c->f, src, esz * n);
		for (size_t j = 0; j < n; j++)
			if (!isfinite(c->f[j]))
				return aios_fail(AIOS_ERR_INVALID,
				                 "%s: tensor %s (%s): element %zu is not finite",
				                 L->what, name, where, j);
	} else {
		c->i = aios_xmalloc(esz * (n ? n : 1));
		if (n)
			memcpy(c->i, src, esz * n);
	}
	return AIOS_OK;
}

/* ================================================================ attributes */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *nd, const char *name)
{
	for (size_t j = 0; j < nd->n_attribute; j++)
		if (nd->attribute[j]->name && !strcmp(nd->attribute[j]->name, name))
			return nd->attribute[j];
	return NULL;
}

static int64_t attr_i(const Onnx__NodeProto *nd, const char *name, int64_t def)
{
	const Onnx__AttributeProto *a = attr(nd, name);
	return a && a->has_i ? a->i : def;
}

static float attr_f(const Onnx__NodeProto *nd, const char *name, float def)
{
	const Onnx__AttributeProto *a = attr(nd, name);
	return a && a->has_f ? a->f : def;
}

/* ================================================================ the chain */

static void reset_pending(struct lower *L)
{
	free(L->ps);
	free(L->pt);
	L->ps = aios_xmalloc(sizeof(float) * (size_t)L->width);
	L->pt = aios_xcalloc((size_t)L->width, sizeof(float));
	for (int j = 0; j < L->width; j++)
		L->ps[j] = 1.0f;
	L->pending = 0;
}

/*
 * Appends a dense layer y = W x + b (w (out, in) and b (out) are taken), folding the
 * pending affine map into its columns: W (x * ps + pt) + b = (W diag(ps)) x + (b + W pt).
 */
static enum aios_err add_dense(struct lower *L, float *w, float *b, int out)
{
	int in = L->width;
	size_t add = (size_t)out * (size_t)in + (size_t)out;
	enum aios_err e = AIOS_OK;
	if (L->nl >= AIOS_MODEL_MAX_LAYERS)
		e = aios_fail(AIOS_ERR_TOO_BIG, "%s: more than %d dense layers", L->what,
		              AIOS_MODEL_MAX_LAYERS);
	else if (out < 1 || out > AIOS_MODEL_MAX_WIDTH)
		e = aios_fail(AIOS_ERR_TOO_BIG, "%s: a layer of %d units; the limit is %d", L->what,
		              out, AIOS_MODEL_MAX_WIDTH);
	else if (L->params + add > AIOS_MODEL_MAX_PARAMS)
		e = aios_fail(AIOS_ERR_TOO_BIG, "%s: more than %u parameters", L->what,
		              AIOS_MODEL_MAX_PARAMS);
	if (e) {
		free(w);
		free(b);
		return e;
	}
	if (L->st != ST_PRE && L->pending) {
		for (int u = 0; u < out; u++) {
			float *row = w + (size_t)u * in;
			for (int j = 0; j < in; j++) {
				b[u] += row[j] * L->pt[j];
				row[j] *= L->ps[j];
			}
		}
	}
	if (L->nl % 8 == 0)
		L->l = aios_xrealloc(L->l, sizeof *L->l * (size_t)(L->nl + 8));
	struct lay *l = &L->l[L->nl++];
	l->in = in;
	l->out = out;
	l->w = w;
	l->b = b;
	l->act.act = AIOS_ACT_IDENTITY;
	l->act.alpha = 0.01f;
	L->params += add;
	L->width = out;
	L->nd = 2;
	L->dims[1] = out;
	L->st = ST_PRE;
	reset_pending(L);
	return AIOS_OK;
}

/* A diagonal layer holding the pending map: for steps with no dense layer to fold into. */
static enum aios_err add_diagonal(struct lower *L)
{
	if (L->width > AIOS_ONNX_MAX_DIAG)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: node %s: an activation or affine step on %d features with no "
		                 "Gemm/MatMul before it; supported up to %d features",
		                 L->what, L->node ? label(L) : "(graph output)", L->width,
		                 AIOS_ONNX_MAX_DIAG);
	int n = L->width;
	float *w = aios_xcalloc((size_t)n * (size_t)n, sizeof(float));
	float *b = aios_xcalloc((size_t)n, sizeof(float));
	for (int j = 0; j < n; j++)
		w[(size_t)j * n + j] = 1.0f;
	return add_dense(L, w, b, n); /* folds ps/pt: W = diag(ps), b = pt */
}

/* Node input j: the chain tensor (1), a constant (2, *c set), absent (0), or neither (-1). */
static int classify(const struct lower *L, const char *name, const struct konst **c)
{
	*c = NULL;
	if (!name || !name[0])
		return 0;
	if (L->cur && !strcmp(name, L->cur))
		return 1;
	*c = find_konst(L, name);
	return *c ? 2 : -1;
}

static enum aios_err not_chain(struct lower *L, const char *name)
{
	return aios_fail(AIOS_ERR_UNSUPPORTED,
	                 "%s: node %s (%s) reads %s, which is neither the graph's current "
	                 "tensor nor a constant: only one chain of operations is supported",
	                 L->what, label(L), L->node->op_type, name);
}

/* Checks that the node has input 0 on the chain and inputs from..to-1 constant or absent. */
static enum aios_err chain_then_consts(struct lower *L, size_t need)
{
	const Onnx__NodeProto *nd = L->node;
	if (nd->n_input < need || nd->n_output < 1)
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s: node %s (%s) has %zu inputs and %zu outputs", L->what,
		                 label(L), nd->op_type, nd->n_input, nd->n_output);
	const struct konst *c;
	int k0 = classify(L, nd->input[0], &c);
	if (k0 != 1)
		return k0 == 2 ? aios_fail(AIOS_ERR_UNSUPPORTED,
		                           "%s: node %s (%s) takes constant %s as its first input; "
		                           "it must be the graph's current tensor",
		                           L->what, label(L), nd->op_type, nd->input[0])
		               : not_chain(L, nd->input[0]);
	for (size_t j = 1; j < nd->n_input; j++) {
		int k = classify(L, nd->input[j], &c);
		if (k < 0)
			return not_chain(L, nd->input[j]);
		if (k == 1)
			return aios_fail(
			    AIOS_ERR_UNSUPPORTED,
			    "%s: node %s (%s) reads the tensor %s twice; only constants are "
			    "supported as its other inputs",
			    L->what, label(L), nd->op_type, nd->input[j]);
	}
	return AIOS_OK;
}

static enum aios_err need_2d(struct lower *L)
{
	if (L->nd == 2)
		return AIOS_OK;
	return aios_fail(AIOS_ERR_UNSUPPORTED,
	                 "%s: node %s (%s) needs a 2-D (batch, features) input; the tensor is "
	                 "%d-D (export a Flatten first)",
	                 L->what, label(L), L->node->op_type, L->nd);
}

static enum aios_err need_matrix(struct lower *L, const struct konst *c, const char *role)
{
	if (c && c->f && c->nd == 2)
		return AIOS_OK;
	return aios_fail(AIOS_ERR_UNSUPPORTED, "%s: node %s (%s): %s must be a 2-D float constant",
	                 L->what, label(L), L->node->op_type, role);
}

/* Gemm: Y = alpha * A B' + beta * C, B' = B or B^T; A the chain, B and C constants. */
static enum aios_err op_gemm(struct lower *L, int is_matmul)
{
	const Onnx__NodeProto *nd = L->node;
	enum aios_err e = chain_then_consts(L, 2);
	if (!e)
		e = need_2d(L);
	const struct konst *B, *C = NULL;
	if (!e) {
		classify(L, nd->input[1], &B);
		if (!is_matmul && nd->n_input > 2)
			classify(L, nd->input[2], &C);
		e = need_matrix(L, B, "B (the weights)");
	}
	if (e)
		return e;
	int trans_b = is_matmul ? 0 : attr_i(nd, "transB", 0) != 0;
	if (!is_matmul && attr_i(nd, "transA", 0))
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: node %s (Gemm): transA=1 is not supported", L->what,
		                 label(L));
	float alpha = is_matmul ? 1.0f : attr_f(nd, "alpha", 1.0f);
	float beta = is_matmul ? 1.0f : attr_f(nd, "beta", 1.0f);
	int64_t K = trans_b ? B->dims[1] : B->dims[0], N = trans_b ? B->dims[0] : B->dims[1];
	if (K != L->width)
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s: node %s (%s): weights %s are %lldx%lld but the input has %d "
		                 "features",
		                 L->what, label(L), nd->op_type, nd->input[1],
		                 (long long)B->dims[0], (long long)B->dims[1], L->width);
	if (N < 1 || N > AIOS_MODEL_MAX_WIDTH)
		return aios_fail(AIOS_ERR_TOO_BIG,
		                 "%s: node %s (%s): %lld outputs; the limit is %d", L->what,
		                 label(L), nd->op_type, (long long)N, AIOS_MODEL_MAX_WIDTH);
	if (C && (!C->f || (C->n != 1 && C->n != (size_t)N) || C->nd > 2 ||
	          (C->nd == 2 && C->dims[0] != 1)))
		return aios_fail(
		    AIOS_ERR_UNSUPPORTED,
		    "%s: node %s (Gemm): bias %s must be float of shape [], [1], [%lld] "
		    "or [1, %lld]",
		    L->what, label(L), nd->input[2], (long long)N, (long long)N);
	int out = (int)N, in = (int)K;
	float *w = aios_xmalloc(sizeof(float) * (size_t)out * (size_t)in);
	float *b = aios_xcalloc((size_t)out, sizeof(float));
	for (int u = 0; u < out; u++) {
		for (int j = 0; j < in; j++) {
			float v = trans_b ? B->f[(size_t)u * in + j] : B->f[(size_t)j * out + u];
			w[(size_t)u * in + j] = alpha == 1.0f ? v : alpha * v;
		}
		if (C)
			b[u] = beta * C->f[C->n == 1 ? 0 : u];
	}
	if ((e = add_dense(L, w, b, out)) == AIOS_OK)
		L->cur = nd->output[0];
	return e;
}

/* Add, Sub, Mul, Div with one constant: a per-feature affine map x -> x * s + t. */
static enum aios_err op_affine(struct lower *L, const char *op)
{
	const Onnx__NodeProto *nd = L->node;
	if (nd->n_input != 2 || nd->n_output < 1)
		return aios_fail(AIOS_ERR_INVALID, "%s: node %s (%s) has %zu inputs", L->what,
		                 label(L), op, nd->n_input);
	const struct konst *c0, *c1;
	int k0 = classify(L, nd->input[0], &c0), k1 = classify(L, nd->input[1], &c1);
	if (k0 < 0 || k1 < 0)
		return not_chain(L, k0 < 0 ? nd->input[0] : nd->input[1]);
	if (k0 == 2 && k1 == 2) /* both constant: no chain involved (constant folding) */
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: node %s (%s) combines two constants; export with constant "
		                 "folding on",
		                 L->what, label(L), op);
	if (k0 != 1 && k1 != 1)
		return not_chain(L, nd->input[0]);
	if (k0 == 1 && k1 == 1)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: node %s (%s) combines the tensor with itself; only constants "
		                 "are supported as the other operand",
		                 L->what, label(L), op);
	int const_first = k0 == 2;
	const struct konst *c = const_first ? c0 : c1;
	if (!c->f)
		return aios_fail(AIOS_ERR_UNSUPPORTED, "%s: node %s (%s): constant %s is not float",
		                 L->what, label(L), op, c->name);
	if (!strcmp(op, "Div") && const_first)
		return aios_fail(
		    AIOS_ERR_UNSUPPORTED,
		    "%s: node %s (Div) divides a constant by the tensor; only division "
		    "by a constant is supported",
		    L->what, label(L));
	/* right-aligned broadcasting of c over the tensor's shape; the batch axis must be 1 */
	if (c->nd > L->nd || (c->nd == L->nd && c->dims[0] != 1))
		goto badshape;
	for (int a = 0; a < c->nd; a++) {
		int64_t cd = c->dims[c->nd - 1 - a], td = L->dims[L->nd - 1 - a];
		if (cd != 1 && cd != td)
			goto badshape;
	}
	float *s = aios_xmalloc(sizeof(float) * (size_t)L->width);
	float *t = aios_xmalloc(sizeof(float) * (size_t)L->width);
	for (int j = 0; j < L->width; j++) {
		/* feature j's index in c: walk the tensor's feature axes from the last */
		size_t rem = (size_t)j, ci = 0, cstride = 1;
		for (int a = 0; a < L->nd - 1; a++) {
			int64_t td = L->dims[L->nd - 1 - a];
			size_t idx = rem % (size_t)td;
			rem /= (size_t)td;
			if (a < c->nd) {
				int64_t cd = c->dims[c->nd - 1 - a];
				ci += (cd == 1 ? 0 : idx) * cstride;
				cstride *= (size_t)cd;
			}
		}
		float v = c->f[ci];
		switch (op[0]) {
		case 'A': s[j] = 1, t[j] = v; break;
		case 'S': s[j] = const_first ? -1.0f : 1.0f, t[j] = const_first ? v : -v; break;
		case 'M': s[j] = v, t[j] = 0; break;
		default: s[j] = 1.0f / v, t[j] = 0; break;
		}
		if (!isfinite(s[j])) {
			free(s);
			free(t);
			return aios_fail(AIOS_ERR_INVALID, "%s: node %s (Div) divides by zero (%s)",
			                 L->what, label(L), c->name);
		}
	}
	if (L->st == ST_PRE) { /* into the last layer's rows */
		struct lay *l = &L->l[L->nl - 1];
		for (int u = 0; u < l->out; u++) {
			float *row = l->w + (size_t)u * l->in;
			for (int j = 0; j < l->in; j++)
				row[j] *= s[u];
			l->b[u] = l->b[u] * s[u] + t[u];
		}
	} else {
		for (int j = 0; j < L->width; j++) {
			L->pt[j] = L->pt[j] * s[j] + t[j];
			L->ps[j] *= s[j];
		}
		L->pending = 1;
	}
	free(s);
	free(t);
	L->cur = nd->output[0];
	return AIOS_OK;
badshape:
	return aios_fail(AIOS_ERR_UNSUPPORTED,
	                 "%s: node %s (%s): constant %s of %d dimensions does not broadcast per "
	                 "feature over the tensor's %d",
	                 L->what, label(L), op, c->name, c->nd, L->nd);
}

static enum aios_err op_activation(struct lower *L, enum aios_act a, float alpha)
{
	const Onnx__NodeProto *nd = L->node;
	enum aios_err e = chain_then_consts(L, 1);
	if (e)
		return e;
	if (aios_act_is_rowwise(a)) {
		/* opset < 13: softmax over the axes from `axis` on (default 1); from 13: over
		 * the one axis (default -1). Either way it must cover all the features. */
		int64_t ax = attr_i(nd, "axis", L->opset < 13 ? 1 : -1);
		if (ax < 0)
			ax += L->nd;
		int ok = ax == 1 && (L->opset < 13 || L->nd == 2);
		if (!ok)
			return aios_fail(
			    AIOS_ERR_UNSUPPORTED,
			    "%s: node %s (%s) normalizes over axis %lld of a %d-D tensor; "
			    "only over all features is supported",
			    L->what, label(L), nd->op_type, (long long)ax, L->nd);
	}
	if (L->st != ST_PRE && (e = add_diagonal(L)) != AIOS_OK)
		return e;
	L->l[L->nl - 1].act.act = a;
	L->l[L->nl - 1].act.alpha = alpha;
	L->st = ST_POST;
	L->cur = nd->output[0];
	return AIOS_OK;
}

/* Sets the chain's shape to dims (rank nd), which must keep the batch and the width. */
static enum aios_err reshape_to(struct lower *L, const int64_t *dims, int nd)
{
	size_t w = count(dims + 1, nd - 1, AIOS_MODEL_MAX_WIDTH);
	if (nd < 2 || w != (size_t)L->width)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: node %s (%s) changes the batch or the number of features "
		                 "(%d); only reshapes within a row are supported",
		                 L->what, label(L), L->node->op_type, L->width);
	L->nd = nd;
	memcpy(L->dims + 1, dims + 1, sizeof(int64_t) * (size_t)(nd - 1));
	L->cur = L->node->output[0];
	return AIOS_OK;
}

static enum aios_err op_flatten(struct lower *L)
{
	enum aios_err e = chain_then_consts(L, 1);
	if (e)
		return e;
	int64_t ax = attr_i(L->node, "axis", 1);
	if (ax < 0)
		ax += L->nd;
	if (ax != 1)
		return aios_fail(
		    AIOS_ERR_UNSUPPORTED,
		    "%s: node %s (Flatten) with axis %lld; only axis 1 keeps the batch", L->what,
		    label(L), (long long)ax);
	int64_t d[2] = {L->dims[0], L->width};
	return reshape_to(L, d, 2);
}

static enum aios_err op_reshape(struct lower *L)
{
	enum aios_err e = chain_then_consts(L, 2);
	if (e)
		return e;
	const struct konst *s;
	classify(L, L->node->input[1], &s);
	if (!s || !s->i || s->nd != 1 || s->n < 2 || s->n > AIOS_ONNX_MAX_RANK)
		return aios_fail(
		    AIOS_ERR_UNSUPPORTED,
		    "%s: node %s (Reshape): the shape must be an int64 constant of 2..%d "
		    "values",
		    L->what, label(L), AIOS_ONNX_MAX_RANK);
	int allowzero = attr_i(L->node, "allowzero", 0) != 0;
	int64_t d[AIOS_ONNX_MAX_RANK];
	int infer = -1, nd = (int)s->n;
	for (int j = 0; j < nd; j++) {
		d[j] = s->i[j];
		if (d[j] == 0 && !allowzero) {
			if (j >= L->nd)
				goto bad;
			d[j] = L->dims[j];
		}
		if (d[j] == -1 && j > 0) {
			if (infer >= 0)
				goto bad;
			infer = j;
		} else if (d[j] < (j == 0 ? -1 : 1)) {
			goto bad;
		}
	}
	/* the batch: kept (0, or -1 with the rest fixed), or the same fixed number */
	if ((s->i[0] == -1 && infer > 0) || (d[0] != L->dims[0] && !(d[0] == -1 && infer < 0)))
		goto bad;
	if (infer > 0) {
		d[infer] = 1;
		size_t rest = count(d + 1, nd - 1, AIOS_MODEL_MAX_WIDTH);
		if (rest == SIZE_MAX || (size_t)L->width % rest)
			goto bad;
		d[infer] = (int64_t)((size_t)L->width / rest);
	}
	d[0] = L->dims[0];
	return reshape_to(L, d, nd);
bad:
	return aios_fail(AIOS_ERR_UNSUPPORTED,
	                 "%s: node %s (Reshape) to a shape that does not keep the batch and the "
	                 "%d features",
	                 L->what, label(L), L->width);
}

/* Transpose of a constant (any permutation of a 2-D one; the default reverses axes). */
static enum aios_err op_transpose(struct lower *L)
{
	const Onnx__NodeProto *nd = L->node;
	const struct konst *c;
	if (nd->n_input != 1 || nd->n_output < 1)
		return aios_fail(AIOS_ERR_INVALID, "%s: node %s (Transpose) has %zu inputs",
		                 L->what, label(L), nd->n_input);
	int k = classify(L, nd->input[0], &c);
	if (k == 1)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: node %s (Transpose) transposes the input tensor; only "
		                 "constants (initializers) can be transposed",
		                 L->what, label(L));
	if (k != 2)
		return not_chain(L, nd->input[0]);
	const Onnx__AttributeProto *perm = attr(nd, "perm");
	int swap = 1;
	if (perm && perm->n_ints == 2)
		swap = perm->ints[0] == 1 && perm->ints[1] == 0;
	else if (perm)
		swap = -1;
	if (!c->f || c->nd != 2 || swap < 0)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: node %s (Transpose): only 2-D float constants are supported",
		                 L->what, label(L));
	int64_t r = c->dims[0], cols = c->dims[1];
	size_t n = c->n;
	float *f = aios_xmalloc(sizeof(float) * (n ? n : 1));
	for (int64_t i = 0; i < r; i++)
		for (int64_t j = 0; j < cols; j++)
			f[swap ? (size_t)(j * r + i) : (size_t)(i * cols + j)] = c->f[i * cols + j];
	struct konst *t = push_konst(L, nd->output[0]); /* may move L->k: c is stale now */
	t->nd = 2;
	t->dims[0] = swap ? cols : r;
	t->dims[1] = swap ? r : cols;
	t->n = n;
	t->f = f;
	return AIOS_OK;
}

/* A Constant's value_float(s)/value_int(s): n values of f or i, 0-D when scalar. */
static enum aios_err list_konst(struct lower *L, const char *name, int scalar, size_t n,
                                const float *f, const int64_t *i)
{
	struct konst *c = push_konst(L, name);
	c->nd = scalar ? 0 : 1;
	c->dims[0] = (int64_t)n;
	c->n = n;
	size_t esz = f ? sizeof(float) : sizeof(int64_t);
	void *dst = aios_xmalloc(esz * (n ? n : 1));
	if (n)
		memcpy(dst, f ? (const void *)f : (const void *)i, esz * n);
	if (f)
		c->f = dst;
	else
		c->i = dst;
	return AIOS_OK;
}

static enum aios_err op_constant(struct lower *L)
{
	const Onnx__NodeProto *nd = L->node;
	if (nd->n_output < 1 || nd->n_attribute != 1)
		return aios_fail(AIOS_ERR_INVALID, "%s: node %s (Constant) needs one attribute",
		                 L->what, label(L));
	const Onnx__AttributeProto *a = nd->attribute[0];
	const char *an = a->name ? a->name : "";
	if (!strcmp(an, "value") && a->t)
		return add_tensor(L, nd->output[0], a->t, label(L));
	if (!strcmp(an, "value_float"))
		return list_konst(L, nd->output[0], 1, 1, &a->f, NULL);
	if (!strcmp(an, "value_floats"))
		return list_konst(L, nd->output[0], 0, a->n_floats, a->floats, NULL);
	if (!strcmp(an, "value_int"))
		return list_konst(L, nd->output[0], 1, 1, NULL, &a->i);
	if (!strcmp(an, "value_ints"))
		return list_konst(L, nd->output[0], 0, a->n_ints, NULL, a->ints);
	return aios_fail(AIOS_ERR_UNSUPPORTED,
	                 "%s: node %s (Constant): attribute %s is not supported", L->what, label(L),
	                 an);
}

static enum aios_err op_identity(struct lower *L)
{
	const Onnx__NodeProto *nd = L->node;
	const struct konst *c;
	if (nd->n_input != 1 || nd->n_output < 1)
		return aios_fail(AIOS_ERR_INVALID, "%s: node %s (Identity) has %zu inputs", L->what,
		                 label(L), nd->n_input);
	int k = classify(L, nd->input[0], &c);
	if (k == 1) {
		L->cur = nd->output[0];
		return AIOS_OK;
	}
	if (k != 2)
		return not_chain(L, nd->input[0]);
	size_t at = (size_t)(c - L->k);
	struct konst *t = push_konst(L, nd->output[0]);
	const struct konst *src = &L->k[at];
	t->nd = src->nd;
	memcpy(t->dims, src->dims, sizeof t->dims);
	t->n = src->n;
	if (src->f) {
		t->f = aios_xmalloc(sizeof(float) * (t->n ? t->n : 1));
		memcpy(t->f, src->f, sizeof(float) * t->n);
	} else {
		t->i = aios_xmalloc(sizeof(int64_t) * (t->n ? t->n : 1));
		memcpy(t->i, src->i, sizeof(int64_t) * t->n);
	}
	return AIOS_OK;
}

static enum aios_err lower_node(struct lower *L)
{
	const Onnx__NodeProto *nd = L->node;
	const char *op = nd->op_type ? nd->op_type : "";
	if (nd->domain && nd->domain[0] && strcmp(nd->domain, "ai.onnx"))
		return aios_fail(AIOS_ERR_UNSUPPORTED, "%s: unsupported ONNX op %s.%s at node %s",
		                 L->what, nd->domain, op, label(L));
	if (!strcmp(op, "Gemm"))
		return op_gemm(L, 0);
	if (!strcmp(op, "MatMul"))
		return op_gemm(L, 1);
	if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div"))
		return op_affine(L, op);
	if (!strcmp(op, "Relu"))
		return op_activation(L, AIOS_ACT_RELU, 0);
	if (!strcmp(op, "LeakyRelu"))
		return op_activation(L, AIOS_ACT_LEAKY_RELU, attr_f(nd, "alpha", 0.01f));
	if (!strcmp(op, "Tanh"))
		return op_activation(L, AIOS_ACT_TANH, 0);
	if (!strcmp(op, "Sigmoid"))
		return op_activation(L, AIOS_ACT_SIGMOID, 0);
	if (!strcmp(op, "Softmax"))
		return op_activation(L, AIOS_ACT_SOFTMAX, 0);
	if (!strcmp(op, "LogSoftmax"))
		return op_activation(L, AIOS_ACT_LOG_SOFTMAX, 0);
	if (!strcmp(op, "Flatten"))
		return op_flatten(L);
	if (!strcmp(op, "Reshape"))
		return op_reshape(L);
	if (!strcmp(op, "Identity"))
		return op_identity(L);
	if (!strcmp(op, "Transpose"))
		return op_transpose(L);
	if (!strcmp(op, "Constant"))
		return op_constant(L);
	return aios_fail(AIOS_ERR_UNSUPPORTED, "%s: unsupported ONNX op %s at node %s", L->what, op,
	                 label(L));
}

/* ================================================================ graph and model */

/* A value's tensor shape as JSON (-1 for symbolic dims); fills dims/nd when asked. */
static enum aios_err value_shape(struct lower *L, const Onnx__ValueInfoProto *v, const char *role,
                                 int64_t *dims, int *nd, struct json_object **shape)
{
	const char *name = v->name ? v->name : "";
	const Onnx__TypeProto *t = v->type;
	*shape = NULL;
	if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
		return aios_fail(AIOS_ERR_UNSUPPORTED, "%s: graph %s %s is not a tensor", L->what,
		                 role, name);
	const Onnx__TypeProto__Tensor *tt = t->tensor_type;
	if (!tt->has_elem_type || tt->elem_type != DT_FLOAT)
		return aios_fail(
		    AIOS_ERR_UNSUPPORTED,
		    "%s: graph %s %s has element type %d; only float32 (1) is supported", L->what,
		    role, name, tt->has_elem_type ? tt->elem_type : 0);
	*shape = json_object_new_array();
	*nd = 0;
	if (!tt->shape)
		return AIOS_OK;
	if (tt->shape->n_dim > AIOS_ONNX_MAX_RANK)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: graph %s %s has %zu dimensions; at most %d", L->what, role,
		                 name, tt->shape->n_dim, AIOS_ONNX_MAX_RANK);
	*nd = (int)tt->shape->n_dim;
	for (int j = 0; j < *nd; j++) {
		const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[j];
		int64_t v64 = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
		                  ? d->dim_value
		                  : -1;
		if (v64 < -1)
			v64 = -1;
		dims[j] = v64;
		json_object_array_add(*shape, json_object_new_int64(v64));
	}
	return AIOS_OK;
}

static int is_initializer(const Onnx__GraphProto *g, const char *name)
{
	for (size_t j = 0; j < g->n_initializer; j++)
		if (g->initializer[j]->name && name && !strcmp(g->initializer[j]->name, name))
			return 1;
	return 0;
}

static struct json_object *io_entry(const char *name, struct json_object *shape)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name ? name : ""));
	json_object_object_add(o, "shape", shape);
	return o;
}

static enum aios_err lower_graph(struct lower *L, const Onnx__ModelProto *mp,
                                 struct json_object *info)
{
	const Onnx__GraphProto *g = mp->graph;
	if (!g)
		return aios_fail(AIOS_ERR_INVALID, "%s: the ONNX model has no graph", L->what);
	if (g->n_node > AIOS_ONNX_MAX_NODES || g->n_initializer > AIOS_ONNX_MAX_NODES)
		return aios_fail(AIOS_ERR_TOO_BIG,
		                 "%s: %zu nodes and %zu initializers; the limit is %d", L->what,
		                 g->n_node, g->n_initializer, AIOS_ONNX_MAX_NODES);
	if (g->n_sparse_initializer)
		return aios_fail(AIOS_ERR_UNSUPPORTED, "%s: sparse initializers are not supported",
		                 L->what);
	enum aios_err e;
	for (size_t j = 0; j < g->n_initializer; j++) {
		const Onnx__TensorProto *t = g->initializer[j];
		if (!t->name || !t->name[0])
			return aios_fail(AIOS_ERR_INVALID, "%s: initializer %zu has no name",
			                 L->what, j);
		if ((e = add_tensor(L, t->name, t, "initializer")) != AIOS_OK)
			return e;
	}
	/* one real input (older exporters list the initializers as inputs too) */
	const Onnx__ValueInfoProto *in = NULL;
	for (size_t j = 0; j < g->n_input; j++) {
		if (is_initializer(g, g->input[j]->name))
			continue;
		if (in)
			return aios_fail(
			    AIOS_ERR_UNSUPPORTED,
			    "%s: the graph has more than one input (%s, %s); one is supported",
			    L->what, in->name, g->input[j]->name);
		in = g->input[j];
	}
	if (!in || !in->name || !in->name[0])
		return aios_fail(AIOS_ERR_INVALID, "%s: the graph has no named input", L->what);
	if (g->n_output != 1 || !g->output[0]->name)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: the graph has %zu outputs; one is supported", L->what,
		                 g->n_output);
	struct json_object *shape;
	int nd;
	e = value_shape(L, in, "input", L->dims, &nd, &shape);
	if (e) {
		json_object_put(shape);
		return e;
	}
	json_object_array_add(json_object_object_get(info, "inputs"), io_entry(in->name, shape));
	if (nd < 2)
		return aios_fail(
		    AIOS_ERR_UNSUPPORTED,
		    "%s: graph input %s has %d dimensions; expected (batch, features...)", L->what,
		    in->name, nd);
	for (int j = 1; j < nd; j++)
		if (L->dims[j] < 1)
			return aios_fail(
			    AIOS_ERR_UNSUPPORTED,
			    "%s: graph input %s: dimension %d is symbolic or zero; only the "
			    "batch (dimension 0) may be",
			    L->what, in->name, j);
	size_t w = count(L->dims + 1, nd - 1, AIOS_MODEL_MAX_WIDTH);
	if (w == SIZE_MAX)
		return aios_fail(AIOS_ERR_TOO_BIG, "%s: graph input %s has more than %d features",
		                 L->what, in->name, AIOS_MODEL_MAX_WIDTH);
	L->nd = nd;
	L->width = (int)w;
	L->cur = in->name;
	L->st = ST_INPUT;
	reset_pending(L);
	for (size_t j = 0; j < g->n_node; j++) {
		L->node = g->node[j];
		L->node_idx = j;
		if ((e = lower_node(L)) != AIOS_OK)
			return e;
	}
	L->node = NULL;
	const Onnx__ValueInfoProto *out = g->output[0];
	if (strcmp(out->name, L->cur))
		return aios_fail(
		    AIOS_ERR_UNSUPPORTED,
		    "%s: graph output %s is not the end of the chain from input %s (%s)", L->what,
		    out->name, in->name, L->cur);
	if (L->st != ST_PRE && (L->pending || L->nl == 0) && (e = add_diagonal(L)) != AIOS_OK)
		return e;
	int64_t odims[AIOS_ONNX_MAX_RANK];
	int ond;
	e = value_shape(L, out, "output", odims, &ond, &shape);
	if (!e && ond >= 2 && count(odims + 1, ond - 1, AIOS_MODEL_MAX_WIDTH) != (size_t)L->width)
		e = aios_fail(
		    AIOS_ERR_INVALID,
		    "%s: graph output %s declares a shape that does not hold the %d values "
		    "the graph computes per row",
		    L->what, out->name, L->width);
	if (!e && ond < 2) { /* undeclared: report what the graph computes */
		json_object_put(shape);
		shape = json_object_new_array();
		json_object_array_add(shape, json_object_new_int64(L->dims[0]));
		json_object_array_add(shape, json_object_new_int64(L->width));
	}
	if (e) {
		json_object_put(shape);
		return e;
	}
	json_object_array_add(json_object_object_get(info, "outputs"), io_entry(out->name, shape));
	return AIOS_OK;
}

static enum aios_err find_opset(struct lower *L, const Onnx__ModelProto *mp)
{
	for (size_t j = 0; j < mp->n_opset_import; j++) {
		const Onnx__OperatorSetIdProto *o = mp->opset_import[j];
		if (o->domain && o->domain[0] && strcmp(o->domain, "ai.onnx"))
			continue;
		if (!o->has_version || o->version < AIOS_ONNX_MIN_OPSET ||
		    o->version > AIOS_ONNX_MAX_OPSET)
			return aios_fail(AIOS_ERR_UNSUPPORTED,
			                 "%s: ONNX opset %lld; supported are %d to %d", L->what,
			                 (long long)o->version, AIOS_ONNX_MIN_OPSET,
			                 AIOS_ONNX_MAX_OPSET);
		L->opset = (int)o->version;
		return AIOS_OK;
	}
	return aios_fail(AIOS_ERR_INVALID, "%s: the ONNX model imports no ai.onnx opset", L->what);
}

static struct aios_model *build(struct lower *L)
{
	int sizes[AIOS_MODEL_MAX_LAYERS + 1];
	sizes[0] = L->l[0].in;
	for (int k = 0; k < L->nl; k++)
		sizes[k + 1] = L->l[k].out;
	enum aios_act last = L->l[L->nl - 1].act.act;
	enum aios_act output =
	    last == AIOS_ACT_SIGMOID || last == AIOS_ACT_SOFTMAX ? last : AIOS_ACT_IDENTITY;
	struct aios_model *m =
	    aios_model_new(L->nl == 1 ? AIOS_MODEL_LINEAR : AIOS_MODEL_MLP,
	                   L->nl > 1 ? L->l[0].act.act : AIOS_ACT_IDENTITY, output, L->nl, sizes);
	m->acts = aios_xmalloc(sizeof *m->acts * (size_t)L->nl);
	for (int k = 0; k < L->nl; k++) {
		const struct lay *l = &L->l[k];
		memcpy(m->layers[k].w, l->w, sizeof(float) * (size_t)l->in * (size_t)l->out);
		memcpy(m->layers[k].b, l->b, sizeof(float) * (size_t)l->out);
		m->acts[k] = l->act;
	}
	return m;
}

int aios_onnx_sniff(const void *p, size_t n)
{
	const uint8_t *b = p;
	if (n >= sizeof AIOS_MODEL_MAGIC && !memcmp(p, AIOS_MODEL_MAGIC, sizeof AIOS_MODEL_MAGIC))
		return 0;
	return n >= 2 && b[0] == 0x08; /* field 1 (ir_version), wire type 0 */
}

enum aios_err aios_onnx_read_mem(const void *p, size_t n, const char *what, struct aios_model **out)
{
	*out = NULL;
	if (n == 0)
		return aios_fail(AIOS_ERR_CORRUPT, "%s: not a valid ONNX model: the file is empty",
		                 what);
	enum aios_err e = walk(p, n, 0, &onnx__model_proto__descriptor, 0, what);
	if (e)
		return e;
	Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, n, p);
	if (!mp)
		return aios_fail(AIOS_ERR_CORRUPT,
		                 "%s: not a valid ONNX model: protobuf-c could not decode it",
		                 what);
	struct lower L = {.what = what};
	struct json_object *info = json_object_new_object();
	json_object_object_add(info, "inputs", json_object_new_array());
	json_object_object_add(info, "outputs", json_object_new_array());
	e = find_opset(&L, mp);
	if (!e)
		e = lower_graph(&L, mp, info);
	if (!e) {
		struct aios_model *m = build(&L);
		uint8_t d[AIOS_SHA256_LEN];
		aios_sha256(p, n, d); /* = sha256sum of the file, as for an artifact */
		aios_sha256_hex(d, m->sha256);
		json_object_object_add(
		    info, "ir_version",
		    json_object_new_int64(mp->has_ir_version ? mp->ir_version : 0));
		json_object_object_add(info, "opset", json_object_new_int(L.opset));
		json_object_object_add(
		    info, "producer",
		    json_object_new_string(mp->producer_name ? mp->producer_name : ""));
		json_object_object_add(m->meta, "format", json_object_new_string("onnx"));
		json_object_object_add(m->meta, "onnx", info);
		info = NULL;
		*out = m;
	}
	json_object_put(info);
	for (size_t j = 0; j < L.nk; j++) {
		free(L.k[j].f);
		free(L.k[j].i);
	}
	free(L.k);
	for (int k = 0; k < L.nl; k++) {
		free(L.l[k].w);
		free(L.l[k].b);
	}
	free(L.l);
	free(L.ps);
	free(L.pt);
	onnx__model_proto__free_unpacked(mp, NULL);
	return e;
}
