#!/usr/bin/env python3
"""Generates alerts/clawprobe.rules.yml from alerts/config.toml.

    python3 alerts/generate.py                  # rewrite alerts/clawprobe.rules.yml
    python3 alerts/generate.py --check          # exit 1 with a diff if the committed file is stale
    python3 alerts/generate.py --set selector='job="monitoring/clawprobe"' --out -   # to stdout

Why generated: the exporter selector, the runbook base URL and the `for:` durations are
deployment choices that every expression and annotation repeats. Monitoring mixins keep them
in one `_config`; alerts/config.toml is that place, and this script writes the rule file
Prometheus loads (and that scripts/sync-prometheusrule.py copies into the PrometheusRule).
Needs only Python 3.11+ (tomllib); the output is plain YAML written here, checked by
`promtool check rules` and unit-tested by `promtool test rules alerts/tests/*.test.yml`.

Design (docs/runbooks.md, "How the alerts fit together", says it for operators):
- one alert per root cause: a credential that fails with a credential-wide class (auth,
  billing; rate_limit when the provider says the limit is the key's) is ONE alert naming the
  credential and the routes it breaks; the per-route alerts leave out the routes it explains
  (same provider and class), so the same failure is never reported once per model;
- per-route alerts carry agent, role, provider and model, so Alertmanager can let an agent
  with no working model inhibit them (deploy/compose/alertmanager/alertmanager.yml);
- the verdict semantics of the exporter (clawprobe_model_up is the fused verdict, stable
  while nothing changes at the provider) let route alerts fire after one `for:` without
  re-deriving probe timing here; staleness uses each route's own expected interval
  (clawprobe_model_verdict_stale), not a fixed time.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    sys.exit("alerts/generate.py needs Python 3.11 or newer (tomllib)")

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE / "config.toml"
DEFAULT_OUT = HERE / "clawprobe.rules.yml"

# Labels that identify one clawprobe exporter; every join and aggregation keeps them.
INST = "job, instance"
ROUTE = f"{INST}, agent, role, provider, model"

# Recording rules (level:metric:operations). Each is used by the alerts below.
CLASS = "agent_model:clawprobe_model_status:current"
CRED_CLASS = "provider_credential:clawprobe_credential_status:current"

DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


class ConfigError(Exception):
    pass


def load_config(path: Path, overrides: list[str]) -> dict:
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: not found") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        *parents, leaf = key.split(".")
        node = cfg
        for p in parents:
            node = node.setdefault(p, {})
        if leaf not in node:
            raise ConfigError(f"--set {key}: no such key in {path}")
        node[leaf] = type(node[leaf])(value)
    sel = cfg.get("selector", "")
    if not isinstance(sel, str) or not sel.strip() or "{" in sel or "}" in sel:
        raise ConfigError(f"{path}: selector must be PromQL label matchers without braces, "
                          f"like 'job=\"clawprobe\"' (got {sel!r})")
    for section in ("for",):
        for k, v in cfg.get(section, {}).items():
            if not DURATION.match(str(v)):
                raise ConfigError(f"{path}: [{section}] {k} = {v!r} is not a Prometheus duration")
    if not DURATION.match(str(cfg["thresholds"]["chain_exhausted_window"])):
        raise ConfigError(f"{path}: [thresholds] chain_exhausted_window is not a duration")
    for k in ("runbook_url", "dashboard_url"):
        if not isinstance(cfg.get(k), str) or not cfg[k]:
            raise ConfigError(f"{path}: {k} must be a non-empty string")
    return cfg


def rules(cfg: dict) -> list[dict]:
    S = cfg["selector"].strip().rstrip(",")
    F = cfg["for"]
    T = cfg["thresholds"]
    runbook = cfg["runbook_url"].rstrip("#")
    dash = cfg["dashboard_url"]

    def m(name: str, extra: str = "") -> str:
        """A clawprobe series selected by the configured selector (plus extra matchers)."""
        return f"{name}{{{S}{',' + extra if extra else ''}}}"

    def agent_dash() -> str:
        return f"{dash}/d/clawprobe-agent/clawprobe-agent?var-agent={{{{ $labels.agent }}}}"

    overview_dash = f"{dash}/d/clawprobe-overview/clawprobe-overview"

    def alert(name, expr, for_, severity, summary, description, dashboard, comment=None):
        r = {"alert": name, "expr": expr.strip(), "for": for_,
             "labels": {"severity": severity},
             "annotations": {"summary": summary, "description": description,
                             "runbook_url": f"{runbook}#{name.lower()}",
                             "dashboard_url": dashboard}}
        if comment:
            r["#"] = comment
        return r

    # Go-template fragments shared by several descriptions. `query` results come back sorted
    # by their labels; sortByLabel keeps that order among equal keys.
    route_impact = (
        '{{ if eq $labels.role "primary" }} While it lasts, agent {{ $labels.agent }} answers '
        'from a fallback if one works ({{ with printf "clawprobe_agent_up{job=%q,instance=%q,'
        'agent=%q}" $labels.job $labels.instance $labels.agent | query }}{{ if eq (. | first | '
        'value) 1.0 }}one does{{ else }}none does: see ClawprobeAgentNoWorkingModel{{ end }}'
        '{{ else }}agent state unknown{{ end }}).{{ else }} A hole in the safety net of agent '
        '{{ $labels.agent }}: OpenClaw skips this fallback.{{ end }}'
    )
    chain = (
        '{{ with printf "' + CLASS + '{job=%q,instance=%q,agent=%q}" $labels.job '
        '$labels.instance $labels.agent | query }}{{ range . | sortByLabel "model" }} '
        '{{ .Labels.provider }}/{{ .Labels.model }} ({{ .Labels.role }}) = {{ .Labels.class }};'
        '{{ end }}{{ end }}'
    )
    credential_routes = (
        '{{ with printf "' + CLASS + '{job=%q,instance=%q,provider=%q,class=%q}" $labels.job '
        '$labels.instance $labels.provider $labels.class | query }}{{ range . | sortByLabel '
        '"model" | sortByLabel "agent" }} {{ .Labels.agent }}: {{ .Labels.provider }}/{{ .Labels.model }} '
        '({{ .Labels.role }});{{ end }}{{ else }} none right now (another profile in their '
        'rotation answers);{{ end }}'
        ' It is the first credential tried by {{ with printf "clawprobe_credential_routes'
        '{job=%q,instance=%q,provider=%q,credential=%q}" $labels.job $labels.instance '
        '$labels.provider $labels.credential | query }}{{ . | first | value }}{{ else }}an '
        'unknown number of{{ end }} chain entries.'
    )
    # Routes whose class a failing credential of the same provider explains: left out of the
    # per-route alerts (one alert per root cause). Set operators match many-to-many on the
    # listed labels, so this needs no group modifier.
    explained_by_credential = (
        f"{CLASS}{{class=~\"auth|billing|rate_limit\"}}\n"
        f"    and on ({INST}, provider, class)\n"
        f"  {CRED_CLASS}{{class=~\"auth|billing|rate_limit\"}}"
    )
    expired = (f'label_replace({m("clawprobe_credential_expiry_timestamp_seconds")} <= time(), '
               f'"credential", "$1", "profile", "(.*)")')

    recording = [
        {"#": "The current class of each chain entry as one series with value 1 (the state "
              "set clawprobe_model_status without its zero members). Level agent_model: one "
              "series per (agent, role, provider, model), the labels of the per-route alerts.",
         "record": CLASS, "expr": f"{m('clawprobe_model_status')} == 1"},
        {"#": "The current class of each credential's own health (clawprobe_credential_status "
              "without its zero members); one series per (provider, credential).",
         "record": CRED_CLASS, "expr": f"{m('clawprobe_credential_status')} == 1"},
    ]

    agents = [
        alert(
            "ClawprobeAgentNoWorkingModel",
            f"""
{m('clawprobe_agent_up')} == 0
  and on ({INST}, agent)
count by ({INST}, agent) ({CLASS}{{class!="skipped"}})
""", F["agent_no_working_model"], "critical",
            "OpenClaw agent {{ $labels.agent }} has no working model",
            "Every model in the chain of agent {{ $labels.agent }} has been down for "
            f"{F['agent_no_working_model']}, so OpenClaw cannot answer for this agent "
            "(users see \"all models failed\"). Chain:" + chain,
            agent_dash(),
            comment="Only agents with at least one probed (non-skipped) entry: an agent whose "
                    "models are all unprobeable (e.g. Bedrock) is unknown, not down."),
        alert(
            "ClawprobeTrafficChainExhausted",
            f"""
(
  sum by ({INST}, agent) (increase({m('clawprobe_traffic_chain_exhausted_total')}[{T['chain_exhausted_window']}])) > 0
)
or
(
  sum by ({INST}, agent) (
    {m('clawprobe_traffic_chain_exhausted_total')}
      unless
    {m('clawprobe_traffic_chain_exhausted_total')} offset {T['chain_exhausted_window']}
  ) > 0
    and on ({INST})
  up{{{S}}} offset {T['chain_exhausted_window']}
)
""", "0m", "critical",
            "Real requests to agent {{ $labels.agent }} failed on every model",
            "{{ $value | printf \"%.0f\" }} request(s) to agent {{ $labels.agent }} failed on "
            f"every model of its chain in the last {T['chain_exhausted_window']} (OpenClaw's "
            "own log, model_fallback_decision events): its users got \"all models failed\". "
            "Probes say:" + chain,
            agent_dash(),
            comment="From OpenClaw's own log: a request that failed on every candidate. The "
                    "second branch catches the first event of a counter series that did not "
                    "exist a window ago (increase() cannot see a series born at 1), but only "
                    "if the exporter was scraped a window ago, so a Prometheus restart or a "
                    "scrape gap does not replay old events."),
        alert(
            "ClawprobeFallbackEngaged",
            f"{m('clawprobe_traffic_fallback_engaged')} == 1",
            F["fallback_engaged"], "warning",
            "Agent {{ $labels.agent }} is answering real requests from a fallback model",
            "For " + F["fallback_engaged"] + " the requests to agent {{ $labels.agent }} have "
            "been served by a model other than its primary (OpenClaw's own log); the last one "
            "by {{ with printf \"clawprobe_traffic_serving_model{job=%q,instance=%q,agent=%q} "
            "== 1\" $labels.job $labels.instance $labels.agent | query }}{{ with . | first }}"
            "{{ .Labels.provider }}/{{ .Labels.model }} ({{ .Labels.role }}){{ end }}{{ else }}"
            "a model clawprobe does not know{{ end }}. Fallbacks are often slower or dearer "
            "and each request first waits for the primary to fail.{{ with printf \""
            + CLASS + "{job=%q,instance=%q,agent=%q,role=\\\"primary\\\"}\" $labels.job "
            "$labels.instance $labels.agent | query }}{{ with . | first }} Probes say the "
            "primary {{ .Labels.provider }}/{{ .Labels.model }} is {{ .Labels.class }}.{{ end }}"
            "{{ end }}",
            agent_dash()),
        alert(
            "ClawprobeAgentNoFallbacks",
            f"{m('clawprobe_agent_fallbacks')} == 0",
            F["agent_no_fallbacks"], "info",
            "Agent {{ $labels.agent }} has no fallback model configured",
            "Agent {{ $labels.agent }} has only its primary model; when that model or its "
            "provider fails the agent stops answering. Add a fallback on another provider.",
            agent_dash()),
    ]

    credentials = [
        alert(
            "ClawprobeCredentialFailing",
            f"""
{CRED_CLASS}{{class=~"auth|billing"}}
  unless on ({INST}, provider, credential)
{expired}
""", F["credential_failing"], "warning",
            "{{ $labels.provider }} credential {{ $labels.credential }} fails with {{ "
            "$labels.class }}",
            "The {{ $labels.provider }} credential {{ $labels.credential }} has been refused "
            "with class {{ $labels.class }} for " + F["credential_failing"] + " ({{ if eq "
            "$labels.class \"billing\" }}no credit, quota or payment problem on its account"
            "{{ else }}invalid, revoked or expired key or token{{ end }}); every route that "
            "tries it first fails over or fails. Routes down with this class on {{ "
            "$labels.provider }}:" + credential_routes,
            overview_dash,
            comment="One alert per credential (profile id or env:VAR), not one per model: the "
                    "per-route alerts leave out the routes it explains. An expired token is "
                    "ClawprobeCredentialExpired instead."),
        alert(
            "ClawprobeCredentialRateLimited",
            f'{CRED_CLASS}{{class="rate_limit"}}',
            F["credential_rate_limited"], "warning",
            "{{ $labels.provider }} credential {{ $labels.credential }} is rate limited",
            "The provider has answered requests on the {{ $labels.provider }} credential {{ "
            "$labels.credential }} with a key-wide rate limit for "
            + F["credential_rate_limited"] + ": the account or key is at its request or token "
            "limit. Routes rate limited on {{ $labels.provider }}:" + credential_routes,
            overview_dash),
        alert(
            "ClawprobeCredentialExpiringSoon",
            f"""
{m('clawprobe_credential_expiry_timestamp_seconds')} - time() < {T['credential_expiring_days']} * 86400
  and
{m('clawprobe_credential_expiry_timestamp_seconds')} - time() > 0
""", F["credential_expiring"], "warning",
            "Credential {{ $labels.profile }} ({{ $labels.provider }}) expires in {{ $value | "
            "humanizeDuration }}",
            "The {{ $labels.provider }} credential {{ $labels.profile }} used by agent {{ "
            "$labels.agent }} expires in {{ $value | humanizeDuration }}; renew it before then.",
            agent_dash()),
        alert(
            "ClawprobeCredentialExpired",
            f"time() - {m('clawprobe_credential_expiry_timestamp_seconds')} >= 0",
            F["credential_expiring"], "warning",
            "Credential {{ $labels.profile }} ({{ $labels.provider }}) has expired",
            "The {{ $labels.provider }} credential {{ $labels.profile }} used by agent {{ "
            "$labels.agent }} expired {{ $value | humanizeDuration }} ago; every model that "
            "uses it fails with auth errors.",
            agent_dash(),
            comment="Value: seconds since expiry."),
        alert(
            "ClawprobeRateLimitHeadroomLow",
            f"{m('clawprobe_ratelimit_remaining')} / ({m('clawprobe_ratelimit_limit')} > 0) "
            f"< {T['ratelimit_headroom_ratio']}",
            F["ratelimit_headroom_low"], "info",
            "Less than {{ " + f"{T['ratelimit_headroom_ratio']} | humanizePercentage" + " }} "
            "of the {{ $labels.resource }} rate limit left for {{ $labels.provider }} ({{ "
            "$labels.profile }})",
            "At the last probes only {{ $value | humanizePercentage }} of the {{ "
            "$labels.resource }} limit of {{ $labels.provider }} credential {{ $labels.profile "
            "}} was left; agents on this credential are close to being rate limited.",
            overview_dash),
    ]

    routes = [
        alert(
            "ClawprobeRateLimited",
            f"""
{CLASS}{{class="rate_limit"}}
  unless on ({INST}, provider, class)
{CRED_CLASS}{{class="rate_limit"}}
""", F["rate_limited"], "warning",
            "Sustained rate limiting on {{ $labels.provider }}/{{ $labels.model }} (agent {{ "
            "$labels.agent }})",
            "Requests on the {{ $labels.role }} model {{ $labels.provider }}/{{ $labels.model "
            "}} of agent {{ $labels.agent }} have been answered with class {{ $labels.class }} "
            "for " + F["rate_limited"] + ": the model's request or token limit is reached."
            + route_impact,
            agent_dash(),
            comment="A key-wide limit is ClawprobeCredentialRateLimited, once per credential."),
        alert(
            "ClawprobeProviderOverloaded",
            f'{CLASS}{{class="overloaded"}}',
            F["provider_overloaded"], "warning",
            "Provider {{ $labels.provider }} overloaded for {{ $labels.model }} (agent {{ "
            "$labels.agent }})",
            "Provider {{ $labels.provider }} has answered requests for {{ $labels.model }} (the "
            "{{ $labels.role }} model of agent {{ $labels.agent }}) with class {{ "
            "$labels.class }} for " + F["provider_overloaded"] + ": the provider is shedding "
            "load." + route_impact,
            agent_dash()),
        alert(
            "ClawprobeUnresolvedModelRef",
            f'{CLASS}{{class="unresolved_ref"}}',
            F["unresolved_model_ref"], "warning",
            "Model ref {{ $labels.provider }}/{{ $labels.model }} of agent {{ $labels.agent }} "
            "does not resolve",
            "The {{ $labels.role }} ref {{ $labels.provider }}/{{ $labels.model }} of agent {{ "
            "$labels.agent }} has class {{ $labels.class }}: the provider or model id is "
            "unknown (wrong provider prefix, typo, retired model). OpenClaw skips this entry."
            + route_impact,
            agent_dash()),
        alert(
            "ClawprobeModelDown",
            f"""
{m('clawprobe_model_up')} == 0
  unless on ({ROUTE})
{CLASS}{{class=~"ok|skipped|rate_limit|overloaded|unresolved_ref"}}
  unless on ({ROUTE})
(
  {explained_by_credential}
)
""", F["model_down"], "warning",
            "Model {{ $labels.provider }}/{{ $labels.model }} of agent {{ $labels.agent }} is "
            "down",
            "The {{ $labels.role }} model {{ $labels.provider }}/{{ $labels.model }} (position "
            "{{ $labels.position }}) of agent {{ $labels.agent }} has been down for "
            + F["model_down"] + " (class {{ with printf \"" + CLASS + "{job=%q,instance=%q,"
            "agent=%q,role=%q,provider=%q,model=%q}\" $labels.job $labels.instance "
            "$labels.agent $labels.role $labels.provider $labels.model | query }}{{ . | first "
            "| label \"class\" }}{{ end }})." + route_impact,
            agent_dash(),
            comment="Every failure class without an alert of its own: server_error, timeout, "
                    "network, invalid_request, bad_response, unknown, and auth or billing that "
                    "no failing credential explains (a missing key). Keyed on model_up, so a "
                    "class that changes while the route stays down (timeout, then "
                    "server_error) does not restart the `for:` timer."),
    ]

    exporter = [
        alert(
            "ClawprobeOpenClawInstallUnreadable",
            f'{m("clawprobe_openclaw_install_status", "status=~" + chr(34) + "missing|unreadable" + chr(34))} == 1',
            F["install_unreadable"], "warning",
            "clawprobe on {{ $labels.instance }} cannot read the OpenClaw install ({{ "
            "$labels.status }})",
            "clawprobe on {{ $labels.instance }} has found the OpenClaw install {{ "
            "$labels.status }} for " + F["install_unreadable"] + " ({{ if eq $labels.status "
            "\"missing\" }}no openclaw.json where it looks: wrong mount, path or user{{ else "
            "}}a file is there but cannot be read or parsed: permissions or a broken "
            "openclaw.json{{ end }}). It keeps serving and keeps the last good plan, if it had "
            "one; the landing page and the log say which file.",
            overview_dash),
        alert(
            "ClawprobeNoTargets",
            f"""
{m('clawprobe_plan_targets')} == 0
  unless on ({INST})
{m('clawprobe_openclaw_install_status', 'status=~"missing|unreadable"')} == 1
""", F["no_targets"], "warning",
            "clawprobe on {{ $labels.instance }} monitors nothing",
            "clawprobe on {{ $labels.instance }} has had no probe target for "
            + F["no_targets"] + ": the OpenClaw install it reads has no agents or models "
            "({{ with printf \"clawprobe_plan_agents{job=%q,instance=%q}\" $labels.job "
            "$labels.instance | query }}{{ . | first | value }}{{ end }} agents), the `agents` "
            "filter matches none, or OpenClaw is disabled and there are no [[targets]]. Every "
            "other clawprobe alert is silent meanwhile.",
            overview_dash,
            comment="An unreadable install is ClawprobeOpenClawInstallUnreadable instead."),
        alert(
            "ClawprobeProbesStale",
            f"""
count by ({INST}) (
  {m('clawprobe_model_verdict_stale')} == 1
    unless on ({ROUTE})
  {CLASS}{{class="skipped"}}
) > 0
""", F["probes_stale"], "warning",
            "{{ $value }} route verdicts of clawprobe on {{ $labels.instance }} are stale",
            "{{ $value }} chain entries on {{ $labels.instance }} have a verdict older than "
            "three times their expected probe interval (each route's own: minutes for "
            "metadata, hours for generation-only providers), so their status is out of date. "
            "Oldest:{{ with printf \"sort_desc(topk(5, time() - (clawprobe_model_verdict_timestamp"
            "_seconds{job=%q,instance=%q} > 0) and on (job, instance, agent, role, provider, model) "
            "clawprobe_model_verdict_stale{job=%q,instance=%q} == 1))\" $labels.job "
            "$labels.instance $labels.job $labels.instance | query }}{{ range . }} "
            "{{ .Labels.agent }}: {{ .Labels.provider }}/{{ .Labels.model }} "
            "{{ .Value | humanizeDuration }};{{ end }}{{ end }}",
            overview_dash,
            comment="One alert per exporter, not per route: many stale routes at once have one "
                    "cause (scheduler, budget, network). Skipped routes are never probed."),
        alert(
            "ClawprobeProbeBudgetExhausted",
            f"{m('clawprobe_budget_remaining')} <= 0",
            F["budget_exhausted"], "warning",
            "clawprobe {{ $labels.unit }} budget for {{ $labels.provider }} is exhausted",
            "The daily {{ $labels.unit }} budget for {{ $labels.provider }} (\"_global\" is the "
            "overall cap) is used up; generation probes are skipped until it resets, so billing "
            "and generation-only failures go unseen.",
            overview_dash),
        alert(
            "ClawprobeTrafficLogNotFollowed",
            f"{m('clawprobe_traffic_log_following')} == 0",
            F["traffic_log_not_followed"], "info",
            "clawprobe on {{ $labels.instance }} does not follow OpenClaw's log",
            "clawprobe on {{ $labels.instance }} has not been following OpenClaw's log for "
            + F["traffic_log_not_followed"] + " (no file where OpenClaw writes it, or not "
            "readable), so fallbacks and failures of real requests go unseen and every route "
            "costs synthetic probes.",
            overview_dash),
        alert(
            "ClawprobeConfigReloadFailed",
            f"{m('clawprobe_config_last_reload_successful')} == 0",
            F["config_reload_failed"], "warning",
            "clawprobe on {{ $labels.instance }} failed to reload its configuration",
            "The last reload of the clawprobe or OpenClaw configuration on {{ $labels.instance "
            "}} failed; clawprobe keeps probing with the previous plan, so changes to agents, "
            "models or credentials are not reflected.",
            overview_dash),
        alert(
            "ClawprobeWebConfigReloadFailed",
            f"{m('clawprobe_web_config_last_reload_successful')} == 0",
            F["config_reload_failed"], "warning",
            "clawprobe on {{ $labels.instance }} failed to reload its web config",
            "The last reload of the --web.config.file of clawprobe on {{ $labels.instance }} "
            "(TLS certificates, basic-auth users) failed; it keeps serving with the previous "
            "TLS and auth settings, so a renewed certificate is not in use yet.",
            overview_dash),
        alert(
            "ClawprobeExporterDown",
            f'up{{{S}}} == 0',
            F["exporter_down"], "warning",
            "clawprobe exporter {{ $labels.instance }} is down",
            "Prometheus has failed to scrape clawprobe on {{ $labels.instance }} for "
            + F["exporter_down"] + "; model and agent health is not being monitored.",
            overview_dash),
        alert(
            "ClawprobeExporterAbsent",
            f'absent(up{{{S}}})',
            F["exporter_absent"], "warning",
            "No clawprobe scrape target is known to Prometheus",
            "Prometheus has had no target matching {" + S.replace('"', "'") + "} for "
            + F["exporter_absent"] + " (removed from the scrape config or service discovery, "
            "or the job was renamed); model and agent health is not being monitored.",
            overview_dash),
    ]

    return [
        {"name": "clawprobe.recording", "rules": recording},
        {"name": "clawprobe.agents", "rules": agents},
        {"name": "clawprobe.credentials", "rules": credentials},
        {"name": "clawprobe.routes", "rules": routes},
        {"name": "clawprobe.exporter", "rules": exporter},
    ]


# --- YAML output (a small emitter: the structure is fixed, no PyYAML needed) ------------

def q(s: str) -> str:
    """A single-quoted YAML scalar."""
    return "'" + s.replace("'", "''") + "'"


def scalar(key: str, value, indent: int) -> list[str]:
    pad = " " * indent
    s = str(value)
    if "\n" in s:
        body = textwrap.indent(s, pad + "  ")
        return [f"{pad}{key}: |", *body.splitlines()]
    if key == "description":
        lines = textwrap.wrap(" ".join(s.split()), width=88, break_long_words=False,
                              break_on_hyphens=False)
        if " ".join(lines) != " ".join(s.split()):
            raise ValueError(f"{key}: text would change when folded")
        return [f"{pad}{key}: >-", *[pad + "  " + line for line in lines]]
    if re.fullmatch(r"[A-Za-z0-9_.:/#-]+", s) and not s[0].isdigit() or DURATION.match(s):
        return [f"{pad}{key}: {s}"]
    return [f"{pad}{key}: {q(s)}"]


def render(cfg: dict, config_name: str) -> str:
    out = [
        "# GENERATED by alerts/generate.py from " + config_name + "; do not edit.",
        "# Change alerts/config.toml (selector, runbook and dashboard URLs, durations) or the",
        "# generator, then run `python3 alerts/generate.py`; CI fails while this file is stale.",
        "#",
        "# Load with `rule_files: [clawprobe.rules.yml]`. Every alert has a runbook section in",
        "# docs/runbooks.md (anchor = lower-cased alert name), which also describes the",
        "# Alertmanager grouping and inhibition these alerts are designed for",
        "# (deploy/compose/alertmanager/alertmanager.yml is a working example).",
        f"# Selector: {cfg['selector']}",
        "groups:",
    ]
    for g in rules(cfg):
        out.append(f"  - name: {g['name']}")
        out.append("    rules:")
        for r in g["rules"]:
            first = True
            if "#" in r:
                out.extend("      # " + line for line in textwrap.wrap(r["#"], 86))
            for key in ("record", "alert", "expr", "for", "labels", "annotations"):
                if key not in r:
                    continue
                if key == "for" and r[key] == "0m":
                    continue
                lead = "      - " if first else "        "
                first = False
                if isinstance(r[key], dict):
                    out.append(f"{lead}{key}:")
                    for k, v in r[key].items():
                        out.extend(scalar(k, v, 10))
                else:
                    lines = scalar(key, r[key], 8)
                    lines[0] = lead + lines[0].lstrip()
                    out.extend(lines)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key for this run (e.g. selector='job=\"x\"')")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output file, or - for stdout")
    ap.add_argument("--check", action="store_true",
                    help="compare with --out instead of writing; exit 1 with a diff if stale")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as e:
        print(f"alerts/generate.py: {e}", file=sys.stderr)
        return 2
    try:
        name = str(args.config.resolve().relative_to(HERE.parent))
    except ValueError:
        name = str(args.config)
    text = render(cfg, name)
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    if args.check:
        old = out.read_text(encoding="utf-8") if out.exists() else ""
        if old != text:
            print(f"{out} is stale: run python3 alerts/generate.py", file=sys.stderr)
            sys.stderr.writelines(difflib.unified_diff(
                old.splitlines(keepends=True), text.splitlines(keepends=True),
                f"{out} (committed)", f"{out} (generated)"))
            return 1
        print(f"up to date: {out}")
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
