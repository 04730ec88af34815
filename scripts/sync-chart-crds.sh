#!/usr/bin/env bash
# Copies crds/*.yaml into helm/aios/files/crds/, which templates/crds.yaml renders (so the
# CRDs upgrade with the chart; crds.install=false skips them).
# crds/ is the one source of truth; the chart holds byte-identical copies (not symlinks:
# `helm package` and GitOps tools that fetch only the chart folder would lose a link
# that points outside it). tests/unit/manifests fails when the copies drift.
#   scripts/sync-chart-crds.sh          copy
#   scripts/sync-chart-crds.sh --check  exit 1 (naming the file) when they differ
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$ROOT/crds"
DST="$ROOT/helm/aios/files/crds"
if [[ "${1:-}" == "--check" ]]; then
  diff -r "$SRC" "$DST" >/dev/null || { echo "helm/aios/files/crds/ differs from crds/: run scripts/sync-chart-crds.sh" >&2; diff -rq "$SRC" "$DST" >&2 || true; exit 1; }
  exit 0
fi
mkdir -p "$DST"
rm -f "$DST"/*.yaml
cp "$SRC"/*.yaml "$DST"/
echo "copied $(ls "$SRC"/*.yaml | wc -l) CRDs to helm/aios/files/crds/"
