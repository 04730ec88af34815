/*
 * test_cli_plugin.c - kubectl-aios against a real kube-apiserver, as a user runs it:
 * -o yaml that kubectl reads back to the same object, -o json and -o name, a missing
 * object, a user without rights told which verb on which resource, the server's
 * version, completion of object names from the cluster, and a kubeconfig whose user is
 * an exec credential plugin (one that works, one that fails, one whose token the server
 * refuses).
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/json.h"
#include "kube/config.h"
#include "support/kubectl.h"
#include "support/tmpdir.h"

static char g_ns[64];
static char g_out[AIOS_TEST_KUBECTL_OUT_CAP];
static char g_json[AIOS_TEST_KUBECTL_OUT_CAP];

/* Runs kubectl-aios --kubeconfig KC ARGS... (NULL-ended), stdout and stderr into out;
 * returns its exit status. */
static int plugin(const char *kc, char *out, size_t cap, ...)
{
	const char *build = getenv("AIOS_BUILD_DIR");
	ck_assert_msg(build != NULL, "AIOS_BUILD_DIR must be set (ctest sets it)");
	char cmd[4096];
	int len = snprintf(cmd, sizeof(cmd), "KUBECONFIG='%s' %s/src/cli/kubectl-aios", kc, build);
	va_list ap;
	va_start(ap, cap);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
		len += snprintf(cmd + len, sizeof(cmd) - (size_t)len, " '%s'", a);
	va_end(ap);
	snprintf(cmd + len, sizeof(cmd) - (size_t)len, " 2>&1 </dev/null"); /* no terminal */
	FILE *p = popen(cmd, "r");
	ck_assert_msg(p != NULL, "cannot run %s", cmd);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	ck_assert_msg(WIFEXITED(st), "%s: killed", cmd);
	return WEXITSTATUS(st);
}

static void setup(void)
{
	const char *kc = aios_test_kubeconfig();
	int rc = aios_test_kubectl(kc, NULL, g_out, sizeof(g_out), "apply", "-f",
	                           aios_test_path("crds"), (char *)NULL);
	ck_assert_msg(rc == 0, "kubectl apply -f crds/: %s", g_out);
	aios_test_wait_crds_established(kc);
	snprintf(g_ns, sizeof(g_ns), "aios-cli-test-%d", (int)getpid());
	rc = aios_test_kubectl(kc, NULL, g_out, sizeof(g_out), "create", "namespace", g_ns,
	                       (char *)NULL);
	ck_assert_msg(rc == 0, "create namespace %s: %s", g_ns, g_out);
	rc = aios_test_kubectl(kc, NULL, g_out, sizeof(g_out), "apply", "-n", g_ns, "-f",
	                       aios_test_path("examples/trainingjob-linear.yaml"), (char *)NULL);
	ck_assert_msg(rc == 0, "apply the seed example: %s", g_out);
}

static void teardown(void)
{
	const char *kc = aios_test_kubeconfig();
	if (aios_test_kubectl(kc, NULL, g_out, sizeof(g_out), "delete", "trainingjobs", "--all",
	                      "-n", g_ns, "--wait=false", (char *)NULL) != 0 ||
	    aios_test_kubectl(kc, NULL, g_out, sizeof(g_out), "delete", "namespace", g_ns,
	                      "--wait=false", (char *)NULL) != 0)
		fprintf(stderr, "teardown of %s: %s\n", g_ns, g_out);
}

static struct json_object *parse(const char *s, const char *what)
{
	struct json_object *o = NULL;
	ck_assert_msg(aios_json_parse(s, strlen(s), what, &o) == AIOS_OK, "%s: %s\n%s", what,
	              aios_errmsg(), s);
	return o;
}

/* `kubectl aios get tj NAME -o yaml`, read back by kubectl (client side, no server),
 * is the object `kubectl get -o json` shows. */
START_TEST(yaml_reads_back_as_the_same_object)
{
	const char *kc = aios_test_kubeconfig();
	static char yaml[AIOS_TEST_KUBECTL_OUT_CAP];
	ck_assert_msg(plugin(kc, yaml, sizeof(yaml), "get", "tj", "linear", "-n", g_ns, "-o",
	                     "yaml", NULL) == 0,
	              "%s", yaml);
	int rc = aios_test_kubectl(kc, yaml, g_out, sizeof(g_out), "create", "--dry-run=client",
	                           "-o", "json", "-f", "-", (char *)NULL);
	ck_assert_msg(rc == 0, "kubectl could not read the plugin's YAML: %s\n%s", g_out, yaml);
	rc = aios_test_kubectl(kc, NULL, g_json, sizeof(g_json), "get", "tj", "linear", "-n", g_ns,
	                       "-o", "json", (char *)NULL);
	ck_assert_msg(rc == 0, "%s", g_json);
	struct json_object *back = parse(g_out, "read back"), *orig = parse(g_json, "kubectl get");
	ck_assert_msg(
	    json_object_equal(aios_json_lookup(back, "spec"), aios_json_lookup(orig, "spec")),
	    "spec differs:\n%s\nvs\n%s", g_out, g_json);
	ck_assert_str_eq(aios_json_str(back, "metadata.uid"), aios_json_str(orig, "metadata.uid"));
	json_object_put(back);
	json_object_put(orig);
}
END_TEST

START_TEST(json_and_name)
{
	const char *kc = aios_test_kubeconfig();
	ck_assert_msg(plugin(kc, g_out, sizeof(g_out), "get", "-n", g_ns, "-o", "json", NULL) == 0,
	              "%s", g_out);
	struct json_object *list = parse(g_out, "-o json");
	ck_assert_str_eq(aios_json_str(list, "kind"), "List");
	struct json_object *items = aios_json_lookup(list, "items");
	ck_assert_int_eq(json_object_array_length(items), 1);
	ck_assert_str_eq(aios_json_str(json_object_array_get_idx(items, 0), "kind"), "TrainingJob");
	json_object_put(list);
	ck_assert_msg(
	    plugin(kc, g_out, sizeof(g_out), "get", "tj", "-n", g_ns, "-o", "name", NULL) == 0,
	    "%s", g_out);
	ck_assert_str_eq(g_out, "trainingjob.aios.dev/linear\n");
	ck_assert_msg(plugin(kc, g_out, sizeof(g_out), "get", "-n", g_ns, "-o", "wide", NULL) == 0,
	              "%s", g_out);
	ck_assert_msg(strstr(g_out, "attempts=0 artifact=- sha256=-"), "%s", g_out);
}
END_TEST

START_TEST(missing_object_and_forbidden_user)
{
	const char *kc = aios_test_kubeconfig();
	ck_assert_int_eq(plugin(kc, g_out, sizeof(g_out), "get", "tj", "nope", "-n", g_ns, NULL),
	                 1);
	char want[256];
	snprintf(want, sizeof(want), "trainingjobs.aios.dev \"nope\" not found in namespace %s",
	         g_ns);
	ck_assert_msg(strstr(g_out, want), "%s", g_out);
	char nobody[1024];
	snprintf(nobody, sizeof(nobody), "%s/nobody.kubeconfig", getenv("AIOS_TEST_CLUSTER_DIR"));
	ck_assert_int_eq(plugin(nobody, g_out, sizeof(g_out), "get", "-n", g_ns, NULL), 1);
	snprintf(want, sizeof(want),
	         "you may not list trainingjobs.aios.dev in namespace %s: ask for a Role that "
	         "grants it (kubectl auth can-i list trainingjobs.aios.dev -n %s)",
	         g_ns, g_ns);
	ck_assert_msg(strstr(g_out, want), "%s", g_out);
}
END_TEST

START_TEST(version_and_completion)
{
	const char *kc = aios_test_kubeconfig();
	ck_assert_msg(plugin(kc, g_out, sizeof(g_out), "version", NULL) == 0, "%s", g_out);
	ck_assert_msg(strstr(g_out, "Client Version: kubectl-aios v"), "%s", g_out);
	ck_assert_msg(strstr(g_out, "Server Version: v1.20.2"), "%s", g_out);
	ck_assert_msg(plugin(kc, g_out, sizeof(g_out), "__complete", "-n", g_ns, "logs", "tj", "li",
	                     NULL) == 0,
	              "%s", g_out);
	ck_assert_str_eq(g_out, "linear\n");
}
END_TEST

/* ---- exec credential plugins ------------------------------------------- */

static char g_dir[256];

/* Writes DIR/name with text (mode 0755 when exec). */
static void put_file(const char *name, const char *text, int exec)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", g_dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(p, exec ? 0755 : 0600), 0);
}

/* A kubeconfig for the test cluster whose user runs `./plugin.sh` (relative: from
 * the kubeconfig's directory). */
static void exec_kubeconfig(const char *kc_name)
{
	struct aios_kube_config *admin = NULL;
	ck_assert_msg(aios_kube_config_load_file(aios_test_kubeconfig(), NULL, &admin) == AIOS_OK,
	              "%s", aios_errmsg());
	ck_assert_ptr_nonnull(admin->ca_data);
	put_file("ca.crt", admin->ca_data, 0);
	char kc[2048];
	snprintf(kc, sizeof(kc),
	         "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
	         "clusters:\n- name: k\n  cluster:\n    server: %s\n"
	         "    certificate-authority: ca.crt\n"
	         "users:\n- name: sso\n  user:\n    exec:\n"
	         "      apiVersion: client.authentication.k8s.io/v1\n"
	         "      command: ./plugin.sh\n      args: [--cluster, test]\n"
	         "      env: [{name: LOGIN_DIR, value: '%s'}]\n"
	         "      interactiveMode: IfAvailable\n      provideClusterInfo: true\n"
	         "contexts:\n- name: c\n  context: {cluster: k, user: sso, namespace: %s}\n",
	         admin->server, g_dir, g_ns);
	put_file(kc_name, kc, 0);
	aios_kube_config_free(admin);
}

/* A plugin printing token (counting its runs in $LOGIN_DIR/runs, recording
 * KUBERNETES_EXEC_INFO in $LOGIN_DIR/info). */
static void token_plugin(const char *token)
{
	char body[1024];
	snprintf(body, sizeof(body),
	         "#!/bin/sh\n"
	         "n=$(cat \"$LOGIN_DIR/runs\" 2>/dev/null || echo 0); echo $((n+1)) > "
	         "\"$LOGIN_DIR/runs\"\n"
	         "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > \"$LOGIN_DIR/info\"\n"
	         "[ \"$1 $2\" = '--cluster test' ] || { echo \"bad args: $*\" >&2; exit 9; }\n"
	         "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
	         "\"ExecCredential\",\"status\":{\"token\":\"%s\","
	         "\"expirationTimestamp\":\"2099-01-01T00:00:00Z\"}}'\n",
	         token);
	put_file("plugin.sh", body, 1);
}

static char *read_in_dir(const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", g_dir, name);
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	ck_assert_msg(aios_buf_read_file(&b, p) == AIOS_OK, "%s", aios_errmsg());
	char *s = aios_buf_take(&b);
	aios_buf_cleanup(&b);
	return s;
}

START_TEST(exec_plugin_user)
{
	aios_test_tmpdir("exec", g_dir, sizeof(g_dir));
	char kc[512];
	snprintf(kc, sizeof(kc), "%s/exec.kubeconfig", g_dir);
	exec_kubeconfig("exec.kubeconfig");
	struct aios_kube_config *admin = NULL;
	ck_assert_int_eq(aios_kube_config_load_file(aios_test_kubeconfig(), NULL, &admin), AIOS_OK);
	ck_assert_ptr_nonnull(admin->token);

	/* a plugin handing out the admin's token: the plugin works as with a token */
	token_plugin(admin->token);
	ck_assert_msg(plugin(kc, g_out, sizeof(g_out), "get", "tj", "-o", "name", NULL) == 0, "%s",
	              g_out);
	ck_assert_str_eq(g_out, "trainingjob.aios.dev/linear\n");
	char *runs = read_in_dir("runs"), *info = read_in_dir("info");
	ck_assert_str_eq(runs, "1\n"); /* one run for the whole command */
	struct json_object *io = parse(info, "KUBERNETES_EXEC_INFO");
	ck_assert_str_eq(aios_json_str(io, "kind"), "ExecCredential");
	ck_assert_int_eq(json_object_get_boolean(aios_json_lookup(io, "spec.interactive")), 0);
	ck_assert_str_eq(aios_json_str(io, "spec.cluster.server"), admin->server);
	ck_assert_ptr_nonnull(aios_json_str(io, "spec.cluster.certificate-authority-data"));
	json_object_put(io);
	free(runs);
	free(info);

	/* a token the server refuses: the plugin runs again once, then the 401 is shown */
	char p[512];
	snprintf(p, sizeof(p), "%s/runs", g_dir);
	ck_assert_int_eq(unlink(p), 0);
	token_plugin("not-a-valid-token");
	ck_assert_int_eq(plugin(kc, g_out, sizeof(g_out), "get", "tj", NULL), 1);
	ck_assert_msg(strstr(g_out, "Unauthorized"), "%s", g_out);
	ck_assert_msg(!strstr(g_out, "not-a-valid-token"), "the token is shown: %s", g_out);
	runs = read_in_dir("runs");
	ck_assert_str_eq(runs, "2\n");
	free(runs);

	/* a plugin that fails: its command, exit status and stderr reach the user */
	put_file("plugin.sh",
	         "#!/bin/sh\necho 'error: no SSO session; run: aios-login --cluster test' >&2\n"
	         "exit 4\n",
	         1);
	ck_assert_int_eq(plugin(kc, g_out, sizeof(g_out), "get", "tj", NULL), 1);
	ck_assert_msg(strstr(g_out, "exec plugin") && strstr(g_out, "/plugin.sh: exit status 4; "
	                                                            "stderr: error: no SSO "
	                                                            "session; run: aios-login "
	                                                            "--cluster test"),
	              "%s", g_out);

	/* a plugin that prints garbage */
	put_file("plugin.sh", "#!/bin/sh\necho '<html>login page</html>'\n", 1);
	ck_assert_int_eq(plugin(kc, g_out, sizeof(g_out), "get", "tj", NULL), 1);
	ck_assert_msg(strstr(g_out, "its output is not an ExecCredential in JSON"), "%s", g_out);
	aios_kube_config_free(admin);
	aios_test_tmpdir_remove(g_dir);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli_plugin");
	TCase *tc = tcase_create("plugin");
	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, yaml_reads_back_as_the_same_object);
	tcase_add_test(tc, json_and_name);
	tcase_add_test(tc, missing_object_and_forbidden_user);
	tcase_add_test(tc, version_and_completion);
	aios_test_tmpdir_fixture(tc);
	tcase_add_test(tc, exec_plugin_user);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(cli_suite)
