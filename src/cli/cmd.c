/*
 * cmd.c - kubectl-aios subcommands (see cmd.h): get, watch, logs, predict, version and
 * the completion helper.
 *
 * They talk to the API server only (never to pod IPs), so they work from a laptop:
 * logs through pods/log, predictions through the API server's service proxy.
 */
#include "cmd.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "kube/stream.h"
#include "render.h"

#define CURVE_MAX       4096 /* loss samples kept by watch */
#define WATCH_MAX_FAILS 5    /* consecutive transient GET failures watch tolerates */

static const char *ns_of(struct aios_kube_client *c, const struct cli_opts *o)
{
	return o->ns ? o->ns : aios_kube_client_namespace(c);
}

static int api_fail(const char *what)
{
	fprintf(stderr, "kubectl-aios: %s: %s\n", what, aios_errmsg());
	return 1;
}

/* A failed request e (VERB RESOURCE in ns): the error, then what the user can do. */
static int req_fail(const struct cli_opts *o, enum aios_err e, const char *verb,
                    const char *resource, const char *ns)
{
	fprintf(stderr, "kubectl-aios: %s %s: %s\n", verb, resource, aios_errmsg());
	char hint[512];
	if (aios_cli_hint(e, verb, resource, ns, o->server, hint, sizeof(hint)))
		fprintf(stderr, "  %s\n", hint);
	return 1;
}

const char *cli_kind(const char *w)
{
	if (!w)
		return NULL;
	if (!strcmp(w, "tj") || !strcmp(w, "trainingjob") || !strcmp(w, "trainingjobs"))
		return "tj";
	if (!strcmp(w, "ms") || !strcmp(w, "modelservice") || !strcmp(w, "modelservices"))
		return "ms";
	return NULL;
}

/*
 * The objects of one kind into *list ({"items": [...]}, each item with its kind and
 * apiVersion, which -o name needs): every one in ns (NULL: all namespaces), or the one
 * called name. Returns an exit code.
 */
static int fetch(struct aios_kube_client *c, const struct cli_opts *o,
                 const struct aios_kube_gvr *res, const char *kind, const char *ns,
                 const char *name, struct json_object **list)
{
	char resource[96];
	snprintf(resource, sizeof(resource), "%s.%s", res->resource, res->group);
	struct aios_kube_ref r = aios_kube_ref(res, ns, name);
	enum aios_err e;
	if (name) {
		struct json_object *obj = NULL;
		e = aios_kube_get(c, &r, &obj);
		if (e == AIOS_ERR_NOT_FOUND) {
			fprintf(stderr, "kubectl-aios: %s \"%s\" not found in namespace %s\n",
			        resource, name, ns);
			return 1;
		}
		if (e)
			return req_fail(o, e, "get", resource, ns);
		*list = json_object_new_object();
		struct json_object *items = json_object_new_array();
		json_object_array_add(items, obj);
		json_object_object_add(*list, "items", items);
	} else {
		e = aios_kube_list_all(c, &r, NULL, list);
		if (e)
			return req_fail(o, e, "list", resource, ns);
	}
	struct json_object *items = aios_json_lookup(*list, "items");
	size_t n = items ? json_object_array_length(items) : 0;
	char api[96];
	snprintf(api, sizeof(api), "%s/%s", res->group, res->version);
	for (size_t i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(items, i);
		if (!aios_json_str(it, "kind"))
			json_object_object_add(it, "kind", json_object_new_string(kind));
		if (!aios_json_str(it, "apiVersion"))
			json_object_object_add(it, "apiVersion", json_object_new_string(api));
	}
	return 0;
}

int cli_get(struct aios_kube_client *c, const struct cli_opts *o, const char *kind,
            const char *name)
{
	const char *ns = o->all_ns && !name ? NULL : ns_of(c, o);
	struct json_object *tjs = NULL, *mss = NULL;
	int rc = 0;
	if (!kind || strcmp(kind, "tj") == 0)
		rc = fetch(c, o, &aios_kube_trainingjobs, "TrainingJob", ns, name, &tjs);
	if (!rc && (!kind || strcmp(kind, "ms") == 0))
		rc = fetch(c, o, &aios_kube_modelservices, "ModelService", ns, name, &mss);
	if (rc)
		goto out;
	struct aios_buf out;
	aios_buf_init(&out, 64u << 20);
	enum aios_err e;
	if (o->format == AIOS_CLI_TABLE || o->format == AIOS_CLI_WIDE) {
		unsigned flags =
		    (ns ? 0 : AIOS_CLI_ALL_NS) | (o->format == AIOS_CLI_WIDE ? AIOS_CLI_WIDER : 0);
		e = aios_cli_table(&out, tjs, mss, flags, time(NULL));
	} else {
		struct json_object *all = json_object_new_array();
		struct json_object *lists[2] = {tjs, mss};
		for (int l = 0; l < 2; l++) {
			struct json_object *items =
			    lists[l] ? aios_json_lookup(lists[l], "items") : NULL;
			size_t n = items ? json_object_array_length(items) : 0;
			for (size_t i = 0; i < n; i++)
				json_object_array_add(
				    all, json_object_get(json_object_array_get_idx(items, i)));
		}
		e = aios_cli_print(&out, o->format, all, name != NULL);
		json_object_put(all);
	}
	if (e)
		rc = api_fail("print");
	else
		fputs(out.data ? out.data : "", stdout);
	aios_buf_cleanup(&out);
out:
	json_object_put(tjs);
	json_object_put(mss);
	return rc;
}

int cli_version(struct aios_kube_client *c, const struct cli_opts *o)
{
	printf("Client Version: kubectl-aios v%s (API aios.dev/v1alpha1)\n", AIOS_VERSION);
	if (o->client_only || !c)
		return 0;
	struct aios_kube_response resp;
	enum aios_err e = aios_kube_request(c, "GET", "/version", NULL, NULL, 0, &resp);
	int rc = 0;
	struct json_object *v = NULL;
	if (e) {
		rc = req_fail(o, e, "get", "/version", NULL);
	} else if (aios_json_parse(resp.body.data ? resp.body.data : "", resp.body.len, "/version",
	                           &v)) {
		rc = api_fail("get /version");
	} else {
		printf("Server Version: %s\n", aios_json_str(v, "gitVersion") ?: "unknown");
	}
	json_object_put(v);
	aios_kube_response_cleanup(&resp);
	return rc;
}

int cli_complete(struct aios_kube_client *c, const struct cli_opts *o, char **args, int nargs)
{
	struct aios_buf out;
	aios_buf_init(&out, 1u << 20);
	const char *names = NULL;
	if (aios_cli_complete(&out, args, nargs, &names)) {
		aios_buf_cleanup(&out);
		return 1;
	}
	fputs(out.data ? out.data : "", stdout);
	aios_buf_cleanup(&out);
	if (!names || !c)
		return 0;
	/* names of the objects of that kind in the namespace, quietly nothing on an error */
	const char *cur = nargs ? args[nargs - 1] : "";
	struct aios_kube_ref r = aios_kube_ref(strcmp(names, "tj") == 0 ? &aios_kube_trainingjobs
	                                                                : &aios_kube_modelservices,
	                                       ns_of(c, o), NULL);
	struct json_object *list = NULL;
	if (aios_kube_list_all(c, &r, NULL, &list)) {
		aios_errclear();
		return 0;
	}
	struct json_object *items = aios_json_lookup(list, "items");
	size_t n = items ? json_object_array_length(items) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *nm =
		    aios_json_str(json_object_array_get_idx(items, i), "metadata.name");
		if (nm && strncmp(nm, cur, strlen(cur)) == 0)
			printf("%s\n", nm);
	}
	json_object_put(list);
	return 0;
}

static int terminal(const char *phase)
{
	return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

int cli_watch_tj(struct aios_kube_client *c, const struct cli_opts *o, const char *name)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_trainingjobs, ns_of(c, o), name);
	double *losses = aios_xcalloc(CURVE_MAX, sizeof(double));
	int n = 0, rc = 1, tty = isatty(STDOUT_FILENO);
	int64_t last_epoch = -1,
	        deadline = o->timeout_s ? aios_now_ms() + o->timeout_s * 1000LL : 0;
	int fails = 0; /* consecutive transient failures of the GET */
	for (;;) {
		struct json_object *tj = NULL;
		enum aios_err e = aios_kube_get(c, &r, &tj);
		if (e) {
			/* a dropped keep-alive connection or a busy API server is not the job's
			 * end: retry a few times at the poll period, then give up loudly */
			int transient = e == AIOS_ERR_UNAVAILABLE || e == AIOS_ERR_IO ||
			                e == AIOS_ERR_TIMEOUT || e == AIOS_ERR_PROTOCOL;
			if (transient && ++fails < WATCH_MAX_FAILS &&
			    (!deadline || aios_now_ms() <= deadline)) {
				fprintf(stderr, "kubectl-aios: get trainingjob: %s (retrying)\n",
				        aios_errmsg());
				if (aios_shutdown_wait_ms(o->interval_ms)) {
					rc = 130;
					break;
				}
				continue;
			}
			api_fail("get trainingjob");
			break;
		}
		fails = 0;
		int64_t epoch = 0;
		double loss = NAN;
		if (aios_json_opt_int(tj, "status.progress.epoch", 0, &epoch) ||
		    aios_json_opt_double(tj, "status.progress.loss", NAN, &loss))
			aios_errclear();
		if (epoch != last_epoch && isfinite(loss) && n < CURVE_MAX) {
			losses[n++] = loss;
			last_epoch = epoch;
		}
		struct aios_buf line;
		aios_buf_init(&line, 1u << 20);
		if (!aios_cli_progress(&line, tj, 30)) {
			if (tty)
				printf("\r\033[K%s", line.data);
			else
				printf("%s\n", line.data);
			fflush(stdout);
		}
		aios_buf_cleanup(&line);
		const char *phase = aios_json_str(tj, "status.phase");
		if (terminal(phase)) {
			rc = strcmp(phase, "Succeeded") == 0 ? 0 : 1;
			printf("%s", tty ? "\n" : "");
			struct aios_buf curve;
			aios_buf_init(&curve, 1u << 20);
			if (n > 1 && !aios_cli_curve(&curve, losses, n, 60, 10))
				printf("loss\n%s", curve.data);
			aios_buf_cleanup(&curve);
			const char *uri = aios_json_str(tj, "status.artifact.uri");
			if (uri)
				printf("artifact %s sha256 %s\n", uri,
				       aios_json_str(tj, "status.artifact.sha256") ?: "-");
			json_object_put(tj);
			break;
		}
		json_object_put(tj);
		if (deadline && aios_now_ms() > deadline) {
			fprintf(stderr, "\nkubectl-aios: watch: timed out after %d s\n",
			        o->timeout_s);
			break;
		}
		if (aios_shutdown_wait_ms(o->interval_ms)) {
			printf("\n");
			rc = 130;
			break;
		}
	}
	free(losses);
	return rc;
}

/* Finds the newest pod of job name with the given rank (any role). *pod: name, caller frees. */
static int find_rank_pod(struct aios_kube_client *c, const char *ns, const char *name, int rank,
                         char **pod)
{
	char sel[320];
	snprintf(sel, sizeof(sel), "aios.dev/job=%s,aios.dev/rank=%d", name, rank);
	struct aios_kube_list_opts lo = {.label_selector = sel};
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pods, ns, NULL);
	struct json_object *list = NULL;
	if (aios_kube_list_all(c, &r, &lo, &list))
		return api_fail("list pods");
	struct json_object *items = aios_json_lookup(list, "items");
	size_t n = items ? json_object_array_length(items) : 0;
	const char *best = NULL, *best_ts = NULL;
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(items, i);
		const char *ts = aios_json_str(p, "metadata.creationTimestamp");
		if (!best || (ts && best_ts && strcmp(ts, best_ts) > 0)) {
			best = aios_json_str(p, "metadata.name");
			best_ts = ts;
		}
	}
	*pod = best ? aios_xstrdup(best) : NULL;
	json_object_put(list);
	if (!*pod) {
		fprintf(stderr, "kubectl-aios: no pod of trainingjob %s/%s has rank %d (%s)\n", ns,
		        name, rank, sel);
		return 1;
	}
	return 0;
}

/* A followed pod's log: the bytes printed so far, skipped when its stream is re-opened
 * (a re-opened stream starts at the log's first byte). */
struct follow_sink {
	size_t printed; /* bytes of this pod's log on stdout */
	size_t seen;    /* bytes of the current stream */
};

static int log_sink(void *arg, const char *p, size_t n)
{
	struct follow_sink *f = arg;
	size_t end = f->seen + n;
	if (end > f->printed) {
		size_t skip = f->printed > f->seen ? f->printed - f->seen : 0;
		fwrite(p + skip, 1, n - skip, stdout);
		fflush(stdout);
		f->printed = end;
	}
	f->seen = end;
	return 0;
}

/* The job's phase ("" while it has none); NULL with the error reported if unreadable. */
static char *tj_phase(struct aios_kube_client *c, const char *ns, const char *name)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_trainingjobs, ns, name);
	struct json_object *tj = NULL;
	if (aios_kube_get(c, &r, &tj)) {
		api_fail("get trainingjob");
		return NULL;
	}
	const char *ph = aios_json_str(tj, "status.phase");
	char *out = aios_xstrdup(ph ? ph : "");
	json_object_put(tj);
	return out;
}

/* 1 when the job is over (or cannot be read: reported), else 0. */
static int tj_over(struct aios_kube_client *c, const char *ns, const char *name)
{
	char *ph = tj_phase(c, ns, name);
	int over = !ph || terminal(ph);
	free(ph);
	return over;
}

/* One stream of pod's log, the bytes already printed skipped. */
static enum aios_err stream_pod(struct aios_kube_client *c, const char *ns, const char *pod,
                                struct follow_sink *f)
{
	char *path = aios_xasprintf("/api/v1/namespaces/%s/pods/%s/log?follow=true", ns, pod);
	f->seen = 0;
	enum aios_err e = aios_kube_stream(c, path, NULL, log_sink, f);
	free(path);
	return e;
}

/*
 * logs -f: follows the rank's newest pod. A gang restart makes new pods (each attempt's
 * pods have names of their own): when a stream ends, the newest pod is looked up again
 * and followed from its start, announced on stderr. The same pod's stream re-opened (an
 * API server or node restart, or a node that answers follow with what exists now)
 * skips what was printed. Ends when the job is Succeeded or Failed, after one last read
 * of its last pod: 0, or 130 on SIGINT.
 */
static int follow_logs(struct aios_kube_client *c, const struct cli_opts *o, const char *ns,
                       const char *name)
{
	char *followed = NULL;
	struct follow_sink f = {0};
	int rc = 0, waiting = 0;
	while (!aios_shutdown_requested()) {
		char *pod = NULL;
		if (find_rank_pod(c, ns, name, o->rank, &pod)) {
			if (tj_over(c, ns, name)) {
				rc = 1;
				break;
			}
		} else {
			if (!followed || strcmp(followed, pod) != 0) {
				if (followed)
					fprintf(stderr,
					        "kubectl-aios: ==> %s (a new attempt) <==\n", pod);
				free(followed);
				followed = aios_xstrdup(pod);
				f.printed = 0;
			}
			int over = tj_over(c, ns, name); /* read before the stream: its last
			                                  * lines are then surely in it */
			enum aios_err e = stream_pod(c, ns, pod, &f);
			if (e == AIOS_ERR_CANCELLED) {
				free(pod);
				break;
			}
			if (e == AIOS_OK) {
				waiting = 0;
			} else if (!waiting++) { /* e.g. the container is still being created */
				fprintf(stderr, "kubectl-aios: waiting for %s: %s\n", pod,
				        aios_errmsg());
			}
			if (over && e == AIOS_OK) {
				/* The job had ended before this read: done, unless a newer pod of the
				 * rank came after this one. */
				char *newest = NULL;
				int same = find_rank_pod(c, ns, name, o->rank, &newest) == 0 &&
				           strcmp(newest, followed) == 0;
				free(newest);
				if (same) {
					free(pod);
					break;
				}
			}
		}
		free(pod);
		if (aios_shutdown_wait_ms(1000))
			break;
	}
	free(followed);
	return aios_shutdown_requested() ? 130 : rc;
}

int cli_logs_tj(struct aios_kube_client *c, const struct cli_opts *o, const char *name)
{
	const char *ns = ns_of(c, o);
	if (o->follow)
		return follow_logs(c, o, ns, name);
	char *pod = NULL;
	int rc = find_rank_pod(c, ns, name, o->rank, &pod);
	if (rc)
		return rc;
	char *path = aios_xasprintf("/api/v1/namespaces/%s/pods/%s/log%s", ns, pod,
	                            o->previous ? "?previous=true" : "");
	struct aios_kube_response resp;
	if (aios_kube_request(c, "GET", path, NULL, NULL, 0, &resp)) {
		rc = api_fail(path);
	} else {
		fwrite(resp.body.data ? resp.body.data : "", 1, resp.body.len, stdout);
	}
	aios_kube_response_cleanup(&resp);
	free(path);
	free(pod);
	return rc;
}

int cli_predict_ms(struct aios_kube_client *c, const struct cli_opts *o, const char *name)
{
	char *body = NULL;
	if (aios_cli_predict_body(o->data ? o->data : "", &body)) {
		fprintf(stderr, "kubectl-aios: %s\n", aios_errmsg());
		return 2;
	}
	/* The Service maps port 80 to aios-serve's 8080; the API server proxies to it. */
	char *path =
	    aios_xasprintf("/api/v1/namespaces/%s/services/%s:80/proxy/v1/models/%s:predict",
	                   ns_of(c, o), name, name);
	struct aios_kube_response resp;
	int rc = 0;
	if (aios_kube_request(c, "POST", path, "application/json", body, strlen(body), &resp)) {
		fprintf(stderr, "kubectl-aios: predict %s: %s\n", name, aios_errmsg());
		if (resp.body.len)
			fprintf(stderr, "%s\n", resp.body.data);
		rc = 1;
	} else {
		printf("%s\n", resp.body.data ? resp.body.data : "");
	}
	aios_kube_response_cleanup(&resp);
	free(path);
	free(body);
	return rc;
}
