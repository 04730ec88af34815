/*
 * test_trainingjob_render.c - the pod of a rank, names, spec defaults, metrics parsing.
 */
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "operator/trainingjob.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(s, strlen(s), "test", &o), AIOS_OK);
	return o;
}

static const char *JOB =
    "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\","
    "\"metadata\":{\"name\":\"mnist\",\"namespace\":\"ml\",\"uid\":\"u-1\",\"generation\":2},"
    "\"spec\":{\"model\":{\"type\":\"linear\"},"
    "\"data\":{\"uri\":\"pvc://datasets/mnist.csv\"},\"output\":{\"uri\":\"pvc://models/"
    "mnist.aios\"},"
    "\"distributed\":{\"workers\":2},"
    "\"template\":{\"image\":\"reg/trainer:1\",\"nodeSelector\":{\"gpu\":\"no\"},"
    "\"schedulerName\":\"volcano\",\"serviceAccountName\":\"trainer\","
    "\"priorityClassName\":\"high\",\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\"}],"
    "\"resources\":{\"limits\":{\"cpu\":\"1\"}},"
    "\"labels\":{\"aios.dev/job\":\"evil\",\"team\":\"a\"},"
    "\"annotations\":{\"scheduling.k8s.io/group-name\":\"pg\"},"
    "\"env\":[{\"name\":\"FOO\",\"value\":\"bar\"},{\"name\":\"AIOS_RANK\",\"value\":\"9\"}]}}}";

/* value of env var name in the pod's only container, or NULL */
static const char *env_of(struct json_object *pod, const char *name)
{
	struct json_object *c =
	    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0);
	struct json_object *env = aios_json_lookup(c, "env");
	const char *found = NULL;
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		struct json_object *e = json_object_array_get_idx(env, i);
		if (strcmp(aios_json_str(e, "name"), name) == 0) {
			ck_assert_msg(!found, "env %s appears twice", name);
			found = aios_json_str(e, "value");
		}
	}
	return found;
}

START_TEST(spec_defaults_and_errors)
{
	struct json_object *job = parse(JOB);
	struct aios_tj_spec s;
	ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_OK);
	ck_assert_int_eq(s.world, 2);
	ck_assert_int_eq(s.backoff_limit, 3);
	ck_assert_int_eq(s.ttl_s, -1);
	ck_assert_int_eq(s.clean, AIOS_TJ_CLEAN_RUNNING);
	ck_assert_int_eq(s.suspend, 0);
	json_object_put(job);

	job = parse("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"distributed\":{\"workers\":3,"
	            "\"strategy\":\"parameter-server\",\"parameterServers\":2}}}");
	ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_OK);
	ck_assert_int_eq(s.world, 5);
	ck_assert_int_eq(aios_tj_rank_role(&s, 2), AIOS_TJ_WORKER);
	ck_assert_int_eq(aios_tj_rank_role(&s, 3), AIOS_TJ_PS);
	json_object_put(job);

	job = parse(
	    "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"distributed\":{\"strategy\":\"ring\"}}}");
	ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.distributed.strategy"));
	json_object_put(job);
	job = parse("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"distributed\":{\"workers\":0}}}");
	ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.distributed.workers"));
	json_object_put(job);
	job = parse(
	    "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"runPolicy\":{\"backoffLimit\":\"3\"}}}");
	ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.runPolicy.backoffLimit"));
	json_object_put(job);
}
END_TEST

START_TEST(pod_names_are_deterministic_and_short)
{
	char *n = aios_tj_pod_name("mnist", AIOS_TJ_WORKER, 1, 2, 0);
	ck_assert_str_eq(n, "mnist-g2a0-w1");
	free(n);
	n = aios_tj_pod_name("mnist", AIOS_TJ_PS, 3, 1, 4);
	ck_assert_str_eq(n, "mnist-g1a4-ps3");
	free(n);
	char longname[254];
	memset(longname, 'a', 253);
	longname[253] = '\0';
	char *a = aios_tj_pod_name(longname, AIOS_TJ_WORKER, 12, 100, 7);
	ck_assert_uint_le(strlen(a), AIOS_TJ_NAME_MAX);
	ck_assert_ptr_nonnull(strstr(a, "-g100a7-w12"));
	longname[252] = 'b'; /* a different long job gets a different name */
	char *b = aios_tj_pod_name(longname, AIOS_TJ_WORKER, 12, 100, 7);
	ck_assert_str_ne(a, b);
	free(a);
	free(b);
}
END_TEST

START_TEST(pod_of_rank_carries_the_contract)
{
	struct json_object *job = parse(JOB);
	struct aios_tj_spec s;
	ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_OK);
	struct json_object *pod;
	ck_assert_int_eq(aios_tj_render_pod(job, &s, 1, 3, "10.244.0.5:29500", 0, &pod), AIOS_OK);

	ck_assert_str_eq(aios_json_str(pod, "metadata.name"), "mnist-g2a3-w1");
	ck_assert_str_eq(aios_json_str(pod, "metadata.namespace"), "ml");
	struct json_object *labels = aios_json_lookup(pod, "metadata.labels");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(labels, "aios.dev/job")),
	                 "mnist");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(labels, "aios.dev/role")),
	                 "worker");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(labels, "aios.dev/rank")),
	                 "1");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(labels, "aios.dev/attempt")),
	                 "3");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(labels, "team")), "a");
	struct json_object *ann = aios_json_lookup(pod, "metadata.annotations");
	ck_assert_str_eq(
	    json_object_get_string(json_object_object_get(ann, "scheduling.k8s.io/group-name")),
	    "pg");

	struct json_object * or
	    = json_object_array_get_idx(aios_json_lookup(pod, "metadata.ownerReferences"), 0);
	ck_assert_str_eq(aios_json_str(or, "kind"), "TrainingJob");
	ck_assert_str_eq(aios_json_str(or, "uid"), "u-1");
	ck_assert(json_object_get_boolean(json_object_object_get(or, "controller")));

	ck_assert_str_eq(aios_json_str(pod, "spec.restartPolicy"), "Never");
	ck_assert_str_eq(aios_json_str(pod, "spec.schedulerName"), "volcano");
	ck_assert_str_eq(aios_json_str(pod, "spec.serviceAccountName"), "trainer");
	ck_assert_str_eq(aios_json_str(pod, "spec.priorityClassName"), "high");
	ck_assert_str_eq(aios_json_str(pod, "spec.nodeSelector.gpu"), "no");
	ck_assert_int_eq(json_object_array_length(aios_json_lookup(pod, "spec.tolerations")), 1);
	ck_assert(
	    json_object_get_boolean(aios_json_lookup(pod, "spec.securityContext.runAsNonRoot")));
	ck_assert_str_eq(aios_json_str(pod, "spec.securityContext.seccompProfile.type"),
	                 "RuntimeDefault");

	struct json_object *c =
	    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0);
	ck_assert_str_eq(aios_json_str(c, "image"), "reg/trainer:1");
	ck_assert_str_eq(aios_json_str(c, "resources.limits.cpu"), "1");
	ck_assert_str_eq(aios_json_str(c, "terminationMessagePolicy"), "FallbackToLogsOnError");
	ck_assert(!json_object_get_boolean(
	    aios_json_lookup(c, "securityContext.allowPrivilegeEscalation")));
	ck_assert(
	    json_object_get_boolean(aios_json_lookup(c, "securityContext.readOnlyRootFilesystem")));
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(
	                     aios_json_lookup(c, "securityContext.capabilities.drop"), 0)),
	                 "ALL");
	struct json_object *port = json_object_array_get_idx(aios_json_lookup(c, "ports"), 0);
	ck_assert_str_eq(aios_json_str(port, "name"), "metrics");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(port, "containerPort")), 9090);

	ck_assert_str_eq(env_of(pod, "AIOS_JOB"), "mnist");
	ck_assert_str_eq(env_of(pod, "AIOS_RANK"), "1"); /* the template cannot override it */
	ck_assert_str_eq(env_of(pod, "AIOS_WORLD_SIZE"), "2");
	ck_assert_str_eq(env_of(pod, "AIOS_ROLE"), "worker");
	ck_assert_str_eq(env_of(pod, "AIOS_COORDINATOR"), "10.244.0.5:29500");
	ck_assert_str_eq(env_of(pod, "AIOS_ATTEMPT"), "3");
	ck_assert_str_eq(env_of(pod, "AIOS_PVC_ROOT"), "/mnt/pvc");
	ck_assert_str_eq(env_of(pod, "FOO"), "bar");
	struct json_object *spec;
	const char *sj = env_of(pod, "AIOS_SPEC");
	ck_assert_ptr_nonnull(sj);
	ck_assert_int_eq(aios_json_parse(sj, strlen(sj), "AIOS_SPEC", &spec), AIOS_OK);
	ck_assert(aios_json_equal(spec, aios_json_lookup(job, "spec")));
	json_object_put(spec);
	ck_assert_ptr_null(env_of(pod, "AIOS_SPEC_FILE"));

	/* claims: datasets read-only at /mnt/pvc/datasets, models writable */
	struct json_object *vols = aios_json_lookup(pod, "spec.volumes");
	struct json_object *mounts = aios_json_lookup(c, "volumeMounts");
	int seen_data = 0, seen_models = 0, seen_tmp = 0;
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		struct json_object *m = json_object_array_get_idx(mounts, i);
		const char *path = aios_json_str(m, "mountPath");
		int ro = json_object_get_boolean(json_object_object_get(m, "readOnly"));
		if (strcmp(path, "/mnt/pvc/datasets") == 0)
			seen_data = 1, ck_assert(ro);
		if (strcmp(path, "/mnt/pvc/models") == 0)
			seen_models = 1, ck_assert(!ro);
		if (strcmp(path, "/tmp") == 0)
			seen_tmp = 1;
	}
	ck_assert(seen_data && seen_models && seen_tmp);
	int claims = 0;
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		const char *cn = aios_json_str(json_object_array_get_idx(vols, i),
		                               "persistentVolumeClaim.claimName");
		if (cn)
			claims++,
			    ck_assert(strcmp(cn, "datasets") == 0 || strcmp(cn, "models") == 0);
	}
	ck_assert_int_eq(claims, 2);
	json_object_put(pod);

	/* rank 0 listens; a big spec goes to a ConfigMap */
	ck_assert_int_eq(aios_tj_render_pod(job, &s, 0, 0, NULL, 1, &pod), AIOS_OK);
	ck_assert_str_eq(env_of(pod, "AIOS_COORDINATOR"), "0.0.0.0:29500");
	ck_assert_str_eq(env_of(pod, "AIOS_SPEC_FILE"), "/etc/aios/spec/spec.json");
	ck_assert_ptr_null(env_of(pod, "AIOS_SPEC"));
	json_object_put(pod);
	struct json_object *cm;
	ck_assert_int_eq(aios_tj_render_spec_configmap(job, &cm), AIOS_OK);
	ck_assert_str_eq(aios_json_str(cm, "metadata.name"), "mnist-spec-g2");
	struct json_object *data =
	    json_object_object_get(aios_json_lookup(cm, "data"), "spec.json");
	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(strstr(json_object_get_string(data), "\"workers\":2"));
	json_object_put(cm);

	/* out of range rank */
	ck_assert_int_eq(aios_tj_render_pod(job, &s, 2, 0, NULL, 0, &pod), AIOS_ERR_INVALID);
	json_object_put(job);
}
END_TEST

/* A distributed job's pods mount their attempt's Secret read-only; the template cannot
 * override where the trainer reads it; the Secret is owned by the job. */
START_TEST(distributed_pods_mount_the_attempt_secret)
{
	static const char *JOB_ENV =
	    "{\"metadata\":{\"name\":\"mnist\",\"namespace\":\"ml\",\"uid\":\"u-1\","
	    "\"generation\":2},\"spec\":{\"model\":{\"type\":\"linear\"},"
	    "\"distributed\":{\"workers\":2},\"template\":{\"env\":["
	    "{\"name\":\"AIOS_SECRET_FILE\",\"value\":\"/tmp/mine\"},"
	    "{\"name\":\"AIOS_DIST_INSECURE\",\"value\":\"1\"}]}}}";
	struct json_object *job = parse(JOB_ENV);
	struct aios_tj_spec s;
	ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_OK);
	struct json_object *pod;
	ck_assert_int_eq(aios_tj_render_pod(job, &s, 1, 3, "10.244.0.5:29500", 0, &pod), AIOS_OK);
	ck_assert_str_eq(env_of(pod, "AIOS_SECRET_FILE"), AIOS_TJ_SECRET_DIR "/secret");
	ck_assert_ptr_null(env_of(pod, "AIOS_DIST_INSECURE"));
	struct json_object *vols = aios_json_lookup(pod, "spec.volumes");
	const char *secret = NULL;
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		if (strcmp(aios_json_str(v, "name"), AIOS_TJ_SECRET_VOLUME) == 0)
			secret = aios_json_str(v, "secret.secretName");
	}
	ck_assert_str_eq(secret, "mnist-dist-g2-a3");
	struct json_object *mounts = aios_json_lookup(
	    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0), "volumeMounts");
	int ro = 0;
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		struct json_object *mt = json_object_array_get_idx(mounts, i);
		if (strcmp(aios_json_str(mt, "name"), AIOS_TJ_SECRET_VOLUME) == 0)
			ro = strcmp(aios_json_str(mt, "mountPath"), AIOS_TJ_SECRET_DIR) == 0 &&
			     json_object_get_boolean(json_object_object_get(mt, "readOnly"));
	}
	ck_assert_msg(ro, "the secret is not mounted read-only at " AIOS_TJ_SECRET_DIR);
	json_object_put(pod);

	struct json_object *sec;
	ck_assert_int_eq(aios_tj_render_secret(job, 2, 3, "abc", &sec), AIOS_OK);
	ck_assert_str_eq(aios_json_str(sec, "kind"), "Secret");
	ck_assert_str_eq(aios_json_str(sec, "metadata.name"), "mnist-dist-g2-a3");
	ck_assert_str_eq(aios_json_str(sec, "stringData.secret"), "abc");
	struct json_object * or
	    = json_object_array_get_idx(aios_json_lookup(sec, "metadata.ownerReferences"), 0);
	ck_assert_str_eq(aios_json_str(or, "uid"), "u-1");
	ck_assert(json_object_get_boolean(json_object_object_get(or, "controller")));
	json_object_put(sec);

	/* one rank: no secret, nothing mounted */
	struct json_object *one =
	    parse("{\"metadata\":{\"name\":\"solo\",\"uid\":\"u-2\"},\"spec\":{}}");
	ck_assert_int_eq(aios_tj_spec_parse(one, &s), AIOS_OK);
	ck_assert_int_eq(aios_tj_render_pod(one, &s, 0, 0, NULL, 0, &pod), AIOS_OK);
	ck_assert_ptr_null(env_of(pod, "AIOS_SECRET_FILE"));
	json_object_put(pod);
	json_object_put(one);
	json_object_put(job);
}
END_TEST

START_TEST(defaults_when_template_is_empty)
{
	struct json_object *job =
	    parse("{\"metadata\":{\"name\":\"y\",\"namespace\":\"d\",\"uid\":\"u\"},"
	          "\"spec\":{\"output\":{\"uri\":\"pvc://bad_claim/x\"}}}");
	struct aios_tj_spec s;
	ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_OK);
	struct json_object *pod;
	ck_assert_int_eq(aios_tj_render_pod(job, &s, 0, 0, NULL, 0, &pod), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.output.uri"));
	json_object_object_del(aios_json_lookup(job, "spec"), "output");
	ck_assert_int_eq(aios_tj_render_pod(job, &s, 0, 0, NULL, 0, &pod), AIOS_OK);
	struct json_object *c =
	    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0);
	ck_assert_str_eq(aios_json_str(c, "image"), AIOS_TJ_DEFAULT_IMAGE);
	ck_assert_str_eq(
	    json_object_get_string(json_object_array_get_idx(aios_json_lookup(c, "command"), 0)),
	    "aios-trainer");
	ck_assert_ptr_null(aios_json_lookup(pod, "spec.schedulerName"));
	ck_assert_ptr_null(aios_json_lookup(pod, "metadata.annotations"));
	json_object_put(pod);
	json_object_put(job);
}
END_TEST

START_TEST(progress_from_metrics_page)
{
	const char *page = "# HELP aios_trainer_epoch Last finished epoch.\n"
	                   "# TYPE aios_trainer_epoch gauge\n"
	                   "aios_trainer_epoch 3\n"
	                   "aios_trainer_epochs 10\n"
	                   "aios_trainer_epochs_total 99\n"
	                   "aios_trainer_loss{rank=\"0\"} 0.25\n"
	                   "aios_trainer_samples_per_second 1.5e3\n"
	                   "aios_trainer_validation_accuracy 0.875\n";
	struct aios_tj_progress p;
	ck_assert_int_eq(aios_tj_parse_metrics(page, strlen(page), &p), AIOS_OK);
	ck_assert(p.have_epoch && p.have_epochs && p.have_loss && p.have_sps && !p.have_val_loss);
	ck_assert_double_eq(p.epoch, 3);
	ck_assert_double_eq(p.epochs, 10);
	ck_assert_double_eq(p.loss, 0.25);
	ck_assert_double_eq(p.sps, 1500);
	ck_assert(p.have_val_acc);
	ck_assert_double_eq(p.val_acc, 0.875);
	ck_assert_int_eq(aios_tj_parse_metrics("x 1\n", 4, &p), AIOS_ERR_INVALID);
	ck_assert_int_eq(aios_tj_parse_metrics("aios_trainer_loss", 17, &p), AIOS_ERR_INVALID);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trainingjob_render");
	TCase *tc = tcase_create("render");
	tcase_add_test(tc, spec_defaults_and_errors);
	tcase_add_test(tc, pod_names_are_deterministic_and_short);
	tcase_add_test(tc, pod_of_rank_carries_the_contract);
	tcase_add_test(tc, distributed_pods_mount_the_attempt_secret);
	tcase_add_test(tc, defaults_when_template_is_empty);
	tcase_add_test(tc, progress_from_metrics_page);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
