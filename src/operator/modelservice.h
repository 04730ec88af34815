/*
 * modelservice.h - the ModelService controller's pure parts: which model to serve,
 * the inference pods and the Service that serve it, and the plan that turns (service,
 * its TrainingJob, its pods, the autoscaler's count, now) into actions and a status.
 *
 * Nothing here does I/O: modelservice_controller.c reads the cache, calls
 * aios_ms_plan(), and carries the plan out. docs/modelservice.md tells the story.
 *
 * The operator runs the pods itself (no Deployment): each pod carries the service's
 * name and a revision, a hash of what the pods run (model URI and digest, runtime,
 * template). Pods are named "<service>-<revision>-<index>", deterministic so that a
 * create repeated from a stale cache is AlreadyExists (success), not a second pod.
 * Rollouts are surge-first: the new revision gets its full count at once; a pod of
 * the old revision goes only when a new one is ready in its place, so capacity never
 * drops and a broken new model never takes the service down.
 *
 * A canary (spec.canary) runs as a revision of its own beside the stable one, with
 * ceil(desired * weight / 100) pods (at least one), judged by canary.h's analysis;
 * status.canary says its weight and revision to aios-gateway. Once promoted, the stable
 * model is the canary's: its revision becomes the current one, and the canary's pods
 * are the stable revision's pods from then on. Once rolled back, its pods go.
 */
#ifndef AIOS_OPERATOR_MODELSERVICE_H
#define AIOS_OPERATOR_MODELSERVICE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "common/hash.h"
#include "operator/autoscaler.h"
#include "operator/canary.h"

#define AIOS_MS_DEFAULT_IMAGE  "aios/serve:0.1.0"
#define AIOS_MS_CONTAINER      "serve"
#define AIOS_MS_PORT           8080 /* aios-serve's HTTP port (DESIGN.md) */
#define AIOS_MS_SERVICE_PORT   80   /* the ClusterIP Service's port */
#define AIOS_MS_PVC_ROOT       "/mnt/pvc"
#define AIOS_MS_LABEL_SERVICE  "aios.dev/service"
#define AIOS_MS_LABEL_REVISION "aios.dev/revision"
#define AIOS_MS_REVISION_LEN   10   /* hex digits of the revision hash */
#define AIOS_MS_NAME_MAX       63   /* pod names double as hostnames: one DNS label */
#define AIOS_MS_URI_MAX        2048 /* the CRD's maxLength of spec.model.uri */
#define AIOS_MS_MESSAGE_MAX    1024 /* bytes of a condition or event message we write */
#define AIOS_MS_MAX_PODS       4096 /* pods of one service considered by one plan */
/* aios-serve's exit code when the model cannot be loaded (src/serve/main.c). */
#define AIOS_MS_EXIT_MODEL 2
/* Seconds a drained pod gets between SIGTERM and SIGKILL. */
#define AIOS_MS_GRACE_S 30 /* > aios-serve's --grace-seconds (20) */

/* ---- the model ---- */

struct aios_ms_model {
	int have; /* 1: uri (and sha256 when known) name what to serve */
	char uri[AIOS_MS_URI_MAX + 1];
	char sha256[AIOS_SHA256_HEX]; /* "" when the spec gives no digest */
	const char *reason;           /* why not (or why an older model): CamelCase, or NULL */
	char message[AIOS_MS_MESSAGE_MAX];
};

/*
 * What ms should serve: spec.model.uri (+ sha256), or the status.artifact of the
 * TrainingJob tj named by spec.model.trainingJob once it has Succeeded (tj NULL: not
 * found). While the job has not succeeded (or is re-running, or failed) a service that
 * already served a model keeps serving status.model, with reason set to say so.
 */
void aios_ms_resolve_model(struct json_object *ms, struct json_object *tj,
                           struct aios_ms_model *out);

/* The revision of what the pods run: AIOS_MS_REVISION_LEN hex digits + NUL. */
void aios_ms_revision(struct json_object *ms, const struct aios_ms_model *model,
                      char out[AIOS_MS_REVISION_LEN + 1]);

/* "<service>-<revision>-<index>" within AIOS_MS_NAME_MAX (the service name is cut to
 * fit). Caller frees. */
char *aios_ms_pod_name(const char *service, const char *revision, int index);

/* "http://NAME.NAMESPACE.svc.cluster.local" (caller frees). */
char *aios_ms_url(struct json_object *ms);

/* ---- rendering ---- */

/* The inference pod `index` of revision rev serving model. *out is new (caller puts).
 * AIOS_ERR_INVALID names the field at fault (a bad pvc:// claim). */
enum aios_err aios_ms_render_pod(struct json_object *ms, const struct aios_ms_model *model,
                                 const char *rev, int index,
                                 struct json_object **out) AIOS_MUST_CHECK;

/* The ClusterIP Service: port 80 -> 8080, selector aios.dev/service=<name>. */
struct json_object *aios_ms_render_service(struct json_object *ms);

/* ---- pods, as the controller and the scraper see them ---- */

/* Ready (condition Ready=True), running, not being deleted. */
int aios_ms_pod_ready(struct json_object *pod);
/* metadata.deletionTimestamp is set. */
int aios_ms_pod_terminating(struct json_object *pod);
/* The value of label key of obj (keys hold dots, so not a json.h path), or NULL. */
const char *aios_ms_label(struct json_object *obj, const char *key);

/* ---- the plan ---- */

struct aios_ms_input {
	struct json_object *ms;          /* the ModelService (read only) */
	struct json_object *tj;          /* its TrainingJob, or NULL (none or not found) */
	struct json_object *const *pods; /* pods labelled aios.dev/service=<name>, any order */
	size_t n_pods;
	int have_service; /* the Service exists */
	int desired;      /* the autoscaler's count (clamped to min/max here) */
	const struct aios_autoscaler_decision *decision; /* latest, or NULL before any */
	int have_metrics;                                /* the three below are set */
	double concurrency, rps, latency_p99_ms;
	time_t last_scale;   /* when desired last changed (Unix s), 0 = keep */
	int64_t cold_starts; /* starts from zero so far (status.coldStarts) */
	time_t now;          /* wall clock, Unix s */
	/* spec.canary: its TrainingJob (or NULL), and what the canary's and the stable
	 * revision's pods did since status.canary.windowStart (NULL: nothing measured) */
	struct json_object *canary_tj;
	const struct aios_canary_metrics *canary_metrics;
};

struct aios_ms_event {
	const char *type;   /* "Normal" or "Warning" */
	const char *reason; /* CamelCase, static */
	char *message;      /* owned */
};

struct aios_ms_plan {
	struct json_object *status;  /* the status ms should have (owned) */
	int status_changed;          /* differs from ms's current status */
	struct json_object *service; /* Service to create, or NULL (owned) */
	struct json_object **create; /* pods to create, in order (owned) */
	size_t n_create;
	char **remove; /* names of pods to delete (owned) */
	size_t n_remove;
	struct aios_ms_event *events;
	size_t n_events;
	int ready;                /* ready pods (capacity for the autoscaler) */
	int64_t requeue_after_ms; /* > 0: reconcile again after this long */
};

/*
 * Decides what to do about in->ms. Pure and deterministic; the inputs are read only.
 * Fails only on a bug-level problem (no metadata.name); a bad spec becomes status
 * (phase Failed, Ready=False reason InvalidSpec) with nothing else done.
 */
enum aios_err aios_ms_plan(const struct aios_ms_input *in,
                           struct aios_ms_plan *out) AIOS_MUST_CHECK;
void aios_ms_plan_cleanup(struct aios_ms_plan *p);

/* ---- test hook (modelservice_controller.c) ---- */

/*
 * When set, the port whose /metrics the scraper reads on the pods of ms (instead of
 * AIOS_MS_PORT); a result outside 1..65535 keeps AIOS_MS_PORT. NULL in the shipped
 * operator, whose main.c never sets it, so nothing in an object can move a scrape. The
 * integration test that runs the manager in its own process and serves fake pods on
 * loopback sets it before the manager starts; it is read by the scraper thread only.
 */
extern int (*aios_ms_metrics_port_hook)(struct json_object *ms);

#endif
