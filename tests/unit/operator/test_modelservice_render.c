/*
 * test_modelservice_render.c - model resolution, revision, pod and Service rendering.
 */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "operator/modelservice.h"

static struct json_object *parse(const char *doc)
{
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(doc, strlen(doc), "test", &o), AIOS_OK);
	return o;
}

#define MS_URI                                                                                     \
	"{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"ModelService\",\"metadata\":{"           \
	"\"name\":\"iris\",\"namespace\":\"ml\",\"uid\":\"u-1\",\"generation\":2},"                \
	"\"spec\":{\"model\":{\"uri\":\"pvc://models/iris/model.aios\",\"sha256\":\""              \
	"ab00000000000000000000000000000000000000000000000000000000000000\"},"                     \
	"\"runtime\":{\"quantize\":\"int8\",\"threads\":4,\"maxBatchSize\":32,"                    \
	"\"maxBatchDelayMicros\":500,\"pruneSparsity\":0.5,\"maxRequestBytes\":65536,"             \
	"\"maxRowsPerRequest\":1000},"                                                             \
	"\"replicas\":{\"min\":1,\"max\":5},\"template\":{\"env\":[{\"name\":\"X\",\"value\":"     \
	"\"1\"},{\"name\":\"AIOS_PVC_ROOT\",\"value\":\"/evil\"}],\"labels\":{\"team\":\"a\","     \
	"\"aios.dev/service\":\"other\"},\"nodeSelector\":{\"disk\":\"ssd\"}}}}"

/* Finds the env var name in container c; NULL if absent. */
static const char *env_of(struct json_object *c, const char *name)
{
	struct json_object *env = aios_json_lookup(c, "env");
	const char *found = NULL;
	for (size_t i = 0; i < json_object_array_length(env); i++) {
		struct json_object *e = json_object_array_get_idx(env, i);
		if (strcmp(aios_json_str(e, "name"), name) == 0) {
			ck_assert_msg(!found, "%s set twice", name);
			found = aios_json_str(e, "value");
		}
	}
	return found;
}

/* The args as one space-separated string. */
static void args_of(struct json_object *c, char *out, size_t n)
{
	struct json_object *a = aios_json_lookup(c, "args");
	out[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		size_t len = strlen(out);
		snprintf(out + len, n - len, "%s%s", i ? " " : "",
		         json_object_get_string(json_object_array_get_idx(a, i)));
	}
}

START_TEST(pod_from_pvc_uri)
{
	struct json_object *ms = parse(MS_URI);
	struct aios_ms_model model;
	aios_ms_resolve_model(ms, NULL, &model);
	ck_assert(model.have);
	ck_assert_str_eq(model.uri, "pvc://models/iris/model.aios");
	char rev[AIOS_MS_REVISION_LEN + 1];
	aios_ms_revision(ms, &model, rev);
	ck_assert_uint_eq(strlen(rev), AIOS_MS_REVISION_LEN);
	struct json_object *pod;
	ck_assert_int_eq(aios_ms_render_pod(ms, &model, rev, 3, &pod), AIOS_OK);

	char want[80];
	snprintf(want, sizeof(want), "iris-%s-3", rev);
	ck_assert_str_eq(aios_json_str(pod, "metadata.name"), want);
	ck_assert_str_eq(aios_json_str(pod, "metadata.namespace"), "ml");
	/* json paths split on '.', so look the labels up by hand */
	struct json_object *labels = aios_json_lookup(pod, "metadata.labels");
	struct json_object *v;
	ck_assert(json_object_object_get_ex(labels, "aios.dev/service", &v));
	ck_assert_str_eq(json_object_get_string(v), "iris"); /* ours beat the template's */
	ck_assert(json_object_object_get_ex(labels, "aios.dev/revision", &v));
	ck_assert_str_eq(json_object_get_string(v), rev);
	ck_assert(json_object_object_get_ex(labels, "team", &v));
	struct json_object *ref =
	    json_object_array_get_idx(aios_json_lookup(pod, "metadata.ownerReferences"), 0);
	ck_assert_str_eq(aios_json_str(ref, "kind"), "ModelService");
	ck_assert_str_eq(aios_json_str(ref, "uid"), "u-1");
	ck_assert(json_object_get_boolean(aios_json_lookup(ref, "controller")));

	ck_assert_ptr_null(aios_json_lookup(pod, "spec.serviceAccountName"));
	ck_assert(
	    !json_object_get_boolean(aios_json_lookup(pod, "spec.automountServiceAccountToken")));
	ck_assert_str_eq(aios_json_str(pod, "spec.restartPolicy"), "Always");
	ck_assert_str_eq(aios_json_str(pod, "spec.nodeSelector.disk"), "ssd");
	ck_assert(
	    json_object_get_boolean(aios_json_lookup(pod, "spec.securityContext.runAsNonRoot")));
	ck_assert_str_eq(aios_json_str(pod, "spec.securityContext.seccompProfile.type"),
	                 "RuntimeDefault");

	struct json_object *c =
	    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0);
	ck_assert_str_eq(aios_json_str(c, "image"), AIOS_MS_DEFAULT_IMAGE);
	char args[1024];
	args_of(c, args, sizeof(args));
	ck_assert_str_eq(
	    args, "--model pvc://models/iris/model.aios --name iris --port 8080 "
	          "--sha256 ab00000000000000000000000000000000000000000000000000000000000000 "
	          "--quantize int8 --prune-sparsity 0.5 --threads 4 --max-batch-size 32 "
	          "--max-batch-delay-us 500 --max-request-bytes 65536 "
	          "--max-rows-per-request 1000");
	ck_assert_str_eq(aios_json_str(c, "readinessProbe.httpGet.path"), "/v2/health/ready");
	ck_assert_str_eq(aios_json_str(c, "livenessProbe.httpGet.path"), "/v2/health/live");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(c, "readinessProbe.httpGet.port")),
	                 8080);
	ck_assert(
	    json_object_get_boolean(aios_json_lookup(c, "securityContext.readOnlyRootFilesystem")));
	ck_assert(!json_object_get_boolean(
	    aios_json_lookup(c, "securityContext.allowPrivilegeEscalation")));
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(
	                     aios_json_lookup(c, "securityContext.capabilities.drop"), 0)),
	                 "ALL");
	ck_assert_str_eq(env_of(c, "AIOS_PVC_ROOT"), "/mnt/pvc"); /* not the template's */
	ck_assert_str_eq(env_of(c, "X"), "1");
	/* the claim, read-only, at /mnt/pvc/<claim> */
	struct json_object *mounts = aios_json_lookup(c, "volumeMounts");
	int found = 0;
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		struct json_object *m = json_object_array_get_idx(mounts, i);
		if (strcmp(aios_json_str(m, "mountPath"), "/mnt/pvc/models") == 0) {
			found = 1;
			ck_assert(json_object_get_boolean(aios_json_lookup(m, "readOnly")));
		}
	}
	ck_assert(found);
	struct json_object *vols = aios_json_lookup(pod, "spec.volumes");
	found = 0;
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		const char *claim = aios_json_str(json_object_array_get_idx(vols, i),
		                                  "persistentVolumeClaim.claimName");
		found |= claim && strcmp(claim, "models") == 0;
	}
	ck_assert(found);
	json_object_put(pod);
	json_object_put(ms);
}
END_TEST

START_TEST(pod_from_http_uri_has_no_claim)
{
	struct json_object *ms =
	    parse("{\"metadata\":{\"name\":\"m\",\"namespace\":\"d\"},\"spec\":"
	          "{\"model\":{\"uri\":\"https://h/m.aios\"},\"template\":{"
	          "\"image\":\"reg/serve:2\",\"serviceAccountName\":\"sa\"}}}");
	struct aios_ms_model model;
	aios_ms_resolve_model(ms, NULL, &model);
	struct json_object *pod;
	ck_assert_int_eq(aios_ms_render_pod(ms, &model, "0123456789", 0, &pod), AIOS_OK);
	struct json_object *c =
	    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0);
	char args[512];
	args_of(c, args, sizeof(args));
	ck_assert_str_eq(args, "--model https://h/m.aios --name m --port 8080");
	ck_assert_str_eq(aios_json_str(c, "image"), "reg/serve:2");
	ck_assert_str_eq(aios_json_str(pod, "spec.serviceAccountName"), "sa");
	ck_assert_int_eq(json_object_array_length(aios_json_lookup(pod, "spec.volumes")), 1);
	json_object_put(pod);
	json_object_put(ms);

	ms = parse(
	    "{\"metadata\":{\"name\":\"m\"},\"spec\":{\"model\":{\"uri\":\"pvc://Bad_Claim/x\"}}}");
	aios_ms_resolve_model(ms, NULL, &model);
	ck_assert_int_eq(aios_ms_render_pod(ms, &model, "0123456789", 0, &pod), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.model.uri"));
	json_object_put(ms);

	/* the pod template policy (render_security.h): no pod from a hostPath template */
	ms = parse("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"model\":{\"uri\":\"https://h/m\"},"
	           "\"template\":{\"volumes\":[{\"name\":\"h\",\"hostPath\":{\"path\":\"/\"}}]}}}");
	aios_ms_resolve_model(ms, NULL, &model);
	ck_assert_int_eq(aios_ms_render_pod(ms, &model, "0123456789", 0, &pod), AIOS_ERR_INVALID);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "spec.template.volumes[0].hostPath"));
	json_object_put(ms);
}
END_TEST

START_TEST(revision_follows_model_and_runtime)
{
	struct json_object *ms = parse(MS_URI);
	struct aios_ms_model model;
	aios_ms_resolve_model(ms, NULL, &model);
	char a[AIOS_MS_REVISION_LEN + 1], b[AIOS_MS_REVISION_LEN + 1];
	aios_ms_revision(ms, &model, a);
	aios_ms_revision(ms, &model, b);
	ck_assert_str_eq(a, b);
	model.sha256[0] = 'c';
	aios_ms_revision(ms, &model, b);
	ck_assert_str_ne(a, b);
	model.sha256[0] = 'a';
	aios_json_set(ms, "spec.runtime.threads", json_object_new_int(8));
	aios_ms_revision(ms, &model, b);
	ck_assert_str_ne(a, b);
	/* replicas and autoscaling are not part of what a pod runs */
	aios_json_set(ms, "spec.runtime.threads", json_object_new_int(4));
	aios_json_set(ms, "spec.replicas.max", json_object_new_int(9));
	aios_ms_revision(ms, &model, b);
	ck_assert_str_eq(a, b);
	json_object_put(ms);
}
END_TEST

START_TEST(resolve_from_training_job)
{
	struct json_object *ms = parse("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"model\":{"
	                               "\"trainingJob\":\"job\"}}}");
	struct aios_ms_model model;
	aios_ms_resolve_model(ms, NULL, &model);
	ck_assert(!model.have);
	ck_assert_str_eq(model.reason, "TrainingJobNotFound");

	struct json_object *tj = parse("{\"status\":{\"phase\":\"Running\"}}");
	aios_ms_resolve_model(ms, tj, &model);
	ck_assert(!model.have);
	ck_assert_str_eq(model.reason, "WaitingForTrainingJob");
	ck_assert_ptr_nonnull(strstr(model.message, "Running"));
	json_object_put(tj);

	tj = parse("{\"status\":{\"phase\":\"Succeeded\",\"artifact\":{\"uri\":\"pvc://out/a\","
	           "\"sha256\":\"ff\"}}}");
	aios_ms_resolve_model(ms, tj, &model);
	ck_assert(model.have);
	ck_assert_ptr_null(model.reason);
	ck_assert_str_eq(model.uri, "pvc://out/a");
	ck_assert_str_eq(model.sha256, "ff");
	json_object_put(tj);

	/* A re-run: keep serving what status.model says. */
	aios_json_set(ms, "status.model.uri", json_object_new_string("pvc://out/a"));
	aios_json_set(ms, "status.model.sha256", json_object_new_string("ff"));
	tj = parse("{\"status\":{\"phase\":\"Failed\"}}");
	aios_ms_resolve_model(ms, tj, &model);
	ck_assert(model.have);
	ck_assert_str_eq(model.reason, "TrainingJobFailed");
	ck_assert_str_eq(model.sha256, "ff");
	json_object_put(tj);
	json_object_put(ms);
}
END_TEST

/* spec.model.format onnx serves the job's ONNX twin, and says what to do when the job
 * wrote none. */
START_TEST(resolve_onnx_output_of_training_job)
{
	struct json_object *ms = parse("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"model\":{"
	                               "\"trainingJob\":\"job\",\"format\":\"onnx\"}}}");
	struct aios_ms_model model;
	struct json_object *tj =
	    parse("{\"status\":{\"phase\":\"Succeeded\",\"artifact\":{\"uri\":\"pvc://out/a.aios\","
	          "\"sha256\":\"ff\",\"onnx\":{\"uri\":\"pvc://out/a.onnx\",\"sha256\":\"ee\"}}}}");
	aios_ms_resolve_model(ms, tj, &model);
	ck_assert(model.have);
	ck_assert_str_eq(model.uri, "pvc://out/a.onnx");
	ck_assert_str_eq(model.sha256, "ee");
	json_object_put(tj);

	tj =
	    parse("{\"status\":{\"phase\":\"Succeeded\",\"artifact\":{\"uri\":\"pvc://out/a.aios\","
	          "\"sha256\":\"ff\"}}}");
	aios_ms_resolve_model(ms, tj, &model);
	ck_assert(!model.have);
	ck_assert_str_eq(model.reason, "ArtifactMissing");
	ck_assert_msg(strstr(model.message, "no status.artifact.onnx.uri") &&
	                  strstr(model.message, "spec.output.formats"),
	              "%s", model.message);
	json_object_put(tj);
	json_object_put(ms);
}
END_TEST

START_TEST(names_and_service)
{
	char *n = aios_ms_pod_name("a-very-long-model-service-name-that-goes-on-and-on-and-on-x",
	                           "0123456789", 12);
	ck_assert_uint_le(strlen(n), AIOS_MS_NAME_MAX);
	ck_assert_ptr_nonnull(strstr(n, "-0123456789-12"));
	free(n);
	struct json_object *ms = parse(MS_URI);
	char *url = aios_ms_url(ms);
	ck_assert_str_eq(url, "http://iris.ml.svc.cluster.local");
	free(url);
	struct json_object *svc = aios_ms_render_service(ms);
	ck_assert_str_eq(aios_json_str(svc, "metadata.name"), "iris");
	ck_assert_str_eq(aios_json_str(svc, "spec.type"), "ClusterIP");
	struct json_object *port =
	    json_object_array_get_idx(aios_json_lookup(svc, "spec.ports"), 0);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(port, "port")), 80);
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(port, "targetPort")), 8080);
	struct json_object *sel = aios_json_lookup(svc, "spec.selector"), *v;
	ck_assert(json_object_object_get_ex(sel, "aios.dev/service", &v));
	ck_assert_str_eq(json_object_get_string(v), "iris");
	ck_assert_int_eq(json_object_object_length(sel), 1); /* every revision serves */
	json_object_put(svc);
	json_object_put(ms);
}
END_TEST

static Suite *ms_render_suite(void)
{
	Suite *s = suite_create("modelservice_render");
	TCase *tc = tcase_create("render");
	tcase_add_test(tc, pod_from_pvc_uri);
	tcase_add_test(tc, pod_from_http_uri_has_no_claim);
	tcase_add_test(tc, revision_follows_model_and_runtime);
	tcase_add_test(tc, resolve_from_training_job);
	tcase_add_test(tc, resolve_onnx_output_of_training_job);
	tcase_add_test(tc, names_and_service);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(ms_render_suite)
