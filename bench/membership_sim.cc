// Gossip membership measured in the simulator: rounds to full membership
// from three seeds, rounds for a join to reach every node (fanout 1 against
// the push-pull reference, and fanout 3), crash detection time, and gossip
// bytes per node per second. Medians over seeds.
//
//   build/release/bench/membership_sim [seeds]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/simulation.h"

namespace gossipkv {
namespace {

constexpr int64_t kInterval = 1000;

std::string Id(int i) { return "n" + std::to_string(i); }

ReplicaOptions Options(std::vector<std::string> seeds, uint32_t fanout) {
  ReplicaOptions o;
  o.membership.gossip_interval_ms = kInterval;
  o.membership.fanout = fanout;
  o.membership.seeds = std::move(seeds);
  return o;
}

bool AllSeeAlive(Simulation& sim, size_t n) {
  for (const auto& id : sim.node_ids()) {
    if (sim.IsUp(id) && sim.replica(id).membership().alive_count() != n)
      return false;
  }
  return true;
}

void Start(Simulation& sim, int n, uint32_t fanout) {
  std::vector<std::string> seeds = {Id(0), Id(1), Id(2)};
  for (int i = 0; i < n; ++i) sim.AddNode(Id(i), Options(seeds, fanout));
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2]
                      : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace
}  // namespace gossipkv

int main(int argc, char** argv) {
  using namespace gossipkv;
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 3;

  std::printf(
      "rounds to full membership from 3 seeds (fanout 3), median of %d seeds\n",
      seeds);
  for (int n : {10, 100, 1000}) {
    std::vector<double> rounds;
    for (int s = 1; s <= seeds; ++s) {
      Simulation sim(s, NetworkOptions{});
      Start(sim, n, 3);
      const int64_t t0 = sim.now();
      sim.RunUntil([&] { return AllSeeAlive(sim, n); }, 300 * kInterval, 10);
      rounds.push_back(static_cast<double>(sim.now() - t0) / kInterval);
    }
    std::printf("  n=%-5d %.1f rounds\n", n, Median(rounds));
  }

  std::printf(
      "\nrounds for a join to reach all (reference: push-pull fanout 1, mean / "
      "p99)\n");
  const std::vector<std::tuple<int, double, int>> reference = {
      {5, 2.4, 4}, {10, 3.5, 5}, {50, 5.7, 7}, {100, 6.5, 8}, {1000, 9.1, 10}};
  for (const auto& [n, mean, p99] : reference) {
    double f1 = 0, f3 = 0;
    const int runs = n >= 1000 ? std::min(seeds, 2) : seeds * 3;
    for (int s = 1; s <= runs; ++s) {
      for (uint32_t fanout : {1u, 3u}) {
        Simulation sim(100 + s, NetworkOptions{});
        Start(sim, n, fanout);
        sim.RunUntil([&] { return AllSeeAlive(sim, n); }, 300 * kInterval);
        sim.RunFor(3 * kInterval);
        const int64_t t0 = sim.now();
        sim.AddNode("joiner", Options({Id(0)}, fanout));
        sim.RunUntil([&] { return AllSeeAlive(sim, n + 1); }, 100 * kInterval,
                     10);
        (fanout == 1 ? f1 : f3) +=
            static_cast<double>(sim.now() - t0) / kInterval;
      }
    }
    std::printf(
        "  n=%-5d fanout1 %.2f (reference %.1f / p99 %d)   fanout3 %.2f   [%d "
        "runs]\n",
        n, f1 / runs, mean, p99, f3 / runs, runs);
  }

  std::printf("\ncrash detection (n=20, phi threshold 8, dead_after 30 s)\n");
  std::vector<double> detect;
  for (int s = 1; s <= seeds; ++s) {
    Simulation sim(200 + s, NetworkOptions{});
    Start(sim, 20, 3);
    sim.RunUntil([&] { return AllSeeAlive(sim, 20); }, 100 * kInterval);
    sim.RunFor(30 * kInterval);
    sim.Crash("n7");
    const int64_t t0 = sim.now();
    sim.RunUntil(
        [&] {
          for (const auto& id : sim.node_ids()) {
            if (id != "n7" && sim.replica(id).membership().LivenessOf("n7") !=
                                  Liveness::kDead)
              return false;
          }
          return true;
        },
        200 * kInterval, 10);
    detect.push_back((sim.now() - t0) / 1000.0);
  }
  std::printf(
      "  every node marks it dead after %.1f s (suspect after ~%.1f s)\n",
      Median(detect), Median(detect) - 30);

  std::printf("\ngossip traffic in steady state (fanout 3, 1 s interval)\n");
  for (int n : {10, 100}) {
    Simulation sim(300, NetworkOptions{});
    Start(sim, n, 3);
    sim.RunUntil([&] { return AllSeeAlive(sim, n); }, 100 * kInterval);
    sim.RunFor(10 * kInterval);
    const auto before = sim.traffic();
    sim.RunFor(60 * kInterval);
    const auto after = sim.traffic();
    std::printf("  n=%-4d %.0f bytes and %.1f messages per node per second\n",
                n, (after.bytes - before.bytes) / 60.0 / n,
                (after.messages - before.messages) / 60.0 / n);
  }
  return 0;
}
