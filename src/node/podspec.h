/*
 * podspec.h - a Pod object (JSON) translated into what aios-node runs: per
 * container a binary, an argv, an environment, a working directory and mounts;
 * per pod the volumes, the restart policy and the grace period.
 *
 * The translation is pure: everything the pod does not say itself (its IP, the
 * node's IP, where binaries live, the content of ConfigMaps and Secrets referenced
 * by env) comes in through struct aios_podspec_ctx, so tests drive it with tables.
 *
 * Images map to aios programs through a fixed table (aios_podspec_image_program,
 * documented in docs/node.md): an image aios-node cannot run is not an error of
 * the translation; the container carries image_reason/image_message and the pod
 * status reports it (ErrImagePull/ImageNotSupported) as a kubelet would.
 */
#ifndef AIOS_NODE_PODSPEC_H
#define AIOS_NODE_PODSPEC_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AIOS_PODSPEC_MAX_CONTAINERS 16  /* containers per pod accepted */
#define AIOS_PODSPEC_MAX_VOLUMES    32  /* volumes per pod accepted */
#define AIOS_PODSPEC_MAX_ENV        256 /* env entries per container accepted */
/* bytes of one expanded env value or argument: Linux's MAX_ARG_STRLEN, the longest
 * string execve takes */
#define AIOS_PODSPEC_MAX_EXPANDED (128u << 10)

/* the user and group of the aios images (USER 65532:65532 in their Dockerfiles): what a
 * container runs as when neither it nor its pod names a runAsUser/runAsGroup */
#define AIOS_PODSPEC_DEFAULT_ID 65532

enum aios_podspec_restart { AIOS_RESTART_ALWAYS, AIOS_RESTART_ON_FAILURE, AIOS_RESTART_NEVER };

enum aios_podspec_vol_kind {
	AIOS_VOL_EMPTY_DIR,
	AIOS_VOL_PVC,
	AIOS_VOL_CONFIG_MAP,
	AIOS_VOL_SECRET,
	AIOS_VOL_HOST_PATH,
};

struct aios_podspec_item { /* configMap/secret items: key -> relative path */
	char *key;
	char *path;
};

struct aios_podspec_volume {
	char *name;
	enum aios_podspec_vol_kind kind;
	char *source;     /* claim, configMap or secret name, or host path; NULL for emptyDir */
	int read_only;    /* persistentVolumeClaim.readOnly */
	int optional;     /* configMap/secret optional */
	int default_mode; /* file mode for configMap/secret files (0644 default) */
	struct aios_podspec_item *items;
	size_t n_items;
};

struct aios_podspec_mount {
	char *volume;   /* name of a volume of the pod */
	char *path;     /* mountPath, absolute */
	char *sub_path; /* NULL or relative path inside the volume */
	int read_only;
};

enum aios_podspec_probe_kind { AIOS_PROBE_NONE, AIOS_PROBE_HTTP, AIOS_PROBE_TCP, AIOS_PROBE_EXEC };

struct aios_podspec_probe {
	enum aios_podspec_probe_kind kind;
	char *path; /* httpGet.path, "/" by default */
	int port;   /* resolved number (named ports looked up in the container's ports) */
	int https;  /* scheme HTTPS (probed without verifying, as the kubelet does) */
	int initial_delay_s, period_s, timeout_s, success_threshold, failure_threshold;
};

struct aios_podspec_container {
	char *name;
	char *image;
	char *program;      /* aios program the image maps to ("aios-trainer"), or NULL */
	char *image_reason; /* NULL, or the waiting reason when the image cannot run */
	char *image_message;
	char **argv; /* NULL-terminated; argv[0] is the program or the command */
	size_t argc;
	char **env; /* NULL-terminated "KEY=VALUE" */
	size_t envc;
	char *working_dir; /* NULL: the pod's own directory */
	struct aios_podspec_mount *mounts;
	size_t n_mounts;
	struct aios_podspec_probe readiness, liveness, startup;
	char *termination_message_path; /* "/dev/termination-log" by default */
	int fallback_to_logs;           /* terminationMessagePolicy FallbackToLogsOnError */
	/* securityContext, the container's over the pod's (defaults: the images' user) */
	int64_t run_as_user, run_as_group; /* AIOS_PODSPEC_DEFAULT_ID when neither sets it */
	int read_only_root;                /* readOnlyRootFilesystem */
	/* resources.limits: 0 means none */
	int64_t memory_limit; /* bytes */
	int64_t cpu_limit;    /* millicores */
	/* NULL, or why the env or argv could not be built (CreateContainerConfigError) */
	char *env_error;
};

struct aios_podspec {
	char *ns, *name, *uid, *node_name, *service_account;
	enum aios_podspec_restart restart;
	int64_t grace_s; /* terminationGracePeriodSeconds, 30 by default */
	int host_network;
	/* the pod's securityContext: owner of its volumes (runAsUser, and fsGroup or
	 * runAsGroup for the group), and every container's supplementary group */
	int64_t run_as_user, run_as_group; /* AIOS_PODSPEC_DEFAULT_ID by default */
	int64_t fs_group;                  /* -1: none */
	struct aios_podspec_volume *volumes;
	size_t n_volumes;
	struct aios_podspec_container *containers;
	size_t n_containers;
};

/*
 * Looks up key in the ConfigMap (is_secret 0) or Secret (is_secret 1) ns/name.
 * Returns AIOS_OK with *out a heap string the caller frees (Secret values already
 * base64-decoded), AIOS_ERR_NOT_FOUND when the object or key is missing, another
 * code on failure to ask.
 */
typedef enum aios_err (*aios_podspec_lookup_fn)(void *arg, int is_secret, const char *ns,
                                                const char *name, const char *key, char **out);

struct aios_podspec_ctx {
	const char *pod_ip;            /* status.podIP for the downward API; "" if not yet known */
	const char *host_ip;           /* status.hostIP */
	const char *bin_dir;           /* where aios binaries live (the build dir by default) */
	aios_podspec_lookup_fn lookup; /* may be NULL: configMapKeyRef/secretKeyRef then fail */
	void *lookup_arg;
	/* Where pods reach the API server (the `kubernetes` Service): every container gets
	 * KUBERNETES_SERVICE_HOST/PORT(_HTTPS) and the KUBERNETES_PORT* links before its own
	 * env (which may override them). NULL or port 0: none. */
	const char *api_host;
	int api_port;
};

/*
 * Translates a Pod. Fails with AIOS_ERR_INVALID (message names the field) when the
 * pod is malformed or uses something aios-node refuses (too many containers...).
 * Problems local to one container (image, env) are recorded on that container.
 * The caller owns *out (aios_podspec_free).
 */
enum aios_err aios_podspec_build(struct json_object *pod, const struct aios_podspec_ctx *ctx,
                                 struct aios_podspec **out) AIOS_MUST_CHECK;
void aios_podspec_free(struct aios_podspec *p);

/* The aios program an image runs ("aios-trainer"), or NULL if none (static string). */
const char *aios_podspec_image_program(const char *image);

/*
 * Finds program under bin_dir: bin_dir/NAME, then bin_dir/src/<dir>/NAME (the
 * CMake build tree). Returns a heap path or NULL if no executable file is found.
 */
char *aios_podspec_find_binary(const char *bin_dir, const char *program);

/*
 * Kubernetes $(VAR) expansion of s against env ("KEY=VALUE" array of n): $(VAR)
 * becomes its value when VAR is defined, stays as written otherwise; $$ becomes $.
 * One pass, as the kubelet's: values put in are not expanded again. *out is a heap
 * string; AIOS_ERR_TOO_BIG (and *out NULL) when the result would be over
 * AIOS_PODSPEC_MAX_EXPANDED bytes: a chain of variables each naming the one before
 * twice doubles at every step, and the container then waits with
 * CreateContainerConfigError instead of the agent running out of memory.
 */
enum aios_err aios_podspec_expand(const char *s, char *const *env, size_t n,
                                  char **out) AIOS_MUST_CHECK;

/*
 * A resource quantity ("512Mi", "1G", "250m", "2", "0.5") times mult, rounded up:
 * mult 1 gives bytes for memory, 1000 gives millicores for cpu. AIOS_ERR_INVALID
 * for anything else (exponents are not accepted) or a value past 2^53.
 */
enum aios_err aios_podspec_quantity(const char *s, int64_t mult, int64_t *out) AIOS_MUST_CHECK;

/* Looks a variable up in a "KEY=VALUE" array; NULL if absent. */
const char *aios_podspec_getenv(char *const *env, size_t n, const char *key);

#endif
