#!/usr/bin/env bash
# Regenerates tests/fixtures/openclaw/cli-<version>/ with the REAL OpenClaw CLI.
#
# Not run in CI (needs Node + the openclaw npm package, ~1 min per command). Everything
# happens in a throwaway HOME/OPENCLAW_STATE_DIR; every provider baseUrl points at an unused
# loopback port, and all keys are fake canaries (sk-canary-AUTH-<provider>-9d2e), so no real
# provider or real home is ever touched. The gateway is not started.
#
# Usage: scripts/gen-fixtures.sh                      generate and export
#        KEEP_WORK=1 scripts/gen-fixtures.sh         keep the temp install
#        scripts/gen-fixtures.sh --export-only DIR   re-export a kept install (no CLI runs)
set -euo pipefail

VERSION=${OPENCLAW_VERSION:-2026.9.6}
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT="$REPO/tests/fixtures/openclaw/cli-$VERSION"
PORT=${FAKE_PORT:-9}   # discard port: nothing listens on 127.0.0.1:9

REAL_HOME=$HOME
# shellcheck source=lib/openclaw-fixture.sh
. "$REPO/scripts/lib/openclaw-fixture.sh"
# INSTALL_CLI: a script that installs the CLI and prints its PATH entries; without it the
# `openclaw` already on PATH is used.
CLI_PATH=$(openclaw_cli_path "$VERSION")
export PATH="$CLI_PATH:$PATH"
CLI_ROOT=${CLI_PATH%%/npm/*}   # the CLI cache dir, scrubbed from the fixture
if [ "${1:-}" = "--export-only" ]; then
  WORK=$2
  EXPORT_ONLY=1
else
  WORK=$(mktemp -d /tmp/clawprobe-fixture-XXXXXX)
  EXPORT_ONLY=
  # KEEP_WORK=1 keeps the temp install for inspection.
  [ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$WORK"' EXIT
fi
export HOME="$WORK/home"
export OPENCLAW_STATE_DIR="$HOME/.openclaw"
unset OPENCLAW_CONFIG_PATH OPENCLAW_PROFILE OPENCLAW_HOME \
  OPENAI_API_KEY ANTHROPIC_API_KEY ANTHROPIC_OAUTH_TOKEN OPENROUTER_API_KEY LOCALAI_API_KEY
mkdir -p "$HOME"
cd "$HOME"
openclaw --version | grep -q "$VERSION" || { echo "need openclaw $VERSION" >&2; exit 1; }

generate() {

oc() { echo "+ openclaw $*" >&2; timeout 300 openclaw "$@"; }
key() { echo "sk-canary-AUTH-$1-9d2e"; }

# --- providers (all on loopback) and models, in one batch ---------------------------------
# localai: a custom OpenAI-compatible provider whose apiKey names an env var (left unset).
U="http://127.0.0.1:$PORT"
oc config set --batch-json "[
 {\"path\":\"models.providers.openai\",\"value\":{\"baseUrl\":\"$U/v1\",\"api\":\"openai-responses\",\"models\":[{\"id\":\"gpt-5-mini\",\"name\":\"gpt-5-mini\"}]}},
 {\"path\":\"models.providers.anthropic\",\"value\":{\"baseUrl\":\"$U\",\"api\":\"anthropic-messages\",\"models\":[{\"id\":\"claude-sonnet-4-5\",\"name\":\"claude-sonnet-4-5\"},{\"id\":\"claude-haiku-4-5\",\"name\":\"claude-haiku-4-5\"}]}},
 {\"path\":\"models.providers.openrouter\",\"value\":{\"baseUrl\":\"$U/api/v1\",\"api\":\"openai-completions\",\"models\":[{\"id\":\"moonshotai/kimi-k2\",\"name\":\"kimi-k2\"}]}},
 {\"path\":\"models.providers.localai\",\"value\":{\"baseUrl\":\"$U/v1\",\"api\":\"openai-completions\",\"apiKey\":\"LOCALAI_API_KEY\",\"models\":[{\"id\":\"qwen3-coder\",\"name\":\"qwen3-coder\"}]}},
 {\"path\":\"agents.defaults.model\",\"value\":{\"primary\":\"anthropic/claude-sonnet-4-5\",\"fallbacks\":[\"openai/gpt-5-mini\",\"openrouter/moonshotai/kimi-k2\"]}}
]"

# --- agents --------------------------------------------------------------------------
oc agents add research --non-interactive --workspace "$HOME/ws-research" \
  --model openrouter/moonshotai/kimi-k2
oc agents add coder --non-interactive --workspace "$HOME/ws-coder" --model openai/gpt-5-mini
# coder: own primary plus its own fallbacks (object form).
oc config set --strict-json 'agents.list[2].model' \
  '{"primary":"openai/gpt-5-mini","fallbacks":["localai/qwen3-coder","anthropic/claude-haiku-4-5"]}' || true

# --- keys ----------------------------------------------------------------------------
# With several agents the CLI wants an explicit --agent; <provider>:manual keys still go to
# the shared store (state/openclaw.sqlite).
key openai      | oc models auth paste-api-key --agent main --provider openai
key openrouter  | oc models auth paste-api-key --agent main --provider openrouter
# Anthropic setup tokens must start with sk-ant-oat01- and be >= 80 chars.
echo "sk-ant-oat01-canary-AUTH-anthropic-9d2e-000000000000000000000000000000000000000000000" |
  oc models auth paste-token --agent main --provider anthropic --expires-in 365d
# Agent-scoped key with an explicit profile id: lands in coder's own openclaw-agent.sqlite.
key openai-coder | oc models auth paste-api-key --agent coder --provider openai --profile-id openai:coder
# Per-agent order override (coder's auth_profile_state).
oc models auth order set --agent coder --provider openai openai:coder openai:manual

# --- what the CLI itself reports ---------------------------------------------------------
mkdir -p "$WORK/status"
for agent in main research coder; do
  oc models status --agent "$agent" --json >"$WORK/status/expected-status-$agent.json" || true
done

}
[ -n "$EXPORT_ONLY" ] || generate

# --- copy out (see scripts/lib/openclaw-fixture.sh) --------------------------------------
export_fixture "$OPENCLAW_STATE_DIR" "$OUT" "$HOME" "$WORK" "$CLI_ROOT" "$REAL_HOME" "" "$WORK/status"
cat >"$OUT/README.md" <<MD
Generated by \`scripts/gen-fixtures.sh\` with the real OpenClaw CLI $VERSION (do not hand-edit).

- Agents: main (defaults: anthropic/claude-sonnet-4-5, fallbacks openai/gpt-5-mini,
  openrouter/moonshotai/kimi-k2), research (plain string model: no fallbacks), coder (own
  primary and fallbacks incl. the custom loopback provider localai).
- Keys (fake canaries): openai/openrouter api keys and an anthropic setup token (365d) in the
  shared store \`state/openclaw.sqlite\`; \`openai:coder\` pasted with
  \`--agent coder --profile-id openai:coder\` in \`agents/coder/agent/openclaw-agent.sqlite\`,
  with coder's order override \`openai: [openai:coder, openai:manual]\`.
- \`expected-status-<agent>.json\`: \`openclaw models status --agent <agent> --json\`.
- Post-processing: WAL checkpointed into the copies (headers stay WAL mode, no -wal/-shm),
  1 KiB pages + VACUUM to shrink, plugin index row dropped, host paths replaced by
  \`<HOME>\`, \`<WORK>\`, \`<CLI>\`, \`<REAL_HOME>\`; every provider baseUrl is 127.0.0.1:$PORT.
MD
echo "fixture written to $OUT" >&2
