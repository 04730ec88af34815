/*
 * watch.h - feeds aios-gateway's table (gateway.h) from the Kubernetes API: an informer
 * on ModelServices (which models exist, their queue settings) and one on the Endpoints
 * of their Services (label aios.dev/service, which the Service's labels give them), the
 * ready addresses of each. The informers (src/lib/kube/informer.h) list, watch, relist
 * on 410 and back off on errors as the operator's do.
 *
 * RBAC: get, list, watch on modelservices.aios.dev and on endpoints, nothing else
 * (operator/gateway-rbac.yaml).
 */
#ifndef AIOS_GATEWAY_WATCH_H
#define AIOS_GATEWAY_WATCH_H

#include <stdint.h>

#include "common/err.h"
#include "gateway/gateway.h"
#include "kube/client.h"

struct aios_gw_watch;

/* Starts both informers for namespace ns (NULL or "": all) feeding g. The client and
 * g must outlive the watch. Caller frees *out. */
enum aios_err aios_gw_watch_start(struct aios_kube_client *c, const char *ns, struct aios_gw *g,
                                  struct aios_gw_watch **out) AIOS_MUST_CHECK;
/* Waits up to timeout_ms for both first lists; TIMEOUT otherwise. */
enum aios_err aios_gw_watch_wait_synced(struct aios_gw_watch *w,
                                        int64_t timeout_ms) AIOS_MUST_CHECK;
/* 1 once both informers have synced. */
int aios_gw_watch_synced(struct aios_gw_watch *w);
/* Stops the informers and frees. NULL is a no-op. */
void aios_gw_watch_free(struct aios_gw_watch *w);

#endif
