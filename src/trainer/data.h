/*
 * data.h - datasets: where they come from (inline, file://, pvc://, http(s)://), how
 * they are parsed (CSV, f32), checked, split and normalized.
 *
 * A dataset is two dense row-major arrays: features x (rows, cols) and targets
 * t (rows, tcols). Everything read from outside is bounded: a dataset file by
 * AIOS_CAP_DATASET bytes, a CSV line by TRAINER_CSV_MAX_LINE, a row by
 * TRAINER_DATA_MAX_COLS columns, the row count by TRAINER_DATA_MAX_ROWS. Errors name
 * the source, the line (CSV) or row (f32, inline) and the column, and are
 * AIOS_ERR_INVALID (bad content), AIOS_ERR_DIGEST (sha256 mismatch), AIOS_ERR_NOT_FOUND
 * or AIOS_ERR_IO (cannot read), AIOS_ERR_TOO_BIG (over a cap).
 *
 * The f32 format: a 32-byte header, then rows x (features + labels) little-endian
 * float32 values, each row's features first:
 *   off 0 "AIOSF32\0" | off 8 u32 version (1) | off 12 u32 features | off 16 u32 labels
 *   | off 20 u32 reserved (0) | off 24 u64 rows
 * The file size must be exactly 32 + 4 * rows * (features + labels).
 */
#ifndef AIOS_TRAINER_DATA_H
#define AIOS_TRAINER_DATA_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define TRAINER_CSV_MAX_LINE  (1u << 20) /* bytes in one CSV line */
#define TRAINER_DATA_MAX_COLS 65536      /* columns in one row */
#define TRAINER_DATA_MAX_ROWS (1u << 31) /* rows (indices are 32-bit) */
#define TRAINER_F32_MAGIC     "AIOSF32"
#define TRAINER_F32_HEADER    32

enum trainer_format { TRAINER_FMT_AUTO, TRAINER_FMT_CSV, TRAINER_FMT_F32 };

/* What a label must look like, checked while parsing so errors can name the line. */
enum trainer_label_kind {
	TRAINER_LABEL_REAL,  /* any finite number (mse) */
	TRAINER_LABEL_PROB,  /* in [0, 1] (binary cross-entropy) */
	TRAINER_LABEL_CLASS, /* an integer in 0..classes-1 (softmax cross-entropy) */
	TRAINER_LABEL_SIGN   /* 0, 1, -1 (hinge) */
};

struct trainer_label_rule {
	enum trainer_label_kind kind;
	int classes; /* TRAINER_LABEL_CLASS */
	int tcols;   /* target columns per row */
};

struct trainer_dataset {
	int64_t rows;
	int cols, tcols;
	float *x; /* (rows, cols), owned */
	float *t; /* (rows, tcols), owned */
};

struct trainer_data_opts {
	enum trainer_format format;
	int header;             /* 1, 0, or -1: a first line that is not all numbers is a header */
	const char *label_name; /* label column by header name, or NULL */
	int label_index;        /* label column, 0-based; negative counts from the end (-1: last) */
	const char *sha256;     /* expected digest of the raw bytes, or NULL */
};

void trainer_dataset_cleanup(struct trainer_dataset *d);

/*
 * Resolves a storage URI to a local path: file:///p -> /p, pvc://CLAIM/P ->
 * $AIOS_PVC_ROOT/CLAIM/P (default root /mnt/pvc), a plain path as is. http(s) and
 * other schemes are AIOS_ERR_UNSUPPORTED here. ".." segments are refused in pvc paths.
 */
enum aios_err trainer_uri_to_path(const char *uri, char *path, size_t n) AIOS_MUST_CHECK;

/* Reads the bytes behind uri (any of the above, or http(s) via libcurl) into b. */
enum aios_err trainer_fetch(const char *uri, struct aios_buf *b) AIOS_MUST_CHECK;

/* Parsers over bytes in memory; name appears in messages. */
enum aios_err trainer_parse_csv(const char *p, size_t n, const char *name,
                                const struct trainer_data_opts *o,
                                const struct trainer_label_rule *r,
                                struct trainer_dataset *out) AIOS_MUST_CHECK;
enum aios_err trainer_parse_f32(const void *p, size_t n, const char *name,
                                const struct trainer_label_rule *r,
                                struct trainer_dataset *out) AIOS_MUST_CHECK;
/* {"features": [[...], ...], "labels": [...] or [[...], ...]} from the spec. */
enum aios_err trainer_parse_inline(struct json_object *o, const char *path,
                                   const struct trainer_label_rule *r,
                                   struct trainer_dataset *out) AIOS_MUST_CHECK;

/* Fetches, checks the digest, picks the format (by magic, then extension), parses. */
enum aios_err trainer_load(const char *uri, const struct trainer_data_opts *o,
                           const struct trainer_label_rule *r,
                           struct trainer_dataset *out) AIOS_MUST_CHECK;

/* Writes a dataset in the f32 format (used by the benchmark and tests). */
enum aios_err trainer_write_f32(const char *path, const struct trainer_dataset *d) AIOS_MUST_CHECK;

/*
 * Moves a seeded random fraction of the rows into val (floor(rows * fraction) rows);
 * all stays in d when fraction is 0. The split depends only on the seed and the rows.
 */
void trainer_split(struct trainer_dataset *d, double fraction, uint64_t seed,
                   struct trainer_dataset *val);

/* Per-column mean and standard deviation of d (std 1 for a constant column). */
void trainer_norm_stats(const struct trainer_dataset *d, float *mean, float *std);
/* x = (x - mean) / std in place. */
void trainer_normalize(struct trainer_dataset *d, const float *mean, const float *std);

#endif
