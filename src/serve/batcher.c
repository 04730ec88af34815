/*
 * batcher.c - group-commit dynamic batching (batcher.h).
 *
 * One mutex guards the queue and the executor count; one condition variable (on the
 * monotonic clock) wakes waiters when a pass finishes or a request arrives. Each
 * request lives on its caller's stack for the duration of aios_batcher_run.
 */
#include "serve/batcher.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/mem.h"

enum state { QUEUED, TAKEN, DONE };

struct item {
	struct item *next;
	const float *x;
	float *y;
	int rows;
	enum state state;
};

struct aios_batcher {
	struct aios_batcher_config c;
	aios_batch_fn fn;
	void *ud;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *head, *tail;
	int queued, queued_rows;
	int active;          /* executors running a pass */
	int last_requests;   /* requests merged in the previous pass */
	int *free_slots;     /* executor indices not in use (stack) */
	int n_free;
};

struct aios_batcher *aios_batcher_new(const struct aios_batcher_config *c, aios_batch_fn fn,
				      void *ud)
{
	struct aios_batcher *b = aios_xcalloc(1, sizeof *b);
	b->c = *c;
	if (b->c.max_batch_rows < 1)
		b->c.max_batch_rows = 32;
	if (b->c.queue_depth < 1)
		b->c.queue_depth = 256;
	if (b->c.executors < 1)
		b->c.executors = 1;
	if (b->c.max_delay_us < 0)
		b->c.max_delay_us = 0;
	b->fn = fn;
	b->ud = ud;
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &a);
	pthread_condattr_destroy(&a);
	b->free_slots = aios_xmalloc(sizeof(int) * (size_t)b->c.executors);
	for (int i = 0; i < b->c.executors; i++)
		b->free_slots[i] = i;
	b->n_free = b->c.executors;
	return b;
}

void aios_batcher_free(struct aios_batcher *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->cv);
	free(b->free_slots);
	free(b);
}

int aios_batcher_queued(struct aios_batcher *b)
{
	pthread_mutex_lock(&b->mu);
	int n = b->queued;
	pthread_mutex_unlock(&b->mu);
	return n;
}

static struct timespec abs_ts(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
	return ts;
}

/* The monotonic clock of aios_now_ns() is CLOCK_MONOTONIC (clock.c). */
static void wait_until(struct aios_batcher *b, int64_t deadline_ns)
{
	if (deadline_ns <= 0) {
		pthread_cond_wait(&b->cv, &b->mu);
		return;
	}
	struct timespec ts = abs_ts(deadline_ns);
	pthread_cond_timedwait(&b->cv, &b->mu, &ts);
}

static void unlink_item(struct aios_batcher *b, struct item *it)
{
	struct item **pp = &b->head, *prev = NULL;
	while (*pp && *pp != it) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = it->next;
	if (b->tail == it)
		b->tail = prev;
	b->queued--;
	b->queued_rows -= it->rows;
}

/* Called with the lock held; runs one pass and returns with the lock held. */
static void execute(struct aios_batcher *b)
{
	int slot = b->free_slots[--b->n_free];
	b->active++;
	/* optional hold for more rows, only under evidence of concurrency */
	if (b->c.max_delay_us > 0 && b->last_requests > 1) {
		int64_t until = aios_now_ns() + (int64_t)b->c.max_delay_us * 1000;
		while (b->queued_rows < b->c.max_batch_rows && aios_now_ns() < until)
			wait_until(b, until);
	}
	/* take from the head up to max rows (at least one request) */
	struct item *first = b->head, *last = NULL;
	int rows = 0, n = 0;
	for (struct item *it = b->head; it; it = it->next) {
		if (n > 0 && rows + it->rows > b->c.max_batch_rows)
			break;
		it->state = TAKEN;
		rows += it->rows;
		n++;
		last = it;
	}
	if (n == 0) { /* someone else took everything (timeouts); nothing to do */
		b->free_slots[b->n_free++] = slot;
		b->active--;
		return;
	}
	b->head = last->next;
	if (!b->head)
		b->tail = NULL;
	last->next = NULL;
	b->queued -= n;
	b->queued_rows -= rows;
	b->last_requests = n;
	pthread_mutex_unlock(&b->mu);

	if (n == 1) {
		b->fn(first->x, first->rows, first->y, slot, b->ud);
	} else {
		float *x = aios_xmalloc(sizeof(float) * (size_t)rows * (size_t)b->c.in);
		float *y = aios_xmalloc(sizeof(float) * (size_t)rows * (size_t)b->c.out);
		size_t off = 0;
		for (struct item *it = first; it; it = it->next) {
			memcpy(x + off * b->c.in, it->x, sizeof(float) * (size_t)it->rows * b->c.in);
			off += (size_t)it->rows;
		}
		b->fn(x, rows, y, slot, b->ud);
		off = 0;
		for (struct item *it = first; it; it = it->next) {
			memcpy(it->y, y + off * b->c.out, sizeof(float) * (size_t)it->rows * b->c.out);
			off += (size_t)it->rows;
		}
		free(x);
		free(y);
	}
	if (b->c.on_batch)
		b->c.on_batch(rows, n, b->ud);

	pthread_mutex_lock(&b->mu);
	for (struct item *it = first, *next; it; it = next) {
		next = it->next; /* read before DONE: the owner may return at once */
		it->state = DONE;
	}
	b->free_slots[b->n_free++] = slot;
	b->active--;
	pthread_cond_broadcast(&b->cv);
}

enum aios_err aios_batcher_run(struct aios_batcher *b, const float *x, int rows, float *y,
			       int64_t deadline_ns)
{
	struct item it = {.x = x, .y = y, .rows = rows, .state = QUEUED};
	pthread_mutex_lock(&b->mu);
	if (b->queued >= b->c.queue_depth) {
		int q = b->queued;
		pthread_mutex_unlock(&b->mu);
		return aios_fail(AIOS_ERR_UNAVAILABLE, "inference queue is full (%d requests waiting)",
				 q);
	}
	if (b->tail)
		b->tail->next = &it;
	else
		b->head = &it;
	b->tail = &it;
	b->queued++;
	b->queued_rows += rows;
	pthread_cond_broadcast(&b->cv); /* a holding executor may be waiting for rows */
	enum aios_err e = AIOS_OK;
	while (it.state != DONE) {
		if (it.state == QUEUED && b->active < b->c.executors) {
			execute(b);
			continue;
		}
		if (it.state == QUEUED && deadline_ns > 0 && aios_now_ns() >= deadline_ns) {
			unlink_item(b, &it);
			e = aios_fail(AIOS_ERR_TIMEOUT, "request waited past its deadline in the "
				      "inference queue");
			break;
		}
		wait_until(b, it.state == QUEUED ? deadline_ns : 0);
	}
	pthread_mutex_unlock(&b->mu);
	return e;
}
