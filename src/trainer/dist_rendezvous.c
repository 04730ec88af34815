/*
 * dist_rendezvous.c - configuration from the environment, the meeting at rank 0, the
 * full mesh of links, barriers and the final goodbye (see dist_rendezvous.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "dist_auth.h"
#include "dist_internal.h"

#define HELLO_READ_MS   5000 /* a connected rank has this long to say hello */
#define RETRY_FIRST_MS  100  /* first pause between connection attempts, doubling... */
#define RETRY_MAX_MS    1000 /* ...up to this: a restarted coordinator is found within 1 s */
#define CONNECT_WAIT_MS 3000 /* one connection attempt (SYN to SYN-ACK), then retry */

/* ------------------------------------------------------------------------------------
 * Configuration
 * ------------------------------------------------------------------------------------ */

static const char *const role_names[] = {"worker", "ps", "stage"};

const char *aios_dist_role_name(enum aios_dist_role r)
{
	return (unsigned)r < 3 ? role_names[r] : "unknown";
}

int aios_dist_role_parse(const char *s)
{
	for (int i = 0; s && i < 3; i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return -1;
}

void aios_dist_config_defaults(struct aios_dist_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->job, sizeof(c->job), "aios");
	c->world = 1;
	c->role = AIOS_DIST_ROLE_WORKER;
	snprintf(c->coord_ip, sizeof(c->coord_ip), "127.0.0.1");
	c->rendezvous_timeout_ms = 120000;
	c->heartbeat_ms = 1000;
	c->peer_timeout_ms = 5000;
	c->op_timeout_ms = 600000;
}

static enum aios_err env_long(const char *name, long lo, long hi, long *v)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return AIOS_OK;
	char *end;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return aios_fail(AIOS_ERR_INVALID, "%s=\"%s\": expected an integer in [%ld, %ld]",
		                 name, s, lo, hi);
	*v = x;
	return AIOS_OK;
}

enum aios_err aios_dist_parse_coordinator(const char *s, char ip[16], uint16_t *port)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon || colon == s || (size_t)(colon - s) >= 16)
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "AIOS_COORDINATOR=\"%s\": expected IPv4:PORT such as 10.244.0.5:29500",
		    s ? s : "");
	char host[16];
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	struct in_addr a;
	if (inet_pton(AF_INET, host, &a) != 1)
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "AIOS_COORDINATOR=\"%s\": \"%s\" is not an IPv4 address (no DNS lookups)", s,
		    host);
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (errno || *end || colon[1] == 0 || p < 1 || p > 65535)
		return aios_fail(AIOS_ERR_INVALID, "AIOS_COORDINATOR=\"%s\": bad port", s);
	memcpy(ip, host, strlen(host) + 1);
	*port = (uint16_t)p;
	return AIOS_OK;
}

enum aios_err aios_dist_config_from_env(struct aios_dist_config *c)
{
	long world = c->world, rank = c->rank, attempt = c->attempt;
	long rdv = c->rendezvous_timeout_ms, hb = c->heartbeat_ms, peer = c->peer_timeout_ms,
	     op = c->op_timeout_ms;
	enum aios_err e;
	if ((e = env_long("AIOS_WORLD_SIZE", 1, AIOS_DIST_MAX_WORLD, &world)) ||
	    (e = env_long("AIOS_RANK", 0, AIOS_DIST_MAX_WORLD - 1, &rank)) ||
	    (e = env_long("AIOS_ATTEMPT", 0, 0x7fffffffL, &attempt)) ||
	    (e = env_long("AIOS_DIST_RENDEZVOUS_TIMEOUT_MS", 100, 3600000, &rdv)) ||
	    (e = env_long("AIOS_DIST_HEARTBEAT_MS", 10, 60000, &hb)) ||
	    (e = env_long("AIOS_DIST_PEER_TIMEOUT_MS", 50, 600000, &peer)) ||
	    (e = env_long("AIOS_DIST_OP_TIMEOUT_MS", 100, 86400000, &op)))
		return e;
	if (rank >= world)
		return aios_fail(AIOS_ERR_INVALID,
		                 "AIOS_RANK=%ld: must be below AIOS_WORLD_SIZE=%ld", rank, world);
	if (peer <= hb)
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "AIOS_DIST_PEER_TIMEOUT_MS=%ld must exceed AIOS_DIST_HEARTBEAT_MS=%ld", peer,
		    hb);
	const char *job = getenv("AIOS_JOB");
	if (job && *job) {
		if (strlen(job) > AIOS_DIST_MAX_JOB)
			return aios_fail(AIOS_ERR_INVALID, "AIOS_JOB: longer than %d bytes",
			                 AIOS_DIST_MAX_JOB);
		snprintf(c->job, sizeof(c->job), "%s", job);
	}
	const char *role = getenv("AIOS_ROLE");
	if (role && *role) {
		int r = aios_dist_role_parse(role);
		if (r < 0)
			return aios_fail(AIOS_ERR_INVALID,
			                 "AIOS_ROLE=\"%s\": expected worker, ps or stage", role);
		c->role = (enum aios_dist_role)r;
	}
	const char *coord = getenv("AIOS_COORDINATOR");
	if (coord && *coord) {
		if ((e = aios_dist_parse_coordinator(coord, c->coord_ip, &c->coord_port)))
			return e;
	} else if (world > 1) {
		return aios_fail(AIOS_ERR_INVALID,
		                 "AIOS_COORDINATOR is required when AIOS_WORLD_SIZE=%ld", world);
	}
	if ((e = aios_dist_secret_from_env(c)))
		return e;
	c->world = (int)world;
	c->rank = (int)rank;
	c->attempt = (uint32_t)attempt;
	c->rendezvous_timeout_ms = (int)rdv;
	c->heartbeat_ms = (int)hb;
	c->peer_timeout_ms = (int)peer;
	c->op_timeout_ms = (int)op;
	return AIOS_OK;
}

/* ------------------------------------------------------------------------------------
 * Sockets
 * ------------------------------------------------------------------------------------ */

static void tune(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Listens on 0.0.0.0:port (0: any); retries EADDRINUSE (an old attempt's socket) until deadline. */
static enum aios_err listen_on(uint16_t port, int64_t deadline, int *out, uint16_t *bound)
{
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return aios_fail(AIOS_ERR_IO, "socket: %s", strerror(errno));
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
		a.sin_addr.s_addr = htonl(INADDR_ANY);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 128) == 0) {
			socklen_t len = sizeof(a);
			getsockname(fd, (struct sockaddr *)&a, &len);
			*bound = ntohs(a.sin_port);
			*out = fd;
			return AIOS_OK;
		}
		int err = errno;
		close(fd);
		if (err != EADDRINUSE || aios_now_ms() >= deadline)
			return aios_fail(err == EADDRINUSE ? AIOS_ERR_TIMEOUT : AIOS_ERR_IO,
			                 "rendezvous: cannot listen on 0.0.0.0:%u: %s", port,
			                 strerror(err));
		aios_sleep_ms(200);
	}
}

/* Connects to ip:port, retrying refusals with backoff until deadline. */
static enum aios_err connect_retry(const char *ip, uint16_t port, int64_t deadline, int total_ms,
                                   int *out)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return aios_fail(AIOS_ERR_INVALID, "rendezvous: bad address %s", ip);
	int pause = RETRY_FIRST_MS, tries = 0, last = 0;
	for (;;) {
		tries++;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return aios_fail(AIOS_ERR_IO, "socket: %s", strerror(errno));
		/* Non-blocking: an address that drops SYNs (a pod not routable yet) must not
		 * hold this attempt for the kernel's two-minute connect timeout. */
		int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
		if (r != 0 && errno == EINPROGRESS) {
			int64_t left = deadline - aios_now_ms();
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int wait =
			    left < CONNECT_WAIT_MS ? (left > 0 ? (int)left : 0) : CONNECT_WAIT_MS;
			int err = ETIMEDOUT;
			socklen_t len = sizeof(err);
			if (poll(&pfd, 1, wait) > 0)
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			r = err ? -1 : 0;
			errno = err;
		}
		if (r == 0) {
			int fl = fcntl(fd, F_GETFL);
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
			tune(fd);
			*out = fd;
			return AIOS_OK;
		}
		last = errno;
		close(fd);
		int64_t left = deadline - aios_now_ms();
		if (left <= 0)
			return aios_fail(AIOS_ERR_TIMEOUT,
			                 "rendezvous: could not reach %s:%u within %d ms "
			                 "(%d attempts, last error: %s)",
			                 ip, port, total_ms, tries, strerror(last));
		aios_sleep_ms(pause < left ? pause : left);
		pause = pause * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : pause * 2;
	}
}

/* ------------------------------------------------------------------------------------
 * Handshake: challenge, hello, auth (dist_wire.h), then the peer table
 * ------------------------------------------------------------------------------------ */

#define LABEL_HELLO  "aios-dist v2 hello"
#define LABEL_ACCEPT "aios-dist v2 accept"
#define AUTH_FAILED  "authentication failed" /* all an unauthenticated peer is told */
#define MAX_PENDING  128  /* connections saying hello at once; more wait in the backlog */
#define REPLY_MS     1000 /* to write a challenge, an auth or a reject */

/* Connector: reads the acceptor's challenge and sends an authenticated HELLO; keeps both
 * nonces for checking the acceptor's AUTH. */
static enum aios_err say_hello(struct aios_dist *d, int fd, uint16_t port, int64_t deadline,
                               uint8_t nonce[AIOS_DIST_NONCE_LEN],
                               uint8_t challenge[AIOS_DIST_NONCE_LEN])
{
	struct aios_dist_header h;
	uint8_t *p;
	enum aios_err e = dist_read_frame(fd, AIOS_DIST_NONCE_LEN, deadline, &h, &p);
	if (e)
		return e;
	if (h.type != AIOS_DIST_CHALLENGE || h.payload_len != AIOS_DIST_NONCE_LEN) {
		free(p);
		return aios_fail(AIOS_ERR_PROTOCOL,
		                 "expected a challenge, got a %s frame of %u bytes",
		                 aios_dist_type_name(h.type), h.payload_len);
	}
	memcpy(challenge, p, AIOS_DIST_NONCE_LEN);
	free(p);
	struct aios_dist_hello hello = {.world = (uint32_t)d->world,
	                                .rank = (uint32_t)d->rank,
	                                .port = port,
	                                .role = (uint16_t)d->cfg.role};
	snprintf(hello.job, sizeof(hello.job), "%s", d->cfg.job);
	if ((e = aios_dist_nonce(hello.nonce)))
		return e;
	uint8_t buf[AIOS_DIST_HELLO_MAX];
	size_t n = aios_dist_hello_encode(&hello, buf);
	aios_dist_mac(&d->cfg, LABEL_HELLO, challenge, hello.nonce, d->cfg.attempt,
	              (uint32_t)d->rank, buf, n - AIOS_DIST_MAC_LEN, buf + n - AIOS_DIST_MAC_LEN);
	memcpy(nonce, hello.nonce, AIOS_DIST_NONCE_LEN);
	struct aios_dist_header hh = {.version = AIOS_DIST_VERSION,
	                              .type = AIOS_DIST_HELLO,
	                              .attempt = d->cfg.attempt,
	                              .sender = (uint32_t)d->rank,
	                              .payload_len = (uint32_t)n};
	return dist_write_frame(fd, &hh, buf, n, deadline);
}

/* Connector: 1 when an AUTH payload proves that rank `peer` holds the secret. */
static int auth_ok(const struct aios_dist *d, const uint8_t *p, size_t n, int peer,
                   const uint8_t nonce[AIOS_DIST_NONCE_LEN],
                   const uint8_t challenge[AIOS_DIST_NONCE_LEN])
{
	uint8_t want[AIOS_DIST_MAC_LEN];
	if (n != AIOS_DIST_MAC_LEN)
		return 0;
	aios_dist_mac(&d->cfg, LABEL_ACCEPT, nonce, challenge, d->cfg.attempt, (uint32_t)peer, NULL,
	              0, want);
	return aios_dist_mac_equal(want, p);
}

/* Why an authenticated hello is refused, or NULL. why has room for the text. */
static const char *judge(const struct aios_dist *d, const struct aios_dist_hello *h,
                         uint32_t attempt, int lo, int hi, char *why, size_t n)
{
	if (strcmp(h->job, d->cfg.job) != 0)
		snprintf(why, n, "rank %u belongs to job \"%s\", this is job \"%s\"", h->rank,
		         h->job, d->cfg.job);
	else if (attempt != d->cfg.attempt)
		snprintf(why, n, "rank %u is from attempt %u, this is attempt %u%s", h->rank,
		         attempt, d->cfg.attempt,
		         attempt < d->cfg.attempt ? " (a leftover of an old attempt)" : "");
	else if (h->world != (uint32_t)d->world)
		snprintf(why, n, "rank %u expects a world of %u, this world has %d", h->rank,
		         h->world, d->world);
	else if (h->rank < (uint32_t)lo || h->rank >= (uint32_t)hi)
		snprintf(why, n, "rank %u is out of range [%d, %d)", h->rank, lo, hi);
	else if (d->links[h->rank])
		snprintf(why, n, "rank %u has already joined", h->rank);
	else if (h->role > AIOS_DIST_ROLE_STAGE)
		snprintf(why, n, "rank %u has unknown role %u", h->rank, h->role);
	else
		return NULL;
	return why;
}

static void send_reject(int fd, uint32_t attempt, const char *why)
{
	size_t wl = strlen(why);
	uint8_t p[4 + AIOS_DIST_MAX_REASON];
	if (wl > AIOS_DIST_MAX_REASON)
		wl = AIOS_DIST_MAX_REASON;
	aios_dist_put_u32(p, attempt);
	memcpy(p + 4, why, wl);
	struct aios_dist_header h = {.version = AIOS_DIST_VERSION,
	                             .type = AIOS_DIST_REJECT,
	                             .attempt = attempt,
	                             .payload_len = (uint32_t)(4 + wl)};
	if (dist_write_frame(fd, &h, p, 4 + wl, aios_now_ms() + REPLY_MS) != AIOS_OK)
		aios_errclear(); /* best effort: the peer is refused either way */
}

/* One accepted connection saying hello (acceptor side). */
struct pending {
	int fd;
	struct sockaddr_in peer;
	int64_t deadline; /* its own: HELLO_READ_MS after the accept */
	uint8_t challenge[AIOS_DIST_NONCE_LEN];
	uint8_t buf[AIOS_DIST_HEADER_LEN + AIOS_DIST_HELLO_MAX];
	size_t got, need;
};

/* Reads what has arrived: 1 when the frame is whole (or its header is bad), 0 for more,
 * -1 when the peer closed or failed. */
static int pending_read(struct pending *pd)
{
	for (;;) {
		ssize_t r = recv(pd->fd, pd->buf + pd->got, pd->need - pd->got, MSG_DONTWAIT);
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		pd->got += (size_t)r;
		if (pd->got < pd->need)
			continue;
		if (pd->need == AIOS_DIST_HEADER_LEN) {
			struct aios_dist_header h;
			if (aios_dist_header_decode(pd->buf, AIOS_DIST_HELLO_MAX, &h) != AIOS_OK) {
				aios_errclear();
				return 1; /* hello_done refuses it */
			}
			pd->need += h.payload_len;
			if (pd->need > pd->got)
				continue;
		}
		return 1;
	}
}

/* Checks a whole hello: 1 when the rank joined (its link made, ips/ports noted when
 * given), 0 when refused (the connection is closed). */
static int hello_done(struct aios_dist *d, struct pending *pd, int lo, int hi, uint32_t *ips,
                      uint16_t *ports)
{
	struct aios_dist_header h;
	struct aios_dist_hello hello;
	const uint8_t *pl;
	size_t used;
	char why[512];
	const char *bad = NULL;
	int authed = 0;
	if (aios_dist_frame_decode(pd->buf, pd->got, AIOS_DIST_HELLO_MAX, &h, &pl, &used) ||
	    (h.type != AIOS_DIST_HELLO && aios_fail(AIOS_ERR_PROTOCOL, "expected a hello, got %s",
	                                            aios_dist_type_name(h.type))) ||
	    aios_dist_hello_decode(pl, h.payload_len, &hello)) {
		snprintf(why, sizeof(why), "%s", aios_errmsg());
		bad = why;
	} else {
		uint8_t want[AIOS_DIST_MAC_LEN];
		aios_dist_mac(&d->cfg, LABEL_HELLO, pd->challenge, hello.nonce, h.attempt, h.sender,
		              pl, h.payload_len - AIOS_DIST_MAC_LEN, want);
		if (!aios_dist_mac_equal(want, hello.mac))
			bad = "hello fails authentication (no or another secret)";
		else if (h.sender != hello.rank)
			bad = "hello: header and payload name different ranks";
		else
			authed = 1, bad = judge(d, &hello, h.attempt, lo, hi, why, sizeof(why));
	}
	char ip[16];
	inet_ntop(AF_INET, &pd->peer.sin_addr, ip, sizeof(ip));
	if (!bad) {
		struct aios_dist_header ah = {.version = AIOS_DIST_VERSION,
		                              .type = AIOS_DIST_AUTH,
		                              .attempt = d->cfg.attempt,
		                              .sender = (uint32_t)d->rank,
		                              .payload_len = AIOS_DIST_MAC_LEN};
		uint8_t mac[AIOS_DIST_MAC_LEN];
		aios_dist_mac(&d->cfg, LABEL_ACCEPT, hello.nonce, pd->challenge, d->cfg.attempt,
		              (uint32_t)d->rank, NULL, 0, mac);
		if (dist_write_frame(pd->fd, &ah, mac, sizeof(mac), aios_now_ms() + REPLY_MS)) {
			aios_warn("dist_refused", "rank %d: rank %u from %s: %s", d->rank,
			          hello.rank, ip, aios_errmsg());
			close(pd->fd);
			return 0;
		}
		int fl = fcntl(pd->fd, F_GETFL);
		fcntl(pd->fd, F_SETFL, fl & ~O_NONBLOCK);
		d->links[hello.rank] = dist_link_new(pd->fd, (int)hello.rank);
		d->roles[hello.rank] = (enum aios_dist_role)hello.role;
		if (ips)
			ips[hello.rank] = pd->peer.sin_addr.s_addr;
		if (ports)
			ports[hello.rank] = hello.port;
		return 1;
	}
	/* our log has the detail; the peer learns only what its proof entitles it to */
	aios_warn("dist_refused", "rank %d refused a connection from %s: %s", d->rank, ip, bad);
	send_reject(pd->fd, authed ? d->cfg.attempt : 0, authed ? bad : AUTH_FAILED);
	close(pd->fd);
	return 0;
}

/* Starts the handshake of a new connection: its deadline and our challenge. */
static int pending_start(struct pending *pd, int fd, const struct sockaddr_in *peer,
                         int64_t deadline)
{
	memset(pd, 0, sizeof(*pd));
	pd->fd = fd;
	pd->peer = *peer;
	pd->need = AIOS_DIST_HEADER_LEN;
	int64_t hd = aios_now_ms() + HELLO_READ_MS;
	pd->deadline = hd < deadline ? hd : deadline;
	struct aios_dist_header h = {.version = AIOS_DIST_VERSION,
	                             .type = AIOS_DIST_CHALLENGE,
	                             .payload_len = AIOS_DIST_NONCE_LEN};
	if (aios_dist_nonce(pd->challenge) ||
	    dist_write_frame(fd, &h, pd->challenge, AIOS_DIST_NONCE_LEN,
	                     aios_now_ms() + REPLY_MS)) {
		aios_warn("dist_refused", "challenge not sent: %s", aios_errmsg());
		close(fd);
		return 0;
	}
	return 1;
}

/*
 * Accepts connections on lfd and reads their hellos side by side, each within its own
 * HELLO_READ_MS, until `want` ranks in [lo, hi) have joined. AIOS_ERR_TIMEOUT at the
 * deadline.
 */
static enum aios_err gather_hellos(struct aios_dist *d, int lfd, int lo, int hi, int want,
                                   int64_t deadline, uint32_t *ips, uint16_t *ports)
{
	struct pending *pend = aios_xcalloc(MAX_PENDING, sizeof(*pend));
	struct pollfd pfd[MAX_PENDING + 1];
	int np = 0, joined = 0;
	enum aios_err e = AIOS_OK;
	while (joined < want) {
		int64_t now = aios_now_ms();
		for (int i = 0; i < np;) {
			if (now < pend[i].deadline) {
				i++;
				continue;
			}
			char ip[16];
			inet_ntop(AF_INET, &pend[i].peer.sin_addr, ip, sizeof(ip));
			aios_warn("dist_refused",
			          "rank %d refused a connection from %s: no hello within %d ms",
			          d->rank, ip, HELLO_READ_MS);
			close(pend[i].fd);
			pend[i] = pend[--np];
		}
		if (now >= deadline) {
			e = aios_fail(AIOS_ERR_TIMEOUT, "timed out");
			break;
		}
		int64_t wait = deadline - now;
		for (int i = 0; i < np; i++)
			if (pend[i].deadline - now < wait)
				wait = pend[i].deadline - now;
		int n = 0;
		if (np < MAX_PENDING)
			pfd[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		int base = n;
		for (int i = 0; i < np; i++)
			pfd[n++] = (struct pollfd){.fd = pend[i].fd, .events = POLLIN};
		int r = poll(pfd, (nfds_t)n, wait > 1000 ? 1000 : (int)wait);
		if (r < 0 && errno != EINTR) {
			e = aios_fail(AIOS_ERR_IO, "poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		/* backwards: a finished entry is replaced by the last one, already looked at */
		for (int i = np - 1; i >= 0 && joined < want; i--) {
			if (!(pfd[base + i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int st = pending_read(&pend[i]);
			if (st == 0)
				continue;
			if (st > 0)
				joined += hello_done(d, &pend[i], lo, hi, ips, ports);
			else
				close(pend[i].fd);
			pend[i] = pend[--np];
		}
		if (base && (pfd[0].revents & POLLIN) && joined < want) {
			struct sockaddr_in peer;
			socklen_t len = sizeof(peer);
			int fd = accept4(lfd, (struct sockaddr *)&peer, &len,
			                 SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0) {
				tune(fd);
				np += pending_start(&pend[np], fd, &peer, deadline);
			} else if (errno == EMFILE || errno == ENFILE) {
				aios_sleep_ms(50); /* out of descriptors: let pending ones finish */
			} else if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
				e = aios_fail(AIOS_ERR_IO, "accept: %s", strerror(errno));
				break;
			}
		}
	}
	for (int i = 0; i < np; i++)
		close(pend[i].fd);
	free(pend);
	return e;
}

static enum aios_err coordinator_meet(struct aios_dist *d, int64_t deadline)
{
	int lfd;
	uint16_t port;
	enum aios_err e = listen_on(d->cfg.coord_port, deadline, &lfd, &port);
	if (e)
		return e;
	aios_info("dist_listen", "rank 0 of %d (job %s, attempt %u) waiting on 0.0.0.0:%u",
	          d->world, d->cfg.job, d->cfg.attempt, port);
	uint32_t ips[AIOS_DIST_MAX_WORLD] = {0};
	uint16_t ports[AIOS_DIST_MAX_WORLD] = {0};
	e = gather_hellos(d, lfd, 1, d->world, d->world - 1, deadline, ips, ports);
	close(lfd);
	if (e) {
		char missing[256] = "";
		size_t off = 0;
		int joined = 1;
		for (int r = 1; r < d->world; r++) {
			if (d->links[r])
				joined++;
			else if (off < sizeof(missing) - 8)
				off += (size_t)snprintf(missing + off, sizeof(missing) - off,
				                        "%s%d", off ? ", " : "", r);
		}
		return aios_fail(e, "rendezvous: %d of %d ranks arrived within %d ms (missing: %s)",
		                 joined, d->world, d->cfg.rendezvous_timeout_ms, missing);
	}
	for (int r = 1; r < d->world; r++)
		aios_info("dist_joined", "rank %d joined from %s:%u", r,
		          inet_ntoa((struct in_addr){.s_addr = ips[r]}), ports[r]);
	size_t n = 4 + 8 * (size_t)d->world;
	uint8_t *p = aios_xcalloc(1, n);
	aios_dist_put_u32(p, (uint32_t)d->world);
	for (int r = 0; r < d->world; r++) {
		memcpy(p + 4 + 8 * r, &ips[r], 4); /* network order as is */
		aios_dist_put_u16(p + 8 + 8 * r, ports[r]);
		aios_dist_put_u16(p + 10 + 8 * r, (uint16_t)d->roles[r]);
	}
	struct aios_dist_header h = {.version = AIOS_DIST_VERSION,
	                             .type = AIOS_DIST_PEERS,
	                             .attempt = d->cfg.attempt,
	                             .payload_len = (uint32_t)n};
	for (int r = 1; r < d->world && !e; r++)
		if ((e = dist_write_frame(d->links[r]->fd, &h, p, n, deadline)))
			aios_fail_wrap(e, "rendezvous: sending the peer table to rank %d", r);
	free(p);
	return e;
}

/* Connector: after the hello, the acceptor's AUTH (or REJECT). AIOS_ERR_FORBIDDEN for a
 * reject (*theirs: the refuser's attempt, why: its text) or a failed proof. */
static enum aios_err await_auth(struct aios_dist *d, int fd, int peer, int64_t deadline,
                                const uint8_t nonce[AIOS_DIST_NONCE_LEN],
                                const uint8_t challenge[AIOS_DIST_NONCE_LEN], uint32_t *theirs,
                                char why[AIOS_DIST_MAX_REASON + 1])
{
	struct aios_dist_header h;
	uint8_t *p;
	*theirs = 0;
	why[0] = 0;
	enum aios_err e = dist_read_frame(fd, 4 + AIOS_DIST_MAX_REASON, deadline, &h, &p);
	if (e)
		return e;
	if (h.type == AIOS_DIST_REJECT) {
		if (aios_dist_reject_decode(p, h.payload_len, theirs, why))
			snprintf(why, AIOS_DIST_MAX_REASON + 1, "%s", aios_errmsg());
		e = aios_fail(AIOS_ERR_FORBIDDEN, "refused: %s", why);
	} else if (h.type != AIOS_DIST_AUTH ||
	           !auth_ok(d, p, h.payload_len, peer, nonce, challenge)) {
		snprintf(why, AIOS_DIST_MAX_REASON + 1, "rank %d failed authentication (%s frame)",
		         peer, aios_dist_type_name(h.type));
		e = aios_fail(AIOS_ERR_FORBIDDEN, "%s", why);
	}
	free(p);
	return e;
}

static enum aios_err member_meet(struct aios_dist *d, int64_t deadline)
{
	int lfd, fd = -1;
	uint16_t myport;
	enum aios_err e = listen_on(0, deadline, &lfd, &myport);
	if (e)
		return e;
	struct aios_dist_header h;
	uint8_t *p = NULL;
	uint8_t nonce[AIOS_DIST_NONCE_LEN], challenge[AIOS_DIST_NONCE_LEN];
	for (;;) {
		uint32_t theirs = 0;
		char why[AIOS_DIST_MAX_REASON + 1] = "";
		e = connect_retry(d->cfg.coord_ip, d->cfg.coord_port, deadline,
		                  d->cfg.rendezvous_timeout_ms, &fd);
		if (!e)
			e = say_hello(d, fd, myport, deadline, nonce, challenge);
		if (!e)
			e = await_auth(d, fd, 0, deadline, nonce, challenge, &theirs, why);
		if (!e)
			e = dist_read_frame(fd, 4 + 8 * AIOS_DIST_MAX_WORLD, deadline, &h, &p);
		if (e == AIOS_ERR_TIMEOUT || (e && aios_now_ms() >= deadline)) {
			if (fd >= 0)
				close(fd);
			close(lfd);
			return aios_fail_wrap(AIOS_ERR_TIMEOUT, "rank %d", d->rank);
		}
		if (e == AIOS_ERR_FORBIDDEN) {
			close(fd);
			fd = -1;
			if (theirs < d->cfg.attempt) {
				/* an old coordinator still holds the port (an old attempt's secret
				 * fails our proof, so it answers with attempt 0): wait for the new one */
				aios_warn("dist_retry",
				          "coordinator is at attempt %u, this rank at %u: %s",
				          theirs, d->cfg.attempt, why);
				aios_sleep_ms(RETRY_MAX_MS);
				continue;
			}
			close(lfd);
			return aios_fail(AIOS_ERR_FORBIDDEN,
			                 "rendezvous: the coordinator refused rank %d: %s", d->rank,
			                 why);
		}
		if (e) { /* the coordinator went away mid-hello: it may be restarting */
			aios_warn("dist_retry", "rendezvous with %s:%u failed (%s); retrying",
			          d->cfg.coord_ip, d->cfg.coord_port, aios_errmsg());
			close(fd);
			fd = -1;
			aios_sleep_ms(RETRY_MAX_MS);
			continue;
		}
		break;
	}
	uint32_t ipn[AIOS_DIST_MAX_WORLD];
	uint16_t ports[AIOS_DIST_MAX_WORLD], roles[AIOS_DIST_MAX_WORLD];
	e = h.type != AIOS_DIST_PEERS
	        ? aios_fail(AIOS_ERR_PROTOCOL, "rendezvous: expected the peer table, got %s",
	                    aios_dist_type_name(h.type))
	        : aios_dist_peers_decode(p, h.payload_len, d->world, ipn, ports, roles);
	free(p);
	if (e) {
		aios_fail_wrap(e, "rendezvous");
		close(fd);
		close(lfd);
		return e;
	}
	char ips[AIOS_DIST_MAX_WORLD][16];
	for (int r = 0; r < d->world; r++) {
		inet_ntop(AF_INET, &ipn[r], ips[r], sizeof(ips[r]));
		d->roles[r] = (enum aios_dist_role)roles[r];
	}
	d->links[0] = dist_link_new(fd, 0);
	/* Mesh: connect to every lower rank, accept every higher one. */
	for (int r = 1; r < d->rank && !e; r++) {
		uint32_t theirs;
		char why[AIOS_DIST_MAX_REASON + 1];
		e = connect_retry(ips[r], ports[r], deadline, d->cfg.rendezvous_timeout_ms, &fd);
		if (e) {
			aios_fail_wrap(e, "rendezvous: rank %d connecting to rank %d", d->rank, r);
			break;
		}
		if ((e = say_hello(d, fd, myport, deadline, nonce, challenge)) ||
		    (e = await_auth(d, fd, r, deadline, nonce, challenge, &theirs, why))) {
			close(fd);
			aios_fail_wrap(e, "rendezvous: rank %d connecting to rank %d", d->rank, r);
		} else {
			d->links[r] = dist_link_new(fd, r);
		}
	}
	if (!e && d->rank + 1 < d->world) {
		e = gather_hellos(d, lfd, d->rank + 1, d->world, d->world - 1 - d->rank, deadline,
		                  NULL, NULL);
		if (e)
			aios_fail_wrap(e, "rendezvous: rank %d waiting for higher ranks", d->rank);
	}
	close(lfd);
	return e;
}

/* ------------------------------------------------------------------------------------
 * Lifetime, barriers
 * ------------------------------------------------------------------------------------ */

static void teardown(struct aios_dist *d)
{
	OPENSSL_cleanse(d->cfg.secret, sizeof(d->cfg.secret));
	dist_threads_stop(d);
	for (int r = 0; r < d->world; r++)
		dist_link_free(d->links[r]);
	if (d->wake[0] >= 0) {
		close(d->wake[0]);
		close(d->wake[1]);
	}
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
}

enum aios_err aios_dist_connect(const struct aios_dist_config *c, struct aios_dist **out)
{
	*out = NULL;
	if (c->world < 1 || c->world > AIOS_DIST_MAX_WORLD || c->rank < 0 || c->rank >= c->world)
		return aios_fail(AIOS_ERR_INVALID,
		                 "rank %d of world %d: out of range (world <= %d)", c->rank,
		                 c->world, AIOS_DIST_MAX_WORLD);
	if (!c->job[0])
		return aios_fail(AIOS_ERR_INVALID, "distributed run needs a job name (AIOS_JOB)");
	if (c->world > 1 && !c->secret_len && !c->insecure)
		return aios_fail(AIOS_ERR_INVALID,
		                 "a distributed run (world %d) needs the job's secret: set "
		                 "AIOS_SECRET_FILE (--secret-file) or AIOS_SECRET, or "
		                 "AIOS_DIST_INSECURE=1 (--insecure-no-auth) to let any peer join",
		                 c->world);
	if (c->world > 1 && !c->secret_len)
		aios_warn("dist_insecure",
		          "rank %d of job %s runs WITHOUT authentication (AIOS_DIST_INSECURE=1): "
		          "anyone who reaches its ports can join, read or poison the model",
		          c->rank, c->job);
	struct aios_dist *d = aios_xcalloc(1, sizeof(*d));
	d->cfg = *c;
	d->rank = c->rank;
	d->world = c->world;
	d->lost = -1;
	d->wake[0] = d->wake[1] = -1;
	d->roles[d->rank] = c->role;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (d->world == 1) {
		*out = d;
		return AIOS_OK;
	}
	int64_t t0 = aios_now_ms(), deadline = t0 + c->rendezvous_timeout_ms;
	enum aios_err e = d->rank == 0 ? coordinator_meet(d, deadline) : member_meet(d, deadline);
	if (!e)
		e = dist_threads_start(d);
	if (!e)
		e = aios_dist_barrier(d);
	if (e) {
		char msg[768];
		snprintf(msg, sizeof(msg), "%s", aios_errmsg());
		teardown(d);
		return aios_fail(e, "%s", msg);
	}
	aios_info("dist_ready",
	          "rank %d of %d connected to all peers in %lld ms (job %s, attempt %u)", d->rank,
	          d->world, (long long)(aios_now_ms() - t0), d->cfg.job, d->cfg.attempt);
	*out = d;
	return AIOS_OK;
}

void aios_dist_free(struct aios_dist *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	int failed = d->failed;
	pthread_mutex_unlock(&d->mu);
	if (failed)
		dist_tell_peers(d); /* once per run: a no-op if already told */
	teardown(d);
}

enum aios_err aios_dist_finish(struct aios_dist *d)
{
	if (d->world == 1) {
		teardown(d);
		return AIOS_OK;
	}
	/* A fixed tag: ranks that took part in different collectives (parameter servers and
	 * workers) still agree on it. */
	uint32_t tag = 0xfffffffeu;
	enum aios_err e = AIOS_OK;
	struct aios_dist_msg *m = NULL;
	if (d->rank != 0) {
		/* After our FINISH reaches rank 0, only rank 0's link matters to us. */
		pthread_mutex_lock(&d->mu);
		for (int r = 1; r < d->world; r++)
			if (d->links[r])
				d->links[r]->expect_close = 1;
		pthread_mutex_unlock(&d->mu);
		e = aios_dist_send(d, 0, AIOS_DIST_FINISH, tag, NULL, 0);
		if (!e)
			e = aios_dist_recv(d, 0, AIOS_DIST_FINISH, tag, &m);
		aios_dist_msg_free(m);
	} else {
		for (int r = 1; r < d->world && !e; r++) {
			e = aios_dist_recv(d, r, AIOS_DIST_FINISH, tag, &m);
			aios_dist_msg_free(m);
			m = NULL;
		}
		if (!e) {
			pthread_mutex_lock(&d->mu);
			d->closing = 1;
			pthread_mutex_unlock(&d->mu);
		}
		for (int r = 1; r < d->world && !e; r++)
			e = aios_dist_send(d, r, AIOS_DIST_FINISH, tag, NULL, 0);
	}
	if (!e) {
		pthread_mutex_lock(&d->mu);
		d->closing = 1;
		pthread_mutex_unlock(&d->mu);
		teardown(d);
		return AIOS_OK;
	}
	char msg[768];
	snprintf(msg, sizeof(msg), "%s", aios_errmsg());
	aios_dist_free(d);
	return aios_fail(e, "%s", msg);
}

int aios_dist_rank(const struct aios_dist *d)
{
	return d->rank;
}

int aios_dist_world(const struct aios_dist *d)
{
	return d->world;
}

uint32_t aios_dist_attempt(const struct aios_dist *d)
{
	return d->cfg.attempt;
}

enum aios_dist_role aios_dist_role_of(const struct aios_dist *d, int rank)
{
	return rank >= 0 && rank < d->world ? d->roles[rank] : AIOS_DIST_ROLE_WORKER;
}

int aios_dist_lost_rank(const struct aios_dist *d)
{
	struct aios_dist *m = (struct aios_dist *)d;
	pthread_mutex_lock(&m->mu);
	int lost = m->failed ? m->lost : -1;
	pthread_mutex_unlock(&m->mu);
	return lost;
}

uint32_t aios_dist_next_tag(struct aios_dist *d)
{
	return ++d->tag_seq;
}

enum aios_err aios_dist_barrier(struct aios_dist *d)
{
	if (d->world == 1)
		return AIOS_OK;
	uint32_t tag = aios_dist_next_tag(d);
	struct aios_dist_msg *m = NULL;
	enum aios_err e = AIOS_OK;
	if (d->rank != 0) {
		e = aios_dist_send(d, 0, AIOS_DIST_BARRIER, tag, NULL, 0);
		if (!e)
			e = aios_dist_recv(d, 0, AIOS_DIST_BARRIER, tag, &m);
		aios_dist_msg_free(m);
		return e;
	}
	for (int r = 1; r < d->world && !e; r++) {
		e = aios_dist_recv(d, r, AIOS_DIST_BARRIER, tag, &m);
		aios_dist_msg_free(m);
		m = NULL;
	}
	for (int r = 1; r < d->world && !e; r++)
		e = aios_dist_send(d, r, AIOS_DIST_BARRIER, tag, NULL, 0);
	return e;
}

enum aios_err aios_dist_broadcast(struct aios_dist *d, int root, float *x, size_t n)
{
	if (d->world == 1)
		return AIOS_OK;
	uint32_t tag = aios_dist_next_tag(d);
	if (d->rank != root)
		return aios_dist_recv_floats(d, root, AIOS_DIST_DATA, tag, x, n);
	for (int r = 0; r < d->world; r++) {
		if (r == root)
			continue;
		enum aios_err e = aios_dist_send_floats(d, r, AIOS_DIST_DATA, tag, x, n);
		if (e)
			return e;
	}
	return AIOS_OK;
}
