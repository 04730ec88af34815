/*
 * conditions.c - metav1.Condition lists with apimachinery's SetStatusCondition rules
 * (see conditions.h).
 */
#include "kube/conditions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/mem.h"

static const char *status_name(enum aios_condition_status s)
{
	return s == AIOS_CONDITION_TRUE ? "True" : s == AIOS_CONDITION_FALSE ? "False" : "Unknown";
}

static enum aios_condition_status status_parse(const char *s)
{
	if (s && strcmp(s, "True") == 0)
		return AIOS_CONDITION_TRUE;
	if (s && strcmp(s, "False") == 0)
		return AIOS_CONDITION_FALSE;
	return AIOS_CONDITION_UNKNOWN;
}

/* s cut to AIOS_CONDITIONS_MESSAGE_MAX - 1 bytes, new string. */
static char *message_dup(const char *s)
{
	char m[AIOS_CONDITIONS_MESSAGE_MAX];
	snprintf(m, sizeof(m), "%s", s ? s : "");
	return aios_xstrdup(m);
}

static void condition_cleanup(struct aios_condition *x)
{
	free(x->type);
	free(x->last_transition);
	free(x->reason);
	free(x->message);
}

static void condition_copy(struct aios_condition *dst, const struct aios_condition *src)
{
	dst->type = aios_xstrdup(src->type);
	dst->status = src->status;
	dst->observed_generation = src->observed_generation;
	dst->last_transition = aios_xstrdup(src->last_transition ? src->last_transition : "");
	dst->reason = aios_xstrdup(src->reason ? src->reason : "");
	dst->message = aios_xstrdup(src->message ? src->message : "");
}

static struct aios_condition *find(const struct aios_conditions *c, const char *type)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].type, type) == 0)
			return &c->v[i];
	return NULL;
}

static struct aios_condition *append(struct aios_conditions *c)
{
	c->v = aios_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	struct aios_condition *x = &c->v[c->n++];
	memset(x, 0, sizeof(*x));
	return x;
}

void aios_conditions_decode(struct json_object *array, struct aios_conditions *out)
{
	memset(out, 0, sizeof(*out));
	if (!array || !json_object_is_type(array, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(array); i++) {
		struct json_object *o = json_object_array_get_idx(array, i);
		const char *type = aios_json_str(o, "type");
		if (!type || find(out, type))
			continue;
		struct aios_condition *x = append(out);
		x->type = aios_xstrdup(type);
		x->status = status_parse(aios_json_str(o, "status"));
		if (aios_json_opt_int(o, "observedGeneration", 0, &x->observed_generation))
			x->observed_generation = 0;
		const char *lt = aios_json_str(o, "lastTransitionTime");
		x->last_transition = lt ? aios_xstrdup(lt) : NULL;
		const char *r = aios_json_str(o, "reason"), *m = aios_json_str(o, "message");
		x->reason = aios_xstrdup(r ? r : "");
		x->message = aios_xstrdup(m ? m : "");
	}
}

struct json_object *aios_conditions_encode(const struct aios_conditions *c)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < c->n; i++) {
		const struct aios_condition *x = &c->v[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string(x->type));
		json_object_object_add(o, "status", json_object_new_string(status_name(x->status)));
		json_object_object_add(o, "observedGeneration",
		                       json_object_new_int64(x->observed_generation));
		if (x->last_transition)
			json_object_object_add(o, "lastTransitionTime",
			                       json_object_new_string(x->last_transition));
		json_object_object_add(o, "reason", json_object_new_string(x->reason));
		json_object_object_add(o, "message", json_object_new_string(x->message));
		json_object_array_add(a, o);
	}
	return a;
}

void aios_conditions_cleanup(struct aios_conditions *c)
{
	for (size_t i = 0; i < c->n; i++)
		condition_cleanup(&c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

void aios_conditions_copy(struct aios_conditions *dst, const struct aios_conditions *src)
{
	aios_conditions_cleanup(dst);
	for (size_t i = 0; i < src->n; i++)
		condition_copy(append(dst), &src->v[i]);
}

const struct aios_condition *aios_conditions_find(const struct aios_conditions *c, const char *type)
{
	return find(c, type);
}

int aios_conditions_is_true(const struct aios_conditions *c, const char *type)
{
	const struct aios_condition *x = find(c, type);
	return x && x->status == AIOS_CONDITION_TRUE;
}

const char *aios_conditions_reason(const struct aios_conditions *c, const char *type)
{
	const struct aios_condition *x = find(c, type);
	return x ? x->reason : NULL;
}

/* Replaces *field by a copy of v when they differ; 1 if it changed. */
static int put(char **field, const char *v)
{
	if (*field && strcmp(*field, v) == 0)
		return 0;
	free(*field);
	*field = aios_xstrdup(v);
	return 1;
}

int aios_conditions_set(struct aios_conditions *c, const char *type,
                        enum aios_condition_status status, const char *reason, const char *message,
                        int64_t generation, const char *now)
{
	struct aios_condition *x = find(c, type);
	int changed = 0;
	if (!x) {
		x = append(c);
		x->type = aios_xstrdup(type);
		x->status = status;
		changed = 1;
	}
	if (x->status != status || !x->last_transition) {
		x->status = status;
		put(&x->last_transition, now);
		changed = 1;
	}
	if (x->observed_generation != generation) {
		x->observed_generation = generation;
		changed = 1;
	}
	char *m = message_dup(message);
	changed |= put(&x->reason, reason ? reason : "");
	changed |= put(&x->message, m);
	free(m);
	return changed;
}

int aios_conditions_set_false_if_present(struct aios_conditions *c, const char *type,
                                         const char *reason, const char *message,
                                         int64_t generation, const char *now)
{
	if (!find(c, type))
		return 0;
	return aios_conditions_set(c, type, AIOS_CONDITION_FALSE, reason, message, generation, now);
}

int aios_conditions_remove(struct aios_conditions *c, const char *type)
{
	struct aios_condition *x = find(c, type);
	if (!x)
		return 0;
	size_t i = (size_t)(x - c->v);
	condition_cleanup(x);
	memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof(*c->v));
	c->n--;
	return 1;
}

void aios_conditions_carry(struct aios_conditions *c, const struct aios_conditions *src,
                           const char *type)
{
	const struct aios_condition *s = find(src, type);
	if (!s)
		return;
	struct aios_condition *x = find(c, type);
	if (x)
		condition_cleanup(x);
	else
		x = append(c);
	condition_copy(x, s);
}
