// The ring's balance and movement, per member count and partition count:
// max/mean owned replicas and replica slots moved by one join and one
// leave against the ideal (the newcomer's share, the leaver's), for the
// ring as configured (load cap 1.03) and for its peer, plain rendezvous
// hashing (no cap), computed in the same run; and the time to build.
//
//   build/release/bench/ring_balance [partition_bits...]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "cluster/ring.h"

namespace gossipkv {
namespace {

std::vector<std::string> Ids(size_t count) {
  std::vector<std::string> ids;
  for (size_t i = 1; i <= count; ++i)
    ids.push_back("node-" + std::to_string(i));
  return ids;
}

double MaxOverMean(const std::vector<uint32_t>& loads, double mean) {
  return *std::max_element(loads.begin(), loads.end()) / mean;
}

struct Figures {
  double max_over_mean, join_ratio, leave_ratio, build_ms;
};

Figures Measure(size_t m, RingOptions options) {
  auto start = std::chrono::steady_clock::now();
  Ring ring(Ids(m), options);
  const double build_ms = std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  const double slots =
      static_cast<double>(ring.partition_count()) * ring.replicas();
  auto joined = Ids(m);
  joined.push_back("joiner");
  auto left = Ids(m);
  left.erase(left.begin() + static_cast<long>(m / 2));
  const double join_ratio =
      Ring::Moved(ring, Ring(joined, options)) / (slots / (m + 1));
  const double leave_ratio =
      m > 3 ? Ring::Moved(ring, Ring(left, options)) / (slots / m) : 0;
  return {MaxOverMean(ring.loads(), slots / m), join_ratio, leave_ratio,
          build_ms};
}

int Run(const std::vector<int>& bits_list) {
  fmt::print("{:>4} {:>7} | {:>8} {:>6} {:>6} {:>8} | {:>14} {:>6} {:>6}\n",
             "bits", "members", "max/mean", "join", "leave", "build ms",
             "plain max/mean", "join", "leave");
  for (int bits : bits_list) {
    for (size_t m : {3, 5, 6, 9, 16, 32, 64, 128}) {
      RingOptions capped{.replication_factor = 3, .partition_bits = bits};
      RingOptions plain = capped;
      plain.max_load_factor = 1e9;
      Figures c = Measure(m, capped), r = Measure(m, plain);
      fmt::print(
          "{:>4} {:>7} | {:>8.4f} {:>6.3f} {:>6.3f} {:>8.1f} | {:>14.4f} "
          "{:>6.3f} {:>6.3f}\n",
          bits, m, c.max_over_mean, c.join_ratio, c.leave_ratio, c.build_ms,
          r.max_over_mean, r.join_ratio, r.leave_ratio);
    }
  }
  fmt::print(
      "join, leave: replica slots moved / the ideal (the newcomer's "
      "share, the leaver's share)\n");
  return 0;
}

}  // namespace
}  // namespace gossipkv

int main(int argc, char** argv) {
  std::vector<int> bits;
  for (int i = 1; i < argc; ++i) bits.push_back(std::atoi(argv[i]));
  if (bits.empty()) bits = {12, 14};
  return gossipkv::Run(bits);
}
