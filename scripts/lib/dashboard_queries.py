#!/usr/bin/env python3
"""Lists every PromQL expression in Grafana dashboard JSON files, one JSON object a line.

    dashboard_queries.py [--subst NAME=VALUE ...] [--vars] FILE.json ...

Each line: {"file", "where", "expr"}; `where` names the panel title and refId, the
annotation, or the template variable. Panels nested in collapsed rows are included.
Template variable queries `label_values(M, L)` become `count by (L) (M)` (with --vars),
`label_values(L)` is skipped (it has no metric).

--subst replaces Grafana variables ($name, ${name}, ${name:fmt}) in the expressions, e.g.
--subst __rate_interval=1m --subst job=clawprobe. Used by scripts/tests/metric-names.sh,
scripts/tests/dashboards.sh and scripts/tests/e2e-prometheus.sh.
"""
import json
import re
import sys


def panels(ps):
    for p in ps or []:
        yield p
        yield from panels(p.get("panels"))


def substitute(expr, subst):
    def repl(m):
        name = m.group(1) or m.group(2)
        return subst.get(name, m.group(0))

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


def queries(path, with_vars):
    d = json.load(open(path, encoding="utf-8"))
    for p in panels(d.get("panels")):
        for t in p.get("targets") or []:
            if t.get("expr"):
                yield f'panel "{p.get("title", "")}" ref {t.get("refId", "")}', t["expr"]
    for a in (d.get("annotations") or {}).get("list") or []:
        if a.get("expr"):
            yield f'annotation "{a.get("name", "")}"', a["expr"]
    if with_vars:
        for v in (d.get("templating") or {}).get("list") or []:
            if v.get("type") != "query":
                continue
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else (q or "")
            m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q, re.S)
            if m:
                yield f'variable "{v.get("name")}"', f"count by ({m.group(2)}) ({m.group(1)})"
            elif q and not q.startswith("label_values("):
                yield f'variable "{v.get("name")}"', q


def main(argv):
    subst, files, with_vars = {}, [], False
    it = iter(argv)
    for a in it:
        if a == "--subst":
            k, _, v = next(it).partition("=")
            subst[k] = v
        elif a == "--vars":
            with_vars = True
        else:
            files.append(a)
    for f in files:
        for where, expr in queries(f, with_vars):
            print(json.dumps({"file": f, "where": where, "expr": substitute(expr, subst)}))


if __name__ == "__main__":
    main(sys.argv[1:])
