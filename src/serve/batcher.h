/*
 * batcher.h - dynamic batching: concurrent requests merged into one forward pass.
 *
 * The callers are the HTTP loop threads; there is no batching thread. A caller
 * queues its rows and then either waits or, if fewer than `executors` forward passes
 * are running, becomes an executor itself: it takes queued requests from the head
 * (oldest first) up to max_batch_rows rows, runs one forward pass over all of them,
 * copies each request's outputs back and wakes their callers ("group commit").
 *
 * Latency at low load: a request arriving at an idle batcher runs at once, alone; no
 * timer is ever waited on. Under load, requests that arrive while a pass runs queue
 * up and go together in the next one. max_batch_delay_us adds an optional wait: an
 * executor holds a partly full batch open for up to that long, but only when the
 * previous batch merged more than one request (evidence of concurrent load).
 *
 * Bounds: at most queue_depth requests wait (AIOS_ERR_UNAVAILABLE past that: the
 * server answers 503 with Retry-After); a request still queued at its deadline is
 * withdrawn (AIOS_ERR_TIMEOUT: 504). A single request larger than max_batch_rows runs
 * alone as its own pass.
 */
#ifndef AIOS_SERVE_BATCHER_H
#define AIOS_SERVE_BATCHER_H

#include <stdint.h>

#include "common/err.h"

/* Runs the model: x (rows, in) -> y (rows, out). executor is in [0, executors). */
typedef void (*aios_batch_fn)(const float *x, int rows, float *y, int executor, void *ud);

struct aios_batcher_config {
	int in, out;           /* columns of x and y */
	int max_batch_rows;    /* default 32 */
	int max_delay_us;      /* default 0 */
	int queue_depth;       /* default 256 requests */
	int executors;         /* forward passes at once, default 1 */
	/* called by the executor after each pass (metrics); may be NULL */
	void (*on_batch)(int rows, int requests, void *ud);
};

struct aios_batcher;

struct aios_batcher *aios_batcher_new(const struct aios_batcher_config *c, aios_batch_fn fn,
				      void *ud);
void aios_batcher_free(struct aios_batcher *b);

/*
 * Runs x (rows, in) through the model into y (rows, out), batched with whatever else
 * is queued. deadline_ns: aios_now_ns() time after which a still-queued request is
 * withdrawn (0: none). Returns AIOS_OK, AIOS_ERR_UNAVAILABLE (queue full) or
 * AIOS_ERR_TIMEOUT, with a message.
 */
enum aios_err aios_batcher_run(struct aios_batcher *b, const float *x, int rows, float *y,
			       int64_t deadline_ns) AIOS_MUST_CHECK;

/* Requests waiting in the queue now (not counting those being computed). */
int aios_batcher_queued(struct aios_batcher *b);

#endif
