/*
 * data.c - dataset sources, parsers, split and normalization (see data.h).
 */
#include "data.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/hash.h"
#include "common/mem.h"
#include "http/client.h"
#include "model/model.h"
#include "rng.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the f32 dataset reader assumes a little-endian host"
#endif

#define FIELD_MAX 128 /* bytes of one numeric CSV field */

/*
 * Memory for a dataset array. Minibatches read rows at random, so with 4 KiB pages
 * nearly every row costs a TLB miss and a page walk: large arrays are 2 MiB aligned
 * and marked for transparent huge pages (a hint; ignored where THP is off).
 */
static void *big_alloc(size_t bytes)
{
	const size_t huge = 2u << 20;
	if (bytes < huge)
		return aios_xmalloc(bytes ? bytes : 1);
	void *p = NULL;
	size_t rounded = (bytes + huge - 1) / huge * huge;
	if (posix_memalign(&p, huge, rounded))
		return aios_xmalloc(bytes); /* aborts if even this fails */
	(void)madvise(p, rounded, MADV_HUGEPAGE);
	return p;
}

void trainer_dataset_cleanup(struct trainer_dataset *d)
{
	free(d->x);
	free(d->t);
	memset(d, 0, sizeof(*d));
}

/* ---------------------------------------------------------------- sources */

/* 1 if some '/'-separated segment of p is "..". */
static int has_dotdot(const char *p)
{
	for (const char *s = p; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
		if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
			return 1;
	return 0;
}

enum aios_err trainer_uri_to_path(const char *uri, char *path, size_t n)
{
	int w;
	if (!strncmp(uri, "file://", 7)) {
		if (uri[7] != '/')
			return aios_fail(AIOS_ERR_INVALID,
			                 "%s: a file URI needs an absolute path (file:///...)",
			                 uri);
		w = snprintf(path, n, "%s", uri + 7);
	} else if (!strncmp(uri, "pvc://", 6)) {
		const char *rest = uri + 6, *slash = strchr(rest, '/');
		if (!slash || slash == rest || !slash[1])
			return aios_fail(AIOS_ERR_INVALID, "%s: expected pvc://CLAIM/PATH", uri);
		if (has_dotdot(rest))
			return aios_fail(AIOS_ERR_INVALID,
			                 "%s: \"..\" is not allowed in a pvc path", uri);
		const char *root = getenv("AIOS_PVC_ROOT");
		w = snprintf(path, n, "%s/%s", root && *root ? root : "/mnt/pvc", rest);
	} else if (strstr(uri, "://")) {
		return aios_fail(AIOS_ERR_UNSUPPORTED, "%s: unsupported URI scheme here", uri);
	} else {
		w = snprintf(path, n, "%s", uri);
	}
	if (w < 0 || (size_t)w >= n)
		return aios_fail(AIOS_ERR_INVALID, "%s: path too long", uri);
	return AIOS_OK;
}

/* GET url into b (its cap is the dataset limit), following redirects. No overall
 * deadline (a dataset may be large); a transfer slower than 1 KiB/s for 60 s fails. */
static enum aios_err http_get(const char *url, struct aios_buf *b)
{
	struct aios_httpc_opts o = {.low_speed_s = 60, .low_speed_bytes = 1024};
	long status = 0;
	enum aios_err e = aios_httpc_get(url, &o, &status, b);
	if (e == AIOS_ERR_TOO_BIG)
		return aios_fail(AIOS_ERR_TOO_BIG, "%s: larger than the %zu-byte dataset limit",
		                 url, b->max);
	if (e)
		return aios_fail_wrap(AIOS_ERR_IO, "dataset");
	if (status >= 400 || status < 200)
		return aios_fail(status == 404 ? AIOS_ERR_NOT_FOUND : AIOS_ERR_IO, "%s: HTTP %ld",
		                 url, status);
	return AIOS_OK;
}

enum aios_err trainer_fetch(const char *uri, struct aios_buf *b)
{
	if (!strncmp(uri, "http://", 7) || !strncmp(uri, "https://", 8))
		return http_get(uri, b);
	char path[4096];
	enum aios_err e = trainer_uri_to_path(uri, path, sizeof(path));
	if (e)
		return e;
	return aios_buf_read_file(b, path);
}

/* ---------------------------------------------------------------- labels */

/* NULL if v is a valid label under r, else what is wrong (static string). */
static const char *label_problem(float v, const struct trainer_label_rule *r)
{
	switch (r->kind) {
	case TRAINER_LABEL_REAL: return NULL;
	case TRAINER_LABEL_PROB:
		return v >= 0 && v <= 1 ? NULL : "a cross-entropy label must lie in [0, 1]";
	case TRAINER_LABEL_CLASS:
		return v >= 0 && v < r->classes && v == floorf(v)
		           ? NULL
		           : "a class label must be an integer from 0 to outputs-1";
	case TRAINER_LABEL_SIGN:
		return v == 0 || v == 1 || v == -1 ? NULL : "a hinge label must be -1, 0 or 1";
	}
	return NULL;
}

/* Grows a dataset's arrays to hold at least rows rows. */
static void reserve(struct trainer_dataset *d, int64_t *cap, int64_t rows)
{
	if (rows <= *cap)
		return;
	int64_t c = *cap ? *cap * 2 : 1024;
	while (c < rows)
		c *= 2;
	d->x = aios_xrealloc(d->x, (size_t)c * d->cols * sizeof(float));
	d->t = aios_xrealloc(d->t, (size_t)c * d->tcols * sizeof(float));
	*cap = c;
}

/* ---------------------------------------------------------------- CSV */

struct csv_line {
	const char *p;
	size_t len;
	int64_t no; /* 1-based */
};

/* Splits line into fields at commas; returns the count (capped at max, with *over set). */
static int split_fields(const struct csv_line *l, const char **f, size_t *fl, int max, int *over)
{
	int n = 0;
	size_t start = 0;
	*over = 0;
	for (size_t i = 0; i <= l->len; i++) {
		if (i < l->len && l->p[i] != ',')
			continue;
		if (n == max) {
			*over = 1;
			return n;
		}
		const char *s = l->p + start;
		size_t len = i - start;
		while (len && isspace((unsigned char)*s))
			s++, len--;
		while (len && isspace((unsigned char)s[len - 1]))
			len--;
		f[n] = s;
		fl[n] = len;
		n++;
		start = i + 1;
	}
	return n;
}

/* Parses a trimmed field as a finite float; NULL or a reason. */
static const char *parse_float(const char *s, size_t len, float *out)
{
	char tmp[FIELD_MAX];
	if (len == 0)
		return "empty field";
	if (len >= sizeof(tmp))
		return "not a number (field too long)";
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	char *end;
	errno = 0;
	float v = strtof(tmp, &end);
	if (end == tmp || *end)
		return "not a number";
	if (isnan(v))
		return "NaN is not allowed";
	if (isinf(v))
		return errno == ERANGE ? "out of the float range" : "infinity is not allowed";
	*out = v;
	return NULL;
}

static int all_numbers(const char **f, const size_t *fl, int n)
{
	float v;
	for (int i = 0; i < n; i++)
		if (parse_float(f[i], fl[i], &v))
			return 0;
	return 1;
}

enum aios_err trainer_parse_csv(const char *p, size_t n, const char *name,
                                const struct trainer_data_opts *o,
                                const struct trainer_label_rule *r, struct trainer_dataset *out)
{
	memset(out, 0, sizeof(*out));
	if (r->tcols != 1)
		return aios_fail(AIOS_ERR_UNSUPPORTED,
		                 "%s: CSV data has one label column; %d target columns need f32 "
		                 "or inline data",
		                 name, r->tcols);
	const char **f = aios_xmalloc(TRAINER_DATA_MAX_COLS * sizeof(*f));
	size_t *fl = aios_xmalloc(TRAINER_DATA_MAX_COLS * sizeof(*fl));
	char **names = NULL; /* header names, for messages */
	int ncols = -1, label = -1, n_names = 0;
	int64_t cap = 0;
	enum aios_err e = AIOS_OK;
	struct csv_line l = {0};
	size_t pos = 0;
	while (pos < n && !e) {
		const char *nl = memchr(p + pos, '\n', n - pos);
		size_t end = nl ? (size_t)(nl - p) : n;
		l.p = p + pos;
		l.len = end - pos;
		l.no++;
		pos = nl ? end + 1 : n;
		if (l.len && l.p[l.len - 1] == '\r')
			l.len--;
		if (l.len > TRAINER_CSV_MAX_LINE) {
			e = aios_fail(AIOS_ERR_TOO_BIG, "%s:%lld: line longer than %u bytes", name,
			              (long long)l.no, TRAINER_CSV_MAX_LINE);
			break;
		}
		size_t k = 0;
		while (k < l.len && isspace((unsigned char)l.p[k]))
			k++;
		if (k == l.len)
			continue; /* blank line */
		int over;
		int nf = split_fields(&l, f, fl, TRAINER_DATA_MAX_COLS, &over);
		if (over) {
			e = aios_fail(AIOS_ERR_TOO_BIG, "%s:%lld: more than %d columns", name,
			              (long long)l.no, TRAINER_DATA_MAX_COLS);
			break;
		}
		if (ncols < 0) { /* the first line decides the shape */
			ncols = nf;
			if (ncols < 2) {
				e = aios_fail(AIOS_ERR_INVALID,
				              "%s:%lld: %d column; need features and a label", name,
				              (long long)l.no, ncols);
				break;
			}
			int is_header =
			    o->header == 1 || (o->header < 0 && !all_numbers(f, fl, nf));
			if (is_header) {
				names = aios_xcalloc((size_t)nf, sizeof(*names));
				n_names = nf;
				for (int i = 0; i < nf; i++) {
					const char *s = f[i];
					size_t len = fl[i];
					if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
						s++, len -= 2;
					names[i] = aios_xstrndup(s, len);
				}
			}
			if (o->label_name) {
				for (int i = 0; i < n_names && label < 0; i++)
					if (!strcmp(names[i], o->label_name))
						label = i;
				if (label < 0) {
					e = aios_fail(
					    AIOS_ERR_INVALID, "%s: no column named \"%s\"%s", name,
					    o->label_name,
					    names ? "" : " (the file has no header line)");
					break;
				}
			} else {
				label =
				    o->label_index < 0 ? ncols + o->label_index : o->label_index;
				if (label < 0 || label >= ncols) {
					e = aios_fail(
					    AIOS_ERR_INVALID,
					    "%s: label column %d is outside the %d columns", name,
					    o->label_index, ncols);
					break;
				}
			}
			out->cols = ncols - 1;
			out->tcols = 1;
			if (is_header)
				continue;
		}
		if (nf != ncols) {
			e = aios_fail(AIOS_ERR_INVALID, "%s:%lld: %d columns, expected %d", name,
			              (long long)l.no, nf, ncols);
			break;
		}
		if (out->rows >= (int64_t)TRAINER_DATA_MAX_ROWS) {
			e = aios_fail(AIOS_ERR_TOO_BIG, "%s: more than %u rows", name,
			              TRAINER_DATA_MAX_ROWS);
			break;
		}
		reserve(out, &cap, out->rows + 1);
		float *x = out->x + (size_t)out->rows * out->cols;
		for (int i = 0, c = 0; i < nf; i++) {
			float v;
			const char *why = parse_float(f[i], fl[i], &v);
			if (!why && i == label)
				why = label_problem(v, r);
			if (why) {
				int shown = (int)(fl[i] < 40 ? fl[i] : 40);
				e = aios_fail(
				    AIOS_ERR_INVALID, "%s:%lld: column %d%s%s%s: \"%.*s\": %s",
				    name, (long long)l.no, i + 1, names ? " (" : "",
				    names ? names[i] : "", names ? ")" : "", shown, f[i], why);
				break;
			}
			if (i == label)
				out->t[out->rows] = v;
			else
				x[c++] = v;
		}
		out->rows++;
	}
	for (int i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	free(f);
	free(fl);
	if (!e && out->rows == 0)
		e = aios_fail(AIOS_ERR_INVALID, "%s: no data rows", name);
	if (e)
		trainer_dataset_cleanup(out);
	return e;
}

/* ---------------------------------------------------------------- f32 */

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

enum aios_err trainer_parse_f32(const void *p, size_t n, const char *name,
                                const struct trainer_label_rule *r, struct trainer_dataset *out)
{
	const uint8_t *b = p;
	memset(out, 0, sizeof(*out));
	if (n < TRAINER_F32_HEADER || memcmp(b, TRAINER_F32_MAGIC, 8))
		return aios_fail(AIOS_ERR_INVALID, "%s: not an f32 dataset (no AIOSF32 header)",
		                 name);
	uint32_t version = le32(b + 8), feats = le32(b + 12), labels = le32(b + 16);
	uint64_t rows;
	memcpy(&rows, b + 24, 8);
	if (version != 1)
		return aios_fail(AIOS_ERR_INVALID, "%s: f32 version %u, expected 1", name, version);
	if (feats < 1 || feats > TRAINER_DATA_MAX_COLS)
		return aios_fail(AIOS_ERR_INVALID, "%s: %u feature columns, expected 1..%d", name,
		                 feats, TRAINER_DATA_MAX_COLS);
	if ((int)labels != r->tcols)
		return aios_fail(AIOS_ERR_INVALID, "%s: %u label columns, the model needs %d", name,
		                 labels, r->tcols);
	if (rows == 0)
		return aios_fail(AIOS_ERR_INVALID, "%s: no data rows", name);
	if (rows > TRAINER_DATA_MAX_ROWS)
		return aios_fail(AIOS_ERR_TOO_BIG, "%s: %llu rows, limit %u", name,
		                 (unsigned long long)rows, TRAINER_DATA_MAX_ROWS);
	size_t width = (size_t)feats + labels;
	if ((n - TRAINER_F32_HEADER) / 4 / width != rows || (n - TRAINER_F32_HEADER) % (4 * width))
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s: %zu bytes, but %llu rows of %zu floats need %llu", name, n,
		                 (unsigned long long)rows, width,
		                 (unsigned long long)(TRAINER_F32_HEADER + rows * width * 4));
	out->rows = (int64_t)rows;
	out->cols = (int)feats;
	out->tcols = (int)labels;
	out->x = big_alloc((size_t)rows * feats * sizeof(float));
	out->t = big_alloc((size_t)rows * labels * sizeof(float));
	const uint8_t *d = b + TRAINER_F32_HEADER;
	for (uint64_t i = 0; i < rows; i++) {
		const uint8_t *row = d + i * width * 4;
		memcpy(out->x + i * feats, row, (size_t)feats * 4);
		memcpy(out->t + i * labels, row + (size_t)feats * 4, (size_t)labels * 4);
		for (size_t c = 0; c < width; c++) {
			float v =
			    c < feats ? out->x[i * feats + c] : out->t[i * labels + c - feats];
			const char *why = !isfinite(v) ? "not a finite number"
			                  : c >= feats ? label_problem(v, r)
			                               : NULL;
			if (why) {
				enum aios_err e =
				    aios_fail(AIOS_ERR_INVALID, "%s: row %llu, column %zu: %s",
				              name, (unsigned long long)i + 1, c + 1, why);
				trainer_dataset_cleanup(out);
				return e;
			}
		}
	}
	return AIOS_OK;
}

enum aios_err trainer_write_f32(const char *path, const struct trainer_dataset *d)
{
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return aios_fail(AIOS_ERR_IO, "%s: %s", path, strerror(errno));
	uint8_t h[TRAINER_F32_HEADER] = {0};
	uint32_t v[4] = {1, (uint32_t)d->cols, (uint32_t)d->tcols, 0};
	uint64_t rows = (uint64_t)d->rows;
	memcpy(h, TRAINER_F32_MAGIC, 8);
	memcpy(h + 8, v, sizeof(v));
	memcpy(h + 24, &rows, 8);
	int ok = fwrite(h, 1, sizeof(h), fp) == sizeof(h);
	for (int64_t i = 0; ok && i < d->rows; i++)
		ok = fwrite(d->x + i * d->cols, 4, (size_t)d->cols, fp) == (size_t)d->cols &&
		     fwrite(d->t + i * d->tcols, 4, (size_t)d->tcols, fp) == (size_t)d->tcols;
	if (fclose(fp) || !ok)
		return aios_fail(AIOS_ERR_IO, "%s: write failed", path);
	return AIOS_OK;
}

/* ---------------------------------------------------------------- inline */

static enum aios_err number_at(struct json_object *a, size_t i, const char *path, size_t row,
                               float *out)
{
	struct json_object *v = json_object_array_get_idx(a, i);
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return aios_fail(AIOS_ERR_INVALID, "%s[%zu][%zu]: expected a number", path, row, i);
	double d = json_object_get_double(v);
	if (!isfinite(d) || fabs(d) > 3.4e38)
		return aios_fail(AIOS_ERR_INVALID, "%s[%zu][%zu]: not a finite float", path, row,
		                 i);
	*out = (float)d;
	return AIOS_OK;
}

enum aios_err trainer_parse_inline(struct json_object *o, const char *path,
                                   const struct trainer_label_rule *r, struct trainer_dataset *out)
{
	memset(out, 0, sizeof(*out));
	struct json_object *feats = NULL, *labels = NULL;
	if (!json_object_object_get_ex(o, "features", &feats) ||
	    !json_object_is_type(feats, json_type_array))
		return aios_fail(AIOS_ERR_INVALID, "%s.features: expected an array of rows", path);
	if (!json_object_object_get_ex(o, "labels", &labels) ||
	    !json_object_is_type(labels, json_type_array))
		return aios_fail(AIOS_ERR_INVALID, "%s.labels: expected an array", path);
	size_t rows = json_object_array_length(feats);
	if (rows == 0)
		return aios_fail(AIOS_ERR_INVALID, "%s.features: no data rows", path);
	if (json_object_array_length(labels) != rows)
		return aios_fail(AIOS_ERR_INVALID, "%s: %zu feature rows but %zu labels", path,
		                 rows, json_object_array_length(labels));
	struct json_object *first = json_object_array_get_idx(feats, 0);
	size_t cols =
	    json_object_is_type(first, json_type_array) ? json_object_array_length(first) : 0;
	if (cols < 1 || cols > TRAINER_DATA_MAX_COLS)
		return aios_fail(AIOS_ERR_INVALID,
		                 "%s.features[0]: expected an array of 1..%d numbers", path,
		                 TRAINER_DATA_MAX_COLS);
	out->rows = (int64_t)rows;
	out->cols = (int)cols;
	out->tcols = r->tcols;
	out->x = aios_xmalloc(rows * cols * sizeof(float));
	out->t = aios_xmalloc(rows * (size_t)r->tcols * sizeof(float));
	char fp[256], lp[256];
	snprintf(fp, sizeof(fp), "%s.features", path);
	snprintf(lp, sizeof(lp), "%s.labels", path);
	enum aios_err e = AIOS_OK;
	for (size_t i = 0; i < rows && !e; i++) {
		struct json_object *row = json_object_array_get_idx(feats, i);
		if (!json_object_is_type(row, json_type_array) ||
		    json_object_array_length(row) != cols) {
			e = aios_fail(AIOS_ERR_INVALID, "%s[%zu]: expected %zu numbers", fp, i,
			              cols);
			break;
		}
		for (size_t c = 0; c < cols && !e; c++)
			e = number_at(row, c, fp, i, out->x + i * cols + c);
		struct json_object *lab = json_object_array_get_idx(labels, i);
		float *t = out->t + i * (size_t)r->tcols;
		if (json_object_is_type(lab, json_type_array)) {
			if ((int)json_object_array_length(lab) != r->tcols) {
				e = aios_fail(AIOS_ERR_INVALID, "%s[%zu]: expected %d values", lp,
				              i, r->tcols);
				break;
			}
			for (int c = 0; c < r->tcols && !e; c++)
				e = number_at(lab, (size_t)c, lp, i, t + c);
		} else if (r->tcols == 1 && (json_object_is_type(lab, json_type_double) ||
		                             json_object_is_type(lab, json_type_int))) {
			double d = json_object_get_double(lab);
			if (!isfinite(d) || fabs(d) > 3.4e38)
				e = aios_fail(AIOS_ERR_INVALID, "%s[%zu]: not a finite float", lp,
				              i);
			t[0] = (float)d;
		} else {
			e = aios_fail(AIOS_ERR_INVALID, "%s[%zu]: expected %s", lp, i,
			              r->tcols == 1 ? "a number" : "an array of numbers");
		}
		for (int c = 0; c < r->tcols && !e; c++) {
			const char *why = label_problem(t[c], r);
			if (why)
				e = aios_fail(AIOS_ERR_INVALID, "%s[%zu]: %g: %s", lp, i, t[c],
				              why);
		}
	}
	if (e)
		trainer_dataset_cleanup(out);
	return e;
}

/* ---------------------------------------------------------------- load */

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

enum aios_err trainer_load(const char *uri, const struct trainer_data_opts *o,
                           const struct trainer_label_rule *r, struct trainer_dataset *out)
{
	memset(out, 0, sizeof(*out));
	struct aios_buf b;
	aios_buf_init(&b, AIOS_CAP_DATASET);
	enum aios_err e = trainer_fetch(uri, &b);
	const char *data = b.data ? b.data : "";
	if (!e && o->sha256) {
		uint8_t d[AIOS_SHA256_LEN];
		char hex[AIOS_SHA256_HEX];
		aios_sha256(data, b.len, d);
		aios_sha256_hex(d, hex);
		if (strcasecmp(hex, o->sha256))
			e = aios_fail(AIOS_ERR_DIGEST, "%s: SHA-256 is %s, but the spec says %s",
			              uri, hex, o->sha256);
	}
	if (!e) {
		enum trainer_format fmt = o->format;
		if (fmt == TRAINER_FMT_AUTO)
			fmt = (b.len >= 8 && !memcmp(data, TRAINER_F32_MAGIC, 8)) ||
			              ends_with(uri, ".f32")
			          ? TRAINER_FMT_F32
			          : TRAINER_FMT_CSV;
		if (fmt == TRAINER_FMT_F32)
			e = trainer_parse_f32(data, b.len, uri, r, out);
		else
			e = trainer_parse_csv(data, b.len, uri, o, r, out);
	}
	aios_buf_cleanup(&b);
	return e;
}

/* ---------------------------------------------------------------- split, normalize */

void trainer_split(struct trainer_dataset *d, double fraction, uint64_t seed,
                   struct trainer_dataset *val)
{
	memset(val, 0, sizeof(*val));
	val->cols = d->cols;
	val->tcols = d->tcols;
	int64_t nv = fraction > 0 ? (int64_t)floor((double)d->rows * fraction) : 0;
	if (nv <= 0)
		return;
	uint32_t *idx = aios_xmalloc((size_t)d->rows * sizeof(*idx));
	for (int64_t i = 0; i < d->rows; i++)
		idx[i] = (uint32_t)i;
	struct trainer_rng rng;
	trainer_rng_seed(&rng, seed ^ 0x76a11d5e1175ull);
	trainer_rng_shuffle(&rng, idx, (uint64_t)d->rows);
	struct trainer_dataset tr = {.rows = d->rows - nv, .cols = d->cols, .tcols = d->tcols};
	val->rows = nv;
	for (int pass = 0; pass < 2; pass++) {
		struct trainer_dataset *dst = pass ? val : &tr;
		int64_t off = pass ? tr.rows : 0;
		dst->x =
		    aios_xmalloc((size_t)(dst->rows ? dst->rows : 1) * d->cols * sizeof(float));
		dst->t =
		    aios_xmalloc((size_t)(dst->rows ? dst->rows : 1) * d->tcols * sizeof(float));
		for (int64_t i = 0; i < dst->rows; i++) {
			memcpy(dst->x + i * d->cols, d->x + (size_t)idx[off + i] * d->cols,
			       (size_t)d->cols * sizeof(float));
			memcpy(dst->t + i * d->tcols, d->t + (size_t)idx[off + i] * d->tcols,
			       (size_t)d->tcols * sizeof(float));
		}
	}
	free(idx);
	trainer_dataset_cleanup(d);
	*d = tr;
}

void trainer_norm_stats(const struct trainer_dataset *d, float *mean, float *std)
{
	for (int c = 0; c < d->cols; c++) {
		double s = 0, ss = 0;
		for (int64_t i = 0; i < d->rows; i++)
			s += d->x[i * d->cols + c];
		double m = d->rows ? s / (double)d->rows : 0;
		for (int64_t i = 0; i < d->rows; i++) {
			double v = d->x[i * d->cols + c] - m;
			ss += v * v;
		}
		double sd = d->rows ? sqrt(ss / (double)d->rows) : 0;
		mean[c] = (float)m;
		std[c] = sd > 1e-12 ? (float)sd : 1.0f;
	}
}

void trainer_normalize(struct trainer_dataset *d, const float *mean, const float *std)
{
	for (int64_t i = 0; i < d->rows; i++)
		for (int c = 0; c < d->cols; c++)
			d->x[i * d->cols + c] = (d->x[i * d->cols + c] - mean[c]) / std[c];
}
