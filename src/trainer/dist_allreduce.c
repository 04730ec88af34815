/*
 * dist_allreduce.c - ring reduce-scatter + all-gather (see dist_allreduce.h).
 */
#include "dist_allreduce.h"

#include <string.h>

#include "dist_internal.h"

#define CHUNK_FLOATS (AIOS_DIST_CHUNK_BYTES / sizeof(float))

/* Segment s of n floats over w ranks: [*off, *off + *len). */
static void segment(size_t n, int w, int s, size_t *off, size_t *len)
{
	size_t base = n / (size_t)w, extra = n % (size_t)w;
	*off = (size_t)s * base + ((size_t)s < extra ? (size_t)s : extra);
	*len = base + ((size_t)s < extra ? 1 : 0);
}

/* Sends segment `send_seg` to next while receiving `recv_seg` from prev; add or copy. */
static enum aios_err step(struct aios_dist *d, float *x, size_t n, int send_seg, int recv_seg,
                          uint32_t tag, int add)
{
	int w = d->world, next = (d->rank + 1) % w, prev = (d->rank + w - 1) % w;
	size_t so, sl, ro, rl;
	segment(n, w, send_seg, &so, &sl);
	segment(n, w, recv_seg, &ro, &rl);
	size_t sent = 0, got = 0;
	/* Chunks alternate: one out, one in. Outgoing chunks never depend on incoming ones
	 * of the same step (different segments), so sending first cannot deadlock: the
	 * peer's receiver thread drains its socket whatever its main thread is doing. */
	while (sent < sl || got < rl) {
		if (sent < sl) {
			size_t k = sl - sent < CHUNK_FLOATS ? sl - sent : CHUNK_FLOATS;
			enum aios_err e = aios_dist_send(d, next, AIOS_DIST_DATA, tag,
			                                 x + so + sent, k * sizeof(float));
			if (e)
				return e;
			sent += k;
		}
		if (got < rl) {
			size_t k = rl - got < CHUNK_FLOATS ? rl - got : CHUNK_FLOATS;
			struct aios_dist_msg *m;
			enum aios_err e = aios_dist_recv(d, prev, AIOS_DIST_DATA, tag, &m);
			if (e)
				return e;
			size_t len;
			const uint8_t *p = aios_dist_msg_payload(m, &len);
			if (len != k * sizeof(float)) {
				aios_dist_msg_free(m);
				pthread_mutex_lock(&d->mu);
				dist_fail_locked(
				    d, prev, AIOS_ERR_PROTOCOL,
				    "lost rank %d: all-reduce chunk of %zu bytes, expected %zu",
				    prev, len, k * sizeof(float));
				pthread_mutex_unlock(&d->mu);
				return dist_failure(d);
			}
			float *dst = x + ro + got;
			if (add) {
				const float *src = (const float *)(const void *)p;
				for (size_t i = 0; i < k; i++)
					dst[i] = src[i] + dst[i];
			} else {
				memcpy(dst, p, len);
			}
			aios_dist_msg_free(m);
			got += k;
		}
	}
	return AIOS_OK;
}

static enum aios_err ring(struct aios_dist *d, float *x, size_t n, int mean)
{
	int w = d->world, r = d->rank;
	if (w == 1 || n == 0)
		return AIOS_OK;
	uint32_t tag = aios_dist_next_tag(d);
	/* Reduce-scatter: at step t send segment (r - t), receive and add (r - t - 1). */
	for (int t = 0; t < w - 1; t++) {
		enum aios_err e =
		    step(d, x, n, (r - t + 2 * w) % w, (r - t - 1 + 2 * w) % w, tag, 1);
		if (e)
			return aios_fail_wrap(e, "all-reduce of %zu floats", n);
	}
	int own = (r + 1) % w;
	if (mean) {
		size_t off, len;
		segment(n, w, own, &off, &len);
		for (size_t i = 0; i < len; i++)
			x[off + i] /= (float)w;
	}
	/* All-gather: at step t send segment (r + 1 - t), receive (r - t). */
	for (int t = 0; t < w - 1; t++) {
		enum aios_err e =
		    step(d, x, n, (r + 1 - t + 2 * w) % w, (r - t + 2 * w) % w, tag, 0);
		if (e)
			return aios_fail_wrap(e, "all-reduce of %zu floats", n);
	}
	return AIOS_OK;
}

enum aios_err aios_dist_allreduce_mean(struct aios_dist *d, float *x, size_t n)
{
	return ring(d, x, n, 1);
}

enum aios_err aios_dist_allreduce_sum(struct aios_dist *d, float *x, size_t n)
{
	return ring(d, x, n, 0);
}

void aios_dist_allreduce_ref(float *const *bufs, int world, size_t n, int mean, float *out)
{
	for (int s = 0; s < world; s++) {
		size_t off, len;
		segment(n, world, s, &off, &len);
		for (size_t i = off; i < off + len; i++) {
			float acc = bufs[s][i];
			for (int k = 1; k < world; k++)
				acc = bufs[(s + k) % world][i] + acc;
			out[i] = mean ? acc / (float)world : acc;
		}
	}
}
