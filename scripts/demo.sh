#!/usr/bin/env bash
# The main job: builds gossipkv (release), starts a 3-node local cluster,
# writes through one node and reads from another, partitions the cluster,
# writes the same key on both sides, heals, and shows the replicas converge
# to both writes as siblings — then resolves them, deletes a key and watches
# its tombstone leave every replica, and stops the cluster.
# With --tls the nodes speak mutual TLS to each other (cluster start --tls).
set -euo pipefail
tls=()
[ "${1:-}" == --tls ] && tls=(--tls)
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release

gkv=build/release/cli/gossipkv
dir=$(mktemp -d)/cluster
base=${GOSSIPKV_DEMO_BASE_PORT:-$((20000 + RANDOM % 20000))}
cleanup() { "$gkv" --dir "$dir" cluster stop >/dev/null 2>&1 || true; rm -rf "$(dirname "$dir")"; }
trap cleanup EXIT
say() { printf '\n\033[1m$ gossipkv %s\033[0m\n' "$*"; }
g() { say "$*"; "$gkv" --dir "$dir" "$@"; }

g cluster start -n 3 --base-port "$base" "${tls[@]}"
sleep 1
g cluster status
g --node n1 put greeting "hello from n1"
g --node n3 get greeting
g partition "n1,n2 | n3"
g --node n1 put color blue
g --node n3 put color red
g converge || true
g heal
g converge --watch --timeout 30
g --node n2 get --all color
ctx=$("$gkv" --dir "$dir" --node n2 --json get --all color | sed -n 's/.*"context":"\([^"]*\)".*/\1/p')
say "(redis-cli) VSET color purple <context>  -- resolve the conflict on n2"
redis-cli -p "$(sed -n 's/^client=.*:\([0-9]*\)$/\1/p' "$dir/n2/endpoints")" VSET color purple "$ctx"
g converge --watch --timeout 30
g --node n3 get --all color
g --node n1 del greeting
say "info replication | grep tombstones  -- on each node, until collected everywhere"
for _ in $(seq 150); do
  stored=$(for n in n1 n2 n3; do "$gkv" --dir "$dir" --node $n info replication; done |
    grep -c '^tombstones_stored:0' || true)
  [ "$stored" == 3 ] && break
  sleep 0.1
done
for n in n1 n2 n3; do
  printf '%s: %s\n' $n "$("$gkv" --dir "$dir" --node $n info replication |
    grep -E '^tombstones_(stored|collected):' | tr -d '\r' | tr '\n' ' ')"
done
g cluster status

cat <<TXT

Next, keep a cluster running and try it yourself:
  $gkv cluster start -n 5                 # in ./gossipkv-cluster
  $gkv --node n2 put k v && $gkv --node n5 get k
  $gkv partition "n1,n2 | n3,n4,n5" ; $gkv heal ; $gkv converge --watch
  $gkv --node n1 members ; $gkv cluster stop
TXT
