# Helpers shared by the shell tests (source it): counting checks, and one
# gossipkv-server on free loopback ports with a throwaway data directory.

passes=0
failures=0
pass() { echo "ok   $1"; passes=$((passes + 1)); }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }
# Prints the closing line; fails if any check failed.
finish() {
  echo "$passes passed, $failures failed"
  [ "$failures" -eq 0 ]
}

# check_output NAME RC OUTPUT -- COMMAND...: exit code and output exactly.
check_output() {
  local name=$1 want_rc=$2 want=$3 out rc
  shift 4
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" == "$want_rc" ] && [ "$out" == "$want" ]; then pass "$name"; else
    fail "$name: rc $rc (want $want_rc), output [$out] (want [$want])"; fi
}

# check_match NAME RC REGEX -- COMMAND...: exit code, and output matching.
check_match() {
  local name=$1 want_rc=$2 pattern=$3 out rc
  shift 4
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" == "$want_rc" ] && [[ "$out" =~ $pattern ]]; then pass "$name"; else
    fail "$name: rc $rc (want $want_rc) output [$out]"; fi
}

# start_server BINARY WORKDIR [ARGS...]: a node n1 with data in WORKDIR/data,
# client and peer ports chosen by the kernel, ARGS passed on. Sets
# server_pid and server_client (host:port); stop_server ends it.
start_server() {
  local binary=$1 work=$2
  "$binary" --node-id n1 --port 0 --peer-port 0 --data-dir "$work/data" --buffered \
    "${@:3}" 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 200); do
    [ -f "$work/data/endpoints" ] && break
    sleep 0.05
  done
  server_client=$(sed -n 's/^client=//p' "$work/data/endpoints" 2>/dev/null)
  if [ -z "$server_client" ]; then
    cat "$work/server.log" >&2
    echo "server did not start" >&2
    return 1
  fi
}

# setup_workdir: a temporary directory in $dir, removed, with any server
# started, when the script exits.
setup_workdir() {
  dir=$(mktemp -d)
  trap 'stop_server; rm -rf "$dir"' EXIT
}

stop_server() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  server_pid=
}

# free_base COUNT: a base port B whose client ports B+1..B+COUNT and peer
# ports B+101..B+100+COUNT are free right now (gossipkv cluster start's).
free_base() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(100):
    b = random.randrange(20000, 60000)
    try:
        socks = []
        for p in [b + i for i in range(1, n + 1)] + [b + 100 + i for i in range(1, n + 1)]:
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(b); break
    except OSError:
        pass
PY
}

# For a local cluster (gossipkv cluster start) with $gkv the CLI, $dir its
# directory and $base its base port: g runs the CLI on it; rcli NODE
# COMMANDS... runs the commands, one per line, on one redis-cli
# connection; pid_of NODE and info_field NODE SECTION FIELD read status
# and INFO.
g() { "$gkv" --dir "$dir" "$@"; }
rcli() {
  local port=$((base + ${1#n}))
  shift
  printf '%s\n' "$@" | redis-cli -p "$port" 2>&1
}
pid_of() { g cluster status | awk -v n="$1" '$1 == n {print $2}'; }
info_field() { g --node "$1" info "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p"; }
# wait_ring N: waits (up to 20 s) until n1's ring has N members.
wait_ring() {
  for _ in $(seq 200); do
    [ "$(info_field n1 ring ring_members)" == "$1" ] && return 0
    sleep 0.1
  done
}
# key_not_on NODE: sets key to the first of k1..k100 NODE does not own,
# and own to the array of its owners, best first.
key_not_on() {
  local i owners
  key=""
  for i in $(seq 100); do
    owners=$(g --node "$1" replicas "k$i")
    if ! grep -qx "$1" <<<"$owners"; then key="k$i"; break; fi
  done
  read -r -a own <<<"$(echo $owners)"
}
# packet_check NAME PORT WANT PACKET: sends PACKET (printf %b escapes) in
# one write to 127.0.0.1:PORT and expects exactly WANT back.
packet_check() {
  local name=$1 port=$2 want=$3 got
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '%b' "$4" >&3
  got=$(timeout 10 head -c ${#want} <&3)
  exec 3>&-
  if [ "$got" == "${want%$'\n'}" ]; then pass "$name"; else fail "$name: [$got]"; fi
}
