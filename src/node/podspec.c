/*
 * podspec.c - Pod JSON -> what aios-node runs (see podspec.h).
 *
 * Sections: the image table, small helpers, env (with the downward API),
 * volumes and mounts, probes, the pod.
 */
#include "node/podspec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/mem.h"

/* ------------------------------------------------------------------ image table */

/*
 * The last path component of an image's repository (registry and tag or digest
 * stripped) names the program. Documented in docs/node.md; change both together.
 */
static const struct {
	const char *repo;
	const char *program;
	const char *dir; /* the program's directory under <build>/src */
} image_table[] = {
    {"trainer", "aios-trainer", "trainer"},
    {"aios-trainer", "aios-trainer", "trainer"},
    {"serve", "aios-serve", "serve"},
    {"aios-serve", "aios-serve", "serve"},
    {"inference", "aios-serve", "serve"},
    {"operator", "aios-operator", "operator"},
    {"aios-operator", "aios-operator", "operator"},
};

const char *aios_podspec_image_program(const char *image)
{
	if (!image || !*image)
		return NULL;
	const char *end = image + strcspn(image, "@"); /* digest */
	const char *slash = NULL;
	for (const char *p = image; p < end; p++)
		if (*p == '/')
			slash = p;
	const char *last = slash ? slash + 1 : image;
	const char *colon = memchr(last, ':', (size_t)(end - last)); /* tag */
	size_t n = (size_t)((colon ? colon : end) - last);
	for (size_t i = 0; i < sizeof image_table / sizeof image_table[0]; i++)
		if (strlen(image_table[i].repo) == n && memcmp(image_table[i].repo, last, n) == 0)
			return image_table[i].program;
	return NULL;
}

static int is_exec_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *aios_podspec_find_binary(const char *bin_dir, const char *program)
{
	if (!bin_dir || !program)
		return NULL;
	char *p = aios_xasprintf("%s/%s", bin_dir, program);
	if (is_exec_file(p))
		return p;
	free(p);
	for (size_t i = 0; i < sizeof image_table / sizeof image_table[0]; i++) {
		if (strcmp(image_table[i].program, program) != 0)
			continue;
		p = aios_xasprintf("%s/src/%s/%s", bin_dir, image_table[i].dir, program);
		if (is_exec_file(p))
			return p;
		free(p);
		break;
	}
	return NULL;
}

/* ------------------------------------------------------------------ helpers */

static char *dup_or_null(const char *s)
{
	return s ? aios_xstrdup(s) : NULL;
}

static void strv_push(char ***v, size_t *n, char *s)
{
	*v = aios_xrealloc(*v, (*n + 2) * sizeof **v);
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

/* Sets "KEY=VALUE" kv in an env array: replaces an entry of the same key (a later
 * definition wins, as in the kubelet, and execve sees one), else appends. Takes kv. */
static void env_set(char ***v, size_t *n, char *kv)
{
	size_t kl = strcspn(kv, "=");
	for (size_t i = 0; i < *n; i++)
		if (strncmp((*v)[i], kv, kl) == 0 && (*v)[i][kl] == '=') {
			free((*v)[i]);
			(*v)[i] = kv;
			return;
		}
	strv_push(v, n, kv);
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

const char *aios_podspec_getenv(char *const *env, size_t n, const char *key)
{
	size_t kl = strlen(key);
	/* last definition wins, as in the kubelet */
	for (size_t i = n; i-- > 0;)
		if (strncmp(env[i], key, kl) == 0 && env[i][kl] == '=')
			return env[i] + kl + 1;
	return NULL;
}

enum aios_err aios_podspec_expand(const char *s, char *const *env, size_t n, char **out)
{
	/* one pass over s, as the kubelet's expansion: a value put in is never scanned
	 * again, so the result grows at most by the length of the values it names; the
	 * cap keeps a chain of variables that each double the one before (A=$(B)$(B)...)
	 * from growing past what execve would take anyway */
	*out = NULL;
	struct aios_buf b;
	aios_buf_init(&b, AIOS_PODSPEC_MAX_EXPANDED - 1); /* and its NUL */
	enum aios_err err = AIOS_OK;
	for (const char *p = s; *p && !err;) {
		if (p[0] == '$' && p[1] == '$') {
			err = aios_buf_append(&b, "$", 1);
			p += 2;
			continue;
		}
		if (p[0] == '$' && p[1] == '(') {
			const char *close = strchr(p + 2, ')');
			if (close && close > p + 2) {
				char *name = aios_xstrndup(p + 2, (size_t)(close - p - 2));
				const char *v = aios_podspec_getenv(env, n, name);
				free(name);
				err = v ? aios_buf_append(&b, v, strlen(v))
				        : aios_buf_append(&b, p, (size_t)(close - p + 1));
				p = close + 1;
				continue;
			}
		}
		err = aios_buf_append(&b, p, 1);
		p++;
	}
	if (err) {
		aios_buf_cleanup(&b);
		return aios_fail(AIOS_ERR_TOO_BIG,
		                 "$(VAR) expansion is over %u bytes with its NUL (the longest "
		                 "string execve takes)",
		                 (unsigned)AIOS_PODSPEC_MAX_EXPANDED);
	}
	*out = b.data ? aios_buf_take(&b) : aios_xstrdup("");
	aios_buf_cleanup(&b);
	return AIOS_OK;
}

/* ------------------------------------------------------------------ env */

/* metadata.labels['k'] / metadata.annotations['k'] -> value or NULL */
static const char *bracket_field(struct json_object *pod, const char *path, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (strncmp(path, prefix, pl) != 0 || path[pl] != '[')
		return NULL;
	const char *k = path + pl + 1;
	char q = *k;
	if (q != '\'' && q != '"')
		return NULL;
	k++;
	const char *e = strchr(k, q);
	if (!e || e[1] != ']' || e[2])
		return NULL;
	char *key = aios_xstrndup(k, (size_t)(e - k));
	struct json_object *m = aios_json_lookup(pod, prefix), *v = NULL;
	const char *r = NULL;
	if (m && json_object_object_get_ex(m, key, &v) && json_object_is_type(v, json_type_string))
		r = json_object_get_string(v);
	free(key);
	return r ? r : "";
}

/* Value of a downward API fieldRef, or NULL (with aios_fail) when unsupported. */
static const char *field_ref(struct json_object *pod, const char *path,
                             const struct aios_podspec_ctx *ctx)
{
	if (strcmp(path, "metadata.name") == 0 || strcmp(path, "metadata.namespace") == 0 ||
	    strcmp(path, "metadata.uid") == 0 || strcmp(path, "spec.nodeName") == 0 ||
	    strcmp(path, "spec.serviceAccountName") == 0) {
		const char *v = aios_json_str(pod, path);
		return v ? v : "";
	}
	if (strcmp(path, "status.podIP") == 0 || strcmp(path, "status.podIPs") == 0)
		return ctx->pod_ip ? ctx->pod_ip : "";
	if (strcmp(path, "status.hostIP") == 0)
		return ctx->host_ip ? ctx->host_ip : "";
	const char *v = bracket_field(pod, path, "metadata.labels");
	if (!v)
		v = bracket_field(pod, path, "metadata.annotations");
	if (!v)
		aios_fail(AIOS_ERR_UNSUPPORTED, "fieldRef %s is not supported by aios-node", path);
	return v;
}

/*
 * Builds c->env: a base environment, then the container's env in order, each
 * value expanded against what came before. A failure is recorded in c->env_error
 * (the container then waits with CreateContainerConfigError, as on a kubelet).
 */
static void build_env(struct aios_podspec_container *c, struct json_object *pod,
                      struct json_object *jc, const struct aios_podspec_ctx *ctx)
{
	const char *name = aios_json_str(pod, "metadata.name");
	strv_push(
	    &c->env, &c->envc,
	    aios_xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	strv_push(&c->env, &c->envc, aios_xasprintf("HOSTNAME=%s", name ? name : ""));
	strv_push(&c->env, &c->envc, aios_xstrdup("HOME=/root"));
	/* the `kubernetes` Service, as a kubelet writes it for every pod (aios-node's
	 * forwarder stands in for the Service's cluster IP and kube-proxy) */
	if (ctx->api_host && *ctx->api_host && ctx->api_port > 0) {
		const char *h = ctx->api_host;
		int port = ctx->api_port;
		strv_push(&c->env, &c->envc, aios_xasprintf("KUBERNETES_SERVICE_HOST=%s", h));
		strv_push(&c->env, &c->envc, aios_xasprintf("KUBERNETES_SERVICE_PORT=%d", port));
		strv_push(&c->env, &c->envc,
		          aios_xasprintf("KUBERNETES_SERVICE_PORT_HTTPS=%d", port));
		strv_push(&c->env, &c->envc,
		          aios_xasprintf("KUBERNETES_PORT=tcp://%s:%d", h, port));
		strv_push(&c->env, &c->envc,
		          aios_xasprintf("KUBERNETES_PORT_%d_TCP=tcp://%s:%d", port, h, port));
		strv_push(&c->env, &c->envc,
		          aios_xasprintf("KUBERNETES_PORT_%d_TCP_PROTO=tcp", port));
		strv_push(&c->env, &c->envc,
		          aios_xasprintf("KUBERNETES_PORT_%d_TCP_PORT=%d", port, port));
		strv_push(&c->env, &c->envc,
		          aios_xasprintf("KUBERNETES_PORT_%d_TCP_ADDR=%s", port, h));
	}

	if (aios_json_lookup(jc, "envFrom")) {
		c->env_error =
		    aios_xasprintf("container %s: envFrom is not supported by aios-node (list each "
		                   "variable under env)",
		                   c->name);
		return;
	}
	struct json_object *arr = aios_json_lookup(jc, "env");
	if (!arr || !json_object_is_type(arr, json_type_array))
		return;
	size_t n = json_object_array_length(arr);
	if (n > AIOS_PODSPEC_MAX_ENV) {
		c->env_error = aios_xasprintf(
		    "container %s: %zu env entries, more than the %d aios-node accepts", c->name, n,
		    AIOS_PODSPEC_MAX_ENV);
		return;
	}
	const char *ns = aios_json_str(pod, "metadata.namespace");
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		const char *k = aios_json_str(e, "name");
		if (!k || !*k) {
			c->env_error =
			    aios_xasprintf("container %s: env[%zu].name is missing", c->name, i);
			return;
		}
		const char *v = aios_json_str(e, "value");
		char *owned = NULL;
		struct json_object *from = aios_json_lookup(e, "valueFrom");
		if (from) {
			const char *fp = aios_json_str(from, "fieldRef.fieldPath");
			struct json_object *cm = aios_json_lookup(from, "configMapKeyRef");
			struct json_object *sec = aios_json_lookup(from, "secretKeyRef");
			if (fp) {
				v = field_ref(pod, fp, ctx);
				if (!v) {
					c->env_error = aios_xasprintf("container %s: env %s: %s",
					                              c->name, k, aios_errmsg());
					return;
				}
			} else if (cm || sec) {
				struct json_object *ref = cm ? cm : sec;
				const char *rn = aios_json_str(ref, "name"),
				           *rk = aios_json_str(ref, "key");
				int optional = 0;
				struct json_object *o = aios_json_lookup(ref, "optional");
				if (o && json_object_is_type(o, json_type_boolean))
					optional = json_object_get_boolean(o);
				enum aios_err err = AIOS_ERR_UNSUPPORTED;
				if (ctx->lookup && rn && rk)
					err = ctx->lookup(ctx->lookup_arg, sec != NULL,
					                  ns ? ns : "", rn, rk, &owned);
				if (err == AIOS_ERR_NOT_FOUND && optional)
					continue;
				if (err != AIOS_OK) {
					c->env_error = aios_xasprintf(
					    "container %s: env %s: %s %s key %s: %s", c->name, k,
					    sec ? "secret" : "configmap", rn ? rn : "?",
					    rk ? rk : "?",
					    err == AIOS_ERR_NOT_FOUND ? "not found"
					                              : aios_errmsg());
					return;
				}
				v = owned;
			} else {
				c->env_error =
				    aios_xasprintf("container %s: env %s: valueFrom kind not "
				                   "supported by aios-node "
				                   "(fieldRef, configMapKeyRef, secretKeyRef are)",
				                   c->name, k);
				return;
			}
			env_set(&c->env, &c->envc, aios_xasprintf("%s=%s", k, v));
		} else {
			char *x;
			if (aios_podspec_expand(v ? v : "", c->env, c->envc, &x) != AIOS_OK) {
				c->env_error = aios_xasprintf("container %s: env %s: %s", c->name,
				                              k, aios_errmsg());
				return;
			}
			env_set(&c->env, &c->envc, aios_xasprintf("%s=%s", k, x));
			free(x);
		}
		free(owned);
	}
}

/* ------------------------------------------------------------------ probes */

static int port_of(struct json_object *jc, struct json_object *port)
{
	if (!port)
		return -1;
	if (json_object_is_type(port, json_type_int))
		return json_object_get_int(port);
	if (!json_object_is_type(port, json_type_string))
		return -1;
	const char *want = json_object_get_string(port);
	char *end;
	long v = strtol(want, &end, 10);
	if (*want && !*end)
		return (int)v;
	struct json_object *ports = aios_json_lookup(jc, "ports");
	if (!ports || !json_object_is_type(ports, json_type_array))
		return -1;
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);
		const char *n = aios_json_str(p, "name");
		int64_t num;
		if (n && strcmp(n, want) == 0 &&
		    aios_json_get_int(p, "containerPort", &num) == AIOS_OK)
			return (int)num;
	}
	return -1;
}

static enum aios_err parse_probe(struct json_object *jc, const char *field, const char *cname,
                                 struct aios_podspec_probe *pr)
{
	struct json_object *o = aios_json_lookup(jc, field);
	pr->kind = AIOS_PROBE_NONE;
	if (!o)
		return AIOS_OK;
	int64_t v;
	/* defaults as in core/v1 */
	if (aios_json_opt_int(o, "initialDelaySeconds", 0, &v) != AIOS_OK)
		goto bad;
	pr->initial_delay_s = (int)v;
	if (aios_json_opt_int(o, "periodSeconds", 10, &v) != AIOS_OK)
		goto bad;
	pr->period_s = v > 0 ? (int)v : 10;
	if (aios_json_opt_int(o, "timeoutSeconds", 1, &v) != AIOS_OK)
		goto bad;
	pr->timeout_s = v > 0 ? (int)v : 1;
	if (aios_json_opt_int(o, "successThreshold", 1, &v) != AIOS_OK)
		goto bad;
	pr->success_threshold = v > 0 ? (int)v : 1;
	if (aios_json_opt_int(o, "failureThreshold", 3, &v) != AIOS_OK)
		goto bad;
	pr->failure_threshold = v > 0 ? (int)v : 3;

	struct json_object *h = aios_json_lookup(o, "httpGet"),
	                   *t = aios_json_lookup(o, "tcpSocket");
	if (h) {
		pr->kind = AIOS_PROBE_HTTP;
		const char *path = aios_json_str(h, "path");
		pr->path = aios_xstrdup(path && *path ? path : "/");
		const char *scheme = aios_json_str(h, "scheme");
		pr->https = scheme && strcmp(scheme, "HTTPS") == 0;
		pr->port = port_of(jc, aios_json_lookup(h, "port"));
	} else if (t) {
		pr->kind = AIOS_PROBE_TCP;
		pr->port = port_of(jc, aios_json_lookup(t, "port"));
	} else if (aios_json_lookup(o, "exec")) {
		return aios_fail(AIOS_ERR_INVALID,
		                 "container %s: %s.exec is not supported by aios-node "
		                 "(httpGet and tcpSocket are)",
		                 cname, field);
	} else {
		return aios_fail(AIOS_ERR_INVALID, "container %s: %s has no handler", cname, field);
	}
	if (pr->port <= 0 || pr->port > 65535)
		return aios_fail(AIOS_ERR_INVALID,
		                 "container %s: %s: port is missing or names no containerPort",
		                 cname, field);
	return AIOS_OK;
bad:
	return aios_fail_wrap(AIOS_ERR_INVALID, "container %s: %s", cname, field);
}

/* ------------------------------------------------------------------ volumes */

static enum aios_err parse_items(struct json_object *src, struct aios_podspec_volume *v)
{
	struct json_object *items = aios_json_lookup(src, "items");
	if (!items || !json_object_is_type(items, json_type_array))
		return AIOS_OK;
	size_t n = json_object_array_length(items);
	v->items = aios_xcalloc(n ? n : 1, sizeof *v->items);
	for (size_t i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(items, i);
		const char *k = aios_json_str(it, "key"), *p = aios_json_str(it, "path");
		if (!k || !p || p[0] == '/' || strstr(p, ".."))
			return aios_fail(AIOS_ERR_INVALID,
			                 "volume %s: items[%zu] needs key and a relative path "
			                 "without '..'",
			                 v->name, i);
		v->items[v->n_items].key = aios_xstrdup(k);
		v->items[v->n_items].path = aios_xstrdup(p);
		v->n_items++;
	}
	return AIOS_OK;
}

static enum aios_err parse_volume(struct json_object *jv, size_t idx, struct aios_podspec_volume *v)
{
	const char *name = aios_json_str(jv, "name");
	if (!name || !*name)
		return aios_fail(AIOS_ERR_INVALID, "spec.volumes[%zu].name is missing", idx);
	v->name = aios_xstrdup(name);
	v->default_mode = 0644;
	struct json_object *o;
	if ((o = aios_json_lookup(jv, "emptyDir"))) {
		v->kind = AIOS_VOL_EMPTY_DIR;
	} else if ((o = aios_json_lookup(jv, "persistentVolumeClaim"))) {
		v->kind = AIOS_VOL_PVC;
		v->source = dup_or_null(aios_json_str(o, "claimName"));
		int ro = 0;
		if (aios_json_opt_bool(o, "readOnly", 0, &ro) != AIOS_OK)
			return aios_fail_wrap(AIOS_ERR_INVALID, "volume %s", name);
		v->read_only = ro;
	} else if ((o = aios_json_lookup(jv, "configMap")) ||
	           (o = aios_json_lookup(jv, "secret"))) {
		v->kind = aios_json_lookup(jv, "configMap") ? AIOS_VOL_CONFIG_MAP : AIOS_VOL_SECRET;
		v->source = dup_or_null(
		    aios_json_str(o, v->kind == AIOS_VOL_SECRET ? "secretName" : "name"));
		int opt = 0;
		int64_t mode = -1;
		if (aios_json_opt_bool(o, "optional", 0, &opt) != AIOS_OK ||
		    aios_json_opt_int(o, "defaultMode", -1, &mode) != AIOS_OK)
			return aios_fail_wrap(AIOS_ERR_INVALID, "volume %s", name);
		v->optional = opt;
		/* a Secret's files are never readable by others (volumes.h); without a
		 * defaultMode its mode is chosen when it is written (0600, or 0640 with an
		 * fsGroup) */
		if (v->kind == AIOS_VOL_SECRET)
			v->default_mode = mode < 0 ? -1 : (int)(mode & 0770);
		else
			v->default_mode = mode < 0 ? 0644 : (int)(mode & 0777);
		enum aios_err err = parse_items(o, v);
		if (err)
			return err;
	} else if ((o = aios_json_lookup(jv, "hostPath"))) {
		v->kind = AIOS_VOL_HOST_PATH;
		v->source = dup_or_null(aios_json_str(o, "path"));
	} else {
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "volume %s: kind not supported by aios-node "
		    "(emptyDir, persistentVolumeClaim, configMap, secret, hostPath are)",
		    name);
	}
	if (v->kind != AIOS_VOL_EMPTY_DIR && (!v->source || !*v->source))
		return aios_fail(AIOS_ERR_INVALID, "volume %s: source name is missing", name);
	return AIOS_OK;
}

static enum aios_err parse_mounts(struct json_object *jc, const struct aios_podspec *p,
                                  struct aios_podspec_container *c)
{
	struct json_object *arr = aios_json_lookup(jc, "volumeMounts");
	if (!arr || !json_object_is_type(arr, json_type_array))
		return AIOS_OK;
	size_t n = json_object_array_length(arr);
	c->mounts = aios_xcalloc(n ? n : 1, sizeof *c->mounts);
	for (size_t i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(arr, i);
		const char *vn = aios_json_str(m, "name"), *mp = aios_json_str(m, "mountPath");
		const char *sp = aios_json_str(m, "subPath");
		if (!vn || !mp || mp[0] != '/')
			return aios_fail(AIOS_ERR_INVALID,
			                 "container %s: volumeMounts[%zu] needs name and an "
			                 "absolute mountPath",
			                 c->name, i);
		size_t k;
		for (k = 0; k < p->n_volumes; k++)
			if (strcmp(p->volumes[k].name, vn) == 0)
				break;
		if (k == p->n_volumes)
			return aios_fail(AIOS_ERR_INVALID,
			                 "container %s: volumeMounts[%zu] names volume %s, "
			                 "which the pod does not have",
			                 c->name, i, vn);
		if (sp && *sp && (sp[0] == '/' || strstr(sp, "..")))
			return aios_fail(AIOS_ERR_INVALID,
			                 "container %s: volumeMounts[%zu].subPath must be "
			                 "relative without '..'",
			                 c->name, i);
		int ro = 0;
		if (aios_json_opt_bool(m, "readOnly", 0, &ro) != AIOS_OK)
			return aios_fail_wrap(AIOS_ERR_INVALID, "container %s: volumeMounts[%zu]",
			                      c->name, i);
		struct aios_podspec_mount *dst = &c->mounts[c->n_mounts++];
		dst->volume = aios_xstrdup(vn);
		dst->path = aios_xstrdup(mp);
		dst->sub_path = sp && *sp ? aios_xstrdup(sp) : NULL;
		dst->read_only = ro || p->volumes[k].read_only;
	}
	return AIOS_OK;
}

/* ------------------------------------------------------------------ security, resources */

enum aios_err aios_podspec_quantity(const char *s, int64_t mult, int64_t *out)
{
	static const struct {
		const char *suffix;
		double factor;
	} suffixes[] = {{"Ki", 1024.0},
	                {"Mi", 1048576.0},
	                {"Gi", 1073741824.0},
	                {"Ti", 1099511627776.0},
	                {"Pi", 1125899906842624.0},
	                {"m", 1e-3},
	                {"k", 1e3},
	                {"M", 1e6},
	                {"G", 1e9},
	                {"T", 1e12},
	                {"P", 1e15},
	                {"", 1.0}};
	const char *p = s;
	double whole = 0, frac_scale = 1;
	int digits = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		whole = whole * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			whole += (*p - '0') * (frac_scale /= 10);
	for (size_t i = 0; digits > 0 && i < sizeof suffixes / sizeof suffixes[0]; i++) {
		if (strcmp(p, suffixes[i].suffix) != 0)
			continue;
		double v = whole * suffixes[i].factor * (double)mult;
		if (v > 9007199254740992.0) /* 2^53 */
			break;
		*out = (int64_t)v;
		if ((double)*out < v)
			(*out)++; /* rounded up */
		return AIOS_OK;
	}
	return aios_fail(AIOS_ERR_INVALID,
	                 "quantity \"%s\" is not a number with an optional "
	                 "suffix (Ki Mi Gi Ti Pi, k M G T P, m)",
	                 s);
}

/* An id field of a securityContext (runAsUser...) into *out when present, in 0..2^32-2. */
static enum aios_err security_id(struct json_object *sc, const char *field, int64_t *out)
{
	if (!sc || !aios_json_lookup(sc, field))
		return AIOS_OK;
	int64_t v;
	if (aios_json_get_int(sc, field, &v) != AIOS_OK || v < 0 || v > 0xfffffffeLL)
		return aios_fail(AIOS_ERR_INVALID, "securityContext.%s must be an id in 0..%lld",
		                 field, 0xfffffffeLL);
	*out = v;
	return AIOS_OK;
}

/* A limit (a quantity string or a JSON number) times mult into *out; 0 when absent. */
static enum aios_err limit_of(struct json_object *jc, const char *path, int64_t mult, int64_t *out)
{
	struct json_object *v = aios_json_lookup(jc, path);
	*out = 0;
	if (!v)
		return AIOS_OK;
	enum aios_err err = AIOS_ERR_INVALID;
	if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0 &&
	    json_object_get_int64(v) < (1LL << 53) / mult) {
		*out = json_object_get_int64(v) * mult;
		err = AIOS_OK;
	} else if (json_object_is_type(v, json_type_string)) {
		err = aios_podspec_quantity(json_object_get_string(v), mult, out);
	} else {
		aios_fail(err, "not a quantity");
	}
	return err ? aios_fail_wrap(err, "%s", path) : AIOS_OK;
}

/* The container's user, group, read-only root and limits, over the pod's. */
static enum aios_err parse_security(struct json_object *jc, const struct aios_podspec *p,
                                    struct aios_podspec_container *c)
{
	struct json_object *sc = aios_json_lookup(jc, "securityContext");
	c->run_as_user = p->run_as_user;
	c->run_as_group = p->run_as_group;
	enum aios_err err;
	if ((err = security_id(sc, "runAsUser", &c->run_as_user)) ||
	    (err = security_id(sc, "runAsGroup", &c->run_as_group)))
		return aios_fail_wrap(err, "container %s", c->name);
	int ro = 0;
	if (sc && aios_json_opt_bool(sc, "readOnlyRootFilesystem", 0, &ro) != AIOS_OK)
		return aios_fail_wrap(AIOS_ERR_INVALID,
		                      "container %s: securityContext.readOnlyRootFilesystem",
		                      c->name);
	c->read_only_root = ro;
	if ((err = limit_of(jc, "resources.limits.memory", 1, &c->memory_limit)) ||
	    (err = limit_of(jc, "resources.limits.cpu", 1000, &c->cpu_limit)))
		return aios_fail_wrap(err, "container %s", c->name);
	return AIOS_OK;
}

/* ------------------------------------------------------------------ containers */

static enum aios_err strings_of(struct json_object *jc, const char *field, const char *cname,
                                struct json_object **out)
{
	*out = aios_json_lookup(jc, field);
	if (!*out)
		return AIOS_OK;
	if (!json_object_is_type(*out, json_type_array))
		return aios_fail(AIOS_ERR_INVALID, "container %s: %s must be a list of strings",
		                 cname, field);
	for (size_t i = 0; i < json_object_array_length(*out); i++)
		if (!json_object_is_type(json_object_array_get_idx(*out, i), json_type_string))
			return aios_fail(AIOS_ERR_INVALID, "container %s: %s[%zu] must be a string",
			                 cname, field, i);
	return AIOS_OK;
}

/* Appends s, $(VAR)-expanded against c's env, to c's argv; an expansion over the cap
 * is recorded on the container as an env problem would be (CreateContainerConfigError). */
static void argv_push_expanded(struct aios_podspec_container *c, const char *field, const char *s)
{
	char *x;
	if (aios_podspec_expand(s, c->env, c->envc, &x) != AIOS_OK) {
		if (!c->env_error)
			c->env_error =
			    aios_xasprintf("container %s: %s: %s", c->name, field, aios_errmsg());
		x = aios_xstrdup("");
	}
	strv_push(&c->argv, &c->argc, x);
}

static enum aios_err build_argv(struct aios_podspec_container *c, struct json_object *jc,
                                const struct aios_podspec_ctx *ctx)
{
	struct json_object *cmd, *args;
	enum aios_err err = strings_of(jc, "command", c->name, &cmd);
	if (!err)
		err = strings_of(jc, "args", c->name, &args);
	if (err)
		return err;
	size_t ncmd = cmd ? json_object_array_length(cmd) : 0;
	const char *prog = c->program;
	if (ncmd > 0) {
		/* a command naming an aios program runs the built binary; any other runs from PATH */
		const char *c0 = json_object_get_string(json_object_array_get_idx(cmd, 0));
		const char *base = strrchr(c0, '/');
		base = base ? base + 1 : c0;
		prog = NULL;
		for (size_t i = 0; i < sizeof image_table / sizeof image_table[0]; i++)
			if (strcmp(image_table[i].program, base) == 0)
				prog = image_table[i].program;
		if (!prog)
			argv_push_expanded(c, "command", c0);
	}
	if (prog) {
		char *bin = aios_podspec_find_binary(ctx->bin_dir, prog);
		if (!bin && !c->image_reason) {
			c->image_reason = aios_xstrdup("ErrImagePull");
			c->image_message = aios_xasprintf(
			    "image %s maps to program %s, which is not built under %s", c->image,
			    prog, ctx->bin_dir ? ctx->bin_dir : "(no --bin-dir)");
		}
		strv_push(&c->argv, &c->argc, bin ? bin : aios_xstrdup(prog));
	}
	for (size_t i = 1; i < ncmd; i++)
		argv_push_expanded(c, "command",
		                   json_object_get_string(json_object_array_get_idx(cmd, i)));
	for (size_t i = 0; args && i < json_object_array_length(args); i++)
		argv_push_expanded(c, "args",
		                   json_object_get_string(json_object_array_get_idx(args, i)));
	return AIOS_OK;
}

static enum aios_err parse_container(struct json_object *pod, struct json_object *jc, size_t idx,
                                     const struct aios_podspec *p,
                                     const struct aios_podspec_ctx *ctx,
                                     struct aios_podspec_container *c)
{
	const char *name = aios_json_str(jc, "name");
	if (!name || !*name)
		return aios_fail(AIOS_ERR_INVALID, "spec.containers[%zu].name is missing", idx);
	c->name = aios_xstrdup(name);
	const char *image = aios_json_str(jc, "image");
	c->image = aios_xstrdup(image ? image : "");
	const char *prog = aios_podspec_image_program(c->image);
	if (prog) {
		c->program = aios_xstrdup(prog);
	} else {
		c->image_reason = aios_xstrdup("ImageNotSupported");
		c->image_message =
		    aios_xasprintf("aios-node runs only aios images (*/trainer, */serve, "
		                   "*/operator: see docs/node.md); %s is not one",
		                   *c->image ? c->image : "(no image)");
	}
	build_env(c, pod, jc, ctx);
	enum aios_err err = build_argv(c, jc, ctx);
	if (err)
		return err;
	const char *wd = aios_json_str(jc, "workingDir");
	if (wd && *wd) {
		if (wd[0] != '/')
			return aios_fail(AIOS_ERR_INVALID,
			                 "container %s: workingDir must be absolute", name);
		c->working_dir = aios_xstrdup(wd);
	}
	if ((err = parse_security(jc, p, c)) || (err = parse_mounts(jc, p, c)) ||
	    (err = parse_probe(jc, "readinessProbe", name, &c->readiness)) ||
	    (err = parse_probe(jc, "livenessProbe", name, &c->liveness)) ||
	    (err = parse_probe(jc, "startupProbe", name, &c->startup)))
		return err;
	const char *tmp = aios_json_str(jc, "terminationMessagePath");
	c->termination_message_path = aios_xstrdup(tmp && *tmp ? tmp : "/dev/termination-log");
	const char *pol = aios_json_str(jc, "terminationMessagePolicy");
	c->fallback_to_logs = pol && strcmp(pol, "FallbackToLogsOnError") == 0;
	return AIOS_OK;
}

/* ------------------------------------------------------------------ the pod */

enum aios_err aios_podspec_build(struct json_object *pod, const struct aios_podspec_ctx *ctx,
                                 struct aios_podspec **out)
{
	*out = NULL;
	struct aios_podspec *p = aios_xcalloc(1, sizeof *p);
	enum aios_err err = AIOS_OK;
	const char *ns = aios_json_str(pod, "metadata.namespace"),
	           *name = aios_json_str(pod, "metadata.name");
	const char *uid = aios_json_str(pod, "metadata.uid");
	if (!ns || !name || !uid) {
		err = aios_fail(AIOS_ERR_INVALID,
		                "pod: metadata.namespace, .name and .uid are required");
		goto fail;
	}
	p->ns = aios_xstrdup(ns);
	p->name = aios_xstrdup(name);
	p->uid = aios_xstrdup(uid);
	p->node_name = dup_or_null(aios_json_str(pod, "spec.nodeName"));
	p->service_account = dup_or_null(aios_json_str(pod, "spec.serviceAccountName"));

	const char *rp = aios_json_str(pod, "spec.restartPolicy");
	if (!rp || strcmp(rp, "Always") == 0)
		p->restart = AIOS_RESTART_ALWAYS;
	else if (strcmp(rp, "OnFailure") == 0)
		p->restart = AIOS_RESTART_ON_FAILURE;
	else if (strcmp(rp, "Never") == 0)
		p->restart = AIOS_RESTART_NEVER;
	else {
		err =
		    aios_fail(AIOS_ERR_INVALID,
		              "pod %s/%s: spec.restartPolicy %s is not Always, OnFailure or Never",
		              ns, name, rp);
		goto fail;
	}
	int64_t grace;
	if ((err = aios_json_opt_int(pod, "spec.terminationGracePeriodSeconds", 30, &grace)))
		goto fail;
	p->grace_s = grace < 0 ? 0 : grace;
	int hn = 0;
	if ((err = aios_json_opt_bool(pod, "spec.hostNetwork", 0, &hn)))
		goto fail;
	p->host_network = hn;
	struct json_object *psc = aios_json_lookup(pod, "spec.securityContext");
	p->run_as_user = p->run_as_group = AIOS_PODSPEC_DEFAULT_ID;
	p->fs_group = -1;
	if ((err = security_id(psc, "runAsUser", &p->run_as_user)) ||
	    (err = security_id(psc, "runAsGroup", &p->run_as_group)) ||
	    (err = security_id(psc, "fsGroup", &p->fs_group))) {
		aios_fail_wrap(err, "pod %s/%s: spec", ns, name);
		goto fail;
	}
	struct json_object *init = aios_json_lookup(pod, "spec.initContainers");
	if (init && json_object_is_type(init, json_type_array) &&
	    json_object_array_length(init) > 0) {
		err =
		    aios_fail(AIOS_ERR_INVALID,
		              "pod %s/%s: initContainers are not supported by aios-node", ns, name);
		goto fail;
	}

	struct json_object *vols = aios_json_lookup(pod, "spec.volumes");
	size_t nv =
	    vols && json_object_is_type(vols, json_type_array) ? json_object_array_length(vols) : 0;
	if (nv > AIOS_PODSPEC_MAX_VOLUMES) {
		err = aios_fail(AIOS_ERR_INVALID,
		                "pod %s/%s: %zu volumes, more than the %d aios-node accepts", ns,
		                name, nv, AIOS_PODSPEC_MAX_VOLUMES);
		goto fail;
	}
	p->volumes = aios_xcalloc(nv ? nv : 1, sizeof *p->volumes);
	for (size_t i = 0; i < nv; i++) {
		p->n_volumes++; /* counted first: a half-parsed volume is freed with the rest */
		if ((err = parse_volume(json_object_array_get_idx(vols, i), i, &p->volumes[i])))
			goto fail_wrap;
	}

	struct json_object *cs = aios_json_lookup(pod, "spec.containers");
	size_t nc =
	    cs && json_object_is_type(cs, json_type_array) ? json_object_array_length(cs) : 0;
	if (nc == 0 || nc > AIOS_PODSPEC_MAX_CONTAINERS) {
		err = aios_fail(AIOS_ERR_INVALID,
		                "pod %s/%s: spec.containers must hold 1 to %d containers", ns, name,
		                AIOS_PODSPEC_MAX_CONTAINERS);
		goto fail;
	}
	p->containers = aios_xcalloc(nc, sizeof *p->containers);
	for (size_t i = 0; i < nc; i++) {
		p->n_containers++;
		if ((err = parse_container(pod, json_object_array_get_idx(cs, i), i, p, ctx,
		                           &p->containers[i])))
			goto fail_wrap;
	}
	*out = p;
	return AIOS_OK;
fail_wrap:
	aios_fail_wrap(err, "pod %s/%s", ns, name);
fail:
	aios_podspec_free(p);
	return err;
}

static void free_probe(struct aios_podspec_probe *pr)
{
	free(pr->path);
}

void aios_podspec_free(struct aios_podspec *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_volumes; i++) {
		struct aios_podspec_volume *v = &p->volumes[i];
		free(v->name);
		free(v->source);
		for (size_t k = 0; k < v->n_items; k++) {
			free(v->items[k].key);
			free(v->items[k].path);
		}
		free(v->items);
	}
	free(p->volumes);
	for (size_t i = 0; i < p->n_containers; i++) {
		struct aios_podspec_container *c = &p->containers[i];
		free(c->name);
		free(c->image);
		free(c->program);
		free(c->image_reason);
		free(c->image_message);
		strv_free(c->argv);
		strv_free(c->env);
		free(c->working_dir);
		for (size_t k = 0; k < c->n_mounts; k++) {
			free(c->mounts[k].volume);
			free(c->mounts[k].path);
			free(c->mounts[k].sub_path);
		}
		free(c->mounts);
		free_probe(&c->readiness);
		free_probe(&c->liveness);
		free_probe(&c->startup);
		free(c->termination_message_path);
		free(c->env_error);
	}
	free(p->containers);
	free(p->ns);
	free(p->name);
	free(p->uid);
	free(p->node_name);
	free(p->service_account);
	free(p);
}
