/*
 * kube_kubeconfig_fuzz.c - the kubeconfig parser (libyaml document walk, base64
 * decoding, context/cluster/user resolution) on arbitrary bytes. An accepted config
 * must have a server URL and a namespace.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aios_kube_config *c = NULL;
	if (aios_kube_config_parse((const char *)data, size, "/fuzz", "fuzz.kubeconfig", NULL,
	                           &c) != AIOS_OK)
		return 0;
	if (!c->server || !c->ns || strncmp(c->server, "http", 4) != 0)
		abort();
	if ((c->cert_data || c->cert_file) != (c->key_data || c->key_file))
		abort();
	aios_kube_config_free(c);
	return 0;
}
