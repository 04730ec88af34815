/*
 * probe.h - one run of an HTTP or TCP probe against a pod IP, as the kubelet does:
 * httpGet succeeds on a status 200..399 within timeoutSeconds, tcpSocket when the
 * connection opens. HTTPS probes are not supported (fail with a message).
 */
#ifndef AIOS_NODE_PROBE_H
#define AIOS_NODE_PROBE_H

#include "common/err.h"
#include "node/podspec.h"

/* AIOS_OK if the probe passed; otherwise an error whose message says why
 * ("HTTP probe failed with statuscode: 503", "connect 10.244.0.5:8080: refused"). */
enum aios_err aios_probe_run(const struct aios_podspec_probe *pr, const char *ip) AIOS_MUST_CHECK;

/* Parses the status code of an HTTP/1.x status line; -1 if it is not one. */
int aios_probe_status_code(const char *line);

#endif
