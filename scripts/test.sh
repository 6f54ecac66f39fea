#!/usr/bin/env bash
# Builds gossipkv and runs the whole test suite: a short libFuzzer run of the
# client protocol parser (clang build), then every test under ctest (debug
# build). Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

# Fuzz the RESP parser for a short while: a crash fails the run.
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/corpus"
fuzz_rc=0
build/fuzz/tests/resp_parser_fuzz -max_total_time="${GOSSIPKV_FUZZ_SECONDS:-20}" \
  -max_len=4096 -artifact_prefix="$scratch/" "$scratch/corpus" tests/fuzz/resp_corpus \
  >"$scratch/fuzz.log" 2>&1 || fuzz_rc=$?
if [ "$fuzz_rc" -ne 0 ]; then
  cat "$scratch/fuzz.log"
  echo "resp_parser_fuzz found a failing input (exit $fuzz_rc)" >&2
  exit 1
fi
grep -E "^Done" "$scratch/fuzz.log"

cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug -j2 "$@"
