#!/usr/bin/env bash
# Installs the Debian packages gossipkv builds, tests and benchmarks with.
# Idempotent: only missing packages are installed. When not run as root it
# prints the exact command to run instead and fails.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config clang
  librocksdb-dev libasio-dev libprotobuf-dev protobuf-compiler
  libfmt-dev libspdlog-dev libcli11-dev libtomlplusplus-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev libjemalloc-dev nlohmann-json3-dev
  libssl-dev openssl prometheus-cpp-dev prometheus
  redis-tools redis-server python3-redis gnuplot-nox bc python3 nftables iproute2
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "gossipkv: missing packages: ${missing[*]}" >&2
  echo "run as root:  apt-get update && $cmd" >&2
  exit 1
fi

echo "gossipkv: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd -qq
