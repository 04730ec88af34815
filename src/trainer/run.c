/*
 * run.c - aios-trainer from flags to exit code (see run.h).
 *
 * Order: spec (file, $AIOS_SPEC_FILE or $AIOS_SPEC) patched by flags -> config ->
 * environment contract (AIOS_JOB, AIOS_RANK, AIOS_WORLD_SIZE, AIOS_ROLE,
 * AIOS_COORDINATOR, AIOS_ATTEMPT) -> data and model -> resume from the newest matching
 * checkpoint -> /metrics -> epochs (line, metrics, checkpoint) -> artifact -> final line.
 */
#include "run.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "model/trainlog.h"
#include "dist_trainer.h"
#include "metrics.h"
#include "pool.h"
#include "spec.h"
#include "train.h"

#define DEFAULT_OUTPUT       "model.aios"
#define DEFAULT_METRICS_PORT 9090

/* ---------------------------------------------------------------- helpers */

/* dst[k] = src[k] for every key, recursing where both sides are objects. */
static void merge(struct json_object *dst, struct json_object *src)
{
	json_object_object_foreach(src, k, v)
	{
		struct json_object *d;
		if (json_object_object_get_ex(dst, k, &d) &&
		    json_object_is_type(d, json_type_object) &&
		    json_object_is_type(v, json_type_object))
			merge(d, v);
		else
			json_object_object_add(dst, k, aios_json_copy(v));
	}
}

static int env_int(const char *name, int dflt, int lo, int hi, int *out)
{
	const char *s = getenv(name);
	*out = dflt;
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*end || errno || v < lo || v > hi) {
		aios_fail(AIOS_ERR_INVALID, "%s: \"%s\" is not an integer in %d..%d", name, s, lo,
		          hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Writes msg to the termination message file, if there is one. */
static void termination_message(const char *msg)
{
	const char *path = getenv("AIOS_TERMINATION_LOG");
	if (!path || !*path) {
		path = "/dev/termination-log";
		if (access(path, W_OK))
			return; /* not in a pod */
	}
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fputs(msg, f);
	fclose(f);
}

static int fail(int code, const char *event)
{
	char *msg = aios_xasprintf("aios-trainer: exit %d: %s", code, aios_errmsg());
	aios_error(event, "%s", aios_errmsg());
	termination_message(msg);
	free(msg);
	return code;
}

static int load_spec(const struct trainer_opts *o, struct json_object **out)
{
	const char *file = o->spec_path ? o->spec_path : getenv("AIOS_SPEC_FILE");
	const char *env = getenv("AIOS_SPEC");
	enum aios_err e = AIOS_OK;
	*out = NULL;
	if (file && *file)
		e = trainer_spec_read_file(file, out);
	else if (env && *env)
		e = trainer_spec_parse(env, "AIOS_SPEC", out);
	else
		*out = json_object_new_object();
	if (e)
		return -1;
	struct json_object *inner;
	if (json_object_is_type(*out, json_type_object) &&
	    json_object_object_get_ex(*out, "kind", NULL) &&
	    json_object_object_get_ex(*out, "spec", &inner)) { /* a whole TrainingJob */
		inner = aios_json_copy(inner);
		json_object_put(*out);
		*out = inner;
	}
	if (!json_object_is_type(*out, json_type_object)) {
		aios_fail(AIOS_ERR_INVALID, "spec: expected a JSON object");
		return -1;
	}
	if (aios_json_lookup(o->patch, "data.uri")) { /* --data replaces inline data */
		struct json_object *data = aios_json_lookup(*out, "data");
		if (data && json_object_is_type(data, json_type_object))
			json_object_object_del(data, "inline");
	}
	merge(*out, o->patch);
	if (o->output)
		aios_json_set(*out, "output.uri", json_object_new_string(o->output));
	return 0;
}

/*
 * The communicator of this rank. The seam for distributed training: with
 * AIOS_WORLD_SIZE > 1 the distributed module connects to the peers here and fills c
 * with its all-reduce and broadcast (see docs/internals/trainer.md).
 */
static enum aios_err open_comm(int rank, int world, struct trainer_comm *c)
{
	trainer_comm_local(c);
	(void)rank;
	return world > 1 ? aios_dist_trainer_open(c) : AIOS_OK;
}

/* CPUs this process may run on (its affinity mask: a pod's cpuset), else online CPUs. */
static long usable_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	return sysconf(_SC_NPROCESSORS_ONLN);
}

/* x as JSON: %.9g, or null when not finite. */
/* One epoch's line (model/trainlog.h); a classification model's also has val_accuracy. */
static void print_epoch(FILE *out, const struct trainer_progress *p, int classifies)
{
	struct aios_trainlog_epoch e = {.epoch = p->epoch,
	                                .epochs = p->epochs,
	                                .loss = p->loss,
	                                .val_loss = p->val_loss,
	                                .val_accuracy = p->val_accuracy,
	                                .samples_per_sec = p->samples_per_sec,
	                                .elapsed_s = p->elapsed_s,
	                                .cpu_s = p->cpu_s};
	aios_trainlog_write_epoch(out, &e, classifies);
}

/*
 * No checkpoint of its own: continue from spec.checkpoint.resumeFrom, another run's
 * directory (a shorter run of the same configuration), when it holds a checkpoint of the
 * same fingerprint; otherwise train from scratch. Not for pipelines (their stages resume
 * from their own directory only).
 */
static int resume_from(struct trainer *t, const struct trainer_config *cfg,
                       struct trainer_comm *comm, int world, int64_t *resumed)
{
	char from[4096];
	if (trainer_uri_to_path(cfg->resume_from, from, sizeof(from))) {
		aios_warn("resume_from", "spec.checkpoint.resumeFrom: %s; training from scratch",
		          aios_errmsg());
		return 0;
	}
	if (world > 1 && aios_dist_trainer_pipelined(comm))
		return 0;
	if (world > 1 ? aios_dist_trainer_resume(t, comm, from, resumed)
	              : trainer_resume(t, from, resumed))
		return -1;
	if (*resumed)
		aios_info("resumed", "continued from the checkpoint of epoch %lld in %s",
		          (long long)*resumed, from);
	else
		aios_info("resume_from",
		          "no checkpoint of this configuration in %s: training "
		          "from scratch",
		          from);
	return 0;
}

/* ---------------------------------------------------------------- the program */

int trainer_run_main(const struct trainer_opts *o, FILE *out)
{
	struct json_object *spec;
	if (load_spec(o, &spec))
		return fail(TRAINER_EXIT_USAGE, "bad_spec");
	struct trainer_config cfg;
	if (trainer_config_parse(spec, &cfg)) {
		trainer_config_cleanup(&cfg);
		return fail(TRAINER_EXIT_USAGE, "bad_spec");
	}
	const char *job = getenv("AIOS_JOB");
	int rank = 0, world = 1, attempt = 0;
	if (env_int("AIOS_RANK", 0, 0, 1 << 20, &rank) ||
	    env_int("AIOS_WORLD_SIZE", 1, 1, 1 << 20, &world) ||
	    env_int("AIOS_ATTEMPT", 0, 0, 1 << 30, &attempt) || rank >= world) {
		if (rank >= world)
			aios_fail(AIOS_ERR_INVALID, "AIOS_RANK %d is not below AIOS_WORLD_SIZE %d",
			          rank, world);
		trainer_config_cleanup(&cfg);
		return fail(TRAINER_EXIT_USAGE, "bad_env");
	}
	int code = TRAINER_EXIT_OK;
	struct trainer *t = NULL;
	struct trainer_metrics *metrics = NULL;
	char *ckpt_dir = NULL;
	struct trainer_comm comm;
	if (open_comm(rank, world, &comm)) {
		code = fail(TRAINER_EXIT_DISTRIBUTED, "distributed");
		goto done;
	}
	long cpus = usable_cpus();
	int threads = o->threads                   ? o->threads
	              : cpus < 1                   ? 1
	              : cpus > TRAINER_MAX_THREADS ? TRAINER_MAX_THREADS
	                                           : (int)cpus;
	aios_info("trainer_start", "job %s, rank %d of %d, attempt %d, role %s, %d threads",
	          job ? job : "(by hand)", rank, world, attempt,
	          getenv("AIOS_ROLE") ? getenv("AIOS_ROLE") : "worker", threads);

	enum aios_err e = trainer_new(&cfg, threads, &comm, &t);
	if (e) {
		code = fail(e == AIOS_ERR_UNAVAILABLE || e == AIOS_ERR_TIMEOUT
		                ? TRAINER_EXIT_DISTRIBUTED
		                : TRAINER_EXIT_DATA,
		            "bad_data");
		goto done;
	}

	const char *output = cfg.output_uri ? cfg.output_uri : DEFAULT_OUTPUT;
	char out_path[4096];
	if (trainer_uri_to_path(output, out_path, sizeof(out_path))) {
		code = fail(TRAINER_EXIT_USAGE, "bad_spec");
		goto done;
	}
	const char *env_ckpt = getenv("AIOS_CHECKPOINT_DIR");
	ckpt_dir = o->ckpt_dir             ? aios_xstrdup(o->ckpt_dir)
	           : env_ckpt && *env_ckpt ? aios_xstrdup(env_ckpt)
	                                   : aios_xasprintf("%s.ckpt", out_path);
	int64_t resumed = 0;
	if (world > 1 ? aios_dist_trainer_resume(t, &comm, ckpt_dir, &resumed)
	              : trainer_resume(t, ckpt_dir, &resumed)) {
		code = fail(TRAINER_EXIT_DISTRIBUTED, "resume");
		goto done;
	}
	if (resumed)
		aios_info("resumed", "resumed from the checkpoint of epoch %lld in %s",
		          (long long)resumed, ckpt_dir);
	/* every rank alike (the distributed resume is collective) */
	else if (cfg.resume_from && resume_from(t, &cfg, &comm, world, &resumed)) {
		code = fail(TRAINER_EXIT_DISTRIBUTED, "resume");
		goto done;
	}
	if (world > 1 && aios_dist_trainer_pipelined(&comm)) { /* stages run their own loop */
		char *line;
		if (aios_dist_trainer_pipeline(t, &cfg, &comm, output, ckpt_dir, out, &line))
			code = fail(TRAINER_EXIT_DISTRIBUTED, "pipeline");
		else if (line)
			termination_message(line);
		free(line);
		goto done;
	}
	if (world > 1 && aios_dist_trainer_serving(&comm)) { /* a parameter server: no epochs */
		if (aios_dist_trainer_serve(t, &comm, &cfg.optim))
			code = fail(TRAINER_EXIT_DISTRIBUTED, "parameter_server");
		goto done;
	}

	int port = o->metrics_port >= 0 ? o->metrics_port : job && *job ? DEFAULT_METRICS_PORT : -1;
	if (port > 0) { /* --metrics-port 0: off */
		if (trainer_metrics_start(port, rank, world, job, &metrics)) {
			code = fail(TRAINER_EXIT_IO, "metrics");
			goto done;
		}
		aios_info("metrics", "serving /metrics on port %d", trainer_metrics_port(metrics));
	}

	double last_ckpt = aios_now_s();
	while (trainer_epochs_done(t) < cfg.epochs) {
		struct trainer_progress p;
		e = trainer_epoch(t, &p);
		if (e) {
			code = fail(e == AIOS_ERR_DIVERGED    ? TRAINER_EXIT_DIVERGED
			            : e == AIOS_ERR_CANCELLED ? TRAINER_EXIT_INTERRUPTED
			                                      : TRAINER_EXIT_DISTRIBUTED,
			            e == AIOS_ERR_DIVERGED ? "diverged" : "epoch");
			goto done;
		}
		print_epoch(out, &p, trainer_loss_classifies(cfg.loss));
		trainer_metrics_update(metrics, &p);
		int last = p.epoch == cfg.epochs;
		int due = cfg.checkpoint_every > 0 &&
		          (p.epoch % cfg.checkpoint_every == 0 || last) &&
		          (last || aios_now_s() - last_ckpt >= cfg.checkpoint_min_interval_s);
		if (world > 1) { /* collective: every rank's state, then rank 0's marker */
			int written;
			if (aios_dist_trainer_checkpoint(t, &comm, ckpt_dir, due, &written)) {
				code = fail(TRAINER_EXIT_DISTRIBUTED, "checkpoint");
				goto done;
			}
			if (written)
				last_ckpt = aios_now_s();
		} else if (rank == 0 && due) {
			if (trainer_checkpoint(t, ckpt_dir)) {
				code = fail(TRAINER_EXIT_IO, "checkpoint");
				goto done;
			}
			last_ckpt = aios_now_s();
		}
		if ((o->exit_after_epoch && p.epoch == o->exit_after_epoch && !last) ||
		    aios_shutdown_requested()) {
			aios_fail(AIOS_ERR_CANCELLED,
			          "stopped after epoch %lld; a restart resumes from %s",
			          (long long)p.epoch, ckpt_dir);
			code = fail(TRAINER_EXIT_INTERRUPTED, "interrupted");
			goto done;
		}
	}

	if (world > 1 && aios_dist_trainer_end(t, &comm)) {
		code = fail(TRAINER_EXIT_DISTRIBUTED, "distributed");
		goto done;
	}
	if (rank == 0) {
		struct trainer_saved saved;
		if (trainer_save(t, output, &saved)) {
			code = fail(TRAINER_EXIT_IO, "artifact");
			goto done;
		}
		struct aios_model *m = trainer_model(t);
		struct json_object *fl = NULL, *vl = NULL;
		json_object_object_get_ex(m->meta, "final_loss", &fl);
		json_object_object_get_ex(m->meta, "validation_loss", &vl);
		struct aios_trainlog_final *fin = aios_xcalloc(1, sizeof(*fin));
		trainer_saved_final(&saved, output, fin);
		fin->epochs = trainer_epochs_done(t);
		fin->loss = fl ? json_object_get_double(fl) : NAN;
		fin->val_loss = vl ? json_object_get_double(vl) : NAN;
		/* classification: accuracy of the final parameters on both sets (the operator's
		 * search objective `accuracy` reads val_accuracy, else accuracy) */
		char ab[32], vb[32];
		double acc = NAN, val_acc = NAN;
		if (trainer_loss_classifies(cfg.loss)) {
			trainer_accuracy(t, &acc, &val_acc);
			fin->classifies = 1;
			fin->accuracy = acc;
			fin->val_accuracy = val_acc;
		}
		char *line = aios_trainlog_format_final(fin);
		free(fin);
		fprintf(out, "%s\n", line);
		fflush(out);
		termination_message(line);
		aios_info("artifact", "wrote %s (%zu bytes, sha256 %s)", output, saved.bytes,
		          saved.sha256);
		if (saved.onnx)
			aios_info("onnx", "wrote %s (%zu bytes, sha256 %s)", saved.onnx_uri,
			          saved.onnx_bytes, saved.onnx_sha256);
		if (trainer_loss_classifies(cfg.loss))
			aios_info("accuracy",
			          "final accuracy %s on %lld training rows, %s on the validation "
			          "split",
			          aios_trainlog_num(acc, ab), (long long)trainer_train_rows(t),
			          aios_trainlog_num(val_acc, vb));
		free(line);
	}
done:
	if (world > 1 && aios_dist_trainer_close(&comm, code == TRAINER_EXIT_OK) && !code)
		code = fail(TRAINER_EXIT_DISTRIBUTED, "distributed");
	trainer_metrics_stop(metrics);
	trainer_free(t);
	free(ckpt_dir);
	trainer_config_cleanup(&cfg);
	return code;
}
