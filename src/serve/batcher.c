/*
 * batcher.c - per-loop dynamic batching (batcher.h).
 *
 * Rows are appended to one growing x buffer as they arrive, so a pass over
 * consecutive requests needs no gather: it runs on a slice of x straight into a
 * slice of y. Buffers grow to the high-water mark and are kept.
 */
#include "serve/batcher.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/mem.h"

struct req {
	void *ctx;
	int rows;
	size_t row0; /* first row in x */
};

struct aios_batcher {
	struct aios_batcher_config c;
	struct req *reqs;
	int n;
	size_t rows, rows_cap; /* rows queued, rows allocated in x and y */
	float *x, *y;
	int last_requests;     /* requests merged by the previous pass */
	int64_t hold_until_ns; /* 0: no hold running */
};

struct aios_batcher *aios_batcher_new(const struct aios_batcher_config *c)
{
	struct aios_batcher *b = aios_xcalloc(1, sizeof *b);
	b->c = *c;
	if (b->c.max_batch_rows < 1)
		b->c.max_batch_rows = 32;
	if (b->c.capacity < 1)
		b->c.capacity = 256;
	if (b->c.max_delay_us < 0)
		b->c.max_delay_us = 0;
	b->reqs = aios_xcalloc((size_t)b->c.capacity, sizeof *b->reqs);
	return b;
}

void aios_batcher_free(struct aios_batcher *b)
{
	if (!b)
		return;
	free(b->reqs);
	free(b->x);
	free(b->y);
	free(b);
}

int aios_batcher_pending(const struct aios_batcher *b)
{
	return b->n;
}

enum aios_err aios_batcher_add(struct aios_batcher *b, const float *x, int rows, void *ctx)
{
	if (b->n >= b->c.capacity)
		return aios_fail(AIOS_ERR_UNAVAILABLE,
		                 "inference queue is full (%d requests waiting)", b->n);
	if (b->rows + (size_t)rows > b->rows_cap) {
		size_t cap = b->rows_cap ? b->rows_cap : 64;
		while (cap < b->rows + (size_t)rows)
			cap *= 2;
		b->x = aios_xrealloc(b->x, sizeof(float) * cap * (size_t)b->c.in);
		b->y = aios_xrealloc(b->y, sizeof(float) * cap * (size_t)b->c.out);
		b->rows_cap = cap;
	}
	memcpy(b->x + b->rows * (size_t)b->c.in, x, sizeof(float) * (size_t)rows * b->c.in);
	b->reqs[b->n++] = (struct req){.ctx = ctx, .rows = rows, .row0 = b->rows};
	b->rows += (size_t)rows;
	return AIOS_OK;
}

void aios_batcher_flush(struct aios_batcher *b, aios_batch_fn fn, aios_batch_done done,
                        void (*on_pass)(int rows, int requests, void *ud), void *ud)
{
	int i = 0;
	while (i < b->n) {
		/* take requests from i while they fit in max rows (at least one) */
		int j = i, rows = 0;
		while (j < b->n && (j == i || rows + b->reqs[j].rows <= b->c.max_batch_rows))
			rows += b->reqs[j++].rows;
		size_t r0 = b->reqs[i].row0;
		fn(b->x + r0 * b->c.in, rows, b->y + r0 * b->c.out, ud);
		if (on_pass)
			on_pass(rows, j - i, ud);
		b->last_requests = j - i;
		for (int k = i; k < j; k++)
			done(b->reqs[k].ctx, b->y + b->reqs[k].row0 * b->c.out, b->reqs[k].rows,
			     ud);
		i = j;
	}
	b->n = 0;
	b->rows = 0;
	b->hold_until_ns = 0;
}

int aios_batcher_round(struct aios_batcher *b, aios_batch_fn fn, aios_batch_done done,
                       void (*on_pass)(int rows, int requests, void *ud), void *ud)
{
	if (b->n == 0)
		return -1;
	if (b->c.max_delay_us > 0 && b->last_requests > 1 &&
	    b->rows < (size_t)b->c.max_batch_rows) {
		int64_t now = aios_now_ns();
		if (!b->hold_until_ns)
			b->hold_until_ns = now + (int64_t)b->c.max_delay_us * 1000;
		if (now < b->hold_until_ns)
			return (int)((b->hold_until_ns - now + 999999) / 1000000);
	}
	aios_batcher_flush(b, fn, done, on_pass, ud);
	return -1;
}
