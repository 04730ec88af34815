#!/usr/bin/env bash
# Packs kubectl-aios as krew installs it and renders the krew manifest (.krew.yaml).
#
#   scripts/krew-manifest.sh BUILD_DIR OUT_DIR [URL_BASE]
#
# Writes OUT_DIR/kubectl-aios_vVERSION_linux_amd64.tar.gz (kubectl-aios and README.md at
# the top) and OUT_DIR/aios.yaml: .krew.yaml with krew-release-bot's placeholders filled
# in as the bot fills them (the tag, the archive's URL and its sha256). URL_BASE is where
# the archive will be downloaded from (default: the GitHub release of the tag). Test the
# result with `kubectl krew install --manifest=OUT_DIR/aios.yaml --archive=ARCHIVE`.
# Exit codes: 0 written, 1 failed, 2 bad usage.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
case "${1:-}" in -h|--help|"") sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; [[ -n "${1:-}" ]]; exit $(( $? ? 2 : 0 )) ;; esac
BUILD="$1" OUT="${2:?krew-manifest.sh: OUT_DIR missing (see --help)}"
BIN="$BUILD/src/cli/kubectl-aios"
[[ -x "$BIN" ]] || { echo "krew-manifest.sh: no $BIN (build first)" >&2; exit 1; }
[[ "$(uname -m)" == x86_64 ]] || { echo "krew-manifest.sh: builds linux/amd64 only, this is $(uname -m)" >&2; exit 1; }
VERSION="$(sed -n 's/^project(aios VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
[[ -n "$VERSION" ]] || { echo "krew-manifest.sh: no project version in CMakeLists.txt" >&2; exit 1; }
TAG="v$VERSION"
NAME="kubectl-aios_${TAG}_linux_amd64.tar.gz"
URL_BASE="${3:-https://github.com/aios/aios/releases/download/$TAG}"
mkdir -p "$OUT"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
install -m 0755 "$BIN" "$STAGE/kubectl-aios"
strip --strip-unneeded "$STAGE/kubectl-aios"
cp "$ROOT/README.md" "$STAGE/README.md"
# Reproducible: fixed owner, order and times.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='1970-01-01' \
  -C "$STAGE" -c kubectl-aios README.md | gzip -n >"$OUT/$NAME"
SHA="$(sha256sum "$OUT/$NAME" | cut -d' ' -f1)"
python3 - "$ROOT/.krew.yaml" "$OUT/aios.yaml" "$TAG" "$URL_BASE/$NAME" "$SHA" <<'PY'
import re, sys
src, dst, tag, url, sha = sys.argv[1:]
# The template's header comment (which names the placeholders) is not part of the manifest.
text = "".join(l for l in open(src) if not l.startswith("#"))
def uri_and_sha(m):
    indent = m.group(1)
    return "%suri: %s\n%ssha256: %s" % (indent, url, indent, sha)
text = re.sub(r'^( *)\{\{ addURIAndSha "[^"]*" \.TagName \}\}', uri_and_sha, text, flags=re.M)
text = text.replace("{{ .TagName }}", tag)
if "{{" in text:
    sys.exit("krew-manifest.sh: a placeholder of .krew.yaml is left unfilled")
open(dst, "w").write(text)
PY
echo "$OUT/aios.yaml"
