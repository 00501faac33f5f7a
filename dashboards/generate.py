#!/usr/bin/env python3
"""Generates the clawprobe Grafana dashboards (clawprobe-overview.json, clawprobe-agent.json).

The JSON files are committed; this script is their source. Edit here, then run

    python3 dashboards/generate.py          # rewrite the JSON files
    python3 dashboards/generate.py --check  # exit 1 if the committed JSON is out of date

Why generated: the PromQL selectors, the class colour mapping and the panel layout repeat
across both dashboards and dozens of panels; one source keeps them consistent. Output targets
Grafana 10+ (schemaVersion 39), uses a `${datasource}` variable of type prometheus and never
a hard-coded datasource uid, so the files import into any Grafana.
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}

# Every clawprobe class, in the order of the chain-matrix codes (worse = higher), with the
# colour the state timelines use. Code 0 means "no current class" (not yet probed).
CLASSES = [
    ("ok", "green"),
    ("skipped", "text"),
    ("rate_limit", "yellow"),
    ("overloaded", "light-orange"),
    ("timeout", "orange"),
    ("network", "dark-orange"),
    ("server_error", "semi-dark-red"),
    ("bad_response", "purple"),
    ("invalid_request", "dark-purple"),
    ("unknown", "light-purple"),
    ("unresolved_ref", "blue"),
    ("billing", "dark-red"),
    ("auth", "red"),
]


def sel(*parts, agent=True, provider=False, model=False):
    """A label selector body with the dashboard's template variables.

    Every selector filters by job and instance (dashboard-linter's target-job/instance
    rules); agent, provider and model only where the series carries that label.
    """
    base = ['job=~"$job"', 'instance=~"$instance"']
    if agent:
        base.append('agent=~"$agent"')
    if provider or model:
        base.append('provider=~"$provider"')
    if model:
        base.append('model=~"$model"')
    return ",".join(base + list(parts))


def rsel(*parts):
    """Selector of a route series (agent, role, provider, model)."""
    return sel(*parts, model=True)


def class_code_expr(by="instance, agent, role, provider, model"):
    """One series per chain entry whose value is the code of its current class (see CLASSES).

    clawprobe_model_status is a state set (1 for the current class, 0 for the others), so the
    maximum over class of value*code is the current class's code.
    """
    terms = [
        'clawprobe_model_status{' + rsel(f'class="{name}"') + f'}} * {i + 1}'
        for i, (name, _) in enumerate(CLASSES)
    ]
    return f"max by ({by}) (\n  " + "\n  or ".join(terms) + "\n)"


def class_mappings():
    opts = {"0": {"text": "not probed yet", "color": "transparent", "index": 0}}
    for i, (name, color) in enumerate(CLASSES):
        opts[str(i + 1)] = {"text": name, "color": color, "index": i + 1}
    return [{"type": "value", "options": opts}]


FALLBACK_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "primary", "color": "green", "index": 0},
            "1": {"text": "FALLBACK", "color": "orange", "index": 1},
        },
    }
]
OK_MAPPINGS = [{"type": "value", "options": {
    "0": {"text": "NO", "color": "red", "index": 0},
    "1": {"text": "yes", "color": "green", "index": 1}}}]

UP_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "up", "color": "green", "index": 1},
        },
    }
]


def target(expr, legend="", ref="A", instant=False, fmt="time_series"):
    t = {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "refId": ref,
    }
    if fmt != "time_series":
        t["format"] = fmt
    return t


class Layout:
    """Places panels left to right, wrapping at 24 columns; rows start a new line."""

    def __init__(self):
        self.panels = []
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def _id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def row(self, title):
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "id": self._id(),
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
            }
        )
        self.y += 1

    def _newline(self):
        if self.x:
            self.y += self.row_h
            self.x = 0
            self.row_h = 0

    def add(self, panel, w, h):
        if self.x + w > 24:
            self._newline()
        panel["id"] = self._id()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)
        return panel


def stat(title, targets, description, unit="none", thresholds=None, mappings=None,
         text_mode="auto", color_mode="background"):
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "mappings": mappings or [],
                "color": {"mode": "thresholds"},
                "thresholds": {
                    "mode": "absolute",
                    "steps": thresholds or [{"color": "green", "value": None}],
                },
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": color_mode,
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": text_mode,
            "wideLayout": True,
        },
    }


def timeseries(title, targets, description, unit="short", stacked=False, interval=None,
               min_=None, max_=None, draw="line", step=False):
    custom = {
        "drawStyle": draw,
        "lineWidth": 1,
        "fillOpacity": 10 if draw == "line" else 80,
        "showPoints": "never",
        "spanNulls": False,
        "axisSoftMin": 0,
        "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
        "lineInterpolation": "stepAfter" if step else "linear",
    }
    defaults = {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"}}
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    p = {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "right", "showLegend": True,
                       "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }
    if interval:
        # Probes are minutes apart: a floor on the step keeps increase() windows from
        # falling between two probes (and $__rate_interval follows it).
        p["interval"] = interval
    return p


def state_timeline(title, expr, legend, description, mappings=None):
    return {
        "type": "state-timeline",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, legend)],
        "fieldConfig": {
            "defaults": {
                "mappings": mappings or class_mappings(),
                "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute", "steps": [{"color": "text", "value": None}]},
                "custom": {"fillOpacity": 85, "lineWidth": 0},
            },
            "overrides": [],
        },
        "options": {
            "mergeValues": True,
            "showValue": "auto",
            "alignValue": "left",
            "rowHeight": 0.85,
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "single", "sort": "none"},
        },
    }


def table(title, targets, description, renames=None, hide=("Time", "__name__", "job"),
          unit=None, mappings=None, overrides=None, sort_by=None, links=None):
    renames = renames or {}
    transformations = []
    if len(targets) > 1:
        transformations.append({"id": "merge", "options": {}})
    transformations.append(
        {
            "id": "organize",
            "options": {
                "excludeByName": {h: True for h in hide},
                "renameByName": renames,
                "indexByName": {},
            },
        }
    )
    defaults = {"custom": {"align": "auto", "cellOptions": {"type": "auto"}},
                "mappings": mappings or [], "unit": unit or "none"}
    p = {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "transformations": transformations,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": {"showHeader": True, "cellHeight": "sm",
                    "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
    }
    if sort_by:
        p["options"]["sortBy"] = [{"displayName": sort_by, "desc": False}]
    if links:
        p["fieldConfig"]["overrides"].append(
            {"matcher": {"id": "byName", "options": "agent"},
             "properties": [{"id": "links", "value": links}]}
        )
    return p


SEVERITY_MAPPINGS = [{"type": "value", "options": {
    "critical": {"text": "critical", "color": "red", "index": 0},
    "warning": {"text": "warning", "color": "orange", "index": 1},
    "info": {"text": "info", "color": "blue", "index": 2}}}]


def firing_alerts_table(title, description, agent_only=False):
    """Firing clawprobe alerts from the ALERTS series Prometheus keeps for its rules.

    Filtered by job and instance like every query, so ClawprobeExporterAbsent (which has
    no instance) is not listed: with no clawprobe target the dashboard is empty anyway.
    With agent_only, alerts without an agent label are left out.
    """
    agent = 'agent=~"$agent"' if agent_only else 'agent=~"$agent|"'
    expr = (f'sum by (alertname, severity, agent, role, provider, model, credential, class, instance) '
            f'(ALERTS{{job=~"$job",instance=~"$instance",alertname=~"Clawprobe.*",'
            f'alertstate="firing",{agent}}})')
    return table(title, [target(expr, instant=True, fmt="table")], description,
                 hide=("Time", "Value"), sort_by="severity",
                 overrides=[cell_colour_override("severity", SEVERITY_MAPPINGS)])


def cell_colour_override(field, mappings):
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [
            {"id": "mappings", "value": mappings},
            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
        ],
    }


def variables(agent_multi):
    def query_var(name, label, query, multi, include_all, all_value=".*"):
        v = {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": DS,
            "query": {"query": query, "refId": f"{name}-var"},
            "definition": query,
            # Reload on time-range change (dashboard-linter: template-on-time-change-reload).
            "refresh": 2,
            "sort": 1,
            "regex": "",
            "hide": 0,
            "multi": multi,
            "includeAll": include_all,
            "current": {},
            "options": [],
        }
        if include_all:
            v["allValue"] = all_value
        return v

    route = 'job=~"$job", instance=~"$instance", agent=~"$agent"'
    return {
        "list": [
            {
                "name": "datasource",
                "label": "Data source",
                "type": "datasource",
                "query": "prometheus",
                "regex": "",
                "hide": 0,
                "refresh": 1,
                "multi": False,
                "includeAll": False,
                "current": {},
                "options": [],
            },
            # job and instance: multi-select with All = ".+" (dashboard-linter's template
            # job/instance rules), so several clawprobe exporters can be shown together.
            query_var("job", "Job", "label_values(clawprobe_build_info, job)", True, True, ".+"),
            query_var("instance", "Instance",
                      'label_values(clawprobe_build_info{job=~"$job"}, instance)', True, True, ".+"),
            query_var("agent", "Agent",
                      'label_values(clawprobe_agent_up{job=~"$job", instance=~"$instance"}, agent)',
                      agent_multi, agent_multi),
            query_var("provider", "Provider",
                      f"label_values(clawprobe_model_up{{{route}}}, provider)", True, True),
            query_var("model", "Model",
                      f'label_values(clawprobe_model_up{{{route}, provider=~"$provider"}}, model)',
                      True, True),
        ]
    }


def dashboard(uid, title, description, panels, agent_multi, links):
    return {
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
        ],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                },
                {
                    "datasource": DS,
                    "enable": True,
                    "hide": False,
                    "iconColor": "orange",
                    "name": "Config reloads",
                    "expr": 'changes(clawprobe_config_last_reload_success_timestamp_seconds{job=~"$job",instance=~"$instance"}[2m]) > 0',
                    "step": "60s",
                    "titleFormat": "clawprobe config reloaded",
                    "textFormat": "{{instance}}",
                },
            ]
        },
        "description": description,
        # Provisioned dashboards are read-only; edit dashboards/generate.py instead
        # (dashboard-linter: uneditable-dashboard).
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": links,
        "liveNow": False,
        "panels": panels,
        "refresh": "1m",
        "schemaVersion": 39,
        "tags": ["clawprobe", "openclaw"],
        "templating": variables(agent_multi),
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


AGENT_LINK = [
    {
        "title": "Open agent ${__value.raw}",
        "url": "/d/clawprobe-agent/clawprobe-agent?var-datasource=${datasource}&var-job=${job}"
               "&var-instance=${instance}&var-agent=${__value.raw}&${__url_time_range}",
    }
]


def overview():
    L = Layout()
    L.row("Agents")
    red_if_any = [{"color": "green", "value": None}, {"color": "red", "value": 1}]
    yellow_if_any = [{"color": "green", "value": None}, {"color": "orange", "value": 1}]
    L.add(stat("Agents with no working model",
               [target(f"count(clawprobe_agent_up{{{sel()}}} == 0) or vector(0)", "down", instant=True)],
               "Agents for which every model in the chain failed its last probe "
               "(alert ClawprobeAgentNoWorkingModel).", thresholds=red_if_any), 3, 4)
    L.add(stat("Agents on a fallback",
               [target(f"count((clawprobe_agent_up{{{sel()}}} == 1) and on (job, instance, agent) "
                       f"(clawprobe_agent_primary_up{{{sel()}}} == 0)) or vector(0)", "on fallback",
                       instant=True)],
               "Agents whose primary model is down while a fallback works (from the verdicts; "
               "from real traffic: alert ClawprobeFallbackEngaged).", thresholds=yellow_if_any), 3, 4)
    L.add(stat("Agents without fallbacks",
               [target(f"count(clawprobe_agent_fallbacks{{{sel()}}} == 0) or vector(0)",
                       "no fallbacks", instant=True)],
               "Agents with only a primary model configured.",
               thresholds=[{"color": "green", "value": None}, {"color": "blue", "value": 1}]), 3, 4)
    L.add(stat("Working models",
               [target(f"sum(clawprobe_model_up{{{rsel()}}})", "up", instant=True, ref="A"),
                target(f"count(clawprobe_model_up{{{rsel()}}})", "in chains", instant=True, ref="B")],
               "Chain entries whose last probe succeeded, and all chain entries.",
               color_mode="value", text_mode="value_and_name"), 3, 4)
    L.add(stat("Failing models",
               [target('count(clawprobe_model_status{' + sel('class!~"ok|skipped"') + '} == 1) or vector(0)',
                       "failing", instant=True)],
               "Chain entries whose current class is neither ok nor skipped.",
               thresholds=yellow_if_any), 3, 4)
    L.add(stat("Exporter up",
               [target('min(up{job=~"$job",instance=~"$instance"})', "up", instant=True)],
               "Whether Prometheus can scrape clawprobe (alerts ClawprobeExporterDown/Absent).",
               mappings=UP_MAPPINGS,
               thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]), 3, 4)
    L.add(stat("Config reload",
               [target('min(clawprobe_config_last_reload_successful{job=~"$job",instance=~"$instance"})',
                       "reload", instant=True)],
               "Whether the last reload of clawprobe's and OpenClaw's configuration succeeded.",
               mappings=[{"type": "value", "options": {
                   "0": {"text": "FAILED", "color": "red", "index": 0},
                   "1": {"text": "ok", "color": "green", "index": 1}}}],
               thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]), 3, 4)
    L.add(stat("Version",
               [target('count by (version) (clawprobe_build_info{job=~"$job",instance=~"$instance"})',
                       "{{version}}", instant=True)],
               "clawprobe versions running (value: number of instances).",
               color_mode="none", text_mode="name"), 3, 4)

    L.add(table(
        "Agents",
        [target(f"clawprobe_agent_up{{{sel()}}}", ref="A", instant=True, fmt="table"),
         target(f"clawprobe_agent_primary_up{{{sel()}}}", ref="B", instant=True, fmt="table"),
         target(f"clawprobe_agent_models_up{{{sel()}}}", ref="C", instant=True, fmt="table"),
         target(f"clawprobe_agent_fallbacks{{{sel()}}}", ref="D", instant=True, fmt="table")],
        "One row per agent: whether any model works, whether the primary works, how many "
        "models work, how many fallbacks are configured. Click an agent for its dashboard.",
        renames={"Value #A": "agent up", "Value #B": "primary up",
                 "Value #C": "models up", "Value #D": "fallbacks"},
        overrides=[cell_colour_override("agent up", UP_MAPPINGS),
                   cell_colour_override("primary up", UP_MAPPINGS)],
        links=AGENT_LINK,
    ), 14, 8)
    L.add(firing_alerts_table(
        "Firing clawprobe alerts",
        "Alerts from alerts/clawprobe.rules.yml firing now, from Prometheus's ALERTS series "
        "(exporter-wide alerts have no agent)."), 10, 8)

    L.row("Chains")
    L.add(state_timeline(
        "Chain matrix: class of every model over time",
        class_code_expr(),
        "{{agent}} · {{role}} · {{provider}}/{{model}}",
        "Each row is one chain entry (agent, role, provider/model), coloured by the class of "
        "its last probe: green ok, grey skipped, yellow rate_limit, orange overloaded/timeout/"
        "network, dark red server_error, purple bad/invalid responses, blue unresolved_ref, "
        "red billing/auth."), 24, 12)
    L.add(timeseries(
        "Probe errors by class",
        [target(f'sum by (class) (increase(clawprobe_probe_errors_total{{{sel(agent=False, model=True)}}}[$__rate_interval]))',
                "{{class}}")],
        "Failed probes per class (all providers), per interval.", stacked=True, interval="5m",
        draw="bars"), 12, 8)
    L.add(timeseries(
        "Probe errors by provider",
        [target(f'sum by (provider, class) (increase(clawprobe_probe_errors_total{{{sel(agent=False, model=True)}}}[$__rate_interval]))',
                "{{provider}} {{class}}")],
        "Failed probes per provider and class, per interval.", stacked=True, interval="5m",
        draw="bars"), 12, 8)
    L.add(timeseries(
        "Probes by tier",
        [target(f'sum by (tier) (increase(clawprobe_probes_total{{{sel(agent=False, provider=True)}}}[$__rate_interval]))',
                "{{tier}}")],
        "Probes sent per tier (metadata: zero tokens; generation: cheapest real call).",
        stacked=True, interval="5m", draw="bars"), 12, 8)
    L.add(table(
        "Verdict age and source",
        [target(f"(time() - clawprobe_model_verdict_timestamp_seconds{{{rsel()}}}) "
                f"* on (job, instance, agent, role, provider, model) group_left (source) "
                f"(clawprobe_model_verdict_source{{{rsel()}}} == 1)", ref="A", instant=True,
                fmt="table"),
         target(f"clawprobe_model_verdict_stale{{{rsel()}}}", ref="B", instant=True, fmt="table")],
        "How old the evidence behind each route's verdict is, where it comes from (static, "
        "metadata, generation, credential, openclaw_state, traffic), and whether it is stale "
        "(older than 3x the route's expected probe interval: alert ClawprobeProbesStale).",
        renames={"Value #A": "verdict age", "Value #B": "stale"},
        unit="dtdurations", sort_by="verdict age", links=AGENT_LINK,
        overrides=[cell_colour_override("stale", [{"type": "value", "options": {
            "0": {"text": "fresh", "color": "green", "index": 0},
            "1": {"text": "STALE", "color": "orange", "index": 1}}}])],
    ), 12, 8)

    L.row("Credentials")
    L.add(table(
        "Credential health",
        [target(f"clawprobe_credential_routes{{{sel(agent=False, provider=True)}}} "
                f"* on (job, instance, provider, credential) group_left (class) "
                f"(clawprobe_credential_status{{{sel(agent=False, provider=True)}}} == 1)",
                instant=True, fmt="table")],
        "Each credential's own health (profile id or env:VAR, never the key) and how many "
        "chain entries try it first. A route can be up while its first credential fails: "
        "OpenClaw rotates to the next profile (alerts ClawprobeCredentialFailing, "
        "ClawprobeCredentialRateLimited).",
        renames={"Value": "routes"}, sort_by="class",
        overrides=[cell_colour_override("class", class_mappings_by_text())]), 12, 8)
    L.add(timeseries(
        "Credentials failing",
        [target(f'count by (provider, class) (clawprobe_credential_status{{{sel("class!~" + chr(34) + "ok|skipped" + chr(34), agent=False, provider=True)}}} == 1)',
                "{{provider}} {{class}}")],
        "Credentials whose own health is not ok, by provider and class.", stacked=True,
        step=True), 12, 8)

    L.row("Real traffic (OpenClaw's log)")
    L.add(state_timeline(
        "Fallback engaged",
        f"clawprobe_traffic_fallback_engaged{{{sel()}}}",
        "{{agent}}",
        "Per agent: whether its latest served request was answered by its primary or by a "
        "fallback (alert ClawprobeFallbackEngaged after 15 minutes).",
        mappings=FALLBACK_MAPPINGS), 12, 8)
    L.add(table(
        "Serving model",
        [target(f"clawprobe_traffic_serving_model{{{rsel()}}} == 1", instant=True, fmt="table")],
        "The model that served each agent's latest successful request, from OpenClaw's log.",
        hide=("Time", "__name__", "job", "Value"), links=AGENT_LINK), 12, 8)
    L.add(timeseries(
        "Chain exhausted (real requests)",
        [target(f'sum by (agent) (increase(clawprobe_traffic_chain_exhausted_total{{{sel()}}}[$__rate_interval]))',
                "{{agent}}")],
        "Real requests that failed on every model of the agent's chain: users got \"all "
        "models failed\" (alert ClawprobeTrafficChainExhausted).", stacked=True,
        interval="5m", draw="bars"), 8, 8)
    L.add(timeseries(
        "Real-traffic failures by class",
        [target(f'sum by (provider, model, class) (increase(clawprobe_traffic_failures_total{{{sel(agent=False, model=True)}}}[$__rate_interval]))',
                "{{provider}}/{{model}} {{class}}")],
        "Failed candidates of real requests per route and class, from OpenClaw's log.",
        stacked=True, interval="5m", draw="bars"), 8, 8)
    L.add(timeseries(
        "Fallback decisions",
        [target(f'sum by (decision) (increase(clawprobe_traffic_decisions_total{{{rsel()}}}[$__rate_interval]))',
                "{{decision}}")],
        "OpenClaw's model_fallback_decision events by decision (skip_candidate, "
        "probe_cooldown_candidate, candidate_failed, candidate_succeeded).", stacked=True,
        interval="5m", draw="bars"), 8, 8)

    L.row("Latency")
    L.add(timeseries(
        "Probe latency p50 / p95 by provider",
        [target(f'histogram_quantile(0.5, sum by (provider, le) (rate(clawprobe_probe_duration_seconds_bucket{{{sel(agent=False, provider=True)}}}[$__rate_interval])))',
                "p50 {{provider}}", ref="A"),
         target(f'histogram_quantile(0.95, sum by (provider, le) (rate(clawprobe_probe_duration_seconds_bucket{{{sel(agent=False, provider=True)}}}[$__rate_interval])))',
                "p95 {{provider}}", ref="B")],
        "Probe round-trip time by provider, all tiers.", unit="s", interval="5m"), 12, 8)
    L.add(timeseries(
        "Probe latency p95 by provider and tier",
        [target(f'histogram_quantile(0.95, sum by (provider, tier, le) (rate(clawprobe_probe_duration_seconds_bucket{{{sel(agent=False, provider=True)}}}[$__rate_interval])))',
                "{{provider}} {{tier}}")],
        "Generation probes are slower than metadata probes; compare like with like.",
        unit="s", interval="5m"), 12, 8)

    L.row("Rate limits and probe budget")
    L.add(timeseries(
        "Rate-limit headroom (remaining / limit)",
        [target(f'clawprobe_ratelimit_remaining{{{sel(agent=False, provider=True)}}} / (clawprobe_ratelimit_limit{{{sel(agent=False, provider=True)}}} > 0)',
                "{{provider}} {{profile}} {{resource}}")],
        "Share of each provider rate limit left at the last probe, from the provider's "
        "rate-limit headers (alert ClawprobeRateLimitHeadroomLow below 10%).",
        unit="percentunit", min_=0, max_=1, step=True), 12, 8)
    L.add(timeseries(
        "Rate-limit reset in",
        [target(f'clamp_min(clawprobe_ratelimit_reset_timestamp_seconds{{{sel(agent=False, provider=True)}}} - time(), 0)',
                "{{provider}} {{profile}} {{resource}}")],
        "Time until each provider rate-limit window resets, as announced at the last probe.",
        unit="s", step=True), 12, 8)
    L.add(timeseries(
        "Probe budget remaining",
        [target(f'clawprobe_budget_remaining{{{sel(agent=False)}}}', "{{provider}} {{unit}}")],
        "What is left of clawprobe's daily generation-probe budget (_global is the overall "
        "cap). At 0 generation probes are skipped (alert ClawprobeProbeBudgetExhausted).",
        step=True), 8, 8)
    L.add(timeseries(
        "Tokens spent by probes",
        [target(f'sum by (provider, direction) (increase(clawprobe_probe_tokens_total{{{sel(agent=False, provider=True)}}}[$__rate_interval]))',
                "{{provider}} {{direction}}")],
        "Tokens the generation probes used, as reported by the providers.", stacked=True,
        interval="5m", draw="bars"), 8, 8)
    L.add(timeseries(
        "Skipped probes",
        [target(f'sum by (provider, reason) (increase(clawprobe_probes_skipped_total{{{sel(agent=False, provider=True)}}}[$__rate_interval]))',
                "{{provider}} {{reason}}")],
        "Probes not sent: budget (over the daily cap), backoff (re-check of a failing "
        "target not due yet), retry_after (the provider asked to wait).", stacked=True,
        interval="5m", draw="bars"), 8, 8)

    L.row("Credentials and OpenClaw state")
    L.add(table(
        "Credentials by expiry",
        [target(f"clawprobe_credential_expiry_timestamp_seconds{{{sel(provider=True)}}} - time()",
                instant=True, fmt="table")],
        "Time until each token credential expires (negative: expired). Alerts "
        "ClawprobeCredentialExpiringSoon (< 3 days) and ClawprobeCredentialExpired.",
        renames={"Value": "expires in"}, unit="dtdurations", sort_by="expires in",
        links=AGENT_LINK), 12, 8)
    L.add(timeseries(
        "OpenClaw cooldown / disable remaining",
        [target(f'clamp_min(clawprobe_openclaw_profile_cooldown_until_timestamp_seconds{{{sel(agent=False, provider=True)}}} - time(), 0)',
                "cooldown {{provider}} {{profile}} ({{reason}})", ref="A"),
         target(f'clamp_min(clawprobe_openclaw_profile_disabled_until_timestamp_seconds{{{sel(agent=False, provider=True)}}} - time(), 0)',
                "disabled {{provider}} {{profile}} ({{reason}})", ref="B")],
        "OpenClaw's own auth-profile state: while above 0 the gateway avoids the profile.",
        unit="s", step=True), 12, 8)
    L.add(timeseries(
        "OpenClaw profile error counts",
        [target(f'clawprobe_openclaw_profile_errors{{{sel(agent=False, provider=True)}}}',
                "{{provider}} {{profile}} {{reason}}")],
        "OpenClaw's failure counts per auth profile and reason, as recorded by the gateway.",
        step=True), 24, 7)

    L.row("clawprobe itself")
    inst = 'job=~"$job",instance=~"$instance"'
    L.add(stat("OpenClaw install",
               [target(f"clawprobe_openclaw_install_status{{{inst}}} == 1", "{{status}}",
                       instant=True)],
               "What clawprobe found where it looks for OpenClaw: ok, missing, unreadable or "
               "disabled (alert ClawprobeOpenClawInstallUnreadable).",
               color_mode="none", text_mode="name"), 4, 4)
    L.add(stat("Targets",
               [target(f"sum(clawprobe_plan_targets{{{inst}}})", "targets", instant=True)],
               "Probe targets in the current plan (alert ClawprobeNoTargets at 0).",
               thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]), 4, 4)
    L.add(stat("OpenClaw log followed",
               [target(f"min(clawprobe_traffic_log_following{{{inst}}})", "following", instant=True)],
               "Whether clawprobe follows OpenClaw's log (alert ClawprobeTrafficLogNotFollowed).",
               mappings=OK_MAPPINGS,
               thresholds=[{"color": "orange", "value": None}, {"color": "green", "value": 1}]), 4, 4)
    L.add(timeseries(
        "Static findings by class",
        [target(f"sum by (class) (clawprobe_plan_findings{{{inst}}})", "{{class}}")],
        "Problems found in the install without sending a request (unresolved refs, missing "
        "credentials, ...), as clawprobe check reports them.", step=True), 12, 4)
    L.add(timeseries(
        "Resident memory",
        [target(f"process_resident_memory_bytes{{{inst}}}", "{{instance}}")],
        "clawprobe's resident memory (process_resident_memory_bytes).", unit="bytes"), 12, 6)
    L.add(timeseries(
        "CPU",
        [target(f"rate(process_cpu_seconds_total{{{inst}}}[$__rate_interval])", "{{instance}}")],
        "CPU seconds per second clawprobe uses (1 = one core).", unit="short",
        interval="1m"), 12, 6)

    return dashboard(
        "clawprobe-overview",
        "clawprobe / Overview",
        "Health of every OpenClaw agent's model chain as probed by clawprobe.",
        L.panels,
        agent_multi=True,
        links=[{"title": "Agent drill-down", "type": "dashboards", "tags": ["clawprobe"],
                "asDropdown": True, "includeVars": True, "keepTime": True,
                "targetBlank": False, "icon": "external link", "tooltip": "", "url": ""}],
    )


def agent_dash():
    L = Layout()
    L.row("Agent $agent")
    L.add(stat("Agent up", [target(f"max(clawprobe_agent_up{{{sel()}}})", instant=True)],
               "1 if at least one model in the chain works.", mappings=UP_MAPPINGS,
               thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]), 6, 4)
    L.add(stat("Primary up", [target(f"max(clawprobe_agent_primary_up{{{sel()}}})", instant=True)],
               "1 if the primary model works; 0 with the agent up means it runs on a fallback.",
               mappings=UP_MAPPINGS,
               thresholds=[{"color": "orange", "value": None}, {"color": "green", "value": 1}]), 6, 4)
    L.add(stat("Working models", [target(f"max(clawprobe_agent_models_up{{{sel()}}})", instant=True)],
               "Chain entries whose last probe succeeded.",
               thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}]), 6, 4)
    L.add(stat("Fallbacks configured", [target(f"max(clawprobe_agent_fallbacks{{{sel()}}})", instant=True)],
               "Configured fallback models (0: alert ClawprobeAgentNoFallbacks).",
               thresholds=[{"color": "blue", "value": None}, {"color": "green", "value": 1}]), 6, 4)

    L.add(table(
        "Chain",
        [target(f"clawprobe_model_up{{{rsel()}}} * on (job, instance, agent, role, provider, model) "
                f"group_left (class) (clawprobe_model_status{{{rsel()}}} == 1)",
                instant=True, fmt="table")],
        "The chain in order (position 0 is the primary) with each entry's current class.",
        renames={"Value": "up"}, sort_by="position",
        overrides=[cell_colour_override("up", UP_MAPPINGS),
                   cell_colour_override("class", class_mappings_by_text())],
    ), 14, 8)
    L.add(table(
        "Freshness",
        [target(f"time() - clawprobe_model_last_probe_timestamp_seconds{{{rsel()}}}", ref="A",
                instant=True, fmt="table"),
         target(f"time() - clawprobe_model_last_success_timestamp_seconds{{{rsel()}}}", ref="B",
                instant=True, fmt="table")],
        "Time since each entry was last probed and last succeeded.",
        renames={"Value #A": "since last probe", "Value #B": "since last success"},
        hide=("Time", "__name__", "job", "instance", "agent"), unit="dtdurations"), 10, 8)
    L.add(firing_alerts_table(
        "Firing alerts for this agent",
        "clawprobe alerts firing now for this agent, from Prometheus's ALERTS series.",
        agent_only=True), 24, 6)

    L.add(stat("Fallback engaged (real traffic)",
               [target(f"max(clawprobe_traffic_fallback_engaged{{{sel()}}})", instant=True)],
               "Whether this agent's latest served request came from a fallback (OpenClaw's "
               "log).", mappings=FALLBACK_MAPPINGS,
               thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]), 6, 4)
    L.add(stat("Served by (real traffic)",
               [target(f"clawprobe_traffic_serving_model{{{rsel()}}} == 1",
                       "{{provider}}/{{model}} ({{role}})", instant=True)],
               "The model that served this agent's latest successful request.",
               color_mode="none", text_mode="name"), 6, 4)
    L.add(stat("Chain exhausted, last 24h",
               [target(f"sum(increase(clawprobe_traffic_chain_exhausted_total{{{sel()}}}[24h])) or vector(0)",
                       instant=True)],
               "Real requests that failed on every model of this chain in the last 24 hours.",
               thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}]), 6, 4)
    L.add(table(
        "Verdict sources",
        [target(f"(time() - clawprobe_model_verdict_timestamp_seconds{{{rsel()}}}) "
                f"* on (job, instance, agent, role, provider, model) group_left (source) "
                f"(clawprobe_model_verdict_source{{{rsel()}}} == 1)", instant=True, fmt="table")],
        "Where each entry's verdict comes from and how old its evidence is.",
        renames={"Value": "age"}, unit="dtdurations",
        hide=("Time", "__name__", "job", "instance", "agent")), 6, 4)

    L.add(state_timeline(
        "Chain classes over time",
        class_code_expr(),
        "{{role}} · {{provider}}/{{model}}",
        "Each row is one chain entry coloured by the class of its last probe."), 24, 8)
    L.add(timeseries(
        "Model up by position",
        [target(f"clawprobe_model_up{{{rsel()}}}", "{{position}} {{role}} {{provider}}/{{model}}")],
        "1 while the entry's last probe succeeded.", min_=0, max_=1, step=True), 12, 8)
    L.add(timeseries(
        "Probe errors for this agent's models",
        [target(f'sum by (provider, model, class) (increase(clawprobe_probe_errors_total{{{sel(agent=False, model=True)}}}[$__rate_interval]) '
                f'and on (job, instance, provider, model) clawprobe_model_up{{{rsel()}}})',
                "{{provider}}/{{model}} {{class}}")],
        "Failed probes per model and class (a model shared with other agents counts once).",
        stacked=True, interval="5m", draw="bars"), 12, 8)
    L.add(timeseries(
        "Probe latency p95 (this agent's providers)",
        [target(f'histogram_quantile(0.95, sum by (provider, tier, le) (rate(clawprobe_probe_duration_seconds_bucket{{{sel(agent=False, provider=True)}}}[$__rate_interval]) '
                f'and on (job, instance, provider) clawprobe_model_up{{{rsel()}}}))',
                "{{provider}} {{tier}}")],
        "p95 probe round trip of the providers this agent uses.", unit="s", interval="5m"),
        12, 8)
    L.add(timeseries(
        "Rate-limit headroom (this agent's providers)",
        [target(f'(clawprobe_ratelimit_remaining{{{sel(agent=False, provider=True)}}} / (clawprobe_ratelimit_limit{{{sel(agent=False, provider=True)}}} > 0)) '
                f'and on (job, instance, provider) clawprobe_model_up{{{rsel()}}}',
                "{{provider}} {{profile}} {{resource}}")],
        "Share of the provider rate limits left at the last probe.", unit="percentunit",
        min_=0, max_=1, step=True), 12, 8)
    L.add(table(
        "Credentials by expiry",
        [target(f"clawprobe_credential_expiry_timestamp_seconds{{{sel(provider=True)}}} - time()",
                instant=True, fmt="table")],
        "Time until each token credential of this agent expires (negative: expired).",
        renames={"Value": "expires in"}, unit="dtdurations", sort_by="expires in",
        hide=("Time", "__name__", "job", "instance")), 12, 8)
    L.add(timeseries(
        "OpenClaw cooldown / disable remaining (this agent's providers)",
        [target(f'clamp_min(clawprobe_openclaw_profile_cooldown_until_timestamp_seconds{{{sel(agent=False, provider=True)}}} - time(), 0) '
                f'and on (job, instance, provider) clawprobe_model_up{{{rsel()}}}',
                "cooldown {{provider}} {{profile}} ({{reason}})", ref="A"),
         target(f'clamp_min(clawprobe_openclaw_profile_disabled_until_timestamp_seconds{{{sel(agent=False, provider=True)}}} - time(), 0) '
                f'and on (job, instance, provider) clawprobe_model_up{{{rsel()}}}',
                "disabled {{provider}} {{profile}} ({{reason}})", ref="B")],
        "OpenClaw's own auth-profile state for the providers this agent uses.", unit="s",
        step=True), 12, 8)

    return dashboard(
        "clawprobe-agent",
        "clawprobe / Agent",
        "One OpenClaw agent's model chain as probed by clawprobe.",
        L.panels,
        agent_multi=False,
        links=[{"title": "Overview", "type": "link", "icon": "dashboard", "includeVars": False,
                "keepTime": True, "targetBlank": False, "tooltip": "", "tags": [],
                "asDropdown": False,
                "url": "/d/clawprobe-overview/clawprobe-overview?var-datasource=${datasource}&var-job=${job}&var-instance=${instance}"}],
    )


def class_mappings_by_text():
    opts = {name: {"text": name, "color": color, "index": i} for i, (name, color) in enumerate(CLASSES)}
    return [{"type": "value", "options": opts}]


def render(d):
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"


def main():
    outputs = {
        HERE / "clawprobe-overview.json": render(overview()),
        HERE / "clawprobe-agent.json": render(agent_dash()),
    }
    if "--check" in sys.argv[1:]:
        stale = [p.name for p, text in outputs.items()
                 if not p.exists() or p.read_text(encoding="utf-8") != text]
        if stale:
            print("dashboards out of date, run python3 dashboards/generate.py: " + ", ".join(stale),
                  file=sys.stderr)
            return 1
        return 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
