/*
 * dist_ps.c - parameter servers: sharded parameters, synchronous or bounded-staleness
 * asynchronous updates (see dist_ps.h).
 */
#include "dist_ps.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "dist_internal.h"

#define FINAL_TAG    0xffffffffu
#define CHUNK_FLOATS (AIOS_DIST_CHUNK_BYTES / sizeof(float))

struct aios_dist_ps {
	struct aios_dist *d;
	size_t n;
	int staleness;
	int workers[AIOS_DIST_MAX_WORLD], servers[AIOS_DIST_MAX_WORLD];
	int nw, ns;
	int my_worker, my_server; /* index among workers / servers, or -1 */
	uint32_t clock;           /* worker: gradients pushed */
	int sum;                  /* combine by sum, not mean */
};

/* Server i's shard: [*off, *off + *len). */
static void shard(const struct aios_dist_ps *ps, int i, size_t *off, size_t *len)
{
	size_t base = ps->n / (size_t)ps->ns, extra = ps->n % (size_t)ps->ns;
	*off = (size_t)i * base + ((size_t)i < extra ? (size_t)i : extra);
	*len = base + ((size_t)i < extra ? 1 : 0);
}

enum aios_err aios_dist_ps_new(struct aios_dist *d, size_t n, int staleness,
                               struct aios_dist_ps **out)
{
	*out = NULL;
	if (staleness < 0 || staleness > AIOS_DIST_PS_MAX_STALENESS)
		return aios_fail(AIOS_ERR_INVALID, "parameter server: staleness %d is not in 0..%d",
		                 staleness, AIOS_DIST_PS_MAX_STALENESS);
	struct aios_dist_ps *ps = aios_xcalloc(1, sizeof(*ps));
	ps->d = d;
	ps->n = n;
	ps->staleness = staleness;
	ps->my_worker = ps->my_server = -1;
	for (int r = 0; r < aios_dist_world(d); r++) {
		if (aios_dist_role_of(d, r) == AIOS_DIST_ROLE_PS) {
			if (r == aios_dist_rank(d))
				ps->my_server = ps->ns;
			ps->servers[ps->ns++] = r;
		} else {
			if (r == aios_dist_rank(d))
				ps->my_worker = ps->nw;
			ps->workers[ps->nw++] = r;
		}
	}
	const char *bad = NULL;
	if (ps->ns == 0)
		bad = "no rank has role ps";
	else if (ps->nw == 0)
		bad = "no rank has role worker";
	else if (ps->servers[0] == 0)
		bad = "rank 0 must be a worker (it writes the model)";
	if (bad) {
		free(ps);
		return aios_fail(AIOS_ERR_INVALID, "parameter server: %s", bad);
	}
	*out = ps;
	return AIOS_OK;
}

void aios_dist_ps_free(struct aios_dist_ps *ps)
{
	free(ps);
}

void aios_dist_ps_resize(struct aios_dist_ps *ps, size_t n)
{
	ps->n = n;
}

void aios_dist_ps_set_sum(struct aios_dist_ps *ps, int sum)
{
	ps->sum = sum;
}

int aios_dist_ps_workers(const struct aios_dist_ps *ps)
{
	return ps->nw;
}

int aios_dist_ps_servers(const struct aios_dist_ps *ps)
{
	return ps->ns;
}

int aios_dist_ps_worker_index(const struct aios_dist_ps *ps)
{
	return ps->my_worker;
}

/* ------------------------------------------------------------------------------------
 * Worker side
 * ------------------------------------------------------------------------------------ */

enum aios_err aios_dist_ps_pull(struct aios_dist_ps *ps, float *params)
{
	enum aios_err e = AIOS_OK;
	for (int i = 0; i < ps->ns && !e; i++)
		e = aios_dist_send(ps->d, ps->servers[i], AIOS_DIST_PS_PULL, ps->clock, NULL, 0);
	for (int i = 0; i < ps->ns && !e; i++) {
		size_t off, len;
		shard(ps, i, &off, &len);
		e = aios_dist_recv_floats(ps->d, ps->servers[i], AIOS_DIST_PS_PARAMS, ps->clock,
		                          params + off, len);
	}
	return e ? aios_fail_wrap(e, "parameter server: pull at clock %u", ps->clock) : AIOS_OK;
}

enum aios_err aios_dist_ps_push(struct aios_dist_ps *ps, const float *grad)
{
	for (int i = 0; i < ps->ns; i++) {
		size_t off, len;
		shard(ps, i, &off, &len);
		enum aios_err e = aios_dist_send_floats(ps->d, ps->servers[i], AIOS_DIST_PS_PUSH,
		                                        ps->clock, grad + off, len);
		if (e)
			return aios_fail_wrap(e, "parameter server: push at clock %u", ps->clock);
	}
	ps->clock++;
	return AIOS_OK;
}

enum aios_err aios_dist_ps_done(struct aios_dist_ps *ps, float *params)
{
	enum aios_err e = AIOS_OK;
	for (int i = 0; i < ps->ns && !e; i++)
		e = aios_dist_send(ps->d, ps->servers[i], AIOS_DIST_PS_DONE, ps->clock, NULL, 0);
	if (aios_dist_rank(ps->d) == 0)
		for (int i = 0; i < ps->ns && !e; i++) {
			size_t off, len;
			shard(ps, i, &off, &len);
			e = aios_dist_recv_floats(ps->d, ps->servers[i], AIOS_DIST_PS_PARAMS,
			                          FINAL_TAG, params + off, len);
		}
	return e ? aios_fail_wrap(e, "parameter server: finishing") : AIOS_OK;
}

/* ------------------------------------------------------------------------------------
 * Server side
 * ------------------------------------------------------------------------------------ */

static enum aios_err protocol(struct aios_dist_ps *ps, int from, const char *what, uint32_t tag)
{
	struct aios_dist *d = ps->d;
	pthread_mutex_lock(&d->mu);
	dist_fail_locked(d, from, AIOS_ERR_PROTOCOL,
	                 "lost rank %d: parameter-server protocol error: %s (tag %u)", from, what,
	                 tag);
	pthread_mutex_unlock(&d->mu);
	return dist_failure(d);
}

/* m is the first chunk of n floats from `from`; reads the rest of them into dst. */
static enum aios_err take_floats(struct aios_dist_ps *ps, struct aios_dist_msg *m, float *dst,
                                 size_t n)
{
	int from = aios_dist_msg_from(m);
	uint32_t tag = aios_dist_msg_tag(m);
	size_t len, k = n < CHUNK_FLOATS ? n : CHUNK_FLOATS;
	const uint8_t *p = aios_dist_msg_payload(m, &len);
	if (len != k * sizeof(float))
		return protocol(ps, from, "gradient chunk of the wrong size", tag);
	memcpy(dst, p, len);
	if (n > k)
		return aios_dist_recv_floats(ps->d, from, AIOS_DIST_PS_PUSH, tag, dst + k, n - k);
	return AIOS_OK;
}

struct server {
	uint32_t pushed[AIOS_DIST_MAX_WORLD]; /* per worker: gradients received */
	int64_t pending[AIOS_DIST_MAX_WORLD]; /* per worker: clock of an unanswered pull, or -1 */
	int done[AIOS_DIST_MAX_WORLD];
	int ndone;
	int64_t version; /* optimizer steps applied to the shard */
};

/* May a pull of clock c be answered now? */
static int ready(const struct aios_dist_ps *ps, const struct server *s, int64_t c)
{
	if (ps->staleness == 0)
		return s->version >= c;
	for (int w = 0; w < ps->nw; w++)
		if (!s->done[w] && (int64_t)s->pushed[w] < c - ps->staleness)
			return 0;
	return 1;
}

/*
 * Synchronous: step `version` is complete when every worker still running has pushed
 * its gradient for it. A worker that is done took part in the steps it pushed before.
 */
static int step_complete(const struct aios_dist_ps *ps, const struct server *s)
{
	int any = 0;
	for (int w = 0; w < ps->nw; w++) {
		if ((int64_t)s->pushed[w] > s->version)
			any = 1;
		else if (!s->done[w])
			return 0;
	}
	return any;
}

enum aios_err aios_dist_ps_serve(struct aios_dist_ps *ps, float *params,
                                 aios_dist_ps_apply_fn apply, void *ctx)
{
	if (ps->my_server < 0)
		return aios_fail(AIOS_ERR_INTERNAL, "parameter server: rank %d is not a server",
		                 aios_dist_rank(ps->d));
	size_t off, len;
	shard(ps, ps->my_server, &off, &len);
	float *p = params + off;
	int sync = ps->staleness == 0;
	/* sync: one pending gradient per worker; async: one scratch gradient */
	float *grads = aios_xcalloc(sync ? (size_t)ps->nw * len + 1 : len + 1, sizeof(float));
	float *avg = aios_xcalloc(len + 1, sizeof(float));
	struct server s = {.version = 0};
	for (int w = 0; w < ps->nw; w++)
		s.pending[w] = -1;
	int windex[AIOS_DIST_MAX_WORLD];
	for (int r = 0; r < AIOS_DIST_MAX_WORLD; r++)
		windex[r] = -1;
	for (int w = 0; w < ps->nw; w++)
		windex[ps->workers[w]] = w;
	aios_info("ps_serve", "rank %d serves parameters [%zu, %zu) to %d workers (%s)",
	          aios_dist_rank(ps->d), off, off + len, ps->nw,
	          sync ? "synchronous" : "asynchronous");

	enum aios_err e = AIOS_OK;
	while (!e && s.ndone < ps->nw) {
		struct aios_dist_msg *m;
		if ((e = aios_dist_recv_any(ps->d, &m)))
			break;
		int from = aios_dist_msg_from(m), w = windex[from];
		uint32_t tag = aios_dist_msg_tag(m);
		unsigned type = aios_dist_msg_type(m);
		if (w < 0 || s.done[w]) {
			e = protocol(ps, from,
			             w < 0 ? "frame from a non-worker" : "frame after done", tag);
		} else if (type == AIOS_DIST_PS_PULL) {
			if (tag != s.pushed[w] || s.pending[w] >= 0)
				e = protocol(ps, from, "pull out of order", tag);
			else
				s.pending[w] = tag;
		} else if (type == AIOS_DIST_PS_PUSH) {
			if (tag != s.pushed[w])
				e = protocol(ps, from, "push out of order", tag);
			else
				e = take_floats(ps, m, sync ? grads + (size_t)w * len : grads, len);
			if (!e) {
				s.pushed[w]++;
				if (!sync) {
					float scale = ps->sum ? 1.0f : 1.0f / (float)ps->nw;
					for (size_t i = 0; i < len; i++)
						avg[i] = grads[i] * scale;
					apply(ctx, off, len, p, avg, ++s.version);
				}
			}
		} else if (type == AIOS_DIST_PS_DONE) {
			s.done[w] = 1;
			s.ndone++;
		} else {
			e = protocol(ps, from, aios_dist_type_name(type), tag);
		}
		aios_dist_msg_free(m);
		/* Synchronous step: the mean in worker order, then one optimizer step. */
		while (!e && sync && step_complete(ps, &s)) {
			int first = 1, live = 0;
			for (int k = 0; k < ps->nw; k++) {
				if ((int64_t)s.pushed[k] <= s.version)
					continue;
				live++;
				const float *g = grads + (size_t)k * len;
				if (first)
					memcpy(avg, g, len * sizeof(float));
				else
					for (size_t i = 0; i < len; i++)
						avg[i] += g[i];
				first = 0;
			}
			for (size_t i = 0; i < len && !ps->sum; i++)
				avg[i] /= (float)live;
			apply(ctx, off, len, p, avg, ++s.version);
		}
		for (int k = 0; k < ps->nw && !e; k++)
			if (s.pending[k] >= 0 && ready(ps, &s, s.pending[k])) {
				e = aios_dist_send_floats(ps->d, ps->workers[k],
				                          AIOS_DIST_PS_PARAMS,
				                          (uint32_t)s.pending[k], p, len);
				s.pending[k] = -1;
			}
	}
	if (!e)
		e = aios_dist_send_floats(ps->d, 0, AIOS_DIST_PS_PARAMS, FINAL_TAG, p, len);
	free(grads);
	free(avg);
	if (e)
		return aios_fail_wrap(e, "parameter server");
	aios_info("ps_done", "rank %d applied %lld updates", aios_dist_rank(ps->d),
	          (long long)s.version);
	return AIOS_OK;
}
