/*
 * test_trainingjob_operator.c - the real aios-operator binary against a real API server,
 * running under the operator identity bound to operator/'s ClusterRole. No kubelet runs
 * pods here: the test plays the kubelet by writing pod status (Running with an IP, then
 * Succeeded or Failed with an exit code and a termination message). The pod IPs it
 * writes are loopback addresses (127.0.x.y): the operator scrapes a running rank 0's
 * /metrics, and that must stay on this machine (refused at once, nothing listens).
 *
 * Each test makes its own namespace (with the `default` ServiceAccount the service
 * account admission plugin wants, which kube-controller-manager would create) and its
 * own operator process, and stops it with SIGTERM at the end (exit code 0 expected).
 */
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/mem.h"
#include "kube/client.h"
#include "kube/config.h"
#include "support/kubectl.h"
#include "support/ports.h"

#define WAIT_MS 30000 /* how long any expected change may take */

static struct aios_kube_client *g_kube; /* admin */
static char g_ns[64];
static char g_out[AIOS_TEST_KUBECTL_OUT_CAP];

/* ============================== cluster setup ============================== */

static const char *cluster_file(const char *name)
{
	static char path[4096];
	const char *dir = getenv("AIOS_TEST_CLUSTER_DIR");
	ck_assert_msg(dir && *dir,
	              "AIOS_TEST_CLUSTER_DIR is not set (tests/cluster/run-integration.sh)");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* CRDs and the operator's RBAC, exactly as operator/ installs them (idempotent). */
static void install(void)
{
	const char *kc = aios_test_kubeconfig();
	char path[4096];
	snprintf(path, sizeof(path), "%s", aios_test_path("crds"));
	int rc = aios_test_kubectl(kc, NULL, g_out, sizeof(g_out), "apply", "-f", path, NULL);
	ck_assert_msg(rc == 0, "kubectl apply crds: %s", g_out);
	static const char *const rbac[] = {"namespace.yaml",
	                                   "service-account.yaml",
	                                   "cluster-role.yaml",
	                                   "cluster-role-binding.yaml",
	                                   "leader-election-role.yaml",
	                                   "leader-election-role-binding.yaml"};
	for (size_t i = 0; i < sizeof(rbac) / sizeof(rbac[0]); i++) {
		char rel[256];
		snprintf(rel, sizeof(rel), "operator/%s", rbac[i]);
		snprintf(path, sizeof(path), "%s", aios_test_path(rel));
		rc = aios_test_kubectl(kc, NULL, g_out, sizeof(g_out), "apply", "-f", path, NULL);
		ck_assert_msg(rc == 0, "kubectl apply %s: %s", rel, g_out);
	}
	aios_test_wait_crds_established(kc);
}

static void setup(void)
{
	install();
	struct aios_kube_config *cfg;
	ck_assert_msg(aios_kube_config_load_file(aios_test_kubeconfig(), NULL, &cfg) == AIOS_OK,
	              "%s", aios_errmsg());
	ck_assert_int_eq(aios_kube_client_new(cfg, &g_kube), AIOS_OK);
	aios_kube_config_free(cfg);
	snprintf(g_ns, sizeof(g_ns), "tj-it-%d-%ld", (int)getpid(), (long)(time(NULL) % 100000));
	struct json_object *ns = json_object_new_object();
	json_object_object_add(ns, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(ns, "kind", json_object_new_string("Namespace"));
	aios_json_set(ns, "metadata.name", json_object_new_string(g_ns));
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_namespaces, NULL, NULL);
	ck_assert_msg(aios_kube_create(g_kube, &r, ns, NULL, NULL) == AIOS_OK, "%s", aios_errmsg());
	json_object_put(ns);
	struct json_object *sa = json_object_new_object();
	json_object_object_add(sa, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(sa, "kind", json_object_new_string("ServiceAccount"));
	aios_json_set(sa, "metadata.name", json_object_new_string("default"));
	r = aios_kube_ref(&aios_kube_serviceaccounts, g_ns, NULL);
	enum aios_err e = aios_kube_create(g_kube, &r, sa, NULL, NULL);
	ck_assert_msg(e == AIOS_OK || e == AIOS_ERR_EXISTS, "%s", aios_errmsg());
	json_object_put(sa);
}

static void teardown(void)
{
	if (!g_kube)
		return;
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_namespaces, NULL, g_ns);
	(void)!aios_kube_delete(g_kube, &r, NULL, NULL);
	aios_kube_client_free(g_kube);
	g_kube = NULL;
}

/* ============================== the operator process ============================== */

struct op {
	pid_t pid;
	char log[256];
	int mport, hport;
};

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	struct aios_buf *b = ud;
	if (b)
		(void)!aios_buf_append(b, p, s * n);
	return s * n;
}

/* GET http://127.0.0.1:port/path; the HTTP code (0 if no answer); body into b if given. */
static long http_get(int port, const char *path, struct aios_buf *b)
{
	CURL *h = curl_easy_init();
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	long code = 0;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	return code;
}

static void op_dump_log(struct op *o)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "tail -n 60 %s >&2", o->log);
	(void)!system(cmd);
}

/* Starts aios-operator under the operator identity and waits until /readyz says 200. */
static void op_start(struct op *o, int leader_elect)
{
	const char *build = getenv("AIOS_BUILD_DIR");
	ck_assert_msg(build != NULL, "AIOS_BUILD_DIR is not set");
	char bin[4096], kc[4096], mb[64], hb[64];
	snprintf(bin, sizeof(bin), "%s/src/operator/aios-operator", build);
	snprintf(kc, sizeof(kc), "%s", cluster_file("operator.kubeconfig"));
	o->mport = aios_test_free_port();
	o->hport = aios_test_free_port();
	snprintf(mb, sizeof(mb), "127.0.0.1:%d", o->mport);
	snprintf(hb, sizeof(hb), "127.0.0.1:%d", o->hport);
	snprintf(o->log, sizeof(o->log), "/tmp/aios-operator-it-%d-%d.log", (int)getpid(),
	         o->mport);
	o->pid = fork();
	ck_assert_int_ge(o->pid, 0);
	if (o->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
		int fd = open(o->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, bin, "--kubeconfig", kc, "--metrics-bind-address", mb,
		      "--health-probe-bind-address", hb, "--workers", "2", "--log-level", "debug",
		      leader_elect ? "--leader-elect=true" : "--leader-elect=false",
		      "--leader-election-namespace", "aios-system", (char *)NULL);
		_exit(127);
	}
	int64_t end = aios_now_ms() + WAIT_MS;
	while (http_get(o->hport, "/readyz", NULL) != 200) {
		int st;
		if (waitpid(o->pid, &st, WNOHANG) == o->pid) {
			op_dump_log(o);
			ck_abort_msg("aios-operator exited during start (status %d)", st);
		}
		if (aios_now_ms() > end) {
			op_dump_log(o);
			ck_abort_msg("aios-operator not ready within %d ms", WAIT_MS);
		}
		aios_sleep_ms(100);
	}
	ck_assert_int_eq(http_get(o->hport, "/healthz", NULL), 200);
}

/* Sends sig and waits for the exit; returns the exit code (128+sig when killed). */
static int op_stop(struct op *o, int sig)
{
	kill(o->pid, sig);
	int st = 0;
	int64_t end = aios_now_ms() + 30000;
	while (waitpid(o->pid, &st, WNOHANG) == 0) {
		if (aios_now_ms() > end) {
			kill(o->pid, SIGKILL);
			waitpid(o->pid, &st, 0);
			op_dump_log(o);
			ck_abort_msg("aios-operator did not stop within 30 s of signal %d", sig);
		}
		aios_sleep_ms(50);
	}
	o->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ============================== objects ============================== */

/* Creates a job: a small linear model on inline data, plus the fields of spec_json (an
 * object, "{}" for none). */
static void create_job(const char *name, const char *spec_json)
{
	char buf[8192];
	ck_assert(spec_json[0] == '{');
	snprintf(buf, sizeof(buf),
	         "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\",\"metadata\":"
	         "{\"name\":\"%s\"},\"spec\":{\"model\":{\"type\":\"linear\"},\"data\":{\"inline\":"
	         "{\"features\":[[1],[2]],\"labels\":[2,4]}}%s%s}",
	         name, spec_json[1] == '}' ? "" : ",", spec_json + 1);
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(buf, strlen(buf), "job", &o), AIOS_OK);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_trainingjobs, g_ns, NULL);
	ck_assert_msg(aios_kube_create(g_kube, &r, o, NULL, NULL) == AIOS_OK, "create %s: %s", name,
	              aios_errmsg());
	json_object_put(o);
}

static void patch_job(const char *name, const char *merge_patch)
{
	struct json_object *p;
	ck_assert_int_eq(aios_json_parse(merge_patch, strlen(merge_patch), "patch", &p), AIOS_OK);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_trainingjobs, g_ns, name);
	ck_assert_msg(aios_kube_patch(g_kube, &r, AIOS_KUBE_PATCH_MERGE, p, NULL, NULL) == AIOS_OK,
	              "patch %s: %s", name, aios_errmsg());
	json_object_put(p);
}

/* The object, or NULL when absent. Caller puts. */
static struct json_object *get(const struct aios_kube_gvr *gvr, const char *name)
{
	struct aios_kube_ref r = aios_kube_ref(gvr, g_ns, name);
	struct json_object *o = NULL;
	enum aios_err e = aios_kube_get(g_kube, &r, &o);
	if (e == AIOS_ERR_NOT_FOUND)
		return NULL;
	ck_assert_msg(e == AIOS_OK, "get %s: %s", name, aios_errmsg());
	return o;
}

/* Names of the pods in the test namespace, sorted by the server (by name). */
static int list_pods(char names[][64], int max)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pods, g_ns, NULL);
	struct json_object *list;
	ck_assert_msg(aios_kube_list(g_kube, &r, NULL, &list) == AIOS_OK, "%s", aios_errmsg());
	struct json_object *items = aios_json_lookup(list, "items");
	int n = 0;
	for (size_t i = 0; i < json_object_array_length(items) && n < max; i++)
		snprintf(names[n++], 64, "%s",
		         aios_json_str(json_object_array_get_idx(items, i), "metadata.name"));
	json_object_put(list);
	return n;
}

static int pod_exists(const char *name)
{
	struct json_object *p = get(&aios_kube_pods, name);
	json_object_put(p);
	return p != NULL;
}

static void wait_pod(const char *name, int present)
{
	int64_t end = aios_now_ms() + WAIT_MS;
	while (pod_exists(name) != present) {
		ck_assert_msg(aios_now_ms() < end, "pod %s did not %s within %d ms", name,
		              present ? "appear" : "go", WAIT_MS);
		aios_sleep_ms(100);
	}
}

/* Waits until the job's status.phase is phase (and, if given, the condition reason). */
static struct json_object *wait_phase(const char *job, const char *phase)
{
	int64_t end = aios_now_ms() + WAIT_MS;
	for (;;) {
		struct json_object *o = get(&aios_kube_trainingjobs, job);
		const char *ph = o ? aios_json_str(o, "status.phase") : NULL;
		if (ph && strcmp(ph, phase) == 0)
			return o;
		if (aios_now_ms() > end) {
			char *dump = aios_xstrdup(
			    o ? json_object_to_json_string(aios_json_lookup(o, "status"))
			      : "(no job)");
			json_object_put(o);
			ck_abort_msg("job %s: phase %s, not %s, after %d ms; status %s", job,
			             ph ? ph : "(none)", phase, WAIT_MS, dump);
		}
		json_object_put(o);
		aios_sleep_ms(100);
	}
}

/* The value of env var name in a pod, copied into out. */
static void pod_env(struct json_object *pod, const char *name, char *out, size_t n)
{
	out[0] = '\0';
	struct json_object *c =
	    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0);
	struct json_object *env = aios_json_lookup(c, "env");
	for (size_t i = 0; env && i < json_object_array_length(env); i++) {
		struct json_object *e = json_object_array_get_idx(env, i);
		if (strcmp(aios_json_str(e, "name"), name) == 0)
			snprintf(out, n, "%s", aios_json_str(e, "value"));
	}
}

/* Plays the kubelet: writes the pod's status. exit_code < 0: no container state. */
static void kubelet(const char *pod, const char *phase, const char *ip, int exit_code,
                    const char *message)
{
	for (int tries = 0;; tries++) {
		struct json_object *p = get(&aios_kube_pods, pod);
		ck_assert_msg(p != NULL, "kubelet: no pod %s", pod);
		struct json_object *st = json_object_new_object();
		json_object_object_add(st, "phase", json_object_new_string(phase));
		json_object_object_add(st, "podIP", json_object_new_string(ip));
		struct json_object *ips = json_object_new_array(), *one = json_object_new_object();
		json_object_object_add(one, "ip", json_object_new_string(ip));
		json_object_array_add(ips, one);
		json_object_object_add(st, "podIPs", ips);
		char now[32];
		aios_rfc3339_now(now, sizeof(now));
		json_object_object_add(st, "startTime", json_object_new_string(now));
		struct json_object *cs = json_object_new_object();
		json_object_object_add(cs, "name", json_object_new_string("trainer"));
		json_object_object_add(cs, "image", json_object_new_string("aios/trainer:0.1.0"));
		json_object_object_add(cs, "imageID", json_object_new_string(""));
		json_object_object_add(cs, "ready",
		                       json_object_new_boolean(strcmp(phase, "Running") == 0));
		json_object_object_add(cs, "restartCount", json_object_new_int(0));
		struct json_object *state = json_object_new_object();
		if (strcmp(phase, "Running") == 0) {
			struct json_object *r = json_object_new_object();
			json_object_object_add(r, "startedAt", json_object_new_string(now));
			json_object_object_add(state, "running", r);
		} else {
			struct json_object *t = json_object_new_object();
			json_object_object_add(t, "exitCode", json_object_new_int(exit_code));
			json_object_object_add(
			    t, "reason", json_object_new_string(exit_code ? "Error" : "Completed"));
			json_object_object_add(t, "message",
			                       json_object_new_string(message ? message : ""));
			json_object_object_add(t, "startedAt", json_object_new_string(now));
			json_object_object_add(t, "finishedAt", json_object_new_string(now));
			json_object_object_add(state, "terminated", t);
		}
		json_object_object_add(cs, "state", state);
		struct json_object *css = json_object_new_array();
		json_object_array_add(css, cs);
		json_object_object_add(st, "containerStatuses", css);
		json_object_object_add(p, "status", st);
		struct aios_kube_ref r = aios_kube_ref(&aios_kube_pods, g_ns, pod);
		enum aios_err e = aios_kube_update_status(g_kube, &r, p, NULL);
		json_object_put(p);
		if (e == AIOS_OK)
			return;
		ck_assert_msg(e == AIOS_ERR_CONFLICT && tries < 10, "kubelet %s: %s", pod,
		              aios_errmsg());
	}
}

static const char *cond_field(struct json_object *job, const char *type, const char *field)
{
	struct json_object *conds = aios_json_lookup(job, "status.conditions");
	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		if (strcmp(aios_json_str(c, "type"), type) == 0)
			return aios_json_str(c, field);
	}
	return NULL;
}

/* Reasons of the Events about a job, joined with spaces. */
static void job_events(const char *job, char *out, size_t n)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_events, g_ns, NULL);
	char sel[128];
	snprintf(sel, sizeof(sel), "involvedObject.name=%s", job);
	struct aios_kube_list_opts o = {.field_selector = sel};
	struct json_object *list;
	ck_assert_msg(aios_kube_list(g_kube, &r, &o, &list) == AIOS_OK, "%s", aios_errmsg());
	struct json_object *items = aios_json_lookup(list, "items");
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		const char *reason = aios_json_str(json_object_array_get_idx(items, i), "reason");
		k += (size_t)snprintf(out + k, k < n ? n - k : 0, "%s ", reason ? reason : "?");
		if (k >= n)
			break;
	}
	json_object_put(list);
}

/* Events are posted after the status write that a test waits for, and asynchronously:
 * polls job_events until every reason in want (NULL-terminated) shows, for 10 s at most.
 * Returns whether they all showed; out holds the last list either way. */
static int wait_events(const char *job, char *out, size_t n, const char *const *want)
{
	int64_t end = aios_now_ms() + 10000;
	for (;;) {
		job_events(job, out, n);
		int all = 1;
		for (const char *const *w = want; *w; w++)
			all = all && strstr(out, *w) != NULL;
		if (all)
			return 1;
		if (aios_now_ms() > end)
			return 0;
		aios_sleep_ms(100);
	}
}

/* ============================== tests ============================== */

/* A 2-worker job: rank 0 first, rank 1 only once rank 0 has an IP, Running, Succeeded. */
START_TEST(two_workers_in_order_then_succeeded)
{
	struct op op;
	op_start(&op, 0);
	create_job("pair", "{\"distributed\":{\"workers\":2},"
	                   "\"output\":{\"uri\":\"pvc://models/pair.aios\"}}");
	wait_pod("pair-g1a0-w0", 1);
	aios_sleep_ms(1500); /* rank 1 must wait for rank 0's IP */
	ck_assert_msg(!pod_exists("pair-g1a0-w1"), "rank 1 created before rank 0 had an IP");
	struct json_object *p0 = get(&aios_kube_pods, "pair-g1a0-w0");
	ck_assert_str_eq(aios_json_str(p0, "spec.securityContext.seccompProfile.type"),
	                 "RuntimeDefault");
	struct json_object * or
	    = json_object_array_get_idx(aios_json_lookup(p0, "metadata.ownerReferences"), 0);
	ck_assert_str_eq(aios_json_str(or, "kind"), "TrainingJob");
	json_object_put(p0);

	kubelet("pair-g1a0-w0", "Running", "127.0.0.10", -1, NULL);
	wait_pod("pair-g1a0-w1", 1);
	struct json_object *p1 = get(&aios_kube_pods, "pair-g1a0-w1");
	char v[128];
	pod_env(p1, "AIOS_COORDINATOR", v, sizeof(v));
	ck_assert_str_eq(v, "127.0.0.10:29500");
	pod_env(p1, "AIOS_RANK", v, sizeof(v));
	ck_assert_str_eq(v, "1");
	pod_env(p1, "AIOS_WORLD_SIZE", v, sizeof(v));
	ck_assert_str_eq(v, "2");
	json_object_put(p1);

	kubelet("pair-g1a0-w1", "Running", "127.0.0.11", -1, NULL);
	struct json_object *j = wait_phase("pair", "Running");
	ck_assert_str_eq(cond_field(j, "Running", "status"), "True");
	json_object_put(j);

	kubelet("pair-g1a0-w1", "Succeeded", "127.0.0.11", 0, "");
	kubelet("pair-g1a0-w0", "Succeeded", "127.0.0.10", 0,
	        "{\"uri\":\"pvc://models/pair.aios\",\"sha256\":\"0123abcd\",\"bytes\":4242}");
	j = wait_phase("pair", "Succeeded");
	ck_assert_str_eq(cond_field(j, "Succeeded", "status"), "True");
	ck_assert_ptr_null(cond_field(j, "Failed", "status"));
	ck_assert_str_eq(aios_json_str(j, "status.artifact.uri"), "pvc://models/pair.aios");
	ck_assert_str_eq(aios_json_str(j, "status.artifact.sha256"), "0123abcd");
	int64_t v64;
	ck_assert_int_eq(aios_json_get_int(j, "status.artifact.bytes", &v64), AIOS_OK);
	ck_assert_int_eq(v64, 4242);
	ck_assert_int_eq(aios_json_get_int(j, "status.workers.succeeded", &v64), AIOS_OK);
	ck_assert_int_eq(v64, 2);
	ck_assert_int_eq(aios_json_get_int(j, "status.observedGeneration", &v64), AIOS_OK);
	ck_assert_int_eq(v64, 1);
	ck_assert_ptr_nonnull(aios_json_str(j, "status.completionTime"));
	json_object_put(j);

	char ev[4096];
	static const char *const want_pair[] = {"SuccessfulCreatePod", "Running",
	                                        "AllWorkersSucceeded", NULL};
	ck_assert_msg(wait_events("pair", ev, sizeof(ev), want_pair), "events: %s", ev);

	/* the operator's own metrics */
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	ck_assert_int_eq(http_get(op.mport, "/metrics", &b), 200);
	ck_assert_ptr_nonnull(strstr(
	    b.data, "aios_operator_reconcile_total{kind=\"trainingjob\",result=\"success\"}"));
	ck_assert_ptr_nonnull(strstr(b.data, "aios_operator_reconcile_duration_seconds_bucket"));
	ck_assert_ptr_nonnull(
	    strstr(b.data, "aios_operator_api_requests_total{verb=\"create\",code=\"201\"}"));
	ck_assert_ptr_nonnull(
	    strstr(b.data, "aios_operator_workqueue_depth{kind=\"trainingjob\"}"));
	aios_buf_cleanup(&b);
	ck_assert_int_eq(op_stop(&op, SIGTERM), 0);
}
END_TEST

/* A failing rank restarts the gang as a new attempt, until backoffLimit; then Failed. */
START_TEST(failing_rank_restarts_until_backoff_limit)
{
	struct op op;
	op_start(&op, 0);
	create_job("flaky", "{\"distributed\":{\"workers\":2},\"runPolicy\":{\"backoffLimit\":1}}");
	wait_pod("flaky-g1a0-w0", 1);
	kubelet("flaky-g1a0-w0", "Running", "127.0.0.20", -1, NULL);
	wait_pod("flaky-g1a0-w1", 1);
	kubelet("flaky-g1a0-w1", "Failed", "127.0.0.21", 3, "reading data\nno such file: d.csv");
	wait_pod("flaky-g1a1-w0", 1);
	wait_pod("flaky-g1a0-w0", 0);
	wait_pod("flaky-g1a0-w1", 0);
	struct json_object *j = wait_phase("flaky", "Restarting");
	int64_t attempts;
	ck_assert_int_eq(aios_json_get_int(j, "status.attempts", &attempts), AIOS_OK);
	ck_assert_int_eq(attempts, 2);
	json_object_put(j);
	struct json_object *p = get(&aios_kube_pods, "flaky-g1a1-w0");
	char v[64];
	pod_env(p, "AIOS_ATTEMPT", v, sizeof(v));
	ck_assert_str_eq(v, "1");
	json_object_put(p);

	kubelet("flaky-g1a1-w0", "Failed", "127.0.0.22", 137, "killed");
	j = wait_phase("flaky", "Failed");
	ck_assert_str_eq(cond_field(j, "Failed", "reason"), "BackoffLimitExceeded");
	ck_assert_ptr_nonnull(strstr(cond_field(j, "Failed", "message"), "exit code 137"));
	json_object_put(j);
	char ev[4096];
	static const char *const want_flaky[] = {"Restarting", "BackoffLimitExceeded", NULL};
	ck_assert_msg(wait_events("flaky", ev, sizeof(ev), want_flaky), "events: %s", ev);
	aios_sleep_ms(1000);
	char names[16][64];
	int n = list_pods(names, 16);
	ck_assert_int_eq(n, 1); /* the failed rank 0 of attempt 1 stays (cleanPodPolicy Running) */
	ck_assert_str_eq(names[0], "flaky-g1a1-w0");
	ck_assert_int_eq(op_stop(&op, SIGTERM), 0);
}
END_TEST

START_TEST(deadline_exceeded)
{
	struct op op;
	op_start(&op, 0);
	create_job("slow", "{\"runPolicy\":{\"activeDeadlineSeconds\":3}}");
	wait_pod("slow-g1a0-w0", 1);
	kubelet("slow-g1a0-w0", "Running", "127.0.0.30", -1, NULL);
	wait_phase("slow", "Running");
	struct json_object *j = wait_phase("slow", "Failed");
	ck_assert_str_eq(cond_field(j, "Failed", "reason"), "DeadlineExceeded");
	json_object_put(j);
	wait_pod("slow-g1a0-w0", 0); /* the running pod is stopped */
	ck_assert_int_eq(op_stop(&op, SIGTERM), 0);
}
END_TEST

START_TEST(suspend_and_resume)
{
	struct op op;
	op_start(&op, 0);
	create_job("sus", "{\"distributed\":{\"workers\":2}}");
	wait_pod("sus-g1a0-w0", 1);
	kubelet("sus-g1a0-w0", "Running", "127.0.0.40", -1, NULL);
	wait_pod("sus-g1a0-w1", 1);
	patch_job("sus", "{\"spec\":{\"runPolicy\":{\"suspend\":true}}}");
	struct json_object *j = wait_phase("sus", "Suspended");
	ck_assert_ptr_null(aios_json_lookup(j, "status.startTime"));
	ck_assert_str_eq(cond_field(j, "Suspended", "status"), "True");
	json_object_put(j);
	wait_pod("sus-g1a0-w0", 0);
	wait_pod("sus-g1a0-w1", 0);
	patch_job("sus", "{\"spec\":{\"runPolicy\":{\"suspend\":false}}}");
	wait_pod("sus-g3a0-w0", 1); /* generation 3: a new run */
	j = wait_phase("sus", "Pending");
	ck_assert_str_eq(cond_field(j, "Suspended", "status"), "False");
	ck_assert_ptr_nonnull(aios_json_str(j, "status.startTime"));
	json_object_put(j);
	ck_assert_int_eq(op_stop(&op, SIGTERM), 0);
}
END_TEST

/* ttlSecondsAfterFinished deletes the job; cleanPodPolicy All deletes its pods. */
START_TEST(ttl_and_clean_pod_policy_all)
{
	struct op op;
	op_start(&op, 0);
	create_job("brief",
	           "{\"runPolicy\":{\"ttlSecondsAfterFinished\":2,\"cleanPodPolicy\":\"All\"}}");
	create_job("keep", "{\"runPolicy\":{\"cleanPodPolicy\":\"None\",\"backoffLimit\":0}}");
	wait_pod("brief-g1a0-w0", 1);
	wait_pod("keep-g1a0-w0", 1);
	kubelet("brief-g1a0-w0", "Succeeded", "127.0.0.50", 0, "");
	kubelet("keep-g1a0-w0", "Failed", "127.0.0.51", 1, "bad");
	struct json_object *j = wait_phase("brief", "Succeeded");
	json_object_put(j);
	wait_pod("brief-g1a0-w0", 0);
	int64_t end = aios_now_ms() + WAIT_MS;
	for (;;) {
		struct json_object *o = get(&aios_kube_trainingjobs, "brief");
		json_object_put(o);
		if (!o)
			break;
		ck_assert_msg(aios_now_ms() < end, "job brief not deleted after its TTL");
		aios_sleep_ms(200);
	}
	j = wait_phase("keep", "Failed");
	json_object_put(j);
	aios_sleep_ms(1000);
	ck_assert_msg(pod_exists("keep-g1a0-w0"), "cleanPodPolicy None deleted a pod");
	ck_assert_int_eq(op_stop(&op, SIGTERM), 0);
}
END_TEST

/* SIGKILL mid-reconcile, start again: every job ends with exactly its ranks' pods. */
START_TEST(kill_and_restart_no_duplicate_no_orphan)
{
	enum { JOBS = 8 };
	struct op op;
	op_start(&op, 1);
	for (int i = 0; i < JOBS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "k%d", i);
		create_job(name, "{\"distributed\":{\"workers\":2}}");
	}
	wait_pod("k0-g1a0-w0", 1);
	ck_assert_int_eq(op_stop(&op, SIGKILL), 128 + SIGKILL);
	/* the kubelet carries on while the operator is down */
	for (int i = 0; i < JOBS; i++) {
		char pod[64], ip[32];
		snprintf(pod, sizeof(pod), "k%d-g1a0-w0", i);
		snprintf(ip, sizeof(ip), "127.0.1.%d", i + 1);
		if (pod_exists(pod))
			kubelet(pod, "Running", ip, -1, NULL);
	}
	op_start(&op, 1); /* waits for the Lease the killed one held (<= 15 s) */
	for (int i = 0; i < JOBS; i++) {
		char pod[64], ip[32];
		snprintf(pod, sizeof(pod), "k%d-g1a0-w0", i);
		snprintf(ip, sizeof(ip), "127.0.1.%d", i + 1);
		int64_t end = aios_now_ms() + 60000;
		while (!pod_exists(pod)) {
			if (aios_now_ms() >= end) {
				op_dump_log(
				    &op); /* once failed in CI: show what the operator did */
				ck_abort_msg("pod %s never created", pod);
			}
			aios_sleep_ms(100);
		}
		struct json_object *p = get(&aios_kube_pods, pod);
		int has_ip = aios_json_str(p, "status.podIP") != NULL;
		json_object_put(p);
		if (!has_ip)
			kubelet(pod, "Running", ip, -1, NULL);
	}
	for (int i = 0; i < JOBS; i++) {
		char pod[64];
		snprintf(pod, sizeof(pod), "k%d-g1a0-w1", i);
		wait_pod(pod, 1);
	}
	aios_sleep_ms(2000); /* anything extra would show up now */
	char names[64][64];
	int n = list_pods(names, 64);
	ck_assert_int_eq(n, 2 * JOBS);
	for (int i = 0; i < n; i++) {
		struct json_object *p = get(&aios_kube_pods, names[i]);
		struct json_object * or
		    = json_object_array_get_idx(aios_json_lookup(p, "metadata.ownerReferences"), 0);
		ck_assert_msg(or != NULL, "pod %s has no owner", names[i]);
		struct json_object *j = get(&aios_kube_trainingjobs, aios_json_str(or, "name"));
		ck_assert_msg(j != NULL, "pod %s: owner %s does not exist", names[i],
		              aios_json_str(or, "name"));
		ck_assert_str_eq(aios_json_str(or, "uid"), aios_json_str(j, "metadata.uid"));
		json_object_put(j);
		json_object_put(p);
	}
	ck_assert_int_eq(op_stop(&op, SIGTERM), 0);
	/* a clean stop released the Lease (holder emptied): a new leader starts at once */
	struct aios_kube_ref lr = aios_kube_ref(&aios_kube_leases, "aios-system", "aios-operator");
	struct json_object *lease = NULL;
	ck_assert_int_eq(aios_kube_get(g_kube, &lr, &lease), AIOS_OK);
	const char *holder = aios_json_str(lease, "spec.holderIdentity");
	ck_assert_msg(!holder || !*holder, "the stopped operator still holds the Lease: %s",
	              holder);
	json_object_put(lease);
	int64_t t0 = aios_now_ms();
	op_start(&op, 1);
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	int64_t end = aios_now_ms() + 10000;
	while (http_get(op.mport, "/metrics", &b) == 200 &&
	       !strstr(b.data, "\naios_operator_leader 1\n") && aios_now_ms() < end) {
		aios_buf_reset(&b);
		aios_sleep_ms(100);
	}
	ck_assert_msg(b.data && strstr(b.data, "\naios_operator_leader 1\n"),
	              "no leadership within 10 s of a released Lease");
	ck_assert_int_lt(aios_now_ms() - t0, 10000);
	aios_buf_cleanup(&b);
	ck_assert_int_eq(op_stop(&op, SIGTERM), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trainingjob_operator");
	TCase *tc = tcase_create("operator");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, two_workers_in_order_then_succeeded);
	tcase_add_test(tc, failing_rank_restarts_until_backoff_limit);
	tcase_add_test(tc, deadline_exceeded);
	tcase_add_test(tc, suspend_and_resume);
	tcase_add_test(tc, ttl_and_clean_pod_policy_all);
	tcase_add_test(tc, kill_and_restart_no_duplicate_no_orphan);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
