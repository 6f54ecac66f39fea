// Gossip membership under the deterministic simulator: full membership from
// seeds, join spread against epidemic theory, crash detection, no false
// verdicts under message loss, and partitions that heal by themselves. Each
// scenario runs over several seeds; a failure names its seed, and
// GOSSIPKV_SEED=<seed> replays it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "sim/simulation.h"

namespace gossipkv {
namespace {

constexpr int64_t kInterval = 1000;  // gossip_interval_ms, the default

ReplicaOptions Options(std::vector<std::string> seeds, uint32_t fanout = 3) {
  ReplicaOptions o;
  o.membership.gossip_interval_ms = kInterval;
  o.membership.fanout = fanout;
  o.membership.seeds = std::move(seeds);
  return o;
}

std::string Id(int i) { return "n" + std::to_string(i); }

// Every up node sees exactly `n` members alive (itself included).
bool AllSeeAlive(Simulation& sim, size_t n) {
  for (const auto& id : sim.node_ids()) {
    if (sim.IsUp(id) && sim.replica(id).membership().alive_count() != n)
      return false;
  }
  return true;
}

// Starts n nodes at once; the first three are everyone's seeds.
void StartCluster(Simulation& sim, int n, uint32_t fanout = 3) {
  std::vector<std::string> seeds;
  for (int i = 0; i < std::min(n, 3); ++i) seeds.push_back(Id(i));
  for (int i = 0; i < n; ++i) sim.AddNode(Id(i), Options(seeds, fanout));
}

double RoundsToFullMembership(uint64_t seed, int n) {
  Simulation sim(seed, NetworkOptions{});
  StartCluster(sim, n);
  const int64_t start = sim.now();
  EXPECT_TRUE(
      sim.RunUntil([&] { return AllSeeAlive(sim, n); }, 120 * kInterval))
      << "n=" << n << " seed " << seed;
  return static_cast<double>(sim.now() - start) / kInterval;
}

TEST(MembershipSimTest, ClusterStartedFromThreeSeedsReachesFullMembership) {
  for (int n : {10, 100}) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      double rounds = RoundsToFullMembership(Simulation::SeedFromEnv(seed), n);
      std::printf("full membership: n=%d seed=%llu rounds=%.1f\n", n,
                  static_cast<unsigned long long>(seed), rounds);
      EXPECT_LE(rounds, 10) << "n=" << n << " seed " << seed;
    }
  }
}

TEST(MembershipSimTest, ThousandNodesReachFullMembership) {
  const uint64_t seed = Simulation::SeedFromEnv(7);
  double rounds = RoundsToFullMembership(seed, 1000);
  std::printf("full membership: n=1000 seed=%llu rounds=%.1f\n",
              static_cast<unsigned long long>(seed), rounds);
  // docs/architecture.md: "reaches full membership in about 3 rounds".
  EXPECT_LE(rounds, 4);
}

// Rounds until every node of a settled n-node cluster sees a newcomer alive.
double JoinRounds(uint64_t seed, int n, uint32_t fanout) {
  Simulation sim(seed, NetworkOptions{});
  StartCluster(sim, n, fanout);
  EXPECT_TRUE(
      sim.RunUntil([&] { return AllSeeAlive(sim, n); }, 200 * kInterval));
  sim.RunFor(5 * kInterval);
  const int64_t start = sim.now();
  sim.AddNode("joiner", Options({Id(0)}, fanout));
  EXPECT_TRUE(sim.RunUntil([&] { return AllSeeAlive(sim, n + 1); },
                           100 * kInterval, 10))
      << "n=" << n << " seed " << seed;
  return static_cast<double>(sim.now() - start) / kInterval;
}

TEST(MembershipSimTest, JoinSpreadsWithinTheEpidemicBound) {
  // Push-pull, fanout 1, ideal protocol (Karp et al. 2000; Monte Carlo):
  // mean rounds for all n nodes to learn a rumor.
  const std::vector<std::pair<int, double>> reference = {
      {5, 2.4}, {10, 3.5}, {50, 5.7}, {100, 6.5}};
  for (const auto& [n, expected] : reference) {
    const int runs = n <= 50 ? 12 : 6;
    double sum1 = 0, sum3 = 0, worst1 = 0;
    for (int r = 0; r < runs; ++r) {
      const uint64_t seed = Simulation::SeedFromEnv(100 + r);
      SCOPED_TRACE("seed " + std::to_string(seed));
      double one = JoinRounds(seed, n, 1);
      sum1 += one;
      worst1 = std::max(worst1, one);
      sum3 += JoinRounds(seed, n, 3);
    }
    const double mean1 = sum1 / runs, mean3 = sum3 / runs;
    std::printf(
        "join: n=%d rounds mean fanout1=%.2f (reference %.1f, worst %.1f) "
        "fanout3=%.2f\n",
        n, mean1, expected, worst1, mean3);
    EXPECT_LE(mean1, expected + 1.0) << "n=" << n;
    EXPECT_LT(mean3, mean1) << "n=" << n;
  }
}

TEST(MembershipSimTest,
     CrashedNodeIsMarkedDeadByEveryNodeWithinTheDetectorBound) {
  for (uint64_t s = 1; s <= 3; ++s) {
    const uint64_t seed = Simulation::SeedFromEnv(200 + s);
    SCOPED_TRACE("seed " + std::to_string(seed));
    Simulation sim(seed, NetworkOptions{});
    StartCluster(sim, 20);
    ASSERT_TRUE(
        sim.RunUntil([&] { return AllSeeAlive(sim, 20); }, 60 * kInterval));
    sim.RunFor(30 * kInterval);  // let every detector learn the arrival rate
    sim.Crash("n7");
    const int64_t crashed = sim.now();
    auto all_see_dead = [&] {
      for (const auto& id : sim.node_ids()) {
        if (id != "n7" &&
            sim.replica(id).membership().LivenessOf("n7") != Liveness::kDead)
          return false;
      }
      return true;
    };
    const MembershipOptions defaults;
    // phi > 8 after 8 ln(10) = 18.4 mean intervals of silence, then
    // dead_after_ms as suspect; allow 20% on the mean either way and 3
    // rounds of slack: docs/architecture.md quotes ~50 s (~20 s + 30 s).
    const int64_t bound =
        static_cast<int64_t>(8 * std::log(10.0) * 1.2 * kInterval) +
        defaults.dead_after_ms + 3 * kInterval;
    const int64_t earliest =
        static_cast<int64_t>(8 * std::log(10.0) * 0.8 * kInterval) +
        defaults.dead_after_ms;
    ASSERT_TRUE(sim.RunUntil(all_see_dead, bound, 10));
    const double seconds = (sim.now() - crashed) / 1000.0;
    std::printf(
        "crash detection: %.1f s (bound %.1f s; phi part %.1f s + dead_after "
        "%.1f s)\n",
        seconds, bound / 1000.0, seconds - defaults.dead_after_ms / 1000.0,
        defaults.dead_after_ms / 1000.0);
    EXPECT_GE(sim.now() - crashed, earliest)
        << "no verdict before phi crosses 8 and suspicion ripens";
  }
}

TEST(MembershipSimTest, TenPercentLossGivesNoFalseDeadVerdictsInAnHour) {
  for (uint64_t s = 1; s <= 2; ++s) {
    const uint64_t seed = Simulation::SeedFromEnv(300 + s);
    SCOPED_TRACE("seed " + std::to_string(seed));
    Simulation sim(seed, NetworkOptions{1, 20, 0.10, 0.01});
    StartCluster(sim, 20);
    ASSERT_TRUE(
        sim.RunUntil([&] { return AllSeeAlive(sim, 20); }, 120 * kInterval));
    int suspicions = 0;
    for (int second = 0; second < 3600; ++second) {
      sim.RunFor(1000);
      for (const auto& id : sim.node_ids()) {
        for (const auto& m : sim.replica(id).membership().Members(sim.now())) {
          ASSERT_NE(m.liveness, Liveness::kDead)
              << id << " declared " << m.node_id << " dead at second "
              << second;
          suspicions += m.liveness == Liveness::kSuspect ? 1 : 0;
        }
      }
    }
    std::printf(
        "10%% loss, 1 h, 20 nodes: 0 dead verdicts, %d suspect samples\n",
        suspicions);
  }
}

// Steady gossip measured as bench/membership_sim does (seed 300, fanout 3,
// 1 s interval, 60 s after 10 s of settling): docs/architecture.md quotes
// ~8 KB per node per second at 100 nodes (incarnations are small counters;
// as millisecond start times they made it ~10 KB).
TEST(MembershipSimTest, SteadyGossipAtHundredNodesCostsAbout8KBPerNodeSecond) {
  Simulation sim(300, NetworkOptions{});
  StartCluster(sim, 100);
  ASSERT_TRUE(
      sim.RunUntil([&] { return AllSeeAlive(sim, 100); }, 100 * kInterval));
  sim.RunFor(10 * kInterval);
  const uint64_t before = sim.traffic().bytes;
  sim.RunFor(60 * kInterval);
  const double per_node_second =
      static_cast<double>(sim.traffic().bytes - before) / 60 / 100;
  std::printf("steady gossip: %.0f bytes per node per second at 100 nodes\n",
              per_node_second);
  EXPECT_GT(per_node_second, 7'500);
  EXPECT_LT(per_node_second, 8'500);
}

TEST(MembershipSimTest, HalvesOfAPartitionMergeBackWithoutAnOperator) {
  const uint64_t seed = Simulation::SeedFromEnv(401);
  SCOPED_TRACE("seed " + std::to_string(seed));
  Simulation sim(seed, NetworkOptions{});
  StartCluster(sim, 100);
  ASSERT_TRUE(
      sim.RunUntil([&] { return AllSeeAlive(sim, 100); }, 60 * kInterval));
  std::vector<std::string> left, right;
  for (int i = 0; i < 100; ++i) (i % 2 ? right : left).push_back(Id(i));
  sim.Partition({left, right});
  sim.RunFor(10 * 60 * 1000);
  for (const auto& id : left) {
    ASSERT_EQ(sim.replica(id).membership().LivenessOf(right[0]),
              Liveness::kDead)
        << id;
  }
  sim.Heal();
  const int64_t healed = sim.now();
  ASSERT_TRUE(
      sim.RunUntil([&] { return AllSeeAlive(sim, 100); }, 60 * kInterval, 10));
  std::printf(
      "partition 50/50 for 10 min: all 100 alive again %.1f rounds after "
      "heal\n",
      static_cast<double>(sim.now() - healed) / kInterval);
}

TEST(MembershipSimTest, RestartSupersedesAndLeaveIsAnnounced) {
  const uint64_t seed = Simulation::SeedFromEnv(501);
  SCOPED_TRACE("seed " + std::to_string(seed));
  Simulation sim(seed, NetworkOptions{});
  StartCluster(sim, 10);
  ASSERT_TRUE(
      sim.RunUntil([&] { return AllSeeAlive(sim, 10); }, 60 * kInterval));
  const uint64_t before = sim.replica("n4").membership().self().incarnation();
  sim.Crash("n4");
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        return sim.replica("n0").membership().LivenessOf("n4") ==
               Liveness::kDead;
      },
      120 * kInterval));
  sim.Restart("n4");
  ASSERT_TRUE(
      sim.RunUntil([&] { return AllSeeAlive(sim, 10); }, 30 * kInterval));
  const auto members = sim.replica("n0").membership().Members(sim.now());
  const auto n4 = std::find_if(members.begin(), members.end(),
                               [](const auto& m) { return m.node_id == "n4"; });
  ASSERT_NE(n4, members.end()) << "n0 does not list n4";
  EXPECT_GT(n4->incarnation, before);
  Outbox out;
  sim.replica("n9").Leave(sim.now(), out);
  ASSERT_FALSE(out.empty());
  // Deliver the goodbye by hand (the simulation only routes what it ticks).
  Outbox replies;
  for (const auto& o : out)
    sim.replica(o.to).Step(sim.now(), "n9", o.message, replies);
  sim.Crash("n9");
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        for (const auto& id : sim.node_ids()) {
          if (sim.IsUp(id) &&
              sim.replica(id).membership().LivenessOf("n9") != Liveness::kLeft)
            return false;
        }
        return true;
      },
      20 * kInterval));
}

TEST(MembershipSimTest, SameSeedSameRun) {
  auto run = [](uint64_t seed) {
    Simulation sim(seed, NetworkOptions{1, 30, 0.05, 0.05});
    StartCluster(sim, 30);
    sim.RunFor(20 * kInterval);
    sim.Crash("n3");
    sim.RunFor(20 * kInterval);
    std::string fingerprint = std::to_string(sim.traffic().messages) + "/" +
                              std::to_string(sim.traffic().bytes);
    for (const auto& m : sim.replica("n0").membership().Members(sim.now())) {
      fingerprint += " " + m.node_id + ":" + std::to_string(m.version);
    }
    return fingerprint;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

}  // namespace
}  // namespace gossipkv
