#!/usr/bin/env bash
# Builds the release binary exactly as the Dockerfile does (scripts/build-release.sh) and
# checks that it runs. Slow (a full optimized build), so it runs in CI
# (CI=true) and when asked (CLAWPROBE_RELEASE_BUILD=1 or --force); CLAWPROBE_RELEASE_BUILD=0
# turns it off even in CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
want_build=${CLAWPROBE_RELEASE_BUILD:-}
if [ -z "$want_build" ]; then
  [ "${CI:-}" = true ] && want_build=1 || want_build=0
fi
[ "${1:-}" = --force ] && want_build=1
if [ "$want_build" != 1 ]; then
  echo "release-build: skipped (runs when CI=true, CLAWPROBE_RELEASE_BUILD=1 or --force)"
  exit 0
fi
start=$(date +%s)
./scripts/build-release.sh
secs=$(( $(date +%s) - start ))
bin=${CARGO_TARGET_DIR:-target}/release/clawprobe
version=$("$bin" -V)
want="clawprobe $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
if [ "$version" != "$want" ]; then
  echo "release-build: $bin -V printed '$version', expected '$want'" >&2
  exit 1
fi
# --version is the long form: version, git revision, build date, rustc version.
long=$("$bin" --version)
case "$long" in
  "$want (revision: "*"build date: "*"rust version: "*) ;;
  *) echo "release-build: $bin --version printed '$long'" >&2; exit 1 ;;
esac
"$bin" config default >/dev/null
echo "release-build: $version built in ${secs}s ($(du -h "$bin" | cut -f1), $(ldd "$bin" 2>/dev/null | grep -c '=>' || true) shared libs)"
