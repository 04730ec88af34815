/*
 * pool.c - the trainer's worker team (see pool.h).
 *
 * Each helper has its own slot: a run bumps the generation of the helpers taking part
 * and signals only those, so helpers left out of a small batch stay asleep instead of
 * waking (or spinning) for every step.
 */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/mem.h"

/* Spin iterations before sleeping: about 20-50 us on current x86, longer than a
 * small batch's step, much shorter than the gap between epochs. After SPIN_PAUSE of
 * them each iteration yields instead of pausing. */
#define SPIN       20000
#define SPIN_PAUSE 2000

struct slot {
	atomic_uint gen; /* bumped when this helper has work */
	pthread_cond_t go;
	pthread_t th;
	int index;
	struct trainer_pool *pool;
} __attribute__((aligned(64)));

struct trainer_pool {
	int n;
	struct slot slots[TRAINER_MAX_THREADS]; /* [0] unused: the caller is worker 0 */
	pthread_mutex_t mu;
	pthread_cond_t done;
	atomic_int pending; /* helpers still working on this run */
	atomic_int stop;
	int active; /* workers taking part in this run */
	trainer_pool_fn fn;
	void *ud;
};

static inline void cpu_relax(int spins)
{
	if (spins > SPIN_PAUSE) {
		sched_yield();
		return;
	}
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void *helper(void *arg)
{
	struct slot *s = arg;
	struct trainer_pool *p = s->pool;
	unsigned seen = 0;
	for (;;) {
		int spins = 0;
		while (atomic_load_explicit(&s->gen, memory_order_acquire) == seen &&
		       !atomic_load(&p->stop)) {
			if (++spins < SPIN) {
				cpu_relax(spins);
				continue;
			}
			pthread_mutex_lock(&p->mu);
			while (atomic_load(&s->gen) == seen && !atomic_load(&p->stop))
				pthread_cond_wait(&s->go, &p->mu);
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->stop))
			return NULL;
		seen = atomic_load_explicit(&s->gen, memory_order_acquire);
		p->fn(p->ud, s->index, p->active);
		if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

struct trainer_pool *trainer_pool_new(int n)
{
	struct trainer_pool *p = aligned_alloc(64, sizeof(*p));
	if (!p)
		abort();
	*p = (struct trainer_pool){0};
	p->n = n < 1 ? 1 : n > TRAINER_MAX_THREADS ? TRAINER_MAX_THREADS : n;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->done, NULL);
	for (int i = 1; i < p->n; i++) {
		struct slot *s = &p->slots[i];
		s->index = i;
		s->pool = p;
		pthread_cond_init(&s->go, NULL);
		if (pthread_create(&s->th, NULL, helper, s)) {
			fprintf(stderr, "aios-trainer: cannot create worker thread %d\n", i);
			abort();
		}
	}
	return p;
}

int trainer_pool_size(const struct trainer_pool *p)
{
	return p->n;
}

void trainer_pool_run(struct trainer_pool *p, trainer_pool_fn fn, void *ud)
{
	trainer_pool_run_n(p, p->n, fn, ud);
}

void trainer_pool_run_n(struct trainer_pool *p, int active, trainer_pool_fn fn, void *ud)
{
	active = active < 1 ? 1 : active > p->n ? p->n : active;
	if (active == 1) {
		fn(ud, 0, 1);
		return;
	}
	p->fn = fn;
	p->ud = ud;
	p->active = active;
	atomic_store(&p->pending, active - 1);
	pthread_mutex_lock(&p->mu);
	for (int i = 1; i < active; i++) {
		atomic_fetch_add_explicit(&p->slots[i].gen, 1, memory_order_release);
		pthread_cond_signal(&p->slots[i].go);
	}
	pthread_mutex_unlock(&p->mu);
	fn(ud, 0, active);
	int spins = 0;
	while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
		if (++spins < SPIN) {
			cpu_relax(spins);
			continue;
		}
		pthread_mutex_lock(&p->mu);
		while (atomic_load(&p->pending) > 0)
			pthread_cond_wait(&p->done, &p->mu);
		pthread_mutex_unlock(&p->mu);
	}
}

void trainer_pool_free(struct trainer_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, 1);
	for (int i = 1; i < p->n; i++)
		pthread_cond_signal(&p->slots[i].go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++) {
		pthread_join(p->slots[i].th, NULL);
		pthread_cond_destroy(&p->slots[i].go);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->done);
	free(p);
}
