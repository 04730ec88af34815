/*
 * dist_pipeline.h - pipeline model parallelism: an MLP's layers are cut into contiguous
 * stages, one per rank (rank s runs stage s), and each training step runs GPipe-style
 * over micro-batches:
 *
 *   fill:  stage 0 runs forward on micro-batch 0 and sends its activations on, then
 *          micro-batch 1, ...; stage s forwards each micro-batch as it arrives, so while
 *          stage 1 works on micro-batch k, stage 0 already works on k + 1;
 *   turn:  the last stage computes the loss of each micro-batch as soon as it has its
 *          output, and sends the gradient w.r.t. its input back at once;
 *   drain: stage s runs backward for the micro-batches in order 0..M-1 as their
 *          gradients arrive, accumulating parameter gradients, and sends the gradient
 *          w.r.t. its input to stage s - 1.
 * Every stage keeps the activations of all M micro-batches until their backward pass
 * (GPipe's memory cost). Parameter gradients are accumulated in micro-batch order, and
 * the loss is scaled by 1 / (whole batch), so after a step each stage holds exactly the
 * gradient of the full batch for its layers, as one process would compute it (up to
 * float summation order); each stage then runs the optimizer on its own parameters.
 * The receiver thread buffers frames, so sends never wait on a busy neighbour.
 */
#ifndef AIOS_DIST_PIPELINE_H
#define AIOS_DIST_PIPELINE_H

#include <stddef.h>

#include "common/err.h"
#include "dist_rendezvous.h"

#define AIOS_DIST_PIPE_MAX_MICRO 1024 /* micro-batches per step */

/* What one stage computes; the pipeline moves the tensors between stages. */
struct aios_dist_pipe_ops {
	void *ctx;
	int in_width;  /* columns of this stage's input activations */
	int out_width; /* columns of its output */
	/* out (rows, out_width) = stage(in (rows, in_width)) for micro-batch mb; keeps what
	 * backward needs. On stage 0, in points at the micro-batch's rows of the input x. */
	void (*forward)(void *ctx, int mb, int row0, int rows, const float *in, float *out);
	/* Last stage only: loss of micro-batch mb (sum over its rows) and dout = d(loss of
	 * the whole batch)/d out (rows, out_width). */
	double (*loss)(void *ctx, int mb, int row0, int rows, const float *out, float *dout);
	/* Accumulates parameter gradients of micro-batch mb; writes din (rows, in_width)
	 * unless din is NULL (stage 0). */
	void (*backward)(void *ctx, int mb, int rows, const float *dout, float *din);
};

/*
 * Cuts n_layers dense layers (param_counts[i] parameters each) into `stages` contiguous
 * groups with the largest group as small as possible; first[s] is stage s's first layer,
 * first[stages] = n_layers. AIOS_ERR_INVALID if stages > n_layers.
 */
enum aios_err aios_dist_pipe_split(int n_layers, const size_t *param_counts, int stages,
                                   int *first) AIOS_MUST_CHECK;

/*
 * One training step over `rows` rows cut into `micro` micro-batches (the first rows %
 * micro get one row more). x: (rows, in_width) on stage 0, ignored elsewhere. On the
 * last stage *loss is the summed loss of the step; elsewhere 0.
 */
enum aios_err aios_dist_pipe_step(struct aios_dist *d, const struct aios_dist_pipe_ops *ops,
                                  int rows, int micro, const float *x,
                                  double *loss) AIOS_MUST_CHECK;

/*
 * Gathers the flat parameter vector at rank 0: rank s owns floats
 * [off[s], off[s + 1]) of params (n = off[world]) and sends them; rank 0 receives the
 * others into place.
 */
enum aios_err aios_dist_pipe_gather(struct aios_dist *d, float *params,
                                    const size_t *off) AIOS_MUST_CHECK;

#endif
