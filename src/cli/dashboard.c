/*
 * dashboard.c - `kubectl aios dashboard` (see dashboard.h): the collector thread and the
 * libwebsockets server.
 *
 * The collector owns the history (curves per TrainingJob and trial, a ring of samples
 * per ModelService, recent Events) and publishes each new snapshot as one JSON string
 * under a mutex, then wakes the server's loop with lws_cancel_service(); the loop marks
 * every WebSocket writable and each connection sends the newest snapshot it has not
 * sent yet (a slow browser skips snapshots instead of queueing them).
 */
#include "dashboard.h"

#include <fcntl.h>
#include <libwebsockets.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "dashboard_model.h"

#define COLLECT_PERIOD_MS 1000 /* one snapshot a second: curves move per epoch, not faster */
#define LOG_PERIOD_MS     2000 /* a running pod's log is read again at most this often */
#define EVENTS_EVERY      5    /* Events are listed every 5th round: they change slowly */
#define MAX_OBJECTS       500  /* TrainingJobs (and trials) or ModelServices followed */

/* Compiled from src/cli/dashboard/ by CMake (embed.cmake). */
struct aios_dash_asset {
	const char *path, *mime;
	const unsigned char *data;
	size_t len;
};
extern const struct aios_dash_asset aios_dash_assets[];
extern const size_t aios_dash_nassets;

/* ---- the collector's store ------------------------------------------------- */

struct curve_entry { /* one TrainingJob (trial -1) or one trial of a search */
	char uid[64];
	int trial;
	char pod[256];   /* the pod whose log the curve came from */
	int final_read;  /* the log was read after the job (trial) finished */
	int64_t read_ms; /* when the log was last read */
	int seen;        /* in this round's lists */
	struct aios_dash_curve curve;
};

struct ms_entry {
	char uid[64];
	int seen;
	struct aios_dash_series series;
	struct json_object *events; /* array of summaries, newest last */
};

struct dash {
	struct aios_kube_client *c;
	const struct cli_opts *o;
	const char *ns; /* NULL: all namespaces */
	int port;

	pthread_mutex_t mu; /* guards snapshot and version */
	char *snapshot;
	size_t snap_len;
	uint64_t version;

	struct lws_context *ctx;
	volatile int stop;

	struct curve_entry *curves[MAX_OBJECTS];
	int ncurves;
	struct ms_entry *mss[MAX_OBJECTS];
	int nmss;
	char error[512]; /* the last round's first failure, shown on the page */
};

static struct curve_entry *curve_for(struct dash *d, const char *uid, int trial)
{
	for (int i = 0; i < d->ncurves; i++)
		if (d->curves[i]->trial == trial && strcmp(d->curves[i]->uid, uid) == 0)
			return d->curves[i];
	if (d->ncurves == MAX_OBJECTS)
		return NULL;
	struct curve_entry *e = aios_xcalloc(1, sizeof(*e));
	snprintf(e->uid, sizeof(e->uid), "%s", uid);
	e->trial = trial;
	d->curves[d->ncurves++] = e;
	return e;
}

static struct ms_entry *ms_for(struct dash *d, const char *uid)
{
	for (int i = 0; i < d->nmss; i++)
		if (strcmp(d->mss[i]->uid, uid) == 0)
			return d->mss[i];
	if (d->nmss == MAX_OBJECTS)
		return NULL;
	struct ms_entry *e = aios_xcalloc(1, sizeof(*e));
	snprintf(e->uid, sizeof(e->uid), "%s", uid);
	e->events = json_object_new_array();
	d->mss[d->nmss++] = e;
	return e;
}

/* Drops the entries of objects that are gone (not seen this round). */
static void prune(struct dash *d)
{
	int k = 0;
	for (int i = 0; i < d->ncurves; i++) {
		if (d->curves[i]->seen)
			d->curves[k++] = d->curves[i];
		else
			free(d->curves[i]);
	}
	d->ncurves = k;
	k = 0;
	for (int i = 0; i < d->nmss; i++) {
		if (d->mss[i]->seen) {
			d->mss[k++] = d->mss[i];
		} else {
			json_object_put(d->mss[i]->events);
			free(d->mss[i]);
		}
	}
	d->nmss = k;
}

static void note_error(struct dash *d, const char *what)
{
	if (!d->error[0])
		snprintf(d->error, sizeof(d->error), "%s: %s", what, aios_errmsg());
	aios_errclear();
}

/* ---- reading the cluster ---------------------------------------------------- */

static int terminal(const char *phase)
{
	return phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
}

/* The newest pod of job (in ns) for trial (-1: a plain job's pods, without the label). */
static const char *newest_pod(struct json_object *pods, const char *ns, const char *job, int trial)
{
	struct json_object *items = aios_json_lookup(pods, "items");
	size_t n = items ? json_object_array_length(items) : 0;
	const char *best = NULL, *best_ts = "";
	char want_trial[16];
	snprintf(want_trial, sizeof(want_trial), "%d", trial);
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(items, i);
		struct json_object *labels = aios_json_lookup(p, "metadata.labels");
		struct json_object *lj = NULL, *lt = NULL;
		if (!labels || !json_object_object_get_ex(labels, "aios.dev/job", &lj) ||
		    strcmp(json_object_get_string(lj), job) ||
		    strcmp(aios_json_str(p, "metadata.namespace") ?: "", ns))
			continue;
		int has_trial = json_object_object_get_ex(labels, "aios.dev/trial", &lt);
		if (trial < 0 ? has_trial
		              : (!has_trial || strcmp(json_object_get_string(lt), want_trial)))
			continue;
		const char *ts = aios_json_str(p, "metadata.creationTimestamp") ?: "";
		if (!best || strcmp(ts, best_ts) > 0) {
			best = aios_json_str(p, "metadata.name");
			best_ts = ts;
		}
	}
	return best;
}

/* Reads the curve of e from pod's log when due: while running at most every
 * LOG_PERIOD_MS, once more after the end, again when the pod changed. */
static void refresh_curve(struct dash *d, struct curve_entry *e, const char *ns, const char *pod,
                          int finished)
{
	int64_t now = aios_now_ms();
	int changed = pod && strcmp(pod, e->pod) != 0;
	if (!pod ||
	    (!changed && (e->final_read || (!finished && now - e->read_ms < LOG_PERIOD_MS))))
		return;
	char *path = aios_xasprintf("/api/v1/namespaces/%s/pods/%s/log?tailLines=%d", ns, pod,
	                            AIOS_DASH_LOG_LINES);
	struct aios_kube_response resp;
	if (aios_kube_request(d->c, "GET", path, NULL, NULL, 0, &resp)) {
		/* a pod still starting has no log yet: not worth a red banner */
		if (resp.code != 400)
			note_error(d, "read a pod's log");
		aios_errclear();
	} else {
		aios_dash_curve_from_log(&e->curve, resp.body.data ? resp.body.data : "",
		                         resp.body.len);
		snprintf(e->pod, sizeof(e->pod), "%s", pod);
		e->read_ms = now;
		e->final_read = finished;
	}
	aios_kube_response_cleanup(&resp);
	free(path);
}

static struct json_object *list(struct dash *d, const struct aios_kube_gvr *gvr,
                                const char *label_sel, const char *field_sel, const char *what)
{
	struct aios_kube_ref r = aios_kube_ref(gvr, d->ns, NULL);
	struct aios_kube_list_opts lo = {.label_selector = label_sel, .field_selector = field_sel};
	struct json_object *out = NULL;
	if (aios_kube_list_all(d->c, &r, &lo, &out)) {
		note_error(d, what);
		return NULL;
	}
	return out;
}

static struct json_object *tj_entry(struct dash *d, struct json_object *tj,
                                    struct json_object *pods)
{
	struct json_object *s = aios_dash_tj_summary(tj);
	const char *uid = aios_json_str(tj, "metadata.uid") ?: "";
	const char *ns = aios_json_str(tj, "metadata.namespace") ?: "";
	const char *name = aios_json_str(tj, "metadata.name") ?: "";
	struct json_object *trials = aios_json_lookup(s, "trials");
	if (!trials) {
		struct curve_entry *e = curve_for(d, uid, -1);
		if (e) {
			e->seen = 1;
			refresh_curve(d, e, ns, newest_pod(pods, ns, name, -1),
			              terminal(aios_json_str(tj, "status.phase")));
			json_object_object_add(s, "curve", aios_dash_curve_json(&e->curve));
		}
		return s;
	}
	size_t n = json_object_array_length(trials);
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(trials, i);
		int64_t index = -1;
		if (aios_json_opt_int(t, "index", (int64_t)i, &index))
			aios_errclear();
		struct curve_entry *e = curve_for(d, uid, (int)index);
		if (!e)
			continue;
		e->seen = 1;
		refresh_curve(d, e, ns, newest_pod(pods, ns, name, (int)index),
		              terminal(aios_json_str(t, "phase")));
		json_object_object_add(t, "curve", aios_dash_curve_json(&e->curve));
	}
	return s;
}

static struct json_object *ms_entry(struct dash *d, struct json_object *ms,
                                    struct json_object *events, double now_s)
{
	struct json_object *s = aios_dash_ms_summary(ms);
	struct ms_entry *e = ms_for(d, aios_json_str(ms, "metadata.uid") ?: "");
	if (!e)
		return s;
	e->seen = 1;
	aios_dash_series_push(&e->series, ms, now_s);
	if (events) { /* this round's Events replace what was kept */
		const char *name = aios_json_str(ms, "metadata.name") ?: "";
		const char *ns = aios_json_str(ms, "metadata.namespace") ?: "";
		struct json_object *mine = json_object_new_array();
		struct json_object *items = aios_json_lookup(events, "items");
		size_t n = items ? json_object_array_length(items) : 0;
		for (size_t i = 0; i < n; i++) {
			struct json_object *ev = json_object_array_get_idx(items, i);
			if (strcmp(aios_json_str(ev, "involvedObject.name") ?: "", name) ||
			    strcmp(aios_json_str(ev, "involvedObject.namespace") ?: "", ns))
				continue;
			json_object_array_add(mine, aios_dash_event_summary(ev));
		}
		size_t m = json_object_array_length(mine);
		if (m > AIOS_DASH_EVENTS) /* keep the newest: the API lists oldest first */
			json_object_array_del_idx(mine, 0, m - AIOS_DASH_EVENTS);
		json_object_put(e->events);
		e->events = mine;
	}
	json_object_object_add(s, "history", aios_dash_series_json(&e->series));
	json_object_object_add(s, "events", json_object_get(e->events));
	return s;
}

static void publish(struct dash *d, struct json_object *snap)
{
	const char *text = json_object_to_json_string_ext(snap, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text);
	if (len > AIOS_DASH_SNAPSHOT_MAX) {
		aios_warn("dashboard", "snapshot of %zu bytes over its cap of %u: not sent", len,
		          AIOS_DASH_SNAPSHOT_MAX);
		return;
	}
	char *copy = aios_xstrdup(text);
	pthread_mutex_lock(&d->mu);
	free(d->snapshot);
	d->snapshot = copy;
	d->snap_len = len;
	d->version++;
	pthread_mutex_unlock(&d->mu);
	lws_cancel_service(d->ctx);
}

static void collect_once(struct dash *d, int round)
{
	d->error[0] = '\0';
	for (int i = 0; i < d->ncurves; i++)
		d->curves[i]->seen = 0;
	for (int i = 0; i < d->nmss; i++)
		d->mss[i]->seen = 0;
	struct json_object *tjs = list(d, &aios_kube_trainingjobs, NULL, NULL, "list trainingjobs");
	struct json_object *mss =
	    list(d, &aios_kube_modelservices, NULL, NULL, "list modelservices");
	struct json_object *pods =
	    list(d, &aios_kube_pods, "aios.dev/job,aios.dev/rank=0", NULL, "list pods");
	struct json_object *events = round % EVENTS_EVERY == 0
	                                 ? list(d, &aios_kube_events, NULL,
	                                        "involvedObject.kind=ModelService", "list events")
	                                 : NULL;
	struct json_object *snap = json_object_new_object(), *otj = json_object_new_array(),
	                   *oms = json_object_new_array();
	struct json_object *items = tjs ? aios_json_lookup(tjs, "items") : NULL;
	size_t n = items ? json_object_array_length(items) : 0;
	for (size_t i = 0; i < n; i++)
		json_object_array_add(otj, tj_entry(d, json_object_array_get_idx(items, i), pods));
	items = mss ? aios_json_lookup(mss, "items") : NULL;
	n = items ? json_object_array_length(items) : 0;
	struct timespec ts; /* wall clock: the page labels its time axes with it */
	clock_gettime(CLOCK_REALTIME, &ts);
	double now_s = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	for (size_t i = 0; i < n; i++)
		json_object_array_add(
		    oms, ms_entry(d, json_object_array_get_idx(items, i), events, now_s));
	if (tjs && mss) /* a failed list says nothing about what is gone */
		prune(d);
	json_object_object_add(snap, "time", json_object_new_double(now_s));
	json_object_object_add(snap, "namespace", json_object_new_string(d->ns ? d->ns : ""));
	json_object_object_add(snap, "error",
	                       d->error[0] ? json_object_new_string(d->error) : NULL);
	json_object_object_add(snap, "trainingjobs", otj);
	json_object_object_add(snap, "modelservices", oms);
	publish(d, snap);
	json_object_put(snap);
	json_object_put(tjs);
	json_object_put(mss);
	json_object_put(pods);
	json_object_put(events);
}

static void *collector(void *arg)
{
	struct dash *d = arg;
	for (int round = 0; !d->stop; round++) {
		int64_t t0 = aios_now_ms();
		collect_once(d, round);
		int64_t left = COLLECT_PERIOD_MS - (aios_now_ms() - t0);
		if (left > 0 && aios_shutdown_wait_ms(left))
			break;
	}
	return NULL;
}

/* ---- the server ------------------------------------------------------------- */

struct session {
	int is_ws;
	uint64_t sent;                       /* version of the last snapshot sent */
	const struct aios_dash_asset *asset; /* HTTP: the body still to write */
};

static struct dash *g_dash; /* the one dashboard of this process, for the callback */

/* 1 when the request's header tok (Host or Origin) names this server. */
static int ours(struct lws *wsi, enum lws_token_indexes tok, const char *scheme)
{
	char v[256], a[96], b[96];
	if (lws_hdr_copy(wsi, v, sizeof(v), tok) <= 0)
		return 0;
	snprintf(a, sizeof(a), "%s127.0.0.1:%d", scheme, g_dash->port);
	snprintf(b, sizeof(b), "%slocalhost:%d", scheme, g_dash->port);
	return strcmp(v, a) == 0 || strcmp(v, b) == 0;
}

static const struct aios_dash_asset *asset_for(const char *path)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (size_t i = 0; i < aios_dash_nassets; i++)
		if (strcmp(aios_dash_assets[i].path, path) == 0)
			return &aios_dash_assets[i];
	return NULL;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct session *s = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		if (!ours(wsi, WSI_TOKEN_HOST, "")) {
			lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "unknown Host");
			return -1;
		}
		const struct aios_dash_asset *a = asset_for(in);
		if (!a) {
			lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
			return -1;
		}
		unsigned char hdr[LWS_PRE + 1024], *start = &hdr[LWS_PRE], *p = start,
		                                   *end = &hdr[sizeof(hdr) - 1];
		if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, a->mime, a->len, &p, end) ||
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
		                                 (const unsigned char *)"no-store", 8, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return 1;
		s->asset = a;
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		if (!s || !s->asset)
			return 0;
		unsigned char *buf = aios_xmalloc(LWS_PRE + s->asset->len);
		memcpy(buf + LWS_PRE, s->asset->data, s->asset->len);
		int w = lws_write(wsi, buf + LWS_PRE, s->asset->len, LWS_WRITE_HTTP_FINAL);
		free(buf);
		s->asset = NULL;
		if (w < 0 || lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	}
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* a WebSocket only from the dashboard's own page */
		return ours(wsi, WSI_TOKEN_ORIGIN, "http://") ? 0 : 1;
	case LWS_CALLBACK_ESTABLISHED:
		s->is_ws = 1;
		s->sent = 0;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		pthread_mutex_lock(&g_dash->mu);
		if (!g_dash->snapshot || s->sent == g_dash->version) {
			pthread_mutex_unlock(&g_dash->mu);
			return 0;
		}
		size_t n = g_dash->snap_len;
		unsigned char *buf = aios_xmalloc(LWS_PRE + n);
		memcpy(buf + LWS_PRE, g_dash->snapshot, n);
		s->sent = g_dash->version;
		pthread_mutex_unlock(&g_dash->mu);
		int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
		free(buf);
		return w < (int)n ? -1 : 0;
	}
	case LWS_CALLBACK_RECEIVE: return 0; /* the page sends nothing that matters */
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (g_dash && g_dash->ctx)
			lws_callback_on_writable_all_protocol(g_dash->ctx, lws_get_protocol(wsi));
		return 0;
	default: break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(struct session), 0, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

static void lws_to_our_log(int level, const char *line)
{
	if (level & LLL_ERR)
		aios_warn("libwebsockets", "%.*s", (int)strcspn(line, "\n"), line);
}

/* Tries to open url in the user's browser (xdg-open); quiet when there is none. */
static void open_url(const char *url)
{
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("xdg-open", "xdg-open", url, (char *)NULL);
		_exit(127);
	}
}

int cli_dashboard(struct aios_kube_client *c, const struct cli_opts *o, int port, int open_browser)
{
	struct dash *d = aios_xcalloc(1, sizeof(*d));
	d->c = c;
	d->o = o;
	d->ns = o->all_ns ? NULL : (o->ns ? o->ns : aios_kube_client_namespace(c));
	pthread_mutex_init(&d->mu, NULL);
	g_dash = d;
	lws_set_log_level(LLL_ERR, lws_to_our_log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	d->ctx = lws_create_context(&info);
	if (!d->ctx) {
		fprintf(stderr,
		        "kubectl-aios: dashboard: cannot listen on 127.0.0.1:%d (in use? "
		        "pick another with --port)\n",
		        port);
		free(d);
		return 1;
	}
	d->port = lws_get_vhost_listen_port(lws_get_vhost_by_name(d->ctx, "default"));
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", d->port);
	printf("dashboard: %s (namespace %s; Ctrl-C stops it)\n", url, d->ns ? d->ns : "all");
	fflush(stdout);
	if (open_browser)
		open_url(url);
	signal(SIGCHLD, SIG_IGN); /* the browser opener is not waited for */
	pthread_t th;
	pthread_create(&th, NULL, collector, d);
	while (!aios_shutdown_requested())
		if (lws_service(d->ctx, 250) < 0)
			break;
	d->stop = 1;
	pthread_join(th, NULL);
	lws_context_destroy(d->ctx);
	for (int i = 0; i < d->ncurves; i++)
		free(d->curves[i]);
	for (int i = 0; i < d->nmss; i++) {
		json_object_put(d->mss[i]->events);
		free(d->mss[i]);
	}
	free(d->snapshot);
	pthread_mutex_destroy(&d->mu);
	g_dash = NULL;
	free(d);
	return 0;
}
