/*
 * dist_trainer.c - the trainer's communicator over TCP, and collective checkpoints
 * (see dist_trainer.h).
 */
#include "dist_trainer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "dist_allreduce.h"
#include "dist_pipeline.h"
#include "dist_ps.h"
#include "dist_rendezvous.h"
#include "dist_stage.h"
#include "rng.h"

#define MARKER "complete"

/* ------------------------------------------------------------------------------------
 * The communicator
 * ------------------------------------------------------------------------------------ */

#define SEED_TAG 0xfffffffdu /* rank 0 -> parameter servers: the starting parameters */

struct dist_state {
	struct aios_dist *d;
	struct aios_dist_ps *ps;            /* parameter-server strategy, else NULL */
	int server;                         /* this rank is a parameter server */
	int pipeline;                       /* ranks of role stage (all of them, or an error) */
	int group[AIOS_DIST_MAX_WORLD], ng; /* the ranks that train (workers), in order */
};

static struct dist_state *state(struct trainer_comm *c)
{
	return c->impl;
}

static enum aios_err ring_allreduce(struct trainer_comm *c, float *x, size_t n)
{
	return aios_dist_allreduce_sum(state(c)->d, x, n);
}

static enum aios_err all_broadcast(struct trainer_comm *c, float *x, size_t n)
{
	return aios_dist_broadcast(state(c)->d, 0, x, n);
}

/* Workers only (parameter servers are busy serving): a star through rank 0, in rank order. */
static enum aios_err group_sum(struct trainer_comm *c, float *x, size_t n)
{
	struct dist_state *st = state(c);
	if (st->server)
		return AIOS_OK; /* not in the group */
	uint32_t tag = aios_dist_next_tag(st->d);
	enum aios_err e = AIOS_OK;
	if (c->rank != 0) {
		e = aios_dist_send_floats(st->d, 0, AIOS_DIST_DATA, tag, x, n);
		if (!e)
			e = aios_dist_recv_floats(st->d, 0, AIOS_DIST_DATA, tag, x, n);
		return e;
	}
	float *tmp = aios_xmalloc(n * sizeof(float) + 4);
	for (int k = 1; k < st->ng && !e; k++) {
		e = aios_dist_recv_floats(st->d, st->group[k], AIOS_DIST_DATA, tag, tmp, n);
		for (size_t i = 0; !e && i < n; i++)
			x[i] += tmp[i];
	}
	for (int k = 1; k < st->ng && !e; k++)
		e = aios_dist_send_floats(st->d, st->group[k], AIOS_DIST_DATA, tag, x, n);
	free(tmp);
	return e;
}

static enum aios_err group_broadcast(struct trainer_comm *c, float *x, size_t n)
{
	struct dist_state *st = state(c);
	if (st->server)
		return AIOS_OK; /* not in the group */
	uint32_t tag = aios_dist_next_tag(st->d);
	if (c->rank != 0)
		return aios_dist_recv_floats(st->d, 0, AIOS_DIST_DATA, tag, x, n);
	for (int k = 1; k < st->ng; k++) {
		enum aios_err e =
		    aios_dist_send_floats(st->d, st->group[k], AIOS_DIST_DATA, tag, x, n);
		if (e)
			return e;
	}
	return AIOS_OK;
}

/* Parameter servers: push this worker's share of the gradient, pull the new parameters. */
static enum aios_err ps_update(struct trainer_comm *c, float *params, const float *grads, size_t n)
{
	struct dist_state *st = state(c);
	aios_dist_ps_resize(st->ps, n);
	enum aios_err e = aios_dist_ps_push(st->ps, grads);
	return e ? e : aios_dist_ps_pull(st->ps, params);
}

enum aios_err aios_dist_trainer_open(struct trainer_comm *c)
{
	struct aios_dist_config cfg;
	aios_dist_config_defaults(&cfg);
	enum aios_err e = aios_dist_config_from_env(&cfg);
	if (e)
		return e;
	long staleness = 0;
	const char *s = getenv("AIOS_DIST_STALENESS");
	if (s && *s) {
		char *end;
		staleness = strtol(s, &end, 10);
		if (*end || staleness < 0 || staleness > AIOS_DIST_PS_MAX_STALENESS)
			return aios_fail(AIOS_ERR_INVALID,
			                 "AIOS_DIST_STALENESS=\"%s\": expected an integer in 0..%d",
			                 s, AIOS_DIST_PS_MAX_STALENESS);
	}
	struct aios_dist *d;
	if ((e = aios_dist_connect(&cfg, &d)))
		return e;
	struct dist_state *st = aios_xcalloc(1, sizeof(*st));
	st->d = d;
	int servers = 0;
	for (int r = 0; r < aios_dist_world(d); r++) {
		enum aios_dist_role role = aios_dist_role_of(d, r);
		if (role == AIOS_DIST_ROLE_STAGE)
			st->pipeline++;
		if (role == AIOS_DIST_ROLE_PS)
			servers++;
		else
			st->group[st->ng++] = r;
	}
	c->impl = st;
	c->rank = aios_dist_rank(d);
	c->world = aios_dist_world(d);
	if (st->pipeline && st->pipeline != c->world) {
		e = aios_fail(AIOS_ERR_INVALID,
		              "pipeline: %d of %d ranks have role stage; every rank must be one",
		              st->pipeline, c->world);
		aios_dist_free(d);
		free(st);
		c->impl = NULL;
		return e;
	}
	if (servers == 0) { /* allreduce: every rank a worker */
		c->allreduce_sum = ring_allreduce;
		c->broadcast = all_broadcast;
		return AIOS_OK;
	}
	if ((e = aios_dist_ps_new(d, 0, (int)staleness, &st->ps))) {
		aios_dist_free(d);
		free(st);
		c->impl = NULL;
		return e;
	}
	aios_dist_ps_set_sum(st->ps, 1);
	st->server = aios_dist_ps_worker_index(st->ps) < 0;
	c->rank = st->server ? -1 : aios_dist_ps_worker_index(st->ps);
	c->world = st->ng;
	c->allreduce_sum = group_sum;
	c->broadcast = group_broadcast;
	c->update = ps_update;
	aios_info("dist_strategy", "parameter servers: %d workers, %d servers, %s", st->ng, servers,
	          staleness ? "asynchronous" : "synchronous");
	return AIOS_OK;
}

int aios_dist_trainer_serving(const struct trainer_comm *c)
{
	const struct dist_state *st = c->impl;
	return st && st->server;
}

/* The shard optimizer of a parameter server: the trainer's own step over a slice. */
struct shard_opt {
	const struct trainer_optim *o;
	float *m1, *m2;
};

static void shard_apply(void *ctx, size_t off, size_t n, float *params, const float *grad,
                        int64_t step)
{
	struct shard_opt *so = ctx;
	(void)off;
	trainer_optim_step(so->o, step, params, grad, so->m1, so->m2, n);
}

enum aios_err aios_dist_trainer_serve(struct trainer *t, struct trainer_comm *c,
                                      const struct trainer_optim *o)
{
	struct dist_state *st = state(c);
	struct aios_model *m = trainer_model(t);
	size_t n = aios_model_param_count(m);
	aios_dist_ps_resize(st->ps, n);
	enum aios_err e = aios_dist_recv_floats(st->d, 0, AIOS_DIST_DATA, SEED_TAG, m->params, n);
	if (e)
		return aios_fail_wrap(e, "parameter server: waiting for the starting parameters");
	struct shard_opt so = {o, aios_xcalloc(n + 1, sizeof(float)),
	                       aios_xcalloc(n + 1, sizeof(float))};
	e = aios_dist_ps_serve(st->ps, m->params, shard_apply, &so);
	free(so.m1);
	free(so.m2);
	return e;
}

enum aios_err aios_dist_trainer_end(struct trainer *t, struct trainer_comm *c)
{
	struct dist_state *st = state(c);
	if (!st || !st->ps || st->server)
		return AIOS_OK;
	aios_dist_ps_resize(st->ps, aios_model_param_count(trainer_model(t)));
	enum aios_err e = aios_dist_ps_done(st->ps, c->rank == 0 ? trainer_model(t)->params : NULL);
	return e ? aios_fail_wrap(e, "final parameters") : AIOS_OK;
}

/* Rank 0 hands the parameter servers the parameters training starts from. */
static enum aios_err seed_servers(struct trainer *t, struct trainer_comm *c)
{
	struct dist_state *st = state(c);
	if (!st->ps || c->rank != 0)
		return AIOS_OK;
	struct aios_model *m = trainer_model(t);
	size_t n = aios_model_param_count(m);
	aios_dist_ps_resize(st->ps, n);
	for (int r = 0; r < aios_dist_world(st->d); r++) {
		if (aios_dist_role_of(st->d, r) != AIOS_DIST_ROLE_PS)
			continue;
		enum aios_err e =
		    aios_dist_send_floats(st->d, r, AIOS_DIST_DATA, SEED_TAG, m->params, n);
		if (e)
			return aios_fail_wrap(e, "seeding parameter server rank %d", r);
	}
	return AIOS_OK;
}

enum aios_err aios_dist_trainer_close(struct trainer_comm *c, int ok)
{
	struct dist_state *st = c->impl;
	c->impl = NULL;
	if (!st)
		return AIOS_OK;
	aios_dist_ps_free(st->ps);
	struct aios_dist *d = st->d;
	free(st);
	if (!ok) {
		aios_dist_free(d);
		return AIOS_OK;
	}
	return aios_dist_finish(d);
}

/* ------------------------------------------------------------------------------------
 * Checkpoints
 * ------------------------------------------------------------------------------------ */

static char *rank_dir(const char *dir, int rank)
{
	return aios_xasprintf("%s/rank-%d", dir, rank);
}

/* The epoch of DIR/complete, 0 if absent. A damaged marker is an error. */
static enum aios_err read_marker(const char *dir, int world, int64_t *epoch)
{
	*epoch = 0;
	char *path = aios_xasprintf("%s/%s", dir, MARKER);
	struct aios_buf b;
	aios_buf_init(&b, 4096);
	enum aios_err e = aios_buf_read_file(&b, path);
	if (e == AIOS_ERR_NOT_FOUND || (e && access(path, F_OK) != 0)) {
		aios_errclear();
		aios_buf_cleanup(&b);
		free(path);
		return AIOS_OK;
	}
	struct json_object *o = NULL;
	int64_t w = 0;
	if (!e)
		e = aios_json_parse(b.data, b.len, path, &o);
	if (!e)
		e = aios_json_get_int(o, "epoch", epoch);
	if (!e)
		e = aios_json_get_int(o, "world", &w);
	if (!e && w != world)
		e = aios_fail(AIOS_ERR_INVALID,
		              "%s: written by a world of %lld ranks, this one has %d", path,
		              (long long)w, world);
	if (o)
		json_object_put(o);
	aios_buf_cleanup(&b);
	if (e)
		aios_fail_wrap(e, "checkpoint marker");
	free(path);
	return e;
}

static enum aios_err write_marker(const char *dir, int64_t epoch, int world, uint32_t attempt)
{
	char *path = aios_xasprintf("%s/%s", dir, MARKER);
	char *tmp = aios_xasprintf("%s.tmp.%d", path, (int)getpid());
	const char *job = getenv("AIOS_JOB");
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "epoch", json_object_new_int64(epoch));
	json_object_object_add(o, "world", json_object_new_int(world));
	json_object_object_add(o, "attempt", json_object_new_int64(attempt));
	json_object_object_add(o, "job", json_object_new_string(job ? job : ""));
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	enum aios_err e = AIOS_OK;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t n = strlen(s);
	if (fd < 0 || write(fd, s, n) != (ssize_t)n || fsync(fd) != 0)
		e = aios_fail(AIOS_ERR_IO, "%s: %s", tmp, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (!e && rename(tmp, path) != 0)
		e = aios_fail(AIOS_ERR_IO, "rename %s: %s", path, strerror(errno));
	if (e)
		unlink(tmp);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	json_object_put(o);
	free(tmp);
	free(path);
	return e;
}

/* Removes this rank's checkpoints newer than epoch (never committed by the marker). */
static void prune_newer(const char *rdir, int64_t epoch)
{
	DIR *dp = opendir(rdir);
	if (!dp)
		return;
	struct dirent *de;
	while ((de = readdir(dp))) {
		long long ep;
		int n = 0;
		if (sscanf(de->d_name, "ckpt-%lld.aiosckpt%n", &ep, &n) == 1 &&
		    de->d_name[n] == 0 && ep > epoch) {
			char *p = aios_xasprintf("%s/%s", rdir, de->d_name);
			aios_warn("ckpt_discard",
			          "discarding %s: epoch %lld was never completed by every rank", p,
			          ep);
			unlink(p);
			free(p);
		}
	}
	closedir(dp);
}

/*
 * Every rank contributes ok (1 or 0) in its own slot; returns the list of ranks that
 * did not in bad (text), and whether all did.
 */
static enum aios_err agree(struct trainer_comm *c, int ok, char *bad, size_t n, int *all)
{
	float *v = aios_xcalloc((size_t)c->world, sizeof(float));
	v[c->rank] = ok ? 1.0f : 0.0f;
	enum aios_err e = c->allreduce_sum(c, v, (size_t)c->world);
	*all = 1;
	size_t off = 0;
	bad[0] = 0;
	for (int r = 0; !e && r < c->world; r++)
		if (v[r] != 1.0f) {
			*all = 0;
			if (off < n)
				off += (size_t)snprintf(bad + off, n - off, "%s%d", off ? ", " : "",
				                        r);
		}
	free(v);
	return e;
}

/*
 * The epoch DIR/complete names (0: none) and the path of this rank's file of it (caller
 * frees); this rank's newer files, never committed, are discarded.
 */
static enum aios_err committed(struct trainer_comm *c, const char *dir, int64_t *epoch, char **path)
{
	*path = NULL;
	enum aios_err e = read_marker(dir, c->world, epoch);
	if (e)
		return e;
	char *rdir = rank_dir(dir, c->rank);
	prune_newer(rdir, *epoch);
	*path = aios_xasprintf("%s/ckpt-%08lld.aiosckpt", rdir, (long long)*epoch);
	free(rdir);
	return AIOS_OK;
}

enum aios_err aios_dist_trainer_resume(struct trainer *t, struct trainer_comm *c, const char *dir,
                                       int64_t *resumed)
{
	*resumed = 0;
	if (aios_dist_trainer_serving(c))
		return AIOS_OK; /* servers are seeded by rank 0 below */
	if (aios_dist_trainer_pipelined(c))
		return AIOS_OK; /* stages resume in aios_dist_trainer_pipeline */
	int64_t epoch;
	char *mine;
	enum aios_err e = committed(c, dir, &epoch, &mine);
	if (e)
		return e;
	int have = epoch == 0 || access(mine, R_OK) == 0;
	free(mine);
	char *rdir = rank_dir(dir, c->rank);
	char bad[256];
	int all;
	if ((e = agree(c, have, bad, sizeof(bad), &all))) {
		free(rdir);
		return aios_fail_wrap(e, "resume");
	}
	if (!all) {
		free(rdir);
		return aios_fail(
		    AIOS_ERR_NOT_FOUND,
		    "resume: %s/%s names epoch %lld but rank(s) %s have no checkpoint of it", dir,
		    MARKER, (long long)epoch, bad);
	}
	if (epoch > 0) {
		e = trainer_resume(t, rdir, resumed);
		if (!e && *resumed != epoch)
			e = aios_fail(AIOS_ERR_CORRUPT,
			              "resume: rank %d resumed epoch %lld, the marker names %lld",
			              c->rank, (long long)*resumed, (long long)epoch);
	}
	free(rdir);
	return e ? e : seed_servers(t, c);
}

static int mkdirs(const char *path)
{
	char *p = aios_xstrdup(path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	int rc = mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1;
	free(p);
	return rc;
}

/* Writes one rank's state into its directory (rdir exists). */
typedef enum aios_err (*ckpt_write_fn)(void *ctx, const char *rdir);

/* Every rank writes its state, they meet, rank 0 writes the marker naming epoch. */
static enum aios_err collective_ckpt(struct trainer_comm *c, const char *dir, int64_t epoch,
                                     ckpt_write_fn write_state, void *ctx)
{
	char *rdir = rank_dir(dir, c->rank);
	int ok = mkdirs(rdir) == 0;
	char why[512] = "";
	if (!ok)
		snprintf(why, sizeof(why), "mkdir %s: %s", rdir, strerror(errno));
	else if (write_state(ctx, rdir) != AIOS_OK) {
		ok = 0;
		snprintf(why, sizeof(why), "%s", aios_errmsg());
	}
	free(rdir);
	if (!ok)
		aios_error("ckpt_failed", "rank %d: %s", c->rank, why);
	/* the barrier: nobody goes on before every rank has its file */
	char bad[256];
	int all;
	enum aios_err e = agree(c, ok, bad, sizeof(bad), &all);
	if (e)
		return aios_fail_wrap(e, "checkpoint barrier");
	if (!all)
		return aios_fail(AIOS_ERR_IO, "checkpoint of epoch %lld failed on rank(s) %s%s%s",
		                 (long long)epoch, bad, why[0] ? ": " : "", why);
	if (c->rank == 0) {
		const char *att = getenv("AIOS_ATTEMPT");
		e = write_marker(dir, epoch, c->world, att ? (uint32_t)strtoul(att, NULL, 10) : 0);
		if (e)
			return e;
		aios_info("ckpt_complete", "epoch %lld checkpointed by all %d ranks",
		          (long long)epoch, c->world);
	}
	return AIOS_OK;
}

static enum aios_err write_trainer_state(void *ctx, const char *rdir)
{
	return trainer_checkpoint(ctx, rdir);
}

enum aios_err aios_dist_trainer_checkpoint(struct trainer *t, struct trainer_comm *c,
                                           const char *dir, int due, int *written)
{
	*written = 0;
	float flag = due ? 1.0f : 0.0f;
	enum aios_err e = c->broadcast(c, &flag, 1);
	if (e)
		return aios_fail_wrap(e, "checkpoint");
	if (flag == 0.0f)
		return AIOS_OK;
	e = collective_ckpt(c, dir, trainer_epochs_done(t), write_trainer_state, t);
	*written = !e;
	return e;
}

/* ------------------------------------------------------------------------------------
 * Pipeline stages: their own epoch loop
 * ------------------------------------------------------------------------------------ */

#define PIPE_MICRO_DEFAULT 4 /* micro-batches per step unless AIOS_DIST_MICROBATCHES says */

int aios_dist_trainer_pipelined(const struct trainer_comm *c)
{
	const struct dist_state *st = c->impl;
	return st && st->pipeline;
}

/* The trainer's data again (train.c keeps its own private): same load, split, scaling. */
static enum aios_err pipe_data(const struct trainer_config *cfg, const struct aios_model *m,
                               struct trainer_dataset *train)
{
	struct trainer_dataset val;
	enum aios_err e;
	memset(train, 0, sizeof(*train));
	memset(&val, 0, sizeof(val));
	if (cfg->inline_data)
		e = trainer_parse_inline(cfg->inline_data, "spec.data.inline", &cfg->labels, train);
	else
		e = trainer_load(cfg->data_uri, &cfg->data, &cfg->labels, train);
	if (e)
		return e;
	trainer_split(train, cfg->validation_split, cfg->seed, &val);
	trainer_dataset_cleanup(&val);
	if (m->norm_mean)
		trainer_normalize(train, m->norm_mean, m->norm_std);
	return AIOS_OK;
}

/* A stage's checkpoint: the trainer's format; only this stage's slice of the vectors counts. */
struct pipe_ckpt {
	struct trainer *t;
	int64_t epoch, step;
	struct trainer_rng *rng;
	float *params, *m1, *m2;
	size_t n;
	double loss;
};

static enum aios_err write_stage_state(void *ctx, const char *rdir)
{
	struct pipe_ckpt *p = ctx;
	struct trainer_ckpt c = {.epoch = p->epoch,
	                         .step = p->step,
	                         .threads = 1,
	                         .loss = p->loss,
	                         .val_loss = NAN,
	                         .n_params = p->n,
	                         .params = p->params,
	                         .m1 = p->m1,
	                         .m2 = p->m2};
	memcpy(c.rng, p->rng->s, sizeof(c.rng));
	snprintf(c.fingerprint, sizeof(c.fingerprint), "%s", trainer_fingerprint(p->t));
	return trainer_ckpt_write(rdir, &c);
}

/*
 * A restarted pipeline: the epoch DIR/complete names, every stage's own file of it, this
 * stage's slice [off, off + len) of parameters and moments, the RNG and the step count.
 */
static enum aios_err pipe_resume(struct trainer_comm *c, const char *dir, struct pipe_ckpt *p,
                                 size_t off, size_t len)
{
	int64_t epoch;
	char *path;
	enum aios_err e = committed(c, dir, &epoch, &path);
	if (e)
		return e;
	struct trainer_ckpt ck;
	memset(&ck, 0, sizeof(ck));
	int have = epoch == 0;
	char why[512] = "";
	if (epoch > 0) {
		if (trainer_ckpt_read(path, p->n, &ck) != AIOS_OK)
			snprintf(why, sizeof(why), "%s", aios_errmsg());
		else if (strcmp(ck.fingerprint, trainer_fingerprint(p->t)) != 0)
			snprintf(why, sizeof(why), "%s belongs to another job or data set", path);
		else
			have = 1;
	}
	free(path);
	char bad[256];
	int all;
	if ((e = agree(c, have, bad, sizeof(bad), &all)) == AIOS_OK && !all)
		e = aios_fail(AIOS_ERR_NOT_FOUND,
		              "resume: %s/%s names epoch %lld but stage(s) %s cannot read it%s%s",
		              dir, MARKER, (long long)epoch, bad, why[0] ? ": " : "", why);
	if (!e && epoch > 0) {
		memcpy(p->params + off, ck.params + off, len * sizeof(float));
		memcpy(p->m1 + off, ck.m1 + off, len * sizeof(float));
		memcpy(p->m2 + off, ck.m2 + off, len * sizeof(float));
		memcpy(p->rng->s, ck.rng, sizeof(ck.rng));
		p->epoch = ck.epoch;
		p->step = ck.step;
		aios_info("resumed", "resumed from the checkpoint of epoch %lld in %s",
		          (long long)epoch, dir);
	}
	if (epoch > 0)
		trainer_ckpt_cleanup(&ck);
	return e;
}

enum aios_err aios_dist_trainer_pipeline(struct trainer *t, const struct trainer_config *cfg,
                                         struct trainer_comm *c, const char *output,
                                         const char *ckpt_dir, FILE *out, char **final_line)
{
	*final_line = NULL;
	struct dist_state *st = state(c);
	struct aios_dist *d = st->d;
	int s = aios_dist_rank(d), S = aios_dist_world(d);
	struct aios_model *m = trainer_model(t);
	size_t n = aios_model_param_count(m);
	long micro = PIPE_MICRO_DEFAULT;
	const char *ms = getenv("AIOS_DIST_MICROBATCHES");
	if (ms && *ms) {
		char *end;
		micro = strtol(ms, &end, 10);
		if (*end || micro < 1 || micro > AIOS_DIST_PIPE_MAX_MICRO)
			return aios_fail(AIOS_ERR_INVALID,
			                 "AIOS_DIST_MICROBATCHES=\"%s\": expected 1..%d", ms,
			                 AIOS_DIST_PIPE_MAX_MICRO);
	}
	size_t counts[AIOS_MODEL_MAX_LAYERS];
	for (int l = 0; l < m->n_layers; l++)
		counts[l] =
		    (size_t)m->layers[l].in * (size_t)m->layers[l].out + (size_t)m->layers[l].out;
	int first[AIOS_DIST_MAX_WORLD + 1];
	enum aios_err e = aios_dist_pipe_split(m->n_layers, counts, S, first);
	if (e)
		return e;
	size_t off[AIOS_DIST_MAX_WORLD + 1];
	for (int k = 0; k < S; k++)
		off[k] = (size_t)(m->layers[first[k]].w - m->params);
	off[S] = n;
	struct trainer_dataset data;
	if ((e = pipe_data(cfg, m, &data)))
		return e;
	const int64_t N = data.rows;
	const int64_t B =
	    cfg->optim.type == TRAINER_OPT_GD || cfg->batch_size > N ? N : cfg->batch_size;
	float *grads = aios_xcalloc(n + 1, sizeof(float));
	float *m1 = aios_xcalloc(n + 1, sizeof(float)), *m2 = aios_xcalloc(n + 1, sizeof(float));
	float *xb = aios_xmalloc((size_t)B * (size_t)data.cols * sizeof(float) + 4);
	float *tb = aios_xmalloc((size_t)B * (size_t)data.tcols * sizeof(float) + 4);
	uint32_t *idx = aios_xmalloc((size_t)N * sizeof(uint32_t));
	struct aios_dist_stage *stage =
	    aios_dist_stage_new(m, cfg->loss, first[s], first[s + 1], (int)B, grads);
	struct aios_dist_pipe_ops ops = aios_dist_stage_ops(stage);
	struct trainer_rng rng;
	trainer_rng_seed(&rng, cfg->seed);
	aios_info("pipeline_stage",
	          "stage %d of %d: layers [%d, %d), parameters [%zu, %zu), %ld micro-batches", s, S,
	          first[s], first[s + 1], off[s], off[s + 1], micro);
	int64_t step = 0, epoch0 = 0;
	double t0 = aios_now_s();
	float loss = 0;
	struct pipe_ckpt pc = {
	    .t = t, .rng = &rng, .params = m->params, .m1 = m1, .m2 = m2, .n = n};
	e = pipe_resume(c, ckpt_dir, &pc, off[s], off[s + 1] - off[s]);
	step = pc.step;
	epoch0 = pc.epoch;
	for (int64_t epoch = epoch0 + 1; epoch <= cfg->epochs && !e; epoch++) {
		double start = aios_now_s(), loss_sum = 0;
		for (int64_t i = 0; i < N; i++)
			idx[i] = (uint32_t)i;
		if (cfg->optim.type != TRAINER_OPT_GD)
			trainer_rng_shuffle(&rng, idx, (uint64_t)N);
		for (int64_t b0 = 0; b0 < N && !e; b0 += B) {
			int rows = (int)(N - b0 < B ? N - b0 : B);
			for (int r = 0; r < rows; r++) {
				size_t src = idx[b0 + r];
				if (s == 0)
					memcpy(xb + (size_t)r * data.cols, data.x + src * data.cols,
					       (size_t)data.cols * sizeof(float));
				if (s == S - 1)
					memcpy(tb + (size_t)r * data.tcols,
					       data.t + src * data.tcols,
					       (size_t)data.tcols * sizeof(float));
			}
			aios_dist_stage_set_targets(stage, tb, 1.0f / (float)rows);
			memset(grads + off[s], 0, (off[s + 1] - off[s]) * sizeof(float));
			double bl;
			e = aios_dist_pipe_step(d, &ops, rows, rows < micro ? rows : (int)micro, xb,
			                        &bl);
			if (e)
				break;
			loss_sum += bl;
			step++;
			size_t o = off[s], len = off[s + 1] - off[s];
			trainer_optim_step(&cfg->optim, step, m->params + o, grads + o, m1 + o,
			                   m2 + o, len);
		}
		/* the last stage knows the loss; everyone learns it (rank 0 reports it) */
		loss = (float)(loss_sum / (double)N);
		if (!e)
			e = aios_dist_broadcast(d, S - 1, &loss, 1);
		if (!e && !isfinite(loss))
			e = aios_fail(AIOS_ERR_DIVERGED,
			              "training diverged at epoch %lld: the loss is not finite",
			              (long long)epoch);
		int due = cfg->checkpoint_every > 0 &&
		          (epoch % cfg->checkpoint_every == 0 || epoch == cfg->epochs);
		if (!e && due) {
			pc.epoch = epoch;
			pc.step = step;
			pc.loss = loss;
			e = collective_ckpt(c, ckpt_dir, epoch, write_stage_state, &pc);
		}
		if (!e && s == 0) {
			double secs = aios_now_s() - start;
			fprintf(out,
			        "{\"epoch\":%lld,\"epochs\":%lld,\"loss\":%.9g,\"val_loss\":null,"
			        "\"samples_per_sec\":%.1f,\"elapsed_s\":%.3f}\n",
			        (long long)epoch, (long long)cfg->epochs, (double)loss,
			        secs > 0 ? (double)N / secs : 0.0, aios_now_s() - t0);
			fflush(out);
		}
	}
	if (!e)
		e = aios_dist_pipe_gather(d, m->params, off);
	if (!e && s == 0) {
		struct trainer_saved saved;
		json_object_object_add(m->meta, "strategy", json_object_new_string("pipeline"));
		json_object_object_add(m->meta, "final_loss", json_object_new_double(loss));
		e = trainer_save(t, output, &saved);
		if (!e) {
			struct aios_trainlog_final *fin = aios_xcalloc(1, sizeof(*fin));
			trainer_saved_final(&saved, output, fin);
			fin->epochs = cfg->epochs;
			fin->loss = loss;
			fin->val_loss = NAN;
			char *line = aios_trainlog_format_final(fin);
			free(fin);
			fprintf(out, "%s\n", line);
			fflush(out);
			*final_line = line;
			aios_info("artifact", "wrote %s (%zu bytes, sha256 %s)", output,
			          saved.bytes, saved.sha256);
		}
	}
	aios_dist_stage_free(stage);
	trainer_dataset_cleanup(&data);
	free(grads);
	free(m1);
	free(m2);
	free(xb);
	free(tb);
	free(idx);
	return e;
}
