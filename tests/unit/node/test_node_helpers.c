/*
 * test_node_helpers.c - the small pieces of aios-node that touch files and sockets but
 * need no root: log tails for `kubectl logs`, base64 of Secret values, the guard of
 * recursive removal, HTTP/TCP probes against a loopback listener, and the runner
 * starting a process (no namespaces) and reporting a missing executable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include "common/json.h"
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

static struct aios_podspec *pod_of(const char *json)
{
	struct json_object *o = NULL;
	ck_assert_int_eq(aios_json_parse(json, strlen(json), "test pod", &o), AIOS_OK);
	struct aios_podspec_ctx ctx = {.bin_dir = "/nonexistent"};
	struct aios_podspec *p;
	ck_assert_int_eq(aios_podspec_build(o, &ctx, &p), AIOS_OK);
	json_object_put(o);
	return p;
}

static int mode_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

/* A Secret's files are 0600 in a 0700 directory (0640/0750 with an fsGroup, defaultMode
 * without the bits for others), owned by the pod's user; a ConfigMap's stay 0644. */
START_TEST(secret_volume_modes)
{
	char *d = tmpdir();
	char *pod = aios_xasprintf(
	    "{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
	    "\"securityContext\":{\"runAsUser\":%u,\"runAsGroup\":%u%s},"
	    "\"volumes\":[{\"name\":\"s\",\"secret\":{\"secretName\":\"s\"%s}},"
	    "{\"name\":\"c\",\"configMap\":{\"name\":\"c\"}}],"
	    "\"containers\":[{\"name\":\"a\",\"image\":\"aios/trainer\"}]}}",
	    (unsigned)getuid(), (unsigned)getgid(), "", "");
	struct json_object *secret = NULL;
	const char *sj = "{\"data\":{\"token\":\"aGVsbG8=\"}}";
	ck_assert_int_eq(aios_json_parse(sj, strlen(sj), "secret", &secret), AIOS_OK);
	struct aios_podspec *p = pod_of(pod);
	char *sdir = aios_xasprintf("%s/s", d), *cdir = aios_xasprintf("%s/c", d);
	char *sfile = aios_xasprintf("%s/token", sdir), *cfile = aios_xasprintf("%s/token", cdir);
	ck_assert_int_eq(mkdir(sdir, 0755), 0);
	ck_assert_int_eq(mkdir(cdir, 0755), 0);
	ck_assert_int_eq(aios_volumes_write_projected(secret, p, &p->volumes[0], sdir), AIOS_OK);
	ck_assert_int_eq(mode_of(sfile), 0600);
	ck_assert_int_eq(mode_of(sdir), 0700);
	struct stat st;
	ck_assert_int_eq(stat(sfile, &st), 0);
	ck_assert_uint_eq(st.st_uid, getuid());
	ck_assert_int_eq(aios_volumes_write_projected(secret, p, &p->volumes[1], cdir), AIOS_OK);
	ck_assert_int_eq(mode_of(cfile), 0644);
	aios_podspec_free(p);
	free(pod);

	/* with an fsGroup: group-readable, never other-readable, even asked 0644 */
	char fs[48];
	snprintf(fs, sizeof fs, ",\"fsGroup\":%u", (unsigned)getgid());
	pod = aios_xasprintf(
	    "{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
	    "\"securityContext\":{\"runAsUser\":%u,\"runAsGroup\":%u%s},"
	    "\"volumes\":[{\"name\":\"s\",\"secret\":{\"secretName\":\"s\"%s}},"
	    "{\"name\":\"t\",\"secret\":{\"secretName\":\"s\"}}],"
	    "\"containers\":[{\"name\":\"a\",\"image\":\"aios/trainer\"}]}}",
	    (unsigned)getuid(), (unsigned)getgid(), fs, ",\"defaultMode\":420");
	p = pod_of(pod);
	ck_assert_int_eq(p->fs_group, (int64_t)getgid());
	char *tdir = aios_xasprintf("%s/t", d), *tfile = aios_xasprintf("%s/token", tdir);
	ck_assert_int_eq(mkdir(tdir, 0755), 0);
	ck_assert_int_eq(aios_volumes_write_projected(secret, p, &p->volumes[0], sdir), AIOS_OK);
	ck_assert_int_eq(mode_of(sfile), 0640); /* 0644 asked */
	ck_assert_int_eq(mode_of(sdir), 0750);
	ck_assert_int_eq(aios_volumes_write_projected(secret, p, &p->volumes[1], tdir), AIOS_OK);
	ck_assert_int_eq(mode_of(tfile), 0640);
	aios_podspec_free(p);
	json_object_put(secret);
	ck_assert_int_eq(aios_volumes_remove_tree("/tmp", d), AIOS_OK);
	free(pod);
	free(sdir);
	free(cdir);
	free(sfile);
	free(cfile);
	free(tdir);
	free(tfile);
	free(d);
}
END_TEST

/* A subPath through a symbolic link (a volume holding "etc -> /etc") is refused, and
 * so is any walk that meets a link; a plain subPath is made and handed over opened. */
START_TEST(subpath_does_not_follow_links)
{
	char *d = tmpdir();
	char *vol = aios_xasprintf("%s/vol", d), *link = aios_xasprintf("%s/vol/etc", d);
	ck_assert_int_eq(mkdir(vol, 0755), 0);
	ck_assert_int_eq(symlink("/etc", link), 0);
	int root = open(vol, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(root, 0);
	errno = 0;
	ck_assert_int_eq(aios_volumes_open_beneath(root, "etc", 0, 0, (uid_t)-1, (gid_t)-1), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_int_eq(aios_volumes_open_beneath(root, "etc/ssl", 1, 0, (uid_t)-1, (gid_t)-1),
	                 -1);
	ck_assert_int_eq(aios_volumes_open_beneath(root, "a/../../x", 1, 0, (uid_t)-1, (gid_t)-1),
	                 -1);
	ck_assert_int_eq(errno, EINVAL);
	int fd = aios_volumes_open_beneath(root, "a/b", 1, 0, getuid(), getgid());
	ck_assert_int_ge(fd, 0);
	close(fd);
	close(root);

	char *pod = aios_xasprintf(
	    "{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u\"},\"spec\":{"
	    "\"securityContext\":{\"runAsUser\":%u,\"runAsGroup\":%u},"
	    "\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],"
	    "\"containers\":[{\"name\":\"a\",\"image\":\"aios/trainer\",\"volumeMounts\":["
	    "{\"name\":\"v\",\"mountPath\":\"/conf\",\"subPath\":\"etc\"}]},"
	    "{\"name\":\"b\",\"image\":\"aios/trainer\",\"volumeMounts\":["
	    "{\"name\":\"v\",\"mountPath\":\"/conf\",\"subPath\":\"etc/ssl\"}]},"
	    "{\"name\":\"c\",\"image\":\"aios/trainer\",\"volumeMounts\":["
	    "{\"name\":\"v\",\"mountPath\":\"/conf\",\"subPath\":\"a/b\"}]}]}}",
	    (unsigned)getuid(), (unsigned)getgid());
	struct aios_podspec *p = pod_of(pod);
	char *dirs[] = {vol, NULL};
	struct aios_runner_mount *m = NULL;
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(aios_volumes_mounts(p, &p->containers[i], dirs, &m),
		                 AIOS_ERR_INVALID);
		ck_assert_ptr_nonnull(strstr(aios_errmsg(), "symbolic link"));
	}
	ck_assert_int_eq(aios_volumes_mounts(p, &p->containers[2], dirs, &m), AIOS_OK);
	ck_assert_int_ge(m[0].src_fd, 0);
	struct stat a, b;
	char *ab = aios_xasprintf("%s/a/b", vol);
	ck_assert_int_eq(fstat(m[0].src_fd, &a), 0);
	ck_assert_int_eq(stat(ab, &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	aios_volumes_mounts_free(m, p->containers[2].n_mounts);
	aios_podspec_free(p);
	ck_assert_int_eq(aios_volumes_remove_tree("/tmp", d), AIOS_OK);
	free(ab);
	free(pod);
	free(vol);
	free(link);
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
	tcase_add_test(t, secret_volume_modes);
	tcase_add_test(t, subpath_does_not_follow_links);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(helpers_suite)
