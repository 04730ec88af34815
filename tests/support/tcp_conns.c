/*
 * tcp_conns.c - see tcp_conns.h.
 */
#include "support/tcp_conns.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

#define MAX_SOCKETS 4096 /* of one process: far more than any test's */

/* The socket inodes among pid's descriptors into ino[]; their number. */
static int socket_inodes(const char *pid, unsigned long *ino, int cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	DIR *d = opendir(path);
	ck_assert_msg(d != NULL, "cannot read %s", path);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL && n < cap;) {
		char link[320], target[128];
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		ssize_t l = readlink(link, target, sizeof(target) - 1);
		if (l <= 0)
			continue;
		target[l] = 0;
		if (sscanf(target, "socket:[%lu]", &ino[n]) == 1)
			n++;
	}
	closedir(d);
	return n;
}

int aios_test_tcp_conns(const char *pid, int port)
{
	static unsigned long ino[MAX_SOCKETS];
	int n = socket_inodes(pid, ino, MAX_SOCKETS), count = 0;
	for (int v6 = 0; v6 < 2; v6++) {
		char path[64], line[512];
		snprintf(path, sizeof(path), "/proc/%s/net/tcp%s", pid, v6 ? "6" : "");
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(line, sizeof(line), f)) /* the header */
			line[0] = 0;
		while (fgets(line, sizeof(line), f)) {
			/* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
			char rem[64];
			unsigned st;
			unsigned long inode;
			if (sscanf(line, "%*s %*s %63s %x %*s %*s %*s %*u %*u %lu", rem, &st,
			           &inode) != 3)
				continue;
			const char *pc = strrchr(rem, ':');
			if (st != 1 /* TCP_ESTABLISHED */ || !pc ||
			    (int)strtol(pc + 1, NULL, 16) != port)
				continue;
			for (int i = 0; i < n; i++)
				if (ino[i] == inode) {
					count++;
					break;
				}
		}
		fclose(f);
	}
	return count;
}

int aios_test_tcp_conns_settle(const char *pid, int port, int want, int64_t ms)
{
	int64_t until = aios_now_ms() + ms;
	int c;
	while ((c = aios_test_tcp_conns(pid, port)) != want && aios_now_ms() < until)
		aios_sleep_ms(50);
	return c;
}
