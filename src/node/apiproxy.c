/*
 * apiproxy.c - the forwarder of the `kubernetes` Service (see apiproxy.h).
 *
 * Each connection is a pair of non-blocking sockets (pod side, API server side) and
 * one buffer per direction. A side is read only when the buffer it fills is empty, so
 * memory per connection is fixed and a slow reader slows its writer (TCP's own
 * back-pressure). An end-of-file on one side is passed on as shutdown(SHUT_WR) on the
 * other once its buffer is written, so half-closed TLS shutdowns work; the pair is
 * closed when both directions are done or either side fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "node/apiproxy.h"

#define POLL_MS 500 /* wake-up period: connect deadlines are checked this often */

struct dir {
	char *buf; /* AIOS_APIPROXY_BUF bytes: read from fd[i], to be written to fd[1 - i] */
	size_t off, len;
	int eof; /* fd[i] said end-of-file */
};

struct conn {
	int fd[2];             /* 0: the pod, 1: the API server */
	struct dir d[2];       /* d[i] holds what fd[i] sent */
	int shut[2];           /* shutdown(fd[i], SHUT_WR) done */
	int connecting;        /* fd[1]'s connect still in progress */
	int64_t connect_until; /* monotonic ms */
};

struct aios_apiproxy {
	int lfd, port;
	int stop_pipe[2];
	struct sockaddr_storage target;
	socklen_t target_len;
	char target_name[300]; /* host:port, for logs */
	struct conn *conns[AIOS_APIPROXY_MAX_CONNS];
	atomic_int active;
	pthread_t thread;
	int started;
};

/* ------------------------------------------------------------------ parsing */

enum aios_err aios_apiproxy_parse_server(const char *url, char *host, size_t host_cap, int *port)
{
	const char *p = url;
	if (!url || strncmp(url, "https://", 8) != 0)
		return aios_fail(AIOS_ERR_INVALID, "server \"%s\": expected https://host[:port]",
		                 url ? url : "");
	p += 8;
	const char *hs = p, *he;
	if (*p == '[') {
		hs = p + 1;
		he = strchr(hs, ']');
		if (!he)
			return aios_fail(AIOS_ERR_INVALID, "server \"%s\": unclosed [", url);
		p = he + 1;
	} else {
		he = p + strcspn(p, ":/");
		p = he;
	}
	size_t hl = (size_t)(he - hs);
	if (hl == 0 || hl >= host_cap)
		return aios_fail(AIOS_ERR_INVALID, "server \"%s\": empty or too long host", url);
	memcpy(host, hs, hl);
	host[hl] = '\0';
	*port = 443;
	if (*p == ':') {
		char *end;
		long v = strtol(p + 1, &end, 10);
		if (end == p + 1 || (*end && *end != '/') || v < 1 || v > 65535)
			return aios_fail(AIOS_ERR_INVALID, "server \"%s\": bad port", url);
		*port = (int)v;
	} else if (*p && *p != '/') {
		return aios_fail(AIOS_ERR_INVALID, "server \"%s\": unexpected \"%s\"", url, p);
	}
	return AIOS_OK;
}

/* ------------------------------------------------------------------ connections */

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < 2; i++) {
		if (c->fd[i] >= 0)
			close(c->fd[i]);
		free(c->d[i].buf);
	}
	free(c);
}

static void conn_close(struct aios_apiproxy *p, int slot)
{
	conn_free(p->conns[slot]);
	p->conns[slot] = NULL;
	atomic_fetch_sub(&p->active, 1);
}

/* Accepts one pod connection and starts connecting to the API server. */
static void accept_one(struct aios_apiproxy *p)
{
	int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	int slot = -1;
	for (int i = 0; i < AIOS_APIPROXY_MAX_CONNS && slot < 0; i++)
		if (!p->conns[i])
			slot = i;
	if (slot < 0) {
		aios_warn("apiproxy_full",
		          "%d connections open, the most allowed: closing a new one",
		          AIOS_APIPROXY_MAX_CONNS);
		close(fd);
		return;
	}
	int up = socket(p->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (up < 0) {
		aios_warn("apiproxy_connect", "socket: %s", strerror(errno));
		close(fd);
		return;
	}
	struct conn *c = aios_xcalloc(1, sizeof *c);
	c->fd[0] = fd;
	c->fd[1] = up;
	for (int i = 0; i < 2; i++)
		c->d[i].buf = aios_xmalloc(AIOS_APIPROXY_BUF);
	if (connect(up, (struct sockaddr *)&p->target, p->target_len) != 0) {
		if (errno != EINPROGRESS) {
			aios_warn("apiproxy_connect", "%s: %s", p->target_name, strerror(errno));
			conn_free(c);
			return;
		}
		c->connecting = 1;
		c->connect_until = aios_now_ms() + AIOS_APIPROXY_CONNECT_MS;
	}
	p->conns[slot] = c;
	atomic_fetch_add(&p->active, 1);
}

/* The poll events side i of c waits for. */
static short want(const struct conn *c, int i)
{
	if (i == 1 && c->connecting)
		return POLLOUT;
	short ev = 0;
	if (!c->d[i].eof && c->d[i].len == 0)
		ev |= POLLIN;
	if (c->d[1 - i].len > 0)
		ev |= POLLOUT;
	return ev;
}

/* Moves bytes for c after poll; returns 0 to keep it, -1 to close it. */
static int conn_step(struct aios_apiproxy *p, struct conn *c, const short rev[2])
{
	if (c->connecting) {
		if (rev[1] & (POLLOUT | POLLERR | POLLHUP)) {
			int err = 0;
			socklen_t el = sizeof err;
			if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
				aios_warn("apiproxy_connect", "%s: %s", p->target_name,
				          strerror(err ? err : errno));
				return -1;
			}
			c->connecting = 0;
		} else if (aios_now_ms() > c->connect_until) {
			aios_warn("apiproxy_connect", "%s: no answer within %d ms", p->target_name,
			          AIOS_APIPROXY_CONNECT_MS);
			return -1;
		}
	}
	for (int i = 0; i < 2; i++) {
		struct dir *d = &c->d[i];
		if (i == 1 && c->connecting)
			continue;
		if (rev[i] & POLLERR) /* a reset or unreachable peer: nothing more will pass */
			return -1;
		if (!d->eof && d->len == 0 && (rev[i] & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t r = recv(c->fd[i], d->buf, AIOS_APIPROXY_BUF, 0);
			if (r > 0) {
				d->off = 0;
				d->len = (size_t)r;
			} else if (r == 0) {
				d->eof = 1;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				return -1;
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		struct dir *d = &c->d[1 - i]; /* what goes out on fd[i] */
		if (i == 1 && c->connecting)
			continue;
		if (d->len > 0 && (rev[i] & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = send(c->fd[i], d->buf + d->off, d->len, MSG_NOSIGNAL);
			if (w > 0) {
				d->off += (size_t)w;
				d->len -= (size_t)w;
			} else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			           errno != EINTR) {
				return -1;
			}
		}
		if (d->eof && d->len == 0 && !c->shut[i]) {
			shutdown(c->fd[i], SHUT_WR);
			c->shut[i] = 1;
		}
	}
	return c->shut[0] && c->shut[1] ? -1 : 0;
}

/* ------------------------------------------------------------------ the thread */

static void *run(void *arg)
{
	struct aios_apiproxy *p = arg;
	struct pollfd pfd[2 + 2 * AIOS_APIPROXY_MAX_CONNS];
	int slot_of[2 * AIOS_APIPROXY_MAX_CONNS];
	for (;;) {
		int n = 0;
		pfd[n++] = (struct pollfd){.fd = p->stop_pipe[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
		int m = 0;
		for (int s = 0; s < AIOS_APIPROXY_MAX_CONNS; s++) {
			struct conn *c = p->conns[s];
			if (!c)
				continue;
			for (int i = 0; i < 2; i++)
				pfd[n++] = (struct pollfd){.fd = c->fd[i], .events = want(c, i)};
			slot_of[m++] = s;
		}
		int r = poll(pfd, (nfds_t)n, POLL_MS);
		if (r < 0 && errno != EINTR) {
			aios_error("apiproxy_poll", "%s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		for (int k = 0; k < m; k++) {
			short rev[2] = {pfd[2 + 2 * k].revents, pfd[3 + 2 * k].revents};
			if (conn_step(p, p->conns[slot_of[k]], rev) != 0)
				conn_close(p, slot_of[k]);
		}
		if (pfd[1].revents & POLLIN)
			accept_one(p);
	}
	return NULL;
}

/* ------------------------------------------------------------------ API */

enum aios_err aios_apiproxy_start(const char *listen_ip, int listen_port, const char *target_host,
                                  int target_port, struct aios_apiproxy **out)
{
	*out = NULL;
	struct aios_apiproxy *p = aios_xcalloc(1, sizeof *p);
	p->lfd = -1;
	p->stop_pipe[0] = p->stop_pipe[1] = -1;
	snprintf(p->target_name, sizeof p->target_name, "%s:%d", target_host, target_port);

	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char port_s[16];
	snprintf(port_s, sizeof port_s, "%d", target_port);
	int g = getaddrinfo(target_host, port_s, &hints, &ai);
	if (g != 0 || !ai) {
		aios_apiproxy_free(p);
		return aios_fail(AIOS_ERR_INVALID, "API server %s:%d: %s", target_host, target_port,
		                 gai_strerror(g));
	}
	memcpy(&p->target, ai->ai_addr, ai->ai_addrlen);
	p->target_len = ai->ai_addrlen;
	freeaddrinfo(ai);

	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
	if (inet_pton(AF_INET, listen_ip, &sa.sin_addr) != 1) {
		aios_apiproxy_free(p);
		return aios_fail(AIOS_ERR_INVALID, "listen address \"%s\" is not IPv4", listen_ip);
	}
	int one = 1;
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->lfd < 0 || setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(p->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(p->lfd, 64) != 0) {
		enum aios_err e = aios_fail(AIOS_ERR_IO, "listen on %s:%d: %s", listen_ip,
		                            listen_port, strerror(errno));
		aios_apiproxy_free(p);
		return e;
	}
	socklen_t sl = sizeof sa;
	getsockname(p->lfd, (struct sockaddr *)&sa, &sl);
	p->port = ntohs(sa.sin_port);
	if (pipe2(p->stop_pipe, O_CLOEXEC) != 0) {
		enum aios_err e = aios_fail(AIOS_ERR_IO, "pipe: %s", strerror(errno));
		aios_apiproxy_free(p);
		return e;
	}
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		aios_apiproxy_free(p);
		return aios_fail(AIOS_ERR_IO, "cannot start the API server forwarder thread");
	}
	p->started = 1;
	*out = p;
	return AIOS_OK;
}

int aios_apiproxy_port(const struct aios_apiproxy *p)
{
	return p->port;
}

int aios_apiproxy_active(struct aios_apiproxy *p)
{
	return atomic_load(&p->active);
}

void aios_apiproxy_free(struct aios_apiproxy *p)
{
	if (!p)
		return;
	if (p->started) {
		ssize_t w;
		do
			w = write(p->stop_pipe[1], "x", 1);
		while (w < 0 && errno == EINTR);
		pthread_join(p->thread, NULL);
	}
	for (int s = 0; s < AIOS_APIPROXY_MAX_CONNS; s++)
		conn_free(p->conns[s]);
	if (p->lfd >= 0)
		close(p->lfd);
	for (int i = 0; i < 2; i++)
		if (p->stop_pipe[i] >= 0)
			close(p->stop_pipe[i]);
	free(p);
}
