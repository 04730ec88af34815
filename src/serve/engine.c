/*
 * engine.c - compiling a model for serving and running its forward pass (engine.h).
 *
 * Each dense layer is held in exactly one of three forms, chosen at load time:
 * FP32 dense, FP32 CSR (pruned below AIOS_ENGINE_SPARSE_DENSITY) or INT8 dense.
 * Activations ping-pong between two halves of the caller's scratch.
 */
#include "serve/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/matmul.h"
#include "common/mem.h"

enum form { FORM_DENSE, FORM_CSR, FORM_INT8 };

struct elayer {
	int in, out;
	enum form form;
	float *w;               /* FORM_DENSE: transposed, (in, out) */
	float *b;               /* (out) */
	int32_t *row_ptr, *col; /* FORM_CSR */
	float *val;
	int8_t *q;    /* FORM_INT8: (out, in) */
	float *scale; /* (out) */
};

struct aios_engine {
	int n_layers, n_inputs, n_outputs, width;
	struct aios_model_act *acts; /* (n_layers): after each layer */
	float *mean, *inv_std;       /* (n_inputs) or NULL */
	struct elayer *layers;
	size_t zeros, weights;
	int sparse_layers;
};

enum aios_err aios_engine_new(const struct aios_model *m, const struct aios_engine_opts *o,
                              struct aios_engine **out)
{
	if (!(o->prune_sparsity >= 0 && o->prune_sparsity < 1))
		return aios_fail(AIOS_ERR_INVALID, "prune sparsity %g is outside [0, 1)",
		                 o->prune_sparsity);
	if (m->n_layers < 1)
		return aios_fail(AIOS_ERR_INVALID, "model has no layers");
	struct aios_engine *e = aios_xcalloc(1, sizeof *e);
	e->n_layers = m->n_layers;
	e->n_inputs = m->n_inputs;
	e->n_outputs = m->n_outputs;
	e->acts = aios_xmalloc(sizeof *e->acts * (size_t)m->n_layers);
	for (int k = 0; k < m->n_layers; k++)
		e->acts[k] = aios_model_layer_act(m, k);
	e->width = m->n_inputs;
	if (m->norm_mean && m->norm_std) {
		e->mean = aios_xmalloc(sizeof(float) * (size_t)m->n_inputs);
		e->inv_std = aios_xmalloc(sizeof(float) * (size_t)m->n_inputs);
		for (int j = 0; j < m->n_inputs; j++) {
			e->mean[j] = m->norm_mean[j];
			e->inv_std[j] = m->norm_std[j] != 0 ? 1.0f / m->norm_std[j] : 1.0f;
		}
	}
	e->layers = aios_xcalloc((size_t)m->n_layers, sizeof *e->layers);
	for (int k = 0; k < m->n_layers; k++) {
		const struct aios_model_layer *src = &m->layers[k];
		struct elayer *l = &e->layers[k];
		size_t nw = (size_t)src->in * (size_t)src->out;
		l->in = src->in;
		l->out = src->out;
		if (src->out > e->width)
			e->width = src->out;
		l->b = aios_xmalloc(sizeof(float) * (size_t)src->out);
		memcpy(l->b, src->b, sizeof(float) * (size_t)src->out);
		float *w = aios_xmalloc(sizeof(float) * nw);
		memcpy(w, src->w, sizeof(float) * nw);
		size_t zeros = aios_prune_magnitude(w, nw, o->prune_sparsity);
		e->zeros += zeros;
		e->weights += nw;
		double density = nw ? 1.0 - (double)zeros / (double)nw : 1.0;
		if (o->quantize == AIOS_QUANT_INT8) {
			l->form = FORM_INT8;
			l->q = aios_xmalloc(nw);
			l->scale = aios_xmalloc(sizeof(float) * (size_t)src->out);
			aios_model_quantize_rows(w, src->out, src->in, l->q, l->scale);
			free(w);
		} else if (o->force_sparse ||
		           (!o->force_dense && density < AIOS_ENGINE_SPARSE_DENSITY)) {
			l->form = FORM_CSR;
			size_t nnz = nw - zeros;
			l->row_ptr = aios_xmalloc(sizeof(int32_t) * ((size_t)src->out + 1));
			l->col = aios_xmalloc(sizeof(int32_t) * (nnz ? nnz : 1));
			l->val = aios_xmalloc(sizeof(float) * (nnz ? nnz : 1));
			size_t p = 0;
			for (int u = 0; u < src->out; u++) {
				l->row_ptr[u] = (int32_t)p;
				for (int j = 0; j < src->in; j++) {
					float v = w[(size_t)u * src->in + j];
					if (v != 0) {
						l->col[p] = j;
						l->val[p++] = v;
					}
				}
			}
			l->row_ptr[src->out] = (int32_t)p;
			free(w);
			e->sparse_layers++;
		} else {
			l->form = FORM_DENSE;
			l->w = aios_xmalloc(sizeof(float) * nw); /* transposed to (in, out) */
			aios_matmul_transpose(l->w, w, src->out, src->in);
			free(w);
		}
	}
	*out = e;
	return AIOS_OK;
}

void aios_engine_free(struct aios_engine *e)
{
	if (!e)
		return;
	for (int k = 0; k < e->n_layers; k++) {
		struct elayer *l = &e->layers[k];
		free(l->w);
		free(l->b);
		free(l->row_ptr);
		free(l->col);
		free(l->val);
		free(l->q);
		free(l->scale);
	}
	free(e->layers);
	free(e->acts);
	free(e->mean);
	free(e->inv_std);
	free(e);
}

int aios_engine_inputs(const struct aios_engine *e)
{
	return e->n_inputs;
}

int aios_engine_outputs(const struct aios_engine *e)
{
	return e->n_outputs;
}

double aios_engine_sparsity(const struct aios_engine *e)
{
	return e->weights ? (double)e->zeros / (double)e->weights : 0;
}

int aios_engine_sparse_layers(const struct aios_engine *e)
{
	return e->sparse_layers;
}

/* Two activation buffers of (n, width) and int8 room for one block of 64 rows. */
size_t aios_engine_scratch_floats(const struct aios_engine *e, int n)
{
	size_t rows = (size_t)n;
	size_t i8 = (64 * (size_t)e->width + sizeof(float) - 1) / sizeof(float);
	return 2 * rows * (size_t)e->width + i8;
}

void aios_engine_forward(const struct aios_engine *e, const float *x, int n, float *y,
                         float *scratch)
{
	size_t half = (size_t)n * (size_t)e->width;
	float *cur = scratch, *nxt = scratch + half;
	int8_t *xq = (int8_t *)(scratch + 2 * half);
	const float *in = x;
	if (e->mean) {
		for (int i = 0; i < n; i++)
			for (int j = 0; j < e->n_inputs; j++) {
				size_t at = (size_t)i * e->n_inputs + j;
				cur[at] = (x[at] - e->mean[j]) * e->inv_std[j];
			}
		in = cur;
		float *t = cur;
		cur = nxt;
		nxt = t;
	}
	for (int k = 0; k < e->n_layers; k++) {
		const struct elayer *l = &e->layers[k];
		int last = k == e->n_layers - 1;
		float *dst = last ? y : cur;
		switch (l->form) {
		case FORM_DENSE:
			aios_kernel_dense_f32t(in, n, l->in, l->w, l->b, l->out, dst);
			break;
		case FORM_CSR:
			aios_kernel_csr_f32(in, n, l->in, l->row_ptr, l->col, l->val, l->b, l->out,
			                    dst);
			break;
		case FORM_INT8:
			aios_kernel_dense_i8(in, n, l->in, l->q, l->scale, l->b, l->out, dst, xq);
			break;
		}
		struct aios_model_act a = e->acts[k];
		if (aios_act_is_rowwise(a.act)) {
			for (int i = 0; i < n; i++)
				aios_act_apply_alpha(a.act, a.alpha, dst + (size_t)i * l->out,
				                     l->out);
		} else {
			aios_act_apply_alpha(a.act, a.alpha, dst, n * l->out);
		}
		in = dst;
		float *t = cur;
		cur = nxt;
		nxt = t;
	}
}
