/*
 * nn.c - dense layers, activations, losses and the network's pass over a slice of a
 * batch (see nn.h). Everything here is single-threaded; train.c splits a batch into
 * slices, one per thread, and adds the slices' gradients in a fixed order.
 */
#include "nn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/matmul.h"
#include "common/mem.h"
#include "rng.h"

/* ---------------------------------------------------------------- names */

const char *trainer_loss_name(enum trainer_loss l)
{
	switch (l) {
	case TRAINER_LOSS_MSE: return "mse";
	case TRAINER_LOSS_CROSS_ENTROPY: return "cross_entropy";
	case TRAINER_LOSS_HINGE: return "hinge";
	}
	return "unknown";
}

int trainer_loss_parse(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "mse"))
		return TRAINER_LOSS_MSE;
	if (!strcmp(s, "cross_entropy") || !strcmp(s, "ce") || !strcmp(s, "bce"))
		return TRAINER_LOSS_CROSS_ENTROPY;
	if (!strcmp(s, "hinge"))
		return TRAINER_LOSS_HINGE;
	return -1;
}

/* ---------------------------------------------------------------- dense layer */

void trainer_dense_forward(float *out, const float *in, const float *wt, const float *b, int B,
                           int I, int O)
{
	for (int r = 0; r < B; r++)
		memcpy(out + (size_t)r * O, b, (size_t)O * sizeof(float));
	aios_matmul(out, in, wt, B, I, O, 1);
}

void trainer_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int B, int I, int O, float *scratch)
{
	aios_matmul_transpose(scratch, dout, B, O); /* (O, B) */
	aios_matmul(dw, scratch, in, O, B, I, 1);
	for (int o = 0; o < O; o++) {
		const float *row = scratch + (size_t)o * B;
		float s = 0;
		for (int r = 0; r < B; r++)
			s += row[r];
		db[o] += s;
	}
	if (din)
		aios_matmul(din, dout, w, B, O, I, 0);
}

void trainer_dense_forward_ref(float *out, const float *in, const float *w, const float *b, int B,
                               int I, int O)
{
	for (int r = 0; r < B; r++)
		for (int o = 0; o < O; o++) {
			float s = b[o];
			for (int i = 0; i < I; i++)
				s += in[(size_t)r * I + i] * w[(size_t)o * I + i];
			out[(size_t)r * O + o] = s;
		}
}

void trainer_dense_backward_ref(float *din, float *dw, float *db, const float *dout,
                                const float *in, const float *w, int B, int I, int O)
{
	for (int r = 0; r < B; r++)
		for (int o = 0; o < O; o++) {
			float g = dout[(size_t)r * O + o];
			db[o] += g;
			for (int i = 0; i < I; i++)
				dw[(size_t)o * I + i] += g * in[(size_t)r * I + i];
		}
	if (!din)
		return;
	for (int r = 0; r < B; r++)
		for (int i = 0; i < I; i++) {
			float s = 0;
			for (int o = 0; o < O; o++)
				s += dout[(size_t)r * O + o] * w[(size_t)o * I + i];
			din[(size_t)r * I + i] = s;
		}
}

/* ---------------------------------------------------------------- activations */

static float sigmoidf(float z)
{
	if (z >= 0)
		return 1.0f / (1.0f + expf(-z));
	float e = expf(z);
	return e / (1.0f + e);
}

void trainer_act_forward(enum aios_act a, float *x, size_t n)
{
	switch (a) {
	case AIOS_ACT_RELU:
		for (size_t i = 0; i < n; i++)
			x[i] = x[i] > 0 ? x[i] : 0;
		break;
	case AIOS_ACT_TANH:
		for (size_t i = 0; i < n; i++)
			x[i] = tanhf(x[i]);
		break;
	case AIOS_ACT_SIGMOID:
		for (size_t i = 0; i < n; i++)
			x[i] = sigmoidf(x[i]);
		break;
	case AIOS_ACT_IDENTITY:
	case AIOS_ACT_SOFTMAX: /* only ever fused into the loss */
	case AIOS_ACT_LEAKY_RELU:
	case AIOS_ACT_LOG_SOFTMAX: /* ONNX models' only (aios_act_parse never yields them) */ break;
	}
}

void trainer_act_backward(enum aios_act a, float *d, const float *y, size_t n)
{
	switch (a) {
	case AIOS_ACT_RELU:
		for (size_t i = 0; i < n; i++)
			d[i] = y[i] > 0 ? d[i] : 0;
		break;
	case AIOS_ACT_TANH:
		for (size_t i = 0; i < n; i++)
			d[i] *= 1.0f - y[i] * y[i];
		break;
	case AIOS_ACT_SIGMOID:
		for (size_t i = 0; i < n; i++)
			d[i] *= y[i] * (1.0f - y[i]);
		break;
	case AIOS_ACT_IDENTITY:
	case AIOS_ACT_SOFTMAX:
	case AIOS_ACT_LEAKY_RELU:
	case AIOS_ACT_LOG_SOFTMAX: break;
	}
}

/* ---------------------------------------------------------------- losses */

int trainer_loss_target_cols(enum trainer_loss l, int O)
{
	return l == TRAINER_LOSS_MSE ? O : 1;
}

int trainer_loss_classifies(enum trainer_loss l)
{
	return l != TRAINER_LOSS_MSE;
}

int trainer_loss_correct(enum trainer_loss l, enum aios_act out_act, const float *z, const float *t,
                         int B, int O)
{
	int right = 0;
	for (int r = 0; r < B && l != TRAINER_LOSS_MSE; r++) {
		const float *zr = z + (size_t)r * O;
		if (l == TRAINER_LOSS_HINGE)
			right += (zr[0] >= 0) == (t[r] > 0);
		else if (out_act == AIOS_ACT_SOFTMAX) {
			int best = 0;
			for (int o = 1; o < O; o++)
				best = zr[o] > zr[best] ? o : best;
			right += best == (int)t[r];
		} else
			right += (zr[0] >= 0) == (t[r] >= 0.5f);
	}
	return right;
}

double trainer_loss_forward_backward(enum trainer_loss l, enum aios_act out_act, const float *z,
                                     const float *t, float *dz, int B, int O, float inv_n)
{
	double total = 0;
	for (int r = 0; r < B; r++) {
		const float *zr = z + (size_t)r * O;
		float *dr = dz + (size_t)r * O;
		if (l == TRAINER_LOSS_MSE) {
			const float *tr = t + (size_t)r * O;
			double s = 0;
			for (int o = 0; o < O; o++) {
				float d = zr[o] - tr[o];
				s += (double)d * d;
				dr[o] = 2.0f * d / (float)O * inv_n;
			}
			total += s / O;
		} else if (l == TRAINER_LOSS_HINGE) {
			float y = t[r] > 0 ? 1.0f : -1.0f;
			float margin = 1.0f - y * zr[0];
			total += margin > 0 ? margin : 0;
			dr[0] = margin > 0 ? -y * inv_n : 0.0f;
		} else if (out_act == AIOS_ACT_SOFTMAX) {
			int c = (int)t[r];
			c = c < 0 ? 0 : c >= O ? O - 1 : c; /* data.c validated the labels */
			float mx = zr[0];
			for (int o = 1; o < O; o++)
				mx = fmaxf(mx, zr[o]);
			double sum = 0;
			for (int o = 0; o < O; o++)
				sum += exp((double)(zr[o] - mx));
			double lse = mx + log(sum);
			total += lse - zr[c];
			for (int o = 0; o < O; o++)
				dr[o] = ((float)exp((double)zr[o] - lse) - (o == c ? 1.0f : 0.0f)) *
				        inv_n;
		} else { /* binary cross-entropy on a sigmoid output */
			float zz = zr[0], tt = t[r];
			total += fmaxf(zz, 0) - zz * tt + log1pf(expf(-fabsf(zz)));
			dr[0] = (sigmoidf(zz) - tt) * inv_n;
		}
	}
	return total;
}

/* ---------------------------------------------------------------- network */

void trainer_net_init(struct trainer_net *net, struct aios_model *model, enum trainer_loss loss)
{
	memset(net, 0, sizeof(*net));
	net->model = model;
	net->loss = loss;
	net->n_params = aios_model_param_count(model);
	net->params = model->params;
	net->grads = aios_xcalloc(net->n_params, sizeof(float));
	net->m1 = aios_xcalloc(net->n_params, sizeof(float));
	net->m2 = aios_xcalloc(net->n_params, sizeof(float));
	net->wt = aios_xcalloc(net->n_params, sizeof(float));
	net->max_width = model->n_inputs;
	for (int k = 0; k < model->n_layers; k++)
		if (model->layers[k].out > net->max_width)
			net->max_width = model->layers[k].out;
	net->tcols = trainer_loss_target_cols(loss, model->n_outputs);
	trainer_net_refresh(net);
}

void trainer_net_cleanup(struct trainer_net *net)
{
	aios_model_free(net->model);
	free(net->grads);
	free(net->m1);
	free(net->m2);
	free(net->wt);
	memset(net, 0, sizeof(*net));
}

void trainer_net_init_params(struct trainer_net *net, unsigned long long seed)
{
	struct aios_model *m = net->model;
	memset(net->params, 0, net->n_params * sizeof(float));
	if (m->n_layers > 1) {
		struct trainer_rng rng;
		trainer_rng_seed(&rng, seed ^ 0x5eed0f1a7e5ull);
		for (int k = 0; k < m->n_layers; k++) {
			struct aios_model_layer *l = &m->layers[k];
			double lim = sqrt(6.0 / (l->in + l->out));
			for (size_t i = 0; i < (size_t)l->out * l->in; i++)
				l->w[i] = (float)((2.0 * trainer_rng_uniform(&rng) - 1.0) * lim);
		}
	}
	trainer_net_refresh(net);
}

void trainer_net_refresh(struct trainer_net *net)
{
	trainer_net_refresh_part(net, 0, 1);
}

void trainer_net_layer_share(const struct trainer_net *net, int layer, int part, int parts, int *r0,
                             int *r1)
{
	const int out = net->model->layers[layer].out;
	*r0 = part == 0 ? 0 : (int)((int64_t)out * part / parts) & ~15;
	*r1 = part == parts - 1 ? out : (int)((int64_t)out * (part + 1) / parts) & ~15;
}

void trainer_net_refresh_part(struct trainer_net *net, int part, int parts)
{
	const struct aios_model *m = net->model;
	for (int k = 0; k < m->n_layers; k++) {
		const struct aios_model_layer *l = &m->layers[k];
		int r0, r1;
		trainer_net_layer_share(net, k, part, parts, &r0, &r1);
		aios_matmul_transpose_rows(net->wt + (l->w - net->params), l->w, l->out, l->in, r0,
		                           r1);
	}
}

void trainer_ws_init(struct trainer_ws *ws, const struct trainer_net *net, int rows)
{
	const struct aios_model *m = net->model;
	size_t act = 0;
	for (int k = 0; k < m->n_layers; k++)
		act += (size_t)m->layers[k].out;
	ws->rows = rows;
	ws->acts = aios_xmalloc(act * rows * sizeof(float));
	ws->d0 = aios_xmalloc((size_t)net->max_width * rows * sizeof(float));
	ws->d1 = aios_xmalloc((size_t)net->max_width * rows * sizeof(float));
	ws->scratch = aios_xmalloc((size_t)net->max_width * rows * sizeof(float));
	ws->grads = aios_xcalloc(net->n_params, sizeof(float));
}

void trainer_ws_cleanup(struct trainer_ws *ws)
{
	free(ws->acts);
	free(ws->d0);
	free(ws->d1);
	free(ws->scratch);
	free(ws->grads);
	memset(ws, 0, sizeof(*ws));
}

/* Forward through every layer; returns the last layer's pre-activation (rows, O). */
static float *forward(const struct trainer_net *net, struct trainer_ws *ws, const float *x,
                      int rows)
{
	const struct aios_model *m = net->model;
	const float *in = x;
	float *out = ws->acts;
	for (int k = 0; k < m->n_layers; k++) {
		const struct aios_model_layer *l = &m->layers[k];
		if (k > 0)
			out += (size_t)rows * m->layers[k - 1].out;
		trainer_dense_forward(out, in, net->wt + (l->w - net->params), l->b, rows, l->in,
		                      l->out);
		if (k < m->n_layers - 1)
			trainer_act_forward(m->hidden, out, (size_t)rows * l->out);
		in = out;
	}
	return out;
}

double trainer_net_train_rows(const struct trainer_net *net, struct trainer_ws *ws, const float *x,
                              const float *t, int rows, float inv_n, float *grads)
{
	const struct aios_model *m = net->model;
	float *z = forward(net, ws, x, rows);
	double loss = trainer_loss_forward_backward(net->loss, m->output, z, t, ws->d0, rows,
	                                            m->n_outputs, inv_n);
	float *dout = ws->d0, *din = ws->d1;
	float *act_out = z; /* output of layer k */
	for (int k = m->n_layers - 1; k >= 0; k--) {
		const struct aios_model_layer *l = &m->layers[k];
		const float *in = k > 0 ? act_out - (size_t)rows * l->in : x;
		float *dw = grads + (l->w - net->params), *db = grads + (l->b - net->params);
		trainer_dense_backward(k > 0 ? din : NULL, dw, db, dout, in, l->w, rows, l->in,
		                       l->out, ws->scratch);
		if (k > 0) {
			trainer_act_backward(m->hidden, din, in, (size_t)rows * l->in);
			float *tmp = dout;
			dout = din;
			din = tmp;
			act_out = (float *)in;
		}
	}
	return loss;
}

double trainer_net_eval_rows(const struct trainer_net *net, struct trainer_ws *ws, const float *x,
                             const float *t, int rows, int *correct)
{
	const struct aios_model *m = net->model;
	float *z = forward(net, ws, x, rows);
	if (correct)
		*correct = trainer_loss_correct(net->loss, m->output, z, t, rows, m->n_outputs);
	return trainer_loss_forward_backward(net->loss, m->output, z, t, ws->d0, rows, m->n_outputs,
	                                     1.0f);
}
