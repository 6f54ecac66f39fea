// Replication under the deterministic simulator, scenario by scenario: how
// fast a rumor spreads, concurrent writes across a partition becoming
// siblings that a write with the merged context resolves, and a cut too
// short to suspect anyone repaired as soon as it heals. The randomized
// chaos runs are in replication_sim_test.cc, anti-entropy sessions in
// anti_entropy_sim_test.cc.
#include <gtest/gtest.h>

#include <algorithm>

#include "sim/simulation.h"

namespace gossipkv {
namespace {

constexpr int64_t kInterval = 1000;

ReplicaOptions Options(std::vector<std::string> seeds) {
  ReplicaOptions o;
  o.membership.gossip_interval_ms = kInterval;
  o.membership.seeds = std::move(seeds);
  o.membership.dead_after_ms = 5000;
  o.anti_entropy.interval_ms = 2000;
  o.gc.interval_ms = 0;
  return o;
}

std::string Id(int i) { return "n" + std::to_string(i); }

TEST(ReplicationScenarioTest, RumorReachesEveryNodeWithinMilliseconds) {
  Simulation sim(5, NetworkOptions{1, 5, 0, 0});
  for (int i = 0; i < 10; ++i) sim.AddNode(Id(i), Options({Id(0)}), true);
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        for (int i = 0; i < 10; ++i) {
          if (sim.replica(Id(i)).membership().alive_count() != 10) return false;
        }
        return true;
      },
      30 * kInterval));
  ASSERT_TRUE(sim.Write("n3", "hello", std::string("world")));
  sim.RunFor(50);  // far less than an anti-entropy interval
  for (int i = 0; i < 10; ++i) {
    auto got = sim.Get(Id(i), "hello");
    ASSERT_TRUE(got && got->has_value()) << Id(i);
    EXPECT_EQ((*got)->Winner()->value, "world");
  }
}

TEST(ReplicationScenarioTest,
     ConcurrentWritesAcrossAPartitionBecomeSiblingsEverywhere) {
  Simulation sim(9, NetworkOptions{});
  for (int i = 0; i < 5; ++i) sim.AddNode(Id(i), Options({Id(0)}), true);
  sim.RunFor(10 * kInterval);
  sim.Partition({{"n0", "n1"}, {"n2", "n3", "n4"}});
  ASSERT_TRUE(sim.Write("n0", "k", std::string("left")));
  ASSERT_TRUE(sim.Write("n3", "k", std::string("right")));
  sim.RunFor(10 * kInterval);
  EXPECT_EQ((*sim.Get("n1", "k"))->Winner()->value, "left");
  EXPECT_EQ((*sim.Get("n4", "k"))->Winner()->value, "right");
  sim.Heal();
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        for (int i = 0; i < 5; ++i) {
          auto e = sim.Get(Id(i), "k");
          if (!e || !e->has_value() || (*e)->siblings.size() != 2) return false;
        }
        return true;
      },
      30 * kInterval));
  // Resolving with the merged context leaves one value everywhere.
  Entry merged = **sim.Get("n2", "k");
  ASSERT_TRUE(sim.Write("n2", "k", std::string("resolved"), &merged.clock));
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        for (int i = 0; i < 5; ++i) {
          auto e = sim.Get(Id(i), "k");
          if ((*e)->siblings.size() != 1 || (*e)->Winner()->value != "resolved")
            return false;
        }
        return true;
      },
      30 * kInterval));
}

// Periodic anti-entropy off: only reachability starts repair. A cut of 6
// gossip intervals makes no one suspect (phi stays under 8), yet the writes
// rumored during it were lost; the heartbeats that arrive after the gap
// start a session, which repairs them within seconds.
TEST(ReplicationScenarioTest, AShortCutIsRepairedWhenItHeals) {
  Simulation sim(11, NetworkOptions{1, 5, 0, 0});
  auto options = Options({Id(0)});
  options.anti_entropy.interval_ms = 0;
  for (int i = 0; i < 3; ++i) sim.AddNode(Id(i), options, true);
  sim.RunFor(10 * kInterval);
  sim.Partition({{"n0"}, {"n1", "n2"}});
  ASSERT_TRUE(sim.Write("n0", "k", std::string("during the cut")));
  sim.RunFor(6 * kInterval);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(sim.replica(Id(i)).membership().alive_count(), 3u) << Id(i);
  EXPECT_FALSE(sim.Get("n1", "k")->has_value());
  sim.Heal();
  EXPECT_TRUE(sim.RunUntil(
      [&] {
        for (int i = 1; i < 3; ++i) {
          auto e = sim.Get(Id(i), "k");
          if (!e || !e->has_value()) return false;
        }
        return true;
      },
      5 * kInterval))
      << "the heal started repair";
}

}  // namespace
}  // namespace gossipkv
