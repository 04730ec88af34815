/*
 * shutdown.h - signal-safe shutdown.
 *
 * aios_shutdown_install() makes SIGTERM and SIGINT set a flag and write one byte to
 * a self-pipe; the handler does nothing else (async-signal-safe). Long loops test
 * aios_shutdown_requested(); event loops can poll aios_shutdown_fd(); sleepers use
 * aios_shutdown_wait_ms(), which returns early when shutdown begins. SIGPIPE is
 * ignored (a closed socket is an error return, not a death).
 */
#ifndef AIOS_SHUTDOWN_H
#define AIOS_SHUTDOWN_H

#include <stdint.h>

void aios_shutdown_install(void);
int aios_shutdown_requested(void);
/* Readable once shutdown is requested (never drained by aios). -1 before install. */
int aios_shutdown_fd(void);
/* Requests shutdown from code (same effect as SIGTERM). */
void aios_shutdown_request(void);
/* Waits up to ms; returns 1 if shutdown was requested, 0 on timeout. */
int aios_shutdown_wait_ms(int64_t ms);

#endif
