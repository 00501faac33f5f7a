#!/usr/bin/env bash
# Checks that every clawprobe_* metric name used in the Grafana dashboards (dashboards/*.json)
# and the Prometheus rules (alerts/clawprobe.rules.yml) is one that clawprobe exports.
#
# Where the list of exported names comes from, best first:
#   1. CLAWPROBE_METRICS_URL=http://host:9847/metrics: a running exporter.
#   2. A clawprobe binary ($CLAWPROBE_BIN, else target/debug/clawprobe): started here with
#      `clawprobe serve` on a free loopback port against scripts/fake_provider.py (config
#      from scripts/lib/e2e.sh), scraped after its first probe cycles.
#   3. alerts/exported-metrics.txt: the documented contract (used alone when there is no
#      binary; set METRIC_NAMES_REQUIRE_BINARY=1 to fail instead).
# With a live exporter, every name the dashboards or rules use must appear in its /metrics,
# except the families listed in SITUATIONAL below, which only exist with an OpenClaw install
# (the scenario has standalone targets only); those are reported as "not observed".
# METRIC_NAMES_LENIENT=1 reports every unobserved documented name instead of failing.
# Histogram suffixes _bucket, _sum and _count map to their family.
# Also fails if the exporter serves a clawprobe_* or process_* family missing from
# exported-metrics.txt.
#
# `metric-names.sh --print-pending` prints the PENDING list below, one name a line
# (scripts/tests/e2e-prometheus.sh lets dashboard queries on those names be empty).
set -euo pipefail
cd "$(dirname "$0")/../.."

# ---------------------------------------------------------------------------------------
# PENDING: families in the metrics contract (alerts/exported-metrics.txt) that the rules
# and dashboards already use but the exporter does not serve yet (none now). A PENDING name the running exporter does not serve is REPORTED, not a
# failure. Remove a name as soon as the exporter serves it: from then on it is checked
# like every other name (and a PENDING name that is served is reported as removable).
PENDING_METRICS=()
# ---------------------------------------------------------------------------------------
if [ "${1:-}" = --print-pending ]; then
    [ ${#PENDING_METRICS[@]} -eq 0 ] || printf '%s\n' "${PENDING_METRICS[@]}"
    exit 0
fi
export METRIC_NAMES_PENDING="${PENDING_METRICS[*]}"

source scripts/lib/e2e.sh

list_file=alerts/exported-metrics.txt
scrape=""
source_desc="$list_file"

if [ -n "${CLAWPROBE_METRICS_URL:-}" ]; then
    e2e_init
    scrape=$E2E_TMP/metrics.txt
    curl -fsS --max-time 10 "$CLAWPROBE_METRICS_URL" >"$scrape"
    source_desc="$CLAWPROBE_METRICS_URL"
elif bin=$(e2e_clawprobe_bin nobuild); then
    e2e_init
    e2e_start_fake_provider
    port=$(e2e_free_port)
    e2e_write_config "$E2E_TMP/clawprobe.toml" "$port"
    e2e_start_clawprobe "$bin" "$E2E_TMP/clawprobe.toml" "$port"
    # Metadata probes run every 5 s and generation probes every 10-15 s in this config.
    e2e_log "waiting 22 s for probe cycles"
    sleep 22
    scrape=$E2E_TMP/metrics.txt
    curl -fsS --max-time 10 "http://127.0.0.1:$port/metrics" >"$scrape"
    source_desc="$bin serve (live /metrics)"
elif [ -n "${METRIC_NAMES_REQUIRE_BINARY:-}" ]; then
    echo "metric-names: FAIL: no clawprobe binary (target/debug/clawprobe or \$CLAWPROBE_BIN)" >&2
    exit 1
fi

echo "metric-names: exported names from $source_desc"
python3 - "$list_file" "${scrape:-}" <<'PY'
import json
import os
import re
import subprocess
import sys
from pathlib import Path

list_file, scrape = sys.argv[1], sys.argv[2]
LENIENT = bool(os.environ.get("METRIC_NAMES_LENIENT"))
# Families that exist only with an OpenClaw install (token expiry, the gateway's own
# auth-profile state); the live scenario has standalone targets only.
SITUATIONAL = {
    "clawprobe_credential_expiry_timestamp_seconds",
    "clawprobe_openclaw_profile_cooldown_until_timestamp_seconds",
    "clawprobe_openclaw_profile_disabled_until_timestamp_seconds",
    "clawprobe_openclaw_profile_errors",
    # From OpenClaw's own log (src/traffic): only with an install whose gateway logs, and
    # most only after it logged a model-fallback decision.
    "clawprobe_traffic_decisions_total",
    "clawprobe_traffic_chain_exhausted_total",
    "clawprobe_traffic_failures_total",
    "clawprobe_traffic_fallback_engaged",
    "clawprobe_traffic_serving_model",
    "clawprobe_traffic_last_event_timestamp_seconds",
    "clawprobe_traffic_log_following",
}
NAME = re.compile(r"\b(?:clawprobe|process)_[a-zA-Z0-9_]*[a-zA-Z0-9]")
PENDING = set(os.environ.get("METRIC_NAMES_PENDING", "").split())
SUFFIXES = ("_bucket", "_sum", "_count")

documented = {}
for line in Path(list_file).read_text().splitlines():
    line = line.split("#", 1)[0].split()
    if line:
        documented[line[0]] = line[1] if len(line) > 1 else "untyped"


def family(name, known):
    if name in known:
        return name
    for s in SUFFIXES:
        if name.endswith(s) and name[: -len(s)] in known and known[name[: -len(s)]] == "histogram":
            return name[: -len(s)]
    return None


# Where each name is used.
used = {}
rules = Path("alerts/clawprobe.rules.yml").read_text()
for n in NAME.findall(rules):
    used.setdefault(n, set()).add("alerts/clawprobe.rules.yml")
out = subprocess.run(
    [sys.executable, "scripts/lib/dashboard_queries.py", "--vars", *sorted(map(str, Path("dashboards").glob("*.json")))],
    check=True, capture_output=True, text=True).stdout
for line in out.splitlines():
    q = json.loads(line)
    for n in NAME.findall(q["expr"]):
        used.setdefault(n, set()).add(q["file"])

problems, notes = [], []
pending_seen = set()
served = None
if scrape:
    served = {}
    for line in Path(scrape).read_text().splitlines():
        m = re.match(r"#\s*TYPE\s+(\S+)\s+(\S+)", line)
        if m:
            served[m.group(1)] = m.group(2)
        elif line and not line.startswith("#"):
            n = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            if family(n, served) is None and n.startswith(("clawprobe_", "process_")):
                served.setdefault(n, "untyped")
    served = {k: v for k, v in served.items() if k.startswith(("clawprobe_", "process_"))}
    print(f"  live exporter serves {len(served)} clawprobe_*/process_* families")
    if not served:
        problems.append("the live exporter serves no clawprobe_* metric at all")
    for n, t in sorted(served.items()):
        if n not in documented:
            problems.append(f"{n}: served by the exporter but missing from {list_file}")
        elif documented[n] != t and t != "untyped":
            problems.append(f"{n}: exporter says type {t}, {list_file} says {documented[n]}")

for n, where in sorted(used.items()):
    where = ", ".join(sorted(where))
    if family(n, documented) is None:
        problems.append(f"{n} (used in {where}) is not an exported metric (not in {list_file})")
        continue
    if served is not None and family(n, served) is None:
        fam = family(n, documented)
        if fam in PENDING:
            pending_seen.add(fam)
        elif fam in SITUATIONAL or LENIENT:
            notes.append(f"{n} (used in {where}) is documented but not observed in this scrape")
        else:
            problems.append(f"{n} (used in {where}) is not served by the running exporter")
for p in sorted(PENDING):
    if p not in documented:
        problems.append(f"PENDING name {p} is not in {list_file}")
if served is not None:
    for p in sorted(PENDING):
        if family(p, served) is not None:
            notes.append(f"PENDING name {p} is served now: remove it from PENDING_METRICS")

print(f"  {len(used)} distinct clawprobe_* names used in dashboards and rules; "
      f"{len(documented)} documented families")
for n in notes:
    print("  note:", n)
if served is not None and pending_seen:
    print(f"  PENDING (used, not served yet; reported, not failed): {len(pending_seen)} families:")
    for p in sorted(pending_seen):
        print(f"    {p}")
if problems:
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    sys.exit(1)
print("metric-names: OK")
PY
