/*
 * dist_stage.c - an MLP pipeline stage over the trainer's reference layers
 * (see dist_stage.h).
 */
#include "dist_stage.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

struct aios_dist_stage {
	const struct aios_model *m;
	enum trainer_loss loss;
	int first, last, rows;
	float *grads;
	const float *t; /* (rows, tcols) targets of the step (last stage) */
	int tcols;
	float inv_n;
	/*
	 * acts[k] for k = 0..(last-first): the input of layer first+k over the whole step,
	 * (rows, width) with the micro-batch at row0; acts[last-first] is the stage output.
	 */
	float **acts;
	int *row0;      /* per micro-batch: first row */
	float *d0, *d1; /* (rows of one micro-batch, widest layer) gradients flowing back */
	int max_width;
};

static size_t param_off(const struct aios_model *m, int layer)
{
	return (size_t)(m->layers[layer].w - m->params);
}

struct aios_dist_stage *aios_dist_stage_new(const struct aios_model *m, enum trainer_loss loss,
                                            int first, int last, int rows, float *grads)
{
	struct aios_dist_stage *st = aios_xcalloc(1, sizeof(*st));
	st->m = m;
	st->loss = loss;
	st->first = first;
	st->last = last;
	st->rows = rows;
	st->grads = grads;
	st->tcols = trainer_loss_target_cols(loss, m->n_outputs);
	int n = last - first;
	st->acts = aios_xcalloc((size_t)n + 1, sizeof(float *));
	st->max_width = 1;
	for (int k = 0; k <= n; k++) {
		int w = k < n ? m->layers[first + k].in : m->layers[last - 1].out;
		if (w > st->max_width)
			st->max_width = w;
		st->acts[k] = aios_xcalloc((size_t)rows * (size_t)w + 1, sizeof(float));
	}
	st->row0 = aios_xcalloc(AIOS_DIST_PIPE_MAX_MICRO, sizeof(int));
	st->d0 = aios_xcalloc((size_t)rows * (size_t)st->max_width + 1, sizeof(float));
	st->d1 = aios_xcalloc((size_t)rows * (size_t)st->max_width + 1, sizeof(float));
	return st;
}

void aios_dist_stage_free(struct aios_dist_stage *st)
{
	if (!st)
		return;
	for (int k = 0; k <= st->last - st->first; k++)
		free(st->acts[k]);
	free(st->acts);
	free(st->row0);
	free(st->d0);
	free(st->d1);
	free(st);
}

void aios_dist_stage_set_targets(struct aios_dist_stage *st, const float *t, float inv_n)
{
	st->t = t;
	st->inv_n = inv_n;
}

void aios_dist_stage_range(const struct aios_dist_stage *st, size_t *off, size_t *len)
{
	const struct aios_model *m = st->m;
	*off = param_off(m, st->first);
	size_t end = st->last < m->n_layers ? param_off(m, st->last) : aios_model_param_count(m);
	*len = end - *off;
}

static void fwd(void *ctx, int mb, int row0, int rows, const float *in, float *out)
{
	struct aios_dist_stage *st = ctx;
	const struct aios_model *m = st->m;
	st->row0[mb] = row0;
	int n = st->last - st->first;
	memcpy(st->acts[0] + (size_t)row0 * (size_t)m->layers[st->first].in, in,
	       (size_t)rows * (size_t)m->layers[st->first].in * sizeof(float));
	for (int k = 0; k < n; k++) {
		int l = st->first + k;
		const struct aios_model_layer *L = &m->layers[l];
		float *x = st->acts[k] + (size_t)row0 * (size_t)L->in;
		float *y = st->acts[k + 1] + (size_t)row0 * (size_t)L->out;
		trainer_dense_forward_ref(y, x, L->w, L->b, rows, L->in, L->out);
		/* hidden layers apply the activation; the model's last layer stays z (the loss
		 * fuses the output activation) */
		if (l != m->n_layers - 1)
			trainer_act_forward(m->hidden, y, (size_t)rows * (size_t)L->out);
	}
	memcpy(out, st->acts[n] + (size_t)row0 * (size_t)m->layers[st->last - 1].out,
	       (size_t)rows * (size_t)m->layers[st->last - 1].out * sizeof(float));
}

static double loss(void *ctx, int mb, int row0, int rows, const float *out, float *dout)
{
	struct aios_dist_stage *st = ctx;
	const struct aios_model *m = st->m;
	(void)mb;
	return trainer_loss_forward_backward(st->loss, m->output, out,
	                                     st->t + (size_t)row0 * (size_t)st->tcols, dout, rows,
	                                     m->n_outputs, st->inv_n);
}

static void bwd(void *ctx, int mb, int rows, const float *dout, float *din)
{
	struct aios_dist_stage *st = ctx;
	const struct aios_model *m = st->m;
	int row0 = st->row0[mb], n = st->last - st->first;
	float *d = st->d0, *dnext = st->d1;
	memcpy(d, dout, (size_t)rows * (size_t)m->layers[st->last - 1].out * sizeof(float));
	for (int k = n - 1; k >= 0; k--) {
		int l = st->first + k;
		const struct aios_model_layer *L = &m->layers[l];
		const float *x = st->acts[k] + (size_t)row0 * (size_t)L->in;
		const float *y = st->acts[k + 1] + (size_t)row0 * (size_t)L->out;
		if (l != m->n_layers - 1)
			trainer_act_backward(m->hidden, d, y, (size_t)rows * (size_t)L->out);
		float *dw = st->grads + param_off(m, l);
		float *db = st->grads + (L->b - m->params);
		float *dx = k > 0 ? dnext : din;
		trainer_dense_backward_ref(dx, dw, db, d, x, L->w, rows, L->in, L->out);
		float *tmp = d;
		d = dnext;
		dnext = tmp;
	}
}

struct aios_dist_pipe_ops aios_dist_stage_ops(struct aios_dist_stage *st)
{
	struct aios_dist_pipe_ops ops = {
	    .ctx = st,
	    .in_width = st->m->layers[st->first].in,
	    .out_width = st->m->layers[st->last - 1].out,
	    .forward = fwd,
	    .loss = loss,
	    .backward = bwd,
	};
	return ops;
}
