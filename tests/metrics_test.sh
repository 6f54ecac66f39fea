#!/usr/bin/env bash
# Prometheus metrics against real servers: /metrics passes promtool's lint,
# counts requests by command and result with latency and siblings
# histograms, has a metric for every numeric INFO field, shows a peer's phi
# and convergence lag, and refuses what is not a scrape. A real Prometheus
# scrapes it; the dashboard and alert rules in docs/monitoring name only
# metrics the node serves, and the convergence-lag alert passes
# `promtool test rules`.
# Usage: metrics_test.sh PATH/TO/gossipkv-server
set -uo pipefail
server=$1
for tool in redis-cli curl promtool prometheus python3; do
  command -v $tool >/dev/null || { echo "$tool missing: run scripts/bootstrap.sh" >&2; exit 1; }
done
here=$(cd "$(dirname "$0")" && pwd)
docs=$here/../docs/monitoring

. "$here/lib.sh"
setup_workdir
prom_pid=
n2_pid=
trap 'stop_server; for p in $prom_pid $n2_pid; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$dir"' EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cat >"$dir/n1.toml" <<TOML
[metrics]
bind = "127.0.0.1:0"
max_connections = 2
request_timeout_ms = 500
max_request_bytes = 1024
[replication]
anti_entropy_interval_ms = 200
[gossip]
interval_ms = 200
TOML
start_server "$server" "$dir" -c "$dir/n1.toml" || exit 1
metrics=$(sed -n 's/^metrics=//p' "$dir/data/endpoints")
peer=$(sed -n 's/^peer=//p' "$dir/data/endpoints")
cli() { redis-cli -h "${server_client%:*}" -p "${server_client##*:}" "$@"; }
scrape() { curl -s --max-time 5 "http://$metrics/metrics"; }
value() {  # value 'name{labels}' : the sample's value in the last scrape
  awk -v k="$1" '$1 == k { print $2 }' "$dir/m.txt"
}

for i in 1 2 3; do cli SET "k$i" "v$i" >/dev/null; done
cli GET k1 >/dev/null
cli GET absent >/dev/null
cli NOSUCH >/dev/null
cli SET >/dev/null  # wrong number of arguments
cli AUTH nopass >/dev/null  # no password is set: an error
# Two writes from one context leave two siblings; VGET reads both.
context=$(cli --raw VGET k1 | head -1)
cli VSET k1 one "$context" >/dev/null
cli VSET k1 two "$context" >/dev/null
cli VGET k1 >/dev/null

headers=$(curl -s -D - -o "$dir/m.txt" --max-time 5 "http://$metrics/metrics")
if [[ "$headers" == *"200 OK"* && "$headers" == *"text/plain; version=0.0.4"* ]]; then
  pass "GET /metrics answers in the text format"
else fail "GET /metrics: [$headers]"; fi
lint=$(promtool check metrics <"$dir/m.txt" 2>&1)
if [ $? -eq 0 ] && [ -z "$lint" ]; then pass "promtool check metrics finds nothing"
else fail "promtool check metrics: $lint"; fi

check_value() {  # check_value NAME SAMPLE WANT
  local got
  got=$(value "$2")
  if [ "$got" == "$3" ]; then pass "$1"; else fail "$1: $2 is [$got], want $3"; fi
}
check_value "SETs counted" 'gossipkv_requests_total{command="SET",result="ok"}' 3
check_value "a SET with no arguments is an error" 'gossipkv_requests_total{command="SET",result="error"}' 1
check_value "GETs, found or not, are ok" 'gossipkv_requests_total{command="GET",result="ok"}' 2
check_value "an unknown command is counted" 'gossipkv_requests_total{command="unknown",result="error"}' 1
check_value "every SET is timed" 'gossipkv_request_duration_seconds_count{command="SET"}' 4
check_value "reads that found one version" 'gossipkv_read_siblings_bucket{le="1"}' 2
check_value "and the one that found two" 'gossipkv_read_siblings_bucket{le="2"}' 3
check_value "keys stored" 'gossipkv_keys' 3
check_value "connected clients (none now)" 'gossipkv_connected_clients' 0
check_value "AUTH is counted as AUTH" 'gossipkv_requests_total{command="AUTH",result="error"}' 1
check_value "and as no unknown command" 'gossipkv_requests_total{command="unknown",result="denied"}' 0
check_value "members by state" 'gossipkv_members{state="alive"}' 1
check_value "settings in base units" 'gossipkv_config_anti_entropy_interval_seconds' 0.2

# Every numeric INFO field has its metric, whose HELP names the field.
missing=
while IFS=: read -r field val; do
  val=${val%$'\r'}
  [[ -z "$field" || "$field" == \#* ]] && continue
  [[ "$val" =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || continue
  [ "$field" == merkle_root ] && continue  # a hash in hex, not a quantity
  grep -Eq "^# HELP .*[(, ]$field[,)]" "$dir/m.txt" || missing="$missing $field"
done < <(cli INFO all)
if [ -z "$missing" ]; then pass "every numeric INFO field has a metric"
else fail "INFO fields without a metric:$missing"; fi

# A second node: its phi and the convergence lag appear once they sync.
cat >"$dir/n2.toml" <<TOML
[replication]
anti_entropy_interval_ms = 200
[gossip]
interval_ms = 200
TOML
"$server" -c "$dir/n2.toml" --node-id n2 --port 0 --peer-port 0 --data-dir "$dir/n2" \
  --buffered --seeds "$peer" 2>"$dir/n2.log" &
n2_pid=$!
synced=
for _ in $(seq 100); do
  scrape >"$dir/m.txt"
  lag=$(value 'gossipkv_anti_entropy_in_sync_age_seconds{peer="n2"}')
  if [ -n "$lag" ] && awk -v l="$lag" 'BEGIN { exit !(l < 1) }' && \
     awk -v n="$(value gossipkv_ae_sessions_in_sync_total)" 'BEGIN { exit !(n > 0) }' && \
     [ -n "$(value 'gossipkv_peer_phi{peer="n2"}')" ]; then synced=1; break; fi
  sleep 0.1
done
if [ -n "$synced" ]; then pass "n2's phi and convergence lag ($lag s) are shown"
else fail "no convergence lag for n2: [$(grep -E 'in_sync_age|peer_phi' "$dir/m.txt")]"; fi
kill $n2_pid; wait $n2_pid 2>/dev/null; n2_pid=
# With n2 gone, the lag grows past what anti_entropy_interval_ms allows.
sleep 1.5
scrape >"$dir/m.txt"
lag=$(value 'gossipkv_anti_entropy_in_sync_age_seconds{peer="n2"}')
if awk -v l="${lag:-0}" 'BEGIN { exit !(l >= 1) }'; then pass "lag grows while n2 is down ($lag s)"
else fail "lag with n2 down: [$lag]"; fi

# What is not a scrape.
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check_output "POST is refused" 0 405 -- status -X POST "http://$metrics/metrics"
check_output "another path is not found" 0 404 -- status "http://$metrics/other"
check_output "a request head over max_request_bytes" 0 431 -- \
  status -H "X-Pad: $(head -c 2000 /dev/zero | tr '\0' a)" "http://$metrics/metrics"
started=$(date +%s%N)
timeout 5 bash -c "exec 3<>/dev/tcp/${metrics%:*}/${metrics##*:}; cat <&3" >/dev/null
rc=$?
took=$((($(date +%s%N) - started) / 1000000))
if [ $rc -eq 0 ] && [ $took -ge 400 ] && [ $took -lt 3000 ]; then pass "a silent client is closed after request_timeout_ms ($took ms)"
else fail "silent client: rc $rc after $took ms"; fi
# Two silent connections fill max_connections: a third is closed at once,
# and scrapes work again once the two time out.
exec 3<>"/dev/tcp/${metrics%:*}/${metrics##*:}" 4<>"/dev/tcp/${metrics%:*}/${metrics##*:}"
sleep 0.1
code=$(status "http://$metrics/metrics")
[ "$code" == 000 ] && pass "past max_connections a scrape is closed unanswered" ||
  fail "past max_connections: HTTP $code"
exec 3<&- 4<&-
sleep 0.7
check_output "and served again after" 0 200 -- status "http://$metrics/metrics"
scrape >"$dir/m.txt"
check_value "refusals are counted" 'gossipkv_metrics_connections_refused_total' 1

# A real Prometheus scrapes the node and loads the alert rules.
prom_port=$(free_port)
cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $docs/prometheus-alerts.yml
scrape_configs:
  - job_name: gossipkv
    static_configs:
      - targets: ["$metrics"]
YAML
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prom" \
  --web.listen-address="127.0.0.1:$prom_port" >"$dir/prometheus.log" 2>&1 &
prom_pid=$!
query() {
  curl -s --max-time 5 --data-urlencode "query=$1" "http://127.0.0.1:$prom_port/api/v1/query" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}
got=
for _ in $(seq 150); do
  got=$(query 'gossipkv_requests_total{job="gossipkv",command="SET",result="ok"}')
  [ "$got" == 3 ] && break
  sleep 0.2
done
if [ "$got" == 3 ]; then pass "Prometheus scraped the node: 3 SETs"
else fail "Prometheus query gave [$got]; log: $(tail -5 "$dir/prometheus.log")"; fi
check_output "Prometheus sees the target up" 0 1 -- query 'up{job="gossipkv"}'
rules=$(curl -s --max-time 5 "http://127.0.0.1:$prom_port/api/v1/rules")
if [[ "$rules" == *GossipkvConvergenceLag* && "$rules" == *'"health":"ok"'* ]]; then
  pass "Prometheus loaded and evaluates the alert rules"
else fail "rules: ${rules:0:300}"; fi

# The dashboard and the rules name only metrics the node serves.
python3 -m json.tool "$docs/grafana-dashboard.json" >/dev/null && pass "the dashboard is JSON" ||
  fail "the dashboard is not JSON"
served=$(awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$dir/m.txt")
unknown=
for name in $(grep -ohE 'gossipkv_[a-z_]+' "$docs/grafana-dashboard.json" "$docs/prometheus-alerts.yml" | sort -u); do
  base=$(sed -E 's/_(bucket|count|sum)$//' <<<"$name")
  grep -qx "$base" <<<"$served" || grep -qx "$name" <<<"$served" || unknown="$unknown $name"
done
if [ -z "$unknown" ]; then pass "dashboard and alerts use served metrics"
else fail "not served:$unknown"; fi
(cd "$here" && promtool test rules monitoring_alerts_test.yml >"$dir/rules.log" 2>&1) &&
  pass "promtool test rules: the convergence-lag alert" ||
  fail "promtool test rules: $(cat "$dir/rules.log")"
finish
