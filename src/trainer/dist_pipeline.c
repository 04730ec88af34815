/*
 * dist_pipeline.c - GPipe schedule between neighbouring stages (see dist_pipeline.h).
 */
#include "dist_pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

enum aios_err aios_dist_pipe_split(int n_layers, const size_t *param_counts, int stages, int *first)
{
	if (stages < 1 || stages > n_layers)
		return aios_fail(AIOS_ERR_INVALID,
		                 "pipeline: %d stages for %d layers (each stage needs a layer)",
		                 stages, n_layers);
	/* best[s][l]: smallest possible largest stage when layers [0, l) form s stages. */
	size_t L = (size_t)n_layers + 1;
	size_t *best = aios_xmalloc(((size_t)stages + 1) * L * sizeof(size_t));
	int *cut = aios_xmalloc(((size_t)stages + 1) * L * sizeof(int));
	size_t *prefix = aios_xcalloc(L, sizeof(size_t));
	for (int l = 0; l < n_layers; l++)
		prefix[l + 1] = prefix[l] + param_counts[l];
	for (size_t i = 0; i < ((size_t)stages + 1) * L; i++)
		best[i] = (size_t)-1;
	best[0] = 0;
	for (int s = 1; s <= stages; s++)
		for (int l = s; l <= n_layers; l++)
			for (int k = s - 1; k < l; k++) {
				size_t prev = best[(size_t)(s - 1) * L + (size_t)k];
				if (prev == (size_t)-1)
					continue;
				size_t here = prefix[l] - prefix[k];
				size_t worst = prev > here ? prev : here;
				if (worst < best[(size_t)s * L + (size_t)l]) {
					best[(size_t)s * L + (size_t)l] = worst;
					cut[(size_t)s * L + (size_t)l] = k;
				}
			}
	first[stages] = n_layers;
	for (int s = stages, l = n_layers; s > 0; s--) {
		l = cut[(size_t)s * L + (size_t)l];
		first[s - 1] = l;
	}
	free(best);
	free(cut);
	free(prefix);
	return AIOS_OK;
}

enum aios_err aios_dist_pipe_step(struct aios_dist *d, const struct aios_dist_pipe_ops *ops,
                                  int rows, int micro, const float *x, double *loss)
{
	int s = aios_dist_rank(d), S = aios_dist_world(d);
	*loss = 0;
	if (micro < 1 || micro > AIOS_DIST_PIPE_MAX_MICRO || micro > rows)
		return aios_fail(AIOS_ERR_INVALID, "pipeline: %d micro-batches for %d rows", micro,
		                 rows);
	int first = s == 0, last = s == S - 1;
	uint32_t tag = aios_dist_next_tag(d);
	int base = rows / micro, extra = rows % micro, max_rows = base + (extra ? 1 : 0);
	size_t in_w = (size_t)ops->in_width, out_w = (size_t)ops->out_width;
	float *in = aios_xmalloc((size_t)max_rows * in_w * sizeof(float) + 4);
	float *out = aios_xmalloc((size_t)max_rows * out_w * sizeof(float) + 4);
	enum aios_err e = AIOS_OK;
	/* fill (and, on the last stage, the turn) */
	for (int mb = 0, row0 = 0; mb < micro && !e; mb++) {
		int r = base + (mb < extra ? 1 : 0);
		const float *src = x ? x + (size_t)row0 * in_w : NULL;
		if (!first) {
			e = aios_dist_recv_floats(d, s - 1, AIOS_DIST_PIPE_ACT, tag, in,
			                          (size_t)r * in_w);
			src = in;
		}
		if (e)
			break;
		ops->forward(ops->ctx, mb, row0, r, src, out);
		if (last) {
			/* out becomes dout in place is not allowed: use `in` after backward */
			float *dout = aios_xmalloc((size_t)r * out_w * sizeof(float) + 4);
			*loss += ops->loss(ops->ctx, mb, row0, r, out, dout);
			ops->backward(ops->ctx, mb, r, dout, first ? NULL : in);
			free(dout);
			if (!first)
				e = aios_dist_send_floats(d, s - 1, AIOS_DIST_PIPE_GRAD, tag, in,
				                          (size_t)r * in_w);
		} else {
			e = aios_dist_send_floats(d, s + 1, AIOS_DIST_PIPE_ACT, tag, out,
			                          (size_t)r * out_w);
		}
		row0 += r;
	}
	/* drain */
	for (int mb = 0; mb < micro && !e && !last; mb++) {
		int r = base + (mb < extra ? 1 : 0);
		e = aios_dist_recv_floats(d, s + 1, AIOS_DIST_PIPE_GRAD, tag, out,
		                          (size_t)r * out_w);
		if (e)
			break;
		ops->backward(ops->ctx, mb, r, out, first ? NULL : in);
		if (!first)
			e = aios_dist_send_floats(d, s - 1, AIOS_DIST_PIPE_GRAD, tag, in,
			                          (size_t)r * in_w);
	}
	free(in);
	free(out);
	return e ? aios_fail_wrap(e, "pipeline stage %d", s) : AIOS_OK;
}

enum aios_err aios_dist_pipe_gather(struct aios_dist *d, float *params, const size_t *off)
{
	int rank = aios_dist_rank(d), world = aios_dist_world(d);
	uint32_t tag = aios_dist_next_tag(d);
	if (rank != 0)
		return aios_dist_send_floats(d, 0, AIOS_DIST_DATA, tag, params + off[rank],
		                             off[rank + 1] - off[rank]);
	for (int r = 1; r < world; r++) {
		enum aios_err e = aios_dist_recv_floats(d, r, AIOS_DIST_DATA, tag, params + off[r],
		                                        off[r + 1] - off[r]);
		if (e)
			return aios_fail_wrap(e, "pipeline: gathering the parameters of stage %d",
			                      r);
	}
	return AIOS_OK;
}
