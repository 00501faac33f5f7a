#!/usr/bin/env bash
# The one release build command. The Dockerfile and CI (scripts/tests/release-build.sh)
# both call this script, so the shipped container binary and the CI-tested binary are built
# the same way. Extra arguments are passed to cargo (e.g. --target-dir).
#
# --locked: build exactly the dependency versions in Cargo.lock; a stale lock file is an
# error here rather than a silent upgrade inside the image build.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo build --release --locked --bin clawprobe "$@"
