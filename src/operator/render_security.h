/*
 * render_security.h - what a TrainingJob's or ModelService's pod template may ask for,
 * and the security contexts the operator renders (shared by both renderers).
 *
 * Policy. By default ("restricted") a template is refused, with an InvalidSpec condition
 * naming the field, when it asks for what Pod Security "restricted" forbids among what the
 * renderer passes on: a volume other than configMap, csi, downwardAPI, emptyDir,
 * ephemeral, persistentVolumeClaim, projected or secret (hostPath above all); a container
 * that is privileged, may escalate privileges, adds capabilities or unmasks /proc; an
 * Unconfined seccomp profile, a host process, custom SELinux users/roles/types, unsafe
 * sysctls, an AppArmor annotation other than runtime/default or localhost/NAME; and host
 * namespaces (hostNetwork, hostPID, hostIPC: neither in the CRD schema nor rendered,
 * checked should an object reach the renderer another way). The operator's
 * --pod-security=privileged (Helm: operator.podSecurity) turns these refusals off for
 * clusters whose namespaces enforce their own policy. Either way the namespace's Pod
 * Security admission ("restricted") is the real boundary (docs/security.md).
 *
 * Under any policy, runAsNonRoot: false, runAsUser: 0 and readOnlyRootFilesystem: false
 * are refused: the renderer always sets the opposite, and a pod that would only fail at
 * its kubelet is better refused with the field's name.
 *
 * Merge. A template's podSecurityContext / securityContext is laid over the hardened
 * defaults (non-root 65532, RuntimeDefault seccomp, no privilege escalation, read-only
 * root, every capability dropped) key by key, and then runAsNonRoot: true,
 * readOnlyRootFilesystem: true and capabilities.drop: [ALL] are set again, so no template
 * drops them; capabilities.add is kept only under "privileged".
 */
#ifndef AIOS_OPERATOR_RENDER_SECURITY_H
#define AIOS_OPERATOR_RENDER_SECURITY_H

#include <json-c/json.h>

#include "common/err.h"

enum aios_pod_security {
	AIOS_POD_SECURITY_RESTRICTED = 0, /* the default: the refusals above */
	AIOS_POD_SECURITY_PRIVILEGED = 1, /* --pod-security=privileged: no refusal */
};

/* Sets the policy; main calls it once, before any worker runs. */
void aios_render_security_set_policy(enum aios_pod_security p);
/* "restricted" | "privileged" -> the policy; -1 for anything else. */
int aios_render_security_parse(const char *s);

/*
 * Checks tmpl (the spec.template object; NULL passes) against the policy. path names it
 * in messages ("spec.template"). AIOS_ERR_INVALID naming the first refused field, e.g.
 * "spec.template.volumes[1].hostPath: hostPath volumes are refused by the operator's pod
 * security policy (restricted; --pod-security=privileged allows it)". Both renderers call
 * it, so no pod is rendered from a refused template.
 */
enum aios_err aios_render_policy_check(struct json_object *tmpl, const char *path) AIOS_MUST_CHECK;

/* The pod's securityContext: user (may be NULL) merged over the defaults. New object. */
struct json_object *aios_render_pod_security(struct json_object *user);
/* The container's securityContext, the same way. New object. */
struct json_object *aios_render_container_security(struct json_object *user);

#endif
