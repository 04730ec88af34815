/*
 * kube_test.c - integration test helpers (kube_test.h).
 */
#include "support/kube_test.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"
#include "common/json.h"
#include "kube/config.h"

const char *aios_kt_cluster_dir(void)
{
	const char *d = getenv("AIOS_TEST_CLUSTER_DIR");
	if (!d || !*d) {
		fprintf(stderr,
		        "AIOS_TEST_CLUSTER_DIR is not set: run the integration tier through "
		        "tests/cluster/run-integration.sh (or scripts/test.sh)\n");
		exit(2);
	}
	return d;
}

void aios_kt_restart_apiserver(void)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s/tests/cluster/apiserver.sh restart-apiserver %s >&2",
	         getenv("AIOS_SOURCE_DIR") ? getenv("AIOS_SOURCE_DIR") : ".",
	         aios_kt_cluster_dir());
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

struct aios_kube_client *aios_kt_client(const char *identity)
{
	char path[1024];
	if (strcmp(identity, "admin") == 0 && !getenv("AIOS_TEST_CLUSTER_DIR"))
		snprintf(path, sizeof(path), "%s", aios_test_kubeconfig());
	else
		snprintf(path, sizeof(path), "%s/%s.kubeconfig", aios_kt_cluster_dir(), identity);
	struct aios_kube_config *cfg = NULL;
	enum aios_err e = aios_kube_config_load_file(path, NULL, &cfg);
	ck_assert_msg(e == AIOS_OK, "kubeconfig %s: %s", path, aios_errmsg());
	struct aios_kube_client *c = NULL;
	e = aios_kube_client_new(cfg, &c);
	aios_kube_config_free(cfg);
	ck_assert_msg(e == AIOS_OK, "client for %s: %s", identity, aios_errmsg());
	return c;
}

const char *aios_kt_namespace(struct aios_kube_client *c, const char *prefix)
{
	static char name[64];
	snprintf(name, sizeof(name), "%s-%x%04x", prefix, (unsigned)getpid(),
	         (unsigned)(aios_now_ns() & 0xffff));
	struct json_object *ns = aios_kt_object("v1", "Namespace", NULL, name);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_namespaces, NULL, NULL);
	enum aios_err e = aios_kube_create(c, &r, ns, NULL, NULL);
	json_object_put(ns);
	ck_assert_msg(e == AIOS_OK, "create namespace %s: %s", name, aios_errmsg());
	return name;
}

void aios_kt_ensure_crd(struct aios_kube_client *c, const char *crd_json,
                        const struct aios_kube_gvr *gvr)
{
	struct json_object *crd = NULL;
	ck_assert_int_eq(aios_json_parse(crd_json, strlen(crd_json), "CRD", &crd), AIOS_OK);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_crds, NULL, NULL);
	enum aios_err e = aios_kube_create(c, &r, crd, NULL, NULL);
	ck_assert_msg(e == AIOS_OK || e == AIOS_ERR_EXISTS, "create CRD: %s", aios_errmsg());
	r.name = aios_json_str(crd, "metadata.name");
	int64_t until = aios_now_ms() + 30000;
	int ok = 0;
	while (!ok && aios_now_ms() < until) {
		struct json_object *cur = NULL;
		if (aios_kube_get(c, &r, &cur) == AIOS_OK) {
			struct json_object *conds = aios_json_lookup(cur, "status.conditions");
			for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
				struct json_object *cd = json_object_array_get_idx(conds, i);
				const char *t = aios_json_str(cd, "type"),
				           *s = aios_json_str(cd, "status");
				if (t && s && strcmp(t, "Established") == 0 &&
				    strcmp(s, "True") == 0)
					ok = 1;
			}
			json_object_put(cur);
		}
		if (ok) {
			/* Established, but is it served yet? */
			struct aios_kube_ref l = aios_kube_ref(gvr, NULL, NULL);
			struct json_object *list = NULL;
			ok = aios_kube_list(c, &l, NULL, &list) == AIOS_OK;
			json_object_put(list);
		}
		if (!ok)
			aios_sleep_ms(100);
	}
	json_object_put(crd);
	ck_assert_msg(ok, "CRD %s not served after 30 s", gvr->resource);
}

struct json_object *aios_kt_object(const char *api_version, const char *kind, const char *ns,
                                   const char *name)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "apiVersion", json_object_new_string(api_version));
	json_object_object_add(o, "kind", json_object_new_string(kind));
	aios_json_set(o, "metadata.name", json_object_new_string(name));
	if (ns)
		aios_json_set(o, "metadata.namespace", json_object_new_string(ns));
	return o;
}
