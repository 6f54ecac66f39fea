// Hinted handoff under the simulator (replication/hinted_handoff.h), on
// the quorum fixture: with two owners of a key down, a write at W = 2 is
// acknowledged through stand-ins holding hints, a hot key's hints collapse,
// the hints survive a stand-in's restart and drain into the owners once
// they are back; a stand-in past its budget does not count; past the hint
// window there is no stand-in; the hints of an owner that leaves or is
// forgotten are dropped; a replay goes in batches of max_message_bytes.
// GOSSIPKV_SEED=<seed> replays a failing run.
#include "tests/quorum_sim_fixture.h"

namespace gossipkv {
namespace {

TEST_F(QuorumSimTest, AStandInHoldsAHintForADownOwnerUntilItIsBack) {
  const std::string at = Id(0);
  const std::string key = KeyOwnedBy(at, true);
  const auto owners = RingOf(at).OwnerIds(RingOf(at).PartitionOfKey(key));
  CrashOthersAndWait(owners, at);
  // This node and one stand-in make W = 2; each down owner gets one.
  auto outcome = WriteAndWait(at, key, "hinted", 2);
  ASSERT_TRUE(outcome->acked) << outcome->error;
  EXPECT_EQ(sim_->replica(at).stats().hinted_writes_sent, 2u);
  sim_->RunFor(1'000);  // the second stand-in's merge
  // Two, unless the network lost the ReplicaWrite the quorum did not need.
  EXPECT_GE(HintsHeld(), 1u);
  EXPECT_LE(HintsHeld(), 2u);
  // A hot key: writes in quick succession, their hints merged while the
  // batch before is still being written, collapse into one per stand-in.
  std::vector<std::shared_ptr<Outcome>> more;
  for (int i = 0; i < 10; ++i) {
    auto o = std::make_shared<Outcome>();
    ASSERT_TRUE(sim_->Submit(at, key, "hinted", nullptr,
                             {nullptr, [o] { o->acked = true; },
                              [o] { o->failed = true; }, nullptr},
                             2)
                    .has_value());
    more.push_back(o);
    sim_->RunFor(7);
  }
  ASSERT_TRUE(sim_->RunUntil(
      [&] {
        return std::all_of(more.begin(), more.end(),
                           [](const auto& o) { return o->acked; });
      },
      10'000, 1));
  sim_->RunFor(1'000);
  const uint64_t held = HintsHeld();
  EXPECT_GE(held, 1u);
  EXPECT_LE(held, 2u);
  // Only non-owners hold hints, and they keep them across a restart.
  for (int i = 0; i < kNodes; ++i) {
    if (!sim_->IsUp(Id(i))) continue;
    if (sim_->replica(Id(i)).hints()->hint_count() == 0) continue;
    EXPECT_EQ(std::count(owners.begin(), owners.end(), Id(i)), 0) << Id(i);
    sim_->Restart(Id(i));
  }
  sim_->RunFor(2'000);
  EXPECT_EQ(HintsHeld(), held);
  for (const auto& owner : owners) {
    if (owner != at) sim_->Restart(owner);
  }
  ASSERT_TRUE(sim_->RunUntil([&] { return HintsHeld() == 0; }, 30'000));
  EXPECT_EQ(SumOverUp(&ReplicationStats::hints_delivered), held);
  for (const auto& owner : owners) {
    auto entry = sim_->Get(owner, key);
    ASSERT_TRUE(entry.has_value());
    EXPECT_TRUE(Holds(*entry, "hinted")) << owner;
  }
}

// The same cluster with stand-ins that hold hints of at most 64 bytes.
class TinyHintBudgetSimTest : public QuorumSimTest {
 protected:
  void Adjust(ReplicaOptions& options) override {
    options.coordinator.max_hint_bytes_per_owner = 64;
  }
};

TEST_F(TinyHintBudgetSimTest, AStandInPastItsBudgetDoesNotCount) {
  const std::string at = Id(0);
  const std::string key = KeyOwnedBy(at, true);
  const auto owners = RingOf(at).OwnerIds(RingOf(at).PartitionOfKey(key));
  CrashOthersAndWait(owners, at);
  auto outcome = WriteAndWait(at, key, std::string(100, 'x'), 2);
  EXPECT_TRUE(outcome->failed);
  EXPECT_EQ(sim_->replica(at).stats().hinted_writes_sent, 2u);
  EXPECT_GE(SumOverUp(&ReplicationStats::hints_dropped), 2u);
  EXPECT_EQ(HintsHeld(), 0u);
}

// The same cluster with a hint window shorter than the owners stay down.
class ShortHintWindowSimTest : public QuorumSimTest {
 protected:
  void Adjust(ReplicaOptions& options) override {
    options.coordinator.hint_window_ms = 1'000;
  }
};

TEST_F(ShortHintWindowSimTest, OwnersDownPastTheWindowGetNoStandIn) {
  const std::string at = Id(0);
  const std::string key = KeyOwnedBy(at, true);
  const auto owners = RingOf(at).OwnerIds(RingOf(at).PartitionOfKey(key));
  CrashOthersAndWait(owners, at);
  sim_->RunFor(2'000);  // past the window
  auto outcome = WriteAndWait(at, key, "too late", 2);
  EXPECT_TRUE(outcome->failed);
  EXPECT_FALSE(outcome->acked);
  EXPECT_EQ(sim_->replica(at).stats().hinted_writes_sent, 0u);
  EXPECT_EQ(sim_->replica(at).stats().hints_past_window, 2u);
  EXPECT_EQ(HintsHeld(), 0u);
}

TEST_F(QuorumSimTest, HintsOfAnOwnerThatLeavesOrIsForgottenAreDropped) {
  const std::string at = Id(0);
  const std::string key = KeyOwnedBy(at, true);
  const auto owners = RingOf(at).OwnerIds(RingOf(at).PartitionOfKey(key));
  std::vector<std::string> down;
  for (const auto& owner : owners)
    if (owner != at) down.push_back(owner);
  CrashOthersAndWait(owners, at);
  ASSERT_TRUE(WriteAndWait(at, key, "for two", 2)->acked);
  sim_->RunFor(1'000);
  const uint64_t held = HintsHeld();
  ASSERT_GE(held, 1u);
  bool forgotten_hinted = false;  // a stand-in holds one for down[1]
  for (int i = 0; i < kNodes; ++i) {
    if (!sim_->IsUp(Id(i))) continue;
    const auto ids = sim_->replica(Id(i)).hints()->owners();
    forgotten_hinted |= std::count(ids.begin(), ids.end(), down[1]) > 0;
  }
  // One comes back only to leave for good (its hint may be delivered
  // first: either way none is left for it); the other is forgotten.
  sim_->Restart(down[0]);
  sim_->Leave(down[0]);
  ASSERT_TRUE(sim_->Forget(at, down[1]).ok());
  ASSERT_TRUE(sim_->RunUntil([&] { return HintsHeld() == 0; }, 30'000));
  const uint64_t dropped = SumOverUp(&ReplicationStats::hints_dropped);
  const uint64_t delivered = SumOverUp(&ReplicationStats::hints_delivered);
  // The forgotten owner's hint is dropped: it never comes back.
  if (forgotten_hinted) EXPECT_GE(dropped, 1u);
  EXPECT_GE(dropped + delivered, held);  // a late ReplicaWrite may add one
}

// The same cluster with messages of at most 4 KiB.
class SmallMessageSimTest : public QuorumSimTest {
 protected:
  void Adjust(ReplicaOptions& options) override {
    options.coordinator.max_message_bytes = 4096;
  }
};

TEST_F(SmallMessageSimTest, HintsReplayInBatchesOfMaxMessageBytes) {
  const std::string at = Id(0);
  const std::string first = KeyOwnedBy(at, true);
  const Ring& ring = RingOf(at);
  const auto owners = ring.OwnerIds(ring.PartitionOfKey(first));
  // Twenty keys of 1,000 bytes with the same owners as the first.
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 20; ++i) {
    const std::string key = "b" + std::to_string(i);
    if (ring.OwnerIds(ring.PartitionOfKey(key)) == owners) keys.push_back(key);
  }
  CrashOthersAndWait(owners, at);
  for (const auto& key : keys)
    ASSERT_TRUE(WriteAndWait(at, key, std::string(1000, 'v'), 2)->acked);
  sim_->RunFor(1'000);
  // At least one stand-in's per key: the one whose ack made W = 2.
  ASSERT_GE(HintsHeld(), 20u);
  for (const auto& owner : owners) {
    if (owner != at) sim_->Restart(owner);
  }
  ASSERT_TRUE(sim_->RunUntil([&] { return HintsHeld() == 0; }, 30'000));
  const uint64_t replays = SumOverUp(&ReplicationStats::hint_replays_sent);
  const uint64_t bytes = SumOverUp(&ReplicationStats::hint_bytes_replayed);
  const uint64_t delivered = SumOverUp(&ReplicationStats::hints_delivered);
  // An entry of 1 KB is about 1,050 bytes in a batch: three fit in 4 KiB,
  // a fourth would not.
  EXPECT_GE(replays * 3, delivered);
  EXPECT_LE(bytes, replays * 4096);
}

}  // namespace
}  // namespace gossipkv
