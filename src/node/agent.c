/*
 * agent.c - the pod loop of aios-node (see agent.h).
 *
 * Level-based, as the kubelet's pod workers: every AIOS_NODE_SYNC_MS the loop
 * compares the pods the informer holds with the pods it runs and moves each one
 * step towards what its object says: set up the sandbox (IP, netns, volumes),
 * start containers whose back-off has passed, reap the ones that exited and apply
 * the restart policy, run probes, stop pods being deleted, and write the status
 * when it changed.
 *
 * Sections: sandbox, containers, probes, status, termination, the loop, start/stop.
 */
#include "node/agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "kube/config.h"
#include "node/node_internal.h"
#include "node/probe.h"
#include "node/runner.h"
#include "node/volumes.h"

#define TERM_MSG_MAX    4096 /* bytes of a termination message file read (kubelet's limit) */
#define LOG_MSG_LINES   80   /* FallbackToLogsOnError: last lines of the log ... */
#define LOG_MSG_BYTES   2048 /* ... at most this many bytes (kubelet's values) */
#define SETUP_RETRY_MS  1000 /* retry period of a sandbox that could not be made */
#define STATUS_RETRY_MS 1000 /* retry period of a failed status write */

static void now_rfc3339(char out[32])
{
	aios_rfc3339_now(out, 32);
}

static void set_str(char **dst, const char *s)
{
	if (*dst && s && strcmp(*dst, s) == 0)
		return;
	free(*dst);
	*dst = s ? aios_xstrdup(s) : NULL;
}

static void term_clear(struct node_term *t)
{
	free(t->reason);
	free(t->message);
	memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ sandbox */

/*
 * The next free address after the last one given, wrapping (as CNI's host-local does):
 * an address is reused only after the whole range went round. A pod that took the
 * address of one just deleted would otherwise be unreachable until the host's and the
 * other pods' neighbour caches forget the old pod's MAC, up to a minute.
 */
static long ip_alloc(struct aios_node *n)
{
	uint32_t slots = aios_cidr_pod_slots(&n->cidr);
	for (uint32_t k = 0; k < slots; k++) {
		uint32_t i = 2 + (n->ip_next + k) % slots;
		if (!n->ip_used[i]) {
			n->ip_used[i] = 1;
			n->ip_next = i - 1; /* the search after this one starts at i + 1 */
			return (long)i;
		}
	}
	return -1;
}

static void sandbox_down(struct aios_node *n, struct node_pod *p)
{
	if (p->net_up || p->netns[0]) {
		enum aios_err err = aios_nodenet_pod_down(p->netns, p->veth);
		if (err)
			aios_warn("netns_down", "pod %s/%s: %s", p->ns, p->name, aios_errmsg());
		p->net_up = 0;
	}
	if (p->ip_idx >= 0) {
		n->ip_used[p->ip_idx] = 0;
		p->ip_idx = -1;
	}
}

/* Translates the pod and makes its sandbox: AIOS_OK when containers may start. */
static enum aios_err sandbox_up(struct aios_node *n, struct node_pod *p)
{
	enum aios_err err;
	if (!p->spec) {
		if (p->ip_idx < 0) {
			p->ip_idx = ip_alloc(n);
			if (p->ip_idx < 0)
				return aios_fail(AIOS_ERR_UNAVAILABLE,
				                 "no free address in the pod range");
			aios_cidr_host(&n->cidr, (uint32_t)p->ip_idx, p->ip);
		}
		struct aios_podspec_ctx ctx = {.pod_ip = p->ip,
		                               .host_ip = n->host_ip,
		                               .bin_dir = n->o->bin_dir,
		                               .lookup = aios_volumes_lookup,
		                               .lookup_arg = n->kc,
		                               .api_host = n->host_ip,
		                               .api_port = n->api_port};
		err = aios_podspec_build(p->obj, &ctx, &p->spec);
		if (err == AIOS_ERR_INVALID) {
			set_str(&p->pod_reason, "UnsupportedPodSpec");
			set_str(&p->pod_message, aios_errmsg());
			aios_warn("pod_refused", "pod %s/%s: %s", p->ns, p->name, aios_errmsg());
			sandbox_down(n, p);
			return err;
		}
		if (err)
			return err;
		if (p->spec->host_network) { /* runs in the host's namespace: the node's IP */
			n->ip_used[p->ip_idx] = 0;
			p->ip_idx = -1;
			snprintf(p->ip, sizeof p->ip, "%s", n->host_ip);
		}
		p->ctrs = aios_xcalloc(p->spec->n_containers, sizeof *p->ctrs);
		p->n_ctrs = p->spec->n_containers;
		for (size_t i = 0; i < p->n_ctrs; i++) {
			struct node_ctr *c = &p->ctrs[i];
			c->name = aios_xstrdup(p->spec->containers[i].name);
			c->log_path = aios_xasprintf("%s/logs/%s.log", p->dir, c->name);
			c->prev_log_path =
			    aios_xasprintf("%s/logs/%s.log.previous", p->dir, c->name);
			c->term_path = aios_xasprintf("%s/term/%s", p->dir, c->name);
			c->state = AIOS_CTR_WAITING;
			c->reason = aios_xstrdup("ContainerCreating");
		}
	}
	/* the pod dir first: it is what a restarted aios-node finds the namespace by */
	if ((err = aios_volumes_mkdir_p(p->dir)))
		return err;
	if (!p->net_up && !p->spec->host_network) {
		aios_nodenet_names(p->uid, p->netns, p->veth);
		if ((err = aios_nodenet_pod_up(n->o->bridge, &n->cidr, p->netns, p->veth, p->ip)))
			return aios_fail_wrap(err, "pod network");
		p->net_up = 1;
		aios_info("pod_network", "pod %s/%s: %s in netns %s", p->ns, p->name, p->ip,
		          p->netns);
	}
	if (!p->vol_dirs) {
		char *sub[] = {"logs", "term", "work", "pids"};
		for (size_t i = 0; i < 4; i++) {
			char *d = aios_xasprintf("%s/%s", p->dir, sub[i]);
			err = aios_volumes_mkdir_p(d);
			free(d);
			if (err)
				return err;
		}
		if ((err = aios_volumes_prepare(n->kc, p->spec, p->dir, &p->vol_dirs)))
			return err;
	}
	return AIOS_OK;
}

/* ------------------------------------------------------------------ containers */

/* Drops the container's probe runs in flight: their results are not wanted any more
 * (the container exited, restarts or its pod goes). */
static void probes_drop(struct node_ctr *c)
{
	struct node_probe_state *st[] = {&c->rd, &c->lv, &c->su};
	for (size_t i = 0; i < 3; i++) {
		aios_probe_release(st[i]->run);
		st[i]->run = NULL;
	}
}

/* Start time of pid in clock ticks since boot (/proc/PID/stat field 22), or 0. Stored
 * beside the pid so that a restarted aios-node never kills a process that merely
 * reuses the number. */
static unsigned long long proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long long t = 0;
	if (p &&
	    sscanf(
	        p + 2,
	        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
	        &t) != 1)
		t = 0;
	return t;
}

static void write_pidfile(struct node_pod *p, struct node_ctr *c)
{
	char *path = aios_xasprintf("%s/pids/%s.pid", p->dir, c->name);
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d %llu\n", (int)c->pid, proc_start_time(c->pid));
		fclose(f);
	}
	free(path);
}

static void remove_pidfile(struct node_pod *p, struct node_ctr *c)
{
	char *path = aios_xasprintf("%s/pids/%s.pid", p->dir, c->name);
	unlink(path);
	free(path);
}

static void start_container(struct aios_node *n, struct node_pod *p, size_t i)
{
	struct node_ctr *c = &p->ctrs[i];
	const struct aios_podspec_container *sc = &p->spec->containers[i];
	if (c->has_last) { /* keep the previous run's log for `kubectl logs --previous` */
		rename(c->log_path, c->prev_log_path);
	}
	int fd = open(c->term_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	struct aios_runner_mount *mounts = NULL;
	enum aios_err err = aios_volumes_mounts(p->spec, sc, p->vol_dirs, &mounts);
	if (err) {
		set_str(&c->reason, "CreateContainerError");
		set_str(&c->message, aios_errmsg());
		c->next_start_ms = aios_now_ms() + SETUP_RETRY_MS;
		return;
	}
	/* the termination message file is bound at terminationMessagePath, the pod's
	 * work directory at its own path (the default working directory) */
	char *work = aios_xasprintf("%s/work", p->dir);
	char *root = aios_xasprintf("%s/root/%s", p->dir, c->name);
	char *cgroup = aios_xasprintf("%s/%s", p->uid, c->name);
	struct aios_runner_mount *all = aios_xcalloc(sc->n_mounts + 2, sizeof *all);
	memcpy(all, mounts, sc->n_mounts * sizeof *all);
	all[sc->n_mounts] = (struct aios_runner_mount){
	    .src = c->term_path, .dst = sc->termination_message_path, .src_fd = -1};
	all[sc->n_mounts + 1] = (struct aios_runner_mount){.src = work, .dst = work, .src_fd = -1};
	gid_t gid = (gid_t)sc->run_as_group;
	struct aios_runner_spec rs = {.netns = p->spec->host_network ? NULL : p->netns,
	                              .argv = sc->argv,
	                              .env = sc->env,
	                              .cwd = sc->working_dir ? sc->working_dir : work,
	                              .mounts = all,
	                              .n_mounts = sc->n_mounts + 2,
	                              .log_path = c->log_path,
	                              .isolate = 1,
	                              .root_dir = root,
	                              .bin_dir = n->o->bin_dir,
	                              .uid = (uid_t)sc->run_as_user,
	                              .gid = gid,
	                              .fs_group = (long)p->spec->fs_group,
	                              .read_only_root = sc->read_only_root,
	                              .cgroup = cgroup,
	                              .memory_limit = sc->memory_limit,
	                              .cpu_limit = sc->cpu_limit};
	/* what the container writes on the host side: its message file and work dir */
	if (chown(c->term_path, rs.uid, gid) != 0 || chown(work, rs.uid, gid) != 0)
		err = aios_fail(AIOS_ERR_IO, "giving %s to uid %u: %s", work, (unsigned)rs.uid,
		                strerror(errno));
	if (!err)
		err = aios_volumes_mkdir_p(root);
	if (!err)
		err = aios_runner_start(&rs, &c->pid);
	free(work);
	free(root);
	free(cgroup);
	free(all);
	aios_volumes_mounts_free(mounts, sc->n_mounts);
	if (c->has_last)
		c->restart_count++;
	if (err) {
		/* as a runtime's failed create: the container ends at once with 128 */
		aios_warn("container_start", "pod %s/%s container %s: %s", p->ns, p->name, c->name,
		          aios_errmsg());
		term_clear(&c->term);
		c->term.exit_code = 128;
		c->term.reason = aios_xstrdup("StartError");
		c->term.message = aios_xstrdup(aios_errmsg());
		now_rfc3339(c->term.started_at);
		now_rfc3339(c->term.finished_at);
		c->state = AIOS_CTR_TERMINATED;
		c->pid = -1;
		return;
	}
	c->state = AIOS_CTR_RUNNING;
	c->group = c->pid;
	now_rfc3339(c->started_at);
	c->started_ms = aios_now_ms();
	c->ready = 0;
	c->started = sc->startup.kind == AIOS_PROBE_NONE;
	probes_drop(c);
	c->rd = c->lv = c->su = (struct node_probe_state){0};
	int64_t now = aios_now_ms();
	c->rd.next_ms = now + (int64_t)sc->readiness.initial_delay_s * 1000;
	c->lv.next_ms = now + (int64_t)sc->liveness.initial_delay_s * 1000;
	c->su.next_ms = now + (int64_t)sc->startup.initial_delay_s * 1000;
	c->kill_at_ms = 0;
	set_str(&c->reason, NULL);
	set_str(&c->message, NULL);
	write_pidfile(p, c);
	aios_info("container_started", "pod %s/%s container %s: pid %d (%s)", p->ns, p->name,
	          c->name, (int)c->pid, sc->argv[0]);
}

/* Last `lines` lines of a file, at most `bytes` bytes; heap string ("" if none). */
static char *file_tail(const char *path, long lines, long bytes)
{
	struct aios_buf b;
	aios_buf_init(&b, (size_t)bytes + 1);
	if (node_log_tail(path, lines, bytes, &b) != AIOS_OK) {
		aios_buf_cleanup(&b);
		return aios_xstrdup("");
	}
	char *s = b.data ? aios_buf_take(&b) : aios_xstrdup("");
	aios_buf_cleanup(&b);
	return s;
}

/* Records the exit of a container and decides, per restartPolicy, what comes next. */
static void container_exited(struct node_pod *p, size_t i, int status)
{
	struct node_ctr *c = &p->ctrs[i];
	const struct aios_podspec_container *sc = &p->spec->containers[i];
	remove_pidfile(p, c);
	probes_drop(c);
	term_clear(&c->term);
	if (WIFSIGNALED(status)) {
		c->term.signal = WTERMSIG(status);
		c->term.exit_code = 128 + c->term.signal;
	} else {
		c->term.exit_code = WEXITSTATUS(status);
	}
	char *cgroup = aios_xasprintf("%s/%s", p->uid, c->name);
	int oom = c->term.signal == SIGKILL && aios_runner_cgroup_oom_killed(cgroup);
	aios_runner_cgroup_remove(cgroup); /* made again, with fresh counters, at a restart */
	free(cgroup);
	c->term.reason = aios_xstrdup(oom                      ? "OOMKilled"
	                              : c->term.exit_code == 0 ? "Completed"
	                                                       : "Error");
	memcpy(c->term.started_at, c->started_at, sizeof c->started_at);
	now_rfc3339(c->term.finished_at);
	char *msg = file_tail(c->term_path, -1, TERM_MSG_MAX);
	if (!*msg && sc->fallback_to_logs && c->term.exit_code != 0) {
		free(msg);
		msg = file_tail(c->log_path, LOG_MSG_LINES, LOG_MSG_BYTES);
	}
	c->term.message = msg;
	c->pid = -1;
	c->ready = 0;
	c->state = AIOS_CTR_TERMINATED;
	aios_info("container_exited", "pod %s/%s container %s: exit code %d", p->ns, p->name,
	          c->name, c->term.exit_code);

	int restart = !p->terminating &&
	              (p->spec->restart == AIOS_RESTART_ALWAYS ||
	               (p->spec->restart == AIOS_RESTART_ON_FAILURE && c->term.exit_code != 0));
	if (!restart) {
		c->done = 1;
		return;
	}
	/* back-off as the kubelet's: the first restart at once, then 10 s doubling to 5 min;
	 * a long healthy run starts the sequence again */
	int64_t ran_s = (aios_now_ms() - c->started_ms) / 1000;
	if (ran_s >= AIOS_NODE_BACKOFF_RESET_S)
		c->backoff_s = 0;
	int delay_s = c->backoff_s;
	c->backoff_s = c->backoff_s == 0                            ? AIOS_NODE_BACKOFF_INITIAL_S
	               : c->backoff_s * 2 > AIOS_NODE_BACKOFF_MAX_S ? AIOS_NODE_BACKOFF_MAX_S
	                                                            : c->backoff_s * 2;
	c->next_start_ms = aios_now_ms() + (int64_t)delay_s * 1000;
	term_clear(&c->last);
	c->last = c->term;
	memset(&c->term, 0, sizeof c->term);
	c->has_last = 1;
	c->state = AIOS_CTR_WAITING;
	set_str(&c->reason, delay_s ? "CrashLoopBackOff" : "ContainerCreating");
	char *m = aios_xasprintf("back-off %ds restarting failed container=%s pod=%s_%s", delay_s,
	                         c->name, p->name, p->ns);
	set_str(&c->message, delay_s ? m : NULL);
	free(m);
}

/* Signals a running container to stop: SIGTERM now, SIGKILL at grace_ms from now. */
static void stop_container(struct node_ctr *c, int64_t grace_ms)
{
	if (c->pid <= 0)
		return;
	if (c->kill_at_ms == 0) {
		aios_runner_signal(c->pid, SIGTERM);
		c->kill_at_ms = aios_now_ms() + grace_ms;
	}
}

static void reap(struct node_pod *p)
{
	for (size_t i = 0; i < p->n_ctrs; i++) {
		struct node_ctr *c = &p->ctrs[i];
		if (c->pid <= 0)
			continue;
		int status;
		pid_t r = waitpid(c->pid, &status, WNOHANG);
		if (r == c->pid) {
			/* the container's own children die with it, as in a PID namespace */
			aios_runner_signal(c->pid, SIGKILL);
			container_exited(p, i, status);
		} else if (c->kill_at_ms && aios_now_ms() >= c->kill_at_ms) {
			aios_runner_signal(c->pid, SIGKILL);
		}
	}
}

/* ------------------------------------------------------------------ probes */

static int pod_probes_running(const struct node_pod *p)
{
	int n = 0;
	for (size_t i = 0; i < p->n_ctrs; i++)
		n += (p->ctrs[i].rd.run != NULL) + (p->ctrs[i].lv.run != NULL) +
		     (p->ctrs[i].su.run != NULL);
	return n;
}

/*
 * One step of one probe, never waiting: collects a finished run (1 passed, 0 failed,
 * msg says why), else starts a due one on its thread and returns -1, as it does while a
 * run is in flight or nothing is due. The period counts from a run's start; the next
 * run starts only after this one ended (a probe slower than its period runs back to
 * back, as the kubelet's worker). A start refused by a cap is tried next round.
 */
static int probe_step(struct node_pod *p, struct node_probe_state *s,
                      const struct aios_podspec_probe *pr, int64_t now, char *msg)
{
	if (s->run) {
		enum aios_err e;
		if (!aios_probe_done(s->run, &e, msg))
			return -1;
		aios_probe_release(s->run);
		s->run = NULL;
		return e == AIOS_OK;
	}
	if (now < s->next_ms || pod_probes_running(p) >= AIOS_NODE_POD_PROBES_MAX)
		return -1;
	s->run = aios_probe_start(pr, p->ip);
	if (s->run)
		s->next_ms = now + (int64_t)pr->period_s * 1000;
	return -1;
}

static void run_probes(struct node_pod *p)
{
	int64_t now = aios_now_ms();
	char msg[AIOS_PROBE_MSG_MAX];
	for (size_t i = 0; i < p->n_ctrs; i++) {
		struct node_ctr *c = &p->ctrs[i];
		const struct aios_podspec_container *sc = &p->spec->containers[i];
		if (c->state != AIOS_CTR_RUNNING || c->kill_at_ms)
			continue;
		if (!c->started) {
			int r = probe_step(p, &c->su, &sc->startup, now, msg);
			if (r == 1) {
				c->started = 1;
			} else if (r == 0 && ++c->su.failures >= sc->startup.failure_threshold) {
				aios_info("probe_failed",
				          "pod %s/%s container %s: startup probe: %s", p->ns,
				          p->name, c->name, msg);
				stop_container(c, p->spec->grace_s * 1000);
			}
			continue;
		}
		if (sc->readiness.kind == AIOS_PROBE_NONE) {
			c->ready = 1;
		} else {
			int r = probe_step(p, &c->rd, &sc->readiness, now, msg);
			if (r == 1) {
				c->rd.failures = 0;
				if (++c->rd.successes >= sc->readiness.success_threshold)
					c->ready = 1;
			} else if (r == 0) {
				c->rd.successes = 0;
				if (++c->rd.failures >= sc->readiness.failure_threshold) {
					if (c->ready)
						aios_info("probe_failed",
						          "pod %s/%s container %s: readiness: %s",
						          p->ns, p->name, c->name, msg);
					c->ready = 0;
				}
			}
		}
		if (sc->liveness.kind != AIOS_PROBE_NONE) {
			int r = probe_step(p, &c->lv, &sc->liveness, now, msg);
			if (r == 1) {
				c->lv.failures = 0;
			} else if (r == 0 && ++c->lv.failures >= sc->liveness.failure_threshold) {
				aios_info(
				    "probe_failed",
				    "pod %s/%s container %s: liveness probe failed, restarting: %s",
				    p->ns, p->name, c->name, msg);
				stop_container(c, p->spec->grace_s * 1000);
			}
		}
	}
}

/* ------------------------------------------------------------------ status */

static void fill_term(struct aios_ctr_term *dst, const struct node_term *t)
{
	dst->exit_code = t->exit_code;
	dst->signal = t->signal;
	dst->reason = t->reason;
	dst->message = t->message;
	dst->started_at = t->started_at[0] ? t->started_at : NULL;
	dst->finished_at = t->finished_at[0] ? t->finished_at : NULL;
}

static void write_status(struct aios_node *n, struct node_pod *p)
{
	int64_t now_ms = aios_now_ms();
	if (now_ms < p->status_next_ms)
		return;
	size_t nc = p->n_ctrs;
	struct json_object *cs_json = aios_json_lookup(p->obj, "spec.containers");
	size_t n_spec = cs_json && json_object_is_type(cs_json, json_type_array)
	                    ? json_object_array_length(cs_json)
	                    : 0;
	if (nc == 0)
		nc = n_spec; /* not translated yet (or refused): report every container waiting */
	struct aios_podstatus_ctr *v = aios_xcalloc(nc ? nc : 1, sizeof *v);
	char **ids = aios_xcalloc(nc ? nc : 1, sizeof *ids);
	for (size_t i = 0; i < nc; i++) {
		if (p->n_ctrs == 0) {
			struct json_object *jc = json_object_array_get_idx(cs_json, i);
			v[i].name = aios_json_str(jc, "name");
			v[i].image = aios_json_str(jc, "image");
			v[i].state = AIOS_CTR_WAITING;
			v[i].reason = p->pod_reason ? p->pod_reason : "ContainerCreating";
			v[i].message = p->pod_reason ? p->pod_message : p->setup_msg;
			if (!v[i].name)
				v[i].name = "";
			continue;
		}
		struct node_ctr *c = &p->ctrs[i];
		const struct aios_podspec_container *sc = &p->spec->containers[i];
		v[i].name = c->name;
		v[i].image = sc->image;
		v[i].image_id = sc->program ? sc->program : "";
		v[i].state = c->state;
		v[i].reason = c->reason;
		v[i].message = c->message;
		if (c->state == AIOS_CTR_WAITING) {
			if (sc->image_reason) {
				v[i].reason = sc->image_reason;
				v[i].message = sc->image_message;
			} else if (sc->env_error) {
				v[i].reason = "CreateContainerConfigError";
				v[i].message = sc->env_error;
			} else if (!c->has_last && p->setup_msg) {
				v[i].message = p->setup_msg;
			}
		}
		v[i].started_at = c->started_at;
		fill_term(&v[i].term, &c->term);
		v[i].has_last = c->has_last;
		fill_term(&v[i].last, &c->last);
		v[i].restart_count = c->restart_count;
		v[i].ready = c->ready;
		v[i].started = c->started;
		if (c->state != AIOS_CTR_WAITING || c->has_last) {
			ids[i] =
			    aios_xasprintf("aios://%s/%s/%d", p->uid, c->name, c->restart_count);
			v[i].container_id = ids[i];
		}
	}
	char now[32];
	now_rfc3339(now);
	struct aios_podstatus_in in = {
	    .restart = p->spec ? p->spec->restart : AIOS_RESTART_ALWAYS,
	    .pod_ip = p->net_up || (p->spec && p->spec->host_network) ? p->ip : NULL,
	    .host_ip = n->host_ip,
	    .start_time = p->start_time,
	    .now = now,
	    .ctrs = v,
	    .n_ctrs = nc,
	    .old_status = aios_json_lookup(p->obj, "status"),
	    .pod_reason = p->pod_reason,
	    .pod_message = p->pod_message};
	struct json_object *st = aios_podstatus_build(&in);
	const char *s = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
	if (!p->last_status || strcmp(p->last_status, s) != 0) {
		struct json_object *patch = json_object_new_object();
		json_object_object_add(patch, "status", json_object_get(st));
		struct aios_kube_ref r = {&aios_kube_pods, p->ns, p->name, "status"};
		enum aios_err err =
		    aios_kube_patch(n->kc, &r, AIOS_KUBE_PATCH_MERGE, patch, NULL, NULL);
		json_object_put(patch);
		if (err == AIOS_OK || err == AIOS_ERR_NOT_FOUND) {
			set_str(&p->last_status, s);
			aios_debug("pod_status", "pod %s/%s: %s", p->ns, p->name,
			           aios_json_str(st, "phase"));
		} else {
			aios_warn("pod_status", "pod %s/%s: writing status: %s", p->ns, p->name,
			          aios_errmsg());
			p->status_next_ms = now_ms + STATUS_RETRY_MS;
		}
	}
	json_object_put(st);
	for (size_t i = 0; i < nc; i++)
		free(ids[i]);
	free(ids);
	free(v);
}

/* ------------------------------------------------------------------ pods */

static struct node_pod *pod_new(struct aios_node *n, struct json_object *obj)
{
	struct node_pod *p = aios_xcalloc(1, sizeof *p);
	p->uid = aios_xstrdup(aios_json_str(obj, "metadata.uid"));
	p->ns = aios_xstrdup(aios_json_str(obj, "metadata.namespace"));
	p->name = aios_xstrdup(aios_json_str(obj, "metadata.name"));
	p->dir = aios_xasprintf("%s/pods/%s", n->o->state_dir, p->uid);
	p->ip_idx = -1;
	const char *st = aios_json_str(obj, "status.startTime");
	if (st)
		snprintf(p->start_time, sizeof p->start_time, "%s", st);
	else
		now_rfc3339(p->start_time);
	return p;
}

static void pod_free(struct node_pod *p)
{
	if (p->obj)
		aios_kube_obj_put(p->obj);
	aios_podspec_free(p->spec);
	if (p->vol_dirs) {
		for (char **d = p->vol_dirs; *d; d++)
			free(*d);
		free(p->vol_dirs);
	}
	for (size_t i = 0; i < p->n_ctrs; i++) {
		struct node_ctr *c = &p->ctrs[i];
		probes_drop(c);
		free(c->name);
		free(c->log_path);
		free(c->prev_log_path);
		free(c->term_path);
		free(c->reason);
		free(c->message);
		term_clear(&c->term);
		term_clear(&c->last);
	}
	free(p->ctrs);
	free(p->uid);
	free(p->ns);
	free(p->name);
	free(p->dir);
	free(p->pod_reason);
	free(p->pod_message);
	free(p->setup_msg);
	free(p->last_status);
	free(p);
}

/*
 * A pod this agent has no record of but whose status says its containers ran:
 * an earlier aios-node ran them and cleaned them up on restart. Each such
 * container is taken as terminated (137), so the restart policy decides.
 */
static void adopt_previous_status(struct node_pod *p)
{
	struct json_object *cs = aios_json_lookup(p->obj, "status.containerStatuses");
	if (!cs || !json_object_is_type(cs, json_type_array))
		return;
	for (size_t i = 0; i < p->n_ctrs; i++) {
		struct node_ctr *c = &p->ctrs[i];
		for (size_t k = 0; k < json_object_array_length(cs); k++) {
			struct json_object *o = json_object_array_get_idx(cs, k);
			const char *name = aios_json_str(o, "name");
			if (!name || strcmp(name, c->name) != 0)
				continue;
			int64_t rc = 0;
			if (aios_json_opt_int(o, "restartCount", 0, &rc) != AIOS_OK)
				rc = 0;
			c->restart_count = (int)rc;
			if (aios_json_lookup(o, "state.running") ||
			    aios_json_lookup(o, "state.terminated") ||
			    aios_json_lookup(o, "lastState.terminated")) {
				c->started_ms = aios_now_ms();
				snprintf(c->started_at, sizeof c->started_at, "%s",
				         aios_json_str(o, "state.running.startedAt")
				             ? aios_json_str(o, "state.running.startedAt")
				             : "");
				container_exited(p, i,
				                 (int)SIGKILL); /* WIFSIGNALED(SIGKILL): 137 */
				set_str(&c->term.message, NULL);
				set_str(&c->last.message,
				        "aios-node restarted and cleaned up this container");
				if (c->done)
					set_str(
					    &c->term.message,
					    "aios-node restarted and cleaned up this container");
			}
		}
	}
}

/* Stops the pod's processes for deletion; 1 once every one has exited, the
 * processes they started included (the whole process group is gone). */
static int pod_stopped(struct node_pod *p, int64_t grace_ms)
{
	int running = 0;
	for (size_t i = 0; i < p->n_ctrs; i++) {
		struct node_ctr *c = &p->ctrs[i];
		if (c->pid <= 0 && c->group > 0) {
			if (kill(-c->group, 0) == 0) {
				kill(-c->group, SIGKILL);
				running++;
			} else {
				c->group = 0;
			}
		}
		if (c->pid > 0) {
			stop_container(c, grace_ms);
			running++;
		} else if (c->state == AIOS_CTR_WAITING) {
			c->done = 1;
		}
	}
	return running == 0;
}

static int64_t deletion_grace_ms(struct node_pod *p)
{
	int64_t g = -1;
	if (aios_json_opt_int(p->obj, "metadata.deletionGracePeriodSeconds", -1, &g) != AIOS_OK ||
	    g < 0)
		g = p->spec ? p->spec->grace_s : 30;
	return g * 1000;
}

/* One step of a pod being deleted; 1 when it is gone (API object deleted). */
static int sync_terminating(struct aios_node *n, struct node_pod *p)
{
	if (!p->terminating) {
		p->terminating = 1;
		aios_info("pod_stopping", "pod %s/%s: deletion requested, grace %llds", p->ns,
		          p->name, (long long)(deletion_grace_ms(p) / 1000));
	}
	reap(p);
	if (!pod_stopped(p, deletion_grace_ms(p)))
		return 0;
	sandbox_down(n, p);
	aios_runner_cgroup_remove(p->uid);
	if (p->seen) {
		write_status(n, p);
		struct aios_kube_ref r = aios_kube_ref(&aios_kube_pods, p->ns, p->name);
		struct aios_kube_delete_opts d = {.precondition_uid = p->uid,
		                                  .grace_period_seconds = 0};
		enum aios_err err = aios_kube_delete(n->kc, &r, &d, NULL);
		if (err && err != AIOS_ERR_NOT_FOUND && err != AIOS_ERR_CONFLICT) {
			aios_warn("pod_delete", "pod %s/%s: %s", p->ns, p->name, aios_errmsg());
			return 0;
		}
	}
	char *root = aios_xasprintf("%s/pods", n->o->state_dir);
	if (aios_volumes_remove_tree(root, p->dir) != AIOS_OK)
		aios_warn("pod_cleanup", "pod %s/%s: %s", p->ns, p->name, aios_errmsg());
	free(root);
	aios_info("pod_deleted", "pod %s/%s: stopped and removed", p->ns, p->name);
	return 1;
}

static int phase_is_terminal(const char *ph)
{
	return ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0);
}

static void sync_pod(struct aios_node *n, struct node_pod *p)
{
	if (p->pod_reason || p->finished) {
		write_status(n, p);
		return;
	}
	if (!p->spec || !p->net_up || !p->vol_dirs) {
		if (p->spec && p->spec->host_network && p->vol_dirs)
			goto ready;
		int64_t now = aios_now_ms();
		if (now < p->setup_next_ms)
			return;
		int fresh = p->spec == NULL;
		enum aios_err err = sandbox_up(n, p);
		if (fresh && p->spec)
			adopt_previous_status(p);
		if (err) {
			if (!p->pod_reason) {
				if (!p->setup_msg || strcmp(p->setup_msg, aios_errmsg()) != 0)
					aios_info("pod_waiting", "pod %s/%s: %s", p->ns, p->name,
					          aios_errmsg());
				set_str(&p->setup_msg, aios_errmsg());
				p->setup_next_ms = now + SETUP_RETRY_MS;
			}
			write_status(n, p);
			return;
		}
		set_str(&p->setup_msg, NULL);
	}
ready:
	reap(p);
	int64_t now = aios_now_ms();
	int all_done = 1;
	for (size_t i = 0; i < p->n_ctrs; i++) {
		struct node_ctr *c = &p->ctrs[i];
		const struct aios_podspec_container *sc = &p->spec->containers[i];
		if (!c->done)
			all_done = 0;
		if (c->state == AIOS_CTR_WAITING && !sc->image_reason && !sc->env_error &&
		    now >= c->next_start_ms)
			start_container(n, p, i);
	}
	run_probes(p);
	/* a finished pod keeps its logs but gives its address and namespace back, before its
	 * status says it finished: no reader sees a finished pod that still holds a netns */
	if (all_done && p->n_ctrs > 0 && p->net_up && pod_stopped(p, 0)) {
		sandbox_down(n, p);
		p->finished = 1;
		aios_info("pod_finished", "pod %s/%s: every container has finished", p->ns,
		          p->name);
	}
	write_status(n, p);
}

/* ------------------------------------------------------------------ the loop */

static struct node_pod *find_pod(struct aios_node *n, const char *uid)
{
	for (struct node_pod *p = n->pods; p; p = p->next)
		if (strcmp(p->uid, uid) == 0)
			return p;
	return NULL;
}

static void sync_all(struct aios_node *n)
{
	size_t count;
	struct json_object **objs = aios_kube_informer_list(n->pods_inf, &count);
	for (struct node_pod *p = n->pods; p; p = p->next)
		p->seen = 0;
	for (size_t i = 0; i < count; i++) {
		const char *uid = aios_json_str(objs[i], "metadata.uid");
		if (!uid)
			continue;
		struct node_pod *p = find_pod(n, uid);
		if (!p) {
			const char *phase = aios_json_str(objs[i], "status.phase");
			int deleting =
			    aios_json_lookup(objs[i], "metadata.deletionTimestamp") != NULL;
			if (phase_is_terminal(phase) && !deleting)
				continue; /* finished before this agent saw it: nothing to run */
			p = pod_new(n, objs[i]);
			pthread_mutex_lock(&n->lock);
			p->next = n->pods;
			n->pods = p;
			pthread_mutex_unlock(&n->lock);
			aios_info("pod_added", "pod %s/%s (uid %s)", p->ns, p->name, p->uid);
		}
		if (p->obj != objs[i]) {
			if (p->obj)
				aios_kube_obj_put(p->obj);
			p->obj = aios_kube_obj_get(objs[i]);
		}
		p->seen = 1;
	}
	aios_kube_objs_free(objs, count);

	struct node_pod **pp = &n->pods;
	while (*pp) {
		struct node_pod *p = *pp;
		int gone = 0;
		if (!p->seen) {
			/* deleted without us (force delete): stop it at once */
			if (!p->terminating)
				for (size_t i = 0; i < p->n_ctrs; i++)
					stop_container(&p->ctrs[i], 0);
			gone = sync_terminating(n, p);
		} else if (aios_json_lookup(p->obj, "metadata.deletionTimestamp")) {
			gone = sync_terminating(n, p);
		} else {
			sync_pod(n, p);
		}
		if (gone) {
			pthread_mutex_lock(&n->lock);
			*pp = p->next;
			pthread_mutex_unlock(&n->lock);
			pod_free(p);
		} else {
			pp = &p->next;
		}
	}
}

/* Stops every pod (SIGTERM, its grace, SIGKILL) and removes their sandboxes. */
static void stop_all(struct aios_node *n)
{
	int64_t deadline = 0;
	for (struct node_pod *p = n->pods; p; p = p->next) {
		p->terminating = 1;
		int64_t g = p->spec ? p->spec->grace_s * 1000 : 0;
		pod_stopped(p, g);
		if (aios_now_ms() + g > deadline)
			deadline = aios_now_ms() + g;
	}
	for (;;) {
		int running = 0;
		for (struct node_pod *p = n->pods; p; p = p->next) {
			reap(p);
			running += !pod_stopped(p, 0);
		}
		if (!running)
			break;
		aios_sleep_ms(50);
	}
	while (n->pods) {
		struct node_pod *p = n->pods;
		sandbox_down(n, p);
		n->pods = p->next;
		pod_free(p);
	}
}

/* ------------------------------------------------------------------ leftovers */

void aios_node_cleanup_leftovers(const char *state_dir, const char *bridge)
{
	char *root = aios_xasprintf("%s/pods", state_dir);
	DIR *d = opendir(root);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *pids = aios_xasprintf("%s/%s/pids", root, e->d_name);
		DIR *pd = opendir(pids);
		struct dirent *pe;
		while (pd && (pe = readdir(pd))) {
			if (pe->d_name[0] == '.')
				continue;
			char *f = aios_xasprintf("%s/%s", pids, pe->d_name);
			FILE *fp = fopen(f, "r");
			int pid = 0;
			unsigned long long started = 0;
			if (fp) {
				if (fscanf(fp, "%d %llu", &pid, &started) != 2)
					pid = 0;
				fclose(fp);
			}
			if (pid > 1 && aios_runner_alive(pid) && proc_start_time(pid) == started) {
				aios_info(
				    "cleanup",
				    "killing process group %d left by an earlier aios-node (%s)",
				    pid, f);
				aios_runner_kill_group(pid, 2000);
			}
			free(f);
		}
		if (pd)
			closedir(pd);
		free(pids);
		aios_runner_cgroup_remove(e->d_name); /* the dir is named by the pod's UID */
		char netns[AIOS_NODENET_NAME_MAX + 16], veth[AIOS_NODENET_NAME_MAX];
		aios_nodenet_names(e->d_name, netns, veth);
		if (aios_nodenet_pod_down(netns, veth) != AIOS_OK)
			aios_warn("cleanup", "%s", aios_errmsg());
		char *dir = aios_xasprintf("%s/%s", root, e->d_name);
		if (aios_volumes_remove_tree(root, dir) != AIOS_OK)
			aios_warn("cleanup", "%s", aios_errmsg());
		free(dir);
	}
	if (d)
		closedir(d);
	free(root);
	if (aios_nodenet_link_exists(bridge)) {
		aios_info("cleanup", "removing bridge %s left by an earlier aios-node", bridge);
		if (aios_nodenet_bridge_down(bridge) != AIOS_OK)
			aios_warn("cleanup", "%s", aios_errmsg());
	}
}

/* ------------------------------------------------------------------ start/stop */

static enum aios_err check_routes(const struct aios_cidr *c)
{
	struct aios_buf b;
	aios_buf_init(&b, 1u << 20);
	enum aios_err err = aios_buf_read_file(&b, "/proc/net/route");
	if (!err)
		err = aios_nodenet_check_routes(b.data ? b.data : "", c);
	aios_buf_cleanup(&b);
	return err;
}

int aios_node_lock(const char *bridge)
{
	char path[64];
	snprintf(path, sizeof path, "/run/aios-node.%s.lock", bridge);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		aios_fail(AIOS_ERR_IO, "lock %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		aios_fail(AIOS_ERR_EXISTS, "another aios-node runs with bridge %s (it holds %s)",
		          bridge, path);
		close(fd);
		return -1;
	}
	return fd; /* held until the process exits */
}

enum aios_err aios_node_run(const struct aios_node_opts *o)
{
	struct aios_node n = {.o = o};
	pthread_mutex_init(&n.lock, NULL);
	enum aios_err err = aios_cidr_parse(o->pod_cidr, &n.cidr);
	if (err)
		return err;
	aios_cidr_host(&n.cidr, 1, n.host_ip);
	n.ip_used = aios_xcalloc((size_t)1 << (32 - n.cidr.prefix), 1);
	if (o->node_name) {
		n.node_name = aios_xstrdup(o->node_name);
	} else {
		char h[256] = "";
		gethostname(h, sizeof h - 1);
		for (char *s = h; *s; s++)
			if (*s >= 'A' && *s <= 'Z')
				*s = (char)(*s - 'A' + 'a');
		n.node_name = aios_xstrdup(*h ? h : "aios-node");
	}
	if ((err = aios_volumes_mkdir_p(o->state_dir)))
		goto out;

	aios_node_cleanup_leftovers(o->state_dir, o->bridge);
	if ((err = check_routes(&n.cidr)))
		goto out;

	struct aios_kube_config *cfg = NULL;
	if ((err = aios_kube_config_load(o->kubeconfig, NULL, &cfg)))
		goto out;
	char api_host[256];
	int api_target_port = 0;
	if (o->apiserver_proxy_port > 0)
		err = aios_apiproxy_parse_server(cfg->server, api_host, sizeof api_host,
		                                 &api_target_port);
	if (!err)
		err = aios_kube_client_new(cfg, &n.kc);
	if (!err)
		err = node_client_ca(&n, cfg);
	aios_kube_config_free(cfg);
	if (err)
		goto out;
	aios_kube_client_set_user_agent(n.kc, "aios-node/" AIOS_VERSION);

	if ((err = aios_nodenet_bridge_up(o->bridge, &n.cidr)))
		goto out;
	aios_info("bridge_up", "bridge %s with %s/%d", o->bridge, n.host_ip, n.cidr.prefix);
	if ((err = node_register(&n)))
		goto out_net;
	if ((err = node_kubelet_start(&n)))
		goto out_net;
	if (o->apiserver_proxy_port > 0) {
		if ((err = aios_apiproxy_start(n.host_ip, o->apiserver_proxy_port, api_host,
		                               api_target_port, &n.apiproxy)))
			goto out_net;
		n.api_port = aios_apiproxy_port(n.apiproxy);
		aios_info("apiserver_proxy",
		          "the kubernetes Service for pods: %s:%d forwards to the API server %s:%d",
		          n.host_ip, n.api_port, api_host, api_target_port);
	}

	char *sel = aios_xasprintf("spec.nodeName=%s", n.node_name);
	struct aios_kube_informer_opts io = {.field_selector = sel};
	err = aios_kube_informer_new(n.kc, &aios_kube_pods, &io, NULL, &n.pods_inf);
	free(sel);
	if (!err)
		err = aios_kube_informer_start(n.pods_inf);
	if (!err)
		err = aios_kube_informer_wait_synced(n.pods_inf, 60000);
	if (err)
		goto out_net;
	aios_info("node_ready", "node %s ready: pods on %s/%d via %s, kubelet port %d", n.node_name,
	          n.host_ip, n.cidr.prefix, o->bridge, o->kubelet_port);

	while (!aios_shutdown_requested()) {
		int64_t now = aios_now_ms();
		sync_all(&n);
		if (now >= n.lease_next_ms)
			node_heartbeat(&n);
		if (now >= n.provision_next_ms) {
			node_provision(&n);
			n.provision_next_ms = now + AIOS_NODE_PROVISION_MS;
		}
		aios_shutdown_wait_ms(AIOS_NODE_SYNC_MS);
	}
	aios_info("node_stopping", "stopping every pod and removing the network");
	err = AIOS_OK;
out_net:
	if (n.pods_inf)
		aios_kube_informer_stop(n.pods_inf);
	stop_all(&n);
	aios_probe_shutdown(2000); /* cancelled runs end within the client's poll slice */
	if (n.http)
		aios_http_server_stop(n.http, 1000);
	if (n.healthz)
		aios_http_server_stop(n.healthz, 1000);
	aios_apiproxy_free(n.apiproxy); /* after the pods: they may talk to the API server */
	{
		enum aios_err e2 = aios_nodenet_bridge_down(o->bridge);
		if (e2)
			aios_warn("bridge_down", "%s", aios_errmsg());
	}
	aios_node_cleanup_leftovers(o->state_dir, o->bridge); /* anything a failed setup left */
out:
	aios_kube_informer_free(n.pods_inf);
	aios_http_server_free(n.http);
	aios_http_server_free(n.healthz);
	aios_nodeauth_free(n.auth); /* after the server: its handlers use it */
	aios_kube_client_free(n.kc);
	free(n.ip_used);
	free(n.node_name);
	free(n.node_uid);
	free(n.tls_cert);
	free(n.tls_key);
	free(n.client_ca);
	pthread_mutex_destroy(&n.lock);
	return err;
}
