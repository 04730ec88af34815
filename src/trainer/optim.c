/*
 * optim.c - gradient descent, momentum and Adam over flat buffers (see optim.h).
 */
#include "optim.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"gd", "sgd", "momentum", "adam"};

const char *trainer_optim_name(enum trainer_optim_type t)
{
	return (unsigned)t < 4 ? names[t] : "unknown";
}

int trainer_optim_parse(const char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

void trainer_optim_step(const struct trainer_optim *o, int64_t step, float *p, const float *g,
                        float *m1, float *m2, size_t n)
{
	const float lr = o->lr, wd = o->weight_decay;
	switch (o->type) {
	case TRAINER_OPT_GD:
	case TRAINER_OPT_SGD:
		for (size_t i = 0; i < n; i++)
			p[i] -= lr * (g[i] + wd * p[i]);
		break;
	case TRAINER_OPT_MOMENTUM: {
		const float mu = o->momentum;
		for (size_t i = 0; i < n; i++) {
			m1[i] = mu * m1[i] + (g[i] + wd * p[i]);
			p[i] -= lr * m1[i];
		}
		break;
	}
	case TRAINER_OPT_ADAM: {
		const float b1 = o->beta1, b2 = o->beta2, eps = o->epsilon;
		const float c1 = (float)(1.0 - pow(b1, (double)step));
		const float c2 = (float)(1.0 - pow(b2, (double)step));
		for (size_t i = 0; i < n; i++) {
			float gi = g[i] + wd * p[i];
			m1[i] = b1 * m1[i] + (1.0f - b1) * gi;
			m2[i] = b2 * m2[i] + (1.0f - b2) * gi * gi;
			p[i] -= lr * (m1[i] / c1) / (sqrtf(m2[i] / c2) + eps);
		}
		break;
	}
	}
}
