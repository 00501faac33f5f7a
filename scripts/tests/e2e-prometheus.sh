#!/usr/bin/env bash
# End-to-end: a real clawprobe, a real Prometheus, the repo's rules and dashboards.
#
#   1. starts scripts/fake_provider.py on 127.0.0.1 (a broken chain: a revoked OpenAI key,
#      a working OpenRouter key, a rate-limited Anthropic key; see scripts/lib/e2e.sh);
#   2. starts `clawprobe serve` (target/debug/clawprobe, built with `cargo build` if
#      missing, or $CLAWPROBE_BIN) with standalone [[targets]] on that provider and a
#      metadata schedule of every 5 s;
#   3. starts Prometheus (the `prometheus` binary, e.g. Debian's package) on a free
#      loopback port, scraping clawprobe every 2 s as job "clawprobe-e2e" (not the default
#      job name) and evaluating the rules rendered for that job by alerts/generate.py
#      (--set selector=...) every 2 s, with every `for:` shortened to 10s;
#   4. checks that the expected alerts fire (and that exporter/reload alerts do not), with
#      fully expanded annotations;
#   5. evaluates every PromQL expression of dashboards/*.json (panels, annotations,
#      variables; $__rate_interval -> 1m, $job -> clawprobe-e2e, $instance/$agent/... -> .*)
#      through /api/v1/query: each must be valid and return data, except the ones listed in
#      ALLOW_EMPTY below and those on PENDING metric names (scripts/tests/metric-names.sh
#      --print-pending: in the contract, not served by the exporter yet); both reported.
# Cleans up every process it started on exit. Runtime about one minute; needs python3, curl,
# prometheus. Set E2E_KEEP_TMP=1 to keep the temp dir (logs, configs, TSDB).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/e2e.sh

FOR_DURATION=${E2E_FOR_DURATION:-10s}
ALERT_TIMEOUT=${E2E_ALERT_TIMEOUT:-90}
QUERY_TIMEOUT=${E2E_QUERY_TIMEOUT:-45}

JOB=clawprobe-e2e
# Alerts this scenario must fire; "A|B": either (which one depends on whether the exporter
# serves per-credential health, clawprobe_credential_status: one of the PENDING families).
EXPECTED_ALERTS=(
    'ClawprobeCredentialFailing|ClawprobeModelDown'        # main's primary: revoked key (401)
    'ClawprobeAgentNoWorkingModel'                          # support's only model is rate limited
    'ClawprobeRateLimited|ClawprobeCredentialRateLimited'  # support: 429
    'ClawprobeAgentNoFallbacks'                             # support has no fallback
)
# Alerts that must not fire: clawprobe is up, scraped, its config loaded, it has targets.
FORBIDDEN_ALERTS=(
    ClawprobeExporterDown
    ClawprobeExporterAbsent
    ClawprobeConfigReloadFailed
    ClawprobeWebConfigReloadFailed
    ClawprobeProbesStale
    ClawprobeNoTargets
    ClawprobeOpenClawInstallUnreadable
)
# Dashboard expressions that may legitimately return nothing here: regex on the expression,
# then the reason. Everything else must return at least one series.
ALLOW_EMPTY=(
    'clawprobe_credential_expiry_timestamp_seconds|only token credentials from an OpenClaw install have an expiry; this scenario has standalone targets with API keys'
    'clawprobe_openclaw_profile_|OpenClaw cooldown/disable/error state comes from an OpenClaw install; this scenario has none'
    'changes\(clawprobe_config_last_reload_success_timestamp_seconds|annotation for config reloads; none happen during the test'
    'clawprobe_traffic_|real traffic comes from OpenClaw'"'"'s own log; this scenario has no OpenClaw (tests/traffic_serve.rs and the traffic exposition lint cover it)'
)

for tool in python3 curl prometheus; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "e2e-prometheus: FAIL: $tool not found (Prometheus: apt-get install -y prometheus)" >&2
        exit 1
    fi
done

start=$(date +%s)
e2e_init
bin=$(e2e_clawprobe_bin build) || {
    echo "e2e-prometheus: FAIL: no clawprobe binary and cargo build did not produce one" >&2
    exit 1
}

e2e_start_fake_provider
cp_port=$(e2e_free_port)
e2e_write_config "$E2E_TMP/clawprobe.toml" "$cp_port"
e2e_start_clawprobe "$bin" "$E2E_TMP/clawprobe.toml" "$cp_port"

# Rules: rendered for this job, with short `for:` so alerts become active within the test.
mkdir -p "$E2E_TMP/rules"
python3 alerts/generate.py --set "selector=job=\"$JOB\"" --out - |
    sed -E "s/^([[:space:]]+for:[[:space:]]*).*/\1$FOR_DURATION/" \
    >"$E2E_TMP/rules/clawprobe.rules.yml"
if ! grep -q "up{job=\"$JOB\"}" "$E2E_TMP/rules/clawprobe.rules.yml"; then
    echo "e2e-prometheus: FAIL: the rules were not rendered for job $JOB" >&2
    exit 1
fi
if ! grep -qE "for: $FOR_DURATION\$" "$E2E_TMP/rules/clawprobe.rules.yml"; then
    echo "e2e-prometheus: FAIL: could not rewrite for: durations" >&2
    exit 1
fi

prom_port=$(e2e_free_port)
cat >"$E2E_TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
  external_labels:
    grafana_url: http://grafana.invalid
rule_files:
  - $E2E_TMP/rules/clawprobe.rules.yml
scrape_configs:
  - job_name: $JOB
    static_configs:
      - targets: ['127.0.0.1:$cp_port']
EOF
prometheus --config.file="$E2E_TMP/prometheus.yml" \
    --storage.tsdb.path="$E2E_TMP/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" \
    --log.level=warn >"$E2E_TMP/prometheus.log" 2>&1 &
E2E_PIDS+=($!)
PROM=http://127.0.0.1:$prom_port
e2e_log "prometheus on $PROM"
e2e_wait_http "$PROM/-/ready" 30

# Steps 4 and 5 in python: poll alerts until the expected ones fire, then the queries.
export PROM ALERT_TIMEOUT QUERY_TIMEOUT JOB
export PENDING_METRICS="$(bash scripts/tests/metric-names.sh --print-pending | tr '\n' ' ')"
python3 - \
    "$(printf '%s\n' "${EXPECTED_ALERTS[@]}")" \
    "$(printf '%s\n' "${FORBIDDEN_ALERTS[@]}")" \
    "$(printf '%s\n' "${ALLOW_EMPTY[@]}")" <<'PY'
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

PROM = os.environ["PROM"]
JOB = os.environ["JOB"]
PENDING = os.environ.get("PENDING_METRICS", "").split()
expected = [a for a in sys.argv[1].split("\n") if a]
forbidden = [a for a in sys.argv[2].split("\n") if a]
allow_empty = [tuple(x.split("|", 1)) for x in sys.argv[3].split("\n") if x]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}", file=sys.stderr, flush=True)


def api(path, **params):
    url = f"{PROM}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


failures = []

# --- scrape health -----------------------------------------------------------------------
deadline = time.time() + 30
while time.time() < deadline:
    up = api("/api/v1/query", query=f'up{{job="{JOB}"}}')["data"]["result"]
    if up and up[0]["value"][1] == "1":
        break
    time.sleep(1)
else:
    failures.append("Prometheus could not scrape clawprobe (up != 1)")

# --- alerts ------------------------------------------------------------------------------
deadline = time.time() + int(os.environ["ALERT_TIMEOUT"])
firing = {}
while True:
    alerts = api("/api/v1/alerts")["data"]["alerts"]
    firing = {}
    for a in alerts:
        if a["state"] == "firing":
            firing.setdefault(a["labels"]["alertname"], []).append(a)
    if all(any(a in firing for a in e.split("|")) for e in expected) or time.time() > deadline:
        break
    time.sleep(2)
log("firing: " + (", ".join(f"{k} x{len(v)}" for k, v in sorted(firing.items())) or "none"))
for name, items in sorted(firing.items()):
    for a in items:
        log(f"  {name} [{a['labels'].get('severity')}]: {a.get('annotations', {}).get('summary')}")
for e in expected:
    if not any(a in firing for a in e.split("|")):
        failures.append(f"expected alert {e} is not firing")
for f in forbidden:
    if f in firing:
        failures.append(f"alert {f} must not fire: {firing[f][0]['labels']}")
for name, items in firing.items():
    for a in items:
        ann = a.get("annotations", {})
        for key in ("summary", "description", "runbook_url", "dashboard_url"):
            if not ann.get(key):
                failures.append(f"{name}: annotation {key} is missing")
            elif "<no value>" in ann[key] or "error expanding" in ann[key]:
                failures.append(f"{name}: annotation {key} did not expand: {ann[key]!r}")
        if "severity" not in a["labels"]:
            failures.append(f"{name}: no severity label")
# The revoked key: one credential alert naming env:E2E_OPENAI_REVOKED_KEY, or (an exporter
# without credential health) one route alert for main's primary and none for the others.
if "ClawprobeCredentialFailing" in firing:
    creds = {(a["labels"].get("credential"), a["labels"].get("class"))
             for a in firing["ClawprobeCredentialFailing"]}
    if creds != {("env:E2E_OPENAI_REVOKED_KEY", "auth")}:
        failures.append(f"ClawprobeCredentialFailing fired for {creds}, expected only the revoked key")
if "ClawprobeModelDown" in firing:
    routes = {(a["labels"].get("agent"), a["labels"].get("model")) for a in firing["ClawprobeModelDown"]}
    if routes != {("main", "gpt-5-mini")}:
        failures.append(f"ClawprobeModelDown fired for {routes}, expected only main's gpt-5-mini")
for a in firing.get("ClawprobeAgentNoWorkingModel", []) + firing.get("ClawprobeModelDown", []):
    if a["labels"].get("job") != JOB:
        failures.append(f"{a['labels']['alertname']} has job {a['labels'].get('job')}, not {JOB}")
if "ClawprobeAgentNoWorkingModel" in firing:
    agents = {a["labels"].get("agent") for a in firing["ClawprobeAgentNoWorkingModel"]}
    if agents != {"support"}:
        failures.append(f"ClawprobeAgentNoWorkingModel fired for {agents}, expected only support")

# --- dashboard queries -------------------------------------------------------------------
out = subprocess.run(
    [sys.executable, "scripts/lib/dashboard_queries.py", "--vars",
     "--subst", "__rate_interval=1m", "--subst", "__interval=1m", "--subst", "__range=5m",
     "--subst", f"job={JOB}", "--subst", "instance=.*", "--subst", "agent=.*",
     "--subst", "provider=.*", "--subst", "model=.*",
     "dashboards/clawprobe-overview.json", "dashboards/clawprobe-agent.json"],
    check=True, capture_output=True, text=True).stdout
queries = [json.loads(line) for line in out.splitlines()]


def allowed_empty(expr):
    """The reason a query may return nothing here, or None."""
    for p, why in allow_empty:
        if re.search(p, expr):
            return why
    for name in PENDING:
        if re.search(rf"\b{re.escape(name)}\b", expr):
            return f"{name} is PENDING (scripts/tests/metric-names.sh): not served yet"
    return None


pending = list(queries)
results = {}
deadline = time.time() + int(os.environ["QUERY_TIMEOUT"])
while pending:
    still = []
    for q in pending:
        r = api("/api/v1/query", query=q["expr"])
        if r.get("status") != "success":
            results[id(q)] = ("error", r.get("error", r))
            continue
        n = len(r["data"]["result"]) if r["data"]["resultType"] in ("vector", "matrix") else 1
        results[id(q)] = ("ok" if n else "empty", n)
        if not n:
            still.append(q)
    pending = still
    if not pending or time.time() > deadline:
        break
    # Only expressions that may still fill (none allowlisted) keep the loop going.
    if all(allowed_empty(q["expr"]) for q in pending):
        break
    time.sleep(3)

ok = empty_allowed = 0
for q in queries:
    status, detail = results[id(q)]
    where = f'{q["file"]}: {q["where"]}'
    if status == "error":
        failures.append(f"{where}: query error: {detail}\n    {q['expr']}")
    elif status == "empty":
        reason = allowed_empty(q["expr"])
        if reason:
            empty_allowed += 1
            log(f"empty (allowed: {reason}): {where}")
        else:
            failures.append(f"{where}: no data\n    {q['expr']}")
    else:
        ok += 1
log(f"dashboard queries: {len(queries)} total, {ok} with data, {empty_allowed} empty (allowed), "
    f"{len(queries) - ok - empty_allowed} failed")

if failures:
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    sys.exit(1)
PY
echo "e2e-prometheus: OK ($(( $(date +%s) - start ))s)"
