/*
 * test_dist_trainer.c - aios-trainer itself as 1, 2, 3 and 4 processes on loopback
 * (strategy allreduce), started the way the operator starts trainer pods (AIOS_* env).
 *
 *   - equals one process: the artifact of 2 and 4 ranks matches the one-process artifact
 *     within 1e-5 (relative; the global batch is the same, only the float summation
 *     order differs), and 2 ranks run twice give bit-identical artifacts;
 *   - parameter servers (2 workers + 1 or 2 servers, 3 workers + 1 server, synchronous):
 *     the artifact matches one process within 1e-5; asynchronous (staleness 2) finishes
 *     within 0.1 of it;
 *   - pipeline (2 and 4 stages, 4 micro-batches): matches one process within 1e-5
 *     (naive stage kernels and micro-batch sums change the float order);
 *   - fault path: rank 2 of 3 is killed (SIGKILL) after a completed checkpoint; ranks 0
 *     and 1 exit with code 7 within 3 s, naming rank 2; a restarted attempt (AIOS_ATTEMPT
 *     1) resumes from the last complete checkpoint and finishes with an artifact
 *     bit-identical to an uninterrupted 3-rank run; the same with stage 1 of a 2-stage
 *     pipeline.
 * The binary is $AIOS_BUILD_DIR/src/trainer/aios-trainer (ctest sets AIOS_BUILD_DIR).
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/mem.h"
#include "dist_harness.h"
#include "model/model.h"
#include "support/tmpdir.h"

static char dir[256];
static char trainer[512];

static void setup(void)
{
	const char *b = getenv("AIOS_BUILD_DIR");
	ck_assert_msg(b != NULL, "AIOS_BUILD_DIR is not set (run through ctest)");
	snprintf(trainer, sizeof(trainer), "%s/src/trainer/aios-trainer", b);
	ck_assert_msg(access(trainer, X_OK) == 0, "%s is missing: build aios-trainer", trainer);
	aios_test_tmpdir("aios-dist-trainer", dir, sizeof(dir)); /* removed with the test */
	/* 4096 rows, 8 features, y = sum sin((j+1) x_j): deterministic LCG */
	char path[320];
	snprintf(path, sizeof(path), "%s/data.csv", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	uint32_t s = 99;
	for (int i = 0; i < 4096; i++) {
		double y = 0;
		for (int j = 0; j < 8; j++) {
			s = s * 1664525u + 1013904223u;
			double x = (double)(s >> 8) / (double)(1 << 24) * 2 - 1;
			y += sin(x * (j + 1));
			fprintf(f, "%.6f,", x);
		}
		fprintf(f, "%.6f\n", y);
	}
	fclose(f);
}

static void teardown(void)
{
	aios_test_tmpdir_remove(dir);
	dir[0] = 0;
}

static const char *hidden = "[32,32]"; /* the MLP's hidden layers */

static void write_spec(const char *name, int epochs)
{
	char path[320];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
	        "{\"model\":{\"type\":\"mlp\",\"hidden\":%s,\"activation\":\"tanh\"},"
	        "\"loss\":\"mse\",\"optimizer\":{\"type\":\"sgd\",\"learningRate\":0.05,"
	        "\"batchSize\":64,\"epochs\":%d,\"seed\":7},"
	        "\"data\":{\"uri\":\"%s/data.csv\",\"format\":\"csv\",\"header\":false},"
	        "\"checkpoint\":{\"everyEpochs\":1}}\n",
	        hidden, epochs, dir);
	fclose(f);
}

static const char *roles[8];  /* AIOS_ROLE per rank (NULL: worker) */
static const char *staleness; /* AIOS_DIST_STALENESS, or NULL */

/* Starts one rank (world 1: a plain process); stdout+stderr go to DIR/<tag>.<rank>.log. */
static pid_t spawn(const char *spec, const char *tag, int rank, int world, uint16_t port,
                   int attempt)
{
	pid_t p = fork();
	ck_assert_int_ge(p, 0);
	if (p > 0)
		return p;
	char log[320], specp[320], out[320], num[32];
	snprintf(log, sizeof(log), "%s/%s.%d.log", dir, tag, rank);
	snprintf(specp, sizeof(specp), "%s/%s", dir, spec);
	snprintf(out, sizeof(out), "%s/%s.aios", dir, tag);
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 1);
	dup2(fd, 2);
	if (world > 1) {
		setenv("AIOS_JOB", tag, 1);
		setenv("AIOS_SECRET", "trainer-test-secret-0123456789", 1);
		snprintf(num, sizeof(num), "%d", rank);
		setenv("AIOS_RANK", num, 1);
		snprintf(num, sizeof(num), "%d", world);
		setenv("AIOS_WORLD_SIZE", num, 1);
		snprintf(num, sizeof(num), "127.0.0.1:%u", port);
		setenv("AIOS_COORDINATOR", num, 1);
		snprintf(num, sizeof(num), "%d", attempt);
		setenv("AIOS_ATTEMPT", num, 1);
		setenv("AIOS_DIST_RENDEZVOUS_TIMEOUT_MS", "20000", 1);
		setenv("AIOS_ROLE", roles[rank] ? roles[rank] : "worker", 1);
		if (staleness)
			setenv("AIOS_DIST_STALENESS", staleness, 1);
	}
	execl(trainer, trainer, "--spec", specp, "--output", out, "--threads", "1",
	      "--metrics-port", "0", (char *)NULL);
	_exit(127);
}

/* Waits for the pids; kills all after limit_ms (and fails). status: exit code or 128+sig. */
static void wait_all(pid_t *pids, int n, int64_t limit_ms, int *status, int64_t *when_ms)
{
	int64_t t0 = aios_now_ms();
	int left = n;
	while (left > 0) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p > 0) {
			for (int i = 0; i < n; i++)
				if (pids[i] == p) {
					status[i] =
					    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
					if (when_ms)
						when_ms[i] = aios_now_ms();
					pids[i] = 0;
					left--;
				}
			continue;
		}
		if (aios_now_ms() - t0 > limit_ms) {
			for (int i = 0; i < n; i++)
				if (pids[i] > 0) {
					kill(pids[i], SIGKILL);
					waitpid(pids[i], NULL, 0);
				}
			ck_abort_msg("trainer ranks still running after %lld ms: killed",
			             (long long)limit_ms);
		}
		usleep(5000);
	}
}

static void run_job(const char *spec, const char *tag, int world, int attempt, int *status)
{
	pid_t pids[8];
	uint16_t port = harness_free_port();
	for (int r = 0; r < world; r++)
		pids[r] = spawn(spec, tag, r, world, port, attempt);
	wait_all(pids, world, 120000, status, NULL);
}

static const char *log_of(const char *tag, int rank)
{
	static char text[1 << 16];
	char path[320];
	snprintf(path, sizeof(path), "%s/%s.%d.log", dir, tag, rank);
	struct aios_buf b;
	aios_buf_init(&b, sizeof(text) - 1);
	text[0] = 0;
	if (aios_buf_read_file(&b, path) == AIOS_OK)
		memcpy(text, b.data, b.len + 1);
	else
		snprintf(text, sizeof(text), "(log %s unreadable or too long)", path);
	aios_buf_cleanup(&b);
	return text;
}

static void expect_ok(const char *tag, int world, const int *status)
{
	for (int r = 0; r < world; r++)
		ck_assert_msg(status[r] == 0, "%s rank %d exited %d:\n%s", tag, r, status[r],
		              log_of(tag, r));
}

/* Largest |a - b| / (1 + |b|) over all parameters of two artifacts. */
static double artifact_diff(const char *tag_a, const char *tag_b)
{
	char pa[320], pb[320];
	snprintf(pa, sizeof(pa), "%s/%s.aios", dir, tag_a);
	snprintf(pb, sizeof(pb), "%s/%s.aios", dir, tag_b);
	struct aios_model *a, *b;
	ck_assert_msg(aios_model_read_file(pa, &a) == AIOS_OK, "%s", aios_errmsg());
	ck_assert_msg(aios_model_read_file(pb, &b) == AIOS_OK, "%s", aios_errmsg());
	size_t n = aios_model_param_count(a);
	ck_assert_uint_eq(n, aios_model_param_count(b));
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a->params[i] - b->params[i]) / (1.0 + fabs(b->params[i]));
		if (d > worst)
			worst = d;
	}
	aios_model_free(a);
	aios_model_free(b);
	return worst;
}

START_TEST(allreduce_equals_one_process)
{
	write_spec("spec.json", 3);
	int st[8];
	run_job("spec.json", "one", 1, 0, st);
	expect_ok("one", 1, st);
	run_job("spec.json", "two", 2, 0, st);
	expect_ok("two", 2, st);
	run_job("spec.json", "twoagain", 2, 0, st);
	expect_ok("twoagain", 2, st);
	run_job("spec.json", "four", 4, 0, st);
	expect_ok("four", 4, st);
	double d2 = artifact_diff("two", "one"), d4 = artifact_diff("four", "one");
	ck_assert_msg(d2 < 1e-5, "2 ranks vs 1 process: %.3g", d2);
	ck_assert_msg(d4 < 1e-5, "4 ranks vs 1 process: %.3g", d4);
	ck_assert_msg(artifact_diff("two", "twoagain") == 0.0, "2-rank runs differ");
	/* each rank checkpointed its own state; rank 0 wrote the marker */
	char p[400];
	snprintf(p, sizeof(p), "%s/four.aios.ckpt/rank-3/ckpt-00000003.aiosckpt", dir);
	ck_assert_msg(access(p, R_OK) == 0, "%s missing", p);
	snprintf(p, sizeof(p), "%s/four.aios.ckpt/complete", dir);
	ck_assert_msg(access(p, R_OK) == 0, "%s missing", p);
	fprintf(stderr, "allreduce vs one process: 2 ranks %.3g, 4 ranks %.3g (relative)\n", d2,
	        d4);
}
END_TEST

/* Parameter-server layouts: the last `servers` of `world` ranks serve. */
static void ps_layout(int world, int servers)
{
	for (int r = 0; r < 8; r++)
		roles[r] = r >= world - servers && r < world ? "ps" : NULL;
}

START_TEST(parameter_servers_equal_one_process)
{
	write_spec("spec.json", 3);
	int st[8];
	run_job("spec.json", "one", 1, 0, st);
	expect_ok("one", 1, st);
	static const int layouts[][2] = {{3, 1}, {4, 2}, {4, 1}}; /* world, servers */
	for (size_t i = 0; i < 3; i++) {
		char tag[32];
		snprintf(tag, sizeof(tag), "ps%d-%d", layouts[i][0], layouts[i][1]);
		ps_layout(layouts[i][0], layouts[i][1]);
		run_job("spec.json", tag, layouts[i][0], 0, st);
		expect_ok(tag, layouts[i][0], st);
		double dd = artifact_diff(tag, "one");
		ck_assert_msg(dd < 1e-5, "%s vs 1 process: %.3g", tag, dd);
		fprintf(stderr, "parameter servers %s vs one process: %.3g (relative)\n", tag, dd);
	}
	/* asynchronous, staleness 2: finishes, and lands near the synchronous model */
	ps_layout(4, 1);
	staleness = "2";
	run_job("spec.json", "async", 4, 0, st);
	staleness = NULL;
	expect_ok("async", 4, st);
	double da = artifact_diff("async", "one");
	ck_assert_msg(da < 0.1, "async vs 1 process: %.3g", da);
	fprintf(stderr, "asynchronous parameter servers vs one process: %.3g (relative)\n", da);
	ps_layout(0, 0);
}
END_TEST

START_TEST(pipeline_equals_one_process)
{
	hidden = "[32,32,32]"; /* 4 dense layers: up to 4 stages */
	write_spec("pipe.json", 3);
	hidden = "[32,32]";
	int st[8];
	run_job("pipe.json", "one", 1, 0, st);
	expect_ok("one", 1, st);
	for (int stages = 2; stages <= 4; stages += 2) {
		char tag[32];
		snprintf(tag, sizeof(tag), "pipe%d", stages);
		for (int r = 0; r < 8; r++)
			roles[r] = "stage";
		run_job("pipe.json", tag, stages, 0, st);
		for (int r = 0; r < 8; r++)
			roles[r] = NULL;
		expect_ok(tag, stages, st);
		double dd = artifact_diff(tag, "one");
		ck_assert_msg(dd < 1e-5, "%s vs 1 process: %.3g", tag, dd);
		fprintf(stderr, "pipeline %d stages vs one process: %.3g (relative)\n", stages, dd);
	}
}
END_TEST

/* Epoch named by DIR/<tag>.aios.ckpt/complete, or 0. */
static int marker_epoch(const char *tag)
{
	char p[400];
	snprintf(p, sizeof(p), "%s/%s.aios.ckpt/complete", dir, tag);
	FILE *f = fopen(p, "r");
	if (!f)
		return 0;
	int e = 0;
	if (fscanf(f, "{\"epoch\":%d", &e) != 1)
		e = 0;
	fclose(f);
	return e;
}

/*
 * Runs `world` ranks of spec uninterrupted (tag "whole"), then again ("cut") killing
 * rank `victim` once the checkpoint marker reaches epoch 3; the others must exit 7
 * within 3 s naming it; a restart with AIOS_ATTEMPT=1 must resume and end with an
 * artifact bit-identical to the uninterrupted run.
 */
static void kill_and_resume(const char *spec, int world, int victim, int epochs)
{
	int st[8];
	run_job(spec, "whole", world, 0, st);
	expect_ok("whole", world, st);

	uint16_t port = harness_free_port();
	pid_t pids[8];
	for (int r = 0; r < world; r++)
		pids[r] = spawn(spec, "cut", r, world, port, 0);
	int64_t t0 = aios_now_ms();
	while (marker_epoch("cut") < 3 && aios_now_ms() - t0 < 60000)
		usleep(2000);
	int at = marker_epoch("cut");
	ck_assert_msg(at >= 3 && at < epochs, "checkpoint marker at epoch %d", at);
	kill(pids[victim], SIGKILL);
	int64_t killed = aios_now_ms(), when[8] = {0};
	wait_all(pids, world, 30000, st, when);
	ck_assert_int_eq(st[victim], 128 + SIGKILL);
	char lost[32];
	snprintf(lost, sizeof(lost), "lost rank %d", victim);
	for (int r = 0; r < world; r++) {
		if (r == victim)
			continue;
		const char *log = log_of("cut", r);
		ck_assert_msg(st[r] == 7, "rank %d exited %d:\n%s", r, st[r], log);
		ck_assert_msg(strstr(log, lost), "rank %d did not name rank %d:\n%s", r, victim,
		              log);
		ck_assert_msg(when[r] - killed < 3000, "rank %d exited %lld ms after the kill", r,
		              (long long)(when[r] - killed));
		fprintf(stderr, "rank %d exited %lld ms after rank %d was killed\n", r,
		        (long long)(when[r] - killed), victim);
	}
	/* the operator's next attempt: same job, AIOS_ATTEMPT=1 */
	run_job(spec, "cut", world, 1, st);
	expect_ok("cut", world, st);
	const char *log0 = log_of("cut", 0);
	ck_assert_msg(strstr(log0, "resumed from the checkpoint of epoch"), "no resume:\n%s", log0);
	ck_assert_msg(artifact_diff("cut", "whole") == 0.0,
	              "resumed run differs from an uninterrupted one: %.3g",
	              artifact_diff("cut", "whole"));
}

START_TEST(killed_rank_then_resume)
{
	write_spec("long.json", 40);
	kill_and_resume("long.json", 3, 2, 40);
}
END_TEST

START_TEST(killed_stage_then_resume)
{
	hidden = "[32,32,32]";
	write_spec("long.json", 40);
	for (int r = 0; r < 8; r++)
		roles[r] = "stage";
	kill_and_resume("long.json", 2, 1, 40);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dist_trainer");
	TCase *t = tcase_create("trainer");
	tcase_set_timeout(t, 300);
	aios_test_tmpdir_fixture(t); /* made before setup, removed after the TCase */
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, allreduce_equals_one_process);
	tcase_add_test(t, parameter_servers_equal_one_process);
	tcase_add_test(t, pipeline_equals_one_process);
	tcase_add_test(t, killed_rank_then_resume);
	tcase_add_test(t, killed_stage_then_resume);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
