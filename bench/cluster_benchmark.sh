#!/usr/bin/env bash
# What replication costs and how fast it is, on loopback, in one run:
#  - redis-benchmark SET (-r 100000 -c 50 -d 100) against one node of a
#    3-node cluster vs the same kind of node running alone;
#  - the same against a 3-node cluster with anti-entropy at its default
#    interval vs one with anti-entropy off;
#  - the latency from a SET's acknowledgement on one node until it is
#    readable on the two others (p50/p99).
# Medians of interleaved rounds. All nodes durability = buffered.
#
#   bench/cluster_benchmark.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
requests=${GOSSIPKV_BENCH_REQUESTS:-200000}
. bench/servers.sh

printf '[storage]\ndurability = "buffered"\n' >"$work/ae-on.toml"
printf '[storage]\ndurability = "buffered"\n[replication]\nanti_entropy_interval_ms = 0\n' >"$work/ae-off.toml"

read -r alone_port _ < <(start alone solo "$work/ae-on.toml")
read -r on1 on_seed < <(start on1 n1 "$work/ae-on.toml")
read -r on2 _ < <(start on2 n2 "$work/ae-on.toml" "$on_seed")
read -r on3 _ < <(start on3 n3 "$work/ae-on.toml" "$on_seed")
read -r off1 off_seed < <(start off1 n1 "$work/ae-off.toml")
start off2 n2 "$work/ae-off.toml" "$off_seed" >/dev/null
start off3 n3 "$work/ae-off.toml" "$off_seed" >/dev/null
sleep 3  # membership settles

bench() {  # bench PORT -> requests per second
  redis-benchmark -p "$1" -t set -n "$requests" -c 50 -d 100 -r 100000 --csv 2>/dev/null |
    tr -d '"' | awk -F, 'NR == 2 {print $2}'
}
declare -a alone cluster_on cluster_off
for r in $(seq "$rounds"); do
  alone+=("$(bench "$alone_port")")
  cluster_on+=("$(bench "$on1")")
  cluster_off+=("$(bench "$off1")")
  echo "round $r: alone ${alone[-1]}  cluster(AE on) ${cluster_on[-1]}  cluster(AE off) ${cluster_off[-1]}" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
m_alone=$(median "${alone[@]}")
m_on=$(median "${cluster_on[@]}")
m_off=$(median "${cluster_off[@]}")
echo
echo "redis-benchmark SET -n $requests -c 50 -d 100 -r 100000, medians of $rounds interleaved rounds"
printf '  node alone                         %10.0f req/s\n' "$m_alone"
printf '  one node of 3, anti-entropy on     %10.0f req/s   vs alone %.2fx\n' "$m_on" "$(echo "$m_on / $m_alone" | bc -l)"
printf '  one node of 3, anti-entropy off    %10.0f req/s   AE on / AE off %.2fx\n' "$m_off" "$(echo "$m_on / $m_off" | bc -l)"
echo
"$bin/bench/replication_latency" 2000 "127.0.0.1:$on1" "127.0.0.1:$on2" "127.0.0.1:$on3"
