/*
 * dist_internal.h - the insides of struct aios_dist, shared by dist_link.c (links,
 * helper threads, failure) and dist_rendezvous.c (meeting, barriers). Not a public
 * header: everything else goes through dist_rendezvous.h.
 */
#ifndef AIOS_DIST_INTERNAL_H
#define AIOS_DIST_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "dist_rendezvous.h"

struct aios_dist_msg {
	struct aios_dist_msg *next;
	uint64_t seq; /* arrival order over all links (recv_any) */
	int from;
	struct aios_dist_header h;
	uint8_t *payload; /* h.payload_len bytes, owned */
};

/* One TCP link to one peer. The receiver thread alone reads fd; senders hold send_mu. */
struct dist_link {
	int fd;
	int peer;
	pthread_mutex_t send_mu;
	atomic_llong last_tx_ms; /* monotonic ms of the last frame sent */
	atomic_llong last_rx_ms; /* monotonic ms of the last byte received */
	/* receive state (receiver thread only) */
	uint8_t hdr[AIOS_DIST_HEADER_LEN];
	size_t hdr_got;
	struct aios_dist_msg *cur; /* frame whose payload is being read */
	size_t payload_got;
	/* under d->mu */
	struct aios_dist_msg *head, *tail;
	size_t queued;     /* bytes of payload in the queue */
	atomic_int closed; /* no more frames will come (read without d->mu) */
	int expect_close;  /* the peer may close now without it being a failure */
	atomic_int broken; /* a send failed part way: never write this link again */
};

struct aios_dist {
	struct aios_dist_config cfg;
	int rank, world;
	enum aios_dist_role roles[AIOS_DIST_MAX_WORLD];
	struct dist_link *links[AIOS_DIST_MAX_WORLD]; /* links[rank] is NULL */

	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t arrivals;
	/* the first failure: who was lost, and why (message names the rank) */
	int failed;
	int lost;
	enum aios_err fail_code;
	char fail_msg[768];
	int told;    /* ABORT frames sent to the peers */
	int closing; /* the final barrier passed: closes are expected */

	pthread_t rx_thread, beat_thread;
	int threads;
	int wake[2]; /* pipe: wakes the helper threads to stop */
	atomic_int stop;

	uint32_t tag_seq;
};

/* dist_link.c */
struct dist_link *dist_link_new(int fd, int peer);
void dist_link_free(struct dist_link *l);
/* Starts the receiver and heartbeat threads over d->links. */
enum aios_err dist_threads_start(struct aios_dist *d) AIOS_MUST_CHECK;
void dist_threads_stop(struct aios_dist *d);
/* Records the first failure (lost rank, code, message) and wakes waiters. Caller holds d->mu. */
void dist_fail_locked(struct aios_dist *d, int lost, enum aios_err code, const char *fmt, ...)
    AIOS_PRINTF(4, 5);
/* Returns the recorded failure as this thread's error, after telling the peers once. */
enum aios_err dist_failure(struct aios_dist *d) AIOS_MUST_CHECK;

/* Sends ABORT(lost, reason) to every reachable peer, once per run; keeps this thread's error. */
void dist_tell_peers(struct aios_dist *d);

/* Blocking helpers used before the threads run (rendezvous). deadline: aios_now_ms() value. */
enum aios_err dist_write_frame(int fd, const struct aios_dist_header *h, const void *p, size_t n,
                               int64_t deadline_ms) AIOS_MUST_CHECK;
/* Reads one frame of at most max payload bytes; *payload is malloc'ed (caller frees). */
enum aios_err dist_read_frame(int fd, size_t max, int64_t deadline_ms, struct aios_dist_header *h,
                              uint8_t **payload) AIOS_MUST_CHECK;

#endif
