#!/usr/bin/env bash
# What waiting for owners costs: redis-benchmark SET (-c 50 -d 100 -r
# 100000) through one coordinator of a 5-node cluster, three replicas per
# key, at write_quorum 1, 2 and 3 (three coordinators of the same cluster,
# each with its own default), then GET at read_quorum 1, 2 and 3 (two more
# coordinators), against the same kind of node running alone, in one run.
# Prints requests per second, the ratio to the lone node, and p50/p99
# latency; medians of interleaved rounds. All nodes durability = buffered.
#
#   bench/quorum_benchmark.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
requests=${GOSSIPKV_BENCH_REQUESTS:-100000}
. bench/servers.sh
config() {  # config WRITE_QUORUM [READ_QUORUM] -> path
  local f="$work/w$1r${2:-1}.toml"
  printf '[storage]\ndurability = "buffered"\n[replication]\nreplication_factor = 3\nwrite_quorum = %s\nread_quorum = %s\n' "$1" "${2:-1}" >"$f"
  echo "$f"
}

read -r alone_port _ < <(start alone solo "$(config 1)")
read -r w1 seed < <(start n1 n1 "$(config 1)")
read -r w2 _ < <(start n2 n2 "$(config 2)" "$seed")
read -r w3 _ < <(start n3 n3 "$(config 3)" "$seed")
read -r r2 _ < <(start n4 n4 "$(config 1 2)" "$seed")
read -r r3 _ < <(start n5 n5 "$(config 1 3)" "$seed")
for _ in $(seq 100); do
  [ "$(redis-cli -p "$w3" info ring | tr -d '\r' | sed -n 's/^ring_members://p')" == 5 ] && break
  sleep 0.1
done

bench() {  # bench PORT TEST -> "rps p50 p99"
  redis-benchmark -p "$1" -t "$2" -n "$requests" -c 50 -d 100 -r 100000 --csv 2>/dev/null |
    tr -d '"' | awk -F, 'NR == 2 {print $2, $5, $7}'
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
declare -A rps p50 p99
for r in $(seq "$rounds"); do
  for target in alone w1 w2 w3; do
    if [ "$target" == alone ]; then port=$alone_port; else port=${!target}; fi
    read -r a b c < <(bench "$port" set)
    rps[$target]+="$a "
    p50[$target]+="$b "
    p99[$target]+="$c "
  done
done
# Every node holds the keys the SETs wrote (all replicate to all).
for r in $(seq "$rounds"); do
  for target in alone r1 r2 r3; do
    case $target in alone) port=$alone_port ;; r1) port=$w1 ;; *) port=${!target} ;; esac
    read -r a b c < <(bench "$port" get)
    rps[get$target]+="$a "
    p50[get$target]+="$b "
    p99[get$target]+="$c "
  done
done
report() {  # report COMMAND BASE TARGETS...
  local command=$1 base
  base=$(median ${rps[$2]})
  shift 2
  printf '%-28s %12s %8s %9s %9s\n' "$command through" "requests/s" "ratio" "p50 ms" "p99 ms"
  for target in "$@"; do
    case $target in
      alone | getalone) label="a lone node" ;;
      w*) label="5 nodes, N=3, W=${target#w}" ;;
      *) label="5 nodes, N=3, R=${target#getr}" ;;
    esac
    m=$(median ${rps[$target]})
    printf '%-28s %12.0f %8.2f %9s %9s\n' "$label" "$m" "$(echo "$m / $base" | bc -l)" \
      "$(median ${p50[$target]})" "$(median ${p99[$target]})"
  done
}
report SET alone alone w1 w2 w3
report GET getalone getalone getr1 getr2 getr3
echo "(medians of $rounds interleaved rounds of $requests requests each, -c 50, 100-byte values)"
# Error replies count as requests to redis-benchmark: each node's say none
# was an error (a -NOREPLICAS write counts in quorum_failures).
for target in alone w1 w2 w3 r2 r3; do
  if [ "$target" == alone ]; then port=$alone_port; else port=${!target}; fi
  printf '%-6s %s\n' "$target" "$(redis-cli -p "$port" info stats | tr -d '\r' |
    grep -E '^(error_replies|quorum_failures):' | tr '\n' ' ')"
done
