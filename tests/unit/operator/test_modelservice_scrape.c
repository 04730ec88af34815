/*
 * test_modelservice_scrape.c - the /metrics parser (on a page rendered by the real
 * registry, as aios-serve declares it), the quantile, and the concurrent scraper
 * against loopback servers: fast, slow, failing and absent pods in one round.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "http/http.h"
#include "http/metrics.h"
#include "operator/scrape.h"

/* A registry shaped like aios-serve's (src/serve/server.c). */
static struct aios_metrics *serve_registry(double in_flight, int predicts)
{
	struct aios_metrics *r = aios_metrics_new();
	struct aios_metric *req =
	    aios_metrics_counter(r, "aios_serve_requests_total", "h", "endpoint", "code", NULL);
	struct aios_metric *dur = aios_metrics_histogram(
	    r, "aios_serve_request_duration_seconds", "h", aios_metrics_latency_buckets,
	    aios_metrics_latency_buckets_n, "endpoint", NULL);
	for (int i = 0; i < predicts; i++) {
		aios_counter_inc(aios_metric_with(req, "v1_predict", "200"));
		aios_histogram_observe(aios_metric_with(dur, "v1_predict"),
		                       i < predicts / 2 ? 0.002 : 0.02);
	}
	aios_counter_add(aios_metric_with(req, "v2_infer", "400"), 5);
	aios_counter_add(aios_metric_with(req, "v2_infer", "503"), 3);
	aios_counter_add(aios_metric_with(req, "metrics", "500"), 50);   /* overhead: ignored */
	aios_counter_add(aios_metric_with(req, "metrics", "200"), 1000); /* overhead: ignored */
	aios_counter_add(aios_metric_with(req, "v2_ready", "200"), 1000);
	aios_histogram_observe(aios_metric_with(dur, "metrics"), 5.0);
	aios_gauge_set(
	    aios_metric_with(aios_metrics_gauge(r, "aios_serve_requests_in_flight", "h", NULL)),
	    in_flight);
	return r;
}

START_TEST(parses_a_serve_page)
{
	struct aios_metrics *r = serve_registry(7, 100);
	struct aios_buf b;
	aios_buf_init(&b, AIOS_CAP_METRICS_PAGE);
	ck_assert_int_eq(aios_metrics_render(r, &b), AIOS_OK);
	struct aios_scrape_page pg;
	ck_assert_int_eq(aios_scrape_parse(b.data, b.len, &pg), AIOS_OK);
	ck_assert(pg.have_in_flight && pg.have_requests && pg.have_latency);
	ck_assert_double_eq(pg.in_flight, 7);
	ck_assert_double_eq(pg.requests, 108); /* predict + infer, not metrics or probes */
	ck_assert_double_eq(pg.errors, 3);     /* 5xx only: a 400 is the client's */
	ck_assert_int_eq(pg.n_buckets, aios_metrics_latency_buckets_n + 1);
	ck_assert(pg.le[pg.n_buckets - 1] > 1e300); /* +Inf */
	ck_assert_double_eq(pg.count[pg.n_buckets - 1], 100);
	double p50 = aios_scrape_quantile(pg.le, pg.count, pg.n_buckets, 0.5);
	double p99 = aios_scrape_quantile(pg.le, pg.count, pg.n_buckets, 0.99);
	ck_assert_msg(p50 > 0.001 && p50 <= 0.0025, "p50 %g", p50);
	ck_assert_msg(p99 > 0.01 && p99 <= 0.025, "p99 %g", p99);
	aios_buf_cleanup(&b);
	aios_metrics_free(r);
}
END_TEST

START_TEST(rejects_bad_pages)
{
	struct aios_scrape_page pg;
	const char *other = "# HELP x y\nprocess_cpu_seconds_total 3\n";
	ck_assert_int_eq(aios_scrape_parse(other, strlen(other), &pg), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "aios_serve_requests_in_flight"));
	const char *bad =
	    "aios_serve_requests_in_flight 1\naios_serve_requests_total{endpoint=\"a\" 3\n";
	ck_assert_int_eq(aios_scrape_parse(bad, strlen(bad), &pg), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "line 2"));
	const char *nan = "aios_serve_requests_in_flight NaN\n";
	ck_assert_int_eq(aios_scrape_parse(nan, strlen(nan), &pg), AIOS_ERR_INVALID);
	/* CRLF line ends and an optional timestamp after the value are fine. */
	const char *ok =
	    "aios_serve_requests_in_flight 2\r\naios_serve_requests_total 9 1700000000\r\n";
	ck_assert_int_eq(aios_scrape_parse(ok, strlen(ok), &pg), AIOS_OK);
	ck_assert_double_eq(pg.requests, 9);
	ck_assert_double_eq(pg.in_flight, 2);
}
END_TEST

START_TEST(quantile_edges)
{
	double le[] = {0.1, 0.2, 1.0 / 0.0};
	double none[] = {0, 0, 0};
	ck_assert_double_eq(aios_scrape_quantile(le, none, 3, 0.99), -1);
	double all_first[] = {10, 10, 10};
	ck_assert_double_eq_tol(aios_scrape_quantile(le, all_first, 3, 0.5), 0.05, 1e-12);
	double overflow[] = {0, 0, 10};
	ck_assert_double_eq(aios_scrape_quantile(le, overflow, 3, 0.99), 0.2);
}
END_TEST

/* ---- loopback pods ---- */

/* Timings stretch under valgrind (scripts/valgrind-tests.sh sets AIOS_UNDER_VALGRIND). */
static int slowdown(void)
{
	return getenv("AIOS_UNDER_VALGRIND") ? 10 : 1;
}

static void page_handler(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	const char *mode = ud;
	if (strcmp(mode, "slow") == 0)
		usleep((useconds_t)(2000 * 1000 * slowdown()));
	if (strcmp(mode, "error") == 0) {
		aios_http_resp_error(resp, 500, "boom");
		return;
	}
	resp->content_type = "text/plain; version=0.0.4";
	if (aios_buf_puts(&resp->body, "aios_serve_requests_in_flight 3\naios_serve_requests_total"
	                               "{endpoint=\"v1_predict\",code=\"200\"} 42\n"))
		resp->status = 500;
}

static struct aios_http_server *pod_server(const char *mode)
{
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = 0;
	c.threads = 1;
	c.name = mode;
	struct aios_http_server *s = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(s, "GET", "/metrics", page_handler, (void *)mode),
	                 AIOS_OK);
	ck_assert_int_eq(aios_http_server_start(s), AIOS_OK);
	return s;
}

START_TEST(one_round_is_bounded_by_the_timeout)
{
	struct aios_http_server *fast = pod_server("fast"), *slow = pod_server("slow"),
	                        *err = pod_server("error");
	char u[5][64];
	snprintf(u[0], sizeof(u[0]), "http://127.0.0.1:%d/metrics", aios_http_server_port(fast));
	snprintf(u[1], sizeof(u[1]), "http://127.0.0.1:%d/metrics", aios_http_server_port(slow));
	snprintf(u[2], sizeof(u[2]), "http://127.0.0.1:%d/metrics", aios_http_server_port(err));
	snprintf(u[3], sizeof(u[3]), "http://127.0.0.1:1/metrics"); /* nobody listens */
	snprintf(u[4], sizeof(u[4]), "http://127.0.0.1:%d/metrics", aios_http_server_port(fast));
	const char *urls[5] = {u[0], u[1], u[2], u[3], u[4]};
	struct aios_scrape_result res[5];
	/* 2 at once: the queue is exercised */
	struct aios_scraper *sc = aios_scraper_new(2, 600 * slowdown());
	int64_t t0 = aios_now_ms();
	aios_scraper_run(sc, urls, 5, res);
	int64_t took = aios_now_ms() - t0;
	ck_assert(res[0].ok);
	ck_assert_double_eq(res[0].page.in_flight, 3);
	ck_assert_double_eq(res[0].page.requests, 42);
	ck_assert(!res[1].ok);
	ck_assert_ptr_nonnull(strstr(res[1].error, "imeout"));
	ck_assert(!res[2].ok);
	ck_assert_str_eq(res[2].error, "HTTP 500");
	ck_assert(!res[3].ok);
	ck_assert(res[4].ok);
	/* The slow pod cost its own 600 ms, not 2 s, and delayed no one else much (the
	 * margins leave room for a loaded machine: a round bounded by the slow pod would
	 * take over 2 s). */
	ck_assert_msg(took < 1600 * slowdown(), "round took %lld ms", (long long)took);
	/* A second round reuses the scraper. */
	aios_scraper_run(sc, urls, 1, res);
	ck_assert(res[0].ok);
	aios_scraper_free(sc);
	aios_http_server_free(fast);
	aios_http_server_free(slow);
	aios_http_server_free(err);
}
END_TEST

static Suite *scrape_suite(void)
{
	Suite *s = suite_create("modelservice_scrape");
	TCase *tc = tcase_create("scrape");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, parses_a_serve_page);
	tcase_add_test(tc, rejects_bad_pages);
	tcase_add_test(tc, quantile_edges);
	tcase_add_test(tc, one_round_is_bounded_by_the_timeout);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(scrape_suite)
