// Quorum writes under the simulator (replication/coordinator.h), five
// nodes, three replicas per partition: a write acknowledged at W = 2 is on
// the disks of two owners when its client hears so — every node crashes
// right after, the coordinator's disk is lost, and the write is still
// there — while at W = 1 the same crash loses writes (the test can fail);
// too few owners within the timeout is an error naming how many answered.
// Quorum reads (replication/quorum_read.h): a read at R = 2 sees a write
// acknowledged at W = 2 from an owner that missed it, and the owner that
// differed is repaired; too few owners leaves the read short at the
// deadline.
// Hinted handoff (replication/hinted_handoff.h): with two owners of a key
// down, a write at W = 2 is acknowledged through a stand-in holding a hint,
// the hint survives the stand-in's restart, and it drains into the owners
// once they are back; past the hint window the same write fails.
// GOSSIPKV_SEED=<seed> replays a failing run.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "sim/simulation.h"

namespace gossipkv {
namespace {

constexpr int kNodes = 5;

std::string Id(int i) { return "n" + std::to_string(i); }

class QuorumSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const uint64_t seed = Simulation::SeedFromEnv(41);
    RecordProperty("seed", std::to_string(seed));
    NetworkOptions net{1, 50, 0.02, 0.02};
    net.slow = 0.02;
    net.max_slow_latency_ms = 500;
    sim_ = std::make_unique<Simulation>(seed, net);
    // Commits take time: an owner that answered before its merge was on
    // its disk would be caught by the crash below.
    FaultOptions faults;
    faults.max_disk_latency_ms = 50;
    sim_->set_faults(faults);
    ReplicaOptions o;
    o.membership.gossip_interval_ms = 500;
    o.membership.seeds = {Id(0)};
    o.anti_entropy.interval_ms = 5000;
    o.ring.partition_bits = 8;
    o.coordinator.request_timeout_ms = 2000;
    Adjust(o);
    StoreOptions store;
    store.merkle = MerkleShape{8, 2};
    for (int i = 0; i < kNodes; ++i) sim_->AddNode(Id(i), o, true, store);
    sim_->RunFor(10'000);  // membership forms
  }

  virtual void Adjust(ReplicaOptions& options) {}

  const Ring& RingOf(const std::string& id) { return sim_->replica(id).ring(); }
  // Hints held over every node that is up.
  uint64_t HintsHeld() {
    uint64_t held = 0;
    for (int i = 0; i < kNodes; ++i) {
      if (sim_->IsUp(Id(i))) held += sim_->replica(Id(i)).hints()->hint_count();
    }
    return held;
  }
  // `owners` but `coordinator` are crashed, and runs until `coordinator`
  // no longer believes them alive.
  void CrashOthersAndWait(const std::vector<std::string>& owners,
                          const std::string& coordinator) {
    for (const auto& owner : owners) {
      if (owner != coordinator) sim_->Crash(owner);
    }
    ASSERT_TRUE(sim_->RunUntil(
        [&] {
          for (const auto& owner : owners) {
            if (owner != coordinator &&
                sim_->replica(coordinator).membership().LivenessOf(owner) ==
                    Liveness::kAlive)
              return false;
          }
          return true;
        },
        60'000));
  }
  // A key whose owners include `coordinator` (or exclude it).
  std::string KeyOwnedBy(const std::string& coordinator, bool owned,
                         int from = 0) {
    const Ring& ring = RingOf(coordinator);
    const int self = ring.IndexOf(coordinator);
    for (int i = from;; ++i) {
      std::string key = "k" + std::to_string(i);
      if (ring.Owns(self, ring.PartitionOfKey(key)) == owned) return key;
    }
  }
  struct Outcome {
    bool acked = false;
    bool failed = false;
    std::string error;
  };
  // Submits a write at `at` with `quorum`, and runs until it is answered.
  std::shared_ptr<Outcome> WriteAndWait(const std::string& at,
                                        const std::string& key,
                                        const std::string& value,
                                        uint32_t quorum) {
    auto outcome = std::make_shared<Outcome>();
    auto written = sim_->Submit(
        at, key, value, nullptr,
        {nullptr, [outcome] { outcome->acked = true; },
         [outcome] { outcome->failed = true; },
         [outcome](const Status& s) { outcome->error = s.message(); }},
        quorum);
    EXPECT_TRUE(written.has_value()) << written.error().ToString();
    sim_->RunUntil([&] { return outcome->acked || outcome->failed; }, 10'000,
                   1);
    return outcome;
  }
  // Of `owners`, those other than `coordinator` whose store holds `value`
  // under `key`.
  int OthersHolding(const std::vector<std::string>& owners,
                    const std::string& coordinator, const std::string& key,
                    const std::string& value) {
    int holding = 0;
    for (const auto& owner : owners) {
      if (owner == coordinator) continue;
      auto entry = sim_->Get(owner, key);
      if (!entry || !entry->has_value()) continue;
      for (const auto& s : (*entry)->siblings) {
        if (!s.tombstone && s.value == value) ++holding;
      }
    }
    return holding;
  }
  // Every node crashes (what its disk holds survives), the coordinator
  // with its disk; all restart.
  void CrashEveryone(const std::string& coordinator) {
    for (int i = 0; i < kNodes; ++i) sim_->Crash(Id(i));
    for (int i = 0; i < kNodes; ++i)
      sim_->Restart(Id(i), /*lose_data=*/Id(i) == coordinator);
  }

  struct ReadOutcome {
    bool done = false;
    Status status;
    KeyRead read;
    int64_t at_ms = 0;  // virtual time of the answer
  };
  // Reads `key` at `at` with `quorum`, and runs until it is answered.
  std::shared_ptr<ReadOutcome> ReadAndWait(const std::string& at,
                                           const std::string& key,
                                           uint32_t quorum) {
    auto outcome = std::make_shared<ReadOutcome>();
    Status started = sim_->Read(
        at, {key}, quorum,
        [outcome, this](const Status& s, std::vector<KeyRead> reads) {
          outcome->done = true;
          outcome->status = s;
          outcome->read = reads.at(0);
          outcome->at_ms = sim_->now();
        });
    EXPECT_TRUE(started.ok()) << started.ToString();
    sim_->RunUntil([&] { return outcome->done; }, 10'000, 1);
    return outcome;
  }
  static bool Holds(const std::optional<Entry>& entry,
                    const std::string& value) {
    if (!entry) return false;
    for (const auto& s : entry->siblings) {
      if (!s.tombstone && s.value == value) return true;
    }
    return false;
  }

  std::unique_ptr<Simulation> sim_;
};

TEST_F(QuorumSimTest, AWriteAcknowledgedAtTwoIsOnTwoOwnersDisks) {
  int lost_at_one = 0;
  uint64_t sent = 0;  // ReplicaWrites, as the coordinators counted them
  for (int round = 0; round < 12; ++round) {
    const std::string at = Id(round % kNodes);
    const bool owner = round % 2 == 0;
    const std::string key = KeyOwnedBy(at, owner, round * 100);
    const uint32_t quorum = round < 8 ? 2 : 1;
    const std::string value = "v" + std::to_string(round);
    const auto owners = RingOf(at).OwnerIds(RingOf(at).PartitionOfKey(key));
    auto outcome = WriteAndWait(at, key, value, quorum);
    ASSERT_TRUE(outcome->acked) << "round " << round << " at " << at;
    sent += sim_->replica(at).stats().replica_writes_sent;
    CrashEveryone(at);
    // Two owners' disks, the coordinator's among them if it owns the key
    // (a non-owner's own copy does not count).
    const int needed = owner ? 1 : 2;
    const int holding = OthersHolding(owners, at, key, value);
    if (quorum == 2) {
      EXPECT_GE(holding, needed) << "round " << round << ": " << key
                                 << " acknowledged at W = 2 by " << at;
    } else if (holding < needed) {
      ++lost_at_one;
    }
    sim_->RunFor(5'000);  // everyone back
  }
  // The same crash right after an acknowledgement at W = 1 finds the
  // write on no other owner's disk: what W = 2 is checked against.
  EXPECT_GT(lost_at_one, 0);
  EXPECT_GE(sent, 8u);  // every W = 2 round sent at least one
}

TEST_F(QuorumSimTest, TooFewOwnersIsAnErrorNamingHowManyAnswered) {
  const std::string key = KeyOwnedBy(Id(0), true);
  // Cut off from everyone: only n0 holds it.
  sim_->Partition({{Id(0)}, {Id(1), Id(2), Id(3), Id(4)}});
  auto outcome = WriteAndWait(Id(0), key, "alone", 2);
  EXPECT_TRUE(outcome->failed);
  EXPECT_FALSE(outcome->acked);
  EXPECT_EQ(outcome->error,
            "only 1 of the 2 replicas needed acknowledged within 2000 ms; the "
            "write is stored on this node and may still reach the others");
  EXPECT_EQ(sim_->replica(Id(0)).stats().quorum_writes_failed, 1u);
  EXPECT_EQ(sim_->replica(Id(0)).stats().quorum_writes, 1u);
  sim_->Heal();
  sim_->RunFor(5'000);
  EXPECT_TRUE(WriteAndWait(Id(0), key, "together", 2)->acked);

  // A non-owner at W = 3 needs all three owners; one down fails it.
  const std::string other = KeyOwnedBy(Id(1), false);
  EXPECT_TRUE(WriteAndWait(Id(1), other, "all three", 3)->acked);
  const Ring& ring = RingOf(Id(1));
  const std::string down = ring.OwnerIds(ring.PartitionOfKey(other))[0];
  sim_->Crash(down);
  auto short_one = WriteAndWait(Id(1), other, "two of three", 3);
  EXPECT_TRUE(short_one->failed);
  // Two answered, unless the network lost one answer twice.
  ASSERT_GE(short_one->error.size(), 30u) << short_one->error;
  EXPECT_TRUE(short_one->error[5] == '1' || short_one->error[5] == '2')
      << short_one->error;
  EXPECT_EQ(short_one->error.substr(6, 24), " of the 3 replicas neede")
      << short_one->error;
}

TEST_F(QuorumSimTest, AReadAtTwoSeesAWriteAcknowledgedAtTwo) {
  int stale = 0;  // rounds where the owner read had missed the write
  for (int round = 0; round < 6; ++round) {
    const std::string writer = Id(round % kNodes);
    const std::string key = KeyOwnedBy(writer, true, round * 100);
    const auto owners =
        RingOf(writer).OwnerIds(RingOf(writer).PartitionOfKey(key));
    // An owner other than the writer misses the write: it is down.
    const std::string missing = owners[0] == writer ? owners[1] : owners[0];
    sim_->Crash(missing);
    const std::string value = "r" + std::to_string(round);
    ASSERT_TRUE(WriteAndWait(writer, key, value, 2)->acked) << round;
    sim_->Restart(missing);
    auto local = sim_->Get(missing, key);
    ASSERT_TRUE(local.has_value());
    if (!Holds(*local, value)) ++stale;
    // Its own disk lacks the write; two owners answer, one of them holds it.
    auto read = ReadAndWait(missing, key, 2);
    ASSERT_TRUE(read->done) << round;
    EXPECT_TRUE(read->status.ok()) << read->status.ToString();
    EXPECT_GE(read->read.answered, 2u);
    EXPECT_TRUE(Holds(read->read.entry, value))
        << "round " << round << ": " << key << " read at " << missing;
    sim_->RunFor(5'000);
  }
  // The restarted owner had missed every write: what the reads overcame.
  EXPECT_EQ(stale, 6);
}

TEST_F(QuorumSimTest, AReadRepairsTheOwnerThatDiffered) {
  // A non-owner reads at ALL: every owner answers, and the one that missed
  // the write is sent the joined entry.
  const std::string reader = Id(1);
  const std::string key = KeyOwnedBy(reader, false);
  const auto owners =
      RingOf(reader).OwnerIds(RingOf(reader).PartitionOfKey(key));
  sim_->Crash(owners[2]);
  ASSERT_TRUE(WriteAndWait(owners[0], key, "fresh", 2)->acked);
  sim_->Restart(owners[2]);
  const uint64_t received =
      sim_->replica(owners[2]).stats().replica_writes_received;
  auto read = ReadAndWait(reader, key, 3);
  ASSERT_TRUE(read->done);
  EXPECT_EQ(read->read.answered, 3u);
  EXPECT_TRUE(Holds(read->read.entry, "fresh"));
  EXPECT_EQ(sim_->replica(reader).stats().read_repairs, 1u);
  sim_->RunFor(1'000);
  EXPECT_GT(sim_->replica(owners[2]).stats().replica_writes_received, received);
  auto repaired = sim_->Get(owners[2], key);
  ASSERT_TRUE(repaired.has_value());
  EXPECT_TRUE(Holds(*repaired, "fresh"));
  // Owners that agree are not written to again.
  auto again = ReadAndWait(reader, key, 3);
  EXPECT_EQ(again->read.answered, 3u);
  sim_->RunFor(1'000);
  EXPECT_EQ(sim_->replica(reader).stats().read_repairs, 1u);
}

TEST_F(QuorumSimTest, TooFewOwnersLeaveAReadShortAtTheDeadline) {
  const std::string reader = Id(2);
  const std::string key = KeyOwnedBy(reader, false);
  const auto owners =
      RingOf(reader).OwnerIds(RingOf(reader).PartitionOfKey(key));
  ASSERT_TRUE(WriteAndWait(owners[0], key, "v", 3)->acked);
  sim_->Crash(owners[1]);
  sim_->Crash(owners[2]);
  const int64_t asked = sim_->now();
  auto read = ReadAndWait(reader, key, 2);
  ASSERT_TRUE(read->done);
  EXPECT_TRUE(read->status.ok());
  EXPECT_EQ(read->read.answered, 1u);
  EXPECT_TRUE(Holds(read->read.entry, "v"));
  EXPECT_GE(read->at_ms - asked, 2000);
  EXPECT_EQ(sim_->replica(reader).stats().quorum_reads_failed, 1u);
}

TEST_F(QuorumSimTest, AReadOfAWriteWhoseCommitFailsFailsAndRepairsNobody) {
  const std::string at = Id(0);
  const std::string key = KeyOwnedBy(at, true, 500);
  const auto owners = RingOf(at).OwnerIds(RingOf(at).PartitionOfKey(key));
  ASSERT_TRUE(WriteAndWait(at, key, "stored", 3)->acked);
  // The next write reaches this node's batch, and the read sees it there;
  // then its commit fails, whenever the owners' answers come.
  sim_->engine(at).FailNextWrite(DiskFault::kRefused);
  auto write = std::make_shared<Outcome>();
  auto written = sim_->Submit(at, key, "never stored", nullptr,
                              {nullptr, [write] { write->acked = true; },
                               [write] { write->failed = true; }, nullptr});
  ASSERT_TRUE(written.has_value());
  auto read = std::make_shared<ReadOutcome>();
  ASSERT_TRUE(sim_->Read(at, {key}, 3,
                         [read](const Status& s, std::vector<KeyRead> reads) {
                           read->done = true;
                           read->status = s;
                           read->read = reads.at(0);
                         })
                  .ok());
  ASSERT_TRUE(
      sim_->RunUntil([&] { return read->done && write->failed; }, 10'000, 1));
  EXPECT_FALSE(read->status.ok());
  sim_->RunFor(3'000);
  for (const auto& owner : owners) {
    auto entry = sim_->Get(owner, key);
    ASSERT_TRUE(entry.has_value());
    EXPECT_FALSE(Holds(*entry, "never stored")) << owner;
    EXPECT_TRUE(Holds(*entry, "stored")) << owner;
  }
  EXPECT_EQ(sim_->replica(at).stats().read_repairs, 0u);
}

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
  EXPECT_EQ(HintsHeld(), 2u);
  // A hot key: writes in quick succession, their hints merged while the
  // batch before is still being written, collapse into the same two.
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
  EXPECT_EQ(HintsHeld(), 2u);
  // Only non-owners hold hints, and they keep them across a restart.
  for (int i = 0; i < kNodes; ++i) {
    if (!sim_->IsUp(Id(i))) continue;
    if (sim_->replica(Id(i)).hints()->hint_count() == 0) continue;
    EXPECT_EQ(std::count(owners.begin(), owners.end(), Id(i)), 0) << Id(i);
    sim_->Restart(Id(i));
  }
  sim_->RunFor(2'000);
  EXPECT_EQ(HintsHeld(), 2u);
  for (const auto& owner : owners) {
    if (owner != at) sim_->Restart(owner);
  }
  ASSERT_TRUE(sim_->RunUntil([&] { return HintsHeld() == 0; }, 30'000));
  uint64_t delivered = 0;
  for (int i = 0; i < kNodes; ++i)
    delivered += sim_->replica(Id(i)).stats().hints_delivered;
  EXPECT_EQ(delivered, 2u);
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
  uint64_t dropped = 0;
  for (int i = 0; i < kNodes; ++i) {
    if (sim_->IsUp(Id(i)))
      dropped += sim_->replica(Id(i)).stats().hints_dropped;
  }
  EXPECT_GE(dropped, 2u);
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

}  // namespace
}  // namespace gossipkv
