/*
 * optim.h - optimizers: one loop over the flat parameter, gradient and moment buffers.
 *
 *   gd, sgd   p -= lr * g
 *   momentum  v = mu * v + g;  p -= lr * v                        (m1 holds v)
 *   adam      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *             p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)   (t from 1)
 *             computed as p -= (lr / (1 - b1^t)) m / (sqrt(v) (1 - b2^t)^-1/2 + eps): one
 *             division and one square root per parameter
 * Moments below FLT_MIN are stored as zero (optim.c says why).
 * Weight decay is L2 added to the gradient first (g += wd * p), as PyTorch's SGD and
 * Adam do. gd and sgd differ only in the batch: gd uses the whole training set.
 */
#ifndef AIOS_TRAINER_OPTIM_H
#define AIOS_TRAINER_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "common/matmul.h"

enum trainer_optim_type { TRAINER_OPT_GD, TRAINER_OPT_SGD, TRAINER_OPT_MOMENTUM, TRAINER_OPT_ADAM };

struct trainer_optim {
	enum trainer_optim_type type;
	float lr, momentum, beta1, beta2, epsilon, weight_decay;
};

const char *trainer_optim_name(enum trainer_optim_type t);
/* "gd" | "sgd" | "momentum" | "adam"; -1 otherwise. */
int trainer_optim_parse(const char *s);

/*
 * One update of n parameters; step is the 1-based count of updates so far, this one
 * included. Each parameter's update depends on its own elements only, so a step over a
 * slice of the buffers (a thread's, a parameter server's) gives the same bits as the
 * step over the whole.
 */
void trainer_optim_step(const struct trainer_optim *o, int64_t step, float *p, const float *g,
                        float *m1, float *m2, size_t n);
/* The same with the given variant's loops (the scalar reference where the CPU lacks
 * them); every variant gives the same bits. For tests and benchmarks. */
void trainer_optim_step_isa(enum aios_matmul_isa isa, const struct trainer_optim *o, int64_t step,
                            float *p, const float *g, float *m1, float *m2, size_t n);

#endif
