/*
 * loadgen.c - aios-bench-loadgen: an open-loop HTTP load generator with a fixed request
 * rate, for latency at a given load (wrk is closed-loop: with fewer connections it
 * measures a different workload, not "half the load"; wrk2 is not in Debian).
 *
 *   aios-bench-loadgen --port 8080 --path /v1/models/m:predict --body-file b.json \
 *                      --rate 9000 --connections 32 --duration 10
 *
 * Requests are scheduled at fixed intervals from the start: request i is due at
 * t0 + i / rate. Whenever a request is due and a connection is idle (keep-alive, one
 * request in flight per connection), it is sent. Its latency is measured from the time
 * it was due, not from when it was sent, so a server that stalls is charged for every
 * request that queued behind the stall (no "coordinated omission"). Requests that were
 * due but never answered by the end (still in flight, or never sent because every
 * connection was busy) are counted as unfinished and enter the percentiles with the
 * time they had waited when the run ended: a server that cannot keep up shows it.
 *
 * One thread, epoll; a timerfd wakes it at the next due time (ns resolution). Latencies
 * go into a log-bucketed histogram (HdrHistogram-like: 64 linear sub-buckets per power
 * of two, so a percentile is reported within 1/64 = 1.6% of its value; the upper edge
 * of the bucket is reported).
 *
 * Bounds: --duration at most 600 s, --rate at most 1e6/s, --connections at most 1024,
 * request body at most 1 MiB, response header 16 KiB, response body 1 MiB. A warm-up
 * (--warmup s, default 1) at the same rate comes first and is not recorded.
 *
 * Output: one line of key=value pairs on stdout (rate, achieved rps, counts, p50, p90,
 * p99, p999, max in us); exit 0, 1 on bad flags, 2 if it cannot connect, 3 if more
 * than 1% of requests failed (non-200, connection closed, malformed response).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS      1024
#define MAX_DURATION_S 600
#define MAX_RATE       1000000.0
#define MAX_BODY       (1 << 20)
#define MAX_RESP_HDR   (16 << 10)
#define IN_CAP         (MAX_RESP_HDR + MAX_BODY)
#define DRAIN_MS       2000 /* after the run: time given to answers still in flight */

/* ---------------------------------------------------------------- histogram */

#define SUB_BITS  6 /* 64 sub-buckets per power of two */
#define SUB       (1 << SUB_BITS)
#define N_BUCKETS (SUB + (64 - SUB_BITS) * (SUB / 2))

struct hist {
	uint64_t count[N_BUCKETS];
	uint64_t n, max_ns;
};

static int bucket_of(uint64_t v)
{
	if (v < SUB)
		return (int)v;
	int b = 63 - __builtin_clzll(v); /* >= SUB_BITS */
	int shift = b - (SUB_BITS - 1);
	int top = (int)(v >> shift); /* in [SUB/2, SUB) */
	return SUB + (b - SUB_BITS) * (SUB / 2) + (top - SUB / 2);
}

/* Upper edge (ns) of bucket i. */
static uint64_t bucket_high(int i)
{
	if (i < SUB)
		return (uint64_t)i;
	int k = i - SUB, b = k / (SUB / 2) + SUB_BITS, top = k % (SUB / 2) + SUB / 2;
	int shift = b - (SUB_BITS - 1);
	return (((uint64_t)top + 1) << shift) - 1;
}

static void hist_add(struct hist *h, uint64_t ns)
{
	h->count[bucket_of(ns)]++;
	h->n++;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

/* The value at quantile q (0..1), in us. */
static double hist_q(const struct hist *h, double q)
{
	if (h->n == 0)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->n + 0.5), seen = 0;
	if (want < 1)
		want = 1;
	for (int i = 0; i < N_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want) {
			uint64_t v = bucket_high(i);
			return (double)(v < h->max_ns ? v : h->max_ns) / 1e3;
		}
	}
	return (double)h->max_ns / 1e3;
}

/* ---------------------------------------------------------------- connections */

struct conn {
	int fd;
	int busy;       /* a request is in flight */
	int64_t due_ns; /* when the request in flight was due */
	size_t sent;    /* bytes of the request written */
	char *in;       /* response bytes read so far (IN_CAP, pages touched as used) */
	size_t in_len;
};

struct gen {
	struct sockaddr_in addr;
	char *req; /* the whole request, sent as is every time */
	size_t req_len;
	int n_conns;
	struct conn *conns;
	int *idle; /* stack of idle connection indexes */
	int n_idle;
	int epfd, tfd;
	int64_t warm_end_ns; /* requests due before it are not recorded */
	struct hist hist;
	uint64_t sent, ok, failed, recorded;
	char why[160]; /* the first failure, for the report */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fail_note(struct gen *g, const char *what)
{
	g->failed++;
	if (!g->why[0])
		snprintf(g->why, sizeof g->why, "%s", what);
}

/* Connects c (blocking connect on loopback, then non-blocking I/O); -1 on failure. */
static int conn_open(struct gen *g, struct conn *c)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	if (connect(fd, (struct sockaddr *)&g->addr, sizeof g->addr) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->busy = 0;
	c->in_len = 0;
	return 0;
}

static void conn_idle(struct gen *g, struct conn *c)
{
	c->busy = 0;
	c->in_len = 0;
	g->idle[g->n_idle++] = (int)(c - g->conns);
}

/* Drops c's connection (its request, if any, has been counted) and opens a new one. */
static void conn_reopen(struct gen *g, struct conn *c)
{
	int was_busy = c->busy; /* an idle connection is on the idle stack already */
	epoll_ctl(g->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (conn_open(g, c) < 0) {
		fprintf(stderr, "loadgen: reconnect failed: %s\n", strerror(errno));
		exit(2);
	}
	if (was_busy)
		conn_idle(g, c);
}

/* Writes what is left of c's request; arms EPOLLOUT if the socket is full. */
static void conn_write(struct gen *g, struct conn *c)
{
	while (c->sent < g->req_len) {
		ssize_t w = send(c->fd, g->req + c->sent, g->req_len - c->sent, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
			epoll_ctl(g->epfd, EPOLL_CTL_MOD, c->fd, &ev);
			return;
		}
		if (w < 0) {
			fail_note(g, "send failed (connection reset)");
			conn_reopen(g, c);
			return;
		}
		c->sent += (size_t)w;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	epoll_ctl(g->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_send(struct gen *g, struct conn *c, int64_t due)
{
	c->busy = 1;
	c->due_ns = due;
	c->sent = 0;
	c->in_len = 0;
	g->sent++;
	conn_write(g, c);
}

/*
 * Checks c->in for one whole response. Returns 0 while incomplete, 1 when complete
 * (*status, *close_after set), -1 when malformed (g->why says how).
 */
static int resp_complete(struct gen *g, struct conn *c, int *status, int *close_after)
{
	char *p = c->in;
	char *end = memmem(p, c->in_len, "\r\n\r\n", 4);
	if (!end) {
		if (c->in_len > MAX_RESP_HDR) {
			fail_note(g, "response header over 16 KiB");
			return -1;
		}
		return 0;
	}
	size_t hdr = (size_t)(end - p) + 4;
	if (c->in_len < 12 || memcmp(p, "HTTP/1.", 7) != 0) {
		fail_note(g, "response does not start with HTTP/1.x");
		return -1;
	}
	*status = (int)strtol(p + 9, NULL, 10);
	*close_after = 0;
	long long clen = -1;
	for (char *line = memchr(p, '\n', hdr); line && line + 1 < end;
	     line = memchr(line + 1, '\n', (size_t)(end - line))) {
		char *h = line + 1;
		if (strncasecmp(h, "Content-Length:", 15) == 0)
			clen = strtoll(h + 15, NULL, 10);
		else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0) {
			fail_note(g, "chunked responses are not supported");
			return -1;
		} else if (strncasecmp(h, "Connection:", 11) == 0) {
			const char *v = h + 11;
			while (*v == ' ')
				v++;
			*close_after = strncasecmp(v, "close", 5) == 0;
		}
	}
	if (clen < 0 || clen > MAX_BODY) {
		fail_note(g, "response without a Content-Length up to 1 MiB");
		return -1;
	}
	if (c->in_len < hdr + (size_t)clen)
		return 0;
	if (c->in_len > hdr + (size_t)clen) {
		fail_note(g, "bytes after the response (none were asked for)");
		return -1;
	}
	return 1;
}

static void conn_readable(struct gen *g, struct conn *c)
{
	int eof = 0;
	while (!eof) {
		if (c->in_len == IN_CAP) {
			fail_note(g, "response over the size cap");
			conn_reopen(g, c);
			return;
		}
		ssize_t r = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r <= 0) /* closed or reset: a response read with it still counts */
			eof = 1;
		else
			c->in_len += (size_t)r;
	}
	if (!c->busy) {
		if (c->in_len)
			fail_note(g, "bytes from the server with no request in flight");
		conn_reopen(g, c);
		return;
	}
	int status = 0, close_after = 0;
	int done = resp_complete(g, c, &status, &close_after);
	if (done == 0 && eof)
		fail_note(g, "connection closed with a request in flight");
	if (done <= 0) {
		if (done < 0 || eof)
			conn_reopen(g, c);
		return;
	}
	int64_t t = now_ns();
	if (status == 200) {
		g->ok++;
		if (c->due_ns >= g->warm_end_ns) {
			hist_add(&g->hist, (uint64_t)(t - c->due_ns));
			g->recorded++;
		}
	} else {
		char msg[64];
		snprintf(msg, sizeof msg, "HTTP status %d", status);
		fail_note(g, msg);
	}
	if (close_after || eof)
		conn_reopen(g, c);
	else
		conn_idle(g, c);
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fputs(
	    "usage: aios-bench-loadgen --port N [--host A] [--path P] [--body-file F | --body S]\n"
	    "                          --rate R [--connections N] [--duration S] [--warmup S]\n"
	    "Sends requests at a fixed rate (open loop) over N keep-alive connections and\n"
	    "prints latency percentiles measured from each request's scheduled send time.\n"
	    "  --host A         IPv4 address (default 127.0.0.1)\n"
	    "  --port N         TCP port (required)\n"
	    "  --path P         request path (default /)\n"
	    "  --body S         POST this body (application/json); without a body: GET\n"
	    "  --body-file F    POST the contents of F (at most 1 MiB)\n"
	    "  --rate R         requests per second, 1..1000000 (required)\n"
	    "  --connections N  keep-alive connections, 1..1024 (default 16)\n"
	    "  --duration S     seconds recorded, 1..600 (default 10)\n"
	    "  --warmup S       seconds sent first and not recorded, 0..60 (default 1)\n"
	    "Output: one line of key=value pairs (latencies in us). Exit: 0 ok, 1 bad flags,\n"
	    "2 cannot connect, 3 more than 1% of requests failed.\n",
	    f);
}

static double num_arg(const char *flag, const char *v, double lo, double hi)
{
	char *end;
	double d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || !(d >= lo && d <= hi)) {
		fprintf(stderr, "loadgen: %s %s: want a number in [%g, %g]\n", flag, v, lo, hi);
		exit(1);
	}
	return d;
}

static char *read_body(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "loadgen: --body-file %s: %s\n", path, strerror(errno));
		exit(1);
	}
	char *b = malloc(MAX_BODY + 1);
	if (!b)
		abort();
	*len = fread(b, 1, MAX_BODY + 1, f);
	fclose(f);
	if (*len > MAX_BODY) {
		fprintf(stderr, "loadgen: --body-file %s: over 1 MiB\n", path);
		exit(1);
	}
	return b;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *path = "/";
	char *body = NULL;
	size_t body_len = 0;
	int port = 0, n_conns = 16;
	double rate = 0, duration = 10, warmup = 1;
	static const struct option opts[] = {{"host", required_argument, 0, 'H'},
	                                     {"port", required_argument, 0, 'p'},
	                                     {"path", required_argument, 0, 'P'},
	                                     {"body", required_argument, 0, 'b'},
	                                     {"body-file", required_argument, 0, 'f'},
	                                     {"rate", required_argument, 0, 'r'},
	                                     {"connections", required_argument, 0, 'c'},
	                                     {"duration", required_argument, 0, 'd'},
	                                     {"warmup", required_argument, 0, 'w'},
	                                     {"help", no_argument, 0, 'h'},
	                                     {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'H': host = optarg; break;
		case 'p': port = (int)num_arg("--port", optarg, 1, 65535); break;
		case 'P': path = optarg; break;
		case 'b':
			body_len = strlen(optarg);
			if (body_len > MAX_BODY) {
				fprintf(stderr, "loadgen: --body over 1 MiB\n");
				return 1;
			}
			body = strdup(optarg);
			break;
		case 'f': body = read_body(optarg, &body_len); break;
		case 'r': rate = num_arg("--rate", optarg, 1, MAX_RATE); break;
		case 'c': n_conns = (int)num_arg("--connections", optarg, 1, MAX_CONNS); break;
		case 'd': duration = num_arg("--duration", optarg, 1, MAX_DURATION_S); break;
		case 'w': warmup = num_arg("--warmup", optarg, 0, 60); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind < argc || !port || rate <= 0) {
		fprintf(stderr, "loadgen: %s\n",
		        optind < argc ? "unexpected argument" : "--port and --rate are required");
		usage(stderr);
		return 1;
	}
	static struct gen g; /* the histogram is large: not on the stack */
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &g.addr.sin_addr) != 1) {
		fprintf(stderr, "loadgen: --host %s: not an IPv4 address\n", host);
		return 1;
	}
	size_t cap = strlen(path) + body_len + 256;
	g.req = malloc(cap);
	if (!g.req)
		abort();
	int n = snprintf(g.req, cap, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%s%zu\r\n\r\n",
	                 body ? "POST" : "GET", path, host, port,
	                 body ? "Content-Type: application/json\r\nContent-Length: "
	                      : "Content-Length: ",
	                 body_len);
	if (n < 0 || (size_t)n + body_len >= cap)
		abort();
	if (body_len)
		memcpy(g.req + n, body, body_len);
	g.req_len = (size_t)n + body_len;
	free(body);

	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	g.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
	if (g.epfd < 0 || g.tfd < 0 || epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.tfd, &tev) < 0) {
		perror("loadgen: epoll/timerfd");
		return 2;
	}
	g.n_conns = n_conns;
	g.conns = calloc((size_t)n_conns, sizeof *g.conns);
	g.idle = calloc((size_t)n_conns, sizeof *g.idle);
	if (!g.conns || !g.idle)
		abort();
	for (int i = 0; i < n_conns; i++) {
		g.conns[i].in = malloc(IN_CAP);
		if (!g.conns[i].in)
			abort();
		if (conn_open(&g, &g.conns[i]) < 0) {
			fprintf(stderr, "loadgen: connect %s:%d: %s\n", host, port,
			        strerror(errno));
			return 2;
		}
		conn_idle(&g, &g.conns[i]);
	}

	/* request i is due at t0 + i * interval; due times from warm_end on are recorded */
	const double interval = 1e9 / rate; /* ns */
	const int64_t t0 = now_ns() + 1000000;
	g.warm_end_ns = t0 + (int64_t)(warmup * 1e9);
	const int64_t t_end = g.warm_end_ns + (int64_t)(duration * 1e9);
	uint64_t next = 0; /* index of the next request to send */
	struct epoll_event evs[256];
	int64_t now = now_ns();
	for (;;) {
		int64_t due = t0 + (int64_t)((double)next * interval);
		while (due < t_end && due <= now && g.n_idle > 0) {
			conn_send(&g, &g.conns[g.idle[--g.n_idle]], due);
			next++;
			due = t0 + (int64_t)((double)next * interval);
		}
		int busy = g.n_conns - g.n_idle;
		if (due >= t_end && (busy == 0 || now >= t_end + (int64_t)DRAIN_MS * 1000000))
			break;
		/* wake at the next due time if a connection could take it, else on a reply */
		int64_t wake = due < t_end ? due : t_end + (int64_t)DRAIN_MS * 1000000;
		if (g.n_idle == 0 && due < t_end)
			wake = t_end + (int64_t)DRAIN_MS * 1000000;
		struct itimerspec its = {
		    .it_value = {.tv_sec = wake / 1000000000, .tv_nsec = wake % 1000000000}};
		timerfd_settime(g.tfd, TFD_TIMER_ABSTIME, &its, NULL);
		int ne = epoll_wait(g.epfd, evs, 256, -1);
		if (ne < 0 && errno != EINTR) {
			perror("loadgen: epoll_wait");
			return 2;
		}
		for (int i = 0; i < ne; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				uint64_t v;
				if (read(g.tfd, &v, sizeof v) < 0) { /* EAGAIN: already read */
				}
				continue;
			}
			if (evs[i].events & EPOLLOUT)
				conn_write(&g, c);
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				conn_readable(&g, c);
		}
		now = now_ns();
	}

	/* what was due and not answered: charged the time it had waited at the end */
	now = now_ns();
	uint64_t unfinished = 0;
	for (int i = 0; i < g.n_conns; i++) {
		struct conn *c = &g.conns[i];
		if (c->busy && c->due_ns >= g.warm_end_ns) {
			hist_add(&g.hist, (uint64_t)(now - c->due_ns));
			unfinished++;
		}
	}
	for (;; next++) {
		int64_t due = t0 + (int64_t)((double)next * interval);
		if (due >= t_end)
			break;
		if (due >= g.warm_end_ns) {
			hist_add(&g.hist, (uint64_t)(now - due));
			unfinished++;
		}
	}
	uint64_t scheduled = (uint64_t)(duration * rate);
	printf("rate=%.0f connections=%d duration_s=%.0f scheduled=%llu answered=%llu "
	       "unfinished=%llu failed=%llu rps=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f "
	       "p999_us=%.0f max_us=%.0f\n",
	       rate, n_conns, duration, (unsigned long long)scheduled,
	       (unsigned long long)g.recorded, (unsigned long long)unfinished,
	       (unsigned long long)g.failed, (double)g.recorded / duration, hist_q(&g.hist, 0.50),
	       hist_q(&g.hist, 0.90), hist_q(&g.hist, 0.99), hist_q(&g.hist, 0.999),
	       (double)g.hist.max_ns / 1e3);
	for (int i = 0; i < g.n_conns; i++) {
		close(g.conns[i].fd);
		free(g.conns[i].in);
	}
	free(g.conns);
	free(g.idle);
	free(g.req);
	if (g.failed)
		fprintf(stderr, "loadgen: %llu of %llu requests failed; first: %s\n",
		        (unsigned long long)g.failed, (unsigned long long)g.sent, g.why);
	if (g.failed * 100 > g.sent) {
		fprintf(stderr, "loadgen: over 1%% failed\n");
		return 3;
	}
	return 0;
}
