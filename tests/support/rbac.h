/*
 * rbac.h - least-privilege tests: roles read back from the API server, one case per verb
 * of each rule, and the role put back without that verb (test_rbac_operator.c,
 * test_rbac_gateway.c). Everything goes through the cached kubectl with the admin
 * kubeconfig; every failure fails the calling test.
 */
#ifndef AIOS_TEST_RBAC_H
#define AIOS_TEST_RBAC_H

#include <json-c/json.h>

/* One case: verb removed from rule `rule` of roles[role]. */
struct aios_test_rbac_case {
	int role, rule;
	char verb[32], resource[96], group[64];
};

/* `kubectl get KIND NAME -n NS -o json`, stripped to what `kubectl replace` takes back (no
 * resourceVersion, managed fields or annotations). Caller puts. */
struct json_object *aios_test_rbac_get(const char *kind, const char *name, const char *ns);

/* The cases of the n roles, in order, into out (at most max). Each rule must name one
 * resource of one group. Returns how many. */
int aios_test_rbac_cases(struct json_object *const *roles, int n, struct aios_test_rbac_case *out,
                         int max);

/* Replaces role on the server with a copy lacking c's verb (a rule left with no verb goes);
 * c NULL puts the full role back. */
void aios_test_rbac_apply(struct json_object *role, const struct aios_test_rbac_case *c);

#endif
