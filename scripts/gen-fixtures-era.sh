#!/usr/bin/env bash
# Writes tests/fixtures/openclaw/eras/cli-<version>/: one install per OpenClaw release, built
# with THAT release's CLI from npm, plus that CLI's own view of it (the oracle):
# `openclaw models status --agent <id> --json` for every agent and the exit code of
# `openclaw models status --agent <id> --check`.
#
# Not run in CI (needs Node + the openclaw npm package; a few minutes per release).
# Everything happens in a throwaway HOME; every key is a fake canary and every provider
# baseUrl points at a fake provider on 127.0.0.1 (scripts/lib/fake_llm_stream.py) during
# generation, rewritten to 127.0.0.1:9 (nothing listens) in the exported fixture.
#
# Usage: scripts/gen-fixtures-era.sh [VERSION...]
#   default: 2026.3.31 2026.4.12 2026.5.28 2026.6.11 2026.7.35 2026.9.6
#   KEEP_WORK=1 keeps the temp installs.
#
# What each install holds (the same scenario in every era, written with that era's commands):
# - providers openai (chat completions: 2026.4's Responses transport cannot reach a plain
#   HTTP fake), anthropic, openrouter, groq, localai (custom, apiKey names the env var
#   LOCALAI_API_KEY) on loopback; defaults.model = anthropic/claude-sonnet-4-5 with fallbacks
#   [openai/gpt-5-mini, openrouter/moonshotai/kimi-k2]; aliases sonnet and kimi;
# - agents (`openclaw agents add`): main (defaults); research: plain string model `kimi` (an
#   alias); coder: object model with its own fallbacks [localai/qwen3-coder, sonnet];
#   solo: object model with an empty fallback list; ops: bare model name
#   `claude-haiku-4-5`; writer: object model with only a primary, the bare name `gpt-5-nano`;
# - keys pasted with the CLI (`paste-api-key`, or `paste-token` in releases without it):
#   main: openai:manual, openai:broke, openai:busy, openrouter:manual, anthropic:manual
#   (token, 365d), anthropic:bad (token whose `expires` is then made invalid: the one edit no
#   CLI command can make, done by `set_invalid_expires` below); coder: openai:coder with
#   coder's order override openai: [openai:coder, openai:manual]; ops: anthropic:old (token,
#   expired one second after the paste) alone in ops' stored order for anthropic;
# - `<stateDir>/.env` (written by hand, as users do): GROQ_API_KEY, LOCALAI_API_KEY;
# - OpenClaw's own profile state, written by the CLI's own probe
#   (`models status --probe --probe-profile …`) against the fake provider:
#   openai:busy answered 429 (cooldown, rate_limit), openai:broke answered 402 (disabled,
#   billing). (Not openrouter: OpenClaw never puts openrouter/kilocode profiles in cooldown.)
#
# What varies between two runs with the same release: timestamps (`expires`, `lastUsed`,
# `cooldownUntil`, `disabledUntil`, `lastFailureAt`, `updated_at*` columns, `remainingMs`,
# `until`, `generated-at-ms`, `meta.lastTouchedAt`), SQLite page layout, random ids some
# releases write, and which agents' statuses still list openai:busy's 30-second cooldown
# (the statuses run seconds apart; tests judge each at its own time). Everything else
# (profiles, orders, chains, keys, exit codes) is identical: checked by re-running 2026.5.28.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/openclaw-fixture.sh
. "$REPO/scripts/lib/openclaw-fixture.sh"
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(2026.3.31 2026.4.12 2026.5.28 2026.6.11 2026.7.35 2026.9.6)
AGENTS=(main research coder solo ops writer)
REAL_HOME=$HOME

canary() { echo "sk-canary-AUTH-$1-9d2e"; }
# Anthropic setup tokens must start with sk-ant-oat01- and be >= 80 chars.
anthropic_token() { printf 'sk-ant-oat01-canary-AUTH-%s-9d2e-%0*d' "$1" 60 0; }

generate() {
  local V=$1 cli_path WORK PORT FAKE_PID OUT
  cli_path=$(openclaw_cli_path "$V")
  OUT="$REPO/tests/fixtures/openclaw/eras/cli-$V"
  WORK=$(mktemp -d /tmp/clawprobe-era-XXXXXX)
  (
    export PATH="$cli_path:/usr/bin:/bin"
    export HOME="$WORK/home" OPENCLAW_STATE_DIR="$WORK/home/.openclaw"
    unset OPENCLAW_CONFIG_PATH OPENCLAW_PROFILE OPENCLAW_HOME OPENAI_API_KEY ANTHROPIC_API_KEY \
      ANTHROPIC_OAUTH_TOKEN OPENROUTER_API_KEY GROQ_API_KEY LOCALAI_API_KEY
    mkdir -p "$HOME"
    cd "$HOME"
    openclaw --version | grep -q "$V" || { echo "need openclaw $V" >&2; exit 1; }
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    python3 "$REPO/scripts/lib/fake_llm_stream.py" "$PORT" "$WORK/requests.jsonl" &
    FAKE_PID=$!
    trap 'kill $FAKE_PID 2>/dev/null || true' EXIT
    build_install "$V" "$PORT" "$WORK"
    kill "$FAKE_PID" 2>/dev/null || true
    export_fixture "$OPENCLAW_STATE_DIR" "$OUT" "$HOME" "$WORK" "${cli_path%%/npm/*}" "$REAL_HOME" "$PORT" "$WORK/oracle"
    write_readme "$V" "$OUT"
  )
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
  echo "fixture written to $OUT" >&2
}

oc() { echo "+ openclaw $*" >&2; timeout 300 openclaw "$@"; }

# has_auth_cmd NAME: whether this release has `openclaw models auth NAME` (an unknown
# subcommand's --help prints the parent's help, so the parent's command list is read).
has_auth_cmd() { openclaw models auth --help 2>&1 | grep -Eq "^  $1( |$)"; }

# paste OWNER KIND PROVIDER PROFILE SECRET [--expires-in D]
# KIND api_key uses `paste-api-key` where the release has it; otherwise (and for tokens)
# `paste-token`. Releases whose paste commands have no --agent write the default agent's
# store, so a non-main OWNER is made the default agent for the paste.
paste() {
  local owner=$1 kind=$2 provider=$3 id=$4 secret=$5
  shift 5
  local cmd=paste-token agent_flag=() toggled=
  if [ "$kind" = api_key ] && has_auth_cmd paste-api-key; then cmd=paste-api-key; fi
  if openclaw models auth $cmd --help 2>&1 | grep -q -- "--agent <id> *Agent id (default"; then
    agent_flag=(--agent "$owner")
  elif [ "$owner" != main ]; then
    set_default_agent "$owner"
    toggled=1
  fi
  echo "+ openclaw models auth $cmd ${agent_flag[*]} --provider $provider --profile-id $id $*" >&2
  python3 "$REPO/scripts/lib/ptyin.py" "Paste=>$secret" -- \
    openclaw models auth $cmd "${agent_flag[@]}" --provider "$provider" --profile-id "$id" "$@" >&2
  [ -z "$toggled" ] || set_default_agent main
}

# Marks agent ID as the default agent and no other (list form only; for pastes in releases
# whose paste commands have no --agent). One batch write.
set_default_agent() {
  local id=$1 i=0 a ops="" sep=""
  for a in "${AGENTS[@]}"; do
    ops+="$sep{\"path\":\"agents.list[$i].default\",\"value\":$([ "$a" = "$id" ] && echo true || echo false)}"
    sep=","
    i=$((i + 1))
  done
  oc config set --batch-json "[$ops]" >&2
}

# Sets agent ID's model to the JSON value $2, in whichever form this release keeps agents.
set_agent_model() {
  local id=$1 value=$2 i
  if grep -q '"entries"' "$OPENCLAW_STATE_DIR/openclaw.json"; then
    oc config set --strict-json "agents.entries.$id.model" "$value" >&2
  else
    i=$(node -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
      console.log((c.agents.list||[]).findIndex((a)=>a.id===process.argv[2]))' \
      "$OPENCLAW_STATE_DIR/openclaw.json" "$id")
    oc config set --strict-json "agents.list[$i].model" "$value" >&2
  fi
}

build_install() {
  local V=$1 PORT=$2 WORK=$3 U="http://127.0.0.1:$2"
  oc config set --batch-json "[
   {\"path\":\"models.providers.openai\",\"value\":{\"baseUrl\":\"$U/v1\",\"api\":\"openai-completions\",\"models\":[{\"id\":\"gpt-5-mini\",\"name\":\"gpt-5-mini\"},{\"id\":\"gpt-5-nano\",\"name\":\"gpt-5-nano\"}]}},
   {\"path\":\"models.providers.anthropic\",\"value\":{\"baseUrl\":\"$U\",\"api\":\"anthropic-messages\",\"models\":[{\"id\":\"claude-sonnet-4-5\",\"name\":\"claude-sonnet-4-5\"},{\"id\":\"claude-haiku-4-5\",\"name\":\"claude-haiku-4-5\"}]}},
   {\"path\":\"models.providers.openrouter\",\"value\":{\"baseUrl\":\"$U/api/v1\",\"api\":\"openai-completions\",\"models\":[{\"id\":\"moonshotai/kimi-k2\",\"name\":\"kimi-k2\"}]}},
   {\"path\":\"models.providers.groq\",\"value\":{\"baseUrl\":\"$U/openai/v1\",\"api\":\"openai-completions\",\"models\":[{\"id\":\"llama-3.3-70b-versatile\",\"name\":\"llama-3.3-70b-versatile\"}]}},
   {\"path\":\"models.providers.localai\",\"value\":{\"baseUrl\":\"$U/v1\",\"api\":\"openai-completions\",\"apiKey\":\"LOCALAI_API_KEY\",\"models\":[{\"id\":\"qwen3-coder\",\"name\":\"qwen3-coder\"}]}},
   {\"path\":\"agents.defaults.model\",\"value\":{\"primary\":\"anthropic/claude-sonnet-4-5\",\"fallbacks\":[\"openai/gpt-5-mini\",\"openrouter/moonshotai/kimi-k2\"]}},
   {\"path\":\"agents.defaults.models\",\"value\":{\"anthropic/claude-sonnet-4-5\":{\"alias\":\"sonnet\"},\"openrouter/moonshotai/kimi-k2\":{\"alias\":\"kimi\"}}}
  ]" >&2
  printf 'GROQ_API_KEY=%s\nLOCALAI_API_KEY=%s\n' "$(canary groq-dotenv)" "$(canary localai-dotenv)" \
    >"$OPENCLAW_STATE_DIR/.env"

  local a
  for a in research coder solo ops writer; do
    oc agents add "$a" --non-interactive --workspace "$HOME/ws-$a" --model anthropic/claude-sonnet-4-5 >&2
  done
  # `agents add` may not create a list entry for main in every release; make sure main is
  # first and the default, as OpenClaw itself lists it.
  if ! grep -q '"entries"' "$OPENCLAW_STATE_DIR/openclaw.json"; then
    node -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
      const l=c.agents.list||[]; process.exit(l.length&&l[0].id==="main"?0:1)' \
      "$OPENCLAW_STATE_DIR/openclaw.json" ||
      oc config set --strict-json 'agents.list' "$(node -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
        const l=(c.agents.list||[]).filter((a)=>a.id!=="main"); console.log(JSON.stringify([{id:"main",default:true},...l]))' \
        "$OPENCLAW_STATE_DIR/openclaw.json")" >&2
  fi
  set_agent_model research '"kimi"'
  set_agent_model coder '{"primary":"openai/gpt-5-mini","fallbacks":["localai/qwen3-coder","sonnet"]}'
  set_agent_model solo '{"primary":"groq/llama-3.3-70b-versatile","fallbacks":[]}'
  set_agent_model ops '"claude-haiku-4-5"'
  set_agent_model writer '{"primary":"gpt-5-nano"}'

  paste main api_key openai openai:manual "$(canary openai)"
  paste main api_key openai openai:broke "$(canary openai-broke)"
  paste main api_key openrouter openrouter:manual "$(canary openrouter)"
  paste main api_key openai openai:busy "$(canary openai-busy)"
  paste main token anthropic anthropic:manual "$(anthropic_token anthropic)" --expires-in 365d
  paste main token anthropic anthropic:bad "$(anthropic_token anthropic-bad)" --expires-in 365d
  paste coder api_key openai openai:coder "$(canary openai-coder)"
  oc models auth order set --agent coder --provider openai openai:coder openai:manual >&2
  paste ops token anthropic anthropic:old "$(anthropic_token anthropic-old)" --expires-in 1s
  oc models auth order set --agent ops --provider anthropic anthropic:old >&2
  set_invalid_expires anthropic:bad

  # OpenClaw's own profile state, written by its own probe against the fake provider.
  oc models status --probe --probe-profile openai:busy --probe-profile openai:broke \
    --probe-timeout 8000 --json >"$WORK/probe.json" 2>>"$WORK/probe.err" || true
  if ! has_usage_state openai:busy || ! has_usage_state openai:broke; then
    # Releases whose probe records no failure state (e.g. 2026.4.12): one real agent turn
    # through the same profiles writes it. main's openai order is set to try broke (402:
    # disabled for billing), then busy (429: cooldown), then manual (answers), and the
    # defaults' primary is openai for that turn; both are put back with the CLI afterwards.
    oc models auth order set --agent main --provider openai openai:broke openai:busy openai:manual >&2
    oc config set agents.defaults.model.primary openai/gpt-5-mini >&2
    oc agent --local --agent main --message "Reply with OK." --json >"$WORK/turn.json" 2>>"$WORK/turn.err" || true
    oc config set agents.defaults.model.primary anthropic/claude-sonnet-4-5 >&2
    oc models auth order clear --agent main --provider openai >&2
  fi
  sleep 2 # anthropic:old has expired by now

  mkdir -p "$WORK/oracle"
  date +%s%3N >"$WORK/oracle/generated-at-ms"
  local checks="{" sep="" rc
  for a in "${AGENTS[@]}"; do
    # Some releases print nothing the first time an agent's store is created (copied from
    # main's); ask again until the answer is JSON.
    local try
    for try in 1 2 3; do
      oc models status --agent "$a" --json >"$WORK/oracle/expected-status-$a.json" 2>>"$WORK/status.err" || true
      python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/oracle/expected-status-$a.json" 2>/dev/null && break
      echo "models status --agent $a gave no JSON (try $try)" >&2
    done
    rc=0
    oc models status --agent "$a" --check >/dev/null 2>>"$WORK/status.err" || rc=$?
    checks+="$sep\"$a\": $rc"
    sep=", "
  done
  echo "$checks}" >"$WORK/oracle/expected-check.json"
}

# has_usage_state PROFILE: whether any store records a cooldown or disable for PROFILE.
has_usage_state() {
  node - "$OPENCLAW_STATE_DIR" "$1" <<'JS'
const fs = require("node:fs"), path = require("node:path");
const [root, id] = process.argv.slice(2);
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
const docs = [];
for (const f of walk(root)) {
  if (f.endsWith("auth-state.json") || f.endsWith("auth-profiles.json")) docs.push(fs.readFileSync(f, "utf8"));
  else if (f.endsWith(".sqlite") && !f.includes("lock") && !f.includes("writer")) {
    const { DatabaseSync } = require("node:sqlite");
    const db = new DatabaseSync(f, { readOnly: true });
    const tables = db.prepare("select name from sqlite_master where type='table'").all().map((r) => r.name);
    for (const [t, v] of [["auth_profile_state", "state_json"], ["config_machine_state", "value_json"]])
      if (tables.includes(t)) for (const r of db.prepare(`select ${v} as v from ${t}`).all()) docs.push(String(r.v));
    db.close();
  }
}
const hit = docs.some((text) => {
  try {
    const s = JSON.parse(text)?.usageStats?.[id];
    return Boolean(s && (s.cooldownUntil || s.disabledUntil));
  } catch { return false; }
});
process.exit(hit ? 0 : 1);
JS
}

# The one thing no CLI command writes: a token profile whose `expires` is not a number
# (OpenClaw then reports it `invalid_expires` and never uses it). Edits whichever store
# holds PROFILE: legacy JSON, per-agent SQLite or the shared state database.
set_invalid_expires() {
  echo "+ (edit) $1.expires = \"soon\"" >&2
  node - "$OPENCLAW_STATE_DIR" "$1" <<'JS'
const fs = require("node:fs"), path = require("node:path");
const [root, id] = process.argv.slice(2);
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
const edit = (doc) => {
  const p = doc?.profiles?.[id];
  if (!p) return false;
  p.expires = "soon";
  return true;
};
let done = 0;
for (const f of walk(root)) {
  if (f.endsWith("auth-profiles.json")) {
    const doc = JSON.parse(fs.readFileSync(f, "utf8"));
    if (edit(doc)) { fs.writeFileSync(f, JSON.stringify(doc, null, 2) + "\n"); done++; }
  } else if (f.endsWith("openclaw-agent.sqlite") || f.endsWith(path.join("state", "openclaw.sqlite"))) {
    const { DatabaseSync } = require("node:sqlite");
    const db = new DatabaseSync(f);
    const tables = db.prepare("select name from sqlite_master where type='table'").all().map((r) => r.name);
    const spots = [["auth_profile_store", "store_key", "store_json"], ["config_machine_state", "state_key", "value_json"]];
    for (const [t, k, v] of spots) {
      if (!tables.includes(t)) continue;
      for (const row of db.prepare(`select ${k} as k, ${v} as v from ${t}`).all()) {
        let doc;
        try { doc = JSON.parse(row.v); } catch { continue; }
        if (edit(doc)) { db.prepare(`update ${t} set ${v} = ? where ${k} = ?`).run(JSON.stringify(doc), row.k); done++; }
      }
    }
    db.close();
  }
}
if (!done) { console.error(`profile ${id} not found in any store`); process.exit(1); }
JS
}

write_readme() {
  local V=$1 OUT=$2
  cat >"$OUT/README.md" <<MD
Generated by \`scripts/gen-fixtures-era.sh\` with the real OpenClaw CLI $V (do not hand-edit).
The scenario (agents, keys, profile state) is described at the top of that script.

- \`expected-status-<agent>.json\`: \`openclaw models status --agent <agent> --json\` (the oracle).
- \`expected-check.json\`: exit code of \`openclaw models status --agent <agent> --check\`.
- \`generated-at-ms\`: when the oracle ran; tests evaluate expiries and cooldowns at this time.
- Not written by the CLI: \`.env\` (written by hand, as users do) and \`anthropic:bad\`'s
  \`expires: "soon"\` (no command writes an invalid expiry).
- Post-processing: WAL checkpointed into the copies, 1 KiB pages + VACUUM, plugin index
  row dropped, host paths replaced by \`<HOME>\`, \`<WORK>\`, \`<CLI>\`, \`<REAL_HOME>\`, the
  generation-time fake provider's port replaced by 9 (every baseUrl is 127.0.0.1:9).
MD
}

for V in "${VERSIONS[@]}"; do generate "$V"; done
