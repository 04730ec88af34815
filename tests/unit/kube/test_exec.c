/*
 * test_exec.c - exec credential plugins (kube/exec.h) run for real: small shell scripts
 * written here play the plugin. One prints an ExecCredential (and records its args,
 * env and KUBERNETES_EXEC_INFO), one fails with a message on stderr, one prints
 * garbage, one hangs, one floods stdout; caching until expiry and re-running after a
 * refusal; the decoder's bad inputs with their exact messages.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/clock.h"
#include "kube/exec.h"
#include "support/tmpdir.h"

static char g_dir[256];

static void setup(void)
{
	aios_test_tmpdir("exec", g_dir, sizeof(g_dir));
	/* Never a terminal here, wherever the test runs from. */
	int fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	dup2(fd, STDIN_FILENO);
	close(fd);
}

static void teardown(void)
{
	aios_test_tmpdir_remove(g_dir);
}

/* Writes an executable script g_dir/name with body; returns its path (static). */
static const char *script(const char *name, const char *body)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
	return path;
}

static char *slurp(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	ck_assert_msg(aios_buf_read_file(&b, path) == AIOS_OK, "%s: %s", path, aios_errmsg());
	char *s = aios_buf_take(&b);
	aios_buf_cleanup(&b);
	return s;
}

static struct aios_kube_exec_spec spec_for(const char *cmd, const char *api_version)
{
	struct aios_kube_exec_spec s = {.api_version = (char *)api_version,
	                                .command = (char *)cmd,
	                                .interactive = AIOS_KUBE_EXEC_NEVER};
	return s;
}

#define V1      "client.authentication.k8s.io/v1"
#define V1BETA1 "client.authentication.k8s.io/v1beta1"

/* A plugin printing a token "tok-N" (N: its run) valid until `expiry`. */
static const char *token_plugin(const char *expiry)
{
	static char body[2048];
	snprintf(body, sizeof(body),
	         "n=$(cat %s/runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s/runs\n"
	         "printf '%%s\\n' \"$@\" > %s/args\n"
	         "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > %s/info\n"
	         "printf '%%s' \"$AWS_PROFILE\" > %s/env\n"
	         "echo 'some progress on stderr' >&2\n"
	         "cat <<EOF\n"
	         "{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\","
	         "\"status\":{\"token\":\"tok-$n\",\"expirationTimestamp\":\"%s\"}}\n"
	         "EOF",
	         g_dir, g_dir, g_dir, g_dir, g_dir, V1, expiry);
	return script("token.sh", body);
}

START_TEST(token_cached_until_expiry)
{
	char later[32];
	aios_rfc3339(time(NULL) + 3600, later, sizeof(later));
	const char *cmd = token_plugin(later);
	char *args[] = {"get-token", "--cluster", "prod"};
	char *env[] = {"AWS_PROFILE=team-a"};
	struct aios_kube_exec_spec s = spec_for(cmd, V1);
	s.args = args;
	s.nargs = 3;
	s.env = env;
	s.nenv = 1;
	s.provide_cluster_info = 1;
	struct aios_kube_exec_cluster cl = {
	    .server = "https://127.0.0.1:6443", .ca_data = "PEM", .ca_len = 3};
	struct aios_kube_exec *x = aios_kube_exec_new(&s, &cl);
	struct aios_kube_exec_cred c;
	ck_assert_msg(aios_kube_exec_get(x, &c) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_str_eq(c.token, "tok-1");
	ck_assert_ptr_null(c.cert);
	ck_assert_int_eq(c.generation, 1);
	ck_assert_int_eq(c.expires_unix_ms, (int64_t)aios_rfc3339_parse(later) * 1000);
	aios_kube_exec_cred_cleanup(&c);
	/* cached: the plugin does not run again */
	ck_assert_int_eq(aios_kube_exec_get(x, &c), AIOS_OK);
	ck_assert_str_eq(c.token, "tok-1");
	aios_kube_exec_cred_cleanup(&c);
	ck_assert_int_eq(aios_kube_exec_runs(x), 1);

	char *a = slurp("args"), *info = slurp("info"), *e = slurp("env");
	ck_assert_str_eq(a, "get-token\n--cluster\nprod\n");
	ck_assert_str_eq(e, "team-a");
	ck_assert_str_eq(info, "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
	                       "\"spec\":{\"interactive\":false,\"cluster\":{\"server\":"
	                       "\"https:\\/\\/127.0.0.1:6443\",\"certificate-authority-data\":"
	                       "\"UEVN\"}}}");
	free(a);
	free(info);
	free(e);

	/* refused by the server: the next get runs the plugin again */
	aios_kube_exec_invalidate(x, 1);
	ck_assert_int_eq(aios_kube_exec_get(x, &c), AIOS_OK);
	ck_assert_str_eq(c.token, "tok-2");
	ck_assert_int_eq(c.generation, 2);
	aios_kube_exec_cred_cleanup(&c);
	/* a refusal of the old generation does not drop the new credential */
	aios_kube_exec_invalidate(x, 1);
	ck_assert_int_eq(aios_kube_exec_get(x, &c), AIOS_OK);
	ck_assert_str_eq(c.token, "tok-2");
	aios_kube_exec_cred_cleanup(&c);
	ck_assert_int_eq(aios_kube_exec_runs(x), 2);
	aios_kube_exec_free(x);
}
END_TEST

START_TEST(expired_credential_runs_again)
{
	char soon[32];
	/* inside AIOS_KUBE_EXEC_EARLY_MS: counts as expired at once */
	aios_rfc3339(time(NULL) + 2, soon, sizeof(soon));
	struct aios_kube_exec_spec s = spec_for(token_plugin(soon), V1);
	struct aios_kube_exec *x = aios_kube_exec_new(&s, NULL);
	struct aios_kube_exec_cred c;
	for (int i = 1; i <= 3; i++) {
		ck_assert_msg(aios_kube_exec_get(x, &c) == AIOS_OK, "%s", aios_errmsg());
		char want[16];
		snprintf(want, sizeof(want), "tok-%d", i);
		ck_assert_str_eq(c.token, want);
		aios_kube_exec_cred_cleanup(&c);
	}
	ck_assert_int_eq(aios_kube_exec_runs(x), 3);
	/* no cluster info asked for: none given */
	char *info = slurp("info");
	ck_assert_str_eq(info, "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
	                       "\"spec\":{\"interactive\":false}}");
	free(info);
	aios_kube_exec_free(x);
}
END_TEST

START_TEST(client_certificate)
{
	const char *cmd = script(
	    "cert.sh", "cat <<'EOF'\n{\"apiVersion\":\"" V1BETA1 "\",\"kind\":\"ExecCredential\","
	               "\"status\":{\"clientCertificateData\":\"-----BEGIN CERTIFICATE-----\\nA\\n"
	               "-----END CERTIFICATE-----\\n\",\"clientKeyData\":\"-----BEGIN PRIVATE "
	               "KEY-----\\nB\\n-----END PRIVATE KEY-----\\n\"}}\nEOF");
	struct aios_kube_exec_spec s = spec_for(cmd, V1BETA1);
	struct aios_kube_exec *x = aios_kube_exec_new(&s, NULL);
	struct aios_kube_exec_cred c;
	ck_assert_msg(aios_kube_exec_get(x, &c) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_ptr_null(c.token);
	ck_assert_str_eq(c.cert, "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n");
	ck_assert_uint_eq(c.cert_len, strlen(c.cert));
	ck_assert_str_eq(c.key, "-----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----\n");
	ck_assert_int_eq(c.expires_unix_ms, 0); /* no expiry: cached for good */
	aios_kube_exec_cred_cleanup(&c);
	ck_assert_int_eq(aios_kube_exec_get(x, &c), AIOS_OK);
	aios_kube_exec_cred_cleanup(&c);
	ck_assert_int_eq(aios_kube_exec_runs(x), 1);
	aios_kube_exec_free(x);
}
END_TEST

/* Each failing plugin (a script body), the error, and words the message holds. */
static const struct {
	const char *body;
	enum aios_err code;
	const char *words;
} failing[] = {
    {"echo 'error: SSO session expired, run aws sso login' >&2; exit 3", AIOS_ERR_UNAUTHORIZED,
     "exit status 3; stderr: error: SSO session expired, run aws sso login"},
    {"echo 'line one' >&2; echo 'line two' >&2; kill -TERM $$", AIOS_ERR_UNAUTHORIZED,
     "killed by signal 15; stderr: line one | line two"},
    {"exit 1", AIOS_ERR_UNAUTHORIZED, "exit status 1; no stderr"},
    {"echo 'this is not JSON at all'", AIOS_ERR_PROTOCOL,
     "its output is not an ExecCredential in JSON (24 bytes, starting \"this is not JSON"},
    {"true", AIOS_ERR_PROTOCOL, "printed nothing on stdout (expected an ExecCredential)"},
    {"echo '{\"apiVersion\":\"" V1BETA1 "\",\"kind\":\"ExecCredential\",\"status\":{}}'",
     AIOS_ERR_PROTOCOL, "apiVersion \"" V1BETA1 "\" does not match the kubeconfig's \"" V1 "\""},
    {"echo '{\"apiVersion\":\"" V1 "\",\"kind\":\"Pod\"}'", AIOS_ERR_PROTOCOL,
     "kind is \"Pod\", not ExecCredential"},
    {"echo '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\"}'", AIOS_ERR_PROTOCOL,
     "the ExecCredential has no status"},
    {"echo '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{}}'",
     AIOS_ERR_PROTOCOL, "status has neither a token nor clientCertificateData/clientKeyData"},
    {"echo '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":"
     "{\"clientCertificateData\":\"x\"}}'",
     AIOS_ERR_PROTOCOL, "come together or not at all"},
    {"echo '{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":"
     "{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}'",
     AIOS_ERR_PROTOCOL, "status.expirationTimestamp \"tomorrow\" is not an RFC 3339 time"},
    {"head -c 2000000 /dev/zero | tr '\\0' x", AIOS_ERR_TOO_BIG,
     "printed more than 1048576 bytes (killed)"},
    {"echo 'waiting for the browser' >&2; sleep 30", AIOS_ERR_TIMEOUT,
     "no answer within 400 ms (killed); stderr: waiting for the browser"},
};

START_TEST(failing_plugins)
{
	const char *cmd = script("fail.sh", failing[_i].body);
	struct aios_kube_exec_spec s = spec_for(cmd, V1);
	s.timeout_ms = 400;
	struct aios_kube_exec *x = aios_kube_exec_new(&s, NULL);
	struct aios_kube_exec_cred c;
	int64_t t0 = aios_now_ms();
	enum aios_err e = aios_kube_exec_get(x, &c);
	ck_assert_msg(e == failing[_i].code, "case %d: got %s (%s), want %s", _i, aios_strerror(e),
	              aios_errmsg(), aios_strerror(failing[_i].code));
	ck_assert_msg(strstr(aios_errmsg(), failing[_i].words) != NULL,
	              "case %d: message \"%s\" lacks \"%s\"", _i, aios_errmsg(), failing[_i].words);
	/* the message names the command */
	ck_assert_msg(strstr(aios_errmsg(), cmd) != NULL, "case %d: \"%s\" does not name %s", _i,
	              aios_errmsg(), cmd);
	ck_assert_msg(aios_now_ms() - t0 < 5000, "case %d took %lld ms", _i,
	              (long long)(aios_now_ms() - t0));
	ck_assert_ptr_null(c.token);
	/* a failure is not cached: the next get runs the plugin again */
	ck_assert_int_ne(aios_kube_exec_get(x, &c), AIOS_OK);
	ck_assert_int_eq(aios_kube_exec_runs(x), 2);
	aios_kube_exec_free(x);
}
END_TEST

START_TEST(not_found_and_no_terminal)
{
	struct aios_kube_exec_spec s = spec_for("aios-no-such-login-plugin", V1);
	s.install_hint = "install it with: apt-get install aios-login";
	struct aios_kube_exec *x = aios_kube_exec_new(&s, NULL);
	struct aios_kube_exec_cred c;
	ck_assert_int_eq(aios_kube_exec_get(x, &c), AIOS_ERR_UNAUTHORIZED);
	ck_assert_str_eq(aios_errmsg(), "exec plugin aios-no-such-login-plugin: command not "
	                                "found: install it with: apt-get install aios-login");
	aios_kube_exec_free(x);

	/* Always needs a terminal; stdin is /dev/null here, as in the operator */
	s = spec_for(token_plugin("2099-01-01T00:00:00Z"), V1);
	s.interactive = AIOS_KUBE_EXEC_ALWAYS;
	x = aios_kube_exec_new(&s, NULL);
	ck_assert_int_eq(aios_kube_exec_get(x, &c), AIOS_ERR_UNAUTHORIZED);
	ck_assert_ptr_nonnull(
	    strstr(aios_errmsg(), "interactiveMode is Always but there is no terminal on stdin"));
	char runs[512];
	snprintf(runs, sizeof(runs), "%s/runs", g_dir);
	ck_assert_int_eq(access(runs, F_OK), -1); /* it never ran */
	aios_kube_exec_free(x);

	/* IfAvailable without a terminal: runs, told it is not interactive */
	s.interactive = AIOS_KUBE_EXEC_IF_AVAILABLE;
	x = aios_kube_exec_new(&s, NULL);
	ck_assert_msg(aios_kube_exec_get(x, &c) == AIOS_OK, "%s", aios_errmsg());
	aios_kube_exec_cred_cleanup(&c);
	char *info = slurp("info");
	ck_assert_ptr_nonnull(strstr(info, "\"interactive\":false"));
	free(info);
	aios_kube_exec_free(x);
}
END_TEST

START_TEST(expiry_with_offset)
{
	struct aios_kube_exec_cred c;
	static const char doc[] = "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
	                          "\"status\":{\"token\":\"t\",\"expirationTimestamp\":"
	                          "\"2030-01-01T02:00:00.5+02:00\"}}";
	ck_assert_int_eq(aios_kube_exec_decode(doc, strlen(doc), V1, "p", &c), AIOS_OK);
	ck_assert_int_eq(c.expires_unix_ms,
	                 (int64_t)aios_rfc3339_parse("2030-01-01T00:00:00Z") * 1000);
	aios_kube_exec_cred_cleanup(&c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_exec");
	TCase *t = tcase_create("exec");
	aios_test_tmpdir_fixture(t);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 30);
	tcase_add_test(t, token_cached_until_expiry);
	tcase_add_test(t, expired_credential_runs_again);
	tcase_add_test(t, client_certificate);
	tcase_add_loop_test(t, failing_plugins, 0, (int)(sizeof(failing) / sizeof(failing[0])));
	tcase_add_test(t, not_found_and_no_terminal);
	tcase_add_test(t, expiry_with_offset);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
