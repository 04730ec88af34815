/*
 * operator_proc.c - see operator_proc.h.
 */
#include "support/operator_proc.h"
#include "support/ports.h"

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
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "kube/client.h"
#include "support/kube_test.h"
#include "support/kubectl.h"

void aios_test_operator_install(void)
{
	static char out[AIOS_TEST_KUBECTL_OUT_CAP];
	const char *kc = aios_test_kubeconfig();
	char path[4096];
	snprintf(path, sizeof(path), "%s", aios_test_path("crds"));
	int rc = aios_test_kubectl(kc, NULL, out, sizeof(out), "apply", "-f", path, NULL);
	ck_assert_msg(rc == 0, "kubectl apply crds: %s", out);
	static const char *const files[] = {"namespace.yaml",
	                                    "service-account.yaml",
	                                    "workload-service-account.yaml",
	                                    "cluster-role.yaml",
	                                    "cluster-role-binding.yaml",
	                                    "leader-election-role.yaml",
	                                    "leader-election-role-binding.yaml"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char rel[256];
		snprintf(rel, sizeof(rel), "operator/%s", files[i]);
		snprintf(path, sizeof(path), "%s", aios_test_path(rel));
		rc = aios_test_kubectl(kc, NULL, out, sizeof(out), "apply", "-f", path, NULL);
		ck_assert_msg(rc == 0, "kubectl apply %s: %s", rel, out);
	}
	aios_test_wait_crds_established(kc);
}

/* Forks argv[0] with stdout and stderr into log (truncated); o->pid is the child. */
static void spawn(struct aios_test_operator *o, const char *log, const char *const *argv)
{
	snprintf(o->log, sizeof(o->log), "%s", log);
	o->pid = fork();
	ck_assert_int_ge(o->pid, 0);
	if (o->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
}

void aios_test_operator_start(struct aios_test_operator *o, const char *log, int serve_ports,
                              const char *const *extra)
{
	const char *build = getenv("AIOS_BUILD_DIR");
	const char *dir = getenv("AIOS_TEST_CLUSTER_DIR");
	ck_assert_msg(build && dir, "AIOS_BUILD_DIR and AIOS_TEST_CLUSTER_DIR must be set "
	                            "(tests/cluster/run-integration.sh)");
	char bin[4096], kc[4096], mb[64] = "0", hb[64] = "0";
	snprintf(bin, sizeof(bin), "%s/src/operator/aios-operator", build);
	snprintf(kc, sizeof(kc), "%s/operator.kubeconfig", dir);
	o->metrics_port = o->health_port = 0;
	if (serve_ports) {
		o->metrics_port = aios_test_free_port();
		o->health_port = aios_test_free_port();
		snprintf(mb, sizeof(mb), "127.0.0.1:%d", o->metrics_port);
		snprintf(hb, sizeof(hb), "127.0.0.1:%d", o->health_port);
	}
	const char *argv[64] = {
	    bin, "--kubeconfig", kc, "--metrics-bind-address", mb, "--health-probe-bind-address",
	    hb,  "--workers",    "2"};
	size_t n = 9;
	for (size_t i = 0; extra && extra[i] && n < 63; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	spawn(o, log, argv);
}

void aios_test_gateway_start(struct aios_test_operator *o, const char *log,
                             const char *const *extra)
{
	const char *build = getenv("AIOS_BUILD_DIR");
	const char *dir = getenv("AIOS_TEST_CLUSTER_DIR");
	ck_assert_msg(build && dir, "AIOS_BUILD_DIR and AIOS_TEST_CLUSTER_DIR must be set "
	                            "(tests/cluster/run-integration.sh)");
	char bin[4096], kc[4096], port[16];
	snprintf(bin, sizeof(bin), "%s/src/gateway/aios-gateway", build);
	snprintf(kc, sizeof(kc), "%s/gateway.kubeconfig", dir);
	o->metrics_port = o->health_port = aios_test_free_port();
	snprintf(port, sizeof(port), "%d", o->health_port);
	const char *argv[64] = {bin, "--kubeconfig", kc, "--bind", "127.0.0.1", "--port", port};
	size_t n = 7;
	for (size_t i = 0; extra && extra[i] && n < 63; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	spawn(o, log, argv);
}

int aios_test_operator_stop(struct aios_test_operator *o, int sig)
{
	if (o->pid <= 0)
		return -1;
	kill(o->pid, sig);
	int st = 0;
	int64_t end = aios_now_ms() + 10000;
	while (waitpid(o->pid, &st, WNOHANG) == 0) {
		if (aios_now_ms() > end) {
			kill(o->pid, SIGKILL);
			waitpid(o->pid, &st, 0);
			break;
		}
		aios_sleep_ms(50);
	}
	o->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	(void)!aios_buf_append(ud, p, s * n);
	return s * n;
}

long aios_test_http_get(int port, const char *path, char *out, size_t cap)
{
	struct aios_buf b;
	aios_buf_init(&b, cap > 1 ? cap - 1 : 1);
	CURL *h = curl_easy_init();
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	long code = 0;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	snprintf(out, cap, "%.*s", (int)b.len, b.data ? b.data : "");
	aios_buf_cleanup(&b);
	return code;
}

double aios_test_operator_metric(struct aios_test_operator *o, const char *series)
{
	static char page[256 * 1024];
	if (aios_test_http_get(o->metrics_port, "/metrics", page, sizeof(page)) != 200)
		return 0;
	double sum = 0;
	size_t sl = strlen(series);
	for (char *line = strtok(page, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, series, sl) != 0 || (line[sl] != ' ' && line[sl] != '{'))
			continue;
		const char *v = strrchr(line, ' ');
		if (v)
			sum += strtod(v + 1, NULL);
	}
	return sum;
}

const char *aios_test_operator_log_find(const struct aios_test_operator *o, const char *needle)
{
	static char line[16384];
	FILE *f = fopen(o->log, "r");
	if (!f)
		return NULL;
	const char *hit = NULL;
	while (!hit && fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			hit = line;
	fclose(f);
	return hit;
}

void aios_test_namespace_accounts(struct aios_kube_client *c, const char *ns)
{
	static const char *const names[] = {"default", "aios-workload"};
	for (int i = 0; i < 2; i++) {
		struct json_object *sa = aios_kt_object("v1", "ServiceAccount", ns, names[i]);
		struct aios_kube_ref r = aios_kube_ref(&aios_kube_serviceaccounts, ns, NULL);
		enum aios_err e = aios_kube_create(c, &r, sa, NULL, NULL);
		ck_assert_msg(e == AIOS_OK || e == AIOS_ERR_EXISTS, "%s", aios_errmsg());
		json_object_put(sa);
	}
}

void aios_test_create_small_job(struct aios_kube_client *c, const char *ns, const char *name)
{
	char doc[1024];
	snprintf(doc, sizeof(doc),
	         "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\",\"metadata\":"
	         "{\"name\":\"%s\"},\"spec\":{\"model\":{\"type\":\"linear\"},\"data\":{\"inline\":"
	         "{\"features\":[[1],[2]],\"labels\":[2,4]}}}}",
	         name);
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(doc, strlen(doc), "job", &o), AIOS_OK);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_trainingjobs, ns, NULL);
	enum aios_err e;
	int64_t end = aios_now_ms() + 30000;
	while ((e = aios_kube_create(c, &r, o, NULL, NULL)) == AIOS_ERR_UNAVAILABLE &&
	       aios_now_ms() < end)
		aios_sleep_ms(100);
	ck_assert_msg(e == AIOS_OK, "create TrainingJob %s: %s", name, aios_errmsg());
	json_object_put(o);
}

const char *aios_test_log_refusal(const char *log, const char *verb, const char *resource)
{
	static char line[8192];
	char want[256], res[128];
	size_t k = 0;
	for (const char *p = resource; *p && k + 2 < sizeof(res); p++) {
		if (*p == '/')
			res[k++] = '\\'; /* the JSON log writes "/" as "\/" */
		res[k++] = *p;
	}
	res[k] = '\0';
	snprintf(want, sizeof(want), "cannot %s resource \\\"%s\\\"", verb, res);
	FILE *f = fopen(log, "r");
	if (!f)
		return NULL;
	const char *hit = NULL;
	while (!hit && fgets(line, sizeof(line), f))
		/* "*": any RBAC refusal. Other 403s (a namespace left terminating by an earlier
		 * test on this API server, which has no namespace controller) are not RBAC's. */
		if (strstr(line, want) ||
		    (verb[0] == '*' && strstr(line, "forbidden") && strstr(line, " cannot ")))
			hit = line;
	fclose(f);
	return hit;
}
