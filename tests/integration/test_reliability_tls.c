/*
 * test_reliability_tls.c - TLS to the real API server is verified by default. A client
 * whose kubeconfig trusts a valid CA that did not sign the server's certificate (a fresh
 * one made with openssl here) is refused with AIOS_ERR_TLS, and its token never reaches
 * the server; only insecure-skip-tls-verify: true lets the same client through. The
 * kubeconfig is read from a file, the way the operator and the node agent read theirs.
 * The tier's API server takes TLS 1.3 only (tests/cluster/run-integration.sh): a TLS 1.2
 * handshake is refused, a TLS 1.3 one made, and the project's client negotiates 1.3.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "check_main.h"
#include "kube/client.h"
#include "kube/config.h"
#include "support/kube_test.h"
#include "support/tmpdir.h"

static char g_dir[256];

/* Writes a kubeconfig for the admin token and server, trusting `ca_path`. */
static void write_kubeconfig(const char *path, const struct aios_kube_config *admin,
                             const char *ca_path, int insecure)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
	        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n"
	        "  cluster:\n    server: %s\n%s%s%s%s    insecure-skip-tls-verify: %s\n"
	        "users:\n- name: u\n  user:\n    token: %s\n"
	        "contexts:\n- name: c\n  context: {cluster: k, user: u}\n",
	        admin->server,
	        insecure ? "" : "    certificate-authority: ", insecure ? "" : ca_path,
	        insecure ? "" : "\n", "", insecure ? "true" : "false", admin->token);
	fclose(f);
}

/* The tier's admin kubeconfig (tests/cluster/apiserver.sh writes it). */
static const char *admin_kubeconfig(void)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/admin.kubeconfig", aios_kt_cluster_dir());
	return path;
}

static enum aios_err list_with(const char *kubeconfig)
{
	struct aios_kube_config *cfg = NULL;
	ck_assert_msg(aios_kube_config_load_file(kubeconfig, NULL, &cfg) == AIOS_OK, "%s: %s",
	              kubeconfig, aios_errmsg());
	struct aios_kube_client *c = NULL;
	ck_assert_int_eq(aios_kube_client_new(cfg, &c), AIOS_OK);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_namespaces, NULL, NULL);
	struct json_object *out = NULL;
	enum aios_err e = aios_kube_list(c, &r, NULL, &out);
	json_object_put(out);
	aios_kube_client_free(c);
	aios_kube_config_free(cfg);
	return e;
}

START_TEST(unknown_ca_refused_unless_insecure)
{
	aios_test_tmpdir("aios-tls", g_dir, sizeof(g_dir)); /* removed with the test */
	char cmd[1024], ca[300], kc[300];
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
	         "-subj /CN=not-the-cluster-ca -keyout %s/ca.key -out %s/ca.crt >/dev/null 2>&1",
	         g_dir, g_dir);
	ck_assert_msg(system(cmd) == 0, "openssl could not make a CA");
	snprintf(ca, sizeof(ca), "%s/ca.crt", g_dir);

	struct aios_kube_config *admin = NULL;
	ck_assert_msg(aios_kube_config_load_file(admin_kubeconfig(), NULL, &admin) == AIOS_OK, "%s",
	              aios_errmsg());
	ck_assert_msg(admin->token && *admin->token, "the admin kubeconfig has no token");

	/* the right CA: works (the control) */
	snprintf(kc, sizeof(kc), "%s/right.kubeconfig", g_dir);
	ck_assert_msg(admin->ca_file || admin->ca_data, "the admin kubeconfig names no CA");
	if (admin->ca_file) {
		write_kubeconfig(kc, admin, admin->ca_file, 0);
	} else {
		char right[300];
		snprintf(right, sizeof(right), "%s/right-ca.crt", g_dir);
		FILE *f = fopen(right, "w");
		ck_assert_ptr_nonnull(f);
		fwrite(admin->ca_data, 1, admin->ca_data_len, f);
		fclose(f);
		write_kubeconfig(kc, admin, right, 0);
	}
	ck_assert_msg(list_with(kc) == AIOS_OK, "with the cluster's CA: %s", aios_errmsg());

	/* a valid CA that did not sign the server: refused */
	snprintf(kc, sizeof(kc), "%s/wrong.kubeconfig", g_dir);
	write_kubeconfig(kc, admin, ca, 0);
	enum aios_err e = list_with(kc);
	ck_assert_msg(e == AIOS_ERR_TLS, "with an unknown CA: %s (%s), not a TLS error",
	              aios_strerror(e), aios_errmsg());

	/* insecure-skip-tls-verify: true, and only then, lets it through */
	snprintf(kc, sizeof(kc), "%s/insecure.kubeconfig", g_dir);
	write_kubeconfig(kc, admin, NULL, 1);
	ck_assert_msg(list_with(kc) == AIOS_OK, "insecure-skip-tls-verify: %s", aios_errmsg());
	aios_kube_config_free(admin);
	aios_test_tmpdir_remove(g_dir);
}
END_TEST

/* openssl s_client to the API server with one protocol version; its exit status, and the
 * "Protocol" line of its session report in *proto. */
static int handshake(const char *version, char *proto, size_t n)
{
	struct aios_kube_config *admin = NULL;
	ck_assert_msg(aios_kube_config_load_file(admin_kubeconfig(), NULL, &admin) == AIOS_OK, "%s",
	              aios_errmsg());
	const char *hostport = strstr(admin->server, "://");
	ck_assert_ptr_nonnull(hostport);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "openssl s_client -connect %s -%s </dev/null 2>&1", hostport + 3,
	         version);
	aios_kube_config_free(admin);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[512];
	proto[0] = 0;
	while (fgets(line, sizeof line, p)) {
		const char *v = strstr(line, "Protocol  :");
		if (!v)
			v = strstr(line, "New, TLSv");
		if (v && !proto[0]) {
			snprintf(proto, n, "%s", v);
			proto[strcspn(proto, "\n")] = 0;
		}
	}
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(api_server_takes_tls13_only)
{
	char proto[256];
	int rc12 = handshake("tls1_2", proto, sizeof proto);
	ck_assert_msg(rc12 != 0,
	              "a TLS 1.2 handshake was accepted (%s): is the API server on "
	              "--tls-min-version=VersionTLS13 (tests/cluster/run-integration.sh)?",
	              proto);
	int rc13 = handshake("tls1_3", proto, sizeof proto);
	ck_assert_msg(rc13 == 0 && strstr(proto, "TLSv1.3"), "TLS 1.3 handshake: exit %d, %s", rc13,
	              proto);
	/* the project's client (libcurl on OpenSSL, 1.2 minimum) lists over it */
	ck_assert_msg(list_with(admin_kubeconfig()) == AIOS_OK, "the kube client over TLS 1.3: %s",
	              aios_errmsg());
	printf("tls: TLS 1.2 refused (openssl exit %d), TLS 1.3 made (%s), kube client lists\n",
	       rc12, proto);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("reliability_tls");
	TCase *tc = tcase_create("verify");
	aios_test_tmpdir_fixture(tc);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, unknown_ca_refused_unless_insecure);
	tcase_add_test(tc, api_server_takes_tls13_only);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(tls_suite)
