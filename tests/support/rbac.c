/*
 * rbac.c - roles read back, cases listed, verbs removed (rbac.h).
 */
#include "support/rbac.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "support/kubectl.h"

static char g_out[AIOS_TEST_KUBECTL_OUT_CAP];

struct json_object *aios_test_rbac_get(const char *kind, const char *name, const char *ns)
{
	int rc = aios_test_kubectl(aios_test_kubeconfig(), NULL, g_out, sizeof(g_out), "get", kind,
	                           name, "-n", ns, "-o", "json", NULL);
	ck_assert_msg(rc == 0, "kubectl get %s %s: %s", kind, name, g_out);
	struct json_object *o;
	ck_assert_msg(aios_json_parse(g_out, strlen(g_out), kind, &o) == AIOS_OK, "%s",
	              aios_errmsg());
	struct json_object *md = aios_json_lookup(o, "metadata");
	json_object_object_del(md, "resourceVersion");
	json_object_object_del(md, "managedFields");
	json_object_object_del(md, "annotations");
	return o;
}

int aios_test_rbac_cases(struct json_object *const *roles, int n_roles,
                         struct aios_test_rbac_case *out, int max)
{
	int n = 0;
	for (int r = 0; r < n_roles; r++) {
		struct json_object *rules = aios_json_lookup(roles[r], "rules");
		for (size_t i = 0; i < json_object_array_length(rules); i++) {
			struct json_object *rule = json_object_array_get_idx(rules, i);
			struct json_object *verbs = aios_json_lookup(rule, "verbs");
			struct json_object *res = aios_json_lookup(rule, "resources");
			struct json_object *grp = aios_json_lookup(rule, "apiGroups");
			ck_assert_msg(json_object_array_length(res) == 1 &&
			                  json_object_array_length(grp) == 1,
			              "rule %zu: one resource and one group per rule expected", i);
			for (size_t v = 0; v < json_object_array_length(verbs); v++) {
				ck_assert_int_lt(n, max);
				struct aios_test_rbac_case *c = &out[n++];
				c->role = r;
				c->rule = (int)i;
				snprintf(
				    c->verb, sizeof(c->verb), "%s",
				    json_object_get_string(json_object_array_get_idx(verbs, v)));
				snprintf(c->resource, sizeof(c->resource), "%s",
				         json_object_get_string(json_object_array_get_idx(res, 0)));
				snprintf(c->group, sizeof(c->group), "%s",
				         json_object_get_string(json_object_array_get_idx(grp, 0)));
			}
		}
	}
	return n;
}

void aios_test_rbac_apply(struct json_object *role, const struct aios_test_rbac_case *c)
{
	struct json_object *copy = NULL;
	ck_assert_int_eq(json_object_deep_copy(role, &copy, NULL), 0);
	if (c) {
		struct json_object *rules = aios_json_lookup(copy, "rules");
		struct json_object *rule = json_object_array_get_idx(rules, (size_t)c->rule);
		struct json_object *verbs = aios_json_lookup(rule, "verbs");
		struct json_object *kept = json_object_new_array();
		for (size_t v = 0; v < json_object_array_length(verbs); v++) {
			const char *s = json_object_get_string(json_object_array_get_idx(verbs, v));
			if (strcmp(s, c->verb) != 0)
				json_object_array_add(kept, json_object_new_string(s));
		}
		if (json_object_array_length(kept) == 0) {
			json_object_put(kept);
			json_object_array_del_idx(rules, (size_t)c->rule, 1);
		} else {
			json_object_object_add(rule, "verbs", kept);
		}
	}
	const char *args[] = {"replace", "-f", "-"};
	int rc = aios_test_kubectlv(aios_test_kubeconfig(), json_object_to_json_string(copy), g_out,
	                            sizeof(g_out), args, 3);
	ck_assert_msg(rc == 0, "kubectl replace %s: %s", aios_json_str(copy, "metadata.name"),
	              g_out);
	json_object_put(copy);
}
