#!/usr/bin/env bash
# The one-machine cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# aios-node, the CRDs, and aios-operator under its real RBAC.
#
#   scripts/cluster.sh up       start (or find running) and print the admin kubeconfig path
#   scripts/cluster.sh down     stop everything, remove the bridge and the cluster state
#   scripts/cluster.sh status   one line per component; exit 0 when all are up
#   scripts/cluster.sh restart-node [--kill]   restart aios-node (--kill: as after a crash)
#   scripts/cluster.sh operator stop|start     stop the local aios-operator (SIGTERM: it
#                      releases the Lease aios-system/aios-operator) or start it again
#
# Environment:
#   AIOS_CLUSTER_DIR   state (default /var/lib/aios-cluster): api/ (etcd, PKI, kubeconfigs,
#                      see tests/cluster/apiserver.sh), node/ (pods, logs, volumes), *.log
#   AIOS_BUILD_DIR     where aios is built (default <repo>/build)
#   AIOS_KUBE_BIN      kube binaries (default: scripts/build-kube.sh's cache)
#   AIOS_UP_TIMEOUT    seconds to wait for each component (default 90)
#
# Decisions (docs/local-cluster.md): the API server listens on 127.0.0.1 only; the
# kubelet port of aios-node is HTTPS on the node's InternalIP (10.244.0.1) with a
# self-signed certificate, which kube-apiserver accepts when it is given no
# --kubelet-certificate-authority; pods reach the API server through aios-node's
# forwarder on 10.244.0.1:443 (the `kubernetes` Service); the operator runs as a local
# process with the token of its ServiceAccount identity
# (system:serviceaccount:aios-system:aios-operator) under the RBAC that operator/
# installs, with leader election on the Lease aios-system/aios-operator, the one the
# Deployment of operator/ uses: `kubectl apply -k operator/` on this cluster adds a
# standby, which takes over when `operator stop` releases the Lease. aios-node runs as
# system:node:aios-node (Node authorizer), plus a ClusterRole for its provisioner part.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${AIOS_CLUSTER_DIR:-/var/lib/aios-cluster}"
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
  [[ "$(kubectl_ get node aios-node -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# The cluster-wide pieces aios-node relies on: the default StorageClass it provisions
# for, and the rights of its provisioner beyond what the Node authorizer grants.
cluster_manifests() {
  cat <<'YAML'
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
YAML
}

all_up() {
  alive "$DIR/kube-controller-manager.pid" && alive "$DIR/kube-scheduler.pid" && alive "$DIR/aios-node.pid" &&
    "$ROOT/tests/cluster/apiserver.sh" status "$API" >/dev/null 2>&1
}

cmd_up() {
  if [[ -d "$DIR" ]] && all_up; then
    log info "cluster already up"
    echo "$API/admin.kubeconfig"
    return 0
  fi
  [[ $EUID -eq 0 ]] || die "the local cluster needs root: aios-node creates a bridge and network namespaces (run with sudo)"
  [[ -x "$BUILD/src/node/aios-node" ]] || die "aios-node is not built in $BUILD (cmake -S $ROOT -B $BUILD && cmake --build $BUILD)"
  if [[ -d "$DIR" ]]; then
    log info "removing the remains of an earlier cluster in $DIR"
    cmd_down >/dev/null 2>&1 || true
  fi
  KBIN="$(kube_bin)"
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [[ -x "$KBIN/$b" ]] || die "no $b in $KBIN (scripts/build-kube.sh builds them)"
  done
  mkdir -p "$DIR/wrap"
  local t0=$SECONDS
  UP_OK=0
  trap '[[ $UP_OK == 1 ]] || { log error "start failed: stopping what was started"; cmd_down >/dev/null 2>&1 || true; }' EXIT

  # kube-apiserver as tests/cluster/apiserver.sh runs it, plus: reach the node by its InternalIP.
  cat > "$DIR/wrap/kube-apiserver" <<EOF
#!/bin/sh
exec "$KBIN/kube-apiserver" --kubelet-preferred-address-types=InternalIP,Hostname "\$@"
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

  log info "starting aios-node"
  start_node

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
  kubectl_ apply "${files[@]}" >/dev/null <<<"$(cluster_manifests)"
  [[ -d "$ROOT/crds" ]] && wait_for "the CRDs" "" kubectl_ wait --for condition=established --timeout=5s crd --all
  wait_for "aios-node" "$DIR/aios-node.pid" node_ready
  if [[ -x "$BUILD/src/operator/aios-operator" ]]; then
    start_operator
  else
    log warn "aios-operator is not built in $BUILD: TrainingJobs and ModelServices will not be reconciled"
  fi
  UP_OK=1
  log info "cluster up in $((SECONDS - t0))s; use: export KUBECONFIG=$API/admin.kubeconfig; $KBIN/kubectl get nodes"
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
    --leader-elect --leader-election-namespace aios-system \
    --leader-election-identity "$LOCAL_OPERATOR_ID"
  wait_for "aios-operator" "$DIR/aios-operator.pid" curl -sf --max-time 1 http://127.0.0.1:18081/healthz
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
    --state-dir "$DIR/node" --bin-dir "$BUILD"
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
  wait_for "aios-node" "$DIR/aios-node.pid" curl -sfk --max-time 1 https://10.244.0.1:10250/healthz
  log info "aios-node restarted (pid $(cat "$DIR/aios-node.pid"))"
}

cmd_down() {
  [[ -d "$DIR" ]] || { log info "no cluster in $DIR"; return 0; }
  stop_pid "$DIR/aios-operator.pid" 10
  # aios-node stops its pods (SIGTERM, their grace period, SIGKILL) and removes the network
  stop_pid "$DIR/aios-node.pid" 60
  stop_pid "$DIR/kube-scheduler.pid" 10
  stop_pid "$DIR/kube-controller-manager.pid" 10
  "$ROOT/tests/cluster/apiserver.sh" down "$API" >/dev/null 2>&1 || true
  if [[ -x "$BUILD/src/node/aios-node" ]]; then # whatever a killed aios-node left
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
  for c in kube-controller-manager kube-scheduler aios-node aios-operator; do
    if alive "$DIR/$c.pid"; then echo "$c: up (pid $(cat "$DIR/$c.pid"))"; else echo "$c: down"; ok=1; fi
  done
  [[ $ok == 0 ]] && echo "kubeconfig: $API/admin.kubeconfig"
  return $ok
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  restart-node) cmd_restart_node "${2:-}" ;;
  operator) cmd_operator "${2:-}" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
