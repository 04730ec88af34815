/*
 * probe.h - one run of an HTTP or TCP probe against a pod IP, as the kubelet does:
 * httpGet succeeds on a status 200..399 within timeoutSeconds, tcpSocket when the
 * connection opens. HTTPS probes do not verify the pod's certificate (as the
 * kubelet). Runs through the project's HTTP client (libcurl); the probe's
 * timeoutSeconds is capped at AIOS_PROBE_TIMEOUT_CAP_S, because the agent's loop waits
 * for it.
 */
#ifndef AIOS_NODE_PROBE_H
#define AIOS_NODE_PROBE_H

#include "common/err.h"
#include "node/podspec.h"

#define AIOS_PROBE_TIMEOUT_CAP_S 5 /* s: the longest one probe may hold the agent's loop */

/* AIOS_OK if the probe passed; otherwise an error whose message says why
 * ("HTTP probe failed with statuscode: 503", "HTTP probe to 10.244.0.5:8080: Failed to
 * connect ..."). */
enum aios_err aios_probe_run(const struct aios_podspec_probe *pr, const char *ip) AIOS_MUST_CHECK;

#endif
