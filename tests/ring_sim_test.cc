// The ring under the simulator: members that learned of each other by
// gossip, in whatever order the network's delays gave, compute the same
// ring; a crash, a suspicion or a restart (liveness) changes no owner; a
// member that leaves for good, or is forgotten, leaves everyone's ring.
// GOSSIPKV_SEED=<seed> replays a failing run.
#include <gtest/gtest.h>

#include <algorithm>

#include "sim/simulation.h"

namespace gossipkv {
namespace {

constexpr int kNodes = 7;

std::string Id(int i) { return "n" + std::to_string(i); }

std::vector<std::string> Ids(std::initializer_list<int> skip = {}) {
  std::vector<std::string> ids;
  for (int i = 0; i < kNodes; ++i) {
    if (std::find(skip.begin(), skip.end(), i) == skip.end())
      ids.push_back(Id(i));
  }
  return ids;
}

class RingSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const uint64_t seed = Simulation::SeedFromEnv(29);
    RecordProperty("seed", std::to_string(seed));
    // Long, uneven delays and drops: members hear of each other in
    // different orders.
    sim_ =
        std::make_unique<Simulation>(seed, NetworkOptions{1, 800, 0.05, 0.05});
    ReplicaOptions o;
    o.membership.gossip_interval_ms = 500;
    o.membership.seeds = {Id(0)};
    o.membership.dead_after_ms = 3000;
    o.ring.partition_bits = 12;
    StoreOptions store;
    store.merkle = MerkleShape{12, 4};
    for (int i = 0; i < kNodes; ++i) sim_->AddNode(Id(i), o, true, store);
  }

  // Runs until every up node's ring is the ring of `ids` (its
  // fingerprint names the members and options), then checks it owner for
  // owner.
  bool ConvergeTo(const std::vector<std::string>& ids, int64_t ms) {
    const Ring expected(ids, {.partition_bits = 12});
    auto all_have = [&] {
      for (const auto& id : sim_->node_ids()) {
        if (sim_->IsUp(id) &&
            sim_->replica(id).ring().fingerprint() != expected.fingerprint())
          return false;
      }
      return true;
    };
    if (!sim_->RunUntil(all_have, ms)) return false;
    for (const auto& id : sim_->node_ids()) {
      if (!sim_->IsUp(id)) continue;
      const Ring& ring = sim_->replica(id).ring();
      EXPECT_EQ(ring.members(), expected.members()) << id;
      for (uint32_t p = 0; p < ring.partition_count(); ++p) {
        if (ring.OwnerIds(p) != expected.OwnerIds(p)) {
          ADD_FAILURE() << id << " differs at partition " << p;
          return false;
        }
      }
    }
    return true;
  }
  // Every up node's ring fingerprint (but `except`'s), checked at every
  // step for `ms`.
  void StaysAt(const std::vector<std::string>& ids, int64_t ms,
               const std::string& except = "") {
    const uint64_t expected = Ring(ids, {.partition_bits = 12}).fingerprint();
    for (int64_t t = 0; t < ms; t += 100) {
      sim_->RunFor(100);
      for (const auto& id : sim_->node_ids()) {
        if (!sim_->IsUp(id) || id == except) continue;
        ASSERT_EQ(sim_->replica(id).ring().fingerprint(), expected)
            << id << " at " << t << " ms";
      }
    }
  }

  std::unique_ptr<Simulation> sim_;
};

TEST_F(RingSimTest, GossipInAnyOrderGivesOneRing) {
  ASSERT_TRUE(ConvergeTo(Ids(), 60'000)) << "members never agreed on the ring";
  EXPECT_EQ(sim_->replica(Id(3)).ring().replicas(), 3u);
}

TEST_F(RingSimTest, LivenessNeverMovesAPartition) {
  ASSERT_TRUE(ConvergeTo(Ids(), 60'000));
  sim_->Crash(Id(2));
  // Suspected, then dead for everyone: the ring stays.
  auto dead_for_all = [&] {
    for (const auto& id : sim_->node_ids()) {
      if (id != Id(2) &&
          sim_->replica(id).membership().LivenessOf(Id(2)) != Liveness::kDead)
        return false;
    }
    return true;
  };
  for (int64_t t = 0; !dead_for_all(); t += 1000) {
    ASSERT_LT(t, 60'000) << "n2 never died for everyone";
    StaysAt(Ids(), 1000);
  }
  sim_->Partition({{Id(0), Id(1), Id(3)}, {Id(4), Id(5), Id(6)}});
  StaysAt(Ids(), 5'000);
  sim_->Heal();
  // The restarted member starts from the members it stored: its ring is
  // everyone's from its first step.
  sim_->Restart(Id(2));
  StaysAt(Ids(), 5'000);
}

TEST_F(RingSimTest, AMemberRestartedWithoutItsDiskLearnsTheRingByGossip) {
  ASSERT_TRUE(ConvergeTo(Ids(), 60'000));
  sim_->Crash(Id(4));
  sim_->Restart(Id(4), /*lose_data=*/true);
  EXPECT_EQ(sim_->replica(Id(4)).ring().members().size(), 1u);
  // Nobody else's ring moves meanwhile.
  StaysAt(Ids(), 2'000, Id(4));
  EXPECT_TRUE(ConvergeTo(Ids(), 30'000));
}

TEST_F(RingSimTest, LeavingOrForgottenMembersLeaveTheRing) {
  ASSERT_TRUE(ConvergeTo(Ids(), 60'000));
  sim_->Leave(Id(5));
  ASSERT_TRUE(ConvergeTo(Ids({5}), 30'000))
      << "the leave did not reach every ring";
  sim_->Crash(Id(6));
  ASSERT_TRUE(sim_->RunUntil(
      [&] {
        return sim_->replica(Id(0)).membership().LivenessOf(Id(6)) ==
               Liveness::kDead;
      },
      30'000));
  ASSERT_TRUE(sim_->Forget(Id(0), Id(6)).ok());
  ASSERT_TRUE(ConvergeTo(Ids({5, 6}), 30'000))
      << "the forget did not reach every ring";
}

}  // namespace
}  // namespace gossipkv
