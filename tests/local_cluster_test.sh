#!/usr/bin/env bash
# The local-cluster commands end to end: cluster start/status/stop,
# partition, heal, converge, ring, replicas, and --node by name.
# Usage: local_cluster_test.sh PATH/TO/gossipkv
set -uo pipefail
gkv=$1
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
dir=$work/cluster
cleanup() { "$gkv" --dir "$dir" cluster stop >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
base=$(free_base 3)
g() { "$gkv" --dir "$dir" "$@"; }

check_match start 0 "started 3 nodes" -- g cluster start -n 3 --base-port "$base" --replication-factor 2
check_match status 0 "n3 +[0-9]+ +127.0.0.1:$((base + 3)) +yes.*all 3 replicas agree" -- g cluster status
check_match put-n1 0 "^OK$" -- g --node n1 put k1 v1
# Replication is asynchronous: give the rumor up to 10 s on a loaded machine.
for _ in $(seq 100); do [ "$(g --node n3 get k1 2>/dev/null)" == "v1" ] && break; sleep 0.1; done
check_match get-n3 0 "^v1$" -- g --node n3 get k1
check_match unknown-node 2 "no node n9" -- g --node n9 get k1
check_match partition 0 "partitioned" -- g partition "n1,n2 | n3"
check_match bad-partition 2 "two groups" -- g partition "n1 | n1"
check_match write-left 0 "^OK$" -- g --node n1 put k2 left
check_match write-right 0 "^OK$" -- g --node n3 put k2 right
# n2 hears n1's write; n3's stays on its side.
for _ in $(seq 100); do [ "$(g --node n2 get k2 2>/dev/null)" == "left" ] && break; sleep 0.1; done
check_match left-n2 0 "^left$" -- g --node n2 get k2
check_match right-n3 0 "^right$" -- g --node n3 get k2
# A key n3 owns, written on both sides: its partition's owners disagree.
for i in $(seq 100); do
  g --node n1 replicas "d$i" | grep -qx n3 && { owned="d$i"; break; }
done
check_match write-owned-left 0 "^OK$" -- g --node n1 put "$owned" left
check_match write-owned-right 0 "^OK$" -- g --node n3 put "$owned" right
for _ in $(seq 100); do [ "$(g --node n2 get "$owned" 2>/dev/null)" == "left" ] && break; sleep 0.1; done
check_match disagree 1 "replicas disagree: 2 groups (\{n1,n2\} \{n3\}|\{n3\} \{n1,n2\}).*owners disagree on [1-9][0-9]* of [0-9]+ partitions, first partition" -- g converge
check_match heal 0 "healed" -- g heal
check_match converge 0 "all 3 replicas agree.*; every partition's owners agree \(16384 partitions\)" -- g converge --watch --timeout 30
check_match status-partitions 0 "every partition's owners agree" -- g cluster status
check_match siblings 0 "left.*right|right.*left" -- g --node n2 get --all k2
# Three members, two replicas each: every process computes the same
# ring, each member owns about two thirds of the 16384 partitions (at most
# 1.03 x its share), and every node names the same two owners of a key.
ring1=$(g --node n1 ring)
ring3=$(g --node n3 ring)
counts=$(echo "$ring1" | awk 'NR > 1 {print $2}' | tr '\n' ' ')
total=$(echo "$ring1" | awk 'NR > 1 {s += $2} END {print s}')
most=$(echo "$ring1" | awk 'NR > 1 && $2 > m {m = $2} END {print m}')
if [ "$ring1" == "$ring3" ] && [ "$total" == 32768 ] && [ "$most" -le 11250 ] &&
  [ "$(echo "$ring1" | wc -l)" == 4 ]; then
  pass "ring ($counts)"
else
  fail "ring: n1 [$ring1] n3 [$ring3]"
fi
check_match ring-json 0 '"id":"n3","partitions":[0-9]+,"ranges":"[0-9]' -- g --node n3 ring --json
owners1=$(g --node n1 replicas k2)
if [ "$(echo "$owners1" | wc -l)" == 2 ] && [ "$owners1" == "$(g --node n2 replicas k2)" ] &&
  [ "$owners1" == "$(g --node n3 replicas k2)" ]; then
  pass "replicas ($(echo $owners1))"
else
  fail "replicas: n1 [$owners1], n2 [$(g --node n2 replicas k2)], n3 [$(g --node n3 replicas k2)]"
fi
check_match ring-info 0 "ring_members:3" -- g --node n2 info ring
# A delete leaves every replica's disk once all three hold it (GC every 5 s):
# each node collects that one tombstone, once.
info_field() {  # info_field NODE SECTION NAME
  g --node "$1" info "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p"
}
collected_everywhere() {
  for n in n1 n2 n3; do
    [ "$(info_field $n replication tombstones_collected)" == 1 ] &&
      [ "$(info_field $n replication tombstones_stored)" == 0 ] || return 1
  done
}
check_match del 0 "^deleted$" -- g --node n2 del k1
for _ in $(seq 300); do collected_everywhere && break; sleep 0.1; done
for n in n1 n2 n3; do
  got="$(info_field $n replication tombstones_collected)/$(info_field $n replication tombstones_stored)"
  if [ "$got" == "1/0" ]; then pass "collected-$n"; else
    fail "collected-$n: tombstones_collected/stored $got (want 1/0)"; fi
  check_match "gone-$n" 1 "not found" -- g --node $n get k1
done
check_match stop 0 "stopped" -- g cluster stop
check_match stopped 0 "n1 +- .* no" -- g cluster status
finish
