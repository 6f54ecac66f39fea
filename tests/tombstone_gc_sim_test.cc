// Tombstone GC under the simulator: deleted keys leave every replica once
// all members hold the deletion, and not before — a partitioned or crashed
// member holding the old value blocks collection for as long as it is away,
// however long that is, and the value never comes back. With one grave per
// node, a copy of a deleted value delivered after its collection is still
// recognised, and a node that knows no member yet (just restarted, or yet
// to join) does not collect alone. GOSSIPKV_SEED=<seed> replays a failing
// run.
#include <gtest/gtest.h>

#include <cstdio>

#include "sim/simulation.h"
#include "versioning/entry_codec.h"

namespace gossipkv {
namespace {

constexpr int kNodes = 5;
constexpr int64_t kGcInterval = 2000;

std::string Id(int i) { return "n" + std::to_string(i); }
std::string Key(int i) { return "k" + std::to_string(i); }

class TombstoneGcSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const uint64_t seed = Simulation::SeedFromEnv(42);
    RecordProperty("seed", std::to_string(seed));
    sim_ =
        std::make_unique<Simulation>(seed, NetworkOptions{1, 20, 0.02, 0.02});
    ReplicaOptions o;
    o.membership.gossip_interval_ms = 1000;
    o.membership.seeds = {Id(0), Id(1)};
    o.membership.dead_after_ms = 5000;
    o.anti_entropy.interval_ms = 2000;
    o.gc.interval_ms = kGcInterval;
    o.gc.round_timeout_ms = 3000;
    StoreOptions store;
    store.merkle = MerkleShape{8, 2};
    for (int i = 0; i < kNodes; ++i) sim_->AddNode(Id(i), o, true, store);
    sim_->RunFor(5000);  // membership forms
  }

  void WriteKeys(int n) {
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(sim_->Write(Id(i % kNodes), Key(i), "v" + std::to_string(i)));
  }
  bool Converged() {
    for (int i = 1; i < kNodes; ++i) {
      if (sim_->store(Id(i)).tree().Root() != sim_->store(Id(0)).tree().Root())
        return false;
    }
    return true;
  }
  // Every node stores exactly `keys` records, none of them a tombstone.
  bool AllCollected(uint64_t keys) {
    for (int i = 0; i < kNodes; ++i) {
      const VersionedStore& s = sim_->store(Id(i));
      if (s.key_count() != keys || !s.tombstoned_keys().empty()) return false;
    }
    return true;
  }
  uint64_t Collected() {
    uint64_t n = 0;
    for (int i = 0; i < kNodes; ++i)
      n += sim_->replica(Id(i)).stats().gc_tombstones_collected;
    return n;
  }
  // The value of `key` as a GET at `node` would return it, or "" if absent.
  std::string Value(const std::string& node, const std::string& key) {
    auto got = sim_->Get(node, key);
    EXPECT_TRUE(got);
    if (!got || !got->has_value() || (*got)->IsDeleted()) return "";
    return (*got)->Winner()->value;
  }

  std::unique_ptr<Simulation> sim_;
};

TEST_F(TombstoneGcSimTest, DeletedKeysLeaveEveryReplica) {
  WriteKeys(100);
  ASSERT_TRUE(sim_->RunUntil([&] { return Converged(); }, 30'000));
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(sim_->Write(Id(i % kNodes), Key(i), std::nullopt));
  const int64_t deleted_at = sim_->now();
  ASSERT_TRUE(sim_->RunUntil([&] { return AllCollected(50); }, 60'000))
      << "tombstones left 60 s after the deletes";
  std::printf("collected on all %d nodes %.1f s after the deletes\n", kNodes,
              (sim_->now() - deleted_at) / 1000.0);
  // Rounds start at random points of the interval, so the first round after
  // the deletes usually collects everywhere (0.3 s for this seed, as
  // docs/architecture.md says); two intervals bound any seed.
  EXPECT_LE(sim_->now() - deleted_at, 2 * kGcInterval);
  EXPECT_EQ(Collected(), 50u * kNodes);
  uint64_t on_notice = 0;
  for (int i = 0; i < kNodes; ++i)
    on_notice += sim_->replica(Id(i)).stats().gc_collected_on_notice;
  EXPECT_GT(on_notice, 0u) << "no replica collected on another's round";
  EXPECT_TRUE(Converged());
  for (int n = 0; n < kNodes; ++n) {
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(Value(Id(n), Key(i)), i < 50 ? "" : "v" + std::to_string(i))
          << Key(i) << " on " << Id(n);
    }
  }
  // Graves keep collected tombstones from travelling back and forth.
  sim_->RunFor(30'000);
  EXPECT_TRUE(AllCollected(50));
  EXPECT_EQ(Collected(), 50u * kNodes);

  // A key written again after collection is an ordinary key.
  ASSERT_TRUE(sim_->Write(Id(3), Key(7), "again"));
  ASSERT_TRUE(sim_->RunUntil([&] { return Converged(); }, 30'000));
  for (int n = 0; n < kNodes; ++n) EXPECT_EQ(Value(Id(n), Key(7)), "again");
}

// A backlog of tombstones larger than a batch drains with rounds a tenth of
// the interval apart.
TEST(TombstoneGcBacklogTest, DrainsFasterThanOneBatchPerInterval) {
  ReplicaOptions o;
  o.membership.seeds = {"a"};
  o.gc.interval_ms = 10'000;
  o.gc.batch_keys = 10;
  Simulation sim(Simulation::SeedFromEnv(3), NetworkOptions{});
  for (const char* id : {"a", "b", "c"}) sim.AddNode(id, o, true);
  sim.RunFor(5000);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(sim.Write("a", Key(i), std::string("v")));
    ASSERT_TRUE(sim.Write("a", Key(i), std::nullopt));
  }
  const int64_t deleted_at = sim.now();
  ASSERT_TRUE(sim.RunUntil(
      [&] {
        for (const char* id : {"a", "b", "c"}) {
          if (sim.store(id).key_count() != 0) return false;
        }
        return true;
      },
      60'000));
  // 20 batches; at one per interval on each of 3 nodes that is ~70 s.
  EXPECT_LT(sim.now() - deleted_at, 30'000);
}

// The member that missed the deletes still holds the values: while it is
// cut off (first unreachable, then declared dead) nobody may collect, or
// its values would return when it is back.
TEST_F(TombstoneGcSimTest, APartitionedMemberBlocksCollectionUntilItHeals) {
  WriteKeys(40);
  ASSERT_TRUE(sim_->RunUntil([&] { return Converged(); }, 30'000));
  sim_->Partition({{Id(0), Id(1), Id(2), Id(3)}, {Id(4)}});
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(sim_->Write(Id(i % 4), Key(i), std::nullopt));
  sim_->RunFor(120'000);  // 60 GC intervals, far past dead_after
  EXPECT_EQ(Collected(), 0u);
  for (int n = 0; n < 4; ++n)
    EXPECT_EQ(sim_->store(Id(n)).tombstoned_keys().size(), 40u);
  EXPECT_EQ(Value(Id(4), Key(0)), "v0") << "the cut-off member missed it";
  // Rounds kept coming due on every node that took the deletes: each was
  // deferred (the cut-off member not alive) or abandoned (no answer).
  for (int n = 0; n < 4; ++n) {
    const auto& s = sim_->replica(Id(n)).stats();
    std::printf("%s: gc rounds %llu deferred %llu abandoned %llu\n",
                Id(n).c_str(), (unsigned long long)s.gc_rounds,
                (unsigned long long)s.gc_rounds_deferred,
                (unsigned long long)s.gc_rounds_abandoned);
    EXPECT_GE(s.gc_rounds_deferred + s.gc_rounds_abandoned, 40u) << Id(n);
    EXPECT_EQ(s.gc_rounds_abandoned, s.gc_rounds) << Id(n) << ": a round ended";
  }

  sim_->Heal();
  ASSERT_TRUE(sim_->RunUntil([&] { return Converged(); }, 60'000));
  for (int n = 0; n < kNodes; ++n) {
    for (int i = 0; i < 40; ++i)
      EXPECT_EQ(Value(Id(n), Key(i)), "") << Key(i) << " back on " << Id(n);
  }
  ASSERT_TRUE(sim_->RunUntil([&] { return AllCollected(0); }, 60'000))
      << "tombstones left 60 s after the heal";
}

TEST_F(TombstoneGcSimTest, ACrashedMemberBlocksCollectionUntilItReturns) {
  WriteKeys(30);
  ASSERT_TRUE(sim_->RunUntil([&] { return Converged(); }, 30'000));
  sim_->Crash(Id(2));
  for (int i = 0; i < 30; ++i)
    ASSERT_TRUE(sim_->Write(Id(i % 2), Key(i), std::nullopt));
  uint64_t due_before[kNodes] = {};
  for (int n = 0; n < kNodes; ++n) {
    if (n == 2) continue;
    const auto& s = sim_->replica(Id(n)).stats();
    due_before[n] = s.gc_rounds_deferred + s.gc_rounds_abandoned;
  }
  sim_->RunFor(60'000);
  EXPECT_EQ(Collected(), 0u);
  // 30 GC intervals: on every live node the rounds came due and were
  // deferred or abandoned.
  for (int n = 0; n < kNodes; ++n) {
    if (n == 2) continue;
    const auto& s = sim_->replica(Id(n)).stats();
    EXPECT_GE(s.gc_rounds_deferred + s.gc_rounds_abandoned - due_before[n], 20u)
        << Id(n);
  }
  sim_->Restart(Id(2));
  ASSERT_TRUE(sim_->RunUntil([&] { return AllCollected(0); }, 60'000));
  for (int i = 0; i < 30; ++i) EXPECT_EQ(Value(Id(2), Key(i)), "");
}

// With GC on, a replica without the key neither receives a tombstone from
// anti-entropy nor takes one: it is simply collected where it is. (Were it
// handed around, a replica that collected it could take it back from one
// that has not yet, and collection would chase itself around the cluster.)
TEST_F(TombstoneGcSimTest, ATombstoneIsNotHandedToAReplicaWithoutTheKey) {
  Entry tombstone;
  ApplyWrite(tombstone, Actor{"gone", 1}, {}, std::nullopt, 1,
             ConflictMode::kSiblings);
  // Stored on n0 alone, as repair, so no rumor carries it.
  ASSERT_TRUE(sim_->store(Id(0)).batch().Merge("k", tombstone, kRepair));
  ASSERT_TRUE(sim_->store(Id(0)).batch().Commit().ok());
  for (int step = 0; step < 100 && !HasFatalFailure(); ++step) {
    sim_->RunFor(100);
    for (int n = 1; n < kNodes; ++n)
      ASSERT_EQ(sim_->store(Id(n)).key_count(), 0u) << Id(n) << " took it";
  }
  EXPECT_EQ(sim_->store(Id(0)).key_count(), 0u) << "collected on n0";
  uint64_t sessions = 0;
  for (int n = 0; n < kNodes; ++n)
    sessions += sim_->replica(Id(n)).stats().ae_sessions_started;
  EXPECT_GT(sessions, 10u) << "anti-entropy ran meanwhile";
}

// Without GC, tombstones replicate like values.
TEST(TombstoneGcOffTest, TombstonesReplicateLikeValues) {
  Simulation sim(Simulation::SeedFromEnv(7), NetworkOptions{});
  ReplicaOptions o;
  o.membership.seeds = {"a"};
  o.anti_entropy.interval_ms = 1000;
  o.gc.interval_ms = 0;
  for (const char* id : {"a", "b", "c"}) sim.AddNode(id, o, true);
  sim.RunFor(5000);
  Entry tombstone;
  ApplyWrite(tombstone, Actor{"gone", 1}, {}, std::nullopt, 1,
             ConflictMode::kSiblings);
  ASSERT_TRUE(sim.store("a").batch().Merge("k", tombstone, kRepair));
  ASSERT_TRUE(sim.store("a").batch().Commit().ok());
  EXPECT_TRUE(sim.RunUntil(
      [&] {
        return sim.store("b").key_count() == 1 &&
               sim.store("c").key_count() == 1;
      },
      30'000));
  sim.RunFor(60'000);
  for (const char* id : {"a", "b", "c"}) {
    EXPECT_EQ(sim.store(id).key_count(), 1u) << id << ": never collected";
    EXPECT_EQ(sim.store(id).tombstoned_keys().size(), 1u) << id;
    EXPECT_EQ(sim.replica(id).stats().gc_rounds_deferred +
                  sim.replica(id).stats().gc_rounds +
                  sim.replica(id).stats().gc_messages_sent,
              0u)
        << id << ": no collector ran";
  }
  EXPECT_GT(sim.replica("a").stats().ae_sessions_started, 10u)
      << "anti-entropy ran meanwhile";
}

// Malformed GC messages from a peer are counted and answered for the rest.
TEST_F(TombstoneGcSimTest, MalformedGcMessagesAreIgnored) {
  Replica& n1 = sim_->replica(Id(1));
  const uint64_t bad_before = n1.stats().bad_entries;
  Entry live;
  ApplyWrite(live, Actor{"x", 1}, {}, "value", 1, ConflictMode::kSiblings);
  Entry tombstone;
  ApplyWrite(tombstone, Actor{"x", 1}, {}, std::nullopt, 1,
             ConflictMode::kSiblings);
  pb::PeerMessage query;
  query.set_from(Id(0));
  query.mutable_gc_query()->set_round(7);
  for (auto [key, bytes] : {std::pair{"a", std::string("\xff\x01garbage")},
                            std::pair{"b", EncodeEntry(live)},
                            std::pair{"c", EncodeEntry(tombstone)}}) {
    auto* t = query.mutable_gc_query()->add_tombstones();
    t->set_key(key);
    t->set_entry(bytes);
  }
  Outbox out;
  n1.Step(sim_->now(), Id(0), query, out);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].message.has_gc_ack());
  EXPECT_EQ(out[0].message.gc_ack().round(), 7u);
  ASSERT_EQ(out[0].message.gc_ack().covered_size(), 1);
  EXPECT_EQ(out[0].message.gc_ack().covered(0), 2u) << "only the tombstone";
  EXPECT_EQ(n1.stats().bad_entries, bad_before + 2);

  // A notice naming another entry than the one held, or malformed, is
  // ignored: the evidence was for that other entry.
  const uint64_t records = sim_->store(Id(1)).key_count();
  ASSERT_TRUE(sim_->Write(Id(1), "mine", std::nullopt));
  pb::PeerMessage notice;
  notice.set_from(Id(0));
  notice.mutable_gc_collected()->add_keys("mine");
  notice.mutable_gc_collected()->add_entry_hashes(12345);
  out.clear();
  n1.Step(sim_->now(), Id(0), notice, out);
  notice.mutable_gc_collected()->add_keys("unpaired");
  n1.Step(sim_->now(), Id(0), notice, out);
  ASSERT_TRUE(sim_->store(Id(1)).batch().Commit().ok());
  EXPECT_EQ(sim_->store(Id(1)).key_count(), records + 1);
  EXPECT_EQ(n1.stats().bad_entries, bad_before + 3);

  // Acks for no round, or from strangers, change nothing.
  pb::PeerMessage ack;
  ack.set_from("stranger");
  ack.mutable_gc_ack()->set_round(12345);
  for (uint32_t i : {0u, 0u, 99u}) ack.mutable_gc_ack()->add_covered(i);
  out.clear();
  n1.Step(sim_->now(), "stranger", ack, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(n1.stats().gc_tombstones_collected, 0u);
}

// A member that left gracefully is no longer asked; if it comes back with
// its old data, the graves of what was collected meanwhile delete it there.
TEST_F(TombstoneGcSimTest,
       ALeftMemberDoesNotBlockCollectionAndIsRepairedOnReturn) {
  WriteKeys(20);
  ASSERT_TRUE(sim_->RunUntil([&] { return Converged(); }, 30'000));
  sim_->Leave(Id(4));
  sim_->RunFor(2000);  // the departure spreads by gossip
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(sim_->Write(Id(0), Key(i), std::nullopt));
  ASSERT_TRUE(sim_->RunUntil(
      [&] {
        for (int n = 0; n < 4; ++n) {
          if (sim_->store(Id(n)).key_count() != 0) return false;
        }
        return true;
      },
      60'000));

  // It comes back with its old data, values deleted while it was away
  // among them. The others still have the graves: a value they collected
  // is answered with its tombstone, so the deletion wins there too.
  sim_->Restart(Id(4));
  EXPECT_EQ(Value(Id(4), Key(0)), "v0");
  ASSERT_TRUE(sim_->RunUntil([&] { return AllCollected(0); }, 60'000))
      << "the returning member's values were not deleted";
  for (int n = 0; n < kNodes; ++n) {
    for (int i = 0; i < 20; ++i)
      EXPECT_EQ(Value(Id(n), Key(i)), "") << Key(i) << " back on " << Id(n);
  }
  uint64_t graves_sent = 0;
  for (int n = 0; n < 4; ++n)
    graves_sent += sim_->replica(Id(n)).stats().ae_graves_sent;
  EXPECT_GT(graves_sent, 0u);
}

// Three nodes that remember one grave each, as graves go by count.
class SmallGravesTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> seeds) {
    ReplicaOptions o;
    o.membership.seeds = std::move(seeds);
    o.membership.dead_after_ms = 5000;
    o.anti_entropy.interval_ms = 2000;
    o.gc.interval_ms = 1000;
    StoreOptions store;
    store.max_graves = 1;
    for (const char* id : {"a", "b", "c"}) sim_.AddNode(id, o, true, store);
    sim_.RunFor(5000);
  }
  bool Stored(uint64_t keys) {
    for (const char* id : {"a", "b", "c"}) {
      if (sim_.store(id).key_count() != keys) return false;
    }
    return true;
  }
  bool ReadsDeleted(const std::string& key) {
    for (const char* id : {"a", "b", "c"}) {
      auto got = sim_.Get(id, key);
      if (!got || (got->has_value() && !(*got)->IsDeleted())) return false;
    }
    return true;
  }

  Simulation sim_{Simulation::SeedFromEnv(11), NetworkOptions{}};
};

// A copy of a deleted value still on its way when the tombstone is
// collected everywhere, and more keys collected after it: the young grave
// outlives the count bound and recognises it.
TEST_F(SmallGravesTest, AValueDelayedPastItsCollectionIsRecognised) {
  Start({"a"});
  ASSERT_TRUE(sim_.Write("a", "k", std::string("old")));
  ASSERT_TRUE(sim_.RunUntil([&] { return Stored(1); }, 10'000));
  const Entry old_value = **sim_.Get("a", "k");
  ASSERT_TRUE(sim_.Write("b", "k", std::nullopt));
  ASSERT_TRUE(sim_.RunUntil([&] { return Stored(0); }, 10'000));
  for (const char* key : {"x", "y"}) {
    ASSERT_TRUE(sim_.Write("b", key, std::string("v")));
    ASSERT_TRUE(sim_.Write("b", key, std::nullopt));
  }
  ASSERT_TRUE(sim_.RunUntil([&] { return Stored(0); }, 10'000));

  pb::PeerMessage late;  // a's rumor of the old value, delivered only now
  late.set_from("a");
  auto* e = late.mutable_rumor()->add_entries();
  e->set_key("k");
  e->set_entry(EncodeEntry(old_value));
  sim_.Inject("a", "c", late);
  sim_.RunFor(10'000);
  EXPECT_TRUE(Stored(0));
  EXPECT_TRUE(ReadsDeleted("k")) << "the deleted value came back";
}

// A restarted node knows no member until gossip tells it again. Cut off
// meanwhile, it must not take itself for a cluster of one and collect its
// deletion alone (its seed list names only itself, as the first node's
// does): the others still hold the value, and once its grave is gone they
// would hand it back.
TEST_F(SmallGravesTest, ARestartedNodeCutOffDoesNotCollectAlone) {
  Start({"a"});
  for (const char* key : {"k", "x"})
    ASSERT_TRUE(sim_.Write("a", key, std::string("v")));
  ASSERT_TRUE(sim_.RunUntil([&] { return Stored(2); }, 10'000));
  sim_.Partition({{"a"}, {"b", "c"}});
  for (const char* key : {"k", "x"})
    ASSERT_TRUE(sim_.Write("a", key, std::nullopt));
  sim_.Restart("a");
  sim_.RunFor(20'000);
  EXPECT_EQ(sim_.replica("a").stats().gc_tombstones_collected, 0u);
  EXPECT_EQ(sim_.store("a").tombstoned_keys().size(), 2u);

  sim_.Heal();
  ASSERT_TRUE(sim_.RunUntil([&] { return Stored(0); }, 30'000));
  sim_.RunFor(10'000);
  EXPECT_TRUE(ReadsDeleted("k") && ReadsDeleted("x")) << "a deletion was lost";
}

// A new node that has not yet heard of any member, though its seeds name
// one, is not a cluster of one either: a deletion it coordinates with a
// context read elsewhere deletes values the others hold.
TEST_F(SmallGravesTest, ANodeYetToJoinDoesNotCollectAlone) {
  Start({"a"});
  ASSERT_TRUE(sim_.Write("a", "k", std::string("v")));
  ASSERT_TRUE(sim_.RunUntil([&] { return Stored(1); }, 10'000));
  const VersionVector read = (*sim_.Get("a", "k"))->clock;
  sim_.Partition({{}, {"a", "b", "c"}});  // a node added now is alone
  ReplicaOptions o;
  o.membership.seeds = {"a"};
  o.gc.interval_ms = 1000;
  sim_.AddNode("d", o, true);
  ASSERT_TRUE(sim_.Write("d", "k", std::nullopt, &read));
  sim_.RunFor(10'000);
  EXPECT_EQ(sim_.replica("d").stats().gc_tombstones_collected, 0u);

  sim_.Heal();
  sim_.RunFor(30'000);
  EXPECT_TRUE(ReadsDeleted("k")) << "the deletion was lost";
  auto on_d = sim_.Get("d", "k");
  ASSERT_TRUE(on_d);
  EXPECT_TRUE(!on_d->has_value() || (*on_d)->IsDeleted());
}

}  // namespace
}  // namespace gossipkv
