#!/usr/bin/env bash
# Client-protocol throughput of gossipkv-server against redis-server, both on
# loopback in the same run, measured with redis-benchmark.
#
#   bench/redis_benchmark.sh [ROUNDS]     (default 3 interleaved rounds)
#
# Two pairs at equal durability, measured in the same run: gossipkv with
# durability = buffered against Redis with appendonly yes and appendfsync
# everysec, and gossipkv with durability = fsync (the default) against
# Redis with appendfsync always. Workloads: SET/GET on one key, on 100,000
# random keys (-r), and pipelined 16 deep (-P 16). Prints, per pair, the
# median requests/s of each server, the ratio, and server CPU microseconds
# per request (utime + stime from /proc/PID/stat around each run).
# GOSSIPKV_BENCH_PAIRS="buffered" (or "fsync") runs one pair only.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
requests=${GOSSIPKV_BENCH_REQUESTS:-200000}

scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pairs=${GOSSIPKV_BENCH_PAIRS:-buffered fsync}
declare -A port pid
start_gossipkv() {  # NAME FLAGS...
  local name=$1
  shift
  build/release/server/gossipkv-server --node-id "$name" --port 0 --peer-port 0 \
    --data-dir "$work/$name" --log-level warn "$@" 2>"$work/$name.log" &
  pid[$name]=$!
  pids+=("${pid[$name]}")
  for _ in $(seq 200); do [ -f "$work/$name/endpoints" ] && break; sleep 0.05; done
  port[$name]=$(sed -n 's/^client=.*:\([0-9]*\)$/\1/p' "$work/$name/endpoints")
}
start_redis() {  # NAME APPENDFSYNC
  local name=$1
  port[$name]=$(free_port)
  mkdir -p "$work/$name"
  redis-server --port "${port[$name]}" --bind 127.0.0.1 --dir "$work/$name" --save "" \
    --appendonly yes --appendfsync "$2" --daemonize no --logfile "$work/$name.log" &
  pid[$name]=$!
  pids+=("${pid[$name]}")
  for _ in $(seq 200); do redis-cli -p "${port[$name]}" PING >/dev/null 2>&1 && break; sleep 0.05; done
}
for pair in $pairs; do
  case $pair in
    buffered) start_gossipkv gossipkv-buffered --buffered; start_redis redis-everysec everysec ;;
    fsync) start_gossipkv gossipkv-fsync; start_redis redis-always always ;;
    *) echo "unknown pair $pair" >&2; exit 2 ;;
  esac
done
partner() { case $1 in buffered) echo "gossipkv-buffered redis-everysec" ;; fsync) echo "gossipkv-fsync redis-always" ;; esac; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)

# run SERVER PORT PID WORKLOAD TEST ARGS... -> appends "server workload test rps cpu_us"
run() {
  local name=$1 port=$2 pid=$3 label=$4 test=$5
  shift 5
  local before after rps
  before=$(cpu_ticks "$pid")
  rps=$(redis-benchmark -p "$port" -t "$test" -n "$requests" -c 50 -d 100 --csv "$@" 2>/dev/null |
    tr -d '"' | awk -F, 'NR == 2 {print $2}')
  after=$(cpu_ticks "$pid")
  awk -v s="$name" -v w="$label" -v t="${test^^}" -v r="$rps" -v ticks=$((after - before)) \
    -v hz="$ticks_per_second" -v n="$requests" \
    'BEGIN {printf "%s %s %s %s %.2f\n", s, w, t, r, ticks * 1e6 / hz / n}' >>"$work/results"
}

workloads=("one-key|" "random-keys|-r 100000" "pipelined-16|-r 100000 -P 16")
for round in $(seq "$rounds"); do
  for w in "${workloads[@]}"; do
    label=${w%%|*}
    args=${w#*|}
    # Alternate which server goes first so drift on a shared machine cancels.
    for pair in $pairs; do
      read -r gk rd <<<"$(partner "$pair")"
      for t in set get; do
        if [ $((round % 2)) -eq 1 ]; then
          run "$gk" "${port[$gk]}" "${pid[$gk]}" "$label" $t $args
          run "$rd" "${port[$rd]}" "${pid[$rd]}" "$label" $t $args
        else
          run "$rd" "${port[$rd]}" "${pid[$rd]}" "$label" $t $args
          run "$gk" "${port[$gk]}" "${pid[$gk]}" "$label" $t $args
        fi
      done
    done
  done
  echo "round $round of $rounds done" >&2
done

summary() {  # GOSSIPKV_NAME REDIS_NAME
  awk -v gk="$1" -v rd="$2" '
  { key = $2 " " $3; rps[$1, key] = rps[$1, key] " " $4; cpu[$1, key] = cpu[$1, key] " " $5; keys[key] = 1 }
  function median(list,    a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    split("one-key SET,one-key GET,random-keys SET,random-keys GET,pipelined-16 SET,pipelined-16 GET", order, ",")
    for (i = 1; i <= 6; i++) {
      k = order[i]
      if (!(k in keys) || !((gk, k) in rps)) continue
      g = median(rps[gk, k]); r = median(rps[rd, k])
      gc = median(cpu[gk, k]); rc = median(cpu[rd, k])
      split(k, parts, " ")
      printf "%-14s %-4s %14.0f %14.0f %7.2f %12.2f %12.2f %7.2f\n", parts[1], parts[2], g, r, g / r, gc, rc, (rc > 0 ? gc / rc : 0)
    }
  }' "$work/results"
}

echo
echo "redis-benchmark -n $requests -c 50 -d 100, medians of $rounds interleaved rounds"
for pair in $pairs; do
  read -r gk rd <<<"$(partner "$pair")"
  echo
  echo "$gk vs $rd"
  printf '%-14s %-4s %14s %14s %7s %12s %12s %7s\n' workload test gossipkv_rps redis_rps ratio gk_cpu_us redis_cpu_us ratio
  summary "$gk" "$rd"
done
