#!/usr/bin/env bash
# Drives a real gossipkv-server with Debian's redis-cli: GET/SET/DEL/MGET, a
# binary value with NUL and 0xff bytes, pipelined input and INFO parsing.
# Usage: redis_cli_test.sh PATH/TO/gossipkv-server
set -euo pipefail
server=$1
command -v redis-cli >/dev/null || { echo "redis-cli missing: run scripts/bootstrap.sh" >&2; exit 1; }

. "$(dirname "$0")/lib.sh"
setup_workdir
start_server "$server" "$dir"
port=${server_client##*:}

cli() { redis-cli -p "$port" "$@"; }
expect() {  # expect NAME EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: expected [$2] got [$3]"; fi
}

expect ping "PONG" "$(cli PING)"
expect set "OK" "$(cli SET greeting hello)"
expect get "hello" "$(cli GET greeting)"
expect mset "OK" "$(cli MSET a 1 b 2 c 3)"
expect mget "$(printf '1\n2\n\n3')" "$(cli MGET a b missing c)"
expect del "2" "$(cli DEL a b missing)"
expect get-deleted "" "$(cli GET a)"
expect exists "2" "$(cli EXISTS greeting c)"
expect dbsize "2" "$(cli DBSIZE)"

# A binary value: every byte 0..255, NUL and 0xff included.
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4)' >"$dir/binary"
expect set-binary "OK" "$(cli -x SET blob <"$dir/binary")"
# --raw prints the value's bytes, then a newline: exactly 1025 bytes.
{ cat "$dir/binary"; echo; } >"$dir/binary.want"
cli --raw GET blob >"$dir/binary.out"
if cmp -s "$dir/binary.want" "$dir/binary.out"; then pass binary-roundtrip; else fail binary-roundtrip; fi
cli --raw MGET blob >"$dir/binary.mget"
if cmp -s "$dir/binary.want" "$dir/binary.mget"; then pass binary-mget; else
  fail "binary-mget: $(wc -c <"$dir/binary.mget") bytes"; fi

# Pipe mode: many commands on one connection.
for i in $(seq 1000); do printf 'SET pipe:%d %d\r\n' "$i" "$i"; done >"$dir/pipe"
cli --pipe <"$dir/pipe" >"$dir/pipe.out" 2>&1
if grep -q "errors: 0, replies: 1000" "$dir/pipe.out"; then pass pipe-mode; else
  fail "pipe-mode: $(cat "$dir/pipe.out")"; fi
expect pipe-value "777" "$(cli GET pipe:777)"

expect info-keyspace "db0:keys=1003,expires=0" "$(cli INFO keyspace | tr -d '\r' | grep ^db0)"
expect unknown-command "ERR unknown command 'NOPE', with args beginning with: " "$(cli NOPE 2>&1)"

finish
