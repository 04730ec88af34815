/*
 * bench_kube.c - measures the Kubernetes client against a live API server; one
 * operation per process so that peak RSS (VmHWM) belongs to that operation alone.
 *
 *   aios-bench-kube --kubeconfig K --namespace NS seed N
 *       creates the namespace if needed and N ConfigMaps; prints the resourceVersion
 *       from before the first create (a watch from it replays N ADDED events)
 *   aios-bench-kube --kubeconfig K --namespace NS list [--limit 500]
 *       one paginated LIST of every ConfigMap in NS (aios_kube_list_all)
 *   aios-bench-kube --kubeconfig K --namespace NS watch --from RV --count N
 *       watches from RV until N events arrived (each parsed into a json-c object)
 *
 * Output: one JSON line of figures on stdout (seconds, items or events, peak_rss_kb).
 * Exit codes: 0 ok, 1 the operation failed, 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/watch.h"

static long peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

static void usage(FILE *to)
{
	fprintf(
	    to,
	    "usage: aios-bench-kube --kubeconfig FILE --namespace NS seed N\n"
	    "       aios-bench-kube --kubeconfig FILE --namespace NS list [--limit N]\n"
	    "       aios-bench-kube --kubeconfig FILE --namespace NS watch --from RV --count N\n");
}

static int fail(const char *what)
{
	fprintf(stderr, "aios-bench-kube: %s: %s\n", what, aios_errmsg());
	return 1;
}

static int seed(struct aios_kube_client *c, const char *ns, long n)
{
	struct json_object *nso = json_object_new_object();
	aios_json_set(nso, "metadata.name", json_object_new_string(ns));
	struct aios_kube_ref nsr = aios_kube_ref(&aios_kube_namespaces, NULL, NULL);
	enum aios_err e = aios_kube_create(c, &nsr, nso, NULL, NULL);
	json_object_put(nso);
	if (e && e != AIOS_ERR_EXISTS)
		return fail("create namespace");
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct json_object *l = NULL;
	struct aios_kube_list_opts one = {.limit = 1};
	if (aios_kube_list(c, &coll, &one, &l))
		return fail("list");
	char *rv = aios_xstrdup(aios_json_str(l, "metadata.resourceVersion"));
	json_object_put(l);
	double t0 = aios_now_s();
	char name[64];
	for (long i = 0; i < n; i++) {
		struct json_object *cm = json_object_new_object();
		snprintf(name, sizeof(name), "bench-%05ld", i);
		aios_json_set(cm, "metadata.name", json_object_new_string(name));
		aios_json_set(cm, "metadata.labels.app", json_object_new_string("aios-bench"));
		aios_json_set(cm, "data.payload",
		              json_object_new_string("0123456789abcdef0123456789abcdef"));
		e = aios_kube_create(c, &coll, cm, NULL, NULL);
		json_object_put(cm);
		if (e) {
			free(rv);
			return fail("create configmap");
		}
	}
	double dt = aios_now_s() - t0;
	printf("{\"op\":\"seed\",\"configmaps\":%ld,\"seconds\":%.3f,\"creates_per_s\":%.1f,\"rv_"
	       "before\":\"%s\"}\n",
	       n, dt, n / dt, rv);
	free(rv);
	return 0;
}

static int list(struct aios_kube_client *c, const char *ns, long limit)
{
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct aios_kube_list_opts o = {.limit = limit};
	struct json_object *all = NULL;
	double t0 = aios_now_s();
	if (aios_kube_list_all(c, &coll, &o, &all))
		return fail("list");
	double dt = aios_now_s() - t0;
	size_t n = json_object_array_length(aios_json_lookup(all, "items"));
	json_object_put(all);
	printf("{\"op\":\"list\",\"client\":\"aios\",\"items\":%zu,\"page\":%ld,\"seconds\":%.3f,"
	       "\"peak_rss_kb\":%ld}\n",
	       n, limit, dt, peak_rss_kb());
	return 0;
}

struct wcount {
	long n, want;
};

static enum aios_err count_event(void *arg, enum aios_kube_event_type t, struct json_object *obj)
{
	struct wcount *w = arg;
	if (t != AIOS_KUBE_BOOKMARK)
		w->n++;
	return w->n >= w->want ? aios_fail(AIOS_ERR_CANCELLED, "enough") : AIOS_OK;
}

static int watch(struct aios_kube_client *c, const char *ns, const char *from, long count)
{
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct aios_kube_watch_opts o = {.resource_version = from, .timeout_seconds = 120};
	struct wcount w = {0, count};
	double t0 = aios_now_s();
	enum aios_err e = aios_kube_watch(c, &coll, &o, count_event, &w, NULL);
	double dt = aios_now_s() - t0;
	if (e != AIOS_ERR_CANCELLED || w.n < count)
		return fail("watch");
	printf("{\"op\":\"watch\",\"client\":\"aios\",\"events\":%ld,\"seconds\":%.3f,\"events_per_"
	       "s\":%.0f,\"peak_rss_kb\":%ld}\n",
	       w.n, dt, w.n / dt, peak_rss_kb());
	return 0;
}

int main(int argc, char **argv)
{
	aios_log_init("aios-bench-kube", AIOS_LOG_WARN);
	const char *kubeconfig = NULL, *ns = NULL, *from = NULL, *op = NULL;
	long limit = 500, count = 0, n = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--kubeconfig") == 0 && v) {
			kubeconfig = v, i++;
		} else if (strcmp(a, "--namespace") == 0 && v) {
			ns = v, i++;
		} else if (strcmp(a, "--limit") == 0 && v) {
			limit = strtol(v, NULL, 10), i++;
		} else if (strcmp(a, "--from") == 0 && v) {
			from = v, i++;
		} else if (strcmp(a, "--count") == 0 && v) {
			count = strtol(v, NULL, 10), i++;
		} else if (!op) {
			op = a;
			if (strcmp(op, "seed") == 0 && v)
				n = strtol(v, NULL, 10), i++;
		} else {
			fprintf(stderr, "aios-bench-kube: unexpected argument \"%s\"\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!ns || !op || limit <= 0) {
		usage(stderr);
		return 2;
	}
	struct aios_kube_config *cfg = NULL;
	if (aios_kube_config_load(kubeconfig, NULL, &cfg))
		return fail("kubeconfig");
	struct aios_kube_client *c = NULL;
	if (aios_kube_client_new(cfg, &c)) {
		aios_kube_config_free(cfg);
		return fail("client");
	}
	aios_kube_config_free(cfg);
	int rc;
	if (strcmp(op, "seed") == 0 && n > 0)
		rc = seed(c, ns, n);
	else if (strcmp(op, "list") == 0)
		rc = list(c, ns, limit);
	else if (strcmp(op, "watch") == 0 && from && count > 0)
		rc = watch(c, ns, from, count);
	else {
		usage(stderr);
		rc = 2;
	}
	aios_kube_client_free(c);
	return rc;
}
