/*
 * modelservice_render.c - which model a ModelService serves, and the inference pods
 * and Service that serve it (see modelservice.h). Pure: JSON in, JSON out.
 */
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/mem.h"
#include "operator/modelservice.h"
#include "operator/render_security.h"

/* ============================== the model ============================== */

static void set_model(struct aios_ms_model *m, const char *uri, const char *sha)
{
	m->have = 1;
	snprintf(m->uri, sizeof(m->uri), "%s", uri);
	snprintf(m->sha256, sizeof(m->sha256), "%s", sha ? sha : "");
}

/* Falls back to the model the service already serves (status.model), if any. */
static void keep_served(struct json_object *ms, struct aios_ms_model *m)
{
	const char *uri = aios_json_str(ms, "status.model.uri");
	if (uri && *uri)
		set_model(m, uri, aios_json_str(ms, "status.model.sha256"));
}

void aios_ms_resolve_model(struct json_object *ms, struct json_object *tj,
                           struct aios_ms_model *out)
{
	memset(out, 0, sizeof(*out));
	const char *job = aios_json_str(ms, "spec.model.trainingJob");
	if (!job || !*job) {
		const char *uri = aios_json_str(ms, "spec.model.uri");
		if (uri && *uri) {
			set_model(out, uri, aios_json_str(ms, "spec.model.sha256"));
		} else {
			out->reason = "InvalidSpec";
			snprintf(out->message, sizeof(out->message),
			         "spec.model: set one of trainingJob or uri");
		}
		return;
	}
	/* spec.model.format picks which of the job's outputs: the artifact or its ONNX twin */
	const char *format = aios_json_str(ms, "spec.model.format");
	int onnx = format && strcmp(format, "onnx") == 0;
	const char *at = onnx ? "status.artifact.onnx" : "status.artifact";
	char key[64];
	const char *phase = tj ? aios_json_str(tj, "status.phase") : NULL;
	snprintf(key, sizeof(key), "%s.uri", at);
	const char *auri = tj ? aios_json_str(tj, key) : NULL;
	if (phase && strcmp(phase, "Succeeded") == 0 && auri && *auri) {
		snprintf(key, sizeof(key), "%s.sha256", at);
		set_model(out, auri, aios_json_str(tj, key));
		return;
	}
	keep_served(ms, out);
	const char *served = out->have ? "; serving the previous artifact meanwhile" : "";
	if (!tj) {
		out->reason = "TrainingJobNotFound";
		snprintf(out->message, sizeof(out->message), "TrainingJob %s not found%s", job,
		         served);
	} else if (phase && strcmp(phase, "Failed") == 0) {
		out->reason = "TrainingJobFailed";
		snprintf(out->message, sizeof(out->message), "TrainingJob %s failed%s", job,
		         served);
	} else if (phase && strcmp(phase, "Succeeded") == 0) {
		out->reason = "ArtifactMissing";
		snprintf(out->message, sizeof(out->message),
		         "TrainingJob %s succeeded but has no %s.uri%s%s", job, at,
		         onnx ? " (spec.model.format is onnx: list onnx in the job's "
		                "spec.output.formats)"
		              : "",
		         served);
	} else {
		out->reason = "WaitingForTrainingJob";
		snprintf(out->message, sizeof(out->message),
		         "waiting for TrainingJob %s to succeed (phase %s)%s", job,
		         phase ? phase : "unknown", served);
	}
}

void aios_ms_revision(struct json_object *ms, const struct aios_ms_model *model,
                      char out[AIOS_MS_REVISION_LEN + 1])
{
	struct aios_sha256 *h = aios_sha256_new();
	aios_sha256_update(h, model->uri, strlen(model->uri) + 1);
	aios_sha256_update(h, model->sha256, strlen(model->sha256) + 1);
	static const char *const parts[] = {"spec.runtime", "spec.template"};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		struct json_object *v = aios_json_lookup(ms, parts[i]);
		const char *s = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "";
		aios_sha256_update(h, s, strlen(s) + 1);
	}
	uint8_t d[AIOS_SHA256_LEN];
	char hex[AIOS_SHA256_HEX];
	aios_sha256_final(h, d);
	aios_sha256_hex(d, hex);
	memcpy(out, hex, AIOS_MS_REVISION_LEN);
	out[AIOS_MS_REVISION_LEN] = '\0';
}

char *aios_ms_pod_name(const char *service, const char *revision, int index)
{
	char tail[48];
	snprintf(tail, sizeof(tail), "-%s-%d", revision, index);
	size_t room = AIOS_MS_NAME_MAX - strlen(tail);
	size_t n = strlen(service);
	if (n > room)
		n = room;
	while (n > 0 && (service[n - 1] == '-' || service[n - 1] == '.'))
		n--; /* a DNS label does not end with '-' before our suffix */
	return aios_xasprintf("%.*s%s", (int)n, service, tail);
}

char *aios_ms_url(struct json_object *ms)
{
	const char *ns = aios_json_str(ms, "metadata.namespace");
	return aios_xasprintf("http://%s.%s.svc.cluster.local", aios_json_str(ms, "metadata.name"),
	                      ns ? ns : "default");
}

/* ============================== pods ============================== */

/* Probes on aios-serve's V2 health endpoints. Readiness is checked every second so a
 * warmed pod takes traffic (and lets an old one go) quickly; liveness tolerates 30 s of
 * silence before a restart. */
static const char READINESS[] = "{\"httpGet\":{\"path\":\"/v2/health/ready\",\"port\":8080},"
                                "\"periodSeconds\":1,\"timeoutSeconds\":1,\"failureThreshold\":3}";
static const char LIVENESS[] = "{\"httpGet\":{\"path\":\"/v2/health/live\",\"port\":8080},"
                               "\"initialDelaySeconds\":10,\"periodSeconds\":10,"
                               "\"timeoutSeconds\":2,\"failureThreshold\":3}";

static struct json_object *literal(const char *s)
{
	return json_tokener_parse(s); /* our own constants: cannot fail */
}

static void put_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static void add_arg(struct json_object *args, const char *flag, const char *value)
{
	json_object_array_add(args, json_object_new_string(flag));
	if (value)
		json_object_array_add(args, json_object_new_string(value));
}

/* Adds "--flag N" when spec.runtime.<key> is set. */
static void add_num_arg(struct json_object *args, struct json_object *rt, const char *key,
                        const char *flag)
{
	struct json_object *v = aios_json_lookup(rt, key);
	if (!v || json_object_is_type(v, json_type_null))
		return;
	char num[64];
	if (json_object_is_type(v, json_type_double))
		snprintf(num, sizeof(num), "%.17g", json_object_get_double(v));
	else
		snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(v));
	add_arg(args, flag, num);
}

/* Copies tmpl.<key> into dst when present and not null. */
static void pass(struct json_object *dst, struct json_object *tmpl, const char *key)
{
	struct json_object *v = aios_json_lookup(tmpl, key);
	if (v && !json_object_is_type(v, json_type_null))
		json_object_object_add(dst, key, aios_json_copy(v));
}

/* Adds the string entries of src to dst unless dst has the key (ours win). */
static void add_missing_strings(struct json_object *dst, struct json_object *src)
{
	if (!src || !json_object_is_type(src, json_type_object))
		return;
	json_object_object_foreach(src, k, v)
	{
		if (json_object_is_type(v, json_type_string) &&
		    !json_object_object_get_ex(dst, k, NULL))
			json_object_object_add(dst, k, json_object_get(v));
	}
}

static struct json_object *controller_ref(struct json_object *ms)
{
	struct json_object *r = json_object_new_object();
	put_str(r, "apiVersion", "aios.dev/v1alpha1");
	put_str(r, "kind", "ModelService");
	put_str(r, "name", aios_json_str(ms, "metadata.name"));
	const char *uid = aios_json_str(ms, "metadata.uid");
	put_str(r, "uid", uid ? uid : "");
	json_object_object_add(r, "controller", json_object_new_boolean(1));
	json_object_object_add(r, "blockOwnerDeletion", json_object_new_boolean(1));
	struct json_object *a = json_object_new_array();
	json_object_array_add(a, r);
	return a;
}

/* Claim of a pvc:// URI into claim (n bytes); 0 for other schemes, -1 if malformed. */
static int pvc_claim(const char *uri, char *claim, size_t n)
{
	if (strncmp(uri, "pvc://", 6) != 0)
		return 0;
	const char *p = uri + 6, *slash = strchr(p, '/');
	size_t len = slash ? (size_t)(slash - p) : 0;
	if (len == 0 || len >= n || len > 253 || !slash[1])
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' ||
		      p[i] == '.'))
			return -1;
	memcpy(claim, p, len);
	claim[len] = '\0';
	return 1;
}

static struct json_object *metadata(struct json_object *ms, const char *name)
{
	struct json_object *md = json_object_new_object();
	put_str(md, "name", name);
	const char *ns = aios_json_str(ms, "metadata.namespace");
	if (ns)
		put_str(md, "namespace", ns);
	json_object_object_add(md, "ownerReferences", controller_ref(ms));
	return md;
}

static struct json_object *container(struct json_object *ms, const struct aios_ms_model *model,
                                     const char *claim)
{
	struct json_object *tmpl = aios_json_lookup(ms, "spec.template");
	struct json_object *rt = aios_json_lookup(ms, "spec.runtime");
	struct json_object *c = json_object_new_object();
	put_str(c, "name", AIOS_MS_CONTAINER);
	const char *image = aios_json_str(tmpl, "image");
	put_str(c, "image", image && *image ? image : AIOS_MS_DEFAULT_IMAGE);
	pass(c, tmpl, "imagePullPolicy");
	struct json_object *cmd = json_object_new_array();
	json_object_array_add(cmd, json_object_new_string("aios-serve"));
	json_object_object_add(c, "command", cmd);

	struct json_object *args = json_object_new_array();
	add_arg(args, "--model", model->uri);
	add_arg(args, "--name", aios_json_str(ms, "metadata.name"));
	add_arg(args, "--port", "8080");
	if (model->sha256[0])
		add_arg(args, "--sha256", model->sha256);
	const char *q = aios_json_str(rt, "quantize");
	if (q && strcmp(q, "none") != 0)
		add_arg(args, "--quantize", q);
	add_num_arg(args, rt, "pruneSparsity", "--prune-sparsity");
	add_num_arg(args, rt, "threads", "--threads");
	add_num_arg(args, rt, "maxBatchSize", "--max-batch-size");
	add_num_arg(args, rt, "maxBatchDelayMicros", "--max-batch-delay-us");
	add_num_arg(args, rt, "maxRequestBytes", "--max-request-bytes");
	add_num_arg(args, rt, "maxRowsPerRequest", "--max-rows-per-request");
	json_object_object_add(c, "args", args);

	struct json_object *ports = literal("[{\"name\":\"http\",\"containerPort\":8080,"
	                                    "\"protocol\":\"TCP\"}]");
	json_object_object_add(c, "ports", ports);
	json_object_object_add(c, "readinessProbe", literal(READINESS));
	json_object_object_add(c, "livenessProbe", literal(LIVENESS));
	pass(c, tmpl, "resources");
	json_object_object_add(
	    c, "securityContext",
	    aios_render_container_security(aios_json_lookup(tmpl, "securityContext")));
	put_str(c, "terminationMessagePath", "/dev/termination-log");
	put_str(c, "terminationMessagePolicy", "FallbackToLogsOnError");

	/* environment: the template's (AIOS_* names are ours), then the contract */
	struct json_object *env = json_object_new_array();
	struct json_object *tenv = aios_json_lookup(tmpl, "env");
	for (size_t i = 0; tenv && json_object_is_type(tenv, json_type_array) &&
	                   i < json_object_array_length(tenv);
	     i++) {
		struct json_object *ev = json_object_array_get_idx(tenv, i);
		const char *n = aios_json_str(ev, "name");
		if (n && strncmp(n, "AIOS_", 5) != 0)
			json_object_array_add(env, aios_json_copy(ev));
	}
	static const char *const ours[][2] = {{"AIOS_PVC_ROOT", AIOS_MS_PVC_ROOT}};
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		struct json_object *ev = json_object_new_object();
		put_str(ev, "name", ours[i][0]);
		put_str(ev, "value", ours[i][1]);
		json_object_array_add(env, ev);
	}
	struct json_object *ev = json_object_new_object();
	put_str(ev, "name", "AIOS_SERVICE");
	put_str(ev, "value", aios_json_str(ms, "metadata.name"));
	json_object_array_add(env, ev);
	json_object_object_add(c, "env", env);

	/* a writable /tmp (the root is read-only), the model's claim read-only, the template's */
	struct json_object *mounts = literal("[{\"name\":\"tmp\",\"mountPath\":\"/tmp\"}]");
	if (claim) {
		struct json_object *m = json_object_new_object();
		put_str(m, "name", "model");
		char *path = aios_xasprintf("%s/%s", AIOS_MS_PVC_ROOT, claim);
		put_str(m, "mountPath", path);
		free(path);
		json_object_object_add(m, "readOnly", json_object_new_boolean(1));
		json_object_array_add(mounts, m);
	}
	struct json_object *tm = aios_json_lookup(tmpl, "volumeMounts");
	for (size_t i = 0;
	     tm && json_object_is_type(tm, json_type_array) && i < json_object_array_length(tm);
	     i++)
		json_object_array_add(mounts, aios_json_copy(json_object_array_get_idx(tm, i)));
	json_object_object_add(c, "volumeMounts", mounts);
	return c;
}

enum aios_err aios_ms_render_pod(struct json_object *ms, const struct aios_ms_model *model,
                                 const char *rev, int index, struct json_object **out)
{
	*out = NULL;
	const char *name = aios_json_str(ms, "metadata.name");
	if (!name || !*name)
		return aios_fail(AIOS_ERR_INVALID, "modelservice: metadata.name missing");
	enum aios_err pe =
	    aios_render_policy_check(aios_json_lookup(ms, "spec.template"), "spec.template");
	if (pe)
		return pe;
	char claim[254];
	int pvc = pvc_claim(model->uri, claim, sizeof(claim));
	if (pvc < 0)
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "spec.model.uri: \"%s\" is not pvc://CLAIM/PATH with a valid claim name",
		    model->uri);
	struct json_object *tmpl = aios_json_lookup(ms, "spec.template");

	struct json_object *pod = json_object_new_object();
	put_str(pod, "apiVersion", "v1");
	put_str(pod, "kind", "Pod");
	char *pname = aios_ms_pod_name(name, rev, index);
	struct json_object *md = metadata(ms, pname);
	free(pname);
	json_object_object_add(pod, "metadata", md);
	struct json_object *labels = json_object_new_object();
	put_str(labels, AIOS_MS_LABEL_SERVICE, name);
	put_str(labels, AIOS_MS_LABEL_REVISION, rev);
	put_str(labels, "app.kubernetes.io/name", "aios-serve");
	put_str(labels, "app.kubernetes.io/managed-by", "aios-operator");
	add_missing_strings(labels, aios_json_lookup(tmpl, "labels"));
	json_object_object_add(md, "labels", labels);
	struct json_object *ann = aios_json_lookup(tmpl, "annotations");
	if (ann && json_object_is_type(ann, json_type_object))
		json_object_object_add(md, "annotations", aios_json_copy(ann));

	struct json_object *ps = json_object_new_object();
	json_object_object_add(pod, "spec", ps);
	put_str(ps, "restartPolicy", "Always");
	json_object_object_add(ps, "terminationGracePeriodSeconds",
	                       json_object_new_int(AIOS_MS_GRACE_S));
	json_object_object_add(ps, "enableServiceLinks", json_object_new_boolean(0));
	json_object_object_add(ps, "automountServiceAccountToken", json_object_new_boolean(0));
	/* Without a template account the pod runs as the namespace's "default" account with
	 * no token mounted: no API rights, and nothing to create before a first service. */
	const char *sa = aios_json_str(tmpl, "serviceAccountName");
	if (sa && *sa)
		put_str(ps, "serviceAccountName", sa);
	static const char *const passed[] = {"nodeSelector",  "tolerations",
	                                     "affinity",      "priorityClassName",
	                                     "schedulerName", "imagePullSecrets"};
	for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
		pass(ps, tmpl, passed[i]);
	json_object_object_add(
	    ps, "securityContext",
	    aios_render_pod_security(aios_json_lookup(tmpl, "podSecurityContext")));

	struct json_object *cs = json_object_new_array();
	json_object_array_add(cs, container(ms, model, pvc ? claim : NULL));
	json_object_object_add(ps, "containers", cs);

	struct json_object *vols = literal("[{\"name\":\"tmp\",\"emptyDir\":{}}]");
	if (pvc) {
		struct json_object *v = json_object_new_object(), *src = json_object_new_object();
		put_str(v, "name", "model");
		put_str(src, "claimName", claim);
		json_object_object_add(src, "readOnly", json_object_new_boolean(1));
		json_object_object_add(v, "persistentVolumeClaim", src);
		json_object_array_add(vols, v);
	}
	struct json_object *tv = aios_json_lookup(tmpl, "volumes");
	for (size_t i = 0;
	     tv && json_object_is_type(tv, json_type_array) && i < json_object_array_length(tv);
	     i++)
		json_object_array_add(vols, aios_json_copy(json_object_array_get_idx(tv, i)));
	json_object_object_add(ps, "volumes", vols);
	*out = pod;
	return AIOS_OK;
}

struct json_object *aios_ms_render_service(struct json_object *ms)
{
	const char *name = aios_json_str(ms, "metadata.name");
	struct json_object *svc = json_object_new_object();
	put_str(svc, "apiVersion", "v1");
	put_str(svc, "kind", "Service");
	struct json_object *md = metadata(ms, name);
	struct json_object *labels = json_object_new_object();
	put_str(labels, AIOS_MS_LABEL_SERVICE, name);
	put_str(labels, "app.kubernetes.io/managed-by", "aios-operator");
	json_object_object_add(md, "labels", labels);
	json_object_object_add(svc, "metadata", md);
	struct json_object *spec = json_object_new_object();
	put_str(spec, "type", "ClusterIP");
	struct json_object *sel = json_object_new_object();
	put_str(sel, AIOS_MS_LABEL_SERVICE, name);
	json_object_object_add(spec, "selector", sel);
	json_object_object_add(spec, "ports",
	                       literal("[{\"name\":\"http\",\"port\":80,\"targetPort\":8080,"
	                               "\"protocol\":\"TCP\"}]"));
	json_object_object_add(svc, "spec", spec);
	return svc;
}

/* ============================== pod state ============================== */

int aios_ms_pod_terminating(struct json_object *pod)
{
	return aios_json_lookup(pod, "metadata.deletionTimestamp") != NULL &&
	       !json_object_is_type(aios_json_lookup(pod, "metadata.deletionTimestamp"),
	                            json_type_null);
}

int aios_ms_pod_ready(struct json_object *pod)
{
	if (aios_ms_pod_terminating(pod))
		return 0;
	const char *phase = aios_json_str(pod, "status.phase");
	if (!phase || strcmp(phase, "Running") != 0)
		return 0;
	struct json_object *conds = aios_json_lookup(pod, "status.conditions");
	for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) &&
	                   i < json_object_array_length(conds);
	     i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		const char *type = aios_json_str(c, "type"), *st = aios_json_str(c, "status");
		if (type && strcmp(type, "Ready") == 0)
			return st && strcmp(st, "True") == 0;
	}
	return 0;
}
