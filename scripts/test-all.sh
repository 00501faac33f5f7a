#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real binary against fake providers on
# loopback), then the checks that need promtool / Prometheus when they are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --all-targets
for t in scripts/tests/*.sh; do
  [ -e "$t" ] || continue
  echo "== $t"
  bash "$t"
done
