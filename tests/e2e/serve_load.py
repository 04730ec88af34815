#!/usr/bin/env python3
"""serve_load.py - a bounded closed-loop load on a ModelService through its Endpoints,
as a client behind its Service would see it (this cluster has no kube-proxy), with
per-endpoint accounting. Used by test_serve_pod_kill.sh (a pod killed under load) and
test_autoscale.sh (enough requests per second to scale up).

  serve_load.py --kubectl KUBECTL --namespace NS --endpoints NAME --model NAME \
      --connections 8 --duration 20 --after-kill 10 --max-requests 20000 \
      [--instances 1] [--no-eject] [--progress FILE] [--kill-file FILE] [--out FILE]

Routing: CONNECTIONS client threads, each with one request in flight at a time (a new
TCP connection per request, 5 s timeout, no retry: a failed request counts as failed),
each request predicting --instances rows. Thread i sends to live[i % len(live)], live
being the Endpoints' ready addresses (refreshed every second) sorted, minus the
addresses ejected after a failed request (passive outlier detection, as a proxy does):
so each address is served by a fixed share of the threads, and a dead address costs at
most one failure per thread of its share. An ejected address comes back once the
Endpoints have dropped it and listed it ready again (its pod restarted). --no-eject
keeps a failed address in the rotation (the thread backs off 50 ms after a failure):
for a load that must go on while pods come and go, where a request timing out on a
busy server is no reason to stop sending to it.

Bounds: --duration seconds (at most 120), extended to --after-kill seconds after the
kill when the kill comes late, never beyond --max-duration (default 60, at most 120);
--max-requests requests (at most 200000); --connections at most 64; --instances at
most 1024.

--progress FILE is rewritten every second with {"ADDRESS": {"ok": N, "failed": M}};
the driver writes "ADDRESS UNIX_TIME" into --kill-file when it kills that address's
server. At the end the summary (JSON) goes to stderr, and to --out FILE when given:
requests sent, ok, failed, per address; with --kill-file, for the killed address the
requests in flight at the kill and the number of threads routed to it (its share), for
the others the longest gap between successful answers from the kill to the end of the
load (only then is every request's timing kept in memory).
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--kubectl", required=True)
p.add_argument("--namespace", required=True)
p.add_argument("--endpoints", required=True, help="the Endpoints (Service) name")
p.add_argument("--model", required=True, help="the model name in the predict path")
p.add_argument("--port", type=int, default=8080)
p.add_argument("--connections", type=int, default=8)
p.add_argument("--duration", type=float, default=20.0)
p.add_argument("--after-kill", type=float, default=10.0)
p.add_argument("--max-duration", type=float, default=60.0)
p.add_argument("--max-requests", type=int, default=20000)
p.add_argument("--instances", type=int, default=1, help="rows per predict request")
p.add_argument("--no-eject", action="store_true", help="keep a failed address in the rotation")
p.add_argument("--progress", help="rewritten every second with the per-address counts")
p.add_argument("--kill-file", help="where the driver writes 'ADDRESS UNIX_TIME' at its kill")
p.add_argument("--out", help="the summary (JSON)")
a = p.parse_args()
if not 1 <= a.connections <= 64:
    sys.exit("serve_load.py: --connections must be 1..64")
if not 0 < a.duration <= a.max_duration <= 120:
    sys.exit("serve_load.py: need 0 < --duration <= --max-duration <= 120 seconds")
if not 0 <= a.after_kill <= a.max_duration:
    sys.exit("serve_load.py: --after-kill must be in [0, --max-duration] seconds")
if not 1 <= a.max_requests <= 200000:
    sys.exit("serve_load.py: --max-requests must be 1..200000")
if not 1 <= a.instances <= 1024:
    sys.exit("serve_load.py: --instances must be 1..1024")

lock = threading.Lock()
ready = []        # the Endpoints' ready addresses, sorted
ejected = {}      # address -> True once the Endpoints have dropped it since
records = []      # (thread, address, start, end, ok); kept only with --kill-file
counts = {}       # address -> {"ok": N, "failed": M}
sent = [0]
start = time.time()
deadline = start + a.duration
body = json.dumps({"instances": [[5.0]] * a.instances}).encode()
path = f"/v1/models/{a.model}:predict"


def endpoints():
    r = subprocess.run([a.kubectl, "-n", a.namespace, "get", "endpoints", a.endpoints, "-o", "json"],
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        return None
    addrs = set()
    for s in json.loads(r.stdout).get("subsets") or []:
        if any(pt.get("port") == a.port for pt in s.get("ports") or []):
            for ad in s.get("addresses") or []:
                addrs.add(ad["ip"])
    return sorted(addrs)


def kill_time():
    if a.kill_file is None:
        return None, None
    try:
        with open(a.kill_file) as f:
            victim, t = f.read().split()
        return victim, float(t)
    except (OSError, ValueError):
        return None, None


def refresh():
    global deadline
    while True:
        _, k = kill_time()
        if k is not None:  # keep the load on for --after-kill seconds after the kill
            deadline = min(start + a.max_duration, max(deadline, k + a.after_kill))
        try:
            eps = endpoints()
        except (subprocess.SubprocessError, ValueError):
            eps = None
        with lock:
            if eps is not None:
                ready[:] = eps
                for ad in list(ejected):
                    if ad not in eps:
                        ejected[ad] = True
                    elif ejected[ad]:
                        del ejected[ad]  # dropped, then ready again: restarted
            now = json.dumps(counts)
        if a.progress is not None:
            tmp = a.progress + ".tmp"
            with open(tmp, "w") as f:
                f.write(now)
            os.replace(tmp, a.progress)
        if time.time() >= deadline:
            return
        time.sleep(1.0)


def one(ad):
    c = http.client.HTTPConnection(ad, a.port, timeout=5)
    try:
        c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        return r.status == 200 and "predictions" in json.loads(data)
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        c.close()


def client(i):
    while time.time() < deadline:
        with lock:
            live = [ad for ad in ready if ad not in ejected]
            if live and sent[0] < a.max_requests:
                sent[0] += 1
                ad = live[i % len(live)]
            else:
                ad = None
                if sent[0] >= a.max_requests:
                    return
        if ad is None:
            time.sleep(0.05)
            continue
        t0 = time.time()
        ok = one(ad)
        t1 = time.time()
        with lock:
            if a.kill_file is not None:
                records.append((i, ad, t0, t1, ok))
            c = counts.setdefault(ad, {"ok": 0, "failed": 0})
            c["ok" if ok else "failed"] += 1
            if not ok and not a.no_eject and ad not in ejected:
                ejected[ad] = False
        if not ok and a.no_eject:
            time.sleep(0.05)


# wait (bounded) for a first list of ready addresses before starting the clock
for _ in range(20):
    e = endpoints()
    if e:
        ready[:] = e
        break
    time.sleep(0.5)
if not ready:
    sys.exit(f"serve_load.py: Endpoints {a.namespace}/{a.endpoints} list no ready address on port {a.port}")
start = time.time()
deadline = start + a.duration
threads = [threading.Thread(target=refresh)] + [threading.Thread(target=client, args=(i,)) for i in range(a.connections)]
for t in threads:
    t.start()
for t in threads:
    t.join()

summary = {"connections": a.connections, "duration_s": round(time.time() - start, 2),
           "sent": sum(c["ok"] + c["failed"] for c in counts.values()),
           "ok": sum(c["ok"] for c in counts.values()),
           "failed": sum(c["failed"] for c in counts.values()), "addresses": counts}
victim, kill = kill_time()
if victim is not None:
    v = {"address": victim, "kill_offset_s": round(kill - start, 2)}
    mine = [r for r in records if r[1] == victim]
    v["ok_before_kill"] = sum(1 for r in mine if r[4] and r[3] <= kill)
    v["failed_before_kill"] = sum(1 for r in mine if not r[4] and r[3] < kill)
    v["failed_after_kill"] = sum(1 for r in mine if not r[4] and r[3] >= kill)
    v["in_flight_at_kill"] = sum(1 for r in mine if r[2] <= kill < r[3])
    v["ok_after_restart"] = sum(1 for r in mine if r[4] and r[2] > kill)
    # its share: the threads whose last request begun before the kill went to it
    last = {}
    for i, ad, t0, _, _ in sorted(records, key=lambda r: r[2]):
        if t0 <= kill:
            last[i] = ad
    v["share"] = sum(1 for ad in last.values() if ad == victim)
    summary["killed"] = v
    others = {}
    for ad in summary["addresses"]:
        if ad == victim:
            continue
        ends = sorted(r[3] for r in records if r[1] == ad and r[4] and r[3] >= kill)
        marks = [kill] + ends + [min(time.time(), deadline)]
        others[ad] = {"ok_after_kill": len(ends),
                      "failed": summary["addresses"][ad]["failed"],
                      "max_gap_s": round(max(b - a_ for a_, b in zip(marks, marks[1:])), 3)}
    summary["others"] = others
if a.out is not None:
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=1)
print(json.dumps(summary), file=sys.stderr)
