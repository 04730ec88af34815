/*
 * runner.h - starts one container as a local process, and signals it.
 *
 * The child joins the pod's network namespace (setns on /run/netns/NAME), becomes
 * the leader of a new session and process group (so a signal reaches everything it
 * forks), sends stdout and stderr to the container's log file, changes directory
 * and execs. Any failure before exec is written back through a close-on-exec pipe,
 * so the caller gets "mount /x: No such file..." rather than a bare exit code 127.
 *
 * Without isolation (the unit tests' mode) it takes a private mount namespace only
 * when there are mounts, binds each volume at its mountPath over the host's tree and
 * runs as the caller. With isolation (aios-node's pods) it is a container:
 *   - a PID namespace (the command is PID 1 there; when it exits, every process it
 *     left is killed by the kernel) and a mount namespace;
 *   - a root of its own: a tmpfs at root_dir, holding read-only binds of the host's
 *     /usr, /lib*, /bin, /sbin, a few files of /etc (passwd, group, hosts,
 *     resolv.conf, nsswitch.conf, ld.so.cache, localtime, ssl, ca-certificates,
 *     alternatives) and bin_dir; a fresh /proc, a read-only /sys, a /dev of null,
 *     zero, full, random, urandom, tty and a /dev/shm; /tmp; then the mounts. It
 *     pivot_roots into it, so nothing else of the host (its /etc/shadow, /root, the
 *     cluster's keys, other pods' directories) exists for the container; the root
 *     is read-only when read_only_root says so, the volumes keep their own mode;
 *   - every mount point is made and opened beneath the root without following a
 *     symbolic link (aios_volumes_open_beneath) and mounted by descriptor
 *     (open_tree/move_mount), so a link inside a volume cannot redirect a mount;
 *   - its cgroup (cgroup v1 memory and cpu, under a cgroup "aios-node" of the
 *     node's own) with memory.limit_in_bytes and the CFS quota of its limits;
 *   - the user uid, group gid and the supplementary group fs_group, every
 *     capability dropped (bounding set too), no_new_privs, and a seccomp filter
 *     refusing with EPERM the system calls Docker's default profile refuses (module
 *     loading, mount, namespaces, ptrace, bpf, keyring, reboot, clock setting...).
 *
 * Mount points missing on the host are created as empty directories (or empty
 * files for a file bind), as a container runtime creates them in an image's root;
 * without isolation they stay empty on the host because the bind exists only in
 * the pod's namespace.
 */
#ifndef AIOS_NODE_RUNNER_H
#define AIOS_NODE_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

struct aios_runner_mount {
	const char *src; /* host directory or file */
	const char *dst; /* absolute path seen by the process */
	int read_only;
	int src_fd; /* >= 0: an O_PATH descriptor of src to bind instead of its path */
};

struct aios_runner_spec {
	const char *netns; /* NULL: stay in the host's network namespace */
	char *const *argv; /* argv[0]: a path, or a name looked up in the env's PATH */
	char *const *env;
	const char *cwd; /* must exist after the mounts (or before, with cwd_early) */
	int cwd_early;   /* enter cwd before mounting, so no mount can hide it */
	const struct aios_runner_mount *mounts;
	size_t n_mounts;
	const char *log_path; /* stdout and stderr are appended here */
	/* isolation (runner.h, top); 0: the caller's user, root and namespaces */
	int isolate;
	const char *root_dir; /* an existing host directory the container's root is built on */
	const char *bin_dir;  /* bound read-only at its own path (NULL: none) */
	uid_t uid;
	gid_t gid;
	long fs_group;        /* supplementary group; -1: none */
	int read_only_root;   /* the root tmpfs read-only (readOnlyRootFilesystem) */
	const char *cgroup;   /* NULL: none; else its name under the node's cgroup */
	int64_t memory_limit; /* bytes, 0: none */
	int64_t cpu_limit;    /* millicores, 0: none */
};

/* Starts the process; *pid is its pid (= its process group). */
enum aios_err aios_runner_start(const struct aios_runner_spec *s, pid_t *pid) AIOS_MUST_CHECK;

/* The cgroup v1 hierarchies used, and the node's own cgroup in each of them. */
#define AIOS_RUNNER_CGROUP_ROOT "/sys/fs/cgroup"
#define AIOS_RUNNER_CGROUP_NODE "aios-node"

/* 1 when the container's cgroup saw the OOM killer (memory.oom_control oom_kill > 0). */
int aios_runner_cgroup_oom_killed(const char *cgroup);

/* Removes the container cgroup name (and a pod cgroup: name, its children first);
 * best effort, silent when it does not exist or still holds a process. */
void aios_runner_cgroup_remove(const char *name);

/* Sends sig to the process group of pid (then to pid itself if the group is gone). */
void aios_runner_signal(pid_t pid, int sig);

/* 1 if a process with this pid exists. */
int aios_runner_alive(pid_t pid);

/* Kills the process group of pid: SIGTERM, up to grace_ms for it to go, then SIGKILL.
 * Used for processes that are not our children (left by an earlier aios-node). */
void aios_runner_kill_group(pid_t pid, int grace_ms);

#endif
