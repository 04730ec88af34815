/*
 * test_kube_proxy.c - the kube client and kubectl-aios through an HTTP CONNECT proxy to
 * the real API server. The proxy is tests/support/connect_proxy.py on loopback: it
 * tunnels to 127.0.0.1 only and writes one line per request into a log, which is how
 * these tests count the tunnels. Cases: a kubeconfig cluster's proxy-url; HTTPS_PROXY
 * and https_proxy from the environment; NO_PROXY bypassing the environment's proxy but
 * not a proxy-url (client-go's rule); a proxy-url nobody listens on and a proxy that
 * refuses the tunnel, each failing with a message that names the proxy; and
 * `kubectl aios get tj -A` with the proxy kubeconfig.
 *
 * The proxy variables are process-wide: each test's checked setup saves and unsets all
 * of them and its teardown puts them back, so nothing leaks into the next test when
 * Check runs every test in one process (CK_FORK=no).
 */
#include <check.h>
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
#include "common/clock.h"
#include "kube/client.h"
#include "kube/config.h"
#include "support/kube_test.h"
#include "support/kubectl.h"
#include "support/tmpdir.h"

/* ============================== the proxy process ============================== */

struct proxy {
	pid_t pid;
	int stdin_fd; /* closing it stops the proxy */
	int port;
	char log[300];
};

/* Starts connect_proxy.py with its log in dir; waits for the port line (10 s). */
static void proxy_start(struct proxy *p, const char *dir)
{
	int in[2], out[2];
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	snprintf(p->log, sizeof(p->log), "%s/proxy.log", dir);
	const char *script = aios_test_path("tests/support/connect_proxy.py");
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execlp("python3", "python3", script, p->log, "--max-conns", "16", "--time-limit",
		       "300", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->stdin_fd = in[1];
	FILE *f = fdopen(out[0], "r");
	ck_assert_ptr_nonnull(f);
	char line[64] = "";
	ck_assert_msg(fgets(line, sizeof(line), f) != NULL, "%s printed no port", script);
	fclose(f);
	char *end;
	long port = strtol(line, &end, 10);
	ck_assert_msg(end != line && port > 0 && port < 65536, "%s printed \"%s\"", script, line);
	p->port = (int)port;
}

/* Closes the proxy's stdin and reaps it (SIGKILL after 5 s). */
static void proxy_stop(struct proxy *p)
{
	if (p->pid <= 0)
		return;
	close(p->stdin_fd);
	int st;
	int64_t end = aios_now_ms() + 5000;
	while (waitpid(p->pid, &st, WNOHANG) == 0) {
		if (aios_now_ms() > end) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			break;
		}
		aios_sleep_ms(20);
	}
	p->pid = 0;
}

/* Lines of the proxy's log starting with prefix ("open 127.0.0.1:6443"); the log's last
 * line in last when wanted. */
static int proxy_count(const struct proxy *p, const char *prefix, char *last, size_t n)
{
	FILE *f = fopen(p->log, "r");
	if (last)
		last[0] = 0;
	if (!f)
		return 0; /* no request yet */
	char line[512];
	int count = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		count += strncmp(line, prefix, strlen(prefix)) == 0;
		if (last)
			snprintf(last, n, "%s", line);
	}
	fclose(f);
	return count;
}

/* ============================== fixture ============================== */

static const char *const proxy_vars[] = {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                                         "ALL_PROXY",   "all_proxy",   "NO_PROXY",   "no_proxy"};
#define NVARS (sizeof(proxy_vars) / sizeof(proxy_vars[0]))
static char *g_saved[NVARS];

static char g_dir[256];
static struct proxy g_proxy;
static char g_admin[512];     /* the tier's admin kubeconfig */
static char g_via_proxy[300]; /* the same with proxy-url: http://127.0.0.1:<proxy> */
static char g_open_api[64];   /* "open 127.0.0.1:<API server port>" */
static char g_api_host[256];  /* host:port of the API server */

/* path := the admin kubeconfig with "proxy-url: URL" in its cluster and, when server is
 * not NULL, that server instead of the API server's. */
static void write_kubeconfig(const char *path, const char *proxy_url, const char *server)
{
	FILE *in = fopen(g_admin, "r");
	ck_assert_msg(in != NULL, "cannot read %s", g_admin);
	FILE *out = fopen(path, "w");
	ck_assert_ptr_nonnull(out);
	char line[8192];
	int added = 0;
	while (fgets(line, sizeof(line), in)) {
		if (server && strncmp(line, "    server: ", 12) == 0) {
			fprintf(out, "    server: %s\n", server);
			continue;
		}
		fputs(line, out);
		if (strcmp(line, "  cluster:\n") == 0 && proxy_url && !added) {
			fprintf(out, "    proxy-url: %s\n", proxy_url);
			added = 1;
		}
	}
	fclose(in);
	fclose(out);
	ck_assert_msg(added || !proxy_url, "%s has no \"  cluster:\" line", g_admin);
}

static void setup(void)
{
	for (size_t i = 0; i < NVARS; i++) {
		const char *v = getenv(proxy_vars[i]);
		g_saved[i] = v ? strdup(v) : NULL;
		unsetenv(proxy_vars[i]);
	}
	aios_test_tmpdir("aios-proxy", g_dir, sizeof(g_dir));
	snprintf(g_admin, sizeof(g_admin), "%s/admin.kubeconfig", aios_kt_cluster_dir());
	struct aios_kube_config *cfg = NULL;
	ck_assert_msg(aios_kube_config_load_file(g_admin, NULL, &cfg) == AIOS_OK, "%s",
	              aios_errmsg());
	const char *hp = strstr(cfg->server, "://");
	ck_assert_ptr_nonnull(hp);
	snprintf(g_api_host, sizeof(g_api_host), "%s", hp + 3);
	g_api_host[strcspn(g_api_host, "/")] = 0;
	const char *colon = strrchr(g_api_host, ':');
	ck_assert_msg(strncmp(g_api_host, "127.0.0.1:", 10) == 0 && colon,
	              "the API server is not on 127.0.0.1:PORT: %s", cfg->server);
	snprintf(g_open_api, sizeof(g_open_api), "open 127.0.0.1:%s", colon + 1);
	aios_kube_config_free(cfg);

	proxy_start(&g_proxy, g_dir);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", g_proxy.port);
	snprintf(g_via_proxy, sizeof(g_via_proxy), "%s/via-proxy.kubeconfig", g_dir);
	write_kubeconfig(g_via_proxy, url, NULL);
}

static void teardown(void)
{
	proxy_stop(&g_proxy);
	aios_test_tmpdir_remove(g_dir);
	for (size_t i = 0; i < NVARS; i++) {
		if (g_saved[i])
			setenv(proxy_vars[i], g_saved[i], 1);
		else
			unsetenv(proxy_vars[i]);
		free(g_saved[i]);
		g_saved[i] = NULL;
	}
}

/* LIST namespaces with a fresh client from kubeconfig; its error, message in msg. */
static enum aios_err list_namespaces(const char *kubeconfig, char *msg, size_t n)
{
	struct aios_kube_config *cfg = NULL;
	ck_assert_msg(aios_kube_config_load_file(kubeconfig, NULL, &cfg) == AIOS_OK, "%s: %s",
	              kubeconfig, aios_errmsg());
	struct aios_kube_client *c = NULL;
	ck_assert_msg(aios_kube_client_new(cfg, &c) == AIOS_OK, "%s", aios_errmsg());
	aios_kube_config_free(cfg);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_namespaces, NULL, NULL);
	struct json_object *list = NULL;
	enum aios_err e = aios_kube_list(c, &r, NULL, &list);
	snprintf(msg, n, "%s", e ? aios_errmsg() : "");
	if (e == AIOS_OK)
		ck_assert_msg(json_object_array_length(json_object_object_get(list, "items")) > 0,
		              "LIST namespaces: no items");
	json_object_put(list);
	aios_kube_client_free(c);
	aios_errclear();
	return e;
}

/* ============================== tests ============================== */

START_TEST(proxy_url_tunnels_to_the_api_server)
{
	char msg[1024], last[512];
	ck_assert_int_eq(proxy_count(&g_proxy, "open ", NULL, 0), 0);
	ck_assert_msg(list_namespaces(g_via_proxy, msg, sizeof msg) == AIOS_OK, "%s", msg);
	int n = proxy_count(&g_proxy, g_open_api, last, sizeof last);
	ck_assert_msg(n >= 1, "no tunnel to %s (last log line: \"%s\")", g_api_host, last);
	ck_assert_int_eq(proxy_count(&g_proxy, "", NULL, 0), n); /* nothing refused */
}
END_TEST

/* HTTPS_PROXY and https_proxy (libcurl reads both for https://), no proxy-url. */
START_TEST(https_proxy_from_the_environment)
{
	static const char *const vars[] = {"HTTPS_PROXY", "https_proxy"};
	char url[64], msg[1024];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", g_proxy.port);
	int before = 0;
	for (size_t i = 0; i < 2; i++) {
		setenv(vars[i], url, 1);
		ck_assert_msg(list_namespaces(g_admin, msg, sizeof msg) == AIOS_OK, "%s=%s: %s",
		              vars[i], url, msg);
		unsetenv(vars[i]);
		int n = proxy_count(&g_proxy, g_open_api, NULL, 0);
		ck_assert_msg(n > before, "%s=%s: no new tunnel to %s", vars[i], url, g_api_host);
		before = n;
	}
}
END_TEST

START_TEST(no_proxy_bypasses_the_environment_proxy)
{
	char url[64], msg[1024];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", g_proxy.port);
	setenv("HTTPS_PROXY", url, 1);
	setenv("NO_PROXY", "127.0.0.1", 1);
	ck_assert_msg(list_namespaces(g_admin, msg, sizeof msg) == AIOS_OK, "%s", msg);
	ck_assert_msg(proxy_count(&g_proxy, "", NULL, 0) == 0,
	              "NO_PROXY=127.0.0.1, yet the proxy saw a request");
	/* the control: the same environment without NO_PROXY goes through it */
	unsetenv("NO_PROXY");
	ck_assert_msg(list_namespaces(g_admin, msg, sizeof msg) == AIOS_OK, "%s", msg);
	ck_assert_int_ge(proxy_count(&g_proxy, g_open_api, NULL, 0), 1);
}
END_TEST

/* A kubeconfig's proxy-url is used for every request, as client-go does: NO_PROXY and
 * the environment's proxies do not apply to it. */
START_TEST(proxy_url_ignores_no_proxy)
{
	char msg[1024];
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1); /* would fail if it were used */
	ck_assert_msg(list_namespaces(g_via_proxy, msg, sizeof msg) == AIOS_OK, "%s", msg);
	ck_assert_msg(proxy_count(&g_proxy, g_open_api, NULL, 0) >= 1,
	              "with proxy-url and NO_PROXY=127.0.0.1 the request bypassed the proxy");
}
END_TEST

/* proxy-url on a port that refuses connections: a bound socket that never listens holds
 * it for the duration, so no other test can start a server there meanwhile. */
START_TEST(dead_proxy_is_named)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t al = sizeof a;
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	char url[64], kc[300], msg[1024], want[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	snprintf(kc, sizeof(kc), "%s/dead-proxy.kubeconfig", g_dir);
	write_kubeconfig(kc, url, NULL);
	int64_t t0 = aios_now_ms();
	enum aios_err e = list_namespaces(kc, msg, sizeof msg);
	int64_t took = aios_now_ms() - t0;
	close(fd);
	ck_assert_msg(e == AIOS_ERR_UNAVAILABLE, "%s (%s)", aios_strerror(e), msg);
	snprintf(want, sizeof(want), "proxy %s: ", url);
	ck_assert_msg(strstr(msg, want) && strstr(msg, "GET /api/v1/namespaces") &&
	                  strstr(msg, "Connection refused"),
	              "the message does not name the proxy and the request: %s", msg);
	ck_assert_msg(took < 5000, "refused after %lld ms", (long long)took);
	printf("dead proxy: %s (%lld ms)\n", msg, (long long)took);
}
END_TEST

/* A proxy that answers the CONNECT with 403: this one tunnels to 127.0.0.1 and localhost
 * only, so a server at 127.0.0.2 (loopback still, should anything bypass the proxy) is
 * refused. */
START_TEST(refused_tunnel_is_named)
{
	char url[64], kc[300], msg[1024], want[160];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", g_proxy.port);
	snprintf(kc, sizeof(kc), "%s/refused.kubeconfig", g_dir);
	write_kubeconfig(kc, url, "https://127.0.0.2:6443");
	enum aios_err e = list_namespaces(kc, msg, sizeof msg);
	ck_assert_msg(e == AIOS_ERR_UNAVAILABLE, "%s (%s)", aios_strerror(e), msg);
	snprintf(want, sizeof(want), "proxy %s: ", url);
	ck_assert_msg(strstr(msg, want) && strstr(msg, "403"), "%s", msg);
	ck_assert_int_eq(proxy_count(&g_proxy, "refused 127.0.0.2:6443 403", NULL, 0), 1);
	ck_assert_int_eq(proxy_count(&g_proxy, "open ", NULL, 0), 0);
	/* the same proxy from the environment: the message says a proxy refused */
	setenv("HTTPS_PROXY", url, 1);
	snprintf(kc, sizeof(kc), "%s/refused-env.kubeconfig", g_dir);
	write_kubeconfig(kc, NULL, "https://127.0.0.2:6443");
	e = list_namespaces(kc, msg, sizeof msg);
	ck_assert_msg(e == AIOS_ERR_UNAVAILABLE, "%s (%s)", aios_strerror(e), msg);
	ck_assert_msg(strstr(msg, "proxy from the environment: ") && strstr(msg, "403"), "%s", msg);
	printf("refused tunnel: %s\n", msg);
}
END_TEST

START_TEST(plugin_through_the_proxy)
{
	static char out[AIOS_TEST_KUBECTL_OUT_CAP];
	const char *admin = aios_test_kubeconfig();
	int rc = aios_test_kubectl(admin, NULL, out, sizeof(out), "apply", "-f",
	                           aios_test_path("crds"), (char *)NULL);
	ck_assert_msg(rc == 0, "kubectl apply -f crds/: %s", out);
	aios_test_wait_crds_established(admin);
	const char *build = getenv("AIOS_BUILD_DIR");
	ck_assert_msg(build != NULL, "AIOS_BUILD_DIR must be set (ctest sets it)");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "KUBECONFIG='%s' '%s/src/cli/kubectl-aios' get tj -A 2>&1 </dev/null", g_via_proxy,
	         build);
	int before = proxy_count(&g_proxy, g_open_api, NULL, 0);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	int st = pclose(p);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", cmd, out);
	ck_assert_msg(proxy_count(&g_proxy, g_open_api, NULL, 0) > before,
	              "kubectl-aios did not go through the proxy: %s", out);
	ck_assert_int_eq(proxy_count(&g_proxy, "", NULL, 0),
	                 proxy_count(&g_proxy, "open ", NULL, 0));
}
END_TEST

static Suite *proxy_suite(void)
{
	Suite *s = suite_create("kube_proxy");
	TCase *tc = tcase_create("connect");
	aios_test_tmpdir_fixture(tc);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, proxy_url_tunnels_to_the_api_server);
	tcase_add_test(tc, https_proxy_from_the_environment);
	tcase_add_test(tc, no_proxy_bypasses_the_environment_proxy);
	tcase_add_test(tc, proxy_url_ignores_no_proxy);
	tcase_add_test(tc, dead_proxy_is_named);
	tcase_add_test(tc, refused_tunnel_is_named);
	tcase_add_test(tc, plugin_through_the_proxy);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(proxy_suite)
