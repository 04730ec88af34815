/*
 * test_loadgen.c - bench/serve/loadgen.c (aios-bench-loadgen), the open-loop load
 * generator whose figures docs/serve.md reports: a server that stalls is charged for
 * every request due during the stall (no coordinated omission), every scheduled request
 * is accounted for, errors are counted, bad flags and a refused connection exit non-zero.
 *
 * The server is libaios's HTTP server in this process, one loop thread; its handler
 * sleeps once, STALL_MS, about 1 s into the run, which stops every connection at once. Only lower bounds on
 * latency are asserted: a busy machine can only add to them.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "http/http.h"

#define RATE     1000 /* requests/s */
#define STALL_MS 500

static int64_t g_first_ns; /* the first request's arrival */
static int g_stalled;

/* Answers 200; the first request 1 s or more after the first one stalls the loop. */
static void stalling(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	int64_t now = aios_now_ns();
	if (!g_first_ns)
		g_first_ns = now;
	if (!g_stalled && now - g_first_ns >= 1000000000) {
		g_stalled = 1;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = STALL_MS * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
		}
	}
	aios_http_resp_json(resp, 200, "{\"ok\":true}", 11);
}

static struct aios_http_server *start(void)
{
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.bind_addr = "127.0.0.1";
	c.port = 0;
	c.threads = 1;
	struct aios_http_server *s = aios_http_server_new(&c);
	ck_assert_int_eq(aios_http_route(s, "GET", "/stall", stalling, NULL), AIOS_OK);
	ck_assert_int_eq(aios_http_server_start(s), AIOS_OK);
	return s;
}

/* Runs the load generator with args (NULL-terminated); its stdout goes to out. */
static int run_loadgen(char *out, size_t cap, const char *const *args)
{
	const char *dir = getenv("AIOS_BUILD_DIR");
	ck_assert_msg(dir != NULL, "AIOS_BUILD_DIR is not set (ctest sets it)");
	char bin[4096];
	snprintf(bin, sizeof bin, "%s/bench/serve/aios-bench-loadgen", dir);
	ck_assert_msg(access(bin, X_OK) == 0, "%s is not built (cmake --build builds it)", bin);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[32];
		int n = 0;
		argv[n++] = bin;
		for (int i = 0; args[i] && n < 31; i++)
			argv[n++] = (char *)args[i];
		argv[n] = NULL;
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(bin, argv);
		_exit(127);
	}
	close(p[1]);
	size_t len = 0;
	ssize_t r;
	while (len + 1 < cap && (r = read(p[0], out + len, cap - 1 - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		ck_assert_int_gt(r, 0);
		len += (size_t)r;
	}
	out[len] = '\0';
	close(p[0]);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The value of key= in the load generator's output line (keys after the first); fails
 * when absent. */
static double field(const char *out, const char *key)
{
	char k[64];
	snprintf(k, sizeof k, " %s=", key);
	const char *p = strstr(out, k);
	ck_assert_msg(p != NULL, "no %s in \"%s\"", key, out);
	return strtod(p + strlen(k), NULL);
}

START_TEST(stall_is_charged_to_every_request_due_during_it)
{
	struct aios_http_server *s = start();
	char port[16], out[1024];
	snprintf(port, sizeof port, "%d", aios_http_server_port(s));
	const char *args[] = {
	    "--port", port,         "--path", "/stall",   "--rate", "1000", "--connections",
	    "4",      "--duration", "3",      "--warmup", "0",      NULL};
	int rc = run_loadgen(out, sizeof out, args);
	aios_http_server_free(s);
	ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
	ck_assert_int_eq((int)field(out, "scheduled"), 3 * RATE);
	ck_assert_int_eq((int)field(out, "failed"), 0);
	ck_assert_int_eq((int)(field(out, "answered") + field(out, "unfinished")), 3 * RATE);
	ck_assert(g_stalled);
	/*
	 * About RATE * STALL_MS / 1000 = 500 requests (1/6 of the run) fall due during the
	 * stall and wait for its end: 0 to 500 ms, evenly spread. So the 99th percentile is at
	 * least 0.94 * 500 ms, the 90th at least 0.4 * 500 ms (margins below for the bucket
	 * width and timer slack). A closed-loop count would time only the 4 requests in
	 * flight when the stall began: its p99 would stay near the unstalled latency.
	 */
	ck_assert_msg(field(out, "p99_us") >= 400000, "p99 too low: %s", out);
	ck_assert_msg(field(out, "p90_us") >= 150000, "p90 too low: %s", out);
	ck_assert_msg(field(out, "max_us") >= 450000, "max too low: %s", out);
}
END_TEST

START_TEST(errors_and_bad_flags)
{
	struct aios_http_server *s = start();
	char port[16], out[1024];
	snprintf(port, sizeof port, "%d", aios_http_server_port(s));
	/* every answer a 404: counted as failed, exit 3 */
	const char *notfound[] = {"--port",     port, "--path",   "/nope", "--rate", "200",
	                          "--duration", "1",  "--warmup", "0",     NULL};
	ck_assert_int_eq(run_loadgen(out, sizeof out, notfound), 3);
	ck_assert_int_eq((int)field(out, "answered"), 0);
	ck_assert_int_eq((int)field(out, "failed"), 200);
	aios_http_server_free(s);
	/* nothing listens any more: exit 2 */
	const char *refused[] = {"--port", port, "--rate", "10", "--duration", "1", NULL};
	ck_assert_int_eq(run_loadgen(out, sizeof out, refused), 2);
	/* out-of-range flags: exit 1 */
	const char *zero_rate[] = {"--port", port, "--rate", "0", NULL};
	ck_assert_int_eq(run_loadgen(out, sizeof out, zero_rate), 1);
	const char *many[] = {"--port", port, "--rate", "10", "--connections", "5000", NULL};
	ck_assert_int_eq(run_loadgen(out, sizeof out, many), 1);
	const char *no_rate[] = {"--port", port, NULL};
	ck_assert_int_eq(run_loadgen(out, sizeof out, no_rate), 1);
}
END_TEST

static Suite *loadgen_suite(void)
{
	Suite *s = suite_create("loadgen");
	TCase *tc = tcase_create("loadgen");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stall_is_charged_to_every_request_due_during_it);
	tcase_add_test(tc, errors_and_bad_flags);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(loadgen_suite)
