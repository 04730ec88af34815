/*
 * trainingjob.h - the TrainingJob controller's pure parts: the gang of a job, the pod
 * of one rank, and the state machine that turns (job, its pods, now) into a plan.
 *
 * Nothing here does I/O: trainingjob_controller.c reads the cache, calls
 * aios_tj_plan(), and carries the plan out (create pods, delete pods, write status,
 * record events, requeue). The state machine is written down in docs/operator.md.
 *
 * Naming: a run of a job is one spec generation; an attempt is one try of the whole
 * gang inside a run (a failing rank restarts every rank as attempt + 1). Pod names are
 * "<job>-g<generation>a<attempt>-<role><rank>" (role w, ps, s), unique per attempt so
 * that a new attempt never waits for the old pods to go, and deterministic so that an
 * operator restart finds what it created (AlreadyExists is success).
 */
#ifndef AIOS_OPERATOR_TRAININGJOB_H
#define AIOS_OPERATOR_TRAININGJOB_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "kube/conditions.h"

#define AIOS_TJ_DEFAULT_IMAGE   "aios/trainer:0.1.0"
#define AIOS_TJ_CONTAINER       "trainer"
#define AIOS_TJ_METRICS_PORT    9090  /* the trainer's /metrics */
#define AIOS_TJ_RENDEZVOUS_PORT 29500 /* rank 0 listens here; others connect */
#define AIOS_TJ_NAME_MAX        63    /* pod names double as hostnames: one DNS label */
#define AIOS_TJ_MESSAGE_MAX     1024  /* bytes of a condition or event message we write */
#define AIOS_TJ_PVC_ROOT        "/mnt/pvc"
#define AIOS_TJ_SPEC_DIR        "/etc/aios/spec"
/* A spec whose JSON is larger than this goes to a ConfigMap (AIOS_SPEC_FILE) instead of
 * the AIOS_SPEC variable: the kernel caps one environment string at 128 KiB. */
#define AIOS_TJ_SPEC_ENV_MAX (32u << 10)
/* A ConfigMap holds at most 1 MiB; a larger spec fails the job (reason SpecTooLarge). */
#define AIOS_TJ_SPEC_FILE_MAX ((1u << 20) - 4096)
/* How often a running job's progress is scraped from rank 0 (ms). */
#define AIOS_TJ_PROGRESS_PERIOD_MS 5000

/* Labels on every pod of a job. */
#define AIOS_TJ_LABEL_JOB        "aios.dev/job"
#define AIOS_TJ_LABEL_ROLE       "aios.dev/role"
#define AIOS_TJ_LABEL_RANK       "aios.dev/rank"
#define AIOS_TJ_LABEL_ATTEMPT    "aios.dev/attempt"
#define AIOS_TJ_LABEL_GENERATION "aios.dev/generation"
#define AIOS_TJ_LABEL_TRIAL      "aios.dev/trial" /* a search trial's pods: its index */

enum aios_tj_strategy { AIOS_TJ_ALLREDUCE, AIOS_TJ_PARAMETER_SERVER, AIOS_TJ_PIPELINE };
enum aios_tj_role { AIOS_TJ_WORKER, AIOS_TJ_PS, AIOS_TJ_STAGE };
enum aios_tj_clean { AIOS_TJ_CLEAN_RUNNING, AIOS_TJ_CLEAN_ALL, AIOS_TJ_CLEAN_NONE };

/* The parts of spec the controller acts on, with DESIGN.md's defaults applied. */
struct aios_tj_spec {
	enum aios_tj_strategy strategy;
	int workers;              /* distributed.workers (>= 1) */
	int ps;                   /* distributed.parameterServers, parameter-server only */
	int world;                /* every rank: workers + ps */
	int64_t backoff_limit;    /* runPolicy.backoffLimit, default 3: failed attempts tolerated */
	int64_t deadline_s;       /* runPolicy.activeDeadlineSeconds, 0 = none */
	int64_t ttl_s;            /* runPolicy.ttlSecondsAfterFinished, -1 = keep */
	enum aios_tj_clean clean; /* runPolicy.cleanPodPolicy, default Running */
	int suspend;              /* runPolicy.suspend */
};

#define AIOS_TJ_MAX_WORLD 1024 /* ranks in one job; the CRD's maximum is lower */

/* Reads job.spec; AIOS_ERR_INVALID names the field at fault. */
enum aios_err aios_tj_spec_parse(struct json_object *job, struct aios_tj_spec *out) AIOS_MUST_CHECK;

/* Role of a rank: workers (or stages) hold ranks 0..workers-1, parameter servers after. */
enum aios_tj_role aios_tj_rank_role(const struct aios_tj_spec *s, int rank);
/* "worker", "ps", "stage". */
const char *aios_tj_role_name(enum aios_tj_role r);

/* The pod name of a rank (see the header comment); at most AIOS_TJ_NAME_MAX bytes.
 * Caller frees. */
char *aios_tj_pod_name(const char *job, enum aios_tj_role role, int rank, int64_t generation,
                       int attempt);

/* Name of the ConfigMap holding a large spec of this generation. Caller frees. */
char *aios_tj_spec_configmap_name(const char *job, int64_t generation);

/*
 * A unit: one gang of ranks the job policy runs. A plain job is one unit named after the
 * job; a search runs one unit per trial, named "<job>-t<i>", training the trial's spec.
 * Every child of a unit belongs to the job itself (label aios.dev/job and the owner
 * reference name the job; a trial's also carry aios.dev/trial).
 */
struct aios_tj_unit {
	struct json_object *job;       /* the TrainingJob: owner, namespace, uid (borrowed) */
	const char *name;              /* base of the unit's pod names (borrowed) */
	struct json_object *spec;      /* the spec its ranks train (borrowed) */
	const struct aios_tj_spec *rs; /* spec's run policy and gang (borrowed) */
	int64_t generation;            /* the job's metadata.generation */
	long trial;                    /* index of the trial, -1 for a plain job */
	const char *output_uri;        /* spec.output.uri or NULL (borrowed) */
	size_t spec_json_len;          /* bytes of spec as plain JSON */
	const char *event_prefix;      /* put before its events' messages: "" or "trial t3: " */
};

/* The unit of a plain job (spec_json_len and output_uri left 0/NULL); AIOS_ERR_INVALID
 * when metadata.name is missing. */
enum aios_err aios_tj_unit_of_job(struct json_object *job, const struct aios_tj_spec *s,
                                  struct aios_tj_unit *out) AIOS_MUST_CHECK;

/* aios_tj_render_pod and aios_tj_render_spec_configmap for any unit. */
enum aios_err aios_tj_unit_render_pod(const struct aios_tj_unit *u, int rank, int attempt,
                                      const char *coordinator, int spec_in_configmap,
                                      struct json_object **out) AIOS_MUST_CHECK;
enum aios_err aios_tj_unit_render_configmap(const struct aios_tj_unit *u,
                                            struct json_object **out) AIOS_MUST_CHECK;

/*
 * Renders the pod of one rank for attempt `attempt` (0-based) of the run of the job's
 * current generation. coordinator is "host:port" of rank 0 (rank 0 itself gets
 * "0.0.0.0:<port>", the address it listens on). spec_in_configmap: mount the spec
 * ConfigMap instead of putting it in AIOS_SPEC. *out is a new object (caller puts).
 */
enum aios_err aios_tj_render_pod(struct json_object *job, const struct aios_tj_spec *s, int rank,
                                 int attempt, const char *coordinator, int spec_in_configmap,
                                 struct json_object **out) AIOS_MUST_CHECK;

/*
 * The per-attempt secret of a distributed run (world > 1): the ranks authenticate each
 * other with it (src/trainer/dist_auth.h). One Secret per generation and attempt, owned
 * by the job, created by the controller from getrandom(2) before the attempt's pods,
 * mounted read-only into those pods only (AIOS_TJ_SECRET_DIR, AIOS_SECRET_FILE). Each
 * attempt has its own, so a leftover rank of an old attempt cannot join a new one.
 */
#define AIOS_TJ_SECRET_DIR    "/var/run/aios/dist"
#define AIOS_TJ_SECRET_KEY    "secret"
#define AIOS_TJ_SECRET_VOLUME "aios-dist-secret"
/* Name of that Secret. Caller frees. */
char *aios_tj_secret_name(const char *job, int64_t generation, int attempt);
/* Renders it with secret (text) under AIOS_TJ_SECRET_KEY, for generation and attempt. */
enum aios_err aios_tj_render_secret(struct json_object *job, int64_t generation, int attempt,
                                    const char *secret, struct json_object **out) AIOS_MUST_CHECK;
/* The same under the name a unit's pod mounts (a search trial's: "<job>-t<i>-dist-..."). */
enum aios_err aios_tj_render_secret_named(struct json_object *job, const char *name,
                                          const char *secret,
                                          struct json_object **out) AIOS_MUST_CHECK;

/* Renders the ConfigMap with the job's spec as spec.json. *out is new. */
enum aios_err aios_tj_render_spec_configmap(struct json_object *job,
                                            struct json_object **out) AIOS_MUST_CHECK;

/* ---- progress, scraped from rank 0's /metrics ---- */

struct aios_tj_progress {
	int have_epoch, have_epochs, have_loss, have_val_loss, have_sps, have_val_acc;
	double epoch, epochs, loss, val_loss, sps, val_acc;
};

/*
 * Reads the trainer's gauges from a Prometheus text page: aios_trainer_epoch,
 * aios_trainer_epochs, aios_trainer_loss, aios_trainer_validation_loss,
 * aios_trainer_samples_per_second, aios_trainer_validation_accuracy (classification). Missing ones leave have_* 0. AIOS_ERR_INVALID when
 * the page holds none of them.
 */
enum aios_err aios_tj_parse_metrics(const char *text, size_t len,
                                    struct aios_tj_progress *out) AIOS_MUST_CHECK;

/* ---- the job as C structs (trainingjob_view.c) ---- */

/* status.phase; NONE: absent (or a value this operator never writes). */
enum aios_tj_phase {
	AIOS_TJ_PHASE_NONE,
	AIOS_TJ_PHASE_PENDING,
	AIOS_TJ_PHASE_RUNNING,
	AIOS_TJ_PHASE_RESTARTING,
	AIOS_TJ_PHASE_SUCCEEDED,
	AIOS_TJ_PHASE_FAILED,
	AIOS_TJ_PHASE_SUSPENDED,
};
/* "Pending", ... ("" for NONE) and back (unknown text: NONE). */
const char *aios_tj_phase_name(enum aios_tj_phase p);
enum aios_tj_phase aios_tj_phase_parse(const char *s);

/* {uri, sha256, bytes} of a file the job wrote. */
struct aios_tj_file {
	char *uri;     /* owned; NULL: absent */
	char *sha256;  /* owned; NULL: absent */
	int64_t bytes; /* -1: absent */
};

/* status.artifact: the model file, the ONNX file beside it, the generation it is of. */
struct aios_tj_artifact {
	int present;
	struct aios_tj_file file;
	int has_onnx;
	struct aios_tj_file onnx;
	int has_generation;
	int64_t generation;
};

/* Fields of status.progress present (aios_tj_status_progress.have). */
#define AIOS_TJ_PR_EPOCH    (1u << 0)
#define AIOS_TJ_PR_EPOCHS   (1u << 1)
#define AIOS_TJ_PR_LOSS     (1u << 2)
#define AIOS_TJ_PR_VAL_LOSS (1u << 3)
#define AIOS_TJ_PR_ACCURACY (1u << 4)
#define AIOS_TJ_PR_SPS      (1u << 5)
#define AIOS_TJ_PR_PERCENT  (1u << 6)
#define AIOS_TJ_PR_ETA      (1u << 7)

/* status.progress as shown to the user. */
struct aios_tj_status_progress {
	int present; /* the object exists (it may be empty) */
	unsigned have;
	int64_t epoch, epochs, percent, eta_s; /* eta_s: seconds */
	double loss, val_loss, accuracy, sps;  /* sps: samples per second */
};

/*
 * A TrainingJob's status, read once from JSON and written once back. Every has_/present
 * flag keeps a field's absence, so that encode(decode(x)) equals x for any status this
 * operator wrote. Fields it does not plan on (a search's trials and best) stay as JSON in
 * rest and are written back unchanged. A known field of the wrong type reads as absent.
 */
struct aios_tj_status {
	enum aios_tj_phase phase;
	int has_observed;
	int64_t observed_generation;
	int has_attempts;
	int64_t attempts;                   /* attempts of the current run */
	time_t start_time, completion_time; /* Unix seconds; -1: absent */
	int has_workers;
	int active, succeeded, failed; /* status.workers */
	struct aios_tj_status_progress progress;
	struct aios_tj_artifact artifact;
	int had_conditions; /* status.conditions was present (written back even if empty) */
	struct aios_conditions conditions;
	struct json_object *rest; /* every other field (an object, owned) */
};

/* Reads status (NULL or not an object: an empty status). Never fails. */
void aios_tj_status_decode(struct json_object *status, struct aios_tj_status *out);
/* The status as JSON. New object (caller puts). */
struct json_object *aios_tj_status_encode(const struct aios_tj_status *s);
/* status.artifact from JSON (not an object: absent), and alone as JSON (new object). */
void aios_tj_artifact_decode(struct json_object *o, struct aios_tj_artifact *a);
struct json_object *aios_tj_artifact_encode(const struct aios_tj_artifact *a);
/* status.progress alone as JSON. New object. */
struct json_object *aios_tj_progress_encode(const struct aios_tj_status_progress *p);
void aios_tj_status_cleanup(struct aios_tj_status *s);
/* Frees what a holds and makes it absent. */
void aios_tj_artifact_clear(struct aios_tj_artifact *a);

/*
 * The job as the planner sees it: metadata and spec read once (spec parsed into
 * aios_tj_spec, or the reason it is invalid), status decoded once. job stays borrowed:
 * pods are rendered from its spec.
 */
struct aios_tj_view {
	struct json_object *job; /* borrowed, read only */
	const char *name;        /* metadata.name, borrowed from job */
	int64_t generation;      /* metadata.generation, 1 when unset */
	int deleting;            /* metadata.deletionTimestamp is set */
	int spec_ok;             /* spec parsed (spec valid), else spec_error says why */
	struct aios_tj_spec spec;
	char spec_error[AIOS_TJ_MESSAGE_MAX];
	int search;             /* spec.search is present */
	const char *output_uri; /* spec.output.uri or NULL, borrowed */
	size_t spec_json_len;   /* bytes of spec as plain JSON */
	struct aios_tj_status status;
};

/* Reads job. AIOS_ERR_INVALID when metadata.name is missing (v is then cleaned up). */
enum aios_err aios_tj_view_init(struct aios_tj_view *v, struct json_object *job) AIOS_MUST_CHECK;
void aios_tj_view_cleanup(struct aios_tj_view *v);

/* ---- the state machine ---- */

struct aios_tj_event {
	const char *type;   /* "Normal" or "Warning" */
	const char *reason; /* CamelCase, static */
	char *message;      /* owned */
};

struct aios_tj_plan {
	struct json_object *status;    /* the status the job should have (owned) */
	int status_changed;            /* differs from the job's current status */
	struct json_object *configmap; /* spec ConfigMap to create first, or NULL */
	struct json_object **create;   /* pods to create, in this order (owned) */
	size_t n_create;
	char **remove; /* names of pods to delete (owned) */
	size_t n_remove;
	struct aios_tj_event *events; /* transitions to record */
	size_t n_events;
	int delete_job;           /* ttlSecondsAfterFinished has passed */
	int64_t requeue_after_ms; /* > 0: reconcile again after this long */
	char *scrape_addr;        /* "ip:9090" of rank 0 while it runs, or NULL */
};

/*
 * Decides what to do with job given the pods it owns (any order), the wall clock now
 * (Unix seconds) and, optionally, progress just scraped from rank 0 (NULL: keep the
 * progress in status). Pure and deterministic. The job is read only.
 */
enum aios_err aios_tj_plan(struct json_object *job, struct json_object *const *pods, size_t n_pods,
                           time_t now, const struct aios_tj_progress *progress,
                           struct aios_tj_plan *out) AIOS_MUST_CHECK;
void aios_tj_plan_cleanup(struct aios_tj_plan *p);

/*
 * Plans one unit's gang: from its state (phase, attempts, startTime, conditions,
 * progress, artifact: the fields of a status a gang owns), the unit's pods (any order),
 * now and optionally progress scraped from rank 0, to pods to create and delete, events
 * and requeues appended to plan, and the new state in st. Attempts, restarts after a
 * failed rank, runPolicy.backoffLimit, the unit's own activeDeadlineSeconds, success and
 * the artifact. A unit that needs a spec ConfigMap while plan holds another's waits for
 * the next reconcile. Pure and deterministic. The job policy around it (a new run,
 * suspend, the end, cleanPodPolicy, TTL) is the caller's.
 */
void aios_tj_gang_plan(const struct aios_tj_unit *u, struct aios_tj_status *st,
                       struct json_object *const *pods, size_t n_pods, time_t now,
                       const struct aios_tj_progress *progress, struct aios_tj_plan *plan);

/* ---- building a plan (trainingjob_status.c; search_plan.c plans trials with them) ---- */

/* Appends an event (message formatted, cut at AIOS_TJ_MESSAGE_MAX); type and reason static. */
void aios_tj_plan_event(struct aios_tj_plan *p, const char *type, const char *reason,
                        const char *fmt, ...) AIOS_PRINTF(4, 5);
/* Adds a pod to delete (once per name). */
void aios_tj_plan_remove(struct aios_tj_plan *p, const char *name);
/* Asks to reconcile again within ms (at least 1; the earliest request wins). */
void aios_tj_plan_requeue(struct aios_tj_plan *p, int64_t ms);
/* The integer value of a pod's label, or dflt when it is missing or not an integer. */
int64_t aios_tj_label_int(struct json_object *pod, const char *label, int64_t dflt);
/* The termination message of a pod's trainer container (the trainer's final line ends
 * it: model/trainlog.h), or NULL. */
const char *aios_tj_termination_message(struct json_object *pod);
/* The pod's phase is Succeeded or Failed. */
int aios_tj_pod_finished(struct json_object *pod);

#endif
