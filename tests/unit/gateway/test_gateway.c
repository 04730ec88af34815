/* test_gateway.c - aios-gateway's data plane on loopback (src/gateway/gateway.h): fake
 * pods are HTTP servers of src/lib/http; the table is fed directly, as the informers
 * would. Routing, untouched bodies, 404/413, a dead pod retried on another or 502, and
 * the cold-start queue: held until a pod is ready, full, timed out. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/clock.h"
#include "gateway/gateway.h"
#include "http/http.h"
#include "http/metrics.h"
#include "support/http_client.h"

/* ---------------------------------------------------------------- fake pods */

struct pod {
	struct aios_http_server *http;
	int index;
	int hits;
};

/* /v2/models/NAME/ready: {"pod":N}; anything else: the request's body, untouched, with
 * its Content-Type and an Inference-Header-Content-Length header. */
static void pod_handler(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	struct pod *p = ud;
	__atomic_add_fetch(&p->hits, 1, __ATOMIC_SEQ_CST);
	if (strstr(req->path, "/ready")) {
		char b[64];
		int n =
		    snprintf(b, sizeof(b), "{\"pod\":%d,\"query\":\"%s\"}", p->index, req->query);
		aios_http_resp_json(resp, 200, b, (size_t)n);
		return;
	}
	const char *ct = aios_http_req_header(req, "Content-Type");
	static char ct_copy[128];
	snprintf(ct_copy, sizeof(ct_copy), "%s", ct ? ct : "none");
	resp->content_type = ct_copy;
	aios_http_resp_header(resp, "Inference-Header-Content-Length", "7");
	aios_http_resp_header(resp, "X-Not-Passed", "1");
	if (aios_buf_append(&resp->body, req->body, req->body_len) != AIOS_OK)
		resp->status = 500;
}

static struct pod *pod_start(int index)
{
	struct pod *p = calloc(1, sizeof(*p));
	p->index = index;
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = 0;
	c.name = "pod";
	p->http = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(p->http, "*", "/*", pod_handler, p), AIOS_OK);
	ck_assert_int_eq(aios_http_server_start(p->http), AIOS_OK);
	return p;
}

static void pod_free(struct pod *p)
{
	aios_http_server_free(p->http);
	free(p);
}

static struct aios_gw_endpoint at(int port)
{
	struct aios_gw_endpoint e = {.addr = "127.0.0.1", .port = port};
	return e;
}

/* A port nothing listens on: a pod that died. */
static int dead_port(void)
{
	struct pod *p = pod_start(99);
	int port = aios_http_server_port(p->http);
	pod_free(p);
	return port;
}

/* ---------------------------------------------------------------- the gateway */

static int g_demand;
static void on_demand(void *ud, const char *ns, const char *name)
{
	__atomic_add_fetch(&g_demand, 1, __ATOMIC_SEQ_CST);
}

static struct aios_gw *gw_start(void)
{
	struct aios_gw_config c;
	aios_gw_config_defaults(&c);
	c.bind = "127.0.0.1";
	c.port = 0;
	c.proxy_threads = 4;
	c.upstream_timeout_ms = 5000;
	c.max_request_bytes = 1 << 20;
	struct aios_gw *g;
	ck_assert_int_eq(aios_gw_new(&c, &g), AIOS_OK);
	aios_gw_on_demand(g, on_demand, NULL);
	ck_assert_int_eq(aios_gw_start(g), AIOS_OK);
	g_demand = 0;
	return g;
}

static void add_service(struct aios_gw *g, const char *ns, const char *name, int queue,
                        int timeout_ms, long max_body)
{
	struct aios_gw_service_params p = {.min_replicas = 0,
	                                   .queue_size = queue,
	                                   .queue_timeout_ms = timeout_ms,
	                                   .max_request_bytes = max_body,
	                                   .desired = 0};
	aios_gw_set_service(g, ns, name, &p);
}

/* The value of one series of the gateway's /metrics page, or -1 when absent. */
static double metric(int port, const char *series)
{
	struct tc_resp r;
	tc_request(port, "GET", "/metrics", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	double v = -1;
	const char *p = strstr(r.body, series);
	while (p && p > r.body && p[-1] != '\n')
		p = strstr(p + 1, series);
	if (p)
		v = strtod(p + strlen(series), NULL);
	tc_resp_free(&r);
	return v;
}

START_TEST(unknown_model_404)
{
	struct aios_gw *g = gw_start();
	int port = aios_gw_port(g);
	struct tc_resp r;
	tc_request(port, "POST", "/v1/models/nope:predict", "{\"instances\":[[1]]}", &r);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(strstr(r.body, "\"error\""));
	ck_assert_ptr_nonnull(strstr(r.body, "model nope not found in namespace default"));
	tc_resp_free(&r);
	tc_request(port, "GET", "/v1/elsewhere", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	tc_resp_free(&r);
	tc_request(port, "GET", "/v2/models/Bad_Name/ready", NULL, &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.body, "not a DNS label"));
	tc_resp_free(&r);
	tc_request(port, "GET", "/v2/health/live", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	tc_resp_free(&r);
	/* /v1/elsewhere is the server's own 404 (no route): not counted */
	ck_assert_int_eq((int)metric(port, "aios_gateway_unknown_model_requests_total "), 2);
	aios_gw_free(g);
}
END_TEST

START_TEST(routes_body_untouched)
{
	struct pod *p = pod_start(0);
	struct aios_gw *g = gw_start();
	int port = aios_gw_port(g);
	add_service(g, "team", "echo", 10, 5000, 1 << 20);
	struct aios_gw_endpoint e = at(aios_http_server_port(p->http));
	aios_gw_set_endpoints(g, "team", "echo", &e, 1);

	/* binary body with NUL bytes, a binary-extension header, through the path prefix */
	static const char body[] = "{\"a\":1}\0\x01\x02\xff tail";
	char head[512];
	int n = snprintf(head, sizeof(head),
	                 "POST /namespaces/team/v2/models/echo/infer HTTP/1.1\r\nHost: gw\r\n"
	                 "Content-Type: application/octet-stream\r\n"
	                 "Inference-Header-Content-Length: 7\r\nContent-Length: %zu\r\n\r\n",
	                 sizeof(body) - 1);
	int fd = tc_connect(port);
	tc_send(fd, head, (size_t)n);
	tc_send(fd, body, sizeof(body) - 1);
	struct tc_resp r;
	tc_read(fd, &r, 5000);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, sizeof(body) - 1);
	ck_assert_int_eq(memcmp(r.body, body, sizeof(body) - 1), 0);
	char v[128];
	ck_assert_int_eq(tc_header(&r, "Content-Type", v, sizeof(v)), 1);
	ck_assert_str_eq(v, "application/octet-stream");
	ck_assert_int_eq(tc_header(&r, "Inference-Header-Content-Length", v, sizeof(v)), 1);
	ck_assert_str_eq(v, "7");
	ck_assert_int_eq(tc_header(&r, "X-Not-Passed", v, sizeof(v)), 0);
	tc_resp_free(&r);

	/* the namespace from the Host header; the query string goes along */
	fd = tc_connect(port);
	const char *get =
	    "GET /v2/models/echo/ready?x=1 HTTP/1.1\r\nHost: echo.team.example:80\r\n\r\n";
	tc_send(fd, get, strlen(get));
	tc_read(fd, &r, 5000);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"pod\":0,\"query\":\"x=1\"}");
	tc_resp_free(&r);
	/* the same model in another namespace is not this one */
	tc_request(port, "GET", "/v2/models/echo/ready", NULL, &r);
	ck_assert_int_eq(r.status, 404);
	tc_resp_free(&r);
	ck_assert_int_eq(
	    (int)metric(port, "aios_gateway_requests_total{namespace=\"team\",service=\"echo\"} "),
	    2);
	aios_gw_free(g);
	pod_free(p);
}
END_TEST

START_TEST(over_the_cap_413)
{
	struct pod *p = pod_start(0);
	struct aios_gw *g = gw_start();
	int port = aios_gw_port(g);
	add_service(g, "default", "small", 10, 5000, 100);
	struct aios_gw_endpoint e = at(aios_http_server_port(p->http));
	aios_gw_set_endpoints(g, "default", "small", &e, 1);
	char big[200];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	struct tc_resp r;
	tc_request(port, "POST", "/v1/models/small:predict", big, &r);
	ck_assert_int_eq(r.status, 413);
	ck_assert_ptr_nonnull(strstr(r.body, "spec.runtime.maxRequestBytes"));
	tc_resp_free(&r);
	ck_assert_int_eq(p->hits, 0); /* never reached the pod */
	/* past the gateway's own cap (1 MiB here): the server refuses it before any handler */
	int fd = tc_connect(port);
	const char *h = "POST /v1/models/small:predict HTTP/1.1\r\nHost: x\r\n"
	                "Content-Length: 2000000\r\n\r\n";
	tc_send(fd, h, strlen(h));
	tc_read(fd, &r, 5000);
	close(fd);
	ck_assert_int_eq(r.status, 413);
	tc_resp_free(&r);
	aios_gw_free(g);
	pod_free(p);
}
END_TEST

START_TEST(balances_over_pods)
{
	struct pod *a = pod_start(0), *b = pod_start(1);
	struct aios_gw *g = gw_start();
	int port = aios_gw_port(g);
	add_service(g, "default", "two", 10, 5000, 1 << 20);
	struct aios_gw_endpoint e[2] = {at(aios_http_server_port(a->http)),
	                                at(aios_http_server_port(b->http))};
	aios_gw_set_endpoints(g, "default", "two", e, 2);
	for (int i = 0; i < 20; i++) {
		struct tc_resp r;
		tc_request(port, "GET", "/v2/models/two/ready", NULL, &r);
		ck_assert_int_eq(r.status, 200);
		tc_resp_free(&r);
	}
	/* sequential requests: every pod idle each time, so they take turns */
	ck_assert_int_eq(a->hits, 10);
	ck_assert_int_eq(b->hits, 10);
	aios_gw_free(g);
	pod_free(a);
	pod_free(b);
}
END_TEST

START_TEST(dead_pod_retried_or_502)
{
	struct pod *live = pod_start(1);
	struct aios_gw *g = gw_start();
	int port = aios_gw_port(g);
	add_service(g, "default", "flaky", 10, 5000, 1 << 20);
	struct aios_gw_endpoint e[2] = {at(dead_port()), at(aios_http_server_port(live->http))};
	aios_gw_set_endpoints(g, "default", "flaky", e, 2);
	for (int i = 0; i < 6; i++) {
		struct tc_resp r;
		tc_request(port, "POST", "/v1/models/flaky:predict", "{\"instances\":[[1]]}", &r);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, "{\"instances\":[[1]]}");
		tc_resp_free(&r);
	}
	ck_assert_int_eq(live->hits, 6);
	ck_assert_int_ge(
	    (int)metric(
	        port,
	        "aios_gateway_upstream_retries_total{namespace=\"default\",service=\"flaky\"} "),
	    1);
	/* only the dead pod: 502 with the reason, never a hang */
	aios_gw_set_endpoints(g, "default", "flaky", e, 1);
	struct tc_resp r;
	int64_t t0 = aios_now_ms();
	tc_request(port, "POST", "/v1/models/flaky:predict", "{}", &r);
	ck_assert_int_eq(r.status, 502);
	ck_assert_ptr_nonnull(strstr(r.body, "model default/flaky: pod 127.0.0.1"));
	ck_assert_int_lt(aios_now_ms() - t0, 3000);
	tc_resp_free(&r);
	aios_gw_free(g);
	pod_free(live);
}
END_TEST

/* A pod that dies mid-request: it accepts, reads the request, sends half an answer
 * (or nothing, when hang is set: it then holds the connection until the test ends) and
 * closes. Serves `n` connections on its own thread. */
struct broken {
	int lfd, port, n, hang;
	pthread_t t;
};

static void *broken_main(void *arg)
{
	struct broken *b = arg;
	for (int i = 0; i < b->n; i++) {
		int fd = accept(b->lfd, NULL, NULL);
		if (fd < 0)
			break;
		char buf[4096];
		if (read(fd, buf, sizeof(buf)) < 0) {
			close(fd);
			continue;
		}
		if (b->hang) {
			aios_sleep_ms(3000);
		} else {
			const char *half =
			    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"predic";
			if (write(fd, half, strlen(half)) < 0) { /* the test sees the failure */
			}
		}
		close(fd);
	}
	return NULL;
}

static struct broken *broken_start(int n, int hang)
{
	struct broken *b = calloc(1, sizeof(*b));
	b->n = n;
	b->hang = hang;
	b->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(b->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(b->lfd, 16), 0);
	socklen_t l = sizeof(a);
	getsockname(b->lfd, (struct sockaddr *)&a, &l);
	b->port = ntohs(a.sin_port);
	pthread_create(&b->t, NULL, broken_main, b);
	return b;
}

static void broken_free(struct broken *b)
{
	shutdown(b->lfd, SHUT_RDWR);
	close(b->lfd);
	pthread_join(b->t, NULL);
	free(b);
}

START_TEST(pod_dies_mid_answer_retried)
{
	struct broken *bad = broken_start(1, 0);
	struct pod *live = pod_start(1);
	struct aios_gw *g = gw_start();
	int port = aios_gw_port(g);
	add_service(g, "default", "mid", 10, 5000, 1 << 20);
	struct aios_gw_endpoint e[2] = {at(bad->port), at(aios_http_server_port(live->http))};
	aios_gw_set_endpoints(g, "default", "mid", e, 2);
	/* the first pick is the broken pod (ties start at index 0): half an answer, then
	 * closed; the request goes to the live pod and its client never sees the half */
	struct tc_resp r;
	tc_request(port, "POST", "/v1/models/mid:predict", "{\"instances\":[[4]]}", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"instances\":[[4]]}");
	tc_resp_free(&r);
	ck_assert_int_eq(live->hits, 1);
	aios_gw_free(g);
	pod_free(live);
	broken_free(bad);
}
END_TEST

START_TEST(silent_pod_504_not_a_hang)
{
	struct broken *mute = broken_start(1, 1);
	struct aios_gw_config c;
	aios_gw_config_defaults(&c);
	c.bind = "127.0.0.1";
	c.port = 0;
	c.proxy_threads = 2;
	c.upstream_timeout_ms = 500;
	struct aios_gw *g;
	ck_assert_int_eq(aios_gw_new(&c, &g), AIOS_OK);
	ck_assert_int_eq(aios_gw_start(g), AIOS_OK);
	add_service(g, "default", "mute", 10, 5000, 1 << 20);
	struct aios_gw_endpoint e = at(mute->port);
	aios_gw_set_endpoints(g, "default", "mute", &e, 1);
	struct tc_resp r;
	int64_t t0 = aios_now_ms();
	tc_request(aios_gw_port(g), "POST", "/v1/models/mute:predict", "{}", &r);
	ck_assert_int_eq(r.status, 504);
	ck_assert_ptr_nonnull(strstr(r.body, "did not answer within 500 ms"));
	ck_assert_int_lt(aios_now_ms() - t0, 2500);
	tc_resp_free(&r);
	aios_gw_free(g);
	broken_free(mute);
}
END_TEST

struct call {
	int port;
	const char *path;
	struct tc_resp r;
	int64_t ms;
};

static void *call_main(void *arg)
{
	struct call *c = arg;
	int64_t t0 = aios_now_ms();
	tc_request(c->port, "POST", c->path, "{\"instances\":[[2]]}", &c->r);
	c->ms = aios_now_ms() - t0;
	return NULL;
}

START_TEST(cold_start_held_then_forwarded)
{
	struct pod *p = pod_start(0);
	struct aios_gw *g = gw_start();
	int port = aios_gw_port(g);
	add_service(g, "default", "cold", 10, 5000, 1 << 20);
	struct call c[3];
	pthread_t t[3];
	for (int i = 0; i < 3; i++) {
		c[i] = (struct call){.port = port, .path = "/v1/models/cold:predict"};
		pthread_create(&t[i], NULL, call_main, &c[i]);
	}
	/* all three held, the operator told once */
	for (int i = 0;
	     i < 100 &&
	     metric(port, "aios_gateway_requests_queued{namespace=\"default\",service=\"cold\"} ") <
	         3;
	     i++)
		aios_sleep_ms(20);
	ck_assert_int_eq(
	    (int)metric(port,
	                "aios_gateway_requests_queued{namespace=\"default\",service=\"cold\"} "),
	    3);
	ck_assert_int_eq(g_demand, 1);
	struct aios_gw_stat *st;
	size_t n = aios_gw_stats(g, &st);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(st[0].queued, 3);
	ck_assert_int_eq((int)st[0].requests, 3);
	free(st);
	aios_sleep_ms(300);
	struct aios_gw_endpoint e = at(aios_http_server_port(p->http));
	aios_gw_set_endpoints(g, "default", "cold", &e, 1); /* the pod is ready */
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(c[i].r.status, 200);
		ck_assert_str_eq(c[i].r.body, "{\"instances\":[[2]]}");
		ck_assert_int_ge(c[i].ms, 250);
		tc_resp_free(&c[i].r);
	}
	ck_assert_int_eq(
	    (int)metric(
	        port,
	        "aios_gateway_cold_start_seconds_count{namespace=\"default\",service=\"cold\"} "),
	    1);
	ck_assert_int_eq(
	    (int)metric(port,
	                "aios_gateway_requests_queued{namespace=\"default\",service=\"cold\"} "),
	    0);
	aios_gw_free(g);
	pod_free(p);
}
END_TEST

START_TEST(cold_queue_full_and_timeout_503)
{
	struct aios_gw *g = gw_start();
	int port = aios_gw_port(g);
	add_service(g, "default", "slow", 1, 1000, 1 << 20);
	struct call c = {.port = port, .path = "/v1/models/slow:predict"};
	pthread_t t;
	pthread_create(&t, NULL, call_main, &c);
	for (int i = 0;
	     i < 100 &&
	     metric(port, "aios_gateway_requests_queued{namespace=\"default\",service=\"slow\"} ") <
	         1;
	     i++)
		aios_sleep_ms(10);
	struct tc_resp r;
	tc_request(port, "POST", "/v1/models/slow:predict", "{}", &r); /* the queue holds one */
	ck_assert_int_eq(r.status, 503);
	char v[32];
	ck_assert_int_eq(tc_header(&r, "Retry-After", v, sizeof(v)), 1);
	ck_assert_str_eq(v, "1");
	ck_assert_ptr_nonnull(strstr(r.body, "coldStartQueueSize"));
	tc_resp_free(&r);
	pthread_join(t, NULL); /* the held one times out after 1 s */
	ck_assert_int_eq(c.r.status, 503);
	ck_assert_int_ge(c.ms, 900);
	ck_assert_int_lt(c.ms, 3000);
	ck_assert_int_eq(tc_header(&c.r, "Retry-After", v, sizeof(v)), 1);
	ck_assert_ptr_nonnull(strstr(c.r.body, "no pod became ready within 1 s"));
	tc_resp_free(&c.r);
	ck_assert_int_eq((int)metric(port, "aios_gateway_queue_rejections_total{namespace="
	                                   "\"default\",service=\"slow\",reason=\"full\"} "),
	                 1);
	ck_assert_int_eq((int)metric(port, "aios_gateway_queue_rejections_total{namespace="
	                                   "\"default\",service=\"slow\",reason=\"timeout\"} "),
	                 1);
	aios_gw_free(g);
}
END_TEST

START_TEST(stop_answers_held_requests)
{
	struct aios_gw *g = gw_start();
	int port = aios_gw_port(g);
	add_service(g, "default", "idle", 10, 30000, 1 << 20);
	struct call c = {.port = port, .path = "/v1/models/idle:predict"};
	pthread_t t;
	pthread_create(&t, NULL, call_main, &c);
	for (int i = 0;
	     i < 100 &&
	     metric(port, "aios_gateway_requests_queued{namespace=\"default\",service=\"idle\"} ") <
	         1;
	     i++)
		aios_sleep_ms(10);
	int64_t t0 = aios_now_ms();
	aios_gw_stop(g, 2000);
	ck_assert_int_lt(aios_now_ms() - t0, 3000);
	pthread_join(t, NULL);
	ck_assert_int_eq(c.r.status, 503);
	tc_resp_free(&c.r);
	aios_gw_free(g);
}
END_TEST

/* A pod whose server is up before its Endpoints say ready gets the held requests at once:
 * the gateway probes not-ready pods itself; one that refuses is skipped; a pod found
 * ready stays routable through an Endpoints update that still lists it not ready; with
 * no not-ready pod left, requests are held until their timeout (503). */
START_TEST(cold_start_probes_not_ready_pods)
{
	struct pod *p = pod_start(0);
	int dead = dead_port();
	struct aios_gw *g = gw_start();
	int port = aios_gw_port(g);
	add_service(g, "default", "warm", 10, 1500, 1 << 20);
	struct aios_gw_endpoint u[2] = {at(dead), at(aios_http_server_port(p->http))};
	aios_gw_set_unready(g, "default", "warm", u, 2);
	aios_gw_set_endpoints(g, "default", "warm", NULL, 0);

	struct call c = {.port = port, .path = "/v1/models/warm:predict"};
	call_main(&c); /* the Endpoints never say ready: only the probe can answer this */
	ck_assert_int_eq(c.r.status, 200);
	ck_assert_str_eq(c.r.body, "{\"instances\":[[2]]}");
	ck_assert_int_lt(c.ms, 1000);
	tc_resp_free(&c.r);
	ck_assert_int_eq(
	    (int)metric(
	        port,
	        "aios_gateway_cold_start_seconds_count{namespace=\"default\",service=\"warm\"} "),
	    1);

	/* an Endpoints update that still lists the pod not ready: it stays routable */
	aios_gw_set_unready(g, "default", "warm", u, 2);
	aios_gw_set_endpoints(g, "default", "warm", NULL, 0);
	int hits = __atomic_load_n(&p->hits, __ATOMIC_SEQ_CST);
	call_main(&c);
	ck_assert_int_eq(c.r.status, 200);
	ck_assert_int_lt(c.ms, 500);
	tc_resp_free(&c.r);
	ck_assert_int_eq(__atomic_load_n(&p->hits, __ATOMIC_SEQ_CST), hits + 1); /* no probe */

	/* the pod is gone and the one left refuses: held until the timeout */
	aios_gw_set_unready(g, "default", "warm", u, 1);
	aios_gw_set_endpoints(g, "default", "warm", NULL, 0);
	call_main(&c);
	ck_assert_int_eq(c.r.status, 503);
	ck_assert_int_ge(c.ms, 1400);
	tc_resp_free(&c.r);
	aios_gw_free(g);
	pod_free(p);
}
END_TEST

static Suite *gateway_suite(void)
{
	Suite *s = suite_create("gateway");
	TCase *t = tcase_create("loopback");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, unknown_model_404);
	tcase_add_test(t, routes_body_untouched);
	tcase_add_test(t, over_the_cap_413);
	tcase_add_test(t, balances_over_pods);
	tcase_add_test(t, dead_pod_retried_or_502);
	tcase_add_test(t, pod_dies_mid_answer_retried);
	tcase_add_test(t, silent_pod_504_not_a_hang);
	tcase_add_test(t, cold_start_held_then_forwarded);
	tcase_add_test(t, cold_queue_full_and_timeout_503);
	tcase_add_test(t, cold_start_probes_not_ready_pods);
	tcase_add_test(t, stop_answers_held_requests);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(gateway_suite)
