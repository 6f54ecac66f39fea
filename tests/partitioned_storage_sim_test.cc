// Partitioned storage under the simulator (replication/partition_scope.h,
// replication/partition_handoff.h): six nodes, three owners per partition,
// writes coordinated by any node. Every key ends on its owners and nowhere
// else, nothing acknowledged is lost, a node that coordinated a key it does
// not own never reissues a dot it dropped, and data follows the ring when
// a member joins or leaves. GOSSIPKV_SEED=<seed> replays a failing run.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sim/simulation.h"

namespace gossipkv {
namespace {

std::string Id(int i) { return "n" + std::to_string(i); }

class PartitionedStorageSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const uint64_t seed = Simulation::SeedFromEnv(73);
    RecordProperty("seed", std::to_string(seed));
    NetworkOptions net{1, 50, 0.02, 0.02};
    sim_ = std::make_unique<Simulation>(seed, net);
    FaultOptions faults;
    faults.max_disk_latency_ms = 20;
    sim_->set_faults(faults);
    options_.membership.gossip_interval_ms = 500;
    options_.membership.seeds = {Id(0)};
    options_.anti_entropy.interval_ms = 2000;
    options_.ring.partition_bits = 8;
    options_.gc.interval_ms = 2000;
    options_.partitioned_storage = partitioned_;
    options_.handoff.grace_ms = 3000;
    store_.merkle = MerkleShape{8, 2};
    for (int i = 0; i < nodes_; ++i) Add(Id(i));
    sim_->RunFor(10'000);  // membership forms
  }

  void Add(const std::string& id) {
    sim_->AddNode(id, options_, true, store_);
    ids_.push_back(id);
  }

  // Writes `value` (nullopt: deletes) under `key` at `at`, W = 2, and runs
  // until it is answered; records it when acknowledged.
  bool Put(const std::string& at, const std::string& key,
           std::optional<std::string> value) {
    auto acked = std::make_shared<int>(0);
    auto w = sim_->Submit(
        at, key, value, nullptr,
        {nullptr, [acked] { *acked = 1; }, [acked] { *acked = -1; }, nullptr},
        2);
    if (!w) return false;
    sim_->RunUntil([&] { return *acked != 0; }, 10'000, 1);
    if (*acked == 1) expected_[key] = value;
    return *acked == 1;
  }

  const Ring& RingOf(const std::string& id) { return sim_->replica(id).ring(); }

  // Keys `id` stores of partitions it does not own.
  uint64_t HeldWithoutOwning(const std::string& id) {
    const Ring& ring = RingOf(id);
    const int self = ring.IndexOf(id);
    uint64_t held = 0;
    for (uint32_t s = 0; s < store_.merkle.segment_count(); ++s) {
      if (ring.Owns(self, s)) continue;  // a partition is one segment here
      Status scanned = sim_->store(id).ScanSegment(
          s, [&](std::string_view, uint64_t) { ++held; });
      EXPECT_TRUE(scanned.ok());
    }
    return held;
  }

  // Every acknowledged write is what each owner of its key reads (a
  // deleted key reads as absent), and non-owners hold nothing.
  void ExpectOnOwnersOnly() {
    for (const auto& id : ids_) {
      if (!sim_->IsUp(id)) continue;
      EXPECT_EQ(HeldWithoutOwning(id), 0u) << id << " seed " << sim_->seed();
    }
    const Ring& ring = RingOf(ids_.front());
    for (const auto& [key, value] : expected_) {
      for (const auto& owner : ring.OwnerIds(ring.PartitionOfKey(key))) {
        auto entry = sim_->Get(owner, key);
        ASSERT_TRUE(entry.has_value());
        const bool present = entry->has_value() && !(*entry)->IsDeleted();
        if (!value) {
          EXPECT_FALSE(present) << key << " came back on " << owner;
          continue;
        }
        ASSERT_TRUE(present)
            << key << " missing on " << owner << " seed " << sim_->seed();
        EXPECT_EQ((*entry)->Winner()->value, *value) << key << " on " << owner;
      }
    }
  }

  // Runs until every node of ids_ has the ring of ids_.
  bool RingsSettle(int64_t ms) {
    const uint64_t want = Ring(ids_, options_.ring).fingerprint();
    return sim_->RunUntil(
        [&] {
          for (const auto& id : ids_) {
            if (RingOf(id).fingerprint() != want) return false;
          }
          return true;
        },
        ms);
  }

  // Runs until no node holds a key of a partition it does not own.
  bool HandedOff(int64_t ms) {
    return sim_->RunUntil(
        [&] {
          for (const auto& id : ids_) {
            if (sim_->IsUp(id) && HeldWithoutOwning(id) > 0) return false;
          }
          return true;
        },
        ms);
  }

  bool partitioned_ = true;
  int nodes_ = 6;
  ReplicaOptions options_;
  StoreOptions store_;
  std::vector<std::string> ids_;
  std::map<std::string, std::optional<std::string>> expected_;
  std::unique_ptr<Simulation> sim_;
};

TEST_F(PartitionedStorageSimTest, EveryKeyEndsOnItsOwnersAndNowhereElse) {
  for (int i = 0; i < 300; ++i) {
    const std::string key = "k" + std::to_string(i);
    ASSERT_TRUE(Put(Id(i % nodes_), key, "v" + std::to_string(i))) << key;
  }
  for (int i = 0; i < 300; i += 7) {  // deletes, by another coordinator
    ASSERT_TRUE(Put(Id((i + 1) % nodes_), "k" + std::to_string(i), {}));
  }
  ASSERT_TRUE(HandedOff(120'000)) << "seed " << sim_->seed();
  sim_->RunFor(20'000);  // GC, and anything still in flight
  ExpectOnOwnersOnly();
  // About N/M of the data on each node: 3 of 6, so about half of the keys.
  uint64_t stored = 0, dropped = 0;
  for (const auto& id : ids_) {
    stored += sim_->store(id).key_count();
    dropped += sim_->store(id).keys_dropped();
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_LE(stored, 3u * 300);
}

TEST_F(PartitionedStorageSimTest, ADroppedKeyWrittenAgainGetsANewerDot) {
  // A key n0 does not own, written there, handed off and dropped, then
  // written there again with no context: the new write must supersede the
  // first, not reissue its dot (which merge would take for the same
  // write, keeping one of the two values).
  const Ring& ring = RingOf(Id(0));
  std::string key;
  for (int i = 0;; ++i) {
    key = "d" + std::to_string(i);
    if (!ring.Owns(ring.IndexOf(Id(0)), ring.PartitionOfKey(key))) break;
  }
  ASSERT_TRUE(Put(Id(0), key, "first"));
  ASSERT_TRUE(HandedOff(60'000));
  ASSERT_FALSE(sim_->Get(Id(0), key)->has_value());
  ASSERT_TRUE(Put(Id(0), key, "second"));
  ASSERT_TRUE(HandedOff(60'000));
  sim_->RunFor(10'000);
  ExpectOnOwnersOnly();
  for (const auto& owner : ring.OwnerIds(ring.PartitionOfKey(key))) {
    auto entry = sim_->Get(owner, key);
    ASSERT_TRUE(entry.has_value() && entry->has_value());
    EXPECT_EQ((*entry)->siblings.size(), 1u) << (*entry)->ToString();
  }
}

TEST_F(PartitionedStorageSimTest, DataFollowsTheRingWhenAMemberJoins) {
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(Put(Id(i % nodes_), "k" + std::to_string(i), "a"));
  ASSERT_TRUE(HandedOff(120'000));
  Add("n6");
  ASSERT_TRUE(RingsSettle(60'000));
  ASSERT_TRUE(HandedOff(180'000)) << "seed " << sim_->seed();
  // The new owner was filled by anti-entropy with the co-owners.
  ASSERT_TRUE(sim_->RunUntil(
      [&] {
        const Ring& ring = RingOf("n6");
        for (const auto& [key, value] : expected_) {
          const auto owners = ring.OwnerIds(ring.PartitionOfKey(key));
          if (std::find(owners.begin(), owners.end(), "n6") == owners.end())
            continue;
          auto entry = sim_->Get("n6", key);
          if (!entry || !entry->has_value()) return false;
        }
        return true;
      },
      120'000))
      << "seed " << sim_->seed();
  EXPECT_GT(sim_->store("n6").key_count(), 0u);
  ExpectOnOwnersOnly();
}

TEST_F(PartitionedStorageSimTest, DataFollowsTheRingWhenAMemberLeaves) {
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(Put(Id(i % nodes_), "k" + std::to_string(i), "a"));
  ASSERT_TRUE(HandedOff(120'000));
  sim_->Leave(Id(5));
  ids_.pop_back();
  ASSERT_TRUE(RingsSettle(60'000));
  ASSERT_TRUE(sim_->RunUntil(
      [&] {
        const Ring& ring = RingOf(Id(0));
        for (const auto& [key, value] : expected_) {
          for (const auto& owner : ring.OwnerIds(ring.PartitionOfKey(key))) {
            auto entry = sim_->Get(owner, key);
            if (!entry || !entry->has_value()) return false;
          }
        }
        return true;
      },
      120'000))
      << "seed " << sim_->seed();
  ASSERT_TRUE(HandedOff(120'000));
  ExpectOnOwnersOnly();
}

// The same writes with every node storing everything: non-owners keep
// their keys, which the checks above would catch.
class FullReplicationSimTest : public PartitionedStorageSimTest {
 protected:
  void SetUp() override {
    partitioned_ = false;
    PartitionedStorageSimTest::SetUp();
  }
};

TEST_F(FullReplicationSimTest, NonOwnersKeepWhatTheyHold) {
  for (int i = 0; i < 60; ++i)
    ASSERT_TRUE(Put(Id(i % nodes_), "k" + std::to_string(i), "a"));
  sim_->RunFor(30'000);
  uint64_t held = 0;
  for (const auto& id : ids_) held += HeldWithoutOwning(id);
  EXPECT_GT(held, 0u);
}

}  // namespace
}  // namespace gossipkv
