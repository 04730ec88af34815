/*
 * test_reliability_apiserver.c - the API server restarted under a running aios-operator
 * (real binary, operator identity). With one API server nothing can be written while it
 * is down, so the changes are made the moment it is back, while the operator's watches
 * are still broken and reconnecting: a new TrainingJob and the deletion of a running
 * job's pod. The operator must see both (its informers resume, relisting where the old
 * resourceVersion is gone): the new job gets its pod, the job that lost its pod gets a
 * new one, and its watch-restart counter shows the watches were re-established.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "common/json.h"
#include "kube/client.h"
#include "support/kube_test.h"
#include "support/operator_proc.h"

static struct aios_kube_client *g_kube;
static const char *g_ns;

static void setup(void)
{
	aios_test_operator_install();
	g_kube = aios_kt_client("admin");
	g_ns = aios_kt_namespace(g_kube, "apirestart");
	aios_test_namespace_accounts(g_kube, g_ns);
}

static void teardown(void)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_namespaces, NULL, g_ns);
	(void)!aios_kube_delete(g_kube, &r, NULL, NULL);
	aios_kube_client_free(g_kube);
}

/* The uid of the job's one pod into uid ("" when none); the number of pods. */
static int job_pod(const char *job, char *uid, size_t n, char *name, size_t nn)
{
	char sel[128];
	snprintf(sel, sizeof(sel), "aios.dev/job=%s", job);
	struct aios_kube_list_opts lo = {.label_selector = sel};
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pods, g_ns, NULL);
	struct json_object *l = NULL;
	uid[0] = '\0';
	if (aios_kube_list(g_kube, &r, &lo, &l) != AIOS_OK)
		return 0;
	struct json_object *items = aios_json_lookup(l, "items");
	int count = 0;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		struct json_object *p = json_object_array_get_idx(items, i);
		if (aios_json_lookup(p, "metadata.deletionTimestamp"))
			continue;
		snprintf(uid, n, "%s", aios_json_str(p, "metadata.uid"));
		if (name)
			snprintf(name, nn, "%s", aios_json_str(p, "metadata.name"));
		count++;
	}
	json_object_put(l);
	return count;
}

START_TEST(operator_sees_changes_made_while_its_watches_reconnect)
{
	struct aios_test_operator op;
	char log[256];
	snprintf(log, sizeof(log), "/tmp/aios-apirestart-%d.log", (int)getpid());
	aios_test_operator_start(&op, log, 1, NULL);
	char body[256];
	int64_t end = aios_now_ms() + 30000;
	while (aios_test_http_get(op.health_port, "/readyz", body, sizeof(body)) != 200) {
		ck_assert_msg(aios_now_ms() < end, "operator not ready (log %s)", log);
		aios_sleep_ms(100);
	}
	aios_test_create_small_job(g_kube, g_ns, "a");
	char uid_a[64], name_a[128], uid[64];
	end = aios_now_ms() + 30000;
	while (job_pod("a", uid_a, sizeof(uid_a), name_a, sizeof(name_a)) != 1) {
		ck_assert_msg(aios_now_ms() < end, "job a got no pod");
		aios_sleep_ms(100);
	}
	double restarts0 = aios_test_operator_metric(&op, "aios_operator_watch_restarts_total");

	int64_t t_restart = aios_now_ms();
	aios_kt_restart_apiserver();
	/* At once, before the operator's watches are back: a new job, a pod gone. */
	aios_test_create_small_job(g_kube, g_ns, "b");
	struct aios_kube_ref pr = aios_kube_ref(&aios_kube_pods, g_ns, name_a);
	ck_assert_msg(aios_kube_delete(g_kube, &pr, NULL, NULL) == AIOS_OK, "delete %s: %s", name_a,
	              aios_errmsg());
	int64_t t_changes = aios_now_ms();

	end = aios_now_ms() + 60000;
	int seen_b = 0, seen_a = 0;
	while (!(seen_b && seen_a)) {
		if (aios_now_ms() > end) {
			char cmd[1024];
			snprintf(cmd, sizeof(cmd), "tail -n 30 %s >&2", log);
			(void)!system(cmd);
			ck_abort_msg(
			    "after the restart: job b has %s pod, job a %s a new pod (log %s)",
			    seen_b ? "its" : "no", seen_a ? "has" : "lacks", log);
		}
		seen_b = job_pod("b", uid, sizeof(uid), NULL, 0) == 1;
		seen_a = job_pod("a", uid, sizeof(uid), NULL, 0) == 1 && strcmp(uid, uid_a) != 0;
		aios_sleep_ms(200);
	}
	fprintf(stderr,
	        "apiserver restart: restart took %lld ms; both changes handled %lld ms after "
	        "they were made\n",
	        (long long)(t_changes - t_restart), (long long)(aios_now_ms() - t_changes));
	double restarts1 = aios_test_operator_metric(&op, "aios_operator_watch_restarts_total");
	ck_assert_msg(restarts1 > restarts0,
	              "watch restarts %.0f -> %.0f: the watches were not "
	              "re-established",
	              restarts0, restarts1);
	ck_assert_int_eq(aios_test_operator_stop(&op, SIGTERM), 0);
	unlink(log);
}
END_TEST

static Suite *apiserver_suite(void)
{
	Suite *s = suite_create("reliability_apiserver");
	TCase *tc = tcase_create("restart");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, operator_sees_changes_made_while_its_watches_reconnect);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(apiserver_suite)
