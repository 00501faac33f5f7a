#!/usr/bin/env bash
# Regenerates tests/fixtures/openclaw-logs/cli-<version>/: OpenClaw's own JSONL file log,
# written by the REAL OpenClaw CLI running agent turns whose models fail on purpose.
#
# Not run in CI (needs Node + the openclaw npm package and a few minutes per release).
# Everything runs in a sandbox made with `unshare` (user + mount + network + UTS
# namespaces, no root needed): the network namespace has only loopback, so the CLI cannot
# reach any real provider (or anything else); /tmp is a private tmpfs, so OpenClaw's
# default log directory /tmp/openclaw is exercised exactly as on a real host without
# touching the machine's /tmp; the hostname is fixed so the log needs no scrubbing of it.
# Providers point at scripts/lib/failing_provider.py on 127.0.0.1 inside the sandbox; the
# keys are fake canaries.
#
# Turns (each `openclaw agent --local --agent <id>`), in this order:
#   doomed  revoked/gpt-auth (401) -> broke/gpt-broke (402)          every candidate fails
#   coder   flaky/gpt-500 (500)    -> healthy/gpt-ok                 fallback serves
#   main    ratelimited/gpt-rl (429, ~2.5 min of OpenClaw's own retries) -> broke/gpt-broke
#           (disabled for billing by doomed's turn: skipped; 2026.4 keeps cooldowns per
#           agent, so there it is tried and fails) -> healthy/gpt-ok
#   main    again at once: the primary is in its rate-limit cooldown (probe or skip)
#   solo    healthy/gpt-ok, no fallbacks: a clean turn writes no fallback decision
#   solo    with OPENCLAW_PROFILE=Team_A: the log name gets the profile segment (2026.9+)
#
# Usage: OPENCLAW_VERSION=2026.9.6 scripts/gen-traffic-fixtures.sh
#        OPENCLAW_VERSION=2026.4.12 scripts/gen-traffic-fixtures.sh
#        KEEP_WORK=1 ...   keeps the work dir (printed at the end)
set -euo pipefail

VERSION=${OPENCLAW_VERSION:-2026.9.6}
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT="$REPO/tests/fixtures/openclaw-logs/cli-$VERSION"

if [ -z "${TRAFFIC_FIXTURE_SANDBOX:-}" ]; then
  # Outside the sandbox: install the CLI (needs the npm registry), make the work dir
  # (outside /tmp, which the sandbox replaces), then re-run this script in the sandbox.
  INSTALL_CLI=${INSTALL_CLI:-/work/shared/openclaw/install-cli.sh}
  CACHE=${OPENCLAW_CLI_CACHE:-$HOME/.cache/clawprobe-traffic-cli-$VERSION}
  CLI_PATH=$(OPENCLAW_CLI_CACHE=$CACHE OPENCLAW_VERSION=$VERSION bash "$INSTALL_CLI" 2>/dev/null)
  if ! unshare -rmnu true 2>/dev/null; then
    echo "this script needs unprivileged user namespaces (unshare -rmnu) for its sandbox" >&2
    exit 1
  fi
  WORK=$(mktemp -d "${WORK_ROOT:-/var/tmp}/clawprobe-traffic-XXXXXX")
  [ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$WORK"' EXIT
  TRAFFIC_FIXTURE_SANDBOX=1 CLI_PATH=$CLI_PATH CLI_ROOT=$CACHE WORK=$WORK REAL_HOME=$HOME \
    unshare -rmnu "$0" "$@"
  echo "fixture written to $OUT" >&2
  [ -z "${KEEP_WORK:-}" ] || echo "work dir kept: $WORK" >&2
  exit 0
fi

# ---- inside the sandbox ------------------------------------------------------------------
ip link set lo up
mount -t tmpfs tmpfs /tmp
hostname fixture-host
export PATH="$CLI_PATH:$PATH"
export HOME="$WORK/home"
export OPENCLAW_STATE_DIR="$HOME/.openclaw"
unset OPENCLAW_CONFIG_PATH OPENCLAW_PROFILE OPENCLAW_HOME OPENCLAW_LOG_LEVEL \
  OPENAI_API_KEY ANTHROPIC_API_KEY ANTHROPIC_OAUTH_TOKEN OPENROUTER_API_KEY GEMINI_API_KEY
export TZ=${TZ:-UTC}
mkdir -p "$HOME"
cd "$HOME"
openclaw --version | grep -q "$VERSION" || { echo "need openclaw $VERSION" >&2; exit 1; }

python3 "$REPO/scripts/lib/failing_provider.py" --port-file "$WORK/port" \
  --request-log "$WORK/requests.jsonl" 2>"$WORK/provider.err" &
PROVIDER_PID=$!
trap 'kill $PROVIDER_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")

oc() { echo "+ openclaw $*" >&2; timeout 600 openclaw "$@"; }

# --- providers (all on the loopback fake) and the default chain -----------------------------
prov() {
  echo "{\"path\":\"models.providers.$1\",\"value\":{\"baseUrl\":\"http://127.0.0.1:$PORT/$1/v1\",\"api\":\"openai-completions\",\"models\":[{\"id\":\"$2\",\"name\":\"$2\"}]}}"
}
oc config set --batch-json "[
 $(prov ratelimited gpt-rl), $(prov broke gpt-broke), $(prov flaky gpt-500),
 $(prov revoked gpt-auth), $(prov healthy gpt-ok),
 {\"path\":\"agents.defaults.model\",\"value\":{\"primary\":\"ratelimited/gpt-rl\",\"fallbacks\":[\"broke/gpt-broke\",\"healthy/gpt-ok\"]}}
]" >/dev/null

# --- keys: one auth profile per provider (cooldowns are kept per profile);
# pasted while main is the only agent, so no --agent is needed (other agents see main's) ---------------------
if oc models auth --help 2>/dev/null | grep -q paste-api-key; then
  for p in ratelimited broke flaky revoked healthy; do
    echo "sk-canary-traffic-$p-9d2e" | oc models auth paste-api-key --provider "$p" >/dev/null
  done
else
  # 2026.4 has only an interactive paste-token (it stores nothing from a pipe): write the
  # main agent's auth-profiles.json in that era's format (shared/openclaw/FORMATS.md);
  # other agents see main's profiles.
  mkdir -p "$OPENCLAW_STATE_DIR/agents/main/agent"
  node - "$OPENCLAW_STATE_DIR/agents/main/agent/auth-profiles.json" <<'JS'
const fs = require("node:fs");
const profiles = {};
for (const p of ["ratelimited", "broke", "flaky", "revoked", "healthy"])
  profiles[`${p}:manual`] = { type: "api_key", provider: p, key: `sk-canary-traffic-${p}-9d2e` };
fs.writeFileSync(process.argv[2], JSON.stringify({ version: 1, profiles }, null, 2), { mode: 0o600 });
JS
fi

# --- agents with their own chains --------------------------------------------------------------
for a in doomed coder solo; do
  oc agents add "$a" --non-interactive --workspace "$HOME/ws-$a" --model healthy/gpt-ok >/dev/null
done
# Each agent's model as an object with its own fallbacks, in whichever shape this release
# keeps agents (agents.entries.<id> from 2026.6, agents.list[] before).
node - "$OPENCLAW_STATE_DIR/openclaw.json" <<'JS'
const fs = require("node:fs");
const file = process.argv[2];
const cfg = JSON.parse(fs.readFileSync(file, "utf8"));
const models = {
  doomed: { primary: "revoked/gpt-auth", fallbacks: ["broke/gpt-broke"] },
  coder: { primary: "flaky/gpt-500", fallbacks: ["healthy/gpt-ok"] },
  solo: { primary: "healthy/gpt-ok", fallbacks: [] },
};
const agents = cfg.agents ?? {};
for (const [id, model] of Object.entries(models)) {
  const entry = agents.entries?.[id] ?? agents.list?.find((a) => a.id === id);
  if (!entry) throw new Error(`agent ${id} not found in ${file}`);
  entry.model = model;
}
fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
JS

# --- the turns -------------------------------------------------------------------------------
turn() { oc agent --local --agent "$1" --message "Reply with OK." --timeout 400 --json \
  >"$WORK/turn-$2.json" 2>"$WORK/turn-$2.err" || echo "turn $2 exited $?" >&2; }
turn doomed 1-doomed
turn coder 2-coder
turn main 3-main
turn main 4-main-again
turn solo 5-solo
OPENCLAW_PROFILE=Team_A turn solo 6-solo-profile

# --- copy out ----------------------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
# Which files OpenClaw created where (the naming evidence).
(cd /tmp && find . -type f -name '*.log' | sort) >"$OUT/tmp-files.txt"
cp /tmp/openclaw/*.log "$OUT/"
cp "$WORK/requests.jsonl" "$OUT/provider-requests.jsonl"
# Host paths become placeholders (inside JSON strings; none of them needs escaping).
for f in "$OUT"/*; do
  sed -i -e "s#$WORK#<WORK>#g" -e "s#$CLI_ROOT#<CLI>#g" -e "s#$REAL_HOME/#<REAL_HOME>/#g" "$f"
done
if grep -rl -e "$WORK" -e "$CLI_ROOT" -e "$REAL_HOME/" "$OUT"; then
  echo "host paths left in the fixture (files above)" >&2
  exit 1
fi
# Every line must still be JSON, and each decision kind the turns aim at must be there.
node - "$OUT" <<'JS'
const fs = require("node:fs"), path = require("node:path");
const dir = process.argv[2];
const kinds = new Set();
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".log"))) {
  for (const line of fs.readFileSync(path.join(dir, f), "utf8").split("\n")) {
    if (!line) continue;
    const rec = JSON.parse(line);
    const ev = rec["1"];
    if (ev && ev.event === "model_fallback_decision") kinds.add(ev.decision);
  }
}
console.error("decision kinds written:", [...kinds].sort().join(", "));
for (const k of ["candidate_failed", "candidate_succeeded", "skip_candidate"])
  if (!kinds.has(k)) { console.error(`missing decision kind ${k}`); process.exit(1); }
JS

cat >"$OUT/README.md" <<MD
Generated by \`scripts/gen-traffic-fixtures.sh\` with the real OpenClaw CLI $VERSION
(do not hand-edit). OpenClaw's own file log from \`openclaw agent --local\` turns in a
sandbox (loopback-only network, private /tmp, hostname \`fixture-host\`, TZ=$TZ), providers
on \`scripts/lib/failing_provider.py\` at 127.0.0.1:$PORT:

| agent | chain | what happens |
|---|---|---|
| doomed | revoked/gpt-auth (401) → broke/gpt-broke (402) | every candidate fails |
| coder | flaky/gpt-500 (500) → healthy/gpt-ok | fallback serves |
| main | ratelimited/gpt-rl (429) → broke/gpt-broke → healthy/gpt-ok | twice: 429 after OpenClaw's retries, broke skipped (disabled for billing), healthy serves; then the primary in cooldown |
| solo | healthy/gpt-ok, no fallbacks | clean turn (no decision event); then again with \`OPENCLAW_PROFILE=Team_A\` |

- \`*.log\`: the files OpenClaw wrote under its default directory /tmp/openclaw, named
  as that release names them; \`tmp-files.txt\` lists every \`.log\` file created under /tmp.
- \`provider-requests.jsonl\`: every request the fake provider received (no keys).
- Host paths replaced by \`<WORK>\`, \`<CLI>\`, \`<REAL_HOME>\`; nothing else was changed.
MD
