/*
 * podstatus.c - pod status as a kubelet writes it (see podstatus.h).
 */
#include "node/podstatus.h"

#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "common/mem.h"

const char *aios_podstatus_phase(const struct aios_podstatus_in *in)
{
	if (in->pod_reason)
		return "Failed";
	size_t waiting = 0, running = 0, stopped = 0, succeeded = 0;
	for (size_t i = 0; i < in->n_ctrs; i++) {
		const struct aios_podstatus_ctr *c = &in->ctrs[i];
		if (c->state == AIOS_CTR_RUNNING) {
			running++;
		} else if (c->state == AIOS_CTR_TERMINATED) {
			stopped++;
			succeeded += c->term.exit_code == 0;
		} else if (c->has_last) { /* waiting to restart counts as its last run */
			stopped++;
			succeeded += c->last.exit_code == 0;
		} else {
			waiting++;
		}
	}
	if (waiting > 0)
		return "Pending";
	if (running > 0)
		return "Running";
	if (stopped > 0) {
		if (in->restart == AIOS_RESTART_ALWAYS)
			return "Running";
		if (stopped == succeeded)
			return "Succeeded";
		if (in->restart == AIOS_RESTART_NEVER)
			return "Failed";
		return "Running";
	}
	return "Pending";
}

static struct json_object *term_json(const struct aios_ctr_term *t)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "exitCode", json_object_new_int(t->exit_code));
	if (t->signal)
		json_object_object_add(o, "signal", json_object_new_int(t->signal));
	json_object_object_add(o, "reason",
	                       json_object_new_string(t->reason ? t->reason : "Error"));
	if (t->message && *t->message)
		json_object_object_add(o, "message", json_object_new_string(t->message));
	if (t->started_at)
		json_object_object_add(o, "startedAt", json_object_new_string(t->started_at));
	if (t->finished_at)
		json_object_object_add(o, "finishedAt", json_object_new_string(t->finished_at));
	return o;
}

static struct json_object *ctr_json(const struct aios_podstatus_ctr *c)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "image", json_object_new_string(c->image ? c->image : ""));
	json_object_object_add(o, "imageID",
	                       json_object_new_string(c->image_id ? c->image_id : ""));
	if (c->container_id)
		json_object_object_add(o, "containerID", json_object_new_string(c->container_id));
	json_object_object_add(o, "ready", json_object_new_boolean(c->ready));
	json_object_object_add(o, "restartCount", json_object_new_int(c->restart_count));
	json_object_object_add(o, "started",
	                       json_object_new_boolean(c->state == AIOS_CTR_RUNNING && c->started));
	struct json_object *st = json_object_new_object();
	if (c->state == AIOS_CTR_RUNNING) {
		struct json_object *r = json_object_new_object();
		if (c->started_at)
			json_object_object_add(r, "startedAt",
			                       json_object_new_string(c->started_at));
		json_object_object_add(st, "running", r);
	} else if (c->state == AIOS_CTR_TERMINATED) {
		json_object_object_add(st, "terminated", term_json(&c->term));
	} else {
		struct json_object *w = json_object_new_object();
		json_object_object_add(
		    w, "reason",
		    json_object_new_string(c->reason ? c->reason : "ContainerCreating"));
		if (c->message && *c->message)
			json_object_object_add(w, "message", json_object_new_string(c->message));
		json_object_object_add(st, "waiting", w);
	}
	json_object_object_add(o, "state", st);
	struct json_object *last = json_object_new_object();
	if (c->has_last)
		json_object_object_add(last, "terminated", term_json(&c->last));
	json_object_object_add(o, "lastState", last);
	return o;
}

/* lastTransitionTime of condition type in old status if its status was the same. */
static const char *old_transition(struct json_object *old, const char *type, const char *status)
{
	struct json_object *conds = old ? aios_json_lookup(old, "conditions") : NULL;
	if (!conds || !json_object_is_type(conds, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(conds); i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		const char *t = aios_json_str(c, "type"), *s = aios_json_str(c, "status");
		if (t && s && strcmp(t, type) == 0 && strcmp(s, status) == 0)
			return aios_json_str(c, "lastTransitionTime");
	}
	return NULL;
}

static void add_cond(struct json_object *arr, const struct aios_podstatus_in *in, const char *type,
                     int ok, const char *reason, const char *message)
{
	const char *status = ok ? "True" : "False";
	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "type", json_object_new_string(type));
	json_object_object_add(c, "status", json_object_new_string(status));
	json_object_object_add(c, "lastProbeTime", NULL);
	const char *t = old_transition(in->old_status, type, status);
	json_object_object_add(c, "lastTransitionTime", json_object_new_string(t ? t : in->now));
	if (!ok && reason)
		json_object_object_add(c, "reason", json_object_new_string(reason));
	if (!ok && message)
		json_object_object_add(c, "message", json_object_new_string(message));
	json_object_array_add(arr, c);
}

struct json_object *aios_podstatus_build(const struct aios_podstatus_in *in)
{
	struct json_object *st = json_object_new_object();
	const char *phase = aios_podstatus_phase(in);
	json_object_object_add(st, "phase", json_object_new_string(phase));
	if (in->pod_reason) {
		json_object_object_add(st, "reason", json_object_new_string(in->pod_reason));
		json_object_object_add(
		    st, "message", json_object_new_string(in->pod_message ? in->pod_message : ""));
	} else {
		/* merge patch: null removes a reason written earlier */
		json_object_object_add(st, "reason", NULL);
		json_object_object_add(st, "message", NULL);
	}
	if (in->host_ip)
		json_object_object_add(st, "hostIP", json_object_new_string(in->host_ip));
	if (in->pod_ip && *in->pod_ip) {
		json_object_object_add(st, "podIP", json_object_new_string(in->pod_ip));
		struct json_object *ips = json_object_new_array(), *one = json_object_new_object();
		json_object_object_add(one, "ip", json_object_new_string(in->pod_ip));
		json_object_array_add(ips, one);
		json_object_object_add(st, "podIPs", ips);
	}
	if (in->start_time)
		json_object_object_add(st, "startTime", json_object_new_string(in->start_time));
	json_object_object_add(st, "qosClass", json_object_new_string("BestEffort"));

	/* containers not ready, as the kubelet lists them: "containers with unready status: [a b]" */
	char unready[512] = "";
	size_t ul = 0, n_unready = 0;
	for (size_t i = 0; i < in->n_ctrs; i++)
		if (!in->ctrs[i].ready) {
			n_unready++;
			ul += (size_t)snprintf(unready + ul,
			                       ul < sizeof unready ? sizeof unready - ul : 0,
			                       "%s%s", n_unready > 1 ? " " : "", in->ctrs[i].name);
			if (ul >= sizeof unready)
				ul = sizeof unready - 1;
		}
	char msg[600];
	snprintf(msg, sizeof msg, "containers with unready status: [%s]", unready);
	int terminal = strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0;
	const char *why = strcmp(phase, "Succeeded") == 0 ? "PodCompleted" : "ContainersNotReady";
	int all_ready = n_unready == 0 && in->n_ctrs > 0 && !terminal;

	struct json_object *conds = json_object_new_array();
	add_cond(conds, in, "Initialized", 1, NULL, NULL);
	add_cond(conds, in, "Ready", all_ready, why, terminal && !n_unready ? NULL : msg);
	add_cond(conds, in, "ContainersReady", all_ready, why, terminal && !n_unready ? NULL : msg);
	add_cond(conds, in, "PodScheduled", 1, NULL, NULL);
	json_object_object_add(st, "conditions", conds);

	struct json_object *cs = json_object_new_array();
	for (size_t i = 0; i < in->n_ctrs; i++)
		json_object_array_add(cs, ctr_json(&in->ctrs[i]));
	json_object_object_add(st, "containerStatuses", cs);
	return st;
}
