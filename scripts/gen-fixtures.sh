#!/usr/bin/env bash
# Regenerates tests/fixtures/openclaw/cli-<version>/ with the REAL OpenClaw CLI.
#
# Not run in CI (needs Node + the openclaw npm package, ~1 min per command). Everything
# happens in a throwaway HOME/OPENCLAW_STATE_DIR; every provider baseUrl points at an unused
# loopback port, and all keys are fake canaries (sk-canary-AUTH-<provider>-9d2e), so no real
# provider or real home is ever touched. The gateway is not started.
#
# Usage: scripts/gen-fixtures.sh            (from the repo root)
set -euo pipefail

VERSION=${OPENCLAW_VERSION:-2026.9.6}
REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT="$REPO/tests/fixtures/openclaw/cli-$VERSION"
PORT=${FAKE_PORT:-9}   # discard port: nothing listens on 127.0.0.1:9

export PATH="$(bash /work/shared/openclaw/install-cli.sh 2>/dev/null || bash "$REPO/scripts/install-cli.sh"):$PATH"
WORK=$(mktemp -d /tmp/clawprobe-fixture-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export HOME="$WORK/home"
export OPENCLAW_STATE_DIR="$HOME/.openclaw"
unset OPENCLAW_CONFIG_PATH OPENCLAW_PROFILE OPENCLAW_HOME \
  OPENAI_API_KEY ANTHROPIC_API_KEY ANTHROPIC_OAUTH_TOKEN OPENROUTER_API_KEY LOCALAI_API_KEY
mkdir -p "$HOME"
cd "$HOME"

oc() { echo "+ openclaw $*" >&2; timeout 300 openclaw "$@"; }
key() { echo "sk-canary-AUTH-$1-9d2e"; }

# --- providers (all on loopback) and models --------------------------------------------
oc config set --strict-json models.providers.openai \
  "{\"baseUrl\":\"http://127.0.0.1:$PORT/v1\",\"api\":\"openai-responses\",\"models\":[{\"id\":\"gpt-5-mini\",\"name\":\"gpt-5-mini\"}]}"
oc config set --strict-json models.providers.anthropic \
  "{\"baseUrl\":\"http://127.0.0.1:$PORT\",\"api\":\"anthropic-messages\",\"models\":[{\"id\":\"claude-sonnet-4-5\",\"name\":\"claude-sonnet-4-5\"},{\"id\":\"claude-haiku-4-5\",\"name\":\"claude-haiku-4-5\"}]}"
oc config set --strict-json models.providers.openrouter \
  "{\"baseUrl\":\"http://127.0.0.1:$PORT/api/v1\",\"api\":\"openai-completions\",\"models\":[{\"id\":\"moonshotai/kimi-k2\",\"name\":\"kimi-k2\"}]}"
# A custom OpenAI-compatible provider whose apiKey names an env var (left unset on purpose).
oc config set --strict-json models.providers.localai \
  "{\"baseUrl\":\"http://127.0.0.1:$PORT/v1\",\"api\":\"openai-completions\",\"apiKey\":\"LOCALAI_API_KEY\",\"models\":[{\"id\":\"qwen3-coder\",\"name\":\"qwen3-coder\"}]}"
oc config set --strict-json agents.defaults.model \
  '{"primary":"anthropic/claude-sonnet-4-5","fallbacks":["openai/gpt-5-mini","openrouter/moonshotai/kimi-k2"]}'

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
key anthropic   | oc models auth paste-token --agent main --provider anthropic --expires-in 365d
# Agent-scoped key with an explicit profile id: lands in coder's own openclaw-agent.sqlite.
key openai-coder | oc models auth paste-api-key --agent coder --provider openai --profile-id openai:coder
# Per-agent order override (coder's auth_profile_state).
oc models auth order set --agent coder --provider openai openai:coder openai:manual

# --- what the CLI itself reports ---------------------------------------------------------
mkdir -p "$WORK/status"
for agent in main research coder; do
  oc models status --agent "$agent" --json >"$WORK/status/expected-status-$agent.json" || true
done

# --- copy out ------------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
cp -a "$OPENCLAW_STATE_DIR/." "$OUT/"
# Make every copied database self-contained (checkpoint WAL into the COPY) and drop rows that
# embed host paths (plugin index); then no -wal/-shm files remain.
python3 - "$OUT" "$HOME" "$WORK" <<'PY'
import os, sqlite3, sys
root, home, work = sys.argv[1:4]
for dirpath, _, files in os.walk(root):
    for f in files:
        if f.endswith(".sqlite"):
            p = os.path.join(dirpath, f)
            c = sqlite3.connect(p)
            tables = {r[0] for r in c.execute("select name from sqlite_master where type='table'")}
            if "config_machine_state" in tables:
                c.execute("delete from config_machine_state where state_key = 'plugins.installedIndex'")
                c.commit()
            # Scrub host paths from every text column.
            for t in tables:
                if t.startswith("sqlite_"):
                    continue
                cols = [r[1] for r in c.execute(f'pragma table_info("{t}")')]
                for col in cols:
                    for old, new in ((home, "<HOME>"), (work, "<WORK>")):
                        c.execute(f'update "{t}" set "{col}" = replace("{col}", ?, ?) '
                                  f'where typeof("{col}") = \'text\' and instr("{col}", ?) > 0',
                                  (old, new, old))
            c.commit()
            c.execute("pragma wal_checkpoint(TRUNCATE)")
            c.execute("vacuum")
            c.close()
for dirpath, _, files in os.walk(root):
    for f in files:
        if f.endswith(("-wal", "-shm")):
            os.remove(os.path.join(dirpath, f))
PY
# Files that are host-specific or useless for tests.
find "$OUT" \( -name '*.bak' -o -name '*.bak.*' -o -name 'config-journal-fingerprint.key' -o -name '*.lock' \) -delete
rm -rf "$OUT/workspace" "$OUT/logs" "$OUT/cache" 2>/dev/null || true
cp "$WORK"/status/expected-status-*.json "$OUT/"
# Rewrite the temp dir and the CLI cache path to placeholders everywhere (text files only).
grep -rlI -e "$HOME" -e "$WORK" "$OUT" | while read -r f; do
  sed -i -e "s#$HOME#<HOME>#g" -e "s#$WORK#<WORK>#g" "$f"
done
echo "fixture written to $OUT" >&2
