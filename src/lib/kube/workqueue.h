/*
 * workqueue.h - a rate-limited work queue of string keys, with client-go's semantics.
 *
 *   - add dedupes: a key waiting in the queue is queued once however often it is added;
 *   - a key is never handed to two workers at once: a key added while it is being
 *     processed is marked dirty and queued again when done() is called for it;
 *   - add_after queues a key once a delay has passed (no extra thread: get() waits
 *     for the earliest deadline);
 *   - add_rate_limited delays by the larger of a per-key exponential backoff
 *     (base * 2^failures, capped) and an overall token bucket; forget resets the key;
 *   - shutdown wakes every waiting get(), which then returns NULL; keys still queued
 *     are dropped (reconcile is level-based: the next leader or start rebuilds them).
 * All functions are thread-safe.
 */
#ifndef AIOS_KUBE_WORKQUEUE_H
#define AIOS_KUBE_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

/* Rate limiter settings; zero fields take client-go's defaults. */
struct aios_kube_workqueue_opts {
	int64_t base_delay_ms; /* per-key backoff start: 5 ms */
	int64_t max_delay_ms;  /* per-key backoff cap: 1000 s */
	double qps;            /* overall bucket refill, tokens/s: 10 */
	int burst;             /* overall bucket size: 100 */
};

struct aios_kube_workqueue;

/* o may be NULL (defaults). Caller frees with _free. */
struct aios_kube_workqueue *aios_kube_workqueue_new(const struct aios_kube_workqueue_opts *o);
/* Frees the queue; call after every worker has returned. NULL is a no-op. */
void aios_kube_workqueue_free(struct aios_kube_workqueue *q);

void aios_kube_workqueue_add(struct aios_kube_workqueue *q, const char *key);
void aios_kube_workqueue_add_after(struct aios_kube_workqueue *q, const char *key,
                                   int64_t delay_ms);
void aios_kube_workqueue_add_rate_limited(struct aios_kube_workqueue *q, const char *key);
/* The delay add_rate_limited would use now, and counts it as a failure (for tests). */
int64_t aios_kube_workqueue_when(struct aios_kube_workqueue *q, const char *key);
/* Forgets key's failures (call after a successful reconcile). */
void aios_kube_workqueue_forget(struct aios_kube_workqueue *q, const char *key);
/* How many times key was rate-limited since its last forget. */
int aios_kube_workqueue_num_requeues(struct aios_kube_workqueue *q, const char *key);

/* Blocks for the next key; NULL once shut down. The caller owns the string and must
 * call done(key) when finished, then free it. */
char *aios_kube_workqueue_get(struct aios_kube_workqueue *q);
/* Same with a deadline: NULL after timeout_ms too (check shutting_down to tell). */
char *aios_kube_workqueue_get_timeout(struct aios_kube_workqueue *q, int64_t timeout_ms);
/* Marks key processed; re-queues it if it was added meanwhile. */
void aios_kube_workqueue_done(struct aios_kube_workqueue *q, const char *key);

void aios_kube_workqueue_shutdown(struct aios_kube_workqueue *q);
int aios_kube_workqueue_shutting_down(struct aios_kube_workqueue *q);
/* Keys ready to be handed out (not the delayed ones, not those in process). */
size_t aios_kube_workqueue_len(struct aios_kube_workqueue *q);

#endif
