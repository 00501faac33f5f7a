#!/usr/bin/env bash
# Checks and unit-tests the Prometheus rules in alerts/:
#   1. alerts/clawprobe.rules.yml is what alerts/generate.py makes from alerts/config.toml
#   2. promtool check rules alerts/clawprobe.rules.yml   (syntax, PromQL, templates)
#   3. promtool test rules alerts/tests/*.test.yml        (alert behaviour, incl. the 8-agent
#      example in inhibition.test.yml and the per-credential grouping)
#   4. the rules rendered with a non-default selector (job="openclaw/clawprobe") pass
#      alerts/tests/custom-selector/, and the default rules fail it (the selector is used)
#   5. every alert in the rule file has, in alerts/tests, at least one case where it fires
#      (exp_alerts with exp_labels and exp_annotations) and one where it must not fire
#      (exp_alerts: []), and a runbook section in docs/runbooks.md matching its runbook_url;
#      every recording rule is named level:metric:operations, is used by an alert, and is
#      evaluated by a promql_expr_test; a relative runbook_url names a file in the repo.
# Exits non-zero on any failure. Needs python3 (3.11+) and promtool (Debian/Ubuntu:
# apt-get install prometheus; scripts/test-all.sh installs it when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool-rules: FAIL: promtool not found on PATH." >&2
    echo "  Install it with 'apt-get install -y prometheus' (Debian/Ubuntu) or put the" >&2
    echo "  promtool binary from a Prometheus release on PATH." >&2
    exit 1
fi

rules=alerts/clawprobe.rules.yml
shopt -s nullglob
tests=(alerts/tests/*.test.yml)
if [ ${#tests[@]} -eq 0 ]; then
    echo "promtool-rules: FAIL: no alerts/tests/*.test.yml found" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== alerts/generate.py --check (the rule file matches alerts/config.toml)"
python3 alerts/generate.py --check

echo "== promtool check rules $rules"
promtool check rules "$rules"

echo "== promtool test rules ${tests[*]}"
promtool test rules "${tests[@]}"

echo "== non-default selector: job=\"openclaw/clawprobe\""
python3 alerts/generate.py --set 'selector=job="openclaw/clawprobe"' --out "$tmp/clawprobe.rules.yml" >/dev/null
cp alerts/tests/custom-selector/selector.test.yml "$tmp/"
promtool test rules "$tmp/selector.test.yml"
# The same test against the default rules must fail, or it would not show the selector works.
cp "$rules" "$tmp/clawprobe.rules.yml"
if promtool test rules "$tmp/selector.test.yml" >"$tmp/default.out" 2>&1; then
    echo "promtool-rules: FAIL: the custom-selector test also passes with the default selector" >&2
    exit 1
fi
echo "  (and fails with the default selector, as it must)"

echo "== coverage: every alert fires and stays silent in some test, and has a runbook"
python3 - "$rules" docs/runbooks.md "${tests[@]}" <<'PY'
import os
import re
import sys

rules_path, runbooks_path, *test_paths = sys.argv[1:]
rules = open(rules_path, encoding="utf-8").read()
alerts = re.findall(r"^\s*-\s*alert:\s*(\S+)\s*$", rules, re.M)
records = re.findall(r"^\s*-\s*record:\s*(\S+)\s*$", rules, re.M)
urls = dict(re.findall(r"^\s*-\s*alert:\s*(\S+)\s*$(?:(?!^\s*-\s*alert:).)*?runbook_url:\s*(\S+)",
                       rules, re.M | re.S))

fires, silent = {}, {}
expr_tested = {}
for path in test_paths:
    text = open(path, encoding="utf-8").read()
    for name in re.findall(r"^\s*-\s*expr:\s*(\S+)\s*$", text, re.M):
        expr_tested[name] = expr_tested.get(name, 0) + 1
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\s*alertname:\s*(\S+)\s*$", line)
        if not m:
            continue
        name = m.group(1)
        # The exp_alerts key follows its alertname within the same list item.
        rest = "\n".join(lines[i + 1:i + 40])
        em = re.match(r"\s*exp_alerts:\s*(\[\])?", rest)
        if not em:
            continue
        if em.group(1):
            silent[name] = silent.get(name, 0) + 1
        else:
            block = re.split(r"^\s*- eval_time:", rest, maxsplit=1, flags=re.M)[0]
            if "exp_labels:" in block and "exp_annotations:" in block:
                fires[name] = fires.get(name, 0) + 1

anchors = set()
for line in open(runbooks_path, encoding="utf-8"):
    m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
    if m:
        # GitHub's anchor rule: lower-case, drop punctuation, spaces to '-'.
        anchors.add(re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-"))

problems = []
for a in alerts:
    if not a.startswith("Clawprobe"):
        problems.append(f"{a}: alert names must start with 'Clawprobe'")
    if a not in fires:
        problems.append(f"{a}: no test case where it fires with exp_labels and exp_annotations")
    if a not in silent:
        problems.append(f"{a}: no test case where it must not fire (exp_alerts: [])")
    url = urls.get(a, "")
    anchor = url.rsplit("#", 1)[-1] if "#" in url else ""
    if anchor != a.lower():
        problems.append(f"{a}: runbook_url anchor '{anchor}' should be '{a.lower()}'")
    elif anchor not in anchors:
        problems.append(f"{a}: {runbooks_path} has no section '## {a}'")
alert_exprs = "\n".join(re.findall(r"^\s*-\s*alert:.*?(?=^\s*-\s*(?:alert|record):|\Z)", rules,
                                    re.M | re.S))
for r in records:
    if r not in expr_tested:
        problems.append(f"recording rule {r}: no promql_expr_test evaluates it")
    if not re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", r):
        problems.append(f"recording rule {r}: not named level:metric:operations")
    if r not in alert_exprs:
        problems.append(f"recording rule {r}: no alert uses it (remove it)")
for a, url in urls.items():
    target = url.split("#", 1)[0]
    if "://" not in target and not os.path.isfile(target):
        problems.append(f"{a}: runbook_url {url} names no file in the repository")
for name in set(fires) | set(silent):
    if name not in alerts:
        problems.append(f"tests mention unknown alert {name}")

cases = sum(fires.values()) + sum(silent.values())
print(f"{len(alerts)} alerts, {len(records)} recording rules, {cases} alert test cases "
      f"({sum(fires.values())} firing, {sum(silent.values())} silent), "
      f"{sum(expr_tested.values())} recording-rule test cases in {len(test_paths)} files")
if problems:
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    sys.exit(1)
print("coverage OK")
PY
echo "promtool-rules: OK"
