/*
 * bench_operator.c - the driver of bench/operator/run.sh: applies N objects at once and
 * measures the seconds until every one of their pods exists.
 *
 *   aios-bench-operator --kubeconfig KC --namespace NS --kind trainingjob|job --count N
 *                       [--threads T] [--timeout S]
 *
 * trainingjob: N single-worker TrainingJobs (a linear model on inline data);
 * job: N equivalent batch/v1 Jobs (one pod, restartPolicy Never, the trainer image,
 * the same environment contract as far as a Job can carry it).
 * Objects are created by T threads (default 8) sharing one client; the clock starts
 * before the first create and stops when NS holds every pod (counted every 100 ms from
 * a one-item LIST and its remainingItemCount). Once the N creates are done, one more
 * object, "probe", is created behind that backlog and timed from its create to its own
 * pod: the latency one user's job sees while the controller is busy. Prints one line:
 *   {"kind":"trainingjob","count":500,"create_seconds":..,"all_pods_seconds":..,
 *    "probe_pod_seconds":..}
 * Exit 0 when every pod, the probe's too, appeared before the timeout (default 300 s).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "kube/client.h"
#include "kube/config.h"

struct run {
	struct aios_kube_client *c;
	const char *ns, *kind;
	int count;
	atomic_int next, failed;
};

/* Object number i, named b%05d; i < 0 is the probe, named "probe". */
static struct json_object *make_obj(const char *kind, int i)
{
	char buf[2048], name[16];
	if (i < 0)
		snprintf(name, sizeof(name), "probe");
	else
		snprintf(name, sizeof(name), "b%05d", i);
	if (strcmp(kind, "trainingjob") == 0)
		snprintf(
		    buf, sizeof(buf),
		    "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\","
		    "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"model\":{\"type\":\"linear\"},"
		    "\"data\":{\"inline\":{\"features\":[[1],[2],[3],[4]],\"labels\":[2,4,6,8]}},"
		    "\"output\":{\"uri\":\"pvc://models/%s.aios\"}}}",
		    name, name);
	else
		snprintf(
		    buf, sizeof(buf),
		    "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":"
		    "\"%s\"},\"spec\":{\"backoffLimit\":3,\"template\":{\"metadata\":{"
		    "\"labels\":{\"aios.dev/bench\":\"job\"}},\"spec\":{\"restartPolicy\":"
		    "\"Never\",\"enableServiceLinks\":false,\"automountServiceAccountToken\":false,"
		    "\"containers\":[{\"name\":\"trainer\",\"image\":\"aios/trainer:0.1.0\","
		    "\"command\":[\"aios-trainer\"],\"env\":[{\"name\":\"AIOS_RANK\",\"value\":"
		    "\"0\"},{\"name\":\"AIOS_WORLD_SIZE\",\"value\":\"1\"},{\"name\":\"AIOS_SPEC\","
		    "\"value\":\"{\\\"model\\\":{\\\"type\\\":\\\"linear\\\"}}\"}]}]}}}}",
		    name);
	struct json_object *o = NULL;
	if (aios_json_parse(buf, strlen(buf), "object", &o) != AIOS_OK) {
		fprintf(stderr, "bench: %s\n", aios_errmsg());
		exit(2);
	}
	return o;
}

static void *creator(void *arg)
{
	struct run *r = arg;
	static const struct aios_kube_gvr jobs = {"batch", "v1", "jobs", 1};
	const struct aios_kube_gvr *gvr =
	    strcmp(r->kind, "trainingjob") == 0 ? &aios_kube_trainingjobs : &jobs;
	for (;;) {
		int i = atomic_fetch_add(&r->next, 1);
		if (i >= r->count)
			break;
		struct json_object *o = make_obj(r->kind, i);
		struct aios_kube_ref ref = aios_kube_ref(gvr, r->ns, NULL);
		enum aios_err e = aios_kube_create(r->c, &ref, o, NULL, NULL);
		if (e && e != AIOS_ERR_EXISTS) {
			fprintf(stderr, "bench: create %d: %s\n", i, aios_errmsg());
			atomic_fetch_add(&r->failed, 1);
		}
		json_object_put(o);
	}
	return NULL;
}

/* Pods in NS matching selector (NULL: all), from a LIST of one item and the server's
 * metadata.remainingItemCount, so that polling 5,000 pods every 100 ms does not load the
 * API server with 5,000-item answers (which would slow both controllers under test). */
static int count_pods(struct aios_kube_client *c, const char *ns, const char *selector)
{
	struct aios_kube_ref ref = aios_kube_ref(&aios_kube_pods, ns, NULL);
	struct aios_kube_list_opts lo = {.label_selector = selector, .limit = 1};
	struct json_object *list;
	if (aios_kube_list(c, &ref, &lo, &list) != AIOS_OK)
		return -1;
	int n = (int)json_object_array_length(aios_json_lookup(list, "items"));
	struct json_object *rest = aios_json_lookup(list, "metadata.remainingItemCount");
	const char *cont = aios_json_str(list, "metadata.continue");
	if (rest)
		n += (int)json_object_get_int64(rest);
	json_object_put(list);
	if (!rest && cont && *cont) { /* a server that does not count: read them all */
		lo.limit = 0;
		if (aios_kube_list_all(c, &ref, &lo, &list) != AIOS_OK)
			return -1;
		n = (int)json_object_array_length(aios_json_lookup(list, "items"));
		json_object_put(list);
	}
	return n;
}

int main(int argc, char **argv)
{
	const char *kc = NULL, *ns = "default", *kind = "trainingjob";
	int count = 500, threads = 8, timeout_s = 300;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help")) {
			printf("usage: aios-bench-operator --kubeconfig KC --namespace NS "
			       "--kind trainingjob|job --count N [--threads T] [--timeout S]\n");
			return 0;
		}
		if (!v) {
			fprintf(stderr, "bench: %s needs a value\n", a);
			return 2;
		}
		if (!strcmp(a, "--kubeconfig"))
			kc = v;
		else if (!strcmp(a, "--namespace"))
			ns = v;
		else if (!strcmp(a, "--kind"))
			kind = v;
		else if (!strcmp(a, "--count"))
			count = (int)strtol(v, NULL, 10);
		else if (!strcmp(a, "--threads"))
			threads = (int)strtol(v, NULL, 10);
		else if (!strcmp(a, "--timeout"))
			timeout_s = (int)strtol(v, NULL, 10);
		else {
			fprintf(stderr, "bench: unknown flag %s\n", a);
			return 2;
		}
		i++;
	}
	if ((strcmp(kind, "trainingjob") && strcmp(kind, "job")) || count < 1 || count > 100000 ||
	    threads < 1 || threads > 64 || timeout_s < 1) {
		fprintf(stderr,
		        "bench: bad --kind, --count (1..100000), --threads (1..64) or --timeout\n");
		return 2;
	}
	aios_log_init("aios-bench-operator", AIOS_LOG_WARN);
	curl_global_init(CURL_GLOBAL_ALL);
	struct aios_kube_config *cfg;
	struct run r = {.ns = ns, .kind = kind, .count = count};
	if (aios_kube_config_load(kc, NULL, &cfg) || aios_kube_client_new(cfg, &r.c)) {
		fprintf(stderr, "bench: %s\n", aios_errmsg());
		return 2;
	}
	aios_kube_config_free(cfg);

	double t0 = aios_now_s();
	pthread_t th[64];
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, creator, &r);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	double t_created = aios_now_s() - t0;
	/* the probe: one more object applied behind the backlog, timed to its own pod */
	static const struct aios_kube_gvr jobs = {"batch", "v1", "jobs", 1};
	const struct aios_kube_gvr *gvr =
	    strcmp(kind, "trainingjob") == 0 ? &aios_kube_trainingjobs : &jobs;
	const char *probe_sel =
	    strcmp(kind, "trainingjob") == 0 ? "aios.dev/job=probe" : "job-name=probe";
	struct json_object *po = make_obj(kind, -1);
	struct aios_kube_ref pref = aios_kube_ref(gvr, ns, NULL);
	double tp0 = aios_now_s(), t_probe = -1;
	if (aios_kube_create(r.c, &pref, po, NULL, NULL) != AIOS_OK) {
		fprintf(stderr, "bench: create probe: %s\n", aios_errmsg());
		atomic_fetch_add(&r.failed, 1);
	}
	json_object_put(po);
	int pods = 0;
	double t_all = -1;
	while (aios_now_s() - t0 < timeout_s && (t_all < 0 || t_probe < 0)) {
		if (t_probe < 0 && count_pods(r.c, ns, probe_sel) > 0)
			t_probe = aios_now_s() - tp0;
		if (t_all < 0 && (pods = count_pods(r.c, ns, NULL)) >= count + 1)
			t_all = aios_now_s() - t0;
		aios_sleep_ms(100);
	}
	if (t_all < 0)
		t_all = aios_now_s() - t0;
	printf("{\"kind\":\"%s\",\"count\":%d,\"create_failures\":%d,\"create_seconds\":%.2f,"
	       "\"pods\":%d,\"all_pods_seconds\":%.2f,\"probe_pod_seconds\":%.2f}\n",
	       kind, count, atomic_load(&r.failed), t_created, pods, t_all, t_probe);
	aios_kube_client_free(r.c);
	curl_global_cleanup();
	return pods >= count + 1 && t_probe >= 0 ? 0 : 1;
}
