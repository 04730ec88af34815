/*
 * log.h - structured logging: one JSON object per line on stderr.
 *
 *   {"ts":"2026-11-29T01:02:03.456Z","level":"info","prog":"aios-operator",
 *    "event":"reconcile","msg":"created pod default/job-0", ...fields}
 *
 * `event` is a short stable name a machine can filter on; `msg` is for people.
 * Lines are written with one write(2) so threads never interleave. Never log
 * tokens, keys or secret data.
 */
#ifndef AIOS_LOG_H
#define AIOS_LOG_H

#include <json-c/json.h>

enum aios_log_level { AIOS_LOG_DEBUG, AIOS_LOG_INFO, AIOS_LOG_WARN, AIOS_LOG_ERROR };

/* Sets the program name written as "prog" and the minimum level (default info). */
void aios_log_init(const char *prog, enum aios_log_level min);
/* Parses "debug|info|warn|error"; -1 if none of these. */
int aios_log_parse_level(const char *s);
void aios_log_set_level(enum aios_log_level min);
int aios_log_enabled(enum aios_log_level lvl);

/* Logs a printf-formatted message. */
void aios_log(enum aios_log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with extra fields merged into the line; takes ownership of fields (may be NULL). */
void aios_log_fields(enum aios_log_level lvl, const char *event, struct json_object *fields,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define aios_debug(ev, ...) aios_log(AIOS_LOG_DEBUG, ev, __VA_ARGS__)
#define aios_info(ev, ...)  aios_log(AIOS_LOG_INFO, ev, __VA_ARGS__)
#define aios_warn(ev, ...)  aios_log(AIOS_LOG_WARN, ev, __VA_ARGS__)
#define aios_error(ev, ...) aios_log(AIOS_LOG_ERROR, ev, __VA_ARGS__)

#endif
