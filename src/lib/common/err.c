/*
 * err.c - aios_strerror and the per-thread error message (see err.h).
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERRMSG_MAX 1024 /* bytes; longer messages are cut, never overflow */

static _Thread_local char errmsg[ERRMSG_MAX];

static const char *const names[AIOS_ERR__COUNT] = {
    [AIOS_OK] = "ok",
    [AIOS_ERR_NOMEM] = "out of memory",
    [AIOS_ERR_INVALID] = "invalid",
    [AIOS_ERR_NOT_FOUND] = "not found",
    [AIOS_ERR_CONFLICT] = "conflict",
    [AIOS_ERR_EXISTS] = "already exists",
    [AIOS_ERR_GONE] = "gone",
    [AIOS_ERR_TOO_BIG] = "too big",
    [AIOS_ERR_TIMEOUT] = "timeout",
    [AIOS_ERR_IO] = "i/o error",
    [AIOS_ERR_FORBIDDEN] = "forbidden",
    [AIOS_ERR_UNAUTHORIZED] = "unauthorized",
    [AIOS_ERR_UNAVAILABLE] = "unavailable",
    [AIOS_ERR_PROTOCOL] = "protocol error",
    [AIOS_ERR_CORRUPT] = "corrupt",
    [AIOS_ERR_DIGEST] = "digest mismatch",
    [AIOS_ERR_CANCELLED] = "cancelled",
    [AIOS_ERR_TLS] = "tls error",
    [AIOS_ERR_DIVERGED] = "diverged",
    [AIOS_ERR_UNSUPPORTED] = "unsupported",
    [AIOS_ERR_INTERNAL] = "internal error",
};

const char *aios_strerror(enum aios_err code)
{
	if ((int)code < 0 || code >= AIOS_ERR__COUNT || !names[code])
		return "unknown error";
	return names[code];
}

enum aios_err aios_fail(enum aios_err code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return code;
}

enum aios_err aios_fail_wrap(enum aios_err code, const char *fmt, ...)
{
	char prefix[ERRMSG_MAX];
	char old[ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, errmsg, sizeof(old));
	if (old[0])
		snprintf(errmsg, sizeof(errmsg), "%s: %s", prefix, old);
	else
		snprintf(errmsg, sizeof(errmsg), "%s", prefix);
	return code;
}

const char *aios_errmsg(void)
{
	return errmsg;
}

void aios_errclear(void)
{
	errmsg[0] = '\0';
}
