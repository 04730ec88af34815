#!/usr/bin/env bash
# Builds the four images aios ships, from the repository's own Dockerfiles, on a machine
# with no registry: aios/operator, aios/trainer, aios/serve and aios/gateway (tag = the version the
# chart's values and the operator's defaults use), then loads them into the node's
# container runtime. Prints nothing but errors; exit 0 when all four images are there.
#
#   scripts/images.sh [--containerd SOCK] [--save DIR]
#     --containerd SOCK  import into this containerd (namespace k8s.io, as the kubelet's
#                        CRI sees it); default: the kubelet cluster's containerd
#                        ($AIOS_CLUSTER_DIR/containerd/containerd.sock) when it runs
#     --save DIR         also write DIR/{operator,trainer,serve,gateway}.tar (docker save)
#
# Environment:
#   AIOS_CACHE     cache root (default /var/cache/aios): images/debian-bookworm-minbase.tar
#                  (the debootstrapped root, ~30 s once), images/docker (dockerd's data
#                  root: its build cache makes a rebuild after a source change take only
#                  the compile)
#   AIOS_CLUSTER_DIR  (default /var/lib/aios-cluster-kubelet) see --containerd
#   AIOS_IMAGE_TAG    tag of the four images (default 0.1.0)
#
# No registry is reachable here, so the two base images the Dockerfiles take as build
# arguments are made locally (docs/images.md):
#   DEBIAN   aios-local/debian:bookworm, `debootstrap --variant=minbase bookworm` from the
#            apt mirror this machine uses, imported with `docker import`;
#   RUNTIME  aios-local/runtime:bookworm, the stand-in for distroless base-debian12:nonroot:
#            glibc and the dynamic loader copied from that root, /etc/passwd and /etc/group
#            with nonroot (65532), /tmp, CA certificates; no shell, no package manager.
# A private dockerd (own data root, exec root and socket; --iptables=false --bridge=none:
# no network of its own, builds use --network host) runs for the build and is stopped.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${AIOS_CACHE:-/var/cache/aios}"
IMG="$CACHE/images"
TAG="${AIOS_IMAGE_TAG:-0.1.0}"
CLUSTER_DIR="${AIOS_CLUSTER_DIR:-/var/lib/aios-cluster-kubelet}"
CTRD_SOCK=""
SAVE=""
while (($#)); do
  case "$1" in
    --containerd) CTRD_SOCK="${2:?--containerd needs a socket path}"; shift 2 ;;
    --save) SAVE="${2:?--save needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "images.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $EUID -eq 0 ]] || { echo "images.sh: needs root (debootstrap, dockerd)" >&2; exit 1; }
[[ -z "$CTRD_SOCK" && -S "$CLUSTER_DIR/containerd/containerd.sock" ]] && CTRD_SOCK="$CLUSTER_DIR/containerd/containerd.sock"

for b in dockerd docker debootstrap; do
  command -v "$b" >/dev/null || { echo "images.sh: $b not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
mkdir -p "$IMG"
exec 8>"$IMG/.lock"
flock 8 # one build at a time: the data root and the socket are shared

RUN="/run/aios-images"
SOCK="$RUN/docker.sock"
LOG="$IMG/dockerd.log"
mkdir -p "$RUN/exec"
dk() { DOCKER_HOST="unix://$SOCK" docker "$@"; }
DPID=""
stop_dockerd() {
  [[ -n "$DPID" ]] || return 0
  kill "$DPID" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$DPID" 2>/dev/null || true
  wait "$DPID" 2>/dev/null || true
  DPID=""
}
TMP="$(mktemp -d)"
cleanup() { stop_dockerd; rm -rf "$TMP"; }
trap cleanup EXIT

dockerd --data-root "$IMG/docker" --exec-root "$RUN/exec" --pidfile "$RUN/dockerd.pid" \
  -H "unix://$SOCK" --iptables=false --ip-masq=false --bridge=none --ip-forward=false \
  --storage-driver overlay2 >"$LOG" 2>&1 &
DPID=$!
for _ in $(seq 1 150); do dk version >/dev/null 2>&1 && break; kill -0 "$DPID" 2>/dev/null || break; sleep 0.2; done
dk version >/dev/null 2>&1 || { echo "images.sh: dockerd did not start; log:" >&2; tail -20 "$LOG" >&2; exit 1; }

# The mirror apt uses on this machine (first URIs of the Debian suite), so the image's
# apt-get install reaches the same archive.
MIRROR="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
BASE_TAR="$IMG/debian-bookworm-minbase.tar"
if [[ ! -s "$BASE_TAR" ]]; then
  debootstrap --variant=minbase bookworm "$TMP/rootfs" "$MIRROR" >"$IMG/debootstrap.log" 2>&1 \
    || { echo "images.sh: debootstrap failed; log:" >&2; tail -20 "$IMG/debootstrap.log" >&2; exit 1; }
  rm -rf "$TMP/rootfs/var/cache/apt/archives/"*.deb "$TMP/rootfs/var/lib/apt/lists/"*
  tar -C "$TMP/rootfs" -cf "$BASE_TAR.part" . && mv "$BASE_TAR.part" "$BASE_TAR"
  rm -rf "$TMP/rootfs"
fi
if ! dk image inspect aios-local/debian:bookworm >/dev/null 2>&1; then
  dk import "$BASE_TAR" aios-local/debian:bookworm >/dev/null
fi

# The runtime base, from the same root: glibc's libraries and loader only.
RT_TAR="$IMG/runtime-bookworm.tar"
if [[ ! -s "$RT_TAR" ]]; then
  mkdir -p "$TMP/base" "$TMP/rt"
  tar -C "$TMP/base" -xf "$BASE_TAR" ./lib/x86_64-linux-gnu ./lib64 ./usr/lib/x86_64-linux-gnu 2>/dev/null \
    || tar -C "$TMP/base" -xf "$BASE_TAR" ./usr/lib/x86_64-linux-gnu ./usr/lib64
  L="usr/lib/x86_64-linux-gnu"
  mkdir -p "$TMP/rt/$L" "$TMP/rt/usr/lib64" "$TMP/rt/etc/ssl/certs" "$TMP/rt/tmp" "$TMP/rt/home/nonroot"
  for so in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 \
            libresolv.so.2 libnss_files.so.2 libnss_dns.so.2; do
    src="$(find "$TMP/base" -name "$so" \( -type f -o -type l \) | head -1)"
    [[ -n "$src" ]] || { echo "images.sh: $so not in the debootstrapped root" >&2; exit 1; }
    cp -L "$src" "$TMP/rt/$L/$so"
  done
  ln -s usr/lib "$TMP/rt/lib"
  ln -s ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$TMP/rt/usr/lib64/ld-linux-x86-64.so.2"
  ln -s usr/lib64 "$TMP/rt/lib64"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$TMP/rt/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$TMP/rt/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$TMP/rt/etc/nsswitch.conf"
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp /etc/ssl/certs/ca-certificates.crt "$TMP/rt/etc/ssl/certs/"
  chmod 1777 "$TMP/rt/tmp"
  chown 65532:65532 "$TMP/rt/home/nonroot"
  tar -C "$TMP/rt" --numeric-owner -cf "$RT_TAR.part" . && mv "$RT_TAR.part" "$RT_TAR"
  rm -rf "$TMP/base" "$TMP/rt"
fi
if ! dk image inspect aios-local/runtime:bookworm >/dev/null 2>&1; then
  dk import -c 'USER 65532:65532' -c 'WORKDIR /home/nonroot' "$RT_TAR" aios-local/runtime:bookworm >/dev/null
fi

# A pause image for the kubelet's pod sandboxes (k8s.gcr.io/pause is out of reach):
# one static program that sleeps until a signal.
if ! dk image inspect aios-local/pause:3.2 >/dev/null 2>&1; then
  mkdir -p "$TMP/pause"
  printf '#include <signal.h>\n#include <unistd.h>\nstatic void h(int s){(void)s;_exit(0);}\nint main(void){signal(SIGTERM,h);signal(SIGINT,h);for(;;)pause();}\n' > "$TMP/pause/pause.c"
  cc -static -O2 -o "$TMP/pause/pause" "$TMP/pause/pause.c"
  tar -C "$TMP/pause" -cf - pause | dk import -c 'ENTRYPOINT ["/pause"]' -c 'USER 65535:65535' - aios-local/pause:3.2 >/dev/null
fi

build() { # build NAME DOCKERFILE
  if ! dk build -q --network host -f "$ROOT/$2" -t "aios/$1:$TAG" \
      --build-arg DEBIAN=aios-local/debian:bookworm --build-arg RUNTIME=aios-local/runtime:bookworm \
      --build-arg VERSION="$TAG" "$ROOT" >"$IMG/build-$1.log" 2>&1; then
    echo "images.sh: building aios/$1 from $2 failed; log $IMG/build-$1.log:" >&2
    tail -30 "$IMG/build-$1.log" >&2
    exit 1
  fi
}
export DOCKER_BUILDKIT=0
build operator Dockerfile
build trainer trainer-image/Dockerfile
build serve inference-image/Dockerfile
build gateway gateway-image/Dockerfile
dk image prune -f >/dev/null 2>&1 || true

# Smoke test: each program runs --help in its image, as 65532, read-only.
for n in operator trainer serve gateway; do
  dk run --rm --read-only --network none "aios/$n:$TAG" --help >/dev/null 2>"$TMP/run.err" \
    || { echo "images.sh: aios/$n:$TAG --help failed in the image:" >&2; cat "$TMP/run.err" >&2; exit 1; }
done

IMAGES=("aios/operator:$TAG" "aios/trainer:$TAG" "aios/serve:$TAG" "aios/gateway:$TAG" aios-local/pause:3.2)
if [[ -n "$SAVE" ]]; then
  mkdir -p "$SAVE"
  for n in operator trainer serve gateway; do dk save -o "$SAVE/$n.tar" "aios/$n:$TAG"; done
  dk save -o "$SAVE/pause.tar" aios-local/pause:3.2
fi
if [[ -n "$CTRD_SOCK" ]]; then
  for i in "${IMAGES[@]}"; do
    dk save "$i" | ctr -a "$CTRD_SOCK" -n k8s.io images import - >/dev/null \
      || { echo "images.sh: importing $i into containerd at $CTRD_SOCK failed" >&2; exit 1; }
  done
  have="$(ctr -a "$CTRD_SOCK" -n k8s.io images ls -q)" # whole list first: grep -q would SIGPIPE ctr
  for i in "${IMAGES[@]}"; do
    grep -qx "docker.io/$i" <<<"$have" \
      || { echo "images.sh: $i is not in containerd at $CTRD_SOCK after the import" >&2; exit 1; }
  done
fi
# Sizes (uncompressed, as docker reports them) for docs/images.md and CI logs.
dk image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^aios/' > "$IMG/sizes.txt" || true
