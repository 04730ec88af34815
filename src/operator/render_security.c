/*
 * render_security.c - pod template policy and security-context merge (see
 * render_security.h).
 */
#include "operator/render_security.h"

#include <stdio.h>
#include <string.h>

#include "common/json.h"

static enum aios_pod_security policy = AIOS_POD_SECURITY_RESTRICTED;

void aios_render_security_set_policy(enum aios_pod_security p)
{
	policy = p;
}

int aios_render_security_parse(const char *s)
{
	if (s && strcmp(s, "restricted") == 0)
		return AIOS_POD_SECURITY_RESTRICTED;
	if (s && strcmp(s, "privileged") == 0)
		return AIOS_POD_SECURITY_PRIVILEGED;
	return -1;
}

/* ============================== the policy ============================== */

/* Tail of a refusal that --pod-security=privileged lifts. */
#define REFUSED                                                                                    \
	"refused by the operator's pod security policy (restricted; --pod-security=privileged "    \
	"allows it)"
/* Tail of a refusal no policy lifts: the renderer always sets the opposite. */
#define ALWAYS "refused: the operator always renders "

static int is_true(struct json_object *o, const char *key)
{
	struct json_object *v = aios_json_lookup(o, key);
	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static int is_false(struct json_object *o, const char *key)
{
	struct json_object *v = aios_json_lookup(o, key);
	return v && json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v);
}

static int in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s && strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}
#define IN_LIST(s, list) in_list((s), (list), sizeof(list) / sizeof((list)[0]))

/* The volume types Pod Security "restricted" allows. */
static const char *const VOLUME_TYPES[] = {"configMap", "csi",       "downwardAPI",
                                           "emptyDir",  "ephemeral", "persistentVolumeClaim",
                                           "projected", "secret"};
/* The sysctls Pod Security "baseline" calls safe. */
static const char *const SAFE_SYSCTLS[] = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                                           "net.ipv4.ip_unprivileged_port_start",
                                           "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range"};
/* The SELinux types Pod Security "baseline" allows (or none). */
static const char *const SELINUX_TYPES[] = {"container_t", "container_init_t", "container_kvm_t"};

/*
 * What both a PodSecurityContext and a SecurityContext can carry: sc at path. Returns
 * AIOS_ERR_INVALID naming the field, or AIOS_OK.
 */
static enum aios_err check_common(struct json_object *sc, const char *path, int restricted)
{
	if (!sc)
		return AIOS_OK;
	if (!json_object_is_type(sc, json_type_object))
		return aios_fail(AIOS_ERR_INVALID, "%s: must be an object", path);
	/* the invariants: under any policy */
	if (is_false(sc, "runAsNonRoot"))
		return aios_fail(AIOS_ERR_INVALID, "%s.runAsNonRoot: false is " ALWAYS "true",
		                 path);
	struct json_object *uid = aios_json_lookup(sc, "runAsUser");
	if (uid && json_object_is_type(uid, json_type_int) && json_object_get_int64(uid) == 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s.runAsUser: 0 (root) is " ALWAYS "runAsNonRoot: true", path);
	if (!restricted)
		return AIOS_OK;
	const char *sp = aios_json_str(sc, "seccompProfile.type");
	if (sp && strcmp(sp, "Unconfined") == 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s.seccompProfile.type: Unconfined is " REFUSED
		                 " (RuntimeDefault or Localhost)",
		                 path);
	if (is_true(sc, "windowsOptions.hostProcess"))
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s.windowsOptions.hostProcess: host processes are " REFUSED,
		                 path);
	struct json_object *se = aios_json_lookup(sc, "seLinuxOptions");
	if (se) {
		if (aios_json_lookup(se, "user") || aios_json_lookup(se, "role"))
			return aios_fail(AIOS_ERR_INVALID,
			                 "%s.seLinuxOptions: user and role are " REFUSED, path);
		const char *t = aios_json_str(se, "type");
		if (t && *t && !IN_LIST(t, SELINUX_TYPES))
			return aios_fail(AIOS_ERR_INVALID,
			                 "%s.seLinuxOptions.type: \"%s\" is " REFUSED
			                 " (container_t, container_init_t, container_kvm_t)",
			                 path, t);
	}
	return AIOS_OK;
}

static enum aios_err check_pod_context(struct json_object *sc, const char *path, int restricted)
{
	enum aios_err e = check_common(sc, path, restricted);
	if (e || !sc || !restricted)
		return e;
	struct json_object *sysctls = aios_json_lookup(sc, "sysctls");
	if (sysctls && json_object_is_type(sysctls, json_type_array))
		for (size_t i = 0; i < json_object_array_length(sysctls); i++) {
			const char *n =
			    aios_json_str(json_object_array_get_idx(sysctls, i), "name");
			if (!IN_LIST(n, SAFE_SYSCTLS))
				return aios_fail(AIOS_ERR_INVALID,
				                 "%s.sysctls[%zu]: \"%s\" is not a safe sysctl and "
				                 "is " REFUSED,
				                 path, i, n ? n : "");
		}
	return AIOS_OK;
}

static enum aios_err check_container_context(struct json_object *sc, const char *path,
                                             int restricted)
{
	enum aios_err e = check_common(sc, path, restricted);
	if (e || !sc)
		return e;
	if (is_false(sc, "readOnlyRootFilesystem"))
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s.readOnlyRootFilesystem: false is " ALWAYS
		                 "true (mount an emptyDir volume where the program writes)",
		                 path);
	if (!restricted)
		return AIOS_OK;
	if (is_true(sc, "privileged"))
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s.privileged: privileged containers are " REFUSED, path);
	if (is_true(sc, "allowPrivilegeEscalation"))
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s.allowPrivilegeEscalation: privilege escalation is " REFUSED,
		                 path);
	struct json_object *add = aios_json_lookup(sc, "capabilities.add");
	if (add && json_object_is_type(add, json_type_array) && json_object_array_length(add) > 0)
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s.capabilities.add: added capabilities are " REFUSED, path);
	const char *pm = aios_json_str(sc, "procMount");
	if (pm && strcmp(pm, "Default") != 0)
		return aios_fail(AIOS_ERR_INVALID, "%s.procMount: \"%s\" is " REFUSED, path, pm);
	return AIOS_OK;
}

static enum aios_err check_volumes(struct json_object *vols, const char *path)
{
	if (!vols || !json_object_is_type(vols, json_type_array))
		return AIOS_OK;
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		if (!v || !json_object_is_type(v, json_type_object))
			continue;
		json_object_object_foreach(v, type, src)
		{
			(void)src;
			if (strcmp(type, "name") == 0 || IN_LIST(type, VOLUME_TYPES))
				continue;
			if (strcmp(type, "hostPath") == 0)
				return aios_fail(
				    AIOS_ERR_INVALID,
				    "%s.volumes[%zu].hostPath: hostPath volumes are " REFUSED, path,
				    i);
			return aios_fail(AIOS_ERR_INVALID,
			                 "%s.volumes[%zu].%s: %s volumes are " REFUSED
			                 " (configMap, csi, downwardAPI, emptyDir, ephemeral, "
			                 "persistentVolumeClaim, projected, secret)",
			                 path, i, type, type);
		}
	}
	return AIOS_OK;
}

/* AppArmor profiles come as pod annotations (Kubernetes < 1.30); template annotations
 * pass through to the pods, so they are checked as Pod Security "baseline" does. */
#define APPARMOR_PREFIX "container.apparmor.security.beta.kubernetes.io/"

static enum aios_err check_annotations(struct json_object *ann, const char *path)
{
	if (!ann || !json_object_is_type(ann, json_type_object))
		return AIOS_OK;
	json_object_object_foreach(ann, k, v)
	{
		if (strncmp(k, APPARMOR_PREFIX, strlen(APPARMOR_PREFIX)) != 0)
			continue;
		const char *p = json_object_get_string(v);
		if (p && (strcmp(p, "runtime/default") == 0 || strncmp(p, "localhost/", 10) == 0))
			continue;
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s.annotations[%s]: AppArmor profile \"%s\" is " REFUSED
		                 " (runtime/default or localhost/NAME)",
		                 path, k, p ? p : "");
	}
	return AIOS_OK;
}

enum aios_err aios_render_policy_check(struct json_object *tmpl, const char *path)
{
	if (!tmpl)
		return AIOS_OK;
	int restricted = policy == AIOS_POD_SECURITY_RESTRICTED;
	char sub[256];
	enum aios_err e;
	snprintf(sub, sizeof(sub), "%s.podSecurityContext", path);
	if ((e = check_pod_context(aios_json_lookup(tmpl, "podSecurityContext"), sub, restricted)))
		return e;
	snprintf(sub, sizeof(sub), "%s.securityContext", path);
	if ((e = check_container_context(aios_json_lookup(tmpl, "securityContext"), sub,
	                                 restricted)))
		return e;
	if (!restricted)
		return AIOS_OK;
	/* not in the CRD schema (pruned by the API server) nor rendered: refused should an
	 * object reach the renderer some other way */
	static const char *const host[] = {"hostNetwork", "hostPID", "hostIPC"};
	for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++)
		if (is_true(tmpl, host[i]))
			return aios_fail(AIOS_ERR_INVALID, "%s.%s: host namespaces are " REFUSED,
			                 path, host[i]);
	if ((e = check_volumes(aios_json_lookup(tmpl, "volumes"), path)))
		return e;
	return check_annotations(aios_json_lookup(tmpl, "annotations"), path);
}

/* ============================== the merge ============================== */

/* defaults (parsed), then every key of user (copied) over them */
static struct json_object *merge(const char *defaults, struct json_object *user)
{
	struct json_object *sc = json_tokener_parse(defaults);
	if (user && json_object_is_type(user, json_type_object)) {
		json_object_object_foreach(user, k, v)
		{
			if (v && !json_object_is_type(v, json_type_null))
				json_object_object_add(sc, k, aios_json_copy(v));
		}
	}
	json_object_object_add(sc, "runAsNonRoot", json_object_new_boolean(1));
	return sc;
}

struct json_object *aios_render_pod_security(struct json_object *user)
{
	return merge("{\"runAsNonRoot\":true,\"runAsUser\":65532,\"runAsGroup\":65532,"
	             "\"fsGroup\":65532,\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}",
	             user);
}

struct json_object *aios_render_container_security(struct json_object *user)
{
	struct json_object *sc =
	    merge("{\"runAsNonRoot\":true,\"runAsUser\":65532,\"allowPrivilegeEscalation\":false,"
	          "\"readOnlyRootFilesystem\":true,\"privileged\":false,"
	          "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}",
	          user);
	json_object_object_add(sc, "readOnlyRootFilesystem", json_object_new_boolean(1));
	/* drop ALL always; what a template adds back survives only under "privileged" */
	struct json_object *caps = json_object_new_object(), *drop = json_object_new_array();
	json_object_array_add(drop, json_object_new_string("ALL"));
	json_object_object_add(caps, "drop", drop);
	struct json_object *add = aios_json_lookup(user, "capabilities.add");
	if (add && policy == AIOS_POD_SECURITY_PRIVILEGED)
		json_object_object_add(caps, "add", aios_json_copy(add));
	json_object_object_add(sc, "capabilities", caps);
	return sc;
}
