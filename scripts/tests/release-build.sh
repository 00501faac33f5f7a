#!/usr/bin/env bash
# Builds the release binary exactly as the Dockerfile does (scripts/build-release.sh) and
# checks that it runs. Slow (a full optimized build with thin LTO): CI runs it only when
# CLAWPROBE_RELEASE_BUILD=1, or always with --force.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "${CLAWPROBE_RELEASE_BUILD:-0}" != 1 ] && [ "${1:-}" != --force ]; then
  echo "release-build: skipped (set CLAWPROBE_RELEASE_BUILD=1 or pass --force)"
  exit 0
fi
start=$(date +%s)
./scripts/build-release.sh
secs=$(( $(date +%s) - start ))
bin=${CARGO_TARGET_DIR:-target}/release/clawprobe
version=$("$bin" --version)
want="clawprobe $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
if [ "$version" != "$want" ]; then
  echo "release-build: $bin --version printed '$version', expected '$want'" >&2
  exit 1
fi
"$bin" config default >/dev/null
echo "release-build: $version built in ${secs}s ($(du -h "$bin" | cut -f1), $(ldd "$bin" 2>/dev/null | grep -c '=>' || true) shared libs)"
