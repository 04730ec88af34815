#!/usr/bin/env bash
# The one-machine cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# aios-node, the CRDs, aios-operator under its real RBAC, and aios-gateway (the entry of
# every ModelService on http://127.0.0.1:18090, docs/gateway.md).
#
#   scripts/cluster.sh up [--node aios-node|kubelet]   start (or find running) and print
#                      the admin kubeconfig path. --node kubelet: a real kubelet 1.20.2
#                      with containerd's CRI, a CNI bridge and the images of
#                      scripts/images.sh instead of aios-node (docs/local-cluster.md)
#   scripts/cluster.sh down [--node ...]     stop everything, remove the bridge and the
#                      cluster state (no --node: whichever kind is up)
#   scripts/cluster.sh status [--node ...]   one line per component; exit 0 when all are up
#   scripts/cluster.sh restart-node [--kill]   restart aios-node (--kill: as after a crash)
#   scripts/cluster.sh operator stop|start     stop the local aios-operator (SIGTERM: it
#                      releases the Lease aios-system/aios-operator) or start it again
#
# Environment:
#   AIOS_CLUSTER_DIR   state (default /var/lib/aios-cluster, /var/lib/aios-cluster-kubelet
#                      for --node kubelet): api/ (etcd, PKI, kubeconfigs, see
#                      tests/cluster/apiserver.sh), node/ (pods, logs, volumes), *.log
#   AIOS_BUILD_DIR     where aios is built (default <repo>/build)
#   AIOS_KUBE_BIN      kube binaries (default: scripts/build-kube.sh's cache)
#   AIOS_UP_TIMEOUT    seconds to wait for each component (default 90)
#
# Decisions (docs/local-cluster.md): the API server listens on 127.0.0.1 only; the
# kubelet port of aios-node is HTTPS on the node's InternalIP (10.244.0.1) and serves
# only the API server's kubelet client certificate (user kube-apiserver-kubelet-client,
# bound to system:kubelet-api-admin) or bearer tokens RBAC lets in: a CA of its own
# ($DIR/node-pki) signs that certificate and aios-node's serving one, and each side
# verifies the other; pods reach the API server through aios-node's
# forwarder on 10.244.0.1:443 (the `kubernetes` Service); the operator runs as a local
# process with the token of its ServiceAccount identity
# (system:serviceaccount:aios-system:aios-operator) under the RBAC that operator/
# installs, with leader election on the Lease aios-system/aios-operator, the one the
# Deployment of operator/ uses: `kubectl apply -k operator/` on this cluster adds a
# standby, which takes over when `operator stop` releases the Lease. aios-node runs as
# system:node:aios-node (Node authorizer), plus a ClusterRole for its provisioner part.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CMD="${1:-}"; shift || true
NODE_KIND=""
ARGS=()
while (($#)); do
  case "$1" in
    --node) NODE_KIND="${2:-}"; shift 2 || { echo "cluster.sh: --node needs aios-node or kubelet" >&2; exit 2; } ;;
    --node=*) NODE_KIND="${1#--node=}"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
case "$NODE_KIND" in
  ""|aios-node|kubelet) ;;
  *) echo "cluster.sh: --node '$NODE_KIND': use aios-node or kubelet" >&2; exit 2 ;;
esac
KUBELET_DIR_DEFAULT=/var/lib/aios-cluster-kubelet
if [[ -z "$NODE_KIND" && -z "${AIOS_CLUSTER_DIR:-}" && "$CMD" != up && -d "$KUBELET_DIR_DEFAULT" && ! -d /var/lib/aios-cluster ]]; then
  NODE_KIND=kubelet # down/status without --node: the kind that is there
fi
if [[ "$NODE_KIND" == kubelet ]]; then
  DIR="${AIOS_CLUSTER_DIR:-$KUBELET_DIR_DEFAULT}"
else
  DIR="${AIOS_CLUSTER_DIR:-/var/lib/aios-cluster}"
fi
[[ -z "$NODE_KIND" && -f "$DIR/node-kind" ]] && NODE_KIND="$(cat "$DIR/node-kind")"
NODE_KIND="${NODE_KIND:-aios-node}"
BUILD="${AIOS_BUILD_DIR:-$ROOT/build}"
TIMEOUT="${AIOS_UP_TIMEOUT:-90}"
API="$DIR/api"

log() { printf '{"ts":"%s","level":"%s","prog":"cluster.sh","msg":"%s"}\n' "$(date -u +%FT%TZ)" "$1" "$2" >&2; }
die() { log error "$*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

kube_bin() {
  if [[ -n "${AIOS_KUBE_BIN:-}" ]]; then echo "$AIOS_KUBE_BIN"; return; fi
  "$ROOT/scripts/build-kube.sh"
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid PIDFILE SECONDS: SIGTERM, wait, SIGKILL (only a process we started: its
# command line names $DIR).
stop_pid() {
  local pidfile="$1" wait_s="$2" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF "$DIR"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((wait_s * 10))); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# start NAME CMD...: runs CMD in its own session, logging to $DIR/NAME.log.
start() {
  local name="$1"; shift
  setsid "$@" >> "$DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$DIR/$name.pid"
}

kubectl_() { "$KBIN/kubectl" --kubeconfig "$API/admin.kubeconfig" "$@"; }

wait_for() { # wait_for WHAT PIDFILE CMD...: until CMD succeeds, failing if PIDFILE's process dies
  local what="$1" pidfile="$2"; shift 2
  for _ in $(seq 1 $((TIMEOUT * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [[ -n "$pidfile" ]] && ! alive "$pidfile"; then
      tail -15 "$DIR/$(basename "$pidfile" .pid).log" >&2 || true
      die "$what exited during start (log: $DIR/$(basename "$pidfile" .pid).log)"
    fi
    sleep 0.2
  done
  die "$what not ready after ${TIMEOUT}s"
}

node_ready() {
  [[ "$(kubectl_ get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# The cluster-wide pieces aios-node relies on: the default StorageClass it provisions
# for, the rights of its provisioner beyond what the Node authorizer grants, and the
# API server's rights on its kubelet port.
cluster_manifests() {
  cat <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: aios-local
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: aios.dev/local
reclaimPolicy: Delete
volumeBindingMode: Immediate
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: aios-node-provisioner
rules:
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [get, list, watch, create, delete]
- apiGroups: [storage.k8s.io]
  resources: [storageclasses]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: aios-node-provisioner
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: aios-node-provisioner
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: system:node:aios-node
---
# the API server's kubelet client certificate (make_node_pki) may use the kubelet port
# of aios-node, for kubectl logs (aios-node asks a SubjectAccessReview for nodes/proxy)
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: aios-node-kubelet-api
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:kubelet-api-admin
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: $KUBELET_CLIENT_USER
YAML
}

# The kubelet port's PKI (aios-node kind), in $NODE_PKI: a CA of its own signs the API
# server's kubelet client certificate (CN $KUBELET_CLIENT_USER, no group: its rights
# come from the binding above) and aios-node's serving certificate for $NODE_IP. The
# API server verifies aios-node against it (--kubelet-certificate-authority) and
# aios-node verifies its clients against it alone (--client-ca-file), so no other
# certificate of the cluster's CA passes as a kubelet client. P-256 keys, as aios-node's
# own self-signed pair. Made before the API server starts, which loads the pair.
make_node_pki() {
  local d="$NODE_PKI" ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  mkdir -p "$d"
  chmod 700 "$d"
  openssl req -x509 "${ec[@]}" -days 3650 -subj "/CN=aios-node-kubelet-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > "$d/apiserver-kubelet-client.ext"
  printf 'subjectAltName=IP:%s,DNS:%s\nextendedKeyUsage=serverAuth\n' "$NODE_IP" "$NODE_NAME" > "$d/kubelet.ext"
  local name subj
  for name in apiserver-kubelet-client kubelet; do
    subj="/CN=$KUBELET_CLIENT_USER"
    [[ $name == kubelet ]] && subj="/CN=$NODE_NAME"
    openssl req -new "${ec[@]}" -subj "$subj" -keyout "$d/$name.key" -out "$d/$name.csr" 2>/dev/null
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
      -days 3650 -extfile "$d/$name.ext" -out "$d/$name.crt" 2>/dev/null
  done
}

# aios-gateway's rights, for the local one (system:serviceaccount:aios-system:aios-gateway,
# a static token of tests/cluster/apiserver.sh): list and watch ModelServices and Endpoints,
# as operator/gateway-cluster-role.yaml grants.
gateway_manifests() {
  cat <<YAML
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: aios-gateway
rules:
- apiGroups: [aios.dev]
  resources: [modelservices]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [endpoints]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: aios-gateway
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: aios-gateway
subjects:
- kind: ServiceAccount
  name: aios-gateway
  namespace: aios-system
YAML
}

node_pids() { if [[ $NODE_KIND == kubelet ]]; then echo containerd kubelet api-forwarder; else echo aios-node; fi; }
NODE_NAME=aios-node
[[ $NODE_KIND == kubelet ]] && NODE_NAME=aios-kubelet
NODE_IP=10.244.0.1 # aios-node's bridge address (its default --pod-cidr's first)
NODE_PKI="$DIR/node-pki"
KUBELET_CLIENT_USER=kube-apiserver-kubelet-client # the name kubeadm gives it

all_up() {
  local p
  for p in $(node_pids); do alive "$DIR/$p.pid" || return 1; done
  alive "$DIR/kube-controller-manager.pid" && alive "$DIR/kube-scheduler.pid" &&
    "$ROOT/tests/cluster/apiserver.sh" status "$API" >/dev/null 2>&1
}

cmd_up() {
  if [[ -d "$DIR" ]] && all_up; then
    log info "cluster already up"
    echo "$API/admin.kubeconfig"
    return 0
  fi
  [[ $EUID -eq 0 ]] || die "the local cluster needs root: aios-node creates a bridge and network namespaces (run with sudo)"
  if [[ $NODE_KIND == aios-node ]]; then
    [[ -x "$BUILD/src/node/aios-node" ]] || die "aios-node is not built in $BUILD (cmake -S $ROOT -B $BUILD && cmake --build $BUILD)"
  fi
  if [[ -d "$DIR" ]]; then
    log info "removing the remains of an earlier cluster in $DIR"
    cmd_down >/dev/null 2>&1 || true
  fi
  KBIN="$(kube_bin)"
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [[ -x "$KBIN/$b" ]] || die "no $b in $KBIN (scripts/build-kube.sh builds them)"
  done
  mkdir -p "$DIR/wrap"
  echo "$NODE_KIND" > "$DIR/node-kind"
  local t0=$SECONDS
  UP_OK=0
  trap '[[ $UP_OK == 1 ]] || { log error "start failed: stopping what was started"; cmd_down >/dev/null 2>&1 || true; }' EXIT

  # kube-apiserver as tests/cluster/apiserver.sh runs it, plus: reach the node by its
  # InternalIP; on the aios-node kind, authenticate to it and verify it (make_node_pki).
  # The kubelet kind's kubelet keeps its own self-signed pair and open port.
  local kubelet_flags=""
  if [[ $NODE_KIND == aios-node ]]; then
    make_node_pki
    kubelet_flags="--kubelet-client-certificate=$NODE_PKI/apiserver-kubelet-client.crt"
    kubelet_flags+=" --kubelet-client-key=$NODE_PKI/apiserver-kubelet-client.key"
    kubelet_flags+=" --kubelet-certificate-authority=$NODE_PKI/ca.crt"
  fi
  cat > "$DIR/wrap/kube-apiserver" <<EOF
#!/bin/sh
exec "$KBIN/kube-apiserver" --kubelet-preferred-address-types=InternalIP,Hostname $kubelet_flags "\$@"
EOF
  chmod +x "$DIR/wrap/kube-apiserver"
  AIOS_KUBE_BIN="$DIR/wrap" "$ROOT/tests/cluster/apiserver.sh" up "$API" >/dev/null

  log info "starting kube-controller-manager"
  start kube-controller-manager "$KBIN/kube-controller-manager" \
    --kubeconfig="$API/kube-controller-manager.kubeconfig" \
    --controllers='*' --use-service-account-credentials=true \
    --service-account-private-key-file="$API/pki/sa.key" --root-ca-file="$API/pki/ca.crt" \
    --leader-elect=false --port=0 --secure-port=0 \
    --node-monitor-grace-period=40s --pod-eviction-timeout=5m --v=1
  log info "starting kube-scheduler"
  start kube-scheduler "$KBIN/kube-scheduler" --kubeconfig="$API/kube-scheduler.kubeconfig" \
    --leader-elect=false --port=0 --secure-port=0 --v=1

  if [[ $NODE_KIND == kubelet ]]; then
    start_kubelet_node
  else
    log info "starting aios-node"
    start_node
  fi

  # one kubectl call (each costs seconds on a loaded machine): the cluster's own pieces,
  # the CRDs, and every operator/ manifest but the Deployment (the operator runs here as
  # a local process); the namespace first
  local files=(-f -)
  [[ -d "$ROOT/crds" ]] && files+=(-f "$ROOT/crds")
  if [[ -d "$ROOT/operator" ]]; then
    [[ -f "$ROOT/operator/namespace.yaml" ]] && files+=(-f "$ROOT/operator/namespace.yaml")
    for f in "$ROOT"/operator/*.yaml; do
      case "$(basename "$f")" in deployment.yaml|kustomization.yaml|namespace.yaml) continue ;; esac
      files+=(-f "$f")
    done
  fi
  if [[ $NODE_KIND == kubelet ]]; then
    kubectl_ apply "${files[@]}" >/dev/null <<<"$(kubelet_storage_manifests; gateway_manifests)"
  else
    kubectl_ apply "${files[@]}" >/dev/null <<<"$(cluster_manifests; gateway_manifests)"
  fi
  [[ -d "$ROOT/crds" ]] && wait_for "the CRDs" "" kubectl_ wait --for condition=established --timeout=5s crd --all
  if [[ $NODE_KIND == kubelet ]]; then
    wait_for "the kubelet's node $NODE_NAME" "$DIR/kubelet.pid" node_ready
  else
    wait_for "aios-node" "$DIR/aios-node.pid" node_ready
  fi
  if [[ -x "$BUILD/src/operator/aios-operator" ]]; then
    start_operator
  else
    log warn "aios-operator is not built in $BUILD: TrainingJobs and ModelServices will not be reconciled"
  fi
  if [[ -x "$BUILD/src/gateway/aios-gateway" ]]; then
    start_gateway
  else
    log warn "aios-gateway is not built in $BUILD: no entry on 127.0.0.1:$GATEWAY_PORT, no scale to zero"
  fi
  UP_OK=1
  log info "cluster ($NODE_KIND) up in $((SECONDS - t0))s; use: export KUBECONFIG=$API/admin.kubeconfig; $KBIN/kubectl get nodes"
  echo "$API/admin.kubeconfig"
}

# The local operator: the Deployment's leader election (same Lease), with a stable
# identity so that a restarted process (test_chaos_operator kills it) takes its Lease
# back at once instead of waiting out the 15 s lease of its dead predecessor.
LOCAL_OPERATOR_ID=aios-operator-local
start_operator() {
  log info "starting aios-operator as system:serviceaccount:aios-system:aios-operator"
  start aios-operator "$BUILD/src/operator/aios-operator" --kubeconfig "$API/operator.kubeconfig" \
    --metrics-bind-address 127.0.0.1:18080 --health-probe-bind-address 127.0.0.1:18081 \
    --demand-bind-address "127.0.0.1:$DEMAND_PORT" \
    --leader-elect --leader-election-namespace aios-system \
    --leader-election-identity "$LOCAL_OPERATOR_ID"
  wait_for "aios-operator" "$DIR/aios-operator.pid" curl -sf --max-time 1 http://127.0.0.1:18081/healthz
}

# The local aios-gateway: every ModelService on 127.0.0.1:$GATEWAY_PORT (pods are reached on
# their bridge addresses), its demand streamed to the local operator.
GATEWAY_PORT=18090
DEMAND_PORT=18082
start_gateway() {
  log info "starting aios-gateway on 127.0.0.1:$GATEWAY_PORT as system:serviceaccount:aios-system:aios-gateway"
  start aios-gateway "$BUILD/src/gateway/aios-gateway" --kubeconfig "$API/gateway.kubeconfig" \
    --bind 127.0.0.1 --port "$GATEWAY_PORT" --operator-url "ws://127.0.0.1:$DEMAND_PORT/" \
    --id aios-gateway-local
  wait_for "aios-gateway" "$DIR/aios-gateway.pid" curl -sf --max-time 1 "http://127.0.0.1:$GATEWAY_PORT/readyz"
}

# operator stop|start: the local aios-operator only (an in-cluster one is the
# Deployment's business). stop waits up to 30 s (it drains its workers and releases the
# Lease, as the Deployment's terminationGracePeriodSeconds allows).
cmd_operator() {
  [[ -d "$API" ]] || die "no cluster in $DIR (run up first)"
  case "${1:-}" in
    stop)
      if alive "$DIR/aios-operator.pid"; then
        stop_pid "$DIR/aios-operator.pid" 30
        log info "aios-operator stopped"
      else
        rm -f "$DIR/aios-operator.pid"
        log info "aios-operator was not running"
      fi ;;
    start)
      if alive "$DIR/aios-operator.pid"; then
        log info "aios-operator already running (pid $(cat "$DIR/aios-operator.pid"))"
        return 0
      fi
      [[ -x "$BUILD/src/operator/aios-operator" ]] || die "aios-operator is not built in $BUILD"
      start_operator
      log info "aios-operator started (pid $(cat "$DIR/aios-operator.pid"))" ;;
    *) usage >&2; exit 2 ;;
  esac
}

start_node() {
  start aios-node "$BUILD/src/node/aios-node" --kubeconfig "$API/node.kubeconfig" --node-name aios-node \
    --state-dir "$DIR/node" --bin-dir "$BUILD" --client-ca-file "$NODE_PKI/ca.crt" \
    --tls-cert-file "$NODE_PKI/kubelet.crt" --tls-private-key-file "$NODE_PKI/kubelet.key"
}

# restart-node [--kill]: stops aios-node (SIGTERM: it stops its pods; --kill: SIGKILL, as a
# crash, leaving its processes and namespaces for the next start to clean up) and starts it.
cmd_restart_node() {
  [[ -f "$DIR/aios-node.pid" ]] || die "no aios-node in $DIR (run up first)"
  KBIN="$(kube_bin)"
  if [[ "${1:-}" == --kill ]]; then
    kill -9 "$(cat "$DIR/aios-node.pid")" 2>/dev/null || true
    rm -f "$DIR/aios-node.pid"
  else
    stop_pid "$DIR/aios-node.pid" 60
  fi
  start_node
  # the kubelet port's /healthz as the API server reaches it (its certificate, verified
  # both ways, then a SubjectAccessReview): up and answering for kubectl logs
  wait_for "aios-node" "$DIR/aios-node.pid" curl -sf --cacert "$NODE_PKI/ca.crt" \
    --cert "$NODE_PKI/apiserver-kubelet-client.crt" --key "$NODE_PKI/apiserver-kubelet-client.key" \
    --max-time 1 "https://$NODE_IP:10250/healthz"
  log info "aios-node restarted (pid $(cat "$DIR/aios-node.pid"))"
}

# ---- the kubelet node kind -----------------------------------------------------------
# A real kubelet 1.20.2 (scripts/build-kube.sh) on Debian's containerd 1.6 (CRI), with
# a CNI bridge of its own (containernetworking-plugins: bridge, host-local, loopback).
# Everything lives in $DIR or on the bridge KUBELET_BRIDGE; the one iptables rule (nat
# PREROUTING, matched on that bridge only) is removed by `down`.
KUBELET_NODE=aios-kubelet
KUBELET_BRIDGE=aios-cni0
KUBELET_GW=10.245.0.1     # the bridge's address: node IP, kubelet port, API forwarder
KUBELET_POD_CIDR=10.245.0.0/24 # pod IPs; aios-node uses 10.244.0.0/24
KUBERNETES_SVC_IP=10.96.0.1    # ClusterIP of the `kubernetes` Service (first of 10.96.0.0/16)
# Pods get one route besides their subnet: the Service range, via the bridge (no default
# route: nothing beyond this machine is reachable from a pod).
SERVICE_CIDR=10.96.0.0/16
KUBELET_PVS=24                 # hostPath PersistentVolumes made at `up` (each claim takes one)
# Container logs (under /var/log/pods, the kubelet's fixed root) rotate at this size. The
# kubelet's 10Mi default would rotate a trainer's first lines away within seconds (a line
# per epoch, ~170 bytes: the e2e tests' long jobs write up to 270 MB), and `kubectl logs`
# reads only the current file; the tests read a resumed attempt's first lines.
KUBELET_LOG_MAX=512Mi
CTRD="$DIR/containerd"

kubelet_nat_rule() { # kubelet_nat_rule -A|-D: pods' kubernetes Service -> the forwarder
  iptables -w -t nat "$1" PREROUTING -i "$KUBELET_BRIDGE" -d "$KUBERNETES_SVC_IP/32" -p tcp --dport 443 \
    -j DNAT --to-destination "$KUBELET_GW:443" -m comment --comment aios-kubelet-kind
}

write_containerd_config() {
  mkdir -p "$CTRD/root" "$CTRD/state" "$CTRD/opt" "$DIR/cni/net.d"
  cat > "$CTRD/config.toml" <<EOF
version = 2
root = "$CTRD/root"
state = "$CTRD/state"
oom_score = 0
[grpc]
  address = "$CTRD/containerd.sock"
[ttrpc]
  address = "$CTRD/containerd.sock.ttrpc"
[debug]
  address = "$CTRD/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/aios-local/pause:3.2"
  # the sandbox's oom_score_adj of -998 is refused on this kind of machine
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/net.d"
EOF
  cat > "$DIR/cni/net.d/10-aios.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "aios-kubelet",
  "plugins": [
    {"type": "bridge", "bridge": "$KUBELET_BRIDGE", "isGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$DIR/cni/ipam",
              "ranges": [[{"subnet": "$KUBELET_POD_CIDR", "gateway": "$KUBELET_GW"}]],
              "routes": [{"dst": "$SERVICE_CIDR"}]}},
    {"type": "loopback"}
  ]
}
EOF
}

# The kubelet's identity: a client certificate system:node:$KUBELET_NODE (group
# system:nodes) signed by the cluster's CA, for the Node authorizer.
write_kubelet_kubeconfig() {
  local d="$DIR/kubelet/pki"
  mkdir -p "$d"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$d/client.key" -out "$d/client.csr" \
    -subj "/O=system:nodes/CN=system:node:$KUBELET_NODE" 2>/dev/null
  openssl x509 -req -in "$d/client.csr" -CA "$API/pki/ca.crt" -CAkey "$API/pki/ca.key" -CAcreateserial \
    -days 30 -out "$d/client.crt" 2>/dev/null
  kubectl_ config view --raw --minify -o 'jsonpath={.clusters[0].cluster.server}' > "$DIR/kubelet/server"
  "$KBIN/kubectl" config --kubeconfig "$DIR/kubelet/kubeconfig" set-cluster local \
    --server "$(cat "$DIR/kubelet/server")" --certificate-authority "$API/pki/ca.crt" --embed-certs >/dev/null
  "$KBIN/kubectl" config --kubeconfig "$DIR/kubelet/kubeconfig" set-credentials node \
    --client-certificate "$d/client.crt" --client-key "$d/client.key" --embed-certs >/dev/null
  "$KBIN/kubectl" config --kubeconfig "$DIR/kubelet/kubeconfig" set-context local --cluster local --user node >/dev/null
  "$KBIN/kubectl" config --kubeconfig "$DIR/kubelet/kubeconfig" use-context local >/dev/null
}

# StorageClass aios-local (default, static) and KUBELET_PVS hostPath volumes for it:
# the examples' pvc:// claims bind to one each. Directories are 0777: pods run as
# 65532 and hostPath ignores fsGroup.
kubelet_storage_manifests() {
  cat <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: aios-local
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
reclaimPolicy: Retain
volumeBindingMode: Immediate
YAML
  local i
  for i in $(seq 1 "$KUBELET_PVS"); do
    mkdir -p "$DIR/volumes/pv$i"; chmod 0777 "$DIR/volumes/pv$i"
    cat <<YAML
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: aios-local-pv$i}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce, ReadOnlyMany, ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: aios-local
  hostPath: {path: "$DIR/volumes/pv$i", type: Directory}
YAML
  done
}

start_kubelet_node() {
  for b in containerd ctr socat iptables; do
    command -v "$b" >/dev/null || die "$b not found (scripts/install-deps.sh installs it)"
  done
  [[ -x "$KBIN/kubelet" ]] || die "no kubelet in $KBIN (scripts/build-kube.sh builds it)"
  if ! ip link show "$KUBELET_BRIDGE" >/dev/null 2>&1; then
    ip link add "$KUBELET_BRIDGE" type bridge
  fi
  ip addr replace "$KUBELET_GW/24" dev "$KUBELET_BRIDGE"
  ip link set "$KUBELET_BRIDGE" up
  # the kubernetes Service for pods: DNAT to a forwarder on the bridge, which connects
  # to the API server on loopback (TLS end to end; its certificate names 10.96.0.1)
  kubelet_nat_rule -C 2>/dev/null || kubelet_nat_rule -A
  local aport; aport="$(sed 's#.*:##' "$API/url")"
  log info "starting the API forwarder $KUBELET_GW:443 -> 127.0.0.1:$aport"
  rm -f "$DIR/api-forwarder.lock"
  start api-forwarder socat -L "$DIR/api-forwarder.lock" "TCP-LISTEN:443,bind=$KUBELET_GW,fork,reuseaddr" \
    "TCP:127.0.0.1:$aport"
  write_containerd_config
  log info "starting containerd"
  start containerd containerd --config "$CTRD/config.toml"
  wait_for containerd "$DIR/containerd.pid" ctr -a "$CTRD/containerd.sock" version
  log info "loading the images (scripts/images.sh)"
  AIOS_CLUSTER_DIR="$DIR" "$ROOT/scripts/images.sh" --containerd "$CTRD/containerd.sock" \
    || die "scripts/images.sh failed"
  write_kubelet_kubeconfig
  mkdir -p "$DIR/kubelet/root" "$DIR/kubelet/pods-logs"
  log info "starting kubelet"
  start kubelet "$KBIN/kubelet" --kubeconfig "$DIR/kubelet/kubeconfig" \
    --hostname-override "$KUBELET_NODE" --root-dir "$DIR/kubelet/root" --cert-dir "$DIR/kubelet/pki" \
    --container-runtime remote --container-runtime-endpoint "unix://$CTRD/containerd.sock" \
    --image-service-endpoint "unix://$CTRD/containerd.sock" --runtime-request-timeout 5m \
    --pod-infra-container-image docker.io/aios-local/pause:3.2 \
    --cgroups-per-qos=false --enforce-node-allocatable= --fail-swap-on=false \
    --make-iptables-util-chains=false --cgroup-driver=cgroupfs \
    --node-ip "$KUBELET_GW" --address "$KUBELET_GW" --port 10250 --read-only-port 0 \
    --healthz-bind-address 127.0.0.1 --healthz-port 10258 \
    --image-gc-high-threshold 100 --image-gc-low-threshold 99 \
    --container-log-max-size "$KUBELET_LOG_MAX" --container-log-max-files 2 \
    --eviction-hard 'memory.available<1Mi,nodefs.available<1%,imagefs.available<1%' \
    --volume-plugin-dir "$DIR/kubelet/plugins" --pod-cidr "$KUBELET_POD_CIDR" \
    --node-status-update-frequency 4s --sync-frequency 10s \
    --anonymous-auth=true --authorization-mode AlwaysAllow --v=1
}

stop_kubelet_node() {
  # pods first, while the kubelet runs: it stops their containers and tears their
  # sandboxes down (CNI DEL: veth, IP, network namespace)
  if alive "$DIR/kubelet.pid" && [[ -f "$API/admin.kubeconfig" ]] && [[ -n "${KBIN:-}" ]]; then
    kubectl_ delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do
      [[ -z "$(ctr -a "$CTRD/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null)" ]] && break
      sleep 0.5
    done
  fi
  stop_pid "$DIR/kubelet.pid" 15
  if [[ -S "$CTRD/containerd.sock" ]]; then # the pods the kubelet left running
    local c
    for c in $(ctr -a "$CTRD/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr -a "$CTRD/containerd.sock" -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true
    done
    sleep 1
  fi
  stop_pid "$DIR/containerd.pid" 15
  # containerd-shim-runc-v2 processes outlive containerd; theirs name $CTRD
  local p
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTRD/containerd.sock" 2>/dev/null || true); do
    kill -9 "$p" 2>/dev/null || true
  done
  stop_pid "$DIR/api-forwarder.pid" 5
  while kubelet_nat_rule -C 2>/dev/null; do kubelet_nat_rule -D; done
  # the sandboxes' network namespaces and mounts (kubelet volumes, overlay snapshots)
  local m
  for m in $(awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  ip link del "$KUBELET_BRIDGE" 2>/dev/null || true
}

cmd_down() {
  [[ -d "$DIR" ]] || { log info "no cluster in $DIR"; return 0; }
  stop_pid "$DIR/aios-gateway.pid" 30
  stop_pid "$DIR/aios-operator.pid" 10
  if [[ $NODE_KIND == kubelet ]]; then
    KBIN="${AIOS_KUBE_BIN:-$("$ROOT/scripts/build-kube.sh" 2>/dev/null || true)}"
    stop_kubelet_node
  fi
  # aios-node stops its pods (SIGTERM, their grace period, SIGKILL) and removes the network
  stop_pid "$DIR/aios-node.pid" 60
  stop_pid "$DIR/kube-scheduler.pid" 10
  stop_pid "$DIR/kube-controller-manager.pid" 10
  "$ROOT/tests/cluster/apiserver.sh" down "$API" >/dev/null 2>&1 || true
  if [[ $NODE_KIND == aios-node && -x "$BUILD/src/node/aios-node" ]]; then # whatever a killed aios-node left
    "$BUILD/src/node/aios-node" --cleanup --state-dir "$DIR/node" >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
  log info "cluster down"
}

cmd_status() {
  local ok=0
  if [[ -d "$API" ]] && "$ROOT/tests/cluster/apiserver.sh" status "$API" >/dev/null 2>&1; then
    echo "kube-apiserver: up ($(cat "$API/url"))"
  else
    echo "kube-apiserver: down"; ok=1
  fi
  for c in kube-controller-manager kube-scheduler $(node_pids) aios-operator aios-gateway; do
    if alive "$DIR/$c.pid"; then echo "$c: up (pid $(cat "$DIR/$c.pid"))"; else echo "$c: down"; ok=1; fi
  done
  [[ $ok == 0 ]] && echo "kubeconfig: $API/admin.kubeconfig"
  return $ok
}

case "$CMD" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  restart-node) cmd_restart_node "${ARGS[0]:-}" ;;
  operator) cmd_operator "${ARGS[0]:-}" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
