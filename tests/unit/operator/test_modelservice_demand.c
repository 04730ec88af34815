/*
 * test_modelservice_demand.c - the gateways' demand stream: the operator's table
 * (rates from counters, staleness, forgetting, bad messages) and both WebSocket ends
 * on loopback: aios-gateway's client (src/gateway/stats.h) and the operator's server
 * (src/operator/modelservice_demand.h); a held request reaches the operator at once.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/clock.h"
#include "gateway/gateway.h"
#include "gateway/stats.h"
#include "operator/modelservice_demand.h"
#include "support/http_client.h"
#include "support/ports.h"

static enum aios_err put(struct aios_ms_demand_table *t, const char *msg, int64_t now, int *wake)
{
	return aios_ms_demand_table_update(t, msg, strlen(msg), now, wake);
}

START_TEST(table_rates_and_sums)
{
	struct aios_ms_demand_table *t = aios_ms_demand_table_new();
	struct aios_ms_demand d;
	aios_ms_demand_table_get(t, "ns", "a", 1000, &d);
	ck_assert_int_eq(d.have, 0); /* no gateway: no data */
	int wake = -1;
	ck_assert_int_eq(put(t,
	                     "{\"gateway\":\"g1\",\"services\":[{\"namespace\":\"ns\","
	                     "\"name\":\"a\",\"queued\":0,\"inFlight\":2,\"requests\":100}]}",
	                     1000, &wake),
	                 AIOS_OK);
	ck_assert_int_eq(wake, 0);
	ck_assert_int_eq(put(t,
	                     "{\"gateway\":\"g1\",\"services\":[{\"namespace\":\"ns\","
	                     "\"name\":\"a\",\"queued\":0,\"inFlight\":1,\"requests\":150}]}",
	                     2000, &wake),
	                 AIOS_OK);
	ck_assert_int_eq(put(t,
	                     "{\"gateway\":\"g2\",\"services\":[{\"namespace\":\"ns\","
	                     "\"name\":\"a\",\"queued\":3,\"inFlight\":0,\"requests\":7}]}",
	                     2000, &wake),
	                 AIOS_OK);
	ck_assert_int_eq(wake, 1); /* requests held: the autoscaler is woken */
	aios_ms_demand_table_get(t, "ns", "a", 2500, &d);
	ck_assert_int_eq(d.have, 1);
	ck_assert_double_eq_tol(d.rps, 50, 1e-9); /* g1: 50 requests in 1 s; g2: first word */
	ck_assert_double_eq(d.queued, 3);
	ck_assert_double_eq(d.in_flight, 1);
	aios_ms_demand_table_get(t, "ns", "other", 2500, &d);
	ck_assert_int_eq(d.have, 1);
	ck_assert_double_eq(d.queued, 0);
	/* g2 silent past the stale limit: incomplete; past the forget limit: gone */
	ck_assert_int_eq(
	    put(t, "{\"gateway\":\"g1\",\"services\":[]}", 2000 + AIOS_MS_DEMAND_STALE_MS, NULL),
	    AIOS_OK);
	aios_ms_demand_table_get(t, "ns", "a", 2001 + AIOS_MS_DEMAND_STALE_MS, &d);
	ck_assert_int_eq(d.have, 0);
	ck_assert_int_eq(
	    put(t, "{\"gateway\":\"g1\",\"services\":[]}", 2001 + AIOS_MS_DEMAND_FORGET_MS, NULL),
	    AIOS_OK);
	aios_ms_demand_table_get(t, "ns", "a", 2001 + AIOS_MS_DEMAND_FORGET_MS, &d);
	ck_assert_int_eq(d.have, 1); /* only g1 is left, and it is current */
	ck_assert_double_eq(d.queued, 0);
	/* bad messages are refused with a reason */
	ck_assert_int_eq(put(t, "{\"services\":[]}", 1, NULL), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "\"gateway\""));
	ck_assert_int_ne(put(t, "not json", 1, NULL), AIOS_OK);
	aios_ms_demand_table_free(t);
}
END_TEST

static int g_woken;
static void wake(void *ud)
{
	__atomic_add_fetch(&g_woken, 1, __ATOMIC_SEQ_CST);
}

static void *held_request(void *arg)
{
	int port = *(int *)arg;
	struct tc_resp r;
	tc_request(port, "POST", "/namespaces/ns/v1/models/zero:predict", "{\"instances\":[[1]]}",
	           &r);
	tc_resp_free(&r);
	return NULL;
}

START_TEST(gateway_streams_to_operator)
{
	int port = aios_test_free_port();
	char bind[32], url[64];
	snprintf(bind, sizeof(bind), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/", port);
	struct aios_ms_demand_table *t = aios_ms_demand_table_new();
	struct aios_ms_demand_server *srv = aios_ms_demand_server_start(bind, t, wake, NULL);
	ck_assert_ptr_nonnull(srv);

	struct aios_gw_config c;
	aios_gw_config_defaults(&c);
	c.bind = "127.0.0.1";
	c.port = 0;
	c.proxy_threads = 2;
	struct aios_gw *g;
	ck_assert_int_eq(aios_gw_new(&c, &g), AIOS_OK);
	struct aios_gw_stats_client *st;
	ck_assert_int_eq(aios_gw_stats_start(g, url, "gw-test", &st), AIOS_OK);
	ck_assert_int_eq(aios_gw_start(g), AIOS_OK);
	struct aios_gw_service_params p = {.min_replicas = 0,
	                                   .queue_size = 4,
	                                   .queue_timeout_ms = 1500,
	                                   .max_request_bytes = 1 << 20,
	                                   .desired = 0};
	aios_gw_set_service(g, "ns", "zero", &p);
	/* the periodic message arrives: the operator has data, no demand */
	struct aios_ms_demand d = {0};
	for (int i = 0; i < 100 && !d.have; i++) {
		aios_sleep_ms(30);
		aios_ms_demand_table_get(t, "ns", "zero", aios_now_ms(), &d);
	}
	ck_assert_int_eq(d.have, 1);
	ck_assert_double_eq(d.queued, 0);
	ck_assert_int_eq(aios_gw_stats_connected(st), 1);
	/* and keeps arriving once a second: past the stale limit the data is still current */
	aios_sleep_ms(AIOS_MS_DEMAND_STALE_MS + 500);
	aios_ms_demand_table_get(t, "ns", "zero", aios_now_ms(), &d);
	ck_assert_msg(d.have, "no message from the gateway for %d ms", AIOS_MS_DEMAND_STALE_MS);
	/* a request held: the operator knows well before the next periodic message */
	int gport = aios_gw_port(g);
	pthread_t th;
	int64_t t0 = aios_now_ms();
	pthread_create(&th, NULL, held_request, &gport);
	while (!__atomic_load_n(&g_woken, __ATOMIC_SEQ_CST) && aios_now_ms() - t0 < 3000)
		aios_sleep_ms(2);
	int64_t told_ms = aios_now_ms() - t0;
	ck_assert_int_ge(g_woken, 1);
	aios_ms_demand_table_get(t, "ns", "zero", aios_now_ms(), &d);
	ck_assert_double_eq(d.queued, 1);
	printf("demand stream: the operator heard of a held request after %lld ms\n",
	       (long long)told_ms);
	ck_assert_int_lt(told_ms, 500);
	pthread_join(th, NULL); /* it times out: no pod in this test */
	aios_gw_stop(g, 1000);
	aios_gw_stats_stop(st);
	aios_gw_free(g);
	aios_ms_demand_server_stop(srv);
	aios_ms_demand_table_free(t);
}
END_TEST

static Suite *demand_suite(void)
{
	Suite *s = suite_create("modelservice_demand");
	TCase *t = tcase_create("demand");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, table_rates_and_sums);
	tcase_add_test(t, gateway_streams_to_operator);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(demand_suite)
