#!/usr/bin/env python3
"""Checks helm/aios/dashboards/*.json: valid Grafana JSON, unique panel ids, and every
aios_* metric a query names is one the programs register (a string literal in src/),
so a renamed metric cannot leave a dashboard silently empty."""
import glob, json, os, re, sys

src = sys.argv[1]
known = set()
for path in glob.glob(os.path.join(src, "src", "**", "*.c"), recursive=True):
    known |= set(re.findall(r'"(aios_[a-z0-9_]+)"', open(path, encoding="utf-8").read()))
fail = 0
boards = glob.glob(os.path.join(src, "helm", "aios", "dashboards", "*.json"))
if not boards:
    print("check_dashboard: no dashboards found"); sys.exit(1)
for board in boards:
    d = json.load(open(board))
    ids = [p["id"] for p in d["panels"]]
    if len(ids) != len(set(ids)):
        print(f"{board}: duplicate panel ids"); fail = 1
    for p in d["panels"]:
        for t in p.get("targets", []):
            for m in re.findall(r"aios_[a-z0-9_]+", t["expr"]):
                base = re.sub(r"_(bucket|sum|count)$", "", m)
                if m not in known and base not in known:
                    print(f"{board}: panel {p['title']!r} uses {m}, which no program registers"); fail = 1
print(f"check_dashboard: {len(boards)} dashboard(s), metrics known: {'no' if fail else 'yes'}")
sys.exit(fail)
