/*
 * mem.h - the first allocation tier: allocations that abort on out-of-memory.
 *
 * Use these for sizes the program controls (objects, small strings, model tensors
 * already validated against a cap). A process that cannot allocate such memory is
 * better restarted (level-based reconcile rebuilds its state) than limping on.
 * Anything sized by outside input goes through struct aios_buf (buf.h) instead.
 */
#ifndef AIOS_MEM_H
#define AIOS_MEM_H

#include <stddef.h>

void *aios_xmalloc(size_t n);
void *aios_xcalloc(size_t count, size_t size);
void *aios_xrealloc(void *p, size_t n);
char *aios_xstrdup(const char *s);
char *aios_xstrndup(const char *s, size_t n);
/* Formats into a new heap string (caller frees). */
char *aios_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
