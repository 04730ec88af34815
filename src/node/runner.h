/*
 * runner.h - starts one container as a local process, and signals it.
 *
 * The child joins the pod's network namespace (setns on /run/netns/NAME), takes
 * a private mount namespace (unshare CLONE_NEWNS, "/" made recursively private)
 * in which each volume directory is bind-mounted at its mountPath, becomes the
 * leader of a new session and process group (so a signal reaches everything it
 * forks), sends stdout and stderr to the container's log file, changes directory
 * and execs. Any failure before exec is written back through a close-on-exec pipe,
 * so the caller gets "mount /x: No such file..." rather than a bare exit code 127.
 *
 * Mount points missing on the host are created as empty directories (or empty
 * files for a file bind), as a container runtime creates them in an image's root;
 * they stay empty on the host because the bind exists only in the pod's namespace.
 */
#ifndef AIOS_NODE_RUNNER_H
#define AIOS_NODE_RUNNER_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

struct aios_runner_mount {
	const char *src; /* host directory or file */
	const char *dst; /* absolute path seen by the process */
	int read_only;
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
};

/* Starts the process; *pid is its pid (= its process group). */
enum aios_err aios_runner_start(const struct aios_runner_spec *s, pid_t *pid) AIOS_MUST_CHECK;

/* Sends sig to the process group of pid (then to pid itself if the group is gone). */
void aios_runner_signal(pid_t pid, int sig);

/* 1 if a process with this pid exists. */
int aios_runner_alive(pid_t pid);

/* Kills the process group of pid: SIGTERM, up to grace_ms for it to go, then SIGKILL.
 * Used for processes that are not our children (left by an earlier aios-node). */
void aios_runner_kill_group(pid_t pid, int grace_ms);

#endif
