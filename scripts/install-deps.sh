#!/usr/bin/env bash
# Installs, with apt-get on Debian 12, everything aios needs to build, test and run.
# Idempotent and quiet: packages already present are not touched; a run with nothing
# missing takes well under a second. Both README commands call it.
#   scripts/install-deps.sh            build + test + demo dependencies
#   scripts/install-deps.sh --bench    also the benchmark peers (PyTorch, nginx, wrk)
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates curl
  libcurl4-openssl-dev libjson-c-dev libyaml-dev libssl-dev libwebsockets-dev check
  libseccomp-dev
  clang-format valgrind iproute2 iptables procps psmisc python3
  etcd-server prometheus
  golang-go golang-github-modern-go-reflect2-dev dpkg-dev rsync
  clang libclang-rt-14-dev
  python3-yaml python3-jsonschema
  chromium # the dashboard's browser test (tests/e2e/test_dashboard.sh)
  docker.io containerd runc debootstrap containernetworking-plugins socat unzip # images + kubelet node kind
  libprotobuf-c-dev protobuf-c-compiler python3-onnx # ONNX: the reader, and onnx.proto for it
  python3-torch nodejs # ONNX tests: PyTorch exports; onnxruntime-node (npm) checks them
  python3-sklearn # tests/unit/trainer/test_real_datasets.c: the datasets it ships, and a peer
)
if [[ "${1:-}" == "--bench" ]]; then
  PKGS+=(python3-torch python3-numpy libopenblas0-pthread nginx-light wrk hyperfine)
  PKGS+=(time) # bench/kube: /usr/bin/time gives kubectl's peak RSS
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if [[ ! -f /var/lib/apt/lists/.aios-updated ]] || ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/aios-apt.log 2>&1; then
    apt-get update -qq >/tmp/aios-apt.log 2>&1 || { cat /tmp/aios-apt.log >&2; exit 1; }
    touch /var/lib/apt/lists/.aios-updated
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/aios-apt.log 2>&1 \
      || { echo "install-deps: apt-get install failed:" >&2; tail -30 /tmp/aios-apt.log >&2; exit 1; }
  fi
fi
