/*
 * err.h - the one error enum of aios, and the per-thread message that goes with it.
 *
 * Every function that can fail returns enum aios_err and is marked AIOS_MUST_CHECK.
 * Where the failure happens, the code records a one-line message naming what failed
 * and with which input (aios_fail()); callers up the stack may read it with
 * aios_errmsg() and add context with aios_fail_wrap(). The numbers are part of the
 * contract (exit codes and logs carry them): never renumber, only append.
 */
#ifndef AIOS_ERR_H
#define AIOS_ERR_H

#define AIOS_MUST_CHECK   __attribute__((warn_unused_result))
#define AIOS_PRINTF(a, b) __attribute__((format(printf, a, b)))

enum aios_err {
	AIOS_OK = 0,
	AIOS_ERR_NOMEM = 1,         /* allocation failed (outside-sized input only) */
	AIOS_ERR_INVALID = 2,       /* bad input: syntax, type, range, 422 from the API */
	AIOS_ERR_NOT_FOUND = 3,     /* no such object / file / route, 404 */
	AIOS_ERR_CONFLICT = 4,      /* stale resourceVersion, 409 Conflict */
	AIOS_ERR_EXISTS = 5,        /* 409 AlreadyExists */
	AIOS_ERR_GONE = 6,          /* resourceVersion too old, 410 */
	AIOS_ERR_TOO_BIG = 7,       /* a bounded buffer or a size limit was exceeded */
	AIOS_ERR_TIMEOUT = 8,       /* a deadline passed */
	AIOS_ERR_IO = 9,            /* a system call on a file or socket failed */
	AIOS_ERR_FORBIDDEN = 10,    /* 403: RBAC said no */
	AIOS_ERR_UNAUTHORIZED = 11, /* 401: bad or missing credentials */
	AIOS_ERR_UNAVAILABLE = 12,  /* retryable: 429, 5xx, connection refused */
	AIOS_ERR_PROTOCOL = 13,     /* a peer spoke something we do not understand */
	AIOS_ERR_CORRUPT = 14,      /* a file or frame fails its own structure checks */
	AIOS_ERR_DIGEST = 15,       /* SHA-256 mismatch */
	AIOS_ERR_CANCELLED = 16,    /* shutdown was requested */
	AIOS_ERR_TLS = 17,          /* TLS setup or verification failed */
	AIOS_ERR_DIVERGED = 18,     /* training loss became NaN or infinite */
	AIOS_ERR_UNSUPPORTED = 19,  /* valid but not implemented here */
	AIOS_ERR_INTERNAL = 20,     /* a bug: an invariant did not hold */
	AIOS_ERR__COUNT
};

/* Short fixed description of code ("conflict"); never NULL. */
const char *aios_strerror(enum aios_err code);

/* Records a formatted one-line message for this thread and returns code. */
enum aios_err aios_fail(enum aios_err code, const char *fmt, ...) AIOS_PRINTF(2, 3);

/* Prefixes the current message with "fmt: " (context added on the way up); returns code. */
enum aios_err aios_fail_wrap(enum aios_err code, const char *fmt, ...) AIOS_PRINTF(2, 3);

/* This thread's last recorded message, or "" (owned by the thread, valid until next fail). */
const char *aios_errmsg(void);

/* Clears this thread's message. */
void aios_errclear(void);

#endif
