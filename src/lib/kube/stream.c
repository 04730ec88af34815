/* stream.c - see stream.h. */
#include "kube/stream.h"

#include "kube/kube_internal.h"

enum aios_err aios_kube_stream(struct aios_kube_client *c, const char *path_query,
                               const int *cancel, aios_kube_stream_fn fn, void *arg)
{
	struct aios_kube_call k = {.method = "GET",
	                           .verb = "get",
	                           .path_query = path_query,
	                           .sink = fn,
	                           .sink_arg = arg,
	                           .cancel = cancel,
	                           .streaming = 1,
	                           /* a pod's log stream ends when the container's does: on a
	                            * connection of its own, not the multiplexer, whose
	                            * streams did not see that end through a real kubelet
	                            * (`logs -f` kept running after the pod completed) */
	                           .own_connection = 1};
	struct aios_kube_response resp;
	enum aios_err e = aios_kube_perform(c, &k, &resp);
	aios_kube_response_cleanup(&resp);
	return e;
}
