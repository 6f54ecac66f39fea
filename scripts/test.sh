#!/usr/bin/env bash
# Builds gossipkv (debug preset) and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug -j2 "$@"
