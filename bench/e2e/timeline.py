#!/usr/bin/python3
"""bench/e2e/timeline.py - time one `kubectl apply` to a condition on the live cluster.

    timeline.py KUBECTL KUBECONFIG NAMESPACE MODE MANIFEST [NAME]

MODE is one of
  trainingjob   apply MANIFEST (a TrainingJob and a ModelService serving it); print the
                seconds to the TrainingJob's phase Succeeded, to the ModelService's phase
                Ready, and to the first prediction answered through the API server's
                service proxy (POST /v1/models/NAME:predict, {"instances": [[5]]})
  job           apply MANIFEST (a batch/v1 Job, the peer): seconds to its Complete condition
  deployment    apply MANIFEST (a Deployment and a Service NAME, the serving peer): seconds
                to the first prediction of model `linear` through the Service

The clock starts just before kubectl starts, so kubectl's own start-up is in every figure,
as it is for a user. States are read from WATCH streams of the API server (no polling);
only the prediction is retried, every 20 ms, until it answers 200 (bounded: 120 s).
Prints one JSON line. Exit 1 when a deadline passes or the job fails.
"""
import base64
import json
import os
import queue
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

DEADLINE_S = 120.0


def kubeconfig(kubectl, path):
    out = subprocess.run([kubectl, "--kubeconfig", path, "config", "view", "--raw", "--minify", "-o", "json"],
                         check=True, capture_output=True, text=True).stdout
    cfg = json.loads(out)
    cluster = cfg["clusters"][0]["cluster"]
    user = cfg["users"][0]["user"]
    ctx = ssl.create_default_context()
    with tempfile.NamedTemporaryFile("wb", delete=False) as f:
        f.write(base64.b64decode(cluster["certificate-authority-data"]))
        ca = f.name
    ctx.load_verify_locations(ca)
    os.unlink(ca)
    headers = {}
    if "token" in user:
        headers["Authorization"] = "Bearer " + user["token"]
    else:
        with tempfile.NamedTemporaryFile("wb", delete=False) as c, tempfile.NamedTemporaryFile("wb", delete=False) as k:
            c.write(base64.b64decode(user["client-certificate-data"]))
            k.write(base64.b64decode(user["client-key-data"]))
        ctx.load_cert_chain(c.name, k.name)
        os.unlink(c.name)
        os.unlink(k.name)
    return cluster["server"], ctx, headers


class Api:
    def __init__(self, kubectl, path):
        self.server, self.ctx, self.headers = kubeconfig(kubectl, path)

    def open(self, path, body=None, timeout=DEADLINE_S):
        req = urllib.request.Request(self.server + path, data=body, headers=dict(self.headers))
        if body is not None:
            req.add_header("Content-Type", "application/json")
        return urllib.request.urlopen(req, context=self.ctx, timeout=timeout)

    def watch(self, path, name, events):
        """Puts (monotonic time, object) on `events` for every event of object `name`."""
        def run():
            sep = "&" if "?" in path else "?"
            try:
                with self.open(f"{path}{sep}watch=1&fieldSelector=metadata.name%3D{name}") as r:
                    for line in r:
                        ev = json.loads(line)
                        events.put((time.monotonic(), ev.get("object", {})))
            except Exception as e:  # the deadline below reports it
                events.put((time.monotonic(), {"error": str(e)}))
        threading.Thread(target=run, daemon=True).start()


def wait_for(events, t0, test, what):
    while True:
        left = t0 + DEADLINE_S - time.monotonic()
        if left <= 0:
            sys.exit(f"timeline: {what} not reached within {DEADLINE_S:.0f} s")
        try:
            t, obj = events.get(timeout=left)
        except queue.Empty:
            continue
        if "error" in obj:
            sys.exit(f"timeline: watch for {what} ended: {obj['error']}")
        verdict = test(obj)
        if verdict == "failed":
            sys.exit(f"timeline: {what}: failed: {json.dumps(obj.get('status', {}))[:400]}")
        if verdict:
            return t - t0


def first_prediction(api, t0, ns, svc, port, model):
    path = f"/api/v1/namespaces/{ns}/services/{svc}:{port}/proxy/v1/models/{model}:predict"
    tries = 0
    while time.monotonic() - t0 < DEADLINE_S:
        tries += 1
        try:
            with api.open(path, b'{"instances": [[5]]}', timeout=5) as r:
                body = json.loads(r.read())
                if "predictions" in body:
                    return time.monotonic() - t0, body["predictions"][0], tries
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.02)
    sys.exit(f"timeline: no prediction from {svc} within {DEADLINE_S:.0f} s")


def main():
    if len(sys.argv) < 6 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
    kubectl, kc, ns, mode, manifest = sys.argv[1:6]
    name = sys.argv[6] if len(sys.argv) > 6 else "linear"
    api = Api(kubectl, kc)
    streams = {}
    if mode == "trainingjob":
        streams["tj"] = f"/apis/aios.dev/v1alpha1/namespaces/{ns}/trainingjobs"
        streams["ms"] = f"/apis/aios.dev/v1alpha1/namespaces/{ns}/modelservices"
    elif mode == "job":
        streams["job"] = f"/apis/batch/v1/namespaces/{ns}/jobs"
    elif mode != "deployment":
        sys.exit(f"timeline: unknown mode {mode}")
    queues = {k: queue.Queue() for k in streams}
    for k, p in streams.items():
        api.watch(p, name, queues[k])
    time.sleep(0.3)  # the watches are open before the clock starts
    t0 = time.monotonic()
    subprocess.run([kubectl, "--kubeconfig", kc, "-n", ns, "apply", "-f", manifest],
                   check=True, stdout=subprocess.DEVNULL)
    applied = time.monotonic() - t0
    out = {"mode": mode, "kubectl_apply_s": round(applied, 3)}
    if mode == "trainingjob":
        def phase(want):
            def test(o):
                p = o.get("status", {}).get("phase")
                return "failed" if p == "Failed" else p == want
            return test
        out["succeeded_s"] = round(wait_for(queues["tj"], t0, phase("Succeeded"), "TrainingJob Succeeded"), 3)
        out["ready_s"] = round(wait_for(queues["ms"], t0, phase("Ready"), "ModelService Ready"), 3)
        t, pred, tries = first_prediction(api, t0, ns, name, 80, "linear")
    elif mode == "job":
        def complete(o):
            for c in o.get("status", {}).get("conditions", []):
                if c.get("status") == "True" and c.get("type") in ("Complete", "Failed"):
                    return "failed" if c["type"] == "Failed" else True
            return False
        out["succeeded_s"] = round(wait_for(queues["job"], t0, complete, "Job Complete"), 3)
        print(json.dumps(out))
        return
    else:
        t, pred, tries = first_prediction(api, t0, ns, name, 80, "linear")
    out["first_prediction_s"] = round(t, 3)
    out["prediction"] = pred
    out["prediction_tries"] = tries
    print(json.dumps(out))


if __name__ == "__main__":
    main()
