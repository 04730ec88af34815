/*
 * promtext.h - the one reader of Prometheus text exposition format (version 0.0.4) in
 * aios: the operator reads aios-serve's and aios-trainer's /metrics pages with it.
 *
 * A page is lines: "# HELP"/"# TYPE" comments, blank lines, and samples
 *   name{key="value",...} value [timestamp]
 * The parser calls back for the samples of the metric names the caller asks for; lines
 * of other metrics are skipped without being read, so a malformed line of someone
 * else's metric never fails a page. A sample of a wanted name with malformed labels or
 * without a number fails the page with AIOS_ERR_INVALID naming its line. Values are
 * read by strtod ("NaN", "+Inf" included); whether a value makes sense is the caller's.
 *
 * Limits: label values are kept up to AIOS_PROMTEXT_VALUE_MAX - 1 bytes (longer ones
 * are cut, not refused), at most AIOS_PROMTEXT_MAX_LABELS labels of a sample are kept
 * (further ones are checked and dropped). Nothing is allocated.
 */
#ifndef AIOS_HTTP_PROMTEXT_H
#define AIOS_HTTP_PROMTEXT_H

#include <stddef.h>

#include "common/err.h"

#define AIOS_PROMTEXT_MAX_LABELS 16
#define AIOS_PROMTEXT_VALUE_MAX  64 /* bytes of a label value or a sample value, NUL included */

struct aios_promtext_label {
	const char *key; /* into the page, not NUL-terminated */
	size_t key_len;
	char value[AIOS_PROMTEXT_VALUE_MAX]; /* unescaped */
};

struct aios_promtext_sample {
	const char *name; /* one of the names asked for (static: the caller's) */
	int lineno;       /* 1-based */
	size_t n_labels;
	struct aios_promtext_label labels[AIOS_PROMTEXT_MAX_LABELS];
	char text[AIOS_PROMTEXT_VALUE_MAX]; /* the value as written */
	double value;
};

/* Called for each wanted sample in page order; a non-zero return stops the parse and
 * is returned (set the message with aios_fail). */
typedef enum aios_err (*aios_promtext_fn)(const struct aios_promtext_sample *s, void *arg);

/* Parses len bytes of text, calling fn for every sample whose name is in names
 * (NULL-terminated). */
enum aios_err aios_promtext_parse(const char *text, size_t len, const char *const *names,
                                  aios_promtext_fn fn, void *arg) AIOS_MUST_CHECK;

/* The value of label key on s, or NULL when s has none. */
const char *aios_promtext_label(const struct aios_promtext_sample *s, const char *key);

#endif
