/*
 * test_render_security.c - the pod template policy (each refused field named, the
 * privileged policy lifting it) and the security-context merge (a template never drops
 * runAsNonRoot, readOnlyRootFilesystem or capabilities drop ALL), through the
 * TrainingJob spec parse and pod render that use them.
 */
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "operator/render_security.h"
#include "operator/trainingjob.h"

static struct json_object *job_with(const char *tmpl)
{
	char doc[2048];
	snprintf(doc, sizeof(doc),
	         "{\"metadata\":{\"name\":\"j\",\"namespace\":\"ml\",\"uid\":\"u\"},"
	         "\"spec\":{\"model\":{\"type\":\"linear\"},\"template\":%s}}",
	         tmpl);
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(doc, strlen(doc), "test", &o), AIOS_OK);
	return o;
}

START_TEST(each_refused_field_is_named)
{
	static const char *const cases[][2] = {
	    {"{\"volumes\":[{\"name\":\"a\",\"emptyDir\":{}},{\"name\":\"h\",\"hostPath\":{"
	     "\"path\":"
	     "\"/etc\"}}]}",
	     "spec.template.volumes[1].hostPath: hostPath volumes are refused"},
	    {"{\"hostNetwork\":true}", "spec.template.hostNetwork: host namespaces are refused"},
	    {"{\"hostPID\":true}", "spec.template.hostPID: host namespaces are refused"},
	    {"{\"hostIPC\":true}", "spec.template.hostIPC: host namespaces are refused"},
	    {"{\"securityContext\":{\"privileged\":true}}",
	     "spec.template.securityContext.privileged: privileged containers are refused"},
	    {"{\"securityContext\":{\"allowPrivilegeEscalation\":true}}",
	     "spec.template.securityContext.allowPrivilegeEscalation: privilege escalation is "
	     "refused"},
	    {"{\"securityContext\":{\"capabilities\":{\"add\":[\"NET_ADMIN\"]}}}",
	     "spec.template.securityContext.capabilities.add: added capabilities are refused"},
	    {"{\"volumes\":[{\"name\":\"n\",\"nfs\":{\"server\":\"x\",\"path\":\"/\"}}]}",
	     "spec.template.volumes[0].nfs: nfs volumes are refused"},
	    {"{\"securityContext\":{\"procMount\":\"Unmasked\"}}",
	     "spec.template.securityContext.procMount: \"Unmasked\" is refused"},
	    {"{\"podSecurityContext\":{\"seccompProfile\":{\"type\":\"Unconfined\"}}}",
	     "spec.template.podSecurityContext.seccompProfile.type: Unconfined is refused"},
	    {"{\"podSecurityContext\":{\"sysctls\":[{\"name\":\"kernel.msgmax\",\"value\":\"1\"}]}"
	     "}",
	     "spec.template.podSecurityContext.sysctls[0]: \"kernel.msgmax\" is not a safe sysctl"},
	    {"{\"securityContext\":{\"seLinuxOptions\":{\"type\":\"spc_t\"}}}",
	     "spec.template.securityContext.seLinuxOptions.type: \"spc_t\" is refused"},
	    {"{\"annotations\":{\"container.apparmor.security.beta.kubernetes.io/trainer\":"
	     "\"unconfined\"}}",
	     "AppArmor profile \"unconfined\" is refused"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *job = job_with(cases[i][0]);
		struct aios_tj_spec s;
		aios_render_security_set_policy(AIOS_POD_SECURITY_RESTRICTED);
		ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_ERR_INVALID);
		ck_assert_msg(strstr(aios_errmsg(), cases[i][1]) &&
		                  strstr(aios_errmsg(), "--pod-security=privileged"),
		              "case %zu: %s", i, aios_errmsg());
		aios_render_security_set_policy(AIOS_POD_SECURITY_PRIVILEGED);
		ck_assert_msg(aios_tj_spec_parse(job, &s) == AIOS_OK, "case %zu privileged: %s", i,
		              aios_errmsg());
		aios_render_security_set_policy(AIOS_POD_SECURITY_RESTRICTED);
		json_object_put(job);
	}
	/* what is not refused: false flags, other volumes, drops */
	struct json_object *ok = job_with(
	    "{\"hostNetwork\":false,\"volumes\":[{\"name\":\"c\",\"configMap\":{\"name\":\"x\"}}],"
	    "\"securityContext\":{\"privileged\":false,\"capabilities\":{\"drop\":[\"ALL\"]}}}");
	struct aios_tj_spec s;
	ck_assert_int_eq(aios_tj_spec_parse(ok, &s), AIOS_OK);
	json_object_put(ok);
	ck_assert_int_eq(aios_render_security_parse("restricted"), AIOS_POD_SECURITY_RESTRICTED);
	ck_assert_int_eq(aios_render_security_parse("privileged"), AIOS_POD_SECURITY_PRIVILEGED);
	ck_assert_int_eq(aios_render_security_parse("baseline"), -1);

	/* what no policy lets through: the renderer always sets the opposite */
	static const char *const always[][2] = {
	    {"{\"securityContext\":{\"readOnlyRootFilesystem\":false}}",
	     "spec.template.securityContext.readOnlyRootFilesystem: false is refused"},
	    {"{\"podSecurityContext\":{\"runAsNonRoot\":false}}",
	     "spec.template.podSecurityContext.runAsNonRoot: false is refused"},
	    {"{\"securityContext\":{\"runAsUser\":0}}",
	     "spec.template.securityContext.runAsUser: 0 (root) is refused"},
	};
	for (int pol = 0; pol < 2; pol++) {
		aios_render_security_set_policy(pol ? AIOS_POD_SECURITY_PRIVILEGED
		                                    : AIOS_POD_SECURITY_RESTRICTED);
		for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
			struct json_object *job = job_with(always[i][0]);
			ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_ERR_INVALID);
			ck_assert_msg(strstr(aios_errmsg(), always[i][1]), "case %zu/%d: %s", i,
			              pol, aios_errmsg());
			json_object_put(job);
		}
	}
	aios_render_security_set_policy(AIOS_POD_SECURITY_RESTRICTED);
}
END_TEST

static int is_true(struct json_object *o, const char *key)
{
	return json_object_get_boolean(aios_json_lookup(o, key));
}

START_TEST(user_context_merges_over_the_hardened_defaults)
{
	struct json_object *job =
	    job_with("{\"podSecurityContext\":{\"runAsUser\":1000,"
	             "\"supplementalGroups\":[5]},\"securityContext\":{\"runAsUser\":1000,"
	             "\"capabilities\":{\"drop\":[]}},\"args\":[\"--threads\",\"2\"]}");
	struct aios_tj_spec s;
	ck_assert_int_eq(aios_tj_spec_parse(job, &s), AIOS_OK);
	struct json_object *pod;
	ck_assert_int_eq(aios_tj_render_pod(job, &s, 0, 0, NULL, 0, &pod), AIOS_OK);
	struct json_object *psc = aios_json_lookup(pod, "spec.securityContext");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(psc, "runAsUser")), 1000);
	ck_assert(is_true(psc, "runAsNonRoot"));
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(psc, "fsGroup")), 65532);
	ck_assert_str_eq(aios_json_str(psc, "seccompProfile.type"), "RuntimeDefault");
	ck_assert_ptr_nonnull(aios_json_lookup(psc, "supplementalGroups"));
	struct json_object *c =
	    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0);
	struct json_object *csc = aios_json_lookup(c, "securityContext");
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(csc, "runAsUser")), 1000);
	ck_assert(is_true(csc, "runAsNonRoot"));
	ck_assert(is_true(csc, "readOnlyRootFilesystem"));
	ck_assert(!is_true(csc, "allowPrivilegeEscalation"));
	ck_assert(!is_true(csc, "privileged"));
	struct json_object *drop = aios_json_lookup(csc, "capabilities.drop");
	ck_assert_int_eq(json_object_array_length(drop), 1);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(drop, 0)), "ALL");
	ck_assert_ptr_null(aios_json_lookup(csc, "capabilities.add"));
	/* args pass through (the CRD schema now has them) */
	ck_assert_int_eq(json_object_array_length(aios_json_lookup(c, "args")), 2);
	json_object_put(pod);
	json_object_put(job);

	/* no template context: the defaults */
	struct json_object *d = aios_render_container_security(NULL);
	ck_assert(is_true(d, "runAsNonRoot") && is_true(d, "readOnlyRootFilesystem"));
	ck_assert_int_eq(json_object_get_int(aios_json_lookup(d, "runAsUser")), 65532);
	json_object_put(d);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("render_security");
	TCase *tc = tcase_create("policy");
	tcase_add_test(tc, each_refused_field_is_named);
	tcase_add_test(tc, user_context_merges_over_the_hardened_defaults);
	suite_add_tcase(s, tc);
	return s;
}

AIOS_CHECK_MAIN(suite)
