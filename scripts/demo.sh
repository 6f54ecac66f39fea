#!/usr/bin/env bash
# The main job: builds gossipkv (release preset) and shows it working.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release
build/release/bench/micro_bench --benchmark_min_time=0.05
