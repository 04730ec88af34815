/*
 * test_client_pure.c - the client's pure pieces: URL paths and escaping, store keys,
 * the decoding of failed answers into errors, and the watch stream decoder (the same
 * code a live watch runs, fed from memory).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "kube/client.h"
#include "kube/kube_internal.h"

START_TEST(paths)
{
	struct {
		struct aios_kube_ref r;
		const char *want;
	} cases[] = {
	    {{&aios_kube_pods, "ns1", "p", NULL}, "/api/v1/namespaces/ns1/pods/p"},
	    {{&aios_kube_pods, "ns1", NULL, NULL}, "/api/v1/namespaces/ns1/pods"},
	    {{&aios_kube_pods, NULL, NULL, NULL}, "/api/v1/pods"}, /* all namespaces */
	    {{&aios_kube_pods, "", NULL, NULL}, "/api/v1/pods"},
	    {{&aios_kube_pods, "ns1", "p", "log"}, "/api/v1/namespaces/ns1/pods/p/log"},
	    {{&aios_kube_pods, "ns1", NULL, "status"},
	     "/api/v1/namespaces/ns1/pods"}, /* no name: no sub */
	    {{&aios_kube_nodes, "ignored", "n1", "status"}, "/api/v1/nodes/n1/status"},
	    {{&aios_kube_namespaces, NULL, "kube-system", NULL}, "/api/v1/namespaces/kube-system"},
	    {{&aios_kube_leases, "x", "l", NULL},
	     "/apis/coordination.k8s.io/v1/namespaces/x/leases/l"},
	    {{&aios_kube_crds, NULL, "trainingjobs.aios.dev", NULL},
	     "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/trainingjobs.aios.dev"},
	    {{&aios_kube_trainingjobs, "team", "j", "status"},
	     "/apis/aios.dev/v1alpha1/namespaces/team/trainingjobs/j/status"},
	    {{&aios_kube_modelservices, "team", NULL, NULL},
	     "/apis/aios.dev/v1alpha1/namespaces/team/modelservices"},
	    /* anything outside RFC 3986 unreserved is escaped: no path injection */
	    {{&aios_kube_configmaps, "a/b", "x?y=1 z", NULL},
	     "/api/v1/namespaces/a%2Fb/configmaps/x%3Fy%3D1%20z"},
	    {{&aios_kube_configmaps, "n", "..", NULL}, "/api/v1/namespaces/n/configmaps/.."},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = aios_kube_path(&cases[i].r);
		ck_assert_msg(strcmp(p, cases[i].want) == 0, "case %zu: %s != %s", i, p,
		              cases[i].want);
		free(p);
	}
}
END_TEST

START_TEST(query_escaping)
{
	struct aios_buf q;
	aios_buf_init(&q, 4096);
	ck_assert_int_eq(aios_buf_puts(&q, "/api/v1/pods"), AIOS_OK);
	ck_assert_int_eq(aios_kube_query_add(&q, "labelSelector", "app in (a,b),!canary,tier!=db"),
	                 AIOS_OK);
	ck_assert_int_eq(aios_kube_query_add(&q, "continue", "eyJ2Ijo+/=="), AIOS_OK);
	ck_assert_str_eq(
	    q.data, "/api/v1/pods?labelSelector=app%20in%20%28a%2Cb%29%2C%21canary%2Ctier%21%3Ddb"
	            "&continue=eyJ2Ijo%2B%2F%3D%3D");
	aios_buf_cleanup(&q);
}
END_TEST

START_TEST(keys)
{
	char key[64];
	struct json_object *o = json_object_new_object();
	ck_assert_int_eq(aios_kube_key(o, key, sizeof(key)), AIOS_ERR_INVALID);
	aios_json_set(o, "metadata.name", json_object_new_string("n1"));
	ck_assert_int_eq(aios_kube_key(o, key, sizeof(key)), AIOS_OK);
	ck_assert_str_eq(key, "n1"); /* cluster-scoped */
	aios_json_set(o, "metadata.namespace", json_object_new_string("ns"));
	ck_assert_int_eq(aios_kube_key(o, key, sizeof(key)), AIOS_OK);
	ck_assert_str_eq(key, "ns/n1");
	ck_assert_int_eq(aios_kube_key(o, key, 4), AIOS_ERR_TOO_BIG);
	json_object_put(o);
}
END_TEST

static enum aios_err decode(long code, const char *body)
{
	return aios_kube_status_error(code, body, body ? strlen(body) : 0, "get x");
}

START_TEST(status_codes)
{
	ck_assert_int_eq(decode(404, NULL), AIOS_ERR_NOT_FOUND);
	ck_assert_str_eq(aios_errmsg(), "get x: HTTP 404 with an empty body");
	ck_assert_int_eq(
	    decode(409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"message\":\"m\"}"),
	    AIOS_ERR_EXISTS);
	ck_assert_str_eq(aios_errmsg(), "get x: m (AlreadyExists)");
	ck_assert_int_eq(
	    decode(409, "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"m\"}"),
	    AIOS_ERR_CONFLICT);
	ck_assert_int_eq(decode(410, "{}"), AIOS_ERR_GONE);
	ck_assert_int_eq(decode(400, "{}"), AIOS_ERR_INVALID);
	ck_assert_int_eq(decode(422, "{}"), AIOS_ERR_INVALID);
	ck_assert_int_eq(decode(401, "{}"), AIOS_ERR_UNAUTHORIZED);
	ck_assert_int_eq(decode(403, "{}"), AIOS_ERR_FORBIDDEN);
	ck_assert_int_eq(decode(405, "{}"), AIOS_ERR_UNSUPPORTED);
	ck_assert_int_eq(decode(413, "{}"), AIOS_ERR_TOO_BIG);
	ck_assert_int_eq(decode(429, "{}"), AIOS_ERR_UNAVAILABLE);
	ck_assert_int_eq(decode(500, "{}"), AIOS_ERR_UNAVAILABLE);
	ck_assert_int_eq(decode(503, "{}"), AIOS_ERR_UNAVAILABLE);
	ck_assert_int_eq(decode(504, "{}"), AIOS_ERR_TIMEOUT);
	ck_assert_int_eq(decode(302, "moved"), AIOS_ERR_PROTOCOL);
	ck_assert_str_eq(aios_errmsg(), "get x: HTTP 302: moved");
	/* inside a watch ERROR event (code 0): the Status's own code decides */
	ck_assert_int_eq(decode(0, "{\"kind\":\"Status\",\"code\":410,\"message\":\"too old\"}"),
	                 AIOS_ERR_GONE);
	ck_assert_int_eq(decode(0, "{\"kind\":\"Status\",\"code\":500,\"message\":\"boom\"}"),
	                 AIOS_ERR_UNAVAILABLE);
	/* causes not in the message are appended, those in it are not repeated */
	ck_assert_int_eq(
	    decode(
	        422,
	        "{\"message\":\"X is invalid: spec.a: Invalid value: 1\","
	        "\"details\":{\"causes\":[{\"field\":\"spec.a\",\"message\":\"Invalid value: 1\"},"
	        "{\"field\":\"spec.b\",\"message\":\"Required value\"}]}}"),
	    AIOS_ERR_INVALID);
	ck_assert_str_eq(aios_errmsg(),
	                 "get x: X is invalid: spec.a: Invalid value: 1; spec.b: Required value");
	/* a long non-Status body is quoted up to 200 bytes */
	char big[1000];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(decode(502, big), AIOS_ERR_UNAVAILABLE);
	ck_assert_uint_eq(strlen(aios_errmsg()), strlen("get x: HTTP 502: ") + 200);
}
END_TEST

struct seen {
	int n;
	char log[256];
};

static enum aios_err rec(void *arg, enum aios_kube_event_type t, struct json_object *obj)
{
	struct seen *s = arg;
	size_t l = strlen(s->log);
	const char *rv = aios_json_str(obj, "metadata.resourceVersion");
	snprintf(s->log + l, sizeof(s->log) - l, "%s%s/%s", s->n++ ? " " : "",
	         aios_kube_event_type_name(t), rv ? rv : "-");
	return AIOS_OK;
}

#define EV(t, rv) "{\"type\":\"" t "\",\"object\":{\"metadata\":{\"resourceVersion\":\"" rv "\"}}}"

START_TEST(watch_decoder)
{
	struct seen s = {0};
	const char *body = EV("ADDED", "1") "\r\n\n" EV("MODIFIED", "2") "\n" EV(
	    "BOOKMARK", "3") "\n" EV("DELETED", "4") "\n";
	ck_assert_int_eq(aios_kube_watch_decode(body, strlen(body), "w", rec, &s), AIOS_OK);
	ck_assert_str_eq(s.log, "ADDED/1 MODIFIED/2 BOOKMARK/3 DELETED/4");

	memset(&s, 0, sizeof(s));
	body = EV("ADDED", "1") "\n{\"type\":\"ADD";
	ck_assert_int_eq(aios_kube_watch_decode(body, strlen(body), "w", rec, &s),
	                 AIOS_ERR_PROTOCOL);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(aios_errmsg(), "w: stream cut mid-line after 1 events");

	memset(&s, 0, sizeof(s));
	body = "{\"type\":\"RENAMED\",\"object\":{}}\n";
	ck_assert_int_eq(aios_kube_watch_decode(body, strlen(body), "w", rec, &s),
	                 AIOS_ERR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "unknown event type \"RENAMED\""));

	body = "{\"type\":\"ADDED\"}\n";
	ck_assert_int_eq(aios_kube_watch_decode(body, strlen(body), "w", rec, &s),
	                 AIOS_ERR_PROTOCOL);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "lacks a type or an object"));

	body = "[1,2]\n";
	ck_assert_int_eq(aios_kube_watch_decode(body, strlen(body), "w", rec, &s),
	                 AIOS_ERR_PROTOCOL);

	body = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":403,\"message\":"
	       "\"no\"}}\n";
	ck_assert_int_eq(aios_kube_watch_decode(body, strlen(body), "w", rec, &s),
	                 AIOS_ERR_FORBIDDEN);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_client_pure");
	TCase *t = tcase_create("pure");
	tcase_add_test(t, paths);
	tcase_add_test(t, query_escaping);
	tcase_add_test(t, keys);
	tcase_add_test(t, status_codes);
	tcase_add_test(t, watch_decoder);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
