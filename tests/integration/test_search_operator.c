/*
 * test_search_operator.c - hyperparameter search on a real API server: the aios-operator
 * binary (operator identity, operator/'s RBAC) runs a TrainingJob with spec.search while
 * the test plays the kubelet. Each trial pod runs, then ends with the trainer's
 * termination message, whose val_loss is a known function of the parameters the pod was
 * given (read back from its AIOS_SPEC), so the test knows which trial must win.
 *
 * The search: random, 6 trials, parallelism 2, over learning rate and hidden size. The
 * operator is stopped (SIGTERM) after the second trial ends and a new one is started:
 * the trials already recorded keep their parameters and are not started again.
 *
 * Then the accuracy objective: a grid search of a classifier (loss cross_entropy) whose
 * trials report val_accuracy, a known function of the parameters that does not rank them
 * as the loss does, so the test knows the winner is the most accurate trial, not the
 * lowest loss; and the same objective on a regression model, refused as InvalidSpec
 * before any pod exists.
 *
 * Last, successive halving through the API server: the promoted trial's pod carries
 * checkpoint.resumeFrom naming the checkpoint directory of the rung-0 trial it was
 * promoted from (found again from status.trials as stored, fields pruned by the CRD).
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/mem.h"
#include "kube/client.h"
#include "support/kube_test.h"
#include "support/kubectl.h"

#define DEADLINE_MS 120000 /* the whole search, kubelet included */
#define JOB         "search6"

static struct aios_kube_client *g_admin;
static char g_ns[64];

/* ============================== setup ============================== */

/* kubectl apply -f of a file under the source tree. */
static void apply(const char *rel)
{
	static char out[AIOS_TEST_KUBECTL_OUT_CAP];
	char path[4096];
	snprintf(path, sizeof(path), "%s", aios_test_path(rel));
	int rc = aios_test_kubectl(aios_test_kubeconfig(), NULL, out, sizeof(out), "apply", "-f",
	                           path, NULL);
	ck_assert_msg(rc == 0, "kubectl apply %s: %s", rel, out);
}

static void setup(void)
{
	const char *files[] = {"crds",
	                       "operator/namespace.yaml",
	                       "operator/service-account.yaml",
	                       "operator/cluster-role.yaml",
	                       "operator/cluster-role-binding.yaml",
	                       "operator/leader-election-role.yaml",
	                       "operator/leader-election-role-binding.yaml"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		apply(files[i]);
	g_admin = aios_kt_client("admin");
	/* wait until the API serves TrainingJobs with the current schema */
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_trainingjobs, "default", NULL);
	int64_t until = aios_now_ms() + 30000;
	struct json_object *l = NULL;
	while (aios_kube_list(g_admin, &r, NULL, &l) != AIOS_OK) {
		ck_assert_msg(aios_now_ms() < until, "trainingjobs not served: %s", aios_errmsg());
		aios_sleep_ms(200);
	}
	json_object_put(l);
	snprintf(g_ns, sizeof(g_ns), "%s", aios_kt_namespace(g_admin, "search-it"));
	/* the ServiceAccount admission plugin wants "default" (no controller-manager here) */
	struct json_object *sa = aios_kt_object("v1", "ServiceAccount", g_ns, "default");
	struct aios_kube_ref sr = aios_kube_ref(&aios_kube_serviceaccounts, g_ns, NULL);
	enum aios_err e = aios_kube_create(g_admin, &sr, sa, NULL, NULL);
	ck_assert_msg(e == AIOS_OK || e == AIOS_ERR_EXISTS, "service account: %s", aios_errmsg());
	json_object_put(sa);
}

static void teardown(void)
{
	if (!g_admin)
		return;
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_namespaces, NULL, g_ns);
	(void)!aios_kube_delete(g_admin, &r, NULL, NULL);
	aios_kube_client_free(g_admin);
	g_admin = NULL;
}

/* ============================== the operator ============================== */

static char g_log[256];

/* Starts aios-operator for the test namespace; its log goes to g_log. */
static pid_t operator_start(void)
{
	const char *build = getenv("AIOS_BUILD_DIR");
	ck_assert_msg(build && *build, "AIOS_BUILD_DIR is not set");
	char bin[4096], kc[4096];
	snprintf(bin, sizeof(bin), "%s/src/operator/aios-operator", build);
	snprintf(kc, sizeof(kc), "%s/operator.kubeconfig", aios_kt_cluster_dir());
	snprintf(g_log, sizeof(g_log), "/tmp/aios-search-it-%d.log", (int)getpid());
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(g_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		/* port 0: no metrics or probe server clash with other tests */
		execl(bin, bin, "--kubeconfig", kc, "--namespace", g_ns, "--leader-elect=false",
		      "--metrics-bind-address", "0", "--health-probe-bind-address", "0",
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void operator_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	int st = 0;
	int64_t until = aios_now_ms() + 30000;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (aios_now_ms() > until) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ck_abort_msg("aios-operator ignored SIGTERM for 30 s (log %s)", g_log);
		}
		aios_sleep_ms(50);
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	              "aios-operator exit status %d (log %s)", st, g_log);
}

/* ============================== the kubelet ============================== */

/* The validation loss a trial reaches: best at learning rate 0.01 and a small layer. */
static double loss_of(double lr, double width)
{
	return fabs(log10(lr) + 2) + width / 1000;
}

/* The validation accuracy a classifier reaches: mostly a matter of width (best wide). */
static double accuracy_of(double lr, double width)
{
	return 0.5 + width / 200 - fabs(log10(lr) + 2) / 20;
}

/* The trial spec of a pod (its AIOS_SPEC). New object. */
static struct json_object *pod_spec(struct json_object *pod)
{
	struct json_object *c =
	    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0);
	struct json_object *env = aios_json_lookup(c, "env");
	for (size_t i = 0; env && i < json_object_array_length(env); i++) {
		struct json_object *e = json_object_array_get_idx(env, i);
		if (strcmp(aios_json_str(e, "name"), "AIOS_SPEC") == 0) {
			const char *v = aios_json_str(e, "value");
			struct json_object *o = NULL;
			ck_assert_int_eq(aios_json_parse(v, strlen(v), "AIOS_SPEC", &o), AIOS_OK);
			return o;
		}
	}
	ck_abort_msg("pod %s has no AIOS_SPEC", aios_json_str(pod, "metadata.name"));
	return NULL;
}

/* Writes a pod's status: Running with an IP, or Succeeded with the trainer's final line. */
static void write_status(struct json_object *pod, int ip, int done)
{
	struct json_object *st = json_object_new_object();
	char addr[32], now[32];
	snprintf(addr, sizeof(addr), "127.0.1.%d", ip); /* loopback: the operator scrapes it */
	aios_rfc3339_now(now, sizeof(now));
	json_object_object_add(st, "phase", json_object_new_string(done ? "Succeeded" : "Running"));
	json_object_object_add(st, "podIP", json_object_new_string(addr));
	json_object_object_add(st, "startTime", json_object_new_string(now));
	struct json_object *cs = json_object_new_object(), *state = json_object_new_object();
	json_object_object_add(cs, "name", json_object_new_string("trainer"));
	json_object_object_add(cs, "image", json_object_new_string("aios/trainer:0.1.0"));
	json_object_object_add(cs, "imageID", json_object_new_string(""));
	json_object_object_add(cs, "ready", json_object_new_boolean(!done));
	json_object_object_add(cs, "restartCount", json_object_new_int(0));
	if (done) {
		struct json_object *spec = pod_spec(pod);
		double lr =
		    json_object_get_double(aios_json_lookup(spec, "optimizer.learningRate"));
		double w = json_object_get_double(
		    json_object_array_get_idx(aios_json_lookup(spec, "model.hidden"), 0));
		char msg[512], acc[64] = ""; /* a classifier's trainer reports accuracy too */
		const char *loss = aios_json_str(spec, "loss");
		if (loss && strcmp(loss, "cross_entropy") == 0)
			snprintf(acc, sizeof(acc), ",\"accuracy\":0.99,\"val_accuracy\":%.9g",
			         accuracy_of(lr, w));
		snprintf(
		    msg, sizeof(msg),
		    "{\"artifact\":{\"uri\":\"%s\",\"sha256\":\"%064d\",\"bytes\":64},\"epochs\":3,"
		    "\"loss\":1.0,\"val_loss\":%.9g%s}",
		    aios_json_str(spec, "output.uri"), ip, loss_of(lr, w), acc);
		json_object_put(spec);
		struct json_object *t = json_object_new_object();
		json_object_object_add(t, "exitCode", json_object_new_int(0));
		json_object_object_add(t, "reason", json_object_new_string("Completed"));
		json_object_object_add(t, "message", json_object_new_string(msg));
		json_object_object_add(t, "startedAt", json_object_new_string(now));
		json_object_object_add(t, "finishedAt", json_object_new_string(now));
		json_object_object_add(state, "terminated", t);
	} else {
		struct json_object *r = json_object_new_object();
		json_object_object_add(r, "startedAt", json_object_new_string(now));
		json_object_object_add(state, "running", r);
	}
	json_object_object_add(cs, "state", state);
	struct json_object *css = json_object_new_array();
	json_object_array_add(css, cs);
	json_object_object_add(st, "containerStatuses", css);
	json_object_object_add(pod, "status", st);
	struct aios_kube_ref r =
	    aios_kube_ref(&aios_kube_pods, g_ns, aios_json_str(pod, "metadata.name"));
	enum aios_err e = aios_kube_update_status(g_admin, &r, pod, NULL);
	ck_assert_msg(e == AIOS_OK || e == AIOS_ERR_CONFLICT, "pod status: %s", aios_errmsg());
}

struct kubelet {
	int ips;
	int max_live_trials; /* most trials with unfinished pods seen at once */
	int pods_seen;
};

/* One pass: new pods start, running pods end. Returns the number of trials that ended. */
static void kubelet_pass(struct kubelet *k, const char *job)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pods, g_ns, NULL);
	char sel[128];
	snprintf(sel, sizeof(sel), "aios.dev/job=%s", job);
	struct aios_kube_list_opts o = {.label_selector = sel};
	struct json_object *list = NULL;
	ck_assert_msg(aios_kube_list(g_admin, &r, &o, &list) == AIOS_OK, "%s", aios_errmsg());
	struct json_object *items = aios_json_lookup(list, "items");
	int live[64] = {0}, n_live = 0;
	k->pods_seen = (int)json_object_array_length(items);
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		struct json_object *p = json_object_array_get_idx(items, i);
		const char *tl = NULL;
		struct json_object *labels = aios_json_lookup(p, "metadata.labels"), *v;
		if (labels && json_object_object_get_ex(labels, "aios.dev/trial", &v))
			tl = json_object_get_string(v);
		ck_assert_msg(tl, "pod %s has no aios.dev/trial label",
		              aios_json_str(p, "metadata.name"));
		long t = strtol(tl, NULL, 10);
		ck_assert(t >= 0 && t < 64);
		const char *ph = aios_json_str(p, "status.phase");
		if (!ph || strcmp(ph, "Pending") == 0) {
			if (!live[t]++)
				n_live++;
			write_status(p, ++k->ips, 0);
		} else if (strcmp(ph, "Running") == 0) {
			if (!live[t]++)
				n_live++;
			const char *ip = aios_json_str(p, "status.podIP");
			write_status(p, (int)strtol(strrchr(ip, '.') + 1, NULL, 10), 1);
		}
	}
	if (n_live > k->max_live_trials)
		k->max_live_trials = n_live;
	json_object_put(list);
}

static struct json_object *get_job(const char *name)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_trainingjobs, g_ns, name);
	struct json_object *o = NULL;
	ck_assert_msg(aios_kube_get(g_admin, &r, &o) == AIOS_OK, "get job: %s", aios_errmsg());
	return o;
}

static size_t count_phase(struct json_object *job, const char *phase)
{
	struct json_object *t = aios_json_lookup(job, "status.trials");
	size_t n = 0;
	for (size_t i = 0; t && i < json_object_array_length(t); i++)
		n += strcmp(aios_json_str(json_object_array_get_idx(t, i), "phase"), phase) == 0;
	return n;
}

/* The job's status names trial index best as its best (trial "t<best>", objective, and
 * that trial's artifact as the job's). */
static void assert_best(struct json_object *job, long best, double objective)
{
	struct json_object *trials = aios_json_lookup(job, "status.trials");
	ck_assert_int_ge(best, 0);
	char bn[16];
	snprintf(bn, sizeof(bn), "t%ld", best);
	ck_assert_str_eq(aios_json_str(job, "status.best.trial"), bn);
	ck_assert_double_eq_tol(
	    json_object_get_double(aios_json_lookup(job, "status.best.objective")), objective,
	    1e-9);
	ck_assert_str_eq(
	    aios_json_str(job, "status.artifact.uri"),
	    aios_json_str(json_object_array_get_idx(trials, (size_t)best), "artifact.uri"));
}

/* ============================== the test ============================== */

START_TEST(random_search_six_trials_two_at_a_time)
{
	const char *manifest =
	    "{\"apiVersion\":\"aios.dev/"
	    "v1alpha1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":\"" JOB "\"},"
	    "\"spec\":{\"model\":{\"type\":\"mlp\",\"hidden\":[8]},\"data\":{\"inline\":{"
	    "\"features\":"
	    "[[1],[2],[3],[4]],\"labels\":[2,4,6,8]}},\"optimizer\":{\"epochs\":3},"
	    "\"output\":{\"uri\":\"file:///tmp/search/"
	    "model.aios\"},\"search\":{\"algorithm\":\"random\","
	    "\"seed\":11,\"trials\":6,\"parallelism\":2,\"space\":{\"learningRate\":{\"min\":0."
	    "0001,"
	    "\"max\":1,\"scale\":\"log\"},\"hidden\":{\"values\":[[2],[16],[64]]}}}}}";
	struct json_object *job;
	ck_assert_int_eq(aios_json_parse(manifest, strlen(manifest), "job", &job), AIOS_OK);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_trainingjobs, g_ns, NULL);
	ck_assert_msg(aios_kube_create(g_admin, &r, job, NULL, NULL) == AIOS_OK, "create: %s",
	              aios_errmsg());
	json_object_put(job);

	pid_t op = operator_start();
	struct kubelet k = {0};
	struct json_object *before_restart = NULL;
	int64_t until = aios_now_ms() + DEADLINE_MS;
	for (;;) {
		struct json_object *j = get_job(JOB);
		ck_assert_msg(count_phase(j, "Running") + count_phase(j, "Pending") <= 2,
		              "more than 2 trials active: %s",
		              json_object_to_json_string(aios_json_lookup(j, "status.trials")));
		const char *ph = aios_json_str(j, "status.phase");
		if (ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0)) {
			json_object_put(j);
			break;
		}
		/* restart the operator once two trials have ended */
		if (!before_restart && count_phase(j, "Succeeded") >= 2) {
			operator_stop(op);
			before_restart = aios_json_copy(aios_json_lookup(j, "status.trials"));
			op = operator_start();
		}
		json_object_put(j);
		if (aios_now_ms() > until) {
			operator_stop(op);
			ck_abort_msg("search not finished within %d ms (operator log %s)",
			             DEADLINE_MS, g_log);
		}
		kubelet_pass(&k, JOB);
		aios_sleep_ms(300);
	}
	operator_stop(op);
	ck_assert_ptr_nonnull(before_restart);

	struct json_object *j = get_job(JOB);
	ck_assert_str_eq(aios_json_str(j, "status.phase"), "Succeeded");
	ck_assert_int_le(k.max_live_trials, 2);
	ck_assert_int_eq(k.pods_seen, 6); /* one pod per trial: nothing started twice */
	struct json_object *trials = aios_json_lookup(j, "status.trials");
	ck_assert_uint_eq(json_object_array_length(trials), 6);
	long best = -1;
	double best_obj = INFINITY;
	for (size_t i = 0; i < 6; i++) {
		struct json_object *t = json_object_array_get_idx(trials, i);
		ck_assert_str_eq(aios_json_str(t, "phase"), "Succeeded");
		double lr = json_object_get_double(aios_json_lookup(t, "parameters.learningRate"));
		double w = json_object_get_double(
		    json_object_array_get_idx(aios_json_lookup(t, "parameters.hidden"), 0));
		double obj = json_object_get_double(aios_json_lookup(t, "objective"));
		ck_assert_double_eq_tol(obj, loss_of(lr, w), 1e-6);
		char uri[64];
		snprintf(uri, sizeof(uri), "file:///tmp/search/model.trial-%zu.aios", i);
		ck_assert_str_eq(aios_json_str(t, "artifact.uri"), uri);
		if (obj < best_obj) {
			best_obj = obj;
			best = (long)i;
		}
	}
	/* the trials recorded before the restart kept their values */
	for (size_t i = 0; i < json_object_array_length(before_restart); i++)
		ck_assert(aios_json_equal(
		    aios_json_lookup(json_object_array_get_idx(before_restart, i), "parameters"),
		    aios_json_lookup(json_object_array_get_idx(trials, i), "parameters")));
	assert_best(j, best, best_obj);
	json_object_put(before_restart);
	json_object_put(j);
}
END_TEST

static void create_job(const char *manifest)
{
	struct json_object *job;
	ck_assert_int_eq(aios_json_parse(manifest, strlen(manifest), "job", &job), AIOS_OK);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_trainingjobs, g_ns, NULL);
	ck_assert_msg(aios_kube_create(g_admin, &r, job, NULL, NULL) == AIOS_OK, "create: %s",
	              aios_errmsg());
	json_object_put(job);
}

/* Polls the job (playing the kubelet for its pods) until it ends; returns it. */
static struct json_object *wait_end(const char *name, pid_t op, struct kubelet *k)
{
	int64_t until = aios_now_ms() + DEADLINE_MS;
	for (;;) {
		struct json_object *j = get_job(name);
		const char *ph = aios_json_str(j, "status.phase");
		if (ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0))
			return j;
		json_object_put(j);
		if (aios_now_ms() > until) {
			operator_stop(op);
			ck_abort_msg("%s not finished within %d ms (operator log %s)", name,
			             DEADLINE_MS, g_log);
		}
		kubelet_pass(k, name);
		aios_sleep_ms(300);
	}
}

#define CLASSIFIER_JOB(name, loss)                                                                 \
	"{\"apiVersion\":\"aios.dev/"                                                              \
	"v1alpha1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":\"" name                       \
	"\"},\"spec\":{\"model\":{\"type\":\"mlp\",\"hidden\":[8]}," loss "\"data\":{\"inline\":{" \
	"\"features\":[[1],[2],[3],[4]],\"labels\":[0,1,0,1]}},\"optimizer\":{\"epochs\":3},"      \
	"\"output\":{\"uri\":\"file:///tmp/search/" name ".aios\"},\"search\":{\"algorithm\":"     \
	"\"grid\",\"parallelism\":2,\"objective\":{\"metric\":\"accuracy\"},\"space\":{"           \
	"\"learningRate\":{\"values\":[0.01,0.3]},\"hidden\":{\"values\":[[2],[64]]}}}}}"

/* objective accuracy: the most accurate trial wins (here not the lowest loss); a
 * regression model cannot have an accuracy and is refused up front. */
START_TEST(accuracy_objective)
{
	create_job(CLASSIFIER_JOB("acc", "\"loss\":\"cross_entropy\","));
	create_job(CLASSIFIER_JOB("reg", ""));
	pid_t op = operator_start();
	struct kubelet k = {0};
	struct json_object *j = wait_end("acc", op, &k);
	struct json_object *reg = wait_end("reg", op, &k);
	operator_stop(op);

	ck_assert_str_eq(aios_json_str(j, "status.phase"), "Succeeded");
	struct json_object *trials = aios_json_lookup(j, "status.trials");
	ck_assert_uint_eq(json_object_array_length(trials), 4); /* the whole 2 x 2 grid */
	long best = -1, lowest_loss = -1;
	double max_acc = -1, min_loss = INFINITY;
	for (size_t i = 0; i < 4; i++) {
		struct json_object *t = json_object_array_get_idx(trials, i);
		ck_assert_str_eq(aios_json_str(t, "phase"), "Succeeded");
		double lr = json_object_get_double(aios_json_lookup(t, "parameters.learningRate"));
		double w = json_object_get_double(
		    json_object_array_get_idx(aios_json_lookup(t, "parameters.hidden"), 0));
		double acc = json_object_get_double(aios_json_lookup(t, "accuracy"));
		double loss = json_object_get_double(aios_json_lookup(t, "validationLoss"));
		ck_assert_double_eq_tol(acc, accuracy_of(lr, w), 1e-6); /* val_accuracy */
		ck_assert_double_eq_tol(json_object_get_double(aios_json_lookup(t, "objective")),
		                        acc, 1e-12);
		if (acc > max_acc)
			max_acc = acc, best = (long)i;
		if (loss < min_loss)
			min_loss = loss, lowest_loss = (long)i;
	}
	ck_assert_int_ne(best, lowest_loss);
	assert_best(j, best, max_acc);

	ck_assert_str_eq(aios_json_str(reg, "status.phase"), "Failed");
	const char *conds = json_object_to_json_string(aios_json_lookup(reg, "status.conditions"));
	ck_assert_msg(strstr(conds, "InvalidSpec") &&
	                  strstr(conds, "accuracy needs a classification model"),
	              "conditions: %s", conds);
	ck_assert_ptr_null(aios_json_lookup(reg, "status.trials"));
	kubelet_pass(&k, "reg");
	ck_assert_int_eq(k.pods_seen, 0); /* no trial pod was ever created */
	json_object_put(j);
	json_object_put(reg);
}
END_TEST

START_TEST(halving_promoted_trial_resumes)
{
	create_job("{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\",\"metadata\":{"
	           "\"name\":\"halving\"},\"spec\":{\"model\":{\"type\":\"mlp\",\"hidden\":[8]},"
	           "\"data\":{\"inline\":{\"features\":[[1],[2]],\"labels\":[2,4]}},\"output\":{"
	           "\"uri\":\"file:///tmp/search/halving.aios\"},\"search\":{\"algorithm\":"
	           "\"successive-halving\",\"trials\":4,\"reductionFactor\":2,\"minEpochs\":2,"
	           "\"parallelism\":3,\"seed\":5,\"space\":{\"learningRate\":{\"min\":0.0001,"
	           "\"max\":1},\"hidden\":{\"values\":[[2],[16],[64]]}}}}}");
	pid_t op = operator_start();
	struct kubelet k = {0};
	struct json_object *j = wait_end("halving", op, &k);
	operator_stop(op);
	ck_assert_str_eq(aios_json_str(j, "status.phase"), "Succeeded");
	struct json_object *trials = aios_json_lookup(j, "status.trials");
	ck_assert_uint_eq(json_object_array_length(trials), 4); /* rungs of 3 and 1 */
	long parent = -1;
	for (size_t i = 0; i < 3; i++) {
		struct json_object *t = json_object_array_get_idx(trials, i);
		if (strcmp(aios_json_str(t, "phase"), "Succeeded") == 0) {
			ck_assert_int_eq(parent, -1); /* one promoted */
			parent = (long)i;
		}
	}
	ck_assert_int_ge(parent, 0);
	struct json_object *t3 = json_object_array_get_idx(trials, 3);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(t3, "epochs")), 4);
	char want[128];
	snprintf(want, sizeof(want), "file:///tmp/search/halving.trial-%ld.aios.ckpt", parent);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pods, g_ns, NULL);
	struct aios_kube_list_opts o = {.label_selector = "aios.dev/job=halving"};
	struct json_object *list = NULL;
	ck_assert_msg(aios_kube_list(g_admin, &r, &o, &list) == AIOS_OK, "%s", aios_errmsg());
	struct json_object *items = aios_json_lookup(list, "items");
	int promoted = 0;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		struct json_object *p = json_object_array_get_idx(items, i);
		struct json_object *spec = pod_spec(p);
		const char *rf = aios_json_str(spec, "checkpoint.resumeFrom");
		struct json_object *labels = aios_json_lookup(p, "metadata.labels"), *v = NULL;
		ck_assert(json_object_object_get_ex(labels, "aios.dev/trial", &v));
		if (strcmp(json_object_get_string(v), "3") == 0) {
			ck_assert_msg(rf && strcmp(rf, want) == 0,
			              "trial 3 resumes from %s, not %s", rf ? rf : "(nothing)",
			              want);
			promoted++;
		} else {
			ck_assert_msg(rf == NULL, "rung-0 pod %s resumes from %s",
			              aios_json_str(p, "metadata.name"), rf);
		}
		json_object_put(spec);
	}
	ck_assert_int_eq(promoted, 1);
	json_object_put(list);
	json_object_put(j);
}
END_TEST

static Suite *search_operator_suite(void)
{
	Suite *s = suite_create("search_operator");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, random_search_six_trials_two_at_a_time);
	tcase_add_test(tc, accuracy_objective);
	tcase_add_test(tc, halving_promoted_trial_resumes);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(search_operator_suite)
