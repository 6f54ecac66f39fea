#!/usr/bin/env bash
# TLS for clients against a real server: redis-cli --tls with the CA's
# certificate talks to the TLS port while plaintext clients keep the
# plain one; a plaintext client on the TLS port is closed without harming
# anyone; with tls_auth_clients a client needs a certificate of the CA.
# Certificates are made here with the openssl command.
# Usage: tls_test.sh PATH/TO/gossipkv-server
set -uo pipefail
server=$1
command -v redis-cli >/dev/null || { echo "redis-cli missing: run scripts/bootstrap.sh" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl missing: run scripts/bootstrap.sh" >&2; exit 1; }

. "$(dirname "$0")/lib.sh"
setup_workdir
pki=$dir/pki
mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=gossipkv test CA" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
sign() {  # sign NAME SUBJECT-ALT-NAMES
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" \
    -keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\n' "$2" >"$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 1 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
}
sign server "IP:127.0.0.1,DNS:localhost"
sign client "DNS:client"
# A client certificate from another CA.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=stranger" \
  -keyout "$pki/stranger.key" -out "$pki/stranger.crt" 2>/dev/null

tls_config() {  # tls_config AUTH_CLIENTS
  cat <<TOML
[client]
tls_bind = "127.0.0.1:0"
tls_cert_file = "$pki/server.crt"
tls_key_file = "$pki/server.key"
tls_ca_cert_file = "$pki/ca.crt"
tls_auth_clients = $1
tls_handshake_timeout_ms = 2000
TOML
}
tls_config false >"$dir/tls.toml"
start_server "$server" "$dir" --config "$dir/tls.toml" || exit 1
port=${server_client##*:}
tls_port=$(sed -n 's/^tls=.*://p' "$dir/data/endpoints")
t() { redis-cli --tls --cacert "$pki/ca.crt" -p "$tls_port" "$@" 2>&1; }

check_output tls-ping 0 "PONG" -- t PING
check_output tls-set 0 "OK" -- t SET k over-tls
check_output plain-get 0 "over-tls" -- redis-cli -p "$port" GET k
check_output tls-client-cert-optional 0 "PONG" -- t --cert "$pki/client.crt" --key "$pki/client.key" PING
# Plaintext on the TLS port: that connection fails, the server serves on.
plain_on_tls=$(timeout 5 redis-cli -p "$tls_port" PING 2>&1)
if [[ "$plain_on_tls" != *PONG* ]]; then pass plaintext-on-tls; else
  fail "plaintext-on-tls: [$plain_on_tls]"; fi
check_output still-serving 0 "over-tls" -- redis-cli -p "$port" GET k
check_output tls-still-serving 0 "over-tls" -- t GET k
# redis-py (Debian's python3-redis) with ssl=True.
check_output redis-py-ssl 0 "b'over-tls'" -- /usr/bin/python3 -c "import redis
print(redis.Redis(port=$tls_port, ssl=True, ssl_ca_certs='$pki/ca.crt').get('k'))"
check_match handshake-failures 0 "tls_handshake_failures:[1-9]" -- redis-cli -p "$port" INFO stats
# A client that opens the TLS port and says nothing is closed after the
# handshake timeout.
check_match silent-closed 0 "closed after [1-4] s" -- bash -c "exec 3<>/dev/tcp/127.0.0.1/$tls_port; s=\$SECONDS; if timeout 6 cat <&3 >/dev/null; then echo closed after \$((SECONDS - s)) s; else echo open; fi"
stop_server

tls_config true >"$dir/mtls.toml"
rm -rf "$dir/data"
start_server "$server" "$dir" --config "$dir/mtls.toml" || exit 1
tls_port=$(sed -n 's/^tls=.*://p' "$dir/data/endpoints")
no_cert=$(timeout 5 redis-cli --tls --cacert "$pki/ca.crt" -p "$tls_port" PING 2>&1)
if [[ "$no_cert" != *PONG* ]]; then pass no-client-cert; else
  fail "no-client-cert: [$no_cert]"; fi
check_output client-cert 0 "PONG" -- t --cert "$pki/client.crt" --key "$pki/client.key" PING
stranger=$(timeout 5 redis-cli --tls --cacert "$pki/ca.crt" --cert "$pki/stranger.crt" --key "$pki/stranger.key" -p "$tls_port" PING 2>&1)
if [[ "$stranger" != *PONG* ]]; then pass other-ca-refused; else
  fail "other-ca-refused: [$stranger]"; fi
# A TLS session is resumed on reconnect, client certificates checked.
s_client() { openssl s_client -connect "127.0.0.1:$tls_port" -CAfile "$pki/ca.crt" \
  -cert "$pki/client.crt" -key "$pki/client.key" -tls1_2 "$@" </dev/null 2>&1; }
s_client -sess_out "$dir/session" >/dev/null
check_match tls-resumption 0 "Reused" -- s_client -sess_in "$dir/session"
stop_server

printf '[client]\ntls_bind = "127.0.0.1:0"\n' >"$dir/bad.toml"
check_match tls-needs-cert 2 "tls_cert_file" -- "$server" --config "$dir/bad.toml" --data-dir "$dir/bad" --port 0 --peer-port 0
finish
