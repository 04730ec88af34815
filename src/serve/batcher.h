/*
 * batcher.h - dynamic batching: the requests of one event-loop round merged into as
 * few forward passes as max_batch_rows allows, and the outputs split back.
 *
 * Each HTTP loop thread owns one batcher (no locks). Its handlers parse a request
 * and add the rows here (copied into one contiguous buffer); at the end of the
 * loop's round of ready events (http.h round_end) the loop runs the batcher: one
 * forward pass per max_batch_rows rows, then every request's callback with its
 * slice of the outputs.
 *
 * Latency: a request that arrives alone is computed in the same round it was read,
 * with no timer; under load, every request that became readable in the same round
 * shares a pass. An optional hold (max_delay_us) keeps a partial batch open for more
 * rounds, but only when the previous pass merged more than one request (evidence of
 * concurrent load), so it never delays a lone request.
 *
 * Bound: a batcher holds at most `capacity` requests; aios_batcher_add refuses more
 * (the server answers 503 with Retry-After).
 */
#ifndef AIOS_SERVE_BATCHER_H
#define AIOS_SERVE_BATCHER_H

#include <stdint.h>

#include "common/err.h"

/* Runs the model: x (rows, in) -> y (rows, out). */
typedef void (*aios_batch_fn)(const float *x, int rows, float *y, void *ud);
/* Hands one request its outputs y (rows, out); y is valid during the call only. */
typedef void (*aios_batch_done)(void *ctx, const float *y, int rows, void *ud);

struct aios_batcher_config {
	int in, out;        /* columns of x and y */
	int max_batch_rows; /* rows per pass (a bigger single request runs alone), default 32 */
	int max_delay_us;   /* hold of a partial batch under load, default 0 */
	int capacity;       /* requests held at most, default 256 */
};

struct aios_batcher;

struct aios_batcher *aios_batcher_new(const struct aios_batcher_config *c);
void aios_batcher_free(struct aios_batcher *b);

/* Queues rows of x (copied) for ctx; AIOS_ERR_UNAVAILABLE when full. */
enum aios_err aios_batcher_add(struct aios_batcher *b, const float *x, int rows,
                               void *ctx) AIOS_MUST_CHECK;
/* Requests queued now. */
int aios_batcher_pending(const struct aios_batcher *b);

/*
 * Ends a round: runs the queued requests (fn per pass, done per request, in arrival
 * order) unless a hold applies. Returns -1 when nothing waits, else the ms the loop
 * may wait before calling again (the rest of the hold). on_pass(rows, requests, ud)
 * is called after each pass (metrics); may be NULL.
 */
int aios_batcher_round(struct aios_batcher *b, aios_batch_fn fn, aios_batch_done done,
                       void (*on_pass)(int rows, int requests, void *ud), void *ud);

/* Like round, with no hold: runs everything now (stop, or a forced flush). */
void aios_batcher_flush(struct aios_batcher *b, aios_batch_fn fn, aios_batch_done done,
                        void (*on_pass)(int rows, int requests, void *ud), void *ud);

#endif
