/*
 * test_kube_connections.c - how many TCP connections the kube client holds to the real
 * kube-apiserver, counted from /proc: the sockets of a process (inodes in /proc/PID/fd)
 * that are ESTABLISHED to the API server's port (/proc/PID/net/tcp and tcp6).
 *
 *   - five watches of five resources and the calls of one client share one HTTP/2
 *     connection; with DISABLE_HTTP2 set (HTTP/1.1, as client-go's variable of that
 *     name does) each watch has a connection of its own, and calls one more;
 *   - a watch whose reader falls behind holds back only itself: on HTTP/2 it is ended
 *     (the shared connection must not wait for it) and the connection lives on; on
 *     HTTP/1.1 it is paused and finishes with every byte; a plain stream (a pod's log
 *     followed) has a connection of its own and gets every byte however slow its reader;
 *   - the API server restarted under five watches sharing a connection: every watch
 *     ends, new ones share one new connection;
 *   - aios-operator itself (real binary, operator identity, leader election on): one
 *     connection over HTTP/2, one per watch and more with DISABLE_HTTP2; `ss -tnp`
 *     shows the same.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "common/json.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/stream.h"
#include "kube/watch.h"
#include "support/kube_test.h"
#include "support/operator_proc.h"
#include "support/tcp_conns.h"

#define OK(expr) ck_assert_msg((expr) == AIOS_OK, "%s: %s", #expr, aios_errmsg())

static struct aios_kube_client *kc;
static char ns[64];

static void setup(void)
{
	kc = aios_kt_client("admin");
	snprintf(ns, sizeof(ns), "%s", aios_kt_namespace(kc, "kt-conn"));
}

static void teardown(void)
{
	aios_kube_client_free(kc);
	kc = NULL;
}

/* The API server's port, from the admin kubeconfig's server URL. */
static int api_port(void)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/admin.kubeconfig", aios_kt_cluster_dir());
	struct aios_kube_config *cfg = NULL;
	OK(aios_kube_config_load_file(path, NULL, &cfg));
	const char *colon = strrchr(cfg->server, ':');
	ck_assert_ptr_nonnull(colon);
	int port = (int)strtol(colon + 1, NULL, 10);
	aios_kube_config_free(cfg);
	ck_assert_int_gt(port, 0);
	return port;
}

/* A client for the admin identity, on HTTP/1.1 when h1 (DISABLE_HTTP2 is read when a
 * client is made; nothing else in this process reads the environment meanwhile). */
static struct aios_kube_client *client(int h1)
{
	if (h1)
		setenv("DISABLE_HTTP2", "1", 1);
	struct aios_kube_client *c = aios_kt_client("admin");
	unsetenv("DISABLE_HTTP2");
	return c;
}

static int http_version(struct aios_kube_client *c)
{
	struct aios_kube_response r;
	OK(aios_kube_request(c, "GET", "/version", NULL, NULL, 0, &r));
	int v = r.http_version;
	aios_kube_response_cleanup(&r);
	return v;
}

/* ---- five watches ------------------------------------------------------- */

#define NWATCH 5

struct watcher {
	struct aios_kube_client *c;
	const struct aios_kube_gvr *gvr;
	const char *ns;
	const int *cancel;
	atomic_int seen; /* ADDED events of an object named "probe..." */
	enum aios_err e;
	char msg[256];
	atomic_int ended;
	int64_t ended_ms;
	pthread_t th;
};

static enum aios_err on_event(void *arg, enum aios_kube_event_type t, struct json_object *o)
{
	struct watcher *w = arg;
	const char *name = aios_json_str(o, "metadata.name");
	if (t == AIOS_KUBE_ADDED && name && strncmp(name, "probe", 5) == 0)
		atomic_fetch_add(&w->seen, 1);
	return AIOS_OK;
}

static void *watch_main(void *arg)
{
	struct watcher *w = arg;
	struct aios_kube_ref r = aios_kube_ref(w->gvr, w->ns, NULL);
	struct aios_kube_watch_opts o = {.timeout_seconds = 120, .cancel = w->cancel};
	w->e = aios_kube_watch(w->c, &r, &o, on_event, w, NULL);
	snprintf(w->msg, sizeof(w->msg), "%s", w->e ? aios_errmsg() : "ended by the server");
	w->ended_ms = aios_now_ms();
	atomic_store(&w->ended, 1);
	return NULL;
}

static const struct {
	const struct aios_kube_gvr *gvr;
	const char *api_version, *kind;
} kinds[NWATCH] = {
    {&aios_kube_configmaps, "v1", "ConfigMap"},
    {&aios_kube_secrets, "v1", "Secret"},
    {&aios_kube_serviceaccounts, "v1", "ServiceAccount"},
    {&aios_kube_endpoints, "v1", "Endpoints"},
    {&aios_kube_leases, "coordination.k8s.io/v1", "Lease"},
};

static int g_cancel;

/* Opens a watch of each of the five kinds in wns on c. */
static void watches_open(struct watcher *w, struct aios_kube_client *c, const char *wns)
{
	memset(w, 0, sizeof(*w) * NWATCH);
	g_cancel = 0;
	for (int i = 0; i < NWATCH; i++) {
		w[i].c = c;
		w[i].gvr = kinds[i].gvr;
		w[i].ns = wns;
		w[i].cancel = &g_cancel;
		ck_assert_int_eq(pthread_create(&w[i].th, NULL, watch_main, &w[i]), 0);
	}
}

/* Writes an object `name` of each kind through c (retrying while a restarted server
 * answers 503) and waits until every watch has seen its own: all five are live. */
static void watches_probe(struct watcher *w, struct aios_kube_client *c, const char *wns,
                          const char *name)
{
	int64_t until = aios_now_ms() + 30000;
	for (int i = 0; i < NWATCH; i++) {
		struct aios_kube_ref coll = aios_kube_ref(kinds[i].gvr, wns, NULL);
		struct json_object *o =
		    aios_kt_object(kinds[i].api_version, kinds[i].kind, wns, name);
		enum aios_err e;
		while ((e = aios_kube_create(c, &coll, o, NULL, NULL)) == AIOS_ERR_UNAVAILABLE &&
		       aios_now_ms() < until)
			aios_sleep_ms(500);
		ck_assert_msg(e == AIOS_OK, "create %s %s: %s", kinds[i].kind, name, aios_errmsg());
		json_object_put(o);
	}
	for (int i = 0; i < NWATCH; i++)
		while (atomic_load(&w[i].seen) < 1) {
			ck_assert_msg(aios_now_ms() < until, "the %s watch never saw %s",
			              kinds[i].gvr->resource, name);
			aios_sleep_ms(20);
		}
}

/* Cancels the watches and checks each stopped for that. */
static void watches_close(struct watcher *w)
{
	__atomic_store_n(&g_cancel, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < NWATCH; i++) {
		pthread_join(w[i].th, NULL);
		ck_assert_msg(w[i].e == AIOS_ERR_CANCELLED, "%s watch: %s", kinds[i].gvr->resource,
		              w[i].msg);
	}
}

/* Opens the five watches on c, counts, writes one "probe" object of each kind through
 * c, waits for every watch to see its own, counts again; returns both counts. */
static void five_watches(struct aios_kube_client *c, const char *wns, int port, int want_idle,
                         int *idle, int *after)
{
	struct watcher w[NWATCH];
	watches_open(w, c, wns);
	aios_test_tcp_conns_settle("self", port, want_idle, 10000);
	aios_sleep_ms(500); /* nothing more is opened later */
	*idle = aios_test_tcp_conns("self", port);
	watches_probe(w, c, wns, "probe");
	*after = aios_test_tcp_conns("self", port);
	watches_close(w);
}

START_TEST(five_watches_share_one_http2_connection)
{
	int port = api_port();
	ck_assert_int_eq(http_version(kc), 2);
	int idle = 0, after = 0;
	five_watches(kc, ns, port, 1, &idle, &after);
	printf("HTTP/2: %d watches open: %d TCP connection(s) to the API server; after a "
	       "write to each resource and its event on each watch: %d\n",
	       NWATCH, idle, after);
	fflush(stdout);
	ck_assert_int_eq(idle, 1);
	ck_assert_int_eq(after, 1);
}
END_TEST

START_TEST(five_watches_over_http1_take_five_connections)
{
	int port = api_port();
	aios_kube_client_free(kc); /* only the HTTP/1.1 client below holds connections */
	kc = client(1);
	ck_assert_int_eq(aios_test_tcp_conns_settle("self", port, 0, 5000), 0);
	ck_assert_int_eq(http_version(kc), 1);
	int idle = 0, after = 0;
	five_watches(kc, ns, port, NWATCH, &idle, &after);
	printf("HTTP/1.1 (DISABLE_HTTP2=1): %d watches open: %d TCP connection(s) to the API "
	       "server; after a write to each resource and its event on each watch: %d\n",
	       NWATCH, idle, after);
	fflush(stdout);
	ck_assert_int_eq(idle, NWATCH);
	ck_assert_int_eq(after, NWATCH + 1); /* the writes need one more */
}
END_TEST

START_TEST(apiserver_restart_ends_every_watch_on_the_connection)
{
	int port = api_port();
	struct watcher w[NWATCH];
	watches_open(w, kc, ns);
	watches_probe(w, kc, ns, "probe");
	ck_assert_int_eq(aios_test_tcp_conns("self", port), 1);
	int64_t t0 = aios_now_ms();
	aios_kt_restart_apiserver();
	int64_t back = aios_now_ms() - t0;
	/* the server went away under them: every watch has ended by now (the informer
	 * would relist or resume each) */
	for (int i = 0; i < NWATCH; i++) {
		ck_assert_msg(atomic_load(&w[i].ended), "the %s watch outlived its connection",
		              kinds[i].gvr->resource);
		pthread_join(w[i].th, NULL);
		ck_assert_int_ne(w[i].e, AIOS_ERR_CANCELLED);
		printf("restart: %s watch ended %lld ms after the restart began: %s (%s)\n",
		       kinds[i].gvr->resource, (long long)(w[i].ended_ms - t0),
		       aios_strerror(w[i].e), w[i].msg);
	}
	/* new watches share one new connection */
	watches_open(w, kc, ns);
	watches_probe(w, kc, ns, "probe-after");
	int after = aios_test_tcp_conns("self", port);
	printf("restart: server back after %lld ms; 5 new watches on %d connection(s)\n",
	       (long long)back, after);
	fflush(stdout);
	ck_assert_int_eq(after, 1);
	watches_close(w);
}
END_TEST

/* ---- a slow reader ------------------------------------------------------ */

#define BIG_OBJECTS 6
#define BIG_VALUE   (512u << 10) /* bytes of data per ConfigMap: a 3 MiB LIST */

/* A reader far slower than loopback: it stalls stall_ms on its first bytes (so it falls
 * behind however slowly a busy machine's API server sends), then takes ~500 KiB/s. */
struct slow {
	size_t seen, calls, biggest; /* bytes (or ConfigMap data bytes), calls, largest */
	int64_t stall_ms;
};

static void slow_take(struct slow *s, size_t n)
{
	s->seen += n;
	s->calls++;
	s->biggest = n > s->biggest ? n : s->biggest;
	if (s->calls == 1 && s->stall_ms > 0)
		aios_sleep_ms(s->stall_ms);
	aios_sleep_ms((int64_t)(n >> 9) + 1);
}

static int slow_bytes(void *arg, const char *p, size_t n)
{
	(void)p;
	slow_take(arg, n);
	return 0;
}

/* Watch events: the ADDED of each big ConfigMap; after the last one the reader has
 * everything and stops the watch (which would otherwise stay open). */
static enum aios_err slow_events(void *arg, enum aios_kube_event_type type, struct json_object *obj)
{
	struct slow *s = arg;
	if (type != AIOS_KUBE_ADDED)
		return AIOS_OK;
	const char *v = aios_json_str(obj, "data.v");
	slow_take(s, v ? strlen(v) : 0);
	return s->calls == BIG_OBJECTS ? AIOS_ERR_CANCELLED : AIOS_OK;
}

struct slow_job {
	struct aios_kube_client *c;
	int watch; /* a watch from the start (the multiplexer), else a plain stream */
	char path[256];
	struct slow s;
	enum aios_err e;
	char msg[512];
	atomic_int done;
};

static void *slow_main(void *arg)
{
	struct slow_job *j = arg;
	if (j->watch) {
		struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
		struct aios_kube_watch_opts o = {.timeout_seconds = 120};
		j->e = aios_kube_watch(j->c, &coll, &o, slow_events, &j->s, NULL);
	} else {
		j->e = aios_kube_stream(j->c, j->path, NULL, slow_bytes, &j->s);
	}
	snprintf(j->msg, sizeof(j->msg), "%s", j->e ? aios_errmsg() : "");
	atomic_store(&j->done, 1);
	return NULL;
}

static void make_big_objects(struct aios_kube_client *c)
{
	char *v = malloc(BIG_VALUE + 1);
	memset(v, 'x', BIG_VALUE);
	v[BIG_VALUE] = 0;
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	for (int i = 0; i < BIG_OBJECTS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "big-%d", i);
		struct json_object *o = aios_kt_object("v1", "ConfigMap", ns, name);
		aios_json_set(o, "data.v", json_object_new_string(v));
		OK(aios_kube_create(c, &coll, o, NULL, NULL));
		json_object_put(o);
	}
	free(v);
}

/* Runs the slow reader of 3 MiB (a watch from the start, whose ADDED events carry every
 * big ConfigMap, or the LIST as a plain stream) while the same client makes small
 * calls; returns the slowest call (ms) and leaves the outcome in j. *conns_during gets
 * the client's connections to the API server while the reader is behind. */
static int64_t slow_reader_against_calls(struct aios_kube_client *c, struct slow_job *j, int watch,
                                         int port, int *conns_during)
{
	memset(j, 0, sizeof(*j));
	j->c = c;
	j->watch = watch;
	j->s.stall_ms = 10000;
	snprintf(j->path, sizeof(j->path), "/api/v1/namespaces/%s/configmaps", ns);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, slow_main, j), 0);
	int64_t worst = 0;
	*conns_during = -1;
	for (int i = 0; i < 100 && !atomic_load(&j->done); i++) {
		aios_sleep_ms(100);
		int64_t t0 = aios_now_ms();
		struct aios_kube_response r;
		OK(aios_kube_request(c, "GET", "/version", NULL, NULL, 0, &r));
		aios_kube_response_cleanup(&r);
		int64_t took = aios_now_ms() - t0;
		worst = took > worst ? took : worst;
		if (i == 50) /* 5 s in: the reader is in its stall */
			*conns_during = aios_test_tcp_conns("self", port);
	}
	pthread_join(th, NULL);
	return worst;
}

static void slow_print(const char *what, const struct slow_job *j, int64_t worst, int during)
{
	printf("%s: %s after %zu bytes in %zu reads (largest %zu) (%s); slowest call beside it "
	       "%lld ms; connections while behind %d\n",
	       what, aios_strerror(j->e), j->s.seen, j->s.calls, j->s.biggest, j->msg,
	       (long long)worst, during);
	fflush(stdout);
}

START_TEST(slow_watch_http2_is_ended_alone)
{
	int port = api_port();
	make_big_objects(kc);
	struct slow_job j;
	int during;
	int64_t worst = slow_reader_against_calls(kc, &j, 1, port, &during);
	slow_print("HTTP/2 slow watch", &j, worst, during);
	ck_assert_int_lt(worst, 1000);
	ck_assert_int_eq(j.e, AIOS_ERR_TOO_BIG);
	ck_assert_ptr_nonnull(strstr(j.msg, "behind"));
	ck_assert_uint_lt(j.s.calls, BIG_OBJECTS);
	ck_assert_int_eq(during, 1); /* the watch shares the calls' connection */
	ck_assert_int_eq(aios_test_tcp_conns("self", port), 1); /* only its stream was reset */
	ck_assert_int_eq(http_version(kc), 2);
}
END_TEST

START_TEST(slow_watch_http1_is_paused)
{
	int port = api_port();
	make_big_objects(kc);
	struct aios_kube_client *c = client(1);
	struct slow_job j;
	int during;
	int64_t worst = slow_reader_against_calls(c, &j, 1, port, &during);
	slow_print("HTTP/1.1 slow watch", &j, worst, during);
	/* the reader stopped the watch itself after the last big ConfigMap */
	ck_assert_msg(j.e == AIOS_ERR_CANCELLED, "%s", j.msg);
	ck_assert_uint_eq(j.s.calls, BIG_OBJECTS);
	ck_assert_uint_eq(j.s.seen, BIG_OBJECTS * BIG_VALUE);
	ck_assert_int_lt(worst, 1000);
	aios_kube_client_free(c);
}
END_TEST

/* A plain stream (a pod's log followed) has a connection of its own, HTTP/2 or not: a
 * slow reader holds back only that connection (TCP does), and gets every byte. */
START_TEST(slow_stream_has_its_own_connection)
{
	int port = api_port();
	make_big_objects(kc);
	struct slow_job j;
	int during;
	int64_t worst = slow_reader_against_calls(kc, &j, 0, port, &during);
	slow_print("HTTP/2 client, slow plain stream", &j, worst, during);
	ck_assert_msg(j.e == AIOS_OK, "%s", j.msg);
	ck_assert_uint_gt(j.s.seen, BIG_OBJECTS * BIG_VALUE);
	ck_assert_int_eq(during, 2); /* the calls' connection and the stream's */
	ck_assert_int_lt(worst, 1000);
}
END_TEST

/* ---- aios-operator ------------------------------------------------------- */

/* Starts the operator (HTTP/1.1 when h1), waits until it leads and its informers have
 * synced, and returns its connections to the API server once they stay put. */
static int operator_conns(int h1, int port)
{
	struct aios_test_operator op;
	char log[128], lease[64];
	snprintf(log, sizeof(log), "/tmp/aios-conn-operator-%d-%d.log", (int)getpid(), h1);
	snprintf(lease, sizeof(lease), "aios-conn-%d-%d", (int)getpid(), h1);
	const char *extra[] = {"--leader-elect=true",
	                       "--leader-election-namespace",
	                       "aios-system",
	                       "--leader-election-id",
	                       lease,
	                       NULL};
	if (h1)
		setenv("DISABLE_HTTP2", "1", 1);
	aios_test_operator_start(&op, log, 1, extra);
	unsetenv("DISABLE_HTTP2");
	int64_t until = aios_now_ms() + 60000;
	char body[256];
	while (aios_test_http_get(op.health_port, "/readyz", body, sizeof(body)) != 200 ||
	       aios_test_operator_metric(&op, "aios_operator_leader") < 1) {
		ck_assert_msg(aios_now_ms() < until, "the operator never got ready and leading");
		aios_sleep_ms(200);
	}
	aios_sleep_ms(3000); /* a lease renewal or two, every watch open */
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)op.pid);
	int n = aios_test_tcp_conns(pid, port), again;
	while ((again = aios_test_tcp_conns(pid, port)) !=
	       n) /* settled: the same twice, 1 s apart */
		n = again, aios_sleep_ms(1000);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "ss -tnp state established '( dport = :%d )' | grep 'pid=%d,'",
	         port, (int)op.pid);
	printf("%s aios-operator: %d TCP connection(s) to the API server; %s:\n",
	       h1 ? "HTTP/1.1 (DISABLE_HTTP2=1)" : "HTTP/2", n, cmd);
	fflush(stdout);
	if (system(cmd) != 0)
		printf("(ss shows none)\n");
	fflush(stdout);
	ck_assert_int_eq(aios_test_operator_stop(&op, SIGTERM), 0);
	unlink(log);
	return n;
}

START_TEST(operator_holds_one_connection)
{
	aios_test_operator_install();
	int port = api_port();
	int h2 = operator_conns(0, port);
	int h1 = operator_conns(1, port);
	/* five informers (trainingjobs, modelservices, services, pods of jobs, pods of
	 * services): one connection for all of them and every call, where one per watch
	 * would be five */
	ck_assert_int_eq(h2, 1);
	ck_assert_int_ge(h1, 5); /* HTTP/1.1: a connection per watch at least */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_connections");
	TCase *t = tcase_create("live");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 180);
	tcase_add_test(t, five_watches_share_one_http2_connection);
	tcase_add_test(t, five_watches_over_http1_take_five_connections);
	tcase_add_test(t, apiserver_restart_ends_every_watch_on_the_connection);
	tcase_add_test(t, slow_watch_http2_is_ended_alone);
	tcase_add_test(t, slow_watch_http1_is_paused);
	tcase_add_test(t, slow_stream_has_its_own_connection);
	tcase_add_test(t, operator_holds_one_connection);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
