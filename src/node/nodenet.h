/*
 * nodenet.h - pod networking as a bridge CNI plugin does it.
 *
 * One Linux bridge (aios0 by default) holds the first address of the pod range
 * (10.244.0.1/24 by default: the Node's InternalIP). Each pod gets a network
 * namespace "aios-<uid prefix>" with lo up and an eth0 that is one end of a veth
 * pair whose host end ("aiosv<uid prefix>") is enslaved to the bridge; eth0 has
 * an address from the range and a default route via the bridge address.
 *
 * The links and namespaces are made with iproute2's `ip` (run without a shell;
 * its stderr becomes the error message), which keeps each step readable and
 * identical to what an operator would type to inspect it.
 *
 * Pure parts (CIDR arithmetic, the route check, naming) are separate so they are
 * unit-tested without root.
 */
#ifndef AIOS_NODE_NODENET_H
#define AIOS_NODE_NODENET_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AIOS_NODENET_NAME_MAX 16 /* IFNAMSIZ: interface names are at most 15 bytes */

struct aios_cidr {
	uint32_t addr; /* network address, host byte order */
	int prefix;    /* 16..30 accepted for a pod range */
};

/* Parses "a.b.c.d/p"; the address is masked to the network. */
enum aios_err aios_cidr_parse(const char *s, struct aios_cidr *out) AIOS_MUST_CHECK;
/* Number of addresses pods may take: all but network, gateway (first) and broadcast. */
uint32_t aios_cidr_pod_slots(const struct aios_cidr *c);
/* Address number i of the range (0 = network, 1 = gateway), dotted, into out (16 bytes). */
void aios_cidr_host(const struct aios_cidr *c, uint32_t i, char out[16]);
/* Index of dotted address ip inside c, or -1 if outside or unparsable. */
long aios_cidr_index(const struct aios_cidr *c, const char *ip);

/*
 * Checks the routing table text of /proc/net/route against range: AIOS_ERR_EXISTS,
 * naming the interface and route, if any route other than a default route covers
 * or overlaps it; AIOS_OK otherwise.
 */
enum aios_err aios_nodenet_check_routes(const char *proc_net_route,
                                        const struct aios_cidr *range) AIOS_MUST_CHECK;

/* Names a pod's namespace and host-side veth after its UID (dashes dropped). */
void aios_nodenet_names(const char *uid, char netns[AIOS_NODENET_NAME_MAX + 16],
                        char veth[AIOS_NODENET_NAME_MAX]);

/* Runs argv (argv[0] looked up in PATH) and fails with its stderr on a non-zero exit. */
enum aios_err aios_nodenet_run(char *const argv[]) AIOS_MUST_CHECK;

/* Creates bridge with the gateway address of range and brings it up. */
enum aios_err aios_nodenet_bridge_up(const char *bridge,
                                     const struct aios_cidr *range) AIOS_MUST_CHECK;
/* Deletes bridge if it exists (AIOS_OK when it did not). */
enum aios_err aios_nodenet_bridge_down(const char *bridge) AIOS_MUST_CHECK;
/* 1 if a link of that name exists. */
int aios_nodenet_link_exists(const char *name);

/* Creates netns with lo up and eth0 = ip on range, default route via the gateway. */
enum aios_err aios_nodenet_pod_up(const char *bridge, const struct aios_cidr *range,
                                  const char *netns, const char *veth,
                                  const char *ip) AIOS_MUST_CHECK;
/* Removes the veth and the namespace; missing pieces are not an error. */
enum aios_err aios_nodenet_pod_down(const char *netns, const char *veth) AIOS_MUST_CHECK;

#endif
