#!/usr/bin/env bash
# Confirms, with the REAL OpenClaw CLI, which credentials one agent turn tries and in which
# order: real `openclaw agent --local` turns against a fake provider on 127.0.0.1
# (scripts/lib/fake_llm_stream.py), whose answer depends only on the key sent, so the
# order of keys it saw is the order OpenClaw rotated through its auth profiles.
#
# Not run in CI (needs Node + the openclaw npm package; ~20 s per turn). Everything happens
# in a throwaway HOME; keys are fake (sk-<N>-<behaviour>), every baseUrl is loopback.
#
# Usage: scripts/openclaw-rotation.sh [VERSION...]     (default: 2026.4.12 2026.6.11 2026.9.6)
#        CASES="billing auth" scripts/openclaw-rotation.sh 2026.9.6
# Writes tests/fixtures/openclaw/rotation/cli-<version>.jsonl: one line per case with the
# credentials tried in order (profile id, or env:/config: for non-profile keys), the one
# that answered, and the turn's exit code. src/openclaw/rotation.rs states the rules and
# its tests read these files.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
INSTALL_CLI=${INSTALL_CLI:-/work/shared/openclaw/install-cli.sh}
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(2026.4.12 2026.6.11 2026.9.6)
ALL_CASES="billing auth rate_limit overloaded billing_x3 rate_limit_x3 overloaded_x3 all_fail
  cooldown_next_turn disabled_next_turn pinned env_key config_key main_store_merge
  expired_in_order timeout"
CASES=${CASES:-$ALL_CASES}
REAL_HOME=$HOME

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_version() {
  local V=$1 cli_path out
  cli_path=$(OPENCLAW_CLI_CACHE="$REAL_HOME/.cache/openclaw-cli-$V" OPENCLAW_VERSION=$V bash "$INSTALL_CLI" 2>/dev/null)
  out="$REPO/tests/fixtures/openclaw/rotation/cli-$V.jsonl"
  mkdir -p "$(dirname "$out")"
  : >"$out.tmp"
  for c in $CASES; do
    echo "== $V $c" >&2
    (PATH="$cli_path:/usr/bin:/bin" run_case "$V" "$c") >>"$out.tmp"
  done
  mv "$out.tmp" "$out"
  echo "wrote $out" >&2
}

# One case in a fresh HOME; prints one JSON line.
run_case() {
  local V=$1 CASE=$2 WORK PORT FAKE_PID
  WORK=$(mktemp -d /tmp/clawprobe-rotation-XXXXXX)
  export HOME="$WORK/home" OPENCLAW_STATE_DIR="$WORK/home/.openclaw"
  unset OPENCLAW_CONFIG_PATH OPENCLAW_PROFILE OPENCLAW_HOME OPENAI_API_KEY ANTHROPIC_API_KEY OPENROUTER_API_KEY
  mkdir -p "$HOME"
  cd "$HOME"
  PORT=$(free_port)
  python3 "$REPO/scripts/lib/fake_llm_stream.py" "$PORT" "$WORK/requests.jsonl" &
  FAKE_PID=$!
  : >"$WORK/requests.jsonl"
  local U="http://127.0.0.1:$PORT/v1"
  local fallbacks='["backup/m2"]' primary="acme/m1" acme_extra="" turns=1 agent=main
  local -a env_prefix=() turn_flags=()
  local -a keys=()
  case $CASE in
    billing) keys=(acme:a=broke acme:b=good) ;;
    auth) keys=(acme:a=revoked acme:b=good) ;;
    rate_limit) keys=(acme:a=busy acme:b=good) ;;
    overloaded) keys=(acme:a=overloaded acme:b=good) ;;
    billing_x3) keys=(acme:a=broke acme:b=broke acme:c=good) ;;
    rate_limit_x3) keys=(acme:a=busy acme:b=busy acme:c=good) ;;
    overloaded_x3) keys=(acme:a=overloaded acme:b=overloaded acme:c=good) ;;
    all_fail) keys=(acme:a=broke acme:b=revoked) ;;
    cooldown_next_turn) keys=(acme:a=busy acme:b=good); turns=2 ;;
    disabled_next_turn) keys=(acme:a=broke acme:b=good); turns=2 ;;
    pinned) keys=(acme:a=broke acme:b=good); primary="acme/m1@acme:a" ;;
    env_key) keys=(openai:a=broke); primary="openai/m1"; env_prefix=(env "OPENAI_API_KEY=sk-env-good-9") ;;
    config_key) keys=(acme:a=broke); acme_extra=",\"apiKey\":\"sk-config-good-8\"" ;;
    main_store_merge) keys=(acme:a=broke work:acme:w=good); agent=work ;;
    # work's own token, expired, alone in work's stored order; main has a working key.
    expired_in_order) keys=(acme:b=good); agent=work ;;
    timeout) keys=(acme:a=slow acme:b=good); turn_flags=(--timeout 45) ;;
    *) echo "unknown case $CASE" >&2; return 1 ;;
  esac
  oc() { timeout 300 openclaw "$@" >>"$WORK/cli.log" 2>&1; }
  local agents_json=''
  [ "$agent" = main ] || agents_json=",{\"path\":\"agents.list\",\"value\":[{\"id\":\"main\",\"default\":true},{\"id\":\"$agent\"}]}"
  oc config set --batch-json "[
    {\"path\":\"models.providers.acme\",\"value\":{\"baseUrl\":\"$U\",\"api\":\"openai-completions\",\"models\":[{\"id\":\"m1\",\"name\":\"m1\"}]$acme_extra}},
    {\"path\":\"models.providers.backup\",\"value\":{\"baseUrl\":\"$U\",\"api\":\"openai-completions\",\"models\":[{\"id\":\"m2\",\"name\":\"m2\"}]}},
    {\"path\":\"models.providers.openai\",\"value\":{\"baseUrl\":\"$U\",\"api\":\"openai-completions\",\"models\":[{\"id\":\"m1\",\"name\":\"m1\"}]}},
    {\"path\":\"agents.defaults.model\",\"value\":{\"primary\":\"$primary\",\"fallbacks\":$fallbacks}}
    $agents_json
  ]" || { echo "config set failed (see $WORK/cli.log)" >&2; }
  local n=0 spec owner id behaviour provider
  for spec in "${keys[@]}" "backup:manual=good"; do
    n=$((n + 1))
    owner=main
    case $spec in work:*) owner=work; spec=${spec#work:} ;; esac
    id=${spec%%=*}; behaviour=${spec#*=}; provider=${id%%:*}
    paste_key "$owner" "$provider" "$id" "sk-$n-$behaviour" "$WORK"
  done
  if [ "$CASE" = expired_in_order ]; then
    paste_key work acme acme:old "sk-old-good-7" "$WORK" token --expires-in 1s
    oc models auth order set --agent work --provider acme acme:old
    sleep 2
  fi
  local rc=0 t
  for t in $(seq 1 "$turns"); do
    : >"$WORK/requests.jsonl"
    rc=0
    "${env_prefix[@]}" timeout 420 openclaw agent --local --agent "$agent" --message "Reply with OK." \
      --json "${turn_flags[@]}" >"$WORK/turn.json" 2>"$WORK/turn.err" || rc=$?
  done
  kill "$FAKE_PID" 2>/dev/null || true
  wait "$FAKE_PID" 2>/dev/null || true
  python3 - "$V" "$CASE" "$rc" "$WORK" "${keys[@]}" <<'PY'
import json, re, sys
v, case, rc, work, specs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
labels = {}
for n, spec in enumerate(specs + ["backup:manual=good"], 1):
    pid, behaviour = spec.split("=", 1)
    pid = pid.removeprefix("work:")
    labels[f"sk-{n}-{behaviour}"] = pid
labels["sk-env-good-9"] = "env:OPENAI_API_KEY"
labels["sk-config-good-8"] = "config:acme"
labels["sk-old-good-7"] = "acme:old"
tried = []
for line in open(f"{work}/requests.jsonl"):
    r = json.loads(line)
    if not r["path"].endswith("/chat/completions"):
        continue  # e.g. the memory plugin's embeddings call
    # An unknown key is recorded as it was sent (all keys here are fake).
    tried.append({"credential": labels.get(r["key"], "unknown key " + repr(r["key"])), "model": r["model"]})
answer = None
try:
    text = open(f"{work}/turn.json").read()
    m = re.search(r'OK from ([A-Za-z0-9-]+)', text)
    if m:
        answer = next((l for k, l in labels.items() if k.endswith(m.group(1))), m.group(1))
except OSError:
    pass
profiles = [s.split("=", 1) for s in specs]
print(json.dumps({"version": v, "case": case,
                  "profiles": {p.removeprefix("work:"): b for p, b in profiles},
                  "tried": tried, "answered_by": answer, "exit_code": rc}))
PY
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}

# has_auth_cmd NAME: whether this release has `openclaw models auth NAME` (an unknown
# subcommand's --help prints the parent's help, so the parent's command list is read).
has_auth_cmd() { openclaw models auth --help 2>&1 | grep -Eq "^  $1( |$)"; }

# paste_key OWNER PROVIDER ID KEY WORK [token [ARGS...]]
# Writes a fake key into OWNER's store the way that release's CLI does it: `paste-api-key`
# where it exists (and unless `token` is asked), else `paste-token` (older releases read the
# key from a terminal only, and write the default agent's store, so a non-main owner is
# made default for the paste).
paste_key() {
  local owner=$1 provider=$2 id=$3 key=$4 work=$5 cmd=paste-token
  shift 5
  if [ "${1:-}" = token ]; then
    shift
  elif has_auth_cmd paste-api-key; then
    cmd=paste-api-key
  fi
  local agent_flag=() toggled=
  if openclaw models auth $cmd --help 2>&1 | grep -q -- "--agent <id> *Agent id (default"; then
    agent_flag=(--agent "$owner")
  elif [ "$owner" != main ]; then
    openclaw config set --strict-json 'agents.list' "[{\"id\":\"main\"},{\"id\":\"$owner\",\"default\":true}]" >>"$work/cli.log" 2>&1
    toggled=1
  fi
  python3 "$REPO/scripts/lib/ptyin.py" "Paste=>$key" -- \
    openclaw models auth $cmd "${agent_flag[@]}" --provider "$provider" --profile-id "$id" "$@" >>"$work/cli.log" 2>&1 ||
    echo "paste of $id failed (see $work/cli.log)" >&2
  if [ -n "$toggled" ]; then
    openclaw config set --strict-json 'agents.list' "[{\"id\":\"main\",\"default\":true},{\"id\":\"$owner\"}]" >>"$work/cli.log" 2>&1
  fi
}

for V in "${VERSIONS[@]}"; do run_version "$V"; done
