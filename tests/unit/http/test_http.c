/* test_http.c - the HTTP/1.1 server: parser, route matching, and a live server on loopback. */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "http/http.h"
#include "http/metrics.h"
#include "support/http_client.h"

/* ---------------------------------------------------------------- parser */

static const char *g_reason; /* the last refusal's reason */

static enum aios_http_parse parse(const char *text, struct aios_http_req *req, size_t *consumed,
                                  int *status, size_t max_body)
{
	static char buf[65536];
	size_t n = strlen(text);
	memcpy(buf, text, n + 1);
	int expect;
	return aios_http_parse_request(buf, n, 1024, max_body, req, consumed, status, &g_reason,
	                               &expect);
}

START_TEST(parse_get_and_headers)
{
	struct aios_http_req req;
	size_t used;
	int st;
	const char *t =
	    "GET /v2/health/ready?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  v v  \r\n\r\nGET /";
	ck_assert_int_eq(parse(t, &req, &used, &st, 100), AIOS_HTTP_PARSE_OK);
	ck_assert_str_eq(req.method, "GET");
	ck_assert_str_eq(req.path, "/v2/health/ready");
	ck_assert_str_eq(req.query, "x=1");
	ck_assert_str_eq(aios_http_req_header(&req, "x-thing"), "v v");
	ck_assert_int_eq(req.body_len, 0);
	ck_assert_int_eq(req.keep_alive, 1);
	ck_assert_uint_eq(used, strlen(t) - 5); /* the pipelined "GET /" stays */
}
END_TEST

START_TEST(parse_bodies)
{
	struct aios_http_req req;
	size_t used;
	int st;
	ck_assert_int_eq(
	    parse("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", &req, &used, &st, 100),
	    AIOS_HTTP_PARSE_MORE);
	ck_assert_int_eq(
	    parse("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde", &req, &used, &st, 100),
	    AIOS_HTTP_PARSE_OK);
	ck_assert_int_eq(req.body_len, 5);
	ck_assert_int_eq(memcmp(req.body, "abcde", 5), 0);
	const char *ch = "POST /a HTTP/1.1\r\nTransfer-Encoding: "
	                 "chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
	ck_assert_int_eq(parse(ch, &req, &used, &st, 100), AIOS_HTTP_PARSE_OK);
	ck_assert_int_eq(req.body_len, 5);
	ck_assert_int_eq(memcmp(req.body, "abcde", 5), 0);
	ck_assert_uint_eq(used, strlen(ch));
	/* a NUL inside a chunk extension (found by fuzz/serve_http_fuzz.c): refused, like
	 * every control character in the framing */
	char nul[] =
	    "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x\0y\r\nhi\r\n0 =\0\r\n\r\n";
	int ex;
	const char *why;
	ck_assert_int_eq(
	    aios_http_parse_request(nul, sizeof nul - 1, 1024, 100, &req, &used, &st, &why, &ex),
	    AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(st, 400);
	ck_assert_str_eq(why, "control character in a chunk extension");
	/* extensions and trailers within their caps are accepted and ignored */
	const char *tr = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	                 "2;name=\"v\talue\"\r\nhi\r\n0\r\nX-Sum: 1\r\nX-Other:\t2\r\n\r\n";
	ck_assert_int_eq(parse(tr, &req, &used, &st, 100), AIOS_HTTP_PARSE_OK);
	ck_assert_int_eq(req.body_len, 2);
	ck_assert_int_eq(memcmp(req.body, "hi", 2), 0);
	ck_assert_uint_eq(used, strlen(tr));
	ck_assert_ptr_null(aios_http_req_header(&req, "x-sum"));
	ck_assert_int_eq(parse("POST /a HTTP/1.0\r\n\r\n", &req, &used, &st, 100),
	                 AIOS_HTTP_PARSE_OK);
	ck_assert_int_eq(req.keep_alive, 0);
}
END_TEST

START_TEST(parse_errors)
{
	struct aios_http_req req;
	size_t used;
	int st;
	ck_assert_int_eq(
	    parse("POST /a HTTP/1.1\r\nContent-Length: 101\r\n\r\n", &req, &used, &st, 100),
	    AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(st, 413);
	ck_assert_int_eq(parse("GET /a HTTP/2.0\r\n\r\n", &req, &used, &st, 100),
	                 AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(st, 505);
	ck_assert_int_eq(parse("GET a HTTP/1.1\r\n\r\n", &req, &used, &st, 100),
	                 AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(st, 400);
	ck_assert_int_eq(parse("GET /a HTTP/1.1\r\n folded\r\n\r\n", &req, &used, &st, 100),
	                 AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(
	    parse("GET /a HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	          &req, &used, &st, 100),
	    AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(
	    parse("GET /a HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", &req, &used, &st, 100),
	    AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(
	    parse("GET /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", &req, &used, &st, 100),
	    AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(st, 501);
	ck_assert_int_eq(parse("\x01\x02garbage", &req, &used, &st, 100), AIOS_HTTP_PARSE_ERROR);
	char big[2048];
	snprintf(big, sizeof big, "GET /%01500d HTTP/1.1\r\n", 0);
	ck_assert_int_eq(parse(big, &req, &used, &st, 100), AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(st, 431);
	const char *ch = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n";
	ck_assert_int_eq(parse(ch, &req, &used, &st, 100), AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(st, 413);
}
END_TEST

/* Writes the head of a chunked POST at p; returns where the chunks go. */
static char *chunked_head(char *p)
{
	const char *h = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
	memcpy(p, h, strlen(h));
	return p + strlen(h);
}

/* Writes piece (NUL-terminated) times times at p; returns the end, NUL-terminated. */
static char *repeat(char *p, const char *piece, int times)
{
	size_t n = strlen(piece);
	for (int i = 0; i < times; i++, p += n)
		memcpy(p, piece, n);
	*p = '\0';
	return p;
}

static void expect_refused(const char *text, size_t max_body, int status, const char *reason)
{
	struct aios_http_req req;
	size_t used;
	int st;
	ck_assert_int_eq(parse(text, &req, &used, &st, max_body), AIOS_HTTP_PARSE_ERROR);
	ck_assert_int_eq(st, status);
	ck_assert_str_eq(g_reason, reason);
}

/* Refusals of framing and field contents: each with its exact status and reason. */
static const struct refusal {
	const char *text;
	int status;
	const char *reason;
} refusals[] = {
    {"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
     "Transfer-Encoding is not allowed in an HTTP/1.0 request"},
    {"POST /a HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
     "Transfer-Encoding is not allowed in an HTTP/1.0 request"},
    {"GET /a HTTP/1.1\r\nX-A: one\x01two\r\n\r\n", 400,
     "control character in a header field value"},
    {"GET /a HTTP/1.1\r\nX-A: del\x7f\r\n\r\n", 400, "control character in a header field value"},
    {"GET /a HTTP/1.1\r\nX-A: bare\nlf\r\n\r\n", 400, "control character in a header field value"},
    {"GET /a HTTP/1.1\r\nX-A: esc\x1b[0m\r\n\r\n", 400,
     "control character in a header field value"},
    {"POST /a HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "both Content-Length and Transfer-Encoding"},
    {"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;\x02\r\nx\r\n0\r\n\r\n", 400,
     "control character in a chunk extension"},
    {"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\x03\r\n\r\n", 400,
     "control character in a trailer field"},
    {"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n", 400,
     "malformed trailer field (want name: value)"},
    {"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n", 400,
     "malformed chunk size (no hex digits)"},
};

START_TEST(parse_refusals_exact)
{
	expect_refused(refusals[_i].text, 100, refusals[_i].status, refusals[_i].reason);
}
END_TEST

START_TEST(parse_chunk_caps)
{
	static char t[60000], ext[300];
	struct aios_http_req req;
	size_t used;
	int st;
	/* HTAB and obs-text stay allowed in values */
	ck_assert_int_eq(
	    parse("GET /a HTTP/1.1\r\nX-A: a\tb \xc3\xa9\r\n\r\n", &req, &used, &st, 100),
	    AIOS_HTTP_PARSE_OK);
	ck_assert_str_eq(aios_http_req_header(&req, "x-a"), "a\tb \xc3\xa9");
	/* one chunk's extension: 256 bytes pass, 257 do not */
	char *p = repeat(chunked_head(t), "1;", 1);
	p = repeat(repeat(p, "e", AIOS_HTTP_MAX_CHUNK_EXT - 1), "\r\nx\r\n0\r\n\r\n", 1);
	ck_assert_int_eq(parse(t, &req, &used, &st, 100), AIOS_HTTP_PARSE_OK);
	ck_assert_int_eq(req.body_len, 1);
	p = repeat(repeat(chunked_head(t), "1;", 1), "e", AIOS_HTTP_MAX_CHUNK_EXT);
	repeat(p, "\r\nx\r\n0\r\n\r\n", 1);
	expect_refused(t, 100, 400, "chunk extension longer than the limit of 256 bytes");
	/* extensions of one request: 20 chunks of 250 bytes each exceed 4096 */
	repeat(repeat(repeat(ext, "1;", 1), "e", 248), "\r\nx\r\n", 1);
	repeat(repeat(chunked_head(t), ext, 20), "0\r\n\r\n", 1);
	expect_refused(t, 100, 400,
	               "chunk extensions of one request exceed the limit of 4096 bytes");
	/* a trailer section past 4096 bytes: 431, still arriving or complete */
	p = repeat(repeat(chunked_head(t), "0\r\n", 1),
	           "X-Trailer-Field: 0123456789012345678901234567890123456789\r\n", 100);
	expect_refused(t, 100, 431, "trailer section exceeds the limit of 4096 bytes");
	repeat(p, "\r\n", 1);
	expect_refused(t, 100, 431, "trailer section exceeds the limit of 4096 bytes");
	/* framing: 4000 one-byte chunks written with 8 hex digits each outgrow the body */
	repeat(repeat(chunked_head(t), "00000001\r\nx\r\n", 4000), "0\r\n\r\n", 1);
	expect_refused(t, 4000, 400,
	               "chunked framing too large for the body (too many small chunks)");
}
END_TEST

START_TEST(match_patterns)
{
	struct aios_http_req req;
	ck_assert(aios_http_match("/v1/models/{name}:predict", "/v1/models/iris:predict", &req));
	ck_assert_str_eq(aios_http_req_param(&req, "name"), "iris");
	ck_assert(!aios_http_match("/v1/models/{name}:predict", "/v1/models/:predict", &req));
	ck_assert(!aios_http_match("/v1/models/{name}:predict", "/v1/models/a/b:predict", &req));
	ck_assert(aios_http_match("/v2/models/{name}/ready", "/v2/models/m1/ready", &req));
	ck_assert_str_eq(aios_http_req_param(&req, "name"), "m1");
	ck_assert(!aios_http_match("/v2/models/{name}", "/v2/models/m1/ready", &req));
	ck_assert(aios_http_match("/logs/*", "/logs/a/b", &req));
	ck_assert(!aios_http_match("/metrics", "/metrics2", &req));
}
END_TEST

/* ---------------------------------------------------------------- live server */

static void echo(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	if (aios_buf_printf(&resp->body, "{\"path\":\"%s\",\"len\":%zu}", req->path, req->body_len))
		resp->status = 500;
	aios_http_resp_header(resp, "X-Test", "yes");
}

static void slow(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	aios_sleep_ms(300);
	aios_http_resp_json(resp, 200, "{}", 2);
}

static int g_responses;
static void count_resp(const struct aios_http_req *req, int status, double s, void *ud)
{
	__atomic_fetch_add(&g_responses, 1, __ATOMIC_SEQ_CST);
}

static struct aios_http_server *start(int threads, int read_timeout_ms)
{
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = 0;
	c.threads = threads;
	c.max_body_bytes = 1000;
	c.read_timeout_ms = read_timeout_ms;
	c.on_response = count_resp;
	struct aios_http_server *s = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(s, "POST", "/echo/{x}", echo, NULL), AIOS_OK);
	ck_assert_int_eq(aios_http_route(s, "GET", "/slow", slow, NULL), AIOS_OK);
	ck_assert_int_eq(aios_http_route(s, "GET", "/healthz", aios_http_ok_handler, NULL),
	                 AIOS_OK);
	ck_assert_int_ne(aios_http_route(s, "GET", "/bad/{x", echo, NULL), AIOS_OK);
	ck_assert_int_eq(aios_http_server_start(s), AIOS_OK);
	ck_assert_int_gt(aios_http_server_port(s), 0);
	return s;
}

START_TEST(live_routes_keepalive_pipelining)
{
	struct aios_http_server *s = start(2, 2000);
	int port = aios_http_server_port(s);
	struct tc_resp r;
	tc_request(port, "GET", "/healthz", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
	tc_resp_free(&r);
	tc_request(port, "GET", "/nope", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(strstr(r.body, "\"error\""));
	tc_resp_free(&r);
	tc_request(port, "GET", "/echo/a", NULL, &r);
	ck_assert_int_eq(r.status, 405);
	tc_resp_free(&r);

	int fd = tc_connect(port);
	const char *two =
	    "POST /echo/a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
	    "POST /echo/b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n";
	tc_send(fd, two, strlen(two));
	tc_read(fd, &r, 5000);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"path\":\"/echo/a\",\"len\":3}");
	char v[16];
	ck_assert(tc_header(&r, "X-Test", v, sizeof v));
	ck_assert_int_eq(r.closed, 0);
	tc_resp_free(&r);
	tc_read(fd, &r, 5000);
	ck_assert_str_eq(r.body, "{\"path\":\"/echo/b\",\"len\":2}");
	tc_resp_free(&r);
	/* Expect: 100-continue gets an interim response, then the answer */
	const char *ex =
	    "POST /echo/c HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
	tc_send(fd, ex, strlen(ex));
	char interim[64] = "";
	ck_assert_int_gt(recv(fd, interim, sizeof interim - 1, 0), 0);
	ck_assert_ptr_nonnull(strstr(interim, "100 Continue"));
	tc_send(fd, "wxyz", 4);
	tc_read(fd, &r, 5000);
	ck_assert_str_eq(r.body, "{\"path\":\"/echo/c\",\"len\":4}");
	tc_resp_free(&r);
	close(fd);
	ck_assert_int_ge(__atomic_load_n(&g_responses, __ATOMIC_SEQ_CST), 6);
	aios_http_server_free(s);
}
END_TEST

START_TEST(live_limits)
{
	struct aios_http_server *s = start(1, 300);
	int port = aios_http_server_port(s);
	struct tc_resp r;
	char body[2000];
	memset(body, 'a', sizeof body - 1);
	body[sizeof body - 1] = 0;
	tc_request(port, "POST", "/echo/x", body, &r);
	ck_assert_int_eq(r.status, 413);
	ck_assert_ptr_nonnull(strstr(r.body, "exceeds the limit of 1000 bytes"));
	ck_assert_int_eq(r.closed, 1);
	tc_resp_free(&r);

	/* slow loris: half a request, then silence */
	int fd = tc_connect(port);
	tc_send(fd, "GET /healthz HTTP/1.1\r\nHost:", 28);
	int64_t t0 = aios_now_ms();
	tc_read(fd, &r, 3000);
	ck_assert_int_eq(r.status, 408);
	ck_assert_int_lt(aios_now_ms() - t0, 1500);
	ck_assert(tc_wait_closed(fd, 1000));
	tc_resp_free(&r);
	close(fd);

	/* garbage gets 400 and the server keeps serving */
	fd = tc_connect(port);
	tc_send(fd, "\x16\x03\x01 hello\r\n\r\n", 13);
	tc_read(fd, &r, 3000);
	ck_assert_int_eq(r.status, 400);
	tc_resp_free(&r);
	close(fd);
	/* a refusal's reason reaches the client in the JSON error, and the connection closes */
	fd = tc_connect(port);
	const char *te10 = "POST /echo/x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	tc_send(fd, te10, strlen(te10));
	tc_read(fd, &r, 3000);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(r.body,
	                 "{\"error\":\"Transfer-Encoding is not allowed in an HTTP/1.0 request\"}");
	ck_assert(tc_wait_closed(fd, 1000));
	tc_resp_free(&r);
	close(fd);
	tc_request(port, "GET", "/healthz", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	tc_resp_free(&r);
	aios_http_server_free(s);
}
END_TEST

struct stopper {
	struct aios_http_server *s;
};

static void *stop_later(void *arg)
{
	aios_sleep_ms(100);
	aios_http_server_stop(arg, 2000);
	return NULL;
}

START_TEST(graceful_stop_finishes_in_flight)
{
	struct aios_http_server *s = start(1, 2000);
	int port = aios_http_server_port(s);
	int idle = tc_connect(port);
	int busy = tc_connect(port);
	const char *rq = "GET /slow HTTP/1.1\r\n\r\n";
	tc_send(busy, rq, strlen(rq));
	aios_sleep_ms(50); /* the handler is running */
	pthread_t t;
	pthread_create(&t, NULL, stop_later, s);
	struct tc_resp r;
	tc_read(busy, &r, 3000);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.closed, 1); /* Connection: close during stop */
	tc_resp_free(&r);
	ck_assert(tc_wait_closed(idle, 2000));
	pthread_join(t, NULL);
	close(idle);
	close(busy);
	aios_http_server_free(s);
}
END_TEST

START_TEST(metrics_handler_serves_registry)
{
	struct aios_metrics *reg = aios_metrics_new();
	aios_gauge_set(aios_metric_with(aios_metrics_gauge(reg, "aios_test_up", "Up.", NULL)), 1);
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = 0;
	struct aios_http_server *s = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(s, "GET", "/metrics", aios_http_metrics_handler, reg),
	                 AIOS_OK);
	ck_assert_int_eq(aios_http_server_start(s), AIOS_OK);
	struct tc_resp r;
	tc_request(aios_http_server_port(s), "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.head, "text/plain; version=0.0.4"));
	ck_assert_ptr_nonnull(strstr(r.body, "aios_test_up 1\n"));
	tc_resp_free(&r);
	aios_http_server_free(s);
	aios_metrics_free(reg);
}
END_TEST

/* Deferred responses: the handler defers, round_end answers everything of the round. */
struct defer_state {
	struct aios_http_defer *pending[64];
	int n, rounds_with_work;
};

static void *defer_init(int index, void *ud)
{
	return calloc(1, sizeof(struct defer_state));
}

static void defer_cleanup(void *st, void *ud)
{
	free(st);
}

static void deferring(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	struct defer_state *st = req->conn_user;
	struct aios_http_defer *d = aios_http_defer(req);
	/* the request stays readable until done */
	ck_assert_str_eq(aios_http_req_param(req, "x"), "q");
	st->pending[st->n++] = d;
}

static int defer_round(void *state, void *ud)
{
	struct defer_state *st = state;
	if (st->n)
		st->rounds_with_work++;
	for (int i = 0; i < st->n; i++) {
		struct aios_http_resp *r = aios_http_defer_resp(st->pending[i]);
		if (aios_buf_printf(&r->body, "{\"batch\":%d}", st->n))
			r->status = 500;
		aios_http_defer_done(st->pending[i]);
	}
	st->n = 0;
	return -1;
}

START_TEST(deferred_responses)
{
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = 0;
	c.thread_init = defer_init;
	c.thread_cleanup = defer_cleanup;
	c.round_end = defer_round;
	struct aios_http_server *s = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(s, "GET", "/d/{x}", deferring, NULL), AIOS_OK);
	ck_assert_int_eq(aios_http_server_start(s), AIOS_OK);
	int port = aios_http_server_port(s);
	/* two pipelined requests on one connection: answered in order, one at a time */
	int fd = tc_connect(port);
	const char *two = "GET /d/q HTTP/1.1\r\n\r\nGET /d/q HTTP/1.1\r\n\r\n";
	tc_send(fd, two, strlen(two));
	struct tc_resp r;
	for (int i = 0; i < 2; i++) {
		tc_read(fd, &r, 3000);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, "{\"batch\":1}");
		tc_resp_free(&r);
	}
	close(fd);
	/* a client that leaves while deferred: the server survives and serves on */
	fd = tc_connect(port);
	tc_send(fd, "GET /d/q HTTP/1.1\r\n\r\n", 21);
	close(fd);
	tc_request(port, "GET", "/d/q", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	tc_resp_free(&r);
	aios_http_server_free(s);
}
END_TEST

/* ---------------------------------------------------------------- client limits */

static int g_events[AIOS_HTTP_EV__N];
static void count_event(enum aios_http_event ev, void *ud)
{
	__atomic_fetch_add(&g_events[ev], 1, __ATOMIC_SEQ_CST);
}

static int events(enum aios_http_event ev)
{
	return __atomic_load_n(&g_events[ev], __ATOMIC_SEQ_CST);
}

/* A connection to 127.0.0.1:port from source address src (any of 127.0.0.0/8). */
static int connect_from(const char *src, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	ck_assert_int_eq(inet_pton(AF_INET, src, &a.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	a.sin_port = htons((uint16_t)port);
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &a.sin_addr), 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

static void expect_healthz(int fd, const char *rest)
{
	struct tc_resp r;
	tc_send(fd, rest, strlen(rest));
	tc_read(fd, &r, 3000);
	ck_assert_int_eq(r.status, 200);
	tc_resp_free(&r);
}

/*
 * max_connections_per_client 3: a client with three busy connections gets a fourth
 * closed at accept (counted) while another address is served; once its connections are
 * idle, a new one closes its longest-idle connection instead (counted) and is served.
 */
START_TEST(per_client_limit)
{
	memset(g_events, 0, sizeof g_events);
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = 0;
	c.max_connections_per_client = 3;
	c.on_event = count_event;
	struct aios_http_server *s = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(s, "GET", "/healthz", aios_http_ok_handler, NULL),
	                 AIOS_OK);
	ck_assert_int_eq(aios_http_server_start(s), AIOS_OK);
	int port = aios_http_server_port(s);
	const char *head = "GET /healthz HTTP/1.1\r\n", *full = "GET /healthz HTTP/1.1\r\n\r\n";
	int busy[3];
	for (int i = 0; i < 3; i++) {
		busy[i] = connect_from("127.0.0.2", port);
		tc_send(busy[i], head, strlen(head)); /* a request in progress: not idle */
	}
	aios_sleep_ms(300); /* the loop has read them */
	int extra = connect_from("127.0.0.2", port);
	ck_assert(tc_wait_closed(extra, 2000));
	close(extra);
	ck_assert_int_eq(events(AIOS_HTTP_EV_REFUSED_PER_CLIENT), 1);
	ck_assert_int_eq(events(AIOS_HTTP_EV_RECLAIMED_IDLE), 0);
	int other = connect_from("127.0.0.3", port); /* another client is not affected */
	expect_healthz(other, full);
	close(other);
	/* the requests finish one after the other: busy[0] has been idle longest */
	for (int i = 0; i < 3; i++) {
		expect_healthz(busy[i], "\r\n");
		aios_sleep_ms(20);
	}
	int fresh = connect_from("127.0.0.2", port);
	expect_healthz(fresh, full);
	ck_assert(tc_wait_closed(busy[0], 2000));
	ck_assert_int_eq(events(AIOS_HTTP_EV_RECLAIMED_IDLE), 1);
	ck_assert_int_eq(events(AIOS_HTTP_EV_REFUSED_PER_CLIENT), 1);
	expect_healthz(busy[1], full); /* the others stay */
	ck_assert_int_le(aios_http_server_connections(s), 3);
	for (int i = 0; i < 3; i++)
		close(busy[i]);
	close(fresh);
	/* the slots come back as connections close: three fresh ones are all served */
	aios_sleep_ms(200);
	for (int i = 0; i < 3; i++) {
		busy[i] = connect_from("127.0.0.2", port);
		tc_send(busy[i], head, strlen(head));
	}
	for (int i = 0; i < 3; i++) {
		expect_healthz(busy[i], "\r\n");
		close(busy[i]);
	}
	ck_assert_int_eq(events(AIOS_HTTP_EV_REFUSED_PER_CLIENT), 1);
	aios_http_server_free(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("http");
	TCase *p = tcase_create("parser");
	tcase_add_test(p, parse_get_and_headers);
	tcase_add_test(p, parse_bodies);
	tcase_add_test(p, parse_errors);
	tcase_add_loop_test(p, parse_refusals_exact, 0,
	                    (int)(sizeof refusals / sizeof refusals[0]));
	tcase_add_test(p, parse_chunk_caps);
	tcase_add_test(p, match_patterns);
	suite_add_tcase(s, p);
	TCase *l = tcase_create("live");
	tcase_set_timeout(l, 30);
	tcase_add_test(l, live_routes_keepalive_pipelining);
	tcase_add_test(l, live_limits);
	tcase_add_test(l, graceful_stop_finishes_in_flight);
	tcase_add_test(l, metrics_handler_serves_registry);
	tcase_add_test(l, deferred_responses);
	tcase_add_test(l, per_client_limit);
	suite_add_tcase(s, l);
	return s;
}

AIOS_CHECK_MAIN(suite)
