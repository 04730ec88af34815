/*
 * kubelet.c - the kubelet port of aios-node: what the API server proxies to a node.
 *
 *   GET /containerLogs/{namespace}/{pod}/{container}   `kubectl logs`
 *       ?tailLines=N  ?limitBytes=N  ?previous=true   (follow is answered with what
 *       exists now; timestamps are not recorded)
 *   GET /healthz                                       "ok"
 *   anything else: 404 once authorized
 *
 * HTTPS on the node's InternalIP, as every kube-apiserver since 1.20 reaches
 * kubelets over TLS only (--kubelet-https is a no-op there). Without
 * --kubelet-certificate-authority the API server does not verify the kubelet's
 * certificate, so a self-signed pair made once under <state>/pki is enough; give
 * --tls-cert-file/--tls-private-key-file for a real one (the local cluster does, and
 * the API server verifies it). The port serves only what the pods wrote to stdout and
 * stderr, and only to whom nodeauth.h lets in: a client certificate of the client CA
 * (the API server's --kubelet-client-certificate) or a bearer token, then a
 * SubjectAccessReview for nodes/<subresource>; refusals are 401/403 with the reason as
 * plain text, as the kubelet's (kube-apiserver puts that text in the error `kubectl
 * logs` prints). Every path goes through that, /healthz too, as on a kubelet's port
 * 10250; the open health check is the healthz port (--healthz-port, default
 * 127.0.0.1:10248, plain HTTP, GET /healthz only), as the kubelet's.
 *
 * Limits of the kubelet port (KUBELET_* below): request line and headers 32 KiB (past
 * it: 431; a bearer token of up to AIOS_NODEAUTH_TOKEN_MAX fits), a body 64 KiB (it
 * serves GETs), 1024 connections, 64 per source address (a pod cannot hoard them), the
 * server's default timeouts (http.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "node/node_internal.h"
#include "node/volumes.h"

#define KUBELET_MAX_HEADER_BYTES   (32u << 10)
#define KUBELET_MAX_BODY_BYTES     (64u << 10)
#define KUBELET_MAX_CONNECTIONS    1024
#define KUBELET_MAX_CONNS_PER_PEER 64
#define HEALTHZ_MAX_CONNECTIONS    64 /* the healthz port: local probes only */

#define LOG_WINDOW                                                                                 \
	(8u << 20) /* bytes of a log file returned at most (its start, or its end with tailLines) */

enum aios_err node_log_tail(const char *path, long tail_lines, long limit, struct aios_buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return aios_fail(errno == ENOENT ? AIOS_ERR_NOT_FOUND : AIOS_ERR_IO, "log %s: %s",
		                 path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return aios_fail(AIOS_ERR_IO, "log %s: %s", path, strerror(errno));
	}
	/* with tailLines: the end of the file; without: its start (limitBytes counts from
	 * the start of what is returned, as the kubelet's does) */
	size_t size = (size_t)st.st_size, win = size < LOG_WINDOW ? size : LOG_WINDOW;
	if (tail_lines < 0 && limit >= 0 && (size_t)limit < win)
		win = (size_t)limit;
	off_t base = tail_lines >= 0 ? (off_t)(size - win) : 0;
	char *buf = aios_xmalloc(win + 1);
	size_t got = 0;
	while (got < win) {
		ssize_t r = pread(fd, buf + got, win - got, base + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	size_t start = 0;
	if (tail_lines >= 0) {
		long seen = 0;
		size_t i = got;
		if (i > 0 && buf[i - 1] == '\n')
			i--; /* the final newline ends the last line, it does not start a new one */
		while (i > 0) {
			if (buf[i - 1] == '\n' && ++seen == tail_lines)
				break;
			i--;
		}
		start = tail_lines == 0 ? got : i;
	}
	size_t n = got - start;
	if (limit >= 0 && (size_t)limit < n)
		n = (size_t)limit;
	if (n > out->max - out->len)
		n = out->max - out->len;
	enum aios_err err = aios_buf_append(out, buf + start, n);
	free(buf);
	return err;
}

/* Value of key in a query string ("a=1&b=2"), copied into out; 1 if present. */
static int query_get(const char *q, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);
	for (const char *p = q; p && *p;) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t vl = strcspn(p + kl + 1, "&");
			snprintf(out, n, "%.*s", (int)vl, p + kl + 1);
			return 1;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return 0;
}

/* 1 when the request may go on (nodeauth.h); else 0 with resp holding the refusal. */
static int authorized(struct aios_node *n, struct aios_http_req *req, struct aios_http_resp *resp)
{
	char msg[512];
	int st = aios_nodeauth_check(n->auth, req->peer, aios_http_req_header(req, "Authorization"),
	                             req->method, req->path, msg, sizeof msg);
	if (st == 200)
		return 1;
	/* no credentials at all is what every stray client sends: debug, not info */
	aios_log(st == 401 && !aios_http_req_header(req, "Authorization") && !req->peer
	             ? AIOS_LOG_DEBUG
	             : AIOS_LOG_INFO,
	         "kubelet_refused", "%s %s: %d %s", req->method, req->path, st, msg);
	resp->status = st;
	resp->content_type = "text/plain; charset=utf-8";
	if (aios_buf_append(&resp->body, msg, strlen(msg)) != AIOS_OK ||
	    aios_buf_append(&resp->body, "\n", 1) != AIOS_OK)
		resp->body.len = 0; /* cannot happen: the cap is megabytes */
	return 0;
}

/* The kubelet's healthz answer when its checks pass (aios-node has no check of its
 * own: a process that serves is healthy). */
static void healthz_ok(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	(void)req;
	(void)ud;
	resp->content_type = "text/plain; charset=utf-8";
	if (aios_buf_append(&resp->body, "ok", 2) != AIOS_OK)
		resp->body.len = 0; /* cannot happen: the cap is megabytes */
}

/* GET /healthz on the kubelet port: authorized as any other path, as on a kubelet. */
static void kubelet_healthz(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	if (authorized(ud, req, resp))
		healthz_ok(req, resp, NULL);
}

/* Every path the port does not serve: 404, once the client may know that much. The body
 * is a metav1.Status: the API server passes an upgrade's refusal (exec, attach,
 * port-forward) on as it came, and kubectl decodes it as one ("Error from server
 * (NotFound): ..."); any other JSON decodes as a Status with no message. */
static void not_served(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	if (!authorized(ud, req, resp))
		return;
	char msg[512];
	snprintf(msg, sizeof msg,
	         "%s %s: aios-node serves GET /containerLogs/{namespace}/{pod}/{container} and "
	         "/healthz only (no exec, attach or port-forward: its pods are local processes)",
	         req->method, req->path);
	struct json_object *st = json_object_new_object();
	json_object_object_add(st, "kind", json_object_new_string("Status"));
	json_object_object_add(st, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(st, "metadata", json_object_new_object());
	json_object_object_add(st, "status", json_object_new_string("Failure"));
	json_object_object_add(st, "message", json_object_new_string(msg));
	json_object_object_add(st, "reason", json_object_new_string("NotFound"));
	json_object_object_add(st, "code", json_object_new_int(404));
	const char *body = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
	aios_http_resp_json(resp, 404, body, strlen(body));
	json_object_put(st);
}

static void container_logs(struct aios_http_req *req, struct aios_http_resp *resp, void *ud)
{
	struct aios_node *n = ud;
	if (!authorized(n, req, resp))
		return;
	const char *ns = aios_http_req_param(req, "ns"), *pod = aios_http_req_param(req, "pod");
	const char *ctr = aios_http_req_param(req, "container");
	char v[32];
	long tail = -1, limit = -1;
	char *end;
	if (query_get(req->query, "tailLines", v, sizeof v)) {
		tail = strtol(v, &end, 10);
		if (*end || tail < 0) {
			aios_http_resp_error(resp, 400, "tailLines must be a non-negative integer");
			return;
		}
	}
	if (query_get(req->query, "limitBytes", v, sizeof v)) {
		limit = strtol(v, &end, 10);
		if (*end || limit <= 0) {
			aios_http_resp_error(resp, 400, "limitBytes must be a positive integer");
			return;
		}
	}
	int previous = query_get(req->query, "previous", v, sizeof v) && strcmp(v, "true") == 0;
	char *path = NULL;
	pthread_mutex_lock(&n->lock);
	int found_pod = 0;
	for (struct node_pod *p = n->pods; p; p = p->next) {
		if (strcmp(p->ns, ns) != 0 || strcmp(p->name, pod) != 0)
			continue;
		found_pod = 1;
		for (size_t i = 0; i < p->n_ctrs; i++)
			if (strcmp(p->ctrs[i].name, ctr) == 0)
				path = aios_xstrdup(previous ? p->ctrs[i].prev_log_path
				                             : p->ctrs[i].log_path);
	}
	pthread_mutex_unlock(&n->lock);
	if (!path) {
		aios_http_resp_error(
		    resp, 404,
		    found_pod ? "container %s is not in pod %s/%s (or has not started)"
		              : "pod %s/%s is not running on this node",
		    found_pod ? ctr : ns, found_pod ? ns : pod, found_pod ? pod : "");
		return;
	}
	resp->content_type = "text/plain";
	enum aios_err err = node_log_tail(path, tail, limit, &resp->body);
	if (err == AIOS_ERR_NOT_FOUND) {
		aios_http_resp_error(resp, 404,
		                     previous
		                         ? "previous terminated container %s in pod %s/%s not found"
		                         : "container %s in pod %s/%s has no log yet",
		                     ctr, ns, pod);
	} else if (err && err != AIOS_ERR_TOO_BIG) {
		aios_http_resp_error(resp, 500, "%s", aios_errmsg());
	}
	free(path);
}

/* A self-signed certificate for the node address, made with the openssl tool once. */
static enum aios_err self_signed(struct aios_node *n, char **cert, char **key)
{
	char *dir = aios_xasprintf("%s/pki", n->o->state_dir);
	*cert = aios_xasprintf("%s/kubelet.crt", dir);
	*key = aios_xasprintf("%s/kubelet.key", dir);
	enum aios_err err = AIOS_OK;
	if (access(*cert, R_OK) != 0 || access(*key, R_OK) != 0) {
		err = aios_volumes_mkdir_p(dir);
		char *subj = aios_xasprintf("/CN=%s", n->node_name);
		char *san = aios_xasprintf("subjectAltName=IP:%s,DNS:%s", n->host_ip, n->node_name);
		char *const argv[] = {"openssl",
		                      "req",
		                      "-x509",
		                      "-newkey",
		                      "ec",
		                      "-pkeyopt",
		                      "ec_paramgen_curve:prime256v1",
		                      "-nodes",
		                      "-days",
		                      "3650",
		                      "-subj",
		                      subj,
		                      "-addext",
		                      san,
		                      "-keyout",
		                      *key,
		                      "-out",
		                      *cert,
		                      NULL};
		if (!err)
			err = aios_nodenet_run(argv);
		free(subj);
		free(san);
		if (!err)
			aios_info("kubelet_cert", "made a self-signed kubelet certificate %s",
			          *cert);
	}
	free(dir);
	return err;
}

enum aios_err node_client_ca(struct aios_node *n, const struct aios_kube_config *cfg)
{
	if (n->o->client_ca) {
		n->client_ca = aios_xstrdup(n->o->client_ca);
		return AIOS_OK;
	}
	if (cfg->ca_file) {
		n->client_ca = aios_xstrdup(cfg->ca_file);
		return AIOS_OK;
	}
	if (!cfg->ca_data || cfg->ca_data_len == 0) {
		aios_warn("kubelet_client_ca",
		          "no --client-ca-file and no certificate authority in the kubeconfig: "
		          "the kubelet port accepts only bearer tokens, so `kubectl logs` through "
		          "the API server is refused");
		return AIOS_OK;
	}
	char *dir = aios_xasprintf("%s/pki", n->o->state_dir);
	char *path = aios_xasprintf("%s/client-ca.crt", dir);
	enum aios_err err = aios_volumes_mkdir_p(dir);
	if (!err)
		err = aios_volumes_write_file(path, cfg->ca_data, cfg->ca_data_len, 0644);
	free(dir);
	if (err) {
		free(path);
		return aios_fail_wrap(err, "kubelet port client CA");
	}
	n->client_ca = path;
	return AIOS_OK;
}

enum aios_err node_kubelet_start(struct aios_node *n)
{
	struct aios_http_config c;
	aios_http_config_defaults(&c);
	char *cert = NULL, *key = NULL;
	if (n->o->tls_cert && n->o->tls_key) {
		cert = aios_xstrdup(n->o->tls_cert);
		key = aios_xstrdup(n->o->tls_key);
	} else {
		enum aios_err e = self_signed(n, &cert, &key);
		if (e) {
			free(cert);
			free(key);
			return aios_fail_wrap(e, "kubelet certificate");
		}
	}
	n->tls_cert = cert; /* the server keeps the pointers: freed with the agent */
	n->tls_key = key;
	c.tls_cert = cert;
	c.tls_key = key;
	c.tls_client_ca = n->client_ca;
	c.bind_addr = n->host_ip;
	c.port = n->o->kubelet_port;
	c.threads = 2; /* a review waits for the API server: the other thread serves on */
	c.max_header_bytes = KUBELET_MAX_HEADER_BYTES;
	c.max_body_bytes = KUBELET_MAX_BODY_BYTES;
	c.max_connections = KUBELET_MAX_CONNECTIONS;
	c.max_connections_per_client = KUBELET_MAX_CONNS_PER_PEER;
	n->auth = aios_nodeauth_new(n->kc, n->node_name);
	c.name = "kubelet";
	n->http = aios_http_server_new(&c);
	enum aios_err err = aios_http_route(n->http, "GET", "/containerLogs/{ns}/{pod}/{container}",
	                                    container_logs, n);
	if (!err)
		err = aios_http_route(n->http, "GET", "/healthz", kubelet_healthz, n);
	if (!err)
		err = aios_http_route(n->http, "*", "/*", not_served, n);
	if (!err)
		err = aios_http_server_start(n->http);
	if (err)
		return aios_fail_wrap(err, "kubelet port %s:%d", n->host_ip, n->o->kubelet_port);
	aios_info("kubelet_port",
	          "serving container logs on https://%s:%d to client certificates of %s and to "
	          "bearer tokens by TokenReview, each authorized by a SubjectAccessReview",
	          n->host_ip, aios_http_server_port(n->http),
	          n->client_ca ? n->client_ca : "no CA (none accepted)");
	if (n->o->healthz_port == 0)
		return AIOS_OK;

	aios_http_config_defaults(&c);
	c.bind_addr = n->o->healthz_bind ? n->o->healthz_bind : "127.0.0.1";
	c.port = n->o->healthz_port;
	c.max_connections = HEALTHZ_MAX_CONNECTIONS;
	c.name = "healthz";
	n->healthz = aios_http_server_new(&c);
	err = aios_http_route(n->healthz, "GET", "/healthz", healthz_ok, NULL);
	if (!err)
		err = aios_http_server_start(n->healthz);
	if (err)
		return aios_fail_wrap(err, "healthz port %s:%d (--healthz-port 0 disables it)",
		                      c.bind_addr, c.port);
	aios_info("healthz_port", "serving /healthz on http://%s:%d to anyone who reaches it",
	          c.bind_addr, aios_http_server_port(n->healthz));
	return AIOS_OK;
}
