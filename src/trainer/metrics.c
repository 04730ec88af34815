/*
 * metrics.c - /metrics for the trainer (see metrics.h).
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/mem.h"
#include "http/http.h"
#include "http/metrics.h"

struct trainer_metrics {
	struct aios_http_server *srv;
	struct aios_metrics *reg;
	struct aios_series *epoch, *epochs, *loss, *val_loss, *val_acc, *sps, *samples, *steps,
	    *elapsed;
	int64_t samples_seen, steps_seen;
};

static struct aios_series *gauge(struct aios_metrics *r, const char *name, const char *help)
{
	return aios_metric_with(aios_metrics_gauge(r, name, help, NULL));
}

enum aios_err trainer_metrics_start(int port, int rank, int world, const char *job,
                                    struct trainer_metrics **out)
{
	*out = NULL;
	struct trainer_metrics *m = aios_xcalloc(1, sizeof(*m));
	struct aios_metrics *r = m->reg = aios_metrics_new();
	m->epoch = gauge(r, "aios_trainer_epoch", "Epochs completed.");
	m->epochs = gauge(r, "aios_trainer_epochs", "Epochs the job runs in all.");
	m->loss = gauge(r, "aios_trainer_loss", "Mean training loss of the last epoch.");
	m->sps =
	    gauge(r, "aios_trainer_samples_per_second", "Training rows per second, last epoch.");
	m->elapsed = gauge(r, "aios_trainer_elapsed_seconds", "Seconds since training started.");
	m->samples = aios_metric_with(aios_metrics_counter(r, "aios_trainer_samples_total",
	                                                   "Training rows processed.", NULL));
	m->steps = aios_metric_with(
	    aios_metrics_counter(r, "aios_trainer_steps_total", "Optimizer steps taken.", NULL));
	char rs[16], ws[16];
	snprintf(rs, sizeof(rs), "%d", rank);
	snprintf(ws, sizeof(ws), "%d", world);
	aios_gauge_set(aios_metric_with(aios_metrics_gauge(r, "aios_trainer_info",
	                                                   "The trainer's place in its job.",
	                                                   "rank", "world", "job", NULL),
	                                rs, ws, job ? job : ""),
	               1);

	struct aios_http_config c;
	aios_http_config_defaults(&c);
	c.port = port;
	c.name = "metrics";
	c.max_body_bytes = 4096; /* GETs only */
	m->srv = aios_http_server_new(&c);
	enum aios_err e = aios_http_route(m->srv, "GET", "/metrics", aios_http_metrics_handler, r);
	if (!e)
		e = aios_http_route(m->srv, "GET", "/healthz", aios_http_ok_handler, NULL);
	if (!e)
		e = aios_http_server_start(m->srv);
	if (e) {
		trainer_metrics_stop(m);
		return aios_fail_wrap(e, "metrics port %d", port);
	}
	*out = m;
	return AIOS_OK;
}

int trainer_metrics_port(const struct trainer_metrics *m)
{
	return aios_http_server_port(m->srv);
}

void trainer_metrics_update(struct trainer_metrics *m, const struct trainer_progress *p)
{
	if (!m)
		return;
	aios_gauge_set(m->epoch, (double)p->epoch);
	aios_gauge_set(m->epochs, (double)p->epochs);
	aios_gauge_set(m->loss, p->loss);
	if (isfinite(p->val_loss)) {
		if (!m->val_loss)
			m->val_loss = gauge(m->reg, "aios_trainer_validation_loss",
			                    "Validation loss of the last epoch.");
		aios_gauge_set(m->val_loss, p->val_loss);
	}
	if (isfinite(p->val_accuracy)) {
		if (!m->val_acc)
			m->val_acc = gauge(m->reg, "aios_trainer_validation_accuracy",
			                   "Share of validation rows classified right, last epoch "
			                   "(classification models).");
		aios_gauge_set(m->val_acc, p->val_accuracy);
	}
	aios_gauge_set(m->sps, p->samples_per_sec);
	aios_gauge_set(m->elapsed, p->elapsed_s);
	if (p->samples_total > m->samples_seen) {
		aios_counter_add(m->samples, (double)(p->samples_total - m->samples_seen));
		m->samples_seen = p->samples_total;
	}
	if (p->step > m->steps_seen) {
		aios_counter_add(m->steps, (double)(p->step - m->steps_seen));
		m->steps_seen = p->step;
	}
}

void trainer_metrics_stop(struct trainer_metrics *m)
{
	if (!m)
		return;
	aios_http_server_free(m->srv);
	aios_metrics_free(m->reg);
	free(m);
}
