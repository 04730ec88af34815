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
#include <sys/mount.h>
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

/* The owner of a pod's volumes: its runAsUser, and its fsGroup or else its runAsGroup. */
static uid_t vol_uid(const struct aios_podspec *p)
{
	return (uid_t)p->run_as_user;
}

static gid_t vol_gid(const struct aios_podspec *p)
{
	return (gid_t)(p->fs_group >= 0 ? p->fs_group : p->run_as_group);
}

/* Gives dir to the pod's user and group with mode (an emptyDir, a claim's directory). */
static enum aios_err give_dir(const struct aios_podspec *p, const char *dir, mode_t mode)
{
	if (chown(dir, vol_uid(p), vol_gid(p)) != 0 || chmod(dir, mode) != 0)
		return aios_fail(AIOS_ERR_IO, "volume directory %s for uid %u gid %u: %s", dir,
		                 (unsigned)vol_uid(p), (unsigned)vol_gid(p), strerror(errno));
	return AIOS_OK;
}

enum aios_err aios_volumes_write_file(const char *path, const char *data, size_t n, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
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
	enum aios_err err = AIOS_OK;
	if (fchmod(fd, (mode_t)mode) != 0)
		err = aios_fail(AIOS_ERR_IO, "chmod %s: %s", path, strerror(errno));
	close(fd);
	return err;
}

/* aios_volumes_write_file, then the file and the directories made for it (up to dir)
 * to the pod. */
static enum aios_err write_owned(const struct aios_podspec *p, const char *dir, const char *path,
                                 const char *data, size_t n, int mode)
{
	enum aios_err err = aios_volumes_write_file(path, data, n, mode);
	if (err)
		return err;
	size_t dl = strlen(dir);
	char *q = aios_xstrdup(path);
	for (char *slash = q + strlen(q); slash && slash > q + dl; slash = strrchr(q, '/')) {
		if (chown(q, vol_uid(p), vol_gid(p)) != 0) {
			err = aios_fail(AIOS_ERR_IO, "chown %s: %s", q, strerror(errno));
			break;
		}
		*slash = '\0';
	}
	free(q);
	return err;
}

/* Detaches every mount of this namespace at or under path (a Secret's tmpfs), deepest
 * first, so that the removal that follows deletes directories, not mounted content. */
static enum aios_err unmount_under(const char *path)
{
	struct aios_buf b;
	aios_buf_init(&b, 16u << 20);
	enum aios_err err = aios_buf_read_file(&b, "/proc/self/mountinfo");
	if (err) {
		aios_buf_cleanup(&b);
		return err;
	}
	size_t pl = strlen(path);
	/* lines: id parent major:minor root mountpoint ...; mountpoint octal-escaped */
	for (int pass = 0; pass < 64; pass++) {
		char best[4096] = "";
		for (char *line = b.data; line && *line;) {
			char *nl = strchr(line, '\n');
			char mp[4096];
			size_t k = 0;
			const char *f = line;
			for (int field = 0; field < 4 && f; field++) {
				f = strchr(f, ' ');
				if (f)
					f++;
			}
			for (; f && *f && *f != ' ' && *f != '\n' && k + 1 < sizeof mp; f++) {
				if (f[0] == '\\' && f[1] >= '0' && f[1] <= '3' && f[2] && f[3]) {
					mp[k++] = (char)((f[1] - '0') * 64 + (f[2] - '0') * 8 +
					                 (f[3] - '0'));
					f += 3;
				} else {
					mp[k++] = *f;
				}
			}
			mp[k] = '\0';
			if (strncmp(mp, path, pl) == 0 && (mp[pl] == '\0' || mp[pl] == '/') &&
			    strlen(mp) > strlen(best))
				snprintf(best, sizeof best, "%s", mp);
			line = nl ? nl + 1 : NULL;
		}
		if (!best[0])
			break;
		if (umount2(best, MNT_DETACH) != 0) {
			err = aios_fail(AIOS_ERR_IO, "unmount %s: %s", best, strerror(errno));
			break;
		}
		aios_buf_reset(&b);
		if ((err = aios_buf_read_file(&b, "/proc/self/mountinfo")))
			break;
	}
	aios_buf_cleanup(&b);
	return err;
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
	enum aios_err err = unmount_under(path);
	if (err)
		return err;
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

/* The mode of a projected file: a Secret's never readable by others (0600, or 0640
 * when the pod has an fsGroup, unless defaultMode says otherwise within 0770). */
static int file_mode(const struct aios_podspec *p, const struct aios_podspec_volume *v)
{
	if (v->kind != AIOS_VOL_SECRET)
		return v->default_mode;
	if (v->default_mode >= 0)
		return v->default_mode & 0770;
	return p->fs_group >= 0 ? 0640 : 0600;
}

enum aios_err aios_volumes_write_projected(struct json_object *obj, const struct aios_podspec *p,
                                           const struct aios_podspec_volume *v, const char *dir)
{
	int is_secret = v->kind == AIOS_VOL_SECRET;
	int mode = file_mode(p, v);
	enum aios_err err = AIOS_OK;
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
				          : write_owned(p, dir, path, data, n, mode);
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
				err = write_owned(p, dir, path, data, n, mode);
				free(path);
				free(data);
				if (err)
					break;
			}
		}
	}
	if (!err && is_secret)
		err = give_dir(p, dir, p->fs_group >= 0 ? 0750 : 0700);
	return err;
}

/* A Secret's directory is a tmpfs of its own, so its values never reach a disk. */
static enum aios_err secret_tmpfs(const struct aios_podspec *p, const char *dir)
{
	struct stat st, parent;
	char *up = aios_xasprintf("%s/..", dir);
	int mounted = stat(dir, &st) == 0 && stat(up, &parent) == 0 && st.st_dev != parent.st_dev;
	free(up);
	if (mounted) /* a restarted container of the same pod: written already */
		return AIOS_OK;
	char opts[96];
	snprintf(opts, sizeof opts, "size=%u,mode=0700,uid=%u,gid=%u", AIOS_VOLUMES_SECRET_BYTES,
	         (unsigned)vol_uid(p), (unsigned)vol_gid(p));
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0)
		return aios_fail(AIOS_ERR_IO, "tmpfs for a secret volume at %s: %s", dir,
		                 strerror(errno));
	return AIOS_OK;
}

static enum aios_err write_projected(struct aios_kube_client *kc, const struct aios_podspec *p,
                                     const struct aios_podspec_volume *v, const char *dir)
{
	int is_secret = v->kind == AIOS_VOL_SECRET;
	enum aios_err err = is_secret ? secret_tmpfs(p, dir) : AIOS_OK;
	if (err)
		return err;
	struct aios_kube_ref r =
	    aios_kube_ref(is_secret ? &aios_kube_secrets : &aios_kube_configmaps, p->ns, v->source);
	struct json_object *obj;
	err = aios_kube_get(kc, &r, &obj);
	if (err == AIOS_ERR_NOT_FOUND && v->optional)
		return AIOS_OK;
	if (err)
		return aios_fail_wrap(err, "volume %s: %s %s", v->name,
		                      is_secret ? "secret" : "configmap", v->source);
	err = aios_volumes_write_projected(obj, p, v, dir);
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
			if (!err && v->kind == AIOS_VOL_EMPTY_DIR)
				err = give_dir(p, d[i], 0770);
			else if (!err)
				err = write_projected(kc, p, v, d[i]);
			break;
		case AIOS_VOL_PVC:
			err = claim_dir(kc, p->ns, v->source, &d[i]);
			if (!err && !v->read_only)
				err = give_dir(p, d[i], 0770);
			break;
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

int aios_volumes_open_beneath(int dirfd, const char *rel, int mkdirs, int last_file, uid_t uid,
                              gid_t gid)
{
	int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -1;
	for (const char *p = rel; *p;) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if (n == 0)
			break;
		char comp[256];
		if (n >= sizeof comp || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			close(cur);
			errno = n >= sizeof comp ? ENAMETOOLONG : EINVAL;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		while (*p == '/')
			p++;
		int last = *p == '\0';
		int made = 0;
		if (mkdirs && last && last_file) {
			int fd = openat(cur, comp,
			                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (fd >= 0) {
				close(fd);
				made = 1;
			}
		} else if (mkdirs) {
			made = mkdirat(cur, comp, 0755) == 0;
		}
		if (made && uid != (uid_t)-1 &&
		    fchownat(cur, comp, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
			int e = errno;
			close(cur);
			errno = e;
			return -1;
		}
		int next =
		    openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC | (last ? 0 : O_DIRECTORY));
		int e = errno;
		struct stat st;
		if (next >= 0 && fstat(next, &st) == 0 && S_ISLNK(st.st_mode)) {
			close(next);
			next = -1;
			e = ELOOP;
		}
		close(cur);
		if (next < 0) {
			errno = e;
			return -1;
		}
		cur = next;
	}
	return cur;
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
		const char *sub = c->mounts[i].sub_path;
		m[i].src_fd = -1;
		m[i].src = sub ? aios_xasprintf("%s/%s", dirs[k], sub) : aios_xstrdup(dirs[k]);
		m[i].dst = aios_xstrdup(c->mounts[i].path);
		m[i].read_only = c->mounts[i].read_only;
		if (sub) {
			int root = open(dirs[k], O_PATH | O_DIRECTORY | O_CLOEXEC);
			int fd = root < 0 ? -1
			                  : aios_volumes_open_beneath(root, sub, 1, 0, vol_uid(p),
			                                              vol_gid(p));
			int e = errno;
			if (root >= 0)
				close(root);
			if (fd < 0) {
				enum aios_err err = aios_fail(
				    e == ELOOP || e == ENOTDIR || e == EINVAL ? AIOS_ERR_INVALID
				                                              : AIOS_ERR_IO,
				    "volume %s: subPath %s: %s%s", c->mounts[i].volume, sub,
				    strerror(e),
				    e == ELOOP || e == ENOTDIR
				        ? " (a subPath may not pass through a symbolic link)"
				        : "");
				aios_volumes_mounts_free(m, i + 1);
				return err;
			}
			m[i].src_fd = fd;
		}
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
		if (m[i].src_fd >= 0)
			close(m[i].src_fd);
	}
	free(m);
}
