/*
 * test_promtool.c - every program's /metrics passes `promtool check metrics` (Debian's
 * prometheus package): aios-serve with a model made here, aios-trainer while it trains
 * with --metrics-port, and aios-operator (its metrics endpoint serves while its informers
 * retry an API server that is not there). Each body must also hold the program's own
 * families, so an empty or wrong endpoint cannot pass. promtool's complaints are printed
 * in the failure message. aios-node and kubectl-aios serve no /metrics.
 */
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "support/http_client.h"
#include "support/ports.h"
#include "support/serve_fixture.h"
#include "support/tmpdir.h"

#define PROMTOOL "/usr/bin/promtool"

static char g_dir[256];

static void setup(void)
{
	aios_test_tmpdir("aios-promtool", g_dir, sizeof g_dir); /* removed with the test */
}

static void teardown(void)
{
	aios_test_tmpdir_remove(g_dir);
	g_dir[0] = 0;
}

static const char *build_dir(void)
{
	const char *b = getenv("AIOS_BUILD_DIR");
	return b ? b : "build";
}

/* Writes body to a file, runs promtool on it and fails the test with its output unless it
 * exits 0 and says nothing. */
static void promtool_check(const char *what, const char *body)
{
	char in[300], out[300], cmd[800];
	snprintf(in, sizeof in, "%s/%s.prom", g_dir, what);
	snprintf(out, sizeof out, "%s/%s.promtool", g_dir, what);
	FILE *f = fopen(in, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(body, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof cmd, PROMTOOL " check metrics < %s > %s 2>&1", in, out);
	int st = system(cmd);
	char said[8192] = "";
	f = fopen(out, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(said, 1, sizeof said - 1, f);
	said[n] = '\0';
	fclose(f);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 && n == 0,
	              "promtool check metrics on %s's /metrics: exit %d, said:\n%s\n--- body:\n%s",
	              what, WIFEXITED(st) ? WEXITSTATUS(st) : -1, said, body);
}

static char *get_metrics(int port)
{
	struct tc_resp r;
	tc_request(port, "GET", "/metrics", NULL, &r);
	ck_assert_msg(r.status == 200, "GET /metrics on port %d: status %d", port, r.status);
	char *b = strdup(r.body);
	tc_resp_free(&r);
	return b;
}

/* Starts argv with stderr to log; returns the pid. */
static pid_t spawn(char *const *argv, const char *log)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Waits (10 s at most) for a log line holding event and "<key> N"; returns N. */
static int port_from_log(const char *log, const char *event, const char *key, pid_t pid)
{
	int64_t end = aios_now_ms() + 10000;
	while (aios_now_ms() < end) {
		FILE *f = fopen(log, "r");
		char line[2048];
		while (f && fgets(line, sizeof line, f)) {
			const char *q = strstr(line, event) ? strstr(line, key) : NULL;
			if (q) {
				fclose(f);
				return (int)strtol(q + strlen(key), NULL, 10);
			}
		}
		if (f)
			fclose(f);
		int st;
		ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "%s exited before serving; see %s",
		              log, log);
		usleep(50000);
	}
	ck_abort_msg("no \"%s\" line with \"%s\" in %s within 10 s", event, key, log);
	return -1;
}

static void stop(pid_t pid)
{
	kill(pid, SIGTERM);
	int st;
	waitpid(pid, &st, 0);
}

static void want_families(const char *what, const char *body, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		ck_assert_msg(strstr(body, names[i]), "%s /metrics lacks %s:\n%s", what, names[i],
		              body);
}

START_TEST(serve_metrics)
{
	char model[300];
	snprintf(model, sizeof model, "%s/m.aios", g_dir);
	int sizes[] = {3, 8, 2};
	struct aios_model *m = sf_model(2, sizes, AIOS_ACT_RELU, AIOS_ACT_IDENTITY, 7);
	ck_assert_int_eq(aios_model_write_file(m, model, AIOS_DTYPE_F32), AIOS_OK);
	aios_model_free(m);
	struct sf_server s;
	const char *args[] = {"--model", model, "--name", "pt", NULL};
	sf_start(&s, args);
	/* traffic first, so histograms and per-status counters hold samples */
	struct tc_resp r;
	tc_request(s.port, "POST", "/v1/models/pt:predict", "{\"instances\": [[1, 2, 3]]}", &r);
	ck_assert_msg(r.status == 200, "predict: %d %s", r.status, r.body);
	tc_resp_free(&r);
	tc_request(s.port, "POST", "/v1/models/pt:predict", "{\"instances\": [[1]]}", &r);
	ck_assert_int_eq(r.status, 400);
	tc_resp_free(&r);
	char *body = get_metrics(s.port);
	const char *names[] = {"aios_serve_", "# TYPE", NULL};
	want_families("aios-serve", body, names);
	promtool_check("aios-serve", body);
	free(body);
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

START_TEST(trainer_metrics)
{
	/* 400 rows of y = 3x - 1, epochs enough to still be training when scraped */
	char csv[300], out[300], log[300], bin[512], mport[16];
	snprintf(csv, sizeof csv, "%s/d.csv", g_dir);
	snprintf(out, sizeof out, "%s/model.aios", g_dir);
	snprintf(log, sizeof log, "%s/trainer.log", g_dir);
	snprintf(bin, sizeof bin, "%s/src/trainer/aios-trainer", build_dir());
	snprintf(mport, sizeof mport, "%d", aios_test_free_port());
	FILE *f = fopen(csv, "w");
	ck_assert_ptr_nonnull(f);
	fputs("x,y\n", f);
	for (int i = 0; i < 400; i++)
		fprintf(f, "%g,%g\n", i / 400.0, 3.0 * i / 400.0 - 1.0);
	fclose(f);
	char *argv[] = {bin,
	                "--data",
	                csv,
	                "--header",
	                "--label-column",
	                "y",
	                "--model",
	                "linear",
	                "--epochs",
	                "100000000",
	                "--lr",
	                "0.01",
	                "--output",
	                out,
	                "--metrics-port",
	                mport,
	                "--threads",
	                "1",
	                "--checkpoint-every",
	                "0",
	                NULL};
	pid_t pid = spawn(argv, log);
	int port = port_from_log(log, "\"event\":\"metrics\"", "on port ", pid);
	ck_assert_int_eq(port, (int)strtol(mport, NULL, 10));
	ck_assert_int_gt(port, 0);
	char *body = NULL;
	int64_t end = aios_now_ms() + 10000;
	for (;;) { /* until an epoch has been reported */
		body = get_metrics(port);
		const char *e = strstr(body, "\naios_trainer_epoch ");
		if (e && strtol(e + 20, NULL, 10) > 0)
			break;
		ck_assert_msg(aios_now_ms() < end, "no epoch in 10 s:\n%s", body);
		free(body);
		usleep(50000);
	}
	const char *names[] = {"aios_trainer_epoch ", "aios_trainer_loss ",
	                       "aios_trainer_samples_total ", "aios_trainer_info{", NULL};
	want_families("aios-trainer", body, names);
	promtool_check("aios-trainer", body);
	free(body);
	stop(pid);
}
END_TEST

START_TEST(operator_metrics)
{
	char kc[300], log[300], bin[512];
	snprintf(kc, sizeof kc, "%s/kubeconfig", g_dir);
	snprintf(log, sizeof log, "%s/operator.log", g_dir);
	snprintf(bin, sizeof bin, "%s/src/operator/aios-operator", build_dir());
	/* an API server that is not there: port 1 on loopback refuses at once */
	FILE *f = fopen(kc, "w");
	ck_assert_ptr_nonnull(f);
	fputs("apiVersion: v1\nkind: Config\n"
	      "clusters: [{name: c, cluster: {server: \"http://127.0.0.1:1\"}}]\n"
	      "users: [{name: u, user: {token: t}}]\n"
	      "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]\n"
	      "current-context: x\n",
	      f);
	fclose(f);
	char *argv[] = {bin,
	                "--kubeconfig",
	                kc,
	                "--metrics-bind-address",
	                "127.0.0.1:0",
	                "--health-probe-bind-address",
	                "127.0.0.1:0",
	                NULL};
	pid_t pid = spawn(argv, log);
	int port = port_from_log(log, "\"event\":\"start\"", "serving metrics on port ", pid);
	ck_assert_int_gt(port, 0);
	char *body = get_metrics(port);
	const char *names[] = {"aios_operator_reconcile_total", "aios_operator_workqueue_depth",
	                       "aios_operator_leader", NULL};
	want_families("aios-operator", body, names);
	promtool_check("aios-operator", body);
	free(body);
	stop(pid);
}
END_TEST

static Suite *promtool_suite(void)
{
	Suite *s = suite_create("promtool");
	TCase *tc = tcase_create("metrics");
	aios_test_tmpdir_fixture(tc);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, serve_metrics);
	tcase_add_test(tc, trainer_metrics);
	tcase_add_test(tc, operator_metrics);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(promtool_suite)
