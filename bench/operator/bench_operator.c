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
 * before the first create and stops when a LIST of pods in NS (polled every 100 ms)
 * holds N pods. Prints one JSON line:
 *   {"kind":"trainingjob","count":500,"create_seconds":..,"all_pods_seconds":..}
 * Exit 0 when every pod appeared before the timeout (default 300 s), 1 otherwise.
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

static struct json_object *make_obj(const char *kind, int i)
{
	char buf[2048];
	if (strcmp(kind, "trainingjob") == 0)
		snprintf(
		    buf, sizeof(buf),
		    "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\","
		    "\"metadata\":{\"name\":\"b%05d\"},\"spec\":{\"model\":{\"type\":\"linear\"},"
		    "\"data\":{\"inline\":{\"features\":[[1],[2],[3],[4]],\"labels\":[2,4,6,8]}},"
		    "\"output\":{\"uri\":\"pvc://models/b%05d.aios\"}}}",
		    i, i);
	else
		snprintf(
		    buf, sizeof(buf),
		    "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":"
		    "\"b%05d\"},\"spec\":{\"backoffLimit\":3,\"template\":{\"metadata\":{"
		    "\"labels\":{\"aios.dev/bench\":\"job\"}},\"spec\":{\"restartPolicy\":"
		    "\"Never\",\"enableServiceLinks\":false,\"automountServiceAccountToken\":false,"
		    "\"containers\":[{\"name\":\"trainer\",\"image\":\"aios/trainer:0.1.0\","
		    "\"command\":[\"aios-trainer\"],\"env\":[{\"name\":\"AIOS_RANK\",\"value\":"
		    "\"0\"},{\"name\":\"AIOS_WORLD_SIZE\",\"value\":\"1\"},{\"name\":\"AIOS_SPEC\","
		    "\"value\":\"{\\\"model\\\":{\\\"type\\\":\\\"linear\\\"}}\"}]}]}}}}",
		    i);
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

static int count_pods(struct aios_kube_client *c, const char *ns)
{
	struct aios_kube_ref ref = aios_kube_ref(&aios_kube_pods, ns, NULL);
	struct json_object *list;
	if (aios_kube_list(c, &ref, NULL, &list) != AIOS_OK)
		return -1;
	int n = (int)json_object_array_length(aios_json_lookup(list, "items"));
	json_object_put(list);
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
	int pods = 0;
	while ((pods = count_pods(r.c, ns)) < count && aios_now_s() - t0 < timeout_s)
		aios_sleep_ms(100);
	double t_all = aios_now_s() - t0;
	printf("{\"kind\":\"%s\",\"count\":%d,\"create_failures\":%d,\"create_seconds\":%.2f,"
	       "\"pods\":%d,\"all_pods_seconds\":%.2f}\n",
	       kind, count, atomic_load(&r.failed), t_created, pods, t_all);
	aios_kube_client_free(r.c);
	curl_global_cleanup();
	return pods >= count ? 0 : 1;
}
