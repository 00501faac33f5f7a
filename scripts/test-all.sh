#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real binary against fake providers on
# loopback), then scripts/tests/*.sh: promtool rule tests, `promtool check metrics` on a live
# scrape, metric names, dashboards and their linter rules, the end-to-end test with a real
# Prometheus, the Alertmanager grouping/inhibition test, and the deploy checks.
#
# It needs, besides the Rust toolchain: promtool and prometheus (Debian package
# `prometheus`), amtool and alertmanager (`prometheus-alertmanager`), python3 >= 3.11 with
# venv and PyYAML (`python3-venv`, `python3-yaml`), curl, shellcheck. Whatever is missing it installs
# with apt-get (as root, or through sudo); with CLAWPROBE_NO_INSTALL=1, or where it cannot,
# it stops and prints the command that installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
need() { # COMMAND-OR-CHECK PACKAGE
  if [ "${1#python3:}" != "$1" ]; then
    python3 -c "import ${1#python3:}" 2>/dev/null || missing+=("$2")
  else
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
  fi
}
need python3 python3
need curl curl
need shellcheck shellcheck
need promtool prometheus
need prometheus prometheus
need amtool prometheus-alertmanager
if ! command -v alertmanager >/dev/null 2>&1; then need prometheus-alertmanager prometheus-alertmanager; fi
need python3:yaml python3-yaml
need python3:venv python3-venv
need python3:ensurepip python3-venv
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  cmd="apt-get update && apt-get install -y --no-install-recommends $pkgs"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  if [ -n "${CLAWPROBE_NO_INSTALL:-}" ] || ! command -v apt-get >/dev/null 2>&1 \
      || { [ -n "$SUDO" ] && ! sudo -n true 2>/dev/null; }; then
    echo "test-all: missing $pkgs; install them with:" >&2
    echo "  ${SUDO:+sudo }sh -c '$cmd'" >&2
    exit 1
  fi
  echo "test-all: installing $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $pkgs
  # The packages may start their services; the tests start their own, on free ports.
  $SUDO systemctl stop prometheus prometheus-alertmanager >/dev/null 2>&1 || true
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "test-all: python3 >= 3.11 is needed (alerts/generate.py uses tomllib)" >&2
  exit 1
}

cargo test --all-targets
for t in scripts/tests/*.sh; do
  [ -e "$t" ] || continue
  echo "== $t"
  bash "$t"
done
