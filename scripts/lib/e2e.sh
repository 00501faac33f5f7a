# shellcheck shell=bash
# Shared helpers for scripts that run a real clawprobe against scripts/fake_provider.py.
# Source it from bash (set -euo pipefail); it defines functions and nothing runs on source.
#
#   e2e_init                 temp dir in $E2E_TMP, cleanup trap (kills only the processes
#                            started here, by pid), $REPO_ROOT
#   e2e_free_port            prints a free TCP port on 127.0.0.1
#   e2e_wait_http URL SECS   waits until URL answers 200
#   e2e_clawprobe_bin [build]  prints the clawprobe binary ($CLAWPROBE_BIN, else
#                            target/debug/clawprobe; with "build", runs `cargo build` if absent)
#   e2e_start_fake_provider  starts the fake provider, sets $FAKE_PORT
#   e2e_write_config FILE PORT  writes a clawprobe config: standalone targets on the fake
#                            provider, fast schedules, clawprobe listening on 127.0.0.1:PORT
#   e2e_start_clawprobe BIN CONFIG PORT  starts `clawprobe serve`, waits for /metrics

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_PIDS=()

e2e_log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

e2e_cleanup() {
    local rc=$?
    local pid
    for pid in "${E2E_PIDS[@]:-}"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${E2E_PIDS[@]:-}"; do
        [ -n "$pid" ] || continue
        # Give each process up to 5 s to exit, then force it.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ] && [ -n "${E2E_TMP:-}" ] && [ -d "$E2E_TMP" ]; then
        local f
        for f in "$E2E_TMP"/*.log; do
            [ -f "$f" ] || continue
            echo "----- last lines of $(basename "$f") -----" >&2
            tail -n 25 "$f" >&2
        done
    fi
    if [ -n "${E2E_TMP:-}" ] && [ -z "${E2E_KEEP_TMP:-}" ]; then
        rm -rf "$E2E_TMP"
    elif [ -n "${E2E_TMP:-}" ]; then
        echo "kept $E2E_TMP" >&2
    fi
    exit "$rc"
}

e2e_init() {
    E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/clawprobe-e2e.XXXXXX")
    trap e2e_cleanup EXIT
    trap 'exit 130' INT TERM
}

e2e_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

e2e_wait_http() {
    local url=$1 secs=$2
    for _ in $(seq $((secs * 5))); do
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    e2e_log "timed out after ${secs}s waiting for $url"
    return 1
}

e2e_clawprobe_bin() {
    local bin=${CLAWPROBE_BIN:-$REPO_ROOT/target/debug/clawprobe}
    if [ ! -x "$bin" ] && [ "${1:-}" = build ] && [ -z "${CLAWPROBE_BIN:-}" ]; then
        e2e_log "no $bin: running cargo build"
        (cd "$REPO_ROOT" && cargo build --quiet --bin clawprobe) >&2
    fi
    [ -x "$bin" ] || return 1
    echo "$bin"
}

e2e_start_fake_provider() {
    local portfile=$E2E_TMP/fake_provider.port
    python3 "$REPO_ROOT/scripts/fake_provider.py" --port-file "$portfile" \
        >"$E2E_TMP/fake_provider.log" 2>&1 &
    E2E_PIDS+=($!)
    for _ in $(seq 300); do [ -s "$portfile" ] && break; sleep 0.1; done
    if [ ! -s "$portfile" ]; then
        e2e_log "the fake provider did not start within 30 s"
        return 1
    fi
    FAKE_PORT=$(cat "$portfile")
    e2e_log "fake provider on 127.0.0.1:$FAKE_PORT"
}

# The scenario (one broken chain per agent):
#   agent "main":    primary openai/gpt-5-mini with a revoked key (401, class auth),
#                    fallback openrouter/moonshotai/kimi-k2 with a good key (200, ok)
#                    -> ClawprobeCredentialFailing for the key (an exporter that serves
#                       credential health), else ClawprobeModelDown for the route
#   agent "support": only anthropic/claude-sonnet-4-5, rate limited (429 on generation,
#                    class rate_limit; its model list still answers 200, as Anthropic's does,
#                    so only the verdict's generation evidence can show it)
#                    -> ClawprobeAgentNoWorkingModel, ClawprobeRateLimited (or
#                       ClawprobeCredentialRateLimited for a key-wide limit),
#                       ClawprobeAgentNoFallbacks
# Schedules run every few seconds so data appears fast; anthropic gets a generation budget of
# one request a day so budget skips show up.
export E2E_OPENAI_REVOKED_KEY=sk-e2e-revoked-0000
export E2E_OPENROUTER_KEY=sk-e2e-good-0000
export E2E_ANTHROPIC_BUSY_KEY=sk-ant-e2e-busy-0000

e2e_write_config() {
    local file=$1 port=$2
    cat >"$file" <<EOF
# Written by scripts/lib/e2e.sh for an end-to-end test; every URL is on 127.0.0.1.
[openclaw]
enabled = false

[server]
listen = "127.0.0.1:$port"
first_cycle_timeout_seconds = 10

[schedule]
metadata = "*/5 * * * * *"
credential_generation = "*/10 * * * * *"
model_generation = "*/15 * * * * *"
concurrency = 4
min_key_spacing_seconds = 0.2
probe_timeout_seconds = 3.0
recheck_after_failure_seconds = 2.0
max_backoff_seconds = 5.0
spread_fraction = 0.2

[budget]
global_requests_per_day = 2000
global_tokens_per_day = 200000
provider_requests_per_day = 500
provider_tokens_per_day = 50000

[budget.providers.anthropic]
requests_per_day = 1

[[targets]]
name = "main-primary"
provider = "openai"
model = "gpt-5-mini"
base_url = "http://127.0.0.1:$FAKE_PORT/v1"
api = "openai-completions"
api_key_env = "E2E_OPENAI_REVOKED_KEY"
agent = "main"

[[targets]]
name = "main-fallback"
provider = "openrouter"
model = "moonshotai/kimi-k2"
base_url = "http://127.0.0.1:$FAKE_PORT/v1"
api = "openai-completions"
api_key_env = "E2E_OPENROUTER_KEY"
agent = "main"

[[targets]]
name = "support-primary"
provider = "anthropic"
model = "claude-sonnet-4-5"
base_url = "http://127.0.0.1:$FAKE_PORT"
api = "anthropic-messages"
api_key_env = "E2E_ANTHROPIC_BUSY_KEY"
agent = "support"
EOF
}

e2e_start_clawprobe() {
    local bin=$1 config=$2 port=$3
    # Budget books of its own: the default ($XDG_STATE_HOME or ~/.local/state) would carry
    # one run's spending into the next run of the day (and into the user's own books), and
    # the anthropic key's one request a day would be gone before this run could see its 429.
    CLAWPROBE_STATE_DIR="$E2E_TMP/state" \
        "$bin" --config "$config" --log.level info serve >"$E2E_TMP/clawprobe.log" 2>&1 &
    local pid=$!
    E2E_PIDS+=("$pid")
    e2e_log "clawprobe serve on 127.0.0.1:$port (pid $pid)"
    for _ in $(seq 150); do
        if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/metrics" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            e2e_log "clawprobe serve exited before serving /metrics (see clawprobe.log below)"
            return 1
        fi
        sleep 0.2
    done
    e2e_log "timed out waiting for clawprobe's /metrics on 127.0.0.1:$port"
    return 1
}
