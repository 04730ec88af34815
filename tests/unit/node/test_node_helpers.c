/*
 * test_node_helpers.c - the small pieces of aios-node that touch files and sockets but
 * need no root: log tails for `kubectl logs`, base64 of Secret values, the guard of
 * recursive removal, HTTP/TCP probes against a loopback listener, and the runner
 * starting a process (no namespaces) and reporting a missing executable.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "common/buf.h"
#include "common/mem.h"
#include "node/node_internal.h"
#include "node/probe.h"
#include "node/runner.h"
#include "node/volumes.h"

static char *tmpdir(void)
{
	char *d = aios_xstrdup("/tmp/aios-node-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(s, f);
	fclose(f);
}

START_TEST(log_tail_semantics)
{
	char *d = tmpdir();
	char *p = aios_xasprintf("%s/c.log", d);
	write_text(p, "one\ntwo\nthree\nfour\n");
	struct aios_buf b;
	aios_buf_init(&b, 1 << 20);
	ck_assert_int_eq(node_log_tail(p, 2, -1, &b), AIOS_OK);
	ck_assert_str_eq(b.data, "three\nfour\n");
	aios_buf_reset(&b);
	ck_assert_int_eq(node_log_tail(p, -1, 6, &b), AIOS_OK); /* limitBytes from the start */
	ck_assert_str_eq(b.data, "one\ntw");
	aios_buf_reset(&b);
	ck_assert_int_eq(node_log_tail(p, 10, -1, &b), AIOS_OK);
	ck_assert_str_eq(b.data, "one\ntwo\nthree\nfour\n");
	aios_buf_reset(&b);
	ck_assert_int_eq(node_log_tail(p, 0, -1, &b), AIOS_OK);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(node_log_tail(p, 1, 3, &b), AIOS_OK); /* last line, then 3 bytes of it */
	ck_assert_str_eq(b.data, "fou");
	char *missing = aios_xasprintf("%s/none.log", d);
	ck_assert_int_eq(node_log_tail(missing, -1, -1, &b), AIOS_ERR_NOT_FOUND);
	aios_buf_cleanup(&b);
	ck_assert_int_eq(aios_volumes_remove_tree("/tmp", d), AIOS_OK);
	ck_assert_int_ne(access(d, F_OK), 0);
	free(missing);
	free(p);
	free(d);
}
END_TEST

START_TEST(base64_and_remove_guard)
{
	char *out;
	size_t n;
	ck_assert_int_eq(aios_volumes_b64_decode("aGVsbG8=", &out, &n), AIOS_OK);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(out, "hello");
	free(out);
	ck_assert_int_eq(aios_volumes_b64_decode("aGVsbG8", &out, &n), AIOS_OK); /* unpadded */
	ck_assert_str_eq(out, "hello");
	free(out);
	ck_assert_int_eq(aios_volumes_b64_decode("", &out, &n), AIOS_OK);
	ck_assert_uint_eq(n, 0);
	free(out);
	ck_assert_int_eq(aios_volumes_b64_decode("!!!!", &out, &n), AIOS_ERR_INVALID);
	/* removal never leaves its root */
	ck_assert_int_eq(aios_volumes_remove_tree("/var/lib/aios-node/pods", "/etc"),
	                 AIOS_ERR_INVALID);
	ck_assert_int_eq(
	    aios_volumes_remove_tree("/var/lib/aios-node/pods", "/var/lib/aios-node/pods/../x"),
	    AIOS_ERR_INVALID);
	ck_assert_int_eq(
	    aios_volumes_remove_tree("/var/lib/aios-node/pods", "/var/lib/aios-node/podsX"),
	    AIOS_ERR_INVALID);
}
END_TEST

/* A one-shot HTTP server on loopback answering every connection with `reply`. */
struct server {
	int fd, port, n;
	const char *reply;
};

static void *serve(void *arg)
{
	struct server *s = arg;
	for (int i = 0; i < s->n; i++) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		char buf[1024];
		ssize_t r = recv(c, buf, sizeof buf, 0);
		(void)r;
		ssize_t w = send(c, s->reply, strlen(s->reply), MSG_NOSIGNAL);
		(void)w;
		close(c);
	}
	return NULL;
}

static void listen_on(struct server *s)
{
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(s->fd, 4), 0);
	socklen_t l = sizeof a;
	getsockname(s->fd, (struct sockaddr *)&a, &l);
	s->port = ntohs(a.sin_port);
}

START_TEST(probes)
{
	struct server ok = {.reply = "HTTP/1.1 204 No Content\r\n\r\n", .n = 2};
	listen_on(&ok);
	pthread_t t;
	pthread_create(&t, NULL, serve, &ok);
	struct aios_podspec_probe pr = {
	    .kind = AIOS_PROBE_HTTP, .path = "/healthz", .port = ok.port, .timeout_s = 2};
	ck_assert_int_eq(aios_probe_run(&pr, "127.0.0.1"), AIOS_OK);
	pr.kind = AIOS_PROBE_TCP;
	ck_assert_int_eq(aios_probe_run(&pr, "127.0.0.1"), AIOS_OK);
	pthread_join(t, NULL);
	close(ok.fd);

	struct server bad = {.reply = "HTTP/1.1 503 Service Unavailable\r\n\r\nnot ready", .n = 1};
	listen_on(&bad);
	pthread_create(&t, NULL, serve, &bad);
	pr.kind = AIOS_PROBE_HTTP;
	pr.port = bad.port;
	ck_assert_int_eq(aios_probe_run(&pr, "127.0.0.1"), AIOS_ERR_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "statuscode: 503"));
	pthread_join(t, NULL);
	close(bad.fd); /* now nothing listens there */
	ck_assert_int_ne(aios_probe_run(&pr, "127.0.0.1"), AIOS_OK);
	ck_assert_int_eq(aios_probe_run(&pr, ""), AIOS_ERR_UNAVAILABLE);
}
END_TEST

START_TEST(runner_starts_and_reports)
{
	char *d = tmpdir();
	char *log = aios_xasprintf("%s/out.log", d);
	char *argv[] = {"sh", "-c", "echo hi $GREETING; pwd; exit 7", NULL};
	char *env[] = {"PATH=/usr/bin:/bin", "GREETING=there", NULL};
	struct aios_runner_spec s = {.argv = argv, .env = env, .cwd = d, .log_path = log};
	pid_t pid;
	ck_assert_int_eq(aios_runner_start(&s, &pid), AIOS_OK);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 7);
	struct aios_buf b;
	aios_buf_init(&b, 4096);
	ck_assert_int_eq(aios_buf_read_file(&b, log), AIOS_OK);
	char *want = aios_xasprintf("hi there\n%s\n", d);
	ck_assert_str_eq(b.data, want);
	aios_buf_cleanup(&b);

	char *argv2[] = {"no-such-program-aios", NULL};
	s.argv = argv2;
	ck_assert_int_eq(aios_runner_start(&s, &pid), AIOS_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "executable file not found in $PATH"));
	s.argv = argv;
	s.cwd = "/nonexistent-aios-dir";
	ck_assert_int_eq(aios_runner_start(&s, &pid), AIOS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "chdir /nonexistent-aios-dir"));
	ck_assert_int_eq(aios_volumes_remove_tree("/tmp", d), AIOS_OK);
	free(want);
	free(log);
	free(d);
}
END_TEST

static Suite *helpers_suite(void)
{
	Suite *s = suite_create("node_helpers");
	TCase *t = tcase_create("helpers");
	tcase_add_test(t, log_tail_semantics);
	tcase_add_test(t, base64_and_remove_guard);
	tcase_add_test(t, probes);
	tcase_add_test(t, runner_starts_and_reports);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(helpers_suite)
