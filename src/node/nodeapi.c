/*
 * nodeapi.c - what aios-node writes about the node itself: the Node object, its
 * Lease heartbeat in kube-node-lease, and the local volume provisioner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "node/node_internal.h"
#include "node/volumes.h"

/* ------------------------------------------------------------------ the Node */

static char ready_since[32]; /* lastTransitionTime of Ready=True, set at registration */

static struct json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

/* First line of a file without its newline, or "" (static buffer per call site). */
static void read_line(const char *path, char *out, size_t n)
{
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(out, (int)n, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

static void os_image(char *out, size_t n)
{
	snprintf(out, n, "Linux");
	FILE *f = fopen("/etc/os-release", "r");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
			char *v = line + 12;
			v[strcspn(v, "\n")] = '\0';
			if (*v == '"') {
				v++;
				v[strcspn(v, "\"")] = '\0';
			}
			snprintf(out, n, "%s", v);
		}
	}
	fclose(f);
}

static struct json_object *resources(struct aios_node *n)
{
	struct json_object *r = json_object_new_object();
	char v[64];
	snprintf(v, sizeof v, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	json_object_object_add(r, "cpu", jstr(v));
	long long mem_kb = 0;
	FILE *f = fopen("/proc/meminfo", "r");
	if (f) {
		if (fscanf(f, "MemTotal: %lld kB", &mem_kb) != 1)
			mem_kb = 0;
		fclose(f);
	}
	snprintf(v, sizeof v, "%lldKi", mem_kb);
	json_object_object_add(r, "memory", jstr(v));
	struct statvfs sv;
	if (statvfs(n->o->state_dir, &sv) == 0) {
		snprintf(v, sizeof v, "%lluKi",
		         (unsigned long long)sv.f_blocks * sv.f_frsize / 1024);
		json_object_object_add(r, "ephemeral-storage", jstr(v));
	}
	snprintf(v, sizeof v, "%d", AIOS_NODE_MAX_PODS);
	json_object_object_add(r, "pods", jstr(v));
	return r;
}

static struct json_object *condition(const char *type, const char *status, const char *reason,
                                     const char *msg, const char *now, const char *since)
{
	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "type", jstr(type));
	json_object_object_add(c, "status", jstr(status));
	json_object_object_add(c, "reason", jstr(reason));
	json_object_object_add(c, "message", jstr(msg));
	json_object_object_add(c, "lastHeartbeatTime", jstr(now));
	json_object_object_add(c, "lastTransitionTime", jstr(since));
	return c;
}

static struct json_object *node_status(struct aios_node *n, int ready)
{
	char now[32];
	aios_rfc3339_now(now, sizeof now);
	struct json_object *st = json_object_new_object();
	json_object_object_add(st, "capacity", resources(n));
	json_object_object_add(st, "allocatable", resources(n));
	struct json_object *conds = json_object_new_array();
	json_object_array_add(
	    conds, condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
	                     "aios-node does not track memory pressure", now, ready_since));
	json_object_array_add(conds, condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
	                                       "aios-node does not track disk pressure", now,
	                                       ready_since));
	json_object_array_add(conds,
	                      condition("PIDPressure", "False", "KubeletHasSufficientPID",
	                                "aios-node does not track PID pressure", now, ready_since));
	if (ready)
		json_object_array_add(conds, condition("Ready", "True", "KubeletReady",
		                                       "aios-node is posting ready status", now,
		                                       ready_since));
	else
		json_object_array_add(conds, condition("Ready", "False", "KubeletNotReady",
		                                       "aios-node stopped", now, now));
	json_object_object_add(st, "conditions", conds);
	struct json_object *addrs = json_object_new_array(), *a = json_object_new_object();
	json_object_object_add(a, "type", jstr("InternalIP"));
	json_object_object_add(a, "address", jstr(n->host_ip));
	json_object_array_add(addrs, a);
	a = json_object_new_object();
	json_object_object_add(a, "type", jstr("Hostname"));
	json_object_object_add(a, "address", jstr(n->node_name));
	json_object_array_add(addrs, a);
	json_object_object_add(st, "addresses", addrs);
	struct json_object *de = json_object_new_object(), *ke = json_object_new_object();
	json_object_object_add(ke, "Port", json_object_new_int(n->o->kubelet_port));
	json_object_object_add(de, "kubeletEndpoint", ke);
	json_object_object_add(st, "daemonEndpoints", de);

	struct json_object *info = json_object_new_object();
	char buf[256];
	read_line("/etc/machine-id", buf, sizeof buf);
	json_object_object_add(info, "machineID", jstr(buf));
	json_object_object_add(info, "systemUUID", jstr(buf));
	read_line("/proc/sys/kernel/random/boot_id", buf, sizeof buf);
	json_object_object_add(info, "bootID", jstr(buf));
	struct utsname u;
	uname(&u);
	json_object_object_add(info, "kernelVersion", jstr(u.release));
	os_image(buf, sizeof buf);
	json_object_object_add(info, "osImage", jstr(buf));
	json_object_object_add(info, "containerRuntimeVersion", jstr("aios-node://" AIOS_VERSION));
	json_object_object_add(info, "kubeletVersion", jstr("v1.20.2"));
	json_object_object_add(info, "kubeProxyVersion", jstr("v1.20.2"));
	json_object_object_add(info, "operatingSystem", jstr("linux"));
	json_object_object_add(info, "architecture",
	                       jstr(strcmp(u.machine, "aarch64") == 0 ? "arm64" : "amd64"));
	json_object_object_add(st, "nodeInfo", info);
	return st;
}

static enum aios_err patch_status(struct aios_node *n, int ready)
{
	struct json_object *patch = json_object_new_object();
	json_object_object_add(patch, "status", node_status(n, ready));
	struct aios_kube_ref r = {&aios_kube_nodes, NULL, n->node_name, "status"};
	enum aios_err err = aios_kube_patch(n->kc, &r, AIOS_KUBE_PATCH_MERGE, patch, NULL, NULL);
	json_object_put(patch);
	return err;
}

enum aios_err node_register(struct aios_node *n)
{
	aios_rfc3339_now(ready_since, sizeof ready_since);
	struct json_object *node = json_object_new_object();
	json_object_object_add(node, "apiVersion", jstr("v1"));
	json_object_object_add(node, "kind", jstr("Node"));
	struct json_object *labels = json_object_new_object();
	json_object_object_add(labels, "kubernetes.io/hostname", jstr(n->node_name));
	json_object_object_add(labels, "kubernetes.io/os", jstr("linux"));
	json_object_object_add(labels, "kubernetes.io/arch", jstr("amd64"));
	json_object_object_add(labels, "aios.dev/node-agent", jstr("aios-node"));
	aios_json_set(node, "metadata.name", jstr(n->node_name));
	aios_json_set(node, "metadata.labels", labels);
	char cidr[32], net[16];
	aios_cidr_host(&n->cidr, 0, net);
	snprintf(cidr, sizeof cidr, "%s/%d", net, n->cidr.prefix);
	aios_json_set(node, "spec.podCIDR", jstr(cidr));
	struct json_object *cidrs = json_object_new_array();
	json_object_array_add(cidrs, jstr(cidr));
	aios_json_set(node, "spec.podCIDRs", cidrs);
	json_object_object_add(node, "status", node_status(n, 1));

	struct aios_kube_ref r = aios_kube_ref(&aios_kube_nodes, NULL, NULL);
	struct json_object *out = NULL;
	enum aios_err err = aios_kube_create(n->kc, &r, node, NULL, &out);
	json_object_put(node);
	if (err == AIOS_ERR_EXISTS) {
		r = aios_kube_ref(&aios_kube_nodes, NULL, n->node_name);
		err = aios_kube_get(n->kc, &r, &out);
	}
	if (err)
		return aios_fail_wrap(err, "registering node %s", n->node_name);
	n->node_uid = aios_xstrdup(
	    aios_json_str(out, "metadata.uid") ? aios_json_str(out, "metadata.uid") : "");
	json_object_put(out);
	if ((err = patch_status(n, 1)))
		return aios_fail_wrap(err, "node %s status", n->node_name);
	aios_info("node_registered", "node %s (InternalIP %s, kubelet port %d)", n->node_name,
	          n->host_ip, n->o->kubelet_port);
	n->status_next_ms = aios_now_ms() + AIOS_NODE_STATUS_S * 1000;
	return AIOS_OK;
}

/* ------------------------------------------------------------------ the Lease */

static struct json_object *lease_object(struct aios_node *n, const char *renew)
{
	struct json_object *l = json_object_new_object();
	json_object_object_add(l, "apiVersion", jstr("coordination.k8s.io/v1"));
	json_object_object_add(l, "kind", jstr("Lease"));
	aios_json_set(l, "metadata.name", jstr(n->node_name));
	aios_json_set(l, "metadata.namespace", jstr("kube-node-lease"));
	struct json_object *owners = json_object_new_array(), *ow = json_object_new_object();
	json_object_object_add(ow, "apiVersion", jstr("v1"));
	json_object_object_add(ow, "kind", jstr("Node"));
	json_object_object_add(ow, "name", jstr(n->node_name));
	json_object_object_add(ow, "uid", jstr(n->node_uid));
	json_object_array_add(owners, ow);
	aios_json_set(l, "metadata.ownerReferences", owners);
	aios_json_set(l, "spec.holderIdentity", jstr(n->node_name));
	aios_json_set(l, "spec.leaseDurationSeconds",
	              json_object_new_int(AIOS_NODE_LEASE_DURATION_S));
	aios_json_set(l, "spec.renewTime", jstr(renew));
	return l;
}

void node_heartbeat(struct aios_node *n)
{
	int64_t now = aios_now_ms();
	n->lease_next_ms = now + AIOS_NODE_LEASE_RENEW_S * 1000;
	/* MicroTime: RFC 3339 with microseconds */
	char t[32], renew[40];
	aios_rfc3339_now(t, sizeof t);
	snprintf(renew, sizeof renew, "%.19s.000000Z", t);
	struct json_object *patch = json_object_new_object();
	aios_json_set(patch, "spec.renewTime", jstr(renew));
	aios_json_set(patch, "spec.holderIdentity", jstr(n->node_name));
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_leases, "kube-node-lease", n->node_name);
	enum aios_err err = aios_kube_patch(n->kc, &r, AIOS_KUBE_PATCH_MERGE, patch, NULL, NULL);
	json_object_put(patch);
	if (err == AIOS_ERR_NOT_FOUND) {
		struct json_object *l = lease_object(n, renew);
		r = aios_kube_ref(&aios_kube_leases, "kube-node-lease", NULL);
		err = aios_kube_create(n->kc, &r, l, NULL, NULL);
		json_object_put(l);
	}
	if (err) {
		aios_warn("lease", "renewing lease kube-node-lease/%s: %s", n->node_name,
		          aios_errmsg());
		n->lease_next_ms = now + 1000; /* retry soon: the lease lasts 40 s */
	}
	if (now >= n->status_next_ms) {
		if (patch_status(n, 1) == AIOS_OK)
			n->status_next_ms = now + AIOS_NODE_STATUS_S * 1000;
		else
			aios_warn("node_status", "node %s: %s", n->node_name, aios_errmsg());
	}
}

/* ------------------------------------------------------------------ provisioner */

static void provision_claim(struct aios_node *n, struct json_object *pvc)
{
	const char *ns = aios_json_str(pvc, "metadata.namespace"),
	           *name = aios_json_str(pvc, "metadata.name");
	const char *uid = aios_json_str(pvc, "metadata.uid");
	const char *size = aios_json_str(pvc, "spec.resources.requests.storage");
	if (!ns || !name || !uid)
		return;
	char *dir = aios_xasprintf("%s/pv/%s/%s-%.8s", n->o->state_dir, ns, name, uid);
	if (aios_volumes_mkdir_p(dir) != AIOS_OK) {
		aios_warn("provision", "claim %s/%s: %s", ns, name, aios_errmsg());
		free(dir);
		return;
	}
	struct json_object *pv = json_object_new_object();
	json_object_object_add(pv, "apiVersion", jstr("v1"));
	json_object_object_add(pv, "kind", jstr("PersistentVolume"));
	char *pvname = aios_xasprintf("pvc-%s", uid);
	aios_json_set(pv, "metadata.name", jstr(pvname));
	struct json_object *ann = json_object_new_object();
	json_object_object_add(ann, "pv.kubernetes.io/provisioned-by", jstr(AIOS_NODE_PROVISIONER));
	aios_json_set(pv, "metadata.annotations", ann);
	struct json_object *cap = json_object_new_object();
	json_object_object_add(cap, "storage", jstr(size ? size : "1Gi"));
	aios_json_set(pv, "spec.capacity", cap);
	struct json_object *modes = aios_json_lookup(pvc, "spec.accessModes");
	if (modes) {
		aios_json_set(pv, "spec.accessModes", aios_json_copy(modes));
	} else {
		struct json_object *m = json_object_new_array();
		json_object_array_add(m, jstr("ReadWriteOnce"));
		aios_json_set(pv, "spec.accessModes", m);
	}
	aios_json_set(pv, "spec.persistentVolumeReclaimPolicy", jstr("Delete"));
	aios_json_set(pv, "spec.storageClassName", jstr(n->o->storage_class));
	aios_json_set(pv, "spec.volumeMode", jstr("Filesystem"));
	aios_json_set(pv, "spec.hostPath.path", jstr(dir));
	aios_json_set(pv, "spec.hostPath.type", jstr("DirectoryOrCreate"));
	struct json_object *ref = json_object_new_object();
	json_object_object_add(ref, "apiVersion", jstr("v1"));
	json_object_object_add(ref, "kind", jstr("PersistentVolumeClaim"));
	json_object_object_add(ref, "namespace", jstr(ns));
	json_object_object_add(ref, "name", jstr(name));
	json_object_object_add(ref, "uid", jstr(uid));
	aios_json_set(pv, "spec.claimRef", ref);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pvs, NULL, NULL);
	enum aios_err err = aios_kube_create(n->kc, &r, pv, NULL, NULL);
	if (err == AIOS_OK)
		aios_info("provisioned", "claim %s/%s: volume %s at %s", ns, name, pvname, dir);
	else if (err != AIOS_ERR_EXISTS)
		aios_warn("provision", "claim %s/%s: creating volume %s: %s", ns, name, pvname,
		          aios_errmsg());
	json_object_put(pv);
	free(pvname);
	free(dir);
}

static void delete_released(struct aios_node *n, struct json_object *pv)
{
	const char *name = aios_json_str(pv, "metadata.name"),
	           *path = aios_json_str(pv, "spec.hostPath.path");
	char *root = aios_xasprintf("%s/pv", n->o->state_dir);
	if (path && aios_volumes_remove_tree(root, path) != AIOS_OK) {
		aios_warn("deprovision", "volume %s: %s", name, aios_errmsg());
		free(root);
		return;
	}
	free(root);
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pvs, NULL, name);
	enum aios_err err = aios_kube_delete(n->kc, &r, NULL, NULL);
	if (err == AIOS_OK)
		aios_info("deprovisioned",
		          "volume %s released by its claim: data and object deleted", name);
	else if (err != AIOS_ERR_NOT_FOUND)
		aios_warn("deprovision", "volume %s: %s", name, aios_errmsg());
}

void node_provision(struct aios_node *n)
{
	struct aios_kube_ref r = aios_kube_ref(&aios_kube_pvcs, NULL, NULL);
	struct json_object *list = NULL;
	if (aios_kube_list(n->kc, &r, NULL, &list) != AIOS_OK) {
		aios_debug("provision", "listing claims: %s", aios_errmsg());
		return;
	}
	struct json_object *items = aios_json_lookup(list, "items");
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		struct json_object *c = json_object_array_get_idx(items, i);
		const char *cls = aios_json_str(c, "spec.storageClassName");
		const char *phase = aios_json_str(c, "status.phase"),
		           *vol = aios_json_str(c, "spec.volumeName");
		if (cls && strcmp(cls, n->o->storage_class) == 0 && phase &&
		    strcmp(phase, "Pending") == 0 && (!vol || !*vol) &&
		    !aios_json_lookup(c, "metadata.deletionTimestamp"))
			provision_claim(n, c);
	}
	json_object_put(list);

	r = aios_kube_ref(&aios_kube_pvs, NULL, NULL);
	if (aios_kube_list(n->kc, &r, NULL, &list) != AIOS_OK)
		return;
	items = aios_json_lookup(list, "items");
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		struct json_object *pv = json_object_array_get_idx(items, i);
		struct json_object *ann = aios_json_lookup(pv, "metadata.annotations"), *by = NULL;
		const char *phase = aios_json_str(pv, "status.phase"),
		           *pol = aios_json_str(pv, "spec.persistentVolumeReclaimPolicy");
		if (ann && json_object_object_get_ex(ann, "pv.kubernetes.io/provisioned-by", &by) &&
		    strcmp(json_object_get_string(by), AIOS_NODE_PROVISIONER) == 0 && phase &&
		    strcmp(phase, "Released") == 0 && pol && strcmp(pol, "Delete") == 0)
			delete_released(n, pv);
	}
	json_object_put(list);
}
