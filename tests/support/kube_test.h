/*
 * kube_test.h - helpers for integration tests against the test API server
 * (tests/cluster/apiserver.sh): a client per identity, a fresh namespace per test
 * program, waiting for a CRD to be served. Every helper fails the calling test loudly.
 */
#ifndef AIOS_KUBE_TEST_H
#define AIOS_KUBE_TEST_H

#include <json-c/json.h>

#include "kube/client.h"

/* A client for identity ("admin", "operator", "nobody", "cert-admin", ...): the
 * kubeconfig $AIOS_TEST_CLUSTER_DIR/<identity>.kubeconfig; "admin" may also come from
 * AIOS_TEST_KUBECONFIG alone. Caller frees. */
struct aios_kube_client *aios_kt_client(const char *identity);

/* Creates a namespace "<prefix>-<random>" and returns its name (static buffer). */
const char *aios_kt_namespace(struct aios_kube_client *c, const char *prefix);

/* Creates (or keeps) a CRD from its JSON text and waits until it is Established and
 * its resource answers a LIST (up to 30 s). */
void aios_kt_ensure_crd(struct aios_kube_client *c, const char *crd_json,
                        const struct aios_kube_gvr *gvr);

/* Path of the cluster directory ($AIOS_TEST_CLUSTER_DIR), or fails the test. */
const char *aios_kt_cluster_dir(void);

/* Restarts kube-apiserver (tests/cluster/apiserver.sh restart-apiserver, its output on
 * stderr) and returns once it is ready again; fails the test when that fails. */
void aios_kt_restart_apiserver(void);

/* A small object {"apiVersion":..,"kind":..,"metadata":{"name":..,"namespace":..}}. */
struct json_object *aios_kt_object(const char *api_version, const char *kind, const char *ns,
                                   const char *name);

#endif
