/*
 * test_dist_comm.c - ranks as real processes on loopback: rendezvous (its refusals, and a
 * new attempt meeting a leftover coordinator of the old one), authentication (an impostor
 * with every field right but the secret is refused and told nothing; a silent connection
 * does not hold up the others; no secret, no multi-rank run),
 * barrier, broadcast, ring all-reduce (bit-identical on every rank and equal to the
 * one-process reference), and the fault path: a killed or frozen rank is named by every
 * other rank within the stated time, and an idle but healthy rank is not.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/mem.h"
#include "dist_harness.h"
#include "trainer/dist_allreduce.h"
#include "trainer/dist_auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Deterministic test data: rank r's buffer. */
static void fill(float *x, size_t n, int r)
{
	uint32_t s = 0x9e3779b9u * (uint32_t)(r + 1);
	for (size_t i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = (float)((int32_t)(s >> 8) - (1 << 23)) / (float)(1 << 20);
	}
}

struct ar_case {
	size_t n;
	int rounds;
};

static int rank_allreduce(int rank, const struct aios_dist_config *cfg, void *arg)
{
	struct ar_case *c = arg;
	struct aios_dist *d;
	if (aios_dist_connect(cfg, &d) != AIOS_OK) {
		harness_note("connect: %s", aios_errmsg());
		return 2;
	}
	int world = cfg->world;
	float **bufs = aios_xcalloc((size_t)world, sizeof(float *));
	for (int r = 0; r < world; r++) {
		bufs[r] = aios_xmalloc(c->n * sizeof(float) + 4);
		fill(bufs[r], c->n, r);
	}
	float *want = aios_xmalloc(c->n * sizeof(float) + 4);
	aios_dist_allreduce_ref(bufs, world, c->n, 1, want);
	float *x = bufs[rank];
	int rc = 0;
	for (int k = 0; k < c->rounds && !rc; k++) {
		fill(x, c->n, rank);
		if (aios_dist_allreduce_mean(d, x, c->n) != AIOS_OK) {
			harness_note("allreduce: %s", aios_errmsg());
			rc = 3;
		} else if (c->n && memcmp(x, want, c->n * sizeof(float)) != 0) {
			harness_note("round %d: result differs from the reference", k);
			rc = 4;
		}
	}
	for (int r = 0; r < world; r++)
		free(bufs[r]);
	free(bufs);
	free(want);
	if (!rc && aios_dist_finish(d) != AIOS_OK) {
		harness_note("finish: %s", aios_errmsg());
		return 5;
	} else if (rc) {
		aios_dist_free(d);
	}
	return rc;
}

static void check_allreduce(int world, size_t n, int rounds)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, world);
	struct ar_case c = {n, rounds};
	struct harness_result res;
	harness_run(world, cfgs, rank_allreduce, &c, 60000, &res);
	for (int r = 0; r < world; r++)
		ck_assert_msg(res.status[r] == 0, "world %d n %zu: rank %d exited %d: %s", world, n,
		              r, res.status[r], res.note[r]);
}

START_TEST(allreduce_matches_reference_bitwise)
{
	static const size_t sizes[] = {1, 3, 1000, 262145, 1000003};
	for (int world = 2; world <= 4; world++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			check_allreduce(world, sizes[i], 2);
}
END_TEST

START_TEST(reference_is_the_mean)
{
	enum { N = 1000, W = 3 };
	float a[N], b[N], c[N], out[N];
	fill(a, N, 0);
	fill(b, N, 1);
	fill(c, N, 2);
	float *bufs[W] = {a, b, c};
	aios_dist_allreduce_ref(bufs, W, N, 1, out);
	for (int i = 0; i < N; i++)
		ck_assert_double_eq_tol(out[i], ((double)a[i] + b[i] + c[i]) / 3.0, 1e-5);
}
END_TEST

/* ---- barrier and broadcast */

static int rank_bcast(int rank, const struct aios_dist_config *cfg, void *arg)
{
	struct aios_dist *d;
	if (aios_dist_connect(cfg, &d) != AIOS_OK) {
		harness_note("connect: %s", aios_errmsg());
		return 2;
	}
	float x[3000];
	for (int i = 0; i < 3000; i++)
		x[i] = rank == 1 ? (float)i : -1.0f;
	if (aios_dist_barrier(d) || aios_dist_broadcast(d, 1, x, 3000) || aios_dist_barrier(d)) {
		harness_note("%s", aios_errmsg());
		aios_dist_free(d);
		return 3;
	}
	for (int i = 0; i < 3000; i++)
		if (x[i] != (float)i) {
			harness_note("x[%d] = %g", i, x[i]);
			aios_dist_free(d);
			return 4;
		}
	if (aios_dist_role_of(d, 2) != AIOS_DIST_ROLE_PS) {
		harness_note("role of rank 2 not shared");
		aios_dist_free(d);
		return 6;
	}
	return aios_dist_finish(d) == AIOS_OK ? 0 : 5;
}

START_TEST(barrier_broadcast_and_roles)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, 3);
	cfgs[2].role = AIOS_DIST_ROLE_PS;
	struct harness_result res;
	harness_run(3, cfgs, rank_bcast, NULL, 30000, &res);
	for (int r = 0; r < 3; r++)
		ck_assert_msg(res.status[r] == 0, "rank %d exited %d: %s", r, res.status[r],
		              res.note[r]);
}
END_TEST

/* ---- rendezvous refusals */

static int rank_connect_only(int rank, const struct aios_dist_config *cfg, void *arg)
{
	struct aios_dist *d;
	int64_t t0 = aios_now_ms();
	enum aios_err e = aios_dist_connect(cfg, &d);
	if (e) {
		harness_note("%d %lld %s", e, (long long)(aios_now_ms() - t0), aios_errmsg());
		return 10 + e;
	}
	return aios_dist_finish(d) == AIOS_OK ? 0 : 5;
}

START_TEST(old_attempt_is_refused)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, 2);
	cfgs[0].attempt = 2;
	cfgs[1].attempt = 1;
	cfgs[0].rendezvous_timeout_ms = 2000 * harness_scale();
	struct harness_result res;
	harness_run(2, cfgs, rank_connect_only, NULL, 15000, &res);
	ck_assert_int_eq(res.status[1], 10 + AIOS_ERR_FORBIDDEN);
	ck_assert_msg(strstr(res.note[1], "attempt 1, this is attempt 2"), "%s", res.note[1]);
	ck_assert_msg(strstr(res.note[1], "old attempt"), "%s", res.note[1]);
	ck_assert_int_eq(res.status[0], 10 + AIOS_ERR_TIMEOUT);
	ck_assert_msg(strstr(res.note[0], "1 of 2 ranks arrived") &&
	                  strstr(res.note[0], "missing: 1"),
	              "%s", res.note[0]);
}
END_TEST

START_TEST(other_job_is_refused)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, 3);
	snprintf(cfgs[1].job, sizeof(cfgs[1].job), "other");
	cfgs[2].rendezvous_timeout_ms = 2500 * harness_scale();
	cfgs[0].rendezvous_timeout_ms = 2000 * harness_scale();
	struct harness_result res;
	harness_run(3, cfgs, rank_connect_only, NULL, 15000, &res);
	ck_assert_int_eq(res.status[1], 10 + AIOS_ERR_FORBIDDEN);
	ck_assert_msg(strstr(res.note[1], "belongs to job \"other\""), "%s", res.note[1]);
	ck_assert_int_eq(res.status[0], 10 + AIOS_ERR_TIMEOUT);
}
END_TEST

/* A restarted gang: the old coordinator still holds the port when the new ranks start. */
static int rank_restart(int idx, const struct aios_dist_config *cfg, void *arg)
{
	if (idx == 2)
		aios_sleep_ms(300); /* the new coordinator starts while the old one listens */
	return rank_connect_only(idx, cfg, arg);
}

START_TEST(new_attempt_waits_for_the_new_coordinator)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, 3);
	/* index 0: rank 0 of attempt 1, left over; it gives up after 1.5 s */
	cfgs[0].world = 2;
	cfgs[0].attempt = 1;
	cfgs[0].rendezvous_timeout_ms = 1500 * harness_scale();
	/* index 1: rank 1 of attempt 2; index 2: rank 0 of attempt 2, same port */
	cfgs[1].world = 2;
	cfgs[1].rank = 1;
	cfgs[1].attempt = 2;
	cfgs[2].world = 2;
	cfgs[2].rank = 0;
	cfgs[2].attempt = 2;
	struct harness_result res;
	harness_run(3, cfgs, rank_restart, NULL, 30000, &res);
	ck_assert_msg(res.status[0] == 10 + AIOS_ERR_TIMEOUT, "old coordinator: %d %s",
	              res.status[0], res.note[0]);
	ck_assert_msg(res.status[1] == 0, "new rank 1: %d %s", res.status[1], res.note[1]);
	ck_assert_msg(res.status[2] == 0, "new coordinator: %d %s", res.status[2], res.note[2]);
}
END_TEST

START_TEST(unreachable_coordinator_times_out_clearly)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, 2);
	cfgs[1].rendezvous_timeout_ms = 1500; /* the message below names it */
	struct harness_result res;
	/* only rank 1 runs: nobody listens on the port */
	harness_run(1, cfgs + 1, rank_connect_only, NULL, 10000, &res);
	ck_assert_int_eq(res.status[0], 10 + AIOS_ERR_TIMEOUT);
	ck_assert_msg(strstr(res.note[0], "could not reach 127.0.0.1:") &&
	                  strstr(res.note[0], "within 1500 ms") &&
	                  strstr(res.note[0], "Connection refused"),
	              "%s", res.note[0]);
	ck_assert_int_lt(res.elapsed_ms[0], 4000 * harness_scale());
}
END_TEST

/* ---- faults */

enum fault { FAULT_EXIT, FAULT_STOP, FAULT_IDLE };

/* Rank 2 misbehaves after the first all-reduce; the others keep reducing. */
static int rank_fault(int rank, const struct aios_dist_config *cfg, void *arg)
{
	enum fault f = *(enum fault *)arg;
	struct aios_dist *d;
	if (aios_dist_connect(cfg, &d) != AIOS_OK) {
		harness_note("connect: %s", aios_errmsg());
		return 2;
	}
	float x[4096];
	fill(x, 4096, rank);
	int64_t t0 = aios_now_ms();
	if (aios_dist_allreduce_mean(d, x, 4096) != AIOS_OK) {
		/* rank 2 may die while its last chunks are still in flight (a close with unread
		 * data resets the connection): then this first all-reduce already fails */
		harness_note("%lld %d %s", (long long)(aios_now_ms() - t0), aios_dist_lost_rank(d),
		             aios_errmsg());
		aios_dist_free(d);
		return f == FAULT_IDLE ? 3 : 7;
	}
	if (rank == 2) {
		if (f == FAULT_EXIT)
			_exit(42); /* the kernel closes the sockets, as after SIGKILL */
		if (f == FAULT_STOP)
			raise(SIGSTOP); /* frozen: sockets open, no heartbeats */
		if (f == FAULT_IDLE)
			aios_sleep_ms(4500 * harness_scale()); /* longer than the peer timeout */
	}
	t0 = aios_now_ms();
	for (int k = 0; k < 50; k++) {
		if (aios_dist_allreduce_mean(d, x, 4096) != AIOS_OK) {
			harness_note("%lld %d %s", (long long)(aios_now_ms() - t0),
			             aios_dist_lost_rank(d), aios_errmsg());
			aios_dist_free(d);
			return 7;
		}
	}
	return aios_dist_finish(d) == AIOS_OK ? 0 : 5;
}

static void check_fault(enum fault f, int64_t bound_ms)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, 4);
	struct harness_result res;
	harness_expendable = 2;
	harness_run(4, cfgs, rank_fault, &f, 30000, &res);
	harness_expendable = -1;
	for (int r = 0; r < 4; r++) {
		if (r == 2)
			continue;
		ck_assert_msg(res.status[r] == 7, "rank %d exited %d: %s", r, res.status[r],
		              res.note[r]);
		long long ms = 0;
		int lost = -1;
		ck_assert_int_eq(sscanf(res.note[r], "%lld %d", &ms, &lost), 2);
		ck_assert_msg(lost == 2, "rank %d blamed rank %d: %s", r, lost, res.note[r]);
		ck_assert_msg(strstr(res.note[r], "lost rank 2"), "rank %d: %s", r, res.note[r]);
		ck_assert_msg(ms < bound_ms * harness_scale(),
		              "rank %d noticed after %lld ms (bound %lld): %s", r, ms,
		              (long long)bound_ms, res.note[r]);
	}
}

START_TEST(killed_rank_is_named_by_all)
{
	check_fault(FAULT_EXIT, 2000);
}
END_TEST

START_TEST(frozen_rank_is_named_after_the_peer_timeout)
{
	/* heartbeats stop: peer_timeout 3 s + a 100 ms check period, + margin for a loaded CI */
	check_fault(FAULT_STOP, 6000);
}
END_TEST

START_TEST(idle_rank_is_kept_alive_by_heartbeats)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, 4);
	enum fault f = FAULT_IDLE;
	struct harness_result res;
	harness_run(4, cfgs, rank_fault, &f, 30000, &res);
	for (int r = 0; r < 4; r++)
		ck_assert_msg(res.status[r] == 0, "rank %d exited %d: %s", r, res.status[r],
		              res.note[r]);
}
END_TEST

/* ---- authentication */

START_TEST(impostor_without_the_secret_is_refused)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, 2);
	/* the right job name, attempt, world and rank; another secret */
	memcpy(cfgs[1].secret, "not-the-job-secret-at-all", 25);
	cfgs[1].secret_len = 25;
	cfgs[0].rendezvous_timeout_ms = 2000 * harness_scale();
	struct harness_result res;
	harness_run(2, cfgs, rank_connect_only, NULL, 15000, &res);
	ck_assert_msg(res.status[1] == 10 + AIOS_ERR_FORBIDDEN, "%d %s", res.status[1],
	              res.note[1]);
	ck_assert_msg(strstr(res.note[1], "refused rank 1: authentication failed"), "%s",
	              res.note[1]);
	ck_assert_msg(!strstr(res.note[1], "job") && !strstr(res.note[1], "world"), "%s",
	              res.note[1]);
	ck_assert_msg(res.status[0] == 10 + AIOS_ERR_TIMEOUT && strstr(res.note[0], "missing: 1"),
	              "%d %s", res.status[0], res.note[0]);
}
END_TEST

static int raw_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 200; i++) {
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		usleep(20000);
		fd = socket(AF_INET, SOCK_STREAM, 0);
	}
	close(fd);
	return -1;
}

static int read_exact(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * Index 1 speaks the protocol by hand: a HELLO with the right job, attempt (7), world
 * and rank but a MAC made without the secret. The REJECT must say "authentication
 * failed" and nothing else: attempt 0 in header and payload, no job name, no world.
 * Index 0 is the coordinator.
 */
static int rank_raw_impostor(int idx, const struct aios_dist_config *cfg, void *arg)
{
	if (idx == 0)
		return rank_connect_only(idx, cfg, arg);
	int fd = raw_connect(cfg->coord_port);
	if (fd < 0)
		return 20;
	uint8_t buf[AIOS_DIST_HEADER_LEN + 4 + AIOS_DIST_MAX_REASON];
	struct aios_dist_header h;
	const uint8_t *pl;
	size_t used;
	if (read_exact(fd, buf, AIOS_DIST_HEADER_LEN + AIOS_DIST_NONCE_LEN) ||
	    aios_dist_frame_decode(buf, sizeof(buf), AIOS_DIST_NONCE_LEN, &h, &pl, &used) ||
	    h.type != AIOS_DIST_CHALLENGE || h.attempt != 0)
		return 21;
	struct aios_dist_hello hello = {.world = (uint32_t)cfg->world, .rank = 1};
	snprintf(hello.job, sizeof(hello.job), "%s", cfg->job);
	memset(hello.mac, 0x5a, sizeof(hello.mac));
	uint8_t out[AIOS_DIST_HEADER_LEN + AIOS_DIST_HELLO_MAX];
	size_t n = aios_dist_hello_encode(&hello, out + AIOS_DIST_HEADER_LEN);
	struct aios_dist_header hh = {.version = AIOS_DIST_VERSION,
	                              .type = AIOS_DIST_HELLO,
	                              .attempt = cfg->attempt,
	                              .sender = 1,
	                              .payload_len = (uint32_t)n};
	aios_dist_header_encode(&hh, out);
	if (write(fd, out, AIOS_DIST_HEADER_LEN + n) != (ssize_t)(AIOS_DIST_HEADER_LEN + n))
		return 22;
	if (read_exact(fd, buf, AIOS_DIST_HEADER_LEN) ||
	    aios_dist_header_decode(buf, 4 + AIOS_DIST_MAX_REASON, &h) ||
	    read_exact(fd, buf + AIOS_DIST_HEADER_LEN, h.payload_len))
		return 23;
	close(fd);
	uint32_t attempt = 99;
	char why[AIOS_DIST_MAX_REASON + 1];
	if (h.type != AIOS_DIST_REJECT ||
	    aios_dist_reject_decode(buf + AIOS_DIST_HEADER_LEN, h.payload_len, &attempt, why))
		return 24;
	harness_note("attempt %u/%u: %s", h.attempt, attempt, why);
	return h.attempt == 0 && attempt == 0 && strcmp(why, "authentication failed") == 0 ? 0 : 25;
}

START_TEST(reject_tells_an_impostor_nothing)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, 2);
	for (int r = 0; r < 2; r++)
		cfgs[r].attempt = 7;
	cfgs[0].rendezvous_timeout_ms = 2000 * harness_scale();
	struct harness_result res;
	harness_run(2, cfgs, rank_raw_impostor, NULL, 15000, &res);
	ck_assert_msg(res.status[1] == 0, "impostor: %d %s", res.status[1], res.note[1]);
	ck_assert_int_eq(res.status[0], 10 + AIOS_ERR_TIMEOUT);
}
END_TEST

/* Index 2 connects to the coordinator first and never says hello; ranks 0 and 1 meet. */
static int rank_or_silent(int idx, const struct aios_dist_config *cfg, void *arg)
{
	if (idx < 2) {
		if (idx == 1)
			aios_sleep_ms(300); /* after the silent connection */
		return rank_connect_only(idx, cfg, arg);
	}
	int fd = raw_connect(cfg->coord_port);
	if (fd < 0)
		return 20;
	aios_sleep_ms(8000); /* longer than the coordinator's 5 s hello deadline */
	close(fd);
	return 0;
}

START_TEST(silent_connection_does_not_stall_rendezvous)
{
	struct aios_dist_config cfgs[HARNESS_MAX];
	harness_configs(cfgs, 2);
	cfgs[2] = cfgs[1];
	struct harness_result res;
	harness_run(3, cfgs, rank_or_silent, NULL, 20000, &res);
	ck_assert_msg(res.status[0] == 0 && res.status[1] == 0, "%d %s / %d %s", res.status[0],
	              res.note[0], res.status[1], res.note[1]);
	/* before hellos were read side by side, rank 1 waited out the silent one's 5 s */
	ck_assert_msg(res.elapsed_ms[1] < 3000 * harness_scale(), "rank 1 took %lld ms",
	              (long long)res.elapsed_ms[1]);
}
END_TEST

START_TEST(no_secret_is_refused_unless_insecure)
{
	struct aios_dist_config c;
	harness_config(&c, 1, 2, 1);
	c.secret_len = 0;
	struct aios_dist *d = NULL;
	ck_assert_int_eq(aios_dist_connect(&c, &d), AIOS_ERR_INVALID);
	ck_assert_msg(strstr(aios_errmsg(), "needs the job's secret") &&
	                  strstr(aios_errmsg(), "AIOS_DIST_INSECURE=1"),
	              "%s", aios_errmsg());
	ck_assert_ptr_null(d);
}
END_TEST

START_TEST(secret_from_file_or_environment)
{
	struct aios_dist_config c;
	aios_dist_config_defaults(&c);
	char dir[256], path[300];
	aios_test_tmpdir("aios-secret", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("0123456789abcdef0123\n", f);
	fclose(f);
	setenv("AIOS_SECRET_FILE", path, 1);
	setenv("AIOS_SECRET", "ignored-when-a-file-is-given", 1);
	ck_assert_int_eq(aios_dist_secret_from_env(&c), AIOS_OK);
	ck_assert_uint_eq(c.secret_len, 20); /* the newline dropped */
	ck_assert_int_eq(memcmp(c.secret, "0123456789abcdef0123", 20), 0);
	unsetenv("AIOS_SECRET_FILE");
	setenv("AIOS_SECRET", "short", 1);
	ck_assert_int_eq(aios_dist_secret_from_env(&c), AIOS_ERR_INVALID);
	ck_assert_msg(strstr(aios_errmsg(), "AIOS_SECRET: the secret has 5 bytes") &&
	                  !strstr(aios_errmsg(), "short"),
	              "%s", aios_errmsg());
	unsetenv("AIOS_SECRET");
	setenv("AIOS_DIST_INSECURE", "1", 1);
	aios_dist_config_defaults(&c);
	ck_assert_int_eq(aios_dist_secret_from_env(&c), AIOS_OK);
	ck_assert_int_eq(c.insecure, 1);
	ck_assert_uint_eq(c.secret_len, 0);
	unsetenv("AIOS_DIST_INSECURE");
	aios_test_tmpdir_remove(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("dist_comm");
	TCase *t = tcase_create("comm");
	aios_test_tmpdir_fixture(t); /* harness_run's directories */
	tcase_set_timeout(t, 120);
	tcase_add_test(t, reference_is_the_mean);
	tcase_add_test(t, allreduce_matches_reference_bitwise);
	tcase_add_test(t, barrier_broadcast_and_roles);
	tcase_add_test(t, old_attempt_is_refused);
	tcase_add_test(t, other_job_is_refused);
	tcase_add_test(t, new_attempt_waits_for_the_new_coordinator);
	tcase_add_test(t, unreachable_coordinator_times_out_clearly);
	tcase_add_test(t, impostor_without_the_secret_is_refused);
	tcase_add_test(t, reject_tells_an_impostor_nothing);
	tcase_add_test(t, silent_connection_does_not_stall_rendezvous);
	tcase_add_test(t, no_secret_is_refused_unless_insecure);
	tcase_add_test(t, secret_from_file_or_environment);
	tcase_add_test(t, killed_rank_is_named_by_all);
	tcase_add_test(t, frozen_rank_is_named_after_the_peer_timeout);
	tcase_add_test(t, idle_rank_is_kept_alive_by_heartbeats);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
