/*
 * dist_rendezvous.h - how the ranks of a distributed training job meet, and the links
 * between them once they have met.
 *
 * Rank 0 is the coordinator: it listens on the port of AIOS_COORDINATOR (binding
 * 0.0.0.0), every other rank connects to it with bounded retries (no DNS: the address
 * is an IPv4 literal) and says hello: job name, world size, rank, attempt, role and the
 * port of its own listening socket. Every link is authenticated first: the acceptor sends
 * a fresh nonce, the connector's HELLO carries an HMAC-SHA256 of it under the job's
 * secret, the acceptor answers with its own MAC (dist_wire.h, dist_auth.h); a peer that
 * fails gets "authentication failed" and nothing else. Hellos are read concurrently,
 * each connection with its own deadline, so a slow or silent peer holds up no one.
 * Rank 0 refuses an authenticated rank of another job, another world
 * size, a duplicate rank, or another attempt (a rank left over from an old attempt must
 * never join a new one), then hands every rank the peer table (each rank's address as
 * rank 0 saw it, its listening port, its role). The ranks then open one TCP link per pair
 * (a full mesh: world <= AIOS_DIST_MAX_WORLD), and meet at a barrier.
 *
 * Once connected, each process runs two helper threads:
 *   - a receiver that reads every link all the time, so a sender never blocks on a peer
 *     that is itself busy sending (no ring deadlock), and queues frames per link;
 *   - a heartbeat thread that sends a HEARTBEAT frame on a link that carried nothing for
 *     heartbeat_ms, so a busy but healthy peer is never mistaken for a dead one.
 * A link is lost when it closes, errs, carries a malformed frame, or stays silent for
 * peer_timeout_ms. The first loss is recorded (the lost rank and why), every later call
 * fails with AIOS_ERR_UNAVAILABLE and a message naming that rank, and the other ranks are
 * told with an ABORT frame so they name the same rank. No call waits longer than
 * op_timeout_ms for one frame, so nothing hangs.
 *
 * Threading: every function here is called by one thread (the trainer's); the helper
 * threads are internal.
 */
#ifndef AIOS_DIST_RENDEZVOUS_H
#define AIOS_DIST_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "dist_wire.h"

#define AIOS_DIST_MAX_WORLD   64         /* ranks in one job (a full mesh of TCP links) */
#define AIOS_DIST_CHUNK_BYTES (1u << 20) /* bulk float transfers are cut into frames of this size */
#define AIOS_DIST_MAX_QUEUE   (1u << 30) /* bytes received but not yet consumed, per link */

enum aios_dist_role { AIOS_DIST_ROLE_WORKER = 0, AIOS_DIST_ROLE_PS = 1, AIOS_DIST_ROLE_STAGE = 2 };

struct aios_dist_config {
	char job[AIOS_DIST_MAX_JOB + 1]; /* AIOS_JOB */
	int rank;                        /* AIOS_RANK, 0 <= rank < world */
	int world;                       /* AIOS_WORLD_SIZE */
	uint32_t attempt;                /* AIOS_ATTEMPT */
	enum aios_dist_role role;        /* AIOS_ROLE */
	char coord_ip[16];               /* AIOS_COORDINATOR host (IPv4 literal) */
	uint16_t coord_port;             /* AIOS_COORDINATOR port */
	int rendezvous_timeout_ms;       /* the whole meeting, retries included (120 s) */
	int heartbeat_ms;                /* heartbeat on a link idle this long (1 s) */
	int peer_timeout_ms;             /* a link silent this long is lost (5 s) */
	int op_timeout_ms;               /* longest wait for one expected frame (600 s) */
	uint8_t secret[1024];            /* the job's shared secret (dist_auth.h) */
	size_t secret_len;               /* 0: none */
	int insecure;                    /* AIOS_DIST_INSECURE=1: run multi-rank without one */
};

struct aios_dist;     /* a connected rank (opaque) */
struct aios_dist_msg; /* one received frame */

const char *aios_dist_role_name(enum aios_dist_role r);
/* "worker" | "ps" | "stage"; -1 for anything else. */
int aios_dist_role_parse(const char *s);

/* Defaults: single process (rank 0 of 1), attempt 0, worker, the timeouts above. */
void aios_dist_config_defaults(struct aios_dist_config *c);

/*
 * Fills c from the environment: AIOS_JOB, AIOS_RANK, AIOS_WORLD_SIZE, AIOS_ROLE,
 * AIOS_COORDINATOR, AIOS_ATTEMPT, the secret (AIOS_SECRET_FILE, AIOS_SECRET,
 * AIOS_DIST_INSECURE: dist_auth.h), and the optional AIOS_DIST_RENDEZVOUS_TIMEOUT_MS,
 * AIOS_DIST_HEARTBEAT_MS, AIOS_DIST_PEER_TIMEOUT_MS, AIOS_DIST_OP_TIMEOUT_MS.
 * Unset variables keep their defaults; AIOS_COORDINATOR is required when the world
 * size is above 1. AIOS_ERR_INVALID names the variable and the bad value.
 */
enum aios_err aios_dist_config_from_env(struct aios_dist_config *c) AIOS_MUST_CHECK;

/* Parses "A.B.C.D:PORT" (port 1..65535). AIOS_ERR_INVALID for host names or bad ports. */
enum aios_err aios_dist_parse_coordinator(const char *s, char ip[16],
                                          uint16_t *port) AIOS_MUST_CHECK;

/*
 * Meets the other ranks (see top of file) and returns the connected rank in *out
 * (caller frees with aios_dist_finish or aios_dist_free). AIOS_ERR_TIMEOUT when the
 * coordinator could not be reached or not everyone arrived within
 * rendezvous_timeout_ms; AIOS_ERR_FORBIDDEN when rank 0 refused this rank (message
 * carries its reason, e.g. an old attempt); AIOS_ERR_INVALID for a multi-rank config
 * without a secret and without insecure set.
 */
enum aios_err aios_dist_connect(const struct aios_dist_config *c,
                                struct aios_dist **out) AIOS_MUST_CHECK;

/*
 * The final barrier of a successful run: every rank arrives, then the links close
 * without anybody reporting a lost peer. Frees d in every case.
 */
enum aios_err aios_dist_finish(struct aios_dist *d) AIOS_MUST_CHECK;

/*
 * Closes everything at once. If the run failed, the peers have been told (ABORT);
 * if it did not, they see this rank as lost. NULL is a no-op.
 */
void aios_dist_free(struct aios_dist *d);

/* Tells every peer this rank gives up (ABORT naming this rank, with reason). */
void aios_dist_abort(struct aios_dist *d, const char *reason);

int aios_dist_rank(const struct aios_dist *d);
int aios_dist_world(const struct aios_dist *d);
uint32_t aios_dist_attempt(const struct aios_dist *d);
enum aios_dist_role aios_dist_role_of(const struct aios_dist *d, int rank);
/* The first lost rank, or -1 while all is well. */
int aios_dist_lost_rank(const struct aios_dist *d);

/* ---- point to point (used by the collectives and strategies) ---- */

/* Sends one frame to rank `to` (payload n <= AIOS_DIST_MAX_PAYLOAD bytes). */
enum aios_err aios_dist_send(struct aios_dist *d, int to, unsigned type, uint32_t tag,
                             const void *p, size_t n) AIOS_MUST_CHECK;
/*
 * Takes the next frame from rank `from`, which must have this type and tag (anything
 * else is AIOS_ERR_PROTOCOL). Caller frees *out.
 */
enum aios_err aios_dist_recv(struct aios_dist *d, int from, unsigned type, uint32_t tag,
                             struct aios_dist_msg **out) AIOS_MUST_CHECK;
/* The frame that arrived first among all links (any type). Caller frees *out. */
enum aios_err aios_dist_recv_any(struct aios_dist *d, struct aios_dist_msg **out) AIOS_MUST_CHECK;
void aios_dist_msg_free(struct aios_dist_msg *m);
int aios_dist_msg_from(const struct aios_dist_msg *m);
unsigned aios_dist_msg_type(const struct aios_dist_msg *m);
uint32_t aios_dist_msg_tag(const struct aios_dist_msg *m);
const uint8_t *aios_dist_msg_payload(const struct aios_dist_msg *m, size_t *len);

/* n floats as ceil(4n / AIOS_DIST_CHUNK_BYTES) frames of the given type and tag. */
enum aios_err aios_dist_send_floats(struct aios_dist *d, int to, unsigned type, uint32_t tag,
                                    const float *x, size_t n) AIOS_MUST_CHECK;
/* The matching receive: exactly n floats into x (a size mismatch is AIOS_ERR_PROTOCOL). */
enum aios_err aios_dist_recv_floats(struct aios_dist *d, int from, unsigned type, uint32_t tag,
                                    float *x, size_t n) AIOS_MUST_CHECK;

/* Every rank waits until all have arrived (through rank 0). */
enum aios_err aios_dist_barrier(struct aios_dist *d) AIOS_MUST_CHECK;
/* Copies n floats of rank root to every rank. */
enum aios_err aios_dist_broadcast(struct aios_dist *d, int root, float *x,
                                  size_t n) AIOS_MUST_CHECK;
/* Next tag for a collective (every rank calls collectives in the same order). */
uint32_t aios_dist_next_tag(struct aios_dist *d);

#endif
