#!/usr/bin/env python3
"""The rules of Grafana's dashboard-linter (github.com/grafana/dashboard-linter), in Python.

    python3 scripts/lib/dashboard_lint.py dashboards/*.json     # exit 1 on any error
    python3 scripts/lib/dashboard_lint.py --self-test           # the rules catch known faults

Why a reimplementation: the linter is a Go program, and CI here reaches no Go module proxy.
These are the rules of its default rule set (lint/rules.go, NewRuleSet) for Prometheus
dashboards, with its messages, read from its source: template-datasource-rule,
template-job-rule, template-instance-rule, template-label-promql-rule (the function name;
the PromQL itself is parsed by promtool in scripts/tests/dashboards.sh),
template-on-time-change-reload-rule, panel-datasource-rule, panel-title-description-rule,
panel-units-rule, panel-no-targets-rule, target-promql-rule (likewise promtool),
target-rate-interval-rule, target-job-rule, target-instance-rule, target-counter-agg-rule,
uneditable-dashboard. The LogQL rules do not apply. Like the linter, "warnings" (the labels
of the datasource/job/instance variables) are reported; errors fail.

PromQL is read with a small tokenizer that finds every vector selector, its matchers, its
range and the function it is the direct argument of: enough for the rules above on the
expressions dashboards/generate.py writes, and --self-test shows each rule failing.
"""

from __future__ import annotations

import json
import re
import sys

# lint/rule_panel_units.go: the valid unit ids (from Grafana's value formats).
VALID_UNITS = set("""
none string short percent percentunit humidity dB hex0x hex sci locale pixel accMS2 accFS2
accG degree radian grad arcmin arcsec areaM2 areaF2 areaMI2 flops mflops gflops tflops pflops
eflops zflops yflops ppm conppb conngm3 conngNm3 conμgm3 conμgNm3 conmgm3 conmgNm3 congm3
congNm3 conmgdL conmmolL currencyUSD currencyGBP currencyEUR currencyJPY currencyRUB
currencyUAH currencyBRL currencyDKK currencyISK currencyNOK currencySEK currencyCZK
currencyCHF currencyPLN currencyBTC currencymBTC currencyμBTC currencyZAR currencyINR
currencyKRW currencyIDR currencyPHP currencyVND bytes decbytes bits decbits kbytes deckbytes
mbytes decmbytes gbytes decgbytes tbytes dectbytes pbytes decpbytes pps binBps Bps binbps bps
KiBs Kibits KBs Kbits MiBs Mibits MBs Mbits GiBs Gibits GBs Gbits TiBs Tibits TBs Tbits PiBs
Pibits PBs Pbits dateTimeAsIso dateTimeAsIsoNoDateIfToday dateTimeAsUS dateTimeAsUSNoDateIfToday
dateTimeAsLocal dateTimeAsLocalNoDateIfToday dateTimeAsSystem dateTimeFromNow watt kwatt
megwatt gwatt mwatt Wm2 voltamp kvoltamp voltampreact kvoltampreact watth watthperkg kwatth
kwattm amph kamph mamph joule ev amp kamp mamp volt kvolt mvolt dBm ohm kohm Mohm farad
µfarad nfarad pfarad ffarad henry mhenry µhenry lumens flowgpm flowcms flowcfs flowcfm litreh
flowlpm flowmlpm lux forceNm forcekNm forceN forcekN Hs KHs MHs GHs THs PHs EHs massmg massg
masslb masskg masst lengthmm lengthin lengthft lengthm lengthkm lengthmi pressurembar
pressurebar pressurekbar pressurepa pressurehpa pressurekpa pressurehg pressurepsi radbq
radci radgy radrad radsv radmsv radusv radrem radexpckg radr radsvh radmsvh radusvh rotrpm
rothz rotrads rotdegs celsius fahrenheit kelvin hertz ns µs ms s m h d dtdurationms
dtdurations dthms dtdhms timeticks clockms clocks cps ops reqps rps wps iops cpm opm rpm wpm
mps mpm velocityms velocitykmh velocitymph velocityknot mlitre litre m3 Nm3 dm3 gallons bool
bool_yes_no bool_on_off
""".split())

# lint/constants.go and the switch statements of each rule.
UNIT_TYPES = {"stat", "singlestat", "graph", "table", "timeseries", "gauge"}
DATASOURCE_TYPES = {"singlestat", "graph", "table", "timeseries"}
TITLE_TYPES = UNIT_TYPES
QUERY_TYPES = {"singlestat", "gauge", "table", "stat", "state-timeline", "timeseries"}
LABEL_FUNCS = {"label_names", "label_values", "metrics", "query_result"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
            "or", "unless", "offset", "atan2"}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<var>\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]+\]\])
  | (?P<num>[0-9][0-9.eE+\-]*[a-zA-Z0-9]*)
  | (?P<id>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[{}()\[\],=<>+\-*/%^@:])
""", re.X)


def tokenize(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read PromQL at {expr[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def selectors(expr: str) -> list[dict]:
    """Every vector selector: name, matchers [(label, op, value)], range, direct function."""
    toks = tokenize(expr)
    found, stack = [], []  # stack: function name (or "") of each open "("
    pending = None  # an aggregation written `sum by (x) (...)`: its "(" comes later
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if kind == "id" and nxt in ("by", "without") and text not in KEYWORDS:
            pending = text
            i += 1
            continue
        if kind == "id" and text in LABEL_LIST_KEYWORDS and nxt == "(":
            depth, i = 0, i + 1  # skip the label list
            while i < len(toks):
                depth += {"(": 1, ")": -1}.get(toks[i][1], 0)
                i += 1
                if depth == 0:
                    break
            continue
        if kind == "id" and nxt == "(":
            stack.append(text)
            i += 2
            continue
        if kind == "id" and text not in KEYWORDS or text == "{":
            name = text if kind == "id" else ""
            j = i + 1 if kind == "id" else i
            matchers = []
            if j < len(toks) and toks[j][1] == "{":
                j += 1
                while j < len(toks) and toks[j][1] != "}":
                    if toks[j][1] == ",":
                        j += 1
                        continue
                    label, op, value = toks[j][1], toks[j + 1][1], toks[j + 2][1]
                    matchers.append((label, op, value[1:-1]))
                    j += 3
                j += 1
            rng = None
            if j < len(toks) and toks[j][1] == "[":
                k = j + 1
                parts = []
                while toks[k][1] != "]":
                    parts.append(toks[k][1])
                    k += 1
                rng, j = "".join(parts), k + 1
            # The direct function: the innermost "(" opened by a call whose argument list
            # this selector starts.
            func = stack[-1] if stack and i > 0 and toks[i - 1][1] in ("(", ",") else None
            found.append({"name": name, "matchers": matchers, "range": rng, "func": func})
            i = j
            continue
        if text == "(":
            stack.append(pending or "")
            pending = None
        elif text == ")" and stack:
            stack.pop()
        i += 1
    return found


def lint(d: dict, path: str) -> tuple[list[str], list[str]]:
    errors, warnings = [], []
    title = d.get("title", path)

    def err(rule, msg):
        errors.append(f"{path}: [{rule}] Dashboard '{title}' {msg}")

    def warn(rule, msg):
        warnings.append(f"{path}: [{rule}] Dashboard '{title}' {msg}")

    tmpl = d.get("templating", {}).get("list", [])
    ds = [t for t in tmpl if t.get("type") == "datasource"]
    if not ds:
        err("template-datasource-rule", "does not have a templated data source")
    for t in ds:
        q = t.get("query", "")
        names = {f"{q.lower()}_datasource"} | ({"datasource"} if len(ds) == 1 else set())
        labels = {f"{q.title()} data source"} | ({"Data source"} if len(ds) == 1 else set())
        if t.get("name") not in names:
            err("template-datasource-rule", f"templated data source variable named '{t.get('name')}', should be named one of {sorted(names)}")
        if t.get("label") not in labels:
            warn("template-datasource-rule", f"templated data source variable labeled '{t.get('label')}', should be labeled one of {sorted(labels)}")
    prometheus = bool(ds) and ds[0].get("query") == "prometheus"
    ds_uids = {f"${t['name']}" for t in ds} | {f"${{{t['name']}}}" for t in ds}

    if prometheus:
        for name in ("job", "instance"):
            rule = f"template-{name}-rule"
            t = next((x for x in tmpl if x.get("name") == name), None)
            if t is None:
                err(rule, f"is missing the {name} template")
                continue
            uid = (t.get("datasource") or {}).get("uid") if isinstance(t.get("datasource"), dict) else t.get("datasource")
            if uid not in ("$datasource", "${datasource}", "$prometheus_datasource", "${prometheus_datasource}"):
                err(rule, f"{name} template should use datasource '$datasource', is currently '{uid}'")
            if t.get("type") != "query":
                err(rule, f"{name} template should be a Prometheus query, is currently '{t.get('type')}'")
            if t.get("label") != name.title():
                warn(rule, f"{name} template should be a labeled '{name.title()}', is currently '{t.get('label')}'")
            if not t.get("multi"):
                err(rule, f"{name} template should be a multi select")
            if t.get("allValue") != ".+":
                err(rule, f"{name} template allValue should be '.+', is currently '{t.get('allValue')}'")
        for t in tmpl:
            if t.get("type") != "query":
                continue
            q = t.get("query")
            q = q.get("query", "") if isinstance(q, dict) else (q or "")
            m = re.search(r"([a-z_]+)\((.+)\)", q)
            if not m:
                err("template-label-promql-rule", f"template '{t.get('name')}' invalid templated label '{q}': invalid 'query'")
            elif m.group(1) not in LABEL_FUNCS:
                err("template-label-promql-rule", f"template '{t.get('name')}' invalid templated label '{q}': invalid 'function': {m.group(1)}")
    for t in tmpl:
        if t.get("type") == "query" and t.get("refresh") != 2:
            err("template-on-time-change-reload-rule", f"templated datasource variable named '{t.get('name')}', should be set to be refreshed 'On Time Range Change (value 2)', is currently '{t.get('refresh')}'")

    if d.get("editable"):
        err("uneditable-dashboard", "is editable, it should be set to 'editable: false'")

    def panels(ps):
        for p in ps or []:
            yield p
            yield from panels(p.get("panels"))

    for p in panels(d.get("panels")):
        ptype, ptitle = p.get("type"), p.get("title", "")

        def perr(rule, msg):
            err(rule, f"Panel '{ptitle}' {msg}")

        if ptype in DATASOURCE_TYPES:
            src = p.get("datasource")
            uid = src.get("uid") if isinstance(src, dict) else src
            if uid not in ds_uids:
                perr("panel-datasource-rule", f"does not use a templated datasource, uses '{uid}'")
        if ptype in TITLE_TYPES and (not ptitle or not p.get("description")):
            perr("panel-title-description-rule", "has missing title or description")
        if ptype in UNIT_TYPES:
            fc = p.get("fieldConfig") or {}
            skip = ptype == "stat" and (p.get("options", {}).get("reduceOptions", {}).get("fields", "") != "")
            mappings = None
            for o in fc.get("overrides", []):
                for prop in o.get("properties", []):
                    if prop.get("id") == "mappings" and prop.get("value") is not None and mappings is None:
                        mappings = prop["value"]
            if mappings is None and fc.get("defaults", {}).get("mappings") is not None:
                mappings = fc["defaults"]["mappings"]
            unit = ""
            for o in fc.get("overrides", []):
                for prop in o.get("properties", []):
                    if prop.get("id") == "unit" and not unit:
                        unit = prop.get("value") or ""
            unit = unit or fc.get("defaults", {}).get("unit", "")
            if not skip and mappings is None and unit not in VALID_UNITS:
                perr("panel-units-rule", f"has no or invalid units defined: '{unit}'")
        if ptype in TITLE_TYPES and p.get("targets") is None:
            perr("panel-no-targets-rule", "has no targets")
        if not prometheus or ptype not in QUERY_TYPES:
            continue
        for t in p.get("targets") or []:
            expr = t.get("expr", "")
            if not expr:
                perr("target-promql-rule", f"target {t.get('refId')}: empty query")
                continue
            try:
                sels = selectors(expr)
            except (ValueError, IndexError) as e:
                perr("target-promql-rule", f"invalid PromQL query '{expr}': {e}")
                continue
            for s in sels:
                ms = {label: (op, value) for label, op, value in s["matchers"]}
                for name in ("job", "instance"):
                    if ms.get(name) != ("=~", f"${name}"):
                        perr(f"target-{name}-rule", f"invalid PromQL query '{expr}': {name} selector is {ms.get(name)}, not =~\"${name}\" (in {s['name'] or '{...}'})")
                if s["range"] is not None and s["func"] in ("rate", "irate") \
                        and s["range"] not in ("$__rate_interval", "${__rate_interval}"):
                    perr("target-rate-interval-rule", f"invalid PromQL query '{expr}': should use $__rate_interval")
                if s["name"].endswith("_total") and not (
                        s["range"] is not None and s["func"] in ("rate", "irate", "increase")):
                    perr("target-counter-agg-rule", f"counter metric '{s['name']}' is not aggregated with rate, irate, or increase")
    return errors, warnings


def self_test() -> int:
    """Each rule must catch a dashboard that breaks it."""
    ds = {"type": "prometheus", "uid": "${datasource}"}

    def var(name, **kw):
        v = {"name": name, "label": name.title(), "type": "query", "datasource": ds,
             "query": {"query": f"label_values(up, {name})"}, "refresh": 2, "multi": True,
             "includeAll": True, "allValue": ".+"}
        v.update(kw)
        return v

    def dash(panels=None, tmpl=None, **kw):
        d = {"title": "t", "editable": False, "templating": {"list": tmpl if tmpl is not None else [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"},
            var("job"), var("instance")]},
            "panels": panels or []}
        d.update(kw)
        return d

    def panel(expr, **kw):
        p = {"type": "timeseries", "title": "p", "description": "d", "datasource": ds,
             "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
             "targets": [{"refId": "A", "expr": expr}]}
        p.update(kw)
        return p

    good = 'sum by (agent) (rate(x_total{job=~"$job",instance=~"$instance"}[$__rate_interval])) and on (job) y{job=~"$job",instance=~"$instance"}'
    cases = [
        ("clean", dash([panel(good)]), None),
        ("uneditable-dashboard", dash([panel(good)], editable=True), "uneditable-dashboard"),
        ("template-job-rule", dash([panel(good)], tmpl=[
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"},
            var("job", multi=False), var("instance")]), "template-job-rule"),
        ("template-instance-rule", dash([panel(good)], tmpl=[
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"},
            var("job"), var("instance", allValue=".*")]), "template-instance-rule"),
        ("template-on-time-change-reload-rule", dash([panel(good)], tmpl=[
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"},
            var("job", refresh=1), var("instance")]), "template-on-time-change-reload-rule"),
        ("template-datasource-rule", dash([panel(good)], tmpl=[var("job"), var("instance")]),
         "template-datasource-rule"),
        ("panel-datasource-rule", dash([panel(good, datasource={"uid": "abc"})]), "panel-datasource-rule"),
        ("panel-title-description-rule", dash([panel(good, description="")]), "panel-title-description-rule"),
        ("panel-units-rule", dash([panel(good, fieldConfig={"defaults": {}, "overrides": []})]), "panel-units-rule"),
        ("target-job-rule", dash([panel('up{instance=~"$instance"}')]), "target-job-rule"),
        ("target-instance-rule", dash([panel('sum by (job) (up{job=~"$job"})')]), "target-instance-rule"),
        ("target-rate-interval-rule", dash([panel('rate(x_total{job=~"$job",instance=~"$instance"}[5m])')]),
         "target-rate-interval-rule"),
        ("target-counter-agg-rule", dash([panel('sum(x_total{job=~"$job",instance=~"$instance"})')]),
         "target-counter-agg-rule"),
    ]
    bad = 0
    for name, d, rule in cases:
        errors, _ = lint(d, name)
        hit = [e for e in errors if rule and f"[{rule}]" in e]
        if rule is None and errors:
            print(f"self-test {name}: unexpected errors: {errors}", file=sys.stderr)
            bad += 1
        elif rule and not hit:
            print(f"self-test {name}: rule did not fire (got {errors})", file=sys.stderr)
            bad += 1
    print(f"dashboard-lint self-test: {len(cases)} cases, {bad} failed")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    if argv == ["--self-test"]:
        return self_test()
    total_e = total_w = 0
    for path in argv:
        errors, warnings = lint(json.load(open(path, encoding="utf-8")), path)
        for w in warnings:
            print("warning:", w)
        for e in errors:
            print("ERROR:", e, file=sys.stderr)
        total_e += len(errors)
        total_w += len(warnings)
    print(f"dashboard-linter rules: {len(argv)} dashboards, {total_e} errors, {total_w} warnings")
    return 1 if total_e else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
