#!/usr/bin/env bash
# Runs the integration tier against a real API server it brings up for the run.
#
#   tests/cluster/run-integration.sh [BUILD_DIR] [extra ctest args...]
#
# Starts etcd + kube-apiserver in a temporary directory (tests/cluster/apiserver.sh),
# exports AIOS_TEST_KUBECONFIG (admin) and AIOS_TEST_CLUSTER_DIR, runs
# `ctest -L integration` in BUILD_DIR (default: build), and always tears the server
# down, even when a test fails or the run is interrupted. The exit code is ctest's.
# AIOS_KEEP_CLUSTER_DIR=1 keeps the directory (logs, kubeconfigs) for a post-mortem.
# The API server accepts TLS 1.3 only (AIOS_APISERVER_TLS_MIN, default VersionTLS13 here):
# every client of the tier, the operator's, the plugin's and kubectl, negotiates 1.3, and
# test_reliability_tls checks that a TLS 1.2 client is refused.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
case "${1:-}" in -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
BUILD="${1:-$ROOT/build}"
shift || true
[[ -d "$BUILD" ]] || { echo "run-integration.sh: no build directory $BUILD (run cmake first)" >&2; exit 2; }

DIR="$(mktemp -d /tmp/aios-apiserver.XXXXXX)"
cleanup() {
  "$HERE/apiserver.sh" down "$DIR" || true
  if [[ "${AIOS_KEEP_CLUSTER_DIR:-0}" == 1 ]]; then
    echo "run-integration.sh: kept $DIR" >&2
  else
    rm -rf "$DIR"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export AIOS_APISERVER_TLS_MIN="${AIOS_APISERVER_TLS_MIN:-VersionTLS13}"
"$HERE/apiserver.sh" up "$DIR" > /dev/null
export AIOS_TEST_KUBECONFIG="$DIR/admin.kubeconfig"
export AIOS_TEST_CLUSTER_DIR="$DIR"
cd "$BUILD"
rc=0
ctest -L integration --output-on-failure "$@" || rc=$?
exit $rc
