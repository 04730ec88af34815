/*
 * runner.c - one container = one process group in the pod's namespaces (runner.h).
 *
 * Everything that may allocate or format happens in the parent before fork
 * (aios-node is multi-threaded, so the child may only make system calls): the
 * executable is resolved against the container's PATH, mount points are created,
 * the netns and log file are opened. The child only calls setsid, setns, unshare,
 * mount, dup2, chdir and execve, and on failure writes {step, index, errno} to
 * the report pipe.
 */
#include "node/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "node/volumes.h"

#define SRC_FD_BASE 512 /* fds the child opens volume sources at (below the usual 1024 limit) */
#define MAX_MOUNTS  256 /* mounts per container (so SRC_FD_BASE + i stays under 1024) */

enum step {
	STEP_SETSID,
	STEP_SETNS,
	STEP_UNSHARE,
	STEP_PRIVATE,
	STEP_BIND,
	STEP_REMOUNT_RO,
	STEP_CHDIR,
	STEP_EXEC
};

struct report {
	int step;
	int index; /* mount index for STEP_BIND/STEP_REMOUNT_RO */
	int err;
};

static const char *step_name(int s)
{
	static const char *names[] = {"setsid",         "setns",      "unshare(CLONE_NEWNS)",
	                              "make / private", "bind mount", "remount read-only",
	                              "chdir",          "exec"};
	return s >= 0 && s <= STEP_EXEC ? names[s] : "?";
}

/* Makes dst a mount point of the same type as src (directory or file). */
static enum aios_err make_mount_point(const struct aios_runner_mount *m)
{
	struct stat st;
	if (stat(m->src, &st) != 0)
		return aios_fail(AIOS_ERR_IO, "volume source %s: %s", m->src, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		enum aios_err err = aios_volumes_mkdir_p(m->dst);
		return err ? aios_fail_wrap(err, "mount point %s", m->dst) : AIOS_OK;
	}
	char *dir = aios_xstrdup(m->dst);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	enum aios_err err = aios_volumes_mkdir_p(dir);
	free(dir);
	if (err)
		return aios_fail_wrap(err, "mount point %s", m->dst);
	int fd = open(m->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EISDIR)
		return aios_fail(AIOS_ERR_IO, "mount point %s: %s", m->dst, strerror(errno));
	if (fd >= 0)
		close(fd);
	return AIOS_OK;
}

/* Resolves argv0 against the PATH in env, as the runtime in a container would, into
 * out (PATH_MAX bytes); 0 if found. Stack buffers, so that a child failing before exec
 * holds no heap block of its own (valgrind counts those as leaks at _exit). */
static int resolve_exec(const char *argv0, char *const *env, char *out)
{
	if (strchr(argv0, '/')) {
		snprintf(out, PATH_MAX, "%s", argv0);
		return access(argv0, X_OK) == 0 ? 0 : -1;
	}
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	for (char *const *e = env; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		struct stat st;
		if (n && snprintf(out, PATH_MAX, "%.*s/%s", (int)n, p, argv0) < PATH_MAX &&
		    stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return 0;
		p += n;
		if (*p == ':')
			p++;
	}
	return -1;
}

static void child_fail(int fd, int step, int index)
{
	struct report r = {step, index, errno};
	ssize_t w = write(fd, &r, sizeof r);
	(void)w;
	_exit(127);
}

enum aios_err aios_runner_start(const struct aios_runner_spec *s, pid_t *pid)
{
	*pid = -1;
	if (!s->argv || !s->argv[0])
		return aios_fail(AIOS_ERR_INVALID,
		                 "container has no command: the image gives none and "
		                 "the pod sets none");
	char exe[PATH_MAX];
	if (resolve_exec(s->argv[0], s->env, exe) != 0)
		return aios_fail(AIOS_ERR_NOT_FOUND,
		                 "exec: \"%s\": executable file not found in $PATH", s->argv[0]);
	for (size_t i = 0; i < s->n_mounts; i++) {
		enum aios_err err = make_mount_point(&s->mounts[i]);
		if (err)
			return err;
	}
	int nsfd = -1, logfd = -1, pfd[2] = {-1, -1};
	enum aios_err err = AIOS_OK;
	/*
	 * In the child each source is opened (after unshare: a bind needs a source in the
	 * same mount namespace) at fd SRC_FD_BASE + i before any mount, then bound from
	 * /proc/self/fd/N, so a mount made earlier in the list (an emptyDir at /tmp)
	 * cannot hide a later source that lives under that path (a state dir in /tmp).
	 */
	if (s->n_mounts > MAX_MOUNTS)
		return aios_fail(AIOS_ERR_TOO_BIG, "%zu mounts in one container, more than %d",
		                 s->n_mounts, MAX_MOUNTS);
	char srcpath[MAX_MOUNTS][32];
	for (size_t i = 0; i < s->n_mounts; i++)
		snprintf(srcpath[i], sizeof srcpath[i], "/proc/self/fd/%d", SRC_FD_BASE + (int)i);
	if (s->netns) {
		char path[128];
		snprintf(path, sizeof path, "/run/netns/%s", s->netns);
		if ((nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			err = aios_fail(AIOS_ERR_IO, "network namespace %s: %s", path,
			                strerror(errno));
			goto out;
		}
	}
	if ((logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0) {
		err = aios_fail(AIOS_ERR_IO, "log file %s: %s", s->log_path, strerror(errno));
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		err = aios_fail(AIOS_ERR_IO, "pipe: %s", strerror(errno));
		goto out;
	}
	pid_t child = fork();
	if (child < 0) {
		err = aios_fail(AIOS_ERR_IO, "fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0) {
		/* the child: system calls only */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (setsid() < 0)
			child_fail(pfd[1], STEP_SETSID, 0);
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0)
			child_fail(pfd[1], STEP_SETNS, 0);
		/* the executable too is held open before mounting: a mount may hide its path */
		int exefd = open(exe, O_PATH | O_CLOEXEC);
		if (s->cwd && s->cwd_early && chdir(s->cwd) != 0)
			child_fail(pfd[1], STEP_CHDIR, 0);
		if (s->n_mounts > 0) {
			if (unshare(CLONE_NEWNS) != 0)
				child_fail(pfd[1], STEP_UNSHARE, 0);
			if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
				child_fail(pfd[1], STEP_PRIVATE, 0);
			for (size_t i = 0; i < s->n_mounts; i++) {
				int fd = open(s->mounts[i].src, O_PATH | O_CLOEXEC);
				if (fd < 0 || dup2(fd, SRC_FD_BASE + (int)i) < 0)
					child_fail(pfd[1], STEP_BIND, (int)i);
				close(fd);
			}
			for (size_t i = 0; i < s->n_mounts; i++) {
				const struct aios_runner_mount *m = &s->mounts[i];
				if (mount(srcpath[i], m->dst, NULL, MS_BIND | MS_REC, NULL) != 0)
					child_fail(pfd[1], STEP_BIND, (int)i);
				if (m->read_only &&
				    mount(NULL, m->dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY,
				          NULL) != 0)
					child_fail(pfd[1], STEP_REMOUNT_RO, (int)i);
			}
			for (size_t i = 0; i < s->n_mounts; i++)
				close(SRC_FD_BASE + (int)i);
		}
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (s->cwd && !s->cwd_early && chdir(s->cwd) != 0)
			child_fail(pfd[1], STEP_CHDIR, 0);
		if (exefd >= 0)
			syscall(SYS_execveat, exefd, "", s->argv, s->env, AT_EMPTY_PATH);
		execve(exe, s->argv, s->env); /* a script (execveat of a close-on-exec fd fails) */
		child_fail(pfd[1], STEP_EXEC, 0);
	}
	close(pfd[1]);
	pfd[1] = -1;
	struct report r;
	ssize_t n;
	while ((n = read(pfd[0], &r, sizeof r)) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof r) {
		int status;
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
		if (r.step == STEP_BIND || r.step == STEP_REMOUNT_RO)
			err = aios_fail(AIOS_ERR_IO, "%s %s at %s: %s", step_name(r.step),
			                s->mounts[r.index].src, s->mounts[r.index].dst,
			                strerror(r.err));
		else if (r.step == STEP_CHDIR)
			err = aios_fail(AIOS_ERR_IO, "chdir %s: %s", s->cwd, strerror(r.err));
		else if (r.step == STEP_EXEC)
			err = aios_fail(AIOS_ERR_IO, "exec %s: %s", exe, strerror(r.err));
		else
			err = aios_fail(AIOS_ERR_IO, "%s: %s", step_name(r.step), strerror(r.err));
		goto out;
	}
	*pid = child;
out:
	if (nsfd >= 0)
		close(nsfd);
	if (logfd >= 0)
		close(logfd);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return err;
}

void aios_runner_signal(pid_t pid, int sig)
{
	if (pid <= 0)
		return;
	if (kill(-pid, sig) != 0)
		kill(pid, sig);
}

int aios_runner_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static int group_alive(pid_t pid)
{
	return kill(-pid, 0) == 0 || aios_runner_alive(pid);
}

void aios_runner_kill_group(pid_t pid, int grace_ms)
{
	if (pid <= 1 || !group_alive(pid))
		return;
	aios_runner_signal(pid, SIGTERM);
	for (int waited = 0; waited < grace_ms && group_alive(pid); waited += 50) {
		waitpid(pid, NULL, WNOHANG); /* reap it if it happens to be our child */
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (group_alive(pid))
		aios_runner_signal(pid, SIGKILL);
	waitpid(pid, NULL, WNOHANG);
}
