/*
 * watch.c - ModelService and Endpoints informers feeding the gateway's table (watch.h).
 */
#include "gateway/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "kube/informer.h"
#include "gateway/route.h"

#define SERVICE_LABEL "aios.dev/service" /* on every ModelService's Service (and Endpoints) */

struct aios_gw_watch {
	struct aios_gw *g;
	struct aios_kube_informer *ms, *eps;
};

/* ns and name of obj into the buffers; 0 when either is missing or too long. */
static int ns_name(struct json_object *obj, char *ns, char *name)
{
	const char *n = aios_json_str(obj, "metadata.namespace");
	const char *m = aios_json_str(obj, "metadata.name");
	if (!n || !m || strlen(n) > AIOS_GW_NS_MAX || strlen(m) > AIOS_GW_NAME_MAX)
		return 0;
	snprintf(ns, AIOS_GW_NS_MAX + 1, "%s", n);
	snprintf(name, AIOS_GW_NAME_MAX + 1, "%s", m);
	return 1;
}

static void ms_put(void *arg, struct json_object *obj)
{
	struct aios_gw_watch *w = arg;
	char ns[AIOS_GW_NS_MAX + 1], name[AIOS_GW_NAME_MAX + 1];
	if (!ns_name(obj, ns, name))
		return;
	struct aios_gw_service_params p;
	aios_gw_service_params(obj, &p);
	aios_gw_set_service(w->g, ns, name, &p);
}

static void ms_update(void *arg, struct json_object *old, struct json_object *obj)
{
	ms_put(arg, obj);
}

static void ms_delete(void *arg, struct json_object *obj)
{
	struct aios_gw_watch *w = arg;
	char ns[AIOS_GW_NS_MAX + 1], name[AIOS_GW_NAME_MAX + 1];
	if (ns_name(obj, ns, name))
		aios_gw_remove_service(w->g, ns, name);
}

static void eps_put(void *arg, struct json_object *obj)
{
	struct aios_gw_watch *w = arg;
	char ns[AIOS_GW_NS_MAX + 1], name[AIOS_GW_NAME_MAX + 1];
	if (!ns_name(obj, ns, name))
		return;
	struct aios_gw_endpoint *eps = aios_xcalloc(AIOS_GW_MAX_ENDPOINTS, sizeof(*eps));
	size_t n = aios_gw_unready_from_json(obj, eps, AIOS_GW_MAX_UNREADY);
	aios_gw_set_unready(w->g, ns, name, eps, n);
	n = aios_gw_endpoints_from_json(obj, eps, AIOS_GW_MAX_ENDPOINTS);
	aios_gw_set_endpoints(w->g, ns, name, eps, n);
	free(eps);
}

static void eps_update(void *arg, struct json_object *old, struct json_object *obj)
{
	eps_put(arg, obj);
}

static void eps_delete(void *arg, struct json_object *obj)
{
	struct aios_gw_watch *w = arg;
	char ns[AIOS_GW_NS_MAX + 1], name[AIOS_GW_NAME_MAX + 1];
	if (ns_name(obj, ns, name)) {
		aios_gw_set_unready(w->g, ns, name, NULL, 0);
		aios_gw_set_endpoints(w->g, ns, name, NULL, 0);
	}
}

enum aios_err aios_gw_watch_start(struct aios_kube_client *c, const char *ns, struct aios_gw *g,
                                  struct aios_gw_watch **out)
{
	struct aios_gw_watch *w = aios_xcalloc(1, sizeof(*w));
	w->g = g;
	struct aios_kube_informer_opts mo = {.ns = ns, .transform = aios_kube_strip_managed_fields};
	struct aios_kube_informer_opts eo = mo;
	eo.label_selector = SERVICE_LABEL;
	struct aios_kube_informer_handlers mh = {ms_put, ms_update, ms_delete, w};
	struct aios_kube_informer_handlers eh = {eps_put, eps_update, eps_delete, w};
	enum aios_err e = aios_kube_informer_new(c, &aios_kube_modelservices, &mo, &mh, &w->ms);
	if (!e)
		e = aios_kube_informer_new(c, &aios_kube_endpoints, &eo, &eh, &w->eps);
	if (!e)
		e = aios_kube_informer_start(w->ms);
	if (!e)
		e = aios_kube_informer_start(w->eps);
	if (e) {
		aios_gw_watch_free(w);
		return e;
	}
	*out = w;
	return AIOS_OK;
}

enum aios_err aios_gw_watch_wait_synced(struct aios_gw_watch *w, int64_t timeout_ms)
{
	enum aios_err e = aios_kube_informer_wait_synced(w->ms, timeout_ms);
	if (!e)
		e = aios_kube_informer_wait_synced(w->eps, timeout_ms);
	return e;
}

int aios_gw_watch_synced(struct aios_gw_watch *w)
{
	return aios_kube_informer_has_synced(w->ms) && aios_kube_informer_has_synced(w->eps);
}

void aios_gw_watch_free(struct aios_gw_watch *w)
{
	if (!w)
		return;
	aios_kube_informer_free(w->ms);
	aios_kube_informer_free(w->eps);
	free(w);
}
