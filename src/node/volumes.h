/*
 * volumes.h - a pod's volumes as host directories, and the mounts of a container.
 *
 *   emptyDir               <pod dir>/volumes/<name>, removed with the pod
 *   persistentVolumeClaim  the bound PersistentVolume's hostPath.path or local.path
 *                          (aios-node's provisioner puts them under
 *                          <state>/pv/<namespace>/<claim>-<uid>); an unbound claim is
 *                          "not ready yet" (AIOS_ERR_UNAVAILABLE), retried
 *   configMap, secret      files written once, when the pod starts, into
 *                          <pod dir>/volumes/<name> (every key, or the listed items;
 *                          Secret values base64-decoded), mode from defaultMode; a
 *                          Secret's directory is a tmpfs (never on disk), 0700, its
 *                          files 0600 (aios_volumes_write_projected)
 *   hostPath               the path itself
 *
 * Ownership: an emptyDir, a writable claim's directory and projected files belong to
 * the pod's runAsUser and its fsGroup (else runAsGroup), mode 0770 for directories,
 * so that containers running as that user (65532 by default) can write them.
 *
 * Also the lookups behind env valueFrom configMapKeyRef/secretKeyRef.
 */
#ifndef AIOS_NODE_VOLUMES_H
#define AIOS_NODE_VOLUMES_H

#include <sys/types.h>

#include "common/err.h"
#include "kube/client.h"
#include "node/podspec.h"
#include "node/runner.h"

#define AIOS_VOLUMES_MAX_FILE (1u << 20) /* bytes of one configMap/secret key written */
/* bytes of the tmpfs behind one Secret volume: a Secret object is at most 1 MiB in the
 * API (etcd's request limit), base64 makes the decoded content smaller still */
#define AIOS_VOLUMES_SECRET_BYTES (2u << 20)

/* Decodes base64 (RFC 4648, padding optional) into a heap buffer of *n bytes (+NUL). */
enum aios_err aios_volumes_b64_decode(const char *in, char **out, size_t *n) AIOS_MUST_CHECK;

/*
 * Writes the keys of obj (a ConfigMap or Secret) into dir as volume v of pod p says:
 * every key or v's items. Files and the directories made for them belong to the
 * pod's user and group (volumes.h, top). A Secret's files are 0600 (0640 when the pod
 * has an fsGroup) or defaultMode without its bits for others, in a directory of mode
 * 0700 (0750); a ConfigMap's keep defaultMode (0644).
 */
enum aios_err aios_volumes_write_projected(struct json_object *obj, const struct aios_podspec *p,
                                           const struct aios_podspec_volume *v,
                                           const char *dir) AIOS_MUST_CHECK;

/*
 * Makes every volume of p exist as a host directory; *dirs gets one heap path per
 * volume (same order as p->volumes; caller frees each and the array).
 */
enum aios_err aios_volumes_prepare(struct aios_kube_client *kc, const struct aios_podspec *p,
                                   const char *pod_dir, char ***dirs) AIOS_MUST_CHECK;

/*
 * The mounts of container c given the volume dirs: sources are dirs[i] or
 * dirs[i]/subPath (created, owned by the pod's user), the latter opened beneath the
 * volume (aios_volumes_open_beneath: a subPath through a symbolic link is refused
 * with AIOS_ERR_INVALID) and handed to the runner as src_fd. *out is a heap array of
 * n_mounts entries whose strings and descriptors it owns (aios_volumes_mounts_free).
 */
enum aios_err aios_volumes_mounts(const struct aios_podspec *p,
                                  const struct aios_podspec_container *c, char *const *dirs,
                                  struct aios_runner_mount **out) AIOS_MUST_CHECK;
void aios_volumes_mounts_free(struct aios_runner_mount *m, size_t n);

/*
 * Opens rel (a relative path) beneath the directory dirfd without following any
 * symbolic link and without "..": each component is opened O_NOFOLLOW, so a link
 * anywhere on the way (a volume's "data -> /etc") is refused with ELOOP (or ENOTDIR)
 * instead of leading out of the volume. With mkdirs, missing components are made
 * (0755, then chowned to uid:gid unless uid is (uid_t)-1); with last_file the last
 * one is made as an empty file instead. Returns an O_PATH close-on-exec descriptor
 * of the last component, or -1 with errno set. Makes only system calls (no
 * allocation): the runner's child calls it between fork and exec.
 */
int aios_volumes_open_beneath(int dirfd, const char *rel, int mkdirs, int last_file, uid_t uid,
                              gid_t gid);

/* An aios_podspec_lookup_fn on a struct aios_kube_client * (arg). */
enum aios_err aios_volumes_lookup(void *arg, int is_secret, const char *ns, const char *name,
                                  const char *key, char **out);

/* rm -rf path, refusing anything that is not under root (both absolute). */
enum aios_err aios_volumes_remove_tree(const char *root, const char *path) AIOS_MUST_CHECK;

/* Writes n bytes of data to path (created or truncated, never through a symbolic link)
 * with mode. Messages name the path. */
enum aios_err aios_volumes_write_file(const char *path, const char *data, size_t n,
                                      int mode) AIOS_MUST_CHECK;

/* mkdir -p path with mode 0755. */
enum aios_err aios_volumes_mkdir_p(const char *path) AIOS_MUST_CHECK;

#endif
