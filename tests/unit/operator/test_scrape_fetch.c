/*
 * test_scrape_fetch.c - the scraper's HTTP side against raw loopback servers that say
 * exactly what a test wants: a slow pod next to fast ones, a page over the cap, a body
 * cut short, a chunked page written a few bytes at a time, HTTP 500, keep-alive reuse
 * across rounds, a pooled connection the server dropped, refused connections and
 * timeouts with their messages.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/mem.h"
#include "operator/scrape.h"

#define PAGE                                                                                       \
	"# TYPE aios_serve_requests_in_flight gauge\n"                                             \
	"aios_serve_requests_in_flight 3\n"                                                        \
	"aios_serve_requests_total{endpoint=\"v1_predict\",code=\"200\"} 42\n"

/* ---- a raw loopback server: one thread per connection ---- */

enum mode {
	CANNED,       /* answers every request with resp, keeps the connection */
	CANNED_CLOSE, /* answers with resp, then closes (resp says nothing about it) */
	TRICKLE,      /* answers with resp 7 bytes per write */
	DROP_SECOND,  /* answers the first request of a connection, closes at the second */
	WAIT_COUNT,   /* answers once *count reaches want (gives up after 20 s) */
	SILENT,       /* reads the request, never answers */
	HUGE,         /* a 200 with a Content-Length body of 5 MiB */
};

struct srv {
	int lfd, port;
	enum mode mode;
	const char *resp;
	const atomic_int *count; /* WAIT_COUNT */
	int want;
	atomic_int accepts, requests, stop, waited; /* waited: WAIT_COUNT saw its count */
	pthread_t acceptor;
	pthread_mutex_t mu;
	pthread_t conns[64];
	int n_conns;
};

struct conn {
	struct srv *s;
	int fd;
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads up to the end of a request head; 0, or -1 on close or stop. */
static int read_request(struct srv *s, int fd)
{
	char head[4096];
	size_t len = 0;
	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 20) <= 0)
			continue;
		ssize_t r = recv(fd, head + len, sizeof(head) - 1 - len, 0);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		head[len] = '\0';
		if (strstr(head, "\r\n\r\n"))
			return 0;
		if (len == sizeof(head) - 1)
			return -1;
	}
	return -1;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct srv *s = c->s;
	for (int nth = 1; read_request(s, c->fd) == 0; nth++) {
		atomic_fetch_add(&s->requests, 1);
		if (s->mode == DROP_SECOND && nth == 2)
			break;
		if (s->mode == SILENT) {
			while (!atomic_load(&s->stop))
				usleep(10 * 1000);
			break;
		}
		if (s->mode == WAIT_COUNT) {
			int64_t until = aios_now_ms() + 20000;
			while (atomic_load(s->count) < s->want && aios_now_ms() < until)
				usleep(2 * 1000);
			atomic_store(&s->waited, atomic_load(s->count) >= s->want);
		}
		if (s->mode == HUGE) {
			const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 5242880\r\n\r\n";
			char *blk = aios_xmalloc(65536);
			memset(blk, '#', 65536);
			int bad = write_all(c->fd, h, strlen(h));
			for (int i = 0; i < 80 && !bad; i++)
				bad = write_all(c->fd, blk,
				                65536); /* fails once the client hangs up */
			free(blk);
			break;
		}
		size_t n = strlen(s->resp);
		size_t step = s->mode == TRICKLE ? 7 : n;
		int bad = 0;
		for (size_t off = 0; off < n && !bad; off += step)
			bad = write_all(c->fd, s->resp + off, n - off < step ? n - off : step);
		if (bad || s->mode == CANNED_CLOSE)
			break;
	}
	close(c->fd);
	free(c);
	return NULL;
}

static void *acceptor_main(void *arg)
{
	struct srv *s = arg;
	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->lfd, .events = POLLIN};
		if (poll(&p, 1, 20) <= 0)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&s->accepts, 1);
		pthread_mutex_lock(&s->mu);
		if (s->n_conns == 64) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			continue;
		}
		struct conn *c = aios_xcalloc(1, sizeof(*c));
		c->s = s;
		c->fd = fd;
		ck_assert_int_eq(pthread_create(&s->conns[s->n_conns++], NULL, conn_main, c), 0);
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

static struct srv *srv_new(enum mode mode, const char *resp)
{
	struct srv *s = aios_xcalloc(1, sizeof(*s));
	s->mode = mode;
	s->resp = resp;
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->lfd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->lfd, 64), 0);
	socklen_t len = sizeof(a);
	ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&s->acceptor, NULL, acceptor_main, s), 0);
	return s;
}

static void srv_free(struct srv *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->acceptor, NULL);
	for (int i = 0; i < s->n_conns; i++)
		pthread_join(s->conns[i], NULL);
	close(s->lfd);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static char *url_of(const struct srv *s)
{
	return aios_xasprintf("http://127.0.0.1:%d/metrics", s->port);
}

/* Timings stretch under valgrind (scripts/valgrind-tests.sh sets AIOS_UNDER_VALGRIND). */
static int slowdown(void)
{
	return getenv("AIOS_UNDER_VALGRIND") ? 10 : 1;
}

static const char ok_resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 138\r\n\r\n" PAGE;

/* ---- the cases ---- */

START_TEST(ok_response_is_sized_right)
{
	/* The canned Content-Length above must match the page, or every case lies. */
	ck_assert_uint_eq(strlen(PAGE), 138);
}
END_TEST

START_TEST(slow_pod_does_not_delay_fast_ones)
{
	/* The slow pod answers only once the fast one has served 20 pages: a scraper that
	 * waited for it before going on would time the slow page out (10 s) and leave the
	 * fast ones unfetched. No duration is assumed anywhere. */
	struct srv *fast = srv_new(CANNED, ok_resp);
	struct srv *slow = srv_new(WAIT_COUNT, ok_resp);
	slow->count = &fast->requests;
	slow->want = 20;
	char *uf = url_of(fast), *us = url_of(slow);
	const char *urls[21];
	urls[0] = us;
	for (int i = 1; i < 21; i++)
		urls[i] = uf;
	struct aios_scrape_result res[21];
	struct aios_scraper *sc = aios_scraper_new(3, 10000 * slowdown());
	aios_scraper_run(sc, urls, 21, res);
	for (int i = 0; i < 21; i++) {
		ck_assert_msg(res[i].ok, "page %d: %s", i, res[i].error);
		ck_assert_double_eq(res[i].page.requests, 42);
	}
	ck_assert_int_eq(atomic_load(&slow->waited), 1);
	ck_assert_int_eq(atomic_load(&fast->requests), 20);
	/* Keep-alive: the fast pages went over at most the two other slots' connections. */
	ck_assert_int_le(atomic_load(&fast->accepts), 2);
	aios_scraper_free(sc);
	free(uf);
	free(us);
	srv_free(fast);
	srv_free(slow);
}
END_TEST

START_TEST(page_over_the_cap_fails_that_page_only)
{
	struct srv *huge = srv_new(HUGE, NULL), *fast = srv_new(CANNED, ok_resp);
	char *uh = url_of(huge), *uf = url_of(fast);
	const char *urls[2] = {uh, uf};
	struct aios_scrape_result res[2];
	struct aios_scraper *sc = aios_scraper_new(4, 10000 * slowdown());
	aios_scraper_run(sc, urls, 2, res);
	ck_assert(!res[0].ok);
	ck_assert_str_eq(res[0].error, "page larger than 4194304 bytes");
	ck_assert_msg(res[1].ok, "%s", res[1].error);
	aios_scraper_free(sc);
	free(uh);
	free(uf);
	srv_free(huge);
	srv_free(fast);
}
END_TEST

START_TEST(body_cut_short_fails)
{
	struct srv *s =
	    srv_new(CANNED_CLOSE, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" PAGE);
	struct srv *mute = srv_new(CANNED_CLOSE, ""); /* reads the request, hangs up */
	char *u = url_of(s), *um = url_of(mute);
	const char *urls[2] = {u, um};
	struct aios_scrape_result res[2];
	struct aios_scraper *sc = aios_scraper_new(4, 10000 * slowdown());
	aios_scraper_run(sc, urls, 2, res);
	ck_assert(!res[0].ok);
	ck_assert_msg(strstr(res[0].error, "transfer closed with 862 bytes remaining"), "%s",
	              res[0].error);
	ck_assert(!res[1].ok);
	ck_assert_msg(strstr(res[1].error, "Empty reply from server"), "%s", res[1].error);
	aios_scraper_free(sc);
	free(u);
	free(um);
	srv_free(s);
	srv_free(mute);
}
END_TEST

START_TEST(chunked_page_a_few_bytes_at_a_time)
{
	/* 0x2b + 0x5f = 138 bytes: the page in two chunks, with a chunk extension. */
	static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                              "2b;x=y\r\n"
	                              "# TYPE aios_serve_requests_in_flight gauge\n"
	                              "\r\n5f\r\n"
	                              "aios_serve_requests_in_flight 3\n"
	                              "aios_serve_requests_total{endpoint=\"v1_predict\","
	                              "code=\"200\"} 42\n"
	                              "\r\n0\r\n\r\n";
	struct srv *s = srv_new(TRICKLE, chunked);
	char *u = url_of(s);
	const char *urls[2] = {u, u};
	struct aios_scrape_result res[2];
	struct aios_scraper *sc = aios_scraper_new(1, 10000 * slowdown());
	aios_scraper_run(sc, urls, 2, res);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(res[i].ok, "%s", res[i].error);
		ck_assert_double_eq(res[i].page.in_flight, 3);
		ck_assert_double_eq(res[i].page.requests, 42);
	}
	ck_assert_int_eq(atomic_load(&s->accepts), 1); /* the second went on the same one */
	aios_scraper_free(sc);
	free(u);
	srv_free(s);
}
END_TEST

/* Scrapes the server's page in `rounds` rounds of one scraper (4 slots, 10 s per page);
 * out[i] gets round i's result. */
static void scrape_rounds(const struct srv *s, int rounds, struct aios_scrape_result *out)
{
	char *u = url_of(s);
	const char *urls[1] = {u};
	struct aios_scraper *sc = aios_scraper_new(4, 10000 * slowdown());
	for (int i = 0; i < rounds; i++)
		aios_scraper_run(sc, urls, 1, &out[i]);
	aios_scraper_free(sc);
	free(u);
}

START_TEST(http_500_names_the_status_and_keeps_the_connection)
{
	struct srv *s =
	    srv_new(CANNED, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom");
	struct aios_scrape_result res[3];
	scrape_rounds(s, 3, res);
	for (int i = 0; i < 3; i++) {
		ck_assert(!res[i].ok);
		ck_assert_str_eq(res[i].error, "HTTP 500");
	}
	ck_assert_int_eq(atomic_load(&s->requests), 3);
	ck_assert_int_eq(atomic_load(&s->accepts), 1);
	srv_free(s);
}
END_TEST

START_TEST(close_delimited_page_is_read_to_the_end)
{
	struct srv *s = srv_new(CANNED_CLOSE, "HTTP/1.0 200 OK\r\n\r\n" PAGE);
	struct aios_scrape_result res[2];
	scrape_rounds(s, 2, res);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(res[i].ok, "%s", res[i].error);
		ck_assert_double_eq(res[i].page.requests, 42);
	}
	ck_assert_int_eq(atomic_load(&s->accepts), 2); /* nothing to reuse */
	srv_free(s);
}
END_TEST

START_TEST(pooled_connection_the_server_closed_is_replaced)
{
	/* DROP_SECOND takes the second request of a connection and closes without a word
	 * (an idle timeout racing the request): the scraper sends it again on a new one.
	 * CANNED_CLOSE closes right after a keep-alive answer: the pooled connection is
	 * dead by the next round, whether the scraper sees the close at once or on use. */
	const enum mode modes[2] = {DROP_SECOND, CANNED_CLOSE};
	for (int m = 0; m < 2; m++) {
		struct srv *s = srv_new(modes[m], ok_resp);
		struct aios_scrape_result res[3];
		scrape_rounds(s, 3, res);
		for (int i = 0; i < 3; i++)
			ck_assert_msg(res[i].ok, "mode %d round %d: %s", m, i, res[i].error);
		/* one new connection per round */
		ck_assert_int_eq(atomic_load(&s->accepts), 3);
		if (modes[m] == DROP_SECOND) /* 1 + (1 dropped + 1) + (1 dropped + 1) */
			ck_assert_int_eq(atomic_load(&s->requests), 5);
		srv_free(s);
	}
}
END_TEST

START_TEST(many_connections_are_all_kept)
{
	/* 20 at once: 20 connections, all pooled (the pool grows past its first sizes)
	 * and all reused by the next round. */
	struct srv *s = srv_new(CANNED, ok_resp);
	char *u = url_of(s);
	const char *urls[20];
	for (int i = 0; i < 20; i++)
		urls[i] = u;
	struct aios_scrape_result res[20];
	struct aios_scraper *sc = aios_scraper_new(20, 10000 * slowdown());
	for (int round = 0; round < 2; round++) {
		aios_scraper_run(sc, urls, 20, res);
		for (int i = 0; i < 20; i++)
			ck_assert_msg(res[i].ok, "round %d page %d: %s", round, i, res[i].error);
	}
	ck_assert_int_eq(atomic_load(&s->requests), 40);
	ck_assert_int_eq(atomic_load(&s->accepts), 20);
	aios_scraper_free(sc);
	free(u);
	srv_free(s);
}
END_TEST

START_TEST(refused_and_bad_urls_say_why)
{
	/* A bound, not listening, socket: its port refuses for as long as the test holds it. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	char *refused = aios_xasprintf("http://127.0.0.1:%d/metrics", ntohs(a.sin_port));
	const char *urls[4] = {refused, "http://pod.example:8080/metrics",
	                       "https://127.0.0.1:8443/metrics", "ftp://127.0.0.1/x"};
	struct aios_scrape_result res[4];
	struct aios_scraper *sc = aios_scraper_new(2, 10000 * slowdown());
	aios_scraper_run(sc, urls, 4, res);
	for (int i = 0; i < 4; i++)
		ck_assert(!res[i].ok);
	ck_assert_msg(strstr(res[0].error, "Failed to connect to 127.0.0.1"), "%s", res[0].error);
	ck_assert_ptr_nonnull(strstr(res[1].error, "not an IP address"));
	ck_assert_ptr_nonnull(strstr(res[2].error, "https is not supported"));
	ck_assert_str_ne(res[3].error, "");
	aios_scraper_free(sc);
	free(refused);
	close(fd);
}
END_TEST

START_TEST(silent_pod_times_out_with_its_own_clock)
{
	struct srv *silent = srv_new(SILENT, NULL), *fast = srv_new(CANNED, ok_resp);
	char *us = url_of(silent), *uf = url_of(fast);
	const char *urls[3] = {us, uf, uf};
	struct aios_scrape_result res[3];
	int timeout = 300 * slowdown();
	struct aios_scraper *sc = aios_scraper_new(4, timeout);
	int64_t t0 = aios_now_ms();
	aios_scraper_run(sc, urls, 3, res);
	int64_t took = aios_now_ms() - t0;
	ck_assert(!res[0].ok);
	ck_assert_msg(strstr(res[0].error, "timed out after"), "%s", res[0].error);
	ck_assert(res[1].ok && res[2].ok);
	/* 2 ms of slack: both clocks are read in whole milliseconds (the test's here,
	 * libcurl's for its timer), so a round of exactly the timeout can read 299 */
	ck_assert_msg(took >= timeout - 2, "round took %lld ms", (long long)took);
	aios_scraper_free(sc);
	free(us);
	free(uf);
	srv_free(silent);
	srv_free(fast);
}
END_TEST

START_TEST(empty_round)
{
	struct aios_scraper *sc = aios_scraper_new(0, 0); /* defaults */
	aios_scraper_run(sc, NULL, 0, NULL);
	aios_scraper_free(sc);
	aios_scraper_free(NULL);
}
END_TEST

static Suite *scrape_fetch_suite(void)
{
	Suite *s = suite_create("scrape_fetch");
	TCase *tc = tcase_create("fetch");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ok_response_is_sized_right);
	tcase_add_test(tc, slow_pod_does_not_delay_fast_ones);
	tcase_add_test(tc, page_over_the_cap_fails_that_page_only);
	tcase_add_test(tc, body_cut_short_fails);
	tcase_add_test(tc, chunked_page_a_few_bytes_at_a_time);
	tcase_add_test(tc, http_500_names_the_status_and_keeps_the_connection);
	tcase_add_test(tc, close_delimited_page_is_read_to_the_end);
	tcase_add_test(tc, pooled_connection_the_server_closed_is_replaced);
	tcase_add_test(tc, many_connections_are_all_kept);
	tcase_add_test(tc, refused_and_bad_urls_say_why);
	tcase_add_test(tc, silent_pod_times_out_with_its_own_clock);
	tcase_add_test(tc, empty_round);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(scrape_fetch_suite)
