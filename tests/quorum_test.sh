#!/usr/bin/env bash
# Quorum writes on real processes: five nodes, three replicas per key. A
# connection that asks CONSISTENCY QUORUM has its SET acknowledged once
# two of the key's owners hold it; with one owner killed writes still
# succeed, with two they are answered -NOREPLICAS naming how many owners
# answered, and CONSISTENCY ONE takes them again (this node's disk).
# Reads at QUORUM ask the owners too: with one owner down they answer the
# last write from another owner, with two they are answered -NOREPLICAS;
# at ONE they read this node's replica. Hinted handoff is off here: a
# down owner's writes wait for it (tests/hinted_handoff_test.sh has it on).
# Usage: quorum_test.sh PATH/TO/gossipkv
set -uo pipefail
gkv=$1
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
dir=$work/cluster
cleanup() { "$gkv" --dir "$dir" cluster stop >/dev/null 2>&1; [ -n "${KEEP:-}" ] && cp -r "$dir" /tmp/quorum-kept; rm -rf "$work"; }
trap cleanup EXIT
base=$(free_base 5)

check_match start 0 "started 5 nodes" -- g cluster start -n 5 --base-port "$base" --replication-factor 3 --no-hinted-handoff
wait_ring 5
check_match ring-formed 0 "ring_members:5" -- g --node n1 info ring
# A key n1 does not own: every acknowledgement comes from other nodes.
key_not_on n1
echo "key $key owners ${own[*]}"
check_output quorum-set 0 $'OK\nOK' -- rcli n1 "CONSISTENCY QUORUM" "SET $key v1"
kill -9 "$(pid_of "${own[0]}")"
check_output one-owner-down 0 $'OK\nOK' -- rcli n1 "CONSISTENCY QUORUM" "SET $key v2"
check_output quorum-get 0 $'OK\nv2\n1\nv2' -- rcli n1 "CONSISTENCY QUORUM" "GET $key" "EXISTS $key" "MGET $key"
check_match quorum-vget 0 $'\nv2\n' -- rcli n1 "CONSISTENCY QUORUM" "VGET $key"
# n1 stores the key too: the reads above went to the owners all the same.
sent=$(g --node n1 info replication | tr -d '\r' | sed -n 's/^read_requests_sent://p')
if [ "${sent:-0}" -ge 12 ]; then pass "read-requests-sent $sent"; else
  fail "the QUORUM reads sent $sent ReadRequests (want one per read per owner)"; fi
kill -9 "$(pid_of "${own[1]}")"
start=$(date +%s%N)
check_match two-owners-down 0 "^OK
NOREPLICAS only 1 of the 2 replicas needed acknowledged within 2000 ms; the write is stored on this node and may still reach the others$" -- rcli n1 "CONSISTENCY QUORUM" "SET $key v3"
waited=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$waited" -ge 1900 ] && [ "$waited" -lt 10000 ]; then pass "waited ${waited} ms"; else
  fail "the NOREPLICAS answer came after $waited ms (want the 2000 ms timeout)"; fi
# One round of two writes, one of a key whose owners are all up: only the
# other is answered -NOREPLICAS.
for i in $(seq 200); do
  o=$(g --node n1 replicas "u$i")
  if ! grep -qx -e "${own[0]}" -e "${own[1]}" <<<"$o"; then up_key="u$i"; break; fi
done
short="only 1 of the 2 replicas needed acknowledged within 2000 ms; the write is stored on this node and may still reach the others"
packet_check one-write-short-of-two $((base + 1)) $'+OK\r\n+OK\r\n-NOREPLICAS '"$short"$'\r\n' \
  "CONSISTENCY QUORUM\r\nSET $up_key a\r\nSET $key b\r\n"
# A level change ends the round: the write at QUORUM of a key with one
# owner down is answered +OK, the one at ALL after it -NOREPLICAS.
for i in $(seq 200); do
  o=$(g --node n1 replicas "w$i")
  if [ "$(grep -cx -e "${own[0]}" -e "${own[1]}" <<<"$o")" == 1 ]; then one_down="w$i"; break; fi
done
packet_check level-change-ends-the-round $((base + 1)) \
  $'+OK\r\n+OK\r\n+OK\r\n-NOREPLICAS '"${short/1 of the 2/2 of the 3}"$'\r\n' \
  "CONSISTENCY QUORUM\r\nSET $one_down a\r\nCONSISTENCY ALL\r\nSET $one_down b\r\n"
check_output all-down-for-all 0 $'OK\nNOREPLICAS only 1 of the 3 replicas needed acknowledged within 2000 ms; the write is stored on this node and may still reach the others' -- rcli n1 "CONSISTENCY ALL" "SET $key v4"
# (redis-cli prints a blank line after an error that another reply follows)
check_output read-two-owners-down 0 $'OK\nNOREPLICAS only 1 of the 2 replicas needed answered within 2000 ms\n\nNOREPLICAS only 1 of the 2 replicas needed answered within 2000 ms' -- rcli n1 "CONSISTENCY QUORUM" "GET $key" "MGET $key other"
check_output read-local 0 $'OK\nv4' -- rcli n1 "CONSISTENCY ONE" "GET $key"
check_output one 0 $'OK\nOK' -- rcli n1 "CONSISTENCY ONE" "SET $key v5"
check_output default-one 0 "OK" -- rcli n1 "SET $key v6"
check_match bad-level 0 "ERR usage: CONSISTENCY ONE \| QUORUM \| ALL" -- rcli n1 "CONSISTENCY TWO"
# The surviving owner took every write it was sent.
check_output survivor 0 "v6" -- rcli "${own[2]}" "GET $key"
check_output quorum-failures 0 "4" -- info_field n1 stats quorum_failures
check_output quorum-writes-failed 0 "4" -- info_field n1 replication quorum_writes_failed
check_output read-quorum-failures 0 "2" -- info_field n1 storage read_quorum_failures
# redis-cli sends one command at a time: GET and MGET read once each.
check_output quorum-reads-failed 0 "2" -- info_field n1 replication quorum_reads_failed
finish
