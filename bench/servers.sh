# Shared by the benchmark scripts (source it from the repository root):
# builds the release preset, then `start` runs gossipkv-server processes on
# free ports in a throwaway directory ($work), all stopped on exit.
scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
bin=build/release

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME NODE_ID CONFIG [SEED] -> prints "client_port peer_address"
start() {
  local name=$1 id=$2 config=$3 seed=${4:-}
  local args=(--config "$config" --node-id "$id" --port 0 --peer-port 0 --data-dir "$work/$name" --log-level warn)
  [ -n "$seed" ] && args+=(--seeds "$seed")
  "$bin/server/gossipkv-server" "${args[@]}" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 200); do [ -f "$work/$name/endpoints" ] && break; sleep 0.05; done
  echo "$(sed -n 's/^client=.*:\([0-9]*\)$/\1/p' "$work/$name/endpoints") $(sed -n 's/^peer=//p' "$work/$name/endpoints")"
}
