/*
 * test_apiproxy.c - the `kubernetes` Service forwarder of aios-node on loopback: the
 * server URL parser, bytes both ways (1 MiB each way, larger than every buffer),
 * an end-of-file passed on as a half close, a refused target closing the pod's
 * connection, and free closing open connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "common/mem.h"
#include "node/apiproxy.h"

START_TEST(parse_server)
{
	char h[64];
	int port = 0;
	ck_assert_int_eq(aios_apiproxy_parse_server("https://127.0.0.1:46709", h, sizeof h, &port),
	                 AIOS_OK);
	ck_assert_str_eq(h, "127.0.0.1");
	ck_assert_int_eq(port, 46709);
	ck_assert_int_eq(aios_apiproxy_parse_server("https://api.example/", h, sizeof h, &port),
	                 AIOS_OK);
	ck_assert_str_eq(h, "api.example");
	ck_assert_int_eq(port, 443);
	ck_assert_int_eq(aios_apiproxy_parse_server("https://[::1]:6443/x", h, sizeof h, &port),
	                 AIOS_OK);
	ck_assert_str_eq(h, "::1");
	ck_assert_int_eq(port, 6443);
	const char *bad[] = {"http://127.0.0.1:1", "https://",     "https://h:0", "https://h:70000",
	                     "https://h:12x",      "https://[::1", NULL};
	for (int i = 0; bad[i]; i++) {
		ck_assert_msg(aios_apiproxy_parse_server(bad[i], h, sizeof h, &port) ==
		                  AIOS_ERR_INVALID,
		              "%s accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(aios_errmsg(), bad[i]));
	}
	ck_assert_int_eq(aios_apiproxy_parse_server("https://a-very-long-host-name", h, 8, &port),
	                 AIOS_ERR_INVALID);
}
END_TEST

/* ---- an echo server: answers `conns` connections, one after the other ---- */

struct echo {
	int lfd, port, conns;
	pthread_t t;
};

static void *echo_run(void *arg)
{
	struct echo *e = arg;
	char buf[8192];
	for (int i = 0; i < e->conns; i++) {
		int fd = accept(e->lfd, NULL, NULL);
		if (fd < 0)
			break;
		for (;;) {
			ssize_t r = recv(fd, buf, sizeof buf, 0);
			if (r <= 0)
				break;
			for (ssize_t off = 0; off < r;) {
				ssize_t w = send(fd, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
				if (w <= 0)
					break;
				off += w;
			}
		}
		close(fd);
	}
	return NULL;
}

static int listen_loopback(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	socklen_t sl = sizeof sa;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void echo_start(struct echo *e, int conns)
{
	e->conns = conns;
	e->lfd = listen_loopback(&e->port);
	ck_assert_int_eq(pthread_create(&e->t, NULL, echo_run, e), 0);
}

static void echo_stop(struct echo *e)
{
	pthread_join(e->t, NULL);
	close(e->lfd);
}

/* A client connection to the proxy, with a 10 s receive timeout (a hang fails). */
static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		ck_assert_int_gt(w, 0);
		p += w;
		n -= (size_t)w;
	}
}

static void recv_all(int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);
		ck_assert_msg(r > 0, "recv: %zd (%s) with %zu bytes missing", r,
		              r < 0 ? strerror(errno) : "end of file", n);
		p += r;
		n -= (size_t)r;
	}
}

static void wait_active(struct aios_apiproxy *p, int want)
{
	int64_t until = aios_now_ms() + 5000;
	while (aios_apiproxy_active(p) != want && aios_now_ms() < until)
		usleep(10000);
	ck_assert_int_eq(aios_apiproxy_active(p), want);
}

START_TEST(bytes_both_ways_and_half_close)
{
	struct echo e;
	echo_start(&e, 2);
	struct aios_apiproxy *p;
	ck_assert_int_eq(aios_apiproxy_start("127.0.0.1", 0, "127.0.0.1", e.port, &p), AIOS_OK);
	int port = aios_apiproxy_port(p);
	ck_assert_int_gt(port, 0);

	/* 1 MiB in 64 KiB chunks, each read back before the next (4x the proxy's buffer) */
	const size_t chunk = 65536, total = 1u << 20;
	char *out = aios_xmalloc(chunk), *in = aios_xmalloc(chunk);
	int fd = dial(port);
	for (size_t off = 0; off < total; off += chunk) {
		for (size_t i = 0; i < chunk; i++)
			out[i] = (char)((off + i) * 7 + 3);
		send_all(fd, out, chunk);
		recv_all(fd, in, chunk);
		ck_assert_msg(memcmp(in, out, chunk) == 0, "bytes changed at offset %zu", off);
	}
	ck_assert_int_eq(aios_apiproxy_active(p), 1);
	close(fd);
	wait_active(p, 0);

	/* a half close: the pod's end-of-file reaches the server, whose answer and then
	 * end-of-file come back */
	fd = dial(port);
	send_all(fd, "hello", 5);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	char b[16] = {0};
	recv_all(fd, b, 5);
	ck_assert_str_eq(b, "hello");
	ck_assert_int_eq(recv(fd, b, sizeof b, 0), 0);
	close(fd);
	wait_active(p, 0);
	aios_apiproxy_free(p);
	echo_stop(&e);
	free(out);
	free(in);
}
END_TEST

START_TEST(refused_target_and_free)
{
	/* a port nobody listens on: the pod's connection is closed, not left hanging */
	int dead_port;
	close(listen_loopback(&dead_port));
	struct aios_apiproxy *p;
	ck_assert_int_eq(aios_apiproxy_start("127.0.0.1", 0, "127.0.0.1", dead_port, &p), AIOS_OK);
	int fd = dial(aios_apiproxy_port(p));
	char b[8];
	ssize_t r = recv(fd, b, sizeof b, 0);
	ck_assert_msg(r == 0 || (r < 0 && errno == ECONNRESET), "recv %zd: %s", r,
	              r < 0 ? strerror(errno) : "data");
	close(fd);
	wait_active(p, 0);
	aios_apiproxy_free(p);

	/* free closes what is open */
	struct echo e;
	echo_start(&e, 1);
	ck_assert_int_eq(aios_apiproxy_start("127.0.0.1", 0, "127.0.0.1", e.port, &p), AIOS_OK);
	fd = dial(aios_apiproxy_port(p));
	send_all(fd, "x", 1);
	recv_all(fd, b, 1);
	aios_apiproxy_free(p);
	r = recv(fd, b, sizeof b, 0);
	ck_assert_msg(r == 0 || (r < 0 && errno == ECONNRESET), "recv after free: %zd", r);
	close(fd);
	echo_stop(&e);

	/* bad addresses are named */
	ck_assert_int_eq(aios_apiproxy_start("not-an-ip", 0, "127.0.0.1", 1, &p), AIOS_ERR_INVALID);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "not-an-ip"));
	ck_assert_int_eq(aios_apiproxy_start("127.0.0.1", 0, "no.such.host.invalid", 1, &p),
	                 AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "no.such.host.invalid"));
}
END_TEST

static Suite *apiproxy_suite(void)
{
	Suite *s = suite_create("node_apiproxy");
	TCase *t = tcase_create("apiproxy");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, parse_server);
	tcase_add_test(t, bytes_both_ways_and_half_close);
	tcase_add_test(t, refused_target_and_free);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(apiproxy_suite)
