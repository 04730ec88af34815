/*
 * pool.c - the trainer's worker team (see pool.h).
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
#define SPIN 20000
#define SPIN_PAUSE 2000

struct trainer_pool {
	int n;
	pthread_t th[TRAINER_MAX_THREADS];
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	atomic_uint gen;     /* bumped once per run */
	atomic_int pending;  /* helpers still working on this run */
	atomic_int stop;
	int active;          /* workers taking part in this run */
	trainer_pool_fn fn;
	void *ud;
};

struct helper_arg {
	struct trainer_pool *p;
	int index;
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
	struct helper_arg a = *(struct helper_arg *)arg;
	free(arg);
	struct trainer_pool *p = a.p;
	unsigned seen = 0;
	for (;;) {
		int spins = 0;
		while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen && !atomic_load(&p->stop)) {
			if (++spins < SPIN) {
				cpu_relax(spins);
				continue;
			}
			pthread_mutex_lock(&p->mu);
			while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
				pthread_cond_wait(&p->go, &p->mu);
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->stop))
			return NULL;
		seen = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (a.index >= p->active)
			continue;
		p->fn(p->ud, a.index, p->active);
		if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

struct trainer_pool *trainer_pool_new(int n)
{
	struct trainer_pool *p = aios_xcalloc(1, sizeof(*p));
	p->n = n < 1 ? 1 : n > TRAINER_MAX_THREADS ? TRAINER_MAX_THREADS : n;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	for (int i = 1; i < p->n; i++) {
		struct helper_arg *a = aios_xmalloc(sizeof(*a));
		a->p = p;
		a->index = i;
		if (pthread_create(&p->th[i], NULL, helper, a)) {
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
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	pthread_cond_broadcast(&p->go);
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
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	free(p);
}
