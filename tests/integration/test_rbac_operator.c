/*
 * test_rbac_operator.c - least privilege, checked on the real API server.
 *
 * 1. The full role works: the real aios-operator, under the operator identity bound to
 *    operator/cluster-role.yaml and operator/leader-election-role.yaml, runs the
 *    scenario (a TrainingJob whose spec needs a ConfigMap and whose ttl deletes it, a
 *    ModelService from a URI, a ModelService gated on a TrainingJob; the test plays the
 *    kubelet) and no request of it is refused.
 * 2. Each verb of each rule is needed: the roles are read back from the server, one verb
 *    is removed, the operator is restarted under that reduced role and runs the same
 *    scenario; the API server must refuse that exact verb on that exact resource (the
 *    operator logs the server's "cannot VERB resource \"RES\"") or the scenario must
 *    fail. A verb the scenario does not need is a failure of this test: the role is
 *    wider than the operator.
 * 3. The workload identity (aios-workload, operator/workload-service-account.yaml) can
 *    do nothing: `kubectl auth can-i` answers no for every verb on every resource the
 *    platform uses, and the ServiceAccount mounts no token.
 *
 * Bounded: one API server (tests/cluster/run-integration.sh), one operator process per
 * role (about 6 s each when the refusal shows at once, at most SCENARIO_MS otherwise).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/mem.h"
#include "kube/client.h"
#include "kube/config.h"
#include "support/kubectl.h"
#include "support/operator_proc.h"
#include "support/rbac.h"

#define SCENARIO_MS 15000 /* how long the scenario may take under the full role */
#define OPERATOR_SA "system:serviceaccount:aios-system:aios-operator"
#define WORKLOAD_SA "system:serviceaccount:default:aios-workload"
#define MAX_CASES   64

/* Flags of every run; each run takes its own Lease (--leader-election-id), so no run
 * waits for a previous operator's Lease to expire. */
static void op_run(struct aios_test_operator *op, const char *log, int run)
{
	char id[64];
	snprintf(id, sizeof(id), "aios-operator-rbac-%d-%d", (int)getpid(), run);
	const char *const flags[] = {"--log-level",
	                             "debug",
	                             "--leader-elect=true",
	                             "--leader-election-namespace",
	                             "aios-system",
	                             "--leader-election-id",
	                             id,
	                             NULL};
	aios_test_operator_start(op, log, 0, flags);
}

static struct aios_kube_client *g_kube; /* admin */
static char g_out[AIOS_TEST_KUBECTL_OUT_CAP];

/* ============================== setup ============================== */

static void setup(void)
{
	aios_test_operator_install();
	struct aios_kube_config *cfg;
	ck_assert_msg(aios_kube_config_load_file(aios_test_kubeconfig(), NULL, &cfg) == AIOS_OK,
	              "%s", aios_errmsg());
	ck_assert_int_eq(aios_kube_client_new(cfg, &g_kube), AIOS_OK);
	aios_kube_config_free(cfg);
}

static void teardown(void)
{
	/* Whatever happened, the roles go back to what operator/ installs. */
	aios_test_operator_install();
	aios_kube_client_free(g_kube);
	g_kube = NULL;
}

/* ============================== roles ============================== */

/* ============================== the operator ============================== */

static int log_contains(const char *log, const char *needle)
{
	static char line[16384];
	FILE *f = fopen(log, "r");
	ck_assert_msg(f != NULL, "no log %s", log);
	int hit = 0;
	while (!hit && fgets(line, sizeof(line), f))
		hit = strstr(line, needle) != NULL;
	fclose(f);
	return hit;
}

/* ============================== the scenario ============================== */

static struct json_object *parse(const char *doc)
{
	struct json_object *o;
	ck_assert_msg(aios_json_parse(doc, strlen(doc), "doc", &o) == AIOS_OK, "%s", aios_errmsg());
	return o;
}

static void create(const struct aios_kube_gvr *gvr, const char *ns, const char *doc)
{
	struct json_object *o = parse(doc);
	struct aios_kube_ref r = aios_kube_ref(gvr, ns, NULL);
	ck_assert_msg(aios_kube_create(g_kube, &r, o, NULL, NULL) == AIOS_OK, "create: %s",
	              aios_errmsg());
	json_object_put(o);
}

static struct json_object *get(const struct aios_kube_gvr *gvr, const char *ns, const char *name)
{
	struct aios_kube_ref r = aios_kube_ref(gvr, ns, name);
	struct json_object *o = NULL;
	if (aios_kube_get(g_kube, &r, &o) != AIOS_OK)
		return NULL;
	return o;
}

static int suspend(const char *ns, const char *job, int on)
{
	struct json_object *p = parse(on ? "{\"spec\":{\"runPolicy\":{\"suspend\":true}}}"
	                                 : "{\"spec\":{\"runPolicy\":{\"suspend\":false}}}");
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_trainingjobs, ns, job);
	enum aios_err e = aios_kube_patch(g_kube, &r, AIOS_KUBE_PATCH_MERGE, p, NULL, NULL);
	json_object_put(p);
	return e == AIOS_OK;
}

static int pods_of(const char *ns, const char *job)
{
	char sel[128];
	snprintf(sel, sizeof(sel), "aios.dev/job=%s", job);
	struct aios_kube_list_opts lo = {.label_selector = sel};
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pods, ns, NULL);
	struct json_object *l = NULL;
	if (aios_kube_list(g_kube, &r, &lo, &l) != AIOS_OK)
		return 0;
	int n = (int)json_object_array_length(aios_json_lookup(l, "items"));
	json_object_put(l);
	return n;
}

/* What the scenario reached; under the full role every field is 1. */
struct seen {
	int pod_created, configmap, job_succeeded, job_deleted, service, ms_status, events,
	    event_repeated, secret;
};

/* Plays the kubelet for the first pod of the job: Running, then Succeeded (exit 0). */
static int kubelet_finish(const char *ns, const char *job, int *stage)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pods, ns, NULL);
	char sel[128];
	snprintf(sel, sizeof(sel), "aios.dev/job=%s", job);
	struct aios_kube_list_opts lo = {.label_selector = sel};
	struct json_object *list = NULL;
	if (aios_kube_list(g_kube, &r, &lo, &list) != AIOS_OK)
		return 0;
	struct json_object *items = aios_json_lookup(list, "items");
	int found = items && json_object_array_length(items) > 0;
	if (found && *stage < 2) {
		struct json_object *pod = json_object_array_get_idx(items, 0);
		char now[32], st[1024];
		aios_rfc3339_now(now, sizeof(now));
		const char *cname = aios_json_str(
		    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0), "name");
		if (*stage == 0)
			snprintf(
			    st, sizeof(st),
			    "{\"phase\":\"Running\",\"podIP\":\"127.0.9.2\",\"startTime\":\"%s\","
			    "\"containerStatuses\":[{\"name\":\"%s\",\"image\":\"x\",\"imageID\":"
			    "\"\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{"
			    "\"startedAt\":\"%s\"}}}]}",
			    now, cname, now);
		else
			snprintf(
			    st, sizeof(st),
			    "{\"phase\":\"Succeeded\",\"podIP\":\"127.0.9.2\",\"startTime\":\"%s\","
			    "\"containerStatuses\":[{\"name\":\"%s\",\"image\":\"x\",\"imageID\":"
			    "\"\",\"ready\":false,\"restartCount\":0,\"state\":{\"terminated\":{"
			    "\"exitCode\":0,\"reason\":\"Completed\",\"startedAt\":\"%s\","
			    "\"finishedAt\":\"%s\"}}}]}",
			    now, cname, now, now);
		json_object_object_add(pod, "status", parse(st));
		struct aios_kube_ref pr =
		    aios_kube_ref(&aios_kube_pods, ns, aios_json_str(pod, "metadata.name"));
		if (aios_kube_update_status(g_kube, &pr, pod, NULL) == AIOS_OK)
			(*stage)++;
	}
	json_object_put(list);
	return found;
}

static int any_event_repeated(const char *ns, int *any)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_events, ns, NULL);
	struct json_object *list = NULL;
	if (aios_kube_list(g_kube, &r, NULL, &list) != AIOS_OK)
		return 0;
	struct json_object *items = aios_json_lookup(list, "items");
	int rep = 0;
	*any = json_object_array_length(items) > 0;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		int64_t count = 0;
		if (aios_json_opt_int(json_object_array_get_idx(items, i), "count", 1, &count) ==
		        AIOS_OK &&
		    count > 1)
			rep = 1;
	}
	aios_errclear();
	json_object_put(list);
	return rep;
}

/*
 * Runs the scenario in a fresh namespace with an operator already started; stops early
 * when `stop_on` (a case) shows in the log. Returns what was reached.
 */
static struct seen scenario(const char *ns, const char *log,
                            const struct aios_test_rbac_case *stop_on)
{
	char doc[1024];
	snprintf(doc, sizeof(doc),
	         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
	         ns);
	create(&aios_kube_namespaces, NULL, doc);
	create(&aios_kube_serviceaccounts, ns,
	       "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":"
	       "\"default\"}}");
	create(&aios_kube_serviceaccounts, ns,
	       "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":"
	       "\"aios-workload\"},\"automountServiceAccountToken\":false}");
	/* A job whose spec is over 32 KiB (a ConfigMap holds it) and is deleted when done. */
	size_t cap = 64 << 10, k = 0;
	char *big = aios_xmalloc(cap);
	k += (size_t)snprintf(big + k, cap - k,
	                      "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\","
	                      "\"metadata\":{\"name\":\"big\"},\"spec\":{\"model\":{\"type\":"
	                      "\"linear\"},\"runPolicy\":{\"ttlSecondsAfterFinished\":0},\"data\":"
	                      "{\"inline\":{\"features\":[");
	for (int i = 0; i < 2500; i++)
		k += (size_t)snprintf(big + k, cap - k, "%s[%d.125]", i ? "," : "", i);
	k += (size_t)snprintf(big + k, cap - k, "],\"labels\":[");
	for (int i = 0; i < 2500; i++)
		k += (size_t)snprintf(big + k, cap - k, "%s%d.25", i ? "," : "", 2 * i);
	snprintf(big + k, cap - k, "]}}}}");
	create(&aios_kube_trainingjobs, ns, big);
	free(big);
	/* A job suspended, resumed, suspended again: the second Suspended Event repeats the
	 * first (the recorder patches its count). */
	create(
	    &aios_kube_trainingjobs, ns,
	    "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\",\"metadata\":{"
	    "\"name\":\"sus\"},\"spec\":{\"model\":{\"type\":\"linear\"},\"runPolicy\":{"
	    "\"suspend\":true},\"data\":{\"inline\":{\"features\":[[1],[2]],\"labels\":[2,4]}}}}");
	/* A distributed job: its attempt's Secret comes before its pods. */
	create(&aios_kube_trainingjobs, ns,
	       "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\",\"metadata\":{"
	       "\"name\":\"dist\"},\"spec\":{\"model\":{\"type\":\"linear\"},\"distributed\":{"
	       "\"workers\":2},\"data\":{\"inline\":{\"features\":[[1],[2]],\"labels\":[2,4]}}}}");
	create(&aios_kube_modelservices, ns,
	       "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"ModelService\",\"metadata\":{"
	       "\"name\":\"svc\"},\"spec\":{\"model\":{\"uri\":\"file:///m.aios\"}}}");
	create(&aios_kube_modelservices, ns,
	       "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"ModelService\",\"metadata\":{"
	       "\"name\":\"gated\"},\"spec\":{\"model\":{\"trainingJob\":\"absent\"}}}");

	struct seen s = {0};
	int stage = 0, sus = 0;
	int64_t t0 = aios_now_ms(), end = t0 + SCENARIO_MS;
	while (aios_now_ms() < end) {
		if (stop_on && aios_test_log_refusal(log, stop_on->verb, stop_on->resource))
			break;
		if (sus == 0 && aios_now_ms() - t0 > 2000 && suspend(ns, "sus", 0))
			sus = 1;
		if (sus == 1 && pods_of(ns, "sus") > 0 && suspend(ns, "sus", 1))
			sus = 2;
		if (!s.job_deleted) {
			s.pod_created |= kubelet_finish(ns, "big", &stage);
			struct json_object *j = get(&aios_kube_trainingjobs, ns, "big");
			const char *ph = j ? aios_json_str(j, "status.phase") : NULL;
			s.job_succeeded |= ph && strcmp(ph, "Succeeded") == 0;
			s.job_deleted = j == NULL;
			s.job_succeeded |= j == NULL; /* the ttl only deletes a finished job */
			json_object_put(j);
		}
		if (!s.configmap) {
			struct aios_kube_ref r = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
			struct json_object *l = NULL;
			if (aios_kube_list(g_kube, &r, NULL, &l) == AIOS_OK) {
				struct json_object *it = aios_json_lookup(l, "items");
				for (size_t i = 0; i < json_object_array_length(it); i++)
					s.configmap |=
					    strncmp(aios_json_str(json_object_array_get_idx(it, i),
					                          "metadata.name"),
					            "big-spec", 8) == 0;
			}
			json_object_put(l);
		}
		if (!s.secret) {
			struct json_object *o = get(&aios_kube_secrets, ns, "dist-dist-g1-a0");
			s.secret = o != NULL;
			json_object_put(o);
		}
		if (!s.service) {
			struct json_object *o = get(&aios_kube_services, ns, "svc");
			s.service = o != NULL;
			json_object_put(o);
		}
		if (!s.ms_status) {
			struct json_object *a = get(&aios_kube_modelservices, ns, "svc");
			struct json_object *b = get(&aios_kube_modelservices, ns, "gated");
			s.ms_status = a && b && aios_json_lookup(a, "status.conditions") &&
			              aios_json_lookup(b, "status.conditions");
			json_object_put(a);
			json_object_put(b);
		}
		s.event_repeated |= any_event_repeated(ns, &s.events);
		aios_errclear();
		if (s.pod_created && s.configmap && s.job_succeeded && s.job_deleted && s.service &&
		    s.ms_status && s.events && s.event_repeated && s.secret)
			break;
		aios_sleep_ms(250);
	}
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_namespaces, NULL, ns);
	(void)!aios_kube_delete(g_kube, &r, NULL, NULL);
	return s;
}

static int seen_all(const struct seen *s)
{
	return s->pod_created && s->configmap && s->job_succeeded && s->job_deleted && s->service &&
	       s->ms_status && s->events && s->event_repeated && s->secret;
}

static void seen_str(const struct seen *s, char *out, size_t n)
{
	snprintf(out, n,
	         "pod_created=%d configmap=%d job_succeeded=%d job_deleted=%d service=%d "
	         "ms_status=%d events=%d event_repeated=%d secret=%d",
	         s->pod_created, s->configmap, s->job_succeeded, s->job_deleted, s->service,
	         s->ms_status, s->events, s->event_repeated, s->secret);
}

/* ============================== tests ============================== */

START_TEST(full_role_works_and_every_verb_is_needed)
{
	struct json_object *roles[2] = {
	    aios_test_rbac_get("clusterrole", "aios-operator", "default"),
	    aios_test_rbac_get("role", "aios-operator-leader-election", "aios-system")};
	struct aios_test_rbac_case cases[MAX_CASES];
	int n = aios_test_rbac_cases(roles, 2, cases, MAX_CASES);
	ck_assert_int_ge(n, 10);
	char log[256], ns[64], what[512];
	static char failures[16384];
	size_t fl = 0;
	failures[0] = '\0';
	int stamp = (int)(time(NULL) % 100000);
	int reduced = -1; /* the role the previous case reduced */

	/* The full role: the scenario completes and nothing is refused. */
	snprintf(log, sizeof(log), "/tmp/aios-rbac-%d-full.log", (int)getpid());
	snprintf(ns, sizeof(ns), "rbac-%d-full", stamp);
	struct aios_test_operator op;
	op_run(&op, log, -1);
	struct seen s = scenario(ns, log, NULL);
	aios_test_operator_stop(&op, SIGTERM);
	seen_str(&s, what, sizeof(what));
	const char *refused = aios_test_log_refusal(log, "*", "");
	ck_assert_msg(seen_all(&s), "full role: the scenario did not complete: %s (log %s)", what,
	              log);
	ck_assert_msg(refused == NULL, "full role: a request was refused: %s", refused);
	/* The operator's bearer token appears nowhere in its log (debug level included). */
	char kc[4096];
	snprintf(kc, sizeof(kc), "%s/operator.kubeconfig", getenv("AIOS_TEST_CLUSTER_DIR"));
	struct aios_kube_config *cfg;
	ck_assert_msg(aios_kube_config_load_file(kc, NULL, &cfg) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_msg(cfg->token && strlen(cfg->token) > 16, "operator.kubeconfig has no token");
	ck_assert_msg(!log_contains(log, cfg->token), "the operator logged its token (%s)", log);
	aios_kube_config_free(cfg);
	fprintf(stderr, "rbac: full role: %s\n", what);

	for (int i = 0; i < n; i++) {
		const struct aios_test_rbac_case *c = &cases[i];
		/* Only what changes: the role that loses the verb, and the other one put back
		 * when the previous case had reduced it. */
		for (int w = 0; w < 2; w++)
			if (c->role == w || reduced == w)
				aios_test_rbac_apply(roles[w], c->role == w ? c : NULL);
		reduced = c->role;
		const char *cns = c->role ? "aios-system" : "default";
		int64_t end = aios_now_ms() + 5000;
		while (aios_test_can_i(OPERATOR_SA, c->verb, c->resource, c->group, cns)) {
			ck_assert_msg(aios_now_ms() < end, "%s %s still allowed 5 s after removal",
			              c->verb, c->resource);
			aios_sleep_ms(100);
		}
		snprintf(log, sizeof(log), "/tmp/aios-rbac-%d-%d.log", (int)getpid(), i);
		snprintf(ns, sizeof(ns), "rbac-%d-%d", stamp, i);
		int64_t t0 = aios_now_ms();
		op_run(&op, log, i);
		s = scenario(ns, log, c);
		aios_test_operator_stop(&op, SIGTERM);
		const char *hit = aios_test_log_refusal(log, c->verb, c->resource);
		seen_str(&s, what, sizeof(what));
		fprintf(stderr, "rbac: without %s %s%s%s: %s after %lld ms; %s\n", c->verb,
		        c->resource, c->group[0] ? "." : "", c->group,
		        hit ? "refusal logged" : (seen_all(&s) ? "NOT NEEDED" : "scenario failed"),
		        (long long)(aios_now_ms() - t0), what);
		/* A scenario that failed proves the verb only if the operator was leading (a
		 * Lease verb aside): otherwise it never tried. */
		int led = aios_test_operator_log_find(&op, "acquired the Lease") != NULL ||
		          strcmp(c->resource, "leases") == 0;
		const char *why = NULL;
		if (!hit && seen_all(&s))
			why = "not needed";
		else if (!hit && !led)
			why = "inconclusive: the operator never led";
		if (why)
			fl += (size_t)snprintf(
			    failures + fl, fl < sizeof(failures) ? sizeof(failures) - fl : 0,
			    "%s %s: %s (log %s); ", c->verb, c->resource, why, log);
		else if (hit)
			unlink(log); /* a scenario that failed keeps its log for the record */
	}
	aios_test_rbac_apply(roles[0], NULL);
	aios_test_rbac_apply(roles[1], NULL);
	json_object_put(roles[0]);
	json_object_put(roles[1]);
	ck_assert_msg(fl == 0, "verbs not shown needed: %s", failures);
}
END_TEST

START_TEST(workload_account_can_do_nothing)
{
	struct json_object *sa = aios_test_rbac_get("serviceaccount", "aios-workload", "default");
	struct json_object *am = aios_json_lookup(sa, "automountServiceAccountToken");
	ck_assert_msg(am && !json_object_get_boolean(am),
	              "aios-workload must set automountServiceAccountToken: false");
	json_object_put(sa);
	/* Spot checks of what a compromised pod would try first. */
	static const char *const tries[][3] = {
	    {"get", "secrets", ""},
	    {"list", "pods", ""},
	    {"create", "pods", ""},
	    {"create", "pods/exec", ""},
	    {"list", "trainingjobs", "aios.dev"},
	    {"update", "trainingjobs/status", "aios.dev"},
	    {"update", "leases", "coordination.k8s.io"},
	    {"create", "rolebindings", "rbac.authorization.k8s.io"}};
	int tried = 0;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++, tried++)
		ck_assert_msg(
		    !aios_test_can_i(WORKLOAD_SA, tries[i][0], tries[i][1], tries[i][2], "default"),
		    "aios-workload may %s %s", tries[i][0], tries[i][1]);
	/* And the positive control: the operator identity is allowed what its role says. */
	ck_assert(aios_test_can_i(OPERATOR_SA, "create", "pods", "", "default"));
	ck_assert(!aios_test_can_i(OPERATOR_SA, "get", "secrets", "", "default"));
	/* the per-attempt secret of a distributed job: made, never read */
	ck_assert(aios_test_can_i(OPERATOR_SA, "create", "secrets", "", "default"));
	ck_assert(!aios_test_can_i(OPERATOR_SA, "list", "secrets", "", "default"));
	/* `can-i --list` (a SelfSubjectRulesReview): every rule the account has, in each
	 * namespace the platform uses; only what every authenticated user has may show (self
	 * reviews, non-resource discovery URLs). */
	static const char *const nss[] = {"default", "aios-system", "kube-system"};
	for (size_t k = 0; k < sizeof(nss) / sizeof(nss[0]); k++) {
		int rc =
		    aios_test_kubectl(aios_test_kubeconfig(), NULL, g_out, sizeof(g_out), "auth",
		                      "can-i", "--list", "--as", WORKLOAD_SA, "-n", nss[k], NULL);
		ck_assert_msg(rc == 0, "can-i --list: %s", g_out);
		int rows = 0;
		for (char *line = strtok(g_out, "\n"); line; line = strtok(NULL, "\n")) {
			if (strncmp(line, "Resources", 9) == 0)
				continue;
			rows++;
			if (strstr(line, "selfsubjectaccessreviews") ||
			    strstr(line, "selfsubjectrulesreviews") || strncmp(line, " ", 1) == 0 ||
			    strncmp(line, "[", 1) == 0)
				continue; /* "[/api]"-style rows: non-resource URLs */
			ck_abort_msg("aios-workload has a right in %s: %s", nss[k], line);
		}
		ck_assert_msg(rows > 0, "can-i --list printed no rule at all (expected the "
		                        "self-review rules of system:basic-user)");
	}
	fprintf(stderr, "rbac: aios-workload refused %d spot checks and holds no rule\n", tried);
}
END_TEST

static Suite *rbac_suite(void)
{
	Suite *s = suite_create("rbac_operator");
	TCase *tc = tcase_create("least_privilege");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, workload_account_can_do_nothing);
	tcase_add_test(tc, full_role_works_and_every_verb_is_needed);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(rbac_suite)
