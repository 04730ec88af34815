/*
 * trainingjob_render.c - what a TrainingJob's children look like: the spec's run
 * policy, the gang's roles, pod names, the pod of one rank, the spec ConfigMap, and
 * the progress read from rank 0's metrics page. Pure functions (see trainingjob.h).
 */
#include "operator/trainingjob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/json.h"
#include "common/mem.h"
#include "http/promtext.h"
#include "operator/render_security.h"

/* ============================== the spec ============================== */

static enum aios_err opt_enum(struct json_object *job, const char *path, const char *const *names,
                              int n, int dflt, int *out)
{
	const char *s;
	enum aios_err e = aios_json_opt_string(job, path, NULL, &s);
	if (e)
		return e;
	if (!s) {
		*out = dflt;
		return AIOS_OK;
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return AIOS_OK;
		}
	}
	return aios_fail(AIOS_ERR_INVALID, "%s: unknown value \"%s\"", path, s);
}

enum aios_err aios_tj_spec_parse(struct json_object *job, struct aios_tj_spec *out)
{
	static const char *const strategies[] = {"allreduce", "parameter-server", "pipeline"};
	static const char *const cleans[] = {"Running", "All", "None"};
	memset(out, 0, sizeof(*out));
	if (!aios_json_lookup(job, "spec"))
		return aios_fail(AIOS_ERR_INVALID, "spec: missing");
	int strategy = 0, clean = 0; /* set by opt_enum; gcc -O3 cannot see it */
	int64_t workers, ps;
	enum aios_err e;
	if ((e = opt_enum(job, "spec.distributed.strategy", strategies, 3, 0, &strategy)) ||
	    (e = opt_enum(job, "spec.runPolicy.cleanPodPolicy", cleans, 3, 0, &clean)) ||
	    (e = aios_json_opt_int(job, "spec.distributed.workers", 1, &workers)) ||
	    (e = aios_json_opt_int(job, "spec.distributed.parameterServers", 1, &ps)) ||
	    (e = aios_json_opt_int(job, "spec.runPolicy.backoffLimit", 3, &out->backoff_limit)) ||
	    (e = aios_json_opt_int(job, "spec.runPolicy.activeDeadlineSeconds", 0,
	                           &out->deadline_s)) ||
	    (e = aios_json_opt_int(job, "spec.runPolicy.ttlSecondsAfterFinished", -1,
	                           &out->ttl_s)) ||
	    (e = aios_json_opt_bool(job, "spec.runPolicy.suspend", 0, &out->suspend)))
		return e;
	out->strategy = (enum aios_tj_strategy)strategy;
	out->clean = (enum aios_tj_clean)clean;
	if (workers < 1 || workers > AIOS_TJ_MAX_WORLD)
		return aios_fail(AIOS_ERR_INVALID, "spec.distributed.workers: %lld is not in 1..%d",
		                 (long long)workers, AIOS_TJ_MAX_WORLD);
	if (out->strategy != AIOS_TJ_PARAMETER_SERVER)
		ps = 0;
	else if (ps < 1 || workers + ps > AIOS_TJ_MAX_WORLD)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.distributed.parameterServers: %lld is not in 1..%lld",
		                 (long long)ps, (long long)(AIOS_TJ_MAX_WORLD - workers));
	if (out->backoff_limit < 0)
		return aios_fail(AIOS_ERR_INVALID, "spec.runPolicy.backoffLimit: %lld is negative",
		                 (long long)out->backoff_limit);
	if (out->deadline_s < 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.runPolicy.activeDeadlineSeconds: %lld is negative",
		                 (long long)out->deadline_s);
	if (out->ttl_s < -1)
		out->ttl_s = -1;
	out->workers = (int)workers;
	out->ps = (int)ps;
	out->world = (int)(workers + ps);
	return aios_render_policy_check(aios_json_lookup(job, "spec.template"), "spec.template");
}

enum aios_tj_role aios_tj_rank_role(const struct aios_tj_spec *s, int rank)
{
	if (rank >= s->workers)
		return AIOS_TJ_PS;
	return s->strategy == AIOS_TJ_PIPELINE ? AIOS_TJ_STAGE : AIOS_TJ_WORKER;
}

const char *aios_tj_role_name(enum aios_tj_role r)
{
	switch (r) {
	case AIOS_TJ_WORKER: return "worker";
	case AIOS_TJ_PS: return "ps";
	case AIOS_TJ_STAGE: return "stage";
	}
	return "worker";
}

static const char *role_short(enum aios_tj_role r)
{
	return r == AIOS_TJ_PS ? "ps" : r == AIOS_TJ_STAGE ? "s" : "w";
}

/* ============================== names ============================== */

/*
 * base + suffix, fitting in AIOS_TJ_NAME_MAX: when too long, base is cut and
 * "-<8 hex of sha256(base)>" keeps names of different long jobs apart.
 */
static char *fit_name(const char *base, const char *suffix)
{
	size_t bl = strlen(base), sl = strlen(suffix);
	if (bl + sl <= AIOS_TJ_NAME_MAX)
		return aios_xasprintf("%s%s", base, suffix);
	uint8_t d[AIOS_SHA256_LEN];
	char hex[AIOS_SHA256_HEX];
	aios_sha256(base, bl, d);
	aios_sha256_hex(d, hex);
	size_t keep = AIOS_TJ_NAME_MAX - sl - 9; /* "-" + 8 hex */
	return aios_xasprintf("%.*s-%.8s%s", (int)keep, base, hex, suffix);
}

char *aios_tj_pod_name(const char *job, enum aios_tj_role role, int rank, int64_t generation,
                       int attempt)
{
	char suffix[64];
	snprintf(suffix, sizeof(suffix), "-g%llda%d-%s%d", (long long)generation, attempt,
	         role_short(role), rank);
	return fit_name(job, suffix);
}

char *aios_tj_spec_configmap_name(const char *job, int64_t generation)
{
	char suffix[40];
	snprintf(suffix, sizeof(suffix), "-spec-g%lld", (long long)generation);
	return fit_name(job, suffix);
}

char *aios_tj_secret_name(const char *job, int64_t generation, int attempt)
{
	char suffix[48];
	snprintf(suffix, sizeof(suffix), "-dist-g%lld-a%d", (long long)generation, attempt);
	return fit_name(job, suffix);
}

/* ============================== pods ============================== */

static struct json_object *jstr(const char *s)
{
	return json_object_new_string(s);
}

static void add_env(struct json_object *env, const char *name, const char *value)
{
	struct json_object *v = json_object_new_object();
	json_object_object_add(v, "name", jstr(name));
	json_object_object_add(v, "value", jstr(value));
	json_object_array_add(env, v);
}

static struct json_object *owner_ref(struct json_object *job)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "apiVersion", jstr("aios.dev/v1alpha1"));
	json_object_object_add(o, "kind", jstr("TrainingJob"));
	json_object_object_add(o, "name", jstr(aios_json_str(job, "metadata.name")));
	const char *uid = aios_json_str(job, "metadata.uid");
	json_object_object_add(o, "uid", jstr(uid ? uid : ""));
	json_object_object_add(o, "controller", json_object_new_boolean(1));
	json_object_object_add(o, "blockOwnerDeletion", json_object_new_boolean(1));
	struct json_object *arr = json_object_new_array();
	json_object_array_add(arr, o);
	return arr;
}

/* Copies template.<key> into dst[key] when present and not null. */
static void copy_field(struct json_object *dst, struct json_object *tmpl, const char *key)
{
	struct json_object *v = aios_json_lookup(tmpl, key);
	if (v && !json_object_is_type(v, json_type_null))
		json_object_object_add(dst, key, aios_json_copy(v));
}

/* Appends every element of array src (may be NULL) to dst as copies. */
static void append_all(struct json_object *dst, struct json_object *src)
{
	if (!src || !json_object_is_type(src, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(src); i++)
		json_object_array_add(dst, aios_json_copy(json_object_array_get_idx(src, i)));
}

/* Copies string entries of object src (may be NULL) into dst, keeping dst's own keys. */
static void merge_strings(struct json_object *dst, struct json_object *src)
{
	if (!src || !json_object_is_type(src, json_type_object))
		return;
	json_object_object_foreach(src, k, v)
	{
		if (json_object_is_type(v, json_type_string) &&
		    !json_object_object_get_ex(dst, k, NULL))
			json_object_object_add(dst, k, aios_json_copy(v));
	}
}

/* The claims named by pvc:// URIs of the spec, in order, without repeats. */
struct claims {
	char name[4][254];
	int writable[4];
	int n;
};

static enum aios_err claim_of(struct json_object *spec, const char *path, int writable,
                              struct claims *c)
{
	const char *uri = aios_json_str(spec, path + strlen("spec."));
	if (!uri || strncmp(uri, "pvc://", 6) != 0)
		return AIOS_OK;
	const char *p = uri + 6, *slash = strchr(p, '/');
	size_t n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n > 253)
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s: \"%s\" names no valid claim (pvc://CLAIM/PATH)", path, uri);
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '.'))
			return aios_fail(AIOS_ERR_INVALID,
			                 "%s: claim name in \"%s\" must be lower-case letters, "
			                 "digits, '-' or '.'",
			                 path, uri);
	}
	for (int i = 0; i < c->n; i++) {
		if (strlen(c->name[i]) == n && memcmp(c->name[i], p, n) == 0) {
			c->writable[i] |= writable;
			return AIOS_OK;
		}
	}
	if (c->n == 4)
		return AIOS_OK;
	memcpy(c->name[c->n], p, n);
	c->name[c->n][n] = '\0';
	c->writable[c->n] = writable;
	c->n++;
	return AIOS_OK;
}

static void add_volume(struct json_object *vols, struct json_object *mounts, const char *name,
                       struct json_object *source_key, struct json_object *source,
                       const char *mount_path, int read_only)
{
	struct json_object *v = json_object_new_object();
	json_object_object_add(v, "name", jstr(name));
	json_object_object_add(v, json_object_get_string(source_key), source);
	json_object_array_add(vols, v);
	json_object_put(source_key);
	struct json_object *m = json_object_new_object();
	json_object_object_add(m, "name", jstr(name));
	json_object_object_add(m, "mountPath", jstr(mount_path));
	if (read_only)
		json_object_object_add(m, "readOnly", json_object_new_boolean(1));
	json_object_array_add(mounts, m);
}

static int is_reserved_env(const char *name)
{
	static const char *const ours[] = {
	    "AIOS_JOB",    "AIOS_NAMESPACE",    "AIOS_RANK",     "AIOS_WORLD_SIZE",
	    "AIOS_ROLE",   "AIOS_COORDINATOR",  "AIOS_ATTEMPT",  "AIOS_GENERATION",
	    "AIOS_SPEC",   "AIOS_SPEC_FILE",    "AIOS_PVC_ROOT", "AIOS_SECRET_FILE",
	    "AIOS_SECRET", "AIOS_DIST_INSECURE"};
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (strcmp(name, ours[i]) == 0)
			return 1;
	return 0;
}

enum aios_err aios_tj_unit_of_job(struct json_object *job, const struct aios_tj_spec *s,
                                  struct aios_tj_unit *out)
{
	*out = (struct aios_tj_unit){
	    .job = job, .rs = s, .spec = aios_json_lookup(job, "spec"), .trial = -1};
	out->name = aios_json_str(job, "metadata.name");
	if (!out->name || !*out->name)
		return aios_fail(AIOS_ERR_INVALID, "trainingjob: metadata.name missing");
	if (aios_json_opt_int(job, "metadata.generation", 1, &out->generation))
		return AIOS_ERR_INVALID;
	return AIOS_OK;
}

/* The labels every child of a unit carries: its job, and its trial in a search. */
static struct json_object *unit_labels(const struct aios_tj_unit *u)
{
	struct json_object *labels = json_object_new_object();
	json_object_object_add(labels, AIOS_TJ_LABEL_JOB,
	                       jstr(aios_json_str(u->job, "metadata.name")));
	if (u->trial >= 0) {
		char num[24];
		snprintf(num, sizeof(num), "%ld", u->trial);
		json_object_object_add(labels, AIOS_TJ_LABEL_TRIAL, jstr(num));
	}
	return labels;
}

enum aios_err aios_tj_render_pod(struct json_object *job, const struct aios_tj_spec *s, int rank,
                                 int attempt, const char *coordinator, int spec_in_configmap,
                                 struct json_object **out)
{
	*out = NULL;
	struct aios_tj_unit u;
	enum aios_err e = aios_tj_unit_of_job(job, s, &u);
	return e ? e
	         : aios_tj_unit_render_pod(&u, rank, attempt, coordinator, spec_in_configmap, out);
}

enum aios_err aios_tj_unit_render_pod(const struct aios_tj_unit *u, int rank, int attempt,
                                      const char *coordinator, int spec_in_configmap,
                                      struct json_object **out)
{
	*out = NULL;
	struct json_object *job = u->job;
	const struct aios_tj_spec *s = u->rs;
	const char *jname = u->name;
	const char *ns = aios_json_str(job, "metadata.namespace");
	if (rank < 0 || rank >= s->world)
		return aios_fail(AIOS_ERR_INVALID, "trainingjob %s: rank %d outside world %d",
		                 jname, rank, s->world);
	int64_t gen = u->generation;
	struct claims claims = {.n = 0};
	enum aios_err e;
	if ((e = claim_of(u->spec, "spec.data.uri", 0, &claims)) ||
	    (e = claim_of(u->spec, "spec.output.uri", 1, &claims)))
		return e;
	struct json_object *tmpl = aios_json_lookup(u->spec, "template");
	enum aios_tj_role role = aios_tj_rank_role(s, rank);
	char num[32];

	/* metadata */
	struct json_object *pod = json_object_new_object();
	json_object_object_add(pod, "apiVersion", jstr("v1"));
	json_object_object_add(pod, "kind", jstr("Pod"));
	struct json_object *md = json_object_new_object();
	json_object_object_add(pod, "metadata", md);
	char *pname = aios_tj_pod_name(jname, role, rank, gen, attempt);
	json_object_object_add(md, "name", jstr(pname));
	free(pname);
	if (ns)
		json_object_object_add(md, "namespace", jstr(ns));
	struct json_object *labels = unit_labels(u);
	json_object_object_add(labels, AIOS_TJ_LABEL_ROLE, jstr(aios_tj_role_name(role)));
	snprintf(num, sizeof(num), "%d", rank);
	json_object_object_add(labels, AIOS_TJ_LABEL_RANK, jstr(num));
	snprintf(num, sizeof(num), "%d", attempt);
	json_object_object_add(labels, AIOS_TJ_LABEL_ATTEMPT, jstr(num));
	snprintf(num, sizeof(num), "%lld", (long long)gen);
	json_object_object_add(labels, AIOS_TJ_LABEL_GENERATION, jstr(num));
	json_object_object_add(labels, "app.kubernetes.io/name", jstr("aios-trainer"));
	json_object_object_add(labels, "app.kubernetes.io/managed-by", jstr("aios-operator"));
	/* gang-scheduling metadata (Volcano pod groups, Kueue) passes through from the template */
	merge_strings(labels, aios_json_lookup(tmpl, "labels"));
	json_object_object_add(md, "labels", labels);
	struct json_object *ann = json_object_new_object();
	merge_strings(ann, aios_json_lookup(tmpl, "annotations"));
	if (json_object_object_length(ann) > 0)
		json_object_object_add(md, "annotations", ann);
	else
		json_object_put(ann);
	json_object_object_add(md, "ownerReferences", owner_ref(job));

	/* pod spec */
	struct json_object *ps = json_object_new_object();
	json_object_object_add(pod, "spec", ps);
	json_object_object_add(ps, "restartPolicy", jstr("Never"));
	json_object_object_add(ps, "enableServiceLinks", json_object_new_boolean(0));
	json_object_object_add(ps, "automountServiceAccountToken", json_object_new_boolean(0));
	static const char *const pass[] = {
	    "nodeSelector",      "tolerations",   "affinity",        "serviceAccountName",
	    "priorityClassName", "schedulerName", "imagePullSecrets"};
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
		copy_field(ps, tmpl, pass[i]);
	json_object_object_add(
	    ps, "securityContext",
	    aios_render_pod_security(aios_json_lookup(tmpl, "podSecurityContext")));

	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "name", jstr(AIOS_TJ_CONTAINER));
	const char *image = aios_json_str(tmpl, "image");
	json_object_object_add(c, "image", jstr(image && *image ? image : AIOS_TJ_DEFAULT_IMAGE));
	copy_field(c, tmpl, "imagePullPolicy");
	struct json_object *cmd = json_object_new_array();
	json_object_array_add(cmd, jstr("aios-trainer"));
	json_object_object_add(c, "command", cmd);
	copy_field(c, tmpl, "args");
	copy_field(c, tmpl, "resources");
	json_object_object_add(
	    c, "securityContext",
	    aios_render_container_security(aios_json_lookup(tmpl, "securityContext")));
	json_object_object_add(c, "terminationMessagePath", jstr("/dev/termination-log"));
	json_object_object_add(c, "terminationMessagePolicy", jstr("FallbackToLogsOnError"));
	struct json_object *ports = json_object_new_array();
	struct json_object *p1 = json_object_new_object();
	json_object_object_add(p1, "name", jstr("metrics"));
	json_object_object_add(p1, "containerPort", json_object_new_int(AIOS_TJ_METRICS_PORT));
	json_object_object_add(p1, "protocol", jstr("TCP"));
	json_object_array_add(ports, p1);
	struct json_object *p2 = json_object_new_object();
	json_object_object_add(p2, "name", jstr("rendezvous"));
	json_object_object_add(p2, "containerPort", json_object_new_int(AIOS_TJ_RENDEZVOUS_PORT));
	json_object_object_add(p2, "protocol", jstr("TCP"));
	json_object_array_add(ports, p2);
	json_object_object_add(c, "ports", ports);

	/* environment: the template's first, then the contract (reserved names are ours) */
	struct json_object *env = json_object_new_array();
	struct json_object *tenv = aios_json_lookup(tmpl, "env");
	if (tenv && json_object_is_type(tenv, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(tenv); i++) {
			struct json_object *ev = json_object_array_get_idx(tenv, i);
			const char *n = aios_json_str(ev, "name");
			if (n && !is_reserved_env(n))
				json_object_array_add(env, aios_json_copy(ev));
		}
	}
	add_env(env, "AIOS_JOB", jname);
	add_env(env, "AIOS_NAMESPACE", ns ? ns : "default");
	snprintf(num, sizeof(num), "%d", rank);
	add_env(env, "AIOS_RANK", num);
	snprintf(num, sizeof(num), "%d", s->world);
	add_env(env, "AIOS_WORLD_SIZE", num);
	add_env(env, "AIOS_ROLE", aios_tj_role_name(role));
	char self[32];
	snprintf(self, sizeof(self), "0.0.0.0:%d", AIOS_TJ_RENDEZVOUS_PORT);
	add_env(env, "AIOS_COORDINATOR", rank == 0 || !coordinator ? self : coordinator);
	snprintf(num, sizeof(num), "%d", attempt);
	add_env(env, "AIOS_ATTEMPT", num);
	snprintf(num, sizeof(num), "%lld", (long long)gen);
	add_env(env, "AIOS_GENERATION", num);
	add_env(env, "AIOS_PVC_ROOT", AIOS_TJ_PVC_ROOT);
	if (s->world > 1)
		add_env(env, "AIOS_SECRET_FILE", AIOS_TJ_SECRET_DIR "/" AIOS_TJ_SECRET_KEY);
	if (spec_in_configmap) {
		add_env(env, "AIOS_SPEC_FILE", AIOS_TJ_SPEC_DIR "/spec.json");
	} else {
		add_env(env, "AIOS_SPEC",
		        json_object_to_json_string_ext(u->spec, JSON_C_TO_STRING_PLAIN));
	}
	json_object_object_add(c, "env", env);

	/* volumes: a writable /tmp (the root filesystem is read-only), claims, the spec */
	struct json_object *vols = json_object_new_array(), *mounts = json_object_new_array();
	add_volume(vols, mounts, "tmp", jstr("emptyDir"), json_object_new_object(), "/tmp", 0);
	for (int i = 0; i < claims.n; i++) {
		char vname[16], path[300];
		snprintf(vname, sizeof(vname), "pvc-%d", i);
		snprintf(path, sizeof(path), "%s/%s", AIOS_TJ_PVC_ROOT, claims.name[i]);
		struct json_object *src = json_object_new_object();
		json_object_object_add(src, "claimName", jstr(claims.name[i]));
		if (!claims.writable[i])
			json_object_object_add(src, "readOnly", json_object_new_boolean(1));
		add_volume(vols, mounts, vname, jstr("persistentVolumeClaim"), src, path,
		           !claims.writable[i]);
	}
	if (spec_in_configmap) {
		char *cm = aios_tj_spec_configmap_name(jname, gen);
		struct json_object *src = json_object_new_object();
		json_object_object_add(src, "name", jstr(cm));
		free(cm);
		add_volume(vols, mounts, "aios-spec", jstr("configMap"), src, AIOS_TJ_SPEC_DIR, 1);
	}
	if (s->world > 1) { /* this attempt's secret, mounted read-only */
		char *sn = aios_tj_secret_name(jname, gen, attempt);
		struct json_object *src = json_object_new_object();
		json_object_object_add(src, "secretName", jstr(sn));
		json_object_object_add(src, "defaultMode", json_object_new_int(0444));
		free(sn);
		add_volume(vols, mounts, AIOS_TJ_SECRET_VOLUME, jstr("secret"), src,
		           AIOS_TJ_SECRET_DIR, 1);
	}
	append_all(vols, aios_json_lookup(tmpl, "volumes"));
	append_all(mounts, aios_json_lookup(tmpl, "volumeMounts"));
	json_object_object_add(c, "volumeMounts", mounts);
	json_object_object_add(ps, "volumes", vols);

	struct json_object *containers = json_object_new_array();
	json_object_array_add(containers, c);
	json_object_object_add(ps, "containers", containers);
	*out = pod;
	return AIOS_OK;
}

/* A core/v1 object of kind named name (taken, freed here) in the job's namespace,
 * labelled with labels (taken) and owned by the job. */
static struct json_object *owned_object(struct json_object *job, const char *kind, char *name,
                                        struct json_object *labels)
{
	struct json_object *o = json_object_new_object(), *md = json_object_new_object();
	json_object_object_add(o, "apiVersion", jstr("v1"));
	json_object_object_add(o, "kind", jstr(kind));
	json_object_object_add(md, "name", jstr(name));
	free(name);
	const char *ns = aios_json_str(job, "metadata.namespace");
	if (ns)
		json_object_object_add(md, "namespace", jstr(ns));
	json_object_object_add(md, "labels", labels);
	json_object_object_add(md, "ownerReferences", owner_ref(job));
	json_object_object_add(o, "metadata", md);
	return o;
}

enum aios_err aios_tj_render_spec_configmap(struct json_object *job, struct json_object **out)
{
	*out = NULL;
	struct aios_tj_spec none = {0};
	struct aios_tj_unit u;
	enum aios_err e = aios_tj_unit_of_job(job, &none, &u);
	return e ? e : aios_tj_unit_render_configmap(&u, out);
}

enum aios_err aios_tj_unit_render_configmap(const struct aios_tj_unit *u, struct json_object **out)
{
	struct json_object *cm =
	    owned_object(u->job, "ConfigMap", aios_tj_spec_configmap_name(u->name, u->generation),
	                 unit_labels(u));
	struct json_object *data = json_object_new_object();
	json_object_object_add(
	    data, "spec.json",
	    jstr(json_object_to_json_string_ext(u->spec, JSON_C_TO_STRING_PLAIN)));
	json_object_object_add(cm, "data", data);
	*out = cm;
	return AIOS_OK;
}

/* ============================== progress ============================== */

/* The trainer's gauges (src/trainer/metrics.c), in the order of the have/value pairs of
 * struct aios_tj_progress below. */
static const char *const progress_gauges[] = {"aios_trainer_epoch",
                                              "aios_trainer_epochs",
                                              "aios_trainer_loss",
                                              "aios_trainer_validation_loss",
                                              "aios_trainer_samples_per_second",
                                              "aios_trainer_validation_accuracy",
                                              NULL};

static enum aios_err on_gauge(const struct aios_promtext_sample *s, void *arg)
{
	struct aios_tj_progress *p = arg;
	int *have[] = {&p->have_epoch,    &p->have_epochs, &p->have_loss,
	               &p->have_val_loss, &p->have_sps,    &p->have_val_acc};
	double *val[] = {&p->epoch, &p->epochs, &p->loss, &p->val_loss, &p->sps, &p->val_acc};
	for (size_t i = 0; progress_gauges[i]; i++) {
		if (s->name == progress_gauges[i]) {
			*have[i] = 1;
			*val[i] = s->value;
		}
	}
	return AIOS_OK;
}

enum aios_err aios_tj_parse_metrics(const char *text, size_t len, struct aios_tj_progress *out)
{
	memset(out, 0, sizeof(*out));
	enum aios_err e = aios_promtext_parse(text, len, progress_gauges, on_gauge, out);
	if (e)
		return e;
	if (!(out->have_epoch || out->have_epochs || out->have_loss || out->have_val_loss ||
	      out->have_sps || out->have_val_acc))
		return aios_fail(AIOS_ERR_INVALID,
		                 "metrics page: no aios_trainer_* progress gauge");
	return AIOS_OK;
}

enum aios_err aios_tj_render_secret(struct json_object *job, int64_t generation, int attempt,
                                    const char *secret, struct json_object **out)
{
	*out = NULL;
	const char *jname = aios_json_str(job, "metadata.name");
	if (!jname)
		return aios_fail(AIOS_ERR_INVALID, "trainingjob: metadata.name missing");
	char *name = aios_tj_secret_name(jname, generation, attempt);
	enum aios_err e = aios_tj_render_secret_named(job, name, secret, out);
	free(name);
	return e;
}

enum aios_err aios_tj_render_secret_named(struct json_object *job, const char *name,
                                          const char *secret, struct json_object **out)
{
	*out = NULL;
	const char *jname = aios_json_str(job, "metadata.name");
	if (!jname)
		return aios_fail(AIOS_ERR_INVALID, "trainingjob: metadata.name missing");
	struct json_object *labels = json_object_new_object();
	json_object_object_add(labels, AIOS_TJ_LABEL_JOB, jstr(jname));
	struct json_object *o = owned_object(job, "Secret", aios_xstrdup(name), labels);
	json_object_object_add(o, "type", jstr("Opaque"));
	struct json_object *data = json_object_new_object();
	json_object_object_add(data, AIOS_TJ_SECRET_KEY, jstr(secret));
	json_object_object_add(o, "stringData", data);
	*out = o;
	return AIOS_OK;
}
