/*
 * conditions.h - metav1.Condition lists, set by the rules of apimachinery's
 * meta.SetStatusCondition, for every kind the operator writes status of (TrainingJob,
 * ModelService).
 *
 * A condition has a type (unique in its list), a status (True, False, Unknown), the
 * metadata.generation it was computed from, the time its status last changed, a
 * CamelCase reason and a message for humans. The rules:
 *   - lastTransitionTime moves only when the status changes (or the condition is new);
 *     a new reason or message alone keeps it, so `kubectl describe` shows since when
 *     the state holds, not when the wording last changed;
 *   - observedGeneration is written on every set, so a reader can tell a condition
 *     computed from the current spec from a leftover one.
 *
 * A list is decoded from a status' "conditions" array once, changed in memory and
 * encoded once when the status is written. The list owns every string in it.
 */
#ifndef AIOS_KUBE_CONDITIONS_H
#define AIOS_KUBE_CONDITIONS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a message we write (with its NUL): longer ones are cut. */
#define AIOS_CONDITIONS_MESSAGE_MAX 1024

enum aios_condition_status {
	AIOS_CONDITION_FALSE,
	AIOS_CONDITION_TRUE,
	AIOS_CONDITION_UNKNOWN,
};

struct aios_condition {
	char *type;
	enum aios_condition_status status;
	int64_t observed_generation;
	char *last_transition; /* RFC 3339, as read or written; never NULL once set */
	char *reason;          /* never NULL */
	char *message;         /* never NULL */
};

/* Embedded by its users; {0} is an empty list. */
struct aios_conditions {
	struct aios_condition *v;
	size_t n;
};

/* Reads a "conditions" array (NULL or not an array: the list is empty); entries without
 * a type are dropped. out must be empty or cleaned up. */
void aios_conditions_decode(struct json_object *array, struct aios_conditions *out);
/* The list as a new "conditions" array (caller puts), in list order. */
struct json_object *aios_conditions_encode(const struct aios_conditions *c);
void aios_conditions_cleanup(struct aios_conditions *c);
/* dst becomes a deep copy of src (dst is cleaned up first). */
void aios_conditions_copy(struct aios_conditions *dst, const struct aios_conditions *src);

/* The condition of type, or NULL; valid until the list changes. */
const struct aios_condition *aios_conditions_find(const struct aios_conditions *c,
                                                  const char *type);
/* The condition of type is present with status True. */
int aios_conditions_is_true(const struct aios_conditions *c, const char *type);
/* The reason of the condition of type, or NULL when absent. */
const char *aios_conditions_reason(const struct aios_conditions *c, const char *type);

/*
 * Sets the condition of type (appended when absent) by the rules above; now is the
 * RFC 3339 time of this change. message NULL is "". Returns 1 when anything changed.
 */
int aios_conditions_set(struct aios_conditions *c, const char *type,
                        enum aios_condition_status status, const char *reason, const char *message,
                        int64_t generation, const char *now);
/* aios_conditions_set to False only when the condition is present: a type that was
 * never True is not listed just to say it is not. Returns 1 when anything changed. */
int aios_conditions_set_false_if_present(struct aios_conditions *c, const char *type,
                                         const char *reason, const char *message,
                                         int64_t generation, const char *now);
/* Removes the condition of type; 1 if it was there. */
int aios_conditions_remove(struct aios_conditions *c, const char *type);
/* Puts a copy of src's condition of type into c (replacing c's own), when src has one:
 * a status rebuilt from scratch keeps its lastTransitionTime through it. */
void aios_conditions_carry(struct aios_conditions *c, const struct aios_conditions *src,
                           const char *type);

#endif
