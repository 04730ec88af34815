/*
 * probe.c - HTTP and TCP probes through the project's HTTP client (see probe.h): a TCP
 * probe is a connect-only transfer, an HTTP(S) probe one GET whose status decides.
 */
#include "node/probe.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

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

enum aios_err aios_probe_run(const struct aios_podspec_probe *pr, const char *ip)
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
