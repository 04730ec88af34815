/*
 * test_hardening.c - the real aios-serve binary under hostile clients: readers that
 * never read their answers, requests with too many rows, a process out of file
 * descriptors. Each test starts its own server on a loopback port.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/clock.h"
#include "support/http_client.h"
#include "support/serve_fixture.h"
#include "support/tmpdir.h"

static char g_dir[256], g_model[300];

/* A 4 -> 16 -> 3 softmax MLP written to a temp dir. */
static void setup(void)
{
	aios_test_tmpdir("aios-serve-hard", g_dir, sizeof g_dir);
	snprintf(g_model, sizeof g_model, "%s/model.aios", g_dir);
	int sizes[] = {4, 16, 3};
	struct aios_model *m = sf_model(2, sizes, AIOS_ACT_RELU, AIOS_ACT_SOFTMAX, 7);
	ck_assert_int_eq(aios_model_write_file(m, g_model, AIOS_DTYPE_F32), AIOS_OK);
	aios_model_free(m);
}

static void teardown(void)
{
	aios_test_tmpdir_remove(g_dir);
	g_dir[0] = 0;
}

/* Resident set of pid, in KiB (VmRSS of /proc/pid/status). */
static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	long kib = -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

/* A predict request of rows rows (pipelined back to back by the slow readers). */
static void predict_request(struct aios_buf *b, int rows)
{
	struct aios_buf body;
	aios_buf_init(&body, 1 << 20);
	ck_assert_int_eq(aios_buf_puts(&body, "{\"instances\": ["), AIOS_OK);
	for (int i = 0; i < rows; i++)
		ck_assert_int_eq(aios_buf_puts(&body, i ? ",[1,2,3,4]" : "[1,2,3,4]"), AIOS_OK);
	ck_assert_int_eq(aios_buf_puts(&body, "]}"), AIOS_OK);
	ck_assert_int_eq(aios_buf_printf(b,
	                                 "POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\n"
	                                 "Content-Length: %zu\r\n\r\n",
	                                 body.len),
	                 AIOS_OK);
	ck_assert_int_eq(aios_buf_append(b, body.data, body.len), AIOS_OK);
	aios_buf_cleanup(&body);
}

/* A non-blocking connection with small kernel buffers (set before connect, so the
 * window stays small): the attack costs the machine little kernel memory. */
static int connect_nonblocking(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	int small = 16384;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect: %s",
	              strerror(errno));
	ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	return fd;
}

#define SLOW_READERS 150
#define ATTACK_MS    20000

/*
 * SLOW_READERS connections pipeline predict requests (each answer ~35 KB) and never
 * read a byte; whatever the server stops taking they offer again a byte at a time, for
 * ATTACK_MS. The server must keep its resident memory under 64 MiB and answer another
 * client all along (how many stalled connections it closed is printed: it depends on
 * how fast the machine fills the kernel's buffers).
 */
START_TEST(slow_readers_stay_bounded)
{
	struct sf_server s;
	const char *args[] = {"--model", g_model, "--name", "m", "--request-timeout-ms",
	                      "2000",    NULL};
	sf_start(&s, args);
	long base_kib = rss_kib(s.pid);
	struct aios_buf req;
	aios_buf_init(&req, 1 << 20);
	predict_request(&req, 1000);
	int fds[SLOW_READERS];
	size_t off[SLOW_READERS];
	for (int i = 0; i < SLOW_READERS; i++) {
		fds[i] = connect_nonblocking(s.port);
		off[i] = 0;
	}
	long peak_kib = 0;
	int reconnects = 0, answers = 0;
	int64_t worst_ms = 0, t_end = aios_now_ms() + ATTACK_MS;
	while (aios_now_ms() < t_end) {
		for (int i = 0; i < SLOW_READERS; i++) {
			for (;;) { /* as much as the socket takes, then a byte next round */
				ssize_t w =
				    send(fds[i], req.data + off[i], req.len - off[i], MSG_NOSIGNAL);
				if (w > 0) {
					off[i] = (off[i] + (size_t)w) % req.len;
					continue;
				}
				if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
					ssize_t one =
					    send(fds[i], req.data + off[i], 1, MSG_NOSIGNAL);
					if (one == 1) {
						off[i] = (off[i] + 1) % req.len;
						break;
					}
					if (one < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
						break;
				}
				close(fds[i]); /* the server gave up on us: come back */
				fds[i] = connect_nonblocking(s.port);
				off[i] = 0;
				reconnects++;
				break;
			}
		}
		int64_t t0 = aios_now_ms();
		struct tc_resp r;
		tc_request(s.port, "POST", "/v1/models/m:predict", "{\"instances\": [[1,2,3,4]]}",
		           &r);
		ck_assert_msg(r.status == 200, "the other client got %d", r.status);
		tc_resp_free(&r);
		answers++;
		if (aios_now_ms() - t0 > worst_ms)
			worst_ms = aios_now_ms() - t0;
		long kib = rss_kib(s.pid);
		if (kib > peak_kib)
			peak_kib = kib;
		aios_sleep_ms(100);
	}
	fprintf(stderr,
	        "slow readers: %d connections, %d s: server RSS %ld KiB at start, peak %ld KiB; "
	        "%d reconnects; other client: %d answers, slowest %lld ms\n",
	        SLOW_READERS, ATTACK_MS / 1000, base_kib, peak_kib, reconnects, answers,
	        (long long)worst_ms);
	ck_assert_msg(peak_kib < 64 * 1024, "server RSS peaked at %ld KiB", peak_kib);
	ck_assert_int_lt(worst_ms, 2000);
	for (int i = 0; i < SLOW_READERS; i++)
		close(fds[i]);
	aios_buf_cleanup(&req);
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

/* A 1 MiB V1 body of 524,000 bare-number rows to a one-input model: 413 with a JSON
 * error naming the cap, answered before any JSON parse, and the server serves on. */
START_TEST(too_many_rows_get_413)
{
	char one[400];
	snprintf(one, sizeof one, "%s/one.aios", g_dir);
	int sizes[] = {1, 1};
	struct aios_model *m = sf_model(1, sizes, AIOS_ACT_RELU, AIOS_ACT_IDENTITY, 3);
	ck_assert_int_eq(aios_model_write_file(m, one, AIOS_DTYPE_F32), AIOS_OK);
	aios_model_free(m);
	struct sf_server s;
	const char *args[] = {"--model", one, "--name", "m", NULL};
	sf_start(&s, args);
	struct aios_buf body;
	aios_buf_init(&body, 1 << 20);
	ck_assert_int_eq(aios_buf_puts(&body, "{\"instances\": [1"), AIOS_OK);
	while (body.len + 4 < (1u << 20))
		ck_assert_int_eq(aios_buf_append(&body, ",1", 2), AIOS_OK);
	ck_assert_int_eq(aios_buf_puts(&body, "]}"), AIOS_OK);
	struct tc_resp r;
	tc_request(s.port, "POST", "/v1/models/m:predict", body.data, &r);
	ck_assert_int_eq(r.status, 413);
	ck_assert_msg(strstr(r.body, "{\"error\":\"request carries more than 65536 rows") &&
	                  strstr(r.body, "the limit is 65536 rows per request"),
	              "%s", r.body);
	tc_resp_free(&r);
	ck_assert_int_lt(rss_kib(s.pid), 64 * 1024);
	tc_request(s.port, "POST", "/v1/models/m:predict", "{\"instances\": [1, 2]}", &r);
	ck_assert_int_eq(r.status, 200);
	tc_resp_free(&r);
	aios_buf_cleanup(&body);
	ck_assert_int_eq(sf_stop(&s), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve_hardening");
	TCase *t = tcase_create("binary");
	aios_test_tmpdir_fixture(t);
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 90);
	tcase_add_test(t, slow_readers_stay_bounded);
	tcase_add_test(t, too_many_rows_get_413);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
