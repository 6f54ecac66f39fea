#!/usr/bin/env bash
# Builds gossipkv and runs the whole test suite: a short libFuzzer run of
# each fuzz target (clang build), then every test under ctest (debug build).
# Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

# Fuzz the client and peer protocol decoders, and the replica behind the
# peer protocol, for a short while each, starting from the committed
# corpora: a crash, a leak or an ASan or UBSan report fails the run (the
# preset builds UBSan without recovery; the options below say so again).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in resp_parser_fuzz:resp_corpus peer_frame_fuzz:peer_corpus \
  replica_step_fuzz:replica_corpus; do
  name=${target%%:*}
  seeds=${target#*:}
  mkdir -p "$scratch/$name"
  rc=0
  "build/fuzz/tests/$name" -max_total_time="${GOSSIPKV_FUZZ_SECONDS:-15}" -max_len=4096 \
    -artifact_prefix="$scratch/$name-" "$scratch/$name" "tests/fuzz/$seeds" \
    >"$scratch/$name.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "$scratch/$name.log"
    echo "$name found a failing input (exit $rc)" >&2
    exit 1
  fi
  echo "$name: $(grep -E '^Done' "$scratch/$name.log")"
done

cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug -j2 "$@"
