/*
 * test_kube_watch.c - watch and informer against the real kube-apiserver: events in
 * order, bookmarks, resume from a resourceVersion, 410 after a restart, informer
 * sync, handlers and owner index, and relist after the API server restarts mid-watch
 * (tests/cluster/apiserver.sh restart-apiserver $AIOS_TEST_CLUSTER_DIR).
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "common/clock.h"
#include "common/json.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "kube/watch.h"
#include "support/kube_test.h"

#define OK(expr) ck_assert_msg((expr) == AIOS_OK, "%s: %s", #expr, aios_errmsg())

static struct aios_kube_client *kc;
static char ns[64];

static void setup(void)
{
	kc = aios_kt_client("admin");
	snprintf(ns, sizeof(ns), "%s", aios_kt_namespace(kc, "kt-watch"));
}

static void teardown(void)
{
	aios_kube_client_free(kc);
	kc = NULL;
}

static struct json_object *configmap(const char *name, const char *v)
{
	struct json_object *o = aios_kt_object("v1", "ConfigMap", ns, name);
	aios_json_set(o, "data.v", json_object_new_string(v));
	return o;
}

static char *list_rv(void)
{
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct json_object *l = NULL;
	OK(aios_kube_list(kc, &coll, NULL, &l));
	char *rv = strdup(aios_json_str(l, "metadata.resourceVersion"));
	json_object_put(l);
	return rv;
}

struct rec {
	char log[2048];
	int n, bookmarks;
	const char *stop_on; /* stop after this event type */
};

static enum aios_err record(void *arg, enum aios_kube_event_type t, struct json_object *obj)
{
	struct rec *r = arg;
	if (t == AIOS_KUBE_BOOKMARK) {
		r->bookmarks++;
		ck_assert_ptr_nonnull(aios_json_str(obj, "metadata.resourceVersion"));
		return AIOS_OK;
	}
	size_t l = strlen(r->log);
	snprintf(r->log + l, sizeof(r->log) - l, "%s%s:%s=%s", r->n++ ? " " : "",
	         aios_kube_event_type_name(t), aios_json_str(obj, "metadata.name"),
	         aios_json_str(obj, "data.v") ? aios_json_str(obj, "data.v") : "");
	if (r->stop_on && strcmp(aios_kube_event_type_name(t), r->stop_on) == 0)
		return aios_fail(AIOS_ERR_CANCELLED, "seen %s", r->stop_on);
	return AIOS_OK;
}

START_TEST(watch_sees_create_modify_delete_in_order)
{
	char *rv0 = list_rv();
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct aios_kube_ref one = aios_kube_ref(&aios_kube_configmaps, ns, "w");
	struct json_object *cm = configmap("w", "1"), *p = json_object_new_object();
	OK(aios_kube_create(kc, &coll, cm, NULL, NULL));
	aios_json_set(p, "data.v", json_object_new_string("2"));
	OK(aios_kube_patch(kc, &one, AIOS_KUBE_PATCH_MERGE, p, NULL, NULL));
	OK(aios_kube_delete(kc, &one, NULL, NULL));
	/* watching from before the changes replays them, in order */
	struct rec r = {.stop_on = "DELETED"};
	struct aios_kube_watch_opts o = {.resource_version = rv0, .timeout_seconds = 20};
	char *last = NULL;
	ck_assert_int_eq(aios_kube_watch(kc, &coll, &o, record, &r, &last), AIOS_ERR_CANCELLED);
	ck_assert_str_eq(r.log, "ADDED:w=1 MODIFIED:w=2 DELETED:w=2");
	ck_assert_ptr_nonnull(last);
	ck_assert_str_ne(last, rv0);
	/* resuming from the last resourceVersion sees nothing old again */
	struct rec r2 = {0};
	o.resource_version = last;
	o.timeout_seconds = 2;
	OK(aios_kube_watch(kc, &coll, &o, record, &r2, NULL));
	ck_assert_int_eq(r2.n, 0);
	free(last);
	free(rv0);
	json_object_put(cm);
	json_object_put(p);
}
END_TEST

START_TEST(watch_single_object)
{
	char *rv0 = list_rv();
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct json_object *a = configmap("a", "1"), *b = configmap("b", "1");
	OK(aios_kube_create(kc, &coll, a, NULL, NULL));
	OK(aios_kube_create(kc, &coll, b, NULL, NULL));
	struct aios_kube_ref only_b = aios_kube_ref(&aios_kube_configmaps, ns, "b");
	struct rec r = {.stop_on = "ADDED"};
	struct aios_kube_watch_opts o = {.resource_version = rv0, .timeout_seconds = 10};
	ck_assert_int_eq(aios_kube_watch(kc, &only_b, &o, record, &r, NULL), AIOS_ERR_CANCELLED);
	ck_assert_str_eq(r.log, "ADDED:b=1");
	free(rv0);
	json_object_put(a);
	json_object_put(b);
}
END_TEST

/* Writes a ConfigMap in "default" after 1 s: the configmaps watch cache then has a
 * resourceVersion newer than the watch's start, which 1.20 needs to send a bookmark. */
static void *poke_later(void *arg)
{
	aios_sleep_ms(1000);
	struct json_object *cm = aios_kt_object("v1", "ConfigMap", "default", "unused");
	json_object_object_del(aios_json_lookup(cm, "metadata"), "name");
	aios_json_set(cm, "metadata.generateName", json_object_new_string("bookmark-poke-"));
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, "default", NULL);
	enum aios_err e = aios_kube_create(kc, &coll, cm, NULL, NULL);
	json_object_put(cm);
	return (void *)(intptr_t)e;
}

START_TEST(watch_bookmarks)
{
	/* Measured on kube-apiserver 1.20.2: a watch that allows bookmarks gets one about
	 * 2 s before its timeoutSeconds, provided the resource changed (anywhere) after the
	 * watch started; an idle resource gets none, even in 70 s. */
	char *rv0 = list_rv();
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	struct rec r = {0};
	struct aios_kube_watch_opts o = {
	    .resource_version = rv0, .allow_bookmarks = 1, .timeout_seconds = 8};
	char *last = NULL;
	pthread_t th;
	pthread_create(&th, NULL, poke_later, NULL);
	int64_t t0 = aios_now_ms();
	OK(aios_kube_watch(kc, &coll, &o, record, &r, &last));
	int64_t took = aios_now_ms() - t0;
	void *pe = NULL;
	pthread_join(th, &pe);
	ck_assert_int_eq((int)(intptr_t)pe, AIOS_OK);
	ck_assert_msg(r.bookmarks >= 1, "no bookmark in an 8 s watch");
	ck_assert_int_eq(r.n, 0);    /* nothing else happened in the namespace */
	ck_assert_ptr_nonnull(last); /* the bookmark's resourceVersion is tracked... */
	ck_assert_int_gt(strtoll(last, NULL, 10), strtoll(rv0, NULL, 10)); /* ...and moved on */
	ck_assert_int_ge(took, 7500);
	ck_assert_int_lt(took, 15000);
	free(last);
	free(rv0);
}
END_TEST

static int cancel_flag;

static void *cancel_later(void *arg)
{
	aios_sleep_ms(300);
	__atomic_store_n(&cancel_flag, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

START_TEST(watch_cancel_is_prompt)
{
	/* An idle watch (nothing changes) is cancelled from another thread. */
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	cancel_flag = 0;
	struct rec r = {0};
	struct aios_kube_watch_opts o = {.timeout_seconds = 60, .cancel = &cancel_flag};
	pthread_t th;
	pthread_create(&th, NULL, cancel_later, NULL);
	int64_t t0 = aios_now_ms();
	ck_assert_int_eq(aios_kube_watch(kc, &coll, &o, record, &r, NULL), AIOS_ERR_CANCELLED);
	int64_t took = aios_now_ms() - t0;
	pthread_join(th, NULL);
	ck_assert_int_ge(took, 250);
	ck_assert_int_lt(took, 800); /* 300 ms + at most one 100 ms poll, with slack */
}
END_TEST

/* ---- informer ---------------------------------------------------------- */

struct counts {
	pthread_mutex_t mu;
	int adds, updates, deletes;
	char last_update[64];
};

static void on_add(void *arg, struct json_object *o)
{
	struct counts *c = arg;
	pthread_mutex_lock(&c->mu);
	c->adds++;
	pthread_mutex_unlock(&c->mu);
}
static void on_update(void *arg, struct json_object *old, struct json_object *cur)
{
	struct counts *c = arg;
	pthread_mutex_lock(&c->mu);
	c->updates++;
	snprintf(c->last_update, sizeof(c->last_update), "%s:%s->%s",
	         aios_json_str(cur, "metadata.name"), aios_json_str(old, "data.v"),
	         aios_json_str(cur, "data.v"));
	pthread_mutex_unlock(&c->mu);
}
static void on_delete(void *arg, struct json_object *o)
{
	struct counts *c = arg;
	pthread_mutex_lock(&c->mu);
	c->deletes++;
	pthread_mutex_unlock(&c->mu);
}

static int wait_for(struct counts *c, int *field, int want, int64_t ms)
{
	int64_t until = aios_now_ms() + ms;
	for (;;) {
		pthread_mutex_lock(&c->mu);
		int v = *field;
		pthread_mutex_unlock(&c->mu);
		if (v >= want)
			return 1;
		if (aios_now_ms() > until)
			return 0;
		aios_sleep_ms(20);
	}
}

START_TEST(informer_sync_handlers_owner_index)
{
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "pre-%d", i);
		struct json_object *cm = configmap(name, "0");
		OK(aios_kube_create(kc, &coll, cm, NULL, NULL));
		json_object_put(cm);
	}
	struct counts c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, ""};
	struct aios_kube_informer_handlers h = {on_add, on_update, on_delete, &c};
	struct aios_kube_informer_opts o = {.ns = ns,
	                                    .page_size = 2}; /* pages of 2: list_all follows */
	struct aios_kube_informer *inf = NULL;
	OK(aios_kube_informer_new(kc, &aios_kube_configmaps, &o, &h, &inf));
	ck_assert(!aios_kube_informer_has_synced(inf));
	OK(aios_kube_informer_start(inf));
	OK(aios_kube_informer_wait_synced(inf, 10000));
	ck_assert_uint_eq(aios_kube_informer_len(inf), 3);
	ck_assert_int_eq(c.adds, 3);

	/* a controlled child: found through the owner index */
	struct json_object *child = configmap("child", "0");
	struct json_object *ref = json_object_new_object();
	json_object_object_add(ref, "apiVersion", json_object_new_string("test.aios.dev/v1"));
	json_object_object_add(ref, "kind", json_object_new_string("Widget"));
	json_object_object_add(ref, "name", json_object_new_string("owner"));
	json_object_object_add(ref, "uid",
	                       json_object_new_string("11111111-2222-3333-4444-555555555555"));
	json_object_object_add(ref, "controller", json_object_new_boolean(1));
	struct json_object *refs = json_object_new_array();
	json_object_array_add(refs, ref);
	aios_json_set(child, "metadata.ownerReferences", refs);
	OK(aios_kube_create(kc, &coll, child, NULL, NULL));
	ck_assert(wait_for(&c, &c.adds, 4, 10000));
	size_t n = 0;
	struct json_object **owned =
	    aios_kube_informer_by_owner(inf, "11111111-2222-3333-4444-555555555555", &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(aios_json_str(owned[0], "metadata.name"), "child");
	aios_kube_objs_free(owned, n);

	/* update and delete reach the handlers; the store follows */
	struct aios_kube_ref pre1 = aios_kube_ref(&aios_kube_configmaps, ns, "pre-1");
	struct json_object *p = json_object_new_object();
	aios_json_set(p, "data.v", json_object_new_string("1"));
	OK(aios_kube_patch(kc, &pre1, AIOS_KUBE_PATCH_MERGE, p, NULL, NULL));
	ck_assert(wait_for(&c, &c.updates, 1, 10000));
	ck_assert_str_eq(c.last_update, "pre-1:0->1");
	char key[128];
	snprintf(key, sizeof(key), "%s/pre-1", ns);
	struct json_object *got = aios_kube_informer_get(inf, key);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(aios_json_str(got, "data.v"), "1");
	aios_kube_obj_put(got);
	OK(aios_kube_delete(kc, &pre1, NULL, NULL));
	ck_assert(wait_for(&c, &c.deletes, 1, 10000));
	ck_assert_ptr_null(aios_kube_informer_get(inf, key));
	size_t all = 0;
	struct json_object **objs = aios_kube_informer_list(inf, &all);
	ck_assert_uint_eq(all, 3);
	ck_assert_str_eq(aios_json_str(objs[0], "metadata.name"), "child"); /* key order */
	aios_kube_objs_free(objs, all);
	aios_kube_informer_free(inf);
	json_object_put(child);
	json_object_put(p);
}
END_TEST

START_TEST(informer_relists_after_apiserver_restart)
{
	struct counts c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, ""};
	struct aios_kube_informer_handlers h = {on_add, on_update, on_delete, &c};
	struct aios_kube_informer_opts o = {.ns = ns};
	struct aios_kube_informer *inf = NULL;
	OK(aios_kube_informer_new(kc, &aios_kube_configmaps, &o, &h, &inf));
	OK(aios_kube_informer_start(inf));
	OK(aios_kube_informer_wait_synced(inf, 10000));
	struct aios_kube_ref coll = aios_kube_ref(&aios_kube_configmaps, ns, NULL);
	char *rv_old = list_rv();
	struct json_object *a = configmap("before", "1");
	OK(aios_kube_create(kc, &coll, a, NULL, NULL));
	ck_assert(wait_for(&c, &c.adds, 1, 10000));

	/* restart the API server under the running watch */
	aios_kt_restart_apiserver();

	/* The restarted server's watch cache starts after rv_old: a watch from it is 410
	 * Gone, the live twin of the fixture test (this is why informers relist). */
	struct rec r = {0};
	struct aios_kube_watch_opts wo = {.resource_version = rv_old, .timeout_seconds = 5};
	enum aios_err e = aios_kube_watch(kc, &coll, &wo, record, &r, NULL);
	ck_assert_msg(e == AIOS_ERR_GONE, "watch from %s after restart: %s (%s)", rv_old,
	              aios_strerror(e), aios_errmsg());
	ck_assert_ptr_nonnull(strstr(aios_errmsg(), "too old resource version"));
	free(rv_old);

	/* changes made after the restart reach the store */
	struct json_object *b = configmap("after", "1");
	OK(aios_kube_create(kc, &coll, b, NULL, NULL));
	ck_assert_msg(wait_for(&c, &c.adds, 2, 60000), "the informer never saw \"after\"");
	char key[128];
	snprintf(key, sizeof(key), "%s/after", ns);
	struct json_object *got = aios_kube_informer_get(inf, key);
	ck_assert_ptr_nonnull(got);
	aios_kube_obj_put(got);
	ck_assert_uint_ge(aios_kube_informer_watch_restarts(inf), 1);
	ck_assert_uint_ge(aios_kube_informer_relists(inf), 1);
	ck_assert_int_eq(c.deletes, 0); /* nothing vanished by mistake */
	ck_assert_uint_eq(aios_kube_informer_len(inf), 2);
	int64_t t0 = aios_now_ms();
	aios_kube_informer_stop(inf);
	ck_assert_int_lt(aios_now_ms() - t0, 1000); /* stop is prompt */
	aios_kube_informer_free(inf);
	json_object_put(a);
	json_object_put(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kube_watch");
	TCase *t = tcase_create("live");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 180);
	tcase_add_test(t, watch_sees_create_modify_delete_in_order);
	tcase_add_test(t, watch_single_object);
	tcase_add_test(t, watch_bookmarks);
	tcase_add_test(t, watch_cancel_is_prompt);
	tcase_add_test(t, informer_sync_handlers_owner_index);
	tcase_add_test(t, informer_relists_after_apiserver_restart);
	suite_add_tcase(s, t);
	return s;
}

AIOS_CHECK_MAIN(suite)
