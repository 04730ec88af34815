/*
 * aios-node - makes this machine a one-node Kubernetes cluster for aios workloads:
 * registers a Node, runs the pods bound to it as local processes in their own
 * network namespaces on a bridge, provisions local volumes, reports pod status.
 * Not a production kubelet (docs/node.md).
 *
 * Exit codes: 0 stopped by SIGTERM/SIGINT, 1 runtime failure, 2 bad usage,
 * 3 not running as root.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/shutdown.h"
#include "node/agent.h"
#include "node/apiproxy.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: aios-node [flags]\n"
	    "\n"
	    "Runs the pods the scheduler binds to this node as local processes, each in its\n"
	    "own network namespace on a bridge, and reports them as a kubelet does. Needs root.\n"
	    "\n"
	    "  --kubeconfig PATH      API server credentials (default: $KUBECONFIG, "
	    "~/.kube/config)\n"
	    "  --node-name NAME       Node object name (default: the host name)\n"
	    "  --state-dir DIR        pods, logs and provisioned volumes (default "
	    "/var/lib/aios-node)\n"
	    "  --bin-dir DIR          where aios-trainer/aios-serve/aios-operator are built\n"
	    "                         (default: the build tree this binary is in)\n"
	    "  --pod-cidr CIDR        pod address range; its first address is the node's\n"
	    "                         (default 10.244.0.0/24)\n"
	    "  --bridge NAME          bridge to create (default aios0)\n"
	    "  --kubelet-port N       HTTPS port for `kubectl logs` on the node address (default "
	    "10250)\n"
	    "  --apiserver-proxy-port N  forward <node address>:N to the kubeconfig's API server\n"
	    "                         and give pods KUBERNETES_SERVICE_HOST/PORT for it (the\n"
	    "                         `kubernetes` Service); 0 disables (default 443)\n"
	    "  --tls-cert-file PATH   kubelet port certificate (default: self-signed, made once)\n"
	    "  --tls-private-key-file PATH  its key\n"
	    "  --client-ca-file PATH  CA bundle that verifies client certificates on the kubelet\n"
	    "                         port (the API server's --kubelet-client-certificate);\n"
	    "                         default: the kubeconfig's certificate authority. Every\n"
	    "                         request there, /healthz too, is authenticated (that\n"
	    "                         certificate, or a bearer token by TokenReview) and\n"
	    "                         authorized by a SubjectAccessReview, as the kubelet's\n"
	    "                         Webhook mode\n"
	    "  --healthz-port N       plain HTTP GET /healthz for anyone, as the kubelet's;\n"
	    "                         0 disables (default 10248)\n"
	    "  --healthz-bind-address IP  its address (default 127.0.0.1)\n"
	    "  --storage-class NAME   claims of this class get local volumes (default aios-local)\n"
	    "  --log-level LEVEL      debug|info|warn|error (default info)\n"
	    "  --cleanup              only remove what an earlier run left, then exit\n"
	    "  -h, --help             this help\n");
}

/* The build tree holding this binary: <build>/src/node/aios-node -> <build>. */
static char *default_bin_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return aios_xstrdup(".");
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	size_t l = strlen(exe);
	if (l > 9 && strcmp(exe + l - 9, "/src/node") == 0)
		exe[l - 9] = '\0';
	return aios_xstrdup(exe);
}

/* A port number of flag --name, min..65535, into *out: 0, or -1 with the usage error
 * printed. */
static int parse_port(const char *name, const char *arg, int min, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);
	if (*end || end == arg || v < min || v > 65535) {
		fprintf(stderr, "aios-node: --%s %s: expected %d..65535\n", name, arg, min);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"kubeconfig", required_argument, 0, 'k'},
	    {"node-name", required_argument, 0, 'n'},
	    {"state-dir", required_argument, 0, 's'},
	    {"bin-dir", required_argument, 0, 'b'},
	    {"pod-cidr", required_argument, 0, 'c'},
	    {"bridge", required_argument, 0, 'B'},
	    {"kubelet-port", required_argument, 0, 'p'},
	    {"storage-class", required_argument, 0, 'S'},
	    {"log-level", required_argument, 0, 'l'},
	    {"cleanup", no_argument, 0, 'C'},
	    {"tls-cert-file", required_argument, 0, 'T'},
	    {"tls-private-key-file", required_argument, 0, 'K'},
	    {"apiserver-proxy-port", required_argument, 0, 'A'},
	    {"client-ca-file", required_argument, 0, 'a'},
	    {"healthz-port", required_argument, 0, 'H'},
	    {"healthz-bind-address", required_argument, 0, 'I'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0}};
	struct aios_node_opts o = {.state_dir = "/var/lib/aios-node",
	                           .pod_cidr = "10.244.0.0/24",
	                           .bridge = "aios0",
	                           .kubelet_port = 10250,
	                           .apiserver_proxy_port = AIOS_APIPROXY_PORT,
	                           .healthz_port = 10248,
	                           .storage_class = "aios-local"};
	int level = AIOS_LOG_INFO, cleanup_only = 0, c;
	char *bin_dir = NULL;
	aios_log_init("aios-node", AIOS_LOG_INFO);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': o.kubeconfig = optarg; break;
		case 'n': o.node_name = optarg; break;
		case 's': o.state_dir = optarg; break;
		case 'b': o.bin_dir = optarg; break;
		case 'c': o.pod_cidr = optarg; break;
		case 'B': o.bridge = optarg; break;
		case 'S': o.storage_class = optarg; break;
		case 'C': cleanup_only = 1; break;
		case 'T': o.tls_cert = optarg; break;
		case 'K': o.tls_key = optarg; break;
		case 'a': o.client_ca = optarg; break;
		case 'I': o.healthz_bind = optarg; break;
		case 'p':
			if (parse_port("kubelet-port", optarg, 1, &o.kubelet_port) != 0)
				return 2;
			break;
		case 'A':
			if (parse_port("apiserver-proxy-port", optarg, 0,
			               &o.apiserver_proxy_port) != 0)
				return 2;
			break;
		case 'H':
			if (parse_port("healthz-port", optarg, 0, &o.healthz_port) != 0)
				return 2;
			break;
		case 'l':
			level = aios_log_parse_level(optarg);
			if (level < 0) {
				fprintf(
				    stderr,
				    "aios-node: --log-level %s: expected debug|info|warn|error\n",
				    optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "aios-node: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	struct in_addr healthz_addr;
	if (o.healthz_bind && inet_pton(AF_INET, o.healthz_bind, &healthz_addr) != 1) {
		fprintf(stderr, "aios-node: --healthz-bind-address %s: expected an IPv4 address\n",
		        o.healthz_bind);
		return 2;
	}
	if (!o.tls_cert != !o.tls_key) {
		fprintf(stderr,
		        "aios-node: --tls-cert-file and --tls-private-key-file go together\n");
		return 2;
	}
	if (o.state_dir[0] != '/') {
		fprintf(stderr, "aios-node: --state-dir must be an absolute path\n");
		return 2;
	}
	if (strlen(o.bridge) == 0 || strlen(o.bridge) > 15) {
		fprintf(stderr,
		        "aios-node: --bridge must be 1..15 characters (an interface name)\n");
		return 2;
	}
	aios_log_set_level((enum aios_log_level)level);
	if (geteuid() != 0) {
		aios_error("not_root",
		           "aios-node must run as root, as a kubelet does: it creates a bridge, "
		           "network namespaces and mount namespaces (run it with sudo)");
		return 3;
	}
	if (!o.bin_dir)
		o.bin_dir = bin_dir = default_bin_dir();
	aios_shutdown_install();
	if (aios_node_lock(o.bridge) < 0) {
		aios_error("locked", "%s", aios_errmsg());
		free(bin_dir);
		return 1;
	}
	if (cleanup_only) {
		aios_node_cleanup_leftovers(o.state_dir, o.bridge);
		free(bin_dir);
		return 0;
	}
	enum aios_err err = aios_node_run(&o);
	free(bin_dir);
	if (err) {
		aios_error("fatal", "%s", aios_errmsg());
		return 1;
	}
	aios_info("stopped", "aios-node stopped cleanly");
	return 0;
}
