/*
 * dist_link.c - the links between ranks once they have met: framed sends, the
 * receiver and heartbeat threads, per-link queues, and the failure that ends a run
 * (see dist_rendezvous.h for the behaviour, dist_internal.h for the structures).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "dist_internal.h"

/* ------------------------------------------------------------------------------------
 * Blocking frame I/O with a deadline (poll in slices so a closed link is seen)
 * ------------------------------------------------------------------------------------ */

#define POLL_SLICE_MS 200 /* how often a blocked sender looks at the link's state */
/* How long a failed send waits for the receiver to read the link to its end: a peer that
 * lost another rank sends ABORT naming it and then closes, so the send to it may fail
 * before the receiver has read that ABORT. */
#define LINK_END_GRACE_MS 1000

static enum aios_err send_all(int fd, const uint8_t *p, size_t n, int64_t deadline_ms,
                              const struct dist_link *l)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return aios_fail(AIOS_ERR_IO, "send: %s", strerror(errno));
		int64_t left = deadline_ms - aios_now_ms();
		if (left <= 0)
			return aios_fail(AIOS_ERR_TIMEOUT,
			                 "send: peer did not read for the whole deadline");
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int r = poll(&pfd, 1, left < POLL_SLICE_MS ? (int)left : POLL_SLICE_MS);
		if (r < 0 && errno != EINTR)
			return aios_fail(AIOS_ERR_IO, "poll: %s", strerror(errno));
		if (l && l->closed)
			return aios_fail(AIOS_ERR_IO, "send: link closed");
	}
	return AIOS_OK;
}

enum aios_err dist_write_frame(int fd, const struct aios_dist_header *h, const void *p, size_t n,
                               int64_t deadline_ms)
{
	uint8_t hdr[AIOS_DIST_HEADER_LEN];
	aios_dist_header_encode(h, hdr);
	enum aios_err e = send_all(fd, hdr, sizeof(hdr), deadline_ms, NULL);
	if (!e && n)
		e = send_all(fd, p, n, deadline_ms, NULL);
	return e;
}

static enum aios_err recv_all(int fd, uint8_t *p, size_t n, int64_t deadline_ms)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0)
			return aios_fail(AIOS_ERR_IO, "connection closed by peer");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return aios_fail(AIOS_ERR_IO, "recv: %s", strerror(errno));
		int64_t left = deadline_ms - aios_now_ms();
		if (left <= 0)
			return aios_fail(AIOS_ERR_TIMEOUT, "no reply before the deadline");
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return aios_fail(AIOS_ERR_IO, "poll: %s", strerror(errno));
	}
	return AIOS_OK;
}

enum aios_err dist_read_frame(int fd, size_t max, int64_t deadline_ms, struct aios_dist_header *h,
                              uint8_t **payload)
{
	uint8_t hdr[AIOS_DIST_HEADER_LEN];
	*payload = NULL;
	enum aios_err e = recv_all(fd, hdr, sizeof(hdr), deadline_ms);
	if (!e)
		e = aios_dist_header_decode(hdr, max, h);
	if (e)
		return e;
	*payload = aios_xmalloc(h->payload_len + 1u);
	(*payload)[h->payload_len] = 0; /* text payloads can be read as C strings */
	e = recv_all(fd, *payload, h->payload_len, deadline_ms);
	if (e) {
		free(*payload);
		*payload = NULL;
	}
	return e;
}

/* ------------------------------------------------------------------------------------
 * Links and failure
 * ------------------------------------------------------------------------------------ */

struct dist_link *dist_link_new(int fd, int peer)
{
	struct dist_link *l = aios_xcalloc(1, sizeof(*l));
	l->fd = fd;
	l->peer = peer;
	pthread_mutex_init(&l->send_mu, NULL);
	atomic_store(&l->last_tx_ms, aios_now_ms());
	atomic_store(&l->last_rx_ms, aios_now_ms());
	return l;
}

void dist_link_free(struct dist_link *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	for (struct aios_dist_msg *m = l->head, *next; m; m = next) {
		next = m->next;
		aios_dist_msg_free(m);
	}
	if (l->cur)
		aios_dist_msg_free(l->cur);
	pthread_mutex_destroy(&l->send_mu);
	free(l);
}

void dist_fail_locked(struct aios_dist *d, int lost, enum aios_err code, const char *fmt, ...)
{
	if (d->failed)
		return;
	d->failed = 1;
	d->lost = lost;
	d->fail_code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->fail_msg, sizeof(d->fail_msg), fmt, ap);
	va_end(ap);
	/* A lost peer's socket is shut so a sender blocked on it returns now. */
	if (lost >= 0 && lost < d->world && d->links[lost]) {
		d->links[lost]->closed = 1;
		shutdown(d->links[lost]->fd, SHUT_RDWR);
	}
	pthread_cond_broadcast(&d->cv);
}

/* Sends ABORT(lost, reason) to every peer still reachable; once per run. */
void dist_tell_peers(struct aios_dist *d)
{
	pthread_mutex_lock(&d->mu);
	int already = d->told;
	d->told = 1;
	int lost = d->lost;
	char msg[AIOS_DIST_MAX_REASON];
	snprintf(msg, sizeof(msg), "%s", d->fail_msg);
	pthread_mutex_unlock(&d->mu);
	if (already)
		return;
	size_t mlen = strlen(msg);
	uint8_t *p = aios_xmalloc(4 + mlen);
	aios_dist_put_u32(p, (uint32_t)lost);
	memcpy(p + 4, msg, mlen);
	struct aios_dist_header h = {.version = AIOS_DIST_VERSION,
	                             .type = AIOS_DIST_ABORT,
	                             .attempt = d->cfg.attempt,
	                             .sender = (uint32_t)d->rank,
	                             .payload_len = (uint32_t)(4 + mlen)};
	for (int r = 0; r < d->world; r++) {
		struct dist_link *l = d->links[r];
		if (!l || r == lost || l->closed || l->broken)
			continue;
		pthread_mutex_lock(&l->send_mu);
		if (dist_write_frame(l->fd, &h, p, 4 + mlen, aios_now_ms() + 1000) != AIOS_OK)
			l->broken = 1;
		pthread_mutex_unlock(&l->send_mu);
	}
	free(p);
}

enum aios_err dist_failure(struct aios_dist *d)
{
	dist_tell_peers(d);
	pthread_mutex_lock(&d->mu);
	enum aios_err code = d->fail_code;
	char msg[sizeof(d->fail_msg)];
	memcpy(msg, d->fail_msg, sizeof(msg));
	pthread_mutex_unlock(&d->mu);
	return aios_fail(code, "rank %d: %s", d->rank, msg);
}

void aios_dist_abort(struct aios_dist *d, const char *reason)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	dist_fail_locked(d, d->rank, AIOS_ERR_UNAVAILABLE, "lost rank %d: it gave up: %s", d->rank,
	                 reason);
	pthread_mutex_unlock(&d->mu);
	dist_tell_peers(d);
}

/* ------------------------------------------------------------------------------------
 * The receiver thread: reads every link, queues frames, notices losses
 * ------------------------------------------------------------------------------------ */

/* A link ended (closed, error, bad frame or silence). Caller holds d->mu. */
static void link_lost_locked(struct aios_dist *d, struct dist_link *l, enum aios_err code,
                             const char *why)
{
	if (l->closed)
		return;
	int expected = d->closing || l->expect_close;
	l->closed = 1;
	shutdown(l->fd, SHUT_RDWR);
	if (!expected)
		dist_fail_locked(d, l->peer, code, "lost rank %d: %s", l->peer, why);
	pthread_cond_broadcast(&d->cv);
}

/* One complete frame arrived on l. Caller holds d->mu; takes m. */
static void deliver_locked(struct aios_dist *d, struct dist_link *l, struct aios_dist_msg *m)
{
	if (m->h.type == AIOS_DIST_HEARTBEAT) {
		aios_dist_msg_free(m);
		return;
	}
	if (m->h.type == AIOS_DIST_ABORT) {
		uint32_t lost =
		    m->h.payload_len >= 4 ? aios_dist_get_u32(m->payload) : (uint32_t)l->peer;
		const char *why = m->h.payload_len > 4 ? (const char *)m->payload + 4 : "no reason";
		if (lost >= (uint32_t)d->world)
			lost = (uint32_t)l->peer;
		dist_fail_locked(d, (int)lost, AIOS_ERR_UNAVAILABLE, "%s (reported by rank %d)",
		                 why, l->peer);
		aios_dist_msg_free(m);
		return;
	}
	m->seq = ++d->arrivals;
	if (l->tail)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
	l->queued += m->h.payload_len;
	pthread_cond_broadcast(&d->cv);
}

/* Reads what l has without blocking. Returns 0 while the link is fine. */
static int link_read(struct aios_dist *d, struct dist_link *l)
{
	for (;;) {
		uint8_t *dst;
		size_t want;
		if (!l->cur) {
			dst = l->hdr + l->hdr_got;
			want = AIOS_DIST_HEADER_LEN - l->hdr_got;
		} else {
			dst = l->cur->payload + l->payload_got;
			want = l->cur->h.payload_len - l->payload_got;
		}
		ssize_t r = want ? recv(l->fd, dst, want, MSG_DONTWAIT) : 0;
		if (want && r == 0) {
			pthread_mutex_lock(&d->mu);
			link_lost_locked(d, l, AIOS_ERR_UNAVAILABLE, "connection closed");
			pthread_mutex_unlock(&d->mu);
			return -1;
		}
		if (want && r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			char why[128];
			snprintf(why, sizeof(why), "connection error: %s", strerror(errno));
			pthread_mutex_lock(&d->mu);
			link_lost_locked(d, l, AIOS_ERR_UNAVAILABLE, why);
			pthread_mutex_unlock(&d->mu);
			return -1;
		}
		if (r > 0)
			atomic_store(&l->last_rx_ms, aios_now_ms());
		if (!l->cur) {
			l->hdr_got += (size_t)r;
			if (l->hdr_got < AIOS_DIST_HEADER_LEN)
				continue;
			struct aios_dist_header h;
			enum aios_err e =
			    aios_dist_header_decode(l->hdr, AIOS_DIST_MAX_PAYLOAD, &h);
			char why[512] = "";
			if (e)
				snprintf(why, sizeof(why), "bad frame: %s", aios_errmsg());
			else if (h.sender != (uint32_t)l->peer || h.attempt != d->cfg.attempt)
				snprintf(why, sizeof(why),
				         "bad frame: sender %u attempt %u on the link of rank %d "
				         "attempt %u",
				         h.sender, h.attempt, l->peer, d->cfg.attempt);
			else {
				pthread_mutex_lock(&d->mu);
				size_t queued = l->queued;
				pthread_mutex_unlock(&d->mu);
				if (queued + h.payload_len > AIOS_DIST_MAX_QUEUE)
					snprintf(why, sizeof(why),
					         "more than %u bytes queued unread",
					         AIOS_DIST_MAX_QUEUE);
			}
			if (why[0]) {
				pthread_mutex_lock(&d->mu);
				link_lost_locked(d, l, AIOS_ERR_PROTOCOL, why);
				pthread_mutex_unlock(&d->mu);
				return -1;
			}
			l->cur = aios_xcalloc(1, sizeof(*l->cur));
			l->cur->h = h;
			l->cur->from = l->peer;
			l->cur->payload = aios_xmalloc(h.payload_len + 1u);
			l->cur->payload[h.payload_len] = 0;
			l->payload_got = 0;
			l->hdr_got = 0;
		} else {
			l->payload_got += (size_t)r;
		}
		if (l->cur && l->payload_got == l->cur->h.payload_len) {
			struct aios_dist_msg *m = l->cur;
			l->cur = NULL;
			pthread_mutex_lock(&d->mu);
			deliver_locked(d, l, m);
			pthread_mutex_unlock(&d->mu);
		}
	}
}

static void *rx_main(void *arg)
{
	struct aios_dist *d = arg;
	struct pollfd pfd[AIOS_DIST_MAX_WORLD + 1];
	struct dist_link *who[AIOS_DIST_MAX_WORLD + 1];
	while (!atomic_load(&d->stop)) {
		int n = 0;
		pfd[n++] = (struct pollfd){.fd = d->wake[0], .events = POLLIN};
		pthread_mutex_lock(&d->mu);
		for (int r = 0; r < d->world; r++) {
			struct dist_link *l = d->links[r];
			if (!l || l->closed)
				continue;
			who[n] = l;
			pfd[n++] = (struct pollfd){.fd = l->fd, .events = POLLIN};
		}
		pthread_mutex_unlock(&d->mu);
		/* 100 ms: the granularity of the silence check below. */
		int ready = poll(pfd, (nfds_t)n, 100);
		if (ready < 0 && errno != EINTR)
			break;
		for (int i = 1; i < n && ready > 0; i++)
			if (pfd[i].revents)
				(void)link_read(d, who[i]);
		int64_t now = aios_now_ms();
		pthread_mutex_lock(&d->mu);
		for (int i = 1; i < n; i++) {
			struct dist_link *l = who[i];
			long long quiet = now - atomic_load(&l->last_rx_ms);
			if (!l->closed && !l->expect_close && !d->closing &&
			    quiet > d->cfg.peer_timeout_ms) {
				char why[128];
				snprintf(why, sizeof(why), "no frame or heartbeat for %lld ms",
				         quiet);
				link_lost_locked(d, l, AIOS_ERR_TIMEOUT, why);
			}
		}
		pthread_mutex_unlock(&d->mu);
	}
	return NULL;
}

/* ------------------------------------------------------------------------------------
 * The heartbeat thread
 * ------------------------------------------------------------------------------------ */

static void *beat_main(void *arg)
{
	struct aios_dist *d = arg;
	int tick = d->cfg.heartbeat_ms / 4 > 10 ? d->cfg.heartbeat_ms / 4 : 10;
	struct aios_dist_header h = {.version = AIOS_DIST_VERSION,
	                             .type = AIOS_DIST_HEARTBEAT,
	                             .attempt = d->cfg.attempt,
	                             .sender = (uint32_t)d->rank};
	while (!atomic_load(&d->stop)) {
		struct pollfd pfd = {.fd = d->wake[0], .events = POLLIN};
		if (poll(&pfd, 1, tick) > 0)
			break;
		for (int r = 0; r < d->world; r++) {
			struct dist_link *l = d->links[r];
			if (!l || l->closed || l->broken)
				continue;
			int64_t now = aios_now_ms();
			if (now - atomic_load(&l->last_tx_ms) < d->cfg.heartbeat_ms)
				continue;
			/* A link someone is sending on is not idle: skip it this round. */
			if (pthread_mutex_trylock(&l->send_mu) != 0)
				continue;
			if (dist_write_frame(l->fd, &h, NULL, 0, now + d->cfg.peer_timeout_ms) ==
			    AIOS_OK)
				atomic_store(&l->last_tx_ms, aios_now_ms());
			else
				l->broken = 1;
			pthread_mutex_unlock(&l->send_mu);
		}
	}
	return NULL;
}

enum aios_err dist_threads_start(struct aios_dist *d)
{
	if (pipe2(d->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		return aios_fail(AIOS_ERR_IO, "pipe: %s", strerror(errno));
	if (pthread_create(&d->rx_thread, NULL, rx_main, d) != 0)
		return aios_fail(AIOS_ERR_IO, "cannot start the receiver thread");
	if (pthread_create(&d->beat_thread, NULL, beat_main, d) != 0) {
		atomic_store(&d->stop, 1);
		pthread_join(d->rx_thread, NULL);
		return aios_fail(AIOS_ERR_IO, "cannot start the heartbeat thread");
	}
	d->threads = 1;
	return AIOS_OK;
}

void dist_threads_stop(struct aios_dist *d)
{
	if (!d->threads)
		return;
	atomic_store(&d->stop, 1);
	ssize_t w = write(d->wake[1], "x", 1);
	(void)w;
	pthread_join(d->rx_thread, NULL);
	pthread_join(d->beat_thread, NULL);
	d->threads = 0;
}

/* ------------------------------------------------------------------------------------
 * Point to point
 * ------------------------------------------------------------------------------------ */

/* One wait on d->cv of at most POLL_SLICE_MS, not past deadline (ms). Caller holds d->mu. */
static void cv_wait_slice(struct aios_dist *d, int64_t deadline)
{
	int64_t left = deadline - aios_now_ms();
	if (left <= 0)
		return;
	int64_t wait = left < POLL_SLICE_MS ? left : POLL_SLICE_MS;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(wait % 1000) * 1000000L;
	ts.tv_sec += wait / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(&d->cv, &d->mu, &ts);
}

static enum aios_err check_peer(struct aios_dist *d, int peer)
{
	if (peer < 0 || peer >= d->world || peer == d->rank)
		return aios_fail(AIOS_ERR_INTERNAL, "rank %d: no link to rank %d", d->rank, peer);
	return AIOS_OK;
}

enum aios_err aios_dist_send(struct aios_dist *d, int to, unsigned type, uint32_t tag,
                             const void *p, size_t n)
{
	enum aios_err e = check_peer(d, to);
	if (e)
		return e;
	if (n > AIOS_DIST_MAX_PAYLOAD)
		return aios_fail(AIOS_ERR_TOO_BIG, "rank %d: %zu-byte frame exceeds the cap",
		                 d->rank, n);
	pthread_mutex_lock(&d->mu);
	int failed = d->failed;
	pthread_mutex_unlock(&d->mu);
	if (failed)
		return dist_failure(d);
	struct dist_link *l = d->links[to];
	struct aios_dist_header h = {.version = AIOS_DIST_VERSION,
	                             .type = (uint16_t)type,
	                             .attempt = d->cfg.attempt,
	                             .sender = (uint32_t)d->rank,
	                             .tag = tag,
	                             .payload_len = (uint32_t)n};
	uint8_t hdr[AIOS_DIST_HEADER_LEN];
	aios_dist_header_encode(&h, hdr);
	int64_t deadline = aios_now_ms() + d->cfg.op_timeout_ms;
	pthread_mutex_lock(&l->send_mu);
	e = l->broken ? aios_fail(AIOS_ERR_IO, "link broken") : AIOS_OK;
	if (!e)
		e = send_all(l->fd, hdr, sizeof(hdr), deadline, l);
	if (!e && n)
		e = send_all(l->fd, p, n, deadline, l);
	if (e)
		l->broken = 1;
	else
		atomic_store(&l->last_tx_ms, aios_now_ms());
	pthread_mutex_unlock(&l->send_mu);
	if (e) {
		char why[256];
		snprintf(why, sizeof(why), "%s", aios_errmsg());
		pthread_mutex_lock(&d->mu);
		int64_t until = aios_now_ms() + LINK_END_GRACE_MS;
		while (!atomic_load(&l->closed) && !d->failed && aios_now_ms() < until)
			cv_wait_slice(d, until);
		dist_fail_locked(d, to, AIOS_ERR_UNAVAILABLE, "lost rank %d: %s", to, why);
		pthread_mutex_unlock(&d->mu);
		return dist_failure(d);
	}
	return AIOS_OK;
}

/* Waits for a queued frame from `from` (-1: any link). Caller holds d->mu. */
static enum aios_err wait_locked(struct aios_dist *d, int from, struct aios_dist_msg **out)
{
	int64_t deadline = aios_now_ms() + d->cfg.op_timeout_ms;
	for (;;) {
		struct dist_link *best = NULL;
		if (from >= 0) {
			if (d->links[from]->head)
				best = d->links[from];
		} else {
			for (int r = 0; r < d->world; r++) {
				struct dist_link *l = d->links[r];
				if (l && l->head && (!best || l->head->seq < best->head->seq))
					best = l;
			}
		}
		if (best) {
			struct aios_dist_msg *m = best->head;
			best->head = m->next;
			if (!best->head)
				best->tail = NULL;
			best->queued -= m->h.payload_len;
			m->next = NULL;
			*out = m;
			return AIOS_OK;
		}
		if (d->failed)
			return AIOS_ERR_UNAVAILABLE;
		if (from >= 0 && d->links[from]->closed) {
			dist_fail_locked(d, from, AIOS_ERR_UNAVAILABLE,
			                 "lost rank %d: connection closed", from);
			return AIOS_ERR_UNAVAILABLE;
		}
		int64_t now = aios_now_ms();
		if (now >= deadline) {
			if (from >= 0)
				dist_fail_locked(d, from, AIOS_ERR_TIMEOUT,
				                 "lost rank %d: nothing from it for %d ms", from,
				                 d->cfg.op_timeout_ms);
			else
				dist_fail_locked(d, -1, AIOS_ERR_TIMEOUT,
				                 "no frame from any rank for %d ms",
				                 d->cfg.op_timeout_ms);
			return AIOS_ERR_TIMEOUT;
		}
		cv_wait_slice(d, deadline);
	}
}

static enum aios_err take(struct aios_dist *d, int from, struct aios_dist_msg **out)
{
	*out = NULL;
	if (from >= 0) {
		enum aios_err e = check_peer(d, from);
		if (e)
			return e;
	}
	pthread_mutex_lock(&d->mu);
	enum aios_err e = wait_locked(d, from, out);
	pthread_mutex_unlock(&d->mu);
	return e ? dist_failure(d) : AIOS_OK;
}

enum aios_err aios_dist_recv(struct aios_dist *d, int from, unsigned type, uint32_t tag,
                             struct aios_dist_msg **out)
{
	enum aios_err e = take(d, from, out);
	if (e)
		return e;
	struct aios_dist_msg *m = *out;
	if (m->h.type != type || m->h.tag != tag) {
		pthread_mutex_lock(&d->mu);
		dist_fail_locked(
		    d, from, AIOS_ERR_PROTOCOL,
		    "lost rank %d: protocol error: got %s frame tag %u, expected %s tag %u", from,
		    aios_dist_type_name(m->h.type), m->h.tag, aios_dist_type_name(type), tag);
		pthread_mutex_unlock(&d->mu);
		aios_dist_msg_free(m);
		*out = NULL;
		return dist_failure(d);
	}
	return AIOS_OK;
}

enum aios_err aios_dist_recv_any(struct aios_dist *d, struct aios_dist_msg **out)
{
	return take(d, -1, out);
}

void aios_dist_msg_free(struct aios_dist_msg *m)
{
	if (!m)
		return;
	free(m->payload);
	free(m);
}

int aios_dist_msg_from(const struct aios_dist_msg *m)
{
	return m->from;
}

unsigned aios_dist_msg_type(const struct aios_dist_msg *m)
{
	return m->h.type;
}

uint32_t aios_dist_msg_tag(const struct aios_dist_msg *m)
{
	return m->h.tag;
}

const uint8_t *aios_dist_msg_payload(const struct aios_dist_msg *m, size_t *len)
{
	*len = m->h.payload_len;
	return m->payload;
}

#define CHUNK_FLOATS (AIOS_DIST_CHUNK_BYTES / sizeof(float))

enum aios_err aios_dist_send_floats(struct aios_dist *d, int to, unsigned type, uint32_t tag,
                                    const float *x, size_t n)
{
	size_t off = 0;
	do {
		size_t k = n - off < CHUNK_FLOATS ? n - off : CHUNK_FLOATS;
		enum aios_err e = aios_dist_send(d, to, type, tag, x + off, k * sizeof(float));
		if (e)
			return e;
		off += k;
	} while (off < n);
	return AIOS_OK;
}

enum aios_err aios_dist_recv_floats(struct aios_dist *d, int from, unsigned type, uint32_t tag,
                                    float *x, size_t n)
{
	size_t off = 0;
	do {
		size_t k = n - off < CHUNK_FLOATS ? n - off : CHUNK_FLOATS;
		struct aios_dist_msg *m;
		enum aios_err e = aios_dist_recv(d, from, type, tag, &m);
		if (e)
			return e;
		if (m->h.payload_len != k * sizeof(float)) {
			size_t got = m->h.payload_len;
			aios_dist_msg_free(m);
			pthread_mutex_lock(&d->mu);
			dist_fail_locked(
			    d, from, AIOS_ERR_PROTOCOL,
			    "lost rank %d: protocol error: %s chunk of %zu bytes, expected %zu",
			    from, aios_dist_type_name(type), got, k * sizeof(float));
			pthread_mutex_unlock(&d->mu);
			return dist_failure(d);
		}
		memcpy(x + off, m->payload, k * sizeof(float));
		aios_dist_msg_free(m);
		off += k;
	} while (off < n);
	return AIOS_OK;
}
