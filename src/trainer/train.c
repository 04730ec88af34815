/*
 * train.c - the training session (see train.h).
 */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckpt.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/matmul.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "model/onnx_export.h"
#include "pool.h"
#include "rng.h"

#define CHUNK 256 /* rows a thread pushes through the network at once (bounds its memory) */
/*
 * Least work (rows x parameters, about a sixth of the flops) worth a thread of its own:
 * about 100 us of arithmetic, well above what waking a thread costs. Smaller batches
 * run on fewer threads. The choice depends only on the batch and the model, so it is
 * as deterministic as the rest.
 */
#define MIN_WORK_PER_THREAD (1 << 18)
#define PREFETCH            16 /* rows ahead the gather of a shuffled batch prefetches */

/* One thread's state; aligned so two workers never share a cache line. */
struct worker {
	struct trainer_ws ws;
	float *xbuf, *tbuf; /* (CHUNK, cols), (CHUNK, tcols): gathered rows */
	float *grads;       /* worker 0: net.grads; others: ws.grads */
	double loss;
	int64_t correct; /* evaluation: rows classified right */
} __attribute__((aligned(64)));

struct trainer {
	const struct trainer_config *cfg;
	struct trainer_dataset train, val;
	struct trainer_net net;
	struct trainer_rng rng;
	struct trainer_pool *pool;
	struct worker *w;
	int threads;
	int team; /* workers on the current batch */
	struct trainer_comm local, *comm;
	uint32_t *idx; /* this epoch's row order */
	int shuffled;  /* idx is not the identity */
	int64_t epoch, step, samples;
	double t0, last_loss, last_val;
	double last_val_acc; /* NaN: regression or no validation split */
	char fingerprint[AIOS_SHA256_HEX];
	/* the work handed to the team by trainer_pool_run */
	const struct trainer_dataset *set;
	int64_t b_start, b_rows;
	float inv_n;
	int step_in_team; /* update_share also steps the optimizer and refreshes W^T */
};

/* ---------------------------------------------------------------- communicator */

static enum aios_err local_noop(struct trainer_comm *c, float *x, size_t n)
{
	(void)c, (void)x, (void)n;
	return AIOS_OK;
}

void trainer_comm_local(struct trainer_comm *c)
{
	memset(c, 0, sizeof(*c));
	c->rank = 0;
	c->world = 1;
	c->allreduce_sum = local_noop;
	c->broadcast = local_noop;
}

/* ---------------------------------------------------------------- setup */

static void fingerprint(struct trainer *t)
{
	const struct trainer_config *c = t->cfg;
	struct json_object *s = c->spec, *inner;
	if (json_object_object_get_ex(s, "kind", NULL) &&
	    json_object_object_get_ex(s, "spec", &inner))
		s = inner;
	struct json_object *f = json_object_new_object();
	static const char *const keys[] = {"model", "loss", "optimizer", "data"};
	for (int i = 0; i < 4; i++) {
		struct json_object *v = aios_json_lookup(s, keys[i]);
		json_object_object_add(f, keys[i], v ? aios_json_copy(v) : NULL);
	}
	struct json_object *opt = aios_json_lookup(f, "optimizer");
	if (opt && json_object_is_type(opt, json_type_object))
		json_object_object_del(opt, "epochs"); /* more epochs may continue a finished run */
	struct aios_sha256 *h = aios_sha256_new();
	const char *js = json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN);
	aios_sha256_update(h, js, strlen(js));
	json_object_put(f);
	const struct trainer_dataset *sets[] = {&t->train, &t->val};
	for (int i = 0; i < 2; i++) {
		const struct trainer_dataset *d = sets[i];
		aios_sha256_update(h, &d->rows, sizeof(d->rows));
		aios_sha256_update(h, d->x, (size_t)d->rows * d->cols * sizeof(float));
		aios_sha256_update(h, d->t, (size_t)d->rows * d->tcols * sizeof(float));
	}
	uint8_t d[AIOS_SHA256_LEN];
	aios_sha256_final(h, d);
	aios_sha256_hex(d, t->fingerprint);
}

static enum aios_err load_data(struct trainer *t)
{
	const struct trainer_config *c = t->cfg;
	enum aios_err e;
	if (c->inline_data)
		e = trainer_parse_inline(c->inline_data, "spec.data.inline", &c->labels, &t->train);
	else
		e = trainer_load(c->data_uri, &c->data, &c->labels, &t->train);
	if (e)
		return e;
	trainer_split(&t->train, c->validation_split, c->seed, &t->val);
	if (t->train.rows < 1)
		return aios_fail(AIOS_ERR_INVALID,
		                 "spec.data.validationSplit: %g leaves no training rows",
		                 c->validation_split);
	return AIOS_OK;
}

enum aios_err trainer_new(const struct trainer_config *c, int threads, struct trainer_comm *comm,
                          struct trainer **out)
{
	*out = NULL;
	struct trainer *t = aios_xcalloc(1, sizeof(*t));
	t->cfg = c;
	t->t0 = aios_now_s();
	t->last_val = NAN;
	t->last_val_acc = NAN;
	t->last_loss = NAN;
	trainer_comm_local(&t->local);
	t->comm = comm ? comm : &t->local;
	enum aios_err e = load_data(t);
	if (e) {
		trainer_free(t);
		return e;
	}
	int sizes[AIOS_MODEL_MAX_LAYERS + 1];
	int nl = trainer_config_sizes(c, t->train.cols, sizes);
	struct aios_model *m = aios_model_new(c->type, c->activation, c->output_act, nl, sizes);
	if (c->normalize) {
		aios_model_enable_norm(m);
		trainer_norm_stats(&t->train, m->norm_mean, m->norm_std);
		trainer_normalize(&t->train, m->norm_mean, m->norm_std);
		trainer_normalize(&t->val, m->norm_mean, m->norm_std);
	}
	trainer_net_init(&t->net, m, c->loss);
	trainer_net_init_params(&t->net, c->seed);
	trainer_rng_seed(&t->rng, c->seed);
	fingerprint(t);

	t->threads = threads < 1                     ? 1
	             : threads > TRAINER_MAX_THREADS ? TRAINER_MAX_THREADS
	                                             : threads;
	t->pool = trainer_pool_new(t->threads);
	t->w = aligned_alloc(64, sizeof(struct worker) * (size_t)t->threads);
	if (!t->w)
		abort();
	for (int i = 0; i < t->threads; i++) {
		struct worker *w = &t->w[i];
		memset(w, 0, sizeof(*w));
		trainer_ws_init(&w->ws, &t->net, CHUNK);
		w->xbuf = aios_xmalloc((size_t)CHUNK * t->train.cols * sizeof(float));
		w->tbuf = aios_xmalloc((size_t)CHUNK * t->train.tcols * sizeof(float));
		w->grads = i == 0 ? t->net.grads : w->ws.grads;
	}
	t->idx = aios_xmalloc((size_t)t->train.rows * sizeof(*t->idx));
	if ((e = t->comm->broadcast(t->comm, t->net.params, t->net.n_params))) {
		trainer_free(t);
		return aios_fail_wrap(e, "broadcasting the initial parameters");
	}
	trainer_net_refresh(&t->net);
	aios_info("trainer_ready",
	          "%s model, %d layers, %zu parameters, %lld training rows, %lld validation rows, "
	          "%d features, %d threads, kernel %s",
	          aios_model_type_name(c->type), nl, t->net.n_params, (long long)t->train.rows,
	          (long long)t->val.rows, t->train.cols, t->threads, aios_matmul_kernel_name());
	*out = t;
	return AIOS_OK;
}

void trainer_free(struct trainer *t)
{
	if (!t)
		return;
	trainer_pool_free(t->pool);
	for (int i = 0; t->w && i < t->threads; i++) {
		trainer_ws_cleanup(&t->w[i].ws);
		free(t->w[i].xbuf);
		free(t->w[i].tbuf);
	}
	free(t->w);
	free(t->idx);
	if (t->net.model)
		trainer_net_cleanup(&t->net);
	trainer_dataset_cleanup(&t->train);
	trainer_dataset_cleanup(&t->val);
	free(t);
}

/* ---------------------------------------------------------------- the team's work */

/* Rows [lo, hi) of this worker's share of the current batch. */
static void share(const struct trainer *t, int i, int n, int64_t *lo, int64_t *hi)
{
	*lo = t->b_start + t->b_rows * i / n;
	*hi = t->b_start + t->b_rows * (i + 1) / n;
}

/* Points x/tt at rows [r, r + rows) in epoch order, gathering them if shuffled. */
static void rows_at(const struct trainer *t, struct worker *w, int64_t r, int rows, const float **x,
                    const float **tt)
{
	const struct trainer_dataset *d = t->set;
	if (!t->shuffled || d != &t->train) {
		*x = d->x + (size_t)r * d->cols;
		*tt = d->t + (size_t)r * d->tcols;
		return;
	}
	const size_t row_bytes = (size_t)d->cols * sizeof(float);
	const int64_t n = d->rows;
	for (int k = 0; k < rows; k++) {
		/* random rows: keep several cache misses in flight, across batch boundaries */
		if (r + k + PREFETCH < n) {
			size_t ahead = t->idx[r + k + PREFETCH];
			const char *next = (const char *)(d->x + ahead * d->cols);
			for (size_t off = 0; off < row_bytes; off += 64)
				__builtin_prefetch(next + off);
			__builtin_prefetch(d->t + ahead * d->tcols);
		}
		size_t src = t->idx[r + k];
		const float *restrict xs = d->x + src * d->cols, *restrict ts =
		                                                     d->t + src * d->tcols;
		float *restrict xd = w->xbuf + (size_t)k * d->cols;
		float *restrict td = w->tbuf + (size_t)k * d->tcols;
		for (int c = 0; c < d->cols; c++)
			xd[c] = xs[c];
		for (int c = 0; c < d->tcols; c++)
			td[c] = ts[c];
	}
	*x = w->xbuf;
	*tt = w->tbuf;
}

static void train_share(void *ud, int i, int n)
{
	struct trainer *t = ud;
	struct worker *w = &t->w[i];
	int64_t lo, hi;
	share(t, i, n, &lo, &hi);
	memset(w->grads, 0, t->net.n_params * sizeof(float));
	w->loss = 0;
	for (int64_t r = lo; r < hi; r += CHUNK) {
		int rows = (int)(hi - r < CHUNK ? hi - r : CHUNK);
		const float *x, *tt;
		rows_at(t, w, r, rows, &x, &tt);
		w->loss += trainer_net_train_rows(&t->net, &w->ws, x, tt, rows, t->inv_n, w->grads);
	}
}

static void eval_share(void *ud, int i, int n)
{
	struct trainer *t = ud;
	struct worker *w = &t->w[i];
	int64_t lo, hi;
	share(t, i, n, &lo, &hi);
	w->loss = 0;
	w->correct = 0;
	for (int64_t r = lo; r < hi; r += CHUNK) {
		int rows = (int)(hi - r < CHUNK ? hi - r : CHUNK), right;
		const float *x, *tt;
		rows_at(t, w, r, rows, &x, &tt);
		w->loss += trainer_net_eval_rows(&t->net, &w->ws, x, tt, rows, &right);
		w->correct += right;
	}
}

/* net.grads[lo, hi) += the other workers' gradients, in worker order as one thread
 * would add them; with t->step_in_team, the optimizer step over [lo, hi) too. */
static void reduce_step(struct trainer *t, size_t lo, size_t hi)
{
	struct trainer_net *net = &t->net;
	for (int w = 1; w < t->team; w++) {
		const float *restrict g = t->w[w].grads;
		float *restrict sum = net->grads;
		for (size_t k = lo; k < hi; k++)
			sum[k] += g[k];
	}
	if (t->step_in_team)
		trainer_optim_step(&t->cfg->optim, t->step, net->params + lo, net->grads + lo,
		                   net->m1 + lo, net->m2 + lo, hi - lo);
}

/*
 * The team's second pass over a batch. Worker i of n owns the same share of every
 * layer's output rows (trainer_net_layer_share): their weights and biases. It adds the
 * gradients of those parameters and, with t->step_in_team, steps them and refreshes
 * their columns of W^T, all without waiting for another worker, since no parameter it
 * reads is written by another. Every parameter gets the bits of the serial loops.
 */
static void update_share(void *ud, int i, int n)
{
	struct trainer *t = ud;
	struct trainer_net *net = &t->net;
	const struct aios_model *m = net->model;
	for (int k = 0; k < m->n_layers; k++) {
		const struct aios_model_layer *l = &m->layers[k];
		int r0, r1;
		trainer_net_layer_share(net, k, i, n, &r0, &r1);
		size_t w = (size_t)(l->w - net->params), b = (size_t)(l->b - net->params);
		reduce_step(t, w + (size_t)r0 * l->in, w + (size_t)r1 * l->in);
		reduce_step(t, b + (size_t)r0, b + (size_t)r1);
		if (t->step_in_team)
			aios_matmul_transpose_rows(net->wt + w, l->w, l->out, l->in, r0, r1);
	}
}

/* Workers worth using on a batch of rows. */
static int team_size(const struct trainer *t, int64_t rows)
{
	double work = (double)rows * (double)t->net.n_params;
	int64_t n = (int64_t)(work / MIN_WORK_PER_THREAD);
	return n < 1 ? 1 : n > t->threads ? t->threads : (int)n;
}

/* Mean loss of a whole dataset with the current parameters; acc (may be NULL) gets the
 * share of rows classified right, NaN for regression. Both NaN for an empty set. */
static double evaluate(struct trainer *t, const struct trainer_dataset *d, double *acc)
{
	if (acc)
		*acc = NAN;
	if (d->rows == 0)
		return NAN;
	t->set = d;
	t->b_start = 0;
	t->b_rows = d->rows;
	t->team = team_size(t, d->rows);
	trainer_pool_run_n(t->pool, t->team, eval_share, t);
	double s = 0;
	int64_t right = 0;
	for (int i = 0; i < t->team; i++) {
		s += t->w[i].loss;
		right += t->w[i].correct;
	}
	if (acc && trainer_loss_classifies(t->cfg->loss))
		*acc = (double)right / (double)d->rows;
	return s / (double)d->rows;
}

double trainer_eval_train(struct trainer *t)
{
	return evaluate(t, &t->train, NULL);
}

void trainer_accuracy(struct trainer *t, double *train, double *val)
{
	evaluate(t, &t->train, train);
	evaluate(t, &t->val, val);
}

/* ---------------------------------------------------------------- epochs */

static enum aios_err diverged(const struct trainer *t, double batch_loss)
{
	return aios_fail(AIOS_ERR_DIVERGED,
	                 "training diverged at epoch %lld, step %lld: the loss is %s "
	                 "(lower optimizer.learningRate or set data.normalize)",
	                 (long long)t->epoch + 1, (long long)t->step + 1,
	                 isnan(batch_loss) ? "NaN" : "infinite");
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum aios_err trainer_epoch(struct trainer *t, struct trainer_progress *p)
{
	const struct trainer_config *c = t->cfg;
	const int64_t N = t->train.rows;
	const int64_t B = c->optim.type == TRAINER_OPT_GD || c->batch_size > N ? N : c->batch_size;
	const int rank = t->comm->rank, world = t->comm->world;
	double start = aios_now_s(), cpu0 = cpu_seconds(), loss_sum = 0;
	int64_t local_rows = 0;

	t->shuffled = c->optim.type != TRAINER_OPT_GD;
	if (t->shuffled) {
		for (int64_t i = 0; i < N; i++)
			t->idx[i] = (uint32_t)i;
		trainer_rng_shuffle(&t->rng, t->idx, (uint64_t)N);
	}
	t->set = &t->train;
	/* a single process: no all-reduce to wait for between the gradient and the step */
	const int local = !t->comm->update && t->comm->allreduce_sum == local_noop;
	for (int64_t first = 0; first < N; first += B) {
		int64_t rows = N - first < B ? N - first : B;
		t->b_start = first + rows * rank / world;
		t->b_rows = first + rows * (rank + 1) / world - t->b_start;
		t->inv_n = 1.0f / (float)rows;
		t->team = team_size(t, t->b_rows);
		trainer_pool_run_n(t->pool, t->team, train_share, t);
		double batch_loss = 0;
		for (int i = 0; i < t->team; i++)
			batch_loss += t->w[i].loss;
		enum aios_err e = AIOS_OK;
		if (local) {
			/* one process: the team adds the gradients, steps and refreshes W^T,
			 * each worker its share of the parameters */
			if (!isfinite(batch_loss))
				return diverged(t, batch_loss);
			t->step++;
			t->step_in_team = 1;
			trainer_pool_run_n(t->pool, t->team, update_share, t);
		} else {
			t->step_in_team = 0;
			if (t->team > 1)
				trainer_pool_run_n(t->pool, t->team, update_share, t);
			if (!t->comm->update)
				e = t->comm->allreduce_sum(t->comm, t->net.grads, t->net.n_params);
			if (e)
				return aios_fail_wrap(e, "epoch %lld: all-reduce",
				                      (long long)t->epoch + 1);
			if (!isfinite(batch_loss))
				return diverged(t, batch_loss);
			t->step++;
			if (t->comm->update) /* parameter servers run the optimizer */
				e = t->comm->update(t->comm, t->net.params, t->net.grads,
				                    t->net.n_params);
			else
				trainer_optim_step(&c->optim, t->step, t->net.params, t->net.grads,
				                   t->net.m1, t->net.m2, t->net.n_params);
			if (e)
				return aios_fail_wrap(e, "epoch %lld: parameter servers",
				                      (long long)t->epoch + 1);
			trainer_net_refresh(&t->net);
		}
		loss_sum += batch_loss;
		local_rows += t->b_rows;
		if (aios_shutdown_requested())
			return aios_fail(AIOS_ERR_CANCELLED, "epoch %lld: stopped by a signal",
			                 (long long)t->epoch + 1);
	}
	for (size_t k = 0; k < t->net.n_params; k++)
		if (!isfinite(t->net.params[k]))
			return aios_fail(
			    AIOS_ERR_DIVERGED,
			    "training diverged at epoch %lld: parameter %zu is not finite",
			    (long long)t->epoch + 1, k);
	double secs = aios_now_s() - start, cpu = cpu_seconds() - cpu0;
	t->epoch++;
	t->samples += local_rows;
	t->last_loss = local_rows ? loss_sum / (double)local_rows : NAN;
	t->last_val = evaluate(t, &t->val, &t->last_val_acc);
	if (t->val.rows && !isfinite(t->last_val))
		return aios_fail(AIOS_ERR_DIVERGED,
		                 "training diverged at epoch %lld: validation loss is not finite",
		                 (long long)t->epoch);
	p->epoch = t->epoch;
	p->epochs = c->epochs;
	p->loss = t->last_loss;
	p->val_loss = t->last_val;
	p->val_accuracy = t->last_val_acc;
	p->samples_per_sec = secs > 0 ? (double)local_rows / secs : 0;
	p->elapsed_s = aios_now_s() - t->t0;
	p->cpu_s = cpu;
	p->samples_total = t->samples;
	p->step = t->step;
	return AIOS_OK;
}

int64_t trainer_epochs_done(const struct trainer *t)
{
	return t->epoch;
}

/* ---------------------------------------------------------------- checkpoints */

enum aios_err trainer_checkpoint(struct trainer *t, const char *dir)
{
	struct trainer_ckpt c = {
	    .epoch = t->epoch,
	    .step = t->step,
	    .position = 0,
	    .threads = t->threads,
	    .loss = t->last_loss,
	    .val_loss = t->last_val,
	    .n_params = t->net.n_params,
	    .params = t->net.params,
	    .m1 = t->net.m1,
	    .m2 = t->net.m2,
	};
	memcpy(c.rng, t->rng.s, sizeof(c.rng));
	memcpy(c.fingerprint, t->fingerprint, sizeof(c.fingerprint));
	return trainer_ckpt_write(dir, &c);
}

enum aios_err trainer_resume(struct trainer *t, const char *dir, int64_t *resumed)
{
	*resumed = 0;
	struct trainer_ckpt c;
	int found;
	enum aios_err e = trainer_ckpt_latest(dir, t->fingerprint, t->net.n_params, &c, &found);
	if (e || !found)
		return e;
	size_t bytes = t->net.n_params * sizeof(float);
	memcpy(t->net.params, c.params, bytes);
	memcpy(t->net.m1, c.m1, bytes);
	memcpy(t->net.m2, c.m2, bytes);
	memcpy(t->rng.s, c.rng, sizeof(c.rng));
	t->epoch = c.epoch;
	t->step = c.step;
	t->samples = c.epoch * t->train.rows;
	t->last_loss = c.loss;
	t->last_val = c.val_loss;
	if (c.threads != t->threads)
		aios_warn(
		    "resume_threads",
		    "checkpoint was written with %d threads, this run has %d: the result will "
		    "not be bit-identical to an uninterrupted run",
		    c.threads, t->threads);
	trainer_ckpt_cleanup(&c);
	e = t->comm->broadcast(t->comm, t->net.params, t->net.n_params);
	if (e)
		return aios_fail_wrap(e, "broadcasting resumed parameters");
	trainer_net_refresh(&t->net);
	*resumed = t->epoch;
	return AIOS_OK;
}

/* ---------------------------------------------------------------- artifact */

/* Encodes m as an artifact, or as ONNX, and writes it to uri atomically; fills sha256
 * (of the file, hex) and bytes. */
static enum aios_err write_model(struct aios_model *m, const char *uri, int as_onnx,
                                 char sha256[AIOS_SHA256_HEX], size_t *bytes)
{
	char path[4096];
	enum aios_err e = trainer_uri_to_path(uri, path, sizeof(path));
	if (e)
		return e;
	uint8_t *b;
	size_t n;
	e = as_onnx ? aios_onnx_export_mem(m, &b, &n)
	            : aios_model_write_mem(m, AIOS_DTYPE_F32, &b, &n);
	if (e)
		return aios_fail_wrap(e, "%s", uri);
	e = aios_model_atomic_write(path, b, n);
	if (!e) {
		uint8_t d[AIOS_SHA256_LEN];
		aios_sha256(b, n, d);
		aios_sha256_hex(d, sha256);
		*bytes = n;
	}
	free(b);
	return e;
}

enum aios_err trainer_save(struct trainer *t, const char *uri, struct trainer_saved *out)
{
	const struct trainer_config *c = t->cfg;
	struct aios_model *m = t->net.model;
	memset(out, 0, sizeof(*out));
	const char *job = getenv("AIOS_JOB");
	struct json_object *meta = m->meta;
	if (job && *job)
		json_object_object_add(meta, "job", json_object_new_string(job));
	json_object_object_add(meta, "trainer",
	                       json_object_new_string("aios-trainer " AIOS_VERSION));
	json_object_object_add(meta, "loss", json_object_new_string(trainer_loss_name(c->loss)));
	json_object_object_add(meta, "optimizer",
	                       json_object_new_string(trainer_optim_name(c->optim.type)));
	json_object_object_add(meta, "epochs", json_object_new_int64(t->epoch));
	json_object_object_add(meta, "seed", json_object_new_int64((int64_t)c->seed));
	json_object_object_add(meta, "train_rows", json_object_new_int64(t->train.rows));
	json_object_object_add(meta, "final_loss",
	                       isfinite(t->last_loss) ? json_object_new_double(t->last_loss)
	                                              : NULL);
	json_object_object_add(meta, "validation_loss",
	                       isfinite(t->last_val) ? json_object_new_double(t->last_val) : NULL);
	/* the artifact first: the ONNX file names its digest (aios.artifact.sha256) */
	enum aios_err e = write_model(m, uri, 0, out->sha256, &out->bytes);
	if (e || !(c->formats & TRAINER_OUT_ONNX))
		return e;
	if ((e = trainer_onnx_uri(uri, out->onnx_uri, sizeof(out->onnx_uri))) ||
	    (e = write_model(m, out->onnx_uri, 1, out->onnx_sha256, &out->onnx_bytes)))
		return e;
	out->onnx = 1;
	return AIOS_OK;
}

/* {"uri":..,"sha256":..,"bytes":..} as the final line writes a file's entry. */
static void file_entry(struct aios_trainlog_file *f, const char *uri, const char *sha256,
                       size_t bytes)
{
	snprintf(f->uri, sizeof(f->uri), "%s", uri);
	snprintf(f->sha256, sizeof(f->sha256), "%s", sha256);
	f->bytes = (int64_t)bytes;
}

void trainer_saved_final(const struct trainer_saved *s, const char *uri,
                         struct aios_trainlog_final *f)
{
	file_entry(&f->artifact, uri, s->sha256, s->bytes);
	memset(&f->onnx, 0, sizeof(f->onnx));
	f->onnx.bytes = -1;
	if (s->onnx)
		file_entry(&f->onnx, s->onnx_uri, s->onnx_sha256, s->onnx_bytes);
}

struct aios_model *trainer_model(struct trainer *t)
{
	return t->net.model;
}

int64_t trainer_train_rows(const struct trainer *t)
{
	return t->train.rows;
}

const char *trainer_fingerprint(const struct trainer *t)
{
	return t->fingerprint;
}
