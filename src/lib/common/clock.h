/*
 * clock.h - time: a monotonic clock for intervals and deadlines, and the wall clock
 * in the RFC 3339 form Kubernetes writes (metav1.Time).
 */
#ifndef AIOS_CLOCK_H
#define AIOS_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic time since an arbitrary origin. */
int64_t aios_now_ns(void);
int64_t aios_now_ms(void);
double aios_now_s(void);
/* Sleeps ms milliseconds (restarts after signals unless aios_shutdown_requested()). */
void aios_sleep_ms(int64_t ms);
/* Writes the wall clock as "2026-11-29T01:02:03Z" into out (needs 21 bytes). */
void aios_rfc3339_now(char *out, size_t n);
/* Formats a Unix time t the same way. */
void aios_rfc3339(time_t t, char *out, size_t n);
/* Parses "YYYY-MM-DDTHH:MM:SS[.frac]Z"; returns -1 on bad input. */
time_t aios_rfc3339_parse(const char *s);

#endif
