/*
 * test_rbac_gateway.c - aios-gateway's least privilege, checked on the real API server.
 *
 * The role is operator/gateway-cluster-role.yaml as installed (the chart renders the same
 * rules: tests/unit/manifests "chart-agrees"), bound to the gateway identity
 * (system:serviceaccount:aios-system:aios-gateway, $AIOS_TEST_CLUSTER_DIR/gateway.kubeconfig).
 *
 * 1. The full role works: the real aios-gateway lists and watches ModelServices and
 *    Endpoints, syncs, answers /readyz, and no request of it is refused for SETTLE_MS
 *    after the sync (its watches are open by then).
 * 2. Each verb of each rule is needed: the role is read back from the server, one verb is
 *    removed, the gateway is started under the reduced role; the API server must refuse
 *    that exact verb on that exact resource (the gateway logs the server's "cannot VERB
 *    resource \"RES\""). A verb the gateway runs without is a failure: the role is wider
 *    than the gateway.
 * 3. Nothing else: `kubectl auth can-i` as the gateway answers yes for each granted verb
 *    and no for a sample of others (writes of ModelServices and Endpoints, their status,
 *    pods, services, secrets, configmaps, events, leases).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "common/json.h"
#include "support/kubectl.h"
#include "support/operator_proc.h"
#include "support/rbac.h"

#define GATEWAY_SA "system:serviceaccount:aios-system:aios-gateway"
#define RUN_MS     8000 /* how long one gateway run may take to show a refusal or sync */
#define SETTLE_MS  2000 /* after the sync: its watches are open (or refused) by then */
#define MAX_CASES  16

static char g_out[AIOS_TEST_KUBECTL_OUT_CAP];

/* kubectl with the admin kubeconfig and input on stdin (may be NULL); fails the test when
 * it fails. */
static void kubectl_ok(const char *input, const char *a0, const char *a1, const char *a2,
                       const char *a3)
{
	int rc = aios_test_kubectl(aios_test_kubeconfig(), input, g_out, sizeof(g_out), a0, a1, a2,
	                           a3, NULL);
	ck_assert_msg(rc == 0, "kubectl %s %s %s: %s", a0, a1 ? a1 : "", a2 ? a2 : "", g_out);
}

/* Installs the CRDs, aios-system and the gateway's ServiceAccount, ClusterRole and binding
 * from operator/ (idempotent). */
static void install(void)
{
	aios_test_operator_install(); /* crds/ and aios-system */
	static const char *const files[] = {"operator/gateway-service-account.yaml",
	                                    "operator/gateway-cluster-role.yaml",
	                                    "operator/gateway-cluster-role-binding.yaml"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s", aios_test_path(files[i]));
		kubectl_ok(NULL, "apply", "-f", path, NULL);
	}
}

/* The role without case c's verb (c NULL: the full role), once the server's authorizer
 * agrees. */
static void apply_role(struct json_object *role, const struct aios_test_rbac_case *c)
{
	aios_test_rbac_apply(role, c);
	if (!c)
		return;
	int64_t end = aios_now_ms() + 5000;
	while (aios_test_can_i(GATEWAY_SA, c->verb, c->resource, c->group, "default")) {
		ck_assert_msg(aios_now_ms() < end, "%s %s still allowed 5 s after removal", c->verb,
		              c->resource);
		aios_sleep_ms(100);
	}
}

/* What one run of the gateway showed. */
struct run {
	int synced; /* logged "synced" */
	int ready;  /* /readyz answered 200 after the sync */
	int exited; /* the process ended by itself (exit code in code) */
	int code;
};

/* Runs aios-gateway (logs into log) until it has been synced for SETTLE_MS, or has
 * exited, or RUN_MS have passed; then stops it. */
static struct run run_gateway(const char *log)
{
	static const char *const flags[] = {
	    "--sync-timeout-seconds", "5", "--log-level", "debug", "--id", "rbac-test", NULL};
	struct aios_test_operator gw;
	aios_test_gateway_start(&gw, log, flags);
	struct run r = {0};
	int64_t end = aios_now_ms() + RUN_MS, synced_at = 0;
	char page[256];
	while (aios_now_ms() < end) {
		int st;
		if (waitpid(gw.pid, &st, WNOHANG) == gw.pid) {
			r.exited = 1;
			r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			gw.pid = 0;
			break;
		}
		if (!synced_at && aios_test_operator_log_find(&gw, "\"synced\"")) {
			r.synced = 1;
			synced_at = aios_now_ms();
			r.ready = aios_test_http_get(gw.health_port, "/readyz", page,
			                             sizeof(page)) == 200;
		}
		if (synced_at && aios_now_ms() - synced_at >= SETTLE_MS)
			break;
		aios_sleep_ms(100);
	}
	if (gw.pid > 0)
		aios_test_operator_stop(&gw, SIGTERM);
	return r;
}

START_TEST(full_role_works_and_every_verb_is_needed)
{
	install();
	struct json_object *role = aios_test_rbac_get("clusterrole", "aios-gateway", "default");
	struct aios_test_rbac_case cases[MAX_CASES];
	int n = aios_test_rbac_cases(&role, 1, cases, MAX_CASES);
	ck_assert_int_eq(n, 4); /* list and watch of modelservices and endpoints */
	apply_role(role, NULL);

	char log[256];
	snprintf(log, sizeof(log), "/tmp/aios-rbac-gateway-%d-full.log", (int)getpid());
	struct run r = run_gateway(log);
	const char *refused = aios_test_log_refusal(log, "*", "");
	ck_assert_msg(r.synced && r.ready && !r.exited,
	              "full role: synced %d, ready %d, exited %d (code %d); log %s", r.synced,
	              r.ready, r.exited, r.code, log);
	ck_assert_msg(refused == NULL, "full role: a request was refused: %s", refused);
	unlink(log);

	static char failures[4096];
	size_t fl = 0;
	failures[0] = '\0';
	for (int i = 0; i < n; i++) {
		const struct aios_test_rbac_case *c = &cases[i];
		apply_role(role, c);
		snprintf(log, sizeof(log), "/tmp/aios-rbac-gateway-%d-%d.log", (int)getpid(), i);
		int64_t t0 = aios_now_ms();
		r = run_gateway(log);
		const char *hit = aios_test_log_refusal(log, c->verb, c->resource);
		fprintf(stderr,
		        "rbac: gateway without %s %s: %s after %lld ms (synced %d, exit %d)\n",
		        c->verb, c->resource, hit ? "refusal logged" : "NOT NEEDED",
		        (long long)(aios_now_ms() - t0), r.synced, r.exited ? r.code : -1);
		if (hit)
			unlink(log);
		else
			fl += (size_t)snprintf(
			    failures + fl, fl < sizeof(failures) ? sizeof(failures) - fl : 0,
			    "%s %s: no refusal (log %s); ", c->verb, c->resource, log);
		/* without list nothing syncs: the gateway must give up, not serve blind */
		if (strcmp(c->verb, "list") == 0)
			ck_assert_msg(!r.synced && r.exited && r.code == 1,
			              "without list %s: synced %d, exit %d", c->resource, r.synced,
			              r.exited ? r.code : -1);
	}
	apply_role(role, NULL);
	json_object_put(role);
	ck_assert_msg(fl == 0, "verbs not shown needed: %s", failures);
}
END_TEST

START_TEST(gateway_may_read_and_nothing_else)
{
	install();
	static const char *const allowed[][3] = {
	    {"list", "modelservices", "aios.dev"},
	    {"watch", "modelservices", "aios.dev"},
	    {"list", "endpoints", ""},
	    {"watch", "endpoints", ""},
	};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		ck_assert_msg(aios_test_can_i(GATEWAY_SA, allowed[i][0], allowed[i][1],
		                              allowed[i][2], "team-a"),
		              "the gateway may not %s %s", allowed[i][0], allowed[i][1]);
	static const char *const denied[][3] = {
	    {"get", "modelservices", "aios.dev"},
	    {"create", "modelservices", "aios.dev"},
	    {"update", "modelservices", "aios.dev"},
	    {"patch", "modelservices", "aios.dev"},
	    {"delete", "modelservices", "aios.dev"},
	    {"update", "modelservices/status", "aios.dev"},
	    {"update", "modelservices/scale", "aios.dev"},
	    {"list", "trainingjobs", "aios.dev"},
	    {"get", "endpoints", ""},
	    {"create", "endpoints", ""},
	    {"update", "endpoints", ""},
	    {"delete", "endpoints", ""},
	    {"list", "pods", ""},
	    {"list", "services", ""},
	    {"get", "secrets", ""},
	    {"list", "configmaps", ""},
	    {"create", "events", ""},
	    {"get", "leases", "coordination.k8s.io"},
	};
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		ck_assert_msg(!aios_test_can_i(GATEWAY_SA, denied[i][0], denied[i][1], denied[i][2],
		                               "team-a"),
		              "the gateway may %s %s", denied[i][0], denied[i][1]);
}
END_TEST

static Suite *rbac_gateway_suite(void)
{
	Suite *s = suite_create("rbac_gateway");
	TCase *tc = tcase_create("apiserver");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, full_role_works_and_every_verb_is_needed);
	tcase_add_test(tc, gateway_may_read_and_nothing_else);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(rbac_gateway_suite)
