/*
 * dist_allreduce.h - ring all-reduce: averages a flat float buffer across all ranks.
 *
 * The buffer is cut into `world` segments. Reduce-scatter: in world-1 steps each rank
 * sends one segment to the next rank of the ring and adds the segment it receives from
 * the previous one, so rank r ends up owning the full sum of segment (r+1) % world; it
 * divides that segment by world. All-gather: in world-1 more steps the finished segments
 * travel round the ring and overwrite the stale copies. Every rank moves 2(world-1)/world
 * of the buffer each way, whatever the world size.
 *
 * Determinism: the sum of segment s is formed at one place, in one order
 * (((x_s + x_s+1) + x_s+2) + ...), then copied bit for bit, so every rank ends with an
 * identical buffer, run after run.
 *
 * Segments travel in chunks of AIOS_DIST_CHUNK_BYTES: the next chunk is on the wire
 * while the previous one is being added (the receiver thread reads ahead), so large
 * buffers pipeline.
 */
#ifndef AIOS_DIST_ALLREDUCE_H
#define AIOS_DIST_ALLREDUCE_H

#include <stddef.h>

#include "common/err.h"
#include "dist_rendezvous.h"

/* x (n floats, the same n on every rank) becomes the element-wise mean over all ranks. */
enum aios_err aios_dist_allreduce_mean(struct aios_dist *d, float *x, size_t n) AIOS_MUST_CHECK;
/* The same, leaving the sum (no division). */
enum aios_err aios_dist_allreduce_sum(struct aios_dist *d, float *x, size_t n) AIOS_MUST_CHECK;

/* Reference for tests: the same summation order over `world` local buffers, in one process. */
void aios_dist_allreduce_ref(float *const *bufs, int world, size_t n, int mean, float *out);

#endif
