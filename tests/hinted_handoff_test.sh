#!/usr/bin/env bash
# Hinted handoff on real processes: five nodes, three replicas per key.
# With one owner of the keys killed and known down, writes at QUORUM keep
# succeeding, and a write at ALL does too: the next live node of each
# key's preference list stands in and holds a hint. Once the owner runs
# again the hints replay to it and are deleted, it holds every write, and
# every node, and every partition's owners, agree. A pipeline at QUORUM
# reads its own writes in order.
# Usage: hinted_handoff_test.sh PATH/TO/gossipkv
set -uo pipefail
gkv=$1
server=$(dirname "$gkv")/../server/gossipkv-server
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
dir=$work/cluster
cleanup() { "$gkv" --dir "$dir" cluster stop >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
base=$(free_base 5)
# The sum of an INFO field over the nodes named.
sum_field() {
  local total=0 node v
  for node in "${@:3}"; do v=$(info_field "$node" "$1" "$2"); total=$((total + ${v:-0})); done
  echo "$total"
}

check_match start 0 "started 5 nodes" -- g cluster start -n 5 --base-port "$base" --replication-factor 3
wait_ring 5
check_match ring-formed 0 "ring_members:5" -- g --node n1 info ring

# One packet, one round: the GET sees the SET before it, the DEL removes
# what the owners answered, replies in order.
packet_check pipeline $((base + 1)) $'+OK\r\n+OK\r\n$2\r\npv\r\n:1\r\n$-1\r\n' \
  'CONSISTENCY QUORUM\r\nSET pk pv\r\nGET pk\r\nDEL pk\r\nGET pk\r\n'

# Keys n1 does not own, all owned by the owner that goes down.
key_not_on n1
down=${own[0]}
keys=()
for i in $(seq 1000); do
  [ ${#keys[@]} -ge 20 ] && break
  grep -qx "$down" <<<"$(g --node n1 replicas "h$i")" && keys+=("h$i")
done
echo "owner $down goes down; ${#keys[@]} keys it owns"
kill -9 "$(pid_of "$down")"
for _ in $(seq 100); do
  [ "$(info_field n1 membership members_alive)" == 4 ] && break
  sleep 0.1
done
check_output down-seen 0 4 -- info_field n1 membership members_alive
cmds=("CONSISTENCY QUORUM")
want="OK"
for k in "${keys[@]}"; do cmds+=("SET $k v-$k"); want+=$'\nOK'; done
check_output quorum-writes 0 "$want" -- rcli n1 "${cmds[@]}"
check_output all-with-a-stand-in 0 $'OK\nOK' -- rcli n1 "CONSISTENCY ALL" "SET $key all"
others=(); for i in 1 2 3 4 5; do [ "n$i" != "$down" ] && others+=("n$i"); done
hinted=$(sum_field replication hints "${others[@]}")
if [ "$hinted" -ge 1 ]; then pass "hints held: $hinted"; else fail "no hints held"; fi
check_output hinted-writes 0 "yes" -- bash -c "[ $(info_field n1 replication hinted_writes_sent) -ge 1 ] && echo yes"

(setsid "$server" --config "$dir/$down.toml" >>"$dir/$down.log" 2>&1 &)
for _ in $(seq 300); do
  [ "$(sum_field replication hints "${others[@]}")" == 0 ] && break
  sleep 0.1
done
check_output hints-drained 0 0 -- sum_field replication hints "${others[@]}"
delivered=$(sum_field replication hints_delivered "${others[@]}")
if [ "$delivered" -ge "$hinted" ]; then pass "hints delivered: $delivered"; else
  fail "hints delivered $delivered of $hinted"; fi
lost=0
for k in "${keys[@]}"; do
  [[ "$(rcli "$down" "VGET $k LOCAL")" == *"v-$k"* ]] || lost=$((lost + 1))
done
check_output owner-holds-all 0 0 -- echo "$lost"
for _ in $(seq 100); do
  g cluster status | grep -q "all 5 replicas agree" && break
  sleep 0.2
done
check_match agree 0 "all 5 replicas agree.*every partition's owners agree" -- g cluster status
finish
