/*
 * dist_harness.h - runs a function as N ranks in N forked processes on loopback, for
 * the distributed-training tests (header-only: included by tests/unit/trainer/test_dist_*.c).
 *
 * Each child builds its config (job "t", loopback coordinator on a free port, short
 * timeouts), connects, runs fn, and exits with fn's status; what a rank wants the parent
 * to see (its error message) it writes with harness_note(). The parent waits at most
 * `limit_ms`, kills every child still running after that (and fails the test), and
 * returns each child's exit status and note.
 */
#ifndef AIOS_TEST_DIST_HARNESS_H
#define AIOS_TEST_DIST_HARNESS_H

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "support/ports.h"
#include "support/tmpdir.h"
#include "trainer/dist_rendezvous.h"

#define HARNESS_MAX 8

struct harness_result {
	int status[HARNESS_MAX]; /* exit code, or 128 + signal */
	char note[HARNESS_MAX][1024];
	int64_t elapsed_ms[HARNESS_MAX]; /* from start to the child's exit */
};

static char harness_dir[256];
static int harness_rank = -1;

/* A loopback port for a rendezvous (tests/support/ports.h says why not bind(0)). */
static inline uint16_t harness_free_port(void)
{
	return (uint16_t)aios_test_free_port();
}

/* Time scale: 1, or 10 under valgrind (AIOS_UNDER_VALGRIND), where everything is ~20x slower. */
static inline int harness_scale(void)
{
	const char *v = getenv("AIOS_UNDER_VALGRIND");
	return v && *v && strcmp(v, "0") != 0 ? 10 : 1;
}

/* The job secret every harness rank shares (an impostor test changes it). */
#define HARNESS_SECRET "harness-secret-0123456789abcdef"

static inline void harness_config(struct aios_dist_config *c, int rank, int world, uint16_t port)
{
	aios_dist_config_defaults(c);
	snprintf(c->job, sizeof(c->job), "t");
	c->rank = rank;
	c->world = world;
	c->coord_port = port;
	c->rendezvous_timeout_ms = 10000 * harness_scale();
	c->heartbeat_ms = 250 * harness_scale();
	c->peer_timeout_ms = 3000 * harness_scale();
	c->op_timeout_ms = 20000 * harness_scale();
	static const char secret[] = HARNESS_SECRET;
	memcpy(c->secret, secret, sizeof(secret) - 1);
	c->secret_len = sizeof(secret) - 1;
}

/* Records text for the parent (the rank's error message). */
static inline void harness_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void harness_note(const char *fmt, ...)
{
	char path[320];
	snprintf(path, sizeof(path), "%s/note-%d", harness_dir, harness_rank);
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

/* fn runs in each child; cfgs[r] is rank r's config (the caller may tweak them first). */
typedef int (*harness_fn)(int rank, const struct aios_dist_config *cfg, void *arg);

/* Rank killed (SIGKILL) as soon as every other rank has exited, or -1: a frozen rank. */
static int harness_expendable = -1;

static inline void harness_run(int world, struct aios_dist_config *cfgs, harness_fn fn, void *arg,
                               int64_t limit_ms, struct harness_result *res)
{
	ck_assert_int_le(world, HARNESS_MAX);
	aios_test_tmpdir("aios-dist-test", harness_dir, sizeof(harness_dir)); /* the notes */
	memset(res, 0, sizeof(*res));
	pid_t pids[HARNESS_MAX];
	int64_t t0 = aios_now_ms();
	limit_ms *= harness_scale();
	for (int r = 0; r < world; r++) {
		pids[r] = fork();
		ck_assert_int_ge(pids[r], 0);
		if (pids[r] == 0) {
			harness_rank = r;
			aios_log_init("dist-test", AIOS_LOG_WARN);
			signal(SIGPIPE, SIG_IGN);
			_exit(fn(r, &cfgs[r], arg));
		}
	}
	int left = world;
	while (left > 0) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p > 0) {
			for (int r = 0; r < world; r++)
				if (pids[r] == p) {
					res->status[r] =
					    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
					res->elapsed_ms[r] = aios_now_ms() - t0;
					pids[r] = 0;
				}
			left--;
			continue;
		}
		int x = harness_expendable;
		if (left == 1 && x >= 0 && x < world && pids[x] > 0) {
			kill(pids[x], SIGKILL);
			continue;
		}
		if (aios_now_ms() - t0 > limit_ms) {
			for (int r = 0; r < world; r++)
				if (pids[r] > 0) {
					kill(pids[r], SIGKILL);
					waitpid(pids[r], NULL, 0);
					res->status[r] = -1;
				}
			ck_abort_msg("ranks still running after %lld ms: killed",
			             (long long)limit_ms);
		}
		usleep(10000);
	}
	for (int r = 0; r < world; r++) {
		char path[320];
		snprintf(path, sizeof(path), "%s/note-%d", harness_dir, r);
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(res->note[r], 1, sizeof(res->note[r]) - 1, f);
			res->note[r][n] = 0;
			fclose(f);
		}
	}
	aios_test_tmpdir_remove(harness_dir);
}

/* Configs for ranks 0..world-1 on one fresh port. */
static inline void harness_configs(struct aios_dist_config *cfgs, int world)
{
	uint16_t port = harness_free_port();
	for (int r = 0; r < world; r++)
		harness_config(&cfgs[r], r, world, port);
}

#endif
