#!/usr/bin/env bash
# Lints clawprobe's /metrics with `promtool check metrics`:
#  1. the real `clawprobe serve` on a loopback port with a fixture config (curl /metrics);
#  2. a full exposition holding every metric family, rendered by the metrics unit test.
# Fails when promtool is missing (CI installs the Debian `prometheus` package).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found: install it (Debian/Ubuntu: apt-get install prometheus)" >&2
  exit 1
fi
command -v curl >/dev/null 2>&1 || { echo "curl not found" >&2; exit 1; }

cargo build --quiet --bin clawprobe
bin=target/debug/clawprobe
work=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Port 0: the kernel picks a free loopback port; clawprobe logs the address it bound.
cat >"$work/clawprobe.toml" <<'TOML'
[openclaw]
enabled = false

[server]
listen = "127.0.0.1:0"
first_cycle_timeout_seconds = 1
watch_interval_seconds = 0

[schedule]
metadata = "*/5 * * * * *"
credential_generation = ""
model_generation = ""

[[targets]]
name = "closed-port"
provider = "openai"
model = "gpt-test"
base_url = "http://127.0.0.1:9/v1"
api = "openai-completions"
api_key_env = "CLAWPROBE_PROMTOOL_TEST_KEY"
agent = "fixture"
TOML

CLAWPROBE_PROMTOOL_TEST_KEY=sk-promtool-canary-000000 \
  "$bin" --config "$work/clawprobe.toml" --log.format json serve 2>"$work/log" &
pid=$!

addr=""
for _ in $(seq 1 100); do
  addr=$(grep -o '"listen":"[^"]*"' "$work/log" | head -n1 | cut -d'"' -f4 || true)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; echo "clawprobe exited early" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$work/log" >&2; echo "no listen address logged" >&2; exit 1; }

for _ in $(seq 1 100); do
  curl -fsS "http://$addr/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
# Give the scheduler a cycle, so probe series exist when it is merged.
sleep 2
curl -fsS "http://$addr/metrics" >"$work/live.prom"
grep -q '^clawprobe_build_info' "$work/live.prom" || { echo "no clawprobe_build_info" >&2; exit 1; }
if grep -q 'canary' "$work/live.prom"; then echo "secret leaked into /metrics" >&2; exit 1; fi
echo "live /metrics: $(grep -vc '^#' "$work/live.prom") samples"
promtool check metrics <"$work/live.prom"

CLAWPROBE_METRICS_SAMPLE_OUT="$work/full.prom" \
  cargo test --quiet --lib metrics::tests::every_metric_has_help_and_type >/dev/null
echo "full exposition: $(grep -c '^# TYPE' "$work/full.prom") families"
promtool check metrics <"$work/full.prom"
# clawprobe_traffic_* (OpenClaw's own log), rendered from the real CLI's log fixture.
CLAWPROBE_TRAFFIC_METRICS_SAMPLE_OUT="$work/traffic.prom" \
  cargo test --quiet --lib metrics::traffic::tests::exposition >/dev/null
echo "traffic exposition: $(grep -c '^# TYPE' "$work/traffic.prom") families"
promtool check metrics <"$work/traffic.prom"
echo "promtool check metrics: ok"
