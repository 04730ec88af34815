/*
 * nodenet.c - bridge, veth pairs and network namespaces (see nodenet.h).
 */
#include "node/nodenet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mem.h"

/* ------------------------------------------------------------------ CIDR arithmetic */

enum aios_err aios_cidr_parse(const char *s, struct aios_cidr *out)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || slash - s > 15)
		return aios_fail(AIOS_ERR_INVALID, "pod range %s: expected a.b.c.d/prefix",
		                 s ? s : "(null)");
	char ip[16];
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	struct in_addr a;
	char *end;
	long p = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET, ip, &a) != 1 || *end || end == slash + 1)
		return aios_fail(AIOS_ERR_INVALID, "pod range %s: expected a.b.c.d/prefix", s);
	if (p < 16 || p > 30)
		return aios_fail(AIOS_ERR_INVALID, "pod range %s: prefix must be 16..30", s);
	uint32_t mask = 0xffffffffu << (32 - p);
	out->addr = ntohl(a.s_addr) & mask;
	out->prefix = (int)p;
	return AIOS_OK;
}

uint32_t aios_cidr_pod_slots(const struct aios_cidr *c)
{
	return (1u << (32 - c->prefix)) - 3;
}

void aios_cidr_host(const struct aios_cidr *c, uint32_t i, char out[16])
{
	struct in_addr a = {.s_addr = htonl(c->addr + i)};
	inet_ntop(AF_INET, &a, out, 16);
}

long aios_cidr_index(const struct aios_cidr *c, const char *ip)
{
	struct in_addr a;
	if (!ip || inet_pton(AF_INET, ip, &a) != 1)
		return -1;
	uint32_t h = ntohl(a.s_addr), mask = 0xffffffffu << (32 - c->prefix);
	if ((h & mask) != c->addr)
		return -1;
	return (long)(h - c->addr);
}

/* ------------------------------------------------------------------ route check */

enum aios_err aios_nodenet_check_routes(const char *text, const struct aios_cidr *range)
{
	uint32_t rmask = 0xffffffffu << (32 - range->prefix);
	const char *line = strchr(text, '\n'); /* skip the header */
	while (line && *line) {
		line++;
		char iface[32];
		unsigned dst, gw, flags, refcnt, use, metric, mask;
		if (sscanf(line, "%31s %x %x %x %u %u %u %x", iface, &dst, &gw, &flags, &refcnt,
		           &use, &metric, &mask) == 8) {
			/* /proc/net/route prints addresses in network byte order as hex */
			uint32_t d = ntohl(dst), m = ntohl(mask);
			if (m != 0) {
				uint32_t common =
				    m & rmask; /* the shorter prefix decides overlap */
				if ((d & common) == (range->addr & common)) {
					char rd[16], rr[16];
					struct in_addr a = {.s_addr = dst},
					               b = {.s_addr = htonl(range->addr)};
					inet_ntop(AF_INET, &a, rd, sizeof rd);
					inet_ntop(AF_INET, &b, rr, sizeof rr);
					int plen = __builtin_popcount(m);
					return aios_fail(AIOS_ERR_EXISTS,
					                 "route %s/%d on %s overlaps the pod range "
					                 "%s/%d; pick another "
					                 "--pod-cidr or remove that route",
					                 rd, plen, iface, rr, range->prefix);
				}
			}
		}
		line = strchr(line, '\n');
	}
	return AIOS_OK;
}

/* ------------------------------------------------------------------ names */

void aios_nodenet_names(const char *uid, char netns[AIOS_NODENET_NAME_MAX + 16],
                        char veth[AIOS_NODENET_NAME_MAX])
{
	char hex[13];
	size_t n = 0;
	for (const char *p = uid; *p && n < 12; p++)
		if (*p != '-')
			hex[n++] = *p;
	hex[n] = '\0';
	snprintf(netns, AIOS_NODENET_NAME_MAX + 16, "aios-%s", hex);
	hex[n > 9 ? 9 : n] = '\0';
	snprintf(veth, AIOS_NODENET_NAME_MAX, "aiosv%s", hex); /* 14 bytes at most */
}

/* ------------------------------------------------------------------ running ip */

#define RUN_STDERR_MAX 4096 /* bytes of a failing command's stderr kept for the message */

enum aios_err aios_nodenet_run(char *const argv[])
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return aios_fail(AIOS_ERR_IO, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return aios_fail(AIOS_ERR_IO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(pfd[1], 2);
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	char err[RUN_STDERR_MAX];
	size_t len = 0;
	ssize_t r;
	while ((r = read(pfd[0], err + len, sizeof err - 1 - len)) > 0 || (r < 0 && errno == EINTR))
		if (r > 0)
			len += (size_t)r;
	close(pfd[0]);
	err[len] = '\0';
	while (len && (err[len - 1] == '\n' || err[len - 1] == ' '))
		err[--len] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return AIOS_OK;
	char cmd[256];
	size_t cl = 0;
	for (size_t i = 0; argv[i] && cl < sizeof cmd - 1; i++)
		cl += (size_t)snprintf(cmd + cl, sizeof cmd - cl, "%s%s", i ? " " : "", argv[i]);
	return aios_fail(AIOS_ERR_IO, "`%s` failed: %s", cmd, len ? err : "non-zero exit");
}

#define RUN(...)                                                                                   \
	do {                                                                                       \
		char *const a_[] = {__VA_ARGS__, NULL};                                            \
		enum aios_err e_ = aios_nodenet_run(a_);                                           \
		if (e_)                                                                            \
			return e_;                                                                 \
	} while (0)

int aios_nodenet_link_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

/* ------------------------------------------------------------------ bridge */

enum aios_err aios_nodenet_bridge_up(const char *bridge, const struct aios_cidr *range)
{
	char gw[16], addr[24];
	aios_cidr_host(range, 1, gw);
	snprintf(addr, sizeof addr, "%s/%d", gw, range->prefix);
	RUN("ip", "link", "add", "name", (char *)bridge, "type", "bridge");
	RUN("ip", "addr", "add", addr, "dev", (char *)bridge);
	RUN("ip", "link", "set", (char *)bridge, "up");
	return AIOS_OK;
}

enum aios_err aios_nodenet_bridge_down(const char *bridge)
{
	if (!aios_nodenet_link_exists(bridge))
		return AIOS_OK;
	RUN("ip", "link", "del", (char *)bridge);
	return AIOS_OK;
}

/* ------------------------------------------------------------------ pods */

static int netns_exists(const char *netns)
{
	char path[64];
	snprintf(path, sizeof path, "/run/netns/%s", netns);
	return access(path, F_OK) == 0;
}

enum aios_err aios_nodenet_pod_up(const char *bridge, const struct aios_cidr *range,
                                  const char *netns, const char *veth, const char *ip)
{
	char gw[16], addr[24];
	aios_cidr_host(range, 1, gw);
	snprintf(addr, sizeof addr, "%s/%d", ip, range->prefix);
	enum aios_err err = aios_nodenet_pod_down(netns, veth); /* a half-made earlier attempt */
	if (err)
		return err;
	char *ns = (char *)netns, *v = (char *)veth;
	RUN("ip", "netns", "add", ns);
	RUN("ip", "-n", ns, "link", "set", "lo", "up");
	RUN("ip", "link", "add", v, "type", "veth", "peer", "name", "eth0", "netns", ns);
	RUN("ip", "link", "set", v, "master", (char *)bridge);
	RUN("ip", "link", "set", v, "up");
	RUN("ip", "-n", ns, "addr", "add", addr, "dev", "eth0");
	RUN("ip", "-n", ns, "link", "set", "eth0", "up");
	RUN("ip", "-n", ns, "route", "add", "default", "via", gw);
	/* the host may still map this address to an earlier pod's MAC: forget it */
	RUN("ip", "neigh", "flush", "to", (char *)ip, "dev", (char *)bridge);
	return AIOS_OK;
}

enum aios_err aios_nodenet_pod_down(const char *netns, const char *veth)
{
	if (veth && aios_nodenet_link_exists(veth))
		RUN("ip", "link", "del", (char *)veth);
	if (netns && netns_exists(netns))
		RUN("ip", "netns", "del", (char *)netns);
	return AIOS_OK;
}
