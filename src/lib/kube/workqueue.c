/*
 * workqueue.c - the rate-limited work queue (see workqueue.h).
 *
 * State per key lives in one entry of a chained hash table: dirty (wants processing),
 * processing (a worker holds it), delayed_at (a pending add_after, in the min-heap),
 * failures (per-key backoff). An entry is freed when all four are clear. The FIFO
 * holds entries that are dirty and not processing; an entry is in it at most once.
 * One mutex guards everything; one condition variable wakes getters.
 */
#include "kube/workqueue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/mem.h"
#include "kube/kube_internal.h"

struct entry {
	char *key;
	struct entry *next; /* hash chain */
	uint64_t hash;
	int dirty, processing, in_fifo;
	int failures;
	int64_t delayed_at; /* ms on the monotonic clock; 0 = none */
	size_t heap_idx;
};

struct aios_kube_workqueue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct aios_kube_workqueue_opts o;
	/* hash table */
	struct entry **buckets;
	size_t nbuckets, nentries;
	/* FIFO ring of ready entries */
	struct entry **fifo;
	size_t fhead, flen, fcap;
	/* min-heap of delayed entries by delayed_at */
	struct entry **heap;
	size_t hlen, hcap;
	/* token bucket */
	double tokens;
	int64_t bucket_ms;
	int shutting_down;
};

/* ---- hash table --------------------------------------------------------- */

static struct entry *lookup(struct aios_kube_workqueue *q, const char *key, int create)
{
	uint64_t h = aios_kube_hash(key);
	for (struct entry *e = q->buckets[h % q->nbuckets]; e; e = e->next)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	if (!create)
		return NULL;
	if (q->nentries >= q->nbuckets) {
		size_t nb = q->nbuckets * 2;
		struct entry **b = aios_xcalloc(nb, sizeof(*b));
		for (size_t i = 0; i < q->nbuckets; i++) {
			struct entry *e = q->buckets[i];
			while (e) {
				struct entry *n = e->next;
				e->next = b[e->hash % nb];
				b[e->hash % nb] = e;
				e = n;
			}
		}
		free(q->buckets);
		q->buckets = b;
		q->nbuckets = nb;
	}
	struct entry *e = aios_xcalloc(1, sizeof(*e));
	e->key = aios_xstrdup(key);
	e->hash = h;
	e->next = q->buckets[h % q->nbuckets];
	q->buckets[h % q->nbuckets] = e;
	q->nentries++;
	return e;
}

/* Frees e when nothing refers to it any more. */
static void maybe_drop(struct aios_kube_workqueue *q, struct entry *e)
{
	if (e->dirty || e->processing || e->in_fifo || e->delayed_at || e->failures)
		return;
	struct entry **pp = &q->buckets[e->hash % q->nbuckets];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	q->nentries--;
	free(e->key);
	free(e);
}

/* ---- FIFO and heap ------------------------------------------------------ */

static void fifo_push(struct aios_kube_workqueue *q, struct entry *e)
{
	if (q->flen == q->fcap) {
		size_t nc = q->fcap ? q->fcap * 2 : 64;
		struct entry **f = aios_xmalloc(nc * sizeof(*f));
		for (size_t i = 0; i < q->flen; i++)
			f[i] = q->fifo[(q->fhead + i) % q->fcap];
		free(q->fifo);
		q->fifo = f;
		q->fcap = nc;
		q->fhead = 0;
	}
	q->fifo[(q->fhead + q->flen) % q->fcap] = e;
	q->flen++;
	e->in_fifo = 1;
}

static struct entry *fifo_pop(struct aios_kube_workqueue *q)
{
	struct entry *e = q->fifo[q->fhead];
	q->fhead = (q->fhead + 1) % q->fcap;
	q->flen--;
	e->in_fifo = 0;
	return e;
}

static void heap_swap(struct aios_kube_workqueue *q, size_t a, size_t b)
{
	struct entry *t = q->heap[a];
	q->heap[a] = q->heap[b];
	q->heap[b] = t;
	q->heap[a]->heap_idx = a;
	q->heap[b]->heap_idx = b;
}

static void heap_up(struct aios_kube_workqueue *q, size_t i)
{
	while (i > 0 && q->heap[(i - 1) / 2]->delayed_at > q->heap[i]->delayed_at) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct aios_kube_workqueue *q, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->hlen && q->heap[l]->delayed_at < q->heap[m]->delayed_at)
			m = l;
		if (r < q->hlen && q->heap[r]->delayed_at < q->heap[m]->delayed_at)
			m = r;
		if (m == i)
			return;
		heap_swap(q, i, m);
		i = m;
	}
}

static void heap_push(struct aios_kube_workqueue *q, struct entry *e)
{
	if (q->hlen == q->hcap) {
		q->hcap = q->hcap ? q->hcap * 2 : 64;
		q->heap = aios_xrealloc(q->heap, q->hcap * sizeof(*q->heap));
	}
	e->heap_idx = q->hlen;
	q->heap[q->hlen++] = e;
	heap_up(q, e->heap_idx);
}

static struct entry *heap_pop(struct aios_kube_workqueue *q)
{
	struct entry *e = q->heap[0];
	q->heap[0] = q->heap[--q->hlen];
	q->heap[0]->heap_idx = 0;
	if (q->hlen > 0)
		heap_down(q, 0);
	return e;
}

/* ---- queue -------------------------------------------------------------- */

struct aios_kube_workqueue *aios_kube_workqueue_new(const struct aios_kube_workqueue_opts *o)
{
	struct aios_kube_workqueue *q = aios_xcalloc(1, sizeof(*q));
	pthread_mutex_init(&q->mu, NULL);
	aios_kube_cond_init(&q->cv);
	if (o)
		q->o = *o;
	/* client-go's DefaultControllerRateLimiter */
	if (q->o.base_delay_ms <= 0)
		q->o.base_delay_ms = 5;
	if (q->o.max_delay_ms <= 0)
		q->o.max_delay_ms = 1000 * 1000;
	if (q->o.qps <= 0)
		q->o.qps = 10;
	if (q->o.burst <= 0)
		q->o.burst = 100;
	q->tokens = q->o.burst;
	q->bucket_ms = aios_now_ms();
	q->nbuckets = 64;
	q->buckets = aios_xcalloc(q->nbuckets, sizeof(*q->buckets));
	return q;
}

void aios_kube_workqueue_free(struct aios_kube_workqueue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nbuckets; i++) {
		struct entry *e = q->buckets[i];
		while (e) {
			struct entry *n = e->next;
			free(e->key);
			free(e);
			e = n;
		}
	}
	free(q->buckets);
	free(q->fifo);
	free(q->heap);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

static void add_locked(struct aios_kube_workqueue *q, struct entry *e)
{
	if (e->dirty)
		return;
	e->dirty = 1;
	if (e->processing)
		return; /* done() queues it again */
	fifo_push(q, e);
	pthread_cond_signal(&q->cv);
}

void aios_kube_workqueue_add(struct aios_kube_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	if (!q->shutting_down)
		add_locked(q, lookup(q, key, 1));
	pthread_mutex_unlock(&q->mu);
}

void aios_kube_workqueue_add_after(struct aios_kube_workqueue *q, const char *key, int64_t delay_ms)
{
	if (delay_ms <= 0) {
		aios_kube_workqueue_add(q, key);
		return;
	}
	pthread_mutex_lock(&q->mu);
	if (!q->shutting_down) {
		struct entry *e = lookup(q, key, 1);
		int64_t at = aios_now_ms() + delay_ms;
		if (!e->delayed_at) {
			e->delayed_at = at;
			heap_push(q, e);
		} else if (at < e->delayed_at) {
			/* Keep the earliest of two pending delays, as client-go does. */
			e->delayed_at = at;
			heap_up(q, e->heap_idx);
		}
		/* A getter may sleep until a later deadline: wake all to recompute. */
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
}

static int64_t when_locked(struct aios_kube_workqueue *q, struct entry *e)
{
	/* Per-key exponential backoff: base * 2^failures, capped. */
	int64_t d = q->o.base_delay_ms;
	for (int i = 0; i < e->failures && d < q->o.max_delay_ms; i++)
		d *= 2;
	if (d > q->o.max_delay_ms)
		d = q->o.max_delay_ms;
	e->failures++;
	/* Overall token bucket (qps, burst): a reservation may drive tokens negative; the
	 * delay is the time until the bucket is back at zero. */
	int64_t now = aios_now_ms();
	q->tokens += (double)(now - q->bucket_ms) * q->o.qps / 1000.0;
	if (q->tokens > q->o.burst)
		q->tokens = q->o.burst;
	q->bucket_ms = now;
	q->tokens -= 1;
	int64_t bd = q->tokens < 0 ? (int64_t)(-q->tokens * 1000.0 / q->o.qps) : 0;
	return d > bd ? d : bd;
}

int64_t aios_kube_workqueue_when(struct aios_kube_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	int64_t d = when_locked(q, lookup(q, key, 1));
	pthread_mutex_unlock(&q->mu);
	return d;
}

void aios_kube_workqueue_add_rate_limited(struct aios_kube_workqueue *q, const char *key)
{
	int64_t d = aios_kube_workqueue_when(q, key);
	aios_kube_workqueue_add_after(q, key, d);
}

void aios_kube_workqueue_forget(struct aios_kube_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	struct entry *e = lookup(q, key, 0);
	if (e) {
		e->failures = 0;
		maybe_drop(q, e);
	}
	pthread_mutex_unlock(&q->mu);
}

int aios_kube_workqueue_num_requeues(struct aios_kube_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	struct entry *e = lookup(q, key, 0);
	int n = e ? e->failures : 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* Moves due delayed entries into the queue; returns the next deadline or -1. */
static int64_t promote_delayed(struct aios_kube_workqueue *q)
{
	int64_t now = aios_now_ms();
	while (q->hlen > 0 && q->heap[0]->delayed_at <= now) {
		struct entry *e = heap_pop(q);
		e->delayed_at = 0;
		add_locked(q, e);
	}
	return q->hlen > 0 ? q->heap[0]->delayed_at : -1;
}

char *aios_kube_workqueue_get_timeout(struct aios_kube_workqueue *q, int64_t timeout_ms)
{
	int64_t deadline = timeout_ms >= 0 ? aios_now_ms() + timeout_ms : -1;
	char *key = NULL;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->shutting_down)
			break;
		int64_t next = promote_delayed(q);
		if (q->flen > 0) {
			struct entry *e = fifo_pop(q);
			e->dirty = 0;
			e->processing = 1;
			key = aios_xstrdup(e->key);
			break;
		}
		int64_t wake = next;
		if (deadline >= 0 && (wake < 0 || deadline < wake))
			wake = deadline;
		if (deadline >= 0 && aios_now_ms() >= deadline)
			break;
		if (wake < 0) {
			pthread_cond_wait(&q->cv, &q->mu);
		} else {
			struct timespec ts = {(time_t)(wake / 1000),
			                      (long)(wake % 1000) * 1000000L};
			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		}
	}
	pthread_mutex_unlock(&q->mu);
	return key;
}

char *aios_kube_workqueue_get(struct aios_kube_workqueue *q)
{
	return aios_kube_workqueue_get_timeout(q, -1);
}

void aios_kube_workqueue_done(struct aios_kube_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	struct entry *e = lookup(q, key, 0);
	if (e) {
		e->processing = 0;
		if (e->dirty && !q->shutting_down) {
			fifo_push(q, e);
			pthread_cond_signal(&q->cv);
		}
		maybe_drop(q, e);
	}
	pthread_mutex_unlock(&q->mu);
}

void aios_kube_workqueue_shutdown(struct aios_kube_workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutting_down = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int aios_kube_workqueue_shutting_down(struct aios_kube_workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	int s = q->shutting_down;
	pthread_mutex_unlock(&q->mu);
	return s;
}

size_t aios_kube_workqueue_len(struct aios_kube_workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->flen;
	pthread_mutex_unlock(&q->mu);
	return n;
}
