/*
 * runner.c - one container = one process group in the pod's namespaces (runner.h).
 *
 * Everything that may allocate or format happens in the parent before fork or
 * clone (aios-node is multi-threaded, so the child may only make system calls):
 * the executable is resolved against the container's PATH, mount points on the host
 * are created, the netns, log file, cgroup files and volume sources are opened, the
 * host's system directories are looked up and the seccomp program is built. The
 * child only makes system calls, and on failure writes {step, index, errno} to the
 * report pipe.
 *
 * Why a root of its own rather than a denylist over the host's tree: the host's
 * tree holds more secrets than one can list (the cluster's keys and kubeconfigs,
 * other pods' volumes, /root); a root made of what a program needs to run shows
 * nothing else, as a container image does.
 *
 * Sections: the parent's preparation, the child, start, cgroups.
 */
#include "node/runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/path.h"
#include "node/volumes.h"

#define SRC_FD_BASE 512 /* fds the child opens volume sources at (below the usual 1024 limit) */
#define MAX_MOUNTS  256 /* mounts per container (so SRC_FD_BASE + i stays under 1024) */
#define MAX_SYS     32  /* host entries of the container's root */
#define CHILD_STACK (256u << 10)         /* bytes of the cloned child's stack */
#define ROOT_TMPFS  "size=16m,mode=0755" /* the container's root: mount points and /tmp */
#define CFS_PERIOD  100000               /* us: the CFS period the cpu quota is a share of */

enum step {
	STEP_SETSID,
	STEP_SETNS,
	STEP_UNSHARE,
	STEP_PRIVATE,
	STEP_BIND,
	STEP_REMOUNT_RO,
	STEP_CHDIR,
	STEP_EXEC,
	STEP_CGROUP,
	STEP_ROOT,
	STEP_SYS,
	STEP_PIVOT,
	STEP_USER,
	STEP_SECCOMP,
};

struct report {
	int step;
	int index; /* mount index for STEP_BIND/STEP_REMOUNT_RO, entry for STEP_SYS */
	int err;
};

static const char *step_name(int s)
{
	static const char *names[] = {"setsid",
	                              "setns",
	                              "unshare(CLONE_NEWNS)",
	                              "make / private",
	                              "bind mount",
	                              "remount read-only",
	                              "chdir",
	                              "exec",
	                              "join cgroup",
	                              "container root",
	                              "container root entry",
	                              "pivot_root",
	                              "drop to the container's user",
	                              "seccomp"};
	return s >= 0 && s <= STEP_SECCOMP ? names[s] : "?";
}

/* ------------------------------------------------------------------ the parent */

/* One entry of the container's root taken from the host. */
enum sys_kind { SYS_DIR, SYS_FILE, SYS_DEV, SYS_LINK, SYS_PROC, SYS_SYSFS, SYS_TMPFS, SYS_MKDIR };

struct sys_entry {
	enum sys_kind kind;
	char path[PATH_MAX];   /* absolute, in the container (and on the host for binds) */
	char target[PATH_MAX]; /* SYS_LINK: the link's text */
	unsigned mode;         /* SYS_MKDIR, SYS_TMPFS */
};

static struct sys_entry sys_entries[MAX_SYS];
static size_t n_sys;
static struct sock_fprog seccomp_prog;
static char seccomp_err[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void sys_add(enum sys_kind k, const char *path, const char *target, unsigned mode)
{
	if (n_sys == MAX_SYS)
		return;
	struct sys_entry *e = &sys_entries[n_sys++];
	e->kind = k;
	e->mode = mode;
	snprintf(e->path, sizeof e->path, "%s", path);
	snprintf(e->target, sizeof e->target, "%s", target ? target : "");
}

/* A host directory, file or link, bound (or copied, for a link) as it is; none if absent. */
static void sys_add_host(const char *path)
{
	struct stat st;
	char target[PATH_MAX];
	if (lstat(path, &st) != 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n <= 0)
			return;
		target[n] = '\0';
		sys_add(SYS_LINK, path, target, 0);
	} else {
		sys_add(S_ISDIR(st.st_mode) ? SYS_DIR : SYS_FILE, path, NULL, 0);
	}
}

/* Docker's default profile refuses these (EPERM); everything else is allowed. */
static const char *const denied_syscalls[] = {
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "sysfs",
    "_sysctl",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
};

/* Builds the seccomp program once with libseccomp (its BPF exported to memory). */
static void build_seccomp(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		snprintf(seccomp_err, sizeof seccomp_err, "seccomp_init failed");
		return;
	}
	for (size_t i = 0; i < sizeof denied_syscalls / sizeof denied_syscalls[0]; i++) {
		int nr = seccomp_syscall_resolve_name(denied_syscalls[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (rc < 0 && rc != -EEXIST) {
			snprintf(seccomp_err, sizeof seccomp_err, "seccomp rule for %s: %s",
			         denied_syscalls[i], strerror(-rc));
			seccomp_release(ctx);
			return;
		}
	}
	/* clone with a namespace flag would make a new namespace: refused too, as is
	 * clone3 (ENOSYS, so that libc falls back to clone, whose flags a filter sees) */
	const unsigned long ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
	                                  CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};
	for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++)
		(void)seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
		                       SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
	(void)seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	char path[] = "/tmp/aios-seccomp-XXXXXX";
	int fd = mkstemp(path);
	if (fd >= 0) {
		unlink(path);
		if (seccomp_export_bpf(ctx, fd) == 0) {
			off_t n = lseek(fd, 0, SEEK_END);
			struct sock_filter *f = n > 0 ? aios_xmalloc((size_t)n) : NULL;
			if (f && pread(fd, f, (size_t)n, 0) == n) {
				seccomp_prog.filter = f;
				seccomp_prog.len = (unsigned short)((size_t)n / sizeof *f);
			} else {
				free(f);
			}
		}
		close(fd);
	}
	if (!seccomp_prog.filter)
		snprintf(seccomp_err, sizeof seccomp_err, "exporting the seccomp filter failed");
	seccomp_release(ctx);
}

/* The host entries of every container's root, looked up once. */
static void prepare_once(void)
{
	static const char *const host[] = {"/usr",
	                                   "/lib",
	                                   "/lib64",
	                                   "/lib32",
	                                   "/libx32",
	                                   "/bin",
	                                   "/sbin",
	                                   "/etc/passwd",
	                                   "/etc/group",
	                                   "/etc/hosts",
	                                   "/etc/resolv.conf",
	                                   "/etc/nsswitch.conf",
	                                   "/etc/host.conf",
	                                   "/etc/ld.so.cache",
	                                   "/etc/localtime",
	                                   "/etc/ssl",
	                                   "/etc/ca-certificates",
	                                   "/etc/alternatives"};
	for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
		sys_add_host(host[i]);
	sys_add(SYS_PROC, "/proc", NULL, 0);
	sys_add(SYS_SYSFS, "/sys", NULL, 0);
	sys_add(SYS_TMPFS, "/dev", NULL, 0755);
	static const char *const devs[] = {"/dev/null",   "/dev/zero",    "/dev/full",
	                                   "/dev/random", "/dev/urandom", "/dev/tty"};
	for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
		if (access(devs[i], F_OK) == 0)
			sys_add(SYS_DEV, devs[i], NULL, 0);
	sys_add(SYS_TMPFS, "/dev/shm", NULL, 01777);
	sys_add(SYS_LINK, "/dev/fd", "/proc/self/fd", 0);
	sys_add(SYS_LINK, "/dev/stdin", "/proc/self/fd/0", 0);
	sys_add(SYS_LINK, "/dev/stdout", "/proc/self/fd/1", 0);
	sys_add(SYS_LINK, "/dev/stderr", "/proc/self/fd/2", 0);
	sys_add(SYS_MKDIR, "/tmp", NULL, 01777);
	build_seccomp();
}

/* Makes dst a mount point of the same type as src (directory or file) on the host. */
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
	const char *path = NULL;
	for (char *const *e = env; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	return aios_path_find(argv0, path, out, PATH_MAX);
}

/* ------------------------------------------------------------------ the child */

struct child_args {
	const struct aios_runner_spec *s;
	const char *exe;
	int nsfd, logfd, report_fd;
	int cgroup_fds[2]; /* cgroup.procs of memory and cpu, or -1 */
	int src_is_file[MAX_MOUNTS];
	char (*srcpath)[32];
};

static void child_fail(int fd, int step, int index)
{
	struct report r = {step, index, errno};
	ssize_t w = write(fd, &r, sizeof r);
	(void)w;
	_exit(127);
}

/* Mounts the tree of the O_PATH descriptor src on the target made beneath root at
 * path (a file when is_file), always nosuid, read-only when ro, nodev unless dev (a
 * device node: /dev/null opened for writing needs it; a read-only bind still lets a
 * device be written, as writes to special files do not go to the file system);
 * recursive. */
static int bind_beneath(int root, int src, const char *path, int is_file, int ro, int dev)
{
	int target = aios_volumes_open_beneath(root, path, 1, is_file, (uid_t)-1, (gid_t)-1);
	if (target < 0)
		return -1;
	int tree =
	    open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	int rc = -1;
	if (tree >= 0) {
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID |
		                                      (dev ? 0 : MOUNT_ATTR_NODEV) |
		                                      (ro ? MOUNT_ATTR_RDONLY : 0)};
		if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) ==
		        0 &&
		    move_mount(tree, "", target, "",
		               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) == 0)
			rc = 0;
	}
	int e = errno;
	if (tree >= 0)
		close(tree);
	close(target);
	errno = e;
	return rc;
}

/* A new filesystem (proc, sysfs, tmpfs) on the directory made beneath root at path. */
static int fs_beneath(int root, const char *path, const char *type, unsigned long flags,
                      const char *data)
{
	int target = aios_volumes_open_beneath(root, path, 1, 0, (uid_t)-1, (gid_t)-1);
	if (target < 0)
		return -1;
	char where[32];
	/* the child may not format: "/proc/self/fd/" + the number by hand */
	char digits[12];
	int n = 0, v = target;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 11);
	memcpy(where, "/proc/self/fd/", 14);
	for (int i = 0; i < n; i++)
		where[14 + i] = digits[n - 1 - i];
	where[14 + n] = '\0';
	int rc = mount(type, where, type, flags, data);
	int e = errno;
	close(target);
	errno = e;
	return rc;
}

/* Builds the container's root at s->root_dir and pivots into it (runner.h). */
static void enter_root(const struct child_args *a)
{
	const struct aios_runner_spec *s = a->s;
	int rep = a->report_fd;
	if (mount("tmpfs", s->root_dir, "tmpfs", MS_NOSUID | MS_NODEV, ROOT_TMPFS) != 0)
		child_fail(rep, STEP_ROOT, 0);
	int root = open(s->root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		child_fail(rep, STEP_ROOT, 0);
	for (size_t i = 0; i < n_sys; i++) {
		const struct sys_entry *e = &sys_entries[i];
		int rc = 0;
		switch (e->kind) {
		case SYS_DIR:
		case SYS_FILE:
		case SYS_DEV: {
			int src = open(e->path, O_PATH | O_CLOEXEC);
			rc = src < 0 ? -1
			             : bind_beneath(root, src, e->path, e->kind != SYS_DIR, 1,
			                            e->kind == SYS_DEV);
			if (src >= 0)
				close(src);
			break;
		}
		case SYS_LINK: {
			/* the link's directory exists (made by an earlier entry) */
			const char *slash = strrchr(e->path, '/');
			char dir[PATH_MAX];
			size_t dl = (size_t)(slash - e->path);
			memcpy(dir, e->path, dl);
			dir[dl] = '\0';
			int d =
			    dl ? aios_volumes_open_beneath(root, dir, 1, 0, (uid_t)-1, (gid_t)-1)
			       : fcntl(root, F_DUPFD_CLOEXEC, 0);
			rc = d < 0 ? -1 : symlinkat(e->target, d, slash + 1);
			if (d >= 0)
				close(d);
			break;
		}
		case SYS_PROC:
			rc = fs_beneath(root, e->path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			                NULL);
			break;
		case SYS_SYSFS:
			rc = fs_beneath(root, e->path, "sysfs",
			                MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
			break;
		case SYS_TMPFS:
			rc = fs_beneath(root, e->path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			                e->mode == 01777 ? "mode=1777" : "mode=0755");
			break;
		case SYS_MKDIR: {
			int d =
			    aios_volumes_open_beneath(root, e->path, 1, 0, (uid_t)-1, (gid_t)-1);
			rc = d < 0 ? -1 : 0;
			if (d >= 0) {
				/* fchmodat: the O_PATH descriptor cannot be fchmod'ed */
				char where[PATH_MAX];
				size_t rl = strlen(s->root_dir), pl = strlen(e->path);
				if (rl + pl < sizeof where) {
					memcpy(where, s->root_dir, rl);
					memcpy(where + rl, e->path, pl + 1);
					rc = chmod(where, e->mode);
				}
				close(d);
			}
			break;
		}
		}
		if (rc != 0)
			child_fail(rep, STEP_SYS, (int)i);
	}
	if (s->bin_dir) {
		int src = open(s->bin_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (src < 0 || bind_beneath(root, src, s->bin_dir, 0, 1, 0) != 0)
			child_fail(rep, STEP_SYS, -1);
		close(src);
	}
	for (size_t i = 0; i < s->n_mounts; i++)
		if (bind_beneath(root, SRC_FD_BASE + (int)i, s->mounts[i].dst, a->src_is_file[i],
		                 s->mounts[i].read_only, 0) != 0)
			child_fail(rep, STEP_BIND, (int)i);
	for (size_t i = 0; i < s->n_mounts; i++)
		close(SRC_FD_BASE + (int)i);
	if (s->cwd) {
		int d = aios_volumes_open_beneath(root, s->cwd, 1, 0, (uid_t)-1, (gid_t)-1);
		if (d < 0)
			child_fail(rep, STEP_CHDIR, 0);
		close(d);
	}
	/* pivot_root(".", "."): the old root ends up under the new one, detached at once */
	if (fchdir(root) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
	    umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
		child_fail(rep, STEP_PIVOT, 0);
	close(root);
	if (s->read_only_root) {
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
		if (mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) != 0)
			child_fail(rep, STEP_REMOUNT_RO, -1);
	}
}

/* The container's user and no privilege left: bounding set, capabilities, no_new_privs. */
static void drop_privileges(const struct child_args *a)
{
	const struct aios_runner_spec *s = a->s;
	int rep = a->report_fd;
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
			child_fail(rep, STEP_USER, cap);
	gid_t groups[1] = {(gid_t)s->fs_group};
	if (setgroups(s->fs_group >= 0 ? 1 : 0, groups) != 0 ||
	    setresgid(s->gid, s->gid, s->gid) != 0 || setresuid(s->uid, s->uid, s->uid) != 0)
		child_fail(rep, STEP_USER, -1);
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof d);
	if (syscall(SYS_capset, &h, d) != 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		child_fail(rep, STEP_USER, -2);
}

static int child_main(void *arg)
{
	const struct child_args *a = arg;
	const struct aios_runner_spec *s = a->s;
	int rep = a->report_fd;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (setsid() < 0)
		child_fail(rep, STEP_SETSID, 0);
	for (int i = 0; i < 2; i++) /* "0": the writer itself (cgroup v1) */
		if (a->cgroup_fds[i] >= 0 && write(a->cgroup_fds[i], "0", 1) != 1)
			child_fail(rep, STEP_CGROUP, i);
	if (a->nsfd >= 0 && setns(a->nsfd, CLONE_NEWNET) != 0)
		child_fail(rep, STEP_SETNS, 0);
	/* the executable too is held open before mounting: a mount may hide its path */
	int exefd = open(a->exe, O_PATH | O_CLOEXEC);
	if (!s->isolate && s->cwd && s->cwd_early && chdir(s->cwd) != 0)
		child_fail(rep, STEP_CHDIR, 0);
	if (s->n_mounts > 0 || s->isolate) {
		if (!s->isolate && unshare(CLONE_NEWNS) != 0) /* isolated: cloned into one */
			child_fail(rep, STEP_UNSHARE, 0);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			child_fail(rep, STEP_PRIVATE, 0);
		/* each source opened at fd SRC_FD_BASE + i before any mount, so a mount made
		 * earlier in the list (an emptyDir at /tmp) cannot hide a later source that
		 * lives under that path (a state dir in /tmp) */
		for (size_t i = 0; i < s->n_mounts; i++) {
			int fd = s->mounts[i].src_fd >= 0
			             ? s->mounts[i].src_fd
			             : open(s->mounts[i].src, O_PATH | O_CLOEXEC);
			if (fd < 0 || dup2(fd, SRC_FD_BASE + (int)i) < 0)
				child_fail(rep, STEP_BIND, (int)i);
			if (s->mounts[i].src_fd < 0)
				close(fd);
		}
		if (s->isolate) {
			enter_root(a);
		} else {
			for (size_t i = 0; i < s->n_mounts; i++) {
				const struct aios_runner_mount *m = &s->mounts[i];
				if (mount(a->srcpath[i], m->dst, NULL, MS_BIND | MS_REC, NULL) != 0)
					child_fail(rep, STEP_BIND, (int)i);
				if (m->read_only &&
				    mount(NULL, m->dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY,
				          NULL) != 0)
					child_fail(rep, STEP_REMOUNT_RO, (int)i);
			}
			for (size_t i = 0; i < s->n_mounts; i++)
				close(SRC_FD_BASE + (int)i);
		}
	}
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(a->logfd, 1);
	dup2(a->logfd, 2);
	if (s->cwd && (s->isolate || !s->cwd_early) && chdir(s->cwd) != 0)
		child_fail(rep, STEP_CHDIR, 0);
	if (s->isolate) {
		drop_privileges(a);
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &seccomp_prog, 0, 0) != 0)
			child_fail(rep, STEP_SECCOMP, 0);
	}
	if (exefd >= 0)
		syscall(SYS_execveat, exefd, "", s->argv, s->env, AT_EMPTY_PATH);
	execve(a->exe, s->argv, s->env); /* a script (execveat of a close-on-exec fd fails) */
	child_fail(rep, STEP_EXEC, 0);
	return 127;
}

/* ------------------------------------------------------------------ cgroups */

static const char *const controllers[2] = {"memory", "cpu"};

static enum aios_err write_knob(const char *dir, const char *knob, long long v)
{
	char *path = aios_xasprintf("%s/%s", dir, knob);
	FILE *f = fopen(path, "w");
	int ok = f && fprintf(f, "%lld\n", v) > 0;
	if (f && fclose(f) != 0)
		ok = 0;
	enum aios_err err =
	    ok ? AIOS_OK : aios_fail(AIOS_ERR_IO, "cgroup %s = %lld: %s", path, v, strerror(errno));
	free(path);
	return err;
}

/* us of CPU per CFS_PERIOD for millicores, at least the kernel's minimum of 1 ms. */
static long long cpu_quota(int64_t milli)
{
	long long q = (long long)milli * CFS_PERIOD / 1000;
	return q < 1000 ? 1000 : q;
}

/* Makes the container's cgroup in each controller with its limits; opens cgroup.procs. */
static enum aios_err cgroup_setup(const struct aios_runner_spec *s, int fds[2])
{
	fds[0] = fds[1] = -1;
	if (!s->cgroup)
		return AIOS_OK;
	for (int i = 0; i < 2; i++) {
		char *dir = aios_xasprintf("%s/%s/%s/%s", AIOS_RUNNER_CGROUP_ROOT, controllers[i],
		                           AIOS_RUNNER_CGROUP_NODE, s->cgroup);
		enum aios_err err = aios_volumes_mkdir_p(dir);
		if (!err && i == 0) {
			/* a fresh limit each start; -1 is "none" */
			err = write_knob(dir, "memory.limit_in_bytes",
			                 s->memory_limit > 0 ? (long long)s->memory_limit : -1);
			char *sw = aios_xasprintf("%s/memory.memsw.limit_in_bytes", dir);
			if (!err && access(sw, W_OK) == 0) /* swap accounting on: no swap past it */
				err = write_knob(dir, "memory.memsw.limit_in_bytes",
				                 s->memory_limit > 0 ? (long long)s->memory_limit
				                                     : -1);
			free(sw);
		} else if (!err) {
			err = write_knob(dir, "cpu.cfs_period_us", CFS_PERIOD);
			if (!err)
				err = write_knob(dir, "cpu.cfs_quota_us",
				                 s->cpu_limit > 0 ? cpu_quota(s->cpu_limit) : -1);
		}
		char *procs = aios_xasprintf("%s/cgroup.procs", dir);
		if (!err && (fds[i] = open(procs, O_WRONLY | O_CLOEXEC)) < 0)
			err = aios_fail(AIOS_ERR_IO, "cgroup %s: %s", procs, strerror(errno));
		free(procs);
		free(dir);
		if (err) {
			for (int k = 0; k < 2; k++)
				if (fds[k] >= 0)
					close(fds[k]);
			fds[0] = fds[1] = -1;
			return err;
		}
	}
	return AIOS_OK;
}

int aios_runner_cgroup_oom_killed(const char *cgroup)
{
	char *path = aios_xasprintf("%s/memory/%s/%s/memory.oom_control", AIOS_RUNNER_CGROUP_ROOT,
	                            AIOS_RUNNER_CGROUP_NODE, cgroup);
	FILE *f = fopen(path, "r");
	free(path);
	if (!f)
		return 0;
	char line[128];
	long long n = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "oom_kill %lld", &n) == 1)
			break;
	fclose(f);
	return n > 0;
}

void aios_runner_cgroup_remove(const char *name)
{
	for (int i = 0; i < 2; i++) {
		char *dir = aios_xasprintf("%s/%s/%s/%s", AIOS_RUNNER_CGROUP_ROOT, controllers[i],
		                           AIOS_RUNNER_CGROUP_NODE, name);
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && (e = readdir(d))) { /* child cgroups: the pod's containers */
			if (e->d_type != DT_DIR || e->d_name[0] == '.')
				continue;
			char *sub = aios_xasprintf("%s/%s", dir, e->d_name);
			rmdir(sub);
			free(sub);
		}
		if (d)
			closedir(d);
		rmdir(dir);
		free(dir);
	}
}

/* ------------------------------------------------------------------ start */

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
	if (s->n_mounts > MAX_MOUNTS)
		return aios_fail(AIOS_ERR_TOO_BIG, "%zu mounts in one container, more than %d",
		                 s->n_mounts, MAX_MOUNTS);
	struct child_args *a = aios_xcalloc(1, sizeof *a);
	a->s = s;
	a->exe = exe;
	a->nsfd = a->logfd = -1;
	a->cgroup_fds[0] = a->cgroup_fds[1] = -1;
	char srcpath[MAX_MOUNTS][32];
	a->srcpath = srcpath;
	int pfd[2] = {-1, -1};
	void *stack = MAP_FAILED;
	enum aios_err err = AIOS_OK;
	if (s->isolate) {
		pthread_once(&once, prepare_once);
		if (!seccomp_prog.filter) {
			err = aios_fail(AIOS_ERR_INTERNAL, "seccomp profile: %s", seccomp_err);
			goto out;
		}
		if (!s->root_dir) {
			err = aios_fail(AIOS_ERR_INVALID, "an isolated container needs a root_dir");
			goto out;
		}
		for (size_t i = 0; i < s->n_mounts; i++) {
			struct stat st;
			if (stat(s->mounts[i].src, &st) != 0) {
				err = aios_fail(AIOS_ERR_IO, "volume source %s: %s",
				                s->mounts[i].src, strerror(errno));
				goto out;
			}
			a->src_is_file[i] = !S_ISDIR(st.st_mode);
		}
	} else {
		for (size_t i = 0; i < s->n_mounts; i++)
			if ((err = make_mount_point(&s->mounts[i])))
				goto out;
	}
	for (size_t i = 0; i < s->n_mounts; i++)
		snprintf(srcpath[i], sizeof srcpath[i], "/proc/self/fd/%d", SRC_FD_BASE + (int)i);
	if (s->netns) {
		char path[128];
		snprintf(path, sizeof path, "/run/netns/%s", s->netns);
		if ((a->nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			err = aios_fail(AIOS_ERR_IO, "network namespace %s: %s", path,
			                strerror(errno));
			goto out;
		}
	}
	if ((a->logfd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0) {
		err = aios_fail(AIOS_ERR_IO, "log file %s: %s", s->log_path, strerror(errno));
		goto out;
	}
	if ((err = cgroup_setup(s, a->cgroup_fds)))
		goto out;
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		err = aios_fail(AIOS_ERR_IO, "pipe: %s", strerror(errno));
		goto out;
	}
	a->report_fd = pfd[1];
	pid_t child;
	if (s->isolate) {
		stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		             MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stack == MAP_FAILED) {
			err = aios_fail(AIOS_ERR_IO, "child stack: %s", strerror(errno));
			goto out;
		}
		child = clone(child_main, (char *)stack + CHILD_STACK,
		              CLONE_NEWPID | CLONE_NEWNS | SIGCHLD, a);
	} else {
		child = fork();
		if (child == 0)
			child_main(a);
	}
	if (child < 0) {
		err = aios_fail(AIOS_ERR_IO, "%s: %s", s->isolate ? "clone" : "fork",
		                strerror(errno));
		goto out;
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
		if ((r.step == STEP_BIND || r.step == STEP_REMOUNT_RO) && r.index >= 0)
			err = aios_fail(AIOS_ERR_IO, "%s %s at %s: %s", step_name(r.step),
			                s->mounts[r.index].src, s->mounts[r.index].dst,
			                strerror(r.err));
		else if (r.step == STEP_SYS && r.index >= 0 && (size_t)r.index < n_sys)
			err = aios_fail(AIOS_ERR_IO, "%s %s: %s", step_name(r.step),
			                sys_entries[r.index].path, strerror(r.err));
		else if (r.step == STEP_SYS)
			err = aios_fail(AIOS_ERR_IO, "%s %s: %s", step_name(r.step),
			                s->bin_dir ? s->bin_dir : "?", strerror(r.err));
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
	if (stack != MAP_FAILED)
		munmap(stack, CHILD_STACK);
	if (a->nsfd >= 0)
		close(a->nsfd);
	if (a->logfd >= 0)
		close(a->logfd);
	for (int i = 0; i < 2; i++)
		if (a->cgroup_fds[i] >= 0)
			close(a->cgroup_fds[i]);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(a);
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
