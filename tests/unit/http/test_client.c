/* test_client.c - the HTTP/1.1 client: the response parser on whole and split input,
 * its refusals, URL splitting, and live exchanges with our own server on loopback,
 * plain and TLS (certificates made here with the openssl command). */
#include <check.h>
#include <netinet/in.h>
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
#include "support/tmpdir.h"

/* ---------------------------------------------------------------- parser */

struct got {
	int code;
	int headers;
	char ctype[64];
	struct aios_buf body;
	int stop_at_body; /* the body callback stops the parse */
};

static int g_status(void *arg, int code)
{
	((struct got *)arg)->code = code;
	return 0;
}

static int g_header(void *arg, const char *n, size_t nl, const char *v, size_t vl)
{
	struct got *g = arg;
	g->headers++;
	if (nl == 12 && strncasecmp(n, "Content-Type", 12) == 0)
		snprintf(g->ctype, sizeof(g->ctype), "%.*s", (int)vl, v);
	return 0;
}

static int g_body(void *arg, const char *p, size_t n)
{
	struct got *g = arg;
	if (g->stop_at_body)
		return 1;
	ck_assert_int_eq(aios_buf_append(&g->body, p, n), AIOS_OK);
	return 0;
}

static const struct aios_httpc_handler g_handler = {g_status, g_header, g_body};

/* Parses text fed in pieces of step bytes (0: whole), then EOF when eof is set.
 * Returns the first error; *used_total gets the bytes taken. */
static enum aios_err run_parser(const char *method, const char *text, size_t step, int eof,
                                struct got *g, size_t *used_total, int *done, int *reusable)
{
	struct aios_httpc_parser ps;
	memset(g, 0, sizeof(*g));
	aios_buf_init(&g->body, 1 << 20);
	aios_httpc_parser_init(&ps, method, &g_handler, g);
	size_t n = strlen(text), off = 0;
	enum aios_err e = AIOS_OK;
	while (off < n && !e && !aios_httpc_parser_done(&ps)) {
		size_t k = step ? (n - off < step ? n - off : step) : n - off, used = 0;
		e = aios_httpc_parser_feed(&ps, text + off, k, &used);
		off += used;
		if (!e && used < k)
			break;
	}
	if (!e && eof)
		e = aios_httpc_parser_eof(&ps);
	if (used_total)
		*used_total = off;
	if (done)
		*done = aios_httpc_parser_done(&ps);
	if (reusable)
		*reusable = aios_httpc_parser_reusable(&ps);
	aios_httpc_parser_cleanup(&ps);
	return e;
}

static const char *const k_chunked =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;ext=1\r\nhello\r\n1\r\n \r\nB\r\nworld-again\r\n0\r\nX-Trailer: t\r\n\r\n";

START_TEST(parser_framings_whole_and_split)
{
	static const size_t steps[] = {0, 1, 2, 7};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct got g;
		size_t used;
		int done, reuse;
		/* Content-Length, then bytes of a next response that are not ours */
		const char *cl =
		    "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nabcdeHTTP/1.1";
		ck_assert_int_eq(run_parser("POST", cl, steps[i], 0, &g, &used, &done, &reuse),
		                 AIOS_OK);
		ck_assert_int_eq(g.code, 201);
		ck_assert_str_eq(g.body.data, "abcde");
		ck_assert_uint_eq(used, strlen(cl) - strlen("HTTP/1.1"));
		ck_assert(done && reuse);
		aios_buf_cleanup(&g.body);
		/* chunked, with a chunk extension and a trailer */
		ck_assert_int_eq(
		    run_parser("GET", k_chunked, steps[i], 0, &g, &used, &done, &reuse), AIOS_OK);
		ck_assert_str_eq(g.body.data, "hello world-again");
		ck_assert_str_eq(g.ctype, "application/json");
		ck_assert(done && reuse);
		aios_buf_cleanup(&g.body);
		/* close-delimited: ends with EOF, and the connection is not reusable */
		const char *cd = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
		ck_assert_int_eq(run_parser("GET", cd, steps[i], 1, &g, &used, &done, &reuse),
		                 AIOS_OK);
		ck_assert_str_eq(g.body.data, "until the end");
		ck_assert(done && !reuse);
		aios_buf_cleanup(&g.body);
		/* an interim 100 Continue, then the answer */
		const char *ic =
		    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
		ck_assert_int_eq(run_parser("PUT", ic, steps[i], 0, &g, &used, &done, &reuse),
		                 AIOS_OK);
		ck_assert_int_eq(g.code, 200);
		ck_assert_int_eq(g.headers, 1); /* the interim answer's headers are not reported */
		ck_assert_str_eq(g.body.data, "ok");
		aios_buf_cleanup(&g.body);
		/* HEAD and 204 have no body whatever the length says */
		const char *hd = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
		ck_assert_int_eq(run_parser("HEAD", hd, steps[i], 0, &g, &used, &done, &reuse),
		                 AIOS_OK);
		ck_assert(done && reuse && g.body.len == 0);
		aios_buf_cleanup(&g.body);
		const char *nc = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
		ck_assert_int_eq(run_parser("DELETE", nc, steps[i], 0, &g, &used, &done, &reuse),
		                 AIOS_OK);
		ck_assert(done && !reuse);
		aios_buf_cleanup(&g.body);
	}
}
END_TEST

START_TEST(parser_refusals_name_the_fault)
{
	static const struct {
		const char *text;
		int eof;
		enum aios_err want;
		const char *msg;
	} cases[] = {
	    {"HTTP/2 200 OK\r\n\r\n", 0, AIOS_ERR_PROTOCOL, "status line"},
	    {"HTTP/1.1 2x0 OK\r\n\r\n", 0, AIOS_ERR_PROTOCOL, "status line"},
	    {"SSH-2.0-OpenSSH\r\n", 0, AIOS_ERR_PROTOCOL, "status line"},
	    {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, AIOS_ERR_PROTOCOL,
	     "Content-Length"},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0,
	     AIOS_ERR_PROTOCOL, "two different Content-Length"},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, AIOS_ERR_PROTOCOL,
	     "Transfer-Encoding"},
	    {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", 0, AIOS_ERR_PROTOCOL, "header line"},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, AIOS_ERR_PROTOCOL,
	     "chunk size"},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n", 0,
	     AIOS_ERR_PROTOCOL, "chunk size"},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 0,
	     AIOS_ERR_PROTOCOL, "longer than its size"},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1, AIOS_ERR_PROTOCOL,
	     "7 of 10 body bytes"},
	    {"HTTP/1.1 200 OK\r\nContent-", 1, AIOS_ERR_PROTOCOL, "inside the response head"},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 1, AIOS_ERR_PROTOCOL,
	     "inside a chunked body"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct got g;
		aios_errclear();
		enum aios_err e =
		    run_parser("GET", cases[i].text, 0, cases[i].eof, &g, NULL, NULL, NULL);
		ck_assert_msg(e == cases[i].want, "case %zu: %s (%s)", i, aios_strerror(e),
		              aios_errmsg());
		ck_assert_msg(strstr(aios_errmsg(), cases[i].msg),
		              "case %zu: message \"%s\" lacks \"%s\"", i, aios_errmsg(),
		              cases[i].msg);
		aios_buf_cleanup(&g.body);
	}
	/* a header line past the cap, and too many header lines */
	struct aios_buf big;
	aios_buf_init(&big, 1 << 20);
	ck_assert_int_eq(aios_buf_puts(&big, "HTTP/1.1 200 OK\r\nX-Big: "), AIOS_OK);
	for (int i = 0; i < AIOS_HTTPC_LINE_CAP; i++)
		ck_assert_int_eq(aios_buf_puts(&big, "a"), AIOS_OK);
	struct got g;
	ck_assert_int_eq(run_parser("GET", big.data, 0, 0, &g, NULL, NULL, NULL),
	                 AIOS_ERR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "longer than"));
	aios_buf_cleanup(&g.body);
	aios_buf_reset(&big);
	ck_assert_int_eq(aios_buf_puts(&big, "HTTP/1.1 200 OK\r\n"), AIOS_OK);
	for (int i = 0; i <= AIOS_HTTPC_HEADERS_CAP; i++)
		ck_assert_int_eq(aios_buf_printf(&big, "X-%d: v\r\n", i), AIOS_OK);
	ck_assert_int_eq(run_parser("GET", big.data, 0, 0, &g, NULL, NULL, NULL),
	                 AIOS_ERR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "header lines"));
	aios_buf_cleanup(&g.body);
	aios_buf_cleanup(&big);
	/* a callback that stops: CANCELLED */
	struct aios_httpc_parser ps;
	memset(&g, 0, sizeof(g));
	g.stop_at_body = 1;
	aios_httpc_parser_init(&ps, "GET", &g_handler, &g);
	size_t used;
	ck_assert_int_eq(aios_httpc_parser_feed(&ps, k_chunked, strlen(k_chunked), &used),
	                 AIOS_ERR_CANCELLED);
	aios_httpc_parser_cleanup(&ps);
}
END_TEST

START_TEST(split_urls)
{
	int https, port;
	char host[64];
	const char *path;
	ck_assert_int_eq(
	    aios_httpc_split_url("https://127.0.0.1:6443", &https, host, sizeof host, &port, &path),
	    AIOS_OK);
	ck_assert(https && port == 6443 && strcmp(host, "127.0.0.1") == 0 && *path == 0);
	ck_assert_int_eq(aios_httpc_split_url("http://[::1]:8080/metrics?x=1", &https, host,
	                                      sizeof host, &port, &path),
	                 AIOS_OK);
	ck_assert(!https && port == 8080 && strcmp(host, "::1") == 0);
	ck_assert_str_eq(path, "/metrics?x=1");
	ck_assert_int_eq(aios_httpc_split_url("https://k8s.example/prefix/", &https, host,
	                                      sizeof host, &port, &path),
	                 AIOS_OK);
	ck_assert(port == 443 && strcmp(path, "/prefix/") == 0);
	char auth[64];
	aios_httpc_authority("::1", 80, auth, sizeof auth);
	ck_assert_str_eq(auth, "[::1]:80");
	static const char *const bad[] = {"ftp://x",       "http://",     "http://h:0",
	                                  "http://h:x",    "http://[::1", "http://u@h/",
	                                  "http://h:99999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(aios_httpc_split_url(bad[i], &https, host, sizeof host, &port,
		                                   &path) == AIOS_ERR_INVALID,
		              "%s accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(aios_errmsg(), bad[i]));
	}
}
END_TEST

/* ---------------------------------------------------------------- live */

static void h_hello(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	aios_http_resp_json(resp, 200, "{\"hello\":1}", 11);
}

static struct aios_http_server *serve(const char *cert, const char *key)
{
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = aios_test_free_port();
	c.name = "test";
	c.tls_cert = cert;
	c.tls_key = key;
	struct aios_http_server *s = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(s, "GET", "/hello", h_hello, NULL), AIOS_OK);
	ck_assert_msg(aios_http_server_start(s) == AIOS_OK, "%s", aios_errmsg());
	return s;
}

/* One GET of /hello on c; returns the error, *code the status. */
static enum aios_err hello_on(struct aios_httpc_conn *c, int port, int *code, int *reusable)
{
	char head[160];
	snprintf(head, sizeof head, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", port);
	struct aios_httpc_wait w = {aios_now_ms() + 5000, NULL, NULL};
	enum aios_err e = aios_httpc_send(c, head, strlen(head), NULL, 0, &w);
	struct got g;
	memset(&g, 0, sizeof g);
	aios_buf_init(&g.body, 4096);
	struct aios_httpc_parser ps;
	aios_httpc_parser_init(&ps, "GET", &g_handler, &g);
	int any = 0;
	if (!e)
		e = aios_httpc_recv(c, &ps, &w, &any);
	*code = g.code;
	*reusable = aios_httpc_parser_reusable(&ps);
	if (!e)
		ck_assert_str_eq(g.body.data, "{\"hello\":1}");
	aios_httpc_parser_cleanup(&ps);
	aios_buf_cleanup(&g.body);
	return e;
}

START_TEST(live_plain_get_keepalive_and_failures)
{
	struct aios_http_server *s = serve(NULL, NULL);
	int port = aios_http_server_port(s);
	char url[96];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", port);
	struct aios_buf b;
	aios_buf_init(&b, 1024);
	int code;
	ck_assert_msg(aios_httpc_get(url, 2000, &code, &b) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_int_eq(code, 200);
	ck_assert_str_eq(b.data, "{\"hello\":1}");
	/* the body cap */
	struct aios_buf small;
	aios_buf_init(&small, 4);
	ck_assert_int_eq(aios_httpc_get(url, 2000, &code, &small), AIOS_ERR_TOO_BIG);
	aios_buf_cleanup(&small);
	aios_buf_reset(&b);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/nope", port);
	ck_assert_int_eq(aios_httpc_get(url, 2000, &code, &b), AIOS_OK);
	ck_assert_int_eq(code, 404);
	/* two requests on one connection */
	struct aios_httpc_wait w = {aios_now_ms() + 2000, NULL, NULL};
	struct aios_httpc_conn *c = NULL;
	ck_assert_int_eq(aios_httpc_connect("127.0.0.1", port, NULL, &w, &c), AIOS_OK);
	int reuse;
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(hello_on(c, port, &code, &reuse) == AIOS_OK, "%s", aios_errmsg());
		ck_assert(code == 200 && reuse);
	}
	ck_assert_int_eq(aios_httpc_conn_readable(c), 0);
	aios_http_server_free(s); /* the server closes it: the idle connection turns readable */
	ck_assert_int_eq(aios_httpc_conn_readable(c), 1);
	aios_httpc_close(c);
	/* nobody listening: UNAVAILABLE naming the address */
	aios_buf_reset(&b);
	ck_assert_int_eq(aios_httpc_get(url, 2000, &code, &b), AIOS_ERR_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "127.0.0.1"));
	/* a listener that never answers: TIMEOUT, on time */
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(ls, 4), 0);
	socklen_t al = sizeof a;
	getsockname(ls, (struct sockaddr *)&a, &al);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", ntohs(a.sin_port));
	int64_t t0 = aios_now_ms();
	ck_assert_int_eq(aios_httpc_get(url, 300, &code, &b), AIOS_ERR_TIMEOUT);
	int64_t took = aios_now_ms() - t0;
	ck_assert_msg(took >= 290 && took < 3000, "timed out after %lld ms", (long long)took);
	close(ls);
	aios_buf_cleanup(&b);
}
END_TEST

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
	struct aios_httpc_wait w = {aios_now_ms() + 5000, NULL, NULL};
	struct aios_httpc_conn *c = NULL;
	enum aios_err e = aios_httpc_connect(host, port, t, &w, &c);
	*code = 0;
	int reuse;
	if (!e)
		e = hello_on(c, port, code, &reuse);
	aios_httpc_close(c);
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
	snprintf(other_ca, sizeof other_ca, "%s/ip.crt", g_dir); /* a leaf is no CA for itself */
	ck_assert_int_eq(tls_hello("127.0.0.1", port, other_ca, 0, &code), AIOS_ERR_TLS);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "rejected"));
	aios_http_server_free(s);

	/* a certificate for localhost and another IP: refused by IP, accepted by name */
	snprintf(cert, sizeof cert, "%s/dns.crt", g_dir);
	snprintf(key, sizeof key, "%s/dns.key", g_dir);
	s = serve(cert, key);
	port = aios_http_server_port(s);
	ck_assert_int_eq(tls_hello("127.0.0.1", port, ca, 0, &code), AIOS_ERR_TLS);
	ck_assert_msg(strstr(aios_errmsg(), "IP address"), "%s", aios_errmsg());
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

static Suite *client_suite(void)
{
	Suite *s = suite_create("http_client");
	TCase *p = tcase_create("parser");
	tcase_add_test(p, parser_framings_whole_and_split);
	tcase_add_test(p, parser_refusals_name_the_fault);
	tcase_add_test(p, split_urls);
	suite_add_tcase(s, p);
	TCase *l = tcase_create("live");
	tcase_set_timeout(l, 60);
	aios_test_tmpdir_fixture(l);
	tcase_add_test(l, live_plain_get_keepalive_and_failures);
	tcase_add_test(l, live_tls_names_and_trust);
	suite_add_tcase(s, l);
	return s;
}

AIOS_CHECK_MAIN(client_suite)
