#!/usr/bin/env bash
# The main job: builds gossipkv (release preset), starts a node on a free
# loopback port, stores and reads keys through the gossipkv CLI and through
# redis-cli, shows a conflict resolved with contexts, and stops the node.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release

bin=build/release
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/server/gossipkv-server" --node-id n1 --port 0 --peer-port 0 --data-dir "$work/n1" 2>"$work/n1.log" &
pid=$!
for _ in $(seq 200); do [ -f "$work/n1/endpoints" ] && break; sleep 0.05; done
node=$(sed -n 's/^client=//p' "$work/n1/endpoints")
[ -n "$node" ] || { cat "$work/n1.log"; exit 1; }
port=${node##*:}
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }
gkv() { say "gossipkv --node $node $*"; "$bin/cli/gossipkv" --node "$node" "$@"; }

echo "gossipkv node n1 is serving clients on $node"
gkv put greeting "hello, world"
gkv get greeting
run redis-cli -p "$port" SET color blue
run redis-cli -p "$port" MGET greeting color missing

# Two clients read the same version and both write: both writes are kept.
ctx=$(redis-cli -p "$port" --raw VGET color | head -n 1)
run redis-cli -p "$port" VSET color green "$ctx"
run redis-cli -p "$port" VSET color red "$ctx"
gkv get --all color
ctx=$(redis-cli -p "$port" --raw VGET color | head -n 1)
run redis-cli -p "$port" VSET color purple "$ctx"
gkv get --all color
gkv del greeting
gkv get greeting || true
say "gossipkv --node $node info storage"
"$bin/cli/gossipkv" --node "$node" info storage | tr -d '\r'

cat <<TXT

Next: start your own node and try it.
  $bin/server/gossipkv-server --config config/gossipkv.example.toml
  $bin/cli/gossipkv put mykey myvalue && $bin/cli/gossipkv get mykey --json
  redis-benchmark -p 7379 -t set,get -n 100000 -q
  bench/redis_benchmark.sh        # throughput against redis-server, same run
TXT
