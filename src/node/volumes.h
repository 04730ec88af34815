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
 *                          Secret values base64-decoded), mode from defaultMode
 *   hostPath               the path itself
 *
 * Also the lookups behind env valueFrom configMapKeyRef/secretKeyRef.
 */
#ifndef AIOS_NODE_VOLUMES_H
#define AIOS_NODE_VOLUMES_H

#include "common/err.h"
#include "kube/client.h"
#include "node/podspec.h"
#include "node/runner.h"

#define AIOS_VOLUMES_MAX_FILE (1u << 20) /* bytes of one configMap/secret key written */

/* Decodes base64 (RFC 4648, padding optional) into a heap buffer of *n bytes (+NUL). */
enum aios_err aios_volumes_b64_decode(const char *in, char **out, size_t *n) AIOS_MUST_CHECK;

/*
 * Makes every volume of p exist as a host directory; *dirs gets one heap path per
 * volume (same order as p->volumes; caller frees each and the array).
 */
enum aios_err aios_volumes_prepare(struct aios_kube_client *kc, const struct aios_podspec *p,
                                   const char *pod_dir, char ***dirs) AIOS_MUST_CHECK;

/*
 * The mounts of container c given the volume dirs: sources are dirs[i] or
 * dirs[i]/subPath (created). *out is a heap array of n_mounts entries whose
 * strings are heap copies (free with aios_volumes_mounts_free).
 */
enum aios_err aios_volumes_mounts(const struct aios_podspec *p,
                                  const struct aios_podspec_container *c, char *const *dirs,
                                  struct aios_runner_mount **out) AIOS_MUST_CHECK;
void aios_volumes_mounts_free(struct aios_runner_mount *m, size_t n);

/* An aios_podspec_lookup_fn on a struct aios_kube_client * (arg). */
enum aios_err aios_volumes_lookup(void *arg, int is_secret, const char *ns, const char *name,
                                  const char *key, char **out);

/* rm -rf path, refusing anything that is not under root (both absolute). */
enum aios_err aios_volumes_remove_tree(const char *root, const char *path) AIOS_MUST_CHECK;

/* mkdir -p path with mode 0755. */
enum aios_err aios_volumes_mkdir_p(const char *path) AIOS_MUST_CHECK;

#endif
