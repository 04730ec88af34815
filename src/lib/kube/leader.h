/*
 * leader.h - leader election on a coordination.k8s.io/v1 Lease, with client-go's
 * timings and semantics.
 *
 * A candidate tries to acquire the Lease every retry period (2 s, jittered up to 4.4 s):
 * it takes it when the Lease does not exist, holds no holder, or its holder has not
 * renewed within leaseDurationSeconds (15 s) as observed on *our* clock. Unlike
 * client-go, which counts from the moment it saw the record change, a follower dates
 * that observation back to the record's spec.renewTime when our wall clock puts it in
 * the past, by at most leaseDuration - renewDeadline (5 s) (aios_kube_lease_backdate_ms),
 * and sleeps only until the lease would expire, so it takes over within one lease
 * duration of the holder's last renewal. The leader renews every retry period (one
 * write on the record it last wrote; a read first only after a 409), bounds
 * each renewal by what is left of its renew deadline (10 s) and gives up (on_stopped)
 * when it has not renewed within it, counted from the renewTime it last wrote: so
 * "never both act" holds while clocks differ by less than leaseDuration - renewDeadline
 * (docs/reliability.md). All writes are compare-and-swap on the Lease's
 * resourceVersion, so two candidates never both win. On a clean stop the leader
 * releases the Lease (holderIdentity "" and leaseDurationSeconds 1, as client-go's
 * ReleaseOnCancel) so a successor takes over at once.
 */
#ifndef AIOS_KUBE_LEADER_H
#define AIOS_KUBE_LEADER_H

#include <stdint.h>

#include "common/err.h"
#include "kube/client.h"

#define AIOS_KUBE_LEASE_DURATION_MS 15000
#define AIOS_KUBE_RENEW_DEADLINE_MS 10000
#define AIOS_KUBE_RETRY_PERIOD_MS   2000

struct aios_kube_leader_opts {
	const char *ns;            /* the Lease's namespace */
	const char *name;          /* the Lease's name */
	const char *identity;      /* NULL: "<hostname>_<random uuid>" */
	int64_t lease_duration_ms; /* 0: AIOS_KUBE_LEASE_DURATION_MS */
	int64_t renew_deadline_ms; /* 0: AIOS_KUBE_RENEW_DEADLINE_MS */
	int64_t retry_period_ms;   /* 0: AIOS_KUBE_RETRY_PERIOD_MS */
	/* Called on the elector's thread. on_stopped follows every on_started. */
	void (*on_started)(void *arg);
	void (*on_stopped)(void *arg);
	void (*on_new_leader)(void *arg, const char *identity); /* may be NULL */
	void *arg;
};

struct aios_kube_leader;

/* Validates opts (lease > renew > retry, as client-go demands) and copies them. */
enum aios_err aios_kube_leader_new(struct aios_kube_client *c,
                                   const struct aios_kube_leader_opts *o,
                                   struct aios_kube_leader **out) AIOS_MUST_CHECK;
/* Starts campaigning on a thread of its own. */
enum aios_err aios_kube_leader_start(struct aios_kube_leader *l) AIOS_MUST_CHECK;
/* Stops campaigning; when leading, releases the Lease and calls on_stopped. Joins. */
void aios_kube_leader_stop(struct aios_kube_leader *l);
void aios_kube_leader_free(struct aios_kube_leader *l);

int aios_kube_leader_is_leader(struct aios_kube_leader *l);
/* Our identity (owned by l). */
const char *aios_kube_leader_identity(const struct aios_kube_leader *l);

/* Parses a metav1.MicroTime, "2026-11-29T01:02:03.456789Z" (0 to 9 fraction digits, UTC
 * "Z" only, as the API server writes it), into microseconds since the Unix epoch.
 * Returns 0, or -1 on anything else (s may be NULL). */
int aios_kube_micro_time_parse(const char *s, int64_t *unix_us);

/* How many ms before now a follower dates its observation of a changed Lease record
 * whose spec.renewTime is renew_time, our wall clock being wall_now_us (Unix us): the
 * renewal's age when it is in the past and no older than lease_ms, capped at max_ms
 * (leaseDuration - renewDeadline); 0 (the record counts from now, client-go's rule)
 * when renew_time is NULL, unparsable, in the future or older than lease_ms. */
int64_t aios_kube_lease_backdate_ms(const char *renew_time, int64_t wall_now_us, int64_t lease_ms,
                                    int64_t max_ms);

#endif
