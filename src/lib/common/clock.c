/*
 * clock.c - monotonic and wall clocks (see clock.h).
 */
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shutdown.h"

int64_t aios_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t aios_now_ms(void)
{
	return aios_now_ns() / 1000000;
}

double aios_now_s(void)
{
	return (double)aios_now_ns() / 1e9;
}

void aios_sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !aios_shutdown_requested())
		;
}

void aios_rfc3339(time_t t, char *out, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void aios_rfc3339_now(char *out, size_t n)
{
	aios_rfc3339(time(NULL), out, n);
}

time_t aios_rfc3339_parse(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!end)
		return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (*end != 'Z' || end[1] != '\0')
		return -1;
	return timegm(&tm);
}
