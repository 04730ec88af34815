/*
 * forward.c - aios-bench-onnx: the latency of aios-serve's forward pass on an ONNX model,
 * per batch, on one thread: the aios side of bench/onnx/run.sh.
 *
 *   aios-bench-onnx --model M.onnx --input X.f32 [--batches 1,32,256] [--repeats 15]
 *                   [--repeat-ms 100] [--warmup-ms 200] [--out-dir DIR]
 *
 * The model takes aios-serve's own path: aios_source_load_model (format onnx: the ONNX
 * reader lowers the graph onto dense layers), aios_engine_new with aios-serve's default
 * options (fp32, no pruning), then aios_engine_forward, the call every batch of request
 * rows goes through. No HTTP, no JSON: the kernels alone. X.f32 holds rows of float32
 * (little-endian) of the model's input width, at least as many as the largest batch;
 * batch B takes the first B rows.
 *
 * Timing, per batch (ort_bench.mjs times InferenceSession.run the same way):
 *   warm-up   forward passes for --warmup-ms (at least 3); they also give the time of
 *             one pass
 *   repeats   --repeats timed runs of N back-to-back passes, N chosen so that one run
 *             lasts about --repeat-ms (at least one pass); a run's figure is its wall
 *             time (CLOCK_MONOTONIC) divided by N
 *   reported  the median of the runs (the mean of the middle two for an even count), and
 *             the fastest and slowest run, in microseconds per batch
 * Wall time, not CPU time: onnxruntime-node is timed the same way, and figures count
 * only from a quiet machine (bench/lib/quiet.sh).
 *
 * Output on stdout: a line "model=PATH inputs=N outputs=M layers=L params=P", then a line
 * per batch "batch=B iters=N repeats=R median_us=X min_us=X max_us=X". With --out-dir,
 * the outputs of each batch's last pass go to DIR/aios.bB.f32 (float32, (B, outputs)),
 * for run.sh's agreement check.
 * Exit: 0 ok, 1 bad flags or input file (the message names it), 2 the model cannot be
 * loaded (aios-serve's exit code for the same failure).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/mem.h"
#include "model/model.h"
#include "serve/engine.h"
#include "serve/source.h"

#define MAX_BATCHES 16       /* entries of --batches */
#define MAX_BATCH   65536    /* rows in one batch */
#define MAX_REPEATS 1001     /* timed runs per batch */
#define MAX_MS      60000    /* --repeat-ms and --warmup-ms */
#define MAX_ITERS   10000000 /* passes in one timed run */

struct opts {
	const char *model, *input, *out_dir;
	int batches[MAX_BATCHES], n_batches;
	int repeats;
	double repeat_ms, warmup_ms;
};

struct timing {
	int iters;                        /* passes per timed run */
	double median_us, min_us, max_us; /* per batch, over the runs */
};

/* ---------------------------------------------------------------- flags */

static void usage(FILE *f)
{
	fputs("usage: aios-bench-onnx --model M.onnx --input X.f32 [--batches 1,32,256]\n"
	      "                       [--repeats 15] [--repeat-ms 100] [--warmup-ms 200]\n"
	      "                       [--out-dir DIR]\n"
	      "Times aios-serve's forward pass (aios_engine_forward, one thread) on an ONNX\n"
	      "model loaded the way aios-serve loads it, per batch of the first B rows of X.\n"
	      "  --model M.onnx    the ONNX model (a path or file:// URI)\n"
	      "  --input X.f32     input rows, float32 little-endian, the model's input width\n"
	      "  --batches LIST    comma-separated batch sizes, 1..65536 (default 1,32,256)\n"
	      "  --repeats R       timed runs per batch, 1..1001; the median is reported\n"
	      "                    (default 15)\n"
	      "  --repeat-ms T     length of one timed run, ms (default 100)\n"
	      "  --warmup-ms T     untimed passes first, ms (default 200)\n"
	      "  --out-dir DIR     write each batch's outputs to DIR/aios.bB.f32\n"
	      "Output: a model line, then per batch \"batch=B iters=N repeats=R median_us=X\n"
	      "min_us=X max_us=X\" (wall time per batch). Exit: 0 ok, 1 bad flags or input,\n"
	      "2 the model cannot be loaded.\n",
	      f);
}

/* The number in v, or exit 1 naming the flag when it is not one in [lo, hi]. */
static double num_arg(const char *flag, const char *v, double lo, double hi)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || errno || !(d >= lo && d <= hi)) {
		fprintf(stderr, "aios-bench-onnx: %s \"%s\": want a number in [%g, %g]\n", flag, v,
		        lo, hi);
		exit(1);
	}
	return d;
}

/* Parses "1,32,256" into o->batches, or exits 1. */
static void parse_batches(struct opts *o, const char *v)
{
	char *copy = aios_xstrdup(v), *save = NULL;
	o->n_batches = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (o->n_batches == MAX_BATCHES) {
			fprintf(stderr, "aios-bench-onnx: --batches \"%s\": more than %d sizes\n",
			        v, MAX_BATCHES);
			exit(1);
		}
		o->batches[o->n_batches++] = (int)num_arg("--batches", t, 1, MAX_BATCH);
	}
	free(copy);
	if (!o->n_batches) {
		fprintf(stderr, "aios-bench-onnx: --batches \"%s\": no batch size\n", v);
		exit(1);
	}
}

/* Fills o from argv; returns 1 on bad flags (said on stderr), else 0 with *done set
 * when --help has been answered. */
static int parse_flags(struct opts *o, int argc, char **argv, int *done)
{
	static const struct option longs[] = {{"model", required_argument, 0, 'm'},
	                                      {"input", required_argument, 0, 'i'},
	                                      {"batches", required_argument, 0, 'b'},
	                                      {"repeats", required_argument, 0, 'r'},
	                                      {"repeat-ms", required_argument, 0, 't'},
	                                      {"warmup-ms", required_argument, 0, 'w'},
	                                      {"out-dir", required_argument, 0, 'o'},
	                                      {"help", no_argument, 0, 'h'},
	                                      {0, 0, 0, 0}};
	*o = (struct opts){.repeats = 15, .repeat_ms = 100, .warmup_ms = 200};
	parse_batches(o, "1,32,256");
	*done = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'i': o->input = optarg; break;
		case 'b': parse_batches(o, optarg); break;
		case 'r': o->repeats = (int)num_arg("--repeats", optarg, 1, MAX_REPEATS); break;
		case 't': o->repeat_ms = num_arg("--repeat-ms", optarg, 0.001, MAX_MS); break;
		case 'w': o->warmup_ms = num_arg("--warmup-ms", optarg, 0, MAX_MS); break;
		case 'o': o->out_dir = optarg; break;
		case 'h':
			usage(stdout);
			*done = 1;
			return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind < argc || !o->model || !o->input) {
		fprintf(stderr, "aios-bench-onnx: %s (see --help)\n",
		        optind < argc ? "unexpected argument" : "--model and --input are required");
		return 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- timing */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Times the first n rows of x through e as the header says; y (n, outputs) is left
 * holding the last pass's outputs, s is scratch for n rows. */
static void time_batch(const struct aios_engine *e, const float *x, int n, float *y, float *s,
                       const struct opts *o, struct timing *t)
{
	int64_t t0 = aios_now_ns(), now;
	int64_t calls = 0;
	do {
		aios_engine_forward(e, x, n, y, s);
		calls++;
		now = aios_now_ns();
	} while (calls < 3 || (double)(now - t0) < o->warmup_ms * 1e6);
	double one_ns = (double)(now - t0) / (double)calls;
	double want = ceil(o->repeat_ms * 1e6 / (one_ns > 1 ? one_ns : 1));
	t->iters = want < 1 ? 1 : want > MAX_ITERS ? MAX_ITERS : (int)want;

	double *us = aios_xmalloc(sizeof *us * (size_t)o->repeats);
	for (int r = 0; r < o->repeats; r++) {
		t0 = aios_now_ns();
		for (int i = 0; i < t->iters; i++)
			aios_engine_forward(e, x, n, y, s);
		us[r] = (double)(aios_now_ns() - t0) / 1e3 / t->iters;
	}
	qsort(us, (size_t)o->repeats, sizeof *us, cmp_double);
	int h = o->repeats / 2;
	t->median_us = o->repeats % 2 ? us[h] : (us[h - 1] + us[h]) / 2;
	t->min_us = us[0];
	t->max_us = us[o->repeats - 1];
	free(us);
}

/* Writes n floats to DIR/aios.bB.f32; returns 0, or 1 with a message naming the file. */
static int write_outputs(const char *dir, int batch, const float *y, size_t n)
{
	char *path = aios_xasprintf("%s/aios.b%d.f32", dir, batch);
	FILE *f = fopen(path, "wb");
	int bad = !f || fwrite(y, sizeof *y, n, f) != n;
	if (f && fclose(f))
		bad = 1;
	if (bad)
		fprintf(stderr, "aios-bench-onnx: --out-dir: cannot write %s: %s\n", path,
		        strerror(errno));
	free(path);
	return bad;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	struct opts o;
	int done, rc = parse_flags(&o, argc, argv, &done);
	if (rc || done)
		return rc;

	struct aios_model *m;
	if (aios_source_load_model(o.model, NULL, "onnx", &m)) {
		fprintf(stderr, "aios-bench-onnx: cannot load the model: %s\n", aios_errmsg());
		return 2;
	}
	struct aios_engine_opts eo = {.quantize = AIOS_QUANT_NONE}; /* aios-serve's defaults */
	struct aios_engine *e;
	if (aios_engine_new(m, &eo, &e)) {
		fprintf(stderr, "aios-bench-onnx: cannot serve the model %s: %s\n", o.model,
		        aios_errmsg());
		aios_model_free(m);
		return 2;
	}
	int nin = aios_engine_inputs(e), nout = aios_engine_outputs(e), max_b = 0;
	for (int i = 0; i < o.n_batches; i++)
		max_b = o.batches[i] > max_b ? o.batches[i] : max_b;

	struct aios_buf xb;
	aios_buf_init(&xb, AIOS_CAP_DATASET);
	size_t row_bytes = sizeof(float) * (size_t)nin;
	if (aios_buf_read_file(&xb, o.input)) {
		fprintf(stderr, "aios-bench-onnx: cannot read the input rows: %s\n", aios_errmsg());
		rc = 1;
	} else if (xb.len % row_bytes || xb.len / row_bytes < (size_t)max_b) {
		fprintf(stderr,
		        "aios-bench-onnx: --input %s: %zu bytes are not %d or more rows of %d "
		        "float32 (the model's input width) for batch %d\n",
		        o.input, xb.len, max_b, nin, max_b);
		rc = 1;
	}
	if (!rc) {
		printf("model=%s inputs=%d outputs=%d layers=%d params=%zu\n", o.model, nin, nout,
		       m->n_layers, aios_model_param_count(m));
		const float *x = (const float *)xb.data; /* malloc'd: aligned for float */
		float *y = aios_xmalloc(sizeof *y * (size_t)max_b * (size_t)nout);
		float *s = aios_xmalloc(sizeof *s * aios_engine_scratch_floats(e, max_b));
		for (int i = 0; i < o.n_batches && !rc; i++) {
			struct timing t;
			int b = o.batches[i];
			time_batch(e, x, b, y, s, &o, &t);
			printf(
			    "batch=%d iters=%d repeats=%d median_us=%.3f min_us=%.3f max_us=%.3f\n",
			    b, t.iters, o.repeats, t.median_us, t.min_us, t.max_us);
			fflush(stdout);
			if (o.out_dir)
				rc = write_outputs(o.out_dir, b, y, (size_t)b * (size_t)nout);
		}
		free(y);
		free(s);
	}
	aios_buf_cleanup(&xb);
	aios_engine_free(e);
	aios_model_free(m);
	return rc;
}
