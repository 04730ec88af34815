/*
 * dashboard.h - `kubectl aios dashboard`: a live web page of the cluster's aios objects.
 *
 * A local server on 127.0.0.1 (libwebsockets) serves the page (plain HTML, CSS and JS
 * compiled into the binary from src/cli/dashboard/: nothing is fetched from elsewhere,
 * so it works offline) and pushes a JSON snapshot over a WebSocket (/ws) whenever the
 * collector has a new one, about once a second. The collector, a thread of its own,
 * reads the cluster with the user's kubeconfig (so it needs no RBAC of its own and no
 * in-cluster part): TrainingJobs and ModelServices, rank 0's pod logs for the loss
 * curves, and the ModelServices' Events for the autoscaler's decisions
 * (dashboard_model.h says what the snapshot holds).
 *
 * Only this machine's browser may use it: the server listens on 127.0.0.1 only, answers
 * only requests whose Host is 127.0.0.1:PORT or localhost:PORT (a DNS-rebinding page
 * cannot reach it) and accepts a WebSocket only from a page of that origin (another site
 * open in the same browser cannot read the cluster through it).
 */
#ifndef AIOS_CLI_DASHBOARD_H
#define AIOS_CLI_DASHBOARD_H

#include "cmd.h"

#define AIOS_DASH_DEFAULT_PORT 8090
#define AIOS_DASH_SNAPSHOT_MAX (8u << 20) /* bytes of one snapshot; over it, an error */

/* Runs until SIGINT/SIGTERM: prints "dashboard: http://127.0.0.1:PORT/" on stdout
 * first. port 0 picks a free one. Returns an exit code (1: the port could not be
 * bound). */
int cli_dashboard(struct aios_kube_client *c, const struct cli_opts *o, int port, int open_browser);

#endif
