/* test_route.c - aios-gateway's pure parts: targets, least-outstanding picks, endpoint
 * sets, the ModelService settings and the cold-start queue (src/gateway/route.h). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "common/err.h"
#include "common/json.h"
#include "gateway/route.h"

/* ---------------------------------------------------------------- targets */

START_TEST(target_v1_v2_paths)
{
	struct aios_gw_target t;
	ck_assert_int_eq(aios_gw_parse_target("/v1/models/iris:predict", NULL, "default", &t),
	                 AIOS_OK);
	ck_assert_str_eq(t.ns, "default");
	ck_assert_str_eq(t.name, "iris");
	ck_assert_str_eq(t.path, "/v1/models/iris:predict");
	ck_assert_int_eq(aios_gw_parse_target("/v1/models/iris", NULL, "d", &t), AIOS_OK);
	ck_assert_str_eq(t.name, "iris");
	ck_assert_int_eq(aios_gw_parse_target("/v2/models/iris/infer", NULL, "d", &t), AIOS_OK);
	ck_assert_str_eq(t.name, "iris");
	ck_assert_str_eq(t.path, "/v2/models/iris/infer");
	ck_assert_int_eq(aios_gw_parse_target("/v2/models/iris/ready", NULL, "d", &t), AIOS_OK);
	ck_assert_int_eq(aios_gw_parse_target("/v2/models/iris", NULL, "d", &t), AIOS_OK);
	ck_assert_int_eq(aios_gw_parse_target("/v2/models/iris/versions/1/infer", NULL, "d", &t),
	                 AIOS_OK);
	ck_assert_str_eq(t.name, "iris");
}
END_TEST

START_TEST(target_namespace_prefix_and_host)
{
	struct aios_gw_target t;
	ck_assert_int_eq(
	    aios_gw_parse_target("/namespaces/team-a/v2/models/iris/infer", "x.y", "default", &t),
	    AIOS_OK);
	ck_assert_str_eq(t.ns, "team-a");
	ck_assert_str_eq(t.name, "iris");
	ck_assert_str_eq(t.path, "/v2/models/iris/infer"); /* the prefix is not sent on */
	/* Host NAME.NS.domain:port, the first label being the model's name */
	ck_assert_int_eq(aios_gw_parse_target("/v1/models/iris:predict",
	                                      "iris.Team-B.models.example.com:8080", "d", &t),
	                 AIOS_OK);
	ck_assert_str_eq(t.ns, "team-b");
	ck_assert_int_eq(aios_gw_parse_target("/v1/models/iris:predict", "iris.prod", "d", &t),
	                 AIOS_OK);
	ck_assert_str_eq(t.ns, "prod");
	/* a Host naming another model, or none: the default namespace */
	ck_assert_int_eq(
	    aios_gw_parse_target("/v1/models/iris:predict", "gateway.aios-system.svc", "d", &t),
	    AIOS_OK);
	ck_assert_str_eq(t.ns, "d");
	ck_assert_int_eq(aios_gw_parse_target("/v1/models/iris:predict", "iris", "d", &t), AIOS_OK);
	ck_assert_str_eq(t.ns, "d");
	/* the prefix wins over the Host */
	ck_assert_int_eq(
	    aios_gw_parse_target("/namespaces/a/v1/models/iris:predict", "iris.b", "d", &t),
	    AIOS_OK);
	ck_assert_str_eq(t.ns, "a");
}
END_TEST

START_TEST(target_refusals)
{
	struct aios_gw_target t;
	ck_assert_int_eq(aios_gw_parse_target("/", NULL, "d", &t), AIOS_ERR_NOT_FOUND);
	ck_assert_int_eq(aios_gw_parse_target("/v1/models/", NULL, "d", &t), AIOS_ERR_NOT_FOUND);
	ck_assert_int_eq(aios_gw_parse_target("/v2/models//infer", NULL, "d", &t),
	                 AIOS_ERR_NOT_FOUND);
	ck_assert_int_eq(aios_gw_parse_target("/v1/models/a/b", NULL, "d", &t), AIOS_ERR_NOT_FOUND);
	ck_assert_int_eq(aios_gw_parse_target("/namespaces/a", NULL, "d", &t), AIOS_ERR_NOT_FOUND);
	ck_assert_int_eq(aios_gw_parse_target("/v1/models/Iris:predict", NULL, "d", &t),
	                 AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "\"Iris\" is not a DNS label"));
	ck_assert_int_eq(aios_gw_parse_target("/v1/models/a%2Fb:predict", NULL, "d", &t),
	                 AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_gw_parse_target("/namespaces/A_B/v1/models/x", NULL, "d", &t),
	                 AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "namespace \"A_B\""));
	char long_name[200];
	memset(long_name, 'a', sizeof(long_name));
	memcpy(long_name, "/v2/models/", 11);
	long_name[11 + 64] = 0; /* 64 characters: one past a label */
	ck_assert_int_eq(aios_gw_parse_target(long_name, NULL, "d", &t), AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_gw_is_label("a-b", 3, 63), 1);
	ck_assert_int_eq(aios_gw_is_label("-ab", 3, 63), 0);
	ck_assert_int_eq(aios_gw_is_label("ab-", 3, 63), 0);
	ck_assert_int_eq(aios_gw_is_label("", 0, 63), 0);
}
END_TEST

/* ---------------------------------------------------------------- picks */

static void ep(struct aios_gw_endpoint *e, const char *addr, int port, int out)
{
	memset(e, 0, sizeof(*e));
	strncpy(e->addr, addr, sizeof(e->addr) - 1);
	e->port = port;
	e->outstanding = out;
}

START_TEST(pick_least_outstanding)
{
	struct aios_gw_endpoint e[3];
	ep(&e[0], "10.0.0.1", 8080, 3);
	ep(&e[1], "10.0.0.2", 8080, 1);
	ep(&e[2], "10.0.0.3", 8080, 2);
	unsigned rr = 0;
	ck_assert_int_eq(aios_gw_pick(e, 3, -1, &rr), 1);
	ck_assert_int_eq(aios_gw_pick(e, 3, 1, &rr), 2); /* the failed one excluded */
	ck_assert_int_eq(aios_gw_pick(e, 0, -1, &rr), -1);
	ck_assert_int_eq(aios_gw_pick(e, 1, 0, &rr), -1); /* the only pod excluded */
}
END_TEST

START_TEST(pick_ties_take_turns)
{
	struct aios_gw_endpoint e[3];
	ep(&e[0], "10.0.0.1", 8080, 0);
	ep(&e[1], "10.0.0.2", 8080, 0);
	ep(&e[2], "10.0.0.3", 8080, 0);
	unsigned rr = 0;
	int seen[3] = {0};
	for (int i = 0; i < 9; i++)
		seen[aios_gw_pick(e, 3, -1, &rr)]++;
	ck_assert_int_eq(seen[0], 3);
	ck_assert_int_eq(seen[1], 3);
	ck_assert_int_eq(seen[2], 3);
	/* counting as the gateway does: each pick adds one outstanding; all stay even */
	rr = 0;
	for (int i = 0; i < 30; i++)
		e[aios_gw_pick(e, 3, -1, &rr)].outstanding++;
	ck_assert_int_eq(e[0].outstanding, 10);
	ck_assert_int_eq(e[1].outstanding, 10);
	ck_assert_int_eq(e[2].outstanding, 10);
	/* a slow pod (answers nothing) gets no more than one more than the others */
	for (int i = 0; i < 3; i++)
		e[i].outstanding = 0;
	for (int i = 0; i < 100; i++) {
		int k = aios_gw_pick(e, 3, -1, &rr);
		e[k].outstanding++;
		if (k != 0)
			e[k].outstanding--; /* pods 1 and 2 answer at once */
	}
	ck_assert_int_le(e[0].outstanding, 1);
}
END_TEST

START_TEST(merge_keeps_counts)
{
	struct aios_gw_endpoint cur[4], fresh[3];
	size_t n = 2;
	ep(&cur[0], "10.0.0.1", 8080, 5);
	ep(&cur[1], "10.0.0.2", 8080, 2);
	ep(&fresh[0], "10.0.0.2", 8080, 0);
	ep(&fresh[1], "10.0.0.3", 8080, 0);
	ep(&fresh[2], "10.0.0.1", 9090, 0); /* another port: another endpoint */
	ck_assert_uint_eq(aios_gw_endpoints_merge(cur, &n, 4, fresh, 3), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(cur[0].addr, "10.0.0.2");
	ck_assert_int_eq(cur[0].outstanding, 2);
	ck_assert_int_eq(cur[1].outstanding, 0);
	ck_assert_int_eq(cur[2].outstanding, 0);
	ck_assert_uint_eq(aios_gw_endpoints_merge(cur, &n, 2, fresh, 3), 1); /* cap */
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(aios_gw_endpoints_merge(cur, &n, 4, NULL, 0), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(endpoints_ready_addresses_only)
{
	struct json_object *o;
	const char *txt =
	    "{\"metadata\":{\"name\":\"iris\"},\"subsets\":["
	    "{\"addresses\":[{\"ip\":\"10.244.0.5\",\"targetRef\":{\"kind\":\"Pod\","
	    "\"name\":\"iris-0123abcd45-0\"}},{\"ip\":\"10.244.0.6\"}],"
	    " \"notReadyAddresses\":[{\"ip\":\"10.244.0.7\"}],"
	    " \"ports\":[{\"name\":\"metrics\",\"port\":9090,\"protocol\":\"TCP\"},"
	    "            {\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]},"
	    "{\"addresses\":[{\"ip\":\"10.244.0.8\"}],\"ports\":[{\"port\":8081}]},"
	    "{\"notReadyAddresses\":[{\"ip\":\"10.244.0.9\"}],\"ports\":[{\"port\":8080}]}]}";
	ck_assert_int_eq(aios_json_parse(txt, strlen(txt), "endpoints", &o), AIOS_OK);
	struct aios_gw_endpoint e[8];
	size_t n = aios_gw_endpoints_from_json(o, e, 8);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(e[0].addr, "10.244.0.5");
	ck_assert_int_eq(e[0].port, 8080);
	ck_assert_str_eq(e[2].addr, "10.244.0.8");
	ck_assert_int_eq(e[2].port, 8081);
	ck_assert_str_eq(e[0].pod, "iris-0123abcd45-0");
	ck_assert_str_eq(e[1].pod, "");
	ck_assert_uint_eq(aios_gw_endpoints_from_json(o, e, 1), 1);
	json_object_put(o);
	ck_assert_int_eq(aios_json_parse("{}", 2, "empty", &o), AIOS_OK);
	ck_assert_uint_eq(aios_gw_endpoints_from_json(o, e, 8), 0);
	json_object_put(o);
}
END_TEST

START_TEST(service_params_and_defaults)
{
	struct json_object *o;
	const char *txt =
	    "{\"spec\":{\"replicas\":{\"min\":0},\"runtime\":{\"maxRequestBytes\":4096},"
	    "\"autoscaling\":{\"coldStartQueueSize\":5,\"coldStartTimeoutSeconds\":7}},"
	    "\"status\":{\"desiredReplicas\":0}}";
	ck_assert_int_eq(aios_json_parse(txt, strlen(txt), "ms", &o), AIOS_OK);
	struct aios_gw_service_params p;
	aios_gw_service_params(o, &p);
	ck_assert_int_eq(p.min_replicas, 0);
	ck_assert_int_eq(p.queue_size, 5);
	ck_assert_int_eq(p.queue_timeout_ms, 7000);
	ck_assert_int_eq(p.max_request_bytes, 4096);
	ck_assert_int_eq(p.desired, 0);
	json_object_put(o);
	ck_assert_int_eq(aios_json_parse("{\"spec\":{}}", 11, "ms", &o), AIOS_OK);
	aios_gw_service_params(o, &p);
	ck_assert_int_eq(p.min_replicas, 1);
	ck_assert_int_eq(p.queue_size, AIOS_GW_DEFAULT_QUEUE_SIZE);
	ck_assert_int_eq(p.queue_timeout_ms, AIOS_GW_DEFAULT_QUEUE_TIMEOUT_S * 1000);
	ck_assert_int_eq(p.max_request_bytes, AIOS_GW_DEFAULT_MAX_REQUEST);
	ck_assert_int_eq(p.desired, -1);
	json_object_put(o);
}
END_TEST

/* ---------------------------------------------------------------- the canary split */

START_TEST(split_is_exact_per_hundred)
{
	unsigned acc = 0;
	int run = 0, max_run = 0, canary = 0;
	for (int i = 0; i < 2000; i++) {
		int c = aios_gw_split(20, &acc);
		canary += c;
		run = c ? 0 : run + 1;
		max_run = run > max_run ? run : max_run;
	}
	ck_assert_int_eq(canary, 400);
	ck_assert_int_le(max_run, 4); /* spread evenly: a canary request every 5th */
	for (int w = 0; w <= 100; w += 7) {
		acc = 0;
		canary = 0;
		for (int i = 0; i < 100; i++)
			canary += aios_gw_split(w, &acc);
		ck_assert_int_eq(canary, w);
	}
	ck_assert_int_eq(aios_gw_split(100, &acc), 1);
	ck_assert_int_eq(aios_gw_split(0, &acc), 0);
}
END_TEST

/* Three stable pods and one canary pod of revision 0123abcd45 of service "iris". */
static void split_set(struct aios_gw_endpoint e[4])
{
	for (int i = 0; i < 4; i++) {
		char ip[16];
		snprintf(ip, sizeof(ip), "10.0.0.%d", i + 1);
		ep(&e[i], ip, 8080, 0);
		snprintf(e[i].pod, sizeof(e[i].pod), "iris-%s-%d",
		         i < 3 ? "ffffeeee00" : "0123abcd45", i);
	}
	aios_gw_mark_canary(e, 4, "0123abcd45");
}

START_TEST(mark_canary_by_revision)
{
	struct aios_gw_endpoint e[4];
	split_set(e);
	ck_assert_int_eq(e[0].canary + e[1].canary + e[2].canary, 0);
	ck_assert_int_eq(e[3].canary, 1);
	/* a revision that only ends the same, or no revision at all, marks nothing */
	aios_gw_mark_canary(e, 4, "23abcd45");
	ck_assert_int_eq(e[3].canary, 0);
	aios_gw_mark_canary(e, 4, "");
	ck_assert_int_eq(e[3].canary, 0);
	e[0].pod[0] = 0; /* no targetRef */
	aios_gw_mark_canary(e, 4, "0123abcd45");
	ck_assert_int_eq(e[0].canary, 0);
}
END_TEST

START_TEST(weighted_pick_splits_2000_requests)
{
	struct aios_gw_endpoint e[4];
	split_set(e);
	int weights[] = {20, 5, 50, 100};
	for (size_t w = 0; w < sizeof(weights) / sizeof(weights[0]); w++) {
		unsigned acc = 0, rr[2] = {0, 0};
		int hits[4] = {0};
		for (int i = 0; i < 2000; i++) {
			int k = aios_gw_pick_weighted(e, 4, -1, weights[w], &acc, rr);
			ck_assert_int_ge(k, 0);
			hits[k]++;
		}
		/* within 5 % of 2000 of the weight (the split is exact here) */
		int want = 2000 * weights[w] / 100;
		ck_assert_int_ge(hits[3], want - 100);
		ck_assert_int_le(hits[3], want + 100);
		ck_assert_int_eq(hits[3], want);
		/* the stable side still takes turns among its pods */
		if (weights[w] < 100)
			for (int k = 0; k < 3; k++)
				ck_assert_int_ge(hits[k], (2000 - want) / 3);
	}
}
END_TEST

START_TEST(weighted_pick_edges)
{
	struct aios_gw_endpoint e[4];
	split_set(e);
	unsigned acc = 0, rr[2] = {0, 0};
	/* weight 0 (rolled back): never the canary, even when it alone is left */
	for (int i = 0; i < 50; i++)
		ck_assert_int_ne(aios_gw_pick_weighted(e, 4, -1, 0, &acc, rr), 3);
	ck_assert_int_eq(aios_gw_pick_weighted(&e[3], 1, -1, 0, &acc, rr), -1);
	/* no split: the canary pod is one pod among the others (least outstanding) */
	e[0].outstanding = e[1].outstanding = e[2].outstanding = 5;
	ck_assert_int_eq(aios_gw_pick_weighted(e, 4, -1, -1, &acc, rr), 3);
	e[0].outstanding = e[1].outstanding = e[2].outstanding = 0;
	/* a side with no pod left: the other one serves */
	ck_assert_int_eq(aios_gw_pick_weighted(e, 4, 3, 100, &acc, rr) < 3, 1);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(aios_gw_pick_weighted(&e[3], 1, -1, 20, &acc, rr), 0);
	ck_assert_int_eq(aios_gw_pick_weighted(e, 0, -1, 20, &acc, rr), -1);
}
END_TEST

START_TEST(service_params_canary)
{
	static const struct {
		const char *status;
		int weight;
		const char *rev;
	} cases[] = {
	    {"{\"canary\":{\"phase\":\"Progressing\",\"weight\":20,\"revision\":\"0123abcd45\"}}",
	     20, "0123abcd45"},
	    {"{\"canary\":{\"phase\":\"RolledBack\",\"weight\":0,\"revision\":\"0123abcd45\"}}", 0,
	     "0123abcd45"},
	    {"{\"canary\":{\"phase\":\"Promoted\",\"weight\":100,\"revision\":\"0123abcd45\"}}", -1,
	     ""},
	    {"{\"canary\":{\"phase\":\"Progressing\",\"weight\":20}}", -1, ""},
	    {"{}", -1, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char txt[512];
		snprintf(txt, sizeof(txt), "{\"spec\":{},\"status\":%s}", cases[i].status);
		struct json_object *o;
		ck_assert_int_eq(aios_json_parse(txt, strlen(txt), "ms", &o), AIOS_OK);
		struct aios_gw_service_params p;
		aios_gw_service_params(o, &p);
		ck_assert_int_eq(p.canary_weight, cases[i].weight);
		ck_assert_str_eq(p.canary_revision, cases[i].rev);
		json_object_put(o);
	}
}
END_TEST

/* ---------------------------------------------------------------- the queue */

START_TEST(queue_fifo_bounded)
{
	struct aios_gw_held slot[3];
	struct aios_gw_queue q;
	aios_gw_queue_init(&q, slot, 3);
	int a, b, c, d;
	ck_assert_int_eq(aios_gw_queue_push(&q, &a, 1000, 500), 0);
	ck_assert_int_eq(aios_gw_queue_push(&q, &b, 1100, 500), 0);
	ck_assert_int_eq(aios_gw_queue_push(&q, &c, 1200, 500), 0);
	ck_assert_int_eq(aios_gw_queue_push(&q, &d, 1300, 500), -1); /* full */
	struct aios_gw_held h;
	ck_assert_int_eq(aios_gw_queue_pop(&q, &h), 1);
	ck_assert_ptr_eq(h.item, &a);
	ck_assert_int_eq(h.since_ms, 1000);
	ck_assert_int_eq(aios_gw_queue_push(&q, &d, 1300, 500), 0); /* room again, wraps */
	ck_assert_int_eq(aios_gw_queue_pop(&q, &h), 1);
	ck_assert_ptr_eq(h.item, &b);
	ck_assert_int_eq(aios_gw_queue_pop(&q, &h), 1);
	ck_assert_ptr_eq(h.item, &c);
	ck_assert_int_eq(aios_gw_queue_pop(&q, &h), 1);
	ck_assert_ptr_eq(h.item, &d);
	ck_assert_int_eq(aios_gw_queue_pop(&q, &h), 0);
	struct aios_gw_queue none;
	aios_gw_queue_init(&none, NULL, 0);
	ck_assert_int_eq(aios_gw_queue_push(&none, &a, 0, 1), -1);
}
END_TEST

START_TEST(queue_expiry_in_order)
{
	struct aios_gw_held slot[4];
	struct aios_gw_queue q;
	aios_gw_queue_init(&q, slot, 4);
	int a, b;
	ck_assert_int_eq(aios_gw_queue_next_deadline(&q, 0), -1);
	ck_assert_int_eq(aios_gw_queue_push(&q, &a, 1000, 500), 0);
	ck_assert_int_eq(aios_gw_queue_push(&q, &b, 1200, 500), 0);
	ck_assert_int_eq(aios_gw_queue_next_deadline(&q, 1100), 400);
	struct aios_gw_held h;
	ck_assert_int_eq(aios_gw_queue_pop_expired(&q, 1499, &h), 0);
	ck_assert_int_eq(aios_gw_queue_pop_expired(&q, 1500, &h), 1);
	ck_assert_ptr_eq(h.item, &a);
	ck_assert_int_eq(aios_gw_queue_pop_expired(&q, 1500, &h), 0);
	ck_assert_int_eq(aios_gw_queue_next_deadline(&q, 1800), 0); /* overdue */
	ck_assert_int_eq(aios_gw_queue_pop_expired(&q, 1800, &h), 1);
	ck_assert_ptr_eq(h.item, &b);
	ck_assert_int_eq(aios_gw_retry_after_s(60000), 60);
	ck_assert_int_eq(aios_gw_retry_after_s(1500), 2);
	ck_assert_int_eq(aios_gw_retry_after_s(0), 1);
	ck_assert_int_eq(aios_gw_retry_after_s(3600000), 60);
}
END_TEST

START_TEST(not_ready_addresses_and_probed_pods)
{
	struct json_object *o;
	const char *txt =
	    "{\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.0.5\"}],"
	    " \"notReadyAddresses\":[{\"ip\":\"10.244.0.7\"},{\"ip\":\"10.244.0.8\"}],"
	    " \"ports\":[{\"name\":\"http\",\"port\":8080}]}]}";
	ck_assert_int_eq(aios_json_parse(txt, strlen(txt), "endpoints", &o), AIOS_OK);
	struct aios_gw_endpoint u[4], cur[4];
	size_t nu = aios_gw_unready_from_json(o, u, 4);
	ck_assert_uint_eq(nu, 2);
	ck_assert_str_eq(u[0].addr, "10.244.0.7");
	ck_assert_int_eq(u[1].port, 8080);
	ck_assert_int_eq(u[0].probed_ms, 0);
	size_t n = aios_gw_endpoints_from_json(o, cur, 4);
	ck_assert_uint_eq(n, 1);
	json_object_put(o);

	/* nothing probed: nothing added */
	ck_assert_uint_eq(aios_gw_keep_probed(cur, &n, 4, u, nu, 1000, 10000), 0);
	ck_assert_uint_eq(n, 1);
	/* .8 probed ready at 1000: routable from then, once, until the trust runs out */
	u[1].probed_ms = 1000;
	ck_assert_uint_eq(aios_gw_keep_probed(cur, &n, 4, u, nu, 1500, 10000), 1);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(cur[1].addr, "10.244.0.8");
	ck_assert_int_eq(cur[1].outstanding, 0);
	ck_assert_uint_eq(aios_gw_keep_probed(cur, &n, 4, u, nu, 1600, 10000), 0);
	ck_assert_uint_eq(n, 2);
	n = 1;
	ck_assert_uint_eq(aios_gw_keep_probed(cur, &n, 4, u, nu, 11001, 10000), 0);
	ck_assert_uint_eq(n, 1);
	/* the cap holds */
	ck_assert_uint_eq(aios_gw_keep_probed(cur, &n, 1, u, nu, 1500, 10000), 0);

	/* a fresh not-ready list keeps the probe time of an address in both, only */
	struct aios_gw_endpoint fresh[2] = {{.addr = "10.244.0.8", .port = 8080, .probed_ms = 7},
	                                    {.addr = "10.244.0.9", .port = 8080, .probed_ms = 7}};
	aios_gw_unready_carry(fresh, 2, u, nu);
	ck_assert_int_eq(fresh[0].probed_ms, 1000);
	ck_assert_int_eq(fresh[1].probed_ms, 0);
	aios_gw_unready_carry(fresh, 2, NULL, 0);
	ck_assert_int_eq(fresh[0].probed_ms, 0);
}
END_TEST

static Suite *route_suite(void)
{
	Suite *s = suite_create("gateway_route");
	TCase *t = tcase_create("route");
	tcase_add_test(t, target_v1_v2_paths);
	tcase_add_test(t, target_namespace_prefix_and_host);
	tcase_add_test(t, target_refusals);
	tcase_add_test(t, pick_least_outstanding);
	tcase_add_test(t, pick_ties_take_turns);
	tcase_add_test(t, merge_keeps_counts);
	tcase_add_test(t, endpoints_ready_addresses_only);
	tcase_add_test(t, not_ready_addresses_and_probed_pods);
	tcase_add_test(t, service_params_and_defaults);
	tcase_add_test(t, split_is_exact_per_hundred);
	tcase_add_test(t, mark_canary_by_revision);
	tcase_add_test(t, weighted_pick_splits_2000_requests);
	tcase_add_test(t, weighted_pick_edges);
	tcase_add_test(t, service_params_canary);
	tcase_add_test(t, queue_fifo_bounded);
	tcase_add_test(t, queue_expiry_in_order);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(route_suite)
