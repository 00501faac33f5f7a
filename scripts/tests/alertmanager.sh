#!/usr/bin/env bash
# Checks the Alertmanager configuration the clawprobe alerts are designed for
# (deploy/compose/alertmanager/alertmanager.yml; docs/runbooks.md, "How the alerts fit
# together") with the real tools:
#   1. amtool check-config;
#   2. amtool config routes test: critical -> clawprobe-page, warning -> clawprobe-ticket,
#      info -> null;
#   3. a real Alertmanager on a free loopback port receives the alerts of the 8-agent
#      example, exactly as promtool's test expects them to fire
#      (alerts/tests/inhibition.test.yml, eval_time 65m), plus one synthetic pair per other
#      inhibition rule; then its API must show the expected alerts inhibited (and only
#      those) and the rest in the expected groups and receivers.
# Needs amtool and the alertmanager binary (Debian: apt-get install prometheus-alertmanager;
# scripts/test-all.sh installs it when missing), python3 with PyYAML (python3-yaml), curl.
# AM_CONFIG=FILE checks another config the same way. Kills only the Alertmanager it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${AM_CONFIG:-deploy/compose/alertmanager/alertmanager.yml}
EXAMPLE=alerts/tests/inhibition.test.yml

AM_BIN=""
for b in alertmanager prometheus-alertmanager; do
    command -v "$b" >/dev/null 2>&1 && { AM_BIN=$(command -v "$b"); break; }
done
missing=()
command -v amtool >/dev/null 2>&1 || missing+=(amtool)
[ -n "$AM_BIN" ] || missing+=(alertmanager)
command -v curl >/dev/null 2>&1 || missing+=(curl)
python3 -c 'import yaml' 2>/dev/null || missing+=("python3 PyYAML")
if [ ${#missing[@]} -gt 0 ]; then
    echo "alertmanager: FAIL: missing ${missing[*]}: apt-get install -y prometheus-alertmanager python3-yaml curl" >&2
    exit 1
fi

tmp=$(mktemp -d)
am_pid=""
cleanup() {
    if [ -n "$am_pid" ]; then kill "$am_pid" 2>/dev/null || true; wait "$am_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "== amtool check-config $CONFIG"
amtool check-config "$CONFIG"

echo "== amtool config routes test"
route_test() { # EXPECTED-RECEIVER LABEL=VALUE...
    local want=$1
    shift
    local got
    got=$(amtool config routes test --config.file="$CONFIG" "$@" 2>/dev/null)
    if [ "$got" != "$want" ]; then
        echo "alertmanager: FAIL: $* routed to '$got', want '$want'" >&2
        return 1
    fi
    echo "  $* -> $got"
}
route_test clawprobe-page alertname=ClawprobeAgentNoWorkingModel severity=critical agent=main
route_test clawprobe-page alertname=ClawprobeTrafficChainExhausted severity=critical agent=main
route_test clawprobe-ticket alertname=ClawprobeCredentialFailing severity=warning provider=openai
route_test null alertname=ClawprobeAgentNoFallbacks severity=info agent=solo
route_test null alertname=SomethingElse severity=critical

echo "== a real Alertmanager ($AM_BIN) with the 8-agent example"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$AM_BIN" --config.file="$CONFIG" --storage.path="$tmp/data" \
    --web.listen-address="127.0.0.1:$port" --cluster.listen-address= \
    --log.level=warn >"$tmp/am.log" 2>&1 &
am_pid=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null && break
    kill -0 "$am_pid" 2>/dev/null || { cat "$tmp/am.log" >&2; echo "alertmanager: FAIL: it exited" >&2; exit 1; }
    sleep 0.1
done

AM="http://127.0.0.1:$port" python3 - "$EXAMPLE" <<'PY'
import datetime
import json
import os
import sys
import time
import urllib.request

import yaml

AM = os.environ["AM"]
test = yaml.safe_load(open(sys.argv[1]))["tests"][0]
example = []
for case in test["alert_rule_test"]:
    for a in case.get("exp_alerts") or []:
        labels = {"alertname": case["alertname"], **{k: str(v) for k, v in a["exp_labels"].items()}}
        example.append({"labels": labels, "annotations": a.get("exp_annotations", {})})

# One synthetic pair per inhibition rule the example does not exercise, each on its own
# instance so the pairs cannot mute each other: (source, target, target is muted?).
def al(name, sev, instance, **labels):
    return {"labels": {"alertname": name, "severity": sev, "job": "clawprobe",
                       "instance": instance, **labels}, "annotations": {}}
synthetic = [
    (al("ClawprobeExporterDown", "warning", "s1:9847"),
     al("ClawprobeCredentialFailing", "warning", "s1:9847", provider="openai",
        credential="openai:default", **{"class": "auth"}), True),
    (al("ClawprobeCredentialRateLimited", "warning", "s2:9847", provider="openai",
        credential="openai:default", **{"class": "rate_limit"}),
     al("ClawprobeRateLimited", "warning", "s2:9847", agent="main", role="primary",
        provider="openai", model="gpt-5", **{"class": "rate_limit"}), True),
    # Same provider, other class: a credential's billing does not mute a route's overload.
    (al("ClawprobeCredentialFailing", "warning", "s3:9847", provider="google",
        credential="google:default", **{"class": "billing"}),
     al("ClawprobeProviderOverloaded", "warning", "s3:9847", agent="main", role="primary",
        provider="google", model="gemini-2.5-pro", **{"class": "overloaded"}), False),
    (al("ClawprobeProbeBudgetExhausted", "warning", "s4:9847", provider="_global", unit="tokens"),
     al("ClawprobeProbesStale", "warning", "s4:9847"), True),
    (al("ClawprobeOpenClawInstallUnreadable", "warning", "s5:9847", status="unreadable"),
     al("ClawprobeNoTargets", "warning", "s5:9847"), True),
    # An agent that is down mutes its own route alerts, not another agent's.
    (al("ClawprobeAgentNoWorkingModel", "critical", "s6:9847", agent="a"),
     al("ClawprobeModelDown", "warning", "s6:9847", agent="b", role="primary", position="0",
        provider="openai", model="gpt-5"), False),
]

now = datetime.datetime.now(datetime.timezone.utc)
def stamp(a):
    a = dict(a)
    a["startsAt"] = now.isoformat()
    a["endsAt"] = (now + datetime.timedelta(hours=1)).isoformat()
    return a
posted = example + [x for s, t, _ in synthetic for x in (s, t)]
req = urllib.request.Request(f"{AM}/api/v2/alerts", data=json.dumps([stamp(a) for a in posted]).encode(),
                             headers={"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(req, timeout=10).read()

def key(labels):
    return tuple(sorted(labels.items()))

def inhibition_problems(state):
    """What is wrong with the inhibition marks in `state` (label set -> status)."""
    def inhibited(labels):
        st = state.get(key(labels))
        return st is not None and bool(st.get("inhibitedBy"))
    problems = []
    # The 8-agent example: exactly the alerts of the agent with no working model (coder)
    # that are not the page itself are muted.
    want_muted = {("ClawprobeModelDown", "coder"), ("ClawprobeTrafficChainExhausted", "coder")}
    muted = set()
    for a in example:
        l = a["labels"]
        if inhibited(l):
            muted.add((l["alertname"], l.get("agent")))
    if muted != want_muted:
        problems.append(f"8-agent example: muted {sorted(muted)}, want {sorted(want_muted)}")
    for src, tgt, want in synthetic:
        if inhibited(src["labels"]):
            problems.append(f"source {src['labels']['alertname']} is itself inhibited")
        if inhibited(tgt["labels"]) != want:
            problems.append(f"{src['labels']['alertname']} -> {tgt['labels']['alertname']} "
                            f"({tgt['labels']['instance']}): inhibited={not want}, want {want}")
    return problems, muted

# Alertmanager marks an alert inhibited once its inhibitor has seen the source alert, which
# it learns asynchronously after the POST: poll until every mark that should be set is set
# (or 20 s pass), then read once more a second later and judge that reading, so a rule
# that wrongly mutes has had the same time to show as the ones that rightly do.
def read_state():
    got = json.load(urllib.request.urlopen(f"{AM}/api/v2/alerts", timeout=10))
    return got, {key(a["labels"]): a["status"] for a in got}

def positives_set(state):
    marked = lambda labels: bool((state.get(key(labels)) or {}).get("inhibitedBy"))
    return (all(marked(t["labels"]) for _, t, want in synthetic if want)
            and sum(1 for a in example if marked(a["labels"])) >= 2)

deadline = time.time() + 20
while True:
    got, state = read_state()
    if (len(got) >= len(posted) and positives_set(state)) or time.time() > deadline:
        break
    time.sleep(0.5)
time.sleep(1)
got, state = read_state()
marks, muted = inhibition_problems(state)
problems = []
if len(state) != len(posted):
    problems.append(f"Alertmanager holds {len(state)} alerts, {len(posted)} were posted")
problems += marks
print(f"  8-agent example: {len(example)} alerts posted, {len(muted)} inhibited: "
      + ", ".join(f"{n}{{agent={a}}}" for n, a in sorted(muted)))
print(f"  {len(synthetic)} synthetic source/target pairs checked")

# Grouping of what is left of the example: one group per alertname and provider.
groups = json.load(urllib.request.urlopen(
    f"{AM}/api/v2/alerts/groups?inhibited=false&silenced=false&filter=instance%3D%22gw%3A9847%22",
    timeout=10))
groups = [g for g in groups if g["alerts"]]
summary = sorted((g["receiver"]["name"], g["labels"].get("alertname"), g["labels"].get("provider", ""),
                  len(g["alerts"])) for g in groups)
for r, n, p, c in summary:
    print(f"    {r:17} {n} {p} ({c} alert{'s' if c > 1 else ''})")
want_groups = {
    ("clawprobe-page", "ClawprobeAgentNoWorkingModel", "", 2),
    ("null", "ClawprobeAgentNoFallbacks", "", 1),
    ("clawprobe-ticket", "ClawprobeCredentialFailing", "anthropic", 1),
    ("clawprobe-ticket", "ClawprobeFallbackEngaged", "", 1),
    ("clawprobe-ticket", "ClawprobeModelDown", "together", 1),
    ("clawprobe-ticket", "ClawprobeProviderOverloaded", "google", 1),
    ("clawprobe-ticket", "ClawprobeRateLimited", "openai", 1),
    ("clawprobe-ticket", "ClawprobeUnresolvedModelRef", "moonshotai", 1),
}
if set(summary) != want_groups:
    problems.append(f"groups: got {summary}, want {sorted(want_groups)}")
print(f"  {len(groups)} notification groups ({sum(1 for g in summary if g[0] != 'null')} sent to a receiver)")

if problems:
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    sys.exit(1)
PY
echo "alertmanager: OK"
