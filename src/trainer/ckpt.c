/*
 * ckpt.c - checkpoint files (see ckpt.h).
 */
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "model/model.h"

#define PREFIX     16
#define ALIGN      64
#define MAX_HEADER 65536

static size_t align_up(size_t n)
{
	return (n + ALIGN - 1) / ALIGN * ALIGN;
}

static char *ckpt_path(const char *dir, int64_t epoch)
{
	return aios_xasprintf("%s/ckpt-%08lld.aiosckpt", dir, (long long)epoch);
}

/* Epoch number of a checkpoint file name, or -1. */
static int64_t name_epoch(const char *name)
{
	long long e;
	int n = 0;
	if (sscanf(name, "ckpt-%lld.aiosckpt%n", &e, &n) == 1 && name[n] == '\0' && e >= 0)
		return e;
	return -1;
}

static int cmp_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Epochs of the checkpoint files in dir, newest first (caller frees); -1 count if no dir. */
static int64_t *list_epochs(const char *dir, int *count)
{
	*count = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	int64_t *v = NULL;
	int cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		int64_t e = name_epoch(de->d_name);
		if (e < 0)
			continue;
		if (*count == cap) {
			cap = cap ? cap * 2 : 16;
			v = aios_xrealloc(v, (size_t)cap * sizeof(*v));
		}
		v[(*count)++] = e;
	}
	closedir(d);
	if (*count)
		qsort(v, (size_t)*count, sizeof(*v), cmp_desc);
	return v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

enum aios_err trainer_ckpt_write(const char *dir, const struct trainer_ckpt *c)
{
	struct json_object *h = json_object_new_object();
	json_object_object_add(h, "epoch", json_object_new_int64(c->epoch));
	json_object_object_add(h, "step", json_object_new_int64(c->step));
	json_object_object_add(h, "position", json_object_new_int64(c->position));
	struct json_object *rng = json_object_new_array();
	for (int i = 0; i < 4; i++) {
		char hex[17];
		snprintf(hex, sizeof(hex), "%016" PRIx64, c->rng[i]);
		json_object_array_add(rng, json_object_new_string(hex));
	}
	json_object_object_add(h, "rng", rng);
	json_object_object_add(h, "threads", json_object_new_int(c->threads));
	json_object_object_add(h, "loss", json_object_new_double(isfinite(c->loss) ? c->loss : -1));
	json_object_object_add(h, "val_loss",
	                       isfinite(c->val_loss) ? json_object_new_double(c->val_loss) : NULL);
	json_object_object_add(h, "fingerprint", json_object_new_string(c->fingerprint));
	json_object_object_add(h, "n_params", json_object_new_int64((int64_t)c->n_params));
	const char *js = json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN);
	size_t hl = strlen(js), start = align_up(PREFIX + hl), fl = c->n_params * 4;
	size_t total = start + 3 * fl + AIOS_SHA256_LEN;
	uint8_t *b = aios_xcalloc(total, 1);
	memcpy(b, TRAINER_CKPT_MAGIC, 8);
	put_u32(b + 8, 1);
	put_u32(b + 12, (uint32_t)hl);
	memcpy(b + PREFIX, js, hl);
	json_object_put(h);
	memcpy(b + start, c->params, fl);
	memcpy(b + start + fl, c->m1, fl);
	memcpy(b + start + 2 * fl, c->m2, fl);
	aios_sha256(b, total - AIOS_SHA256_LEN, b + total - AIOS_SHA256_LEN);
	char *path = ckpt_path(dir, c->epoch);
	enum aios_err e = aios_model_atomic_write(path, b, total);
	free(b);
	free(path);
	if (e)
		return e;
	int n;
	int64_t *epochs = list_epochs(dir, &n);
	for (int i = TRAINER_CKPT_KEEP; i < n; i++) {
		char *old = ckpt_path(dir, epochs[i]);
		if (unlink(old) && errno != ENOENT)
			aios_warn("checkpoint_prune", "cannot remove %s: %s", old, strerror(errno));
		free(old);
	}
	free(epochs);
	return AIOS_OK;
}

enum aios_err trainer_ckpt_read(const char *path, size_t n_params, struct trainer_ckpt *out)
{
	memset(out, 0, sizeof(*out));
	struct aios_buf buf;
	aios_buf_init(&buf, 3 * n_params * 4 + MAX_HEADER + 4096);
	enum aios_err e = aios_buf_read_file(&buf, path);
	if (e) {
		aios_buf_cleanup(&buf);
		return e;
	}
	const uint8_t *b = (const uint8_t *)buf.data;
	size_t n = buf.len, fl = n_params * 4;
	uint32_t version = 0, hl = 0;
	struct json_object *h = NULL;
	if (n < PREFIX + AIOS_SHA256_LEN || memcmp(b, TRAINER_CKPT_MAGIC, 8)) {
		e = aios_fail(AIOS_ERR_CORRUPT, "%s: not a checkpoint", path);
		goto out;
	}
	memcpy(&version, b + 8, 4);
	memcpy(&hl, b + 12, 4);
	if (version != 1 || hl == 0 || hl > MAX_HEADER ||
	    align_up(PREFIX + hl) + 3 * fl + AIOS_SHA256_LEN != n) {
		e = aios_fail(AIOS_ERR_CORRUPT,
		              "%s: version %u, header %u bytes, size %zu do not fit "
		              "%zu parameters",
		              path, version, hl, n, n_params);
		goto out;
	}
	uint8_t d[AIOS_SHA256_LEN];
	aios_sha256(b, n - AIOS_SHA256_LEN, d);
	if (memcmp(d, b + n - AIOS_SHA256_LEN, AIOS_SHA256_LEN)) {
		e = aios_fail(AIOS_ERR_DIGEST, "%s: SHA-256 mismatch (incomplete or damaged)",
		              path);
		goto out;
	}
	if ((e = aios_json_parse((const char *)b + PREFIX, hl, path, &h)))
		goto out;
	int64_t ep, st, pos, np, th;
	const char *fp;
	struct json_object *rng;
	if (aios_json_get_int(h, "epoch", &ep) || aios_json_get_int(h, "step", &st) ||
	    aios_json_get_int(h, "position", &pos) || aios_json_get_int(h, "n_params", &np) ||
	    aios_json_get_int(h, "threads", &th) || aios_json_get_string(h, "fingerprint", &fp) ||
	    aios_json_get_array(h, "rng", &rng) || json_object_array_length(rng) != 4 ||
	    np != (int64_t)n_params || strlen(fp) != AIOS_SHA256_HEX - 1) {
		e = aios_fail(AIOS_ERR_CORRUPT, "%s: bad checkpoint header", path);
		goto out;
	}
	for (int i = 0; i < 4; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(rng, (size_t)i));
		char *end;
		out->rng[i] = strtoull(s ? s : "", &end, 16);
		if (!s || !*s || *end) {
			e = aios_fail(AIOS_ERR_CORRUPT, "%s: bad rng state", path);
			goto out;
		}
	}
	double loss = -1, val = NAN;
	if (aios_json_opt_double(h, "loss", -1, &loss) ||
	    aios_json_opt_double(h, "val_loss", NAN, &val)) {
		e = aios_fail(AIOS_ERR_CORRUPT, "%s: bad losses", path);
		goto out;
	}
	out->epoch = ep;
	out->step = st;
	out->position = pos;
	out->threads = (int)th;
	out->loss = loss;
	out->val_loss = val;
	memcpy(out->fingerprint, fp, AIOS_SHA256_HEX);
	out->n_params = n_params;
	out->params = aios_xmalloc(3 * (fl ? fl : 1));
	out->m1 = out->params + n_params;
	out->m2 = out->params + 2 * n_params;
	memcpy(out->params, b + align_up(PREFIX + hl), 3 * fl);
out:
	json_object_put(h);
	aios_buf_cleanup(&buf);
	return e;
}

enum aios_err trainer_ckpt_latest(const char *dir, const char *fingerprint, size_t n_params,
                                  struct trainer_ckpt *out, int *found)
{
	*found = 0;
	memset(out, 0, sizeof(*out));
	int n;
	int64_t *epochs = list_epochs(dir, &n);
	for (int i = 0; i < n && !*found; i++) {
		char *path = ckpt_path(dir, epochs[i]);
		struct trainer_ckpt c;
		enum aios_err e = trainer_ckpt_read(path, n_params, &c);
		if (e) {
			aios_warn("checkpoint_skip", "skipping %s: %s", path, aios_errmsg());
		} else if (strcmp(c.fingerprint, fingerprint)) {
			aios_warn("checkpoint_skip",
			          "skipping %s: written for another spec or dataset", path);
			trainer_ckpt_cleanup(&c);
		} else {
			*out = c;
			*found = 1;
		}
		free(path);
	}
	free(epochs);
	return AIOS_OK;
}

void trainer_ckpt_cleanup(struct trainer_ckpt *c)
{
	free(c->params);
	memset(c, 0, sizeof(*c));
}
