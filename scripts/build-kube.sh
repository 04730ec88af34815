#!/usr/bin/env bash
# Builds, once, kube-apiserver, kube-scheduler, kube-controller-manager, kubectl and kubelet from
# Debian's source package `kubernetes` (1.20.2) and caches them outside the repo.
# Prints the directory holding the binaries. Later runs find the cache and return at once.
#
#   AIOS_CACHE   cache root (default /var/cache/aios)
#
# Recipe (DESIGN.md, "Tests"): enable deb-src, `apt-get source kubernetes`, replace the
# vendored modern-go/reflect2 1.0.1 (crashes under Go 1.19) with Debian's 1.0.2, then
# `make WHAT=...`. The build takes ~15-30 min on 2 cores; it is serialised by a lock so
# concurrent callers wait for one build instead of running two.
set -euo pipefail
CACHE="${AIOS_CACHE:-/var/cache/aios}"
VER=1.20.2
OUT="$CACHE/kube-$VER/bin"
BINS=(kube-apiserver kube-scheduler kube-controller-manager kubectl kubelet)

have_all() { for b in "${BINS[@]}"; do [[ -x "$OUT/$b" ]] || return 1; done; }
if have_all; then echo "$OUT"; exit 0; fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.kube-build.lock"
flock 9
if have_all; then echo "$OUT"; exit 0; fi

"$(dirname "$0")/install-deps.sh"
log() { printf '{"ts":"%s","level":"info","msg":"%s"}\n' "$(date -u +%FT%TZ)" "$*" >&2; }

if ! grep -rqs '^Types: deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  log "enabling deb-src for Debian's archive"
  cat > /etc/apt/sources.list.d/aios-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
fi

SRCROOT="$CACHE/src"
rm -rf "$SRCROOT"; mkdir -p "$SRCROOT"; cd "$SRCROOT"
log "fetching Debian source package kubernetes"
apt-get source -qq --download-only kubernetes >/dev/null 2>&1 || { apt-get update -qq; apt-get source -qq --download-only kubernetes; }
dpkg-source -x --no-check ./kubernetes_*.dsc kube >/dev/null
cd kube
R2=/usr/share/gocode/src/github.com/modern-go/reflect2
[[ -d "$R2" ]] || { echo "build-kube: $R2 missing (golang-github-modern-go-reflect2-dev)" >&2; exit 1; }
rm -rf vendor/github.com/modern-go/reflect2
cp -r "$R2" vendor/github.com/modern-go/reflect2
sed -i 's#^github.com/modern-go/reflect2 v1.0.1#github.com/modern-go/reflect2 v1.0.2#' vendor/modules.txt || true
sed -i 's#github.com/modern-go/reflect2 v1.0.1#github.com/modern-go/reflect2 v1.0.2#' go.mod || true

log "building ${BINS[*]} (slow: once per machine)"
start=$(date +%s)
export GOFLAGS=-mod=vendor GO111MODULE=on GOCACHE="$CACHE/gocache" GOPATH="$CACHE/gopath"
export KUBE_GIT_VERSION="v$VER" KUBE_GIT_TREE_STATE=clean
for b in "${BINS[@]}"; do
  make WHAT="cmd/$b" >"$CACHE/build-$b.log" 2>&1 || { echo "build-kube: building $b failed; log:" >&2; tail -40 "$CACHE/build-$b.log" >&2; exit 1; }
  log "built $b"
done
mkdir -p "$OUT"
for b in "${BINS[@]}"; do cp "_output/bin/$b" "$OUT/$b"; done
echo "$(( $(date +%s) - start ))" > "$CACHE/kube-$VER/build-seconds"
log "built in $(( $(date +%s) - start )) s"
cd /; rm -rf "$SRCROOT"
echo "$OUT"
