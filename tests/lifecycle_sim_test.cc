// Member lifecycle under the simulator: an operator's CLUSTER FORGET of a
// dead member spreads by gossip, and neither a peer's stale gossip about it
// nor the member's own return brings it back; a dead member blocks
// tombstone GC until it is forgotten, even on a node that remembers it only
// as a GC member; and a node restarted with its clock an hour behind —
// with its disk, or without it — is alive again for everyone, after which
// GC proceeds. GOSSIPKV_SEED=<seed> replays a failing run.
#include <gtest/gtest.h>

#include "sim/simulation.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

constexpr int kNodes = 5;

std::string Id(int i) { return "n" + std::to_string(i); }
std::string Key(int i) { return "k" + std::to_string(i); }

class LifecycleSimTest : public ::testing::Test {
 protected:
  void Start(const FaultOptions& faults = {}) {
    const uint64_t seed = Simulation::SeedFromEnv(17);
    RecordProperty("seed", std::to_string(seed));
    sim_ =
        std::make_unique<Simulation>(seed, NetworkOptions{1, 20, 0.02, 0.02});
    sim_->set_faults(faults);
    ReplicaOptions o;
    o.membership.gossip_interval_ms = 1000;
    o.membership.seeds = {Id(0), Id(1)};
    o.membership.dead_after_ms = 5000;
    o.anti_entropy.interval_ms = 2000;
    o.gc.interval_ms = 2000;
    o.gc.round_timeout_ms = 3000;
    StoreOptions store;
    store.merkle = MerkleShape{8, 2};
    for (int i = 0; i < kNodes; ++i) sim_->AddNode(Id(i), o, true, store);
    sim_->RunFor(5000);  // membership forms
  }

  Membership& MembershipOf(const std::string& id) {
    return sim_->replica(id).membership();
  }
  // Every up node other than `id` sees it as `liveness`.
  bool AllSee(const std::string& id, Liveness liveness) {
    for (const auto& n : sim_->node_ids()) {
      if (n != id && sim_->IsUp(n) &&
          MembershipOf(n).LivenessOf(id) != liveness)
        return false;
    }
    return true;
  }
  // No up node but `id` itself lists `id` as a member.
  bool NobodyLists(const std::string& id) {
    for (const auto& n : sim_->node_ids()) {
      if (n == id || !sim_->IsUp(n)) continue;
      for (const auto& m : MembershipOf(n).Members(sim_->now())) {
        if (m.node_id == id) return false;
      }
    }
    return true;
  }
  void WriteKeys(int n) {
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(sim_->Write(Id(i % 2), Key(i), "v" + std::to_string(i)));
  }
  bool Converged(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
      if (sim_->store(id).tree().Root() != sim_->store(ids[0]).tree().Root())
        return false;
    }
    return true;
  }
  // Every node of `ids` stores no record at all.
  bool AllEmpty(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
      if (sim_->store(id).key_count() != 0) return false;
    }
    return true;
  }
  uint64_t Collected() {
    uint64_t n = 0;
    for (const auto& id : sim_->node_ids())
      n += sim_->replica(id).stats().gc_tombstones_collected;
    return n;
  }

  std::unique_ptr<Simulation> sim_;
};

TEST_F(LifecycleSimTest, AForgottenMemberIsNotBroughtBackByGossip) {
  Start();
  auto times_of_n4 = [&](int n) {
    const auto& stats = sim_->replica(Id(n)).stats();
    return stats.ae_last_session_ms.count(Id(4)) +
           stats.ae_last_in_sync_ms.count(Id(4));
  };
  ASSERT_TRUE(sim_->RunUntil([&] { return times_of_n4(0) == 2; }, 60'000))
      << "n0 never synced with n4";
  sim_->Crash(Id(4));
  ASSERT_TRUE(
      sim_->RunUntil([&] { return AllSee(Id(4), Liveness::kDead); }, 60'000));
  // n3 does not hear of the forget while it is cut off, and keeps n4's
  // state to gossip once it is back.
  sim_->Partition({{Id(0), Id(1), Id(2)}, {Id(3)}});

  EXPECT_EQ(sim_->Forget(Id(0), Id(0)).code(), Status::Code::kInvalidArgument);
  Status alive = sim_->Forget(Id(0), Id(1));
  EXPECT_EQ(alive.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(alive.message().find("alive"), std::string::npos)
      << alive.message();
  EXPECT_EQ(sim_->Forget(Id(0), "nobody").code(), Status::Code::kNotFound);
  ASSERT_TRUE(sim_->Forget(Id(0), Id(4)).ok());
  ASSERT_TRUE(sim_->RunUntil(
      [&] {
        return MembershipOf(Id(1)).IsForgotten(Id(4)) &&
               MembershipOf(Id(2)).IsForgotten(Id(4));
      },
      20'000))
      << "the forget did not spread by gossip";
  EXPECT_TRUE(MembershipOf(Id(3)).Knows(Id(4))) << "n3 heard while cut off";

  // n3's stale view, and a state of n4 from a later incarnation relayed by
  // n3, change nothing.
  pb::PeerMessage stale;
  stale.set_from(Id(3));
  pb::MemberState n4;
  n4.set_node_id(Id(4));
  n4.set_peer_address(Id(4));
  n4.set_incarnation(1'000);
  n4.set_version(1);
  *stale.mutable_gossip_ack2()->add_states() = n4;
  sim_->Inject(Id(3), Id(1), stale);
  sim_->Heal();
  for (int step = 0; step < 300 && !HasFatalFailure(); ++step) {
    sim_->RunFor(100);
    ASSERT_TRUE(NobodyLists(Id(4)) || step < 100)
        << "n4 is listed again at " << step * 100 << " ms after the heal";
  }
  for (int n = 0; n < 4; ++n) {
    EXPECT_TRUE(MembershipOf(Id(n)).IsForgotten(Id(4))) << Id(n);
    EXPECT_FALSE(MembershipOf(Id(n)).Knows(Id(4))) << Id(n);
    // Its anti-entropy times went with it (INFO, /metrics).
    EXPECT_EQ(times_of_n4(n), 0u) << Id(n);
  }

  // The forget is stored: n0, restarted, refuses n4 before gossip says so.
  sim_->Restart(Id(0));
  EXPECT_TRUE(MembershipOf(Id(0)).IsForgotten(Id(4)));

  // n4 comes back with its disk and the same id: refused everywhere, it
  // learns it was forgotten, and its data goes nowhere.
  sim_->Restart(Id(4));
  auto written = sim_->Write(Id(4), "from-n4", std::string("x"));
  ASSERT_TRUE(written);
  // Whatever it sends is dropped: a rumor of its write, pushed to n1.
  pb::PeerMessage rumor;
  rumor.set_from(Id(4));
  auto* entry = rumor.mutable_rumor()->add_entries();
  entry->set_key("from-n4");
  entry->set_entry(EncodeEntry(*written));
  sim_->Inject(Id(4), Id(1), rumor);
  sim_->RunFor(30'000);
  EXPECT_TRUE(NobodyLists(Id(4)));
  EXPECT_TRUE(MembershipOf(Id(4)).self_forgotten());
  uint64_t refused = 0;
  for (int n = 0; n < 4; ++n) {
    refused += MembershipOf(Id(n)).refused_messages();
    auto got = sim_->Get(Id(n), "from-n4");
    ASSERT_TRUE(got);
    EXPECT_FALSE(got->has_value()) << "n4's write reached " << Id(n);
  }
  EXPECT_GT(refused, 0u);
}

// n2 is dead and holds the values: nobody may collect. Once forgotten, it
// blocks nothing — also on n1, which was down during the forget and comes
// back remembering n2 only as one of its stored GC members.
TEST_F(LifecycleSimTest, ADeadMemberBlocksCollectionUntilItIsForgotten) {
  Start();
  WriteKeys(30);
  const std::vector<std::string> all = sim_->node_ids();
  ASSERT_TRUE(sim_->RunUntil([&] { return Converged(all); }, 30'000));
  sim_->Crash(Id(2));
  for (int i = 0; i < 30; ++i)
    ASSERT_TRUE(sim_->Write(Id(i % 2), Key(i), std::nullopt));
  sim_->RunFor(30'000);
  EXPECT_EQ(Collected(), 0u);
  EXPECT_EQ(sim_->replica(Id(0)).GcBlockedBy(), std::vector<std::string>{"n2"});
  EXPECT_EQ(sim_->store(Id(0)).tombstoned_keys().size(), 30u);

  sim_->Crash(Id(1));
  ASSERT_TRUE(
      sim_->RunUntil([&] { return AllSee(Id(2), Liveness::kDead); }, 60'000));
  ASSERT_TRUE(sim_->Forget(Id(0), Id(2)).ok());
  const std::vector<std::string> rest = {Id(0), Id(3), Id(4)};
  ASSERT_TRUE(sim_->RunUntil(
      [&] {
        return MembershipOf(Id(3)).IsForgotten(Id(2)) &&
               MembershipOf(Id(4)).IsForgotten(Id(2));
      },
      20'000));
  sim_->Restart(Id(1));
  EXPECT_TRUE(sim_->store(Id(1)).gc_members().count(Id(2)))
      << "n1 should come back remembering n2 as a GC member";
  const std::vector<std::string> up = {Id(0), Id(1), Id(3), Id(4)};
  // Every deletion collected, and nobody waits for n2 any more: n1, too,
  // has dropped it from the members it stores.
  auto unblocked = [&] {
    for (const auto& id : up) {
      if (!sim_->replica(id).GcBlockedBy().empty() ||
          sim_->store(id).gc_members().count(Id(2)))
        return false;
    }
    return AllEmpty(up);
  };
  ASSERT_TRUE(sim_->RunUntil(unblocked, 60'000))
      << "the forgotten member still blocks collection";
  for (const auto& id : up) {
    for (int i = 0; i < 30; ++i) {
      auto got = sim_->Get(id, Key(i));
      ASSERT_TRUE(got);
      EXPECT_FALSE(got->has_value()) << Key(i) << " on " << id;
    }
  }
  // n1's own rounds are no longer deferred.
  const uint64_t deferred = sim_->replica(Id(1)).stats().gc_rounds_deferred;
  sim_->RunFor(20'000);
  EXPECT_EQ(sim_->replica(Id(1)).stats().gc_rounds_deferred, deferred);
}

// Clocks skewed by up to 5 minutes; n3 restarts with its clock an hour
// behind. Its stored incarnation counter still supersedes what it said
// before, so everyone takes it back, and GC, blocked while it was dead,
// collects afterwards.
TEST_F(LifecycleSimTest, ANodeRestartedWithItsClockBehindIsAliveAgain) {
  FaultOptions faults;
  faults.max_clock_skew_ms = 300'000;
  faults.max_clock_drift = 0.0001;
  Start(faults);
  WriteKeys(20);
  const std::vector<std::string> all = sim_->node_ids();
  ASSERT_TRUE(sim_->RunUntil([&] { return Converged(all); }, 30'000));
  const uint64_t before = MembershipOf(Id(3)).self().incarnation();
  sim_->Crash(Id(3));
  ASSERT_TRUE(
      sim_->RunUntil([&] { return AllSee(Id(3), Liveness::kDead); }, 60'000));
  sim_->SetClockSkew(Id(3), -3'600'000);
  sim_->Restart(Id(3));
  EXPECT_GT(MembershipOf(Id(3)).self().incarnation(), before);
  ASSERT_TRUE(
      sim_->RunUntil([&] { return AllSee(Id(3), Liveness::kAlive); }, 30'000))
      << "n3 is not alive again for everyone";
  sim_->RunFor(20'000);
  EXPECT_TRUE(AllSee(Id(3), Liveness::kAlive)) << "n3 did not stay alive";

  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(sim_->Write(Id(i % 2), Key(i), std::nullopt));
  ASSERT_TRUE(sim_->RunUntil([&] { return AllEmpty(all); }, 60'000))
      << "GC did not proceed after n3 came back";
}

// The same with n3's disk lost: its counter starts again at 1, below what
// everyone holds of it. Hearing its old state, n3 refutes it with a newer
// incarnation still.
TEST_F(LifecycleSimTest, ANodeThatLostItsCounterRefutesItsOldState) {
  FaultOptions faults;
  faults.max_clock_skew_ms = 300'000;
  Start(faults);
  const std::vector<std::string> all = sim_->node_ids();
  sim_->Crash(Id(3));
  ASSERT_TRUE(
      sim_->RunUntil([&] { return AllSee(Id(3), Liveness::kDead); }, 60'000));
  // What the others hold of n3: an incarnation of a clock far ahead.
  pb::PeerMessage ahead;
  ahead.set_from(Id(3));
  pb::MemberState old_state = MembershipOf(Id(3)).self();
  old_state.set_incarnation(1'000'000);
  old_state.set_version(5);
  *ahead.mutable_gossip_ack2()->add_states() = old_state;
  for (int n : {0, 1, 2, 4}) sim_->Inject(Id(3), Id(n), ahead);
  sim_->RunFor(100);
  ASSERT_TRUE(
      sim_->RunUntil([&] { return AllSee(Id(3), Liveness::kDead); }, 60'000));
  sim_->SetClockSkew(Id(3), -3'600'000);
  sim_->Restart(Id(3), /*lose_data=*/true);
  EXPECT_EQ(MembershipOf(Id(3)).self().incarnation(), 1u);
  ASSERT_TRUE(
      sim_->RunUntil([&] { return AllSee(Id(3), Liveness::kAlive); }, 30'000))
      << "n3 is not alive again for everyone";
  sim_->RunFor(30'000);  // past the time to declare it dead
  EXPECT_TRUE(AllSee(Id(3), Liveness::kAlive)) << "n3 did not stay alive";
  EXPECT_GT(MembershipOf(Id(3)).refutations(), 0u);
  EXPECT_GT(MembershipOf(Id(3)).self().incarnation(), 1'000'000u);
  EXPECT_EQ(sim_->store(Id(3)).member_record().incarnation,
            MembershipOf(Id(3)).self().incarnation())
      << "the refutation is stored";

  ASSERT_TRUE(sim_->Write(Id(0), "k", std::string("v")));
  ASSERT_TRUE(sim_->RunUntil([&] { return Converged(all); }, 30'000));
  ASSERT_TRUE(sim_->Write(Id(1), "k", std::nullopt));
  ASSERT_TRUE(sim_->RunUntil([&] { return AllEmpty(all); }, 60'000))
      << "GC did not proceed after n3 came back";
}

}  // namespace
}  // namespace gossipkv
