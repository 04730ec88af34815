/*
 * dist_trainer.c - the trainer's communicator over TCP, and collective checkpoints
 * (see dist_trainer.h).
 */
#include "dist_trainer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "dist_allreduce.h"
#include "dist_rendezvous.h"

#define MARKER "complete"

/* ------------------------------------------------------------------------------------
 * The communicator
 * ------------------------------------------------------------------------------------ */

static enum aios_err comm_allreduce(struct trainer_comm *c, float *x, size_t n)
{
	return aios_dist_allreduce_sum(c->impl, x, n);
}

static enum aios_err comm_broadcast(struct trainer_comm *c, float *x, size_t n)
{
	return aios_dist_broadcast(c->impl, 0, x, n);
}

enum aios_err aios_dist_trainer_open(struct trainer_comm *c)
{
	struct aios_dist_config cfg;
	aios_dist_config_defaults(&cfg);
	enum aios_err e = aios_dist_config_from_env(&cfg);
	if (e)
		return e;
	struct aios_dist *d;
	if ((e = aios_dist_connect(&cfg, &d)))
		return e;
	for (int r = 0; r < aios_dist_world(d); r++) {
		enum aios_dist_role role = aios_dist_role_of(d, r);
		if (role != AIOS_DIST_ROLE_WORKER) {
			aios_dist_free(d);
			return aios_fail(
			    AIOS_ERR_UNSUPPORTED,
			    "rank %d has role %s: aios-trainer runs strategy allreduce "
			    "(every rank a worker); parameter-server and pipeline are "
			    "library modules not yet wired into the trainer loop",
			    r, aios_dist_role_name(role));
		}
	}
	c->rank = aios_dist_rank(d);
	c->world = aios_dist_world(d);
	c->allreduce_sum = comm_allreduce;
	c->broadcast = comm_broadcast;
	c->impl = d;
	return AIOS_OK;
}

enum aios_err aios_dist_trainer_close(struct trainer_comm *c, int ok)
{
	struct aios_dist *d = c->impl;
	c->impl = NULL;
	if (!d)
		return AIOS_OK;
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

enum aios_err aios_dist_trainer_resume(struct trainer *t, struct trainer_comm *c, const char *dir,
                                       int64_t *resumed)
{
	*resumed = 0;
	int64_t epoch;
	enum aios_err e = read_marker(dir, c->world, &epoch);
	if (e)
		return e;
	char *rdir = rank_dir(dir, c->rank);
	prune_newer(rdir, epoch);
	char *mine = aios_xasprintf("%s/ckpt-%08lld.aiosckpt", rdir, (long long)epoch);
	int have = epoch == 0 || access(mine, R_OK) == 0;
	free(mine);
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
	return e;
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
	char *rdir = rank_dir(dir, c->rank);
	int ok = mkdirs(rdir) == 0;
	char why[512] = "";
	if (!ok)
		snprintf(why, sizeof(why), "mkdir %s: %s", rdir, strerror(errno));
	else if (trainer_checkpoint(t, rdir) != AIOS_OK) {
		ok = 0;
		snprintf(why, sizeof(why), "%s", aios_errmsg());
	}
	free(rdir);
	if (!ok)
		aios_error("ckpt_failed", "rank %d: %s", c->rank, why);
	/* the barrier: nobody goes on before every rank has its file */
	char bad[256];
	int all;
	if ((e = agree(c, ok, bad, sizeof(bad), &all)))
		return aios_fail_wrap(e, "checkpoint barrier");
	if (!all)
		return aios_fail(AIOS_ERR_IO, "checkpoint of epoch %lld failed on rank(s) %s%s%s",
		                 (long long)trainer_epochs_done(t), bad, why[0] ? ": " : "", why);
	if (c->rank == 0) {
		const char *att = getenv("AIOS_ATTEMPT");
		e = write_marker(dir, trainer_epochs_done(t), c->world,
		                 att ? (uint32_t)strtoul(att, NULL, 10) : 0);
		if (e)
			return e;
		aios_info("ckpt_complete", "epoch %lld checkpointed by all %d ranks",
		          (long long)trainer_epochs_done(t), c->world);
	}
	*written = 1;
	return AIOS_OK;
}
