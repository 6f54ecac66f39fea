#!/usr/bin/env bash
# Builds gossipkv (debug preset) and runs the whole test suite with ctest,
# then a short libFuzzer run of the client protocol parser (clang build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug -j2 "$@"

# Fuzz the RESP parser for a short while: new crashes fail the run.
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
build/fuzz/tests/resp_parser_fuzz -max_total_time="${GOSSIPKV_FUZZ_SECONDS:-20}" \
  -max_len=4096 -print_final_stats=1 "$corpus" tests/fuzz/resp_corpus 2>&1 | tail -n 3
