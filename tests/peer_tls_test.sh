#!/usr/bin/env bash
# Mutual TLS between real peers: nodes with peer.tls = "on" and
# certificates of one CA replicate; a plaintext node, a node whose
# certificate comes from another CA, and one whose certificate names
# another node id are refused and counted, and get nothing. A permissive
# node talks TLS to an "on" node and plaintext to an "off" one, so the
# cluster can switch over node by node. Also `gossipkv cluster start --tls`.
# Usage: peer_tls_test.sh PATH/TO/gossipkv-server PATH/TO/gossipkv
set -uo pipefail
server=$1
gossipkv=$2
for tool in redis-cli openssl; do
  command -v $tool >/dev/null || { echo "$tool missing: run scripts/bootstrap.sh" >&2; exit 1; }
done
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  "$gossipkv" --dir "$dir/local" cluster stop >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT

pki=$dir/pki
mkdir -p "$pki"
ca() {  # ca NAME: a self-signed CA
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$1" \
    -keyout "$pki/$1.key" -out "$pki/$1.crt" 2>/dev/null
}
sign() {  # sign FILE NAME CA: a certificate naming NAME
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" \
    -keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s\n' "$2" >"$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$3.crt" -CAkey "$pki/$3.key" \
    -CAcreateserial -days 1 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
}
ca cluster
ca other
for n in n1 n2 n5 n6 n8 n10; do sign $n $n cluster; done
sign n3 n3 other      # the right name, another CA
sign n4 n9 cluster    # the cluster CA, another name

# start_node NAME MODE CERT [SEED]: sets port_NAME (client) and peer_NAME.
start_node() {
  local name=$1 mode=$2 cert=$3 seed=${4:-}
  {
    echo "node_id = \"$name\""
    echo "data_dir = \"$dir/$name\""
    [ -n "$seed" ] && echo "seeds = [\"$seed\"]"
    echo '[client]'
    echo 'bind = "127.0.0.1:0"'
    echo '[peer]'
    echo 'bind = "127.0.0.1:0"'
    echo 'handshake_timeout_ms = 500'
    echo "tls = \"$mode\""
    if [ "$mode" != off ]; then
      echo "tls_cert_file = \"$pki/$cert.crt\""
      echo "tls_key_file = \"$pki/$cert.key\""
      echo "tls_ca_cert_file = \"$pki/cluster.crt\""
    fi
    echo '[storage]'
    echo 'durability = "buffered"'
    echo '[gossip]'
    echo 'interval_ms = 100'
    echo '[replication]'
    echo 'anti_entropy_interval_ms = 300'
  } >"$dir/$name.toml"
  "$server" -c "$dir/$name.toml" 2>"$dir/$name.log" &
  pids+=($!)
  for _ in $(seq 200); do
    [ -f "$dir/$name/endpoints" ] && break
    sleep 0.05
  done
  local client peer
  client=$(sed -n 's/^client=//p' "$dir/$name/endpoints")
  peer=$(sed -n 's/^peer=//p' "$dir/$name/endpoints")
  [ -n "$client" ] || { cat "$dir/$name.log"; echo "$name did not start" >&2; exit 1; }
  printf -v "port_$name" '%s' "${client##*:}"
  printf -v "peer_$name" '%s' "$peer"
}
cli() { local p="port_$1"; shift; redis-cli -p "${!p}" "$@"; }
info() { cli "$1" INFO peers | tr -d '\r' | sed -n "s/^$2://p"; }
# wait_get NODE KEY WANT: up to 10 s for NODE to read WANT.
wait_get() {
  for _ in $(seq 100); do
    [ "$(cli "$1" GET "$2")" == "$3" ] && return 0
    sleep 0.1
  done
  return 1
}

start_node n1 on n1
start_node n2 on n2 "$peer_n1"
cli n1 SET k1 v1 >/dev/null
wait_get n2 k1 v1 && pass "two nodes with peer.tls on replicate" ||
  fail "n2 never read k1 over TLS"
check_output "INFO peers shows the mode" 0 on -- info n1 peer_tls

# Refused: plaintext, another CA, another name. Each is seeded with n1.
before=$(info n1 peer_tls_handshake_failures)
start_node n3p off - "$peer_n1"
start_node n3 on n3 "$peer_n1"
start_node n4 on n4 "$peer_n1"
cli n1 SET k2 v2 >/dev/null
sleep 2
for n in n3p n3 n4; do
  got=$(cli $n GET k1)
  [ -z "$got" ] && pass "$n gets nothing" || fail "$n read k1: [$got]"
done
members=$(cli n1 MEMBERS | tr -d '\r')
if [[ "$members" != *n3* && "$members" != *n4* ]]; then pass "n1 does not list the refused nodes"
else fail "n1's members: $members"; fi
after=$(info n1 peer_tls_handshake_failures)
[ "$after" -ge $((before + 2)) ] && pass "handshake failures counted ($after)" ||
  fail "handshake failures: $before -> $after"
mismatch=$(info n1 peer_tls_name_mismatches)
[ "$mismatch" -ge 1 ] && pass "a certificate naming n9 for n4 is refused ($mismatch)" ||
  fail "name mismatches: $mismatch"
grep -q "does not name node id 'n4'" "$dir/n1.log" && pass "the refusal is logged with the id" ||
  fail "no log line for n4's certificate"
grep -Eq "refused this node's certificate: .*unknown ca|TLS handshake failed: .*(unknown ca|certificate)" "$dir/n3.log" &&
  pass "n3 logs that its certificate was refused" ||
  fail "n3.log: $(grep -i tls "$dir/n3.log" | head -3)"
[ "$(info n3 peer_tls_handshake_failures)" -ge 1 ] && pass "the refused dialer n3 counts it too" ||
  fail "n3 counted no handshake failure"
# The dialing side checks the answer: n8 dials n4, whose certificate names
# n9, refuses it and sends it nothing.
start_node n8 on n8 "$peer_n4"
cli n8 SET k8 v8 >/dev/null
sleep 1
[ "$(info n8 peer_tls_name_mismatches)" -ge 1 ] && pass "n8 refuses n4's answer" ||
  fail "n8 name mismatches: $(info n8 peer_tls_name_mismatches)"
[ -z "$(cli n4 GET k8)" ] && pass "and n4 gets none of n8's data" || fail "n4 read k8"
# n8 sent n4 nothing past its handshake, not even gossip naming itself.
[[ "$(cli n4 MEMBERS)" != *n8* ]] && pass "n4 never hears of n8" || fail "n4 lists n8"
# A permissive node never falls back to plaintext after a certificate
# refusal: n10 dials n3, whose certificate is another CA's.
start_node n10 permissive n10 "$peer_n3"
sleep 1
[ "$(info n10 peer_tls_handshake_failures)" -ge 1 ] && [ "$(info n10 peer_plaintext_fallbacks)" == 0 ] &&
  pass "permissive n10 refuses n3 without falling back" ||
  fail "n10: failures $(info n10 peer_tls_handshake_failures), fallbacks $(info n10 peer_plaintext_fallbacks)"
# Nor after a timeout: n11 dials a listener that accepts and says nothing.
silent_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c "import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $silent_port)); s.listen(16)
held = []
while True:
    held.append(s.accept()[0])" &
pids+=($!)
sleep 0.3
start_node n11 permissive n10 "127.0.0.1:$silent_port"
sleep 2
[ "$(info n11 peer_tls_handshake_failures)" -ge 1 ] && [ "$(info n11 peer_plaintext_fallbacks)" == 0 ] &&
  pass "permissive n11 does not fall back after a handshake timeout" ||
  fail "n11: failures $(info n11 peer_tls_handshake_failures), fallbacks $(info n11 peer_plaintext_fallbacks)"

# Switching over: n6 runs plaintext (off), n5 permissive; n5 speaks TLS to
# n1 and plaintext with n6, so data flows n6 -> n5 -> n1 and back.
start_node n5 permissive n5 "$peer_n1"
start_node n6 off - "$peer_n5"
cli n6 SET k3 v3 >/dev/null
wait_get n1 k3 v3 && pass "a write on the plaintext node reaches the TLS node" ||
  fail "n1 never read k3"
wait_get n6 k1 v1 && pass "and the TLS node's writes reach the plaintext one" ||
  fail "n6 never read k1"
[ "$(info n5 peer_plaintext_accepted)" -ge 1 ] && pass "permissive n5 accepted plaintext" ||
  fail "n5 accepted no plaintext"
[ "$(info n5 peer_plaintext_fallbacks)" -ge 1 ] && pass "and fell back to plaintext dialing n6" ||
  fail "n5 never fell back"

# The local cluster with --tls: certificates made with openssl, nodes agree.
base=$(free_base 3)  # free now, not just random
if "$gossipkv" --dir "$dir/local" cluster start -n 3 --tls --base-port $base >/dev/null; then
  pass "cluster start --tls"
else fail "cluster start --tls failed"; fi
for f in ca.crt n1.crt n2.key n3.crt; do
  [ -f "$dir/local/tls/$f" ] || fail "no tls/$f"
done
grep -q 'tls = "on"' "$dir/local/n2.toml" && pass "the configs turn peer.tls on" ||
  fail "n2.toml: $(cat "$dir/local/n2.toml")"
"$gossipkv" --dir "$dir/local" --node n1 put tk tv >/dev/null
ok=
for _ in $(seq 100); do
  [ "$("$gossipkv" --dir "$dir/local" --node n3 get tk 2>/dev/null)" == tv ] && ok=1 && break
  sleep 0.1
done
[ -n "$ok" ] && pass "the TLS local cluster replicates" || fail "n3 never read tk"
peers=$(redis-cli -p $((base + 2)) INFO peers | tr -d '\r')
if [[ "$peers" == *"peer_tls:on"* && "$peers" =~ peer_connects:[1-9] &&
      "$peers" == *"peer_tls_handshake_failures:0"* ]]; then
  pass "its peers connect over TLS without failures"
else fail "local n2: $(grep -E 'connects|tls' <<<"$peers")"; fi
finish
