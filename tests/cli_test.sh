#!/usr/bin/env bash
# The gossipkv CLI against a real server: put/get/del/info, --all and
# --json output, exit codes (0 ok, 1 not found, 2 error), cluster forget
# and leave, and the one-line message for a refused connection.
# Usage: cli_test.sh PATH/TO/gossipkv-server PATH/TO/gossipkv
set -uo pipefail
server=$1
cli=$2

. "$(dirname "$0")/lib.sh"
setup_workdir
start_server "$server" "$dir" || exit 1
node=$server_client

g() { "$cli" --node "$node" "$@"; }
check_output put 0 "OK" -- g put color blue
check_output get 0 "blue" -- g get color
check_output get-missing 1 "(not found)" -- g get nothing
check_output get-json 0 '{"key":"color","found":true,"value":"blue"}' -- g get color --json
check_output put-json 0 '{"key":"k\u0001","ok":true}' -- g --json put $'k\x01' v
check_output get-missing-json 1 '{"key":"nothing","found":false}' -- g --json get nothing
check_output del 0 "deleted" -- g del color
check_output del-again 1 "(not found)" -- g del color
check_output get-deleted 1 "(not found)" -- g get color

g put shape round >/dev/null
all=$(g get --all shape)
if [[ "$all" =~ ^round$'\t'\(dot\ n1@[0-9a-f]+:1,\ timestamp\ [0-9]+\)$'\n'context:\ [A-Za-z0-9_-]+$ ]]; then
  pass get-all
else
  fail "get-all: [$all]"
fi
json=$(g get --all shape --json)
if [[ "$json" =~ ^\{\"key\":\"shape\",\"context\":\"[A-Za-z0-9_-]+\",\"siblings\":\[\{\"deleted\":false,\"value\":\"round\",\"dot\":\"n1@[0-9a-f]+:1\",\"timestamp_ms\":[0-9]+\}\]\}$ ]]; then
  pass get-all-json
else
  fail "get-all-json: [$json]"
fi
keys=$(g info storage | tr -d '\r' | sed -n 's/^keys://p')
if [ "$keys" == "2" ]; then pass info; else fail "info: keys=[$keys]"; fi
if g info --json | grep -q '"storage":{"keys":"2"'; then pass info-json; else
  fail "info-json: $(g info --json)"; fi

members=$(g members)
if [[ "$members" == *"ID"*"STATUS"* && "$members" =~ n1\ +127\.0\.0\.1:[0-9]+\ +127\.0\.0\.1:[0-9]+\ +self ]]; then
  pass members
else
  fail "members: [$members]"
fi
members_json=$(g members --json)
if [[ "$members_json" =~ ^\[\{\"id\":\"n1\",\"peer\":\"127\.0\.0\.1:[0-9]+\",.*\"status\":\"self\" ]]; then
  pass members-json
else
  fail "members-json: [$members_json]"
fi
digest=$(g digest)
if [[ "$digest" =~ ^root\ [0-9a-f]{16}\ \ keys\ 3\ \(live\ 2\)$ ]]; then
  pass digest
else
  fail "digest: [$digest]"
fi
# UTF-8 goes out as itself; bytes that are not UTF-8 go out base64-encoded.
check_output put-utf8 0 "OK" -- g put café "crème brûlée"
check_output get-utf8-json 0 '{"key":"café","found":true,"value":"crème brûlée"}' -- g --json get café
check_output put-binary 0 "OK" -- g put $'bin\xff' $'\xff\xfeA'
check_output get-binary-json 0 '{"key":"Ymlu/w==","key_encoding":"base64","found":true,"value":"//5B","value_encoding":"base64"}' -- g --json get $'bin\xff'
binary_all=$(g --json get --all $'bin\xff')
if [[ "$binary_all" == *'"siblings":[{"deleted":false,"value":"//5B","value_encoding":"base64","dot":'* ]]; then
  pass get-all-binary-json
else
  fail "get-all-binary-json: [$binary_all]"
fi
fault=$(g info server | tr -d '\r' | sed -n 's/^fault_injection://p')
refused=$(redis-cli -p "${node##*:}" FAULT BLOCK n2)
if [ "$fault" == "off" ] && [[ "$refused" == *"FAULT is disabled"* ]]; then
  pass fault-refused
else
  fail "fault-refused: [$fault] [$refused]"
fi

# Cluster administration: forget refuses this node and strangers, naming
# why; leave takes the node out, and it exits by itself.
check_output forget-self 2 "gossipkv: ERR cannot forget this node itself (CLUSTER LEAVE takes a node out)" -- g cluster forget n1
check_output forget-unknown 2 "gossipkv: ERR unknown node id nobody" -- g cluster forget nobody
check_output leave 0 "OK" -- g cluster leave
left=no
for _ in $(seq 100); do
  if ! kill -0 "$server_pid" 2>/dev/null; then left=yes; break; fi
  sleep 0.05
done
if [ "$left" == yes ]; then pass leave-exits; server_pid=; else fail "leave-exits: still running"; fi

# A port nobody listens on: one clear line, exit code 2.
free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
check_output refused 2 "gossipkv: cannot connect to 127.0.0.1:$free_port: Connection refused" -- "$cli" --port "$free_port" get x
usage=$("$cli" get 2>&1)
usage_rc=$?
if [ "$usage_rc" == 2 ] && [[ "$usage" == *"key is required"* ]]; then
  pass bad-usage
else
  fail "bad-usage: rc $usage_rc [$usage]"
fi

finish
