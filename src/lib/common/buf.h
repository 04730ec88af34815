/*
 * buf.h - bounded growable byte buffers: the second allocation tier.
 *
 * Anything whose size an outsider decides (an API body, a watch line, an HTTP
 * request, a data file) is read into a struct aios_buf created with a named cap.
 * Growth past the cap fails with AIOS_ERR_TOO_BIG and leaves the buffer as it was;
 * it never aborts and never allocates more than the cap (plus one NUL byte).
 * The content is always NUL-terminated, so text can be used as a C string.
 */
#ifndef AIOS_BUF_H
#define AIOS_BUF_H

#include <stddef.h>

#include "err.h"

/* Named caps, in bytes. Documented in docs/limits.md; change both together. */
#define AIOS_CAP_API_BODY     (64u << 20)   /* one Kubernetes API response body */
#define AIOS_CAP_WATCH_LINE   (16u << 20)   /* one watch event line */
#define AIOS_CAP_KUBECONFIG   (4u << 20)    /* a kubeconfig file */
#define AIOS_CAP_HTTP_REQUEST (16u << 20)   /* an inference request body (upper bound) */
#define AIOS_CAP_SPEC         (4u << 20)    /* a TrainingJob spec as JSON */
#define AIOS_CAP_DATASET      (2048u << 20) /* a dataset file */
#define AIOS_CAP_ARTIFACT     (1024u << 20) /* a model artifact file */
#define AIOS_CAP_METRICS_PAGE (4u << 20)    /* a scraped /metrics page */

struct aios_buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len; /* bytes used, not counting the NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* the cap: len never exceeds it */
};

/* Prepares an empty buffer that may grow up to max bytes. */
void aios_buf_init(struct aios_buf *b, size_t max);
/* Frees the content; the buffer is empty and reusable afterwards. */
void aios_buf_cleanup(struct aios_buf *b);
/* Empties without freeing (len = 0). */
void aios_buf_reset(struct aios_buf *b);
/* Appends n bytes; AIOS_ERR_TOO_BIG if len + n > max (buffer unchanged). */
enum aios_err aios_buf_append(struct aios_buf *b, const void *p, size_t n) AIOS_MUST_CHECK;
enum aios_err aios_buf_puts(struct aios_buf *b, const char *s) AIOS_MUST_CHECK;
enum aios_err aios_buf_printf(struct aios_buf *b, const char *fmt, ...) AIOS_MUST_CHECK
    AIOS_PRINTF(2, 3);
/* Removes the first n bytes (n <= len), keeping the rest. */
void aios_buf_consume(struct aios_buf *b, size_t n);
/* Hands the content over (caller frees; never NULL) and empties the buffer. */
char *aios_buf_take(struct aios_buf *b);
/* Reads a whole file into b (bounded by b->max); messages name the path. */
enum aios_err aios_buf_read_file(struct aios_buf *b, const char *path) AIOS_MUST_CHECK;

#endif
