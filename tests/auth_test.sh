#!/usr/bin/env bash
# Client authentication against a real server, as redis-cli and the
# gossipkv CLI see it: requirepass (AUTH password), named users with roles
# (AUTH user password), -NOAUTH before AUTH, -WRONGPASS for a wrong
# password, -NOPERM past a role, and passwords stored hashed.
# Usage: auth_test.sh PATH/TO/gossipkv-server PATH/TO/gossipkv
set -uo pipefail
server=$1
cli=$2

command -v redis-cli >/dev/null || { echo "redis-cli missing: run scripts/bootstrap.sh" >&2; exit 1; }

. "$(dirname "$0")/lib.sh"
setup_workdir

hash() { printf 'sha256:%s' "$(printf %s "$1" | sha256sum | cut -d' ' -f1)"; }
cat >"$dir/auth.toml" <<TOML
[client]
requirepass = "$(hash secret)"
[[users]]
name = "alice"
password = "$(hash alice-pw)"
role = "read"
[[users]]
name = "bob"
password = "$(hash bob-pw)"
role = "write"
TOML
start_server "$server" "$dir" --config "$dir/auth.toml" || exit 1
port=${server_client##*:}
r() { redis-cli -p "$port" "$@" 2>/dev/null; }

check_output noauth 0 "NOAUTH Authentication required." -- r PING
# redis-cli reports a failed AUTH on stderr, then runs the command anyway.
check_match wrongpass 0 "WRONGPASS invalid username-password pair or user is disabled.*NOAUTH" -- bash -c "redis-cli -p $port -a wrong PING 2>&1" 
check_output auth-ping 0 "PONG" -- r -a secret PING
# AUTH and a command past the unauthenticated limits in one packet: the
# command parses under the limits AUTH grants.
packet_check auth-then-long-command "$port" $'+OK\r\n+OK\r\n' \
  'AUTH secret\r\nMSET a 1 b 2 c 3 d 4 e 5 f 6\r\n'
check_output auth-set 0 "OK" -- r -a secret SET k v
check_output read-get 0 "v" -- r --user alice --pass alice-pw GET k
check_match read-set 0 "^NOPERM User alice has no permissions to run the 'set' command" -- r --user alice --pass alice-pw SET k w
for write in "DEL k" "MSET k w" "VSET k w ctx" "VDEL k ctx"; do
  # shellcheck disable=SC2086
  check_match "read-${write%% *}" 0 "^NOPERM" -- r --user alice --pass alice-pw $write
done
check_match read-fault 0 "^NOPERM" -- r --user alice --pass alice-pw FAULT BLOCK n2
check_output write-set 0 "OK" -- r --user bob --pass bob-pw SET k w
check_match write-cluster 0 "^NOPERM User bob has no permissions to run the 'cluster' command" -- r --user bob --pass bob-pw CLUSTER NODES
check_match write-fault 0 "^NOPERM User bob has no permissions to run the 'fault' command" -- r --user bob --pass bob-pw FAULT BLOCK n2
check_match admin-cluster 0 "n1" -- r -a secret CLUSTER NODES
check_match unknown-user 0 "WRONGPASS" -- bash -c "redis-cli -p $port --user carol --pass alice-pw GET k 2>&1" 
# One connection: a failed AUTH leaves it unauthenticated; a good one lets it in.
check_match one-connection 0 "^WRONGPASS.*NOAUTH Authentication required\..*OK.*w$" -- \
  bash -c "printf 'AUTH nope\r\nGET k\r\nAUTH secret\r\nGET k\r\n' | redis-cli -p $port"
check_match failures-counted 0 "auth_failures:([3-9]|[1-9][0-9]+)" -- r -a secret INFO stats
# As Redis, an unknown command is named so even before AUTH.
check_match unknown-before-auth 0 "^ERR unknown command 'HELLO'" -- r HELLO 3

# Before AUTH a request is held to max_unauthenticated_bytes (16 KiB).
big=$(head -c 20000 /dev/zero | tr '\0' x)
check_match preauth-cap 0 "argument too large before AUTH \(max 16384 bytes\)" -- r SET big "$big"
check_output postauth-big 0 "OK" -- r -a secret SET big "$big"

# redis-py (Debian's python3-redis): password=, and username= with it.
py() { /usr/bin/python3 -c "import redis, sys
r = redis.Redis(port=$port, $1)
try:
    print(r.$2)
except redis.exceptions.RedisError as e:
    print(type(e).__name__, e)"; }
check_output redis-py-password 0 "b'w'" -- py "password='secret'" "get('k')"
check_output redis-py-user 0 "b'w'" -- py "username='alice', password='alice-pw'" "get('k')"
check_match redis-py-noperm 0 "^NoPermissionError" -- py "username='alice', password='alice-pw'" "set('k', 'x')"
check_match redis-py-wrong 0 "^(AuthenticationError|ResponseError) WRONGPASS" -- py "password='nope'" "get('k')"

g() { "$cli" --node "$server_client" "$@"; }
check_match cli-noauth 2 "NOAUTH" -- g get k
check_output cli-password 0 "w" -- g --password secret get k
check_output cli-env 0 "w" -- env GOSSIPKV_USER=alice GOSSIPKV_PASSWORD=alice-pw "$cli" --node "$server_client" get k
check_match cli-env-noperm 2 "NOPERM" -- env GOSSIPKV_USER=alice GOSSIPKV_PASSWORD=alice-pw "$cli" --node "$server_client" put k x
check_match cli-wrongpass 2 "WRONGPASS" -- g --password nope get k
# The local-cluster commands authenticate too: this server as node n1 of a
# cluster directory.
mkdir -p "$dir/lc" && touch "$dir/lc/n1.toml" && ln -s "$dir/data" "$dir/lc/n1"
check_match cluster-status-auth 0 "all 1 replicas agree" -- "$cli" --dir "$dir/lc" --password secret cluster status
check_output cluster-node-auth 0 "w" -- "$cli" --dir "$dir/lc" --node n1 --password secret get k
check_match cluster-heal-noauth 2 "NOAUTH" -- "$cli" --dir "$dir/lc" heal
stop_server

# A password written in the clear is refused, naming how to hash it.
printf '[client]\nrequirepass = "secret"\n' >"$dir/plain.toml"
check_match plaintext-refused 2 "requirepass must be stored hashed" -- "$server" --config "$dir/plain.toml" --data-dir "$dir/plain" --port 0 --peer-port 0
finish
