#!/usr/bin/env bash
# Load harness for clawprobe: footprint, cost per probe, scrape speed, start-up, token cost.
#
#   bench/run.sh                 # N=200 agents x M=5 models (1,000 targets), blackbox too
#   N=1000 M=1 bench/run.sh      # other sizes; see the variables below
#   SKIP_BUILD=1 bench/run.sh    # reuse target/release/clawprobe
#
# Variables: N (agents, 200), M (models per agent, 5), P (providers = credentials, 1-7, 7),
# WARMUP (s, 15), DURATION (s, 30), SCRAPERS (8), SCRAPES (400), BLACKBOX (1 = also
# measure prometheus-blackbox-exporter; needs `apt-get install prometheus-blackbox-exporter`),
# OUT (JSON result, default bench/results/<utc-time>-N<N>xM<M>.json).
#
# Everything runs on 127.0.0.1: a fake OpenAI-compatible provider (bench/fake_provider.py),
# clawprobe serve on a synthetic OpenClaw install (bench/gen_install.py) with the default
# schedule sped up 60x, and the measurements (bench/harness.py). The default-schedule
# token cost is computed by bench/cost_model.py. See BENCHMARKS.md for what each figure means.
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-200}
M=${M:-5}
P=${P:-7}
WARMUP=${WARMUP:-15}
DURATION=${DURATION:-30}
SCRAPERS=${SCRAPERS:-8}
SCRAPES=${SCRAPES:-400}
BLACKBOX=${BLACKBOX:-1}
mkdir -p bench/results
OUT=${OUT:-bench/results/$(date -u +%Y%m%dT%H%M%SZ)-N${N}xM${M}.json}

if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --release --bin clawprobe
fi

echo "== machine"
echo "nproc: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/\s\+/ /g')"
echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); load: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== cost model (default schedule and budget)"
python3 bench/cost_model.py --targets $((N * M)) --credentials "$P" --providers "$P"

echo "== load run"
extra=()
if [[ "$BLACKBOX" == 1 ]]; then extra+=(--blackbox); fi
python3 bench/harness.py --agents "$N" --models "$M" --providers "$P" \
    --warmup "$WARMUP" --duration "$DURATION" --scrapers "$SCRAPERS" --scrapes "$SCRAPES" \
    --out "$OUT" "${extra[@]}"
