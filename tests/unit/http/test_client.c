/* test_client.c - the HTTP client on libcurl: answer framings and caps against canned
 * replies from a raw socket server, keep-alive, timeouts, cancellation, batches, and
 * TLS with our own server on loopback (certificates made here with the openssl
 * command): right CA by IP and by name, wrong CA, a name-but-not-IP certificate,
 * insecure, and bad client material; a request's proxy (NO_PROXY not applied, a
 * refusing or absent proxy named in the message); the shared multiplexer: backpressure,
 * sink stop, cancel, deadline, and its fallback to a connection per request when a TLS
 * server does not take HTTP/2. */
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "http/client.h"
#include "http/http.h"
#include "support/ports.h"
#include "support/tcp_conns.h"
#include "support/tmpdir.h"

/* ---------------------------------------------------------------- canned server */

/* Answers every request on every connection with reply (then closes when close_after),
 * counting connections and requests. delay_ms: waits before answering. */
struct canned {
	int lfd, port;
	const char *reply;
	size_t reply_len;
	int close_after;
	int delay_ms;
	atomic_int accepts, requests, stop;
	atomic_int cur_fd; /* the connection being served, -1 between */
	pthread_t th;
};

static void *canned_main(void *arg)
{
	struct canned *c = arg;
	while (!atomic_load(&c->stop)) {
		int fd = accept(c->lfd, NULL, NULL);
		if (fd < 0)
			break;
		atomic_fetch_add(&c->accepts, 1);
		atomic_store(&c->cur_fd, fd);
		if (atomic_load(&c->stop))
			shutdown(fd, SHUT_RDWR);
		char buf[8192];
		size_t have = 0;
		for (;;) {
			ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
			if (r <= 0)
				break;
			have += (size_t)r;
			buf[have] = 0;
			char *end = strstr(buf, "\r\n\r\n");
			if (!end)
				continue;
			atomic_fetch_add(&c->requests, 1);
			if (c->delay_ms)
				usleep((useconds_t)c->delay_ms * 1000);
			if (send(fd, c->reply, c->reply_len, MSG_NOSIGNAL) < 0 || c->close_after)
				break;
			size_t used = (size_t)(end + 4 - buf);
			memmove(buf, buf + used, have - used);
			have -= used;
		}
		atomic_store(&c->cur_fd, -1);
		close(fd);
	}
	return NULL;
}

static struct canned *canned_start(const char *reply, int close_after, int delay_ms)
{
	struct canned *c = calloc(1, sizeof *c);
	c->reply = reply;
	c->reply_len = strlen(reply);
	c->close_after = close_after;
	c->delay_ms = delay_ms;
	atomic_store(&c->cur_fd, -1);
	c->lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(c->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(c->lfd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(c->lfd, 16), 0);
	socklen_t al = sizeof a;
	getsockname(c->lfd, (struct sockaddr *)&a, &al);
	c->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&c->th, NULL, canned_main, c), 0);
	return c;
}

static void canned_stop(struct canned *c)
{
	atomic_store(&c->stop, 1);
	shutdown(c->lfd, SHUT_RDWR);
	int fd = atomic_load(&c->cur_fd);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR); /* a kept-alive connection the client still holds */
	pthread_join(c->th, NULL);
	close(c->lfd);
	free(c);
}

/* One GET of /x on h against c; *resp filled (caller cleans it up). */
static enum aios_err get_on(struct aios_httpc_handle *h, struct canned *c, size_t cap,
                            int64_t timeout_ms, struct aios_httpc_resp *resp)
{
	char url[96];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", c->port);
	struct aios_httpc_req req = {.url = url};
	struct aios_httpc_opts o = {.timeout_ms = timeout_ms, .body_cap = cap};
	return aios_httpc_perform(h, &req, &o, resp);
}

START_TEST(framings_and_keepalive)
{
	static const struct {
		const char *reply;
		int close_after;
		const char *body;
	} cases[] = {
	    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0, "hello"},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n"
	     "0\r\nTrailer: 1\r\n\r\n",
	     0, "hello"},
	    {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello", 1, "hello"},
	    {"HTTP/1.0 200 OK\r\n\r\nhello", 1, "hello"},
	    {"HTTP/1.1 204 No Content\r\n\r\n", 0, ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct canned *c = canned_start(cases[i].reply, cases[i].close_after, 0);
		struct aios_httpc_handle *h = aios_httpc_handle_new();
		for (int round = 0; round < 2; round++) {
			struct aios_httpc_resp resp;
			ck_assert_msg(get_on(h, c, 1024, 2000, &resp) == AIOS_OK, "case %zu: %s", i,
			              aios_errmsg());
			ck_assert_int_eq(resp.code, cases[i].body[0] ? 200 : 204);
			ck_assert_uint_eq(resp.body.len, strlen(cases[i].body));
			if (resp.body.len)
				ck_assert_str_eq(resp.body.data, cases[i].body);
			ck_assert_int_eq(resp.http_version, 1);
			aios_httpc_resp_cleanup(&resp);
		}
		/* a kept-alive connection carried the second request */
		ck_assert_int_eq(atomic_load(&c->accepts), cases[i].close_after ? 2 : 1);
		ck_assert_int_eq(atomic_load(&c->requests), 2);
		aios_httpc_handle_free(h);
		canned_stop(c);
	}
}
END_TEST

START_TEST(caps_cut_answers_and_retry_after)
{
	/* a body past its cap: TOO_BIG naming the cap */
	struct canned *c =
	    canned_start("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 0, 0);
	struct aios_httpc_handle *h = aios_httpc_handle_new();
	struct aios_httpc_resp resp;
	ck_assert_int_eq(get_on(h, c, 4, 2000, &resp), AIOS_ERR_TOO_BIG);
	ck_assert_msg(strstr(aios_errmsg(), "larger than 4 bytes"), "%s", aios_errmsg());
	aios_httpc_resp_cleanup(&resp);
	/* the cap is exact: 10 bytes fit in 10 */
	ck_assert_int_eq(get_on(h, c, 10, 2000, &resp), AIOS_OK);
	aios_httpc_resp_cleanup(&resp);
	canned_stop(c);

	/* cut short of its Content-Length */
	c = canned_start("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234", 1, 0);
	ck_assert_int_ne(get_on(h, c, 1024, 2000, &resp), AIOS_OK);
	ck_assert_msg(strstr(aios_errmsg(), "GET http://127.0.0.1:"), "%s", aios_errmsg());
	aios_httpc_resp_cleanup(&resp);
	canned_stop(c);

	/* closed before any answer: UNAVAILABLE */
	c = canned_start("", 1, 0);
	ck_assert_int_eq(get_on(h, c, 1024, 2000, &resp), AIOS_ERR_UNAVAILABLE);
	aios_httpc_resp_cleanup(&resp);
	canned_stop(c);

	/* not HTTP at all */
	c = canned_start("SSH-2.0-OpenSSH\r\n\r\n", 1, 0);
	ck_assert_int_ne(get_on(h, c, 1024, 2000, &resp), AIOS_OK);
	aios_httpc_resp_cleanup(&resp);
	canned_stop(c);

	/* a 503 with Retry-After is an answer, not an error */
	c = canned_start("HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy", 0,
	                 0);
	ck_assert_int_eq(get_on(h, c, 1024, 2000, &resp), AIOS_OK);
	ck_assert_int_eq(resp.code, 503);
	ck_assert_int_eq(resp.retry_after_s, 7);
	ck_assert_str_eq(resp.body.data, "busy");
	aios_httpc_resp_cleanup(&resp);
	canned_stop(c);
	aios_httpc_handle_free(h);
}
END_TEST

static int g_flag;

static void *raise_flag(void *arg)
{
	(void)arg;
	usleep(200 * 1000);
	__atomic_store_n(&g_flag, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(timeouts_and_cancel)
{
	/* a server that answers after 3 s: the 300 ms deadline wins, on time */
	struct canned *c = canned_start("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 3000);
	struct aios_httpc_handle *h = aios_httpc_handle_new();
	struct aios_httpc_resp resp;
	int64_t t0 = aios_now_ms();
	ck_assert_int_eq(get_on(h, c, 1024, 300, &resp), AIOS_ERR_TIMEOUT);
	int64_t took = aios_now_ms() - t0;
	ck_assert_msg(took >= 290 && took < 1500, "timed out after %lld ms", (long long)took);
	aios_httpc_resp_cleanup(&resp);

	/* a cancel flag raised after 200 ms stops the call within a poll slice */
	char url[96];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", c->port);
	struct aios_httpc_req req = {.url = url};
	g_flag = 0;
	struct aios_httpc_opts o = {.timeout_ms = 10000, .cancel = &g_flag};
	pthread_t th;
	pthread_create(&th, NULL, raise_flag, NULL);
	t0 = aios_now_ms();
	ck_assert_int_eq(aios_httpc_perform(h, &req, &o, &resp), AIOS_ERR_CANCELLED);
	took = aios_now_ms() - t0;
	pthread_join(th, NULL);
	ck_assert_msg(took >= 190 && took < 1000, "cancelled after %lld ms", (long long)took);
	aios_httpc_resp_cleanup(&resp);
	aios_httpc_handle_free(h);
	canned_stop(c);

	/* nobody listening: UNAVAILABLE naming the address */
	int port = aios_test_free_port();
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
	struct aios_buf b;
	aios_buf_init(&b, 1024);
	long code;
	const struct aios_httpc_opts go = {.timeout_ms = 2000};
	ck_assert_int_eq(aios_httpc_get(url, &go, &code, &b), AIOS_ERR_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "127.0.0.1"));
	ck_assert_int_eq(code, 0);
	/* not a URL we take */
	ck_assert_int_ne(aios_httpc_get("ftp://127.0.0.1/x", &go, &code, &b), AIOS_OK);
	aios_buf_cleanup(&b);
}
END_TEST

START_TEST(batch_keeps_connections_between_rounds)
{
	struct canned *c = canned_start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0);
	struct canned *slow =
	    canned_start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 2000);
	char u1[96], u2[96];
	snprintf(u1, sizeof u1, "http://127.0.0.1:%d/metrics", c->port);
	snprintf(u2, sizeof u2, "http://127.0.0.1:%d/metrics", slow->port);
	const char *urls[] = {u1, u2};
	struct aios_httpc_batch *b = aios_httpc_batch_new(8, 8);
	struct aios_httpc_opts o = {.timeout_ms = 300, .body_cap = 64};
	for (int round = 0; round < 3; round++) {
		struct aios_httpc_result r[2];
		int64_t t0 = aios_now_ms();
		aios_httpc_batch_get(b, urls, 2, &o, r);
		/* the slow pod costs its own timeout, not more */
		ck_assert_int_lt(aios_now_ms() - t0, 1500);
		ck_assert_msg(r[0].err == AIOS_OK, "%s", r[0].error);
		ck_assert_int_eq(r[0].code, 200);
		ck_assert_str_eq(r[0].body.data, "ok");
		ck_assert_int_eq(r[1].err, AIOS_ERR_TIMEOUT);
		ck_assert_msg(strstr(r[1].error, "timed out"), "%s", r[1].error);
		aios_httpc_result_cleanup(&r[0]);
		aios_httpc_result_cleanup(&r[1]);
	}
	ck_assert_int_eq(atomic_load(&c->accepts), 1);
	ck_assert_int_eq(atomic_load(&c->requests), 3);
	aios_httpc_batch_free(b);
	canned_stop(slow);
	canned_stop(c);
}
END_TEST

/* ---------------------------------------------------------------- the multiplexer */

#define BIG_BODY (6u << 20) /* several times AIOS_HTTPC_MUX_QUEUE_CAP: the stream pauses */

struct slow_sink {
	size_t seen, calls;
	size_t biggest; /* bytes of the largest call: what the queue held at once */
	int bad;        /* a byte out of order */
	size_t stop_at; /* > 0: ask to stop once this many bytes came */
	int delay_us;   /* per call; 0: 10 ms */
};

static int slow_sink_fn(void *arg, const char *p, size_t n)
{
	struct slow_sink *s = arg;
	for (size_t i = 0; i < n; i++)
		if (p[i] != (char)('a' + (s->seen + i) % 26))
			s->bad = 1;
	s->seen += n;
	s->calls++;
	s->biggest = n > s->biggest ? n : s->biggest;
	/* slower than loopback: the queue fills, the stream pauses */
	usleep(s->delay_us ? (useconds_t)s->delay_us : 10000);
	return s->stop_at && s->seen >= s->stop_at;
}

static char *big_reply(void)
{
	char head[96];
	int hl =
	    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", BIG_BODY);
	char *r = malloc((size_t)hl + BIG_BODY + 1);
	memcpy(r, head, (size_t)hl);
	for (size_t i = 0; i < BIG_BODY; i++)
		r[(size_t)hl + i] = (char)('a' + i % 26);
	r[(size_t)hl + BIG_BODY] = 0;
	return r;
}

struct mux_job {
	struct aios_httpc_mux *m;
	char url[96];
	struct slow_sink sink;
	enum aios_err e;
	struct aios_httpc_resp resp;
};

static void *mux_job_main(void *arg)
{
	struct mux_job *j = arg;
	struct aios_httpc_req req = {.url = j->url, .sink = slow_sink_fn, .sink_arg = &j->sink};
	struct aios_httpc_opts o = {.timeout_ms = 60000};
	j->e = aios_httpc_mux_perform(j->m, &req, &o, &j->resp);
	return NULL;
}

struct late_job {
	struct aios_httpc_mux *m;
	char url[96];
	enum aios_err e;
	char msg[256];
};

static void *late_job_main(void *arg)
{
	struct late_job *j = arg;
	struct aios_httpc_req req = {.url = j->url};
	struct aios_httpc_opts o = {.timeout_ms = 10000};
	struct aios_httpc_resp resp;
	j->e = aios_httpc_mux_perform(j->m, &req, &o, &resp);
	snprintf(j->msg, sizeof j->msg, "%s", j->e ? aios_errmsg() : "");
	aios_httpc_resp_cleanup(&resp);
	return NULL;
}

START_TEST(mux_streams_with_backpressure)
{
	char *reply = big_reply();
	struct canned *big = canned_start(reply, 0, 0);
	struct canned *small = canned_start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0);
	struct aios_httpc_mux *m = aios_httpc_mux_new();
	struct mux_job j = {.m = m};
	snprintf(j.url, sizeof j.url, "http://127.0.0.1:%d/watch", big->port);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, mux_job_main, &j), 0);
	/* while the slow reader's stream is held back, other requests on the same
	 * multiplexer are answered at once */
	char url[96];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", small->port);
	for (int i = 0; i < 5; i++) {
		usleep(20000);
		struct aios_httpc_req req = {.url = url};
		struct aios_httpc_opts o = {.timeout_ms = 2000, .body_cap = 64};
		struct aios_httpc_resp resp;
		int64_t t0 = aios_now_ms();
		ck_assert_msg(aios_httpc_mux_perform(m, &req, &o, &resp) == AIOS_OK, "%s",
		              aios_errmsg());
		ck_assert_int_lt(aios_now_ms() - t0, 500);
		ck_assert_int_eq(resp.code, 200);
		ck_assert_str_eq(resp.body.data, "ok");
		aios_httpc_resp_cleanup(&resp);
	}
	ck_assert_int_eq(atomic_load(&small->accepts), 1); /* kept alive between them */
	pthread_join(th, NULL);
	ck_assert_msg(j.e == AIOS_OK, "%s", aios_errmsg());
	ck_assert_int_eq(j.resp.code, 200);
	ck_assert_uint_eq(j.sink.seen, BIG_BODY); /* every byte, in order */
	ck_assert_int_eq(j.sink.bad, 0);
	/* the queue held at most its cap; it did fill (the pause was taken), unless valgrind
	 * makes the transfer itself slower than the reader */
	ck_assert_uint_le(j.sink.biggest, AIOS_HTTPC_MUX_QUEUE_CAP);
	if (!getenv("AIOS_UNDER_VALGRIND"))
		ck_assert_msg(j.sink.biggest > AIOS_HTTPC_MUX_QUEUE_CAP / 2,
		              "the queue never filled: %zu bytes at most in %zu reads",
		              j.sink.biggest, j.sink.calls);
	ck_assert_uint_eq(j.resp.body.len, 0); /* nothing kept besides the sink */
	aios_httpc_resp_cleanup(&j.resp);

	/* a sink that says stop ends its transfer, and the next one runs */
	struct mux_job k = {.m = m, .sink = {.stop_at = 1u << 20}};
	snprintf(k.url, sizeof k.url, "http://127.0.0.1:%d/watch", big->port);
	mux_job_main(&k);
	ck_assert_int_eq(k.e, AIOS_ERR_CANCELLED);
	ck_assert_int_eq(k.resp.sink_stopped, 1);
	ck_assert_uint_lt(k.sink.seen, BIG_BODY);
	aios_httpc_resp_cleanup(&k.resp);

	/* a cancel flag raised mid-stream */
	struct mux_job c = {.m = m, .sink = {.delay_us = 100000}};
	snprintf(c.url, sizeof c.url, "http://127.0.0.1:%d/watch", big->port);
	g_flag = 0;
	pthread_t raiser;
	ck_assert_int_eq(pthread_create(&raiser, NULL, raise_flag, NULL), 0);
	struct aios_httpc_req req = {.url = c.url, .sink = slow_sink_fn, .sink_arg = &c.sink};
	struct aios_httpc_opts o = {.cancel = &g_flag};
	int64_t t0 = aios_now_ms();
	ck_assert_int_eq(aios_httpc_mux_perform(m, &req, &o, &c.resp), AIOS_ERR_CANCELLED);
	ck_assert_int_lt(aios_now_ms() - t0, 3000);
	pthread_join(raiser, NULL);
	aios_httpc_resp_cleanup(&c.resp);

	/* a call's deadline is kept on the shared thread: a server that answers after 3 s,
	 * a 300 ms deadline */
	struct canned *late = canned_start("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 3000);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", late->port);
	struct aios_httpc_req lreq = {.url = url};
	struct aios_httpc_opts lo = {.timeout_ms = 300};
	t0 = aios_now_ms();
	ck_assert_int_eq(aios_httpc_mux_perform(m, &lreq, &lo, &c.resp), AIOS_ERR_TIMEOUT);
	int64_t took = aios_now_ms() - t0;
	ck_assert_msg(took >= 290 && took < 1500, "timed out after %lld ms", (long long)took);
	aios_httpc_resp_cleanup(&c.resp);

	/* freed under a call still waiting for its answer (a port that listens and never
	 * accepts: the kernel completes the handshake, nobody answers): the call ends
	 * CANCELLED, and the free returns once it has, without waiting for a server */
	int mute = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in ma = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(mute, (struct sockaddr *)&ma, sizeof ma), 0);
	ck_assert_int_eq(listen(mute, 4), 0);
	socklen_t mal = sizeof ma;
	getsockname(mute, (struct sockaddr *)&ma, &mal);
	struct late_job lj = {.m = m};
	snprintf(lj.url, sizeof lj.url, "http://127.0.0.1:%d/x", ntohs(ma.sin_port));
	pthread_t lt;
	ck_assert_int_eq(pthread_create(&lt, NULL, late_job_main, &lj), 0);
	usleep(300000); /* submitted and connected */
	t0 = aios_now_ms();
	aios_httpc_mux_free(m);
	took = aios_now_ms() - t0;
	pthread_join(lt, NULL);
	ck_assert_msg(lj.e == AIOS_ERR_CANCELLED, "%s: %s", aios_strerror(lj.e), lj.msg);
	ck_assert_msg(took < 1000, "the free took %lld ms", (long long)took);
	close(mute);
	canned_stop(late);
	canned_stop(small);
	canned_stop(big);
	free(reply);
}
END_TEST

/* ---------------------------------------------------------------- TLS */

static void h_hello(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	aios_http_resp_json(resp, 200, "{\"hello\":1}", 11);
}

/* Answers after 500 ms: requests in flight at once overlap. */
static void h_slow(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	usleep(500 * 1000);
	aios_http_resp_json(resp, 200, "{\"slow\":1}", 10);
}

static struct aios_http_server *serve_threads(const char *cert, const char *key, int threads)
{
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = aios_test_free_port();
	c.name = "test";
	c.tls_cert = cert;
	c.tls_key = key;
	c.threads = threads;
	struct aios_http_server *s = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(s, "GET", "/hello", h_hello, NULL), AIOS_OK);
	ck_assert_int_eq(aios_http_route(s, "GET", "/slow", h_slow, NULL), AIOS_OK);
	ck_assert_msg(aios_http_server_start(s) == AIOS_OK, "%s", aios_errmsg());
	return s;
}

static struct aios_http_server *serve(const char *cert, const char *key)
{
	return serve_threads(cert, key, 1);
}

static char g_dir[256];

/* Runs "cd DIR && what" (what: a shell command line). */
static void sh_in_dir(const char *what)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "cd %s && %s", g_dir, what);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* A CA, and two server certificates it signs: "ip" names 127.0.0.1 and localhost,
 * "dns" names only localhost and 10.9.9.9. */
static void make_pki(void)
{
	aios_test_tmpdir("pki", g_dir, sizeof g_dir);
	sh_in_dir("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=httpc-test-ca "
	          "-keyout ca.key -out ca.crt >/dev/null 2>&1");
	sh_in_dir("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca "
	          "-keyout other.key -out other.crt >/dev/null 2>&1");
	sh_in_dir(
	    "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ip.ext && "
	    "printf 'subjectAltName=IP:10.9.9.9,DNS:localhost\\n' > dns.ext && "
	    "for n in ip dns; do openssl req -newkey rsa:2048 -nodes -subj /CN=$n "
	    "-keyout $n.key -out $n.csr >/dev/null 2>&1 && openssl x509 -req -in $n.csr -CA ca.crt "
	    "-CAkey ca.key -CAcreateserial -days 2 -extfile $n.ext -out $n.crt >/dev/null 2>&1 "
	    "|| exit 1; done");
}

static void drop_pki(void)
{
	aios_test_tmpdir_remove(g_dir);
}

static enum aios_err tls_hello(const char *host, int port, const char *ca_path, int insecure,
                               int *code)
{
	struct aios_buf ca;
	aios_buf_init(&ca, 1 << 20);
	ck_assert_int_eq(aios_buf_read_file(&ca, ca_path), AIOS_OK);
	struct aios_httpc_tls *t = NULL;
	ck_assert_msg(aios_httpc_tls_new(insecure ? NULL : ca.data, ca.len, NULL, 0, NULL, 0,
	                                 insecure, &t) == AIOS_OK,
	              "%s", aios_errmsg());
	aios_buf_cleanup(&ca);
	char url[128];
	snprintf(url, sizeof url, "https://%s:%d/hello", host, port);
	struct aios_httpc_handle *h = aios_httpc_handle_new();
	struct aios_httpc_req req = {.url = url, .tls = t, .http2 = 1};
	struct aios_httpc_opts o = {.timeout_ms = 5000};
	struct aios_httpc_resp resp;
	enum aios_err e = aios_httpc_perform(h, &req, &o, &resp);
	*code = (int)resp.code;
	if (!e)
		ck_assert_str_eq(resp.body.data, "{\"hello\":1}");
	aios_httpc_resp_cleanup(&resp);
	aios_httpc_handle_free(h);
	aios_httpc_tls_free(t);
	return e;
}

START_TEST(live_tls_names_and_trust)
{
	make_pki();
	char cert[300], key[300], ca[300], other_ca[300];
	snprintf(ca, sizeof ca, "%s/ca.crt", g_dir);
	snprintf(cert, sizeof cert, "%s/ip.crt", g_dir);
	snprintf(key, sizeof key, "%s/ip.key", g_dir);
	struct aios_http_server *s = serve(cert, key);
	int port = aios_http_server_port(s), code;
	ck_assert_msg(tls_hello("127.0.0.1", port, ca, 0, &code) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_int_eq(code, 200);
	ck_assert_msg(tls_hello("localhost", port, ca, 0, &code) == AIOS_OK, "%s", aios_errmsg());
	/* a CA that did not sign it: the message says why */
	snprintf(other_ca, sizeof other_ca, "%s/other.crt", g_dir);
	ck_assert_int_eq(tls_hello("127.0.0.1", port, other_ca, 0, &code), AIOS_ERR_TLS);
	ck_assert_msg(strstr(aios_errmsg(), "certificate"), "%s", aios_errmsg());
	aios_http_server_free(s);

	/* a certificate for localhost and another IP: refused by IP, accepted by name */
	snprintf(cert, sizeof cert, "%s/dns.crt", g_dir);
	snprintf(key, sizeof key, "%s/dns.key", g_dir);
	s = serve(cert, key);
	port = aios_http_server_port(s);
	ck_assert_int_eq(tls_hello("127.0.0.1", port, ca, 0, &code), AIOS_ERR_TLS);
	ck_assert_msg(strstr(aios_errmsg(), "127.0.0.1"), "%s", aios_errmsg());
	ck_assert_msg(tls_hello("localhost", port, ca, 0, &code) == AIOS_OK, "%s", aios_errmsg());
	/* insecure: no check at all */
	ck_assert_msg(tls_hello("127.0.0.1", port, ca, 1, &code) == AIOS_OK, "%s", aios_errmsg());
	aios_http_server_free(s);

	/* bad inputs to the setup name what is wrong */
	struct aios_httpc_tls *t = NULL;
	ck_assert_int_eq(aios_httpc_tls_new("junk", 4, NULL, 0, NULL, 0, 0, &t), AIOS_ERR_TLS);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "certificate authority"));
	struct aios_buf crt, k2;
	aios_buf_init(&crt, 1 << 20);
	aios_buf_init(&k2, 1 << 20);
	ck_assert_int_eq(aios_buf_read_file(&crt, cert), AIOS_OK);
	snprintf(key, sizeof key, "%s/ip.key", g_dir); /* the other certificate's key */
	ck_assert_int_eq(aios_buf_read_file(&k2, key), AIOS_OK);
	ck_assert_int_eq(aios_httpc_tls_new(NULL, 0, crt.data, crt.len, k2.data, k2.len, 1, &t),
	                 AIOS_ERR_TLS);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "does not match"));
	ck_assert_int_eq(aios_httpc_tls_new(NULL, 0, crt.data, crt.len, "nokey", 5, 1, &t),
	                 AIOS_ERR_TLS);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "client key"));
	ck_assert_ptr_null(t);
	aios_buf_cleanup(&crt);
	aios_buf_cleanup(&k2);
	drop_pki();
}
END_TEST

/* A proxy given with the request: every request goes through it even when NO_PROXY
 * matches the target; a proxy that refuses the connection or the tunnel is named in
 * the message, without the user info of its URL. */
START_TEST(proxy_used_and_named)
{
	/* a port nobody listens on, held by a bound socket that never listens */
	int dead = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(dead, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t al = sizeof a;
	getsockname(dead, (struct sockaddr *)&a, &al);
	int dead_port = ntohs(a.sin_port);
	char url[96], proxy[128], want[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", dead_port);
	struct aios_httpc_opts o = {.timeout_ms = 2000};
	struct aios_httpc_resp resp;

	/* NO_PROXY=* does not apply: the answer comes from the proxy, not the dead port */
	struct canned *c =
	    canned_start("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied", 0, 0);
	snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", c->port);
	char *saved = getenv("NO_PROXY") ? strdup(getenv("NO_PROXY")) : NULL;
	setenv("NO_PROXY", "*", 1);
	struct aios_httpc_handle *h = aios_httpc_handle_new();
	struct aios_httpc_req req = {.url = url, .proxy = proxy};
	enum aios_err e = aios_httpc_perform(h, &req, &o, &resp);
	if (saved)
		setenv("NO_PROXY", saved, 1); /* as it was: CK_FORK=no runs share the env */
	else
		unsetenv("NO_PROXY");
	free(saved);
	ck_assert_msg(e == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(resp.body.data, "proxied");
	ck_assert_int_eq(atomic_load(&c->requests), 1);
	aios_httpc_resp_cleanup(&resp);
	canned_stop(c);

	/* the proxy refuses the tunnel: named, its password left out */
	c = canned_start("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 1, 0);
	snprintf(proxy, sizeof proxy, "http://user:s3cret@127.0.0.1:%d/path", c->port);
	snprintf(url, sizeof url, "https://127.0.0.1:%d/x", dead_port);
	req = (struct aios_httpc_req){.url = url, .proxy = proxy};
	e = aios_httpc_perform(h, &req, &o, &resp);
	aios_httpc_resp_cleanup(&resp);
	snprintf(want, sizeof want, "GET %s: proxy http://127.0.0.1:%d: ", url, c->port);
	ck_assert_msg(e == AIOS_ERR_UNAVAILABLE, "%s: %s", aios_strerror(e), aios_errmsg());
	ck_assert_msg(strstr(aios_errmsg(), want) && strstr(aios_errmsg(), "403") &&
	                  !strstr(aios_errmsg(), "s3cret"),
	              "%s", aios_errmsg());
	canned_stop(c);

	/* nobody listens at the proxy's port */
	snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", dead_port);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", dead_port);
	req = (struct aios_httpc_req){.url = url, .proxy = proxy};
	e = aios_httpc_perform(h, &req, &o, &resp);
	aios_httpc_resp_cleanup(&resp);
	snprintf(want, sizeof want, "GET %s: proxy %s: ", url, proxy);
	ck_assert_msg(e == AIOS_ERR_UNAVAILABLE, "%s: %s", aios_strerror(e), aios_errmsg());
	ck_assert_msg(strstr(aios_errmsg(), want) && strstr(aios_errmsg(), "Connection refused"),
	              "%s", aios_errmsg());
	aios_httpc_handle_free(h);
	close(dead);
}
END_TEST

struct tls_job {
	struct aios_httpc_mux *m;
	struct aios_httpc_tls *tls;
	char url[128];
	enum aios_err e;
	struct aios_httpc_resp resp;
};

static void *tls_job_main(void *arg)
{
	struct tls_job *j = arg;
	struct aios_httpc_req req = {.url = j->url, .tls = j->tls, .http2 = 1};
	struct aios_httpc_opts o = {.timeout_ms = 10000};
	j->e = aios_httpc_mux_perform(j->m, &req, &o, &j->resp);
	return NULL;
}

START_TEST(mux_falls_back_to_http1_over_tls)
{
	/* Our server speaks HTTP/1.1 only (no ALPN). Requests that offer HTTP/2 through the
	 * multiplexer wait for the first connection, learn it cannot carry streams, and
	 * then run at once, each on a connection of its own. */
	make_pki();
	char cert[300], key[300], ca[300];
	snprintf(ca, sizeof ca, "%s/ca.crt", g_dir);
	snprintf(cert, sizeof cert, "%s/ip.crt", g_dir);
	snprintf(key, sizeof key, "%s/ip.key", g_dir);
	struct aios_http_server *s = serve_threads(cert, key, 4);
	int port = aios_http_server_port(s);
	struct aios_buf cab;
	aios_buf_init(&cab, 1 << 20);
	ck_assert_int_eq(aios_buf_read_file(&cab, ca), AIOS_OK);
	struct aios_httpc_tls *t = NULL;
	ck_assert_int_eq(aios_httpc_tls_new(cab.data, cab.len, NULL, 0, NULL, 0, 0, &t), AIOS_OK);
	aios_buf_cleanup(&cab);
	struct aios_httpc_mux *m = aios_httpc_mux_new();
	enum { N = 3 };
	struct tls_job j[N];
	pthread_t th[N];
	int64_t t0 = aios_now_ms();
	for (int i = 0; i < N; i++) {
		memset(&j[i], 0, sizeof(j[i]));
		j[i].m = m;
		j[i].tls = t;
		snprintf(j[i].url, sizeof j[i].url, "https://127.0.0.1:%d/slow", port);
		ck_assert_int_eq(pthread_create(&th[i], NULL, tls_job_main, &j[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(j[i].e == AIOS_OK, "%s", aios_errmsg());
		ck_assert_int_eq(j[i].resp.code, 200);
		ck_assert_int_eq(j[i].resp.http_version, 1);
		aios_httpc_resp_cleanup(&j[i].resp);
	}
	int64_t took = aios_now_ms() - t0;
	/* in parallel: well under 3 x 500 ms (valgrind's handshakes alone take longer; the
	 * count of connections below shows it there) */
	if (!getenv("AIOS_UNDER_VALGRIND"))
		ck_assert_msg(took < 1400, "3 x 500 ms took %lld ms: not in parallel",
		              (long long)took);
	ck_assert_int_eq(aios_test_tcp_conns_settle("self", port, N, 2000), N);
	/* one after another, they reuse the idle connections */
	for (int i = 0; i < N; i++) {
		snprintf(j[0].url, sizeof j[0].url, "https://127.0.0.1:%d/hello", port);
		tls_job_main(&j[0]);
		ck_assert_msg(j[0].e == AIOS_OK, "%s", aios_errmsg());
		ck_assert_int_eq(j[0].resp.http_version, 1);
		aios_httpc_resp_cleanup(&j[0].resp);
	}
	ck_assert_int_eq(aios_test_tcp_conns("self", port), N);
	aios_httpc_mux_free(m);
	ck_assert_int_eq(aios_test_tcp_conns("self", port), 0);
	aios_httpc_tls_free(t);
	aios_http_server_free(s);
	drop_pki();
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("http_client");
	TCase *l = tcase_create("live");
	tcase_set_timeout(l, 60);
	aios_test_tmpdir_fixture(l);
	tcase_add_test(l, framings_and_keepalive);
	tcase_add_test(l, caps_cut_answers_and_retry_after);
	tcase_add_test(l, timeouts_and_cancel);
	tcase_add_test(l, batch_keeps_connections_between_rounds);
	tcase_add_test(l, mux_streams_with_backpressure);
	tcase_add_test(l, live_tls_names_and_trust);
	tcase_add_test(l, proxy_used_and_named);
	tcase_add_test(l, mux_falls_back_to_http1_over_tls);
	suite_add_tcase(s, l);
	return s;
}

AIOS_CHECK_MAIN(client_suite)
