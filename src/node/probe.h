/*
 * probe.h - HTTP and TCP probes against a pod IP, as the kubelet runs them: httpGet
 * succeeds on a status 200..399 within timeoutSeconds, tcpSocket when the connection
 * opens. HTTPS probes do not verify the pod's certificate (as the kubelet). Runs
 * through the project's HTTP client (libcurl); a probe's timeoutSeconds is capped at
 * AIOS_PROBE_TIMEOUT_CAP_S.
 *
 * The agent's loop never waits for a probe: aios_probe_start() runs one on a thread of
 * its own (as the kubelet runs each probe in a goroutine of its own) and the loop
 * collects the outcome with aios_probe_done() on a later round. So a pod whose endpoint
 * hangs delays only its own probe's result, never other pods' status or the Lease. At
 * most AIOS_PROBE_MAX_RUNNING runs are in flight in the process; past it a start is
 * refused and the caller tries on its next round.
 */
#ifndef AIOS_NODE_PROBE_H
#define AIOS_NODE_PROBE_H

#include "common/err.h"
#include "node/podspec.h"

#define AIOS_PROBE_TIMEOUT_CAP_S 5  /* s: the longest one probe may run */
#define AIOS_PROBE_MAX_RUNNING   64 /* probe threads at once in the process */
#define AIOS_PROBE_MSG_MAX       256

/* Runs one probe in this thread. AIOS_OK if it passed; otherwise an error whose message
 * says why ("HTTP probe failed with statuscode: 503", "HTTP probe to 10.244.0.5:8080:
 * Failed to connect ..."). */
enum aios_err aios_probe_run(const struct aios_podspec_probe *pr, const char *ip) AIOS_MUST_CHECK;

/* One probe running on its own thread. Two references: the caller's, dropped with
 * aios_probe_release(), and the thread's; the last one frees it. */
struct aios_probe_run;

/* Starts pr against ip (both copied: the pod may go while the probe runs) on a new
 * detached thread. NULL when AIOS_PROBE_MAX_RUNNING runs are in flight or a thread
 * cannot be made (the reason recorded, AIOS_ERR_UNAVAILABLE), or after
 * aios_probe_shutdown(). */
struct aios_probe_run *aios_probe_start(const struct aios_podspec_probe *pr, const char *ip);

/* 1 when the run has finished: *err gets its outcome and msg (AIOS_PROBE_MSG_MAX bytes)
 * the reason of a failure. 0 while it runs. Never blocks. */
int aios_probe_done(struct aios_probe_run *r, enum aios_err *err, char *msg);

/* Drops the caller's reference (the result is no longer wanted: its container stopped
 * or its pod went). A running probe finishes on its own, within its timeout. NULL is a
 * no-op. */
void aios_probe_release(struct aios_probe_run *r);

/* Runs in flight now. */
int aios_probe_running(void);

/* At the agent's stop: refuses new starts, cancels the runs in flight (they end within
 * the HTTP client's poll slice, AIOS_HTTPC_POLL_SLICE_MS) and waits for their threads
 * to end, at most wait_ms. */
void aios_probe_shutdown(int wait_ms);

#endif
