/*
 * buf.c - bounded growable buffers (see buf.h).
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void aios_buf_init(struct aios_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void aios_buf_cleanup(struct aios_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void aios_buf_reset(struct aios_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Makes room for extra more bytes plus the NUL, doubling up to the cap. */
static enum aios_err reserve(struct aios_buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return aios_fail(AIOS_ERR_TOO_BIG, "buffer limit of %zu bytes exceeded", b->max);
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return AIOS_OK;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	char *p = realloc(b->data, cap);
	if (!p)
		return aios_fail(AIOS_ERR_NOMEM, "cannot grow buffer to %zu bytes", cap);
	b->data = p;
	b->cap = cap;
	return AIOS_OK;
}

enum aios_err aios_buf_append(struct aios_buf *b, const void *p, size_t n)
{
	enum aios_err e = reserve(b, n);
	if (e)
		return e;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return AIOS_OK;
}

enum aios_err aios_buf_puts(struct aios_buf *b, const char *s)
{
	return aios_buf_append(b, s, strlen(s));
}

enum aios_err aios_buf_printf(struct aios_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return aios_fail(AIOS_ERR_INVALID, "bad format string");
	enum aios_err e = reserve(b, (size_t)n);
	if (e)
		return e;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return AIOS_OK;
}

void aios_buf_consume(struct aios_buf *b, size_t n)
{
	if (n >= b->len) {
		aios_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *aios_buf_take(struct aios_buf *b)
{
	char *p = b->data ? b->data : aios_xstrdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

enum aios_err aios_buf_read_file(struct aios_buf *b, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return aios_fail(errno == ENOENT ? AIOS_ERR_NOT_FOUND : AIOS_ERR_IO, "%s: %s", path,
		                 strerror(errno));
	char chunk[65536];
	size_t n;
	enum aios_err e = AIOS_OK;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		e = aios_buf_append(b, chunk, n);
		if (e) {
			aios_fail_wrap(e, "%s", path);
			break;
		}
	}
	if (!e && ferror(f))
		e = aios_fail(AIOS_ERR_IO, "%s: read error", path);
	fclose(f);
	return e;
}
