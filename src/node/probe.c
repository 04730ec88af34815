/*
 * probe.c - HTTP and TCP probes over plain sockets (see probe.h).
 */
#include "node/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"

#define PROBE_DRAIN                                                                                \
	(10u << 10) /* body bytes read after the status line, as the kubelet reads 10 KiB */

int aios_probe_status_code(const char *line)
{
	if (strncmp(line, "HTTP/1.", 7) != 0 || !line[7] || line[8] != ' ')
		return -1;
	char *end;
	long code = strtol(line + 9, &end, 10);
	if (end != line + 12 || code < 100 || code > 999)
		return -1;
	return (int)code;
}

/* Waits for fd to be ready for events until deadline (ms, monotonic). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - aios_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		return r > 0;
	}
}

static enum aios_err connect_to(const char *ip, int port, int64_t deadline, int *out)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return aios_fail(AIOS_ERR_INVALID, "probe: bad pod IP %s", ip);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return aios_fail(AIOS_ERR_IO, "probe: socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return aios_fail(AIOS_ERR_UNAVAILABLE, "dial tcp %s:%d: %s", ip, port, strerror(e));
	}
	if (!wait_fd(fd, POLLOUT, deadline)) {
		close(fd);
		return aios_fail(AIOS_ERR_TIMEOUT, "dial tcp %s:%d: timeout", ip, port);
	}
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		close(fd);
		return aios_fail(AIOS_ERR_UNAVAILABLE, "dial tcp %s:%d: %s", ip, port,
		                 strerror(soerr));
	}
	*out = fd;
	return AIOS_OK;
}

enum aios_err aios_probe_run(const struct aios_podspec_probe *pr, const char *ip)
{
	if (!ip || !*ip)
		return aios_fail(AIOS_ERR_UNAVAILABLE, "probe: the pod has no IP yet");
	int64_t deadline = aios_now_ms() + (int64_t)pr->timeout_s * 1000;
	int fd = -1;
	enum aios_err err = connect_to(ip, pr->port, deadline, &fd);
	if (err || pr->kind == AIOS_PROBE_TCP) {
		if (!err)
			close(fd);
		return err;
	}
	if (pr->https) {
		close(fd);
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "HTTPS probes are not supported by aios-node");
	}
	char req[1024];
	int n =
	    snprintf(req, sizeof req,
	             "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: kube-probe/1.20 (aios-node)\r\n"
	             "Accept: */*\r\nConnection: close\r\n\r\n",
	             pr->path, ip, pr->port);
	if (n < 0 || (size_t)n >= sizeof req) {
		close(fd);
		return aios_fail(AIOS_ERR_INVALID, "probe: path too long");
	}
	size_t off = 0;
	while (off < (size_t)n) {
		if (!wait_fd(fd, POLLOUT, deadline)) {
			close(fd);
			return aios_fail(AIOS_ERR_TIMEOUT, "HTTP probe to %s:%d timed out", ip,
			                 pr->port);
		}
		ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0) {
			int e = errno;
			close(fd);
			return aios_fail(AIOS_ERR_UNAVAILABLE, "HTTP probe to %s:%d: %s", ip,
			                 pr->port, strerror(e));
		}
		off += (size_t)w;
	}
	char line[64];
	size_t got = 0;
	while (got < sizeof line - 1 && !memchr(line, '\n', got)) {
		if (!wait_fd(fd, POLLIN, deadline)) {
			close(fd);
			return aios_fail(AIOS_ERR_TIMEOUT, "HTTP probe to %s:%d timed out", ip,
			                 pr->port);
		}
		ssize_t r = recv(fd, line + got, sizeof line - 1 - got, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	/* read the rest (up to PROBE_DRAIN bytes) so the server sees a clean close, not a reset */
	char drain[1024];
	for (size_t total = 0; total < PROBE_DRAIN && wait_fd(fd, POLLIN, deadline);) {
		ssize_t r = recv(fd, drain, sizeof drain, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;
		total += (size_t)r;
	}
	close(fd);
	line[got] = '\0';
	int code = aios_probe_status_code(line);
	if (code < 0)
		return aios_fail(AIOS_ERR_PROTOCOL, "HTTP probe to %s:%d: no HTTP status line", ip,
		                 pr->port);
	if (code < 200 || code >= 400)
		return aios_fail(AIOS_ERR_UNAVAILABLE, "HTTP probe failed with statuscode: %d",
		                 code);
	return AIOS_OK;
}
