/*
 * render_security.c - pod template policy and security-context merge (see
 * render_security.h).
 */
#include "operator/render_security.h"

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

#define REFUSED                                                                                    \
	"refused by the operator's pod security policy (restricted; --pod-security=privileged "    \
	"allows it)"

static int is_true(struct json_object *o, const char *key)
{
	struct json_object *v = aios_json_lookup(o, key);
	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

enum aios_err aios_render_policy_check(struct json_object *tmpl, const char *path)
{
	if (!tmpl || policy == AIOS_POD_SECURITY_PRIVILEGED)
		return AIOS_OK;
	static const char *const host[] = {"hostNetwork", "hostPID", "hostIPC"};
	for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++)
		if (is_true(tmpl, host[i]))
			return aios_fail(AIOS_ERR_INVALID, "%s.%s: host namespaces are " REFUSED,
			                 path, host[i]);
	struct json_object *vols = aios_json_lookup(tmpl, "volumes");
	if (vols && json_object_is_type(vols, json_type_array))
		for (size_t i = 0; i < json_object_array_length(vols); i++)
			if (aios_json_lookup(json_object_array_get_idx(vols, i), "hostPath"))
				return aios_fail(
				    AIOS_ERR_INVALID,
				    "%s.volumes[%zu].hostPath: hostPath volumes are " REFUSED, path,
				    i);
	struct json_object *sc = aios_json_lookup(tmpl, "securityContext");
	if (is_true(sc, "privileged"))
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "%s.securityContext.privileged: privileged containers are " REFUSED, path);
	if (is_true(sc, "allowPrivilegeEscalation"))
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "%s.securityContext.allowPrivilegeEscalation: privilege escalation "
		    "is " REFUSED,
		    path);
	struct json_object *add = aios_json_lookup(sc, "capabilities.add");
	if (add && json_object_is_type(add, json_type_array) && json_object_array_length(add) > 0)
		return aios_fail(
		    AIOS_ERR_INVALID,
		    "%s.securityContext.capabilities.add: added capabilities are " REFUSED, path);
	return AIOS_OK;
}

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
