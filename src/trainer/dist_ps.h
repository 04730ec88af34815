/*
 * dist_ps.h - parameter servers: ranks of role "ps" hold contiguous shards of the flat
 * parameter vector; ranks of role "worker" pull parameters, compute gradients on their
 * own data and push them back. The servers run the optimizer on their shard.
 *
 * Clocks: a worker's clock is the number of gradients it has pushed. A pull made at
 * clock c is answered once the shard is recent enough:
 *   - synchronous (staleness 0, the default): a server waits for the step-t gradient of
 *     every worker, averages them in worker-rank order (deterministic), applies one
 *     optimizer step, and answers pulls of clock t + 1. Every worker sees exactly the
 *     parameters one process would have after t steps on the global batch.
 *   - asynchronous with bounded staleness s >= 1: each pushed gradient, scaled by
 *     1/workers (so the step size matches the synchronous run), is applied as soon as it
 *     arrives; a pull at clock c waits until the slowest worker has pushed c - s
 *     gradients, so no worker runs more than s steps ahead of the slowest (stale
 *     synchronous parallel). Results then depend on timing and match one process only
 *     approximately.
 * At the end every worker says done; the servers then send their final shards to rank 0
 * (which must be a worker), so rank 0 writes the model.
 */
#ifndef AIOS_DIST_PS_H
#define AIOS_DIST_PS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "dist_rendezvous.h"

#define AIOS_DIST_PS_MAX_STALENESS 1000 /* steps a worker may run ahead (async mode) */

struct aios_dist_ps;

/*
 * Applies one optimizer step to a shard: params[0..n) are parameters off..off+n of the
 * flat vector, grad the averaged gradient for them, step counts from 1.
 */
typedef void (*aios_dist_ps_apply_fn)(void *ctx, size_t off, size_t n, float *params,
                                      const float *grad, int64_t step);

/*
 * Prepares the parameter-server exchange for a vector of n floats. staleness 0 is
 * synchronous. AIOS_ERR_INVALID if there is no ps rank, no worker, or rank 0 is a ps.
 */
enum aios_err aios_dist_ps_new(struct aios_dist *d, size_t n, int staleness,
                               struct aios_dist_ps **out) AIOS_MUST_CHECK;
void aios_dist_ps_free(struct aios_dist_ps *ps);
/* Sets the vector length n when it was not known at creation (before any pull or push). */
void aios_dist_ps_resize(struct aios_dist_ps *ps, size_t n);
/*
 * Servers combine the workers' gradients by their sum instead of their mean (async: apply
 * each gradient unscaled): for workers that each push their share of one batch gradient,
 * as aios-trainer's ranks do. Every rank must set the same.
 */
void aios_dist_ps_set_sum(struct aios_dist_ps *ps, int sum);

/* Number of workers / servers, and a worker's index among the workers (-1 for a server). */
int aios_dist_ps_workers(const struct aios_dist_ps *ps);
int aios_dist_ps_servers(const struct aios_dist_ps *ps);
int aios_dist_ps_worker_index(const struct aios_dist_ps *ps);

/* Worker: fills params (n floats) with the current parameters (see clocks above). */
enum aios_err aios_dist_ps_pull(struct aios_dist_ps *ps, float *params) AIOS_MUST_CHECK;
/* Worker: pushes this worker's gradient (n floats) and advances its clock. */
enum aios_err aios_dist_ps_push(struct aios_dist_ps *ps, const float *grad) AIOS_MUST_CHECK;
/*
 * Worker: no more pushes. On rank 0, then receives the final parameters into params
 * (n floats); other workers may pass NULL.
 */
enum aios_err aios_dist_ps_done(struct aios_dist_ps *ps, float *params) AIOS_MUST_CHECK;

/*
 * Server: serves pulls and pushes until every worker is done, then sends its final shard
 * to rank 0. params holds the initial full vector (n floats; only this server's shard is
 * read and updated). apply runs the optimizer on the shard.
 */
enum aios_err aios_dist_ps_serve(struct aios_dist_ps *ps, float *params,
                                 aios_dist_ps_apply_fn apply, void *ctx) AIOS_MUST_CHECK;

#endif
