/*
 * lws_fixed.c - the libwebsockets candidate measured for docs/internals/http.md: the
 * smallest libwebsockets 4.1 HTTP server that answers GET /fixed with a fixed JSON
 * reply, with keep-alive. Debian builds libwebsockets 4.1.6 with LWS_MAX_SMP 1, so a
 * context has one service thread; THREADS > 1 crashes in lws_service_tsi.
 *
 *   aios-bench-lws-fixed PORT THREADS
 */
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char reply[] = "{\"predictions\":[-0.54138869]}";
static volatile sig_atomic_t stop;

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	uint8_t buf[LWS_PRE + 512], *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof buf - 1];
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "application/json",
		                                sizeof reply - 1, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return 1;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		memcpy(start, reply, sizeof reply - 1);
		if (lws_write(wsi, start, sizeof reply - 1, LWS_WRITE_HTTP_FINAL) !=
		    (int)sizeof reply - 1)
			return 1;
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	default: break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {{"http", cb, 0, 0, 0, NULL, 0},
                                                 {NULL, NULL, 0, 0, 0, NULL, 0}};

static struct lws_context *ctx;

static void *service(void *arg)
{
	int tsi = (int)(intptr_t)arg;
	while (!stop && lws_service_tsi(ctx, 0, tsi) >= 0)
		;
	return NULL;
}

static void on_term(int sig)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 1;
	int threads = (int)strtol(argv[2], NULL, 10);
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = (int)strtol(argv[1], NULL, 10);
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.count_threads = (unsigned)threads;
	info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	ctx = lws_create_context(&info);
	if (!ctx)
		return 1;
	signal(SIGTERM, on_term);
	pthread_t t[16];
	for (int i = 1; i < threads && i < 16; i++)
		pthread_create(&t[i], NULL, service, (void *)(intptr_t)i);
	service((void *)0);
	for (int i = 1; i < threads && i < 16; i++)
		pthread_join(t[i], NULL);
	lws_context_destroy(ctx);
	return 0;
}
