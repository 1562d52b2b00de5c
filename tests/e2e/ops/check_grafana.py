#!/usr/bin/env python3
# tests/e2e/ops: packaging/grafana-proxyd.json is valid JSON, every panel has a unique id and a query, and every
# proxyd metric its queries name is one docs/metrics.md lists (so the sample dashboard follows the metrics).
# Usage: check_grafana.py DASHBOARD.json docs/metrics.md
import json, re, sys

dash = json.load(open(sys.argv[1]))
documented = set(re.findall(r"`(proxyd_[a-z0-9_]+)`", open(sys.argv[2]).read()))
errors, ids, names = [], set(), set()
for p in dash["panels"]:
    if p["id"] in ids:
        errors.append(f"panel id {p['id']} twice")
    ids.add(p["id"])
    if p["type"] == "row":
        continue
    if not p.get("targets"):
        errors.append(f"panel {p['title']!r} has no query")
    for t in p.get("targets", []):
        for m in re.findall(r"proxyd_[a-z0-9_]+", t["expr"]):
            names.add(m)
            base = re.sub(r"_(bucket|sum|count)$", "", m)
            if m not in documented and base not in documented:
                errors.append(f"panel {p['title']!r}: {m} is not in docs/metrics.md")
for v in dash["templating"]["list"]:
    for m in re.findall(r"proxyd_[a-z0-9_]+", json.dumps(v.get("query", ""))):
        if re.sub(r"_(bucket|sum|count)$", "", m) not in documented:
            errors.append(f"variable {v['name']}: {m} is not in docs/metrics.md")
if len(names) < 10:
    errors.append(f"only {len(names)} metrics used")
print("\n".join(errors) if errors else f"ok: {len(ids)} panels, {len(names)} metrics, all documented")
sys.exit(1 if errors else 0)
