/*
 * stream.h - a GET whose body is read as it arrives: a pod's log followed
 * (pods/NAME/log?follow=true), or any other streaming endpoint that is not a watch
 * (watches are decoded into events by watch.h).
 */
#ifndef AIOS_KUBE_STREAM_H
#define AIOS_KUBE_STREAM_H

#include <stddef.h>

#include "common/err.h"
#include "kube/client.h"

/* Receives the body's bytes as they come. Returns 0 to go on, non-zero to stop. */
typedef int (*aios_kube_stream_fn)(void *arg, const char *p, size_t n);

/* GETs path_query ("/api/v1/...?...") with no overall deadline and hands a 2xx body to
 * fn until the server ends it (AIOS_OK), *cancel becomes non-zero or a shutdown is
 * requested (AIOS_ERR_CANCELLED), or fn stops it (AIOS_ERR_CANCELLED, no message: fn
 * knows why). A non-2xx answer is decoded as aios_kube_request decodes it (NOT_FOUND,
 * INVALID with the Status message, ...). cancel may be NULL. */
enum aios_err aios_kube_stream(struct aios_kube_client *c, const char *path_query,
                               const int *cancel, aios_kube_stream_fn fn,
                               void *arg) AIOS_MUST_CHECK;

#endif
