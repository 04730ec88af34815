#!/usr/bin/env bash
# A real Kubernetes API server for tests: Debian's etcd plus kube-apiserver 1.20.2
# (built and cached by scripts/build-kube.sh), on 127.0.0.1 only, free ports.
#
#   tests/cluster/apiserver.sh up DIR                 start; writes DIR/*.kubeconfig, DIR/env
#   tests/cluster/apiserver.sh down DIR               stop what DIR's pid files name (idempotent)
#   tests/cluster/apiserver.sh restart-apiserver DIR  stop and start kube-apiserver only (same port)
#   tests/cluster/apiserver.sh status DIR             exit 0 when /readyz answers ok
#
# What `up` makes in DIR (reusable by scripts/cluster.sh, which may add scheduler,
# controller manager and aios-node on top):
#   pki/ca.{crt,key}          the cluster CA (serving cert and client certs)
#   pki/apiserver.{crt,key}   serving cert for 127.0.0.1, localhost, kubernetes.default.svc...
#                             and 10.244.0.1: aios-node's bridge address, where it forwards
#                             pods to this API server (the `kubernetes` Service, docs/node.md)
#   pki/sa.{key,pub}          service-account token signing pair
#   pki/cert-admin.{crt,key}  a client certificate in group system:masters
#   tokens.csv                static tokens (--token-auth-file), one identity per line
#   <id>.kubeconfig           one per identity, CA inline, token auth:
#       admin                    group system:masters
#       operator                 system:serviceaccount:aios-system:aios-operator (no rights
#                                until operator/ RBAC is applied)
#       nobody                   an authenticated user with no RBAC rights at all
#       kube-scheduler           system:kube-scheduler (bootstrap RBAC gives its rights)
#       kube-controller-manager  system:kube-controller-manager
#       node                     system:node:aios-node in system:nodes
#   cert-admin.kubeconfig     client-certificate auth (certificate and key inline)
#   apiserver.flags           the exact kube-apiserver command line (for reuse)
#   env                       `source`-able: AIOS_TEST_KUBECONFIG, AIOS_TEST_CLUSTER_DIR,
#                             AIOS_APISERVER_URL
#   etcd.pid apiserver.pid, etcd.log apiserver.log
#
# Environment: AIOS_KUBE_BIN (dir holding kube-apiserver; default: scripts/build-kube.sh's
# output), AIOS_ETCD (default /usr/bin/etcd), AIOS_READY_TIMEOUT (s, default 90),
# AIOS_APISERVER_TLS_MIN (kube-apiserver's --tls-min-version, default VersionTLS12;
# tests/cluster/run-integration.sh runs the integration tier on VersionTLS13).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ETCD="${AIOS_ETCD:-/usr/bin/etcd}"
READY_TIMEOUT="${AIOS_READY_TIMEOUT:-90}"
SERVICE_CIDR="10.96.0.0/16"

log() { printf '{"ts":"%s","level":"%s","prog":"apiserver.sh","msg":"%s"}\n' "$(date -u +%FT%TZ)" "$1" "$2" >&2; }
die() { log error "$*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

# A TCP port nobody listens on now (bind to :0 and read what the kernel gave).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Kills the process in pidfile if it is still the one we started (its command line
# mentions DIR), waits up to 10 s, then SIGKILL.
stop_pid() {
  local pidfile="$1" dir="$2" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF "$dir"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

kube_bin() {
  if [[ -n "${AIOS_KUBE_BIN:-}" ]]; then echo "$AIOS_KUBE_BIN"; return; fi
  "$ROOT/scripts/build-kube.sh"
}

make_pki() {
  local d="$1/pki"
  mkdir -p "$d"
  chmod 700 "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=aios-test-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  cat > "$d/apiserver.ext" <<EXT
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,IP:10.244.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EXT
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$d/apiserver.key" -out "$d/apiserver.csr" 2>/dev/null
  openssl x509 -req -in "$d/apiserver.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -extfile "$d/apiserver.ext" -out "$d/apiserver.crt" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > "$d/client.ext"
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=cert-admin" \
    -keyout "$d/cert-admin.key" -out "$d/cert-admin.csr" 2>/dev/null
  openssl x509 -req -in "$d/cert-admin.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -extfile "$d/client.ext" -out "$d/cert-admin.crt" 2>/dev/null
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

rand_token() { openssl rand -hex 24; }

# kubeconfig NAME SERVER [token TOKEN | cert CRT KEY]
write_kubeconfig() {
  local dir="$1" name="$2" server="$3" kind="$4" ca
  ca="$(base64 -w0 < "$dir/pki/ca.crt")"
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "clusters:"
    echo "- name: aios-test"
    echo "  cluster:"
    echo "    server: $server"
    echo "    certificate-authority-data: $ca"
    echo "users:"
    echo "- name: $name"
    echo "  user:"
    if [[ "$kind" == token ]]; then
      echo "    token: $5"
    else
      echo "    client-certificate-data: $(base64 -w0 < "$5")"
      echo "    client-key-data: $(base64 -w0 < "$6")"
    fi
    echo "contexts:"
    echo "- name: $name@aios-test"
    echo "  context:"
    echo "    cluster: aios-test"
    echo "    user: $name"
    echo "    namespace: default"
    echo "current-context: $name@aios-test"
  } > "$dir/$name.kubeconfig"
  chmod 600 "$dir/$name.kubeconfig"
}

start_apiserver() {
  local dir="$1"
  # shellcheck disable=SC2046
  setsid $(cat "$dir/apiserver.flags") >> "$dir/apiserver.log" 2>&1 < /dev/null &
  echo $! > "$dir/apiserver.pid"
}

wait_ready() {
  local dir="$1" url token
  url="$(cat "$dir/url")"
  token="$(awk -F, '$2=="admin"{print $1}' "$dir/tokens.csv")"
  for _ in $(seq 1 $((READY_TIMEOUT * 5))); do
    if [[ "$(curl -s --max-time 2 --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $token" "$url/readyz" 2>/dev/null)" == ok ]]; then
      return 0
    fi
    if ! kill -0 "$(cat "$dir/apiserver.pid")" 2>/dev/null; then
      tail -20 "$dir/apiserver.log" >&2
      die "kube-apiserver exited during start (log: $dir/apiserver.log)"
    fi
    sleep 0.2
  done
  tail -20 "$dir/apiserver.log" >&2
  die "kube-apiserver not ready after ${READY_TIMEOUT}s (log: $dir/apiserver.log)"
}

cmd_up() {
  local dir="$1"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  [[ -f "$dir/apiserver.pid" ]] && die "$dir already holds a running API server; run down first"
  local bin
  bin="$(kube_bin)"
  [[ -x "$bin/kube-apiserver" ]] || die "no kube-apiserver in $bin"
  [[ -x "$ETCD" ]] || die "no etcd at $ETCD (apt-get install etcd-server)"
  # Whatever happens below (die exits), do not leave half a cluster running.
  UP_DIR="$dir"; UP_OK=0
  trap '[[ $UP_OK == 1 ]] || cmd_down "$UP_DIR" >/dev/null 2>&1 || true' EXIT

  make_pki "$dir"
  local eport pport aport
  eport="$(free_port)"; pport="$(free_port)"; aport="$(free_port)"
  log info "starting etcd on 127.0.0.1:$eport"
  setsid "$ETCD" --name aios-test --data-dir "$dir/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "aios-test=http://127.0.0.1:$pport" --log-level warn --logger zap \
    --quota-backend-bytes 1073741824 --snapshot-count 5000 \
    > "$dir/etcd.log" 2>&1 < /dev/null &
  echo $! > "$dir/etcd.pid"
  for _ in $(seq 1 100); do
    curl -s --max-time 1 "http://127.0.0.1:$eport/health" 2>/dev/null | grep -q '"health":"true"' && break
    kill -0 "$(cat "$dir/etcd.pid")" 2>/dev/null || { tail -5 "$dir/etcd.log" >&2; die "etcd exited (log: $dir/etcd.log)"; }
    sleep 0.1
  done

  : > "$dir/tokens.csv"
  chmod 600 "$dir/tokens.csv"
  local t
  declare -A ids=(
    [admin]='admin,admin-uid,"system:masters"'
    [operator]='system:serviceaccount:aios-system:aios-operator,operator-uid,"system:serviceaccounts,system:serviceaccounts:aios-system"'
    [nobody]='nobody,nobody-uid'
    [kube-scheduler]='system:kube-scheduler,scheduler-uid'
    [kube-controller-manager]='system:kube-controller-manager,kcm-uid'
    [node]='system:node:aios-node,node-uid,"system:nodes"'
    [gateway]='system:serviceaccount:aios-system:aios-gateway,gateway-uid,"system:serviceaccounts,system:serviceaccounts:aios-system"'
  )
  echo "https://127.0.0.1:$aport" > "$dir/url"
  for id in admin operator nobody kube-scheduler kube-controller-manager node gateway; do
    t="$(rand_token)"
    echo "$t,${ids[$id]}" >> "$dir/tokens.csv"
    write_kubeconfig "$dir" "$id" "https://127.0.0.1:$aport" token "$t"
  done
  # The admin line must carry the user name "admin" in field 2 (wait_ready reads it).
  write_kubeconfig "$dir" cert-admin "https://127.0.0.1:$aport" cert "$dir/pki/cert-admin.crt" "$dir/pki/cert-admin.key"

  cat > "$dir/apiserver.flags" <<FLAGS
$bin/kube-apiserver
--bind-address=127.0.0.1
--advertise-address=127.0.0.1
--secure-port=$aport
--insecure-port=0
--etcd-servers=http://127.0.0.1:$eport
--authorization-mode=Node,RBAC
--token-auth-file=$dir/tokens.csv
--client-ca-file=$dir/pki/ca.crt
--tls-cert-file=$dir/pki/apiserver.crt
--tls-private-key-file=$dir/pki/apiserver.key
--tls-min-version=${AIOS_APISERVER_TLS_MIN:-VersionTLS12}
--service-account-issuer=https://kubernetes.default.svc.cluster.local
--service-account-key-file=$dir/pki/sa.pub
--service-account-signing-key-file=$dir/pki/sa.key
--api-audiences=https://kubernetes.default.svc.cluster.local
--service-cluster-ip-range=$SERVICE_CIDR
--allow-privileged=true
--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,ResourceQuota
--disable-admission-plugins=StorageObjectInUseProtection
--profiling=false
--endpoint-reconciler-type=none
--cert-dir=$dir/pki
--v=1
FLAGS
  log info "starting kube-apiserver on https://127.0.0.1:$aport"
  start_apiserver "$dir"
  wait_ready "$dir"
  cat > "$dir/env" <<ENV
export AIOS_TEST_KUBECONFIG=$dir/admin.kubeconfig
export AIOS_TEST_CLUSTER_DIR=$dir
export AIOS_APISERVER_URL=https://127.0.0.1:$aport
ENV
  UP_OK=1
  log info "API server ready: $dir/admin.kubeconfig"
  echo "$dir/admin.kubeconfig"
}

cmd_down() {
  local dir="$1"
  [[ -d "$dir" ]] || return 0
  dir="$(cd "$dir" && pwd)"
  stop_pid "$dir/apiserver.pid" "$dir"
  stop_pid "$dir/etcd.pid" "$dir"
  log info "stopped the API server and etcd of $dir"
}

cmd_restart_apiserver() {
  local dir
  dir="$(cd "$1" && pwd)"
  [[ -f "$dir/apiserver.flags" ]] || die "$dir has no API server (run up first)"
  stop_pid "$dir/apiserver.pid" "$dir"
  start_apiserver "$dir"
  wait_ready "$dir"
  log info "kube-apiserver of $dir restarted"
}

cmd_status() {
  local dir
  dir="$(cd "$1" && pwd)"
  [[ -f "$dir/apiserver.pid" ]] || { echo "down"; return 1; }
  READY_TIMEOUT=2 wait_ready "$dir" && echo "ready"
}

case "${1:-}" in
  up) [[ $# -eq 2 ]] || { usage; exit 2; }; cmd_up "$2" ;;
  down) [[ $# -eq 2 ]] || { usage; exit 2; }; cmd_down "$2" ;;
  restart-apiserver) [[ $# -eq 2 ]] || { usage; exit 2; }; cmd_restart_apiserver "$2" ;;
  status) [[ $# -eq 2 ]] || { usage; exit 2; }; cmd_status "$2" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
