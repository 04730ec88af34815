/*
 * log.c - JSON-lines logging (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog_name = "aios";
static enum aios_log_level min_level = AIOS_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void aios_log_init(const char *prog, enum aios_log_level min)
{
	prog_name = prog;
	min_level = min;
}

int aios_log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void aios_log_set_level(enum aios_log_level min)
{
	min_level = min;
}

int aios_log_enabled(enum aios_log_level lvl)
{
	return lvl >= min_level;
}

static void emit(enum aios_log_level lvl, const char *event, struct json_object *fields,
                 const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[40];
	size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);

	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "ts", json_object_new_string(when));
	json_object_object_add(o, "level", json_object_new_string(level_names[lvl]));
	json_object_object_add(o, "prog", json_object_new_string(prog_name));
	json_object_object_add(o, "event", json_object_new_string(event));
	json_object_object_add(o, "msg", json_object_new_string(msg));
	if (fields) {
		json_object_object_foreach(fields, k, v)
		    json_object_object_add(o, k, json_object_get(v));
		json_object_put(fields);
	}
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	char line[8192];
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	memcpy(line, s, len);
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
	json_object_put(o);
}

void aios_log(enum aios_log_level lvl, const char *event, const char *fmt, ...)
{
	if (lvl < min_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	emit(lvl, event, NULL, fmt, ap);
	va_end(ap);
}

void aios_log_fields(enum aios_log_level lvl, const char *event, struct json_object *fields,
                     const char *fmt, ...)
{
	if (lvl < min_level) {
		json_object_put(fields);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	emit(lvl, event, fields, fmt, ap);
	va_end(ap);
}
