/*
 * test_config.c - kubeconfig parsing (tests/fixtures/data/kubeconfig/), in-cluster
 * configuration, and the choice between sources. Every broken file must fail with
 * a message naming the problem.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "kube/config.h"

static const char *kc(const char *name)
{
	static char rel[256];
	snprintf(rel, sizeof(rel), "tests/fixtures/data/kubeconfig/%s", name);
	return aios_test_path(rel);
}

START_TEST(token_and_ca_data)
{
	struct aios_kube_config *c = NULL;
	ck_assert_int_eq(aios_kube_config_load_file(kc("good-token.yaml"), NULL, &c), AIOS_OK);
	ck_assert_str_eq(c->server, "https://10.0.0.1:6443"); /* trailing slash dropped */
	ck_assert_str_eq(c->ns, "team-a");
	ck_assert_str_eq(c->context, "alice@prod");
	ck_assert_str_eq(c->token, "abc.def");
	ck_assert_ptr_null(c->token_file);
	ck_assert_ptr_nonnull(c->ca_data);
	ck_assert_str_eq(c->ca_data,
	                 "-----BEGIN CERTIFICATE-----\nfixture\n-----END CERTIFICATE-----\n");
	ck_assert_uint_eq(c->ca_data_len, strlen(c->ca_data));
	ck_assert_int_eq(c->insecure, 0);
	aios_kube_config_free(c);
}
END_TEST

START_TEST(context_override_and_token_file)
{
	struct aios_kube_config *c = NULL;
	ck_assert_int_eq(aios_kube_config_load_file(kc("good-token.yaml"), "bob@dev", &c), AIOS_OK);
	ck_assert_str_eq(c->server, "http://127.0.0.1:8080");
	ck_assert_str_eq(c->ns, "default"); /* no namespace in the context */
	ck_assert_int_eq(c->insecure, 1);
	ck_assert_ptr_null(c->token);
	/* relative to the kubeconfig's directory */
	ck_assert_str_eq(c->token_file, kc("secrets/bob.token"));
	aios_kube_config_free(c);
	ck_assert_int_eq(aios_kube_config_load_file(kc("good-token.yaml"), "carol@x", &c),
	                 AIOS_ERR_NOT_FOUND);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "context \"carol@x\""));
}
END_TEST

START_TEST(cert_files_resolved)
{
	struct aios_kube_config *c = NULL;
	ck_assert_int_eq(aios_kube_config_load_file(kc("good-cert-files.yaml"), NULL, &c), AIOS_OK);
	ck_assert_str_eq(c->ca_file, kc("pki/ca.crt"));
	ck_assert_str_eq(c->cert_file, kc("pki/client.crt"));
	ck_assert_str_eq(c->key_file, "/abs/client.key");
	ck_assert_ptr_null(c->token);
	aios_kube_config_free(c);
}
END_TEST

START_TEST(cert_data_decoded)
{
	struct aios_kube_config *c = NULL;
	ck_assert_int_eq(aios_kube_config_load_file(kc("good-cert-data.yaml"), NULL, &c), AIOS_OK);
	ck_assert_str_eq(c->cert_data, "CERT-PEM");
	ck_assert_uint_eq(c->cert_data_len, 8);
	ck_assert_str_eq(c->key_data, "KEY-PEM");
	aios_kube_config_free(c);
}
END_TEST

START_TEST(exec_user)
{
	struct aios_kube_config *c = NULL;
	ck_assert_int_eq(aios_kube_config_load_file(kc("good-exec.yaml"), NULL, &c), AIOS_OK);
	ck_assert_ptr_null(c->token);
	const struct aios_kube_exec_spec *x = c->exec;
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->api_version, "client.authentication.k8s.io/v1");
	ck_assert_str_eq(x->command, "aws"); /* a bare name: PATH decides */
	ck_assert_uint_eq(x->nargs, 4);
	ck_assert_str_eq(x->args[0], "eks");
	ck_assert_str_eq(x->args[3], "prod");
	ck_assert_uint_eq(x->nenv, 2);
	ck_assert_str_eq(x->env[0], "AWS_PROFILE=prod");
	ck_assert_str_eq(x->env[1], "EMPTY=");
	ck_assert_int_eq(x->interactive, AIOS_KUBE_EXEC_NEVER);
	ck_assert_int_eq(x->provide_cluster_info, 1);
	ck_assert_str_eq(x->install_hint, "install the AWS CLI");
	aios_kube_config_free(c);
	ck_assert_int_eq(aios_kube_config_load_file(kc("good-exec.yaml"), "y", &c), AIOS_OK);
	/* a path: from the kubeconfig's directory; v1beta1 defaults to IfAvailable */
	ck_assert_str_eq(c->exec->command, kc("./bin/login.sh"));
	ck_assert_int_eq(c->exec->interactive, AIOS_KUBE_EXEC_IF_AVAILABLE);
	ck_assert_uint_eq(c->exec->nargs, 0);
	ck_assert_int_eq(c->exec->provide_cluster_info, 0);
	aios_kube_config_free(c);
}
END_TEST

/* Each broken file, the error code, and words the message must contain. */
static const struct {
	const char *file;
	enum aios_err code;
	const char *words;
} broken[] = {
    {"bad-yaml.yaml", AIOS_ERR_INVALID, "YAML error at line"},
    {"bad-not-a-map.yaml", AIOS_ERR_INVALID, "expected a YAML map at the top"},
    {"bad-no-current-context.yaml", AIOS_ERR_INVALID, "no current-context"},
    {"bad-missing-cluster.yaml", AIOS_ERR_NOT_FOUND, "cluster \"nope\" not found"},
    {"bad-missing-context.yaml", AIOS_ERR_NOT_FOUND, "context \"y\""},
    {"bad-missing-user.yaml", AIOS_ERR_NOT_FOUND, "user \"ghost\" not found"},
    {"bad-no-server.yaml", AIOS_ERR_INVALID, "cluster \"c\": no server"},
    {"bad-server-url.yaml", AIOS_ERR_INVALID, "is not an http(s) URL"},
    {"bad-base64.yaml", AIOS_ERR_INVALID, "certificate-authority-data: not valid base64"},
    {"bad-auth-provider.yaml", AIOS_ERR_UNSUPPORTED,
     "user \"u\": auth-provider plugins are not supported"},
    {"bad-exec-v1-no-mode.yaml", AIOS_ERR_INVALID,
     "user \"u\": exec: interactiveMode must be set for apiVersion "
     "client.authentication.k8s.io/v1"},
    {"bad-exec-mode.yaml", AIOS_ERR_INVALID,
     "exec: interactiveMode \"Sometimes\": expected Never, IfAvailable or Always"},
    {"bad-exec-api-version.yaml", AIOS_ERR_INVALID,
     "exec: apiVersion \"client.authentication.k8s.io/v1alpha1\": expected"},
    {"bad-exec-env.yaml", AIOS_ERR_INVALID, "exec: env[0]: expected {name, value}"},
    {"bad-cert-without-key.yaml", AIOS_ERR_INVALID, "needs a client key"},
    {"bad-insecure-value.yaml", AIOS_ERR_INVALID,
     "insecure-skip-tls-verify: expected true or false, got \"maybe\""},
    {"bad-token-type.yaml", AIOS_ERR_INVALID, "token: expected a string"},
    {"bad-clusters-not-list.yaml", AIOS_ERR_INVALID, "clusters: expected a list"},
    {"bad-empty.yaml", AIOS_ERR_INVALID, "expected a YAML map at the top"},
    {"no-such-file.yaml", AIOS_ERR_NOT_FOUND, "no-such-file.yaml"},
};

START_TEST(broken_files)
{
	struct aios_kube_config *c = NULL;
	enum aios_err e = aios_kube_config_load_file(kc(broken[_i].file), NULL, &c);
	ck_assert_msg(e == broken[_i].code, "%s: got %s (%s), want %s", broken[_i].file,
	              aios_strerror(e), aios_errmsg(), aios_strerror(broken[_i].code));
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(aios_errmsg(), broken[_i].words) != NULL,
	              "%s: message \"%s\" lacks \"%s\"", broken[_i].file, aios_errmsg(),
	              broken[_i].words);
	/* ...and names the file (the one missing file is named by the reader) */
	ck_assert_msg(strstr(aios_errmsg(), broken[_i].file) != NULL,
	              "%s: message \"%s\" does not name the file", broken[_i].file, aios_errmsg());
}
END_TEST

/* ---- in-cluster and the choice of source --------------------------------- */

static char sa_dir[256];

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void make_sa_dir(void)
{
	snprintf(sa_dir, sizeof(sa_dir), "/tmp/aios-sa-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sa_dir));
	write_file(sa_dir, "token", "sa-token\n");
	write_file(sa_dir, "ca.crt", "PEM");
	write_file(sa_dir, "namespace", "aios-system\n");
}

static void rm_sa_dir(void)
{
	char p[512];
	const char *names[] = {"token", "ca.crt", "namespace"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", sa_dir, names[i]);
		unlink(p);
	}
	rmdir(sa_dir);
}

START_TEST(in_cluster)
{
	make_sa_dir();
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	struct aios_kube_config *c = NULL;
	ck_assert_int_eq(aios_kube_config_in_cluster(sa_dir, &c), AIOS_OK);
	ck_assert_str_eq(c->server, "https://10.96.0.1:443");
	ck_assert_str_eq(c->ns, "aios-system");
	ck_assert_ptr_null(c->token); /* read from the file at each request, for rotation */
	ck_assert_ptr_nonnull(strstr(c->token_file, "/token"));
	ck_assert_ptr_nonnull(strstr(c->ca_file, "/ca.crt"));
	aios_kube_config_free(c);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	ck_assert_int_eq(aios_kube_config_in_cluster(sa_dir, &c), AIOS_OK);
	ck_assert_str_eq(c->server, "https://[fd00::1]:443");
	aios_kube_config_free(c);
	unsetenv("KUBERNETES_SERVICE_HOST");
	ck_assert_int_eq(aios_kube_config_in_cluster(sa_dir, &c), AIOS_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	ck_assert_int_eq(aios_kube_config_in_cluster("/nonexistent-sa", &c), AIOS_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "/nonexistent-sa/token"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	rm_sa_dir();
}
END_TEST

START_TEST(source_precedence)
{
	struct aios_kube_config *c = NULL;
	/* explicit path beats $KUBECONFIG */
	setenv("KUBECONFIG", kc("good-cert-data.yaml"), 1);
	ck_assert_int_eq(aios_kube_config_load(kc("good-token.yaml"), NULL, &c), AIOS_OK);
	ck_assert_str_eq(c->context, "alice@prod");
	aios_kube_config_free(c);
	/* $KUBECONFIG (first entry of a list) beats in-cluster and ~/.kube/config */
	char list[1024];
	snprintf(list, sizeof(list), "%s:/elsewhere", kc("good-cert-data.yaml"));
	setenv("KUBECONFIG", list, 1);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(aios_kube_config_load(NULL, NULL, &c), AIOS_OK);
	ck_assert_str_eq(c->cert_data, "CERT-PEM");
	aios_kube_config_free(c);
	/* without KUBECONFIG, in-cluster is tried (and here fails: no SA files) */
	unsetenv("KUBECONFIG");
	ck_assert_int_eq(aios_kube_config_load(NULL, NULL, &c), AIOS_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), AIOS_KUBE_SA_DIR));
	/* and last ~/.kube/config */
	unsetenv("KUBERNETES_SERVICE_HOST");
	setenv("HOME", "/nonexistent-home", 1);
	ck_assert_int_eq(aios_kube_config_load(NULL, NULL, &c), AIOS_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "/nonexistent-home/.kube/config"));
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "pass --kubeconfig"));
	unsetenv("KUBERNETES_SERVICE_PORT");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_config");
	TCase *t = tcase_create("kubeconfig");
	tcase_add_test(t, token_and_ca_data);
	tcase_add_test(t, context_override_and_token_file);
	tcase_add_test(t, cert_files_resolved);
	tcase_add_test(t, cert_data_decoded);
	tcase_add_test(t, exec_user);
	tcase_add_loop_test(t, broken_files, 0, (int)(sizeof(broken) / sizeof(broken[0])));
	suite_add_tcase(s, t);
	t = tcase_create("sources");
	tcase_add_test(t, in_cluster);
	tcase_add_test(t, source_precedence);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
