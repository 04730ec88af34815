/*
 * scrape.c - parse aios-serve's /metrics and fetch many pages at once (see scrape.h).
 */
#include "scrape.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/mem.h"
#include "http/client.h"

/* ============================== parser ============================== */

#define IN_FLIGHT       "aios_serve_requests_in_flight"
#define REQUESTS        "aios_serve_requests_total"
#define DURATION_BUCKET "aios_serve_request_duration_seconds_bucket"

/* Endpoints that are not inference traffic: the scrape itself and the kubelet's probes. */
static int is_overhead(const char *endpoint)
{
	static const char *const names[] = {"metrics", "v2_live", "v2_ready", "v2_model_ready"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(endpoint, names[i]) == 0)
			return 1;
	return 0;
}

/* The labels we look at on one sample line. */
struct labels {
	char endpoint[64];
	char le[32];
	int has_le;
};

/* Parses {k="v",...} at *p (just after '{') up to the closing '}'; 0 on success. */
static int parse_labels(const char **pp, const char *end, struct labels *l)
{
	const char *p = *pp;
	for (;;) {
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		if (p < end && *p == '}') {
			*pp = p + 1;
			return 0;
		}
		const char *k = p;
		while (p < end && *p != '=' && *p != '}')
			p++;
		if (p + 1 >= end || *p != '=' || p[1] != '"')
			return -1;
		size_t klen = (size_t)(p - k);
		p += 2;
		char val[64];
		size_t n = 0;
		while (p < end && *p != '"') {
			char ch = *p++;
			if (ch == '\\' && p < end) {
				ch = *p++;
				if (ch == 'n')
					ch = '\n';
			}
			if (n + 1 < sizeof(val))
				val[n++] = ch;
		}
		if (p >= end)
			return -1;
		p++; /* closing quote */
		val[n] = '\0';
		if (klen == 8 && memcmp(k, "endpoint", 8) == 0) {
			snprintf(l->endpoint, sizeof(l->endpoint), "%s", val);
		} else if (klen == 2 && memcmp(k, "le", 2) == 0) {
			snprintf(l->le, sizeof(l->le), "%s", val);
			l->has_le = 1;
		}
	}
}

static void add_bucket(struct aios_scrape_page *pg, double le, double v)
{
	int i = 0;
	while (i < pg->n_buckets && pg->le[i] < le)
		i++;
	if (i < pg->n_buckets && pg->le[i] == le) {
		pg->count[i] += v;
		return;
	}
	if (pg->n_buckets == AIOS_SCRAPE_MAX_BUCKETS)
		return;
	memmove(&pg->le[i + 1], &pg->le[i], (size_t)(pg->n_buckets - i) * sizeof(double));
	memmove(&pg->count[i + 1], &pg->count[i], (size_t)(pg->n_buckets - i) * sizeof(double));
	pg->le[i] = le;
	pg->count[i] = v;
	pg->n_buckets++;
}

/* One line (without its newline). Lines of other metrics are skipped unread. */
static enum aios_err parse_line(const char *p, const char *end, int lineno,
                                struct aios_scrape_page *pg)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p == '#')
		return AIOS_OK;
	const char *name = p;
	while (p < end && *p != '{' && *p != ' ')
		p++;
	size_t nlen = (size_t)(p - name);
	int which = 0;
	if (nlen == strlen(IN_FLIGHT) && memcmp(name, IN_FLIGHT, nlen) == 0)
		which = 1;
	else if (nlen == strlen(REQUESTS) && memcmp(name, REQUESTS, nlen) == 0)
		which = 2;
	else if (nlen == strlen(DURATION_BUCKET) && memcmp(name, DURATION_BUCKET, nlen) == 0)
		which = 3;
	if (!which)
		return AIOS_OK;
	struct labels l = {.endpoint = "", .le = "", .has_le = 0};
	if (p < end && *p == '{') {
		p++;
		if (parse_labels(&p, end, &l))
			return aios_fail(AIOS_ERR_INVALID,
			                 "metrics line %d: malformed labels of %.*s", lineno,
			                 (int)nlen, name);
	}
	char num[64];
	while (p < end && *p == ' ')
		p++;
	size_t vlen = 0;
	while (p + vlen < end && p[vlen] != ' ')
		vlen++;
	if (vlen == 0 || vlen >= sizeof(num))
		return aios_fail(AIOS_ERR_INVALID, "metrics line %d: %.*s has no value", lineno,
		                 (int)nlen, name);
	memcpy(num, p, vlen);
	num[vlen] = '\0';
	char *e;
	double v = strtod(num, &e);
	if (*e || !isfinite(v))
		return aios_fail(AIOS_ERR_INVALID, "metrics line %d: %.*s: bad value \"%s\"",
		                 lineno, (int)nlen, name, num);
	if (which == 1) {
		pg->in_flight += v;
		pg->have_in_flight = 1;
	} else if (l.endpoint[0] && is_overhead(l.endpoint)) {
		return AIOS_OK;
	} else if (which == 2) {
		pg->requests += v;
		pg->have_requests = 1;
	} else {
		double le = strtod(l.le, &e);
		if (!l.has_le || *e)
			return aios_fail(AIOS_ERR_INVALID,
			                 "metrics line %d: bucket without a valid le", lineno);
		add_bucket(pg, le, v);
		pg->have_latency = 1;
	}
	return AIOS_OK;
}

enum aios_err aios_scrape_parse(const char *text, size_t len, struct aios_scrape_page *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = text, *end = text + len;
	for (int lineno = 1; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *trim = eol;
		if (trim > p && trim[-1] == '\r')
			trim--;
		enum aios_err e = parse_line(p, trim, lineno, out);
		if (e)
			return e;
		p = nl ? nl + 1 : end;
	}
	if (!out->have_in_flight)
		return aios_fail(AIOS_ERR_INVALID, "metrics page has no %s: not aios-serve?",
		                 IN_FLIGHT);
	return AIOS_OK;
}

double aios_scrape_quantile(const double *le, const double *count, int n, double q)
{
	if (n <= 0 || !(count[n - 1] > 0))
		return -1;
	double rank = q * count[n - 1];
	for (int i = 0; i < n; i++) {
		if (count[i] < rank)
			continue;
		if (isinf(le[i]))
			return i > 0 ? le[i - 1] : -1; /* beyond the last finite bound */
		double lo = i > 0 ? le[i - 1] : 0, lo_count = i > 0 ? count[i - 1] : 0;
		double in_bucket = count[i] - lo_count;
		return in_bucket > 0 ? lo + (le[i] - lo) * (rank - lo_count) / in_bucket : le[i];
	}
	return le[n - 1];
}

/* ============================== scraper ============================== */

/*
 * One thread, non-blocking sockets and poll(). A slot carries one fetch through
 * connect -> send -> receive, each step taken when its socket is ready, so a slow pod
 * only ever holds its own slot. The slots (a few hundred bytes each), the parsers'
 * line buffers and the body buffers (grown as the page arrives) exist only while a
 * round runs: between rounds the scraper holds nothing but its idle connections.
 *
 * Keep-alive: a connection whose response allows reuse goes to the idle pool and the
 * next fetch of the same address takes it (the targets of one round are, in steady
 * state, the targets of the previous one: a round a second saves a TCP handshake, an
 * accept and a TIME_WAIT socket per pod per second). A pooled connection the peer
 * closed meanwhile is noticed when taken (it polls readable) or, in a race, when the
 * request gets no byte of answer; the fetch then starts over once on a new connection,
 * within its own deadline. Connections not used for a whole round (pods gone) are
 * closed at its end, and at most KEEP_IDLE_MAX are kept.
 */

#define KEEP_IDLE_MAX 256   /* idle connections kept between rounds (file descriptors) */
#define READ_CHUNK    16384 /* bytes read from one socket per wakeup */
#define HOST_CAP      64    /* an IPv4 or IPv6 literal, NUL included */

struct idle_conn {
	int fd;
	int port;
	char host[HOST_CAP];
	unsigned long round; /* the last round that used it */
};

struct aios_scraper {
	int max_parallel;
	int timeout_ms;
	unsigned long round;
	struct idle_conn *idle; /* n_idle used of cap_idle, grown up to KEEP_IDLE_MAX */
	size_t n_idle, cap_idle;
};

enum phase { CONNECTING, SENDING, RECEIVING };

static const char *const phase_names[] = {"connecting", "sending the request",
                                          "waiting for the page"};

/* One fetch in flight. */
struct slot {
	int busy;
	size_t target; /* index into the round's urls */
	int fd;
	enum phase phase;
	int64_t deadline_ms; /* aios_now_ms() clock */
	int reused;          /* fd came from the pool: a close before any answer retries */
	int got_any;         /* a byte of the response arrived */
	char host[HOST_CAP];
	int port;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char *req; /* the request; req_sent bytes of req_len written */
	size_t req_len, req_sent;
	struct aios_httpc_parser ps; /* started when the request is sent */
	int ps_live;                 /* ps needs a cleanup */
	int code;                    /* the status, 0 until it came */
	int too_big;                 /* the body went past AIOS_CAP_METRICS_PAGE */
	struct aios_buf body;
};

struct aios_scraper *aios_scraper_new(int max_parallel, int timeout_ms)
{
	struct aios_scraper *s = aios_xcalloc(1, sizeof(*s));
	s->max_parallel = max_parallel > 0 ? max_parallel : AIOS_SCRAPE_PARALLEL;
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : AIOS_SCRAPE_TIMEOUT_MS;
	return s;
}

void aios_scraper_free(struct aios_scraper *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_idle; i++)
		close(s->idle[i].fd);
	free(s->idle);
	free(s);
}

/* ---- the idle pool ---- */

/* An open idle connection to host:port taken out of the pool, or -1. */
static int pool_take(struct aios_scraper *s, const char *host, int port)
{
	size_t i = 0;
	while (i < s->n_idle) {
		struct idle_conn *c = &s->idle[i];
		if (c->port != port || strcmp(c->host, host) != 0) {
			i++;
			continue;
		}
		int fd = c->fd;
		*c = s->idle[--s->n_idle]; /* removed either way */
		/* readable while idle: the pod closed it, or sent what nobody asked for */
		if (!aios_httpc_fd_readable(fd))
			return fd;
		close(fd);
	}
	return -1;
}

static void pool_put(struct aios_scraper *s, int fd, const char *host, int port)
{
	if (s->n_idle == s->cap_idle) {
		if (s->cap_idle == KEEP_IDLE_MAX) {
			close(fd);
			return;
		}
		s->cap_idle = s->cap_idle ? 2 * s->cap_idle : 8;
		if (s->cap_idle > KEEP_IDLE_MAX)
			s->cap_idle = KEEP_IDLE_MAX;
		s->idle = aios_xrealloc(s->idle, s->cap_idle * sizeof(*s->idle));
	}
	struct idle_conn *c = &s->idle[s->n_idle++];
	c->fd = fd;
	c->port = port;
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->round = s->round;
}

/* Closes the connections the round now ending did not use. */
static void pool_sweep(struct aios_scraper *s)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n_idle; i++) {
		if (s->idle[i].round == s->round)
			s->idle[k++] = s->idle[i];
		else
			close(s->idle[i].fd);
	}
	s->n_idle = k;
}

/* ---- one fetch ---- */

static int on_status(void *arg, int code)
{
	struct slot *sl = arg;
	sl->code = code;
	return 0;
}

/* Keeps the body of a 200 only (an error page is read to its end, for keep-alive, and
 * dropped); stops the parser when the page outgrows its cap. */
static int on_body(void *arg, const char *p, size_t n)
{
	struct slot *sl = arg;
	if (sl->code != 200)
		return 0;
	if (aios_buf_append(&sl->body, p, n) != AIOS_OK) {
		sl->too_big = 1;
		return 1;
	}
	return 0;
}

static const struct aios_httpc_handler handler = {
    .status = on_status,
    .header = NULL,
    .body = on_body,
};

/* Releases what the fetch holds; keep: hand the connection to the pool. */
static void slot_end(struct aios_scraper *s, struct slot *sl, int keep)
{
	if (sl->fd >= 0) {
		if (keep)
			pool_put(s, sl->fd, sl->host, sl->port);
		else
			close(sl->fd);
	}
	sl->fd = -1;
	free(sl->req);
	sl->req = NULL;
	if (sl->ps_live)
		aios_httpc_parser_cleanup(&sl->ps);
	sl->ps_live = 0;
	aios_buf_cleanup(&sl->body);
	sl->busy = 0;
}

/* Ends the fetch as failed with a message. */
static void slot_fail(struct aios_scraper *s, struct slot *sl, struct aios_scrape_result *r,
                      const char *fmt, ...) AIOS_PRINTF(4, 5);
static void slot_fail(struct aios_scraper *s, struct slot *sl, struct aios_scrape_result *r,
                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	r->ok = 0;
	slot_end(s, sl, 0);
}

/* The whole response is in: judge it, keep the connection if it may carry another. */
static void slot_done(struct aios_scraper *s, struct slot *sl, struct aios_scrape_result *r,
                      int reusable)
{
	if (sl->code != 200) {
		snprintf(r->error, sizeof(r->error), "HTTP %d", sl->code);
	} else if (aios_scrape_parse(sl->body.data ? sl->body.data : "", sl->body.len, &r->page) !=
	           AIOS_OK) {
		snprintf(r->error, sizeof(r->error), "%s", aios_errmsg());
	} else {
		r->ok = 1;
	}
	slot_end(s, sl, reusable);
}

/* Opens a new non-blocking connection for the slot; 0, or -1 with r->error set. */
static int slot_connect(struct aios_scraper *s, struct slot *sl, struct aios_scrape_result *r)
{
	sl->reused = 0;
	sl->fd = socket(sl->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sl->fd < 0) {
		slot_fail(s, sl, r, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(sl->fd, (struct sockaddr *)&sl->addr, sl->addr_len) == 0) {
		sl->phase = SENDING;
	} else if (errno == EINPROGRESS) {
		sl->phase = CONNECTING;
	} else {
		slot_fail(s, sl, r, "connect: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Starts fetching url in the slot; on a bad url the fetch ends at once (!sl->busy). */
static void slot_start(struct aios_scraper *s, struct slot *sl, size_t target, const char *url,
                       struct aios_scrape_result *r)
{
	memset(r, 0, sizeof(*r));
	memset(sl, 0, sizeof(*sl));
	sl->busy = 1;
	sl->fd = -1;
	sl->target = target;
	sl->deadline_ms = aios_now_ms() + s->timeout_ms; /* each page has its own clock */
	aios_buf_init(&sl->body, AIOS_CAP_METRICS_PAGE);
	int https;
	const char *path;
	if (aios_httpc_split_url(url, &https, sl->host, sizeof(sl->host), &sl->port, &path)) {
		slot_fail(s, sl, r, "%s", aios_errmsg());
		return;
	}
	if (https) {
		slot_fail(s, sl, r, "%s: https is not supported for /metrics", url);
		return;
	}
	/* Pod IPs only: resolving a name could block the whole round. */
	struct sockaddr_in *v4 = (struct sockaddr_in *)&sl->addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&sl->addr;
	int is_v6 = 0;
	if (inet_pton(AF_INET, sl->host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)sl->port);
		sl->addr_len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, sl->host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)sl->port);
		sl->addr_len = sizeof(*v6);
		is_v6 = 1;
	} else {
		slot_fail(s, sl, r, "%s: host \"%s\" is not an IP address", url, sl->host);
		return;
	}
	sl->req = aios_xasprintf("GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\n"
	                         "User-Agent: aios-operator/" AIOS_VERSION "\r\n"
	                         "Accept: text/plain\r\n\r\n",
	                         *path ? path : "/", is_v6 ? "[" : "", sl->host, is_v6 ? "]" : "",
	                         sl->port);
	sl->req_len = strlen(sl->req);
	sl->fd = pool_take(s, sl->host, sl->port);
	if (sl->fd >= 0) {
		sl->reused = 1;
		sl->phase = SENDING;
		return;
	}
	(void)slot_connect(s, sl, r);
}

/* A pooled connection turned out closed before any answer: once more on a new one. */
static void slot_retry(struct aios_scraper *s, struct slot *sl, struct aios_scrape_result *r)
{
	close(sl->fd);
	sl->fd = -1;
	sl->req_sent = 0;
	if (sl->ps_live)
		aios_httpc_parser_cleanup(&sl->ps);
	sl->ps_live = 0;
	(void)slot_connect(s, sl, r);
}

/* A socket call failed with err (0: EOF) in the step named op. The peer of a pooled
 * connection that went away before answering (its idle timeout raced our request) is
 * asked again on a new connection; anything else ends the fetch. */
static void slot_broken(struct aios_scraper *s, struct slot *sl, struct aios_scrape_result *r,
                        const char *op, int err)
{
	if (sl->reused && !sl->got_any &&
	    (err == 0 || err == EPIPE || err == ECONNRESET || err == ECONNABORTED))
		slot_retry(s, sl, r);
	else if (err == 0)
		slot_fail(s, sl, r, "connection closed before any answer");
	else
		slot_fail(s, sl, r, "%s: %s", op, strerror(err));
}

/* Takes the steps the socket is ready for. buf: READ_CHUNK bytes of scratch. */
static void slot_step(struct aios_scraper *s, struct slot *sl, struct aios_scrape_result *r,
                      char *buf)
{
	if (sl->phase == CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			slot_fail(s, sl, r, "connect: %s", strerror(err));
			return;
		}
		sl->phase = SENDING;
	}
	if (sl->phase == SENDING) {
		while (sl->req_sent < sl->req_len) {
			ssize_t w = send(sl->fd, sl->req + sl->req_sent, sl->req_len - sl->req_sent,
			                 MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				slot_broken(s, sl, r, "send", errno);
				return;
			}
			sl->req_sent += (size_t)w;
		}
		aios_httpc_parser_init(&sl->ps, "GET", &handler, sl);
		sl->ps_live = 1;
		sl->phase = RECEIVING;
		return; /* the answer comes later: poll again */
	}
	ssize_t n = recv(sl->fd, buf, READ_CHUNK, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		slot_broken(s, sl, r, "recv", errno);
		return;
	}
	if (n == 0) {
		if (!sl->got_any) {
			slot_broken(s, sl, r, "recv", 0);
		} else if (aios_httpc_parser_eof(&sl->ps) != AIOS_OK) {
			slot_fail(s, sl, r, "%s", aios_errmsg()); /* "connection closed ..." */
		} else {
			slot_done(s, sl, r, 0);
		}
		return;
	}
	sl->got_any = 1;
	size_t used = 0;
	enum aios_err e = aios_httpc_parser_feed(&sl->ps, buf, (size_t)n, &used);
	if (e && sl->too_big) {
		slot_fail(s, sl, r, "page larger than %u bytes", AIOS_CAP_METRICS_PAGE);
	} else if (e) {
		slot_fail(s, sl, r, "bad response: %s", aios_errmsg());
	} else if (aios_httpc_parser_done(&sl->ps)) {
		/* Bytes past the response are nothing we asked for: not reusable. */
		slot_done(s, sl, r, used == (size_t)n && aios_httpc_parser_reusable(&sl->ps));
	}
}

void aios_scraper_run(struct aios_scraper *s, const char *const *urls, size_t n,
                      struct aios_scrape_result *out)
{
	size_t n_slots = n < (size_t)s->max_parallel ? n : (size_t)s->max_parallel;
	struct slot *slots = aios_xcalloc(n_slots + 1, sizeof(*slots));
	struct pollfd *pfd = aios_xcalloc(n_slots + 1, sizeof(*pfd));
	size_t *pslot = aios_xcalloc(n_slots + 1, sizeof(*pslot)); /* pfd[i] is of slot pslot[i] */
	char *buf = aios_xmalloc(READ_CHUNK);
	size_t next = 0, done = 0;
	s->round++;
	while (done < n) {
		/* Free slots take the next targets. */
		for (size_t i = 0; i < n_slots && next < n; i++) {
			if (slots[i].busy)
				continue;
			slot_start(s, &slots[i], next, urls[next], &out[next]);
			next++;
		}
		/* Poll what is in flight, until the nearest deadline. */
		int64_t now = aios_now_ms(), wait_ms = -1;
		nfds_t np = 0;
		for (size_t i = 0; i < n_slots; i++) {
			struct slot *sl = &slots[i];
			if (!sl->busy)
				continue;
			pfd[np].fd = sl->fd;
			pfd[np].events = sl->phase == RECEIVING ? POLLIN : POLLOUT;
			pfd[np].revents = 0;
			pslot[np++] = i;
			int64_t left = sl->deadline_ms > now ? sl->deadline_ms - now : 0;
			if (wait_ms < 0 || left < wait_ms)
				wait_ms = left;
		}
		if (np > 0 && poll(pfd, np, (int)wait_ms) < 0 && errno != EINTR)
			abort(); /* EFAULT/EINVAL/ENOMEM: a bug or the machine is out of memory */
		now = aios_now_ms();
		for (nfds_t k = 0; k < np; k++) {
			struct slot *sl = &slots[pslot[k]];
			struct aios_scrape_result *r = &out[sl->target];
			if (pfd[k].revents)
				slot_step(s, sl, r, buf);
			if (sl->busy && now >= sl->deadline_ms)
				slot_fail(s, sl, r, "timeout after %d ms %s", s->timeout_ms,
				          phase_names[sl->phase]);
		}
		/* Count what ended (including bad urls that ended in slot_start). */
		done = next;
		for (size_t i = 0; i < n_slots; i++)
			done -= slots[i].busy ? 1 : 0;
	}
	pool_sweep(s);
	free(buf);
	free(pslot);
	free(pfd);
	free(slots);
}
