/*
 * render.c - tables, progress bars and loss curves for kubectl-aios (see render.h).
 */
#include "render.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/mem.h"

void aios_cli_age(const char *rfc3339, time_t now, char *out, size_t n)
{
	time_t t = rfc3339 ? aios_rfc3339_parse(rfc3339) : -1;
	if (t < 0) {
		snprintf(out, n, "<unknown>");
		return;
	}
	long s = (long)(now - t);
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, n, "%lds", s);
	else if (s < 2 * 3600)
		snprintf(out, n, "%ldm", s / 60);
	else if (s < 2 * 86400)
		snprintf(out, n, "%ldh", s / 3600);
	else
		snprintf(out, n, "%ldd", s / 86400);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* Validation accuracy (0..1) of a classifier's status.progress, or NAN. */
static double tj_accuracy(struct json_object *o)
{
	double acc = NAN;
	if (aios_json_opt_double(o, "status.progress.accuracy", NAN, &acc))
		aios_errclear();
	return acc;
}

/* DETAIL column of a TrainingJob: workers, epoch/epochs, loss, and accuracy when the
 * model classifies; wide: attempts and the artifact's digest too. */
static void tj_detail(struct json_object *o, int wide, char *out, size_t n)
{
	int64_t workers = 1, epoch = 0, epochs = 0;
	double loss = NAN, acc = tj_accuracy(o);
	if (aios_json_opt_int(o, "spec.distributed.workers", 1, &workers) ||
	    aios_json_opt_int(o, "status.progress.epoch", 0, &epoch) ||
	    aios_json_opt_int(o, "status.progress.epochs", 0, &epochs) ||
	    aios_json_opt_double(o, "status.progress.loss", NAN, &loss))
		aios_errclear();
	char l[32] = "-", a[32] = "";
	if (isfinite(loss))
		snprintf(l, sizeof(l), "%.4g", loss);
	if (isfinite(acc))
		snprintf(a, sizeof(a), " acc=%.3f", acc);
	int len = snprintf(out, n, "workers=%lld epoch=%lld/%lld loss=%s%s", (long long)workers,
	                   (long long)epoch, (long long)epochs, l, a);
	if (!wide || len < 0 || (size_t)len >= n)
		return;
	int64_t attempts = 0;
	if (aios_json_opt_int(o, "status.attempts", 0, &attempts))
		aios_errclear();
	const char *sha = aios_json_str(o, "status.artifact.sha256");
	snprintf(out + len, n - (size_t)len, " attempts=%lld artifact=%s sha256=%.12s",
	         (long long)attempts, or_dash(aios_json_str(o, "status.artifact.uri")),
	         or_dash(sha));
}

/* DETAIL column of a ModelService: ready/desired and url; wide: the measured load and
 * the model's digest too. */
static void ms_detail(struct json_object *o, int wide, char *out, size_t n)
{
	int64_t ready = 0, desired = 0;
	if (aios_json_opt_int(o, "status.readyReplicas", 0, &ready) ||
	    aios_json_opt_int(o, "status.desiredReplicas", 0, &desired))
		aios_errclear();
	int len = snprintf(out, n, "ready=%lld/%lld url=%s", (long long)ready, (long long)desired,
	                   or_dash(aios_json_str(o, "status.url")));
	if (!wide || len < 0 || (size_t)len >= n)
		return;
	double rps = NAN, p99 = NAN, conc = NAN;
	if (aios_json_opt_double(o, "status.metrics.rps", NAN, &rps) ||
	    aios_json_opt_double(o, "status.metrics.latencyP99Ms", NAN, &p99) ||
	    aios_json_opt_double(o, "status.metrics.concurrency", NAN, &conc))
		aios_errclear();
	char r[24] = "-", p[24] = "-", c[24] = "-";
	if (isfinite(rps))
		snprintf(r, sizeof(r), "%.4g", rps);
	if (isfinite(p99))
		snprintf(p, sizeof(p), "%.4gms", p99);
	if (isfinite(conc))
		snprintf(c, sizeof(c), "%.3g", conc);
	snprintf(out + len, n - (size_t)len, " rps=%s p99=%s concurrency=%s sha256=%.12s", r, p, c,
	         or_dash(aios_json_str(o, "status.model.sha256")));
}

static enum aios_err rows(struct aios_buf *out, struct json_object *list, const char *kind,
                          unsigned flags, time_t now)
{
	int all_ns = (flags & AIOS_CLI_ALL_NS) != 0, wide = (flags & AIOS_CLI_WIDER) != 0;
	struct json_object *items = list ? aios_json_lookup(list, "items") : NULL;
	size_t n = items && json_object_is_type(items, json_type_array)
	               ? json_object_array_length(items)
	               : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(items, i);
		char detail[512], age[16];
		if (strcmp(kind, "TrainingJob") == 0)
			tj_detail(o, wide, detail, sizeof(detail));
		else
			ms_detail(o, wide, detail, sizeof(detail));
		aios_cli_age(aios_json_str(o, "metadata.creationTimestamp"), now, age, sizeof(age));
		enum aios_err e;
		if (all_ns)
			e = aios_buf_printf(out, "%-12s %-16s %-24s %-11s %-6s %s\n", kind,
			                    or_dash(aios_json_str(o, "metadata.namespace")),
			                    or_dash(aios_json_str(o, "metadata.name")),
			                    or_dash(aios_json_str(o, "status.phase")), age, detail);
		else
			e = aios_buf_printf(out, "%-12s %-24s %-11s %-6s %s\n", kind,
			                    or_dash(aios_json_str(o, "metadata.name")),
			                    or_dash(aios_json_str(o, "status.phase")), age, detail);
		if (e)
			return e;
	}
	return AIOS_OK;
}

enum aios_err aios_cli_table(struct aios_buf *out, struct json_object *tjs, struct json_object *mss,
                             unsigned flags, time_t now)
{
	enum aios_err e;
	if (flags & AIOS_CLI_ALL_NS)
		e = aios_buf_printf(out, "%-12s %-16s %-24s %-11s %-6s %s\n", "KIND", "NAMESPACE",
		                    "NAME", "PHASE", "AGE", "DETAIL");
	else
		e = aios_buf_printf(out, "%-12s %-24s %-11s %-6s %s\n", "KIND", "NAME", "PHASE",
		                    "AGE", "DETAIL");
	if (!e)
		e = rows(out, tjs, "TrainingJob", flags, now);
	if (!e)
		e = rows(out, mss, "ModelService", flags, now);
	return e;
}

enum aios_err aios_cli_progress(struct aios_buf *out, struct json_object *tj, int width)
{
	double percent = 0, loss = NAN, eta = -1;
	int64_t epoch = 0, epochs = 0;
	if (aios_json_opt_double(tj, "status.progress.percent", 0, &percent) ||
	    aios_json_opt_double(tj, "status.progress.loss", NAN, &loss) ||
	    aios_json_opt_double(tj, "status.progress.etaSeconds", -1, &eta) ||
	    aios_json_opt_int(tj, "status.progress.epoch", 0, &epoch) ||
	    aios_json_opt_int(tj, "status.progress.epochs", 0, &epochs))
		aios_errclear();
	const char *phase = aios_json_str(tj, "status.phase");
	if (phase && strcmp(phase, "Succeeded") == 0)
		percent = 100;
	if (percent < 0)
		percent = 0;
	if (percent > 100)
		percent = 100;
	if (width < 4)
		width = 4;
	int filled = (int)(percent / 100.0 * width + 0.5);
	enum aios_err e = aios_buf_puts(out, "[");
	for (int i = 0; i < width && !e; i++)
		e = aios_buf_puts(out, i < filled ? "#" : ".");
	if (!e)
		e = aios_buf_printf(out, "] %3.0f%%  %s  epoch %lld/%lld", percent, or_dash(phase),
		                    (long long)epoch, (long long)epochs);
	if (!e && isfinite(loss))
		e = aios_buf_printf(out, "  loss %.4g", loss);
	double acc = tj_accuracy(tj);
	if (!e && isfinite(acc))
		e = aios_buf_printf(out, "  accuracy %.1f%%", 100 * acc);
	if (!e && eta >= 0)
		e = aios_buf_printf(out, "  eta %.0fs", eta);
	return e;
}

enum aios_err aios_cli_curve(struct aios_buf *out, const double *losses, int n, int width,
                             int height)
{
	double lo = INFINITY, hi = -INFINITY;
	int finite = 0;
	for (int i = 0; i < n; i++)
		if (isfinite(losses[i])) {
			lo = fmin(lo, losses[i]);
			hi = fmax(hi, losses[i]);
			finite++;
		}
	if (!finite)
		return aios_buf_puts(out, "(no loss values yet)\n");
	if (width < 2)
		width = 2;
	if (height < 2)
		height = 2;
	char *grid = aios_xmalloc((size_t)width * (size_t)height);
	memset(grid, ' ', (size_t)width * (size_t)height);
	/* Column c shows the sample at the same fraction of the series (the newest at the right). */
	for (int c = 0; c < width; c++) {
		int i = n == 1 ? 0 : (int)((double)c * (n - 1) / (width - 1) + 0.5);
		if (!isfinite(losses[i]))
			continue;
		double f = hi > lo ? (losses[i] - lo) / (hi - lo) : 0.5;
		int r = height - 1 - (int)(f * (height - 1) + 0.5);
		grid[r * width + c] = '*';
	}
	enum aios_err e = AIOS_OK;
	for (int r = 0; r < height && !e; r++) {
		char label[16] = "";
		if (r == 0)
			snprintf(label, sizeof(label), "%.4g", hi);
		else if (r == height - 1)
			snprintf(label, sizeof(label), "%.4g", lo);
		e = aios_buf_printf(out, "%10s |%.*s\n", label, width, grid + r * width);
	}
	if (!e)
		e = aios_buf_printf(out, "%10s +", "");
	for (int c = 0; c < width && !e; c++)
		e = aios_buf_puts(out, "-");
	if (!e)
		e = aios_buf_printf(out, "\n%10s  %d epochs shown\n", "", n);
	free(grid);
	return e;
}

enum aios_err aios_cli_predict_body(const char *data, char **body)
{
	struct json_object *rows;
	enum aios_err e = aios_json_parse(data, strlen(data), "--data", &rows);
	if (e)
		return e;
	if (!json_object_is_type(rows, json_type_array) || json_object_array_length(rows) == 0) {
		json_object_put(rows);
		return aios_fail(AIOS_ERR_INVALID,
		                 "--data: expected a non-empty JSON array of rows, e.g. '[[5]]'");
	}
	struct json_object *req = json_object_new_object();
	json_object_object_add(req, "instances", rows);
	*body = aios_xstrdup(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	return AIOS_OK;
}
