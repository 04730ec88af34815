/*
 * nn.h - layers and losses as forward/backward pairs, and the network that strings
 * them together over one flat parameter buffer.
 *
 * Shapes: a batch of B rows; a dense layer maps (B, I) -> (B, O) with W (O, I)
 * row-major and b (O), exactly the artifact's layout (model.h), so the model's
 * params block is the parameter buffer. Gradients, and the optimizer's two moment
 * buffers, mirror it float for float: an optimizer step is one loop over all of them
 * and a gradient all-reduce is one call on the gradient buffer.
 *
 * Losses take the last layer's pre-activation z (B, O) and fuse the output activation
 * (sigmoid, softmax) with the loss for stability. Targets: mse, a value per output;
 * cross-entropy with one output, a probability in [0, 1] (sigmoid); with O > 1, a
 * class index in 0..O-1 (softmax); hinge (one output), 0/1 or -1/+1. Each returns the
 * sum of the per-row losses and writes dz = d(mean loss)/dz, scaled by inv_n (1 / the
 * whole batch's rows, so partial batches on several threads add up).
 */
#ifndef AIOS_TRAINER_NN_H
#define AIOS_TRAINER_NN_H

#include <stddef.h>

#include "model/model.h"

enum trainer_loss { TRAINER_LOSS_MSE, TRAINER_LOSS_CROSS_ENTROPY, TRAINER_LOSS_HINGE };

const char *trainer_loss_name(enum trainer_loss l);
/* "mse" | "cross_entropy" | "hinge" (also "ce", "bce"); -1 otherwise. */
int trainer_loss_parse(const char *s);

/* ---------------------------------------------------------------- layers */

/* out (B, O) = in (B, I) . W^T + b, where wt is W^T (I, O). */
void trainer_dense_forward(float *out, const float *in, const float *wt, const float *b, int B,
                           int I, int O);
/*
 * Accumulates dw (O, I) += dout^T . in and db (O) += column sums of dout; writes
 * din (B, I) = dout . W unless din is NULL (the first layer needs no input gradient).
 * scratch: O * B floats.
 */
void trainer_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                            const float *w, int B, int I, int O, float *scratch);
/* The same with the naive kernel and no transposes: the reference for tests. */
void trainer_dense_forward_ref(float *out, const float *in, const float *w, const float *b, int B,
                               int I, int O);
void trainer_dense_backward_ref(float *din, float *dw, float *db, const float *dout,
                                const float *in, const float *w, int B, int I, int O);

/* Elementwise activation in place (identity, relu, tanh, sigmoid). */
void trainer_act_forward(enum aios_act a, float *x, size_t n);
/* d *= f'(.) given the activation's output y (in place). */
void trainer_act_backward(enum aios_act a, float *d, const float *y, size_t n);

/* ---------------------------------------------------------------- losses */

/*
 * Loss of z (B, O) against targets t (B, tcols) where tcols = trainer_loss_target_cols.
 * out_act is the output activation (identity, sigmoid or softmax) the loss fuses.
 * Returns the sum over rows; writes dz (B, O) = gradient of the batch mean * inv_n*B.
 */
double trainer_loss_forward_backward(enum trainer_loss l, enum aios_act out_act, const float *z,
                                     const float *t, float *dz, int B, int O, float inv_n);
/* Target columns per row: O for mse, 1 otherwise. */
int trainer_loss_target_cols(enum trainer_loss l, int O);
/* 1 for the losses of classification (cross_entropy, hinge), whose models have an
 * accuracy; 0 for mse (regression). */
int trainer_loss_classifies(enum trainer_loss l);
/*
 * Rows of z (B, O) whose predicted class is the target's: softmax, the argmax of z (the
 * first on ties) against the class index; sigmoid, p >= 0.5 (z >= 0) against t >= 0.5;
 * hinge, z >= 0 against t > 0. 0 for mse.
 */
int trainer_loss_correct(enum trainer_loss l, enum aios_act out_act, const float *z, const float *t,
                         int B, int O);

/* ---------------------------------------------------------------- network */

struct trainer_net {
	struct aios_model *model; /* owned; model->params is the parameter buffer */
	enum trainer_loss loss;
	size_t n_params;
	float *params;  /* = model->params */
	float *grads;   /* n_params, mirrors params */
	float *m1, *m2; /* optimizer moments, n_params each, mirror params */
	float *wt;      /* n_params: each layer's W^T at W's offset (refreshed before a step) */
	int max_width;  /* widest layer including the input */
	int tcols;      /* target columns per row */
};

/* Per-thread working memory for up to `rows` rows at a time. */
struct trainer_ws {
	int rows;
	float *acts;    /* every layer's output, (rows, out_k) back to back */
	float *d0, *d1; /* (rows, max_width) gradients flowing back */
	float *scratch; /* (max_width, rows) */
	float *grads;   /* n_params: this thread's gradient */
};

/* Takes ownership of model. */
void trainer_net_init(struct trainer_net *net, struct aios_model *model, enum trainer_loss loss);
void trainer_net_cleanup(struct trainer_net *net);
/* Weights: glorot-uniform for MLPs (from the seed), zeros for one-layer models; biases zero. */
void trainer_net_init_params(struct trainer_net *net, unsigned long long seed);
/* Recomputes wt from params (call after every parameter update, before forward). */
void trainer_net_refresh(struct trainer_net *net);
/*
 * Share part (0..parts-1) of layer's output rows: [*r0, *r1), boundaries at multiples of
 * 16 rows, so the shares of W (rows), b and W^T (columns) of different parts never meet
 * within a 64-byte line of W^T's rows; the parts' shares cover the layer once.
 */
void trainer_net_layer_share(const struct trainer_net *net, int layer, int part, int parts, int *r0,
                             int *r1);
/* trainer_net_refresh for share part of every layer only: parts threads write disjoint
 * elements and together make trainer_net_refresh. */
void trainer_net_refresh_part(struct trainer_net *net, int part, int parts);

void trainer_ws_init(struct trainer_ws *ws, const struct trainer_net *net, int rows);
void trainer_ws_cleanup(struct trainer_ws *ws);

/*
 * Forward and backward over rows x (rows, n_inputs) / t (rows, tcols), rows <= ws->rows;
 * adds this slice's gradient (scaled by inv_n) to grads. Returns the summed loss.
 */
double trainer_net_train_rows(const struct trainer_net *net, struct trainer_ws *ws, const float *x,
                              const float *t, int rows, float inv_n, float *grads);
/* Loss of rows without gradients (validation); summed over rows. correct (may be NULL)
 * gets the rows classified right (trainer_loss_correct). */
double trainer_net_eval_rows(const struct trainer_net *net, struct trainer_ws *ws, const float *x,
                             const float *t, int rows, int *correct);

#endif
