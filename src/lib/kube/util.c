/*
 * util.c - small helpers shared by the kube module's threads (kube_internal.h).
 */
#include <time.h>

#include "common/clock.h"
#include "common/shutdown.h"
#include "kube/kube_internal.h"

uint64_t aios_kube_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void aios_kube_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

void aios_kube_nap(pthread_mutex_t *mu, pthread_cond_t *cv, const int *stop, int64_t ms)
{
	int64_t until = aios_now_ms() + ms;
	pthread_mutex_lock(mu);
	while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE) && !aios_shutdown_requested()) {
		int64_t now = aios_now_ms();
		if (now >= until)
			break;
		int64_t w = until - now < 200 ? until : now + 200;
		struct timespec ts = {(time_t)(w / 1000), (long)(w % 1000) * 1000000L};
		pthread_cond_timedwait(cv, mu, &ts);
	}
	pthread_mutex_unlock(mu);
}
