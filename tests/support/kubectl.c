/*
 * kubectl.c - run the cached kubectl from a test (see kubectl.h).
 */
#include "kubectl.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "common/clock.h"

const char *aios_test_kubectl_path(void)
{
	static char path[4096];
	if (path[0])
		return path;
	const char *bin = getenv("AIOS_KUBE_BIN");
	char dir[4096] = "";
	if (bin && *bin) {
		snprintf(dir, sizeof(dir), "%s", bin);
	} else {
		/* The build script prints the bin dir last; it returns at once when cached. */
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "%s 2>/dev/null",
		         aios_test_path("scripts/build-kube.sh"));
		FILE *p = popen(cmd, "r");
		if (p) {
			char line[4096];
			while (fgets(line, sizeof(line), p))
				snprintf(dir, sizeof(dir), "%s", line);
			pclose(p);
		}
		dir[strcspn(dir, "\n")] = '\0';
	}
	snprintf(path, sizeof(path), "%s/kubectl", dir);
	if (!dir[0] || access(path, X_OK) != 0) {
		fprintf(stderr,
		        "no kubectl at '%s': set AIOS_KUBE_BIN or run scripts/build-kube.sh\n",
		        path);
		exit(2);
	}
	return path;
}

int aios_test_kubectl(const char *kubeconfig, const char *input, char *out, size_t cap, ...)
{
	const char *args[AIOS_TEST_KUBECTL_MAX_ARGS];
	size_t n = 0;
	va_list ap;
	va_start(ap, cap);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL) {
		if (n >= AIOS_TEST_KUBECTL_MAX_ARGS) {
			fprintf(stderr, "aios_test_kubectl: more than %d arguments\n",
			        AIOS_TEST_KUBECTL_MAX_ARGS);
			exit(2);
		}
		args[n++] = a;
	}
	va_end(ap);
	return aios_test_kubectlv(kubeconfig, input, out, cap, args, n);
}

int aios_test_kubectlv(const char *kubeconfig, const char *input, char *out, size_t cap,
                       const char *const *args, size_t nargs)
{
	const char *argv[AIOS_TEST_KUBECTL_MAX_ARGS + 4];
	char kc[4200];
	size_t n = 0;
	if (nargs > AIOS_TEST_KUBECTL_MAX_ARGS) {
		fprintf(stderr, "aios_test_kubectl: %zu arguments, at most %d\n", nargs,
		        AIOS_TEST_KUBECTL_MAX_ARGS);
		exit(2);
	}
	argv[n++] = aios_test_kubectl_path();
	snprintf(kc, sizeof(kc), "--kubeconfig=%s", kubeconfig);
	argv[n++] = kc;
	argv[n++] = "--request-timeout=30s";
	for (size_t i = 0; i < nargs; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	int outp[2], inp[2];
	if (pipe(outp) != 0 || pipe(inp) != 0) {
		perror("aios_test_kubectl: pipe");
		exit(2);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("aios_test_kubectl: fork");
		exit(2);
	}
	if (pid == 0) {
		dup2(inp[0], 0);
		dup2(outp[1], 1);
		dup2(outp[1], 2);
		close(inp[0]);
		close(inp[1]);
		close(outp[0]);
		close(outp[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(inp[0]);
	close(outp[1]);
	/* Our input is small (one manifest): write it all, then read the output. A manifest
	 * larger than the pipe buffer would need kubectl to read while we wait, which it
	 * does (it reads stdin before it prints anything). */
	signal(SIGPIPE, SIG_IGN);
	if (input) {
		size_t len = strlen(input), off = 0;
		while (off < len) {
			ssize_t w = write(inp[1], input + off, len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	close(inp[1]);
	size_t used = 0;
	for (;;) {
		char chunk[8192];
		ssize_t r = read(outp[0], chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		size_t take = (size_t)r;
		if (cap > 0 && used + take > cap - 1)
			take = cap - 1 - used;
		if (take) {
			memcpy(out + used, chunk, take);
			used += take;
		}
	}
	if (cap > 0)
		out[used] = '\0';
	close(outp[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void aios_test_wait_crds_established(const char *kubeconfig)
{
	static char out[4096];
	const char *args[] = {"wait", "--for=condition=Established", "--timeout=5s",
	                      "crd/trainingjobs.aios.dev", "crd/modelservices.aios.dev"};
	int64_t deadline = aios_now_ms() + 60000;
	int rc;
	/* kubectl 1.20's wait fails at once ("accessor error: <nil>") on a CRD the server
	 * has not yet given any condition: ask again until the deadline */
	while ((rc = aios_test_kubectlv(kubeconfig, NULL, out, sizeof(out), args, 5)) != 0 &&
	       aios_now_ms() < deadline)
		aios_sleep_ms(200);
	ck_assert_msg(rc == 0, "CRDs not established within 60 s: %s", out);
}

int aios_test_can_i(const char *user, const char *verb, const char *resource, const char *group,
                    const char *ns)
{
	static char g_out[AIOS_TEST_KUBECTL_OUT_CAP];
	char res[160];
	if (group[0])
		snprintf(res, sizeof(res), "%s.%s", resource, group);
	else
		snprintf(res, sizeof(res), "%s", resource);
	/* "trainingjobs/status.aios.dev" is not a resource name kubectl accepts. */
	char sub[96] = "";
	char *slash = strchr(res, '/');
	if (slash) {
		char *dot = strchr(slash, '.');
		size_t sublen = (size_t)((dot ? dot : res + strlen(res)) - slash - 1);
		snprintf(sub, sizeof(sub), "%.*s", (int)sublen, slash + 1);
		memmove(slash, slash + 1 + sublen, strlen(slash + 1 + sublen) + 1);
	}
	const char *args[16] = {"auth", "can-i", verb, res, "--as", user, "-n", ns};
	size_t n = 8;
	char subarg[128];
	if (sub[0]) {
		snprintf(subarg, sizeof(subarg), "--subresource=%s", sub);
		args[n++] = subarg;
	}
	int rc = aios_test_kubectlv(aios_test_kubeconfig(), NULL, g_out, sizeof(g_out), args, n);
	/* The answer is the last line (a warning may come first, e.g. "not namespace scoped"). */
	size_t len = strlen(g_out);
	while (len > 0 && g_out[len - 1] == '\n')
		g_out[--len] = '\0';
	const char *last = strrchr(g_out, '\n');
	last = last ? last + 1 : g_out;
	ck_assert_msg(strcmp(last, "yes") == 0 || strcmp(last, "no") == 0, "can-i %s %s: %s", verb,
	              res, g_out);
	return rc == 0 && strcmp(last, "yes") == 0;
}
