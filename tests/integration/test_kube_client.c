/*
 * test_kube_client.c - the client's verbs against the real kube-apiserver:
 * CRUD on ConfigMaps and on a test CRD, the status subresource, 409 on a stale
 * resourceVersion, 409 AlreadyExists, delete preconditions, patches and server-side
 * apply, pagination with continue, 422 with field causes, 403 under an identity
 * without RBAC, client-certificate authentication, and the Event recorder.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/json.h"
#include "kube/client.h"
#include "kube/events.h"
#include "support/kube_test.h"

static struct aios_kube_client *kc;
static char ns[64];

static void setup(void)
{
	kc = aios_kt_client("admin");
	snprintf(ns, sizeof(ns), "%s", aios_kt_namespace(kc, "kt-client"));
}

static void teardown(void)
{
	aios_kube_client_free(kc);
	kc = NULL;
}

static struct json_object *configmap(const char *name, const char *k, const char *v)
{
	struct json_object *o = aios_kt_object("v1", "ConfigMap", ns, name);
	aios_json_set(o, "data", json_object_new_object());
	aios_json_set(o, "data", json_object_new_object());
	json_object_object_add(aios_json_lookup(o, "data"), k, json_object_new_string(v));
	return o;
}

#define OK(expr) ck_assert_msg((expr) == AIOS_OK, "%s: %s", #expr, aios_errmsg())

START_TEST(configmap_crud)
{
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct aios_kube_ref one = aios_kube_ref(&aios_kube_configmaps, ns, "cm1");
	struct json_object *cm = configmap("cm1", "k", "v1"), *out = NULL, *got = NULL;
	OK(aios_kube_create(kc, &coll, cm, NULL, &out));
	ck_assert_str_eq(aios_json_str(out, "data.k"), "v1");
	const char *uid = aios_json_str(out, "metadata.uid");
	ck_assert_ptr_nonnull(uid);
	char uidbuf[64];
	snprintf(uidbuf, sizeof(uidbuf), "%s", uid);

	/* create again: AlreadyExists, not Conflict */
	ck_assert_int_eq(aios_kube_create(kc, &coll, cm, NULL, NULL), AIOS_ERR_EXISTS);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "already exists"));

	OK(aios_kube_get(kc, &one, &got));
	ck_assert_str_eq(aios_json_str(got, "metadata.resourceVersion"),
	                 aios_json_str(out, "metadata.resourceVersion"));

	/* replace with the current resourceVersion: ok */
	struct json_object *upd = aios_json_copy(got);
	json_object_object_add(aios_json_lookup(upd, "data"), "k", json_object_new_string("v2"));
	struct json_object *after = NULL;
	OK(aios_kube_replace(kc, &one, upd, NULL, &after));
	ck_assert_str_eq(aios_json_str(after, "data.k"), "v2");

	/* replace again with the now stale resourceVersion: 409 Conflict */
	json_object_object_add(aios_json_lookup(upd, "data"), "k", json_object_new_string("v3"));
	ck_assert_int_eq(aios_kube_replace(kc, &one, upd, NULL, NULL), AIOS_ERR_CONFLICT);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "the object has been modified"));

	/* merge patch */
	struct json_object *mp = NULL, *res = NULL;
	const char *mps = "{\"data\":{\"m\":\"merged\"}}";
	OK(aios_json_parse(mps, strlen(mps), "patch", &mp));
	OK(aios_kube_patch(kc, &one, AIOS_KUBE_PATCH_MERGE, mp, NULL, &res));
	ck_assert_str_eq(aios_json_str(res, "data.m"), "merged");
	ck_assert_str_eq(aios_json_str(res, "data.k"), "v2");
	json_object_put(res);

	/* JSON patch: a failing test op is refused (422), a good one applies */
	struct json_object *jp = NULL;
	const char *bad = "[{\"op\":\"test\",\"path\":\"/data/k\",\"value\":\"nope\"},"
	                  "{\"op\":\"replace\",\"path\":\"/data/k\",\"value\":\"x\"}]";
	OK(aios_json_parse(bad, strlen(bad), "patch", &jp));
	enum aios_err e = aios_kube_patch(kc, &one, AIOS_KUBE_PATCH_JSON, jp, NULL, NULL);
	ck_assert_msg(e == AIOS_ERR_INVALID, "json patch with failing test: %s (%s)",
	              aios_strerror(e), aios_errmsg());
	json_object_put(jp);
	const char *good = "[{\"op\":\"test\",\"path\":\"/data/k\",\"value\":\"v2\"},"
	                   "{\"op\":\"replace\",\"path\":\"/data/k\",\"value\":\"jp\"}]";
	OK(aios_json_parse(good, strlen(good), "patch", &jp));
	OK(aios_kube_patch(kc, &one, AIOS_KUBE_PATCH_JSON, jp, NULL, &res));
	ck_assert_str_eq(aios_json_str(res, "data.k"), "jp");
	json_object_put(res);

	/* server-side apply: needs a field manager; a second manager conflicts unless forced */
	struct json_object *ap = configmap("cm1", "applied", "yes");
	ck_assert_int_eq(aios_kube_patch(kc, &one, AIOS_KUBE_PATCH_APPLY, ap, NULL, NULL),
	                 AIOS_ERR_INVALID);
	struct aios_kube_write_opts w1 = {.field_manager = "aios-test-a"};
	OK(aios_kube_patch(kc, &one, AIOS_KUBE_PATCH_APPLY, ap, &w1, &res));
	ck_assert_str_eq(aios_json_str(res, "data.applied"), "yes");
	json_object_put(res);
	json_object_put(ap);
	ap = configmap("cm1", "applied", "other");
	struct aios_kube_write_opts w2 = {.field_manager = "aios-test-b"};
	ck_assert_int_eq(aios_kube_patch(kc, &one, AIOS_KUBE_PATCH_APPLY, ap, &w2, NULL),
	                 AIOS_ERR_CONFLICT);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "conflict"));
	w2.force = 1;
	OK(aios_kube_patch(kc, &one, AIOS_KUBE_PATCH_APPLY, ap, &w2, &res));
	ck_assert_str_eq(aios_json_str(res, "data.applied"), "other");
	json_object_put(res);
	json_object_put(ap);

	/* dry run changes nothing */
	struct json_object *dr = configmap("cm-dry", "k", "v");
	struct aios_kube_write_opts dry = {.dry_run = 1};
	OK(aios_kube_create(kc, &coll, dr, &dry, NULL));
	struct aios_kube_ref dry_ref = aios_kube_ref(&aios_kube_configmaps, ns, "cm-dry");
	ck_assert_int_eq(aios_kube_get(kc, &dry_ref, &res), AIOS_ERR_NOT_FOUND);
	json_object_put(dr);

	/* delete with a wrong uid precondition: 409; with the right one: gone */
	struct aios_kube_delete_opts d = {
	    .precondition_uid = "00000000-0000-0000-0000-000000000000", .grace_period_seconds = -1};
	ck_assert_int_eq(aios_kube_delete(kc, &one, &d, NULL), AIOS_ERR_CONFLICT);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "the UID in the precondition"));
	d.precondition_uid = uidbuf;
	d.propagation_policy = "Background";
	OK(aios_kube_delete(kc, &one, &d, NULL));
	ck_assert_int_eq(aios_kube_get(kc, &one, &res), AIOS_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "\"cm1\" not found"));
	ck_assert_int_eq(aios_kube_delete(kc, &one, NULL, NULL), AIOS_ERR_NOT_FOUND);

	json_object_put(cm);
	json_object_put(out);
	json_object_put(got);
	json_object_put(upd);
	json_object_put(after);
	json_object_put(mp);
	json_object_put(jp);
}
END_TEST

/* A test CRD with a status subresource and a validated field. */
static const char crd_json[] =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
    "\"metadata\":{\"name\":\"widgets.test.aios.dev\"},"
    "\"spec\":{\"group\":\"test.aios.dev\",\"scope\":\"Namespaced\","
    "\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":\"Widget\",\"listKind\":"
    "\"WidgetList\"},"
    "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
    "\"subresources\":{\"status\":{}},"
    "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{"
    "\"spec\":{\"type\":\"object\",\"required\":[\"size\"],\"properties\":{"
    "\"size\":{\"type\":\"integer\",\"minimum\":1},\"color\":{\"type\":\"string\",\"enum\":["
    "\"red\",\"blue\"]}}},"
    "\"status\":{\"type\":\"object\",\"properties\":{\"phase\":{\"type\":\"string\"}}}}}}}]}}";

static const struct aios_kube_gvr widgets = {"test.aios.dev", "v1", "widgets", 1};

START_TEST(crd_and_status_subresource)
{
	aios_kt_ensure_crd(kc, crd_json, &widgets);
	struct aios_kube_ref coll = aios_kube_ref(&widgets, ns, NULL);
	struct aios_kube_ref one = aios_kube_ref(&widgets, ns, "w1");

	/* invalid: the message names each bad field */
	struct json_object *bad = aios_kt_object("test.aios.dev/v1", "Widget", ns, "bad");
	aios_json_set(bad, "spec.size", json_object_new_int(-1));
	aios_json_set(bad, "spec.color", json_object_new_string("green"));
	ck_assert_int_eq(aios_kube_create(kc, &coll, bad, NULL, NULL), AIOS_ERR_INVALID);
	ck_assert_msg(strstr(aios_errmsg(), "spec.size") &&
	                  strstr(aios_errmsg(), "greater than or equal to 1"),
	              "message: %s", aios_errmsg());
	ck_assert_msg(strstr(aios_errmsg(), "spec.color") &&
	                  strstr(aios_errmsg(), "Unsupported value: \"green\""),
	              "message: %s", aios_errmsg());
	json_object_put(bad);

	struct json_object *w = aios_kt_object("test.aios.dev/v1", "Widget", ns, "w1"), *out = NULL;
	aios_json_set(w, "spec.size", json_object_new_int(3));
	aios_json_set(w, "status.phase", json_object_new_string("ignored"));
	OK(aios_kube_create(kc, &coll, w, NULL, &out));
	/* with a status subresource, the main resource ignores status */
	ck_assert_ptr_null(aios_json_lookup(out, "status.phase"));
	int64_t gen = 0;
	OK(aios_json_get_int(out, "metadata.generation", &gen));

	/* the status subresource writes status only, and leaves generation alone */
	aios_json_set(out, "status.phase", json_object_new_string("Running"));
	aios_json_set(out, "spec.size", json_object_new_int(99));
	struct json_object *st = NULL;
	OK(aios_kube_update_status(kc, &one, out, &st));
	ck_assert_str_eq(aios_json_str(st, "status.phase"), "Running");
	int64_t size = 0, gen2 = 0;
	OK(aios_json_get_int(st, "spec.size", &size));
	OK(aios_json_get_int(st, "metadata.generation", &gen2));
	ck_assert_int_eq(size, 3);
	ck_assert_int_eq(gen2, gen);

	/* a stale status write conflicts too */
	aios_json_set(out, "status.phase", json_object_new_string("Stale"));
	ck_assert_int_eq(aios_kube_update_status(kc, &one, out, NULL), AIOS_ERR_CONFLICT);

	/* a spec change bumps generation; status survives a main-resource update */
	struct json_object *cur = NULL, *after = NULL;
	OK(aios_kube_get(kc, &one, &cur));
	aios_json_set(cur, "spec.size", json_object_new_int(4));
	aios_json_set(cur, "status.phase", json_object_new_string("Overwritten?"));
	OK(aios_kube_replace(kc, &one, cur, NULL, &after));
	OK(aios_json_get_int(after, "metadata.generation", &gen2));
	ck_assert_int_eq(gen2, gen + 1);
	ck_assert_str_eq(aios_json_str(after, "status.phase"), "Running");

	/* merge patch on status */
	struct aios_kube_ref sref = one;
	sref.subresource = "status";
	struct json_object *p = json_object_new_object(), *pr = NULL;
	aios_json_set(p, "status.phase", json_object_new_string("Succeeded"));
	OK(aios_kube_patch(kc, &sref, AIOS_KUBE_PATCH_MERGE, p, NULL, &pr));
	ck_assert_str_eq(aios_json_str(pr, "status.phase"), "Succeeded");

	OK(aios_kube_delete(kc, &one, NULL, NULL));
	json_object_put(w);
	json_object_put(out);
	json_object_put(st);
	json_object_put(cur);
	json_object_put(after);
	json_object_put(p);
	json_object_put(pr);
}
END_TEST

START_TEST(pagination_and_selectors)
{
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	char name[32];
	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "page-%02d", i);
		struct json_object *cm = configmap(name, "i", name);
		aios_json_set(cm, "metadata.labels.set",
		              json_object_new_string(i % 5 == 0 ? "fifth" : "rest"));
		OK(aios_kube_create(kc, &coll, cm, NULL, NULL));
		json_object_put(cm);
	}
	/* page by page */
	struct aios_kube_list_opts o = {.limit = 10};
	char *cont = NULL;
	int pages = 0, items = 0;
	do {
		struct json_object *page = NULL;
		o.continue_token = cont;
		OK(aios_kube_list(kc, &coll, &o, &page));
		free(cont);
		cont = NULL;
		items += (int)json_object_array_length(aios_json_lookup(page, "items"));
		const char *c = aios_json_str(page, "metadata.continue");
		if (c && *c)
			cont = strdup(c);
		pages++;
		json_object_put(page);
	} while (cont);
	ck_assert_int_eq(pages, 3);
	ck_assert_int_eq(items, 25);

	/* all at once, through the helper */
	struct json_object *all = NULL;
	OK(aios_kube_list_all(kc, &coll, &o, &all));
	ck_assert_int_eq((int)json_object_array_length(aios_json_lookup(all, "items")), 25);
	ck_assert_ptr_null(aios_json_lookup(all, "metadata.continue"));
	ck_assert_ptr_nonnull(aios_json_str(all, "metadata.resourceVersion"));
	json_object_put(all);

	/* label and field selectors */
	struct aios_kube_list_opts sel = {.label_selector = "set=fifth"};
	OK(aios_kube_list_all(kc, &coll, &sel, &all));
	ck_assert_int_eq((int)json_object_array_length(aios_json_lookup(all, "items")), 5);
	json_object_put(all);
	struct aios_kube_list_opts fsel = {.field_selector = "metadata.name=page-07"};
	OK(aios_kube_list_all(kc, &coll, &fsel, &all));
	ck_assert_int_eq((int)json_object_array_length(aios_json_lookup(all, "items")), 1);
	json_object_put(all);
	struct aios_kube_list_opts badsel = {.label_selector = "set in (("};
	ck_assert_int_eq(aios_kube_list(kc, &coll, &badsel, &all), AIOS_ERR_INVALID);
}
END_TEST

START_TEST(forbidden_names_verb_and_resource)
{
	struct aios_kube_client *nobody = aios_kt_client("nobody");
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct json_object *out = NULL;
	ck_assert_int_eq(aios_kube_list(nobody, &coll, NULL, &out), AIOS_ERR_FORBIDDEN);
	ck_assert_msg(strstr(aios_errmsg(), "User \"nobody\" cannot list resource \"configmaps\""),
	              "message: %s", aios_errmsg());
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), ns));
	struct json_object *cm = configmap("x", "k", "v");
	ck_assert_int_eq(aios_kube_create(nobody, &coll, cm, NULL, NULL), AIOS_ERR_FORBIDDEN);
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "cannot create resource \"configmaps\""));
	struct aios_kube_ref tj = aios_kube_ref(&aios_kube_leases, ns, "l");
	ck_assert_int_eq(aios_kube_get(nobody, &tj, &out), AIOS_ERR_FORBIDDEN);
	ck_assert_ptr_nonnull(strstr(
	    aios_errmsg(), "cannot get resource \"leases\" in API group \"coordination.k8s.io\""));
	json_object_put(cm);
	aios_kube_client_free(nobody);

	/* a bad token is 401, not 403 */
	struct aios_kube_config cfg = {0};
	char path[1024];
	snprintf(path, sizeof(path), "%s/admin.kubeconfig", aios_kt_cluster_dir());
	struct aios_kube_config *good = NULL;
	OK(aios_kube_config_load_file(path, NULL, &good));
	cfg = *good;
	cfg.token = (char *)"wrong-token";
	struct aios_kube_client *bad = NULL;
	OK(aios_kube_client_new(&cfg, &bad));
	ck_assert_int_eq(aios_kube_list(bad, &coll, NULL, &out), AIOS_ERR_UNAUTHORIZED);
	aios_kube_client_free(bad);
	/* and a CA that is no certificate is refused when the client is made, naming the
	 * field (a real CA that did not sign the server's certificate fails the handshake:
	 * test_reliability_tls) */
	cfg.token = good->token;
	cfg.ca_data =
	    (char *)"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
	cfg.ca_data_len = strlen(cfg.ca_data);
	ck_assert_int_eq(aios_kube_client_new(&cfg, &bad), AIOS_ERR_TLS);
	ck_assert_ptr_null(bad);
	ck_assert_msg(strstr(aios_errmsg(), "certificate authority"), "%s", aios_errmsg());
	aios_kube_config_free(good);
}
END_TEST

START_TEST(client_certificate_auth)
{
	struct aios_kube_client *cc = aios_kt_client("cert-admin");
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_namespaces, NULL, ns);
	struct json_object *out = NULL;
	OK(aios_kube_get(cc, &r, &out));
	ck_assert_str_eq(aios_json_str(out, "metadata.name"), ns);
	json_object_put(out);
	aios_kube_client_free(cc);
}
END_TEST

static int hook_calls[600];
static void hook(void *arg, const char *verb, int code)
{
	if (code >= 0 && code < 600)
		hook_calls[code]++;
}

START_TEST(raw_request_and_metrics_hook)
{
	memset(hook_calls, 0, sizeof(hook_calls));
	aios_kube_client_set_metrics_hook(kc, hook, NULL);
	struct aios_kube_response resp;
	OK(aios_kube_request(kc, "GET", "/version", NULL, NULL, 0, &resp));
	ck_assert_int_eq(resp.code, 200);
	ck_assert_ptr_nonnull(strstr(resp.body.data, "\"gitVersion\""));
	aios_kube_response_cleanup(&resp);
	ck_assert_int_eq(
	    aios_kube_request(kc, "GET", "/api/v1/namespaces/none-such-ns", NULL, NULL, 0, &resp),
	    AIOS_ERR_NOT_FOUND);
	ck_assert_int_eq(resp.code, 404);
	aios_kube_response_cleanup(&resp);
	ck_assert_int_eq(hook_calls[200], 1);
	ck_assert_int_eq(hook_calls[404], 1);
	aios_kube_client_set_metrics_hook(kc, NULL, NULL);
}
END_TEST

START_TEST(events_aggregate)
{
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct json_object *cm = configmap("evt", "k", "v"), *made = NULL;
	OK(aios_kube_create(kc, &coll, cm, NULL, &made));
	json_object_object_add(made, "kind", json_object_new_string("ConfigMap"));
	json_object_object_add(made, "apiVersion", json_object_new_string("v1"));
	struct aios_kube_recorder *rec = aios_kube_recorder_new(kc, "aios-test");
	aios_kube_event(rec, made, "Warning", "BackOff", "restarting %s in %d s", "evt", 10);
	aios_kube_event(rec, made, "Warning", "BackOff", "restarting %s in %d s", "evt", 10);
	aios_kube_event(rec, made, "Normal", "Created", "made it");
	aios_kube_recorder_free(rec);
	struct aios_kube_ref evs = aios_kube_ref(&aios_kube_events, ns, NULL);
	struct aios_kube_list_opts o = {.field_selector = "involvedObject.name=evt"};
	struct json_object *list = NULL;
	OK(aios_kube_list_all(kc, &evs, &o, &list));
	struct json_object *items = aios_json_lookup(list, "items");
	ck_assert_int_eq((int)json_object_array_length(items), 2); /* the repeat was folded */
	int seen_backoff = 0;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		struct json_object *e = json_object_array_get_idx(items, i);
		ck_assert_str_eq(aios_json_str(e, "involvedObject.kind"), "ConfigMap");
		ck_assert_str_eq(aios_json_str(e, "involvedObject.uid"),
		                 aios_json_str(made, "metadata.uid"));
		ck_assert_str_eq(aios_json_str(e, "source.component"), "aios-test");
		if (strcmp(aios_json_str(e, "reason"), "BackOff") == 0) {
			int64_t count = 0;
			OK(aios_json_get_int(e, "count", &count));
			ck_assert_int_eq(count, 2);
			ck_assert_str_eq(aios_json_str(e, "type"), "Warning");
			ck_assert_str_eq(aios_json_str(e, "message"), "restarting evt in 10 s");
			seen_backoff = 1;
		}
	}
	ck_assert(seen_backoff);
	json_object_put(list);
	json_object_put(cm);
	json_object_put(made);
}
END_TEST

/* One client shared by 8 threads, each doing creates, gets, lists and deletes. */
struct worker_arg {
	int id;
	int failures;
	char msg[256];
};

static void *client_worker(void *p)
{
	struct worker_arg *a = p;
	char name[32];
	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "conc-%d-%d", a->id, i);
		struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
		struct aios_kube_ref one = aios_kube_ref(&aios_kube_configmaps, ns, name);
		struct json_object *cm = configmap(name, "k", name), *got = NULL, *list = NULL;
		enum aios_err e = aios_kube_create(kc, &coll, cm, NULL, NULL);
		if (!e)
			e = aios_kube_get(kc, &one, &got);
		if (!e && strcmp(aios_json_str(got, "data.k"), name) != 0)
			e = aios_fail(AIOS_ERR_INTERNAL, "%s: read back another object", name);
		struct aios_kube_list_opts lo = {.limit = 5};
		if (!e)
			e = aios_kube_list(kc, &coll, &lo, &list);
		if (!e)
			e = aios_kube_delete(kc, &one, NULL, NULL);
		if (e) {
			a->failures++;
			snprintf(a->msg, sizeof(a->msg), "%s", aios_errmsg());
		}
		json_object_put(cm);
		json_object_put(got);
		json_object_put(list);
	}
	return NULL;
}

START_TEST(one_client_many_threads)
{
	pthread_t th[8];
	struct worker_arg args[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (struct worker_arg){.id = i};
		pthread_create(&th[i], NULL, client_worker, &args[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(args[i].failures == 0, "thread %d: %d failures, last: %s", i,
		              args[i].failures, args[i].msg);
	}
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct json_object *all = NULL;
	OK(aios_kube_list_all(kc, &coll, NULL, &all));
	/* every thread deleted what it made (no controller manager adds kube-root-ca.crt here) */
	ck_assert_int_eq((int)json_object_array_length(aios_json_lookup(all, "items")), 0);
	json_object_put(all);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_client");
	TCase *t = tcase_create("live");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, configmap_crud);
	tcase_add_test(t, crd_and_status_subresource);
	tcase_add_test(t, pagination_and_selectors);
	tcase_add_test(t, forbidden_names_verb_and_resource);
	tcase_add_test(t, client_certificate_auth);
	tcase_add_test(t, raw_request_and_metrics_hook);
	tcase_add_test(t, events_aggregate);
	tcase_add_test(t, one_client_many_threads);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
