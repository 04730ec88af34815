/*
 * kube_watch_fuzz.c - the watch stream decoder (line splitting, event parsing, ERROR
 * events) on arbitrary bytes, through the same code aios_kube_watch runs on a live
 * stream. Every delivered event has a known type and an object.
 */
#include <stdint.h>
#include <stdlib.h>

#include "kube/kube_internal.h"

static enum aios_err check(void *arg, enum aios_kube_event_type t, struct json_object *obj)
{
	if (t > AIOS_KUBE_BOOKMARK || !obj || !json_object_is_type(obj, json_type_object))
		abort();
	(*(int *)arg)++;
	return AIOS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int n = 0;
	enum aios_err e = aios_kube_watch_decode((const char *)data, size, "fuzz", check, &n);
	(void)e;
	return 0;
}
