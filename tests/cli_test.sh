#!/usr/bin/env bash
# The gossipkv CLI against a real server: put/get/del/info, --all and
# --json output, exit codes (0 ok, 1 not found, 2 error) and the one-line
# message for a refused connection.
# Usage: cli_test.sh PATH/TO/gossipkv-server PATH/TO/gossipkv
set -uo pipefail
server=$1
cli=$2

dir=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

"$server" --node-id n1 --port 0 --peer-port 0 --data-dir "$dir/data" --buffered 2>"$dir/log" &
pid=$!
for _ in $(seq 200); do
  [ -f "$dir/data/endpoints" ] && break
  sleep 0.05
done
node=$(sed -n 's/^client=//p' "$dir/data/endpoints")
[ -n "$node" ] || { cat "$dir/log"; echo "server did not start" >&2; exit 1; }

passes=0
failures=0
check() {  # check NAME EXPECTED_RC EXPECTED_OUTPUT -- COMMAND...
  local name=$1 want_rc=$2 want_out=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" == "$want_rc" ] && [ "$out" == "$want_out" ]; then
    echo "ok   $name"; passes=$((passes + 1))
  else
    echo "FAIL $name: rc $rc (want $want_rc), output [$out] (want [$want_out])"; failures=$((failures + 1))
  fi
}

g() { "$cli" --node "$node" "$@"; }
check put 0 "OK" -- g put color blue
check get 0 "blue" -- g get color
check get-missing 1 "(not found)" -- g get nothing
check get-json 0 '{"key":"color","found":true,"value":"blue"}' -- g get color --json
check put-json 0 '{"key":"k\u0001","ok":true}' -- g --json put $'k\x01' v
check get-missing-json 1 '{"key":"nothing","found":false}' -- g --json get nothing
check del 0 "deleted" -- g del color
check del-again 1 "(not found)" -- g del color
check get-deleted 1 "(not found)" -- g get color

g put shape round >/dev/null
all=$(g get --all shape)
if [[ "$all" =~ ^round$'\t'\(dot\ n1@[0-9a-f]+:1,\ timestamp\ [0-9]+\)$'\n'context:\ [A-Za-z0-9_-]+$ ]]; then
  echo "ok   get-all"; passes=$((passes + 1))
else
  echo "FAIL get-all: [$all]"; failures=$((failures + 1))
fi
json=$(g get --all shape --json)
if [[ "$json" =~ ^\{\"key\":\"shape\",\"context\":\"[A-Za-z0-9_-]+\",\"siblings\":\[\{\"deleted\":false,\"value\":\"round\",\"dot\":\"n1@[0-9a-f]+:1\",\"timestamp_ms\":[0-9]+\}\]\}$ ]]; then
  echo "ok   get-all-json"; passes=$((passes + 1))
else
  echo "FAIL get-all-json: [$json]"; failures=$((failures + 1))
fi
keys=$(g info storage | tr -d '\r' | sed -n 's/^keys://p')
[ "$keys" == "2" ] && { echo "ok   info"; passes=$((passes + 1)); } || { echo "FAIL info: keys=[$keys]"; failures=$((failures + 1)); }
g info --json | grep -q '"storage":{"keys":"2"' && { echo "ok   info-json"; passes=$((passes + 1)); } ||
  { echo "FAIL info-json: $(g info --json)"; failures=$((failures + 1)); }

members=$(g members)
if [[ "$members" == *"ID"*"STATUS"* && "$members" =~ n1\ +127\.0\.0\.1:[0-9]+\ +127\.0\.0\.1:[0-9]+\ +self ]]; then
  echo "ok   members"; passes=$((passes + 1))
else
  echo "FAIL members: [$members]"; failures=$((failures + 1))
fi
members_json=$(g members --json)
if [[ "$members_json" =~ ^\[\{\"id\":\"n1\",\"peer\":\"127\.0\.0\.1:[0-9]+\",.*\"status\":\"self\" ]]; then
  echo "ok   members-json"; passes=$((passes + 1))
else
  echo "FAIL members-json: [$members_json]"; failures=$((failures + 1))
fi
digest=$(g digest)
if [[ "$digest" =~ ^root\ [0-9a-f]{16}\ \ keys\ 3\ \(live\ 2\)$ ]]; then
  echo "ok   digest"; passes=$((passes + 1))
else
  echo "FAIL digest: [$digest]"; failures=$((failures + 1))
fi
fault=$(g info server | tr -d '\r' | sed -n 's/^fault_injection://p')
refused=$(redis-cli -p "${node##*:}" FAULT BLOCK n2)
if [ "$fault" == "off" ] && [[ "$refused" == *"FAULT is disabled"* ]]; then
  echo "ok   fault-refused"; passes=$((passes + 1))
else
  echo "FAIL fault-refused: [$fault] [$refused]"; failures=$((failures + 1))
fi

# A port nobody listens on: one clear line, exit code 2.
free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
check refused 2 "gossipkv: cannot connect to 127.0.0.1:$free_port: Connection refused" -- "$cli" --port "$free_port" get x
usage=$("$cli" get 2>&1)
usage_rc=$?
if [ "$usage_rc" == 2 ] && [[ "$usage" == *"key is required"* ]]; then
  echo "ok   bad-usage"; passes=$((passes + 1))
else
  echo "FAIL bad-usage: rc $usage_rc [$usage]"; failures=$((failures + 1))
fi

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
