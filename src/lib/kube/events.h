/*
 * events.h - a best-effort recorder of core/v1 Events, like client-go's recorder.
 *
 * An Event names the involved object, a reason (CamelCase, machine-readable), a
 * message and a type (Normal or Warning). Repeats of the same (object, type, reason,
 * message) within 10 minutes update the first Event's count and lastTimestamp instead
 * of creating another one. Failures are logged, never returned: events are
 * informational and must not block a reconcile.
 */
#ifndef AIOS_KUBE_EVENTS_H
#define AIOS_KUBE_EVENTS_H

#include <json-c/json.h>

#include "kube/client.h"

struct aios_kube_recorder;

/* component names the source ("aios-operator"). The client must outlive it. */
struct aios_kube_recorder *aios_kube_recorder_new(struct aios_kube_client *c,
                                                  const char *component);
void aios_kube_recorder_free(struct aios_kube_recorder *r);

/* Records an event about obj (borrowed; its kind/apiVersion/metadata are read).
 * type is "Normal" or "Warning". Thread-safe. */
void aios_kube_event(struct aios_kube_recorder *r, struct json_object *obj, const char *type,
                     const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
