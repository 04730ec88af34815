/*
 * volumes.c - pod volumes as host directories (see volumes.h).
 */
#include "node/volumes.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/mem.h"

/* ------------------------------------------------------------------ helpers */

enum aios_err aios_volumes_mkdir_p(const char *path)
{
	char *p = aios_xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			enum aios_err e =
			    aios_fail(AIOS_ERR_IO, "mkdir %s: %s", p, strerror(errno));
			free(p);
			return e;
		}
		*s = '/';
	}
	enum aios_err e = AIOS_OK;
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		e = aios_fail(AIOS_ERR_IO, "mkdir %s: %s", p, strerror(errno));
	free(p);
	return e;
}

enum aios_err aios_volumes_b64_decode(const char *in, char **out, size_t *n)
{
	size_t len = strlen(in);
	while (len && (in[len - 1] == '\n' || in[len - 1] == '\r'))
		len--;
	/* EVP_DecodeBlock wants padded input */
	size_t padded = (len + 3) / 4 * 4;
	char *tmp = aios_xmalloc(padded + 1);
	memcpy(tmp, in, len);
	memset(tmp + len, '=', padded - len);
	tmp[padded] = '\0';
	char *buf = aios_xmalloc(padded / 4 * 3 + 1);
	int r =
	    padded ? EVP_DecodeBlock((unsigned char *)buf, (unsigned char *)tmp, (int)padded) : 0;
	if (r < 0) {
		free(tmp);
		free(buf);
		return aios_fail(AIOS_ERR_INVALID, "value is not valid base64");
	}
	size_t pad = 0;
	for (size_t i = padded; i > 0 && tmp[i - 1] == '=' && pad < 2; i--)
		pad++;
	free(tmp);
	*n = (size_t)r - pad;
	buf[*n] = '\0';
	*out = buf;
	return AIOS_OK;
}

static enum aios_err write_file(const char *path, const char *data, size_t n, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return aios_fail(AIOS_ERR_IO, "write %s: %s", path, strerror(errno));
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			close(fd);
			return aios_fail(AIOS_ERR_IO, "write %s: %s", path, strerror(errno));
		}
		off += (size_t)w;
	}
	fchmod(fd, (mode_t)mode);
	close(fd);
	return AIOS_OK;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

enum aios_err aios_volumes_remove_tree(const char *root, const char *path)
{
	size_t rl = strlen(root);
	if (root[0] != '/' || rl < 2 || strncmp(path, root, rl) != 0 || path[rl] != '/' ||
	    strstr(path, "/.."))
		return aios_fail(AIOS_ERR_INVALID, "refusing to remove %s: not under %s", path,
		                 root);
	struct stat st;
	if (lstat(path, &st) != 0)
		return AIOS_OK;
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		return aios_fail(AIOS_ERR_IO, "remove %s: %s", path, strerror(errno));
	return AIOS_OK;
}

/* ------------------------------------------------------------------ lookups */

static struct json_object *map_get(struct json_object *o, const char *field, const char *key)
{
	struct json_object *m = NULL, *v = NULL;
	if (!json_object_object_get_ex(o, field, &m) || !json_object_is_type(m, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(m, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return v;
}

/* Decoded value of key: data (base64 for Secrets), stringData-free; binaryData for ConfigMaps. */
static enum aios_err decoded(struct json_object *obj, int is_secret, const char *key, char **out,
                             size_t *n)
{
	struct json_object *v = map_get(obj, "data", key);
	if (v && !is_secret) {
		*n = (size_t)json_object_get_string_len(v);
		*out = aios_xstrndup(json_object_get_string(v), *n);
		return AIOS_OK;
	}
	if (!v && !is_secret)
		v = map_get(obj, "binaryData", key);
	if (!v)
		return AIOS_ERR_NOT_FOUND;
	return aios_volumes_b64_decode(json_object_get_string(v), out, n);
}

enum aios_err aios_volumes_lookup(void *arg, int is_secret, const char *ns, const char *name,
                                  const char *key, char **out)
{
	struct aios_kube_client *kc = arg;
	struct aios_kube_ref r =
	    aios_kube_ref(is_secret ? &aios_kube_secrets : &aios_kube_configmaps, ns, name);
	struct json_object *obj;
	enum aios_err err = aios_kube_get(kc, &r, &obj);
	if (err)
		return err;
	size_t n;
	err = decoded(obj, is_secret, key, out, &n);
	json_object_put(obj);
	return err;
}

/* ------------------------------------------------------------------ prepare */

static enum aios_err write_projected(struct aios_kube_client *kc, const struct aios_podspec *p,
                                     const struct aios_podspec_volume *v, const char *dir)
{
	int is_secret = v->kind == AIOS_VOL_SECRET;
	struct aios_kube_ref r =
	    aios_kube_ref(is_secret ? &aios_kube_secrets : &aios_kube_configmaps, p->ns, v->source);
	struct json_object *obj;
	enum aios_err err = aios_kube_get(kc, &r, &obj);
	if (err == AIOS_ERR_NOT_FOUND && v->optional)
		return AIOS_OK;
	if (err)
		return aios_fail_wrap(err, "volume %s: %s %s", v->name,
		                      is_secret ? "secret" : "configmap", v->source);
	if (v->n_items > 0) {
		for (size_t i = 0; i < v->n_items && !err; i++) {
			char *data;
			size_t n;
			err = decoded(obj, is_secret, v->items[i].key, &data, &n);
			if (err == AIOS_ERR_NOT_FOUND) {
				err = aios_fail(AIOS_ERR_NOT_FOUND, "volume %s: key %s not in %s",
				                v->name, v->items[i].key, v->source);
				break;
			}
			if (err)
				break;
			char *path = aios_xasprintf("%s/%s", dir, v->items[i].path);
			char *slash = strrchr(path, '/');
			*slash = '\0';
			err = aios_volumes_mkdir_p(path);
			*slash = '/';
			if (!err)
				err = n > AIOS_VOLUMES_MAX_FILE
				          ? aios_fail(AIOS_ERR_TOO_BIG,
				                      "volume %s: key %s is over %u bytes", v->name,
				                      v->items[i].key, AIOS_VOLUMES_MAX_FILE)
				          : write_file(path, data, n, v->default_mode);
			free(path);
			free(data);
		}
	} else {
		const char *fields[] = {"data", is_secret ? NULL : "binaryData"};
		for (size_t f = 0; f < 2 && !err; f++) {
			struct json_object *m;
			if (!fields[f] || !json_object_object_get_ex(obj, fields[f], &m) ||
			    !json_object_is_type(m, json_type_object))
				continue;
			json_object_object_foreach(m, key, val)
			{
				(void)val;
				if (strchr(key, '/') || strcmp(key, "..") == 0 ||
				    strcmp(key, ".") == 0)
					continue;
				char *data;
				size_t n;
				if ((err = decoded(obj, is_secret, key, &data, &n)))
					break;
				char *path = aios_xasprintf("%s/%s", dir, key);
				err = write_file(path, data, n, v->default_mode);
				free(path);
				free(data);
				if (err)
					break;
			}
		}
	}
	json_object_put(obj);
	return err;
}

/* Host directory behind a claim: its bound PV's hostPath.path or local.path. */
static enum aios_err claim_dir(struct aios_kube_client *kc, const char *ns, const char *claim,
                               char **out)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pvcs, ns, claim);
	struct json_object *pvc, *pv;
	enum aios_err err = aios_kube_get(kc, &r, &pvc);
	if (err)
		return aios_fail_wrap(err == AIOS_ERR_NOT_FOUND ? AIOS_ERR_UNAVAILABLE : err,
		                      "persistentvolumeclaim %s/%s", ns, claim);
	const char *phase = aios_json_str(pvc, "status.phase"),
	           *vol = aios_json_str(pvc, "spec.volumeName");
	if (!phase || strcmp(phase, "Bound") != 0 || !vol || !*vol) {
		json_object_put(pvc);
		return aios_fail(AIOS_ERR_UNAVAILABLE,
		                 "persistentvolumeclaim %s/%s is not bound yet", ns, claim);
	}
	r = aios_kube_ref(&aios_kube_pvs, NULL, vol);
	err = aios_kube_get(kc, &r, &pv);
	json_object_put(pvc);
	if (err)
		return aios_fail_wrap(err, "persistentvolume %s of claim %s/%s", vol, ns, claim);
	const char *path = aios_json_str(pv, "spec.hostPath.path");
	if (!path)
		path = aios_json_str(pv, "spec.local.path");
	if (!path || path[0] != '/') {
		err = aios_fail(AIOS_ERR_UNSUPPORTED,
		                "persistentvolume %s is neither hostPath nor local: "
		                "aios-node cannot mount it",
		                vol);
	} else {
		*out = aios_xstrdup(path);
		err = aios_volumes_mkdir_p(path);
	}
	json_object_put(pv);
	return err;
}

enum aios_err aios_volumes_prepare(struct aios_kube_client *kc, const struct aios_podspec *p,
                                   const char *pod_dir, char ***dirs)
{
	char **d = aios_xcalloc(p->n_volumes + 1, sizeof *d);
	enum aios_err err = AIOS_OK;
	for (size_t i = 0; i < p->n_volumes && !err; i++) {
		const struct aios_podspec_volume *v = &p->volumes[i];
		switch (v->kind) {
		case AIOS_VOL_EMPTY_DIR:
		case AIOS_VOL_CONFIG_MAP:
		case AIOS_VOL_SECRET:
			d[i] = aios_xasprintf("%s/volumes/%s", pod_dir, v->name);
			err = aios_volumes_mkdir_p(d[i]);
			if (!err && v->kind != AIOS_VOL_EMPTY_DIR)
				err = write_projected(kc, p, v, d[i]);
			break;
		case AIOS_VOL_PVC: err = claim_dir(kc, p->ns, v->source, &d[i]); break;
		case AIOS_VOL_HOST_PATH:
			d[i] = aios_xstrdup(v->source);
			err = aios_volumes_mkdir_p(d[i]);
			break;
		}
	}
	if (err) {
		for (size_t i = 0; i < p->n_volumes; i++)
			free(d[i]);
		free(d);
		return err;
	}
	*dirs = d;
	return AIOS_OK;
}

enum aios_err aios_volumes_mounts(const struct aios_podspec *p,
                                  const struct aios_podspec_container *c, char *const *dirs,
                                  struct aios_runner_mount **out)
{
	struct aios_runner_mount *m = aios_xcalloc(c->n_mounts + 1, sizeof *m);
	for (size_t i = 0; i < c->n_mounts; i++) {
		size_t k = 0;
		while (k < p->n_volumes && strcmp(p->volumes[k].name, c->mounts[i].volume) != 0)
			k++;
		if (k == p->n_volumes) { /* podspec checked this; an invariant */
			aios_volumes_mounts_free(m, i);
			return aios_fail(AIOS_ERR_INTERNAL, "mount of unknown volume %s",
			                 c->mounts[i].volume);
		}
		char *src = c->mounts[i].sub_path
		                ? aios_xasprintf("%s/%s", dirs[k], c->mounts[i].sub_path)
		                : aios_xstrdup(dirs[k]);
		if (c->mounts[i].sub_path) {
			enum aios_err err = aios_volumes_mkdir_p(src);
			if (err) {
				free(src);
				aios_volumes_mounts_free(m, i);
				return err;
			}
		}
		m[i].src = src;
		m[i].dst = aios_xstrdup(c->mounts[i].path);
		m[i].read_only = c->mounts[i].read_only;
	}
	*out = m;
	return AIOS_OK;
}

void aios_volumes_mounts_free(struct aios_runner_mount *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++) {
		free((char *)m[i].src);
		free((char *)m[i].dst);
	}
	free(m);
}
