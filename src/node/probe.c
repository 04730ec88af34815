/*
 * probe.c - HTTP and TCP probes through the project's HTTP client (see probe.h): a TCP
 * probe is a connect-only transfer, an HTTP(S) probe one GET whose status decides.
 * Sections: one probe, probes on threads of their own.
 */
#include "node/probe.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/mem.h"
#include "http/client.h"

#define PROBE_BODY_CAP (10u << 10) /* error-page bytes kept, as the kubelet reads 10 KiB */

/* 2xx bodies are read and dropped: only the status counts. */
static int discard(void *arg, const char *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

/* ------------------------------------------------------------------ one probe */

/* cancel: stops the probe when it becomes non-zero (NULL: never). */
static enum aios_err probe_once(const struct aios_podspec_probe *pr, const char *ip,
                                const int *cancel)
{
	if (!ip || !*ip)
		return aios_fail(AIOS_ERR_UNAVAILABLE, "probe: the pod has no IP yet");
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return aios_fail(AIOS_ERR_INVALID, "probe: bad pod IP %s", ip);
	int timeout_s = pr->timeout_s > 0 ? pr->timeout_s : 1;
	if (timeout_s > AIOS_PROBE_TIMEOUT_CAP_S)
		timeout_s = AIOS_PROBE_TIMEOUT_CAP_S;
	int tcp = pr->kind == AIOS_PROBE_TCP;
	const char *path = pr->path && *pr->path ? pr->path : "/";
	char url[2048];
	int n = snprintf(url, sizeof url, "%s://%s:%d%s%s", pr->https && !tcp ? "https" : "http",
	                 ip, pr->port, tcp || path[0] == '/' ? "" : "/", tcp ? "" : path);
	if (n < 0 || (size_t)n >= sizeof url)
		return aios_fail(AIOS_ERR_INVALID, "probe: path too long");
	struct aios_httpc_tls *tls = NULL;
	if (pr->https && !tcp && aios_httpc_tls_new(NULL, 0, NULL, 0, NULL, 0, 1, &tls) != AIOS_OK)
		return AIOS_ERR_TLS; /* no input to reject: kept for the contract */
	static const char *const hdrs[] = {"User-Agent: kube-probe/1.20 (aios-node)", "Accept: */*",
	                                   NULL};
	char what[64];
	snprintf(what, sizeof what, "%s probe to %s:%d", tcp ? "TCP" : "HTTP", ip, pr->port);
	struct aios_httpc_req req = {.url = url,
	                             .headers = hdrs,
	                             .tls = tls,
	                             .sink = discard,
	                             .connect_only = tcp,
	                             .what = what};
	struct aios_httpc_opts o = {.timeout_ms = (int64_t)timeout_s * 1000,
	                            .body_cap = PROBE_BODY_CAP,
	                            .cancel = cancel,
	                            .past_shutdown = 1};
	struct aios_httpc_handle *h = aios_httpc_handle_new();
	struct aios_httpc_resp resp;
	enum aios_err e = aios_httpc_perform(h, &req, &o, &resp);
	long code = resp.code;
	aios_httpc_resp_cleanup(&resp);
	aios_httpc_handle_free(h);
	aios_httpc_tls_free(tls);
	if (tcp || (e && !(e == AIOS_ERR_TOO_BIG && code >= 400)))
		return e;
	if (code < 200 || code >= 400)
		return aios_fail(AIOS_ERR_UNAVAILABLE, "HTTP probe failed with statuscode: %ld",
		                 code);
	return AIOS_OK;
}

enum aios_err aios_probe_run(const struct aios_podspec_probe *pr, const char *ip)
{
	return probe_once(pr, ip, NULL);
}

/* ------------------------------------------------------------------ probes on threads */

#define PROBE_STACK (512u << 10) /* bytes: libcurl and an OpenSSL handshake fit well */

struct aios_probe_run {
	struct aios_podspec_probe pr; /* path is our copy */
	char ip[64];
	atomic_int refs;
	atomic_int done; /* set (release) after err and msg are written */
	enum aios_err err;
	char msg[AIOS_PROBE_MSG_MAX];
};

static pthread_mutex_t runs_mu = PTHREAD_MUTEX_INITIALIZER;
static int runs_in_flight; /* guarded by runs_mu */
static int runs_closed;    /* guarded by runs_mu */
static int runs_cancel;    /* read by the HTTP client (atomically), set at shutdown */

static void run_put(struct aios_probe_run *r)
{
	if (atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	free(r->pr.path);
	free(r);
}

static void *run_main(void *arg)
{
	struct aios_probe_run *r = arg;
	r->err = probe_once(&r->pr, r->ip, &runs_cancel);
	snprintf(r->msg, sizeof r->msg, "%s", r->err ? aios_errmsg() : "");
	atomic_store(&r->done, 1);
	run_put(r);
	pthread_mutex_lock(&runs_mu);
	runs_in_flight--;
	pthread_mutex_unlock(&runs_mu);
	return NULL;
}

struct aios_probe_run *aios_probe_start(const struct aios_podspec_probe *pr, const char *ip)
{
	pthread_mutex_lock(&runs_mu);
	if (runs_closed || runs_in_flight >= AIOS_PROBE_MAX_RUNNING) {
		int closed = runs_closed;
		pthread_mutex_unlock(&runs_mu);
		aios_fail(AIOS_ERR_UNAVAILABLE,
		          closed ? "probes are shut down" : "%d probes are running already",
		          AIOS_PROBE_MAX_RUNNING);
		return NULL;
	}
	runs_in_flight++;
	pthread_mutex_unlock(&runs_mu);
	struct aios_probe_run *r = aios_xcalloc(1, sizeof *r);
	r->pr = *pr;
	r->pr.path = pr->path ? aios_xstrdup(pr->path) : NULL;
	snprintf(r->ip, sizeof r->ip, "%s", ip ? ip : "");
	atomic_init(&r->refs, 2);
	atomic_init(&r->done, 0);
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, PROBE_STACK);
	pthread_t t;
	int rc = pthread_create(&t, &a, run_main, r);
	pthread_attr_destroy(&a);
	if (rc != 0) {
		free(r->pr.path);
		free(r);
		pthread_mutex_lock(&runs_mu);
		runs_in_flight--;
		pthread_mutex_unlock(&runs_mu);
		aios_fail(AIOS_ERR_UNAVAILABLE, "probe thread: %s", strerror(rc));
		return NULL;
	}
	return r;
}

int aios_probe_done(struct aios_probe_run *r, enum aios_err *err, char *msg)
{
	if (!atomic_load(&r->done))
		return 0;
	*err = r->err;
	snprintf(msg, AIOS_PROBE_MSG_MAX, "%s", r->msg);
	return 1;
}

void aios_probe_release(struct aios_probe_run *r)
{
	if (r)
		run_put(r);
}

int aios_probe_running(void)
{
	pthread_mutex_lock(&runs_mu);
	int n = runs_in_flight;
	pthread_mutex_unlock(&runs_mu);
	return n;
}

void aios_probe_shutdown(int wait_ms)
{
	pthread_mutex_lock(&runs_mu);
	runs_closed = 1;
	__atomic_store_n(&runs_cancel, 1, __ATOMIC_SEQ_CST);
	int64_t end = aios_now_ms() + wait_ms;
	while (runs_in_flight > 0 && aios_now_ms() < end) {
		pthread_mutex_unlock(&runs_mu);
		aios_sleep_ms(10);
		pthread_mutex_lock(&runs_mu);
	}
	pthread_mutex_unlock(&runs_mu);
}
