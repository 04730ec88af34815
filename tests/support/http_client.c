/* http_client.c - the blocking loopback HTTP client of the test suites (http_client.h). */
#include "support/http_client.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"

int tc_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	ck_assert_msg(rc == 0, "connect to port %d: %s", port, strerror(errno));
	return fd;
}

void tc_send(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		c += w;
		n -= (size_t)w;
	}
}

/* Reads into buf until cond or deadline; returns bytes read so far, sets *eof. */
static ssize_t read_some(int fd, char *buf, size_t cap, int64_t deadline, int *eof)
{
	int64_t left = deadline - aios_now_ms();
	if (left <= 0)
		return -1;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, (int)left) <= 0)
		return -1;
	ssize_t r = recv(fd, buf, cap, 0);
	if (r <= 0)
		*eof = 1;
	return r;
}

/* Receives exactly n bytes into p (fewer on close/timeout); returns the count. */
static size_t recv_exact(int fd, char *p, size_t n, int64_t deadline)
{
	size_t got = 0;
	while (got < n) {
		int eof = 0;
		ssize_t r = read_some(fd, p + got, n - got, deadline, &eof);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* Peeks until the header block is buffered; returns its length (with CRLFCRLF) or 0. */
static size_t peek_head(int fd, int64_t deadline)
{
	char buf[8192];
	for (;;) {
		int64_t left = deadline - aios_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			return 0;
		ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_PEEK);
		if (n <= 0)
			return 0;
		buf[n] = 0;
		char *e = strstr(buf, "\r\n\r\n");
		if (e)
			return (size_t)(e - buf) + 4;
		if ((size_t)n == sizeof buf - 1)
			return 0;
		aios_sleep_ms(1); /* the rest of the head is on its way */
	}
}

void tc_read(int fd, struct tc_resp *r, int timeout_ms)
{
	memset(r, 0, sizeof *r);
	int64_t deadline = aios_now_ms() + timeout_ms;
	for (;;) {
		size_t hl = peek_head(fd, deadline);
		if (!hl) {
			r->body = calloc(1, 1);
			r->closed = 1;
			return;
		}
		char *head = malloc(hl + 1);
		size_t got = recv_exact(fd, head, hl, deadline);
		head[got] = 0;
		size_t cp = got - 4 < sizeof r->head - 1 ? got - 4 : sizeof r->head - 1;
		memcpy(r->head, head, cp);
		r->head[cp] = 0;
		free(head);
		if (strncmp(r->head, "HTTP/1.1 100", 12) == 0)
			continue; /* interim response */
		break;
	}
	sscanf(r->head, "HTTP/1.%*d %d", &r->status);
	char v[32];
	size_t need = tc_header(r, "Content-Length", v, sizeof v) ? strtoul(v, NULL, 10) : 0;
	r->body = malloc(need + 1);
	r->body_len = recv_exact(fd, r->body, need, deadline);
	r->body[r->body_len] = 0;
	r->closed = tc_header(r, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0;
}

int tc_header(const struct tc_resp *r, const char *name, char *out, size_t n)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *l = p + 2;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			const char *v = l + nl + 1;
			while (*v == ' ')
				v++;
			const char *e = strstr(v, "\r\n");
			size_t vl = e ? (size_t)(e - v) : strlen(v);
			if (vl >= n)
				vl = n - 1;
			memcpy(out, v, vl);
			out[vl] = 0;
			return 1;
		}
	}
	return 0;
}

void tc_request(int port, const char *method, const char *path, const char *body, struct tc_resp *r)
{
	int fd = tc_connect(port);
	char head[1024];
	size_t bl = body ? strlen(body) : 0;
	int n = snprintf(head, sizeof head,
	                 "%s %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
	                 "Content-Length: %zu\r\n\r\n",
	                 method, path, bl);
	tc_send(fd, head, (size_t)n);
	if (bl)
		tc_send(fd, body, bl);
	tc_read(fd, r, 10000);
	close(fd);
}

void tc_resp_free(struct tc_resp *r)
{
	free(r->body);
	r->body = NULL;
}

int tc_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = aios_now_ms() + timeout_ms;
	char buf[4096];
	for (;;) {
		int eof = 0;
		ssize_t n = read_some(fd, buf, sizeof buf, deadline, &eof);
		if (eof)
			return 1;
		if (n < 0)
			return 0;
	}
}
