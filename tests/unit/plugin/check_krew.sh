#!/usr/bin/env bash
# The krew manifest scripts/krew-manifest.sh renders from .krew.yaml is one krew accepts
# and points at an archive that installs a working plugin:
#   - apiVersion krew.googlecontainertools.github.com/v1alpha2, kind Plugin, name aios,
#     version v<the project's version>, no placeholder left;
#   - each platform has a selector, an https uri, the archive's sha256 and a bin that
#     is a file in the archive, executable, whose --help exits 0;
#   - the archive is reproducible (two runs, one sha256).
#   tests/unit/plugin/check_krew.sh BUILD_DIR
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
BUILD="${1:?usage: check_krew.sh BUILD_DIR}"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
"$ROOT/scripts/krew-manifest.sh" "$BUILD" "$T/a" >/dev/null
"$ROOT/scripts/krew-manifest.sh" "$BUILD" "$T/b" >/dev/null
python3 - "$ROOT" "$T" <<'PY'
import hashlib, os, re, stat, subprocess, sys, tarfile, yaml
root, t = sys.argv[1:]
bad = []
def expect(ok, msg):
    if not ok:
        bad.append(msg)
version = re.search(r"^project\(aios VERSION ([0-9.]+)", open(os.path.join(root, "CMakeLists.txt")).read(), re.M).group(1)
text = open(os.path.join(t, "a", "aios.yaml")).read()
expect("{{" not in text, "a placeholder is left in the manifest")
m = yaml.safe_load(text)
expect(m.get("apiVersion") == "krew.googlecontainertools.github.com/v1alpha2", "apiVersion is %r" % m.get("apiVersion"))
expect(m.get("kind") == "Plugin", "kind is %r" % m.get("kind"))
expect(m.get("metadata", {}).get("name") == "aios", "metadata.name is not aios")
spec = m.get("spec", {})
expect(spec.get("version") == "v" + version, "spec.version %r, want v%s" % (spec.get("version"), version))
for k in ("homepage", "shortDescription", "description"):
    expect(bool(spec.get(k)), "spec.%s is empty" % k)
expect(len(spec.get("shortDescription", "")) <= 80, "shortDescription longer than krew's 80 characters")
plats = spec.get("platforms") or []
expect(len(plats) >= 1, "no platform")
archives = [f for f in os.listdir(os.path.join(t, "a")) if f.endswith(".tar.gz")]
expect(len(archives) == 1, "archives written: %s" % archives)
for p in plats:
    labels = p.get("selector", {}).get("matchLabels", {})
    expect(labels.get("os") == "linux" and labels.get("arch") == "amd64", "selector %s" % labels)
    uri = p.get("uri", "")
    expect(uri.startswith("https://") and uri.endswith("/" + archives[0]), "uri %s does not name %s" % (uri, archives[0]))
    path = os.path.join(t, "a", archives[0])
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    expect(p.get("sha256") == sha, "sha256 %s, the archive's is %s" % (p.get("sha256"), sha))
    other = hashlib.sha256(open(os.path.join(t, "b", archives[0]), "rb").read()).hexdigest()
    expect(other == sha, "two runs gave two archives (%s, %s): not reproducible" % (sha, other))
    with tarfile.open(path) as tf:
        names = tf.getnames()
        expect(p.get("bin") in names, "bin %s is not in the archive (%s)" % (p.get("bin"), names))
        tf.extractall(os.path.join(t, "x"))
    binp = os.path.join(t, "x", p.get("bin", "missing"))
    if os.path.exists(binp):
        expect(os.stat(binp).st_mode & stat.S_IXUSR, "bin is not executable")
        r = subprocess.run([binp, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        expect(r.returncode == 0 and "kubectl aios" in r.stdout, "bin --help exited %d: %s" % (r.returncode, r.stdout[:200]))
for b in bad:
    print("FAIL krew:", b)
sys.exit(1 if bad else 0)
PY
echo "ok krew manifest"
