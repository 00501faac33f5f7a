#!/usr/bin/env bash
# Static checks of the Grafana dashboards in dashboards/:
#   - valid JSON (python3 -m json.tool), importable shape for Grafana 10+: uid, title,
#     schemaVersion >= 38, a `datasource` variable of type datasource (prometheus) and
#     `job`/`instance`/`agent` query variables;
#   - no hard-coded datasource uid: every panel, target, variable and annotation uses
#     ${datasource} (or Grafana's built-in annotation source); `provider` and `model` query
#     variables besides `agent`;
#   - unique panel ids, panels inside the 24-column grid, no overlapping panels;
#   - the JSON is what dashboards/generate.py produces (edit the generator, not the JSON);
#   - clean under the rules of Grafana's dashboard-linter (scripts/lib/dashboard_lint.py, a
#     Python implementation of its default rule set, with a self-test that each rule fires):
#     not editable, multi-select job/instance variables with All = ".+" reloaded on time
#     change, every selector filtered by job and instance, $__rate_interval in rate(),
#     counters only inside rate/irate/increase, units or value mappings on every panel;
#   - every PromQL expression parses (promtool check rules on the expressions with the
#     template variables substituted), when promtool is installed.
set -euo pipefail
cd "$(dirname "$0")/../.."

for f in dashboards/*.json; do
    python3 -m json.tool "$f" >/dev/null || { echo "dashboards: FAIL: $f is not valid JSON" >&2; exit 1; }
done
python3 dashboards/generate.py --check
python3 scripts/lib/dashboard_lint.py --self-test
python3 scripts/lib/dashboard_lint.py dashboards/*.json

python3 - dashboards/*.json <<'PY'
import json
import sys

problems = []
total = 0
for path in sys.argv[1:]:
    d = json.load(open(path, encoding="utf-8"))
    def bad(msg):
        problems.append(f"{path}: {msg}")
    for key in ("uid", "title"):
        if not d.get(key):
            bad(f"missing {key}")
    if d.get("id") is not None:
        bad("id must be null so the file imports anywhere")
    if int(d.get("schemaVersion", 0)) < 38:
        bad(f"schemaVersion {d.get('schemaVersion')} < 38")
    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        bad("needs a `datasource` variable of type datasource with query prometheus")
    for name in ("job", "instance", "agent", "provider", "model"):
        v = variables.get(name)
        if not v or v.get("type") != "query":
            bad(f"needs a `{name}` query variable")

    def check_ds(where, obj):
        uid = (obj or {}).get("uid") if isinstance(obj, dict) else obj
        if uid not in ("${datasource}", "-- Grafana --"):
            bad(f"{where}: datasource {obj!r} is not ${{datasource}}")

    for v in variables.values():
        if v.get("type") == "query":
            check_ds(f"variable {v['name']}", v.get("datasource"))
    for a in d.get("annotations", {}).get("list", []):
        check_ds(f"annotation {a.get('name')}", a.get("datasource"))

    def walk(ps):
        for p in ps or []:
            yield p
            yield from walk(p.get("panels"))

    ids, boxes = set(), []
    for p in walk(d.get("panels")):
        pid = p.get("id")
        if pid in ids:
            bad(f"duplicate panel id {pid}")
        ids.add(pid)
        g = p.get("gridPos") or {}
        if not all(k in g for k in "hwxy") or g["x"] + g["w"] > 24:
            bad(f"panel {pid} {p.get('title')!r}: bad gridPos {g}")
        else:
            for other_id, og in boxes:
                if (g["x"] < og["x"] + og["w"] and og["x"] < g["x"] + g["w"]
                        and g["y"] < og["y"] + og["h"] and og["y"] < g["y"] + g["h"]):
                    bad(f"panel {pid} overlaps panel {other_id}")
            boxes.append((pid, g))
        if p.get("type") == "row":
            continue
        total += 1
        if not p.get("title"):
            bad(f"panel {pid} has no title")
        check_ds(f"panel {pid} {p.get('title')!r}", p.get("datasource"))
        targets = p.get("targets") or []
        if not targets:
            bad(f"panel {pid} {p.get('title')!r} has no query")
        for t in targets:
            check_ds(f"panel {pid} target {t.get('refId')}", t.get("datasource"))
            if not t.get("expr"):
                bad(f"panel {pid} target {t.get('refId')} has no expr")
    print(f"  {path}: {sum(1 for p in walk(d.get('panels')) if p.get('type') != 'row')} panels, "
          f"{sum(1 for p in walk(d.get('panels')) if p.get('type') == 'row')} rows")

if problems:
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    sys.exit(1)
print(f"  {total} panels in {len(sys.argv) - 1} dashboards")
PY

if command -v promtool >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python3 scripts/lib/dashboard_queries.py --vars \
        --subst __rate_interval=1m --subst __interval=1m --subst __range=1h \
        --subst job=clawprobe --subst instance=.* --subst agent=.* \
        --subst provider=.* --subst model=.* dashboards/*.json |
    python3 -c '
import json, sys  # JSON strings are valid YAML scalars
print("groups:\n  - name: dashboard-queries\n    rules:")
for i, line in enumerate(sys.stdin):
    q = json.loads(line)
    print(f"      - record: dashboard_query_{i}")
    print("        expr: " + json.dumps(q["expr"]))
' >"$tmp/queries.rules.yml"
    n=$(grep -c "record:" "$tmp/queries.rules.yml")
    if ! promtool check rules "$tmp/queries.rules.yml" >"$tmp/out" 2>&1; then
        cat "$tmp/out" >&2
        echo "dashboards: FAIL: a dashboard query does not parse (see above)" >&2
        exit 1
    fi
    echo "  $n PromQL expressions parse (promtool)"
else
    echo "  promtool not installed: skipped the PromQL parse check"
fi
echo "dashboards: OK"
