/*
 * allreduce.c - ring all-reduce bandwidth on loopback, beside memcpy of the same sizes
 * in the same run.
 *
 *   aios-bench-allreduce [--ranks N] [--min-mb A] [--max-mb B] [--reps R]
 *
 * Forks N ranks (default 2) that meet on a loopback port, then for each buffer size
 * (powers of two from A to B MB, default 1..64) runs one warm-up and R timed all-reduces
 * (default 5) and reports the median. "algbw" is buffer bytes / time (what a trainer
 * sees); "busbw" is algbw * 2(N-1)/N, the bytes each rank actually sends, comparable
 * across rank counts (the NCCL convention). memcpy is timed the same way in the parent
 * process. Bounded: at most 64 MB buffers and 20 repetitions.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "trainer/dist_allreduce.h"
#include "trainer/dist_rendezvous.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return v[n / 2];
}

static int rank_main(int rank, int ranks, uint16_t port, int min_mb, int max_mb, int reps, int out)
{
	struct aios_dist_config c;
	aios_dist_config_defaults(&c);
	snprintf(c.job, sizeof(c.job), "bench");
	c.rank = rank;
	c.world = ranks;
	c.coord_port = port;
	c.rendezvous_timeout_ms = 20000;
	struct aios_dist *d;
	if (aios_dist_connect(&c, &d) != AIOS_OK) {
		fprintf(stderr, "rank %d: %s\n", rank, aios_errmsg());
		return 1;
	}
	size_t maxn = ((size_t)max_mb << 20) / sizeof(float);
	float *x = aios_xmalloc(maxn * sizeof(float));
	for (size_t i = 0; i < maxn; i++)
		x[i] = (float)(i % 1000) * 0.001f;
	for (int mb = min_mb; mb <= max_mb; mb *= 2) {
		size_t n = ((size_t)mb << 20) / sizeof(float);
		double t[20];
		for (int k = -1; k < reps; k++) {
			if (aios_dist_barrier(d) != AIOS_OK)
				return 1;
			double t0 = aios_now_s();
			if (aios_dist_allreduce_mean(d, x, n) != AIOS_OK) {
				fprintf(stderr, "rank %d: %s\n", rank, aios_errmsg());
				return 1;
			}
			if (k >= 0)
				t[k] = aios_now_s() - t0;
		}
		double med = median(t, reps);
		if (rank == 0 && write(out, &med, sizeof(med)) != (ssize_t)sizeof(med))
			return 1;
	}
	free(x);
	return aios_dist_finish(d) == AIOS_OK ? 0 : 1;
}

static int arg_int(int argc, char **argv, const char *name, int dflt, int lo, int hi)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0) {
			char *end;
			long v = strtol(argv[i + 1], &end, 10);
			if (*end || v < lo || v > hi) {
				fprintf(stderr, "%s: expected an integer in %d..%d\n", name, lo,
				        hi);
				exit(2);
			}
			return (int)v;
		}
	return dflt;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: aios-bench-allreduce [--ranks N] [--min-mb A] [--max-mb B] [--reps "
		       "R]\n");
		return 0;
	}
	int ranks = arg_int(argc, argv, "--ranks", 2, 2, 8);
	int min_mb = arg_int(argc, argv, "--min-mb", 1, 1, 64);
	int max_mb = arg_int(argc, argv, "--max-mb", 64, min_mb, 64);
	int reps = arg_int(argc, argv, "--reps", 5, 1, 20);
	uint16_t port = (uint16_t)(20000 + getpid() % 20000);
	aios_log_init("aios-bench-allreduce", AIOS_LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	int pfd[2];
	if (pipe(pfd) != 0)
		return 1;
	pid_t pids[8];
	for (int r = 0; r < ranks; r++) {
		pids[r] = fork();
		if (pids[r] == 0) {
			close(pfd[0]);
			_exit(rank_main(r, ranks, port, min_mb, max_mb, reps, pfd[1]));
		}
	}
	close(pfd[1]);
	printf("ring all-reduce, %d ranks (processes) on loopback, median of %d; memcpy in one "
	       "process\n",
	       ranks, reps);
	printf("%8s %12s %14s %14s %12s %14s %8s\n", "MB", "allreduce_ms", "algbw_MB/s",
	       "busbw_MB/s", "memcpy_ms", "memcpy_MB/s", "ratio");
	size_t maxn = (size_t)max_mb << 20;
	char *src = aios_xmalloc(maxn), *dst = aios_xmalloc(maxn);
	memset(src, 1, maxn);
	memset(dst, 2, maxn);
	int rc = 0;
	for (int mb = min_mb; mb <= max_mb; mb *= 2) {
		double ar;
		if (read(pfd[0], &ar, sizeof(ar)) != (ssize_t)sizeof(ar)) {
			fprintf(stderr, "a rank failed\n");
			rc = 1;
			break;
		}
		size_t n = (size_t)mb << 20;
		double t[20];
		for (int k = -1; k < reps; k++) {
			double t0 = aios_now_s();
			memcpy(dst, src, n);
			__asm__ volatile("" ::"r"(dst) : "memory");
			if (k >= 0)
				t[k] = aios_now_s() - t0;
		}
		double mc = median(t, reps);
		double alg = (double)n / ar / 1e6, bus = alg * 2.0 * (ranks - 1) / ranks;
		printf("%8d %12.2f %14.0f %14.0f %12.3f %14.0f %8.1f\n", mb, ar * 1e3, alg, bus,
		       mc * 1e3, (double)n / mc / 1e6, ar / mc);
		fflush(stdout);
	}
	for (int r = 0; r < ranks; r++) {
		int st;
		waitpid(pids[r], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			rc = 1;
	}
	free(src);
	free(dst);
	return rc;
}
