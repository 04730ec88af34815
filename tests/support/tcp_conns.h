/*
 * tcp_conns.h - how many TCP connections a process holds to a port, read from /proc:
 * the sockets among its file descriptors (inodes in /proc/PID/fd) that
 * /proc/PID/net/tcp or tcp6 lists as ESTABLISHED with that remote port.
 */
#ifndef AIOS_TEST_TCP_CONNS_H
#define AIOS_TEST_TCP_CONNS_H

#include <stdint.h>

/* pid: "self" or a number. Fails the test when /proc/PID/fd cannot be read. */
int aios_test_tcp_conns(const char *pid, int port);

/* Waits up to ms for aios_test_tcp_conns(pid, port) == want; returns the last count. */
int aios_test_tcp_conns_settle(const char *pid, int port, int want, int64_t ms);

#endif
