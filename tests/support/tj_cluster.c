/*
 * tj_cluster.c - the pretend cluster of the operator's unit tests (see tj_cluster.h).
 */
#include "support/tj_cluster.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"

struct json_object *aios_tjc_parse(const char *s)
{
	struct json_object *o;
	ck_assert_int_eq(aios_json_parse(s, strlen(s), "test", &o), AIOS_OK);
	return o;
}

void aios_tjc_init(struct aios_tjc *c, const char *spec_json)
{
	memset(c, 0, sizeof(*c));
	char buf[4096];
	snprintf(buf, sizeof(buf),
	         "{\"apiVersion\":\"aios.dev/v1alpha1\",\"kind\":\"TrainingJob\",\"metadata\":"
	         "{\"name\":\"tj\",\"namespace\":\"ns\",\"uid\":\"uid-1\",\"generation\":1},"
	         "\"spec\":%s}",
	         spec_json);
	c->job = aios_tjc_parse(buf);
}

void aios_tjc_free(struct aios_tjc *c)
{
	aios_tj_plan_cleanup(&c->plan);
	for (size_t i = 0; i < c->n; i++)
		json_object_put(c->pods[i]);
	json_object_put(c->job);
}

struct json_object *aios_tjc_pod(struct aios_tjc *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(aios_json_str(c->pods[i], "metadata.name"), name) == 0)
			return c->pods[i];
	return NULL;
}

void aios_tjc_step(struct aios_tjc *c, time_t now, const struct aios_tj_progress *pr)
{
	aios_tj_plan_cleanup(&c->plan);
	ck_assert_int_eq(aios_tj_plan(c->job, c->pods, c->n, now, pr, &c->plan), AIOS_OK);
	for (size_t i = 0; i < c->plan.n_remove; i++) {
		for (size_t j = 0; j < c->n; j++) {
			if (strcmp(aios_json_str(c->pods[j], "metadata.name"), c->plan.remove[i]) ==
			    0) {
				json_object_put(c->pods[j]);
				c->pods[j] = c->pods[--c->n];
				break;
			}
		}
	}
	for (size_t i = 0; i < c->plan.n_create; i++) {
		const char *name = aios_json_str(c->plan.create[i], "metadata.name");
		ck_assert_msg(!aios_tjc_pod(c, name), "pod %s created twice", name);
		ck_assert_uint_lt(c->n, AIOS_TJC_MAX_PODS);
		c->pods[c->n++] = aios_json_copy(c->plan.create[i]);
	}
	if (c->plan.status_changed)
		json_object_object_add(c->job, "status", aios_json_copy(c->plan.status));
}

struct json_object *aios_tjc_pod_spec(struct json_object *pod)
{
	struct json_object *env = aios_json_lookup(
	    json_object_array_get_idx(aios_json_lookup(pod, "spec.containers"), 0), "env");
	for (size_t i = 0; env && i < json_object_array_length(env); i++) {
		struct json_object *e = json_object_array_get_idx(env, i);
		if (strcmp(aios_json_str(e, "name"), "AIOS_SPEC") == 0)
			return aios_tjc_parse(aios_json_str(e, "value"));
	}
	ck_abort_msg("pod %s has no AIOS_SPEC", aios_json_str(pod, "metadata.name"));
	return NULL;
}
