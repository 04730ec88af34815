"""onnxruntime for the ONNX tests: npm's onnxruntime-node, pinned, installed on first use.

    import ort                      (with tests/support on sys.path)
    d = ort.install()               the package's directory; exits 1 when npm fails
    ort.run(d, MODEL, X_F32, ROWS, DIMS, Y_F32)

install() puts onnxruntime-node ORT_VERSION (its native runtime ships inside the npm
package) into $AIOS_NPM_CACHE (default /var/cache/aios/npm), under a lock, so parallel
test programs install it once. run() runs a model with the CPU provider on one thread
(ort_run.mjs): X_F32 holds ROWS rows of float32 (little-endian) of shape DIMS (the
input's shape without the batch); the first output goes to Y_F32 the same way. Any
failure is fatal (exit 1), never a skip.
"""
import fcntl
import os
import subprocess
import sys

ORT_VERSION = "1.16.3"
HERE = os.path.dirname(os.path.abspath(__file__))


def die(msg):
    print("ort.py: " + msg, file=sys.stderr)
    sys.exit(1)


def install():
    root = os.environ.get("AIOS_NPM_CACHE", "/var/cache/aios/npm")
    d = os.path.join(root, "onnxruntime-node-" + ORT_VERSION)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(root, ".onnxruntime-node.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        binding = os.path.join(d, "node_modules/onnxruntime-node/bin/napi-v3/linux/x64")
        if not os.path.isdir(binding):
            r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts",
                                "--prefix", d, "onnxruntime-node@" + ORT_VERSION],
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0 or not os.path.isdir(binding):
                die("cannot install onnxruntime-node@%s with npm:\n%s%s"
                    % (ORT_VERSION, r.stdout, r.stderr))
    return d


def run(ortd, model, xfile, rows, dims, yfile):
    env = dict(os.environ, AIOS_ORT_DIR=ortd, AIOS_ORT_SHAPE=str(list(dims)))
    r = subprocess.run(["node", os.path.join(HERE, "ort_run.mjs"), model, xfile, str(rows),
                        yfile], env=env, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        die("onnxruntime-node failed on %s:\n%s%s" % (model, r.stdout, r.stderr))
